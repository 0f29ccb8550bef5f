/**
 * AutoNAT v1 messages (libp2p/specs autonat/autonat-v1.md, r1), protocol `/libp2p/autonat/1.0.0`.
 *
 *   Message      { optional MessageType type = 1 (DIAL 0, DIAL_RESPONSE 1); optional Dial dial = 2;
 *                  optional DialResponse dialResponse = 3 }
 *   Dial         { optional PeerInfo peer = 1 }
 *   PeerInfo     { optional bytes id = 1; repeated bytes addrs = 2 }
 *   DialResponse { optional ResponseStatus status = 1; optional string statusText = 2; optional bytes addr = 3 }
 *   ResponseStatus { OK 0, E_DIAL_ERROR 100, E_DIAL_REFUSED 101, E_BAD_REQUEST 200, E_INTERNAL_ERROR 300 }
 *
 * proto2: a set field is written even when it holds its zero value (`type = DIAL` is `08 00`). One
 * request and one response per stream, each varint-length-prefixed. We require `type`, `dial.peer`
 * in a DIAL and `status` in a DIAL_RESPONSE (see spec/autonat.md, Divergences). Addresses in a
 * Dial stay raw bytes (the server parses and filters them); `addr` in a response is parsed.
 */
import { WIRE_LEN, WIRE_VARINT, encodeMessage, tag } from '../core/protobuf.js'
import { encodeLp } from '../core/lp.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { FrameDecoder, decodeWith, fail, once } from './wire.js'

/** Protocol id of AutoNAT v1 (autonat-v1.md). */
export const AUTONAT_V1_PROTOCOL = '/libp2p/autonat/1.0.0'

/** The `Message.ResponseStatus` enum of AutoNAT v1. */
export const V1Status = { OK: 0, E_DIAL_ERROR: 100, E_DIAL_REFUSED: 101, E_BAD_REQUEST: 200, E_INTERNAL_ERROR: 300 } as const

/**
 * An AutoNAT v1 message: a DIAL request (our peer id and addresses) or a DIAL_RESPONSE (status, text, the address dialed).
 */
export type V1Message =
  | { type: 'dial'; peer: { id: PeerId; addrs: Uint8Array[] } }
  /** status: a number (values outside the enum are kept; the client treats them as no answer). */
  | { type: 'dial-response'; status: number; statusText?: string; addr?: Multiaddr }

/** Bounds of AutoNAT v1 messages decoded (spec/autonat.md "Limits"). */
export interface V1Limits {
  /** Largest message body. Default 4096 (go's maxMsgSize). Stops a remote making us buffer and parse large messages. */
  maxMessageSize: number
  /** Most addresses in one Dial. Default 64 (the server dials at most `maxDialAddrs` of them). */
  maxAddrs: number
  /** Largest address in bytes. Default 1024. */
  maxAddrBytes: number
}

/** Default `V1Limits`: 4 KiB messages, 64 addresses of at most 1 KiB. */
export const DEFAULT_V1_LIMITS: Readonly<V1Limits> = Object.freeze({ maxMessageSize: 4096, maxAddrs: 64, maxAddrBytes: 1024 })

const TYPE_DIAL = 0
const TYPE_DIAL_RESPONSE = 1

/** The Message protobuf (no length prefix). */
export function encodeV1Message(msg: V1Message): Uint8Array {
  return encodeMessage((w) => {
    if (msg.type === 'dial') {
      w.uint32(tag(1, WIRE_VARINT)).uint32(TYPE_DIAL)
      w.uint32(tag(2, WIRE_LEN)).fork()
      w.uint32(tag(1, WIRE_LEN)).fork()
      w.uint32(tag(1, WIRE_LEN)).bytes(msg.peer.id.multihash)
      for (const a of msg.peer.addrs) w.uint32(tag(2, WIRE_LEN)).bytes(a)
      w.ldelim()
      w.ldelim()
      return
    }
    if (msg.type !== 'dial-response') throw new RangeError(`unknown AutoNAT v1 message ${(msg as { type: string }).type}`)
    if (!Number.isInteger(msg.status) || msg.status < -(2 ** 31) || msg.status >= 2 ** 31) throw new RangeError('status must be an int32')
    w.uint32(tag(1, WIRE_VARINT)).uint32(TYPE_DIAL_RESPONSE)
    w.uint32(tag(3, WIRE_LEN)).fork()
    w.uint32(tag(1, WIRE_VARINT)).int32(msg.status)
    if (msg.statusText !== undefined) w.uint32(tag(2, WIRE_LEN)).string(msg.statusText)
    if (msg.addr !== undefined) w.uint32(tag(3, WIRE_LEN)).bytes(msg.addr.bytes)
    w.ldelim()
  })
}

