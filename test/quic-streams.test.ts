// QUIC stream layer (RFC 9000 §2–4): stream ids, every peer violation's typed error, the limits at
// and past their value, and the frames the layer sends (updates, blocked signals, retransmissions).
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import {
  QUIC_STREAM_DEFAULTS,
  QuicStreams,
  isBidirectional,
  isLocal,
  streamIdOf,
  streamIndex,
  streamInitiator,
  type QuicStreamEvent,
  type QuicStreamsOptions,
  type StreamParameters,
} from '../src/quic/streams/index.js'
import { RangeSet } from '../src/quic/streams/ranges.js'
import type { Frame, StreamFrame } from '../src/quic/types.js'
import { QuicProtocolError } from '../src/quic/errors.js'
import { frameSize } from '../src/quic/frames.js'
import { DEFAULT_TRANSPORT_PARAMETERS, decodeTransportParameters, encodeTransportParameters } from '../src/quic/transport-params.js'
import { protocolErrorCode, thrown, usageErrorCode } from './helpers/errors.js'

const PEER: StreamParameters = {
  initialMaxData: 1 << 20,
  initialMaxStreamDataBidiLocal: 1 << 16,
  initialMaxStreamDataBidiRemote: 1 << 16,
  initialMaxStreamDataUni: 1 << 16,
  initialMaxStreamsBidi: 10,
  initialMaxStreamsUni: 10,
}

/** A server-side stream layer whose peer (the client) sent PEER; the client opens ids 0, 4, 8 (bidi) and 2, 6 (uni). */
function server(o: Partial<QuicStreamsOptions> = {}, peer: Partial<StreamParameters> = {}): QuicStreams {
  const q = new QuicStreams({ role: 'server', maxIncomingUniStreams: 4, ...o })
  q.setPeerParameters({ ...PEER, ...peer })
  return q
}

const stream = (streamId: number, offset: number, length: number, fin = false): StreamFrame => ({ type: 'stream', streamId, offset, data: bytes(offset, length), fin })
/** Bytes whose value is their stream offset mod 251, so any misplaced byte shows. */
const bytes = (offset: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (offset + i) % 251)

function events(q: QuicStreams): QuicStreamEvent[] {
  const out: QuicStreamEvent[] = []
  for (let e = q.pollEvent(); e !== undefined; e = q.pollEvent()) out.push(e)
  return out
}

function frames(q: QuicStreams, room = 1200): Frame[] {
  const out: Frame[] = []
  for (let f = q.pollFrame(room); f !== undefined; f = q.pollFrame(room)) out.push(f)
  return out
}

function transportCode(f: () => unknown): number {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    expect((e as ProtocolError).protocol).toBe('quic')
    return (e as ProtocolError & { transportCode: number }).transportCode
  }
  throw new Error('expected a ProtocolError')
}

describe('stream ids (RFC 9000 §2.1)', () => {
  test('initiator and direction bits, Table 1', () => {
    expect([0, 1, 2, 3].map((id) => [streamInitiator(id), isBidirectional(id)])).toEqual([['client', true], ['server', true], ['client', false], ['server', false]])
    expect(streamIdOf('server', false, 2)).toBe(11)
    expect(streamIndex(11)).toBe(2)
    // ids above 2^32 keep their bits (no 32-bit truncation)
    const big = 4 * 2 ** 40 + 3
    expect([streamInitiator(big), isBidirectional(big), streamIndex(big), isLocal(big, 'server')]).toEqual(['server', false, 2 ** 40, true])
  })

  test('RangeSet merges, subtracts and finds gaps', () => {
    const r = new RangeSet()
    r.add(10, 20)
    r.add(30, 40)
    r.add(20, 30) // adjacent on both sides: one range
    expect([r.count, r.firstStart, r.firstEnd]).toEqual([1, 10, 40])
    r.remove(15, 25)
    expect(r.gaps(0, 50)).toEqual([[0, 10], [15, 25], [40, 50]])
    expect([r.covers(10, 15), r.covers(14, 16), r.count, r.max]).toEqual([true, false, 2, 40])
  })
})

