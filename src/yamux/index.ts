/**
 * yamux: the stream multiplexer of libp2p (`/yamux/1.0.0`, hashicorp/yamux spec.md), as a sans-IO
 * session core. See spec/yamux.md.
 *
 * @module weft/yamux
 */

/** The multistream-select protocol id of yamux. */
export const YAMUX_PROTOCOL_ID = '/yamux/1.0.0'
export { YamuxSession } from './session.js'
export type { YamuxEvent, YamuxErrorCode, StreamStats } from './types.js'
export type { YamuxOptions } from './options.js'
export { DEFAULTS as YAMUX_DEFAULTS, CONTROL_QUEUE_LIMIT } from './options.js'
export type { StreamId, StreamStateName } from './stream.js'
export {
  Flag,
  FrameType,
  GoAwayCode,
  HEADER_LENGTH,
  INITIAL_STREAM_WINDOW,
  encodeFrame,
  readHeader,
  flagNames,
} from './frame.js'
export type { FrameHeader } from './frame.js'
/** The receive side's framing (headers and payload pieces across any split), also used by src/trace. */
export { FrameReader } from './receive.js'
