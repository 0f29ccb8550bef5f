/** The DHT as a node service: `createNode({ services: { dht: kadDht(options) } })` gives `node.dht`. */
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { Dht } from './dht-api.js'
import { KadBehaviour } from './kad.js'
import type { KadEvent, KadOptions } from './types.js'

/** Options of `kadDht()`: every `KadOptions` field except those the node supplies. */
export type KadServiceOptions = Partial<Omit<KadOptions, 'random' | 'crypto' | 'peerId'>>

/**
 * The Kademlia DHT service (`/ipfs/kad/1.0.0`), for `createNode({ services: { dht: kadDht() } })`; the node exposes it as `node.dht`.
 * @param options - mode (`'server'`, `'client'`, or `'auto'` by reachability), k, α, limits (`KadOptions`).
 * @example
 * ```ts
 * import { createNode, kadDht } from 'weft/browser'
 * const node = await createNode({ services: { dht: kadDht({ mode: 'client' }) } })
 * ```
 */
export function kadDht(options: KadServiceOptions = {}): ServiceFactory<Dht> {
  return (ctx): NodeService<Dht> => {
    const behaviour = new KadBehaviour({ ...options, random: ctx.random, crypto: ctx.crypto, peerId: ctx.peerId, epoch: options.epoch ?? ctx.epoch })
    const api = new Dht(behaviour, ctx.run)
    return {
      name: 'kad',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as KadEvent),
      stop: (error) => api._stop(error),
      memoryBytes: () => behaviour.store.recordBytes + behaviour.store.providerBytes,
    }
  }
}
