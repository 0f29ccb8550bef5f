/**
 * Errors of weft's TLS 1.3 core (RFC 8446), see spec/tls13.md "Errors".
 *
 * Every failure caused by remote bytes is a `TlsError`: a `ProtocolError('tls', code)` that also
 * carries `alert`, the RFC 8446 §6.2 AlertDescription this side sends (TLS over TCP) or turns into
 * a QUIC CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8). `alert` is undefined where no alert applies
 * (the transport ended, or the peer's own alert ended the session).
 */
import { ProtocolError } from '../core/errors.js'

/** AlertDescription values weft sends or names (RFC 8446 §6). */
export const Alert = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  certificate_required: 116,
  no_application_protocol: 120,
} as const

/** The `ProtocolError('tls', code)` codes of the handshake core and the record layer. */
export type TlsErrorCode =
  /** A message or record that does not parse, or has bytes left over (decode_error). */
  | 'tls/decode-error'
  /** A message or record of a type not allowed at this point (unexpected_message). */
  | 'tls/unexpected-message'
  /** A field with a value the peer must not send: a suite, group or version we did not offer, a duplicate extension (illegal_parameter). */
  | 'tls/illegal-parameter'
  /** No cipher suite, group or signature scheme in common (handshake_failure). */
  | 'tls/handshake-failure'
  /** A required extension is absent: supported_versions, key_share, signature_algorithms, quic_transport_parameters (missing_extension). */
  | 'tls/missing-extension'
  /** An extension in a message where the peer may not send it, or one we never offered (unsupported_extension). */
  | 'tls/unsupported-extension'
  /** The peer does not speak TLS 1.3 (protocol_version). */
  | 'tls/protocol-version'
  /** The Finished verify_data is wrong (decrypt_error). */
  | 'tls/decrypt-error'
  /** A protected record failed authentication (bad_record_mac). */
  | 'tls/bad-record-mac'
  /** A record longer than RFC 8446 §5 allows (record_overflow). */
  | 'tls/record-overflow'
  /** A handshake message over maxHandshakeMessage, or more unprocessed bytes at one level than maxBufferedHandshake. */
  | 'tls/message-too-large'
  /** Too many extensions, certificates or list entries in one message (a limit of spec/tls13.md). */
  | 'tls/too-many-items'
  /** Too many consecutive records that carry nothing (empty records, ChangeCipherSpec): a CPU flood. */
  | 'tls/too-many-empty-records'
  /** The peer's certificate chain was rejected by the caller's verifyPeer (or is empty). */
  | 'tls/bad-certificate'
  /** The server required a client certificate and the client sent none (certificate_required). */
  | 'tls/certificate-required'
  /** ALPN: no protocol in common, or the server chose one we did not offer (no_application_protocol). */
  | 'tls/no-application-protocol'
  /** X25519 gave the all-zero output: a low-order key share (illegal_parameter). */
  | 'tls/invalid-key-share'
  /** The peer sent a fatal alert; `alert` is undefined, `peerAlert` its description. */
  | 'tls/alert-received'
  /** The transport ended before the handshake completed, or without close_notify. */
  | 'tls/unexpected-eof'

const ALERT_OF: Record<TlsErrorCode, number | undefined> = {
  'tls/decode-error': Alert.decode_error,
  'tls/unexpected-message': Alert.unexpected_message,
  'tls/illegal-parameter': Alert.illegal_parameter,
  'tls/handshake-failure': Alert.handshake_failure,
  'tls/missing-extension': Alert.missing_extension,
  'tls/unsupported-extension': Alert.unsupported_extension,
  'tls/protocol-version': Alert.protocol_version,
  'tls/decrypt-error': Alert.decrypt_error,
  'tls/bad-record-mac': Alert.bad_record_mac,
  'tls/record-overflow': Alert.record_overflow,
  'tls/message-too-large': Alert.unexpected_message,
  'tls/too-many-items': Alert.decode_error,
  'tls/too-many-empty-records': Alert.unexpected_message,
  'tls/bad-certificate': Alert.bad_certificate,
  'tls/certificate-required': Alert.certificate_required,
  'tls/no-application-protocol': Alert.no_application_protocol,
  'tls/invalid-key-share': Alert.illegal_parameter,
  'tls/alert-received': undefined,
  'tls/unexpected-eof': undefined,
}

/**
 * A remote peer broke TLS 1.3: a `ProtocolError('tls', code)` with the alert to send for it.
 * `peerAlert` is set on 'tls/alert-received' (the description the peer sent).
 */
export class TlsError extends ProtocolError<TlsErrorCode> {
  /** The RFC 8446 §6 AlertDescription this side sends for the fault, or undefined when none applies. */
  readonly alert: number | undefined
  /** The peer's AlertDescription, for 'tls/alert-received'. */
  readonly peerAlert: number | undefined

  constructor(code: TlsErrorCode, message?: string, options?: { cause?: unknown, peerAlert?: number }) {
    super('tls', code, message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.alert = ALERT_OF[code]
    this.peerAlert = options?.peerAlert
  }
}

export function tlsError(code: TlsErrorCode, message?: string, cause?: unknown): TlsError {
  return new TlsError(code, message, cause === undefined ? undefined : { cause })
}

/**
 * The alert to send for an exception out of the core: a TlsError's own; for any other
 * ProtocolError (the caller's verifyPeer rejecting the chain, e.g. the libp2p certificate codes)
 * its numeric `alert` field if it has one, else bad_certificate; internal_error for anything else.
 */
export function alertFor(e: unknown): number | undefined {
  if (e instanceof TlsError) return e.alert
  if (e instanceof ProtocolError) {
    const a = (e as { alert?: unknown }).alert
    return typeof a === 'number' && Number.isInteger(a) && a >= 0 && a <= 255 ? a : Alert.bad_certificate
  }
  return Alert.internal_error
}
