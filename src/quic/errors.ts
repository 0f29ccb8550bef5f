/**
 * The one exception remote QUIC input may cause: a ProtocolError('quic', <RFC 9000 §20.1 name>)
 * carrying the transport error code for the CONNECTION_CLOSE frame the connection will send, and the
 * frame type that caused it when there is one (CONNECTION_CLOSE's Frame Type field, §19.19).
 * QUIC's codes are the RFC's own names (`FRAME_ENCODING_ERROR`, `PROTOCOL_VIOLATION`, ...) so that a
 * code read in a log is the code on the wire; spec/quic.md lists where each is raised.
 */
import { ProtocolError } from '../core/errors.js'
import { TransportErrorCode } from './types.js'

/** The names of RFC 9000 §20.1's transport errors (CRYPTO_ERROR is CRYPTO_ERROR_BASE + alert). */
export type TransportErrorName = Exclude<keyof typeof TransportErrorCode, 'CRYPTO_ERROR_BASE'>

/** A remote broke QUIC: `code` is the RFC 9000 §20.1 name, `transportCode` its number. */
export class QuicProtocolError extends ProtocolError<TransportErrorName> {
  /** The error code of the transport CONNECTION_CLOSE (0x1c) frame this error closes the connection with. */
  readonly transportCode: number
  /** The type of the frame that triggered the error, when a frame did (0 otherwise, as §19.19 says). */
  readonly frameType: number

  constructor(code: TransportErrorName, message?: string, frameType = 0) {
    super('quic', code, message)
    this.transportCode = TransportErrorCode[code]
    this.frameType = frameType
  }
}

/** Shorthand used by the QUIC codecs. */
export function quicError(code: TransportErrorName, message?: string, frameType = 0): QuicProtocolError {
  return new QuicProtocolError(code, message, frameType)
}
