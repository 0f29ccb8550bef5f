/**
 * The AutoNAT server side (v1 and v2) as a part of the AutoNAT behaviour (behaviour.ts): it answers
 * `/libp2p/autonat/2/dial-request` and `/libp2p/autonat/1.0.0` streams by dialling the requester back
 * on a NEW connection (`dial` with `force`), and never dials an IP other than the one the requester's
 * connection comes from, unless (v2) the requester paid dial data (spec/autonat.md "Server").
 *
 * v2, per request: read DialRequest -> rate limits -> the first address we are willing to dial ->
 * if its IP is not the observed IP: DialDataRequest, read DialDataResponses until paid, random jitter
 * -> dial `<addr>/p2p/<requester>` -> open `/libp2p/autonat/2/dial-back` on that connection, send the
 * nonce, read DialBackResponse -> DialResponse -> close the dial-back connection.
 * v1, per request: read Dial -> rate limits -> each address with its IP replaced by the observed IP
 * (circuit, non-public and our own addresses skipped) -> dial them all -> DialResponse with the
 * address that answered, or E_DIAL_ERROR.
 */
import type { Millis } from '../core/byte-machine.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { ipOf, isTestable, sameIp, withIpOf } from './addrs.js'
import { AUTONAT_V1_PROTOCOL, V1Status, encodeV1Frame, v1FrameDecoder, type V1Message } from './message-v1.js'
import {
  DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialBackStatus, DialStatus, ResponseStatus, dialBackResponseDecoder, encodeDialBack, encodeV2Frame, v2FrameDecoder,
  type V2Message,
} from './message-v2.js'
import { RateLimiter } from './rate-limit.js'
import type { AutoNATEvent, AutoNATServerOptions, ServedOutcome } from './types.js'
import type { FrameDecoder } from './wire.js'
import { encodeLp } from '../core/lp.js'

/** What the parts of the AutoNAT behaviour share. */
export interface PartHost {
  readonly actions: BehaviourAction<AutoNATEvent>[]
  /** A fresh request id for this part. */
  nextId(): number
  random(n: number): Uint8Array
}

/** A uniform integer in [0, n) from the host's randomness. */
export function randomInt(host: PartHost, n: number): number {
  if (n <= 1) return 0
  const b = host.random(4)
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n
}

type V2State = 'reading' | 'dial-data' | 'jitter' | 'dialing' | 'opening-back' | 'dial-back' | 'done'

interface V2Request {
  readonly stream: StreamRef
  readonly conn: ConnectionInfo
  readonly decoder: FrameDecoder<V2Message>
  readonly deadline: Millis
  state: V2State
  addr?: Multiaddr
  addrIdx: number
  nonce: bigint
  need: number
  paid: number
  /** Jitter end, or the dial-back stream's deadline. */
  until?: Millis
  dialId?: number
  dialConn?: number
  backOpenId?: number
  backStream?: StreamRef
  backDecoder?: FrameDecoder<{ status: number }>
}

interface V1Request {
  readonly stream: StreamRef
  readonly conn: ConnectionInfo
  readonly decoder: FrameDecoder<V1Message>
  readonly deadline: Millis
  state: 'reading' | 'dialing' | 'done'
  dials: Set<number>
  failures: number
}

export class AutoNATServer {
  readonly protocols: string[]
  readonly #o: AutoNATServerOptions
  readonly #host: PartHost
  readonly #v2Limiter: RateLimiter
  readonly #dataLimiter: RateLimiter
  readonly #v1Limiter: RateLimiter
  readonly #v2 = new Map<string, V2Request>()
  readonly #v1 = new Map<string, V1Request>()
  /** Dial request id -> the request it serves (kept after the request ended: its connection is closed on success). */
  readonly #dials = new Map<number, V2Request | V1Request>()
  readonly #backOpens = new Map<number, V2Request>()
  readonly #backStreams = new Map<string, V2Request>()
  #listenAddrs: readonly Multiaddr[] = []
  /** Dial-back connections to close at these times, unless a request arrived on them meanwhile. */
  readonly #closing = new Map<number, Millis>()
  #now: Millis = 0

