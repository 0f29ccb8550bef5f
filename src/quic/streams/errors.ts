/**
 * The stream layer's peer-violation errors: src/quic/errors.ts's `QuicProtocolError`, a
 * `ProtocolError('quic', name)` whose code is the RFC 9000 §20.1 name (FLOW_CONTROL_ERROR,
 * STREAM_STATE_ERROR, ...) and whose `transportCode` is its number, the value the connection core
 * puts in its CONNECTION_CLOSE frame, with the type of the frame that caused it.
 */
import { QuicProtocolError } from '../errors.js'

/** The transport error names the stream layer raises. */
export type StreamTransportError =
  | 'FLOW_CONTROL_ERROR'
  | 'STREAM_LIMIT_ERROR'
  | 'STREAM_STATE_ERROR'
  | 'FINAL_SIZE_ERROR'
  | 'FRAME_ENCODING_ERROR'
  | 'TRANSPORT_PARAMETER_ERROR'
  | 'PROTOCOL_VIOLATION'

/** Build the error a peer's violation raises (the connection closes with its `transportCode`). */
export function transportError(name: StreamTransportError, message: string, frameType = 0): QuicProtocolError {
  return new QuicProtocolError(name, message, frameType)
}
