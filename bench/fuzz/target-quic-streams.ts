/**
 * QUIC streams target (src/quic/streams): a script of the peer's stream frames (STREAM with any
 * offset, length and FIN, RESET_STREAM, STOP_SENDING, MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, the
 * *_BLOCKED frames, on ids of every type, opened or not, near and past the limits), application
 * commands (open, write, finish, reset, stopSending, read) and the fate of the frames the layer sends
 * (acknowledged, lost, both), decoded from the input bytes (any bytes are a script). Checks after
 * every step: connection data received within the limit we advertised, new data sent within the
 * peer's; reassembly memory within about twice the connection window; at most the allowed peer
 * streams open; every frame sent fits the room it was given and encodes. A peer frame may only throw
 * a QuicProtocolError (the connection then ends, so the script stops); a command may only throw a
 * UsageError (the script misusing the API is not an escape).
 */
import { UsageError } from '../../src/core/errors.js'
import { QuicProtocolError } from '../../src/quic/errors.js'
import { encodeFrames, frameSize } from '../../src/quic/frames.js'
import { QuicStreams } from '../../src/quic/streams/index.js'
import type { Frame } from '../../src/quic/types.js'
import { check, count, type Target } from './engine.js'
import { mutate } from './mutate.js'
import type { Rand } from './rng.js'
import { Script } from './script.js'

const WINDOW = 2000
const CONN_WINDOW = 5000
const MAX_INCOMING = 3
const OPS = 10

const stats: Record<string, number> = {}

function generate(r: Rand): Uint8Array {
  const out: number[] = []
  const n = r.range(1, 150)
  for (let i = 0; i < n; i++) {
    out.push(r.int(OPS))
    for (let k = 0; k < 6; k++) out.push(r.int(256))
  }
  return r.int(4) === 0 ? mutate(r, Uint8Array.from(out)) : Uint8Array.from(out)
}

/** A stream id from one byte: mostly the peer's bidirectional streams within its limit, then its
 * unidirectional ones, then any type with an index up to 63 (ours, unopened, past every limit). */
function idOf(b: number): number {
  if (b < 160) return (b % MAX_INCOMING) * 4
  if (b < 200) return (b % MAX_INCOMING) * 4 + 2
  return ((b >> 2) % 16) * 4 + (b & 3)
}
/** A value near the interesting bounds: small, near the windows, or huge. */
function valueOf(s: Script): number {
  const sel = s.u8()
  const v = s.u16()
  if (sel < 160) return v % (WINDOW + 64)
  if (sel < 230) return v % (CONN_WINDOW * 4)
  if (sel < 250) return v * 65536 + s.u16()
  return [2 ** 60, 2 ** 60 + 256, 2 ** 53 - 1, 0][sel & 3]!
}

function peerFrame(op: number, s: Script): Frame {
  const id = idOf(s.u8())
  switch (op) {
    case 0: {
      const o = s.u8()
      const offset = o < 100 ? 0 : o < 180 ? (o - 100) * 16 : valueOf(s) // mostly near the start, so data lines up and is read
      const l = s.u8()
      const len = l < 128 ? l % 8 : (l - 128) * 8 // short frames make gaps (maxStreamFragments)
      return { type: 'stream', streamId: id, offset, data: new Uint8Array(len).fill(7), fin: (s.u8() & 1) === 1 }
    }
    case 1: return { type: 'reset_stream', streamId: id, errorCode: s.u8(), finalSize: valueOf(s) }
    case 2: return { type: 'stop_sending', streamId: id, errorCode: s.u8() }
    case 3: return { type: 'max_stream_data', streamId: id, maximumStreamData: valueOf(s) }
    case 4: {
      const sel = s.u8() % 5
      const v = valueOf(s)
      if (sel === 0) return { type: 'max_data', maximumData: v }
      if (sel === 1) return { type: 'max_streams', bidirectional: (id & 1) === 0, maximumStreams: v }
      if (sel === 2) return { type: 'data_blocked', maximumData: v }
      if (sel === 3) return { type: 'streams_blocked', bidirectional: (id & 1) === 0, maximumStreams: v }
      return { type: 'stream_data_blocked', streamId: id, maximumStreamData: v }
    }
    default: return { type: 'ping' }
  }
}

