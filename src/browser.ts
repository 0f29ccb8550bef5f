/**
 * weft for browsers: WebSocket dialing, weft's compact pure-JS crypto provider (`compactCrypto`;
 * `nobleCrypto` stays available: `createNode({ crypto: nobleCrypto })`, faster curve operations, ~20 KB gzip more).
 *
 *   import { createNode } from 'weft/browser'
 *   const node = await createNode()
 *   await node.ping('/dns4/example.com/tcp/443/wss/p2p/12D3KooW...')
 *
 * @module weft/browser
 */
import { nobleCrypto } from './core/crypto/noble.js'
import { compactCrypto } from './core/crypto/compact.js'
import { browserWebSockets } from './io/ws-browser.js'
import { UsageError } from './core/errors.js'
import { WeftNode, type NodeOptions } from './edge/weft-node.js'
import { wallClock } from './io/clock.js'

/**
 * A browser weft node: ping and identify, plus the services you pass (so a bundle carries only
 * those): `createNode({ services: { pubsub: gossipsub(), dht: kadDht({ mode: 'client' }), perf: perf() } })`
 * with `gossipsub`, `kadDht` and `perf` from this module ('weft/gossipsub', 'weft/kad' too). As in
 * `weft/node`, perf (`node.perf()`, serving `/perf/1.0.0`) is opt-in: it lets any peer make us send
 * and receive bytes, and it costs about 1.1 KB gzip.
 * @param options - as in `weft/node`, but services are passed as themselves (`services`), the crypto
 * provider defaults to `compactCrypto` and the transport to `browserWebSockets()` (dial only).
 * @throws `UsageError('node/no-such-service')` for the Node-only shortcuts (`dht`, `pubsub`,
 * `discovery.mdns`, `discovery.rendezvous`), and as in `weft/node` for invalid options.
 * @example
 * ```ts
 * import { createNode, gossipsub } from 'weft/browser'
 * const node = await createNode({ services: { pubsub: gossipsub() } })
 * const rtt = await node.ping('/dns4/example.com/tcp/443/wss/p2p/12D3KooW...')
 * node.pubsub.subscribe('news')
 * ```
 */
export async function createNode(options: NodeOptions = {}): Promise<WeftNode> {
  if ((options.dht !== undefined && options.services?.dht === undefined) || (options.pubsub !== undefined && options.services?.pubsub === undefined)) {
    throw new UsageError('node/no-such-service', 'in browsers pass the service itself: createNode({ services: { dht: kadDht(opts), pubsub: gossipsub(opts) } })')
  }
  if (options.discovery?.mdns !== undefined && options.discovery.mdns !== false) {
    throw new UsageError('node/no-such-service', 'mDNS needs UDP multicast, which browsers do not have: discovery.mdns is for weft/node')
  }
  if (options.discovery?.rendezvous !== undefined) {
    throw new UsageError('node/no-such-service', "in browsers pass the service itself: createNode({ services: { rendezvous: rendezvousClient({ discovery }) } }) from 'weft/rendezvous'")
  }
  const node = new WeftNode(options, {
    crypto: options.crypto ?? compactCrypto,
    wallClock,
    transports: options.transports ?? [browserWebSockets()],
  })
  if (options.start !== false) await node.start()
  return node
}

export { WeftNode, nobleCrypto, compactCrypto, browserWebSockets }
export type { NodeOptions, StreamHandler, WeftNodeEvents, NodeErrorEvent, DialTarget } from './edge/weft-node.js'
export { WeftStream, StreamResetError, readAll } from './edge/stream.js'
export { Pubsub } from './gossipsub/pubsub-api.js'
export type { GossipsubMessage, PublishResult, ValidationResult } from './gossipsub/gossipsub.js'
export type { Validator, PubsubEvents } from './gossipsub/pubsub-api.js'
export { Dht } from './kad/dht-api.js'
export { kadDht } from './kad/service.js'
export { gossipsub } from './gossipsub/service.js'
export { perf } from './edge/perf-service.js'
/** Prometheus metrics (spec/metrics.md); tree-shaken away unless used: `createNode({ metrics: prometheusMetrics() })`. */
export { prometheusMetrics, PrometheusMetrics } from './metrics/index.js'
export type { NodeMetrics } from './metrics/index.js'
export type { DhtCallOptions } from './kad/dht-api.js'
export type { KadEvent, KadOptions, KadPeerInfo, KadProgress, KadResult } from './kad/types.js'
export type { BrowserWebSocketOptions } from './io/ws-browser.js'
export { ProtocolError, UsageError, OutcomeError, DialError, InternalError, ConnectionClosedError, ResourceLimitError, isProtocolError } from './core/errors.js'
export type { DialErrorCode, DialAttempt, ResourceScope, ResourceKind } from './core/errors.js'
export { ConnCloseCode, StreamResetCode, closeReason, resetReason } from './core/close-codes.js'
export { unlimited } from './swarm/resource-limits.js'
export type { ResourceLimits, ResourceLimitsInit, ScopeLimits } from './swarm/resource-limits.js'
export type { ResourceUsage, ScopeUsage, BlockedCount } from './swarm/resources.js'
export { decayNone, decayFixed, decayLinear, decayExpireWhenInactive, bumpSum, bumpSumBounded, bumpOverwrite } from './swarm/conn-manager-decay.js'
export type { ConnectionManager, ConnectionManagerOptions, ConnectionManagerInfo, TagInfo, DecayingTag, DecayingValue, DecayFn, BumpFn } from './swarm/conn-manager.js'
export type { CloseReasonCode, ResetReasonCode } from './core/close-codes.js'
