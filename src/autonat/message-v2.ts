/**
 * AutoNAT v2 messages (libp2p/specs autonat/autonat-v2.md, r2) and their framing.
 *
 *   /libp2p/autonat/2/dial-request:  Message { oneof msg { DialRequest dialRequest = 1; DialResponse dialResponse = 2;
 *                                              DialDataRequest dialDataRequest = 3; DialDataResponse dialDataResponse = 4 } }
 *   DialRequest      { repeated bytes addrs = 1; fixed64 nonce = 2 }
 *   DialDataRequest  { uint32 addrIdx = 1; uint64 numBytes = 2 }
 *   DialResponse     { ResponseStatus status = 1; uint32 addrIdx = 2; DialStatus dialStatus = 3 }
 *   DialDataResponse { bytes data = 1 }
 *   /libp2p/autonat/2/dial-back:     DialBack { fixed64 nonce = 1 }, answered by DialBackResponse { DialBackStatus status = 1 }
 *
 * proto3 without `optional`: a field holding its zero value is not written, and an absent field
 * reads as zero. A set oneof member is always written (an all-default DialResponse is `12 00`).
 * Every message is varint-length-prefixed on its stream. Addresses stay raw bytes here: the server
 * parses each one itself and skips those that do not parse (the spec lets it pick "the first address
 * it is willing to dial").
 */
import { WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, encodeMessage, tag } from '../core/protobuf.js'
import { encodeLp } from '../core/lp.js'
import { FrameDecoder, decodeWith, fail, once } from './wire.js'

/** Protocol id of the AutoNAT v2 dial-request stream (autonat-v2.md): the client asks, the server answers. */
export const DIAL_REQUEST_PROTOCOL = '/libp2p/autonat/2/dial-request'
/** Protocol id of the AutoNAT v2 dial-back stream: the server dials the address and sends the nonce. */
export const DIAL_BACK_PROTOCOL = '/libp2p/autonat/2/dial-back'

/** `DialResponse.ResponseStatus`, verbatim from the spec. */
export const ResponseStatus = { E_INTERNAL_ERROR: 0, E_REQUEST_REJECTED: 100, E_DIAL_REFUSED: 101, OK: 200 } as const
/** `DialStatus`, verbatim from the spec. */
export const DialStatus = { UNUSED: 0, E_DIAL_ERROR: 100, E_DIAL_BACK_ERROR: 101, OK: 200 } as const
/** `DialBackResponse.DialBackStatus`. */
export const DialBackStatus = { OK: 0 } as const

/** An AutoNAT v2 message on the dial-request stream: DialRequest, DialDataRequest, DialDataResponse, DialResponse. */
export type V2Message =
  | { type: 'dial-request'; addrs: Uint8Array[]; nonce: bigint }
  /** status / dialStatus: numbers (proto3 enums are open; a client discards values it does not know). */
  | { type: 'dial-response'; status: number; addrIdx: number; dialStatus: number }
  | { type: 'dial-data-request'; addrIdx: number; numBytes: bigint }
  | { type: 'dial-data-response'; data: Uint8Array }

/** Bounds of AutoNAT v2 messages decoded (spec/autonat.md "Limits"). */
export interface V2Limits {
  /**
   * Largest message body on a dial-request stream. Default 8192 (go's maxMsgSize). Stops a remote from
   * making us buffer and parse large messages; a DialDataResponse carries ≤ 4096 data bytes anyway.
   */
  maxMessageSize: number
  /** Most addresses in one DialRequest. Default 64. Stops a request making us parse hundreds of tiny addresses. */
  maxAddrs: number
  /** Largest address in bytes. Default 1024 (the multiaddr default). */
  maxAddrBytes: number
  /** Largest `data` in one DialDataResponse. Default 4096 (the spec's limit). Stops oversized chunks. */
  maxDataBytes: number
  /** Largest DialBack / DialBackResponse body. Default 1024 (go's dialBackMaxMsgSize). */
  maxDialBackSize: number
}

/** Default `V2Limits` (spec/autonat.md "Limits"). */
export const DEFAULT_V2_LIMITS: Readonly<V2Limits> = Object.freeze({
  maxMessageSize: 8192,
  maxAddrs: 64,
  maxAddrBytes: 1024,
  maxDataBytes: 4096,
  maxDialBackSize: 1024,
})

const MAX_UINT32 = 0xffff_ffff
const MAX_UINT64 = (1n << 64n) - 1n

