/**
 * The types of the node's API (src/edge/weft-node.ts): its options, its events, and what the entry
 * points (src/node.ts, src/browser.ts) hand it.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import type { ConnectionInfo, ServiceFactory, SwarmConfig, SwarmLimits, PeerStoreLimits } from '../swarm/index.js'
import type { PingOptions } from '../ping/index.js'
import type { IdentifyInfo, IdentifyOptions } from '../identify/index.js'
import type { GossipsubServiceOptions } from '../gossipsub/index.js'
import type { KadServiceOptions } from '../kad/index.js'
import type { MdnsOptions } from '../mdns/index.js'
import type { RendezvousClientServiceOptions, RendezvousDiscoveryOptions } from '../rendezvous/index.js'
import type { PolicyOptions, RefusalCode } from '../swarm/policy.js'
import type { NodeMetrics } from '../metrics/types.js'
import type { RelayReservationEvent } from '../relay/index.js'
import type { Transport } from '../io/transport.js'
import type { TlsChannelFactory } from '../tls/index.js'
import type { WeftStream } from './stream.js'
import type { DiscoveryBehaviour, DiscoveryInit } from './discovery.js'

/**
 * Node options. The connection manager, gater, per-IP limits and resource manager options
 * (`connectionManager`, `gater`, `ipLimits`, `resources`) come from PolicyOptions (src/swarm/policy.ts).
 */
export interface NodeOptions extends PolicyOptions {
  /** Our identity; generated when absent. */
  privateKey?: PrivateKey
  /**
   * Prometheus metrics (spec/metrics.md): `prometheusMetrics()` from 'weft/node' or 'weft/metrics',
   * or `true` in weft/node. Off by default; read them with `node.metrics.exposition()`.
   */
  metrics?: NodeMetrics | boolean
  /** Addresses to listen on, e.g. '/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'. */
  listen?: Array<string | Multiaddr>
  /**
   * Transports to dial and listen with. Default: `tcp()`, `webSockets()` and `memory()` on `weft/node`; `browserWebSockets()` on `weft/browser`.
   */
  transports?: Transport[]
  /** The crypto provider. Default: `nodeCrypto` on `weft/node`, `compactCrypto` on `weft/browser`. */
  crypto?: CryptoProvider
  /** The identify `agentVersion` we announce. Default `AGENT_VERSION` (`weft/<version>`). */
  agentVersion?: string
  /**
   * Connection and stream limits of the swarm (`SwarmLimits`; defaults in `DEFAULT_SWARM_LIMITS`, spec/swarm.md "Limits").
   */
  limits?: Partial<SwarmLimits>
  /**
   * Per-connection options: upgrade and stream negotiation timeouts (ms), negotiating streams, early muxer negotiation, yamux options (spec/connection.md).
   */
  connection?: Omit<NonNullable<SwarmConfig['connection']>, 'security' | 'tls'>
  /**
   * Security protocols in order of preference, default `['noise']`. `'tls'` adds libp2p TLS
   * (`/tls/1.0.0`, TLS 1.3 with the libp2p certificate, the muxer chosen in ALPN; spec/tls.md): a
   * dialer proposes them in turn, a listener accepts any of them. weft/node only (elsewhere
   * `UsageError('node/no-tls')`).
   */
  security?: Array<'noise' | 'tls'>
  /** Transport dial timeout (ms), default 10 s. */
  dialTimeout?: number
  /** Ping timeout (ms), default 10 s. */
  pingTimeout?: number
  /** Identify timeout (ms), default 10 s. */
  identifyTimeout?: number
  /** Identify limits (message size, addresses and protocols by count and bytes, push streams...; spec/identify.md Limits). */
  identify?: Partial<Omit<IdentifyOptions, 'crypto' | 'identity' | 'agentVersion' | 'seqBase'>>
  /** Ping limits (inbound streams per peer, queued pings, stream idle timeout; spec/ping.md Limits). */
  ping?: Partial<Omit<PingOptions, 'random'>>
  /** Peer store limits (peers, addresses and protocols per peer). */
  peerStore?: Partial<PeerStoreLimits>
  /** Start at once (default true). */
  start?: boolean
  /**
   * Optional protocols: `{ dht: kadDht(...), pubsub: gossipsub(...), perf: perf() }` (from
   * 'weft/kad', 'weft/gossipsub', and 'weft/node' or 'weft/browser'). Given, it replaces the
   * defaults fully. `weft/node` defaults to dht, pubsub (built from `dht` and `pubsub` below) and relayClient;
   * `weft/browser` to none. Perf is never a default (it lets any peer make us send bytes).
   */
  services?: Record<string, ServiceFactory>
  /** Gossipsub options for the default `pubsub` service of `weft/node`. */
  pubsub?: GossipsubServiceOptions
  /** Kademlia options for the default `dht` service of `weft/node` (mode 'server' by default). */
  dht?: KadServiceOptions
  /** Bootstrap peers, auto-dial of discovered peers, and the discovery services (spec/discovery.md). */
  discovery?: DiscoveryOptions
}

