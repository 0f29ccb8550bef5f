/**
 * Circuit Relay v2 (`/libp2p/circuit/relay/0.2.0/hop` and `/stop`): the wire format, its framing and
 * the reservation voucher. The hop and stop state machines are not built yet. See spec/relay.md.
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
