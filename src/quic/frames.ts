/**
 * QUIC v1 frames (RFC 9000 §12.4, §19): encode and decode every frame of types.ts, and the
 * packet types each frame may appear in (Table 3, §12.4).
 *
 * Decoding is strict: an unknown frame type or a truncated or out-of-range field is
 * FRAME_ENCODING_ERROR, a frame type not encoded on the fewest bytes or a frame in a packet type
 * Table 3 does not permit is PROTOCOL_VIOLATION (§12.4), an empty payload is PROTOCOL_VIOLATION.
 * Every ProtocolError is a QuicProtocolError carrying the offending frame type.
 *
 * Memory: `data`, `token`, `connectionId`, `reason`... of decoded frames are VIEWS into the payload
 * given to decodeFrames (no copy): copy them before keeping them past the packet (a 1-byte STREAM
 * frame kept as a view holds its whole packet alive).
 */
import { quicError } from './errors.js'
import type { AckRange, Frame, StreamFrame } from './types.js'
import { QuicReader, varintSize, writeVarint } from './varint.js'

/** The packet types that carry frames. Version Negotiation, Retry and Stateless Reset carry none. */
export type FramePacketType = 'initial' | '0rtt' | 'handshake' | '1rtt'

/** Limits of the frame decoder (spec/quic.md, Limits). */
export interface QuicFrameLimits {
  /**
   * Frames in one packet (consecutive PADDING bytes count as one). Stops a peer from packing a
   * datagram with one-byte frames to make the receiver allocate one object per byte; beyond it the
   * packet is a PROTOCOL_VIOLATION (no sender needs more than a few dozen per packet).
   */
  readonly maxFramesPerPacket: number
  /**
   * ACK ranges kept per ACK frame: the newest ones; older ranges are read (and checked) but dropped,
   * which at worst delays the acknowledgment of very old packets. Stops a peer from making the
   * receiver's loss detection walk thousands of ranges per ACK.
   */
  readonly maxAckRanges: number
}

export const DEFAULT_FRAME_LIMITS: QuicFrameLimits = { maxFramesPerPacket: 1024, maxAckRanges: 256 }

/** Frame type numbers (RFC 9000 §19 / Table 3). */
export const FrameTypeNumber = {
  PADDING: 0x00, PING: 0x01, ACK: 0x02, ACK_ECN: 0x03, RESET_STREAM: 0x04, STOP_SENDING: 0x05,
  CRYPTO: 0x06, NEW_TOKEN: 0x07, STREAM: 0x08, MAX_DATA: 0x10, MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12, MAX_STREAMS_UNI: 0x13, DATA_BLOCKED: 0x14, STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16, STREAMS_BLOCKED_UNI: 0x17, NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19, PATH_CHALLENGE: 0x1a, PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c, CONNECTION_CLOSE_APP: 0x1d, HANDSHAKE_DONE: 0x1e,
} as const

const I = 1, H = 2, Z = 4, O = 8
const PACKET_BIT: Record<FramePacketType, number> = { initial: I, handshake: H, '0rtt': Z, '1rtt': O }
/** Table 3 ("Pkts"), indexed by frame type 0x00..0x1e. */
const PERMITTED: readonly number[] = [
  I | H | Z | O, I | H | Z | O, I | H | O, I | H | O, // PADDING, PING, ACK x2
  Z | O, Z | O, I | H | O, O, // RESET_STREAM, STOP_SENDING, CRYPTO, NEW_TOKEN
  Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, // STREAM 0x08..0x0f
  Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, Z | O, // MAX_DATA .. STREAMS_BLOCKED
  Z | O, Z | O, Z | O, O, // NEW_CONNECTION_ID, RETIRE_CONNECTION_ID, PATH_CHALLENGE, PATH_RESPONSE
  I | H | Z | O, Z | O, O, // CONNECTION_CLOSE 0x1c (ih01), 0x1d (01), HANDSHAKE_DONE
]

