/**
 * Circuit Relay v2 messages (libp2p/specs relay/circuit-v2.md) and their framing on a stream.
 *
 *   HopMessage  { type = 1 (RESERVE 0, CONNECT 1, STATUS 2); peer = 2; reservation = 3; limit = 4; status = 5 }
 *   StopMessage { type = 1 (CONNECT 0, STATUS 1); peer = 2; limit = 3; status = 4 }
 *   Peer        { id = 1 bytes; addrs = 2 repeated bytes }
 *   Reservation { expire = 1 uint64; addrs = 2 repeated bytes; voucher = 3 bytes }
 *   Limit       { duration = 1 uint32; data = 2 uint64 }
 *
 * Every singular field is proto3 `optional` (explicit presence): a field that is set is written even
 * when it holds its zero value, so RESERVE is `08 00`, not the empty message. On a stream each message
 * is varint-length-prefixed (src/core/lp.ts). This module only encodes and checks messages; what a
 * hop or stop endpoint does with them is not here (see spec/relay.md "State machine").
 *
 * Decoding remote bytes throws `ProtocolError('relay', 'relay/...')` only, whatever went wrong.
 * Peer ids become `PeerId`, addresses `Multiaddr`; `bytes` fields never alias the input.
 */
import { ProtocolError } from '../core/errors.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import type { FieldReader, Writer } from '../core/protobuf.js'
import { MessageFrameDecoder, encodeLp } from '../core/lp.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'

/** Protocol id of the Circuit Relay v2 hop protocol (client ↔ relay: RESERVE, CONNECT). */
export const HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'
/** Protocol id of the Circuit Relay v2 stop protocol (relay → target: CONNECT). */
export const STOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/stop'

/** `HopMessage.Type`, verbatim from the spec. */
export const HopType = { RESERVE: 0, CONNECT: 1, STATUS: 2 } as const
export type HopType = (typeof HopType)[keyof typeof HopType]
/** `StopMessage.Type`, verbatim from the spec. */
export const StopType = { CONNECT: 0, STATUS: 1 } as const
export type StopType = (typeof StopType)[keyof typeof StopType]

/** The `Status` enum, verbatim from the spec. */
export const Status = {
  UNUSED: 0,
  OK: 100,
  RESERVATION_REFUSED: 200,
  RESOURCE_LIMIT_EXCEEDED: 201,
  PERMISSION_DENIED: 202,
  CONNECTION_FAILED: 203,
  NO_RESERVATION: 204,
  MALFORMED_MESSAGE: 400,
  UNEXPECTED_MESSAGE: 401,
} as const
/** The name of a Circuit Relay v2 `Status` (circuit-v2.md "Protobuf"), e.g. `RESERVATION_REFUSED`. */
export type StatusName = keyof typeof Status

/** The name of a status code, or undefined for a value the spec does not define (kept: proto3 enums are open). */
export function statusName(code: number): StatusName | undefined {
  for (const [name, value] of Object.entries(Status)) if (value === code) return name as StatusName
  return undefined
}

/**
 * The `ProtocolError('relay', code)` codes: a message over the limit, malformed, unexpected type or status, a bad voucher.
 */
export type RelayErrorCode =
  | 'relay/message-too-large'
  | 'relay/malformed'
  | 'relay/missing-field'
  | 'relay/unknown-type'
  | 'relay/invalid-peer-id'
  | 'relay/invalid-multiaddr'
  | 'relay/too-many-addrs'
  | 'relay/addr-too-long'
  | 'relay/voucher-wrong-payload-type'
  | 'relay/voucher-malformed'
  | 'relay/voucher-signer-mismatch'
  | 'relay/voucher-relay-mismatch'
  | 'relay/voucher-peer-mismatch'
  | 'relay/voucher-invalid-signature'

/** The circuit-v2 `Peer`: id and addresses. */
export interface Peer {
  id: PeerId
  /** Only for "active relay", which the spec deprecates: a relay must not dial these. */
  addrs: Multiaddr[]
}

/** The circuit-v2 `Reservation`: expiry (UTC seconds), the relay's addresses, and the signed voucher. */
export interface Reservation {
  /** Expiration, UTC UNIX seconds (uint64). */
  expire: bigint
  /** The relay's public addresses, with `/p2p/<relay>` and without `/p2p-circuit`. */
  addrs: Multiaddr[]
  /** A signed envelope (see voucher.ts); advisory. */
  voucher?: Uint8Array
}

/** Limits of a relayed connection; an absent field or 0 means no limit. */
export interface Limit {
  /** Seconds (uint32). */
  duration?: number
  /** Bytes in each direction (uint64). */
  data?: bigint
}

