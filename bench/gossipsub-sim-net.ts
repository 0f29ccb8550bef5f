// A deterministic behaviour-level network for gossipsub: N GossipsubBehaviours joined by simulated
// connections on a virtual clock, playing the swarm for each (stream negotiation; each frame of a write
// delivered as stream-data once its last byte has crossed the link, i.e. latency + bytes up to it /
// bandwidth; stream-writable when the whole write has left). One process, one seed, no IO:
// the same seed gives the same run. Used by `npm run sim:gossipsub` (bench/sim-gossipsub.ts) and by
// test/gossipsub-sim.test.ts. See spec/gossipsub.md and bench/README.md "Gossipsub simulation".
//
// Loss: each published message inside an RPC frame is dropped with probability `loss`, so streams stay
// frame-aligned: it models messages lost on the way (what gossip repairs), not TCP segment loss (which
// TCP itself repairs).
import { GossipsubBehaviour, type GossipsubEvent, type GossipsubOptions } from '../src/gossipsub/index.js'
import { decodeRpc, encodeRpc } from '../src/gossipsub/index.js'
import { encodeLp } from '../src/core/lp.js'
import type { BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../src/swarm/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed, type PeerId } from '../src/peer-id/index.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'

export interface SimOptions {
  nodes: number
  seed: number
  /** Fraction of nodes that publish invalid messages (rejected by every honest validator). */
  spammers?: number
  /** Probability that a write (a batch of RPCs) is lost. */
  loss?: number
  /** Outbound connections each node opens (to random others). Default 8. */
  degree?: number
  /** Honest messages published in total. Default 200. */
  messages?: number
  /** Invalid messages each spammer publishes. Default 10. */
  spamPerSpammer?: number
  /** Payload size, bytes. Default 100. */
  messageSize?: number
  /** Virtual ms before publishing starts (meshes form). Default 5 000. */
  warmup?: number
  /** Virtual ms over which the messages are spread (less = more messages in flight at once). Default 20 000. */
  duration?: number
  /** One-way link latency range, ms. Default [10, 60]. */
  latency?: [number, number]
  /** Link bandwidth, each direction, bytes per ms. Default 1 250 (10 Mbit/s). */
  bandwidth?: number
  /** Time the application validator takes per message, ms (IDONTWANT goes out before it). Default 0. */
  validationDelay?: number
  /** IDONTWANT on (threshold 1 KiB) or off. Default on. */
  idontwant?: boolean
  /** Sign messages (StrictSign; slow) instead of StrictNoSign + content ids. */
  sign?: boolean
  crypto: CryptoProvider
  /** Extra behaviour options for every node. */
  gossipsub?: Partial<GossipsubOptions>
  /** Called after every heartbeat-carrying timeout of each node (for invariant checks). */
  onTimeout?: (node: SimNode, now: number) => void
}

export interface SimResult {
  nodes: number
  messages: number
  deliveryRatio: number
  latencyMedianMs: number
  latencyP99Ms: number
  duplicatesPerMessage: number
  /** Copies received beyond the first, in total (honest receivers, publisher excluded). */
  duplicates: number
  spammers: number
  spammersGraylisted: number
  /** Messages received twice by one node from one peer (must be 0). */
  repeatedToSamePeer: number
  /** Duplicates (copies beyond the first, honest receivers) by cause; see DuplicateCause. */
  duplicatesByCause: Record<DuplicateCause, number>
  virtualMs: number
}

/**
 * Why a duplicate copy was sent, judged from when the sender handed it to its stream (after that a
 * router cannot take it back):
 * - `crossed`: before the receiver had its first copy (nothing the receiver could have said yet);
 * - `idontwant-in-transit`: after the receiver had it and had sent its IDONTWANT, before that
 *   IDONTWANT reached the sender (latency, or the IDONTWANT queued behind bytes already on the link);
 * - `no-idontwant`: after the receiver had it, and the receiver never told the sender (IDONTWANT off,
 *   or the sender is not in the receiver's mesh: meshes are briefly one-sided around GRAFT/PRUNE);
 * - `iwant`: an answer to the receiver's own IWANT;
 * - `after-idontwant`: after the receiver's IDONTWANT arrived (must stay 0).
 * `crossed` is split by whether the sender was the publisher (`crossed-publish`: flood publishing).
 */
