/**
 * The AutoNAT client side as a part of the AutoNAT behaviour (behaviour.ts): it keeps candidate
 * addresses (observed IP + our listen port, public listen addresses, addresses the user names), asks
 * connected servers to test them, one address per v2 request, pays dial data when asked (bounded),
 * accepts dial-backs from any peer on `/libp2p/autonat/2/dial-back` (matching the nonce only), and
 * turns results into verdicts (tracker.ts): per address (v2) and for the node (v1 as a fallback).
 * Reachable addresses become confirmed external addresses (`external-addr` action).
 */
import type { Millis } from '../core/byte-machine.js'
import { encodeLp } from '../core/lp.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { isPublicAddr } from '../swarm/index.js'
import { candidatesFromObserved, consistentTransport, isTestable } from './addrs.js'
import { AUTONAT_V1_PROTOCOL, V1Status, encodeV1Frame, v1FrameDecoder, type V1Message } from './message-v1.js'
import {
  DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialStatus, ResponseStatus, dialBackDecoder, encodeDialBackResponse, encodeV2Frame, encodeV2Message, v2FrameDecoder,
  type V2Message,
} from './message-v2.js'
import type { PartHost } from './server.js'
import { Results, nodeReachability, type NodeReachability, type Reachability } from './tracker.js'
import type { AutoNATClientOptions, AutoNATEvent, AutoNATStatus, ProbeOutcome } from './types.js'
import type { FrameDecoder } from './wire.js'

/** Observers remembered per candidate (two suffice for the dial-data rule). */
const MAX_OBSERVERS = 4

/** One DialDataResponse with 4096 zero bytes, written as often as needed (the last may overshoot). */
const DATA_CHUNK = 4096
let chunkFrame: Uint8Array | undefined

interface Candidate {
  readonly addr: Multiaddr
  readonly results: Results
  /** 'listen': a public listen address; 'observed': from an observation; 'user': probe(addr). */
  readonly source: 'listen' | 'observed' | 'user'
  /** Peers that reported the observation (at most MAX_OBSERVERS kept). */
  readonly observers: Set<string>
  inFlight: boolean
  /** Not before this time (after an inconclusive probe). */
  notBefore: Millis
  backoff: number
  /** The server that gave the last result (another one is preferred next). */
  lastServer?: string
  verdict: Reachability
}

interface Probe {
  readonly id: number
  readonly version: 1 | 2
  readonly server: PeerId
  readonly deadline: Millis
  readonly candidate?: Candidate
  readonly nonce: bigint
  stream?: StreamRef
  decoder?: FrameDecoder<V2Message> | FrameDecoder<V1Message>
  /** The dial-back with our nonce arrived (on a connection of the right transport). */
  dialBack: boolean
  /** We paid dial data once (a second DialDataRequest is refused: the payment is bounded per probe). */
  paid?: boolean
  /** An OK response is waiting for its dial-back until this time. */
  graceUntil?: Millis
  graceStatus?: number
}

interface Server {
  readonly peer: PeerId
  v1: boolean
  v2: boolean
  /** Direct (non-limited) connections open to it. */
  conns: number
  /** Not asked again (v2 / v1) before these times. */
  v2Until: Millis
  v1Until: Millis
  lastUsed: Millis
}

export class AutoNATClient {
  readonly protocols: string[]
  readonly #o: AutoNATClientOptions
  readonly #host: PartHost
  readonly #self: PeerId
  readonly #candidates: Candidate[] = []
  readonly #servers = new Map<string, Server>()
  readonly #probes = new Map<number, Probe>()
  readonly #probeStreams = new Map<string, Probe>()
  readonly #dialBacks = new Map<string, { decoder: FrameDecoder<{ nonce: bigint }>; conn: ConnectionInfo; deadline: Millis }>()
  readonly #v1Results: Results
  #v1Verdict: Reachability = 'unknown'
  /** v1 probes wait until then after an inconclusive one (doubling backoff, as for addresses). */
  #v1NotBefore: Millis = 0
  #v1Backoff: number
  #status: NodeReachability = 'unknown'
  #listenAddrs: readonly Multiaddr[] = []
  #now: Millis = 0