/**
 * Where a `peer:discovery` came from: the mDNS service, a rendezvous point, Kademlia (queries, random
 * walks, routing-table refresh), identify (a connected peer's listen addresses), gossipsub peer
 * exchange (signed peer records in PRUNE), or a configured bootstrap peer (when first connected).
 */
export type DiscoverySource = 'mdns' | 'rendezvous' | 'kad' | 'identify' | 'pubsub-px' | 'bootstrap'

/** `createNode({ discovery })`: how the node finds peers and which of them it dials (spec/discovery.md). */
export interface DiscoveryOptions {
  /**
   * Bootstrap peers, each a multiaddr ending in `/p2p/<peer id>` (a UsageError otherwise): dialed at
   * start and kept connected (redialed after a disconnect with exponential backoff and jitter, capped,
   * reset on success), protected in the connection manager so trims never drop them, and added to
   * the DHT's routing table (they are also kad's `bootstrapPeers`; do not configure them twice).
   */
  bootstrap?: Array<string | Multiaddr>
  /**
   * Dial discovered peers (any source) while the connection count is below the connection manager's
   * low watermark, with bounded concurrency and per-peer failure backoff. Default true in weft/node;
   * weft/browser has no discovery (bundle size: `bootstrap` or `autoDial` there is a UsageError
   * 'node/no-discovery'). `false` turns it off; an object tunes it.
   */
  autoDial?: boolean | AutoDialOptions
  /**
   * mDNS on the LAN (weft/node only; weft/browser refuses it): `true` for the defaults, an object to
   * tune it (`interval`, `ttl`, `ipv6`, `autoDial`, limits: spec/mdns.md). Adds the `mdns` service
   * (`node.service<Mdns>('mdns')`) on the UDP socket `udpMdnsSocket()`, unless `services` has one.
   */
  mdns?: boolean | Omit<MdnsOptions, 'socket'>
  /**
   * Rendezvous (weft/node only): register under `namespace` at each of `points` (multiaddrs ending in
   * `/p2p/<peer id>`) and discover `namespace` there at start and every `interval` ms (default 60 000),
   * with cookies; found peers fire `peer:discovery` with `source: 'rendezvous'` (spec/rendezvous.md).
   * Adds the `rendezvous` client service (`node.service<RendezvousClient>('rendezvous')`) unless
   * `services` has one; the other fields tune it (`ttl`, `recordFormat`, `timeout`, ...).
   */
  rendezvous?: RendezvousDiscoveryOptions & Omit<RendezvousClientServiceOptions, 'discovery' | 'name'>
}

/** Tuning of the auto-dial policy (spec/discovery.md, Limits). */
export interface AutoDialOptions {
  /** Dials in flight at once, default 4 (a discovery flood cannot become a dial storm). */
  concurrency?: number
  /** Candidates remembered, default 256 (a source that floods peer ids cannot grow memory). */
  maxCandidates?: number
  /** First backoff after a failed dial (ms), default 10 s; doubles per failure. */
  backoffBase?: number
  /** Backoff cap (ms), default 10 min. */
  backoffMax?: number
}

/** Options of `node.handle(protocol, handler, options)`. */
export interface StreamHandlerOptions {
  /** Inbound streams of this protocol per connection, default 32. */
  maxInboundStreams?: number
  /** Serve it on limited (relayed) connections too (spec/relay.md, "Limited connections"); default false. */
  allowLimited?: boolean
}

/**
 * Options of `node.newStream(target, protocols, options)`. `signal` aborts the dial and the negotiation (the promise rejects with the signal's reason).
 */
export interface NewStreamOptions {
  /** Aborts the dial and the negotiation (the call rejects with `UsageError('node/aborted')`). */
  signal?: AbortSignal
  /**
   * Open it on a limited (relayed) connection when that is the only one (spec/relay.md, "Limited
   * connections"); without it such a stream fails with OutcomeError 'swarm/limited-connection'.
   */
  allowLimited?: boolean
}

/**
 * Serves one inbound stream of a protocol given to `node.handle`. If it throws or rejects, the stream is reset and the node emits `error` with `origin: 'handler'`.
 */
export type StreamHandler = (stream: WeftStream) => void | Promise<void>

/**
 * The events of a `WeftNode`, by name, with their `detail`. Subscribe with `node.on(name, listener)`
 * (typed; returns the unsubscribe function) or `addEventListener` (a `CustomEvent`).
 * @example
 * ```ts
 * const off = node.on('peer:identify', ({ peer, info }) => console.log(peer.toString(), info.agentVersion))
 * ```
 */