describe('peer violations: ProtocolError(quic, <RFC 9000 §20.1 name>) with its transportCode', () => {
  test('stream data past the stream limit: FLOW_CONTROL_ERROR (at the limit is fine)', () => {
    const q = server({ initialStreamWindow: 1000 })
    q.handleFrame(stream(0, 0, 1000))
    expect(protocolErrorCode(() => q.handleFrame(stream(0, 1000, 1)))).toBe('FLOW_CONTROL_ERROR')
    expect(transportCode(() => server({ initialStreamWindow: 1000 }).handleFrame(stream(0, 999, 2)))).toBe(0x03)
    // the error names the frame type that caused it (STREAM with OFF and LEN bits: 0x0e)
    const e = thrown(() => server({ initialStreamWindow: 1000 }).handleFrame(stream(0, 999, 2))) as QuicProtocolError
    expect([e.frameType, e.message]).toEqual([0x0e, 'FLOW_CONTROL_ERROR: stream data to offset 1001 past the limit 1000'])
  })

  test('the sum over streams past the connection limit: FLOW_CONTROL_ERROR', () => {
    const q = server({ initialStreamWindow: 1000, initialConnectionWindow: 1500 })
    q.handleFrame(stream(0, 0, 1000))
    q.handleFrame(stream(4, 0, 500))
    q.handleFrame(stream(4, 0, 500)) // a duplicate costs nothing
    expect(protocolErrorCode(() => q.handleFrame(stream(8, 0, 1)))).toBe('FLOW_CONTROL_ERROR')
    // a RESET_STREAM's final size counts too (at the limit, then one past it)
    const r = server({ initialStreamWindow: 1000, initialConnectionWindow: 1500 })
    r.handleFrame(stream(0, 999, 1))
    r.handleFrame({ type: 'reset_stream', streamId: 4, errorCode: 0, finalSize: 500 })
    expect(protocolErrorCode(() => r.handleFrame({ type: 'reset_stream', streamId: 8, errorCode: 0, finalSize: 1 }))).toBe('FLOW_CONTROL_ERROR')
  })

  test('final size rules (§4.5): FINAL_SIZE_ERROR', () => {
    const fin = (): QuicStreams => {
      const q = server()
      q.handleFrame(stream(0, 0, 100, true))
      return q
    }
    expect(protocolErrorCode(() => fin().handleFrame(stream(0, 100, 1)))).toBe('FINAL_SIZE_ERROR') // data past it
    expect(protocolErrorCode(() => fin().handleFrame(stream(0, 50, 10, true)))).toBe('FINAL_SIZE_ERROR') // changed (lower)
    expect(protocolErrorCode(() => fin().handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 101 }))).toBe('FINAL_SIZE_ERROR')
    const q = server()
    q.handleFrame(stream(0, 200, 100))
    expect(protocolErrorCode(() => q.handleFrame(stream(0, 0, 100, true)))).toBe('FINAL_SIZE_ERROR') // below data received
    const r = server()
    r.handleFrame(stream(0, 200, 100))
    expect(transportCode(() => r.handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 299 }))).toBe(0x06)
    // the same FIN again, or a RESET_STREAM with the same final size, is fine
    const ok = fin()
    ok.handleFrame(stream(0, 0, 100, true))
    ok.handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 100 })
  })

  test('frames for the wrong direction or a stream we never opened: STREAM_STATE_ERROR', () => {
    const q = server()
    const ours = q.open(false)! // server uni: 3
    expect(ours).toBe(3)
    const cases: Frame[] = [
      stream(3, 0, 1), // data on our send-only stream
      { type: 'reset_stream', streamId: 3, errorCode: 0, finalSize: 0 },
      { type: 'stream_data_blocked', streamId: 3, maximumStreamData: 0 },
      { type: 'max_stream_data', streamId: 2, maximumStreamData: 10 }, // the peer's uni stream is receive-only for us
      { type: 'stop_sending', streamId: 2, errorCode: 0 },
      stream(5, 0, 1), // our bidi stream 5 (index 1) was never opened
      { type: 'max_stream_data', streamId: 1, maximumStreamData: 10 },
      { type: 'stop_sending', streamId: 7, errorCode: 0 },
    ]
    for (const f of cases) expect(protocolErrorCode(() => server().handleFrame(f)), JSON.stringify(f)).toBe('STREAM_STATE_ERROR')
    expect(protocolErrorCode(() => q.handleFrame(stream(3, 0, 1)))).toBe('STREAM_STATE_ERROR')
  })

  test('a stream past our MAX_STREAMS: STREAM_LIMIT_ERROR (the last allowed one opens every lower one, §3.2)', () => {
    const q = server({ maxIncomingBidiStreams: 3 })
    q.handleFrame(stream(8, 0, 1)) // index 2: the third and last
    expect(events(q).filter((e) => e.kind === 'incoming').map((e) => (e as { id: number }).id)).toEqual([0, 4, 8])
    expect(protocolErrorCode(() => q.handleFrame(stream(12, 0, 1)))).toBe('STREAM_LIMIT_ERROR')
    expect(transportCode(() => server({ maxIncomingUniStreams: 0 }).handleFrame(stream(2, 0, 1)))).toBe(0x04)
  })

  test('MAX_STREAMS or STREAMS_BLOCKED above 2^60: FRAME_ENCODING_ERROR; initial_max_streams above it: TRANSPORT_PARAMETER_ERROR', () => {
    const over = 2 ** 60 + 256 // the next double above 2^60
    expect(protocolErrorCode(() => server().handleFrame({ type: 'max_streams', bidirectional: true, maximumStreams: over }))).toBe('FRAME_ENCODING_ERROR')
    expect(protocolErrorCode(() => server().handleFrame({ type: 'streams_blocked', bidirectional: false, maximumStreams: over }))).toBe('FRAME_ENCODING_ERROR')
    server().handleFrame({ type: 'max_streams', bidirectional: true, maximumStreams: 2 ** 60 })
    const q = new QuicStreams({ role: 'client' })
    expect(transportCode(() => q.setPeerParameters({ ...PEER, initialMaxStreamsUni: over }))).toBe(0x08)
  })

  test('more gaps than maxStreamFragments: PROTOCOL_VIOLATION (at the limit is fine)', () => {
    const q = server({ maxStreamFragments: 3 })
    for (const off of [10, 20, 30]) q.handleFrame(stream(0, off, 1)) // 3 ranges
    q.handleFrame(stream(0, 11, 9)) // fills a gap: 2 ranges
    q.handleFrame(stream(0, 40, 1)) // 3 again
    expect(protocolErrorCode(() => q.handleFrame(stream(0, 50, 1)))).toBe('PROTOCOL_VIOLATION')
  })
})

