/**
 * Circuit Relay v2, client side: the reservation manager, as a pure behaviour (spec/relay.md
 * "Relay client").
 *
 * For every relay it is given (options `relays`, or a `/p2p-circuit` listen address through the
 * circuit transport) it keeps one reservation: connect to the relay (a `dial` action with the
 * relay's addresses), open a hop stream on that direct connection, write `RESERVE`, read the
 * `STATUS`. An OK answer must carry a reservation whose `expire` lies in the future and whose
 * `addrs` are not empty; a voucher, when present, must open (signed by the relay, naming us, not
 * expired). Any other answer is a protocol violation (ProtocolError, the stream is reset). Then:
 *
 * - the relay connection is protected from the connection manager (`protect-peer`, tag
 *   `relay-reservation`) while the reservation lives;
 * - the node advertises `<relay addr>/p2p/<relay>/p2p-circuit` (listenAddrs(); the node appends
 *   `/p2p/<self>`), and an event asks the edge to refresh them;
 * - it renews when 3/4 of the granted lifetime has passed (rust's rule; spec/relay.md says why),
 *   never sooner than `minRenewDelay` after the previous answer;
 * - the reservation is lost when its last direct connection to the relay closes (the spec: a
 *   reservation lives only while that connection does) or when it expires unrenewed; a new
 *   connection to the relay re-reserves at once, and failures retry with an exponential backoff.
 *
 * Time is an input (`now`, monotonic ms); the wall clock is `epoch + now` (epoch: wall-clock ms at
 * node creation), used only to compare the relay's UNIX `expire` seconds. The behaviour also keeps
 * deadlines for the circuit transport (armDeadline): the edge's dial and stop handshakes time out
 * through pollTimeout instead of timers of their own.
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { sameStream } from '../swarm/index.js'
import { HOP_PROTOCOL, HopType, RelayFrameDecoder, Status, encodeHopFrame, statusName } from './message.js'
import type { HopMessage, Limit, RelayMessageLimits, StatusName } from './message.js'
import { openVoucher, type Voucher } from './voucher.js'
import { RelayDiscovery, type RelayDiscoveryOptions } from './client-discover.js'

/** The connection manager tag protecting a relay connection that carries our reservation. */
export const RESERVATION_PROTECT_TAG = 'relay-reservation'

/** Bounds and timings of the relay client (spec/relay.md "Limits"). */
export interface RelayClientLimits {
  /**
   * Milliseconds from starting a reservation (dial, hop stream, RESERVE) to its STATUS. Default
   * 60 000 (go's ReserveTimeout). Stops: a relay that never answers holding the attempt forever.
   */
  reserveTimeout: number
  /**
   * Shortest delay before a renewal, in ms. Default 1 000. Stops: a relay granting lifetimes of a
   * few ms making us send RESERVE in a tight loop.
   */
  minRenewDelay: number
  /** First retry delay after a failed or refused reservation (ms, doubling). Default 5 000. */
  retryInitialDelay: number
  /** Longest retry delay (ms). Default 300 000. Stops: hammering a relay that keeps refusing us. */
  retryMaxDelay: number
  /** Relay message limits (size, addresses): spec/relay.md "Limits". */
  messages: Partial<RelayMessageLimits>
}

/** Default `RelayClientLimits` (spec/relay.md "Limits"). */
export const DEFAULT_RELAY_CLIENT_LIMITS: Readonly<Omit<RelayClientLimits, 'messages'>> = Object.freeze({
  reserveTimeout: 60_000,
  minRenewDelay: 1_000,
  retryInitialDelay: 5_000,
  retryMaxDelay: 300_000,
})

/** A reservation held on a relay. */
export interface RelayReservation {
  readonly relay: PeerId
  /** UTC UNIX seconds, as the relay granted. */
  readonly expire: bigint
  /** The relay's addresses from the reservation, each ending in `/p2p/<relay>`. */
  readonly addrs: readonly Multiaddr[]
  /** What this node advertises for it: `<addr>/p2p-circuit` for each of `addrs`. */
  readonly listenAddrs: readonly Multiaddr[]
  /** The limit of each relayed connection through this relay (absent: none announced). */
  readonly limit: Limit | undefined
  /** The opened voucher, when the relay sent one. */
  readonly voucher: Voucher | undefined
}

