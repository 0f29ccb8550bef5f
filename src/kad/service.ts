/** The DHT as a node service: `createNode({ services: { dht: kadDht(options) } })` gives `node.dht`. */
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { Dht } from './dht-api.js'
import { KadBehaviour } from './kad.js'
import type { KadEvent, KadOptions } from './types.js'

export type KadServiceOptions = Partial<Omit<KadOptions, 'random' | 'crypto' | 'peerId'>>

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