describe('flow-control updates and auto-tuning', () => {
  test('MAX_STREAM_DATA and MAX_DATA once half the window was read, not before', () => {
    const q = server({ initialStreamWindow: 1000, initialConnectionWindow: 4000, maxStreamWindow: 1000 })
    q.handleFrame(stream(0, 0, 1000))
    q.read(0, 499)
    expect(frames(q)).toEqual([])
    q.read(0, 1)
    expect(frames(q)).toEqual([{ type: 'max_stream_data', streamId: 0, maximumStreamData: 1500 }])
    q.handleFrame(stream(0, 1000, 500))
    q.handleFrame(stream(4, 0, 1000))
    q.read(4, 1000)
    q.read(0, 1000)
    // 2500 of 4000 consumed: the connection window reopens too
    expect(frames(q)).toEqual([{ type: 'max_data', maximumData: 6500 }, { type: 'max_stream_data', streamId: 4, maximumStreamData: 2000 }, { type: 'max_stream_data', streamId: 0, maximumStreamData: 2500 }])
  })

  test('a window drained within two RTTs doubles (up to maxStreamWindow); a slow reader keeps it', () => {
    const fast = server({ initialStreamWindow: 1000, maxStreamWindow: 3000 })
    fast.setClock(10, 50)
    fast.handleFrame(stream(0, 0, 1000))
    fast.read(0)
    expect(frames(fast)).toContainEqual({ type: 'max_stream_data', streamId: 0, maximumStreamData: 1000 + 2000 })
    fast.handleFrame(stream(0, 1000, 2000))
    fast.read(0)
    expect(frames(fast)).toContainEqual({ type: 'max_stream_data', streamId: 0, maximumStreamData: 3000 + 3000 }) // capped at 3000
    const slow = server({ initialStreamWindow: 1000, maxStreamWindow: 3000 })
    slow.handleFrame(stream(0, 0, 1000))
    slow.setClock(1000, 50)
    slow.read(0)
    expect(frames(slow)).toContainEqual({ type: 'max_stream_data', streamId: 0, maximumStreamData: 2000 })
  })

  test('limits stay integers when a stream window pulls the connection window up (regression: 1.5 x 103)', () => {
    const q = server({ initialStreamWindow: 103, maxStreamWindow: 412, initialConnectionWindow: 100, maxConnectionWindow: 400 })
    const limits: number[] = []
    let streamLimit = 103
    let at = 0
    for (let round = 1; round <= 6; round++) {
      q.setClock(round, undefined) // no RTT yet: windows keep their (odd) size
      const n = Math.min(100, streamLimit - at, q.connectionFlow.receiveLimit - q.connectionFlow.received)
      q.handleFrame(stream(0, at, n))
      at += n
      q.read(0)
      for (const f of frames(q)) {
        if (f.type === 'max_stream_data') streamLimit = f.maximumStreamData
        if (f.type === 'max_data' || f.type === 'max_stream_data') limits.push(f.type === 'max_data' ? f.maximumData : f.maximumStreamData)
      }
    }
    expect(limits.length).toBeGreaterThan(4)
    expect(limits.filter((v) => !Number.isInteger(v))).toEqual([])
  })

  test('a lost update is sent again only while it is the current value (§13.3)', () => {
    const q = server({ initialStreamWindow: 1000, initialConnectionWindow: 1000, maxStreamWindow: 1000, maxConnectionWindow: 1000 })
    q.handleFrame(stream(0, 0, 600))
    q.read(0)
    const first = frames(q)
    expect(first).toEqual([{ type: 'max_data', maximumData: 1600 }, { type: 'max_stream_data', streamId: 0, maximumStreamData: 1600 }])
    for (const f of first) q.onFrameLost(f)
    expect(frames(q)).toEqual(first)
    q.handleFrame(stream(0, 600, 1000))
    q.read(0)
    const second = frames(q)
    for (const f of first) q.onFrameLost(f) // stale: a newer limit went out since
    expect(frames(q)).toEqual([])
    expect(second.length).toBe(2)
  })

  test('DATA_BLOCKED and STREAM_DATA_BLOCKED once per limit; resent after a loss only while still blocked', () => {
    const q = server({}, { initialMaxData: 3000, initialMaxStreamDataBidiRemote: 1000 })
    const a = q.open(true)!
    const b = q.open(true)!
    q.write(a, new Uint8Array(2500))
    q.write(b, new Uint8Array(2500))
    const out = frames(q)
    const blocked = out.filter((f) => f.type !== 'stream')
    expect(blocked).toEqual([{ type: 'stream_data_blocked', streamId: a, maximumStreamData: 1000 }, { type: 'stream_data_blocked', streamId: b, maximumStreamData: 1000 }])
    expect(out.filter((f) => f.type === 'stream').reduce((n, f) => n + (f as StreamFrame).data.length, 0)).toBe(2000)
    q.handleFrame({ type: 'max_stream_data', streamId: a, maximumStreamData: 5000 })
    const more = frames(q)
    expect(more.filter((f) => f.type === 'stream').reduce((n, f) => n + (f as StreamFrame).data.length, 0)).toBe(1000) // connection credit 3000 spent
    expect(more.filter((f) => f.type !== 'stream')).toEqual([{ type: 'data_blocked', maximumData: 3000 }])
    q.onFrameLost(blocked[0]!) // stream a is no longer blocked by its own limit
    q.onFrameLost(blocked[1]!) // stream b still is
    q.onFrameLost(more.find((f) => f.type === 'data_blocked')!)
    expect(frames(q)).toEqual([{ type: 'data_blocked', maximumData: 3000 }, blocked[1]])
  })
})

