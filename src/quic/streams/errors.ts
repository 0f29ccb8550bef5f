/**
 * The stream layer's peer-violation errors: a `ProtocolError('quic', name)` whose code is the RFC 9000
 * §20.1 name of the transport error (FLOW_CONTROL_ERROR, STREAM_STATE_ERROR, ...) and whose
 * `transportCode` is its number, the value the connection core puts in its CONNECTION_CLOSE frame.
 */
import { ProtocolError } from '../../core/errors.js'
import { TransportErrorCode } from '../types.js'

/** The transport error names the stream layer raises. */
export type StreamTransportError =
  | 'FLOW_CONTROL_ERROR'
  | 'STREAM_LIMIT_ERROR'
  | 'STREAM_STATE_ERROR'
  | 'FINAL_SIZE_ERROR'
  | 'FRAME_ENCODING_ERROR'
  | 'TRANSPORT_PARAMETER_ERROR'
  | 'PROTOCOL_VIOLATION'

/** A ProtocolError('quic', <RFC 9000 §20.1 name>) carrying the error's number for CONNECTION_CLOSE. */
export type QuicTransportError = ProtocolError<StreamTransportError> & { readonly transportCode: number }

/** Build the error a peer's violation raises (the connection closes with `transportCode`). */
export function transportError(name: StreamTransportError, message: string): QuicTransportError {
  const e = new ProtocolError('quic', name, message) as ProtocolError<StreamTransportError> & { transportCode: number }
  e.transportCode = TransportErrorCode[name]
  return e
}
