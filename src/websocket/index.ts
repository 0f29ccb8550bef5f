/** RFC 6455 WebSocket, sans IO: framing, masking, the open connection's control frames, the opening handshake (spec/websocket.md). */
export { FrameDecoder, OPCODE, MAX_CONTROL_PAYLOAD, MAX_HEADER_BYTES, closeCodeOf, encodeFrame, frameHeaderLength, mask, validCloseCode, writeFrameHeader, wsError } from './frame.js'
export type { ControlFrame, DecoderOptions, FrameHeader, Opcode, WebSocketErrorCode } from './frame.js'
export { DEFAULT_MAX_FRAME_BYTES, WebSocketEndpoint } from './endpoint.js'
export type { EndpointOptions } from './endpoint.js'
export {
  DEFAULT_MAX_HEADER_BYTES, HttpHeadReader, WEBSOCKET_GUID, acceptKey, checkClientRequest, checkServerResponse, clientRequest,
  refusalResponse, serverResponse, websocketKey,
} from './handshake.js'
export type { HttpHead, RequestCheck, Sha1 } from './handshake.js'