describe('sending: retransmission by range, FIN, resets', () => {
  test('a lost frame is resent by range, minus what was acknowledged since; frames fit the room given', () => {
    const q = server()
    const id = q.open(true)!
    q.write(id, bytes(0, 3000))
    q.finish(id)
    const sent = frames(q, 1000) as StreamFrame[]
    for (const f of sent) expect(frameSize(f)).toBeLessThanOrEqual(1000) // the packet layer's own size
    expect(sent.map((f) => [f.offset, f.data.length, f.fin])).toEqual([[0, 995], [995, 994], [1989, 994], [2983, 17, true]].map(([o, n, fin]) => [o, n, fin === true]))
    q.onFrameAcked(sent[0]!)
    q.onFrameAcked(sent[3]!)
    // frame 1 is lost; frame 2 is acknowledged before the loss is declared
    q.onFrameAcked(sent[2]!)
    q.onFrameLost(sent[1]!)
    q.onFrameLost(sent[2]!) // already acknowledged: nothing to resend
    const again = frames(q, 1000) as StreamFrame[]
    expect(again.map((f) => [f.offset, f.data.length, f.fin])).toEqual([[995, 994, false]])
    expect(again[0]!.data).toEqual(bytes(995, 994))
    expect(events(q)).toEqual([])
    q.onFrameAcked(again[0]!)
    expect(events(q)).toEqual([{ kind: 'finished', id }])
    expect(q.states(id)).toEqual({ send: 'data-recvd', recv: 'recv' })
  })

  test('a frame ends where its send-buffer chunk ends: data is a view, never a copy, and a lost range is cut the same way', () => {
    const q = server({}, { initialMaxStreamDataBidiRemote: 1 << 22 })
    const id = q.open(true)!
    // chunks: 16 KiB (first), 32 KiB, 64 KiB, then 128 KiB; writes of 10,000 bytes fill them back to back
    for (let o = 0; o < 120_000; o += 10_000) q.write(id, bytes(o, 10_000))
    const sent = frames(q, 65_000) as StreamFrame[]
    expect(sent.map((f) => [f.offset, f.data.length])).toEqual([[0, 16_384], [16_384, 32_768], [49_152, 64_990], [114_142, 546], [114_688, 5312]])
    let at = 0
    for (const f of sent) {
      expect(f.offset).toBe(at)
      expect(f.data).toEqual(bytes(at, f.data.length))
      at += f.data.length
    }
    // views: the chunk behind a frame is larger than the frame (a copy would own exactly its bytes)
    for (const f of sent) expect(f.data.buffer.byteLength).toBeGreaterThanOrEqual(f.data.length)
    expect(sent[0]!.data.buffer).not.toBe(sent[1]!.data.buffer)
    expect(sent[2]!.data.buffer).toBe(sent[3]!.data.buffer)
    expect(sent[3]!.data.buffer).not.toBe(sent[4]!.data.buffer)
    // frames 0 and 1 lost together: resent per chunk, within the room given
    q.onFrameLost(sent[0]!)
    q.onFrameLost(sent[1]!)
    const again = frames(q, 65_000) as StreamFrame[]
    expect(again.map((f) => [f.offset, f.data.length])).toEqual([[0, 16_384], [16_384, 32_768]])
    expect(again[1]!.data).toEqual(bytes(16_384, 32_768))
  })

  test('a lost FIN is resent (an empty STREAM frame when no data is left)', () => {
    const q = server()
    const id = q.open(false)!
    q.finish(id)
    const [fin] = frames(q)
    expect(fin).toEqual({ type: 'stream', streamId: id, offset: 0, data: new Uint8Array(0), fin: true })
    q.onFrameLost(fin!)
    expect(frames(q)).toEqual([fin])
    q.onFrameAcked(fin!)
    expect(events(q)).toEqual([{ kind: 'finished', id }, { kind: 'closed', id }])
  })

  test("the peer's STOP_SENDING resets our part with its code and the final size sent; the RESET_STREAM is resent until acknowledged", () => {
    const q = server()
    const id = q.open(false)!
    q.write(id, new Uint8Array(700))
    const data = frames(q)
    q.write(id, new Uint8Array(100))
    q.handleFrame({ type: 'stop_sending', streamId: id, errorCode: 77 })
    expect(events(q)).toEqual([{ kind: 'stop-sending', id, errorCode: 77 }])
    const reset = { type: 'reset_stream', streamId: id, errorCode: 77, finalSize: 700 }
    expect(frames(q)).toEqual([reset])
    q.onFrameLost(data[0]!) // data of a reset stream is never resent
    q.onFrameLost(reset as Frame)
    expect(frames(q)).toEqual([reset])
    expect(usageErrorCode(() => q.write(id, new Uint8Array(1)))).toBe('quic/stream-not-writable')
    q.onFrameAcked(reset as Frame)
    expect(events(q)).toEqual([{ kind: 'closed', id }])
  })

  test('streamSendBuffer: a write takes up to the limit, and acknowledgements bring a writable event', () => {
    const q = server({ streamSendBuffer: 1000 })
    const id = q.open(true)!
    expect(q.write(id, new Uint8Array(1000))).toBe(1000) // at the limit
    expect(q.write(id, new Uint8Array(1))).toBe(0) // past it
    const [f] = frames(q)
    expect(events(q)).toEqual([])
    q.onFrameAcked(f!)
    expect(events(q)).toEqual([{ kind: 'writable', id }])
    expect(q.write(id, new Uint8Array(1500))).toBe(1000)
  })
})

