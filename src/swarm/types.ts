/**
 * The swarm's types: its limits and configuration, what it asks of the IO runtime (`SwarmIo`), what it
 * tells the user (`SwarmEvent`), and the records it keeps per dial and per connection.
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { Connection, ConnectionOptions } from '../connection/index.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import type { ConnectionInfo, StreamRef } from './behaviour.js'
import type { PeerStoreLimits } from './peer-store.js'
import type { Dial } from './dials.js'
import type { SwarmStream } from './streams.js'
import type { PolicyConfig, PolicyOptions, Refusal } from './policy.js'

/** Connection and stream limits of the swarm (spec/swarm.md "Limits"). */
export interface SwarmLimits {
  /**
   * Open + upgrading connections, default 4096: a backstop against socket exhaustion by a connection
   * flood, under the process's file descriptors. The resource manager's system scope (autoscaled with
   * memory, spec/resource-manager.md) is the limit that normally binds; this one stays above it so the
   * two never disagree (kubo #9545).
   */
  maxConnections: number
  /** Inbound connections still upgrading, default 64: stops slow handshakes pinning resources. */
  maxPendingInbound: number
  /** Dials in flight, default 64: bounds work a user or behaviour (kad) can queue. */
  maxPendingDials: number
  /** Addresses tried per dial, default 8: a peer advertising hundreds of addresses cannot make us try them all. */
  maxDialAddrs: number
  /** Inbound streams per protocol per connection, default 32 (per-protocol override in handle()). */
  maxInboundStreamsPerProtocol: number
  /** Bytes a behaviour may queue on one stream beyond the muxer's window, default 4 MiB. */
  maxBehaviourStreamBuffer: number
  /** Confirmed external addresses the user may add, default 32 (a local bound: UsageError beyond it). */
  maxExternalAddrs: number
}

/** Default `SwarmLimits`. */
export const DEFAULT_SWARM_LIMITS: SwarmLimits = {
  maxConnections: 4096,
  maxPendingInbound: 64,
  maxPendingDials: 64,
  maxDialAddrs: 8,
  maxInboundStreamsPerProtocol: 32,
  maxBehaviourStreamBuffer: 4 * 1024 * 1024,
  maxExternalAddrs: 32,
}

/** Configuration of a `Swarm`: identity, crypto, limits, policy and yamux options. */
export interface SwarmConfig {
  /** The crypto provider. */
  crypto: CryptoProvider
  /** Our identity key. */
  identity: PrivateKey
  /** Connection and stream limits (defaults in `DEFAULT_SWARM_LIMITS`). */
  limits?: Partial<SwarmLimits>
  /** Peer store bounds (defaults in `DEFAULT_PEER_STORE_LIMITS`). */
  peerStore?: Partial<PeerStoreLimits>
  /** The connection manager, gater, per-IP limits and resource manager (src/swarm/policy.ts). */
  policy?: PolicyOptions
  /** The gater and per-IP limits (`createGuards`, src/swarm/guards.ts); absent, the policy has neither. */
  guards?: PolicyConfig['guards']
  /** Passed to every connection (timeouts, yamux options). */
  connection?: Pick<ConnectionOptions, 'upgradeTimeout' | 'streamNegotiationTimeout' | 'maxNegotiatingStreams' | 'earlyMuxerNegotiation' | 'lazySecurityNegotiation' | 'yamux' | 'security' | 'tls'>
  /** Trace and keylog hooks for each new connection (spec/trace.md; weft/node's `trace` / `keylog` options). */
  connectionTrace?: ((role: 'dialer' | 'listener', transport?: 'quic-v1') => Pick<ConnectionOptions, 'trace' | 'keylog' | 'tlsKeylog'>) | undefined
  /** Noise key pairs made ahead for every connection's handshake (a NoiseKeyPool for `identity`; spec/noise.md). */
  noiseKeys?: ConnectionOptions['noiseKeys']
  /**
   * The core for a connection whose transport hands over a QUIC session (`quicCore`,
   * src/swarm/quic-connection.ts). Passed in rather than imported, so a build without QUIC (weft/browser)
   * does not carry it; absent, every connection gets the TCP-style core (Noise or TLS, then yamux).
   */
  quicCore?: typeof import('./quic-connection.js').quicCore | undefined
}

/** Transport operations the swarm asks of its driver. */
export type SwarmIo =
  | { type: 'connect'; connection: number; addr: Multiaddr }
  /** End a transport: after its pending bytes (graceful), or at once when `abort` (an internal error). */
  | { type: 'close'; connection: number; abort?: boolean }

