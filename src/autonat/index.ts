/**
 * AutoNAT v1 (`/libp2p/autonat/1.0.0`) and v2 (`/libp2p/autonat/2/dial-request`, `/dial-back`):
 * codecs, the client and server behaviour, and the `autoNAT()` node service. See spec/autonat.md.
 *
 * @module weft/autonat
 */
export { autoNAT, AutoNAT } from './service.js'
export type { AutoNATEvents } from './service.js'
export { AutoNATBehaviour } from './behaviour.js'
export type { AutoNATOptions, AutoNATBehaviourInit } from './behaviour.js'
export { DEFAULT_CLIENT_OPTIONS, DEFAULT_SERVER_OPTIONS } from './types.js'
export type { AutoNATClientOptions, AutoNATServerOptions, AutoNATEvent, AutoNATStatus, AddrStatus, ProbeOutcome, ServedOutcome } from './types.js'
export type { Reachability, NodeReachability } from './tracker.js'
export {
  DIAL_REQUEST_PROTOCOL, DIAL_BACK_PROTOCOL, ResponseStatus, DialStatus, DialBackStatus, DEFAULT_V2_LIMITS,
  encodeV2Message, encodeV2Frame, decodeV2Message, v2FrameDecoder, encodeDialBack, decodeDialBack, encodeDialBackResponse, decodeDialBackResponse,
} from './message-v2.js'
export type { V2Message, V2Limits } from './message-v2.js'
export { AUTONAT_V1_PROTOCOL, V1Status, DEFAULT_V1_LIMITS, encodeV1Message, encodeV1Frame, decodeV1Message, v1FrameDecoder } from './message-v1.js'
export type { V1Message, V1Limits } from './message-v1.js'
export { FrameDecoder } from './wire.js'
export type { AutoNATErrorCode } from './wire.js'
