/**
 * Kademlia network simulation: N pure `KadBehaviour`s joined by a simulated network on a virtual
 * clock, deterministic for a seed (`npm run sim:kad -- --nodes N --seed S [--churn P] [--json]`).
 *
 * Why not N real nodes: 10,000 full weft nodes (Noise handshakes, yamux, identify) in one process
 * cost far more memory and CPU than the DHT logic under test. The behaviours are the exact code a
 * real node runs; the simulated network plays the swarm's part of the behaviour contract:
 * - `open-stream` to an online peer: both sides get `stream-opened` after the stream's one-way
 *   latency (10–50 ms, drawn per stream so bytes and EOF keep their order); before its inbound
 *   stream the receiver gets the `peer-info` identify would have delivered (protocols, address);
 * - `write` / `close-write` / `reset` become `stream-data` / `stream-eof` / `stream-reset` on the
 *   other side after the latency;
 * - a peer that left (churn) is a black hole: streams to it never open, so requests to it end by
 *   the per-request timeout (10 s of virtual time), as a dead TCP address would.
 * Time is virtual (an event heap); behaviour timeouts are honoured via `pollTimeout`.
 *
 * Measured: for `lookups` random keys, getClosestPeers from a random node against the brute-force
 * true k closest online nodes (fraction correct), hops and messages per lookup; PUT then GET success
 * from random nodes; GET again after a fraction `churn` of nodes left without warning.
 */
import { KadBehaviour } from '../src/kad/index.js'
import type { KadEvent, RecordValidator } from '../src/kad/index.js'
import { compareDistance, peerKey } from '../src/kad/key.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { utf8 } from '../src/core/bytes.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId } from '../src/peer-id/index.js'
import type { PublicKey } from '../src/peer-id/index.js'
import type { BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../src/swarm/index.js'
import { prng } from '../test/helpers/prng.js'

export interface SimOptions {
  nodes: number
  seed: number
  /** Fraction of nodes that leave before the second round of GETs. Default 0.2. */
  churn?: number
  lookups?: number
  /** Keys PUT then GET. Default 50. */
  puts?: number
  k?: number
  alpha?: number
  crypto?: CryptoProvider
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void
}

export interface SimResult {
  nodes: number
  lookups: number
  closestCorrect: number
  hopsMedian: number
  hopsP95: number
  messagesMedian: number
  messagesP95: number
  getSuccess: number
  getSuccessAfterChurn: number
  churn: number
  virtualSeconds: number
  totalMessages: number
  wallSeconds: number
}


function randomBytesFrom(rng: () => number): (n: number) => Uint8Array {
  return (n) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * 256)
    return out
  }
}

/** Accept-all namespace for simulated values. */
const simValidator: RecordValidator = { validate() {}, select() { return 0 } }

interface SimNode {
  readonly index: number
  readonly peer: PeerId
  readonly addr: Multiaddr
  readonly kad: KadBehaviour
  online: boolean
  timerAt: number
}

interface Ev {
  at: number
  seq: number
  node: number
  /** undefined: a timer check */
  input: BehaviourInput | undefined
}

interface SimStream {
  readonly ends: readonly [number, number]
  readonly latency: number
  /** Which ends have closed their write side (bit 0: ends[0], bit 1: ends[1]). */
  closed: number
}

class Heap {
  readonly #a: Ev[] = []
  get size(): number { return this.#a.length }
  push(e: Ev): void {
    const a = this.#a
    let i = a.length
    a.push(e)
    while (i > 0) {
      const p = (i - 1) >> 1
      const up = a[p]!
      if (less(up, e)) break
      a[i] = up
      i = p
    }
    a[i] = e
  }
  pop(): Ev | undefined {
    const a = this.#a
    if (a.length === 0) return undefined
    const top = a[0]!
    const last = a.pop()!
    const n = a.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && less(a[r]!, a[l]!) ? r : l
        if (!less(a[c]!, last)) break
        a[i] = a[c]!
        i = c
      }
      a[i] = last
    }
    return top
  }
}
function less(x: Ev, y: Ev): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq)
}

