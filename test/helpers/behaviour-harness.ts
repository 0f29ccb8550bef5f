/**
 * Test drivers for behaviours (src/swarm/behaviour.ts), on a virtual clock, with no IO.
 *
 * - `Harness`: one behaviour. Feed it inputs, run commands, advance the clock; it follows the
 *   contract's call order (handle, drain pollAction, pollTimeout -> handleTimeout) and logs actions.
 * - `Pair`: two behaviours joined by simulated connections. It plays the swarm for both: an
 *   `open-stream` is negotiated against the other side's `protocols`, a `write` on one side becomes
 *   `stream-data` on the other (re-chunked whole / byte by byte / seeded random), `close-write`
 *   becomes `stream-eof`, `reset` becomes `stream-reset`, and both sides get `stream-closed` once
 *   both wrote EOF. Every write is taken at once by the simulated muxer: the writer gets
 *   `stream-writable` right after it. Deliveries take `latency` ms one way. A write on a stream the writer closed or
 *   reset throws: that is a behaviour bug.
 *
 * Stream refs are the same on both sides (one connection id and stream id per simulated stream).
 */
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, PeerInfoUpdate, StreamRef } from '../../src/swarm/behaviour.js'
import { streamKey } from '../../src/swarm/behaviour.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import type { PeerId, PrivateKey, PublicKey } from '../../src/peer-id/index.js'
import { nobleCrypto } from '../../src/core/crypto/noble.js'
import { prng as mulberry32 } from './prng.js'

const MAX_STEPS = 1_000_000

/** Drives one behaviour alone. */
export class Harness<Ev> {
  now = 0
  /** Every action ever drained, in order. */
  readonly log: BehaviourAction<Ev>[] = []
  readonly behaviour: Behaviour<Ev>

  constructor(behaviour: Behaviour<Ev>) {
    this.behaviour = behaviour
  }

  /** handle(now, input), then drain; returns the actions produced. */
  input(input: BehaviourInput): BehaviourAction<Ev>[] {
    this.behaviour.handle(this.now, input)
    return this.drain()
  }

  /** Run a command (given the current time), then drain. Returns the command's result and the actions. */
  command<T>(f: (now: number) => T): T {
    return f(this.now)
  }

  drain(): BehaviourAction<Ev>[] {
    const out: BehaviourAction<Ev>[] = []
    for (let a = this.behaviour.pollAction(); a !== undefined; a = this.behaviour.pollAction()) out.push(a)
    this.log.push(...out)
    return out
  }

  /** Move the clock forward by `ms`, firing every timeout that comes due on the way. */
  advance(ms: number): BehaviourAction<Ev>[] {
    const target = this.now + ms
    const out: BehaviourAction<Ev>[] = []
    for (let i = 0; ; i++) {
      if (i > MAX_STEPS) throw new Error('harness: timeouts never settle')
      const d = this.behaviour.pollTimeout()
      if (d === undefined || d > target) break
      this.now = Math.max(this.now, d)
      this.behaviour.handleTimeout(this.now)
      out.push(...this.drain())
    }
    this.now = target
    return out
  }

  events(): Ev[] {
    return this.log.flatMap((a) => (a.type === 'event' ? [a.event] : []))
  }
}

/** What the pair needs to know about each side's node. */
export interface PairIdentity {
  peer: PeerId
  publicKey: PublicKey
  addr: Multiaddr
}

/** A deterministic Ed25519 identity: seed = 32 bytes of `seedByte`. */
export function testIdentity(seedByte: number, addr: string): PairIdentity & { key: PrivateKey } {
  const key = privateKeyFromSeed(new Uint8Array(32).fill(seedByte), nobleCrypto)
  return { key, peer: key.publicKey.toPeerId(nobleCrypto), publicKey: key.publicKey, addr: Multiaddr.fromString(addr) }
}

export type Chunking = 'whole' | 'bytes' | { seed: number }

export interface PairOptions {
  /** One-way delay of every delivery, ms. Default 0. */
  latency?: number
  /** How written bytes are split into stream-data inputs. Default 'whole'. */
  chunking?: Chunking
}

interface SimStream {
  ref: StreamRef
  protocol: string
  /** Which side wrote EOF / reset. */
  closed: [boolean, boolean]
  /** Who reset it ('both': the connection closed). */
  resetBy: 0 | 1 | 'both' | undefined
  /** Bytes delivered to each side. */
  delivered: [number, number]
}

interface Scheduled {
  at: number
  seq: number
  to: 0 | 1
  input: BehaviourInput
}

/** One side of a Pair. */
export class Side<Ev> {
  readonly events: Ev[] = []
  readonly peerInfos: { peer: PeerId; info: PeerInfoUpdate }[] = []
  /** Actions other than events and peer-info, in order (open-stream, write, dial...). */
  readonly actions: BehaviourAction<Ev>[] = []
  readonly connections: ConnectionInfo[] = []

  constructor(
    readonly pair: Pair<any, any>,
    readonly index: 0 | 1,
    readonly behaviour: Behaviour<Ev>,
    readonly identity: PairIdentity,
  ) {}

