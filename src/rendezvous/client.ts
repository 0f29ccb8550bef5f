/**
 * The rendezvous client over `/rendezvous/1.0.0` streams (spec/rendezvous.md, "Client"), pure.
 *
 * Each operation opens its own stream (as rust-libp2p does): write one Message, close the write
 * side, then (REGISTER, DISCOVER) read exactly one response. UNREGISTER has no response: it is done
 * once written. A registration is refreshed (a new REGISTER) when `refreshRatio` of the TTL the
 * point granted has passed, until `unregister` or `stopAll`; a failed refresh is retried every
 * `retryInterval`. Discovered registrations are verified (signed peer record, either layout, see
 * record.ts); their addresses go to the peer store (`peer-info` action) before the event.
 *
 * Errors: a point's non-OK status is an OutcomeError named after it ('rendezvous/invalid-namespace',
 * ...); the point's bad bytes a ProtocolError('rendezvous', ...); the rest OutcomeErrors
 * ('rendezvous/timeout', 'rendezvous/no-response', 'rendezvous/dial-failed', ...).
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/index.js'
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import {
  MessageType, RENDEZVOUS_PROTOCOL, RendezvousDecoder, ResponseStatus, encodeRendezvousFrame, type RendezvousMessage, type RendezvousMessageLimits,
} from './message.js'
import { openRendezvousRecord, sealRendezvousRecord, type RecordFormat } from './record.js'

/** A point's ResponseStatus as an OutcomeError code. */
export type RendezvousStatusCode =
  | 'rendezvous/invalid-namespace'
  | 'rendezvous/invalid-signed-peer-record'
  | 'rendezvous/invalid-ttl'
  | 'rendezvous/invalid-cookie'
  | 'rendezvous/not-authorized'
  | 'rendezvous/internal-error'
  | 'rendezvous/unavailable'

/**
 * Why a rendezvous operation failed without a protocol violation: the point's status (`E_NOT_AUTHORIZED`...), a timeout, a reset, a failed dial.
 */
export type RendezvousOutcomeCode =
  | RendezvousStatusCode
  | 'rendezvous/timeout'
  | 'rendezvous/no-response'
  | 'rendezvous/reset'
  | 'rendezvous/connection-closed'
  | 'rendezvous/dial-failed'
  | 'rendezvous/unsupported-protocol'
  | 'rendezvous/stream-open-failed'
  | 'rendezvous/too-many-requests'

const STATUS_CODES: Record<number, RendezvousStatusCode> = {
  [ResponseStatus.E_INVALID_NAMESPACE]: 'rendezvous/invalid-namespace',
  [ResponseStatus.E_INVALID_SIGNED_PEER_RECORD]: 'rendezvous/invalid-signed-peer-record',
  [ResponseStatus.E_INVALID_TTL]: 'rendezvous/invalid-ttl',
  [ResponseStatus.E_INVALID_COOKIE]: 'rendezvous/invalid-cookie',
  [ResponseStatus.E_NOT_AUTHORIZED]: 'rendezvous/not-authorized',
  [ResponseStatus.E_INTERNAL_ERROR]: 'rendezvous/internal-error',
  [ResponseStatus.E_UNAVAILABLE]: 'rendezvous/unavailable',
}

/** The OutcomeError for a point's non-OK status; `status` and `statusText` kept on it. */
export class RendezvousStatusError extends OutcomeError<RendezvousStatusCode> {
  override readonly name = 'RendezvousStatusError'
  readonly status: ResponseStatus
  readonly statusText: string | undefined
  constructor(status: ResponseStatus, statusText?: string) {
    super(STATUS_CODES[status] ?? 'rendezvous/internal-error', statusText === undefined || statusText === '' ? `status ${status}` : `status ${status}: ${statusText}`)
    this.status = status
    this.statusText = statusText
  }
}

