// QUIC frames (src/quic/frames.ts): every frame round-trips (fast-check), Table 3 of RFC 9000
// §12.4, the decoder limits at and past their values, and no input escapes as anything but a
// QuicProtocolError.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import {
  DEFAULT_FRAME_LIMITS, QuicProtocolError, TransportErrorCode, countsInFlight, decodeFrames, encodeFrames, frameAllowedIn, frameSize,
  frameTypeOf, isAckEliciting, streamFrameOverhead, writeFrame, type AckRange, type Frame, type FramePacketType,
} from '../src/quic/index.js'

const MAX = Number.MAX_SAFE_INTEGER
const v62 = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 16383 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }), fc.integer({ min: 0, max: MAX }))
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max })

/** Descending, gap-separated ACK ranges. */
const ackRanges = fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 20 }), fc.integer({ min: 0, max: 1000 }))
  .map(([largest, rest, first]) => {
    const ranges: AckRange[] = [{ smallest: Math.max(0, largest - first), largest }]
    for (const [gap, len] of rest) {
      const hi = ranges[ranges.length - 1]!.smallest - gap - 2
      if (hi - len < 0) break
      ranges.push({ smallest: hi - len, largest: hi })
    }
    return ranges
  })

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.integer({ min: 1, max: 50 }).map((length): Frame => ({ type: 'padding', length })),
  fc.constant<Frame>({ type: 'ping' }),
  fc.tuple(v62, ackRanges, fc.option(fc.tuple(v62, v62, v62), { nil: undefined })).map(([ackDelay, ranges, e]): Frame =>
    e === undefined ? { type: 'ack', ackDelay, ranges } : { type: 'ack', ackDelay, ranges, ecn: { ect0: e[0], ect1: e[1], ce: e[2] } }),
  fc.tuple(v62, v62, v62).map(([streamId, errorCode, finalSize]): Frame => ({ type: 'reset_stream', streamId, errorCode, finalSize })),
  fc.tuple(v62, v62).map(([streamId, errorCode]): Frame => ({ type: 'stop_sending', streamId, errorCode })),
  fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), bytes(0, 40)).map(([offset, data]): Frame => ({ type: 'crypto', offset, data })),
  bytes(1, 40).map((token): Frame => ({ type: 'new_token', token })),
  fc.tuple(v62, fc.integer({ min: 0, max: 2 ** 40 }), bytes(0, 40), fc.boolean()).map(([streamId, offset, data, fin]): Frame => ({ type: 'stream', streamId, offset, data, fin })),
  v62.map((maximumData): Frame => ({ type: 'max_data', maximumData })),
  fc.tuple(v62, v62).map(([streamId, maximumStreamData]): Frame => ({ type: 'max_stream_data', streamId, maximumStreamData })),
  fc.tuple(fc.boolean(), v62).map(([bidirectional, maximumStreams]): Frame => ({ type: 'max_streams', bidirectional, maximumStreams })),
  v62.map((maximumData): Frame => ({ type: 'data_blocked', maximumData })),
  fc.tuple(v62, v62).map(([streamId, maximumStreamData]): Frame => ({ type: 'stream_data_blocked', streamId, maximumStreamData })),
  fc.tuple(fc.boolean(), v62).map(([bidirectional, maximumStreams]): Frame => ({ type: 'streams_blocked', bidirectional, maximumStreams })),
  fc.tuple(v62, v62, bytes(1, 20), bytes(16, 16)).map(([a, b, connectionId, statelessResetToken]): Frame =>
    ({ type: 'new_connection_id', sequenceNumber: Math.max(a, b), retirePriorTo: Math.min(a, b), connectionId, statelessResetToken })),
  v62.map((sequenceNumber): Frame => ({ type: 'retire_connection_id', sequenceNumber })),
  bytes(8, 8).map((data): Frame => ({ type: 'path_challenge', data })),
  bytes(8, 8).map((data): Frame => ({ type: 'path_response', data })),
  fc.tuple(v62, fc.option(v62, { nil: undefined }), bytes(0, 30)).map(([errorCode, frameType, reason]): Frame =>
    frameType === undefined ? { type: 'connection_close', errorCode, reason } : { type: 'connection_close', errorCode, frameType, reason }),
  fc.constant<Frame>({ type: 'handshake_done' }),
)

/** Consecutive PADDING frames decode as one: merge them in the expectation. */
function mergePadding(frames: readonly Frame[]): Frame[] {
  const out: Frame[] = []
  for (const f of frames) {
    const last = out[out.length - 1]
    if (f.type === 'padding' && last?.type === 'padding') out[out.length - 1] = { type: 'padding', length: last.length + f.length }
    else out.push(f)
  }
  return out
}

