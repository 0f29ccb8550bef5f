/**
 * The public shapes of the QUIC connection core (connection.ts): options, limits, events and the
 * close information (spec/quic-connection.md). Every limit names the attack it stops.
 */
import type { TlsCrypto } from '../../core/crypto/tls.js'
import type { TlsCertificate, TlsHandshakeOptions, TlsLimits, VerifyPeer } from '../../tls/index.js'
import type { QuicStreamEvent, QuicStreamsOptions } from '../streams/index.js'

/** The TLS 1.3 options of a QUIC connection: TlsHandshakeOptions minus what QUIC fixes (role, crypto, transport parameters). */
export interface QuicTlsOptions {
  /** ALPN names, most preferred first (libp2p: [`libp2p`]). QUIC requires ALPN (RFC 9001 §8.1). */
  alpn: readonly string[]
  /** Our chain and signer (libp2pTlsAuth(...).certificate). Required for a server. */
  certificate?: TlsCertificate | undefined
  /** Checks the peer's chain and CertificateVerify (libp2pTlsAuth(...).verifyPeer). */
  verifyPeer: VerifyPeer
  /** Client: server_name to send (libp2p: none). */
  serverName?: string
  /** Cipher suites in order of preference (default 0x1301, 0x1303). */
  cipherSuites?: readonly number[]
  limits?: Partial<TlsLimits>
  /** The key log (spec/trace.md "Keylog"): the four traffic secrets, NSS key log labels, as derived. SECRETS. */
  keylog?: TlsHandshakeOptions['keylog']
}

/** Bounds of one connection (spec/quic-connection.md, Limits). */
export interface QuicConnectionLimits {
  /**
   * CRYPTO bytes buffered per encryption level beyond what TLS consumed (RFC 9000 §7.5; at least
   * 4096). Stops a peer from sending CRYPTO data far ahead of a gap to make us buffer it: past it the
   * connection closes with CRYPTO_BUFFER_EXCEEDED.
   */
  maxCryptoBuffer: number
  /** Out-of-order CRYPTO fragments kept per level: stops a peer from making reassembly walk thousands of 1-byte pieces (CRYPTO_BUFFER_EXCEEDED past it). */
  maxCryptoFragments: number
  /** Our active_connection_id_limit: peer connection ids we store (RFC 9000 §5.1.1). Stops a peer from making us store unbounded ids (CONNECTION_ID_LIMIT_ERROR past it). */
  activeConnectionIdLimit: number
  /** Connection ids we issue at most (capped by the peer's active_connection_id_limit): bounds the endpoint's routing table entries per connection. */
  maxIssuedConnectionIds: number
  /** Retired-id numbers owed to the peer (RETIRE_CONNECTION_ID frames queued): stops a peer's retire_prior_to churn from growing our send queue without bound. */
  maxPendingRetirements: number
  /** Our max_idle_timeout in ms (0: none). The effective timeout is the smaller nonzero of both sides' (RFC 9000 §10.1). */
  idleTimeout: number
  /**
   * Largest UDP payload we send (RFC 9000 §14, default 65527): we start at 1200, the size every QUIC
   * path carries, and move up only to sizes whose padded probe was acknowledged (DPLPMTUD, §14.3,
   * pmtu.ts: 1452 first, then up to min(this, the peer's max_udp_payload_size) by halving; the UDP
   * driver drops datagrams above the first hop's MTU, so on a 1500-byte path the search ends at 1452
   * and on loopback near 64 KB, bench/README.md "QUIC throughput"). 1452 is what go's and rust's QUIC
   * send; 1200 disables probing.
   */
  maxDatagramSize: number
  /** Probes of one size lost before that size counts as failed (each lost probe costs one packet; the search tries about 8 sizes). */
  maxPmtuProbes: number
  /** Largest UDP payload we accept (our max_udp_payload_size transport parameter; default 65527, the RFC's default: the UDP driver receives any datagram). */
  maxUdpPayloadSize: number
  /** 1-RTT packets sent with one key before we update keys (RFC 9001 §6.6; AES-GCM's confidentiality limit is 2^23). */
  keyUpdateInterval: number
  /** CONNECTION_CLOSE packets sent again in the closing state, in answer to incoming packets (RFC 9000 §10.2.1): stops a peer from using us as a reflector. */
  maxCloseRetransmits: number
  /** Packets dropped because they failed authentication before the connection closes with AEAD_LIMIT_REACHED (RFC 9001 §6.6, below AES-GCM's 2^52). */
  maxUndecryptablePackets: number
  /** Packets held per encryption level until its keys arrive (RFC 9001 §5.7; pending.ts): a peer or an attacker cannot make us hold unauthenticated data without bound; past it they are dropped. */
  maxBufferedPackets: number
  /** Validations of a new peer address per minute (RFC 9000 §9.3; path.ts): an attacker rewriting source addresses cannot make us probe address after address; past it the connection stays on its path. */
  maxPathValidations: number
}

export const DEFAULT_CONNECTION_LIMITS: QuicConnectionLimits = {
  maxCryptoBuffer: 64 * 1024,
  maxCryptoFragments: 256,
  activeConnectionIdLimit: 4,
  maxIssuedConnectionIds: 4,
  maxPendingRetirements: 64,
  idleTimeout: 30_000,
  maxDatagramSize: 65527,
  maxPmtuProbes: 3,
  maxUdpPayloadSize: 65527,
  keyUpdateInterval: 2 ** 22,
  maxCloseRetransmits: 8,
  maxUndecryptablePackets: 2 ** 20,
  maxBufferedPackets: 8,
  maxPathValidations: 8,
}