/** A `HopMessage` (circuit-v2.md "Hop Protocol", `/libp2p/circuit/relay/0.2.0/hop`): RESERVE, CONNECT or STATUS. */
export interface HopMessage {
  type: HopType
  peer?: Peer
  reservation?: Reservation
  limit?: Limit
  /** A Status code; values outside the spec's enum are kept as numbers. */
  status?: number
}

/** A `StopMessage` (circuit-v2.md "Stop Protocol", `/libp2p/circuit/relay/0.2.0/stop`): CONNECT or STATUS. */
export interface StopMessage {
  type: StopType
  peer?: Peer
  limit?: Limit
  status?: number
}

/** Bounds of relay messages decoded (spec/relay.md "Limits"). */
export interface RelayMessageLimits {
  /**
   * Largest message body (after the length prefix). Default 4096, as go and rust. Stops a remote
   * from making us buffer and parse large messages on a hop or stop stream.
   */
  maxMessageSize: number
  /**
   * Most addresses in one Peer or Reservation. Default 64. Stops a relay (or initiator) from
   * flooding the client with hundreds of tiny addresses to parse, store and advertise.
   */
  maxAddrs: number
  /** Largest single address in bytes. Default 1024 (the multiaddr default). Stops one huge "address" kept and re-advertised. */
  maxAddrBytes: number
}

/** Default `RelayMessageLimits`: 4 KiB messages, 64 addresses of at most 1 KiB. */
export const DEFAULT_RELAY_MESSAGE_LIMITS: Readonly<RelayMessageLimits> = Object.freeze({
  maxMessageSize: 4096,
  maxAddrs: 64,
  maxAddrBytes: 1024,
})

const PROTOCOL = 'relay'
const MAX_UINT32 = 0xffff_ffff
const MAX_UINT64 = (1n << 64n) - 1n

const fail = (code: RelayErrorCode, message?: string, cause?: unknown): ProtocolError<RelayErrorCode> =>
  new ProtocolError<RelayErrorCode>(PROTOCOL, code, message, cause === undefined ? undefined : { cause })

// ---- encoding -----------------------------------------------------------------------------------

function checkUint64(v: bigint, name: string): void {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_UINT64) throw new RangeError(`${name} must be a bigint in [0, 2^64)`)
}

function writePeer(w: Writer, field: number, peer: Peer): void {
  w.uint32(tag(field, WIRE_LEN)).fork()
  w.uint32(tag(1, WIRE_LEN)).bytes(peer.id.multihash)
  for (const a of peer.addrs) w.uint32(tag(2, WIRE_LEN)).bytes(a.bytes)
  w.ldelim()
}

function writeLimit(w: Writer, field: number, limit: Limit): void {
  w.uint32(tag(field, WIRE_LEN)).fork()
  if (limit.duration !== undefined) {
    if (!Number.isInteger(limit.duration) || limit.duration < 0 || limit.duration > MAX_UINT32) throw new RangeError('limit.duration must be a uint32')
    w.uint32(tag(1, WIRE_VARINT)).uint32(limit.duration)
  }
  if (limit.data !== undefined) {
    checkUint64(limit.data, 'limit.data')
    w.uint32(tag(2, WIRE_VARINT)).uint64(limit.data)
  }
  w.ldelim()
}

function writeReservation(w: Writer, field: number, r: Reservation): void {
  checkUint64(r.expire, 'reservation.expire')
  w.uint32(tag(field, WIRE_LEN)).fork()
  w.uint32(tag(1, WIRE_VARINT)).uint64(r.expire)
  for (const a of r.addrs) w.uint32(tag(2, WIRE_LEN)).bytes(a.bytes)
  if (r.voucher !== undefined) w.uint32(tag(3, WIRE_LEN)).bytes(r.voucher)
  w.ldelim()
}

function writeStatus(w: Writer, field: number, status: number): void {
  if (!Number.isInteger(status) || status < -(2 ** 31) || status >= 2 ** 31) throw new RangeError('status must be an int32')
  w.uint32(tag(field, WIRE_VARINT)).int32(status)
}

/** The HopMessage protobuf (no length prefix), fields in field-number order. */
export function encodeHopMessage(msg: HopMessage): Uint8Array {
  if (!Object.values(HopType).includes(msg.type)) throw new RangeError(`unknown HopMessage type ${msg.type}`)
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_VARINT)).uint32(msg.type)
    if (msg.peer !== undefined) writePeer(w, 2, msg.peer)
    if (msg.reservation !== undefined) writeReservation(w, 3, msg.reservation)
    if (msg.limit !== undefined) writeLimit(w, 4, msg.limit)
    if (msg.status !== undefined) writeStatus(w, 5, msg.status)
  })
}