describe('receiving: reassembly, resets, STOP_SENDING, stream lifetimes', () => {
  test('out-of-order, overlapping and duplicate frames read back once, in order; one readable event until drained', () => {
    const q = server()
    q.handleFrame(stream(0, 50, 50))
    expect(events(q)).toEqual([{ kind: 'incoming', id: 0, bidirectional: true }])
    q.handleFrame(stream(0, 30, 40)) // overlaps
    q.handleFrame(stream(0, 0, 35))
    expect(events(q)).toEqual([{ kind: 'readable', id: 0 }])
    q.handleFrame(stream(0, 0, 100, true)) // duplicate of everything, with FIN
    expect(events(q)).toEqual([])
    expect(q.read(0, 60)).toEqual({ data: bytes(0, 60), fin: false })
    expect(q.read(0)).toEqual({ data: bytes(60, 40), fin: true })
    expect(q.states(0)).toEqual({ send: 'ready', recv: 'data-read' })
  })

  test("the peer's RESET_STREAM: a reset event, unread data dropped and its connection credit released", () => {
    const q = server({ initialConnectionWindow: 1000, initialStreamWindow: 1000 })
    q.handleFrame(stream(0, 0, 400))
    q.handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 9, finalSize: 600 })
    expect(events(q).slice(-1)).toEqual([{ kind: 'reset', id: 0, errorCode: 9 }])
    expect(usageErrorCode(() => q.read(0))).toBe('quic/stream-reset')
    expect(frames(q)).toEqual([{ type: 'max_data', maximumData: 1600 }])
    q.handleFrame(stream(0, 100, 100)) // late data: counted, dropped
  })

  test('a RESET_STREAM after all data arrived leaves the data readable (§3.2 optional transition not taken)', () => {
    const q = server()
    q.handleFrame(stream(0, 0, 10, true))
    q.handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 10 })
    expect(q.read(0)).toEqual({ data: bytes(0, 10), fin: true })
  })

  test('our STOP_SENDING: sent (and resent while lost), later data counted and dropped', () => {
    const q = server({ initialConnectionWindow: 1000, initialStreamWindow: 1000 })
    q.handleFrame(stream(0, 0, 300))
    q.stopSending(0, 5)
    const stop = { type: 'stop_sending', streamId: 0, errorCode: 5 }
    expect(frames(q)).toEqual([stop])
    q.onFrameLost(stop as Frame)
    expect(frames(q)).toEqual([stop])
    expect(usageErrorCode(() => q.read(0))).toBe('quic/stream-stopped')
    q.handleFrame(stream(0, 300, 300))
    expect(frames(q)).toEqual([{ type: 'max_data', maximumData: 1600 }])
    q.handleFrame({ type: 'reset_stream', streamId: 0, errorCode: 5, finalSize: 600 })
    expect(events(q).some((e) => e.kind === 'reset')).toBe(false) // the application asked for it
    q.onFrameLost(stop as Frame)
    expect(frames(q)).toEqual([])
  })

  test('closed peer streams raise MAX_STREAMS; their late frames are ignored', () => {
    const q = server({ maxIncomingUniStreams: 2 })
    q.handleFrame(stream(2, 0, 5, true))
    q.handleFrame(stream(6, 0, 5, true))
    expect(protocolErrorCode(() => q.handleFrame(stream(10, 0, 1)))).toBe('STREAM_LIMIT_ERROR')
    q.read(2)
    expect(frames(q)).toEqual([{ type: 'max_streams', bidirectional: false, maximumStreams: 3 }])
    q.handleFrame(stream(2, 0, 5, true)) // a late retransmission for a closed stream
    q.handleFrame({ type: 'reset_stream', streamId: 2, errorCode: 0, finalSize: 5 })
    expect(q.states(2)).toBeUndefined()
    q.handleFrame(stream(10, 0, 1)) // now allowed
    expect(events(q).filter((e) => e.kind === 'incoming').map((e) => (e as { id: number }).id)).toEqual([2, 6, 10])
  })

  test('opening past the peer limit: undefined, STREAMS_BLOCKED, then streams-available on a higher MAX_STREAMS (a lower one is ignored)', () => {
    const q = server({}, { initialMaxStreamsBidi: 1 })
    expect(q.open(true)).toBe(1)
    expect(q.open(true)).toBeUndefined()
    expect(frames(q)).toEqual([{ type: 'streams_blocked', bidirectional: true, maximumStreams: 1 }])
    q.handleFrame({ type: 'max_streams', bidirectional: true, maximumStreams: 0 })
    expect(events(q)).toEqual([])
    q.handleFrame({ type: 'max_streams', bidirectional: true, maximumStreams: 2 })
    expect(events(q)).toEqual([{ kind: 'streams-available', bidirectional: true }])
    expect(q.open(true)).toBe(5)
  })
})

