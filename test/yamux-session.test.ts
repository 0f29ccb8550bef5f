// Two yamux sessions against each other on a virtual clock.
import { describe, expect, test } from 'vitest'
import { equals } from '../src/core/bytes.js'
import { UsageError } from '../src/core/errors.js'
import { INITIAL_STREAM_WINDOW, YamuxSession, encodeFrame, readHeader, type StreamId } from '../src/yamux/index.js'
import { Pair, prng, type Chunking, type Side } from './yamux-pair.js'

function pattern(seed: number, n: number): Uint8Array {
  const r = prng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (r() * 256) | 0
  return out
}

/** Write all of `data` on `id`, continuing on 'stream-writable'; optionally FIN at the end. */
function writeAll(side: Side, id: StreamId, data: Uint8Array, fin = true): { done: () => boolean } {
  let off = 0
  const pump = (): void => {
    while (off < data.length) {
      const n = side.session.write(id, data.subarray(off))
      off += n
      if (n === 0) return
    }
    if (fin) side.session.closeWrite(id)
  }
  const prev = side.onEvent
  side.onEvent = (ev, s) => {
    prev?.(ev, s)
    if (ev.type === 'stream-writable' && ev.id === id && off < data.length) pump()
  }
  pump()
  return { done: () => off === data.length }
}

