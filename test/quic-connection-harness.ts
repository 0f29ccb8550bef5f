// Two QuicConnections wired datagram to datagram on a virtual clock, with libp2p TLS hooks and an
// optional lossy network (drop, duplicate, reorder by jitter). Tests only.
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey, type PeerId } from '../src/peer-id/index.js'
import { QuicConnection, type QuicConnectionEvent, type QuicConnectionOptions } from '../src/quic/connection/index.js'
import { libp2pTlsAuth, type Libp2pTlsAuth } from '../src/tls/index.js'
import { prng } from './helpers/prng.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

export const wallClock = (): number => 1_767_225_600_000

export interface NetworkOptions {
  /** One-way delay, ms. */
  latency?: number
  /** Extra random delay up to this many ms (reorders). */
  jitter?: number
  /** Probability a datagram is dropped. */
  loss?: number
  /** Probability a datagram is delivered twice. */
  duplicate?: number
  seed?: number
}

interface InFlight { at: number, seq: number, to: 'client' | 'server', data: Uint8Array }

export type PairOptions = {
  net?: NetworkOptions
  client?: Partial<QuicConnectionOptions>
  server?: Partial<QuicConnectionOptions>
  /** Drop datagrams for which this returns true (after the random loss). */
  filter?: (to: 'client' | 'server', data: Uint8Array, now: number) => boolean
  /** The peer the client dials (default: the server's real id). */
  clientExpects?: PeerId
}

export class Pair {
  now = 0
  readonly client: QuicConnection
  readonly server: QuicConnection
  readonly clientAuth: Libp2pTlsAuth
  readonly serverAuth: Libp2pTlsAuth
  readonly clientKey = generatePrivateKey(tls.base)
  readonly serverKey = generatePrivateKey(tls.base)
  readonly events: Record<'client' | 'server', QuicConnectionEvent[]> = { client: [], server: [] }
  readonly #rand: () => number
  readonly #net: Required<NetworkOptions>
  #queue: InFlight[] = []
  #head = 0
  #seq = 0
  readonly #filter: PairOptions['filter']
  /** Called after each step for each side's events (tests react here: read streams, write more). */
  onEvent: (side: 'client' | 'server', e: QuicConnectionEvent) => void = () => {}
  delivered = { client: 0, server: 0 }
  readonly random: (n: number) => Uint8Array
  readonly initialDcid: Uint8Array

  constructor(o: PairOptions = {}) {
    this.#net = { latency: 10, jitter: 0, loss: 0, duplicate: 0, seed: 1, ...o.net }
    this.#rand = prng(this.#net.seed)
    this.#filter = o.filter
    const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(this.#rand() * 256))
    this.clientAuth = libp2pTlsAuth({ identity: this.clientKey, crypto: tls, wallClock, expectedPeer: o.clientExpects ?? this.serverKey.toPeerId() })
    this.serverAuth = libp2pTlsAuth({ identity: this.serverKey, crypto: tls, wallClock })
    const clientCid = random(8)
    const initialDcid = random(8)
    this.random = random
    this.initialDcid = initialDcid
    this.client = new QuicConnection({
      role: 'client', crypto: tls, tls: { alpn: [LIBP2P_ALPN], certificate: this.clientAuth.certificate, verifyPeer: this.clientAuth.verifyPeer },
      localConnectionId: clientCid, remoteConnectionId: initialDcid, random, now: 0, ...o.client,
    })
    this.server = new QuicConnection({
      role: 'server', crypto: tls, tls: { alpn: [LIBP2P_ALPN], certificate: this.serverAuth.certificate, verifyPeer: this.serverAuth.verifyPeer },
      localConnectionId: random(8), remoteConnectionId: clientCid, originalDestinationConnectionId: initialDcid, random, now: 0, ...o.server,
    })
  }

  conn(side: 'client' | 'server'): QuicConnection {
    return side === 'client' ? this.client : this.server
  }

  #flush(): void {
    for (const side of ['client', 'server'] as const) {
      const c = this.conn(side)
      const to = side === 'client' ? 'server' : 'client'
      for (let d = c.pollTransmit(this.now), n = 0; d !== undefined && n < 10_000; d = c.pollTransmit(this.now), n++) {
        if (this.#net.loss > 0 && this.#rand() < this.#net.loss) continue
        if (this.#filter?.(to, d, this.now) === true) continue
        const copies = this.#net.duplicate > 0 && this.#rand() < this.#net.duplicate ? 2 : 1
        for (let i = 0; i < copies; i++) this.#enqueue({ at: this.now + this.#net.latency + this.#rand() * this.#net.jitter, seq: this.#seq++, to, data: d })
      }
    }
  }

  /** Keeps the queue ordered by delivery time (binary insertion: most datagrams go last). */
  #enqueue(d: InFlight): void {
    const q = this.#queue
    let lo = this.#head
    let hi = q.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (q[mid]!.at <= d.at) lo = mid + 1
      else hi = mid
    }
    q.splice(lo, 0, d)
  }