const NO_KEY = undefined as unknown as PublicKey

export class SimNetwork {
  now = 0
  readonly nodes: SimNode[] = []
  readonly crypto: CryptoProvider
  readonly #byPeer = new Map<string, number>()
  /** Kad keys of the nodes, by index (for the brute-force truth). */
  readonly #keys: Uint8Array[] = []
  readonly #heap = new Heap()
  /** Streams by connection id (one stream per simulated connection). */
  readonly #streams = new Map<number, SimStream>()
  /** Pairs (from * N + to) that have been connected before: identify runs on the first contact. */
  readonly #introduced = new Set<number>()
  readonly #results = new Map<string, KadEvent>()
  readonly #rng: () => number
  /** Result keys `run` is waiting for. */
  #waiting = new Set<string>()
  #seq = 0
  #nextConn = 1
  messages = 0

  constructor(count: number, seed: number, options: { k?: number; alpha?: number; crypto?: CryptoProvider } = {}) {
    this.crypto = options.crypto ?? nobleCrypto
    this.#rng = prng(seed)
    const idRng = randomBytesFrom(prng(seed ^ 0x5eed))
    for (let i = 0; i < count; i++) {
      const mh = new Uint8Array(34)
      mh[0] = 0x12
      mh[1] = 0x20
      mh.set(idRng(32), 2)
      const peer = PeerId.fromMultihash(mh)
      const addr = Multiaddr.fromString(`/memory/${i + 1}`)
      const kad = new KadBehaviour({
        crypto: this.crypto,
        random: randomBytesFrom(prng(seed * 7919 + i)),
        peerId: peer,
        validators: { sim: simValidator },
        refreshInterval: 0,
        refreshMaxCpl: 10,
        progressEvents: false,
        ...(options.k !== undefined ? { k: options.k } : {}),
        ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
      })
      this.nodes.push({ index: i, peer, addr, kad, online: true, timerAt: Infinity })
      this.#byPeer.set(peerKey(peer), i)
      this.#keys.push(this.crypto.sha256(peer.multihash))
      kad.handle(0, { type: 'local-info', listenAddrs: [addr], protocols: kad.protocols })
    }
  }

  random(): number {
    return this.#rng()
  }