/** Options of `QuicConnection`. */
export interface QuicConnectionOptions {
  role: 'client' | 'server'
  crypto: TlsCrypto
  tls: QuicTlsOptions
  /** The connection id the peer sends to (our Source Connection ID; sequence number 0). Every id we issue has its length. */
  localConnectionId: Uint8Array
  /**
   * The Destination Connection ID we send to first. Client: random, at least 8 bytes (the Initial
   * keys derive from it, RFC 9001 §5.2). Server: the client's Source Connection ID.
   */
  remoteConnectionId: Uint8Array
  /** Server: the Destination Connection ID of the client's first Initial (original_destination_connection_id). */
  originalDestinationConnectionId?: Uint8Array
  /** Server after a Retry: the Source Connection ID of the Retry (the client's Initials now carry it; Initial keys derive from it). */
  retrySourceConnectionId?: Uint8Array
  /** Server: the client's address is already validated (a valid Retry token): no anti-amplification limit. */
  addressValidated?: boolean
  /** Client: a token for the Initial packets (from NEW_TOKEN; a Retry's token is handled by the connection). */
  token?: Uint8Array
  /** The stateless reset token for a connection id we issue (the endpoint's keyed function, reset.ts); default: random tokens. */
  statelessResetToken?: (connectionId: Uint8Array) => Uint8Array
  /** Stream layer options (windows, stream limits); the role is the connection's. */
  streams?: Omit<QuicStreamsOptions, 'role'>
  limits?: Partial<QuicConnectionLimits>
  /** Send a PING when no ack-eliciting packet went out for this many ms (keeps NAT bindings and the idle timer alive); 0 or absent: off. */
  keepAliveInterval?: number
  /** Randomness (connection ids, PATH_CHALLENGE data, reset tokens when none is given). */
  random: (n: number) => Uint8Array
  /** The time of creation (ms, the driver's monotonic clock). */
  now: number
}

/** Why a connection ended. */
export interface QuicCloseInfo {
  /** local: close() or a local error; remote: the peer's CONNECTION_CLOSE; idle: the idle timeout; reset: a stateless reset; version: a Version Negotiation we cannot follow. */
  readonly source: 'local' | 'remote' | 'idle' | 'reset' | 'version'
  /** The CONNECTION_CLOSE error code (transport or application). */
  readonly errorCode: number
  /** True for an application close (frame 0x1d). */
  readonly application: boolean
  readonly reason: string
  /** The error that made us close (a ProtocolError of the peer's input, or a local failure). */
  readonly error?: Error | undefined
}

/** What the connection tells its driver and the application. */
export type QuicConnectionEvent =
  /** The TLS handshake completed and the peer is authenticated (the libp2p peer id: the verifyPeer hook's result). */
  | { readonly kind: 'handshake-complete', readonly alpn: string | undefined, readonly peerChain: readonly Uint8Array[], readonly cipherSuite: number }
  /** The handshake is confirmed (RFC 9001 §4.1.2). Server: the original Destination Connection ID may now be unregistered. */
  | { readonly kind: 'handshake-confirmed' }
  /** A stream event (spec/quic-streams.md). */
  | { readonly kind: 'stream', readonly event: QuicStreamEvent }
  /** We issued a connection id (NEW_CONNECTION_ID): the endpoint routes it to this connection. */
  | { readonly kind: 'connection-id-issued', readonly connectionId: Uint8Array, readonly sequenceNumber: number, readonly statelessResetToken: Uint8Array }
  /** The peer retired a connection id we issued: the endpoint stops routing it. */
  | { readonly kind: 'connection-id-retired', readonly connectionId: Uint8Array, readonly sequenceNumber: number }
  /** A stateless reset token of the peer (transport parameter or NEW_CONNECTION_ID): a datagram ending with it resets this connection. */
  | { readonly kind: 'peer-reset-token', readonly token: Uint8Array }
  /** The peer's address changed (server, RFC 9000 §9.3): send to `remote` from now on; `validated` false until it answers our PATH_CHALLENGE (then again with true), or back to the old address when it does not. */
  | { readonly kind: 'path-changed', readonly remote: { readonly address: string, readonly port: number }, readonly validated: boolean }
  /** The peer answered our PATH_CHALLENGE (`probePath`): the path works, `rtt` ms after the challenge left. */
  | { readonly kind: 'path-validated', readonly rtt: number }
  /** Closing (we sent CONNECTION_CLOSE) or draining (the peer did): no new streams or data; 'closed' follows. */
  | { readonly kind: 'closing', readonly info: QuicCloseInfo }
  /** The connection is over: drop it and every connection id it registered. */
  | { readonly kind: 'closed', readonly info: QuicCloseInfo }

/** The connection's state (RFC 9000 §10). */
export type QuicConnectionState = 'handshaking' | 'established' | 'closing' | 'draining' | 'closed'

/** Counters for tests and metrics. */
export interface QuicConnectionStats {
  datagramsReceived: number
  datagramsSent: number
  bytesReceived: number
  bytesSent: number
  packetsReceived: number
  packetsSent: number
  /** Packets dropped: no keys, failed authentication, duplicates, unparseable. */
  packetsDropped: number
  packetsLost: number
  keyUpdates: number
  /** Client: Retry packets followed (0 or 1). */
  retries: number
  /** Packets held until their keys arrived (RFC 9001 §5.7). */
  packetsBuffered: number
  /** Moves to a new peer address (RFC 9000 §9.3), refused ones (`maxPathValidations`), validations that failed. */
  pathChanges: number
  pathChangesRefused: number
  pathValidationsFailed: number
}