function checkU32(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_UINT32) throw new RangeError(`${name} must be a uint32`)
}
function checkU64(v: bigint, name: string): void {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_UINT64) throw new RangeError(`${name} must be a bigint in [0, 2^64)`)
}
function checkEnum(v: number, name: string): void {
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new RangeError(`${name} must be an int32`)
}

/** The Message protobuf (no length prefix). Zero-valued fields are omitted (proto3). */
export function encodeV2Message(msg: V2Message): Uint8Array {
  return encodeMessage((w) => {
    switch (msg.type) {
      case 'dial-request':
        checkU64(msg.nonce, 'nonce')
        w.uint32(tag(1, WIRE_LEN)).fork()
        for (const a of msg.addrs) w.uint32(tag(1, WIRE_LEN)).bytes(a)
        if (msg.nonce !== 0n) w.uint32(tag(2, WIRE_FIXED64)).fixed64(msg.nonce)
        w.ldelim()
        return
      case 'dial-response':
        checkEnum(msg.status, 'status')
        checkU32(msg.addrIdx, 'addrIdx')
        checkEnum(msg.dialStatus, 'dialStatus')
        w.uint32(tag(2, WIRE_LEN)).fork()
        if (msg.status !== 0) w.uint32(tag(1, WIRE_VARINT)).int32(msg.status)
        if (msg.addrIdx !== 0) w.uint32(tag(2, WIRE_VARINT)).uint32(msg.addrIdx)
        if (msg.dialStatus !== 0) w.uint32(tag(3, WIRE_VARINT)).int32(msg.dialStatus)
        w.ldelim()
        return
      case 'dial-data-request':
        checkU32(msg.addrIdx, 'addrIdx')
        checkU64(msg.numBytes, 'numBytes')
        w.uint32(tag(3, WIRE_LEN)).fork()
        if (msg.addrIdx !== 0) w.uint32(tag(1, WIRE_VARINT)).uint32(msg.addrIdx)
        if (msg.numBytes !== 0n) w.uint32(tag(2, WIRE_VARINT)).uint64(msg.numBytes)
        w.ldelim()
        return
      case 'dial-data-response':
        w.uint32(tag(4, WIRE_LEN)).fork()
        if (msg.data.length > 0) w.uint32(tag(1, WIRE_LEN)).bytes(msg.data)
        w.ldelim()
        return
      default:
        throw new RangeError(`unknown AutoNAT v2 message ${(msg as { type: string }).type}`)
    }
  })
}

/** One message as written on a dial-request stream: varint length, then the protobuf. */
export function encodeV2Frame(msg: V2Message): Uint8Array {
  return encodeLp(encodeV2Message(msg))
}

function withLimits(limits: Partial<V2Limits>): V2Limits {
  return { ...DEFAULT_V2_LIMITS, ...limits }
}

/** Decode one Message body. Exactly one oneof member must be present. Throws ProtocolError('autonat', ...) only. */
export function decodeV2Message(bytes: Uint8Array, limits: Partial<V2Limits> = {}): V2Message {
  const l = withLimits(limits)
  let msg: V2Message | undefined
  decodeWith(bytes, l.maxMessageSize, 'Message', (field, r) => {
    if (field < 1 || field > 4) return r.skip()
    once(msg, 'Message.msg (oneof)')
    const body = r.bytes()
    if (field === 1) msg = decodeDialRequest(body, l)
    else if (field === 2) msg = decodeDialResponse(body, l)
    else if (field === 3) msg = decodeDialDataRequest(body, l)
    else msg = decodeDialDataResponse(body, l)
  })
  if (msg === undefined) throw fail('autonat/unknown-message', 'Message: no known oneof member')
  return msg
}

function decodeDialRequest(bytes: Uint8Array, l: V2Limits): V2Message {
  const addrs: Uint8Array[] = []
  let nonce: bigint | undefined
  decodeWith(bytes, l.maxMessageSize, 'DialRequest', (field, r) => {
    if (field === 1) {
      const a = r.bytes()
      if (addrs.length >= l.maxAddrs) throw fail('autonat/too-many-addrs', `DialRequest.addrs: more than ${l.maxAddrs}`)
      if (a.length > l.maxAddrBytes) throw fail('autonat/addr-too-long', `DialRequest.addrs: ${a.length} > ${l.maxAddrBytes} bytes`)
      addrs.push(a)
    } else if (field === 2) {
      once(nonce, 'DialRequest.nonce')
      nonce = r.fixed64()
    } else r.skip()
  })
  return { type: 'dial-request', addrs, nonce: nonce ?? 0n }
}