function command(q: QuicStreams, op: number, s: Script, opened: number[]): void {
  const sel = s.u8()
  const id = opened.length > 0 && sel < 100 ? opened[sel % opened.length]! : idOf(s.u8())
  try {
    switch (op) {
      case 5: {
        const got = q.open((sel & 1) === 0)
        if (got !== undefined) opened.push(got)
        count(stats, got === undefined ? 'open-blocked' : 'open')
        break
      }
      case 6: count(stats, `write-${q.write(id, new Uint8Array(s.u16() % 6000)) > 0 ? 'taken' : 'none'}`); break
      case 7: {
        const k = s.u8() % 3
        if (k === 0) q.finish(id)
        else if (k === 1) q.reset(id, s.u8())
        else q.stopSending(id, s.u8())
        break
      }
      default: {
        const { data, fin } = q.read(id, 1 + s.u16())
        count(stats, fin ? 'read-fin' : data.length > 0 ? 'read-data' : 'read-empty')
      }
    }
  } catch (e) {
    check(e instanceof UsageError, `a command threw ${String(e)}`)
    count(stats, `usage-${e.code}`)
  }
}

function run(input: Uint8Array): void {
  const s = new Script(input)
  const q = new QuicStreams({ role: 'server', initialStreamWindow: WINDOW, maxStreamWindow: WINDOW * 4, initialConnectionWindow: CONN_WINDOW, maxConnectionWindow: CONN_WINDOW * 4, maxIncomingBidiStreams: MAX_INCOMING, maxIncomingUniStreams: MAX_INCOMING, streamSendBuffer: 4000, maxStreamFragments: 16 })
  q.setPeerParameters({ initialMaxData: 3000, initialMaxStreamDataBidiLocal: 1500, initialMaxStreamDataBidiRemote: 1500, initialMaxStreamDataUni: 1500, initialMaxStreamsBidi: 2, initialMaxStreamsUni: 2 })
  const opened: number[] = []
  const inFlight: Frame[] = []
  let now = 0
  while (!s.done) {
    const op = s.u8() % OPS
    now += s.u8()
    q.setClock(now, s.u8() % 50)
    if (op <= 4) {
      try {
        q.handleFrame(peerFrame(op, s))
        count(stats, `frame-${op}-ok`)
      } catch (e) {
        check(e instanceof QuicProtocolError, `a peer frame threw ${String(e)}`)
        check(e.transportCode > 0 && e.frameType > 0, `${e.code} without its transport code or frame type`)
        count(stats, `frame-${e.code}`)
        return // the connection closes
      }
    } else if (op <= 8) {
      command(q, op, s, opened)
    } else {
      const room = 20 + s.u8() * 6
      for (let k = 0; k < 32; k++) {
        const f = q.pollFrame(room)
        if (f === undefined) break
        check(frameSize(f) <= room, `a ${f.type} frame of ${frameSize(f)} bytes for ${room} bytes of room`)
        encodeFrames([f])
        inFlight.push(f)
        count(stats, `sent-${f.type}`)
      }
      const fates = s.u8()
      for (let k = 0; inFlight.length > 0 && k < 8; k++) {
        const f = inFlight.splice((fates + k) % inFlight.length, 1)[0]!
        const fate = (fates >> (k % 4)) & 3
        if (fate !== 1) q.onFrameLost(f)
        if (fate !== 0) q.onFrameAcked(f)
      }
    }
    const flow = q.connectionFlow
    check(flow.received <= flow.receiveLimit, `received ${flow.received} past our limit ${flow.receiveLimit}`)
    check(flow.sent <= flow.sendLimit, `sent ${flow.sent} past the peer's limit ${flow.sendLimit}`)
    check(q.reassemblyBytes <= 2 * flow.receiveLimit + 4096 * q.streamCount, `reassembly holds ${q.reassemblyBytes} bytes`)
    check(q.streamCount <= 2 * MAX_INCOMING + opened.length, `${q.streamCount} streams`)
  }
}

export const quicStreamsTarget: Target = {
  name: 'quic-streams',
  stats,
  generate,
  run,
}
