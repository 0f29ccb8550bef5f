/**
 * Circuit Relay v2 (libp2p/specs relay/circuit-v2.md "Wire format": HopMessage on
 * `/libp2p/circuit/relay/0.2.0/hop`, StopMessage on `/libp2p/circuit/relay/0.2.0/stop`) and DCUtR
 * `/libp2p/dcutr` (relay/DCUtR.md: HolePunch CONNECT and SYNC), each length-prefixed message decoded
 * by the module's own codec (src/relay/message.ts, src/dcutr/message.ts) within its default limits.
 *
 * A hop or stop stream becomes the relayed connection after the CONNECT / STATUS exchange: in each
 * direction, what follows a CONNECT or a STATUS OK is the relayed connection's bytes, counted
 * (`data`), not decoded here (weft traces the relayed connection as a connection of its own).
 */
import { nobleCrypto } from '../../core/index.js'
import type { DecodedMessage } from '../../core/trace.js'
import { decodeHolePunch, DEFAULT_DCUTR_MESSAGE_LIMITS, HolePunchType, type HolePunch } from '../../dcutr/index.js'
import {
  decodeHopMessage, decodeStopMessage, DEFAULT_RELAY_MESSAGE_LIMITS, HopType, openVoucher, Status, StopType,
  type HopMessage, type Limit, type Peer, type Reservation, type StopMessage,
} from '../../relay/index.js'
import { enumName } from './autonat.js'
import { addrText, FramedDecoder, hex, list, msg, num, reason, type Fields } from './common.js'

const peerView = (p: Peer): Fields => ({ id: p.id.toString(), ...(p.addrs.length > 0 ? { addrs: list(p.addrs, addrText) } : {}) })

const limitView = (l: Limit): Fields => ({
  ...(l.duration !== undefined ? { duration: l.duration } : {}),
  ...(l.data !== undefined ? { data: num(l.data) } : {}),
})

/** The voucher opened (signature checked): relay, peer, expiration; or why it did not open. */
function voucherView(b: Uint8Array): Fields {
  try {
    const { voucher } = openVoucher(b, nobleCrypto)
    return { relay: voucher.relay.toString(), peer: voucher.peer.toString(), expiration: num(voucher.expiration), verified: true }
  } catch (e) {
    return { verified: false, error: reason(e), hex: hex(b) }
  }
}

const reservationView = (r: Reservation): Fields => ({
  expire: num(r.expire),
  addrs: list(r.addrs, addrText),
  ...(r.voucher !== undefined ? { voucher: voucherView(r.voucher) } : {}),
})

function common(m: HopMessage | StopMessage): Fields {
  const f: Fields = {}
  if (m.status !== undefined) f.status = enumName(Status, m.status)
  if (m.peer !== undefined) f.peer = peerView(m.peer)
  if (m.limit !== undefined) f.limit = limitView(m.limit)
  return f
}

export function hopMessage(m: HopMessage): DecodedMessage {
  const f = common(m)
  if (m.reservation !== undefined) f.reservation = reservationView(m.reservation)
  return msg(String(enumName(HopType, m.type)), f)
}

export function stopMessage(m: StopMessage): DecodedMessage {
  return msg(String(enumName(StopType, m.type)), common(m))
}

/** What follows a CONNECT, or a STATUS OK, in the same direction is the relayed connection. */
const handsOver = (name: string, m: HopMessage | StopMessage): boolean => name === 'CONNECT' || (name === 'STATUS' && m.status === Status.OK)

export function hopDecoder(): FramedDecoder {
  return new FramedDecoder('relay', DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize, (body, out) => {
    const m = decodeHopMessage(body)
    const d = hopMessage(m)
    out.push(d)
    // a RESERVE's STATUS OK is followed by nothing: counting changes nothing there
    return handsOver(d.name, m)
  })
}

export function stopDecoder(): FramedDecoder {
  return new FramedDecoder('relay', DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize, (body, out) => {
    const m = decodeStopMessage(body)
    const d = stopMessage(m)
    out.push(d)
    return handsOver(d.name, m)
  })
}

export function holePunchMessage(m: HolePunch): DecodedMessage {
  return msg(String(enumName(HolePunchType, m.type)), { obsAddrs: list(m.obsAddrs, addrText) })
}

export function dcutrDecoder(): FramedDecoder {
  return new FramedDecoder('dcutr', DEFAULT_DCUTR_MESSAGE_LIMITS.maxMessageSize, (body, out) => {
    out.push(holePunchMessage(decodeHolePunch(body)))
  })
}
