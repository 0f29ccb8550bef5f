/**
 * The connection core (upgrade + per-stream negotiation) as a pure machine: two cores joined by an
 * in-memory link on a virtual clock. No sockets, no timers.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../src/connection/index.js'
import { ProtocolError } from '../src/core/errors.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { toHex } from '../src/core/bytes.js'
import { prng as mulberry } from './helpers/prng.js'

const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
const keyC = privateKeyFromSeed(new Uint8Array(32).fill(3), nodeCrypto)

type Chunking = 'whole' | 'bytes' | { seed: number }


/** Two connection cores and a link between them. */
class Pair {
  readonly a: Connection
  readonly b: Connection
  readonly eventsA: ConnectionEvent[] = []
  readonly eventsB: ConnectionEvent[] = []
  now = 0
  readonly #chunk: (n: number) => number
  /** Every byte a sent to b, for determinism checks. */
  wireAtoB: string[] = []

  /** Deliver every piece through one buffer that is overwritten as soon as handleData returns (as
   * the TCP transport's shared read buffer is): a core that kept a reference to its input would see
   * its bytes change. */
  readonly #shared: Uint8Array | undefined

  constructor(opts: { a?: Partial<ConnectionOptions>; b?: Partial<ConnectionOptions>; chunking?: Chunking; protocolsB?: string[]; protocolsA?: string[]; sharedInput?: boolean } = {}) {
    this.#shared = opts.sharedInput === true ? new Uint8Array(1 << 20) : undefined
    const supports = (list: string[]) => (p: string): boolean => list.includes(p)
    const protocolsA = opts.protocolsA ?? ['/echo/1.0.0']
    const protocolsB = opts.protocolsB ?? ['/echo/1.0.0']
    this.a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: supports(protocolsA), listProtocols: () => protocolsA, now: 0, ...opts.a })
    this.b = new Connection({ role: 'listener', crypto: nodeCrypto, identity: keyB, supportsProtocol: supports(protocolsB), listProtocols: () => protocolsB, now: 0, ...opts.b })
    const c = opts.chunking ?? 'whole'
    if (c === 'whole') this.#chunk = (n) => n
    else if (c === 'bytes') this.#chunk = () => 1
    else {
      const r = mulberry(c.seed)
      this.#chunk = (n) => 1 + Math.floor(r() * n)
    }
  }

  /** Move bytes both ways until quiet. */
  drive(max = 10_000): void {
    for (let i = 0; i < max; i++) {
      const moved = this.#move(this.a, this.b, true) + this.#move(this.b, this.a, false)
      this.#drain()
      if (moved === 0) return
    }
    throw new Error('pair did not settle')
  }

  #move(from: Connection, to: Connection, aToB: boolean): number {
    let moved = 0
    for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
      if (aToB) this.wireAtoB.push(toHex(out))
      for (let off = 0; off < out.length;) {
        const n = Math.min(this.#chunk(out.length - off), out.length - off)
        const shared = this.#shared
        if (shared === undefined) to.handleData(this.now, out.subarray(off, off + n))
        else {
          shared.set(out.subarray(off, off + n))
          to.handleData(this.now, shared.subarray(0, n))
          shared.fill(0xee, 0, n)
        }
        off += n
      }
      moved += out.length
    }
    return moved
  }

  #drain(): void {
    for (let e = this.a.pollEvent(); e !== undefined; e = this.a.pollEvent()) this.eventsA.push(e)
    for (let e = this.b.pollEvent(); e !== undefined; e = this.b.pollEvent()) this.eventsB.push(e)
  }

  advance(ms: number): void {
    this.now += ms
    for (const c of [this.a, this.b]) {
      const t = c.pollTimeout()
      if (t !== undefined && this.now >= t) c.handleTimeout(this.now)
    }
    this.drive()
  }
}

function established(events: ConnectionEvent[]): Extract<ConnectionEvent, { type: 'established' }> | undefined {
  return events.find((e): e is Extract<ConnectionEvent, { type: 'established' }> => e.type === 'established')
}

/** Run an echo-style exchange: a opens a stream, writes, half-closes; b echoes after EOF. */
function exchange(p: Pair, payload: Uint8Array): Uint8Array {
  p.drive()
  p.a.openStream(p.now, ['/nope/1.0.0', '/echo/1.0.0'], 7)
  p.drive()
  const opened = p.eventsA.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
  expect(opened).toMatchObject({ protocol: '/echo/1.0.0', direction: 'outbound', requestId: 7 })
  const inbound = p.eventsB.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
  expect(inbound).toMatchObject({ protocol: '/echo/1.0.0', direction: 'inbound' })
  let off = 0
  while (off < payload.length) {
    const n = p.a.write(opened.id, payload.subarray(off))
    off += n
    p.drive()
    // b reads everything it got so the window reopens
    for (const e of p.eventsB.splice(0)) if (e.type === 'stream-data') p.b.consume(p.now, e.id, e.data.length)
    p.drive()
  }
  p.a.closeWrite(opened.id)
  p.drive()
  expect(p.eventsB.some((e) => e.type === 'stream-eof')).toBe(true)
  // b echoes a marker after EOF (half-close: b can still write)
  p.b.write(inbound.id, Uint8Array.of(1, 2, 3))
  p.b.closeWrite(inbound.id)
  p.drive()
  const back = p.eventsA.filter((e) => e.type === 'stream-data').map((e) => (e as { data: Uint8Array }).data)
  const out = new Uint8Array(back.reduce((n, b) => n + b.length, 0))
  let o = 0
  for (const b of back) { out.set(b, o); o += b.length }
  return out
}

