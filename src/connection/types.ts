/**
 * The connection core's public types: options, events and error codes (see connection.ts).
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { KeylogHook, TlsKeylogHook, TraceHook } from '../core/trace.js'
import type { NoiseKeySource } from '../noise/index.js'
import type { PeerId, PrivateKey, PublicKey } from '../peer-id/index.js'
import type { TlsChannelFactory } from '../tls/index.js'
import type { YamuxOptions } from '../yamux/index.js'

/** The multistream-select id of the Noise security handshake (noise spec "Protocol Identifier"). */
export const NOISE_PROTOCOL = '/noise'
/** The multistream-select id of libp2p TLS (tls spec "Handshake Protocol"). */
export const TLS_PROTOCOL = '/tls/1.0.0'
/** The multistream-select id of the yamux muxer. */
export const YAMUX_PROTOCOL = '/yamux/1.0.0'

/**
 * Error codes of a connection's upgrade and life (`OutcomeError` for a timeout, `ProtocolError('connection', code)` for a peer's fault).
 */
export type ConnectionErrorCode =
  | 'connection/upgrade-timeout'
  | 'connection/security-rejected'
  | 'connection/muxer-rejected'
  | 'connection/stream-negotiation-timeout'
  | 'connection/protocol-rejected'
  | 'connection/too-many-negotiating-streams'
  | 'connection/unexpected-eof'
  | 'connection/no-common-muxer'

/** Options of `new Connection(options)`: role, identity, crypto, the upgrade deadline and the yamux options. */
export interface ConnectionOptions {
  /** dialer = Noise initiator and yamux client (odd stream ids). */
  role: 'dialer' | 'listener'
  /** The crypto provider (hashes, AEAD, X25519, signatures). */
  crypto: CryptoProvider
  /** Our identity key: signs the Noise handshake payload. */
  identity: PrivateKey
  /** Dialing /p2p/<id>: any other remote identity fails the handshake. */
  expectedRemotePeer?: PeerId | undefined
  /** Does a local handler serve this inbound stream protocol? */
  supportsProtocol: (protocol: string) => boolean
  /** Protocols listed to a remote `ls`. */
  listProtocols: () => string[]
  /** Time of creation; the upgrade deadline counts from here. */
  now: Millis
  /** Whole upgrade (security + muxer negotiation), default 10 s: stops a peer that opens and stalls. */
  upgradeTimeout?: number
  /** Per-stream protocol negotiation, default 10 s: stops streams held half-negotiated forever. */
  streamNegotiationTimeout?: number
  /** Streams still negotiating at once, default 64: bounds listener state a remote can create. */
  maxNegotiatingStreams?: number
  /** Advertise and accept early muxer negotiation (Noise extensions), default true. */
  earlyMuxerNegotiation?: boolean
  /**
   * Dialer only, default true: send Noise's first handshake message in the same flight as the
   * multistream-select `/noise` proposal (lazy negotiation, rust-libp2p's `V1Lazy`), saving one
   * round trip per outbound connection. A listener that refuses `/noise` still fails the upgrade
   * with connection/security-rejected. False: wait for the listener's echo first.
   */
  lazySecurityNegotiation?: boolean
  /**
   * Security protocols in order of preference (default ['noise']): the dialer proposes them in turn,
   * the listener accepts any of them. 'tls' is libp2p TLS, `/tls/1.0.0` (spec/tls.md) and needs `tls`.
   */
  security?: readonly ('noise' | 'tls')[] | undefined
  /** Opens `/tls/1.0.0` channels (`libp2pTls(...)` from src/tls: TLS crypto, the wall clock, our certificate); required when `security` includes 'tls'. */
  tls?: TlsChannelFactory | undefined
  /** Options of the yamux session (its role follows ours: dialer = client). Defaults in `YAMUX_DEFAULTS`. */
  yamux?: Omit<YamuxOptions, 'role'>
  /** Injected ephemeral/static keys, tests only. */
  noiseStaticKey?: Uint8Array
  /**
   * Noise key pairs made ahead of the handshake (a `NoiseKeyPool` signing for `identity`): the
   * upgrade takes its static and ephemeral pairs from here (spec/noise.md, "Keys made ahead").
   * Default: made during the handshake.
   */
  noiseKeys?: NoiseKeySource | undefined
  /**
   * Trace hook (spec/trace.md): every layer's events, synchronously. Undefined (the default): no
   * event object is built. Tracing never changes behaviour.
   */
  trace?: TraceHook | undefined
  /** Keylog hook (spec/trace.md "Keylog"): Noise's transport keys after Split(). Secrets. */
  keylog?: KeylogHook | undefined
  /** TLS keylog hook (spec/trace.md "Keylog"): a `/tls/1.0.0` connection's traffic secrets, NSS key log labels. Secrets. */
  tlsKeylog?: TlsKeylogHook | undefined
}

/**
 * Events of a connection. 'stream-data' bytes are the driver's (views of memory no layer writes
 * again). 'closed' carries a ProtocolError (the remote broke a protocol), an InternalError (a bug in
 * weft, its `cause` the original exception), a ConnectionClosedError (a GoAway with a code other than
 * 0 (normal), sent by the remote or by this node's `close(now, code)`) or nothing (a graceful close or
 * a clean EOF).
 */
export type ConnectionEvent =
  /** `security`: the protocol agreed, `/noise` or `/tls/1.0.0`. */
  | { type: 'established'; remotePeer: PeerId; remotePublicKey: PublicKey; muxer: string; earlyMuxerNegotiation: boolean; security: string }
  | { type: 'stream-opened'; id: number; protocol: string; direction: 'inbound' | 'outbound'; requestId?: number }
  | { type: 'stream-open-failed'; requestId: number; error: Error }
  | { type: 'stream-data'; id: number; data: Uint8Array }
  | { type: 'stream-eof'; id: number }
  /** The remote reset the stream (`code`: the non-zero libp2p reset code its RST carried), or the connection ended under it. */
  | { type: 'stream-reset'; id: number; code?: number }
  | { type: 'stream-writable'; id: number }
  | { type: 'stream-closed'; id: number }
  | { type: 'rtt'; rtt: number }
  | { type: 'closed'; error?: Error }