function decodeDialResponse(bytes: Uint8Array, l: V2Limits): V2Message {
  let status: number | undefined
  let addrIdx: number | undefined
  let dialStatus: number | undefined
  decodeWith(bytes, l.maxMessageSize, 'DialResponse', (field, r) => {
    if (field === 1) { once(status, 'DialResponse.status'); status = r.enum() }
    else if (field === 2) { once(addrIdx, 'DialResponse.addrIdx'); addrIdx = r.uint32() }
    else if (field === 3) { once(dialStatus, 'DialResponse.dialStatus'); dialStatus = r.enum() }
    else r.skip()
  })
  return { type: 'dial-response', status: status ?? 0, addrIdx: addrIdx ?? 0, dialStatus: dialStatus ?? 0 }
}

function decodeDialDataRequest(bytes: Uint8Array, l: V2Limits): V2Message {
  let addrIdx: number | undefined
  let numBytes: bigint | undefined
  decodeWith(bytes, l.maxMessageSize, 'DialDataRequest', (field, r) => {
    if (field === 1) { once(addrIdx, 'DialDataRequest.addrIdx'); addrIdx = r.uint32() }
    else if (field === 2) { once(numBytes, 'DialDataRequest.numBytes'); numBytes = r.uint64Big() }
    else r.skip()
  })
  return { type: 'dial-data-request', addrIdx: addrIdx ?? 0, numBytes: numBytes ?? 0n }
}

function decodeDialDataResponse(bytes: Uint8Array, l: V2Limits): V2Message {
  let data: Uint8Array | undefined
  decodeWith(bytes, l.maxMessageSize, 'DialDataResponse', (field, r) => {
    if (field === 1) {
      once(data, 'DialDataResponse.data')
      data = r.bytes()
      if (data.length > l.maxDataBytes) throw fail('autonat/data-too-large', `DialDataResponse.data: ${data.length} > ${l.maxDataBytes}`)
    } else r.skip()
  })
  return { type: 'dial-data-response', data: data ?? new Uint8Array(0) }
}

/** Reads Messages from a dial-request stream (either side). */
export function v2FrameDecoder(limits: Partial<V2Limits> = {}): FrameDecoder<V2Message> {
  const l = withLimits(limits)
  return new FrameDecoder(l.maxMessageSize, (body) => decodeV2Message(body, l))
}

// ---- dial-back ----------------------------------------------------------------------------------

/** Encode a `DialBack` message (the request's 64-bit nonce). Throws `RangeError` outside uint64. */
export function encodeDialBack(nonce: bigint): Uint8Array {
  checkU64(nonce, 'nonce')
  return encodeMessage((w) => {
    if (nonce !== 0n) w.uint32(tag(1, WIRE_FIXED64)).fixed64(nonce)
  })
}

/** Decode a `DialBack` message; throws `ProtocolError('autonat', code)` when malformed or without a nonce. */
export function decodeDialBack(bytes: Uint8Array, limits: Partial<V2Limits> = {}): { nonce: bigint } {
  const l = withLimits(limits)
  let nonce: bigint | undefined
  decodeWith(bytes, l.maxDialBackSize, 'DialBack', (field, r) => {
    if (field === 1) { once(nonce, 'DialBack.nonce'); nonce = r.fixed64() }
    else r.skip()
  })
  return { nonce: nonce ?? 0n }
}

/** Encode a `DialBackResponse` (status, default OK). */
export function encodeDialBackResponse(status: number = DialBackStatus.OK): Uint8Array {
  checkEnum(status, 'status')
  return encodeMessage((w) => {
    if (status !== 0) w.uint32(tag(1, WIRE_VARINT)).int32(status)
  })
}

/** Decode a `DialBackResponse`; throws `ProtocolError('autonat', code)` when malformed. */
export function decodeDialBackResponse(bytes: Uint8Array, limits: Partial<V2Limits> = {}): { status: number } {
  const l = withLimits(limits)
  let status: number | undefined
  decodeWith(bytes, l.maxDialBackSize, 'DialBackResponse', (field, r) => {
    if (field === 1) { once(status, 'DialBackResponse.status'); status = r.enum() }
    else r.skip()
  })
  return { status: status ?? 0 }
}

export function dialBackDecoder(limits: Partial<V2Limits> = {}): FrameDecoder<{ nonce: bigint }> {
  const l = withLimits(limits)
  return new FrameDecoder(l.maxDialBackSize, (body) => decodeDialBack(body, l))
}

export function dialBackResponseDecoder(limits: Partial<V2Limits> = {}): FrameDecoder<{ status: number }> {
  const l = withLimits(limits)
  return new FrameDecoder(l.maxDialBackSize, (body) => decodeDialBackResponse(body, l))
}