describe('streams', () => {
  test('open, exchange data both ways, half-close both ways', () => {
    const p = new Pair({ latency: 5 })
    const id = p.client.session.openStream(p.now)
    expect(id).toBe(1)
    expect(p.client.session.openStream(p.now)).toBe(3)
    const up = pattern(1, 700_000)
    const down = pattern(2, 500_000)
    writeAll(p.client, id, up)
    p.server.onEvent = (ev) => {
      if (ev.type === 'stream-inbound' && ev.id === id) writeAll(p.server, id, down)
    }
    p.drive()
    expect(equals(p.server.dataOf(id), up)).toBe(true)
    expect(equals(p.client.dataOf(id), down)).toBe(true)
    expect(p.client.eof.has(id) && p.server.eof.has(id)).toBe(true)
    expect(p.client.closedStreams.has(id) && p.server.closedStreams.has(id)).toBe(true)
    expect(p.client.log.filter((e) => e.type === 'stream-opened').map((e) => (e as { id: number }).id)).toEqual([1, 3])
    expect(p.client.session.streamCount()).toBe(1) // stream 3 is still open
    expect(p.server.inbound).toEqual([1, 3])
  })

  test('server streams use even ids; writing before the ACK is allowed', () => {
    const p = new Pair()
    const id = p.server.session.openStream(0)
    expect(id).toBe(2)
    expect(p.server.session.write(id, new Uint8Array([1, 2, 3]))).toBe(3)
    p.drive()
    expect(p.client.dataOf(2)).toEqual(new Uint8Array([1, 2, 3]))
  })

  test('a Window Update with SYN adds to the initial 256 KiB window', () => {
    const p = new Pair({ client: { initialWindow: 1024 * 1024 } })
    const id = p.client.session.openStream(0)
    p.drive()
    expect(p.server.session.streamStats(id)?.sendCredit).toBe(1024 * 1024)
    expect(p.client.session.streamStats(id)?.sendCredit).toBe(INITIAL_STREAM_WINDOW)
    expect(p.client.session.streamStats(id)?.recvWindow).toBe(1024 * 1024)
    // The server can fill the whole 1 MiB without any further Window Update.
    p.client.autoConsume = false
    expect(p.server.session.write(id, new Uint8Array(2 * 1024 * 1024))).toBe(1024 * 1024)
    p.drive()
    expect(p.client.unconsumed(id)).toBe(1024 * 1024)
  })

  test('backpressure: an unread stream stops the writer at the window and memory stays bounded', () => {
    const p = new Pair({ latency: 3 })
    p.server.autoConsume = false
    const id = p.client.session.openStream(0)
    const data = pattern(3, 1_000_000)
    const w = writeAll(p.client, id, data)
    p.drive()
    expect(w.done()).toBe(false)
    expect(p.server.unconsumed(id)).toBe(INITIAL_STREAM_WINDOW)
    expect(p.client.session.streamStats(id)?.sendCredit).toBe(0)
    expect(p.client.session.queuedBytes).toBe(0)
    p.advance(10_000)
    expect(p.server.unconsumed(id)).toBe(INITIAL_STREAM_WINDOW) // nothing moves while nobody reads
    // Consuming less than half the window sends no Window Update yet.
    p.server.session.consume(id, 1000)
    p.drive()
    expect(p.client.session.streamStats(id)?.sendCredit).toBe(0)
    p.server.autoConsume = true
    p.server.consumeAll()
    p.drive()
    expect(w.done()).toBe(true)
    expect(equals(p.server.dataOf(id), data)).toBe(true)
    expect(p.client.log.some((e) => e.type === 'stream-writable')).toBe(true)
  })

  test('reset: the remote sees stream-reset; late frames on the reset stream are tolerated', () => {
    const p = new Pair({ latency: 10 })
    const id = p.client.session.openStream(0)
    p.drive()
    // Both sides act before seeing each other's frames: server writes, client resets.
    p.server.session.write(id, new Uint8Array(1000))
    p.client.session.reset(id)
    p.drive()
    expect(p.server.resets.has(id)).toBe(true)
    expect(p.server.closedStreams.has(id)).toBe(true)
    expect(p.client.closedStreams.has(id)).toBe(true)
    expect(p.client.error).toBeUndefined()
    expect(p.server.error).toBeUndefined()
    expect(() => p.server.session.write(id, new Uint8Array(1))).toThrow(/yamux\/stream-closed/)
    p.server.session.reset(id) // no-op on an ended stream
    p.server.session.consume(id, 0)
    expect(p.client.session.streamCount() + p.server.session.streamCount()).toBe(0)
  })

  test('rejecting an inbound stream with reset', () => {
    const p = new Pair()
    p.server.autoAccept = false
    p.server.onEvent = (ev, s) => {
      if (ev.type === 'stream-inbound') s.session.reset(ev.id)
    }
    const id = p.client.session.openStream(0)
    p.client.session.write(id, new Uint8Array(10))
    p.drive()
    expect(p.client.resets.has(id)).toBe(true)
    expect(p.client.log.some((e) => e.type === 'stream-opened')).toBe(false)
  })

  test('command misuse throws UsageError or RangeError', () => {
    const p = new Pair()
    const c = p.client.session
    expect(() => c.write(5, new Uint8Array(1))).toThrow(UsageError)
    expect(() => c.accept(2)).toThrow(/yamux\/unknown-stream/)
    const id = c.openStream(0)
    expect(() => c.accept(id)).toThrow(/yamux\/already-accepted/)
    expect(() => c.consume(id, 1)).toThrow(RangeError)
    expect(() => c.consume(id, -1)).toThrow(RangeError)
    c.closeWrite(id)
    c.closeWrite(id) // idempotent
    expect(() => c.write(id, new Uint8Array(1))).toThrow(/yamux\/write-after-close/)
    expect(() => c.write(0, new Uint8Array(1))).toThrow(RangeError)
    expect(() => new YamuxSession({ role: 'client', initialWindow: 1000 })).toThrow(RangeError)
    expect(() => new YamuxSession({ role: 'x' as 'client' })).toThrow(TypeError)
    expect(() => c.pollTransmit(0)).toThrow(RangeError)
  })

  test('maxStreams: openStream throws at the limit, inbound beyond it is refused with RST', () => {
    const p = new Pair({ client: { maxStreams: 3 }, server: { maxStreams: 2 } })
    const c = p.client.session
    const ids = [c.openStream(0), c.openStream(0), c.openStream(0)]
    expect(() => c.openStream(0)).toThrow(/yamux\/too-many-streams/)
    p.drive()
    expect(p.server.session.streamCount()).toBe(2)
    expect([...p.client.resets]).toEqual([ids[2]])
    expect(c.streamCount()).toBe(2)
    expect(c.openStream(0)).toBe(7) // room again after the reset
  })

  test('outbound ACK backlog: at most ackBacklog streams await their ACK', () => {
    const p = new Pair()
    p.server.autoAccept = false
    const c = p.client.session
    for (let i = 0; i < 256; i++) c.openStream(0)
    expect(() => c.openStream(0)).toThrow(/yamux\/ack-backlog-full/)
    p.drive()
    expect(p.server.inbound.length).toBe(256)
    p.server.session.accept(p.server.inbound[0]!)
    p.drive()
    expect(p.client.log.filter((e) => e.type === 'stream-opened').length).toBe(1)
    expect(c.openStream(0)).toBe(513)
  })

  test('sendQueueLimit caps what write() takes until the queue drains', () => {
    const p = new Pair({ client: { sendQueueLimit: 100_000 }, server: { initialWindow: 4 * 1024 * 1024, maxWindow: 4 * 1024 * 1024 } })
    const id = p.client.session.openStream(0)
    p.drive()
    const n = p.client.session.write(id, new Uint8Array(1_000_000))
    expect(n).toBeLessThanOrEqual(100_000)
    expect(n).toBeGreaterThan(90_000)
    p.flush()
    expect(p.client.log.at(-1)).toEqual({ type: 'stream-writable', id })
  })
})

