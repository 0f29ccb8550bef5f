/**
 * The public shapes of weft's TLS 1.3 handshake core (src/tls/handshake.ts): options, the
 * certificate and verification hooks a caller supplies (the libp2p layer, src/tls/certificate.ts,
 * supplies the real ones), the events, the limits. This is the seam QUIC (RFC 9001) and the TCP
 * record layer (src/tls/session.ts) build on; see spec/tls13.md.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { TlsKeylogLabel } from '../core/trace.js'

/**
 * Where handshake bytes travel. QUIC: the Initial, Handshake and 1-RTT packet number spaces'
 * CRYPTO frames (RFC 9001 §4.1.4). TLS over TCP: plaintext records, records under the handshake
 * traffic keys, records under the application traffic keys.
 */
export type TlsLevel = 'initial' | 'handshake' | 'application'

/** SignatureScheme values weft signs and accepts in CertificateVerify (RFC 8446 §4.2.3). */
export const SignatureScheme = {
  ecdsa_secp256r1_sha256: 0x0403,
  ed25519: 0x0807,
} as const

/** The schemes weft accepts from a peer by default, in the order it lists them. */
export const DEFAULT_SIGNATURE_SCHEMES: readonly number[] = [SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ed25519]

/** Our certificate chain and the signer of our CertificateVerify. */
export interface TlsCertificate {
  /** DER certificates, end-entity first. */
  chain: Uint8Array[]
  /** The SignatureScheme `sign` produces (0x0403 ECDSA P-256/SHA-256 DER, 0x0807 Ed25519). */
  scheme: number
  /** Signs the CertificateVerify content (RFC 8446 §4.4.3: 64 spaces, context string, 0, transcript hash). */
  sign(content: Uint8Array): Uint8Array
}

/**
 * Checks the peer's chain and its CertificateVerify: the chain as sent (end-entity first), the scheme
 * it signed with (one we offered), the exact signed content and the signature. Returns normally to
 * accept; throws a ProtocolError to reject (a TlsError's alert is sent as is, any other
 * ProtocolError is sent as bad_certificate).
 */
export type VerifyPeer = (chain: Uint8Array[], scheme: number, signedContent: Uint8Array, signature: Uint8Array) => void

/** Bounds on what a peer can make the handshake hold (spec/tls13.md, Limits). */
export interface TlsLimits {
  /**
   * Largest handshake message body accepted, in bytes (default 16 KiB). Stops a peer announcing a
   * message of up to 16 MiB (the 24-bit length) and making us buffer it. The largest legitimate one
   * is a Certificate: a libp2p certificate is ~450 bytes, a public web chain rarely passes 8 KiB.
   */
  maxHandshakeMessage: number
  /** Unprocessed handshake bytes held at one level (default 20 KiB: one message plus its header and some); stops a peer growing our buffer with partial messages. */
  maxBufferedHandshake: number
  /** Extensions in one extension block (default 64; browsers send ~20): stops CPU and memory spent on thousands of empty extensions. */
  maxExtensions: number
  /** Certificates in one Certificate message (default 8; libp2p sends exactly one): stops a chain of thousands of tiny entries reaching verifyPeer. */
  maxCertificates: number
}

export const DEFAULT_TLS_LIMITS: TlsLimits = {
  maxHandshakeMessage: 16 * 1024,
  maxBufferedHandshake: 20 * 1024,
  maxExtensions: 64,
  maxCertificates: 8,
}

/** Options of `TlsHandshake`. */
export interface TlsHandshakeOptions {
  role: 'client' | 'server'
  crypto: TlsCrypto
  /** Our chain and signer. Required for a server; a client without one answers a CertificateRequest with an empty Certificate. */
  certificate?: TlsCertificate | undefined
  /** Checks the peer's chain and CertificateVerify (see VerifyPeer). */
  verifyPeer: VerifyPeer
  /** ALPN protocol names (RFC 7301), most preferred first; none: no ALPN extension. */
  alpn?: readonly string[]
  /** Server: send a CertificateRequest and fail a client without a certificate (default true: libp2p authenticates both ends). */
  requireClientCertificate?: boolean
  /** Client: the server_name (SNI) to send; absent: none (libp2p peers are not named by DNS). */
  serverName?: string
  /** QUIC: our encoded transport parameters (extension 0x39). Set = QUIC mode: the peer must send theirs (RFC 9001 §8.2). */
  quicTransportParameters?: Uint8Array
  /** Cipher suites in order of preference (default 0x1301, 0x1303). */
  cipherSuites?: readonly number[]
  /** SignatureSchemes accepted from the peer (default 0x0403, 0x0807). */
  signatureSchemes?: readonly number[]
  /**
   * Client, TLS over TCP: a 32-byte legacy_session_id (RFC 8446 Appendix D.4 middlebox compatibility
   * mode, which peers over TCP expect). Must stay false for QUIC (RFC 9001 §8.4). Default false.
   */
  middleboxCompat?: boolean
  /**
   * Client: offer the X25519 key share in the first ClientHello (default true). False sends none, so
   * the server must answer with a HelloRetryRequest (one more round trip; for tests).
   */
  keyShareInFirstHello?: boolean
  limits?: Partial<TlsLimits>
  /**
   * The key log (spec/trace.md "Keylog"): each handshake and application traffic secret as it is
   * derived, with its NSS key log label and the ClientHello's random (QUIC connections; TLS over TCP
   * logs through TlsSessionOptions.keylog). SECRETS. A throw there is swallowed.
   */
  keylog?: ((label: TlsKeylogLabel, clientRandom: Uint8Array, secret: Uint8Array) => void) | undefined
  /** The trace (spec/trace.md): each handshake message (header and body) as sent or received, at its level. Only valid during the call. */
  trace?: ((dir: 'in' | 'out', level: TlsLevel, message: Uint8Array) => void) | undefined
  /** Tests and vectors only: our 32-byte Random (default: crypto.base.randomBytes). */
  random?: Uint8Array
  /** Tests and vectors only: our X25519 private key (default: random). */
  keyShare?: Uint8Array
}

/**
 * What the handshake tells its driver, in order. Drain events before outputs: the write secret of
 * a level is queued before the first output at that level.
 * - `secret`: a traffic secret to install (QUIC: packet protection keys, RFC 9001 §5.1; TCP: record keys).
 * - `complete`: the handshake is done and the peer authenticated (client: after sending its
 *   Finished; server: after verifying the client's Finished).
 */
export type TlsEvent =
  | { kind: 'secret'; level: 'handshake' | 'application'; direction: 'read' | 'write'; suite: number; secret: Uint8Array }
  | {
    kind: 'complete'
    /** The negotiated ALPN protocol, or undefined when either side sent no ALPN. */
    alpn: string | undefined
    /** The peer's DER certificate chain as verified by verifyPeer; empty for a client that sent none when not required. */
    peerChain: Uint8Array[]
    cipherSuite: number
    /** QUIC: the peer's raw transport parameters. */
    peerTransportParameters: Uint8Array | undefined
  }

/** Handshake bytes to send at a level (one whole handshake message). */
export interface TlsOutput {
  level: TlsLevel
  data: Uint8Array
}