/** Events of the swarm: connections opened, closed and refused, streams, and the behaviours' events. */
export type SwarmEvent<BEv = unknown> =
  | { type: 'connection-open'; connection: ConnectionInfo }
  | { type: 'connection-closed'; connection: ConnectionInfo; error?: Error }
  | { type: 'connection-failed'; addr: Multiaddr | undefined; direction: 'inbound' | 'outbound'; error: Error }
  /**
   * The policy (src/swarm/policy.ts) or a swarm limit refused a connection: inbound before the
   * handshake (the socket was closed unread) or after it (`peer` known, GoAway `refusal.wireCode`),
   * or an outbound attempt before it started.
   */
  | { type: 'connection-refused'; direction: 'inbound' | 'outbound'; addr: Multiaddr; peer?: PeerId; refusal: Refusal }
  /** The policy refused a negotiated stream: it was reset (an outbound opener got `refusal.error`). */
  | { type: 'stream-refused'; direction: 'inbound' | 'outbound'; protocol: string; connection: ConnectionInfo; refusal: Refusal }
  | { type: 'peer-connect'; peer: PeerId }
  | { type: 'peer-disconnect'; peer: PeerId }
  | { type: 'dial-succeeded'; requestId: number; connection: ConnectionInfo }
  | { type: 'dial-failed'; requestId: number; error: Error }
  | { type: 'stream-opened'; stream: StreamRef; protocol: string; direction: 'inbound' | 'outbound'; connection: ConnectionInfo; requestId?: number }
  | { type: 'stream-open-failed'; requestId: number; error: Error }
  | { type: 'stream-data'; stream: StreamRef; data: Uint8Array }
  | { type: 'stream-eof'; stream: StreamRef }
  /** `code`: the non-zero reset code of the remote's RST (src/core/close-codes.ts); `connectionClosed`: it ended with its connection (BehaviourInput). */
  | { type: 'stream-reset'; stream: StreamRef; code?: number; connectionClosed?: true }
  | { type: 'stream-writable'; stream: StreamRef }
  | { type: 'stream-closed'; stream: StreamRef }
  | { type: 'rtt'; connection: number; rtt: number }
  /** The confirmed external addresses changed (src/swarm/reachability.ts). */
  | { type: 'reachability'; reachable: boolean; externalAddrs: readonly Multiaddr[] }
  | { type: 'behaviour'; from: string; event: BEv }
  /**
   * A bug was contained (src/swarm/swarm.ts, "Containment"): an exception from a connection core
   * (`origin: 'connection'`) or a behaviour (`'behaviour'`, named). The connection it concerned, if
   * any, was closed with an `internal-error`; everything else goes on.
   */
  | { type: 'error'; error: Error; origin: 'connection' | 'behaviour'; behaviour?: string; connection?: ConnectionInfo; peer?: PeerId }

export type { DialErrorCode } from '../core/errors.js'

/** What the swarm drives of a connection core: `Connection` (TCP, WebSocket, relay) or a QUIC connection (src/swarm/quic-connection.ts). */
export type ConnectionCore = Pick<Connection,
  | 'handleData' | 'handleEof' | 'handleTimeout' | 'wantsData' | 'pollTransmit' | 'pollEvent' | 'pollTimeout' | 'openStream' | 'write' | 'consume'
  | 'closeWrite' | 'reset' | 'close' | 'ping' | 'rtt' | 'isOpen' | 'isClosed' | 'remotePeer' | 'streamCount'>

/** Who gets the outcome of a dial or a stream opening. */
export type Owner = { kind: 'user' } | { kind: 'behaviour'; name: string }

export interface Conn {
  id: number
  core: ConnectionCore | undefined // undefined while the transport connects
  direction: 'inbound' | 'outbound'
  remoteAddr: Multiaddr
  localAddr: Multiaddr | undefined
  dial: Dial | undefined
  info: ConnectionInfo | undefined
  /** Stream id -> owner and protocol; the shared empty map while there are none (routing.ts noStreams). */
  streams: Map<number, SwarmStream>
  /** Why the connection core closed, kept until the transport is gone and the close is reported. */
  closeError: Error | undefined
  closing: boolean
  /** An internal error closed it (see SwarmEvent 'error'); nothing more is read from its core. */
  faulted?: boolean
  /** When the transport was accepted, or the connect started. */
  opened: Millis
}
