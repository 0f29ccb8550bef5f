/**
 * weft for Node: TCP and WebSocket transports, the node:crypto provider.
 *
 *   import { createNode } from 'weft/node'
 *   const node = await createNode({ listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'] })
 */
import { totalmem } from 'node:os'
import { nodeCrypto } from './io/crypto-node.js'
import { tcp, type TcpTransport } from './io/tcp.js'
import { webSockets } from './io/ws.js'
import { memory } from './io/memory.js'
import { WeftNode, type NodeOptions } from './edge/weft-node.js'
import { wallClock } from './io/clock.js'
import { createGuards } from './swarm/guards.js'
import { kadDht } from './kad/service.js'
import { gossipsub } from './gossipsub/service.js'
import { perf } from './edge/perf-service.js'
import { circuitRelayClient } from './relay/index.js'
import { autoNAT } from './autonat/index.js'
import { dcutr } from './dcutr/index.js'
import { prometheusMetrics } from './metrics/index.js'
import { mdns } from './mdns/index.js'
import { udpMdnsSocket } from './io/mdns-socket.js'
import { rendezvousClient } from './rendezvous/index.js'
import type { ServiceFactory } from './swarm/index.js'
import { createDiscovery, parseBootstrap } from './edge/discovery.js'

/**
 * A Node weft node. Besides ping and identify it runs, unless `services` is given (then exactly
 * those services run):
 * - the Kademlia DHT (`dht`: `node.dht`, server mode unless `dht.mode` says otherwise);
 * - gossipsub (`pubsub`: `node.pubsub`);
 * - the Circuit Relay v2 client (`relayClient`: dial `/p2p-circuit` addresses, listen on
 *   `<relay>/p2p-circuit`; spec/relay.md);
 * - the AutoNAT client (`autonat`: v2 and v1 probes; reachable addresses become confirmed external
 *   addresses; spec/autonat.md);
 * - DCUtR (`dcutr`: relayed connections upgraded to direct ones by hole punching, from the TCP
 *   transport's punch port, which the default transports turn on; spec/dcutr.md).
 * Discovery (spec/discovery.md): `peer:discovery` from kad, identify, gossipsub PX and the
 * `discovery.bootstrap` peers, which are kept connected and seed the default DHT; discovered peers
 * are dialed while below the connection manager's low watermark (`discovery.autoDial`, default on).
 * Perf (`/perf/1.0.0`) is never on unless asked for:
 * `createNode({ services: { perf: perf(), ... } })` (spec/perf.md: perf SHOULD NOT be enabled by
 * default; it lets any peer make us send and receive bytes).
 */
export async function createNode(options: NodeOptions = {}): Promise<WeftNode> {
  // outbound TCP leaves from one punch port (spec/hole-punching.md): the NAT mapping peers observe is the one DCUtR punches from
  const defaultTcp = options.transports === undefined ? tcp({ punchPort: 'auto' }) : undefined
  const punchPort = defaultTcp ?? options.transports?.find((t): t is TcpTransport => t.name === 'tcp' && 'punchPort' in t)
  // discovery.bootstrap seeds the default DHT too (one list: kept connected and kad's bootstrapPeers)
  const boot = parseBootstrap(options.discovery?.bootstrap ?? [])
  const dht = boot.length === 0 ? options.dht : { ...options.dht, bootstrapPeers: [...(options.dht?.bootstrapPeers ?? []), ...boot] }
  const services: Record<string, ServiceFactory> = options.services !== undefined ? { ...options.services } : {
    dht: kadDht(dht),
    pubsub: gossipsub(options.pubsub),
    relayClient: circuitRelayClient(),
    autonat: autoNAT(),
    dcutr: dcutr(punchPort !== undefined ? { punchPort } : {}),
  }
  // discovery.mdns adds the mDNS service on the UDP socket (spec/mdns.md), with or without `services`
  const mdnsOpt = options.discovery?.mdns
  if (mdnsOpt !== undefined && mdnsOpt !== false && services.mdns === undefined) services.mdns = mdns({ ...(mdnsOpt === true ? {} : mdnsOpt), socket: udpMdnsSocket() })
  // discovery.rendezvous adds a rendezvous client that registers and discovers on its own (spec/rendezvous.md)
  const rz = options.discovery?.rendezvous
  if (rz !== undefined && services.rendezvous === undefined) {
    const { points, namespace, ttl, interval, ...rest } = rz
    services.rendezvous = rendezvousClient({ ...rest, discovery: { points, namespace, ...(ttl === undefined ? {} : { ttl }), ...(interval === undefined ? {} : { interval }) } })
  }
  const metrics = options.metrics === true ? prometheusMetrics() : options.metrics
  const discovery = { ...options.discovery, autoDial: options.discovery?.autoDial ?? true }
  const node = new WeftNode({ ...options, services, discovery, systemMemory: options.systemMemory ?? totalmem(), ...(metrics !== undefined ? { metrics } : {}) }, {
    crypto: options.crypto ?? nodeCrypto,
    wallClock,
    transports: options.transports ?? [defaultTcp!, webSockets(), memory()],
    guards: createGuards,
    discovery: createDiscovery,
  })
  if (options.start !== false) await node.start()
  return node
}