/** `relay:reservation` events. */
export type RelayReservationEvent =
  | { type: 'accepted' | 'renewed'; relay: PeerId; reservation: RelayReservation }
  /** The reservation ended: its relay connection closed, it expired unrenewed, or the relay was removed. */
  | { type: 'lost'; relay: PeerId; reason: 'connection-closed' | 'expired' | 'removed' }
  /** The relay answered with a status other than OK (`status`, and its name when the spec defines it). */
  | { type: 'refused'; relay: PeerId; status: number; statusName: StatusName | undefined; error: RelayStatusError }
  /** No answer: the dial, the stream or a timeout failed, or the relay broke the protocol (ProtocolError). */
  | { type: 'failed'; relay: PeerId; error: Error }

/** Events of the relay client behaviour: reservation changes and changes of our `/p2p-circuit` addresses. */
export type RelayClientEvent =
  | { type: 'reservation'; event: RelayReservationEvent }
  /** The advertised `/p2p-circuit` addresses changed (listenAddrs()). */
  | { type: 'listen-addrs' }
  /** A deadline armed with armDeadline passed. */
  | { type: 'deadline'; token: number }

/**
 * A relay answered a hop request with a status other than OK: an outcome, nobody broke the
 * protocol. `code` is `relay/` + the status name in kebab case (`relay/no-reservation`), or
 * `relay/status-<n>` for a value the spec does not define.
 */
export class RelayStatusError extends OutcomeError {
  readonly status: number
  readonly statusName: StatusName | undefined
  constructor(status: number, what: string) {
    const name = statusName(status)
    super(name === undefined ? `relay/status-${status}` : `relay/${name.toLowerCase().replaceAll('_', '-')}`, `${what}: the relay answered ${name ?? status}`)
    this.status = status
    this.statusName = name
  }
}

export interface RelayClientBehaviourOptions {
  crypto: CryptoProvider
  /** Our peer id (a voucher must name it). */
  self: PeerId
  /** Wall-clock ms at node creation: `epoch + now` is the wall clock. */
  epoch: number
  /** Relays to reserve on from the start (the swarm's first `local-info`). */
  relays?: readonly Multiaddr[]
  limits?: Partial<RelayClientLimits>
  /** Also reserve on connected peers that serve hop while unreachable (src/relay/client-discover.ts). */
  discover?: Partial<RelayDiscoveryOptions>
}

type Phase = 'idle' | 'dialing' | 'opening' | 'reserving'

interface Entry {
  readonly peer: PeerId
  /** Addresses to dial the relay at (without /p2p-circuit); empty: the peer store's. */
  readonly dialAddrs: Multiaddr[]
  /** Configured relays and circuit listeners holding this entry. */
  refs: number
  phase: Phase
  requestId: number | undefined
  stream: StreamRef | undefined
  decoder: RelayFrameDecoder<HopMessage> | undefined
  /** The attempt in flight fails at this time. */
  deadline: Millis | undefined
  reservation: (RelayReservation & { expiresAt: Millis }) | undefined
  renewAt: Millis | undefined
  retryAt: Millis | undefined
  failures: number
  /** Open direct (not limited) connections to the relay. */
  readonly connections: Set<number>
}

/** Split a relay address into the relay's peer id and its dial address (without /p2p-circuit). */
export function parseRelayAddr(addr: Multiaddr): { peer: PeerId; dialAddr: Multiaddr | undefined } {
  const comps = addr.components()
  const circuit = comps.findIndex((c) => c.code === CODE.p2pCircuit)
  if (circuit >= 0 && circuit !== comps.length - 1) throw new UsageError('relay/bad-relay-addr', `${addr.toString()}: nothing may follow /p2p-circuit in a relay address`)
  const base = circuit >= 0 ? addr.decapsulateCode(CODE.p2pCircuit) : addr
  const id = base.getPeerId()
  if (id === undefined) throw new UsageError('relay/bad-relay-addr', `${addr.toString()}: a relay address must name the relay (/p2p/<relay id>)`)
  if (base.components().some((c) => c.code === CODE.p2pCircuit)) throw new UsageError('relay/bad-relay-addr', `${addr.toString()}: nested circuits are not supported`)
  const transport = base.withoutPeerId()
  return { peer: PeerId.parse(id), dialAddr: transport.components().length === 0 ? undefined : base }
}