/** Bounds of the rendezvous client (spec/rendezvous.md "Limits"). */
export interface RendezvousClientLimits {
  /** Milliseconds for one operation (stream open, request, response). Default 10 000 (rust's). Stops a silent point pinning a stream. */
  timeout?: number
  /** Operations in flight at once. Default 64. Stops unbounded local queues; past it an operation fails with 'rendezvous/too-many-requests'. */
  maxPending?: number
  /** Registrations kept refreshed at once. Default 64. Stops unbounded refresh work; past it register() throws UsageError. */
  maxRegistrations?: number
  /**
   * Milliseconds before retrying a failed refresh, and the shortest gap between refreshes (a point may
   * grant a TTL of 0). Default 30 000. Stops a refresh storm against a failing or hostile point.
   */
  retryInterval?: number
}

/** Options of the rendezvous client behaviour. */
export interface RendezvousClientOptions extends RendezvousClientLimits {
  crypto: CryptoProvider
  privateKey: PrivateKey
  peerId: PeerId
  /** First sequence number of our records (wall-clock ms at start, so a restart never goes back). */
  seqBase: bigint
  /** Envelope layout of the records we register. Default 'standard'; 'rust-legacy' for a rust-libp2p point (record.ts). */
  recordFormat?: RecordFormat
  /** Addresses to register instead of the swarm's listen and external addresses. */
  addresses?: readonly Multiaddr[]
  /** Fraction of the granted TTL after which a registration is refreshed. Default 0.8. */
  refreshRatio?: number
  messageLimits?: Partial<RendezvousMessageLimits>
  /** Register at these points and discover from them every `interval` ms on our own (see RendezvousDiscovery). */
  discovery?: RendezvousDiscovery
}

/**
 * Periodic discovery (`createNode({ discovery: { rendezvous } })`): at start and every `interval`
 * ms, register at every point not yet registered at (a failed one is tried again next round; a
 * registration is refreshed as usual), then DISCOVER `namespace` there with the cookie of the last
 * round, so each round returns only new registrations.
 */
export interface RendezvousDiscovery {
  points: ReadonlyArray<{ peer: PeerId; addrs: readonly Multiaddr[] }>
  namespace: string
  /** Seconds; absent: the point's default. */
  ttl?: number
  /** Milliseconds between rounds. Default 60 000. Stops: polling a point too often. */
  interval?: number
}

/** Default interval of `discovery.rendezvous` discovery rounds, in ms (60 s). */
export const DEFAULT_RENDEZVOUS_DISCOVERY_INTERVAL = 60_000

/**
 * Default `RendezvousClientLimits`: 10 s per operation, 64 pending operations, 64 registrations kept refreshed, retry after 30 s.
 */
export const DEFAULT_RENDEZVOUS_CLIENT_LIMITS: Readonly<Required<RendezvousClientLimits>> = Object.freeze({
  timeout: 10_000,
  maxPending: 64,
  maxRegistrations: 64,
  retryInterval: 30_000,
})

/** A registration returned by DISCOVER whose signed peer record checked out: peer, namespace, addresses, TTL. */
export interface DiscoveredRegistration {
  /** The registered peer (its signed record checked out). */
  peer: PeerId
  /** The namespace it registered in. */
  namespace: string
  /** Its addresses, from its signed peer record. */
  addrs: Multiaddr[]
  /** Seconds left, as the point says. */
  ttl: number
  /** The peer record's sequence number. */
  seq: bigint
  /** The record layout it used (`standard` or `rust-legacy`). */
  format: RecordFormat
}

/** Events of the rendezvous client behaviour: registrations made, refreshed or failed, discoveries. */
export type RendezvousClientEvent =
  | { type: 'registered'; requestId: number; point: PeerId; namespace: string; ttl: number; refresh: boolean }
  | { type: 'register-failed'; requestId: number; point: PeerId; namespace: string; error: Error; refresh: boolean }
  | { type: 'unregistered'; requestId: number; point: PeerId; namespace: string }
  | { type: 'unregister-failed'; requestId: number; point: PeerId; namespace: string; error: Error }
  | { type: 'discovered'; requestId: number; point: PeerId; registrations: DiscoveredRegistration[]; cookie: Uint8Array | undefined; invalid: number }
  | { type: 'discover-failed'; requestId: number; point: PeerId; error: Error }