describe('transmit coalescing', () => {
  test('small frames are concatenated up to max; a full-size frame goes out alone; tiny max splits', () => {
    const s = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
    for (let i = 0; i < 10; i++) s.openStream(0)
    const out = s.pollTransmit(65519)!
    expect(out.length).toBe(120)
    expect(s.pollTransmit(65519)).toBeUndefined()
    s.write(1, new Uint8Array(65507 * 2 + 5))
    expect(s.pollTransmit(65519)!.length).toBe(65519)
    expect(s.pollTransmit(65519)!.length).toBe(65519)
    expect(s.pollTransmit(65519)!.length).toBe(17)
    s.write(3, pattern(9, 100))
    s.ping(0)
    const parts: Uint8Array[] = []
    for (let o = s.pollTransmit(7); o !== undefined; o = s.pollTransmit(7)) parts.push(o)
    expect(parts.every((x) => x.length <= 7)).toBe(true)
    const all = Uint8Array.from(parts.flatMap((x) => [...x]))
    expect(all.length).toBe(12 + 12 + 100)
    expect(readHeader(all, 0).type).toBe(2) // the Ping (control) overtook the queued Data
    expect(readHeader(all, 12)).toMatchObject({ type: 0, streamId: 3, length: 100 })
    expect(all.subarray(24)).toEqual(pattern(9, 100))
  })
})

test('handleOwnedData gives the same events as handleData, as views of the handed-over input', () => {
  const client = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
  const id = client.openStream(0)
  client.write(id, pattern(3, 70_000))
  client.closeWrite(id)
  const wire: number[] = []
  for (let o = client.pollTransmit(65519); o !== undefined; o = client.pollTransmit(65519)) wire.push(...o)
  const input = Uint8Array.from(wire)
  const events = (owned: boolean): { type: string; data?: Uint8Array }[] => {
    const server = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    // two chunks, the cut inside a frame's payload
    const a = input.slice(0, 40_000)
    const b = input.slice(40_000)
    if (owned) {
      server.handleOwnedData(0, a)
      server.handleOwnedData(0, b)
    } else {
      server.handleData(0, a)
      server.handleData(0, b)
    }
    const out: { type: string; data?: Uint8Array }[] = []
    for (let ev = server.pollEvent(); ev !== undefined; ev = server.pollEvent()) {
      if (ev.type === 'stream-data') {
        const sameMemory = ev.data.buffer === a.buffer || ev.data.buffer === b.buffer
        expect(sameMemory).toBe(owned) // copies unless the input was handed over
      }
      out.push(ev.type === 'stream-data' ? { type: ev.type, data: ev.data.slice() } : { type: ev.type })
    }
    return out
  }
  const copied = events(false)
  expect(copied.filter((e) => e.type === 'stream-data').length).toBeGreaterThan(1)
  expect(events(true)).toEqual(copied)
})