/** True when Table 3 allows frame type `type` (a number) in `packetType`. */
export function frameAllowedIn(type: number, packetType: FramePacketType): boolean {
  return type < PERMITTED.length && (PERMITTED[type]! & PACKET_BIT[packetType]) !== 0
}

const MAX_STREAMS_LIMIT = 2n ** 60n
const MAX = Number.MAX_SAFE_INTEGER

/** The wire type of a frame (STREAM: with its OFF, LEN=1, FIN bits as writeFrame writes them). */
export function frameTypeOf(f: Frame): number {
  switch (f.type) {
    case 'padding': return 0x00
    case 'ping': return 0x01
    case 'ack': return f.ecn === undefined ? 0x02 : 0x03
    case 'reset_stream': return 0x04
    case 'stop_sending': return 0x05
    case 'crypto': return 0x06
    case 'new_token': return 0x07
    case 'stream': return 0x08 | (f.offset > 0 ? 0x04 : 0) | 0x02 | (f.fin ? 0x01 : 0)
    case 'max_data': return 0x10
    case 'max_stream_data': return 0x11
    case 'max_streams': return f.bidirectional ? 0x12 : 0x13
    case 'data_blocked': return 0x14
    case 'stream_data_blocked': return 0x15
    case 'streams_blocked': return f.bidirectional ? 0x16 : 0x17
    case 'new_connection_id': return 0x18
    case 'retire_connection_id': return 0x19
    case 'path_challenge': return 0x1a
    case 'path_response': return 0x1b
    case 'connection_close': return f.frameType === undefined ? 0x1d : 0x1c
    case 'handshake_done': return 0x1e
  }
}

/** Ack-eliciting frames (RFC 9002 §2): all but ACK, PADDING and CONNECTION_CLOSE. */
export function isAckEliciting(f: Frame): boolean {
  return f.type !== 'ack' && f.type !== 'padding' && f.type !== 'connection_close'
}

/** Frames that make their packet count as in flight (RFC 9002 §2): ack-eliciting ones and PADDING. */
export function countsInFlight(f: Frame): boolean {
  return f.type !== 'ack' && f.type !== 'connection_close'
}

const vs = varintSize

function checkAckRanges(ranges: readonly AckRange[]): void {
  if (ranges.length === 0) throw new RangeError('an ACK frame needs at least one range')
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!
    if (!(r.smallest >= 0 && r.largest >= r.smallest)) throw new RangeError(`bad ACK range ${r.smallest}..${r.largest}`)
    if (i > 0 && !(ranges[i - 1]!.smallest - r.largest >= 2)) throw new RangeError('ACK ranges must be descending and separated by a gap')
  }
}

