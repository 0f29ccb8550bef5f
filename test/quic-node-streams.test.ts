/**
 * The swarm's QUIC connection core (src/swarm/quic-connection.ts) in memory: two cores built from
 * the QUIC routers' session seeds (src/quic/libp2p.ts), datagrams passed through the routers as the
 * UDP driver would. Stream semantics of the libp2p mapping: a peer's FIN + STOP_SENDING (go's
 * Close(), rust's drop) still delivers its data and EOF; only our write after it resets the stream;
 * a RESET_STREAM is a reset.
 */
import { describe, expect, test } from 'vitest'
import type { ConnectionEvent } from '../src/connection/index.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import type { QuicConnection } from '../src/quic/connection/index.js'
import { quicRouter, type QuicSessionSeed } from '../src/quic/libp2p.js'
import { QuicConnectionCore } from '../src/swarm/quic-connection.js'

const wallClock = (): number => 1_767_225_600_000
const A = { address: '127.0.0.1', port: 1000 }
const B = { address: '127.0.0.1', port: 2000 }
const PROTO = '/test/1.0.0'

class Link {
  now = 0
  readonly keyA = generatePrivateKey(tls.base)
  readonly keyB = generatePrivateKey(tls.base)
  readonly rA = quicRouter({ crypto: tls, wallClock, listening: true })
  readonly rB = quicRouter({ crypto: tls, wallClock, listening: false })
  a: QuicConnectionCore | undefined
  readonly b: QuicConnectionCore
  quicA: QuicConnection | undefined
  quicB: QuicConnection | undefined
  readonly ea: ConnectionEvent[] = []
  readonly eb: ConnectionEvent[] = []
  /** Datagrams from a to b are lost while set. */
  cut = false

  constructor() {
    const d = this.rB.dial(0)
    this.b = this.core(d.session, this.keyB, (q) => { this.quicB = q }, this.keyA)
  }

  core(seed: QuicSessionSeed, key: typeof this.keyA, capture: (q: QuicConnection) => void, expected?: typeof this.keyA): QuicConnectionCore {
    const wrapped: QuicSessionSeed = { ...seed, open: (p) => { const r = seed.open(p); capture(r.connection); return r } }
    return new QuicConnectionCore({
      seed: wrapped, identity: key, expectedRemotePeer: expected?.toPeerId(), now: this.now,
      supportsProtocol: (p) => p === PROTO, listProtocols: () => [PROTO],
    })
  }

  /** Moves datagrams and time (1 ms a hop, or to the next timer) until nothing moves and no timer is near. */
  run(steps = 200): void {
    for (let i = 0; i < steps; i++) {
      let moved = 0
      for (let d = this.b.pollTransmit(1500); d !== undefined; d = this.b.pollTransmit(1500)) {
        moved++
        const r = this.rA.route(this.now, B, d)
        if (r.kind === 'accept') this.a = this.core(r.session, this.keyA, (q) => { this.quicA = q })
        if (r.kind === 'accept' || r.kind === 'deliver') this.a!.handleData(this.now, d)
      }
      for (let d = this.a?.pollTransmit(1500); d !== undefined; d = this.a!.pollTransmit(1500)) {
        moved++
        const r = this.rB.route(this.now, A, d)
        if (r.kind === 'deliver' && !this.cut) this.b.handleData(this.now, d)
      }
      for (let e = this.a?.pollEvent(); e !== undefined; e = this.a!.pollEvent()) this.ea.push(e)
      for (let e = this.b.pollEvent(); e !== undefined; e = this.b.pollEvent()) this.eb.push(e)
      // the next timer (pacing, ACK delay, loss) or 1 ms later; quiet when no timer is due within 500 ms
      let next: number | undefined
      for (const c of [this.a, this.b]) { const t = c?.pollTimeout(); if (t !== undefined && (next === undefined || t < next)) next = t }
      if (moved === 0 && steps === 200 && (next === undefined || next > this.now + 500)) return
      this.now = moved > 0 || next === undefined ? this.now + 1 : Math.max(this.now + 0.01, Math.min(next, this.now + 10))
      for (const c of [this.a, this.b]) {
        const t = c?.pollTimeout()
        if (t !== undefined && t <= this.now) c!.handleTimeout(this.now)
      }
    }
  }
}

const opened = (es: ConnectionEvent[], dir: 'inbound' | 'outbound'): number => (es.find((e) => e.type === 'stream-opened' && e.direction === dir) as { id: number }).id
const types = (es: ConnectionEvent[], id: number): string[] => es.filter((e) => 'id' in e && e.id === id).map((e) => e.type)

/** An established link with one stream b opened to a: its id on each side. */
function linkWithStream(): { l: Link, ib: number, ob: number } {
  const l = new Link()
  l.run()
  l.b.openStream(l.now, [PROTO], 1)
  l.run()
  return { l, ib: opened(l.ea, 'inbound'), ob: opened(l.eb, 'outbound') }
}

