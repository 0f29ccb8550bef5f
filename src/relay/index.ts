/**
 * Circuit Relay v2 (`/libp2p/circuit/relay/0.2.0/hop` and `/stop`): the wire format, its framing,
 * the reservation voucher, and the relay server (`circuitRelayServer()`). See spec/relay.md.
 *
 * @module weft/relay
 */
export {
  HOP_PROTOCOL,
  STOP_PROTOCOL,
  HopType,
  StopType,
  Status,
  statusName,
  DEFAULT_RELAY_MESSAGE_LIMITS,
  encodeHopMessage,
  encodeStopMessage,
  encodeHopFrame,
  encodeStopFrame,
  decodeHopMessage,
  decodeStopMessage,
  RelayFrameDecoder,
} from './message.js'
export type { HopMessage, StopMessage, Peer, Reservation, Limit, StatusName, RelayErrorCode, RelayMessageLimits } from './message.js'
export { VOUCHER_DOMAIN, VOUCHER_PAYLOAD_TYPE, encodeVoucher, decodeVoucher, sealVoucher, openVoucher } from './voucher.js'
export type { Voucher, OpenVoucherOptions } from './voucher.js'
export { circuitRelayClient, DEFAULT_STOP_TIMEOUT } from './client-api.js'
export type { CircuitRelayClientOptions, RelayClient } from './client-api.js'
export { RelayClientBehaviour, RelayStatusError, DEFAULT_RELAY_CLIENT_LIMITS } from './client.js'
export type { RelayReservation, RelayReservationEvent, RelayClientLimits, RelayClientEvent } from './client.js'
export { CircuitTransport } from './transport-api.js'
export { CircuitRelayServer, RESERVATION_TAG, RESERVATION_TAG_VALUE, HOP_TAG, HOP_TAG_VALUE } from './server.js'
export type { RelayServerInit } from './server.js'
export { circuitRelayServer, RELAY_SERVER_NAME } from './server-api.js'
export type { RelayServer, RelayServerEvent } from './server-api.js'
export { DEFAULT_RELAY_SERVER_OPTIONS, resolveRelayServerOptions } from './server-limits.js'
export type { RelayServerOptions, RelayRateLimit } from './server-limits.js'
export type { CircuitEndReason } from './server-circuit.js'