function codeOf(f: () => unknown): string {
  try { f() } catch (e) {
    expect(e).toBeInstanceOf(QuicProtocolError)
    const q = e as QuicProtocolError
    expect(q.transportCode).toBe(TransportErrorCode[q.code])
    return q.code
  }
  return 'no error'
}

describe('round trips', () => {
  test('decode(encode(frames)) = frames, and frameSize is what writeFrame writes', () => {
    fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), (frames) => {
      const wire = encodeFrames(frames)
      expect(wire.length).toBe(frames.reduce((n, f) => n + frameSize(f), 0))
      expect(decodeFrames(wire, '1rtt', { receiver: 'client' })).toEqual(mergePadding(frames))
    }), { numRuns: 400 })
  })
  test('writeFrame writes at an offset and returns the end', () => {
    fc.assert(fc.property(frameArb, fc.integer({ min: 0, max: 10 }), (f, at) => {
      const buf = new Uint8Array(at + frameSize(f) + 3).fill(0xee)
      expect(writeFrame(buf, at, f)).toBe(at + frameSize(f))
      expect(buf[at + frameSize(f)]).toBe(0xee)
    }))
  })
  test('any bytes: decodeFrames returns frames that re-encode to the same frames, or throws only QuicProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom<FramePacketType>('initial', 'handshake', '0rtt', '1rtt'), (b, pt) => {
      let frames: Frame[]
      try {
        frames = decodeFrames(b, pt)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
        expect(e).toBeInstanceOf(QuicProtocolError)
        return
      }
      expect(decodeFrames(encodeFrames(frames), pt)).toEqual(frames)
    }), { numRuns: 3000 })
  })
  test('streamFrameOverhead is the STREAM frame size minus its data', () => {
    fc.assert(fc.property(v62, fc.integer({ min: 0, max: MAX - 100 }), fc.integer({ min: 0, max: 100 }), (id, offset, n) => {
      expect(streamFrameOverhead(id, offset, n) + n).toBe(frameSize({ type: 'stream', streamId: id, offset, data: new Uint8Array(n), fin: false }))
    }))
  })
})

describe('RFC 9000 §12.4 Table 3', () => {
  const table: Record<number, string> = {
    0x00: 'IH01', 0x01: 'IH01', 0x02: 'IH_1', 0x03: 'IH_1', 0x04: '__01', 0x05: '__01', 0x06: 'IH_1', 0x07: '___1', 0x10: '__01', 0x11: '__01',
    0x12: '__01', 0x13: '__01', 0x14: '__01', 0x15: '__01', 0x16: '__01', 0x17: '__01', 0x18: '__01', 0x19: '__01', 0x1a: '__01',
    0x1b: '___1', 0x1c: 'IH01', 0x1d: '__01', 0x1e: '___1',
  }
  for (let t = 0x08; t <= 0x0f; t++) table[t] = '__01'
  test('frameAllowedIn matches the table for every frame type', () => {
    for (const [t, pkts] of Object.entries(table)) {
      expect([frameAllowedIn(+t, 'initial'), frameAllowedIn(+t, 'handshake'), frameAllowedIn(+t, '0rtt'), frameAllowedIn(+t, '1rtt')], `type ${t}`)
        .toEqual([pkts[0] === 'I', pkts[1] === 'H', pkts[2] === '0', pkts[3] === '1'])
    }
    expect(frameAllowedIn(0x1f, '1rtt')).toBe(false)
  })
  test('a forbidden frame is PROTOCOL_VIOLATION carrying its frame type', () => {
    let err: QuicProtocolError | undefined
    try { decodeFrames(Uint8Array.of(0x01, 0x10, 0x05), 'handshake') } catch (e) { err = e as QuicProtocolError }
    expect(err?.code).toBe('PROTOCOL_VIOLATION')
    expect(err?.frameType).toBe(0x10)
    expect(err?.transportCode).toBe(0x0a)
  })
})