  /** Run a command on this side's behaviour at the pair's current time. */
  command<T>(f: (now: number) => T): T {
    const result = f(this.pair.now)
    this.pair.drainAll()
    return result
  }

  /** Feed an input directly (e.g. `local-info`). */
  input(input: BehaviourInput): void {
    this.behaviour.handle(this.pair.now, input)
    this.pair.drainAll()
  }

  eventsOf<T extends string>(type: T): Extract<Ev, { type: T }>[] {
    return this.events.filter((e) => (e as { type: string }).type === type) as Extract<Ev, { type: T }>[]
  }
}

/** Two behaviours connected to each other. */
export class Pair<A, B> {
  now = 0
  readonly a: Side<A>
  readonly b: Side<B>
  readonly #latency: number
  readonly #chunking: Chunking
  #rng: () => number
  readonly #queue: Scheduled[] = []
  readonly #streams = new Map<string, SimStream>()
  #seq = 0
  #nextConn = 1
  #nextStream = 1

  constructor(a: Behaviour<A>, b: Behaviour<B>, ids: { a: PairIdentity; b: PairIdentity }, options: PairOptions = {}) {
    this.a = new Side(this, 0, a, ids.a)
    this.b = new Side(this, 1, b, ids.b)
    this.#latency = options.latency ?? 0
    this.#chunking = options.chunking ?? 'whole'
    this.#rng = mulberry32(typeof this.#chunking === 'object' ? this.#chunking.seed : 1)
  }

