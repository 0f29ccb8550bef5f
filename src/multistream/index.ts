/**
 * multistream-select 1.0: protocol negotiation on a fresh connection or stream.
 * Sans-IO cores for both roles; see spec/multistream.md.
 *
 * @module weft/multistream
 */
export { MultistreamDialer } from './dialer.js'
export type { DialerOptions } from './dialer.js'
export { MultistreamListener, DEFAULT_MAX_PROPOSALS } from './listener.js'
export type { ListenerOptions } from './listener.js'
export {
  PROTOCOL_ID, NA, LS, DEFAULT_MAX_MESSAGE_LENGTH, MAX_PROTOCOL_ID_BYTES, encodeMessage, encodeLsBody, decodeLsBody,
} from './wire.js'
export type { MultistreamEvent, MultistreamErrorCode } from './wire.js'