describe('connection upgrade', () => {
  test('establishes with early muxer negotiation, both sides see each other', () => {
    const p = new Pair()
    p.drive()
    const ea = established(p.eventsA)!
    const eb = established(p.eventsB)!
    expect(ea.remotePeer.equals(keyB.publicKey.toPeerId())).toBe(true)
    expect(eb.remotePeer.equals(keyA.publicKey.toPeerId())).toBe(true)
    expect(ea.earlyMuxerNegotiation).toBe(true)
    expect(ea.muxer).toBe('/yamux/1.0.0')
  })

  test('falls back to a multistream round for the muxer when the remote lists none', () => {
    const p = new Pair({ b: { earlyMuxerNegotiation: false } })
    p.drive()
    expect(established(p.eventsA)?.earlyMuxerNegotiation).toBe(false)
    expect(established(p.eventsB)?.earlyMuxerNegotiation).toBe(false)
    expect(exchange(p, new Uint8Array(10))).toEqual(Uint8Array.of(1, 2, 3))
  })

  test('streams negotiate per protocol, refuse unknown ones, half-close works', () => {
    const p = new Pair()
    expect(exchange(p, new Uint8Array(600_000).fill(9))).toEqual(Uint8Array.of(1, 2, 3))
    p.a.openStream(p.now, ['/unknown/1.0.0'], 9)
    p.drive()
    const failed = p.eventsA.find((e) => e.type === 'stream-open-failed') as unknown as { requestId: number; error: ProtocolError }
    expect(failed.requestId).toBe(9)
    expect(failed.error).toBeInstanceOf(ProtocolError)
    expect(failed.error.code).toBe('connection/protocol-rejected')
  })

  test('whole, byte-by-byte and random chunking give the same application result', () => {
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff)
    const whole = exchange(new Pair({ chunking: 'whole' }), payload)
    expect(exchange(new Pair({ chunking: 'bytes' }), payload)).toEqual(whole)
    fc.assert(fc.property(fc.integer(), (seed) => {
      expect(exchange(new Pair({ chunking: { seed } }), payload)).toEqual(whole)
    }), { numRuns: 5 })
  })

  test('fixed keys give identical bytes on the wire', () => {
    const fixed = (): Pair => new Pair({ a: { noiseStaticKey: new Uint8Array(32).fill(7) }, b: { noiseStaticKey: new Uint8Array(32).fill(8) } })
    const p1 = fixed()
    const p2 = fixed()
    p1.drive()
    p2.drive()
    // Ephemeral keys come from the provider's randomness, so compare up to the first Noise message.
    expect(p1.wireAtoB[0]).toBe(p2.wireAtoB[0])
  })

  test.each([
    ['node:crypto', nodeCrypto],
    ['noble', nobleCrypto],
  ] as const)('handleData input is never kept (%s): bytes fed through one buffer overwritten after each call arrive intact', (_name, crypto) => {
    for (const chunking of ['whole', { seed: 3 }] as const) {
      const p = new Pair({ sharedInput: true, chunking, a: { crypto }, b: { crypto } })
      p.drive()
      p.a.openStream(p.now, ['/echo/1.0.0'], 1)
      p.drive()
      const id = (p.eventsA.find((e) => e.type === 'stream-opened') as { id: number }).id
      const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 131 + 17) & 0xff)
      // b holds on to every 'stream-data' event (consuming the window) until the end
      const held: Uint8Array[] = []
      let off = 0
      while (off < payload.length) {
        off += p.a.write(id, payload.subarray(off))
        p.drive()
        for (const e of p.eventsB.splice(0)) {
          if (e.type === 'stream-data') {
            held.push(e.data)
            p.b.consume(p.now, e.id, e.data.length)
          }
        }
        p.drive()
      }
      expect(Buffer.concat(held).equals(Buffer.from(payload))).toBe(true)
    }
  })

  test('works with the noble provider on one side', () => {
    const p = new Pair({ b: { crypto: nobleCrypto } })
    expect(exchange(p, new Uint8Array(1000))).toEqual(Uint8Array.of(1, 2, 3))
  })
})

