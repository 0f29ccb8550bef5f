/**
 * Two connection cores joined in memory with tracing on (tests of src/trace): a dialer `a` and a
 * listener `b`, a virtual clock, every wire chunk recorded, deterministic keys when asked.
 */
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../src/connection/index.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import type { DecoderFactory, StreamDecoder, TraceEvent } from '../src/trace/index.js'
import { Tracer } from '../src/trace/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { prng } from './helpers/prng.js'

export const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
export const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
export const PING = '/ipfs/ping/1.0.0'

/** nodeCrypto with a seeded randomBytes: the same seed gives the same Noise keys, so the same wire bytes. */
export function seededCrypto(seed: number): CryptoProvider {
  const r = prng(seed)
  return { ...nodeCrypto, randomBytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256)) }
}

/** A stand-in for src/trace/decode: a 'ping' message per 32 bytes of /ipfs/ping/1.0.0. */
export const fakeDecoders: DecoderFactory = (protocol) => {
  if (protocol !== PING) return undefined
  let held = 0
  const d: StreamDecoder = {
    push(bytes) {
      held += bytes.length
      const out = []
      for (; held >= 32; held -= 32) out.push({ name: 'ping', fields: { bytes: 32 } })
      return out
    },
  }
  return d
}

export class TracedPair {
  readonly a: Connection
  readonly b: Connection
  readonly eventsA: ConnectionEvent[] = []
  readonly eventsB: ConnectionEvent[] = []
  readonly traceA: TraceEvent[] = []
  readonly traceB: TraceEvent[] = []
  /** Every chunk a sent to b, and b to a, in order. */
  readonly wireAtoB: Uint8Array[] = []
  readonly wireBtoA: Uint8Array[] = []
  now = 1000

  constructor(o: {
    trace?: boolean; decoders?: DecoderFactory; maxStreams?: number; seed?: number
    a?: Partial<ConnectionOptions>; b?: Partial<ConnectionOptions>; sink?: (e: TraceEvent) => void
  } = {}) {
    const on = o.trace ?? true
    const clock = (): number => this.now
    const hook = (into: TraceEvent[], role: 'dialer' | 'listener') => new Tracer({ emit: o.sink ?? ((e) => into.push(e)), now: clock, decoders: o.decoders ?? fakeDecoders, maxStreams: o.maxStreams }).connection(role)
    const supports = (p: string): boolean => p === PING || p === '/echo/1.0.0'
    const common = { supportsProtocol: supports, listProtocols: () => [PING], now: this.now }
    this.a = new Connection({
      role: 'dialer', crypto: o.seed !== undefined ? seededCrypto(o.seed) : nodeCrypto, identity: keyA, ...common,
      ...(on ? { trace: hook(this.traceA, 'dialer') } : {}), ...o.a,
    })
    this.b = new Connection({
      role: 'listener', crypto: o.seed !== undefined ? seededCrypto(o.seed + 1) : nodeCrypto, identity: keyB, ...common,
      ...(on ? { trace: hook(this.traceB, 'listener') } : {}), ...o.b,
    })
  }

  /** Move bytes both ways until quiet; each side's events are collected. */
  drive(): void {
    for (let i = 0; i < 10_000; i++) {
      const moved = this.#move(this.a, this.b, this.wireAtoB) + this.#move(this.b, this.a, this.wireBtoA)
      for (let e = this.a.pollEvent(); e !== undefined; e = this.a.pollEvent()) this.eventsA.push(e)
      for (let e = this.b.pollEvent(); e !== undefined; e = this.b.pollEvent()) this.eventsB.push(e)
      if (moved === 0) return
      this.now += 0.25
    }
    throw new Error('pair did not settle')
  }

  #move(from: Connection, to: Connection, log: Uint8Array[]): number {
    let moved = 0
    for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
      log.push(out.slice())
      to.handleData(this.now, out)
      moved += out.length
    }
    return moved
  }

  /** a opens `protocol`, writes `data`, b echoes it, both half-close: returns the stream ids. */
  echo(protocol: string, data: Uint8Array): { a: number; b: number } {
    this.drive()
    const idA = this.a.openStream(this.now, [protocol], 1)
    this.drive()
    const inbound = this.eventsB.find((e): e is Extract<ConnectionEvent, { type: 'stream-opened' }> => e.type === 'stream-opened' && e.protocol === protocol && !this.#seen.has(e.id))!
    this.#seen.add(inbound.id)
    this.a.write(idA, data)
    this.drive()
    for (const e of this.eventsB) if (e.type === 'stream-data' && e.id === inbound.id && !this.#echoed.has(e.data)) {
      this.#echoed.add(e.data)
      this.b.consume(this.now, e.id, e.data.length)
      this.b.write(inbound.id, e.data)
    }
    this.drive()
    this.a.closeWrite(idA)
    this.b.closeWrite(inbound.id)
    this.drive()
    return { a: idA, b: inbound.id }
  }

  readonly #seen = new Set<number>()
  readonly #echoed = new Set<Uint8Array>()
}
