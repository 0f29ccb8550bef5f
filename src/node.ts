/**
 * weft for Node: TCP and WebSocket transports, the node:crypto provider.
 *
 *   import { createNode } from 'weft/node'
 *   const node = await createNode({ listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'] })
 *
 * @module weft/node
 */
import { nodeCrypto } from './io/crypto-node.js'
import { tcp } from './io/tcp.js'
import { webSockets } from './io/ws.js'
import { memory } from './io/memory.js'
import { WeftNode } from './edge/weft-node.js'
export { createNode } from './create-node.js'

export { WeftNode, nodeCrypto, tcp, webSockets, memory }
export { kadDht } from './kad/service.js'
export { gossipsub } from './gossipsub/service.js'
export { perf } from './edge/perf-service.js'
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
/** `/quic-v1` (spec/quic-endpoint.md): in createNode's default transports; `quic(options)` to pass your own list. */
export { quic, type QuicTransportOptions, type QuicTransport, type UdpPunch, type UdpPunchOptions } from './edge/quic-transport.js'
export type { WebSocketOptions } from './io/ws.js'
export type { AutoDialOptions, DiscoveryOptions } from './edge/node-types.js'
export type { MetricsServerOptions } from './io/metrics-http.js'
export type { PerfRunOptions, PerfService } from './edge/perf-service.js'
export type { RefusalCode } from './swarm/policy.js'
export type { RelayDiscoveryOptions } from './relay/client-discover.js'
export { AGENT_VERSION, VERSION } from './edge/version.js'
export { Dht } from './kad/dht-api.js'
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
/** weft trace (spec/trace.md): `createNode({ trace, keylog })` events and their text / JSON forms. */
export { formatEvent, createFormatter, keylogLine } from './trace/index.js'
export type { TraceEvent, TraceBody, TraceOptions, NoisePayloadView, FormatOptions, QuicFrameView, QuicPacketKind } from './trace/index.js'