describe('limits', () => {
  test(`maxFramesPerPacket (default ${DEFAULT_FRAME_LIMITS.maxFramesPerPacket}): at the limit decodes, one past is PROTOCOL_VIOLATION`, () => {
    const pings = (n: number): Uint8Array => new Uint8Array(n).fill(0x01)
    const max = DEFAULT_FRAME_LIMITS.maxFramesPerPacket
    expect(decodeFrames(pings(max), '1rtt')).toHaveLength(max)
    expect(codeOf(() => decodeFrames(pings(max + 1), '1rtt'))).toBe('PROTOCOL_VIOLATION')
    expect(decodeFrames(pings(3), '1rtt', { limits: { maxFramesPerPacket: 3 } })).toHaveLength(3)
    expect(codeOf(() => decodeFrames(pings(4), '1rtt', { limits: { maxFramesPerPacket: 3 } }))).toBe('PROTOCOL_VIOLATION')
    // PADDING runs count once: a packet of padding is one frame
    expect(decodeFrames(new Uint8Array(5000), '1rtt')).toEqual([{ type: 'padding', length: 5000 }])
  })
  test(`maxAckRanges (default ${DEFAULT_FRAME_LIMITS.maxAckRanges}): the newest ranges are kept, older ones read and checked but dropped`, () => {
    const ack = (n: number): Frame => ({ type: 'ack', ackDelay: 0, ranges: Array.from({ length: n }, (_, i) => ({ smallest: 10_000 - 3 * i, largest: 10_000 - 3 * i })) })
    const max = DEFAULT_FRAME_LIMITS.maxAckRanges
    const at = decodeFrames(encodeFrames([ack(max)]), '1rtt')[0] as { ranges: readonly AckRange[] }
    expect(at.ranges).toHaveLength(max)
    const past = decodeFrames(encodeFrames([ack(max + 1), { type: 'ping' }]), '1rtt')
    expect((past[0] as { ranges: readonly AckRange[] }).ranges).toEqual((ack(max) as { ranges: readonly AckRange[] }).ranges)
    expect(past[1]).toEqual({ type: 'ping' }) // the frame after it still decodes
    expect((decodeFrames(encodeFrames([ack(5)]), '1rtt', { limits: { maxAckRanges: 4 } })[0] as { ranges: readonly AckRange[] }).ranges).toHaveLength(4)
  })
  test('values above 2^53 - 1: refused where they name something (ids, offsets), capped where they are credit', () => {
    const big = [0xc0, 0x20, 0, 0, 0, 0, 0, 0] // 2^53
    expect(codeOf(() => decodeFrames(Uint8Array.of(0x05, ...big, 0x00), '1rtt'))).toBe('FRAME_ENCODING_ERROR')
    expect(codeOf(() => decodeFrames(Uint8Array.of(0x19, ...big), '1rtt'))).toBe('FRAME_ENCODING_ERROR')
    expect(decodeFrames(Uint8Array.of(0x14, ...big), '1rtt')).toEqual([{ type: 'data_blocked', maximumData: MAX }])
    expect(decodeFrames(Uint8Array.of(0x11, 0x00, ...big), '1rtt')).toEqual([{ type: 'max_stream_data', streamId: 0, maximumStreamData: MAX }])
    expect(decodeFrames(Uint8Array.of(0x02, 0x00, ...big, 0x00, 0x00), '1rtt')).toEqual([{ type: 'ack', ackDelay: MAX, ranges: [{ smallest: 0, largest: 0 }] }])
  })
})

describe('encoder misuse is a RangeError (local, not a remote fault)', () => {
  test.each<[string, Frame]>([
    ['ACK without ranges', { type: 'ack', ackDelay: 0, ranges: [] }],
    ['ACK ranges ascending', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 1, largest: 1 }, { smallest: 5, largest: 6 }] }],
    ['ACK ranges adjacent', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 5, largest: 6 }, { smallest: 3, largest: 4 }] }],
    ['empty NEW_TOKEN', { type: 'new_token', token: new Uint8Array(0) }],
    ['21-byte connection id', { type: 'new_connection_id', sequenceNumber: 1, retirePriorTo: 0, connectionId: new Uint8Array(21), statelessResetToken: new Uint8Array(16) }],
    ['retirePriorTo > sequenceNumber', { type: 'new_connection_id', sequenceNumber: 1, retirePriorTo: 2, connectionId: new Uint8Array(4), statelessResetToken: new Uint8Array(16) }],
    ['7-byte PATH_CHALLENGE', { type: 'path_challenge', data: new Uint8Array(7) }],
    ['a stream id above 2^53-1', { type: 'stop_sending', streamId: 2 ** 53, errorCode: 0 }],
  ])('%s', (_, f) => {
    expect(() => encodeFrames([f])).toThrow(RangeError)
  })
})

describe('classification (RFC 9002 §2)', () => {
  test('ack-eliciting and in-flight', () => {
    const ack: Frame = { type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] }
    const close: Frame = { type: 'connection_close', errorCode: 0, reason: new Uint8Array(0) }
    const pad: Frame = { type: 'padding', length: 1 }
    expect([ack, close, pad, { type: 'ping' } as Frame].map(isAckEliciting)).toEqual([false, false, false, true])
    expect([ack, close, pad, { type: 'ping' } as Frame].map(countsInFlight)).toEqual([false, false, true, true])
    expect(frameTypeOf({ type: 'stream', streamId: 0, offset: 0, data: new Uint8Array(0), fin: true })).toBe(0x0b)
    expect(frameTypeOf(close)).toBe(0x1d)
  })
})
