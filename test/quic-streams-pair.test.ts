// Two QuicStreams wired frame to frame in memory, with loss, reordering, duplication and spurious
// loss declarations injected (fast-check): every byte is delivered exactly once and in order, no
// peer ever sends past the limits the other advertised, and no side ever raises an error.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { QuicStreams, type QuicStreamsOptions } from '../src/quic/streams/index.js'
import { decodeFrames, encodeFrames, frameSize } from '../src/quic/frames.js'
import type { Frame } from '../src/quic/types.js'
import { prng } from './helpers/prng.js'

interface Net {
  loss: number
  dup: number
  spurious: number
  /** Share of the in-flight frames delivered per round (the rest wait: reordering). */
  deliver: number
  /** Frames dropped without telling the sender (a broken loss detector): only to show the check can fail. */
  silent?: number
}

interface Side {
  name: 'a' | 'b'
  q: QuicStreams
  /** Payloads still to write, per stream, with how much was written. */
  out: Map<number, { data: Uint8Array, at: number, finished: boolean, stopped?: number }>
  /** Bytes read per stream, whether FIN was read, the peer's reset code, whether we stopped reading. */
  got: Map<number, { parts: Uint8Array[], fin: boolean, reset?: number, stopped?: boolean }>
  /** Streams to open when the peer's limit allows: [bidirectional, payload, abort plan]. */
  toOpen: Array<[boolean, Uint8Array, Abort]>
  /** Everything this side expects to receive: stream id -> payload (filled as streams are known). */
  sentPayloads: Map<number, Uint8Array>
  /** Largest stream limit and connection limit this side ever advertised, by stream id. */
  advertised: Map<number, number>
  advertisedConn: number
  /** Highest end offset sent per stream, for the connection sum. */
  highestSent: Map<number, number>
  finished: Set<number>
  seen: { resets: number, stops: number }
}

/** How a stream ends: normally, the writer resets it halfway (code 42), or the reader stops it halfway (code 43). */
type Abort = 0 | 1 | 2
/** Abort plans by stream id, shared by both sides (ids are unique per connection). */
type Plans = Map<number, Abort>

const payloadFor = (seed: number, n: number): Uint8Array => {
  const r = prng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256)
  return out
}

function side(name: 'a' | 'b', o: QuicStreamsOptions): Side {
  const q = new QuicStreams(o)
  return { name, q, out: new Map(), got: new Map(), toOpen: [], sentPayloads: new Map(), advertised: new Map(), advertisedConn: q.localParameters().initialMaxData, highestSent: new Map(), finished: new Set(), seen: { resets: 0, stops: 0 } }
}

/** Application behaviour: open what is allowed, write what fits, read everything, answer each incoming bidi stream. */
function app(s: Side, rnd: () => number, responseSize: (id: number) => number, plans: Plans): void {
  while (s.toOpen.length > 0 && s.q.canOpen(s.toOpen[0]![0])) {
    const [bidi, data, abort] = s.toOpen.shift()!
    const id = s.q.open(bidi)!
    s.out.set(id, { data, at: 0, finished: false })
    s.sentPayloads.set(id, data)
    plans.set(id, abort)
  }
  for (let ev = s.q.pollEvent(); ev !== undefined; ev = s.q.pollEvent()) {
    if (ev.kind === 'incoming') {
      s.got.set(ev.id, { parts: [], fin: false })
      if (ev.bidirectional) {
        const data = payloadFor(ev.id * 7 + 1, responseSize(ev.id))
        s.out.set(ev.id, { data, at: 0, finished: false })
        s.sentPayloads.set(ev.id, data)
      }
    } else if (ev.kind === 'readable') {
      if (!s.got.has(ev.id)) s.got.set(ev.id, { parts: [], fin: false })
    } else if (ev.kind === 'finished') {
      s.finished.add(ev.id)
    } else if (ev.kind === 'reset') {
      s.seen.resets++
      expect([plans.get(ev.id), ev.errorCode], `reset of ${ev.id}`).toEqual([1, 42])
      const g = s.got.get(ev.id) ?? { parts: [], fin: false }
      s.got.set(ev.id, { ...g, reset: ev.errorCode })
    } else if (ev.kind === 'stop-sending') {
      s.seen.stops++
      expect([plans.get(ev.id), ev.errorCode], `STOP_SENDING of ${ev.id}`).toEqual([2, 43])
      s.out.get(ev.id)!.stopped = ev.errorCode
      s.out.get(ev.id)!.finished = true
    }
  }
  for (const [id, g] of s.got) {
    if (g.fin || g.reset !== undefined || g.stopped === true || s.q.states(id)?.recv === undefined) continue
    if (plans.get(id) === 2 && g.parts.reduce((n, p) => n + p.length, 0) >= 1) {
      s.q.stopSending(id, 43) // the reader gives up after its first bytes
      g.stopped = true
      continue
    }
    for (;;) {
      const { data, fin } = s.q.read(id, 1 + Math.floor(rnd() * 3000))
      if (data.length > 0) g.parts.push(data)
      if (fin) g.fin = true
      if (data.length === 0 || fin) break
    }
  }
  for (const [id, w] of s.out) {
    if (w.finished) continue
    if (plans.get(id) === 1 && w.at >= w.data.length / 2) {
      s.q.reset(id, 42) // the writer gives up halfway
      w.finished = true
      continue
    }
    if (w.at < w.data.length) w.at += s.q.write(id, w.data.subarray(w.at, Math.min(w.data.length, w.at + 1 + Math.floor(rnd() * 5000))))
    if (w.at === w.data.length) {
      s.q.finish(id)
      w.finished = true
    }
  }
}