describe('the libp2p mapping of QUIC streams', () => {
  test('both cores establish: peer ids from the libp2p certificates, muxer /quic-v1', () => {
    const l = new Link()
    l.run()
    const ea = l.ea.find((e) => e.type === 'established') as Extract<ConnectionEvent, { type: 'established' }>
    const eb = l.eb.find((e) => e.type === 'established') as Extract<ConnectionEvent, { type: 'established' }>
    expect(ea.remotePeer.equals(l.keyB.toPeerId())).toBe(true)
    expect(eb.remotePeer.equals(l.keyA.toPeerId())).toBe(true)
    expect(eb.muxer).toBe('/quic-v1')
    expect(l.a!.isOpen && l.b.isOpen).toBe(true)
  })

  test("the peer's FIN with STOP_SENDING (go's Close): its data and EOF arrive, then the stream closes, never reset", () => {
    const { l, ib, ob } = linkWithStream()
    // a answers and closes as go does: data, FIN, STOP_SENDING (sent before the data: control frames first)
    l.a!.write(ib, new TextEncoder().encode('hello'))
    l.quicA!.finish(ib)
    l.quicA!.stopSending(ib, 0)
    l.run()
    const data = l.eb.filter((e) => e.type === 'stream-data' && e.id === ob).map((e) => new TextDecoder().decode((e as { data: Uint8Array }).data)).join('')
    expect(data).toBe('hello')
    expect(types(l.eb, ob)).toEqual(['stream-opened', 'stream-data', 'stream-eof', 'stream-closed'])
  })

  test("after the peer's STOP_SENDING alone (go's CloseRead) our next write resets the stream", () => {
    const { l, ib, ob } = linkWithStream()
    l.quicA!.stopSending(ib, 0)
    l.run()
    expect(types(l.eb, ob)).toEqual(['stream-opened'])
    expect(l.b.write(ob, Uint8Array.of(1))).toBe(1)
    l.run()
    expect(types(l.eb, ob)).toEqual(['stream-opened', 'stream-reset', 'stream-closed'])
  })

  test("a writer waiting for send window when the peer's STOP_SENDING arrives alone is woken, and its write resets the stream (no hang)", () => {
    const { l, ib, ob } = linkWithStream()
    // a never reads: b writes until QUIC's flow control pushes back
    const chunk = new Uint8Array(64 * 1024)
    let blocked = false
    for (let i = 0; i < 400 && !blocked; i++) {
      if (l.b.write(ob, chunk) < chunk.length) blocked = true
      l.run(20)
    }
    expect(blocked).toBe(true)
    const before = l.eb.length
    l.quicA!.stopSending(ib, 0)
    l.run()
    const after = l.eb.slice(before).filter((e) => 'id' in e && e.id === ob).map((e) => e.type)
    expect(after).toContain('stream-writable')
    expect(l.b.write(ob, Uint8Array.of(1))).toBe(1)
    l.run()
    expect(types(l.eb, ob).slice(-2)).toEqual(['stream-reset', 'stream-closed'])
  })

  test("the peer's RESET_STREAM is a libp2p reset of the whole stream", () => {
    const { l, ib, ob } = linkWithStream()
    l.a!.reset(ib, 7)
    l.run()
    expect(l.eb.find((e) => e.type === 'stream-reset' && e.id === ob)).toMatchObject({ code: 7 })
    expect(types(l.eb, ob).at(-1)).toBe('stream-closed')
  })

  test('a closed connection ends every stream; the remote sees the close', () => {
    const l = new Link()
    l.run()
    l.b.openStream(l.now, [PROTO], 1)
    l.run()
    l.a!.close(l.now)
    l.run()
    expect(l.ea.at(-1)).toEqual({ type: 'closed' })
    expect(l.eb.some((e) => e.type === 'closed')).toBe(true)
    expect(l.b.isClosed).toBe(true)
  })

  test('the idle timeout ends a connection whose peer went silent: OutcomeError quic/idle-timeout', () => {
    const l = new Link()
    l.run()
    l.cut = true
    for (let i = 0; i < 20 && !l.b.isClosed; i++) l.run(4000) // past the 30 s idle timeout
    const closed = l.eb.find((e) => e.type === 'closed') as { error?: Error & { code?: string } } | undefined
    expect(closed?.error?.name).toBe('OutcomeError')
    expect(closed?.error?.code).toBe('quic/idle-timeout')
  })

  // (this harness's pace keeps the peer under 1 MiB in flight either way: it checks that consume() keeps data flowing past the read-ahead, not that the bound holds data back)
  test('read-ahead: a stream of 1.5 MiB read only as the application consumes arrives whole', () => {
    const { l, ib, ob } = linkWithStream()
    const total = 3 << 19 // 1.5 MiB: past the 1 MiB read-ahead
    let sent = 0
    const received = (): number => l.eb.reduce((n, e) => n + (e.type === 'stream-data' && e.id === ob ? e.data.length : 0), 0)
    for (let i = 0; i < 400 && sent < total; i++) {
      while (sent < total) { const n = l.a!.write(ib, new Uint8Array(Math.min(65536, total - sent))); if (n === 0) break; sent += n }
      l.run()
    }
    for (let i = 0; i < 50; i++) l.run()
    expect(sent).toBe(total)
    const held = received()
    expect(held).toBeGreaterThan(0)
    expect(held).toBeLessThanOrEqual(1 << 20)
    let consumed = 0
    for (let i = 0; i < 500 && received() < total; i++) {
      const r = received()
      if (r > consumed) { l.b.consume(l.now, ob, r - consumed); consumed = r }
      while (sent < total) { const n = l.a!.write(ib, new Uint8Array(Math.min(65536, total - sent))); if (n === 0) break; sent += n }
      l.run()
    }
    expect(received()).toBe(total)
  })
})