type Kind = 'register' | 'unregister' | 'discover'

interface Op {
  readonly id: number
  readonly kind: Kind
  readonly point: PeerId
  readonly namespace: string
  readonly frame: Uint8Array
  readonly deadline: Millis
  readonly refresh: boolean
  stream?: StreamRef
  decoder?: RendezvousDecoder
  /** Answered (or, for unregister, written): the stream lingers until the remote closes it. */
  done: boolean
}

interface Registration {
  readonly point: PeerId
  readonly namespace: string
  readonly ttl: number | undefined
  readonly format: RecordFormat
  /** When to send the next REGISTER (ms), while none is in flight. */
  next: Millis | undefined
  inFlight: number | undefined
}

const regKey = (point: PeerId, ns: string): string => `${point.toString()}\u0000${ns}`

function unspecified(a: Multiaddr): boolean {
  const s = a.toString()
  return s.startsWith('/ip4/0.0.0.0/') || s.startsWith('/ip6/::/')
}

export class RendezvousClientBehaviour implements Behaviour<RendezvousClientEvent> {
  readonly protocols: readonly string[] = []
  readonly #o: Required<RendezvousClientLimits>
  readonly #crypto: CryptoProvider
  readonly #key: PrivateKey
  readonly #self: PeerId
  readonly #format: RecordFormat
  readonly #fixedAddrs: readonly Multiaddr[] | undefined
  readonly #ratio: number
  readonly #msg: Partial<RendezvousMessageLimits>
  #seq: bigint
  #listen: readonly Multiaddr[] = []
  #external: readonly Multiaddr[] = []
  readonly #ops = new Map<number, Op>()
  readonly #byStream = new Map<string, number>()
  readonly #regs = new Map<string, Registration>()
  readonly #actions: BehaviourAction<RendezvousClientEvent>[] = []
  #nextId = 1
  readonly #auto: (RendezvousDiscovery & { interval: number }) | undefined
  #autoNext: Millis | undefined
  readonly #autoCookies = new Map<string, Uint8Array>()
  /** Discover operations of the periodic discovery -> their point. */
  readonly #autoOps = new Map<number, string>()