/** The StopMessage protobuf (no length prefix), fields in field-number order. */
export function encodeStopMessage(msg: StopMessage): Uint8Array {
  if (!Object.values(StopType).includes(msg.type)) throw new RangeError(`unknown StopMessage type ${msg.type}`)
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_VARINT)).uint32(msg.type)
    if (msg.peer !== undefined) writePeer(w, 2, msg.peer)
    if (msg.limit !== undefined) writeLimit(w, 3, msg.limit)
    if (msg.status !== undefined) writeStatus(w, 4, msg.status)
  })
}

/** A HopMessage as written on a hop stream: varint length, then the protobuf. */
export function encodeHopFrame(msg: HopMessage): Uint8Array {
  return encodeLp(encodeHopMessage(msg))
}

/** A StopMessage as written on a stop stream: varint length, then the protobuf. */
export function encodeStopFrame(msg: StopMessage): Uint8Array {
  return encodeLp(encodeStopMessage(msg))
}

// ---- decoding -----------------------------------------------------------------------------------

/** Decode with relay limits; every failure becomes a ProtocolError('relay', 'relay/...'). */
function decodeRelay(bytes: Uint8Array, limits: RelayMessageLimits, what: string, onField: (field: number, r: FieldReader) => void): void {
  if (bytes.length > limits.maxMessageSize) throw fail('relay/message-too-large', `${what}: ${bytes.length} > ${limits.maxMessageSize}`)
  try {
    decodeMessage(bytes, PROTOCOL, limits.maxMessageSize, onField)
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('relay/')) throw e
    throw fail('relay/malformed', `${what}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
}

/** Throws relay/malformed when a singular field appears twice (see spec/relay.md, Divergences). */
function once<T>(current: T | undefined, what: string): void {
  if (current !== undefined) throw fail('relay/malformed', `repeated field ${what}`)
}

function readAddr(bytes: Uint8Array, count: number, limits: RelayMessageLimits, what: string): Multiaddr {
  if (count >= limits.maxAddrs) throw fail('relay/too-many-addrs', `${what}: more than ${limits.maxAddrs}`)
  if (bytes.length > limits.maxAddrBytes) throw fail('relay/addr-too-long', `${what}: ${bytes.length} > ${limits.maxAddrBytes} bytes`)
  try {
    return Multiaddr.fromBytes(bytes, { maxBytes: Math.max(1, limits.maxAddrBytes) })
  } catch (e) {
    throw fail('relay/invalid-multiaddr', `${what}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
}

function decodePeer(bytes: Uint8Array, limits: RelayMessageLimits): Peer {
  let id: Uint8Array | undefined
  const addrs: Multiaddr[] = []
  decodeRelay(bytes, limits, 'Peer', (field, r) => {
    if (field === 1) {
      once(id, 'Peer.id')
      id = r.bytes()
    } else if (field === 2) addrs.push(readAddr(r.bytes(), addrs.length, limits, 'Peer.addrs'))
    else r.skip()
  })
  if (id === undefined) throw fail('relay/missing-field', 'Peer.id')
  let peerId: PeerId
  try {
    peerId = PeerId.fromMultihash(id)
  } catch (e) {
    throw fail('relay/invalid-peer-id', e instanceof Error ? e.message : String(e), e)
  }
  return { id: peerId, addrs }
}

function decodeReservation(bytes: Uint8Array, limits: RelayMessageLimits): Reservation {
  let expire: bigint | undefined
  let voucher: Uint8Array | undefined
  const addrs: Multiaddr[] = []
  decodeRelay(bytes, limits, 'Reservation', (field, r) => {
    if (field === 1) {
      once(expire, 'Reservation.expire')
      expire = r.uint64Big()
    } else if (field === 2) addrs.push(readAddr(r.bytes(), addrs.length, limits, 'Reservation.addrs'))
    else if (field === 3) {
      once(voucher, 'Reservation.voucher')
      voucher = r.bytes()
    } else r.skip()
  })
  if (expire === undefined) throw fail('relay/missing-field', 'Reservation.expire')
  return voucher === undefined ? { expire, addrs } : { expire, addrs, voucher }
}

function decodeLimit(bytes: Uint8Array, limits: RelayMessageLimits): Limit {
  const limit: Limit = {}
  decodeRelay(bytes, limits, 'Limit', (field, r) => {
    if (field === 1) {
      once(limit.duration, 'Limit.duration')
      limit.duration = r.uint32()
    } else if (field === 2) {
      once(limit.data, 'Limit.data')
      limit.data = r.uint64Big()
    } else r.skip()
  })
  return limit
}

function withLimits(limits: Partial<RelayMessageLimits>): RelayMessageLimits {
  return { ...DEFAULT_RELAY_MESSAGE_LIMITS, ...limits }
}

/**
 * Decode one HopMessage body. Checks what every message of its type needs: a type the spec defines,
 * `peer` in CONNECT, `status` in STATUS. Throws ProtocolError('relay', ...) only.
 */
export function decodeHopMessage(bytes: Uint8Array, limits: Partial<RelayMessageLimits> = {}): HopMessage {
  const l = withLimits(limits)
  let type: number | undefined
  const msg: Partial<HopMessage> = {}
  decodeRelay(bytes, l, 'HopMessage', (field, r) => {
    switch (field) {
      case 1: once(type, 'HopMessage.type'); type = r.enum(); break
      case 2: once(msg.peer, 'HopMessage.peer'); msg.peer = decodePeer(r.bytes(), l); break
      case 3: once(msg.reservation, 'HopMessage.reservation'); msg.reservation = decodeReservation(r.bytes(), l); break
      case 4: once(msg.limit, 'HopMessage.limit'); msg.limit = decodeLimit(r.bytes(), l); break
      case 5: once(msg.status, 'HopMessage.status'); msg.status = r.enum(); break
      default: r.skip()
    }
  })
  if (type === undefined) throw fail('relay/missing-field', 'HopMessage.type')
  if (type !== HopType.RESERVE && type !== HopType.CONNECT && type !== HopType.STATUS) throw fail('relay/unknown-type', `HopMessage.type ${type}`)
  if (type === HopType.CONNECT && msg.peer === undefined) throw fail('relay/missing-field', 'HopMessage.peer in CONNECT')
  if (type === HopType.STATUS && msg.status === undefined) throw fail('relay/missing-field', 'HopMessage.status in STATUS')
  return { type, ...msg }
}

/** Decode one StopMessage body: a defined type, `peer` in CONNECT, `status` in STATUS. ProtocolError only. */
export function decodeStopMessage(bytes: Uint8Array, limits: Partial<RelayMessageLimits> = {}): StopMessage {
  const l = withLimits(limits)
  let type: number | undefined
  const msg: Partial<StopMessage> = {}
  decodeRelay(bytes, l, 'StopMessage', (field, r) => {
    switch (field) {
      case 1: once(type, 'StopMessage.type'); type = r.enum(); break
      case 2: once(msg.peer, 'StopMessage.peer'); msg.peer = decodePeer(r.bytes(), l); break
      case 3: once(msg.limit, 'StopMessage.limit'); msg.limit = decodeLimit(r.bytes(), l); break
      case 4: once(msg.status, 'StopMessage.status'); msg.status = r.enum(); break
      default: r.skip()
    }
  })
  if (type === undefined) throw fail('relay/missing-field', 'StopMessage.type')
  if (type !== StopType.CONNECT && type !== StopType.STATUS) throw fail('relay/unknown-type', `StopMessage.type ${type}`)
  if (type === StopType.CONNECT && msg.peer === undefined) throw fail('relay/missing-field', 'StopMessage.peer in CONNECT')
  if (type === StopType.STATUS && msg.status === undefined) throw fail('relay/missing-field', 'StopMessage.status in STATUS')
  return { type, ...msg }
}

// ---- framing ------------------------------------------------------------------------------------

/**
 * Reads length-prefixed relay messages from a hop or stop stream in any chunking. After a STATUS OK
 * the stream becomes the relayed connection: `takeRemainder()` hands over the bytes that followed the
 * last message (a peer may send them glued to it). Buffers at most maxMessageSize + 9 bytes beyond
 * whole messages. Throws ProtocolError('relay', ...) only.
 */
export class RelayFrameDecoder<M extends HopMessage | StopMessage> extends MessageFrameDecoder<M, typeof PROTOCOL> {
  private constructor(decode: (bytes: Uint8Array, limits: RelayMessageLimits) => M, limits: Partial<RelayMessageLimits>) {
    const l = withLimits(limits)
    super(PROTOCOL, l.maxMessageSize, (body) => decode(body, l))
  }

  /** A decoder of length-prefixed `HopMessage`s. */
  static hop(limits: Partial<RelayMessageLimits> = {}): RelayFrameDecoder<HopMessage> {
    return new RelayFrameDecoder<HopMessage>(decodeHopMessage, limits)
  }

  /** A decoder of length-prefixed `StopMessage`s. */
  static stop(limits: Partial<RelayMessageLimits> = {}): RelayFrameDecoder<StopMessage> {
    return new RelayFrameDecoder<StopMessage>(decodeStopMessage, limits)
  }
}
