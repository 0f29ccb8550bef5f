// A deterministic two-session harness for yamux tests: client <-> server joined by an in-memory
// link with a one-way latency, a virtual clock, and a chunking mode for delivered bytes.
import { type InternalError, ProtocolError } from '../src/core/errors.js'
import { YamuxSession, type StreamId, type YamuxEvent, type YamuxOptions } from '../src/yamux/index.js'
import { prng } from './helpers/prng.js'
export { prng }

export type Chunking = { mode: 'whole' } | { mode: 'byte' } | { mode: 'random'; seed: number }


export class Side {
  readonly session: YamuxSession
  readonly name: string
  readonly log: YamuxEvent[] = []
  readonly received = new Map<StreamId, Uint8Array[]>()
  /** Bytes received per stream. */
  readonly count = new Map<StreamId, number>()
  readonly eof = new Set<StreamId>()
  readonly resets = new Set<StreamId>()
  readonly closedStreams = new Set<StreamId>()
  readonly inbound: StreamId[] = []
  readonly rtts: number[] = []
  error: ProtocolError | InternalError | undefined
  closed = false
  autoAccept = true
  /** Consume data as soon as it is delivered. When false, data is left unconsumed until `consumeAll`. */
  autoConsume = true
  onEvent: ((ev: YamuxEvent, side: Side) => void) | undefined
  /** The virtual clock (set by the Pair). */
  now: () => number = () => 0

  constructor(name: string, options: YamuxOptions) {
    this.name = name
    this.session = new YamuxSession(options)
  }

  dataOf(id: StreamId): Uint8Array {
    const parts = this.received.get(id) ?? []
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let off = 0
    for (const p of parts) {
      out.set(p, off)
      off += p.length
    }
    return out
  }

  unconsumed(id: StreamId): number {
    return this.session.streamStats(id)?.unconsumed ?? 0
  }

  consumeAll(): void {
    for (const id of this.received.keys()) {
      const n = this.unconsumed(id)
      if (n > 0) this.session.consume(id, n, this.now())
    }
  }

  drainEvents(): void {
    for (let ev = this.session.pollEvent(); ev !== undefined; ev = this.session.pollEvent()) {
      this.log.push(ev)
      switch (ev.type) {
        case 'stream-inbound':
          this.inbound.push(ev.id)
          if (this.autoAccept) this.session.accept(ev.id)
          break
        case 'stream-data': {
          if (this.eof.has(ev.id)) throw new Error(`${this.name}: data after eof on ${ev.id}`)
          let arr = this.received.get(ev.id)
          if (arr === undefined) this.received.set(ev.id, (arr = []))
          arr.push(ev.data)
          this.count.set(ev.id, (this.count.get(ev.id) ?? 0) + ev.data.length)
          if (this.autoConsume) this.session.consume(ev.id, ev.data.length, this.now())
          break
        }
        case 'stream-eof':
          this.eof.add(ev.id)
          break
        case 'stream-reset':
          this.resets.add(ev.id)
          break
        case 'stream-closed':
          this.closedStreams.add(ev.id)
          break
        case 'ping':
          this.rtts.push(ev.rtt)
          break
        case 'closed':
          this.closed = true
          if (ev.error !== undefined) this.error = ev.error
          break
        default:
      }
      this.onEvent?.(ev, this)
    }
  }
}

interface InFlight {
  at: number
  to: Side
  bytes: Uint8Array
}

export interface PairOptions {
  client?: Partial<YamuxOptions>
  server?: Partial<YamuxOptions>
  /** One-way latency in ms. */
  latency?: number
  chunking?: Chunking
  /** pollTransmit max. */
  max?: number
}

export class Pair {
  now = 0
  readonly client: Side
  readonly server: Side
  readonly latency: number
  readonly max: number
  readonly #chunking: Chunking
  readonly #rand: () => number
  #inflight: InFlight[] = []
  /** Bytes each side handed to the link. */
  readonly wire = new Map<Side, number>()