  constructor(options: RendezvousClientOptions) {
    this.#o = { ...DEFAULT_RENDEZVOUS_CLIENT_LIMITS }
    for (const k of Object.keys(DEFAULT_RENDEZVOUS_CLIENT_LIMITS) as Array<keyof RendezvousClientLimits>) {
      const v = options[k]
      if (v === undefined) continue
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`)
      this.#o[k] = v
    }
    this.#ratio = options.refreshRatio ?? 0.8
    if (!(this.#ratio > 0 && this.#ratio < 1)) throw new RangeError('refreshRatio must be in (0, 1)')
    this.#crypto = options.crypto
    this.#key = options.privateKey
    this.#self = options.peerId
    this.#seq = options.seqBase
    this.#format = options.recordFormat ?? 'standard'
    this.#fixedAddrs = options.addresses
    this.#msg = options.messageLimits ?? {}
    const d = options.discovery
    if (d !== undefined) {
      const interval = d.interval ?? DEFAULT_RENDEZVOUS_DISCOVERY_INTERVAL
      if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError('discovery.interval must be a positive integer')
      this.#auto = { ...d, interval }
      this.#autoNext = 0
      for (const p of d.points) if (p.addrs.length > 0) this.#actions.push({ type: 'peer-info', peer: p.peer, info: { addrs: p.addrs } })
    }
  }

  /** Operations in flight and registrations kept refreshed (for tests and leak checks). */
  get inFlight(): { operations: number; registrations: number } {
    return { operations: [...this.#ops.values()].filter((o) => !o.done).length, registrations: this.#regs.size }
  }

  /** True when `peer` is our own peer id. */
  isSelf(peer: PeerId): boolean {
    return peer.equals(this.#self)
  }

  /** The addresses our record carries now. */
  addresses(): Multiaddr[] {
    const all = this.#fixedAddrs ?? [...this.#external, ...this.#listen]
    const seen = new Set<string>()
    const out: Multiaddr[] = []
    for (const a of all) {
      const b = a.withoutPeerId()
      const t = b.toString()
      if (unspecified(b) || seen.has(t)) continue
      seen.add(t)
      out.push(b)
    }
    return out
  }

  /**
   * Register at `point` under `namespace` (TTL in seconds, or the point's default) and keep the
   * registration refreshed. UsageError 'rendezvous/no-addresses' when we have no address to announce.
   */
  register(now: Millis, point: PeerId, namespace: string, options: { ttl?: number; recordFormat?: RecordFormat } = {}, requestId?: number): number {
    const { ttl, recordFormat = this.#format } = options
    if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 1)) throw new RangeError('ttl must be a positive whole number of seconds')
    const key = regKey(point, namespace)
    if (!this.#regs.has(key) && this.#regs.size >= this.#o.maxRegistrations) {
      throw new UsageError('rendezvous/too-many-registrations', `maxRegistrations is ${this.#o.maxRegistrations}`)
    }
    const id = this.#sendRegister(now, point, namespace, ttl, recordFormat, false, requestId)
    if (!this.#ops.has(id)) return id // failed at once (its event is queued)
    const old = this.#regs.get(key)
    if (old?.inFlight !== undefined && old.inFlight !== id) this.#abandon(this.#ops.get(old.inFlight))
    this.#regs.set(key, { point, namespace, ttl, format: recordFormat, next: undefined, inFlight: id })
    return id
  }

  /** Stop refreshing and send UNREGISTER; `unregistered` once it is written. */
  unregister(now: Millis, point: PeerId, namespace: string, requestId?: number): number {
    const reg = this.#regs.get(regKey(point, namespace))
    if (reg !== undefined) {
      if (reg.inFlight !== undefined) this.#abandon(this.#ops.get(reg.inFlight))
      this.#regs.delete(regKey(point, namespace))
    }
    return this.#start(now, 'unregister', point, namespace, { type: MessageType.UNREGISTER, unregister: { ns: namespace } }, false, requestId)
  }

  /** Ask `point` for registrations (of `namespace`, or all), after `cookie` if given. */
  discover(now: Millis, point: PeerId, options: { namespace?: string; limit?: number; cookie?: Uint8Array } = {}, requestId?: number): number {
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) throw new RangeError('limit must be a non-negative integer')
    const d = {
      ...(options.namespace === undefined ? {} : { ns: options.namespace }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
    }
    return this.#start(now, 'discover', point, options.namespace ?? '', { type: MessageType.DISCOVER, discover: d }, false, requestId)
  }

  /** Stop refreshing every registration (the node is stopping); nothing is sent. */
  stopAll(): void {
    this.#regs.clear()
    this.#autoNext = undefined
  }

  /** Forget operation `requestId` (an aborted signal): its stream is reset, no event follows. */
  cancel(now: Millis, requestId: number): void {
    const op = this.#ops.get(requestId)
    if (op === undefined) return
    if (op.stream !== undefined) this.#actions.push({ type: 'reset', stream: op.stream })
    this.#dropOp(op)
    // as a failure: a cancelled first registration is not kept (it would hold a slot, never refreshed);
    // a cancelled refresh is retried
    for (const [k, r] of this.#regs) {
      if (r.inFlight !== requestId) continue
      r.inFlight = undefined
      if (op.refresh) r.next = now + this.#o.retryInterval
      else this.#regs.delete(k)
    }
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        this.#listen = input.listenAddrs
        return
      case 'reachability':
        this.#external = input.externalAddrs
        return
      case 'stream-opened': {
        if (input.protocol !== RENDEZVOUS_PROTOCOL || input.direction !== 'outbound' || input.requestId === undefined) return
        const op = this.#ops.get(input.requestId)
        if (op === undefined || op.stream !== undefined) {
          this.#actions.push({ type: 'reset', stream: input.stream })
          return
        }
        op.stream = input.stream
        this.#byStream.set(streamKey(input.stream), op.id)
        this.#actions.push({ type: 'write', stream: input.stream, data: op.frame })
        this.#actions.push({ type: 'close-write', stream: input.stream })
        if (op.kind === 'unregister') {
          op.done = true
          this.#event({ type: 'unregistered', requestId: op.id, point: op.point, namespace: op.namespace })
        } else op.decoder = new RendezvousDecoder(this.#msg)
        return
      }
      case 'stream-open-failed': {
        const op = this.#ops.get(input.requestId)
        if (op !== undefined && op.stream === undefined) this.#fail(now, op, openError(input.error), false)
        return
      }
      case 'stream-data': {
        const op = this.#opOf(input.stream)
        if (op === undefined || op.done || op.decoder === undefined) return
        op.decoder.push(input.data)
        let msg: RendezvousMessage | undefined
        try {
          msg = op.decoder.next()
        } catch (e) {
          this.#fail(now, op, e as Error, true)
          return
        }
        if (msg !== undefined) this.#answer(now, op, msg)
        return
      }
      case 'stream-eof': {
        const op = this.#opOf(input.stream)
        if (op === undefined) return
        if (op.done) this.#dropOp(op)
        else this.#fail(now, op, new OutcomeError<RendezvousOutcomeCode>('rendezvous/no-response', 'the point closed the stream without a response'), false)
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const op = this.#opOf(input.stream)
        if (op === undefined) return
        if (op.done) this.#dropOp(op)
        else this.#fail(now, op, new OutcomeError<RendezvousOutcomeCode>(input.type === 'stream-reset' ? 'rendezvous/reset' : 'rendezvous/no-response'), false)
        return
      }
      case 'connection-closed':
        for (const op of [...this.#ops.values()]) {
          if (op.stream?.connection !== input.connection.id) continue
          if (op.done) this.#dropOp(op)
          else this.#fail(now, op, new OutcomeError<RendezvousOutcomeCode>('rendezvous/connection-closed'), false)
        }
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    const auto = this.#auto
    if (auto !== undefined && this.#autoNext !== undefined && this.#autoNext <= now) {
      this.#autoNext = now + auto.interval
      for (const p of auto.points) {
        if (!this.#regs.has(regKey(p.peer, auto.namespace))) {
          try {
            this.register(now, p.peer, auto.namespace, auto.ttl === undefined ? {} : { ttl: auto.ttl })
          } catch {
            // nothing to announce yet: next round
          }
        }
        const key = p.peer.toString()
        const cookie = this.#autoCookies.get(key)
        this.#autoOps.set(this.discover(now, p.peer, { namespace: auto.namespace, ...(cookie === undefined ? {} : { cookie }) }), key)
      }
    }
    for (const op of [...this.#ops.values()]) {
      if (op.deadline > now) continue
      if (op.done) {
        if (op.stream !== undefined) this.#actions.push({ type: 'reset', stream: op.stream })
        this.#dropOp(op)
      } else this.#fail(now, op, new OutcomeError<RendezvousOutcomeCode>('rendezvous/timeout', `no answer within ${this.#o.timeout} ms`), true)
    }
    for (const r of this.#regs.values()) {
      if (r.inFlight !== undefined || r.next === undefined || r.next > now) continue
      r.next = undefined
      try {
        r.inFlight = this.#sendRegister(now, r.point, r.namespace, r.ttl, r.format, true)
      } catch (e) {
        // no address to announce now: try again later
        r.next = now + this.#o.retryInterval
        this.#event({ type: 'register-failed', requestId: 0, point: r.point, namespace: r.namespace, error: e as Error, refresh: true })
      }
    }
  }

  pollAction(): BehaviourAction<RendezvousClientEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    for (const op of this.#ops.values()) if (min === undefined || op.deadline < min) min = op.deadline
    for (const r of this.#regs.values()) if (r.inFlight === undefined && r.next !== undefined && (min === undefined || r.next < min)) min = r.next
    if (this.#autoNext !== undefined && (min === undefined || this.#autoNext < min)) min = this.#autoNext
    return min
  }

  #sendRegister(now: Millis, point: PeerId, namespace: string, ttl: number | undefined, format: RecordFormat, refresh: boolean, requestId?: number): number {
    const addrs = this.addresses()
    if (addrs.length === 0) throw new UsageError('rendezvous/no-addresses', 'no listen or external address to announce')
    const record = sealRendezvousRecord(this.#key, { peerId: this.#self, seq: this.#seq++, addrs }, this.#crypto, format)
    const msg: RendezvousMessage = { type: MessageType.REGISTER, register: { ns: namespace, signedPeerRecord: record, ...(ttl === undefined ? {} : { ttl }) } }
    return this.#start(now, 'register', point, namespace, msg, refresh, requestId)
  }

  #start(now: Millis, kind: Kind, point: PeerId, namespace: string, msg: RendezvousMessage, refresh: boolean, requestId?: number): number {
    if (requestId !== undefined && (!Number.isSafeInteger(requestId) || requestId < 1 || this.#ops.has(requestId))) throw new RangeError('requestId must be a positive integer not in use')
    if (requestId === undefined) while (this.#ops.has(this.#nextId)) this.#nextId++
    const id = requestId ?? this.#nextId++
    const frame = encodeRendezvousFrame(msg)
    const op: Op = { id, kind, point, namespace, frame, deadline: now + this.#o.timeout, refresh, done: false }
    if (this.inFlight.operations >= this.#o.maxPending) {
      this.#fail(now, op, new OutcomeError<RendezvousOutcomeCode>('rendezvous/too-many-requests', `maxPending is ${this.#o.maxPending}`), false)
      return id
    }
    this.#ops.set(id, op)
    this.#actions.push({ type: 'open-stream', requestId: id, peer: point, protocols: [RENDEZVOUS_PROTOCOL] })
    return id
  }

  #answer(now: Millis, op: Op, msg: RendezvousMessage): void {
    if (op.kind === 'register' && msg.type === MessageType.REGISTER_RESPONSE) {
      const r = msg.registerResponse
      if (r.status !== ResponseStatus.OK) return this.#fail(now, op, new RendezvousStatusError(r.status, r.statusText), false, true)
      const ttl = r.ttl ?? 7200
      op.done = true
      const reg = this.#regs.get(regKey(op.point, op.namespace))
      if (reg !== undefined && reg.inFlight === op.id) {
        reg.inFlight = undefined
        // a point granting a TTL shorter than retryInterval (even 0) is refreshed every retryInterval
        // at most: its answer cannot make us re-register in a tight loop
        reg.next = now + Math.max(this.#o.retryInterval, Math.floor(ttl * 1000 * this.#ratio))
      }
      this.#event({ type: 'registered', requestId: op.id, point: op.point, namespace: op.namespace, ttl, refresh: op.refresh })
      return
    }
    if (op.kind === 'discover' && msg.type === MessageType.DISCOVER_RESPONSE) {
      const d = msg.discoverResponse
      if (d.status !== ResponseStatus.OK) return this.#fail(now, op, new RendezvousStatusError(d.status, d.statusText), false, true)
      op.done = true
      const out: DiscoveredRegistration[] = []
      let invalid = 0
      for (const r of d.registrations) {
        // asked for one namespace: a registration the point labels with another is not an answer
        if (r.signedPeerRecord === undefined || (op.namespace !== '' && r.ns !== undefined && r.ns !== op.namespace)) {
          invalid++
          continue
        }
        let opened
        try {
          opened = openRendezvousRecord(r.signedPeerRecord, this.#crypto)
        } catch {
          invalid++
          continue
        }
        const { record, format } = opened
        out.push({ peer: record.peerId, namespace: r.ns ?? op.namespace, addrs: record.addrs, ttl: r.ttl ?? 0, seq: record.seq, format })
        if (!record.peerId.equals(this.#self) && record.addrs.length > 0) {
          this.#actions.push({ type: 'peer-info', peer: record.peerId, info: { addrs: record.addrs } })
        }
      }
      this.#event({ type: 'discovered', requestId: op.id, point: op.point, registrations: out, cookie: d.cookie, invalid })
      return
    }
    this.#fail(now, op, new ProtocolError('rendezvous', 'rendezvous/unexpected-message', `message type ${msg.type} in answer to ${op.kind}`), true)
  }

  #fail(now: Millis, op: Op, error: Error, reset: boolean, answered = false): void {
    if (reset && op.stream !== undefined) this.#actions.push({ type: 'reset', stream: op.stream })
    if (answered && !reset) op.done = true
    else this.#dropOp(op)
    if (op.kind === 'register') {
      const reg = this.#regs.get(regKey(op.point, op.namespace))
      if (reg !== undefined && reg.inFlight === op.id) {
        reg.inFlight = undefined
        // a refresh retries; a first registration that failed is not kept
        if (op.refresh) reg.next = now + this.#o.retryInterval
        else this.#regs.delete(regKey(op.point, op.namespace))
      }
      this.#event({ type: 'register-failed', requestId: op.id, point: op.point, namespace: op.namespace, error, refresh: op.refresh })
    } else if (op.kind === 'discover') this.#event({ type: 'discover-failed', requestId: op.id, point: op.point, error })
    else this.#event({ type: 'unregister-failed', requestId: op.id, point: op.point, namespace: op.namespace, error })
  }

  #opOf(stream: StreamRef): Op | undefined {
    const id = this.#byStream.get(streamKey(stream))
    return id === undefined ? undefined : this.#ops.get(id)
  }

  /** Forget an operation superseded by a newer one: reset its stream, no event. */
  #abandon(op: Op | undefined): void {
    if (op?.stream !== undefined) this.#actions.push({ type: 'reset', stream: op.stream })
    this.#dropOp(op)
  }

  #dropOp(op: Op | undefined): void {
    if (op === undefined) return
    this.#ops.delete(op.id)
    if (op.stream !== undefined) this.#byStream.delete(streamKey(op.stream))
  }

  #event(event: RendezvousClientEvent): void {
    if (event.type === 'discovered' || event.type === 'discover-failed') {
      const point = this.#autoOps.get(event.requestId)
      if (point !== undefined) {
        this.#autoOps.delete(event.requestId)
        // a failed round (an invalid cookie after the point restarted, ...) starts over without one
        if (event.type === 'discovered' && event.cookie !== undefined) this.#autoCookies.set(point, event.cookie)
        else this.#autoCookies.delete(point)
      }
    }
    this.#actions.push({ type: 'event', event })
  }
}

/** The swarm's reason a stream could not be opened, as a rendezvous outcome (cause kept). */
function openError(e: Error): OutcomeError<RendezvousOutcomeCode> {
  const code = (e as { code?: unknown }).code
  const c: RendezvousOutcomeCode =
    e.name === 'DialError' ? 'rendezvous/dial-failed'
    : code === 'connection/protocol-rejected' ? 'rendezvous/unsupported-protocol'
    : code === 'connection/closed' || code === 'swarm/connection-closed' || e.name === 'ConnectionClosedError' ? 'rendezvous/connection-closed'
    : 'rendezvous/stream-open-failed'
  return new OutcomeError<RendezvousOutcomeCode>(c, e.message, { cause: e })
}
