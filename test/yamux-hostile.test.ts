// A hostile remote: raw frames against one yamux session. Remote input may only ever cause a
// ProtocolError, and memory stays within the configured bounds.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { CONTROL_QUEUE_LIMIT, YamuxSession, encodeFrame, readHeader, type YamuxEvent, type YamuxOptions } from '../src/yamux/index.js'

const f = (type: number, flags: number, streamId: number, length: number, payload?: Uint8Array): Uint8Array =>
  encodeFrame({ type, flags, streamId, length }, payload)
const SYN = 1
const ACK = 2
const FIN = 4
const RST = 8

function session(o: Partial<YamuxOptions> = {}): YamuxSession {
  return new YamuxSession({ keepAliveInterval: undefined, ...o, role: o.role ?? 'server' })
}

function frames(s: YamuxSession): { type: number; flags: number; streamId: number; length: number }[] {
  const out: ReturnType<typeof readHeader>[] = []
  for (let b = s.pollTransmit(1 << 20); b !== undefined; b = s.pollTransmit(1 << 20)) {
    for (let off = 0; off < b.length; ) {
      const h = readHeader(b, off)
      out.push(h)
      off += 12 + (h.type === 0 ? h.length : 0)
    }
  }
  return out.map(({ type, flags, streamId, length }) => ({ type, flags, streamId, length }))
}

function events(s: YamuxSession): YamuxEvent[] {
  const out: YamuxEvent[] = []
  for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) out.push(e)
  return out
}

