/**
 * The shapes shared by QUIC's pieces (RFC 9000): the packet layer's frame codec (frames.ts) decodes
 * into these objects and encodes them; the stream layer (streams/) and loss recovery (recovery/)
 * consume and produce them; the connection core ties them together. Integers that the wire carries
 * as 62-bit varints are JavaScript numbers: every value weft accepts is bounded far below 2^53 by a
 * limit (stream counts, flow-control windows, packet numbers of one connection), and the codec
 * refuses larger identifiers, offsets, packet numbers and error codes with a FRAME_ENCODING_ERROR
 * rather than rounding them. Fields that are limits (MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS and their
 * BLOCKED counterparts, ACK Delay) are capped at 2^53 − 1 instead: peers such as quinn advertise
 * 2^62 − 1 to mean "unlimited", and a cap no connection reaches keeps that meaning.
 */

/** The three packet number spaces (RFC 9000 §12.3). 0-RTT and 1-RTT packets share 'application'. */
export type PacketNumberSpace = 'initial' | 'handshake' | 'application'

/** One contiguous run of acknowledged packet numbers, both ends included. */
export interface AckRange {
  readonly smallest: number
  readonly largest: number
}

/** ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2). */
export interface EcnCounts {
  readonly ect0: number
  readonly ect1: number
  readonly ce: number
}

/**
 * Every frame of RFC 9000 §19 (QUIC v1; no extension frames: an unknown type is a
 * FRAME_ENCODING_ERROR). Field names follow the RFC's frame layouts.
 */
export type Frame =
  | { readonly type: 'padding', readonly length: number } // consecutive PADDING bytes, merged
  | { readonly type: 'ping' }
  /** `ranges` descending by packet number, the first one holding `largest`; `ackDelay` is the raw field (scale by 2^ack_delay_exponent µs). */
  | { readonly type: 'ack', readonly ackDelay: number, readonly ranges: readonly AckRange[], readonly ecn?: EcnCounts }
  | { readonly type: 'reset_stream', readonly streamId: number, readonly errorCode: number, readonly finalSize: number }
  | { readonly type: 'stop_sending', readonly streamId: number, readonly errorCode: number }
  | { readonly type: 'crypto', readonly offset: number, readonly data: Uint8Array }
  | { readonly type: 'new_token', readonly token: Uint8Array }
  | StreamFrame
  | { readonly type: 'max_data', readonly maximumData: number }
  | { readonly type: 'max_stream_data', readonly streamId: number, readonly maximumStreamData: number }
  | { readonly type: 'max_streams', readonly bidirectional: boolean, readonly maximumStreams: number }
  | { readonly type: 'data_blocked', readonly maximumData: number }
  | { readonly type: 'stream_data_blocked', readonly streamId: number, readonly maximumStreamData: number }
  | { readonly type: 'streams_blocked', readonly bidirectional: boolean, readonly maximumStreams: number }
  | { readonly type: 'new_connection_id', readonly sequenceNumber: number, readonly retirePriorTo: number, readonly connectionId: Uint8Array, readonly statelessResetToken: Uint8Array }
  | { readonly type: 'retire_connection_id', readonly sequenceNumber: number }
  | { readonly type: 'path_challenge', readonly data: Uint8Array } // 8 bytes
  | { readonly type: 'path_response', readonly data: Uint8Array } // 8 bytes
  /** `frameType` is present for the transport variant (0x1c), absent for the application variant (0x1d). */
  | { readonly type: 'connection_close', readonly errorCode: number, readonly frameType?: number, readonly reason: Uint8Array }
  | { readonly type: 'handshake_done' }

/** A STREAM frame (types 0x08–0x0f): `data` starts at `offset`; `fin` marks the stream's final size. */
export interface StreamFrame {
  readonly type: 'stream'
  readonly streamId: number
  readonly offset: number
  readonly data: Uint8Array
  readonly fin: boolean
}

export type FrameType = Frame['type']

/** Transport error codes (RFC 9000 §20.1), the codes of a ProtocolError('quic', ...) a remote caused. */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** CRYPTO_ERROR is 0x0100 + the TLS alert (RFC 9001 §4.8). */
  CRYPTO_ERROR_BASE: 0x0100,
} as const