  #side(i: 0 | 1): Side<any> {
    return i === 0 ? this.a : this.b
  }

  /** Open a connection: a is the dialer. Both sides get `connection-established` now. */
  connect(): { a: ConnectionInfo; b: ConnectionInfo } {
    const id = this.#nextConn++
    const ia = this.a.identity
    const ib = this.b.identity
    const ca: ConnectionInfo = { id, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: ia.addr, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    const cb: ConnectionInfo = { id, peer: ia.peer, remotePublicKey: ia.publicKey, remoteAddr: ia.addr, localAddr: ib.addr, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    this.a.connections.push(ca)
    this.b.connections.push(cb)
    this.#schedule(0, 0, { type: 'connection-established', connection: ca })
    this.#schedule(1, 0, { type: 'connection-established', connection: cb })
    return { a: ca, b: cb }
  }

  /** Close connection `id` on both sides: open streams are reset, then `connection-closed`. */
  disconnect(id: number): void {
    for (const s of this.#streams.values()) {
      if (s.ref.connection !== id || s.resetBy !== undefined || (s.closed[0] && s.closed[1])) continue
      s.resetBy = 'both'
      for (const to of [0, 1] as const) this.#schedule(to, 0, { type: 'stream-reset', stream: s.ref })
    }
    for (const to of [0, 1] as const) {
      const side = this.#side(to)
      const i = side.connections.findIndex((c) => c.id === id)
      if (i < 0) continue
      const [c] = side.connections.splice(i, 1)
      this.#schedule(to, 0, { type: 'connection-closed', connection: c! })
    }
  }

  /** Bytes delivered so far to side `to` on `stream`. */
  delivered(to: 'a' | 'b', stream: StreamRef): number {
    return this.#streams.get(streamKey(stream))?.delivered[to === 'a' ? 0 : 1] ?? 0
  }

  /** Drain both behaviours' actions into scheduled deliveries. */
  drainAll(): void {
    let progress = true
    while (progress) {
      progress = false
      for (const i of [0, 1] as const) {
        const side = this.#side(i)
        for (let act = side.behaviour.pollAction(); act !== undefined; act = side.behaviour.pollAction()) {
          progress = true
          this.#apply(i, act)
        }
      }
    }
  }

  /** Process deliveries and timeouts until nothing is left (or `maxMillis` of virtual time passed). */
  run(maxMillis = 3_600_000): void {
    const limit = this.now + maxMillis
    for (let step = 0; ; step++) {
      if (step > MAX_STEPS) throw new Error('pair: never settles')
      this.drainAll()
      const head = this.#queue[0]
      let next = head?.at
      let timeoutSide: 0 | 1 | undefined
      for (const i of [0, 1] as const) {
        const d = this.#side(i).behaviour.pollTimeout()
        if (d !== undefined && (next === undefined || d < next)) {
          next = d
          timeoutSide = i
        }
      }
      if (next === undefined || next > limit) return
      this.now = Math.max(this.now, next)
      if (timeoutSide !== undefined) {
        this.#side(timeoutSide).behaviour.handleTimeout(this.now)
      } else {
        const item = this.#queue.shift()!
        if (this.#deliverable(item)) this.#side(item.to).behaviour.handle(this.now, item.input)
      }
    }
  }

  /** Advance virtual time by `ms`, processing everything due. */
  runFor(ms: number): void {
    const target = this.now + ms
    this.run(ms)
    this.now = Math.max(this.now, target)
  }

  /** A swarm delivers nothing more on a stream after the receiving side reset it. */
  #deliverable(item: Scheduled): boolean {
    const i = item.input
    if (i.type !== 'stream-data' && i.type !== 'stream-eof' && i.type !== 'stream-closed' && i.type !== 'stream-writable') return true
    const s = this.#streams.get(streamKey(i.stream))
    return s === undefined || (s.resetBy !== item.to && s.resetBy !== 'both')
  }

  #schedule(to: 0 | 1, delay: number, input: BehaviourInput): void {
    const item: Scheduled = { at: this.now + delay, seq: this.#seq++, to, input }
    let i = this.#queue.length
    while (i > 0 && this.#queue[i - 1]!.at > item.at) i--
    this.#queue.splice(i, 0, item)
  }

  #apply(from: 0 | 1, act: BehaviourAction<any>): void {
    const side = this.#side(from)
    const to: 0 | 1 = from === 0 ? 1 : 0
    const other = this.#side(to)
    const L = this.#latency
    switch (act.type) {
      case 'event':
        side.events.push(act.event)
        return
      case 'peer-info':
        side.peerInfos.push({ peer: act.peer, info: act.info })
        return
      case 'open-stream': {
        side.actions.push(act)
        const conn = side.connections.find((c) => (act.connection === undefined ? c.peer.equals(act.peer) : c.id === act.connection))
        if (conn === undefined) {
          this.#schedule(from, 0, { type: 'stream-open-failed', requestId: act.requestId, error: new Error('pair: no connection') })
          return
        }
        const protocol = act.protocols.find((p) => other.behaviour.protocols.includes(p))
        if (protocol === undefined) {
          this.#schedule(from, 2 * L, { type: 'stream-open-failed', requestId: act.requestId, error: new Error('pair: protocol not supported') })
          return
        }
        const ref: StreamRef = { connection: conn.id, stream: this.#nextStream++ }
        this.#streams.set(streamKey(ref), { ref, protocol, closed: [false, false], resetBy: undefined, delivered: [0, 0] })
        const otherConn = other.connections.find((c) => c.id === conn.id)!
        this.#schedule(to, L, { type: 'stream-opened', stream: ref, protocol, direction: 'inbound', connection: otherConn })
        this.#schedule(from, L, { type: 'stream-opened', stream: ref, protocol, direction: 'outbound', connection: conn, requestId: act.requestId })
        return
      }
      case 'write': {
        side.actions.push(act)
        const s = this.#usable(act.stream, from, 'write')
        if (s === undefined) return
        if (s.closed[from]) throw new Error(`pair: side ${from} wrote on ${streamKey(act.stream)} after close-write`)
        for (const chunk of this.#chunks(act.data)) {
          s.delivered[to] += chunk.length
          this.#schedule(to, L, { type: 'stream-data', stream: s.ref, data: chunk })
        }
        // The simulated muxer takes every write at once: the writer may write again.
        this.#schedule(from, 0, { type: 'stream-writable', stream: s.ref })
        return
      }
      case 'close-write': {
        side.actions.push(act)
        const s = this.#usable(act.stream, from, 'close-write')
        if (s === undefined) return
        if (s.closed[from]) throw new Error(`pair: side ${from} closed ${streamKey(act.stream)} twice`)
        s.closed[from] = true
        this.#schedule(to, L, { type: 'stream-eof', stream: s.ref })
        if (s.closed[to]) {
          this.#schedule(to, L, { type: 'stream-closed', stream: s.ref })
          this.#schedule(from, L, { type: 'stream-closed', stream: s.ref })
        }
        return
      }
      case 'reset': {
        side.actions.push(act)
        const s = this.#usable(act.stream, from, 'reset')
        if (s === undefined || (s.closed[0] && s.closed[1])) return
        s.resetBy = from
        this.#schedule(to, L, { type: 'stream-reset', stream: s.ref })
        return
      }
      default:
        side.actions.push(act)
    }
  }

  /**
   * The stream if `from` may act on it; undefined when the other side reset it (the action is
   * dropped, as a swarm would). Acting on a stream you reset yourself, or never had, throws.
   */
  #usable(ref: StreamRef, from: 0 | 1, what: string): SimStream | undefined {
    const s = this.#streams.get(streamKey(ref))
    if (s === undefined) throw new Error(`pair: side ${from} ${what} on unknown stream ${streamKey(ref)}`)
    if (s.resetBy === from) throw new Error(`pair: side ${from} ${what} on ${streamKey(ref)} after resetting it`)
    if (s.resetBy !== undefined) return undefined
    return s
  }

  #chunks(data: Uint8Array): Uint8Array[] {
    const copy = data.slice()
    if (this.#chunking === 'whole' || copy.length <= 1) return [copy]
    const out: Uint8Array[] = []
    for (let off = 0; off < copy.length;) {
      const n = this.#chunking === 'bytes' ? 1 : 1 + Math.floor(this.#rng() * Math.min(copy.length - off, 97))
      out.push(copy.subarray(off, off + n))
      off += n
    }
    return out
  }
}

/** A small seeded PRNG (mulberry32): same seed, same chunking. */
export { prng as mulberry32 } from './prng.js'