/** Encode an AutoNAT v1 message with its varint length prefix. */
export function encodeV1Frame(msg: V1Message): Uint8Array {
  return encodeLp(encodeV1Message(msg))
}

function withLimits(limits: Partial<V1Limits>): V1Limits {
  return { ...DEFAULT_V1_LIMITS, ...limits }
}

/** Decode one Message body. Throws ProtocolError('autonat', ...) only. */
export function decodeV1Message(bytes: Uint8Array, limits: Partial<V1Limits> = {}): V1Message {
  const l = withLimits(limits)
  let type: number | undefined
  let dial: Uint8Array | undefined
  let response: Uint8Array | undefined
  decodeWith(bytes, l.maxMessageSize, 'Message', (field, r) => {
    if (field === 1) { once(type, 'Message.type'); type = r.enum() }
    else if (field === 2) { once(dial, 'Message.dial'); dial = r.bytes() }
    else if (field === 3) { once(response, 'Message.dialResponse'); response = r.bytes() }
    else r.skip()
  })
  if (type === undefined) throw fail('autonat/missing-field', 'Message.type')
  if (type === TYPE_DIAL) {
    if (dial === undefined) throw fail('autonat/missing-field', 'Message.dial in DIAL')
    return { type: 'dial', peer: decodeDial(dial, l) }
  }
  if (type === TYPE_DIAL_RESPONSE) {
    if (response === undefined) throw fail('autonat/missing-field', 'Message.dialResponse in DIAL_RESPONSE')
    return decodeDialResponse(response, l)
  }
  throw fail('autonat/unknown-message', `Message.type ${type}`)
}

function decodeDial(bytes: Uint8Array, l: V1Limits): { id: PeerId; addrs: Uint8Array[] } {
  let peer: Uint8Array | undefined
  decodeWith(bytes, l.maxMessageSize, 'Dial', (field, r) => {
    if (field === 1) { once(peer, 'Dial.peer'); peer = r.bytes() }
    else r.skip()
  })
  if (peer === undefined) throw fail('autonat/missing-field', 'Dial.peer')
  let id: Uint8Array | undefined
  const addrs: Uint8Array[] = []
  decodeWith(peer, l.maxMessageSize, 'PeerInfo', (field, r) => {
    if (field === 1) { once(id, 'PeerInfo.id'); id = r.bytes() }
    else if (field === 2) {
      const a = r.bytes()
      if (addrs.length >= l.maxAddrs) throw fail('autonat/too-many-addrs', `PeerInfo.addrs: more than ${l.maxAddrs}`)
      if (a.length > l.maxAddrBytes) throw fail('autonat/addr-too-long', `PeerInfo.addrs: ${a.length} > ${l.maxAddrBytes} bytes`)
      addrs.push(a)
    } else r.skip()
  })
  if (id === undefined) throw fail('autonat/missing-field', 'PeerInfo.id')
  try {
    return { id: PeerId.fromMultihash(id), addrs }
  } catch (e) {
    throw fail('autonat/invalid-peer-id', e instanceof Error ? e.message : String(e), e)
  }
}

function decodeDialResponse(bytes: Uint8Array, l: V1Limits): V1Message {
  let status: number | undefined
  let statusText: string | undefined
  let addr: Uint8Array | undefined
  decodeWith(bytes, l.maxMessageSize, 'DialResponse', (field, r) => {
    if (field === 1) { once(status, 'DialResponse.status'); status = r.enum() }
    else if (field === 2) { once(statusText, 'DialResponse.statusText'); statusText = r.string() }
    else if (field === 3) { once(addr, 'DialResponse.addr'); addr = r.bytes() }
    else r.skip()
  })
  if (status === undefined) throw fail('autonat/missing-field', 'DialResponse.status')
  const msg: V1Message = { type: 'dial-response', status }
  if (statusText !== undefined) msg.statusText = statusText
  if (addr !== undefined) {
    if (addr.length > l.maxAddrBytes) throw fail('autonat/addr-too-long', `DialResponse.addr: ${addr.length} > ${l.maxAddrBytes} bytes`)
    try {
      msg.addr = Multiaddr.fromBytes(addr, { maxBytes: Math.max(1, l.maxAddrBytes) })
    } catch (e) {
      throw fail('autonat/invalid-multiaddr', e instanceof Error ? e.message : String(e), e)
    }
  }
  return msg
}

/**
 * A streaming decoder of length-prefixed AutoNAT v1 messages; throws `ProtocolError('autonat', code)` for an oversized or malformed one.
 */
export function v1FrameDecoder(limits: Partial<V1Limits> = {}): FrameDecoder<V1Message> {
  const l = withLimits(limits)
  return new FrameDecoder(l.maxMessageSize, (body) => decodeV1Message(body, l))
}