test('returned bytes stay the caller\'s: later writes never touch them', () => {
  const s = new YamuxSession({ role: 'client', keepAliveInterval: undefined, maxFrameSize: 1000 })
  const id = s.openStream(0)
  s.pollTransmit(65519)
  const outs: [Uint8Array, Uint8Array][] = []
  for (let i = 0; i < 200; i++) {
    s.write(id, pattern(i, 1000 + i * 37))
    for (let o = s.pollTransmit(3000); o !== undefined; o = s.pollTransmit(3000)) outs.push([o, o.slice()])
  }
  expect(outs.length).toBeGreaterThan(100)
  for (const [view, copy] of outs) expect(equals(view, copy)).toBe(true)
  // Frames written back to back come out as one piece (adjacent in memory, no copy needed).
  const id2 = s.openStream(0)
  s.pollTransmit(65519)
  expect(s.write(id2, new Uint8Array(2500))).toBe(2500)
  expect(s.pollTransmit(65519)!.length).toBe(2500 + 3 * 12)
})

describe('chunking invariance', () => {
  function scenario(chunking: Chunking): unknown {
    const p = new Pair({ latency: 2, chunking, client: { maxFrameSize: 3000 } })
    const sizes = [0, 1, 5000, 300_000, 70_000]
    const ids = sizes.map(() => p.client.session.openStream(0))
    sizes.forEach((n, i) => writeAll(p.client, ids[i]!, pattern(100 + i, n), i !== 4))
    p.server.onEvent = (ev, s) => {
      if (ev.type === 'stream-eof') writeAll(s, ev.id, s.dataOf(ev.id).reverse())
    }
    const srvId = p.server.session.openStream(0)
    writeAll(p.server, srvId, pattern(7, 40_000))
    p.drive()
    p.client.session.reset(ids[4]!)
    p.drive()
    p.client.session.close(p.now)
    p.drive()
    const view = (s: Side): unknown => ({
      data: [...s.received.keys()].sort().map((id) => [id, s.dataOf(id).length, Array.from(s.dataOf(id).subarray(0, 16))]),
      eof: [...s.eof].sort(),
      resets: [...s.resets].sort(),
      closed: [...s.closedStreams].sort(),
      events: s.log.filter((e) => e.type !== 'stream-data' && e.type !== 'stream-writable').length,
    })
    return { client: view(p.client), server: view(p.server) }
  }
  const whole = scenario({ mode: 'whole' })
  test('byte-by-byte gives the same result as whole', () => expect(scenario({ mode: 'byte' })).toEqual(whole))
  for (const seed of [1, 2, 3]) test(`random chunking (seed ${seed})`, () => expect(scenario({ mode: 'random', seed })).toEqual(whole))
  test('the scenario itself checks out', () => {
    const w = whole as { server: { eof: number[]; resets: number[] }; client: { eof: number[] } }
    expect(w.server.eof).toEqual([1, 3, 5, 7])
    expect(w.server.resets).toEqual([9])
    expect(w.client.eof).toEqual([1, 2, 3, 5, 7])
  })
})