/** Check a frame against what its receiver advertised (an independent model of flow control). */
function checkLimits(from: Side, to: Side, f: Frame): void {
  if (f.type === 'max_stream_data') from.advertised.set(f.streamId, Math.max(from.advertised.get(f.streamId) ?? 0, f.maximumStreamData))
  if (f.type === 'max_data') from.advertisedConn = Math.max(from.advertisedConn, f.maximumData)
  if (f.type !== 'stream' && f.type !== 'reset_stream') return
  const end = f.type === 'stream' ? f.offset + f.data.length : f.finalSize
  const limit = to.advertised.get(f.streamId) ?? to.q.localParameters().initialMaxStreamDataBidiLocal
  if (end > limit) throw new Error(`stream ${f.streamId}: data to ${end} past its advertised limit ${limit}`)
  from.highestSent.set(f.streamId, Math.max(from.highestSent.get(f.streamId) ?? 0, end))
  let sum = 0
  for (const v of from.highestSent.values()) sum += v
  if (sum > to.advertisedConn) throw new Error(`connection data ${sum} past MAX_DATA ${to.advertisedConn}`)
}

interface Scenario {
  seed: number
  net: Net
  window: number
  connWindow: number
  sendBuffer: number
  maxIncoming: number
  frameRoom: number
  streams: Array<[boolean, number, Abort?]> // per stream the client opens: bidirectional, payload size, abort plan
  serverStreams: Array<[boolean, number, Abort?]>
}

/** Runs a scenario; returns how many reset and STOP_SENDING events the applications saw. */
function run(sc: Scenario): { resets: number, stops: number } {
  const rnd = prng(sc.seed)
  const opts = (role: 'client' | 'server'): QuicStreamsOptions => ({
    role, initialStreamWindow: sc.window, maxStreamWindow: sc.window * 4, initialConnectionWindow: sc.connWindow,
    maxConnectionWindow: sc.connWindow * 4, streamSendBuffer: sc.sendBuffer, maxIncomingBidiStreams: sc.maxIncoming, maxIncomingUniStreams: sc.maxIncoming,
  })
  const a = side('a', opts('client'))
  const b = side('b', opts('server'))
  a.q.setPeerParameters(b.q.localParameters())
  b.q.setPeerParameters(a.q.localParameters())
  sc.streams.forEach(([bidi, n, abort], i) => a.toOpen.push([bidi, payloadFor(sc.seed + i, n), abort ?? 0]))
  sc.serverStreams.forEach(([bidi, n, abort], i) => b.toOpen.push([bidi, payloadFor(sc.seed + 1000 + i, n), abort ?? 0]))
  const plans: Plans = new Map()
  const responseSize = (id: number): number => (id * 131) % 7000
  let inflight: Array<{ from: Side, to: Side, f: Frame }> = []
  let now = 0
  let rounds = -1
  for (let round = 0; round < 6000; round++) {
    now += 1
    // After many rounds the network heals, so every run ends; before, it drops, duplicates and reorders.
    const net = round < 2000 ? sc.net : { loss: 0, dup: 0, spurious: 0, deliver: 1 }
    for (const s of [a, b]) {
      s.q.setClock(now, 5)
      app(s, rnd, responseSize, plans)
      for (let k = 0; k < 64; k++) {
        const f = s.q.pollFrame(sc.frameRoom)
        if (f === undefined) break
        const to = s === a ? b : a
        checkLimits(s, to, f)
        if (frameSize(f) > sc.frameRoom) throw new Error(`a frame of ${frameSize(f)} bytes for ${sc.frameRoom} bytes of room`)
        // through the packet layer's codec, as the connection core will: what arrives is what decodes
        const [wire] = decodeFrames(encodeFrames([f]), '1rtt', { receiver: to === a ? 'client' : 'server' })
        inflight.push({ from: s, to, f: wire! })
      }
    }
    const keep: typeof inflight = []
    const order = inflight.map((x) => ({ x, k: rnd() })).sort((p, q) => p.k - q.k).map((p) => p.x)
    for (const m of order) {
      if (rnd() > net.deliver) {
        keep.push(m)
        continue
      }
      if (net.silent !== undefined && rnd() < net.silent) continue
      if (rnd() < net.loss) {
        m.from.q.onFrameLost(m.f)
        continue
      }
      m.to.q.handleFrame(m.f)
      if (rnd() < net.dup) keep.push({ ...m, f: { ...m.f } })
      if (rnd() < net.spurious) m.from.q.onFrameLost(m.f) // declared lost, then its ACK arrives late
      m.from.q.onFrameAcked(m.f)
    }
    inflight = keep
    const ended = (g: Side['got'] extends Map<number, infer G> ? G | undefined : never): boolean => g !== undefined && (g.fin || g.reset !== undefined || g.stopped === true)
    const done = (s: Side, peer: Side): boolean => s.toOpen.length === 0 && [...peer.sentPayloads.keys()].every((id) => ended(s.got.get(id)))
    if (done(a, b) && done(b, a) && inflight.length === 0 && a.q.streamCount === 0 && b.q.streamCount === 0) {
      rounds = round
      break
    }
  }
  expect(rounds, 'the transfer completed within the rounds allowed').toBeGreaterThanOrEqual(0)
  for (const [s, peer] of [[a, b], [b, a]] as const) {
    expect(s.toOpen.length, `${s.name} could open all its streams`).toBe(0)
    for (const [id, payload] of peer.sentPayloads) {
      const g = s.got.get(id)
      const plan = plans.get(id) ?? 0
      const got = concat(g?.parts ?? [])
      if (plan === 0) {
        expect(g?.fin, `${s.name} read stream ${id} to its end`).toBe(true)
        expect(sameBytes(got, payload), `${s.name} stream ${id}: the bytes written, once each, in order`).toBe(true)
      } else {
        // an aborted stream delivers a prefix of what was written, once each, in order
        expect(g !== undefined && (g.fin || g.reset !== undefined || g.stopped === true), `${s.name} stream ${id} ended`).toBe(true)
        expect(sameBytes(got, payload.subarray(0, got.length)), `${s.name} stream ${id}: a prefix of the bytes written`).toBe(true)
      }
    }
    for (const id of s.sentPayloads.keys()) {
      const plan = plans.get(id) ?? 0
      if (plan === 0) expect(s.finished.has(id), `${s.name} stream ${id} acknowledged`).toBe(true)
    }
    expect(s.q.streamCount, `${s.name} forgot every stream`).toBe(0)
  }
  return { resets: a.seen.resets + b.seen.resets, stops: a.seen.stops + b.seen.stops }
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i])
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