export { WeftNode, nodeCrypto, tcp, webSockets, memory }
export { prometheusMetrics, PrometheusMetrics } from './metrics/index.js'
export type { NodeMetrics } from './metrics/index.js'
export { serveMetrics, type MetricsServer } from './io/metrics-http.js'
export { udpMdnsSocket, MDNS_GROUP, MDNS_PORT, type UdpMdnsSocketOptions } from './io/mdns-socket.js'
export type { NodeOptions, StreamHandler, StreamHandlerOptions, NewStreamOptions, WeftNodeEvents, NodeErrorEvent, DialTarget } from './edge/weft-node.js'
export { WeftStream, StreamResetError, readAll } from './edge/stream.js'
export { Pubsub } from './gossipsub/pubsub-api.js'
export type { GossipsubMessage, PublishResult, ValidationResult } from './gossipsub/gossipsub.js'
export type { Validator, PubsubEvents } from './gossipsub/pubsub-api.js'
export { loadOrCreateKey, loadKey, saveKey } from './io/key-file.js'
export { TransportError } from './io/transport.js'
export type { Transport, RawConnection, TransportListener } from './io/transport.js'
export type { TcpOptions, TcpTransport } from './io/tcp.js'
export type { WebSocketOptions } from './io/ws.js'
export { AGENT_VERSION, VERSION } from './edge/version.js'
export { Dht } from './kad/dht-api.js'
export { kadDht, gossipsub, perf }
export type { DhtCallOptions } from './kad/dht-api.js'
export type { KadEvent, KadOptions, KadPeerInfo, KadProgress, KadResult } from './kad/types.js'
export { ProtocolError, UsageError, OutcomeError, DialError, InternalError, ConnectionClosedError, ResourceLimitError, isProtocolError } from './core/errors.js'
export type { DialErrorCode, DialAttempt, ResourceScope, ResourceKind } from './core/errors.js'
export { ConnCloseCode, StreamResetCode, closeReason, resetReason } from './core/close-codes.js'
export { unlimited, autoscale } from './swarm/resource-limits.js'
export type { ResourceLimits, ResourceLimitsInit, ScopeLimits } from './swarm/resource-limits.js'
export type { ResourceUsage, ScopeUsage, BlockedCount } from './swarm/resources.js'
export { decayNone, decayFixed, decayLinear, decayExpireWhenInactive, bumpSum, bumpSumBounded, bumpOverwrite } from './swarm/conn-manager-decay.js'
export type { ConnectionManager, ConnectionManagerOptions, ConnectionManagerInfo, TagInfo, DecayingTag, DecayingValue, DecayFn, BumpFn } from './swarm/conn-manager.js'
export type { CloseReasonCode, ResetReasonCode } from './core/close-codes.js'