export class RelayClientBehaviour implements Behaviour<RelayClientEvent> {
  readonly protocols: readonly string[] = []
  readonly #o: RelayClientBehaviourOptions
  readonly #limits: RelayClientLimits
  readonly #entries = new Map<string, Entry>()
  readonly #actions: BehaviourAction<RelayClientEvent>[] = []
  /** Deadlines for the edge (armDeadline), by token. */
  readonly #deadlines = new Map<number, Millis>()
  #nextToken = 1
  #nextRequest = 1
  #started = false
  readonly #discovery: RelayDiscovery | undefined

  constructor(o: RelayClientBehaviourOptions) {
    this.#o = o
    this.#limits = { ...DEFAULT_RELAY_CLIENT_LIMITS, messages: {}, ...o.limits }
    for (const a of o.relays ?? []) parseRelayAddr(a)
    this.#discovery = o.discover === undefined ? undefined : new RelayDiscovery(o.discover, (peer) => this.#entries.has(peer.toString()))
    for (const k of ['reserveTimeout', 'minRenewDelay', 'retryInitialDelay', 'retryMaxDelay'] as const) {
      const v = this.#limits[k]
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${k} must be a positive number of ms`)
    }
  }

  // ---- commands -------------------------------------------------------------------------------

  /** Keep a reservation on the relay at `addr` (`<addr>/p2p/<relay>`, `/p2p-circuit` allowed at the end). */
  addRelay(now: Millis, addr: Multiaddr): PeerId {
    const { peer, dialAddr } = parseRelayAddr(addr)
    if (peer.equals(this.#o.self)) throw new UsageError('relay/self', 'cannot reserve on ourselves')
    const key = peer.toString()
    let e = this.#entries.get(key)
    if (e === undefined) {
      e = {
        peer, dialAddrs: [], refs: 0, phase: 'idle', requestId: undefined, stream: undefined, decoder: undefined, deadline: undefined,
        reservation: undefined, renewAt: undefined, retryAt: undefined, failures: 0, connections: new Set(),
      }
      this.#entries.set(key, e)
    }
    e.refs++
    if (dialAddr !== undefined && !e.dialAddrs.some((a) => a.equals(dialAddr))) e.dialAddrs.push(dialAddr)
    if (e.phase === 'idle' && e.reservation === undefined) this.#start(now, e)
    return peer
  }

  /** Release one hold on `relay`; the last one drops its reservation. */
  removeRelay(relay: PeerId): void {
    const e = this.#entries.get(relay.toString())
    if (e === undefined) return
    if (--e.refs > 0) return
    this.#abortAttempt(e)
    this.#entries.delete(relay.toString())
    if (e.reservation !== undefined) this.#lose(e, 'removed')
  }

  /** The reservations held now. */
  reservations(): RelayReservation[] {
    const out: RelayReservation[] = []
    for (const e of this.#entries.values()) {
      if (e.reservation === undefined) continue
      const { expiresAt: _, ...r } = e.reservation
      out.push(r)
    }
    return out
  }

  /** Addresses to advertise: `<relay addr>/p2p/<relay>/p2p-circuit` for every live reservation. */
  listenAddrs(): Multiaddr[] {
    return [...this.#entries.values()].flatMap((e) => [...(e.reservation?.listenAddrs ?? [])])
  }

  /** True when a reservation with `relay` is live. */
  hasReservation(relay: PeerId): boolean {
    return this.#entries.get(relay.toString())?.reservation !== undefined
  }

  /** A `deadline` event `ms` from now, unless cleared first (the edge's handshake timeouts). */
  armDeadline(now: Millis, ms: number): number {
    const token = this.#nextToken++
    this.#deadlines.set(token, now + ms)
    return token
  }

  /** @internal Cancel a deadline set by the client's driver. */
  clearDeadline(token: number): void {
    this.#deadlines.delete(token)
  }

  // ---- behaviour ------------------------------------------------------------------------------

  /** The relays discovery chose (peer ids), empty without `discover`. */
  discovered(): readonly string[] {
    return this.#discovery?.chosen ?? []
  }

  handle(now: Millis, input: BehaviourInput): void {
    this.#handle(now, input)
    if (this.#discovery === undefined || !this.#started) return
    for (const cmd of this.#discovery.handle(input)) {
      if (cmd.type === 'add') this.addRelay(now, cmd.addr)
      else this.removeRelay(cmd.peer)
    }
  }

  #handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info': {
        if (this.#started) return
        this.#started = true
        for (const a of this.#o.relays ?? []) this.addRelay(now, a)
        return
      }
      case 'connection-established': {
        const e = this.#entries.get(input.connection.peer.toString())
        if (e === undefined || input.connection.limited) return
        e.connections.add(input.connection.id)
        // the relay is back: re-reserve at once (a retry after a refusal keeps its backoff)
        if (e.phase === 'idle' && e.reservation === undefined && e.failures === 0) this.#start(now, e)
        return
      }
      case 'connection-closed': {
        const e = this.#entries.get(input.connection.peer.toString())
        if (e === undefined || !e.connections.delete(input.connection.id)) return
        if (e.connections.size > 0) return
        if (e.reservation !== undefined) this.#lose(e, 'connection-closed')
        if (e.phase === 'opening' || e.phase === 'reserving') this.#fail(now, e, new OutcomeError('relay/connection-closed', 'the relay connection closed before the reservation was answered'))
        else if (e.phase === 'idle' && e.retryAt === undefined) this.#scheduleRetry(now, e)
        return
      }
      case 'dial-succeeded': {
        const e = this.#byRequest(input.requestId, 'dialing')
        if (e === undefined) return
        if (!input.connection.limited) e.connections.add(input.connection.id)
        this.#open(e, input.connection.limited ? undefined : input.connection.id)
        return
      }
      case 'dial-failed': {
        const e = this.#byRequest(input.requestId, 'dialing')
        if (e !== undefined) this.#fail(now, e, input.error)
        return
      }
      case 'stream-opened': {
        if (input.direction !== 'outbound' || input.requestId === undefined) return
        const e = this.#byRequest(input.requestId, 'opening')
        if (e === undefined) {
          this.#actions.push({ type: 'reset', stream: input.stream })
          return
        }
        e.phase = 'reserving'
        e.stream = input.stream
        e.decoder = RelayFrameDecoder.hop(this.#limits.messages)
        this.#actions.push({ type: 'write', stream: input.stream, data: encodeHopFrame({ type: HopType.RESERVE }) })
        return
      }
      case 'stream-open-failed': {
        const e = this.#byRequest(input.requestId, 'opening')
        if (e !== undefined) this.#fail(now, e, input.error)
        return
      }
      case 'stream-data': {
        const e = this.#byStream(input.stream)
        if (e === undefined) return
        let msg: HopMessage | undefined
        try {
          e.decoder!.push(input.data)
          msg = e.decoder!.next()
        } catch (err) {
          this.#actions.push({ type: 'reset', stream: input.stream })
          e.stream = undefined
          this.#fail(now, e, err as Error)
          return
        }
        if (msg !== undefined) this.#answer(now, e, msg)
        return
      }
      case 'stream-eof':
      case 'stream-reset':
      case 'stream-closed': {
        const e = this.#byStream(input.stream)
        if (e === undefined) return
        if (input.type === 'stream-eof') this.#actions.push({ type: 'reset', stream: input.stream })
        e.stream = undefined
        const error = input.type === 'stream-eof'
          ? new ProtocolError('relay', 'relay/closed-early', 'the relay closed the hop stream without a STATUS')
          : new OutcomeError('relay/stream-reset', 'the hop stream was reset before the STATUS')
        this.#fail(now, e, error)
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    for (const [token, at] of this.#deadlines) {
      if (at > now) continue
      this.#deadlines.delete(token)
      this.#actions.push({ type: 'event', event: { type: 'deadline', token } })
    }
    for (const e of this.#entries.values()) {
      if (e.deadline !== undefined && e.deadline <= now) {
        this.#abortAttempt(e)
        this.#fail(now, e, new OutcomeError('relay/reserve-timeout', `no reservation answer within ${this.#limits.reserveTimeout} ms`))
      }
      if (e.reservation !== undefined && e.reservation.expiresAt <= now) this.#lose(e, 'expired')
      if (e.renewAt !== undefined && e.renewAt <= now) {
        e.renewAt = undefined
        if (e.phase === 'idle') this.#start(now, e)
      }
      if (e.retryAt !== undefined && e.retryAt <= now) {
        e.retryAt = undefined
        if (e.phase === 'idle') this.#start(now, e)
      }
    }
  }