  constructor(o: PairOptions = {}) {
    this.client = new Side('client', { keepAliveInterval: undefined, ...o.client, role: 'client' })
    this.server = new Side('server', { keepAliveInterval: undefined, ...o.server, role: 'server' })
    this.latency = o.latency ?? 0
    this.max = o.max ?? 65519
    this.#chunking = o.chunking ?? { mode: 'whole' }
    this.#rand = prng(this.#chunking.mode === 'random' ? this.#chunking.seed : 1)
    this.client.now = this.server.now = () => this.now
  }

  peer(s: Side): Side {
    return s === this.client ? this.server : this.client
  }

  /** Drain transmit and events of both sides until neither produces anything. */
  flush(): void {
    for (let progress = true; progress; ) {
      progress = false
      for (const s of [this.client, this.server]) {
        for (let out = s.session.pollTransmit(this.max); out !== undefined; out = s.session.pollTransmit(this.max)) {
          this.#inflight.push({ at: this.now + this.latency, to: this.peer(s), bytes: out })
          this.wire.set(s, (this.wire.get(s) ?? 0) + out.length)
          progress = true
        }
        const before = s.log.length
        s.drainEvents()
        if (s.log.length !== before) progress = true
      }
    }
  }

  #feed(to: Side, bytes: Uint8Array): void {
    try {
      to.session.handleData(this.now, bytes)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      to.error = e
    }
  }

  #deliver(m: InFlight): void {
    const { to, bytes } = m
    switch (this.#chunking.mode) {
      case 'whole':
        this.#feed(to, bytes)
        break
      case 'byte':
        for (let i = 0; i < bytes.length; i++) this.#feed(to, bytes.subarray(i, i + 1))
        break
      case 'random':
        for (let off = 0; off < bytes.length; ) {
          const n = 1 + Math.floor(this.#rand() * Math.min(bytes.length - off, 2 + Math.floor(this.#rand() * 40000)))
          this.#feed(to, bytes.slice(off, off + n))
          off += n
        }
        break
    }
    this.flush()
  }

  #nextTimer(): number | undefined {
    let t: number | undefined
    for (const s of [this.client, this.server]) {
      const d = s.session.pollTimeout()
      if (d !== undefined && (t === undefined || d < t)) t = d
    }
    return t
  }

  #fireTimers(): boolean {
    let fired = false
    for (const s of [this.client, this.server]) {
      const d = s.session.pollTimeout()
      if (d !== undefined && d <= this.now) {
        s.session.handleTimeout(this.now)
        fired = true
      }
    }
    if (fired) this.flush()
    return fired
  }

  /** Deliver everything in flight (advancing the clock to delivery times), firing timers on the way. */
  drive(limit = 1_000_000): void {
    for (let i = 0; ; i++) {
      if (i > limit) throw new Error('pair did not settle')
      this.flush()
      if (this.#fireTimers()) continue
      const m = this.#inflight[0]
      if (m === undefined) return
      if (m.at > this.now) this.now = Math.min(m.at, this.#nextTimer() ?? Infinity)
      if (m.at <= this.now) {
        this.#inflight.shift()
        this.#deliver(m)
      }
    }
  }

  /** Deliver the oldest in-flight message (advancing the clock to its time). False when none. */
  step(): boolean {
    this.flush()
    const m = this.#inflight.shift()
    if (m === undefined) return false
    if (m.at > this.now) this.now = m.at
    this.#fireTimers()
    this.#deliver(m)
    return true
  }

  /** Advance the virtual clock by `ms`, delivering and firing timers on the way. */
  advance(ms: number): void {
    const end = this.now + ms
    for (;;) {
      this.drive()
      const t = this.#nextTimer()
      if (t === undefined || t > end) break
      this.now = Math.max(this.now, t)
      this.#fireTimers()
    }
    this.now = end
    this.drive()
  }

  get inFlightBytes(): number {
    return this.#inflight.reduce((n, m) => n + m.bytes.length, 0)
  }
}