  constructor(options: AutoNATClientOptions, host: PartHost, self: PeerId) {
    this.#o = options
    this.#host = host
    this.#self = self
    this.#v1Results = new Results(options)
    this.#v1Backoff = options.backoff
    this.protocols = options.v2 ? [DIAL_BACK_PROTOCOL] : []
  }

  status(): AutoNATStatus {
    return {
      reachability: this.#status,
      addrs: this.#candidates.map((c) => ({ addr: c.addr, reachability: c.verdict, successes: c.results.successes, failures: c.results.failures })),
    }
  }

  /** Test `addr` (it becomes a candidate). UsageError-free: an untestable address is ignored and false returned. */
  probe(now: Millis, addr: Multiaddr): boolean {
    this.#now = Math.max(this.#now, now)
    const a = addr.withoutPeerId()
    if (!isTestable(a, this.#o.allowPrivateAddrs)) return false
    this.#addCandidate(a, 'user')
    this.#schedule(now)
    return true
  }

  handle(now: Millis, input: BehaviourInput): void {
    this.#now = Math.max(this.#now, now)
    switch (input.type) {
      case 'local-info':
        this.#listenAddrs = input.listenAddrs
        this.#listenChanged()
        break
      case 'observed-addr':
        if (!input.connection.limited) {
          for (const a of candidatesFromObserved(input.addr, this.#listenAddrs)) {
            if (isTestable(a, this.#o.allowPrivateAddrs)) this.#addCandidate(a, 'observed', input.connection.peer.toString())
          }
        }
        break
      case 'connection-established':
        if (!input.connection.limited) this.#server(input.connection.peer).conns++
        break
      case 'connection-closed': {
        if (input.connection.limited) break
        const key = input.connection.peer.toString()
        const s = this.#servers.get(key)
        if (s !== undefined && --s.conns <= 0) this.#servers.delete(key)
        for (const [k, d] of this.#dialBacks) if (d.conn.id === input.connection.id) this.#dialBacks.delete(k)
        break
      }
      case 'peer-info': {
        const protocols = input.info.protocols
        const s = this.#servers.get(input.peer.toString())
        if (protocols === undefined || s === undefined) break
        s.v2 = protocols.includes(DIAL_REQUEST_PROTOCOL)
        s.v1 = protocols.includes(AUTONAT_V1_PROTOCOL)
        break
      }
      case 'stream-opened':
        if (input.direction === 'inbound' && input.protocol === DIAL_BACK_PROTOCOL) this.#dialBackOpened(now, input.stream, input.connection)
        else if (input.requestId !== undefined) this.#opened(input.requestId, input.stream)
        break
      case 'stream-open-failed': {
        const p = this.#probes.get(input.requestId)
        if (p !== undefined && p.stream === undefined) this.#finish(p, 'inconclusive', `stream not opened: ${input.error.message}`)
        break
      }
      case 'stream-data':
        this.#data(input.stream, input.data)
        break
      case 'stream-eof':
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        this.#dialBacks.delete(key)
        const p = this.#probeStreams.get(key)
        if (p !== undefined && p.graceUntil === undefined) this.#finish(p, 'inconclusive', `stream ended before the response (${input.type})`)
        break
      }
      default:
        return
    }
    this.#schedule(now)
  }

  handleTimeout(now: Millis): void {
    this.#now = Math.max(this.#now, now)
    for (const p of [...this.#probes.values()]) {
      if (p.graceUntil !== undefined && p.graceUntil <= now) this.#finish(p, 'inconclusive', 'OK response without a dial-back carrying our nonce')
      else if (p.deadline <= now) this.#finish(p, 'inconclusive', 'probe timed out')
    }
    for (const [k, d] of this.#dialBacks) {
      if (d.deadline > now) continue
      this.#dialBacks.delete(k)
      const [connection, stream] = k.split('/').map(Number)
      this.#host.actions.push({ type: 'reset', stream: { connection: connection!, stream: stream! } })
    }
    this.#schedule(now)
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined
    const at = (x: Millis | undefined): void => {
      if (x !== undefined && (t === undefined || x < t)) t = x
    }
    for (const p of this.#probes.values()) at(p.graceUntil ?? p.deadline)
    for (const d of this.#dialBacks.values()) at(d.deadline)
    at(this.#nextProbeAt())
    return t
  }

  // ---- candidates -------------------------------------------------------------------------------

  #addCandidate(addr: Multiaddr, source: Candidate['source'], observer?: string): void {
    const known = this.#candidates.find((c) => c.addr.equals(addr))
    if (known !== undefined) {
      if (observer !== undefined && known.observers.size < MAX_OBSERVERS) known.observers.add(observer)
      return
    }
    if (this.#candidates.length >= this.#o.maxCandidates) {
      // make room: the oldest observed candidate without a result and not being probed
      const i = this.#candidates.findIndex((c) => c.source === 'observed' && c.results.count === 0 && !c.inFlight)
      if (i < 0) return
      this.#candidates.splice(i, 1)
    }
    const observers = new Set<string>(observer === undefined ? [] : [observer])
    this.#candidates.push({ addr, results: new Results(this.#o), source, observers, inFlight: false, notBefore: 0, backoff: this.#o.backoff, verdict: 'unknown' })
  }

  #listenChanged(): void {
    for (const l of this.#listenAddrs) {
      const a = l.withoutPeerId()
      if (isPublicAddr(a) && isTestable(a, this.#o.allowPrivateAddrs)) this.#addCandidate(a, 'listen')
    }
    for (let i = this.#candidates.length - 1; i >= 0; i--) {
      const c = this.#candidates[i]!
      if (c.source !== 'listen' || c.inFlight || this.#listenAddrs.some((l) => l.withoutPeerId().equals(c.addr))) continue
      this.#candidates.splice(i, 1)
      if (c.verdict === 'reachable') this.#host.actions.push({ type: 'external-addr', addr: c.addr, confirmed: false })
    }
    this.#updateStatus()
  }

  #server(peer: PeerId): Server {
    const key = peer.toString()
    let s = this.#servers.get(key)
    if (s === undefined) {
      s = { peer, v1: false, v2: false, conns: 0, v2Until: 0, v1Until: 0, lastUsed: -Infinity }
      this.#servers.set(key, s)
    }
    return s
  }

  // ---- scheduling -------------------------------------------------------------------------------

  #due(c: Candidate): Millis {
    if (c.results.settled) return Math.max(c.notBefore, (c.results.lastResultAt ?? 0) + this.#o.refreshInterval)
    return c.notBefore
  }

  #v1Due(): Millis | undefined {
    if (!this.#o.v1 || this.#v1Addrs().length === 0) return undefined
    return Math.max(this.#v1NotBefore, this.#v1Results.settled ? (this.#v1Results.lastResultAt ?? 0) + this.#o.refreshInterval : 0)
  }

  /** When a probe could start next, given servers and candidates (undefined: nothing to do). */
  #nextProbeAt(): Millis | undefined {
    if (this.#probes.size >= this.#o.maxConcurrentProbes) return undefined
    let t: Millis | undefined
    const consider = (due: Millis, version: 1 | 2): void => {
      for (const [, s] of this.#servers) {
        if (version === 2 ? !s.v2 : !s.v1) continue
        const at = Math.max(due, version === 2 ? s.v2Until : s.v1Until)
        if (t === undefined || at < t) t = at
      }
    }
    if (this.#o.v2) for (const c of this.#candidates) if (!c.inFlight) consider(this.#due(c), 2)
    const v1 = this.#v1Due()
    if (v1 !== undefined && ![...this.#probes.values()].some((p) => p.version === 1)) consider(v1, 1)
    return t === undefined ? undefined : Math.max(t, this.#now)
  }

  #schedule(now: Millis): void {
    while (this.#probes.size < this.#o.maxConcurrentProbes) {
      if (!this.#startOne(now)) return
    }
  }

  #startOne(now: Millis): boolean {
    if (this.#o.v2) {
      const ready = this.#candidates.filter((c) => !c.inFlight && this.#due(c) <= now).sort((a, b) => this.#due(a) - this.#due(b))
      for (const c of ready) {
        const server = this.#pickServer(now, 2, c.lastServer)
        if (server === undefined) break
        this.#startV2(now, server, c)
        return true
      }
    }
    const v1 = this.#v1Due()
    if (v1 !== undefined && v1 <= now && ![...this.#probes.values()].some((p) => p.version === 1)) {
      const server = this.#pickServer(now, 1, undefined)
      if (server !== undefined) {
        this.#startV1(now, server)
        return true
      }
    }
    return false
  }

  /** The least recently used server of that version that is not throttled, preferring one other than `avoid`. */
  #pickServer(now: Millis, version: 1 | 2, avoid: string | undefined): PeerId | undefined {
    let best: [string, Server] | undefined
    for (const e of this.#servers) {
      const s = e[1]
      if ((version === 2 ? !s.v2 || s.v2Until > now : !s.v1 || s.v1Until > now) || s.conns <= 0) continue
      if ([...this.#probes.values()].some((p) => p.server.toString() === e[0])) continue
      if (best === undefined || (best[0] === avoid && e[0] !== avoid) || (s.lastUsed < best[1].lastUsed && !(e[0] === avoid && best[0] !== avoid))) best = e
    }
    if (best === undefined) return undefined
    best[1].lastUsed = now
    return best[1].peer
  }

  // ---- probes -----------------------------------------------------------------------------------

  #startV2(now: Millis, server: PeerId, c: Candidate): void {
    const id = this.#host.nextId()
    const b = this.#host.random(8)
    let nonce = 0n
    for (const x of b) nonce = (nonce << 8n) | BigInt(x)
    c.inFlight = true
    this.#probes.set(id, { id, version: 2, server, deadline: now + this.#o.probeTimeout, candidate: c, nonce, dialBack: false })
    this.#host.actions.push({ type: 'open-stream', requestId: id, peer: server, protocols: [DIAL_REQUEST_PROTOCOL] })
  }

  #v1Addrs(): Multiaddr[] {
    const out: Multiaddr[] = []
    const add = (a: Multiaddr): void => {
      if (out.length < 16 && isTestable(a, true) && !out.some((x) => x.equals(a))) out.push(a)
    }
    for (const c of this.#candidates) add(c.addr)
    for (const l of this.#listenAddrs) add(l.withoutPeerId())
    return out
  }

  #startV1(now: Millis, server: PeerId): void {
    const id = this.#host.nextId()
    this.#probes.set(id, { id, version: 1, server, deadline: now + this.#o.probeTimeout, nonce: 0n, dialBack: false })
    this.#host.actions.push({ type: 'open-stream', requestId: id, peer: server, protocols: [AUTONAT_V1_PROTOCOL] })
  }

  #opened(requestId: number, stream: StreamRef): void {
    const p = this.#probes.get(requestId)
    if (p === undefined) {
      this.#reset(stream)
      return
    }
    p.stream = stream
    this.#probeStreams.set(streamKey(stream), p)
    if (p.version === 2) {
      p.decoder = v2FrameDecoder()
      this.#write(stream, encodeV2Frame({ type: 'dial-request', addrs: [p.candidate!.addr.bytes], nonce: p.nonce }))
    } else {
      p.decoder = v1FrameDecoder()
      this.#write(stream, encodeV1Frame({ type: 'dial', peer: { id: this.#self, addrs: this.#v1Addrs().map((a) => a.bytes) } }))
      this.#host.actions.push({ type: 'close-write', stream })
    }
  }

  #data(stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const d = this.#dialBacks.get(key)
    if (d !== undefined) return this.#dialBackData(key, stream, d, data)
    const p = this.#probeStreams.get(key)
    if (p === undefined || p.decoder === undefined || p.graceUntil !== undefined) return
    try {
      p.decoder.push(data)
      for (let m = p.decoder.next(); m !== undefined && this.#probes.has(p.id); m = p.decoder.next()) {
        if (p.version === 2) this.#v2Message(p, m as V2Message)
        else this.#v1Message(p, m as V1Message)
      }
    } catch (e) {
      this.#host.actions.push({ type: 'reset', stream })
      this.#finish(p, 'inconclusive', e instanceof Error ? e.message : String(e))
    }
  }

  #v2Message(p: Probe, m: V2Message): void {
    const stream = p.stream!
    if (m.type === 'dial-data-request') {
      const c = p.candidate!
      // an address only one other peer claims to see us at is not worth paying for: that peer may lie
      const vouched = c.source !== 'observed' || c.observers.size >= 2 || c.observers.has(p.server.toString())
      if (p.paid || m.addrIdx !== 0 || m.numBytes > BigInt(this.#o.maxDialDataBytes) || !vouched) {
        this.#reset(stream)
        const why = p.paid
          ? 'a second DialDataRequest'
          : m.addrIdx !== 0
            ? `dial data asked for address ${m.addrIdx}`
            : vouched ? `refused to pay ${m.numBytes} bytes of dial data` : 'no dial data for an address only another peer observed'
        return this.#finish(p, 'inconclusive', why)
      }
      p.paid = true
      chunkFrame ??= encodeLp(encodeV2Message({ type: 'dial-data-response', data: new Uint8Array(DATA_CHUNK) }))
      for (let paid = 0n; paid < m.numBytes; paid += BigInt(DATA_CHUNK)) this.#write(stream, chunkFrame)
      return
    }
    if (m.type !== 'dial-response') {
      this.#host.actions.push({ type: 'reset', stream })
      return this.#finish(p, 'inconclusive', `unexpected ${m.type}`)
    }
    this.#host.actions.push({ type: 'close-write', stream })
    if (m.status !== ResponseStatus.OK) {
      const name = Object.entries(ResponseStatus).find(([, v]) => v === m.status)?.[0] ?? `status ${m.status}`
      return this.#finish(p, 'inconclusive', name)
    }
    if (m.addrIdx !== 0) return this.#finish(p, 'inconclusive', `response for address ${m.addrIdx}; we sent one`)
    if (m.dialStatus === DialStatus.E_DIAL_ERROR) return this.#finish(p, 'unreachable', 'E_DIAL_ERROR')
    if (m.dialStatus === DialStatus.OK || m.dialStatus === DialStatus.E_DIAL_BACK_ERROR) {
      // a dial-back error still proves the dial when our nonce arrived (go counts it reachable)
      if (p.dialBack) return this.#finish(p, 'reachable', m.dialStatus === DialStatus.OK ? 'OK' : 'E_DIAL_BACK_ERROR with our nonce')
      p.graceUntil = this.#now + this.#o.dialBackGrace
      p.graceStatus = m.dialStatus
      return
    }
    this.#finish(p, 'inconclusive', `dial status ${m.dialStatus}`)
  }

  #v1Message(p: Probe, m: V1Message): void {
    if (m.type !== 'dial-response') return this.#finish(p, 'inconclusive', 'expected DIAL_RESPONSE')
    const reason = Object.entries(V1Status).find(([, v]) => v === m.status)?.[0] ?? `status ${m.status}`
    if (m.status === V1Status.OK) return this.#finish(p, 'reachable', reason, m.addr, m.status)
    if (m.status === V1Status.E_DIAL_ERROR) return this.#finish(p, 'unreachable', reason, undefined, m.status)
    this.#finish(p, 'inconclusive', m.statusText === undefined ? reason : `${reason}: ${m.statusText}`, undefined, m.status)
  }

  // ---- dial-backs -------------------------------------------------------------------------------

  #dialBackOpened(now: Millis, stream: StreamRef, conn: ConnectionInfo): void {
    if (this.#dialBacks.size >= this.#o.maxDialBackStreams) {
      this.#reset(stream)
      return
    }
    this.#dialBacks.set(streamKey(stream), { decoder: dialBackDecoder(), conn, deadline: now + this.#o.dialBackTimeout })
  }

  #dialBackData(key: string, stream: StreamRef, d: { decoder: FrameDecoder<{ nonce: bigint }>; conn: ConnectionInfo }, data: Uint8Array): void {
    let m: { nonce: bigint } | undefined
    try {
      d.decoder.push(data)
      m = d.decoder.next()
    } catch {
      this.#dialBacks.delete(key)
      this.#reset(stream)
      return
    }
    if (m === undefined) return
    this.#dialBacks.delete(key)
    const nonce = m.nonce
    const p = [...this.#probes.values()].find((x) => x.version === 2 && x.nonce === nonce)
    // the nonce is all we check of the sender: servers may dial back with another peer id (spec)
    if (p === undefined || !consistentTransport(d.conn.localAddr, p.candidate!.addr)) {
      this.#reset(stream)
      return
    }
    p.dialBack = true
    this.#write(stream, encodeLp(encodeDialBackResponse()))
    this.#host.actions.push({ type: 'close-write', stream })
    if (p.graceUntil !== undefined) this.#finish(p, 'reachable', p.graceStatus === DialStatus.OK ? 'OK' : 'E_DIAL_BACK_ERROR with our nonce')
  }

  // ---- results ----------------------------------------------------------------------------------

  #finish(p: Probe, outcome: ProbeOutcome, reason: string, v1Addr?: Multiaddr, v1Status?: number): void {
    if (!this.#probes.delete(p.id)) return
    if (p.stream !== undefined) this.#probeStreams.delete(streamKey(p.stream))
    const s = this.#servers.get(p.server.toString())
    if (s !== undefined) {
      // an inconclusive answer (refusal, failure to open) also keeps the server away for a backoff
      const until = this.#now + Math.max(this.#o.serverThrottle, outcome === 'inconclusive' ? this.#o.backoff : 0)
      if (p.version === 2) s.v2Until = until
      else s.v1Until = until
    }
    const ev: AutoNATEvent = { type: 'probe', server: p.server, version: p.version, outcome, reason, ...(v1Status !== undefined ? { v1Status } : {}) }
    const addr = p.version === 2 ? p.candidate!.addr : v1Addr
    if (addr !== undefined) ev.addr = addr
    this.#host.actions.push({ type: 'event', event: ev })
    if (p.version === 1) {
      if (outcome === 'inconclusive') {
        this.#v1NotBefore = this.#now + this.#v1Backoff
        this.#v1Backoff = Math.min(this.#v1Backoff * 2, this.#o.maxBackoff)
      } else {
        this.#v1Backoff = this.#o.backoff
        this.#v1Results.add(this.#now, outcome === 'reachable')
      }
      this.#v1Verdict = this.#v1Results.verdict
      return this.#updateStatus()
    }
    const c = p.candidate!
    c.inFlight = false
    if (outcome === 'inconclusive') {
      c.notBefore = this.#now + c.backoff
      c.backoff = Math.min(c.backoff * 2, this.#o.maxBackoff)
      return
    }
    c.backoff = this.#o.backoff
    c.notBefore = 0
    c.lastServer = p.server.toString()
    c.results.add(this.#now, outcome === 'reachable')
    const verdict = c.results.verdict
    if (verdict !== c.verdict) {
      if (verdict === 'reachable') this.#host.actions.push({ type: 'external-addr', addr: c.addr, confirmed: true })
      else if (c.verdict === 'reachable') this.#host.actions.push({ type: 'external-addr', addr: c.addr, confirmed: false })
      c.verdict = verdict
      this.#host.actions.push({ type: 'event', event: { type: 'addr-reachability', addr: c.addr, reachability: verdict } })
    }
    this.#updateStatus()
  }

  #updateStatus(): void {
    const tested = this.#candidates.filter((c) => c.results.count > 0).map((c) => c.verdict)
    const next = nodeReachability(tested, this.#v1Verdict)
    if (next === this.#status) return
    this.#status = next
    this.#host.actions.push({ type: 'event', event: { type: 'status', reachability: next } })
  }

  #write(stream: StreamRef, data: Uint8Array): void {
    this.#host.actions.push({ type: 'write', stream, data })
  }

  #reset(stream: StreamRef): void {
    this.#host.actions.push({ type: 'reset', stream })
  }
}