describe('keep-alive and ping', () => {
  test('keep-alive pings measure the RTT on the virtual clock', () => {
    const p = new Pair({ latency: 25, client: { keepAliveInterval: 30_000 } })
    expect(p.client.session.pollTimeout()).toBe(0)
    expect(p.server.session.pollTimeout()).toBeUndefined()
    p.advance(95_000)
    expect(p.client.rtts).toEqual([50, 50, 50, 50]) // t = 0, 30 s, 60 s, 90 s
    expect(p.client.session.rtt).toBe(50)
    expect(p.client.session.pollTimeout()).toBe(120_000)
    p.server.session.ping(p.now)
    p.drive()
    expect(p.server.rtts).toEqual([50])
  })

  test('an unanswered keep-alive ends the session with yamux/keep-alive-timeout', () => {
    const s = new YamuxSession({ role: 'client', keepAliveInterval: 1000 })
    const id = s.openStream(0)
    s.handleTimeout(0)
    expect(s.pollTransmit(65519)).toBeDefined()
    s.handleTimeout(999)
    s.handleTimeout(1000)
    const evs = [...Array(5)].map(() => s.pollEvent()).filter((e) => e !== undefined)
    expect(evs).toEqual([
      { type: 'stream-reset', id },
      { type: 'stream-closed', id },
      { type: 'closed', error: expect.objectContaining({ code: 'yamux/keep-alive-timeout' }) },
    ])
    expect(s.pollTimeout()).toBeUndefined()
  })
})

describe('session close', () => {
  test('close sends Go Away 0 after queued data; the remote reports it and refuses new streams', () => {
    const p = new Pair({ latency: 1 })
    const id = p.client.session.openStream(0)
    p.client.session.write(id, new Uint8Array(5))
    p.client.session.close(p.now)
    expect(p.client.log.some((e) => e.type === 'closed')).toBe(false) // not before the Go Away is flushed
    p.drive()
    expect(p.client.closed).toBe(true)
    expect(p.client.error).toBeUndefined()
    expect(p.server.dataOf(id).length).toBe(5)
    expect(p.server.log.filter((e) => e.type === 'go-away')).toEqual([{ type: 'go-away', code: 0 }])
    expect(() => p.server.session.openStream(p.now)).toThrow(/yamux\/going-away/)
    expect(() => p.client.session.openStream(p.now)).toThrow(/yamux\/closed/)
    p.client.session.close(p.now) // idempotent
    p.server.session.handleEof(p.now)
    p.server.drainEvents()
    expect(p.server.resets.has(id)).toBe(true)
    expect(p.server.closed).toBe(true)
  })

  test('EOF in the middle of a frame is yamux/unexpected-eof', () => {
    const s = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    s.handleData(0, new Uint8Array([0, 1, 0, 1, 0, 0]))
    expect(() => s.handleEof(0)).toThrow(/yamux\/unexpected-eof/)
  })
})