  constructor(options: AutoNATServerOptions, host: PartHost) {
    this.#o = options
    this.#host = host
    this.protocols = [...(options.v2 ? [DIAL_REQUEST_PROTOCOL] : []), ...(options.v1 ? [AUTONAT_V1_PROTOCOL] : [])]
    this.#v2Limiter = new RateLimiter(options.globalRequests, options.peerRequests, options.rateWindow)
    this.#dataLimiter = new RateLimiter(options.dialDataRequests, options.dialDataRequests, options.rateWindow)
    this.#v1Limiter = new RateLimiter(options.v1GlobalRequests, options.v1PeerRequests, options.rateWindow)
  }

  /** Requests in progress (for tests: bounded by maxConcurrent). */
  get active(): number {
    return this.#v2.size + this.#v1.size
  }

  handle(now: Millis, input: BehaviourInput): void {
    this.#now = Math.max(this.#now, now)
    switch (input.type) {
      case 'local-info':
        this.#listenAddrs = input.listenAddrs
        return
      case 'stream-opened':
        if (input.direction === 'inbound' && input.protocol === DIAL_REQUEST_PROTOCOL) this.#openV2(now, input.stream, input.connection)
        else if (input.direction === 'inbound' && input.protocol === AUTONAT_V1_PROTOCOL) this.#openV1(now, input.stream, input.connection)
        else if (input.requestId !== undefined) this.#backOpened(now, input.requestId, input.stream)
        return
      case 'stream-open-failed': {
        const r = this.#backOpens.get(input.requestId)
        if (r === undefined) return
        this.#backOpens.delete(input.requestId)
        this.#respondV2(r, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', input.error.message)
        return
      }
      case 'stream-data':
        this.#data(now, input.stream, input.data)
        return
      case 'stream-eof': {
        const b = this.#backStreams.get(streamKey(input.stream))
        if (b !== undefined) this.#respondV2(b, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', 'dial-back stream ended without a response')
        return
      }
      case 'stream-reset':
      case 'stream-closed':
        this.#streamGone(input.stream)
        return
      case 'dial-succeeded':
        this.#dialSucceeded(input.requestId, input.connection)
        return
      case 'dial-failed':
        this.#dialFailed(input.requestId, input.error)
        return
      case 'connection-closed':
        this.#closing.delete(input.connection.id)
        for (const r of [...this.#v2.values()]) if (r.conn.id === input.connection.id) this.#endV2(r, 'aborted', 'connection closed')
        for (const r of [...this.#v1.values()]) if (r.conn.id === input.connection.id) this.#endV1(r)
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#now = Math.max(this.#now, now)
    for (const [id, at] of [...this.#closing]) {
      if (at > now) continue
      this.#closing.delete(id)
      // the client uses the dial-back connection for its next request (go picks any connection to
      // us): leave it open, it is a connection like any other now
      if ([...this.#v2.values(), ...this.#v1.values()].some((r) => r.conn.id === id)) continue
      this.#host.actions.push({ type: 'close-connection', connection: id })
    }
    for (const r of [...this.#v2.values()]) {
      if (r.state === 'jitter' && r.until !== undefined && r.until <= now) this.#dialV2(r)
      else if (r.state === 'dial-back' && r.until !== undefined && r.until <= now) this.#respondV2(r, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', 'dial-back response timed out')
      else if (r.deadline <= now) {
        this.#reset(r.stream)
        this.#endV2(r, 'aborted', 'request timed out')
      }
    }
    for (const r of [...this.#v1.values()]) {
      if (r.deadline > now) continue
      this.#reset(r.stream)
      this.#endV1(r)
    }
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined
    const at = (x: Millis | undefined): void => {
      if (x !== undefined && (t === undefined || x < t)) t = x
    }
    for (const r of this.#v2.values()) {
      at(r.deadline)
      if (r.state === 'jitter' || r.state === 'dial-back') at(r.until)
    }
    for (const r of this.#v1.values()) at(r.deadline)
    for (const x of this.#closing.values()) at(x)
    return t
  }

  // ---- v2 ---------------------------------------------------------------------------------------

  #openV2(now: Millis, stream: StreamRef, conn: ConnectionInfo): void {
    // spec: no requests over relayed connections (the observed IP would be the relay's)
    if (conn.limited || this.#v2.size + this.#v1.size >= this.#o.maxConcurrent) return this.#reset(stream)
    this.#v2.set(streamKey(stream), {
      stream, conn, decoder: v2FrameDecoder(), deadline: now + this.#o.streamTimeout, state: 'reading', addrIdx: 0, nonce: 0n, need: 0, paid: 0,
    })
  }

  #data(now: Millis, stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const r2 = this.#v2.get(key)
    if (r2 !== undefined) return this.#dataV2(now, r2, data)
    const r1 = this.#v1.get(key)
    if (r1 !== undefined) return this.#dataV1(now, r1, data)
    const b = this.#backStreams.get(key)
    if (b !== undefined && b.backDecoder !== undefined) {
      let m: { status: number } | undefined
      try {
        b.backDecoder.push(data)
        m = b.backDecoder.next()
      } catch (e) {
        return this.#respondV2(b, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', e instanceof Error ? e.message : String(e))
      }
      if (m === undefined) return
      if (m.status === DialBackStatus.OK) this.#respondV2(b, DialStatus.OK, 'dial-ok')
      else this.#respondV2(b, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', `DialBackResponse status ${m.status}`)
    }
  }

  #dataV2(now: Millis, r: V2Request, data: Uint8Array): void {
    try {
      r.decoder.push(data)
      for (let m = r.decoder.next(); m !== undefined && this.#v2.has(streamKey(r.stream)); m = r.decoder.next()) this.#messageV2(now, r, m)
    } catch (e) {
      this.#reset(r.stream)
      this.#endV2(r, 'bad-request', e instanceof Error ? e.message : String(e))
    }
  }

  #messageV2(now: Millis, r: V2Request, m: V2Message): void {
    if (r.state === 'reading') {
      if (m.type !== 'dial-request') return this.#protocolReset(r, `expected DialRequest, got ${m.type}`)
      return this.#request(now, r, m.addrs, m.nonce)
    }
    if (m.type !== 'dial-data-response') return this.#protocolReset(r, `unexpected ${m.type}`)
    if (r.state !== 'dial-data') return // the last chunk may overshoot; extra chunks after it are ignored
    const n = m.data.length
    if (n < this.#o.minDialDataChunk && r.paid + n < r.need) return this.#protocolReset(r, `dial data chunk of ${n} bytes`)
    r.paid += n
    if (r.paid < r.need) return
    const wait = this.#o.amplificationJitter > 0 ? randomInt(this.#host, this.#o.amplificationJitter + 1) : 0
    if (wait === 0) return this.#dialV2(r)
    r.state = 'jitter'
    r.until = now + wait
  }

  #request(now: Millis, r: V2Request, addrs: readonly Uint8Array[], nonce: bigint): void {
    const peer = r.conn.peer.toString()
    let running = 0
    for (const x of this.#v2.values()) if (x !== r && x.conn.peer.equals(r.conn.peer) && x.state !== 'reading') running++
    if (running >= this.#o.maxConcurrentPerPeer) return this.#rejectV2(r, ResponseStatus.E_REQUEST_REJECTED, 'rejected', 'too many requests in progress')
    if (!this.#v2Limiter.take(now, peer)) return this.#rejectV2(r, ResponseStatus.E_REQUEST_REJECTED, 'rejected', 'rate limit')
    r.nonce = nonce
    for (let i = 0; i < addrs.length && i < this.#o.maxRequestAddrs; i++) {
      const a = this.#dialable(addrs[i]!, r.conn)
      if (a === undefined) continue
      r.addr = a
      r.addrIdx = i
      break
    }
    if (r.addr === undefined) return this.#rejectV2(r, ResponseStatus.E_DIAL_REFUSED, 'refused', 'no address we are willing to dial')
    if (sameIp(r.addr, r.conn.remoteAddr)) return this.#dialV2(r)
    // amplification protection: another IP costs the client dial data first
    if (!this.#dataLimiter.take(now, 'all')) return this.#rejectV2(r, ResponseStatus.E_REQUEST_REJECTED, 'rejected', 'dial data rate limit')
    const span = this.#o.maxDialDataBytes - this.#o.minDialDataBytes
    r.need = this.#o.minDialDataBytes + randomInt(this.#host, span)
    r.state = 'dial-data'
    this.#write(r.stream, encodeV2Frame({ type: 'dial-data-request', addrIdx: r.addrIdx, numBytes: BigInt(r.need) }))
  }

  /** The request's address if we will dial it: parses, testable, no foreign /p2p, not ours. */
  #dialable(bytes: Uint8Array, conn: ConnectionInfo): Multiaddr | undefined {
    let a: Multiaddr
    try {
      a = Multiaddr.fromBytes(bytes)
    } catch {
      return undefined
    }
    const pid = a.getPeerId()
    if (pid !== undefined && pid !== conn.peer.toString()) return undefined
    if (!isTestable(a, this.#o.allowPrivateAddrs)) return undefined
    const bare = a.withoutPeerId()
    if (this.#listenAddrs.some((l) => l.equals(bare))) return undefined
    // IPv4-only / IPv6-only servers refuse the other family (spec); we know our family by the connection
    const ip = ipOf(bare)
    const local = conn.localAddr === undefined ? undefined : ipOf(conn.localAddr)
    if (ip !== undefined && local !== undefined && ip.code !== local.code && !sameFamilyListen(this.#listenAddrs, ip.code)) return undefined
    return bare
  }

  #dialV2(r: V2Request): void {
    const id = this.#host.nextId()
    r.state = 'dialing'
    r.dialId = id
    this.#dials.set(id, r)
    this.#host.actions.push({ type: 'dial', requestId: id, addrs: [r.addr!.encapsulate(`/p2p/${r.conn.peer.toString()}`)], options: { force: true } })
  }

  #dialSucceeded(requestId: number, connection: ConnectionInfo): void {
    const r = this.#dials.get(requestId)
    if (r === undefined) return
    this.#dials.delete(requestId)
    if ('dials' in r) return this.#v1DialSucceeded(r, requestId, connection)
    if (r.state !== 'dialing') return this.#closeDialBack(connection.id)
    r.dialConn = connection.id
    r.state = 'opening-back'
    const id = this.#host.nextId()
    r.backOpenId = id
    this.#backOpens.set(id, r)
    this.#host.actions.push({ type: 'open-stream', requestId: id, peer: connection.peer, protocols: [DIAL_BACK_PROTOCOL], connection: connection.id })
  }

  #dialFailed(requestId: number, error: Error): void {
    const r = this.#dials.get(requestId)
    if (r === undefined) return
    this.#dials.delete(requestId)
    if ('dials' in r) return this.#v1DialFailed(r, requestId)
    if (r.state === 'dialing') this.#respondV2(r, DialStatus.E_DIAL_ERROR, 'dial-error', error.message)
  }

  #backOpened(now: Millis, requestId: number, stream: StreamRef): void {
    const r = this.#backOpens.get(requestId)
    if (r === undefined) return this.#reset(stream) // its request ended meanwhile
    this.#backOpens.delete(requestId)
    if (r.state !== 'opening-back') return this.#reset(stream)
    r.state = 'dial-back'
    r.backStream = stream
    r.backDecoder = dialBackResponseDecoder()
    r.until = now + this.#o.dialBackTimeout
    this.#backStreams.set(streamKey(stream), r)
    this.#write(stream, encodeLp(encodeDialBack(r.nonce)))
    this.#host.actions.push({ type: 'close-write', stream })
  }

  #streamGone(stream: StreamRef): void {
    const key = streamKey(stream)
    const r2 = this.#v2.get(key)
    if (r2 !== undefined) return this.#endV2(r2, 'aborted', 'stream ended')
    const r1 = this.#v1.get(key)
    if (r1 !== undefined) return this.#endV1(r1)
    const b = this.#backStreams.get(key)
    if (b !== undefined) this.#respondV2(b, DialStatus.E_DIAL_BACK_ERROR, 'dial-back-error', 'dial-back stream reset')
  }

  /** A dial was made (or attempted): status OK with its outcome. */
  #respondV2(r: V2Request, dialStatus: number, outcome: ServedOutcome, reason?: string): void {
    if (!this.#v2.has(streamKey(r.stream))) return
    this.#write(r.stream, encodeV2Frame({ type: 'dial-response', status: ResponseStatus.OK, addrIdx: r.addrIdx, dialStatus }))
    this.#host.actions.push({ type: 'close-write', stream: r.stream })
    this.#endV2(r, outcome, reason)
  }

  /** No dial: refused or rejected. */
  #rejectV2(r: V2Request, status: number, outcome: ServedOutcome, reason: string): void {
    this.#write(r.stream, encodeV2Frame({ type: 'dial-response', status, addrIdx: 0, dialStatus: DialStatus.UNUSED }))
    this.#host.actions.push({ type: 'close-write', stream: r.stream })
    this.#endV2(r, outcome, reason)
  }

  #protocolReset(r: V2Request, reason: string): void {
    this.#reset(r.stream)
    this.#endV2(r, r.state === 'dial-data' ? 'dial-data-refused' : 'bad-request', reason)
  }

  #endV2(r: V2Request, outcome: ServedOutcome, reason?: string): void {
    if (!this.#v2.delete(streamKey(r.stream))) return
    const wasDialing = r.state === 'dialing'
    r.state = 'done'
    if (r.backOpenId !== undefined) this.#backOpens.delete(r.backOpenId)
    if (r.backStream !== undefined) this.#backStreams.delete(streamKey(r.backStream))
    if (r.dialConn !== undefined) this.#closeDialBack(r.dialConn)
    // a dial still in flight stays in #dials: its connection is closed when it lands
    if (!wasDialing && r.dialId !== undefined) this.#dials.delete(r.dialId)
    const ev: AutoNATEvent = { type: 'served', peer: r.conn.peer, version: 2, outcome }
    if (r.addr !== undefined) ev.addr = r.addr
    if (reason !== undefined) ev.reason = reason
    if (r.need > 0) ev.dialDataBytes = r.paid
    this.#host.actions.push({ type: 'event', event: ev })
  }

  // ---- v1 ---------------------------------------------------------------------------------------

  #openV1(now: Millis, stream: StreamRef, conn: ConnectionInfo): void {
    if (conn.limited || this.#v2.size + this.#v1.size >= this.#o.maxConcurrent) return this.#reset(stream)
    this.#v1.set(streamKey(stream), { stream, conn, decoder: v1FrameDecoder(), deadline: now + this.#o.v1StreamTimeout, state: 'reading', dials: new Set(), failures: 0 })
  }

  #dataV1(now: Millis, r: V1Request, data: Uint8Array): void {
    if (r.state !== 'reading') return
    let m: V1Message | undefined
    try {
      r.decoder.push(data)
      m = r.decoder.next()
    } catch (e) {
      return this.#respondV1(r, V1Status.E_BAD_REQUEST, 'bad-request', e instanceof Error ? e.message : String(e))
    }
    if (m === undefined) return
    if (m.type !== 'dial') return this.#respondV1(r, V1Status.E_BAD_REQUEST, 'bad-request', 'expected DIAL')
    if (!m.peer.id.equals(r.conn.peer)) return this.#respondV1(r, V1Status.E_BAD_REQUEST, 'bad-request', 'peer id is not the requester')
    const observed = r.conn.remoteAddr
    if (ipOf(observed) === undefined) return this.#respondV1(r, V1Status.E_DIAL_REFUSED, 'refused', 'observed address has no IP', undefined, 'dial-blocked')
    if (!this.#v1Limiter.take(now, r.conn.peer.toString())) return this.#respondV1(r, V1Status.E_DIAL_REFUSED, 'rejected', 'too many dials')
    const targets: Multiaddr[] = []
    for (const bytes of m.peer.addrs) {
      if (targets.length >= this.#o.v1MaxDialAddrs) break
      let a: Multiaddr
      try {
        a = Multiaddr.fromBytes(bytes)
      } catch {
        continue
      }
      const pid = a.getPeerId()
      if (pid !== undefined && pid !== r.conn.peer.toString()) continue
      // the spec's rule: only the observed IP is ever dialled
      const t = withIpOf(a.withoutPeerId(), observed)
      if (t === undefined || !isTestable(t, this.#o.allowPrivateAddrs)) continue
      if (this.#listenAddrs.some((l) => l.equals(t)) || targets.some((x) => x.equals(t))) continue
      targets.push(t)
    }
    if (targets.length === 0) return this.#respondV1(r, V1Status.E_DIAL_REFUSED, 'refused', 'no dialable addresses', undefined, 'no-valid-address')
    r.state = 'dialing'
    for (const t of targets) {
      const id = this.#host.nextId()
      r.dials.add(id)
      this.#dials.set(id, r)
      this.#host.actions.push({ type: 'dial', requestId: id, addrs: [t.encapsulate(`/p2p/${r.conn.peer.toString()}`)], options: { force: true } })
    }
  }

  #v1DialSucceeded(r: V1Request, id: number, connection: ConnectionInfo): void {
    r.dials.delete(id)
    this.#closeDialBack(connection.id)
    if (r.state !== 'dialing') return
    this.#respondV1(r, V1Status.OK, 'dial-ok', undefined, connection.remoteAddr.withoutPeerId())
  }

  #v1DialFailed(r: V1Request, id: number): void {
    r.dials.delete(id)
    r.failures++
    if (r.state === 'dialing' && r.dials.size === 0) this.#respondV1(r, V1Status.E_DIAL_ERROR, 'dial-error', 'every dial failed')
  }

  #respondV1(r: V1Request, status: number, outcome: ServedOutcome, reason?: string, addr?: Multiaddr, refusal?: 'dial-blocked' | 'no-valid-address'): void {
    const msg: V1Message = { type: 'dial-response', status }
    if (reason !== undefined) msg.statusText = reason
    if (addr !== undefined) msg.addr = addr
    this.#write(r.stream, encodeV1Frame(msg))
    this.#host.actions.push({ type: 'close-write', stream: r.stream })
    const ev: AutoNATEvent = { type: 'served', peer: r.conn.peer, version: 1, outcome }
    if (addr !== undefined) ev.addr = addr
    if (reason !== undefined) ev.reason = reason
    if (refusal !== undefined) ev.refusal = refusal
    this.#host.actions.push({ type: 'event', event: ev })
    this.#endV1(r)
  }

  /** Forget the request; dials still in flight stay in #dials so their connections get closed. */
  #endV1(r: V1Request): void {
    this.#v1.delete(streamKey(r.stream))
    r.state = 'done'
  }

  /** Close a dial-back connection after `dialBackCloseDelay` (see handleTimeout). */
  #closeDialBack(connection: number): void {
    if (this.#o.dialBackCloseDelay === 0) this.#host.actions.push({ type: 'close-connection', connection })
    else this.#closing.set(connection, this.#now + this.#o.dialBackCloseDelay)
  }

  #write(stream: StreamRef, data: Uint8Array): void {
    this.#host.actions.push({ type: 'write', stream, data })
  }

  #reset(stream: StreamRef): void {
    this.#host.actions.push({ type: 'reset', stream })
  }
}

function sameFamilyListen(listen: readonly Multiaddr[], code: number): boolean {
  return listen.some((l) => ipOf(l)?.code === code)
}