  #drainEvents(): void {
    for (const side of ['client', 'server'] as const) {
      const c = this.conn(side)
      for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) {
        this.events[side].push(e)
        this.onEvent(side, e)
      }
    }
  }

  /** Runs until `done()` or nothing more can happen or `maxTime` (virtual ms) passes; returns done(). */
  run(done: () => boolean = () => false, maxTime = 60_000): boolean {
    const end = this.now + maxTime
    for (let steps = 0; steps < 5_000_000; steps++) {
      this.#drainEvents()
      this.#flush()
      this.#drainEvents()
      this.#flush()
      if (done()) return true
      if (this.#head > 4096) { this.#queue = this.#queue.slice(this.#head); this.#head = 0 }
      let next = this.#queue[this.#head]?.at
      for (const c of [this.client, this.server]) {
        const t = c.pollTimeout()
        if (t !== undefined && (next === undefined || t < next)) next = t
      }
      if (next === undefined || next > end) { this.now = Math.max(this.now, Math.min(end, next ?? end)); return done() }
      this.now = Math.max(this.now, next)
      while (this.#head < this.#queue.length && this.#queue[this.#head]!.at <= this.now) {
        const d = this.#queue[this.#head++]!
        this.delivered[d.to]++
        this.conn(d.to).handleDatagram(this.now, d.data)
      }
      for (const c of [this.client, this.server]) {
        const t = c.pollTimeout()
        if (t !== undefined && t <= this.now) c.handleTimeout(this.now)
      }
    }
    throw new Error('too many steps')
  }

  handshake(): boolean {
    return this.run(() => this.client.isHandshakeConfirmed && this.server.isHandshakeConfirmed, 30_000)
  }
}

/** Reads everything readable on `id` into `sink`. */
function drain(p: Pair, side: 'client' | 'server', id: number, sink: Uint8Array[]): boolean {
  for (;;) {
    const r = p.conn(side).read(id)
    if (r.data.length > 0) sink.push(r.data)
    if (r.fin) return true
    if (r.data.length === 0) return false
  }
}

export function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 10)) & 0xff
  return b
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of parts) { out.set(x, o); o += x.length }
  return out
}

export function transfer(p: Pair, size: number): { sent: Record<string, Uint8Array>, got: Record<string, Uint8Array> } {
  const payload = { client: pattern(size, 1), server: pattern(size, 2) }
  const offset = { client: 0, server: 0 }
  const ids: Record<string, number | undefined> = { client: undefined, server: undefined }
  const sinks: Record<string, Uint8Array[]> = { client: [], server: [] }
  const fin = { client: false, server: false }
  const pump = (side: 'client' | 'server') => {
    const c = p.conn(side)
    const id = ids[side]
    if (id === undefined) return
    while (offset[side] < size) {
      const n = c.write(id, payload[side].subarray(offset[side], Math.min(size, offset[side] + 65536)))
      if (n === 0) break
      offset[side] += n
    }
    if (offset[side] === size) c.finish(id)
  }
  p.onEvent = (side, e) => {
    if (e.kind !== 'stream') return
    const ev = e.event
    if (ev.kind === 'incoming') {
      // the peer's stream carries the peer's data to us; we answer on our own stream
    }
    if (ev.kind === 'readable') {
      if (drain(p, side, ev.id, sinks[side]!)) fin[side] = true
    }
    if (ev.kind === 'writable') pump(side)
  }
  ids.client = p.client.openStream(true)
  ids.server = p.server.openStream(true)
  pump('client'); pump('server')
  const ok = p.run(() => fin.client && fin.server, 600_000)
  if (!ok) throw new Error(`transfer stalled at ${offset.client}/${offset.server} sent, ${sinks.client!.reduce((n, x) => n + x.length, 0)}/${sinks.server!.reduce((n, x) => n + x.length, 0)} received, t=${p.now}`)
  return { sent: payload, got: { client: concat(sinks.client!), server: concat(sinks.server!) } }
}


/**
 * The client opens `count` streams (the peer's stream limit holds some back until 'streams-available'),
 * writes `size` bytes on each and finishes; the server echoes each stream back. Returns whether every
 * echo came back whole and equal.
 */
export function echoStreams(p: Pair, count: number, size: number, maxTime = 600_000): boolean {
  type Writer = { data: Uint8Array, off: number, side: 'client' | 'server', id: number }
  const want = new Map<number, Uint8Array>()
  const sinks: Record<'client' | 'server', Map<number, Uint8Array[]>> = { client: new Map(), server: new Map() }
  const writers = new Map<string, Writer>()
  let opened = 0
  let done = 0
  const pump = (w: Writer): void => {
    const c = p.conn(w.side)
    while (w.off < w.data.length) {
      const k = c.write(w.id, w.data.subarray(w.off))
      if (k === 0) return
      w.off += k
    }
    c.finish(w.id)
    writers.delete(`${w.side}${w.id}`)
  }
  const start = (side: 'client' | 'server', id: number, data: Uint8Array): void => {
    const w = { data, off: 0, side, id }
    writers.set(`${side}${id}`, w)
    pump(w)
  }
  const open = (): void => {
    for (let id = opened < count ? p.client.openStream(true) : undefined; id !== undefined; id = opened < count ? p.client.openStream(true) : undefined) {
      opened++
      want.set(id, pattern(size, id))
      start('client', id, want.get(id)!)
    }
  }
  p.onEvent = (side, e) => {
    if (e.kind !== 'stream') return
    const ev = e.event
    if (ev.kind === 'streams-available' && side === 'client') open()
    if (ev.kind === 'writable') { const w = writers.get(`${side}${ev.id}`); if (w !== undefined) pump(w) }
    if (ev.kind !== 'readable') return
    const parts = sinks[side].get(ev.id) ?? []
    sinks[side].set(ev.id, parts)
    for (;;) {
      const r = p.conn(side).read(ev.id)
      if (r.data.length > 0) parts.push(r.data)
      if (r.fin) {
        if (side === 'server') start('server', ev.id, concat(parts))
        else done++
      }
      if (r.fin || r.data.length === 0) break
    }
  }
  open()
  if (!p.run(() => done === count, maxTime)) return false
  for (const [id, data] of want) {
    const got = concat(sinks.client.get(id) ?? [])
    if (got.length !== data.length || got.some((b, i) => b !== data[i])) return false
  }
  return true
}
