/** Gossipsub as a node service: `createNode({ services: { pubsub: gossipsub(options) } })` gives `node.pubsub`. */
import type { Ed25519BatchVerifier } from '../core/crypto/batch-verify.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { GossipsubBehaviour, type GossipsubEvent } from './gossipsub.js'
import type { GossipsubOptions } from './config.js'
import { Pubsub } from './pubsub-api.js'

/**
 * Options of `gossipsub()`: every `GossipsubOptions` field except those the node supplies (randomness,
 * crypto, key), and `signatureVerifier`: StrictSign signatures are then checked in batches off the
 * node's thread (weft/node's `createNode` supplies a threadpool verifier; spec/gossipsub.md "Validation on
 * workers"). The service closes it when the node stops.
 */
export type GossipsubServiceOptions = Partial<Omit<GossipsubOptions, 'random' | 'crypto' | 'privateKey'>> & { signatureVerifier?: Ed25519BatchVerifier | undefined }

/**
 * The gossipsub service (meshsub v1.2/v1.1/v1.0 and floodsub), for `createNode({ services: { pubsub: gossipsub() } })`; the node exposes it as `node.pubsub`.
 * @param options - gossipsub parameters and limits (`GossipsubOptions`; defaults as the spec recommends).
 * @example
 * ```ts
 * const node = await createNode({ services: { pubsub: gossipsub({ floodPublish: false }) } })
 * node.pubsub.subscribe('news')
 * ```
 */
export function gossipsub(options: GossipsubServiceOptions = {}): ServiceFactory<Pubsub> {
  return (ctx): NodeService<Pubsub> => {
    const { signatureVerifier, ...rest } = options
    const behaviour = new GossipsubBehaviour({
      ...rest,
      asyncSignatures: signatureVerifier !== undefined && (options.asyncSignatures ?? true),
      random: ctx.random,
      crypto: ctx.crypto,
      privateKey: ctx.privateKey,
      seqnoBase: options.seqnoBase ?? BigInt(ctx.epoch) * 1_000_000n,
    })
    const api = new Pubsub(behaviour, ctx.run, signatureVerifier)
    return {
      name: 'gossipsub',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as GossipsubEvent),
      stop: () => api._stop(),
      memoryBytes: () => behaviour.inspect().mcache.bytes,
    }
  }
}