function checkBytes(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`)
}

/** The encoded size of `f` (as writeFrame writes it). Throws RangeError for a frame that cannot be encoded. */
export function frameSize(f: Frame): number {
  switch (f.type) {
    case 'padding': return f.length
    case 'ping': case 'handshake_done': return 1
    case 'ack': {
      checkAckRanges(f.ranges)
      const first = f.ranges[0]!
      let n = 1 + vs(first.largest) + vs(f.ackDelay) + vs(f.ranges.length - 1) + vs(first.largest - first.smallest)
      for (let i = 1; i < f.ranges.length; i++) {
        const r = f.ranges[i]!
        n += vs(f.ranges[i - 1]!.smallest - r.largest - 2) + vs(r.largest - r.smallest)
      }
      if (f.ecn !== undefined) n += vs(f.ecn.ect0) + vs(f.ecn.ect1) + vs(f.ecn.ce)
      return n
    }
    case 'reset_stream': return 1 + vs(f.streamId) + vs(f.errorCode) + vs(f.finalSize)
    case 'stop_sending': return 1 + vs(f.streamId) + vs(f.errorCode)
    case 'crypto': return 1 + vs(f.offset) + vs(f.data.length) + f.data.length
    case 'new_token':
      if (f.token.length === 0) throw new RangeError('NEW_TOKEN needs a token')
      return 1 + vs(f.token.length) + f.token.length
    case 'stream': return streamFrameOverhead(f.streamId, f.offset, f.data.length) + f.data.length
    case 'max_data': return 1 + vs(f.maximumData)
    case 'max_stream_data': return 1 + vs(f.streamId) + vs(f.maximumStreamData)
    case 'max_streams': return 1 + vs(f.maximumStreams)
    case 'data_blocked': return 1 + vs(f.maximumData)
    case 'stream_data_blocked': return 1 + vs(f.streamId) + vs(f.maximumStreamData)
    case 'streams_blocked': return 1 + vs(f.maximumStreams)
    case 'new_connection_id':
      if (f.connectionId.length < 1 || f.connectionId.length > 20) throw new RangeError('a connection id is 1..20 bytes')
      checkBytes(f.statelessResetToken, 16, 'a stateless reset token')
      if (f.retirePriorTo > f.sequenceNumber) throw new RangeError('retirePriorTo > sequenceNumber')
      return 1 + vs(f.sequenceNumber) + vs(f.retirePriorTo) + 1 + f.connectionId.length + 16
    case 'retire_connection_id': return 1 + vs(f.sequenceNumber)
    case 'path_challenge': case 'path_response':
      checkBytes(f.data, 8, 'PATH_CHALLENGE/PATH_RESPONSE data')
      return 9
    case 'connection_close':
      return 1 + vs(f.errorCode) + (f.frameType === undefined ? 0 : vs(f.frameType)) + vs(f.reason.length) + f.reason.length
  }
}

/** Bytes a STREAM frame adds to `length` bytes of data: type, stream id, offset (when > 0), length. */
export function streamFrameOverhead(streamId: number, offset: number, length: number): number {
  return 1 + vs(streamId) + (offset > 0 ? vs(offset) : 0) + vs(length)
}

/** Writes `f` at `offset` (the buffer must hold frameSize(f) bytes); returns the offset after it. */
export function writeFrame(buf: Uint8Array, offset: number, f: Frame): number {
  let o = offset
  const v = (x: number): void => { o = writeVarint(buf, o, x) }
  const raw = (b: Uint8Array): void => { buf.set(b, o); o += b.length }
  if (f.type === 'padding') {
    buf.fill(0, o, o + f.length)
    return o + f.length
  }
  buf[o++] = frameTypeOf(f)
  switch (f.type) {
    case 'ping': case 'handshake_done': break
    case 'ack': {
      checkAckRanges(f.ranges)
      const first = f.ranges[0]!
      v(first.largest); v(f.ackDelay); v(f.ranges.length - 1); v(first.largest - first.smallest)
      for (let i = 1; i < f.ranges.length; i++) {
        const r = f.ranges[i]!
        v(f.ranges[i - 1]!.smallest - r.largest - 2); v(r.largest - r.smallest)
      }
      if (f.ecn !== undefined) { v(f.ecn.ect0); v(f.ecn.ect1); v(f.ecn.ce) }
      break
    }
    case 'reset_stream': v(f.streamId); v(f.errorCode); v(f.finalSize); break
    case 'stop_sending': v(f.streamId); v(f.errorCode); break
    case 'crypto': v(f.offset); v(f.data.length); raw(f.data); break
    case 'new_token':
      if (f.token.length === 0) throw new RangeError('NEW_TOKEN needs a token')
      v(f.token.length); raw(f.token); break
    case 'stream':
      v(f.streamId); if (f.offset > 0) v(f.offset); v(f.data.length); raw(f.data); break
    case 'max_data': case 'data_blocked': v(f.maximumData); break
    case 'max_stream_data': case 'stream_data_blocked': v(f.streamId); v(f.maximumStreamData); break
    case 'max_streams': case 'streams_blocked': v(f.maximumStreams); break
    case 'new_connection_id':
      frameSize(f) // the range checks
      v(f.sequenceNumber); v(f.retirePriorTo); buf[o++] = f.connectionId.length; raw(f.connectionId); raw(f.statelessResetToken)
      break
    case 'retire_connection_id': v(f.sequenceNumber); break
    case 'path_challenge': case 'path_response': checkBytes(f.data, 8, 'PATH_CHALLENGE/PATH_RESPONSE data'); raw(f.data); break
    case 'connection_close':
      v(f.errorCode); if (f.frameType !== undefined) v(f.frameType); v(f.reason.length); raw(f.reason); break
  }
  return o
}

/** Frames as one fresh payload. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  let n = 0
  for (const f of frames) n += frameSize(f)
  const out = new Uint8Array(n)
  let o = 0
  for (const f of frames) o = writeFrame(out, o, f)
  return out
}

export interface DecodeFramesOptions {
  /** Who is decoding: a server refuses NEW_TOKEN and HANDSHAKE_DONE (PROTOCOL_VIOLATION, §19.7, §19.20). */
  readonly receiver?: 'client' | 'server'
  readonly limits?: Partial<QuicFrameLimits>
}

/**
 * The frames of a decrypted packet payload of `packetType`. Throws QuicProtocolError for any
 * malformed or forbidden frame (see the header); byte fields are views into `payload`.
 */
export function decodeFrames(payload: Uint8Array, packetType: FramePacketType, opts: DecodeFramesOptions = {}): Frame[] {
  const maxFrames = opts.limits?.maxFramesPerPacket ?? DEFAULT_FRAME_LIMITS.maxFramesPerPacket
  const maxRanges = opts.limits?.maxAckRanges ?? DEFAULT_FRAME_LIMITS.maxAckRanges
  if (payload.length === 0) throw quicError('PROTOCOL_VIOLATION', 'a packet without frames')
  const r = new QuicReader(payload)
  const frames: Frame[] = []
  while (r.remaining > 0) {
    if (frames.length >= maxFrames) throw quicError('PROTOCOL_VIOLATION', `more than ${maxFrames} frames in one packet`)
    const start = r.pos
    r.frameType = 0
    const type = r.varint()
    r.frameType = type
    if (r.pos - start !== varintSize(type)) r.fail(`frame type ${type} not on the fewest bytes`, 'PROTOCOL_VIOLATION')
    if (type > 0x1e) r.fail(`unknown frame type 0x${type.toString(16)}`)
    if (!frameAllowedIn(type, packetType)) r.fail(`frame type 0x${type.toString(16)} in a ${packetType} packet`, 'PROTOCOL_VIOLATION')
    if (opts.receiver === 'server' && (type === 0x07 || type === 0x1e)) r.fail(`a client sent frame type 0x${type.toString(16)}`, 'PROTOCOL_VIOLATION')
    frames.push(decodeFrame(r, type, maxRanges))
  }
  return frames
}

function decodeFrame(r: QuicReader, type: number, maxRanges: number): Frame {
  switch (type) {
    case 0x00: {
      let n = 1
      while (r.pos < r.end && r.buf[r.pos] === 0) { r.pos++; n++ }
      return { type: 'padding', length: n }
    }
    case 0x01: return { type: 'ping' }
    case 0x02: case 0x03: return decodeAck(r, type === 0x03, maxRanges)
    case 0x04: return { type: 'reset_stream', streamId: r.varint(), errorCode: r.varint(), finalSize: r.varint() }
    case 0x05: return { type: 'stop_sending', streamId: r.varint(), errorCode: r.varint() }
    case 0x06: {
      const offset = r.varint()
      const data = r.bytes(r.varint())
      if (offset + data.length > MAX) r.fail('CRYPTO data past 2^53-1')
      return { type: 'crypto', offset, data }
    }
    case 0x07: {
      const token = r.bytes(r.varint())
      if (token.length === 0) r.fail('NEW_TOKEN with an empty token')
      return { type: 'new_token', token }
    }
    case 0x10: return { type: 'max_data', maximumData: r.saturating() }
    case 0x11: return { type: 'max_stream_data', streamId: r.varint(), maximumStreamData: r.saturating() }
    case 0x12: case 0x13: return { type: 'max_streams', bidirectional: type === 0x12, maximumStreams: streamCount(r) }
    case 0x14: return { type: 'data_blocked', maximumData: r.saturating() }
    case 0x15: return { type: 'stream_data_blocked', streamId: r.varint(), maximumStreamData: r.saturating() }
    case 0x16: case 0x17: return { type: 'streams_blocked', bidirectional: type === 0x16, maximumStreams: streamCount(r) }
    case 0x18: {
      const sequenceNumber = r.varint()
      const retirePriorTo = r.varint()
      const len = r.u8()
      if (len < 1 || len > 20) r.fail(`connection id length ${len}`)
      const connectionId = r.bytes(len)
      const statelessResetToken = r.bytes(16)
      if (retirePriorTo > sequenceNumber) r.fail('Retire Prior To above the Sequence Number')
      return { type: 'new_connection_id', sequenceNumber, retirePriorTo, connectionId, statelessResetToken }
    }
    case 0x19: return { type: 'retire_connection_id', sequenceNumber: r.varint() }
    case 0x1a: return { type: 'path_challenge', data: r.bytes(8) }
    case 0x1b: return { type: 'path_response', data: r.bytes(8) }
    case 0x1c: {
      const errorCode = r.varint()
      const frameType = r.varint()
      return { type: 'connection_close', errorCode, frameType, reason: r.bytes(r.varint()) }
    }
    case 0x1d: {
      const errorCode = r.varint()
      return { type: 'connection_close', errorCode, reason: r.bytes(r.varint()) }
    }
    case 0x1e: return { type: 'handshake_done' }
    default: return decodeStream(r, type)
  }
}

/** MAX_STREAMS / STREAMS_BLOCKED: above 2^60 is FRAME_ENCODING_ERROR (§19.11, §19.14); 2^53..2^60 saturates. */
function streamCount(r: QuicReader): number {
  const v = r.big()
  if (v > MAX_STREAMS_LIMIT) r.fail('a stream count above 2^60')
  return v > BigInt(MAX) ? MAX : Number(v)
}

function decodeStream(r: QuicReader, type: number): StreamFrame {
  const streamId = r.varint()
  const offset = (type & 0x04) !== 0 ? r.varint() : 0
  const length = (type & 0x02) !== 0 ? r.varint() : r.remaining
  const data = r.bytes(length)
  if (offset + length > MAX) r.fail('STREAM data past 2^53-1')
  return { type: 'stream', streamId, offset, data, fin: (type & 0x01) !== 0 }
}

function decodeAck(r: QuicReader, withEcn: boolean, maxRanges: number): Frame {
  const largest = r.varint()
  const ackDelay = r.saturating()
  const count = r.varint()
  const firstRange = r.varint()
  if (firstRange > largest) r.fail('First ACK Range above Largest Acknowledged')
  const ranges: AckRange[] = [{ smallest: largest - firstRange, largest }]
  let smallest = largest - firstRange
  for (let i = 0; i < count; i++) {
    const gap = r.varint()
    const len = r.varint()
    const hi = smallest - gap - 2
    if (hi < 0 || len > hi) r.fail('an ACK range below packet number 0')
    smallest = hi - len
    if (ranges.length < maxRanges) ranges.push({ smallest, largest: hi })
  }
  if (!withEcn) return { type: 'ack', ackDelay, ranges }
  return { type: 'ack', ackDelay, ranges, ecn: { ect0: r.varint(), ect1: r.varint(), ce: r.varint() } }
}
