/**
 * Generic request-response (rust-libp2p's stream format, or uvarint length-prefixed) with json, cbor and raw codecs. See spec/request-response.md.
 *
 * @module weft/request-response
 */
export {
  RequestResponseBehaviour,
  DEFAULT_MAX_REQUEST_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_REQUEST_TIMEOUT,
  DEFAULT_MAX_CONCURRENT_STREAMS,
} from './behaviour.js'
export type { ProtocolSpec, ProtocolSupport, RequestResponseEvent, RequestResponseOptions, RequestResponseLimits, ReqRespOutcomeCode, ReqRespProtocolCode } from './behaviour.js'
export { json, cbor, raw, lengthPrefixed } from './codec.js'
export { MessageReader, frame } from './framing.js'
export type { Framing, PushResult } from './framing.js'
export type { Codec } from './codec.js'
export { RequestResponse, requestResponse, noResponse } from './service-api.js'
export type { Handler, HandlerContext, RequestOptions, RequestResponseEvents, RequestResponseServiceOptions } from './service-api.js'