describe('connection failures', () => {
  test('dialing /p2p/<id> and meeting someone else fails before any application byte', () => {
    const p = new Pair({ a: { expectedRemotePeer: keyC.publicKey.toPeerId() } })
    p.drive()
    const closed = p.eventsA.find((e) => e.type === 'closed') as unknown as { error: ProtocolError }
    expect(closed.error).toBeInstanceOf(ProtocolError)
    expect(closed.error.code).toBe('noise/peer-id-mismatch')
    expect(established(p.eventsA)).toBeUndefined()
    expect(p.a.isClosed).toBe(true)
  })

  test('a stalled upgrade times out', () => {
    const a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: () => false, listProtocols: () => [], now: 0, upgradeTimeout: 1000 })
    expect(a.pollTimeout()).toBe(1000)
    a.handleTimeout(1000)
    const ev: ConnectionEvent[] = []
    for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) ev.push(e)
    expect(ev.at(-1)).toMatchObject({ type: 'closed', error: { code: 'connection/upgrade-timeout' } })
  })

  test('a remote that does not speak /noise is rejected', () => {
    const a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: () => false, listProtocols: () => [], now: 0 })
    const enc = new TextEncoder()
    const msg = (s: string): Uint8Array => Uint8Array.from([s.length + 1, ...enc.encode(s), 10])
    a.handleData(1, msg('/multistream/1.0.0'))
    a.handleData(1, msg('na'))
    const ev: ConnectionEvent[] = []
    for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) ev.push(e)
    expect(ev.at(-1)).toMatchObject({ type: 'closed', error: { code: 'connection/security-rejected' } })
  })

  test('lazy security negotiation: the dialer\'s first flight is the /noise proposal and Noise message 1; off, only the proposal', () => {
    const enc = new TextEncoder()
    const msg = (s: string): Uint8Array => Uint8Array.from([s.length + 1, ...enc.encode(s), 10])
    const proposal = [...msg('/multistream/1.0.0'), ...msg('/noise')]
    const firstFlight = (lazy?: boolean): Uint8Array => {
      const a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: () => false, listProtocols: () => [], now: 0, ...(lazy === undefined ? {} : { lazySecurityNegotiation: lazy }) })
      const out: number[] = []
      for (let b = a.pollTransmit(1 << 16); b !== undefined; b = a.pollTransmit(1 << 16)) out.push(...b)
      return Uint8Array.from(out)
    }
    const lazy = firstFlight()
    expect([...lazy.subarray(0, proposal.length)]).toEqual(proposal)
    // Noise XX message 1: a 2-byte length then e (32 bytes) and an empty payload
    expect([...lazy.subarray(proposal.length, proposal.length + 2)]).toEqual([0, 32])
    expect(lazy.length).toBe(proposal.length + 34)
    expect([...firstFlight(false)]).toEqual(proposal)
    // a listener answering `na` still fails the upgrade as security-rejected, lazy or not
    for (const l of [true, false]) {
      const a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: () => false, listProtocols: () => [], now: 0, lazySecurityNegotiation: l })
      a.handleData(1, Uint8Array.from([...msg('/multistream/1.0.0'), ...msg('na')]))
      const ev: ConnectionEvent[] = []
      for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) ev.push(e)
      expect(ev.at(-1), String(l)).toMatchObject({ type: 'closed', error: { code: 'connection/security-rejected' } })
    }
  })

  test('lazy and waiting dialers both complete against a listener, whatever the chunking', () => {
    for (const lazy of [true, false]) {
      for (const chunking of ['whole', 'bytes'] as const) {
        const p = new Pair({ a: { lazySecurityNegotiation: lazy }, chunking })
        p.drive()
        expect(established(p.eventsA), `${lazy} ${chunking}`).toBeDefined()
        expect(established(p.eventsB), `${lazy} ${chunking}`).toBeDefined()
      }
    }
  })

  test('garbage from the remote ends the connection with a ProtocolError, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, afterHandshake) => {
      const p = new Pair()
      if (afterHandshake) p.drive()
      const target = p.b
      target.handleData(p.now, junk)
      target.handleEof(p.now)
      const ev: ConnectionEvent[] = []
      for (let e = target.pollEvent(); e !== undefined; e = target.pollEvent()) ev.push(e)
      for (const e of ev) if (e.type === 'closed' && e.error !== undefined) expect(e.error).toBeInstanceOf(ProtocolError)
      expect(target.isClosed).toBe(true)
    }), { numRuns: 60 })
  })

  test('a stream stuck in negotiation is reset after the timeout', () => {
    const p = new Pair({ a: { streamNegotiationTimeout: 500 }, b: { supportsProtocol: () => { throw new Error('never asked') } } })
    p.drive()
    // b never answers: simulate a remote that accepts the yamux stream but says nothing, by not driving.
    p.a.openStream(p.now, ['/echo/1.0.0'], 1)
    p.now = 600
    p.a.handleTimeout(p.now)
    const ev: ConnectionEvent[] = []
    for (let e = p.a.pollEvent(); e !== undefined; e = p.a.pollEvent()) ev.push(e)
    expect(ev.find((e) => e.type === 'stream-open-failed')).toMatchObject({ requestId: 1, error: { code: 'connection/stream-negotiation-timeout' } })
  })

  test('graceful close reaches both sides', () => {
    const p = new Pair()
    p.drive()
    p.a.close(p.now)
    p.drive()
    expect(p.eventsA.at(-1)).toEqual({ type: 'closed' })
    p.b.handleEof(p.now)
    p.drive()
    expect(p.b.isClosed).toBe(true)
  })
})