  pollAction(): BehaviourAction<RelayClientEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let t: Millis | undefined
    const min = (x: Millis | undefined): void => {
      if (x !== undefined && (t === undefined || x < t)) t = x
    }
    for (const at of this.#deadlines.values()) min(at)
    for (const e of this.#entries.values()) {
      min(e.deadline)
      min(e.reservation?.expiresAt)
      min(e.renewAt)
      min(e.retryAt)
    }
    return t
  }

  // ---- internals ------------------------------------------------------------------------------

  #byRequest(requestId: number, phase: Phase): Entry | undefined {
    for (const e of this.#entries.values()) if (e.phase === phase && e.requestId === requestId) return e
    return undefined
  }

  #byStream(s: StreamRef): Entry | undefined {
    for (const e of this.#entries.values()) if (e.stream !== undefined && sameStream(e.stream, s)) return e
    return undefined
  }

  /** Start (or renew) a reservation: reuse a direct connection to the relay, or dial it. */
  #start(now: Millis, e: Entry): void {
    e.retryAt = undefined
    e.deadline = now + this.#limits.reserveTimeout
    const conn = e.connections.values().next()
    if (!conn.done) return this.#open(e, conn.value)
    e.phase = 'dialing'
    e.requestId = this.#nextRequest++
    this.#actions.push({ type: 'dial', requestId: e.requestId, peer: e.peer, addrs: e.dialAddrs })
  }

  #open(e: Entry, connection: number | undefined): void {
    e.phase = 'opening'
    e.requestId = this.#nextRequest++
    this.#actions.push({ type: 'open-stream', requestId: e.requestId, peer: e.peer, protocols: [HOP_PROTOCOL], ...(connection !== undefined ? { connection } : {}) })
  }

  /** The relay's STATUS for our RESERVE. */
  #answer(now: Millis, e: Entry, msg: HopMessage): void {
    const stream = e.stream!
    e.stream = undefined
    try {
      if (msg.type !== HopType.STATUS) throw new ProtocolError('relay', 'relay/unexpected-message', `expected STATUS, got hop type ${msg.type}`)
      if (msg.status !== Status.OK) {
        this.#actions.push({ type: 'close-write', stream })
        const error = new RelayStatusError(msg.status!, 'reservation')
        this.#finishAttempt(e)
        e.failures++
        this.#event({ type: 'refused', relay: e.peer, status: msg.status!, statusName: error.statusName, error })
        this.#scheduleRetry(now, e)
        return
      }
      const renewed = e.reservation !== undefined
      const before = e.reservation?.listenAddrs.map(String).join(' ')
      const r = this.#checkReservation(now, e, msg)
      this.#actions.push({ type: 'close-write', stream })
      this.#finishAttempt(e)
      e.failures = 0
      e.reservation = r
      const ttl = r.expiresAt - now
      e.renewAt = now + Math.max(this.#limits.minRenewDelay, Math.floor((ttl * 3) / 4))
      if (!renewed) this.#actions.push({ type: 'protect-peer', peer: e.peer, tag: RESERVATION_PROTECT_TAG, protect: true })
      const { expiresAt: _, ...reservation } = r
      // identify pushes what changed only: a renewal with the same addresses says nothing new
      if (r.listenAddrs.map(String).join(' ') !== before) this.#actions.push({ type: 'event', event: { type: 'listen-addrs' } })
      this.#event({ type: renewed ? 'renewed' : 'accepted', relay: e.peer, reservation })
    } catch (err) {
      this.#actions.push({ type: 'reset', stream })
      this.#fail(now, e, err as Error)
    }
  }

  /** Check an OK reservation answer; ProtocolError when the relay broke the protocol. */
  #checkReservation(now: Millis, e: Entry, msg: HopMessage): RelayReservation & { expiresAt: Millis } {
    const rsvp = msg.reservation
    if (rsvp === undefined) throw new ProtocolError('relay', 'relay/missing-field', 'STATUS OK without a reservation')
    const wallNow = this.#o.epoch + now
    const expireMs = Number(rsvp.expire) * 1000
    if (!(expireMs > wallNow)) throw new ProtocolError('relay', 'relay/reservation-expired', `expire ${rsvp.expire} is not in the future`)
    const relayId = `/p2p/${e.peer.toString()}`
    const addrs: Multiaddr[] = []
    for (const a of rsvp.addrs) {
      if (a.components().some((c) => c.code === CODE.p2pCircuit)) continue
      const id = a.getPeerId()
      if (id !== undefined && id !== e.peer.toString()) continue
      const full = id === undefined ? a.encapsulate(relayId) : a
      if (!addrs.some((x) => x.equals(full))) addrs.push(full)
    }
    if (addrs.length === 0) throw new ProtocolError('relay', 'relay/no-reservation-addrs', 'the reservation carries no usable relay address')
    let voucher: Voucher | undefined
    if (rsvp.voucher !== undefined) {
      voucher = openVoucher(rsvp.voucher, this.#o.crypto, { relay: e.peer, peer: this.#o.self }).voucher
      if (!(Number(voucher.expiration) * 1000 > wallNow)) throw new ProtocolError('relay', 'relay/voucher-expired', `voucher expiration ${voucher.expiration} is not in the future`)
    }
    return {
      relay: e.peer,
      expire: rsvp.expire,
      addrs,
      listenAddrs: addrs.map((a) => a.encapsulate('/p2p-circuit')),
      limit: msg.limit,
      voucher,
      expiresAt: now + Math.max(0, Math.min(expireMs - wallNow, Number.MAX_SAFE_INTEGER / 2)),
    }
  }

  #finishAttempt(e: Entry): void {
    e.phase = 'idle'
    e.requestId = undefined
    e.stream = undefined
    e.decoder = undefined
    e.deadline = undefined
  }

  /** Drop the attempt in flight (its stream is reset). */
  #abortAttempt(e: Entry): void {
    if (e.stream !== undefined) this.#actions.push({ type: 'reset', stream: e.stream })
    this.#finishAttempt(e)
  }

  #fail(now: Millis, e: Entry, error: Error): void {
    this.#finishAttempt(e)
    e.failures++
    this.#event({ type: 'failed', relay: e.peer, error })
    if (this.#entries.get(e.peer.toString()) === e) this.#scheduleRetry(now, e)
  }

  #scheduleRetry(now: Millis, e: Entry): void {
    const n = Math.max(1, e.failures)
    const delay = Math.min(this.#limits.retryMaxDelay, this.#limits.retryInitialDelay * 2 ** Math.min(n - 1, 30))
    e.retryAt = now + delay
    // a live reservation is renewed by the retry, not earlier than it
    if (e.renewAt !== undefined && e.renewAt < e.retryAt) e.renewAt = undefined
  }

  #lose(e: Entry, reason: 'connection-closed' | 'expired' | 'removed'): void {
    e.reservation = undefined
    e.renewAt = undefined
    this.#actions.push({ type: 'protect-peer', peer: e.peer, tag: RESERVATION_PROTECT_TAG, protect: false })
    this.#actions.push({ type: 'event', event: { type: 'listen-addrs' } })
    this.#event({ type: 'lost', relay: e.peer, reason })
  }

  #event(event: RelayReservationEvent): void {
    this.#actions.push({ type: 'event', event: { type: 'reservation', event } })
  }
}