describe('receive-window auto-tuning', () => {
  function run(readEveryMs: number | undefined): { window: number; time: number } {
    const p = new Pair({ latency: 10, server: { keepAliveInterval: 60_000 } })
    p.advance(100) // the start-up ping measures the RTT (20 ms)
    expect(p.server.session.rtt).toBe(20)
    const id = p.client.session.openStream(p.now)
    p.drive()
    p.server.autoConsume = readEveryMs === undefined
    const data = pattern(5, 8 * 1024 * 1024)
    const w = writeAll(p.client, id, data)
    let maxWindow = 0
    p.server.onEvent = (ev, s) => {
      if (ev.type === 'stream-data') maxWindow = Math.max(maxWindow, s.session.streamStats(id)?.recvWindow ?? 0)
    }
    const start = p.now
    while (!w.done() || !p.server.eof.has(id)) {
      if (readEveryMs === undefined) p.drive()
      else {
        p.advance(readEveryMs)
        p.server.consumeAll()
        p.drive()
      }
      if (p.now - start > 10_000_000) throw new Error('stuck')
    }
    expect(equals(p.server.dataOf(id), data)).toBe(true)
    return { window: maxWindow, time: p.now - start }
  }

  test('grows the window when the reader keeps up', () => {
    const fast = run(undefined)
    expect(fast.window).toBeGreaterThanOrEqual(4 * 1024 * 1024)
    // With a fixed 256 KiB window, 8 MiB at 20 ms RTT would take >= 32 round trips = 640 ms.
    expect(fast.time).toBeLessThan(400)
  })

  test('streams grow to a fair share of the session budget, not first come first served', () => {
    const budget = 4 * 1024 * 1024
    const p = new Pair({ latency: 10, server: { keepAliveInterval: 60_000, maxSessionWindow: budget } })
    p.advance(100)
    p.server.autoConsume = true
    const window = (id: StreamId): number => p.server.session.streamStats(id)?.recvWindow ?? 0
    // one stream alone grows into the whole budget
    const first = p.client.session.openStream(p.now)
    const data = [pattern(10, 16 * 1024 * 1024)]
    const writers = [writeAll(p.client, first, data[0]!)]
    while (window(first) < budget) if (!p.step()) throw new Error(`the first stream's window stayed at ${window(first)}`)
    // three more open while it sends: each grows, and the first gives its window back down to a quarter
    const later = Array.from({ length: 3 }, () => p.client.session.openStream(p.now))
    const ids = [first, ...later]
    later.forEach((id, k) => { data.push(pattern(11 + k, 4 * 1024 * 1024)); writers.push(writeAll(p.client, id, data[k + 1]!)) })
    const peak = new Map<StreamId, number>()
    let firstAfter = 0
    p.server.onEvent = (ev) => {
      if (ev.type !== 'stream-data') return
      for (const id of later) peak.set(id, Math.max(peak.get(id) ?? 0, window(id)))
      if (later.every((id) => (peak.get(id) ?? 0) > INITIAL_STREAM_WINDOW) && firstAfter === 0) firstAfter = window(first)
    }
    const start = p.now
    while (writers.some((w) => !w.done()) || ids.some((id) => !p.server.eof.has(id))) {
      p.drive()
      if (p.now - start > 10_000_000) throw new Error('stuck')
    }
    ids.forEach((id, k) => expect(equals(p.server.dataOf(id), data[k]!)).toBe(true))
    // before: the first stream kept 4 MiB and the later ones never left 256 KiB
    for (const id of later) expect(peak.get(id)).toBeGreaterThan(INITIAL_STREAM_WINDOW)
    expect(firstAfter).toBeGreaterThan(0)
    expect(firstAfter).toBeLessThanOrEqual(budget / 2) // a quarter, or a third once a later stream has finished
  })

  test('idle streams do not shrink the share of a busy stream: it still grows to maxWindow', () => {
    const p = new Pair({ latency: 10, server: { keepAliveInterval: 60_000 } })
    p.advance(100)
    p.server.autoConsume = true
    for (let k = 0; k < 40; k++) p.client.session.openStream(p.now)
    p.advance(2_000) // 40 open streams, idle for two seconds
    const id = p.client.session.openStream(p.now)
    let peak = 0
    p.server.onEvent = (ev, s) => { if (ev.type === 'stream-data') peak = Math.max(peak, s.session.streamStats(id)?.recvWindow ?? 0) }
    const data = pattern(30, 40 * 1024 * 1024)
    writeAll(p.client, id, data)
    p.drive()
    expect(equals(p.server.dataOf(id), data)).toBe(true)
    expect(peak).toBe(16 * 1024 * 1024) // a share among all 41 open streams would be 64 MiB / 41 = 1.6 MiB
  })

  test('a stream the remote has closed gives its window back to the session budget', () => {
    const budget = 2 * 1024 * 1024
    const p = new Pair({ latency: 10, server: { keepAliveInterval: 60_000, maxSessionWindow: budget } })
    p.advance(100)
    p.server.autoConsume = true
    const window = (id: StreamId): number => p.server.session.streamStats(id)?.recvWindow ?? -1
    // the first stream grows into the whole budget, then the client closes it (the server does not)
    const first = p.client.session.openStream(p.now)
    const w1 = writeAll(p.client, first, pattern(20, 8 * 1024 * 1024))
    while (window(first) < budget) if (!p.step()) throw new Error('no growth')
    p.drive()
    expect(w1.done() && p.server.eof.has(first)).toBe(true)
    expect(p.server.session.streamStats(first)).toMatchObject({ state: 'remote-close', recvWindow: 0, recvCredit: 0 })
    // a second stream can grow (before: the half-closed one held 2 MiB and this one stayed at 256 KiB)
    const second = p.client.session.openStream(p.now)
    let peak = 0
    p.server.onEvent = (ev) => { if (ev.type === 'stream-data') peak = Math.max(peak, window(second)) }
    const data = pattern(21, 4 * 1024 * 1024)
    writeAll(p.client, second, data)
    p.drive()
    expect(equals(p.server.dataOf(second), data)).toBe(true)
    expect(peak).toBeGreaterThan(INITIAL_STREAM_WINDOW)
  })

  test('does not grow it when the reader is slow', () => {
    const slow = run(500)
    expect(slow.window).toBe(INITIAL_STREAM_WINDOW)
  })
})