describe('memory', () => {
  test('a peer scattering bytes across streams is stopped by the connection limit before reassembly allocates past it', () => {
    const conn = 256 * 1024
    const q = server({ initialConnectionWindow: conn, initialStreamWindow: 64 * 1024, maxIncomingBidiStreams: 100 })
    let code = 'no error'
    for (let i = 0; i < 100 && code === 'no error'; i++) {
      try {
        q.handleFrame(stream(4 * i, 64 * 1024 - 1, 1)) // one byte at the far end of each stream's window
      } catch (e) {
        code = (e as ProtocolError).code
      }
      expect(q.reassemblyBytes).toBeLessThanOrEqual(2 * conn)
    }
    expect(code).toBe('FLOW_CONTROL_ERROR')
  })

  test('a drained stream gives its large reassembly buffer back', () => {
    const q = server({ initialStreamWindow: 200_000, initialConnectionWindow: 200_000 })
    q.handleFrame(stream(0, 1000, 150_000))
    q.handleFrame(stream(0, 0, 1000))
    expect(q.reassemblyBytes).toBeGreaterThanOrEqual(151_000)
    expect(q.read(0).data.length).toBe(151_000)
    expect(q.reassemblyBytes).toBe(0)
  })
})

describe('local misuse and options', () => {
  test('UsageError codes', () => {
    const q = server()
    expect(usageErrorCode(() => q.write(0, new Uint8Array(1)))).toBe('quic/unknown-stream')
    q.handleFrame(stream(2, 0, 1))
    expect(usageErrorCode(() => q.write(2, new Uint8Array(1)))).toBe('quic/receive-only-stream')
    const uni = q.open(false)!
    expect(usageErrorCode(() => q.read(uni))).toBe('quic/send-only-stream')
    q.finish(uni)
    expect(usageErrorCode(() => q.write(uni, new Uint8Array(1)))).toBe('quic/stream-not-writable')
    expect(usageErrorCode(() => q.setPeerParameters(PEER))).toBe('quic/parameters-set')
    expect(() => q.reset(uni, -1)).toThrow(RangeError)
  })

  test('options are checked; defaults are the documented ones', () => {
    expect(() => new QuicStreams({ role: 'client', initialStreamWindow: 2, maxStreamWindow: 1 })).toThrow(RangeError)
    expect(() => new QuicStreams({ role: 'peer' as 'client' })).toThrow(TypeError)
    const p = new QuicStreams({ role: 'client' }).localParameters()
    expect(p).toEqual({
      initialMaxData: QUIC_STREAM_DEFAULTS.initialConnectionWindow,
      initialMaxStreamDataBidiLocal: QUIC_STREAM_DEFAULTS.initialStreamWindow,
      initialMaxStreamDataBidiRemote: QUIC_STREAM_DEFAULTS.initialStreamWindow,
      initialMaxStreamDataUni: QUIC_STREAM_DEFAULTS.initialStreamWindow,
      initialMaxStreamsBidi: QUIC_STREAM_DEFAULTS.maxIncomingBidiStreams,
      initialMaxStreamsUni: 0,
    })
  })

  test("the packet layer's decoded TransportParameters are accepted as they are", () => {
    const tp = decodeTransportParameters(encodeTransportParameters({ ...DEFAULT_TRANSPORT_PARAMETERS, ...PEER, initialMaxStreamsBidi: 3, initialSourceConnectionId: new Uint8Array(8).fill(1) }), 'client')
    const q = new QuicStreams({ role: 'server' })
    q.setPeerParameters(tp)
    expect([q.open(true), q.open(true), q.open(true), q.open(true)]).toEqual([1, 5, 9, undefined])
  })

  test('nothing is sent before the peer parameters arrive; then streams opened early get their credit', () => {
    const q = new QuicStreams({ role: 'client' })
    expect(q.open(true)).toBeUndefined()
    q.setPeerParameters(PEER)
    expect(events(q)).toEqual([{ kind: 'streams-available', bidirectional: true }])
    const id = q.open(true)!
    q.write(id, new Uint8Array(10))
    expect(frames(q)).toEqual([{ type: 'stream', streamId: id, offset: 0, data: new Uint8Array(10), fin: false }]) // no stale STREAMS_BLOCKED
  })
})