describe('QuicStreams pair over a lossy, reordering, duplicating link', () => {
  test('a clean link delivers many streams both ways', () => {
    run({
      seed: 1, net: { loss: 0, dup: 0, spurious: 0, deliver: 1 }, window: 4096, connWindow: 8192, sendBuffer: 10_000,
      maxIncoming: 3, frameRoom: 1200, streams: [[true, 20_000], [true, 0], [false, 5000], [true, 1], [true, 70_000]], serverStreams: [[true, 3000], [false, 10]],
    })
  })

  test('streams reset by their writer or stopped by their reader, over a lossy link: prefixes delivered, everything freed', () => {
    const seen = run({
      seed: 5, net: { loss: 0.2, dup: 0.1, spurious: 0.1, deliver: 0.6 }, window: 3000, connWindow: 6000, sendBuffer: 5000,
      maxIncoming: 2, frameRoom: 700, streams: [[true, 20_000, 1], [true, 20_000, 2], [false, 9000, 1], [false, 9000, 2], [true, 5000, 0]], serverStreams: [[true, 8000, 2]],
    })
    expect(seen.resets).toBeGreaterThanOrEqual(3)
    expect(seen.stops).toBeGreaterThanOrEqual(3)
  })

  test('the check fails when frames vanish without a loss report (the harness can fail)', () => {
    expect(() => run({
      seed: 2, net: { loss: 0, dup: 0, spurious: 0, deliver: 1, silent: 0.05 }, window: 4096, connWindow: 8192, sendBuffer: 10_000,
      maxIncoming: 3, frameRoom: 1200, streams: [[true, 20_000], [false, 5000]], serverStreams: [],
    })).toThrow(/completed|read stream/)
  })

  test('every byte exactly once, in order, within flow control (fast-check)', () => {
    const stream = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30_000 }), fc.constantFrom<Abort>(0, 0, 1, 2))
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
          net: fc.record({
            loss: fc.double({ min: 0, max: 0.4, noNaN: true }),
            dup: fc.double({ min: 0, max: 0.3, noNaN: true }),
            spurious: fc.double({ min: 0, max: 0.2, noNaN: true }),
            deliver: fc.double({ min: 0.2, max: 1, noNaN: true }),
          }),
          window: fc.integer({ min: 100, max: 20_000 }),
          connWindow: fc.integer({ min: 100, max: 50_000 }),
          sendBuffer: fc.integer({ min: 300, max: 40_000 }),
          maxIncoming: fc.integer({ min: 1, max: 4 }),
          frameRoom: fc.integer({ min: 40, max: 1500 }),
          streams: fc.array(stream, { maxLength: 6 }),
          serverStreams: fc.array(stream, { maxLength: 3 }),
        }),
        (sc) => {
          run(sc)
        },
      ),
      { numRuns: 150 },
    )
  }, 120_000)
})