export type DuplicateCause = 'crossed' | 'crossed-publish' | 'idontwant-in-transit' | 'no-idontwant' | 'iwant' | 'after-idontwant'
const CAUSES: DuplicateCause[] = ['crossed', 'crossed-publish', 'idontwant-in-transit', 'no-idontwant', 'iwant', 'after-idontwant']

export interface SimNode {
  index: number
  peer: PeerId
  behaviour: GossipsubBehaviour
  spammer: boolean
  neighbours: Set<number>
}

const TOPIC = 'sim'

/** xorshift32-based PRNG, deterministic. */
export function prng(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x / 0x1_0000_0000
  }
}

interface Ev { at: number; seq: number; run: () => void }

class Heap {
  readonly #h: Ev[] = []
  get size(): number { return this.#h.length }
  push(e: Ev): void {
    const h = this.#h
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p]!, h[i]!)) break
      ;[h[p], h[i]] = [h[i]!, h[p]!]
      i = p
    }
  }
  pop(): Ev | undefined {
    const h = this.#h
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && less(h[l]!, h[m]!)) m = l
        if (r < h.length && less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i]!, h[m]!]
        i = m
      }
    }
    return top
  }
}
const less = (a: Ev, b: Ev): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

interface Link {
  conn: number
  a: number
  b: number
  latency: number
  /** When each direction of the link is free again (bandwidth model). */
  free: [number, number]
}

interface SimStream { ref: StreamRef; from: number; to: number; link: Link }

export class SimNet {
  readonly nodes: SimNode[] = []
  now = 0
  readonly #q = new Heap()
  #seq = 0
  readonly #rand: () => number
  readonly #links = new Map<number, Link>()
  readonly #streams = new Map<string, SimStream>()
  #nextConn = 1
  #nextStream = 1
  readonly #opts: SimOptions
  readonly #timerAt: Array<number | undefined> = []
  /** per receiver: message number → copies received */
  readonly copies: Array<Map<number, number>> = []
  /** per receiver: "peer/msg" seen, to catch a message forwarded twice by one peer */
  readonly #perPeerSeen: Array<Set<string>> = []
  repeatedToSamePeer = 0
  /** per receiver: message number → time its first copy arrived */
  readonly firstAt: Array<Map<number, number>> = []
  /** "sender/receiver/num" → when the receiver's IDONTWANT (IWANT) for num reached the sender */
  readonly #dontWantAt = new Map<string, number>()
  readonly #iwantAt = new Map<string, number>()
  /** "sender/receiver/num" → when the receiver handed its IDONTWANT for num to its stream */
  readonly #dontWantSent = new Map<string, number>()
  /** message id (as a latin1 string) → message number, filled by simulate() at publish */
  readonly numOfId = new Map<string, number>()
  readonly causes = new Map<DuplicateCause, number>(CAUSES.map((c) => [c, 0]))
  readonly delivered: Array<Map<number, number>> = []
  readonly publishedAt = new Map<number, number>()
  readonly publisherOf = new Map<number, number>()