  randomOnline(): SimNode {
    for (;;) {
      const n = this.nodes[Math.floor(this.#rng() * this.nodes.length)]!
      if (n.online) return n
    }
  }

  /** Run a command on a node; its result event is collected by `result`. */
  command(node: SimNode, f: (kad: KadBehaviour, now: number) => number): string {
    const id = f(node.kad, this.now)
    this.#drain(node)
    return `${node.index}:${id}`
  }

  result(key: string): KadEvent | undefined {
    return this.#results.get(key)
  }

  /** Process events until every key in `waitFor` has a result (or nothing is left to do). */
  run(waitFor: readonly string[]): void {
    const want = new Set(waitFor.filter((k) => !this.#results.has(k)))
    this.#waiting = want
    while (want.size > 0) {
      const e = this.#heap.pop()
      if (e === undefined) return
      this.now = Math.max(this.now, e.at)
      const node = this.nodes[e.node]!
      if (!node.online) continue
      if (e.input === undefined) {
        if (e.at !== node.timerAt) continue
        node.timerAt = Infinity
        const d = node.kad.pollTimeout()
        if (d !== undefined && d <= this.now) node.kad.handleTimeout(this.now)
      } else {
        node.kad.handle(this.now, e.input)
      }
      this.#drain(node)
    }
  }

  /** Take a node offline without warning. */
  kill(node: SimNode): void {
    node.online = false
  }

  /** The true k closest online nodes to `key` (brute force: one pass keeping the k best). */
  trueClosest(key: Uint8Array, k: number): Set<string> {
    const target = this.crypto.sha256(key)
    const best: number[] = []
    const keys = this.#keys
    for (let i = 0; i < this.nodes.length; i++) {
      if (!this.nodes[i]!.online) continue
      if (best.length === k && compareDistance(target, keys[i]!, keys[best[k - 1]!]!) >= 0) continue
      let j = best.length < k ? best.length : k - 1
      while (j > 0 && compareDistance(target, keys[i]!, keys[best[j - 1]!]!) < 0) {
        best[j] = best[j - 1]!
        j--
      }
      best[j] = i
    }
    return new Set(best.map((i) => this.nodes[i]!.peer.toString()))
  }

  #schedule(node: number, delay: number, input: BehaviourInput | undefined, at = this.now + delay): void {
    this.#heap.push({ at, seq: this.#seq++, node, input })
  }

  #drain(node: SimNode): void {
    for (let a = node.kad.pollAction(); a !== undefined; a = node.kad.pollAction()) this.#apply(node, a)
    const d = node.kad.pollTimeout()
    if (d !== undefined && d < node.timerAt) {
      node.timerAt = Math.max(d, this.now)
      this.#schedule(node.index, 0, undefined, node.timerAt)
    }
  }

  #conn(self: SimNode, other: SimNode, direction: 'inbound' | 'outbound', id: number): ConnectionInfo {
    return { id, peer: other.peer, remotePublicKey: NO_KEY, remoteAddr: other.addr, localAddr: self.addr, direction, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
  }

  #apply(node: SimNode, a: BehaviourAction<KadEvent>): void {
    switch (a.type) {
      case 'event': {
        const ev = a.event
        if (ev.type === 'query-done' || ev.type === 'query-failed') {
          const key = `${node.index}:${ev.requestId}`
          this.#results.set(key, ev)
          this.#waiting.delete(key)
        }
        return
      }
      case 'open-stream': {
        const ti = this.#byPeer.get(peerKey(a.peer))
        const target = ti === undefined ? undefined : this.nodes[ti]!
        // A dead or unknown peer: nothing ever comes back; the request times out.
        if (target === undefined || !target.online) return
        this.messages++
        const latency = 10 + Math.floor(this.#rng() * 41)
        const id = this.#nextConn++
        const ref: StreamRef = { connection: id, stream: 1 }
        this.#streams.set(id, { ends: [node.index, target.index], latency, closed: 0 })
        // What identify tells the receiver, on the first contact of this pair (a real swarm keeps
        // the connection and does not identify again for each stream).
        const pair = node.index * this.nodes.length + target.index
        if (!this.#introduced.has(pair)) {
          this.#introduced.add(pair)
          this.#schedule(target.index, latency, { type: 'peer-info', peer: node.peer, info: { protocols: node.kad.protocols, addrs: [node.addr] }, from: 'identify' })
        }
        this.#schedule(target.index, latency, { type: 'stream-opened', stream: ref, protocol: a.protocols[0]!, direction: 'inbound', connection: this.#conn(target, node, 'inbound', id) })
        this.#schedule(node.index, latency, { type: 'stream-opened', stream: ref, protocol: a.protocols[0]!, direction: 'outbound', connection: this.#conn(node, target, 'outbound', id), requestId: a.requestId })
        return
      }
      case 'write':
      case 'close-write':
      case 'reset': {
        const s = this.#streams.get(a.stream.connection)
        if (s === undefined) return
        const side = s.ends[0] === node.index ? 0 : 1
        const other = s.ends[1 - side]!
        if (a.type === 'write') this.#schedule(other, s.latency, { type: 'stream-data', stream: a.stream, data: a.data })
        else if (a.type === 'reset') {
          this.#streams.delete(a.stream.connection)
          this.#schedule(other, s.latency, { type: 'stream-reset', stream: a.stream })
        } else {
          this.#schedule(other, s.latency, { type: 'stream-eof', stream: a.stream })
          // Both sides closed: forget the stream.
          s.closed |= 1 << side
          if (s.closed === 3) this.#streams.delete(a.stream.connection)
        }
        return
      }
      default:
        return
    }
  }
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

/** Build, bootstrap and measure a network. */
export function runKadSim(opts: SimOptions): SimResult {
  const t0 = performance.now()
  const log = opts.log ?? (() => {})
  const k = opts.k ?? 20
  const churn = opts.churn ?? 0.2
  const lookups = opts.lookups ?? 200
  const puts = opts.puts ?? 50
  const net = new SimNetwork(opts.nodes, opts.seed, { k, ...(opts.alpha !== undefined ? { alpha: opts.alpha } : {}), ...(opts.crypto !== undefined ? { crypto: opts.crypto } : {}) })
  const N = net.nodes.length

  // Bootstrap: nodes join in batches, each knowing node 0 and a random earlier node.
  const batch = Math.max(1, Math.ceil(N / 100))
  for (let start = 1; start < N; start += batch) {
    const keys: string[] = []
    for (let i = start; i < Math.min(N, start + batch); i++) {
      const node = net.nodes[i]!
      const seeds = [net.nodes[0]!, net.nodes[Math.floor(net.random() * i)]!]
      for (const s of seeds) node.kad.handle(net.now, { type: 'peer-info', peer: s.peer, info: { protocols: s.kad.protocols, addrs: [s.addr] }, from: 'identify' })
      keys.push(net.command(node, (kad, now) => kad.bootstrap(now, 1)))
    }
    net.run(keys)
    const joined = Math.min(N, start + batch)
    if (((joined - 1) / batch) % 10 === 0 || joined === N) log(`  ${joined} joined (${net.messages} RPCs, ${((performance.now() - t0) / 1000).toFixed(1)} s wall)`)
  }
  log(`joined ${N} nodes (${net.messages} RPCs, virtual ${(net.now / 1000).toFixed(0)} s, ${((performance.now() - t0) / 1000).toFixed(1)} s wall)`)
  // Lookups against the brute-force truth.
  const keyRng = randomBytesFrom(prng(opts.seed ^ 0xabcdef))
  const correct: number[] = []
  const hops: number[] = []
  const msgs: number[] = []
  {
    const jobs: { key: Uint8Array; id: string }[] = []
    for (let i = 0; i < lookups; i++) {
      const key = keyRng(32)
      jobs.push({ key, id: net.command(net.randomOnline(), (kad, now) => kad.getClosestPeers(now, key)) })
    }
    net.run(jobs.map((j) => j.id))
    for (const j of jobs) {
      const ev = net.result(j.id)
      if (ev?.type !== 'query-done' || ev.result.kind !== 'closest-peers') {
        correct.push(0)
        continue
      }
      const truth = net.trueClosest(j.key, k)
      // The querying node itself is never in its own result; count it as found when it belongs.
      const origin = net.nodes[Number(j.id.split(':')[0])]!.peer.toString()
      const got = new Set(ev.result.peers.map((p) => p.peer.toString()))
      got.add(origin)
      let hit = 0
      for (const t of truth) if (got.has(t)) hit++
      correct.push(hit / truth.size)
      hops.push(ev.stats.hops)
      msgs.push(ev.stats.requests)
    }
  }
  log(`lookups done (${net.messages} RPCs, ${((performance.now() - t0) / 1000).toFixed(1)} s wall)`)

  // PUT then GET from random nodes.
  const values: { key: Uint8Array; value: Uint8Array }[] = []
  for (let i = 0; i < puts; i++) values.push({ key: utf8(`/sim/key-${opts.seed}-${i}`), value: utf8(`value-${i}`) })
  {
    const ids = values.map((v) => net.command(net.randomOnline(), (kad, now) => kad.put(now, v.key, v.value)))
    net.run(ids)
  }
  const getAll = (): number => {
    const ids = values.map((v) => ({ v, id: net.command(net.randomOnline(), (kad, now) => kad.get(now, v.key)) }))
    net.run(ids.map((x) => x.id))
    let ok = 0
    for (const { v, id } of ids) {
      const ev = net.result(id)
      if (ev?.type === 'query-done' && ev.result.kind === 'get' && equalBytes(ev.result.value, v.value)) ok++
    }
    return ok / values.length
  }
  const getSuccess = getAll()
  log(`put/get done (${net.messages} RPCs, ${((performance.now() - t0) / 1000).toFixed(1)} s wall)`)

  // Churn: a fraction leaves without warning.
  const leave = Math.floor(churn * N)
  for (let i = 0; i < leave;) {
    const n = net.nodes[Math.floor(net.random() * N)]!
    if (!n.online) continue
    net.kill(n)
    i++
  }
  const getSuccessAfterChurn = getAll()
  log(`after churn done (${net.messages} RPCs, ${((performance.now() - t0) / 1000).toFixed(1)} s wall)`)

  return {
    nodes: N,
    lookups,
    closestCorrect: round(correct.reduce((a, b) => a + b, 0) / Math.max(1, correct.length)),
    hopsMedian: quantile(hops, 0.5),
    hopsP95: quantile(hops, 0.95),
    messagesMedian: quantile(msgs, 0.5),
    messagesP95: quantile(msgs, 0.95),
    getSuccess: round(getSuccess),
    getSuccessAfterChurn: round(getSuccessAfterChurn),
    churn,
    virtualSeconds: Math.round(net.now / 1000),
    totalMessages: net.messages,
    wallSeconds: round((performance.now() - t0) / 1000),
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** CLI: --nodes N --seed S [--churn P] [--json] [--lookups L] */
export function main(argv: readonly string[], crypto?: CryptoProvider): SimResult {
  const arg = (name: string, dflt: number): number => {
    const i = argv.indexOf(`--${name}`)
    if (i < 0) return dflt
    const v = Number(argv[i + 1])
    if (!Number.isFinite(v)) throw new RangeError(`--${name} needs a number`)
    return v
  }
  const json = argv.includes('--json')
  const opts: SimOptions = {
    nodes: arg('nodes', 1000),
    seed: arg('seed', 1),
    churn: arg('churn', 0.2),
    lookups: arg('lookups', 200),
    puts: arg('puts', 50),
    ...(crypto !== undefined ? { crypto } : {}),
    // Progress lines go to stderr, so stdout stays one JSON object with --json.
    log: (l: string) => console.error(l),
  }
  const r = runKadSim(opts)
  if (json) {
    const { nodes, lookups, closestCorrect, hopsMedian, hopsP95, messagesMedian, getSuccess, getSuccessAfterChurn } = r
    console.log(JSON.stringify({ nodes, lookups, closestCorrect, hopsMedian, hopsP95, messagesMedian, getSuccess, getSuccessAfterChurn }))
  } else {
    console.log(`nodes ${r.nodes}, lookups ${r.lookups}, churn ${r.churn}`)
    console.log(`closest-${20} correct  ${r.closestCorrect}`)
    console.log(`hops median/p95     ${r.hopsMedian} / ${r.hopsP95}   (log2(N)/2 = ${(Math.log2(r.nodes) / 2).toFixed(2)})`)
    console.log(`messages median/p95 ${r.messagesMedian} / ${r.messagesP95}`)
    console.log(`GET success         ${r.getSuccess}`)
    console.log(`GET after churn     ${r.getSuccessAfterChurn}`)
    console.log(`virtual ${r.virtualSeconds} s, wall ${r.wallSeconds} s, ${r.totalMessages} RPCs in all`)
  }
  return r
}