describe('transient transmit (pollTransmitTransient)', () => {
  /** Client writes random-sized chunks; bytes taken transiently are copied at once, as a caller must. */
  function run(transient: boolean, seed: number): { buffers: number; sent: Uint8Array; got: Uint8Array } {
    const c = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
    const sv = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    const id = c.openStream(0)
    const r = prng(seed)
    const sent: number[] = []
    const got: number[] = []
    const buffers = new Set<ArrayBufferLike>()
    let k = 0
    const pump = (): void => {
      for (let b = transient ? c.pollTransmitTransient(65519) : c.pollTransmit(65519); b !== undefined; b = transient ? c.pollTransmitTransient(65519) : c.pollTransmit(65519)) {
        if (b.length > 1000) buffers.add(b.buffer)
        sv.handleData(0, b.slice())
      }
      for (let ev = sv.pollEvent(); ev !== undefined; ev = sv.pollEvent()) {
        if (ev.type === 'stream-inbound') sv.accept(ev.id)
        if (ev.type === 'stream-data') {
          got.push(...ev.data)
          sv.consume(ev.id, ev.data.length)
        }
      }
      for (let b = sv.pollTransmit(65519); b !== undefined; b = sv.pollTransmit(65519)) c.handleData(0, b)
      while (c.pollEvent() !== undefined);
    }
    for (let i = 0; i < 300; i++) {
      const d = new Uint8Array(Math.floor(r() * 70_000)).map((_, j) => (k + j) & 0xff)
      const n = c.write(id, d)
      for (let j = 0; j < n; j++) sent.push((k + j) & 0xff)
      k += n
      if (r() < 0.5) pump()
    }
    pump()
    return { buffers: buffers.size, sent: Uint8Array.from(sent), got: Uint8Array.from(got) }
  }

  test('every byte arrives once and in order while slabs are reused', () => {
    const t = run(true, 5)
    const p = run(false, 5)
    expect(t.got.length).toBe(t.sent.length)
    expect(equals(t.got, t.sent)).toBe(true)
    expect(equals(p.got, t.got)).toBe(true)
    // ~10 MB through 1 MiB slabs: plain takes need a fresh slab for each, transient ones reuse them
    expect(p.buffers).toBeGreaterThan(8)
    expect(t.buffers).toBeLessThan(p.buffers * 0.75)
  })

  test('bytes handed out by a plain take are never reused, even after transient takes', () => {
    const c = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
    const id = c.openStream(0)
    c.pollTransmit(65519)
    c.handleData(0, encodeFrame({ type: 1, flags: 0x2, streamId: id, length: 8 * 1024 * 1024 })) // ACK + window
    const kept: Uint8Array[] = []
    for (let i = 0; i < 64; i++) {
      c.write(id, new Uint8Array(60_000).fill(i))
      const b = i % 8 === 0 ? c.pollTransmit(65519)! : c.pollTransmitTransient(65519)!
      if (i % 8 === 0) kept.push(b.slice(), b)
    }
    for (let i = 0; i < kept.length; i += 2) expect(equals(kept[i + 1]!, kept[i]!)).toBe(true)
  })
})