export interface WeftNodeEvents {
  /** The first connection to a peer opened. */
  'peer:connect': PeerId
  /** The last connection to a peer closed. */
  'peer:disconnect': PeerId
  /** A peer identified itself (identify spec): its agent, protocols, addresses and observed address of us. */
  'peer:identify': { peer: PeerId; info: IdentifyInfo; connection: ConnectionInfo }
  /** A connection was established (secured and multiplexed). */
  'connection:open': ConnectionInfo
  /**
   * A connection closed; `error` says why when it did not close normally (a `ConnectionClosedError` carries the close code).
   */
  'connection:close': { connection: ConnectionInfo; error?: Error }
  /**
   * A limit or the gater refused a connection (spec/swarm.md, "Admission"): `code` says which
   * ('gater/denied', 'limits/per-ip', 'limits/rate', 'limits/pending-inbound',
   * 'resource/limit-exceeded'), `error` is what an opener received. `peer` when the handshake named it.
   */
  'connection:refused': { direction: 'inbound' | 'outbound'; addr: Multiaddr; peer?: PeerId; code: RefusalCode; error: Error }
  /** A limit refused a negotiated stream; it was reset (an outbound opener got `error`). */
  'stream:refused': { direction: 'inbound' | 'outbound'; protocol: string; connection: ConnectionInfo; code: RefusalCode; error: Error }
  /** Server side of `/perf/1.0.0` (nodes with the perf service): a client's run was served completely. */
  'perf:served': { peer: PeerId; uploadBytes: number; downloadBytes: number }
  /** Server side of `/perf/1.0.0`: a client broke the protocol; its stream was reset. */
  'perf:server-error': { peer: PeerId; error: Error }
  /** The confirmed external addresses changed (addExternalAddress, public listen addresses). */
  'reachability': { reachable: boolean; externalAddrs: readonly Multiaddr[] }
  /** Circuit Relay v2 client (the relay client service): a reservation was accepted, renewed, lost, refused or failed. */
  'relay:reservation': RelayReservationEvent
  /**
   * A discovery source found a peer and these addresses of it (already in the peer store); see
   * DiscoverySource and spec/discovery.md. Deduplicated: once per peer per new address set, bounded.
   */
  'peer:discovery': { peer: PeerId; addrs: Multiaddr[]; source: DiscoverySource }
  /**
   * A failure was contained: a bug in weft (`origin: 'connection'` or `'behaviour'`, the connection
   * concerned was closed with an `internal-error`), or a stream handler that threw or rejected
   * (`origin: 'handler'`, its stream was reset). Every other connection and stream goes on.
   */
  'error': NodeErrorEvent
}

/** The detail of a node's `error` event: a failure that was contained (a weft bug, or a stream handler that threw). */
export interface NodeErrorEvent {
  /** The contained error (an `InternalError` wrapping a weft bug, or what a handler threw). */
  error: Error
  /** Where it was contained: a connection core, a behaviour, or a stream handler. */
  origin: 'connection' | 'behaviour' | 'handler'
  /** The behaviour that threw (origin 'behaviour'). */
  behaviour?: string
  /** The handler's protocol (origin 'handler'). */
  protocol?: string
  /** The peer concerned, when known. */
  peer?: PeerId
  /** The connection concerned, when known. */
  connection?: ConnectionInfo
}

/**
 * Whom to reach: a multiaddr (as text or `Multiaddr`; with `/p2p/<id>` to authenticate the peer), or
 * a peer id (as text or `PeerId`), dialed at its addresses in the peer store.
 */
export type DialTarget = Multiaddr | PeerId | string

export interface NodeInternals {
  crypto: CryptoProvider
  transports: Transport[]
  /** Wall-clock milliseconds (src/io/clock.ts), read once when the node is created. */
  wallClock: () => number
  /** The gater and per-IP limits (src/swarm/guards.ts): weft/node passes them, weft/browser (which never accepts) does not. */
  guards?: SwarmConfig['guards']
  /** Discovery (src/edge/discovery.ts: bootstrap peers, auto-dial, kad / identify / PX events): weft/node passes it, weft/browser does not. */
  discovery?: (init: DiscoveryInit) => DiscoveryBehaviour
  /** Each connection's trace and keylog hooks (src/trace, spec/trace.md): weft/node passes them when `trace` or `keylog` is set. */
  connectionTrace?: SwarmConfig['connectionTrace']
  /** libp2p TLS channels for a node's identity (one certificate per node): weft/node passes it when `security` includes 'tls'. */
  tls?: (identity: PrivateKey) => TlsChannelFactory
  /** The swarm's core for QUIC connections (src/swarm/quic-connection.ts): weft/node passes it, weft/browser (no QUIC) does not. */
  quicCore?: SwarmConfig['quicCore']
}