  constructor(opts: SimOptions) {
    this.#opts = opts
    this.#rand = prng(opts.seed)
    const spamCount = Math.round((opts.spammers ?? 0) * opts.nodes)
    const spamSet = new Set<number>()
    while (spamSet.size < spamCount) spamSet.add(Math.floor(this.#rand() * opts.nodes))
    for (let i = 0; i < opts.nodes; i++) {
      const seed = new Uint8Array(32)
      new DataView(seed.buffer).setUint32(0, opts.seed >>> 0)
      new DataView(seed.buffer).setUint32(4, i)
      const key = privateKeyFromSeed(seed, opts.crypto)
      const r = prng(opts.seed * 7919 + i * 104729 + 1)
      const random = (n: number): Uint8Array => {
        const out = new Uint8Array(n)
        for (let j = 0; j < n; j++) out[j] = Math.floor(r() * 256)
        return out
      }
      const behaviour = new GossipsubBehaviour({
        random,
        crypto: opts.crypto,
        privateKey: key,
        signaturePolicy: opts.sign === true ? 'StrictSign' : 'StrictNoSign',
        msgId: opts.sign === true ? 'from-seqno' : 'content-sha256',
        idontwantMessageSizeThreshold: opts.idontwant === false ? Number.MAX_SAFE_INTEGER : 1024,
        heartbeatInitialDelay: Math.floor(r() * 1000),
        ...opts.gossipsub,
      })
      this.nodes.push({ index: i, peer: key.publicKey.toPeerId(opts.crypto), behaviour, spammer: spamSet.has(i), neighbours: new Set() })
      this.copies.push(new Map())
      this.delivered.push(new Map())
      this.#perPeerSeen.push(new Set())
      this.firstAt.push(new Map())
      this.#timerAt.push(undefined)
    }
  }

  at(t: number, run: () => void): void {
    this.#q.push({ at: t, seq: this.#seq++, run })
  }

  /** Connect every node to `degree` random others. */
  wire(): void {
    const n = this.nodes.length
    const degree = Math.min(this.#opts.degree ?? 8, n - 1)
    for (let i = 0; i < n; i++) {
      let tries = 0
      let made = 0
      while (made < degree && tries++ < degree * 10) {
        const j = Math.floor(this.#rand() * n)
        if (j === i || this.nodes[i]!.neighbours.has(j)) continue
        this.connect(i, j)
        made++
      }
    }
  }

  connect(a: number, b: number): void {
    const [lo, hi] = this.#opts.latency ?? [10, 60]
    const link: Link = { conn: this.#nextConn++, a, b, latency: lo + Math.floor(this.#rand() * (hi - lo + 1)), free: [0, 0] }
    this.#links.set(link.conn, link)
    this.nodes[a]!.neighbours.add(b)
    this.nodes[b]!.neighbours.add(a)
    const info = (self: number, other: number, direction: 'inbound' | 'outbound'): ConnectionInfo => ({
      id: link.conn,
      peer: this.nodes[other]!.peer,
      remotePublicKey: this.nodes[other]!.peer.publicKey!,
      remoteAddr: Multiaddr.fromString(`/ip4/10.0.${other >> 8}.${other & 255}/tcp/4001`),
      localAddr: Multiaddr.fromString(`/ip4/10.0.${self >> 8}.${self & 255}/tcp/4001`),
      direction, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
    })
    this.input(a, { type: 'connection-established', connection: info(a, b, 'outbound') })
    this.input(b, { type: 'connection-established', connection: info(b, a, 'inbound') })
  }

  input(i: number, input: BehaviourInput): void {
    this.nodes[i]!.behaviour.handle(this.now, input)
    this.drain(i)
  }

  /** Run a command on node i, then drain. */
  command<T>(i: number, f: (b: GossipsubBehaviour, now: number) => T): T {
    const r = f(this.nodes[i]!.behaviour, this.now)
    this.drain(i)
    return r
  }

  drain(i: number): void {
    const node = this.nodes[i]!
    const b = node.behaviour
    for (let a = b.pollAction(); a !== undefined; a = b.pollAction()) this.#act(i, a)
    const t = b.pollTimeout()
    if (t !== undefined && t !== this.#timerAt[i]) {
      this.#timerAt[i] = t
      this.at(Math.max(t, this.now), () => {
        if (this.#timerAt[i] !== t) return
        this.#timerAt[i] = undefined
        b.handleTimeout(this.now)
        this.drain(i)
        this.#opts.onTimeout?.(node, this.now)
      })
    }
  }

  #act(i: number, a: BehaviourAction<GossipsubEvent>): void {
    switch (a.type) {
      case 'open-stream': {
        const link = this.#links.get(a.connection!)
        if (link === undefined) return
        const j = link.a === i ? link.b : link.a
        const ref = { connection: link.conn, stream: this.#nextStream++ }
        const proto = a.protocols.find((p) => this.nodes[j]!.behaviour.protocols.includes(p))
        this.at(this.now + 2 * link.latency, () => {
          if (proto === undefined) return this.input(i, { type: 'stream-open-failed', requestId: a.requestId, error: new Error('unsupported') })
          this.#streams.set(`${ref.connection}/${ref.stream}`, { ref, from: i, to: j, link })
          this.input(j, { type: 'stream-opened', stream: ref, protocol: proto, direction: 'inbound', connection: this.#info(j, link) })
          this.input(i, { type: 'stream-opened', stream: ref, protocol: proto, direction: 'outbound', connection: this.#info(i, link), requestId: a.requestId })
        })
        return
      }
      case 'write': {
        const s = this.#streams.get(`${a.stream.connection}/${a.stream.stream}`)
        if (s === undefined || s.from !== i) {
          this.nodes[i]!.behaviour.handle(this.now, { type: 'stream-writable', stream: a.stream })
          return
        }
        const dir = s.link.a === i ? 0 : 1
        const bw = this.#opts.bandwidth ?? 1250
        const start = Math.max(this.now, s.link.free[dir])
        const done = start + a.data.length / bw
        s.link.free[dir] = done
        // the muxer takes the bytes once the link has sent them: backpressure the behaviour sees
        this.at(done, () => this.input(i, { type: 'stream-writable', stream: a.stream }))
        const handedAt = this.now
        const lossy = (this.#opts.loss ?? 0) > 0
        // a byte stream: each frame arrives once its own last byte has crossed the link, so a small
        // control frame written ahead of a large message is not held back by the message behind it
        let sentBytes = 0
        for (const sent of lpFrames(a.data)) {
          sentBytes += sent.length
          if (sent.length < 4096) this.#noteSent(i, s.to, sent)
          const frame = lossy ? this.#lose(sent) : sent
          this.at(start + sentBytes / bw + s.link.latency, () => {
            this.#count(s.to, i, frame, handedAt)
            this.input(s.to, { type: 'stream-data', stream: s.ref, data: frame })
          })
        }
        return
      }
      case 'event':
        this.#event(i, a.event)
        return
      default:
        return
    }
  }

  /** Drop each published message of a frame with probability `loss` (the frame stays whole and valid). */
  #lose(frame: Uint8Array): Uint8Array {
    const loss = this.#opts.loss ?? 0
    const body = [...frames_(frame)][0]!
    const rpc = decodeRpc(body)
    const kept = rpc.messages.filter(() => this.#rand() >= loss)
    if (kept.length === rpc.messages.length) return frame
    return encodeLp(encodeRpc({ subscriptions: rpc.subscriptions, messages: kept.map((m) => m.raw), ...(rpc.control !== undefined ? { control: rpc.control } : {}) }))
  }

  #info(self: number, link: Link): ConnectionInfo {
    const other = link.a === self ? link.b : link.a
    return {
      id: link.conn, peer: this.nodes[other]!.peer, remotePublicKey: this.nodes[other]!.peer.publicKey!,
      remoteAddr: Multiaddr.fromString(`/ip4/10.0.${other >> 8}.${other & 255}/tcp/4001`), localAddr: undefined,
      direction: link.a === self ? 'outbound' : 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
    }
  }

  /**
   * Count message copies per receiver (the sim's own decoding; the behaviour decodes separately),
   * classify duplicates by cause, and note when IDONTWANT / IWANT reached `to`.
   */
  #count(to: number, from: number, data: Uint8Array, handedAt: number): void {
    for (const body of frames_(data)) {
      const rpc = decodeRpc(body)
      for (const d of rpc.control?.idontwant ?? []) {
        for (const id of d.messageIds) this.#noteControl(this.#dontWantAt, to, from, id)
      }
      for (const w of rpc.control?.iwant ?? []) {
        for (const id of w.messageIds) this.#noteControl(this.#iwantAt, to, from, id)
      }
      for (const m of rpc.messages) {
        const num = messageNumber(m.msg.data)
        if (num === undefined || num < 0) continue
        const c = this.copies[to]!
        c.set(num, (c.get(num) ?? 0) + 1)
        const first = this.firstAt[to]!.get(num)
        if (first === undefined) this.firstAt[to]!.set(num, this.now)
        else if (this.publisherOf.get(num) !== to && !this.nodes[to]!.spammer) this.#classify(to, from, num, first, handedAt)
        const k = `${from}/${num}`
        if (this.#perPeerSeen[to]!.has(k)) this.repeatedToSamePeer++
        else this.#perPeerSeen[to]!.add(k)
      }
    }
  }

  /** IDONTWANTs `from` hands to its stream for `to` (small frames only: control RPCs). */
  #noteSent(from: number, to: number, frame: Uint8Array): void {
    for (const body of frames_(frame)) {
      for (const d of decodeRpc(body).control?.idontwant ?? []) {
        for (const id of d.messageIds) this.#noteControl(this.#dontWantSent, to, from, id)
      }
    }
  }

  #noteControl(map: Map<string, number>, sender: number, receiver: number, id: Uint8Array): void {
    const num = this.numOfId.get(latin1(id))
    if (num === undefined) return
    const k = `${sender}/${receiver}/${num}`
    if (!map.has(k)) map.set(k, this.now)
  }

  #classify(to: number, from: number, num: number, first: number, handedAt: number): void {
    const k = `${from}/${to}/${num}`
    const iwant = this.#iwantAt.get(k)
    const dont = this.#dontWantAt.get(k)
    let cause: DuplicateCause
    if (iwant !== undefined && iwant <= handedAt) cause = 'iwant'
    else if (handedAt < first) cause = this.publisherOf.get(num) === from ? 'crossed-publish' : 'crossed'
    else if (dont === undefined && !this.#dontWantSent.has(k)) cause = 'no-idontwant'
    else if (dont === undefined || handedAt < dont) cause = 'idontwant-in-transit'
    else cause = 'after-idontwant'
    this.causes.set(cause, this.causes.get(cause)! + 1)
  }

  #event(i: number, ev: GossipsubEvent): void {
    if (ev.type === 'validate') {
      const num = messageNumber(ev.message.data)
      const result = num === undefined || num < 0 ? 'reject' : 'accept'
      // answered after the current drain (the behaviour is not re-entered inside pollAction)
      this.at(this.now + (this.#opts.validationDelay ?? 0), () => this.command(i, (b, now) => b.reportValidation(now, ev.requestId, result)))
    } else if (ev.type === 'message') {
      const num = messageNumber(ev.message.data)
      if (num !== undefined && num >= 0 && !this.delivered[i]!.has(num)) this.delivered[i]!.set(num, this.now)
    }
  }

  run(until: number): void {
    for (;;) {
      const e = this.#q.pop()
      if (e === undefined) break
      if (e.at > until) {
        this.#q.push(e)
        break
      }
      this.now = Math.max(this.now, e.at)
      e.run()
    }
    this.now = until
  }
}

function latin1(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += String.fromCharCode(x)
  return s
}

/** The LP frames of a write, each with its length prefix. */
function* lpFrames(data: Uint8Array): Generator<Uint8Array> {
  let pos = 0
  while (pos < data.length) {
    let len = 0
    let mul = 1
    const at = pos
    for (;;) {
      const b = data[pos++]!
      len += (b & 0x7f) * mul
      if ((b & 0x80) === 0) break
      mul *= 128
    }
    pos += len
    yield data.subarray(at, pos)
  }
}

/** The LP frame bodies of a write. */
function* frames_(data: Uint8Array): Generator<Uint8Array> {
  let pos = 0
  while (pos < data.length) {
    let len = 0
    let mul = 1
    for (;;) {
      const b = data[pos++]!
      len += (b & 0x7f) * mul
      if ((b & 0x80) === 0) break
      mul *= 128
    }
    yield data.subarray(pos, pos + len)
    pos += len
  }
}

/** Payload: 4-byte big-endian signed message number (negative = invalid spam), then padding. */
export function payload(num: number, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(4, size))
  new DataView(out.buffer).setInt32(0, num)
  return out
}

export function messageNumber(data: Uint8Array | undefined): number | undefined {
  if (data === undefined || data.length < 4) return undefined
  return new DataView(data.buffer, data.byteOffset, 4).getInt32(0)
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}

/** Run one simulation and measure it. */
export function simulate(opts: SimOptions): { result: SimResult; net: SimNet } {
  const net = new SimNet(opts)
  const total = opts.messages ?? 200
  const size = opts.messageSize ?? 100
  const warmup = opts.warmup ?? 5000
  const duration = opts.duration ?? 20_000
  const rand = prng(opts.seed + 17)
  for (let i = 0; i < net.nodes.length; i++) {
    net.command(i, (b, now) => {
      b.subscribe(now, TOPIC)
      b.setTopicValidator(TOPIC, true)
    })
  }
  net.wire()
  const honest = net.nodes.filter((n) => !n.spammer)
  const spammers = net.nodes.filter((n) => n.spammer)
  for (let m = 0; m < total; m++) {
    const node = honest[Math.floor(rand() * honest.length)]!
    const t = warmup + Math.floor(rand() * duration)
    net.at(t, () => {
      net.publishedAt.set(m, net.now)
      net.publisherOf.set(m, node.index)
      const { messageId } = net.command(node.index, (b, now) => b.publish(now, TOPIC, payload(m, size)))
      net.numOfId.set(latin1(messageId), m)
      net.delivered[node.index]!.set(m, net.now)
    })
  }
  let spamNum = -1
  for (const s of spammers) {
    for (let k = 0; k < (opts.spamPerSpammer ?? 10); k++) {
      const num = spamNum--
      net.at(warmup + Math.floor(rand() * duration), () => {
        try {
          net.command(s.index, (b, now) => b.publish(now, TOPIC, payload(num, size)))
        } catch {
          // no peer left (already cut off): fine
        }
      })
    }
  }
  // graylisting is measured when the publishing window closes (P₄ decays afterwards)
  let graylisted = 0
  const gray = net.nodes[0]!.behaviour.inspect().cfg.scoreThresholds.graylistThreshold
  net.at(warmup + duration + 1000, () => {
    for (const s of spammers) {
      const hn = [...s.neighbours].filter((j) => !net.nodes[j]!.spammer)
      if (hn.length > 0 && hn.every((j) => net.nodes[j]!.behaviour.getScore(s.peer, net.now) < gray)) graylisted++
    }
  })
  const end = warmup + duration + 10_000
  net.run(end)

  let delivered = 0
  let expected = 0
  let copies = 0
  let firsts = 0
  const lat: number[] = []
  for (const n of honest) {
    for (let m = 0; m < total; m++) {
      if (net.publisherOf.get(m) === n.index) continue
      expected++
      const at = net.delivered[n.index]!.get(m)
      if (at !== undefined) {
        delivered++
        lat.push(at - net.publishedAt.get(m)!)
      }
      const c = net.copies[n.index]!.get(m) ?? 0
      if (c > 0) { copies += c; firsts++ }
    }
  }
  return {
    net,
    result: {
      nodes: opts.nodes,
      messages: total,
      deliveryRatio: expected === 0 ? 1 : delivered / expected,
      latencyMedianMs: percentile(lat, 0.5),
      latencyP99Ms: percentile(lat, 0.99),
      duplicatesPerMessage: firsts === 0 ? 0 : (copies - firsts) / firsts,
      duplicates: copies - firsts,
      spammers: spammers.length,
      spammersGraylisted: graylisted,
      repeatedToSamePeer: net.repeatedToSamePeer,
      duplicatesByCause: Object.fromEntries(net.causes) as Record<DuplicateCause, number>,
      virtualMs: end,
    },
  }
}
