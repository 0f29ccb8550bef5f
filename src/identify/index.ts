/**
 * Identify `/ipfs/id/1.0.0` and identify/push `/ipfs/id/push/1.0.0`. See spec/identify.md.
 *
 * @module weft/identify
 */
export { IdentifyBehaviour, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, DEFAULT_PROTOCOL_VERSION } from './identify.js'
export type { IdentifyEvent, IdentifyInfo, IdentifyOptions } from './identify.js'
export {
  encodeIdentify,
  encodeIdentifyFrame,
  decodeIdentify,
  decodeIdentifyStream,
  DEFAULT_IDENTIFY_LIMITS,
} from './message.js'
export type { IdentifyMessage, IdentifyLimits, IdentifyErrorCode, IdentifyOutcomeCode } from './message.js'