function expectFatal(s: YamuxSession, input: Uint8Array, code: string): void {
  let err: unknown
  try {
    s.handleData(0, input)
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(ProtocolError)
  expect((err as ProtocolError).code).toBe(code)
  expect(frames(s)).toEqual([{ type: 3, flags: 0, streamId: 0, length: 1 }])
  expect(events(s).at(-1)).toMatchObject({ type: 'closed', error: { code } })
}

describe('window violations', () => {
  test('exactly the window is fine, one byte more is yamux/credits-exceeded', () => {
    const s = session()
    s.handleData(0, f(1, SYN, 1, 0))
    s.handleData(0, f(0, 0, 1, 262_144, new Uint8Array(262_144)))
    expect(s.streamStats(1)).toMatchObject({ recvCredit: 0, unconsumed: 262_144 })
    expectFatal(s, f(0, 0, 1, 1, new Uint8Array(1)), 'yamux/credits-exceeded')
  })

  test('after consume + Window Update the remote may send more; overshooting the new window is fatal', () => {
    const s = session()
    s.handleData(0, f(0, SYN, 1, 200_000, new Uint8Array(200_000)))
    s.accept(1)
    s.consume(1, 200_000)
    const out = frames(s)
    expect(out).toEqual([
      { type: 1, flags: 0, streamId: 1, length: 200_000 }, // control (Window Update) first
      { type: 1, flags: ACK, streamId: 1, length: 0 },
    ])
    s.handleData(0, f(0, 0, 1, 262_144, new Uint8Array(262_144)))
    expectFatal(s, f(0, 0, 1, 1, new Uint8Array(1)), 'yamux/credits-exceeded')
  })

  test('data after FIN in a pair context', () => {
    const s = session()
    s.handleData(0, f(0, SYN | FIN, 1, 3, new Uint8Array(3)))
    expect(events(s).map((e) => e.type)).toEqual(['stream-inbound', 'stream-data', 'stream-eof'])
    s.handleData(0, f(0, FIN, 1, 0)) // a repeated FIN or an empty Data frame is harmless
    s.handleData(0, f(1, 0, 1, 100)) // so is a Window Update
    expectFatal(s, f(0, 0, 1, 1, new Uint8Array(1)), 'yamux/data-after-fin')
  })
})

describe('floods', () => {
  test('SYN flood beyond the ACK backlog: RSTs, bounded state, reading stops while replies pile up', () => {
    const s = session()
    const N = 20_000
    const flood = new Uint8Array(N * 12)
    for (let i = 0; i < N; i++) flood.set(f(1, SYN, 2 * i + 1, 0), i * 12)
    // A driver that honours wantsData() feeds one 1200-byte chunk at a time and stops when told to.
    let off = 0
    let maxQueued = 0
    while (off < flood.length && s.wantsData()) {
      s.handleData(0, flood.subarray(off, off + 1200))
      off += 1200
      maxQueued = Math.max(maxQueued, s.queuedBytes)
    }
    expect(off).toBeLessThan(flood.length)
    expect(maxQueued).toBeLessThanOrEqual(CONTROL_QUEUE_LIMIT + 1200)
    expect(s.streamCount()).toBe(256)
    const evs = events(s)
    expect(evs.length).toBe(256)
    expect(evs.every((e) => e.type === 'stream-inbound')).toBe(true)
    const out = frames(s)
    expect(out.every((h) => h.type === 1 && h.flags === RST)).toBe(true)
    expect(out.length).toBe(off / 12 - 256)
    expect(s.wantsData()).toBe(true) // drained: reading resumes
    // Late frames on the refused streams are tolerated and ignored.
    s.handleData(0, f(0, 0, 257 * 2 + 1, 4, new Uint8Array(4)))
    expect(events(s)).toEqual([])
  })

  test('Ping flood: answered, but the reply queue is bounded by wantsData', () => {
    const s = session()
    const chunk = new Uint8Array(1000 * 12)
    for (let i = 0; i < 1000; i++) chunk.set(f(2, SYN, 0, i), i * 12)
    let fed = 0
    while (s.wantsData()) {
      s.handleData(0, chunk)
      fed++
    }
    expect(s.queuedBytes).toBeLessThanOrEqual(CONTROL_QUEUE_LIMIT + chunk.length)
    const out = frames(s)
    expect(out.length).toBe(fed * 1000)
    expect(out[999]).toEqual({ type: 2, flags: ACK, streamId: 0, length: 999 })
  })

  test('repeated Go Away is reported once; a Ping response we never asked for is ignored', () => {
    const s = session()
    s.handleData(0, f(3, 0, 0, 2))
    s.handleData(0, f(3, 0, 0, 0))
    s.handleData(0, f(2, ACK, 0, 77))
    expect(events(s)).toEqual([{ type: 'go-away', code: 2 }])
    // After the remote's Go Away, its new streams are refused.
    s.handleData(0, f(1, SYN, 1, 0))
    expect(frames(s)).toEqual([{ type: 1, flags: RST, streamId: 1, length: 0 }])
  })
})

describe('unknown and recently closed streams', () => {
  test('frames for our own streams after they ended are tolerated; for ids we never opened they are fatal', () => {
    const s = session({ role: 'client' })
    const id = s.openStream(0)
    s.reset(id)
    events(s)
    s.handleData(0, f(1, ACK, id, 1000))
    s.handleData(0, f(0, 0, id, 5, new Uint8Array(5)))
    expect(events(s)).toEqual([])
    expectFatal(s, f(0, 0, id + 2, 5, new Uint8Array(5)), 'yamux/unknown-stream')
  })

  test('events already queued for a stream are dropped when the application resets it', () => {
    const s = session()
    s.handleData(0, new Uint8Array([...f(0, SYN, 1, 2, new Uint8Array(2)), ...f(0, FIN, 1, 1, new Uint8Array(1))]))
    expect(s.pollEvent()).toEqual({ type: 'stream-inbound', id: 1 })
    s.reset(1)
    expect(events(s)).toEqual([{ type: 'stream-closed', id: 1 }])
  })
})

describe('garbage', () => {
  const opts = fc.record({ role: fc.constantFrom('client' as const, 'server' as const), ackBacklog: fc.integer({ min: 1, max: 8 }), maxStreams: fc.integer({ min: 1, max: 8 }) })

  function feed(o: Partial<YamuxOptions>, chunks: Uint8Array[], acceptSome: boolean): void {
    const s = session(o)
    for (const c of chunks) {
      try {
        s.handleData(0, c)
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e
        expect(e.protocol).toBe('yamux')
        expect(s.streamCount()).toBe(0)
        return
      }
      for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) {
        if (e.type === 'stream-inbound' && acceptSome) s.accept(e.id)
        if (e.type === 'stream-data' && acceptSome) s.consume(e.id, e.data.length)
      }
      expect(s.streamCount()).toBeLessThanOrEqual(o.maxStreams!)
      for (let id = 1; id < 64; id++) {
        const st = s.streamStats(id)
        if (st !== undefined) expect(st.recvCredit + st.unconsumed).toBeLessThanOrEqual(st.recvWindow)
      }
      while (s.pollTransmit(65519) !== undefined);
    }
  }

  test('random bytes cause ProtocolError or progress, nothing else', () => {
    fc.assert(
      fc.property(opts, fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), fc.boolean(), (o, chunks, a) => feed(o, chunks, a)),
      { numRuns: 500 },
    )
  })

  test('well-formed headers with random fields cause ProtocolError or progress, nothing else', () => {
    const frame = fc
      .record({
        type: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })),
        flags: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 0xffff })),
        streamId: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 0xffffffff })),
        length: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff })),
        version: fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
      })
      .map((h) => encodeFrame(h, h.type === 0 && h.length <= 40 ? new Uint8Array(h.length) : undefined))
    fc.assert(
      fc.property(opts, fc.array(frame, { maxLength: 30 }), fc.boolean(), (o, fs, a) => {
        // Re-chunk the frames at arbitrary points too.
        const all = new Uint8Array(fs.reduce((n, x) => n + x.length, 0))
        let off = 0
        for (const x of fs) {
          all.set(x, off)
          off += x.length
        }
        const cuts: Uint8Array[] = []
        for (let i = 0; i < all.length; i += 7 + (i % 13)) cuts.push(all.subarray(i, i + 7 + (i % 13)))
        feed(o, cuts, a)
      }),
      { numRuns: 500 },
    )
  })
})
