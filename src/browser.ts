/**
 * weft for browsers: WebSocket dialing, the pure-JS noble crypto provider.
 *
 *   import { createNode } from 'weft/browser'
 *   const node = await createNode()
 *   await node.ping('/dns4/example.com/tcp/443/wss/p2p/12D3KooW...')
 */
import { nobleCrypto } from './core/crypto/noble.js'
import { browserWebSockets } from './io/ws-browser.js'
import { WeftNode, type NodeOptions } from './edge/weft-node.js'

export async function createNode(options: NodeOptions = {}): Promise<WeftNode> {
  const node = new WeftNode(options, {
    crypto: options.crypto ?? nobleCrypto,
    transports: options.transports ?? [browserWebSockets()],
  })
  if (options.start !== false) await node.start()
  return node
}

export { WeftNode, nobleCrypto, browserWebSockets }
export type { NodeOptions, StreamHandler, WeftNodeEvents, DialTarget } from './edge/weft-node.js'
export { WeftStream, StreamResetError, readAll } from './edge/stream.js'
export { Pubsub } from './gossipsub/pubsub-api.js'
export type { GossipsubMessage, PublishResult, ValidationResult } from './gossipsub/gossipsub.js'
export type { Validator, PubsubEvents } from './gossipsub/pubsub-api.js'
export { Dht } from './kad/dht-api.js'
export type { DhtCallOptions } from './kad/dht-api.js'
export type { KadEvent, KadOptions, KadPeerInfo, KadProgress, KadResult } from './kad/types.js'
