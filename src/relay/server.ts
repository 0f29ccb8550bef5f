/**
 * The Circuit Relay v2 server (libp2p/specs relay/circuit-v2.md; spec/relay.md "Relay server") as a
 * pure behaviour; `circuitRelayServer(options)` (server-api.ts) makes it a node service:
 *
 *   import { circuitRelayServer } from 'weft/relay'
 *   const node = await createNode({ services: { relay: circuitRelayServer({ limitData: 1 << 20 }) } })
 *
 * It serves `/libp2p/circuit/relay/0.2.0/hop`. A hop stream carries one request:
 * - RESERVE: the peer gets a reservation (STATUS OK with `expire`, the relay's addresses with
 *   `/p2p/<relay>`, a voucher signed with the node's key, and the circuit `limit`), valid until
 *   `expire` and while the peer stays connected; a new RESERVE from the same peer replaces it.
 * - CONNECT {peer: target}: if the target holds a reservation, the relay opens
 *   `/libp2p/circuit/relay/0.2.0/stop` on the target's connection, sends CONNECT {peer: initiator,
 *   limit} and waits for its STATUS; on OK it answers the initiator STATUS OK {limit} and splices the
 *   two streams (server-circuit.ts), within the limit.
 * Every request is refused over a limited (relayed) connection (PERMISSION_DENIED); the other
 * refusals are listed in spec/relay.md. Limits and their defaults: server-limits.ts.
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { HOP_PROTOCOL, HopType, RelayFrameDecoder, STOP_PROTOCOL, Status, StopType, encodeHopFrame, encodeStopFrame, statusName } from './message.js'
import type { HopMessage, StatusName, StopMessage } from './message.js'
import { sealVoucher } from './voucher.js'
import { Circuit, type CircuitAction, type CircuitEndReason, type CircuitSink } from './server-circuit.js'
import { RateLimiter, circuitLimit, durationSeconds, ipKey, relayAddrs, resolveRelayServerOptions, type RelayServerOptions, type ResolvedRelayServerOptions } from './server-limits.js'
import type { RelayServerEvent } from './server-api.js'

/** The connection-manager tag of a peer holding a reservation (go's name and weight). */
export const RESERVATION_TAG = 'relay-reservation'
/** The connection manager value of the reservation tag (a reservation's connection is worth keeping). */
export const RESERVATION_TAG_VALUE = 10
/** The tag of a peer with an open circuit (go tags circuit peers `relay-v2-hop`, weight 2). */
export const HOP_TAG = 'relay-hop'
/** The connection manager value of the hop tag (per open circuit). */
export const HOP_TAG_VALUE = 2
/** Rate limiter entries that refilled are forgotten this often. */
const SWEEP_INTERVAL = 60_000
/** Stop opens given up on and still unanswered, remembered to reset the stream if it opens late. */
const MAX_ABANDONED = 1024

/** What the relay server behaviour needs from its node: identity (it signs vouchers) and options. */
export interface RelayServerInit extends RelayServerOptions {
  peerId: PeerId
  privateKey: PrivateKey
  crypto: CryptoProvider
  /** Wall-clock ms at the swarm's time 0 (`expire` = epoch + now + reservationTtl, in seconds). */
  epoch: number
}

interface Reservation {
  readonly peer: PeerId
  readonly ip: string
  conn: number
  /** Swarm time at which it ends. */
  expireAt: Millis
}

interface Connecting {
  readonly id: number
  readonly hop: HopStream
  readonly dst: PeerId
  readonly requestId: number
  stop: StreamRef | undefined
  stopDecoder: RelayFrameDecoder<StopMessage> | undefined
  readonly deadline: Millis
}

interface HopStream {
  readonly ref: StreamRef
  readonly conn: ConnectionInfo
  phase: 'reading' | 'answered' | 'connecting'
  decoder: RelayFrameDecoder<HopMessage> | undefined
  /** Reading: the request must arrive by then. Answered: the remote must close by then. */
  deadline: Millis | undefined
  connecting: Connecting | undefined
  /** Bytes the initiator sent behind its CONNECT, before STATUS OK (bounded by maxMessageSize). */
  early: Uint8Array[]
  earlyBytes: number
}

type QueuedAction = { action: BehaviourAction<RelayServerEvent>; onPoll: (() => void) | undefined }

export class CircuitRelayServer implements Behaviour<RelayServerEvent>, CircuitSink {
  readonly protocols: readonly string[] = [HOP_PROTOCOL]
  /** HOP is refused on relayed connections: the swarm answers `na` there (spec: no relay over relays). */
  readonly limitedProtocols: readonly string[] = []
  readonly options: ResolvedRelayServerOptions

  readonly #self: PeerId
  readonly #key: PrivateKey
  readonly #crypto: CryptoProvider
  readonly #epoch: number
  readonly #actions: QueuedAction[] = []
  readonly #conns = new Map<string, Map<number, ConnectionInfo>>()
  readonly #reservations = new Map<string, Reservation>()
  readonly #perIp = new Map<string, number>()
  readonly #hops = new Map<string, HopStream>()
  /** Stop streams awaiting the target's STATUS, by stream key; stop opens in flight, by request id. */
  readonly #stops = new Map<string, Connecting>()
  readonly #opening = new Map<number, Connecting>()
  /** Open-stream requests given up on (timeout): the stream is reset if it opens after all. */
  readonly #abandoned = new Set<number>()
  /** Spliced circuits, by the stream key of each of their two streams. */
  readonly #circuits = new Map<string, Circuit>()
  /** Circuits (connecting or spliced) per peer, as source or destination, and in all. */
  readonly #circuitsPerPeer = new Map<string, number>()
  #circuitCount = 0
  readonly #ratePeer: RateLimiter
  readonly #rateIp: RateLimiter
  #listenAddrs: readonly Multiaddr[] = []
  #externalAddrs: readonly Multiaddr[] = []
  #nextId = 1
  #nextSweep: Millis | undefined
  #deadline: Millis | undefined
  #deadlineDirty = true

  constructor(init: RelayServerInit) {
    this.options = resolveRelayServerOptions(init)
    this.#self = init.peerId
    this.#key = init.privateKey
    this.#crypto = init.crypto
    this.#epoch = init.epoch
    this.#ratePeer = new RateLimiter(this.options.reservationRatePerPeer, this.options.maxRateEntries)
    this.#rateIp = new RateLimiter(this.options.reservationRatePerIp, this.options.maxRateEntries)
  }

  // ---- introspection (tests, metrics, the node's API) ------------------------------------------

  /** Reservations held now. */
  get reservationCount(): number {
    return this.#reservations.size
  }

  /** Circuits open now. */
  get circuitCount(): number {
    return this.#circuitCount
  }

  /** True when `peer` holds an unexpired reservation. */
  hasReservation(peer: PeerId): boolean {
    return this.#reservations.has(peer.toString())
  }

  /** Bytes the server's own tables and buffers hold, an estimate for `node.resources()`: bytes queued
   * on spliced streams are the swarm's (and bounded by the yamux windows, see server-circuit.ts). */
  memoryBytes(): number {
    let n = (this.#reservations.size + this.#hops.size + this.#stops.size) * 256 + this.#circuits.size * 128
    for (const h of this.#hops.values()) n += h.earlyBytes + (h.decoder?.buffered ?? 0)
    for (const c of this.#stops.values()) n += c.stopDecoder?.buffered ?? 0
    return n
  }

  /** The addresses a reservation carries now (empty: RESERVE is refused). */
  reservationAddrs(): Multiaddr[] {
    return relayAddrs(this.#externalAddrs, this.#listenAddrs, this.#self, this.options.maxReservationAddrs)
  }

  // ---- the behaviour contract ------------------------------------------------------------------

  push(action: CircuitAction | BehaviourAction<RelayServerEvent>, onPoll?: () => void): void {
    this.#actions.push({ action, onPoll })
  }

  pollAction(): BehaviourAction<RelayServerEvent> | undefined {
    const q = this.#actions.shift()
    if (q === undefined) return undefined
    q.onPoll?.()
    return q.action
  }

  /**
   * The earliest deadline, recomputed only after an input that may have moved one: bytes and
   * writability on spliced circuits (the hot path) leave it alone.
   */
  pollTimeout(): Millis | undefined {
    if (this.#deadlineDirty) {
      this.#deadline = this.#earliest()
      this.#deadlineDirty = false
    }
    return this.#deadline
  }

  #earliest(): Millis | undefined {
    let t = this.#nextSweep
    const min = (d: Millis | undefined): void => {
      if (d !== undefined && (t === undefined || d < t)) t = d
    }
    for (const h of this.#hops.values()) min(h.phase === 'connecting' ? h.connecting?.deadline : h.deadline)
    for (const r of this.#reservations.values()) min(r.expireAt)
    for (const [key, c] of this.#circuits) if (key === streamKey(c.src.ref)) min(c.deadline)
    return t
  }

  handleTimeout(now: Millis): void {
    this.#deadlineDirty = true
    for (const h of [...this.#hops.values()]) {
      if (h.phase === 'connecting') {
        if (h.connecting !== undefined && now >= h.connecting.deadline) this.#connectFailed(now, h.connecting, 'the target did not answer in time')
      } else if (h.deadline !== undefined && now >= h.deadline) {
        this.#dropHop(h)
        this.push({ type: 'reset', stream: h.ref })
      }
    }
    for (const r of [...this.#reservations.values()]) if (now >= r.expireAt) this.#dropReservation(r, 'expired')
    for (const [key, c] of [...this.#circuits]) {
      if (key === streamKey(c.src.ref) && c.deadline !== undefined && now >= c.deadline) this.#endCircuit(now, c, c.end('duration-limit'))
    }
    if (this.#nextSweep !== undefined && now >= this.#nextSweep) {
      this.#ratePeer.sweep(now)
      this.#rateIp.sweep(now)
      this.#nextSweep = this.#ratePeer.size + this.#rateIp.size > 0 ? now + SWEEP_INTERVAL : undefined
    }
  }

  handle(now: Millis, input: BehaviourInput): void {
    const key = 'stream' in input ? streamKey(input.stream) : undefined
    if (!((input.type === 'stream-data' || input.type === 'stream-writable') && key !== undefined && this.#circuits.has(key))) this.#deadlineDirty = true
    switch (input.type) {
      case 'local-info':
        this.#listenAddrs = input.listenAddrs
        return
      case 'reachability':
        this.#externalAddrs = input.externalAddrs
        return
      case 'connection-established': {
        const key = input.connection.peer.toString()
        let m = this.#conns.get(key)
        if (m === undefined) this.#conns.set(key, (m = new Map()))
        m.set(input.connection.id, input.connection)
        return
      }
      case 'connection-closed':
        this.#connectionClosed(input.connection)
        return
      case 'stream-opened':
        if (input.protocol === HOP_PROTOCOL && input.direction === 'inbound') this.#hopOpened(now, input.stream, input.connection)
        else if (input.protocol === STOP_PROTOCOL && input.direction === 'outbound' && input.requestId !== undefined) this.#stopOpened(input.stream, input.requestId)
        return
      case 'stream-open-failed': {
        if (this.#abandoned.delete(input.requestId)) return
        const c = this.#opening.get(input.requestId)
        if (c !== undefined) this.#connectFailed(now, c, `could not open a stop stream: ${input.error.message}`)
        return
      }
      case 'stream-data':
        return this.#data(now, input.stream, input.data)
      case 'stream-eof':
        return this.#eof(now, input.stream)
      case 'stream-writable':
        this.#circuits.get(streamKey(input.stream))?.writable(input.stream)
        return
      case 'stream-reset':
      case 'stream-closed':
        return this.#gone(now, input.stream, input.type === 'stream-reset')
      default:
        return
    }
  }

  // ---- hop streams -----------------------------------------------------------------------------

  #hopOpened(now: Millis, ref: StreamRef, conn: ConnectionInfo): void {
    this.#hops.set(streamKey(ref), {
      ref, conn, phase: 'reading', decoder: RelayFrameDecoder.hop({ maxMessageSize: this.options.maxMessageSize }),
      deadline: now + this.options.hopTimeout, connecting: undefined, early: [], earlyBytes: 0,
    })
  }

  #data(now: Millis, ref: StreamRef, data: Uint8Array): void {
    const key = streamKey(ref)
    const circuit = this.#circuits.get(key)
    if (circuit !== undefined) {
      const ended = circuit.data(ref, data)
      if (ended !== undefined) this.#endCircuit(now, circuit, ended)
      return
    }
    const hop = this.#hops.get(key)
    if (hop !== undefined) return this.#hopData(now, hop, data)
    const stop = this.#stops.get(key)
    if (stop !== undefined) this.#stopData(now, stop, data)
  }

  #hopData(now: Millis, hop: HopStream, data: Uint8Array): void {
    if (hop.phase === 'answered') return // the answer is out; anything more is ignored until the stream closes
    if (hop.phase === 'connecting') {
      // Bytes behind the CONNECT, before our STATUS OK (an optimistic multistream header): kept for the splice.
      hop.earlyBytes += data.length
      if (hop.earlyBytes > this.options.maxMessageSize) {
        const c = hop.connecting!
        this.#refuseCircuit(hop.conn.peer, c.dst, 'UNEXPECTED_MESSAGE', `${hop.earlyBytes} bytes sent before STATUS OK`)
        this.#abortConnecting(c)
        return
      }
      hop.early.push(data)
      return
    }
    let msg: HopMessage | undefined
    try {
      hop.decoder!.push(data)
      msg = hop.decoder!.next()
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#refuseRequest(now, hop, undefined, 'MALFORMED_MESSAGE', `${e.code}: ${e.message}`)
      return
    }
    if (msg === undefined) return
    const rest = hop.decoder!.takeRemainder()
    hop.decoder = undefined
    if (msg.type === HopType.RESERVE) return this.#reserve(now, hop)
    if (msg.type === HopType.CONNECT) return this.#connect(now, hop, msg.peer!.id, rest)
    this.#refuseRequest(now, hop, undefined, 'UNEXPECTED_MESSAGE', 'a STATUS sent to the relay')
  }

  /** Write a hop answer and close our side; the remote gets hopTimeout to close its side. */
  #answer(now: Millis, hop: HopStream, msg: HopMessage): void {
    this.push({ type: 'write', stream: hop.ref, data: encodeHopFrame(msg) })
    this.push({ type: 'close-write', stream: hop.ref })
    hop.phase = 'answered'
    hop.decoder = undefined
    hop.connecting = undefined
    hop.early = []
    hop.earlyBytes = 0
    hop.deadline = now + this.options.hopTimeout
  }

  #refuseRequest(now: Millis, hop: HopStream, request: 'reserve' | 'connect' | undefined, status: StatusName, reason: string, dst?: PeerId): void {
    this.#answer(now, hop, { type: HopType.STATUS, status: Status[status] })
    const peer = hop.conn.peer
    if (request === 'reserve') this.#emit({ type: 'reservation-refused', peer, status, reason })
    else this.#emit({ type: 'circuit-refused', src: peer, dst, status, reason })
  }

  #emit(event: RelayServerEvent): void {
    this.push({ type: 'event', event })
  }

  #eof(now: Millis, ref: StreamRef): void {
    const key = streamKey(ref)
    const circuit = this.#circuits.get(key)
    if (circuit !== undefined) return circuit.eof(ref)
    const hop = this.#hops.get(key)
    if (hop !== undefined) {
      if (hop.phase === 'reading') {
        // closed before a whole request: nothing to answer
        this.#dropHop(hop)
        this.push({ type: 'close-write', stream: ref })
      } else if (hop.phase === 'connecting') {
        this.#abortConnecting(hop.connecting!)
      }
      return
    }
    const stop = this.#stops.get(key)
    if (stop !== undefined) this.#connectFailed(now, stop, 'the target closed the stop stream without a STATUS')
  }

  #gone(now: Millis, ref: StreamRef, reset: boolean): void {
    const key = streamKey(ref)
    const circuit = this.#circuits.get(key)
    if (circuit !== undefined) {
      const ended = reset ? circuit.reset(ref) : circuit.closed(ref)
      if (ended !== undefined) this.#endCircuit(now, circuit, ended)
      return
    }
    // the stream is gone: release what it held, reset only the other side
    const hop = this.#hops.get(key)
    if (hop !== undefined) {
      if (hop.phase === 'connecting') this.#releaseConnecting(hop.connecting!)
      this.#dropHop(hop)
      return
    }
    const stop = this.#stops.get(key)
    if (stop !== undefined) {
      this.#stops.delete(key)
      stop.stop = undefined
      this.#connectFailed(now, stop, reset ? 'the target reset the stop stream' : 'the stop stream closed')
    }
  }

  #dropHop(hop: HopStream): void {
    this.#hops.delete(streamKey(hop.ref))
  }

  // ---- reservations ----------------------------------------------------------------------------

  #reserve(now: Millis, hop: HopStream): void {
    const conn = hop.conn
    const peer = conn.peer
    const refuse = (status: StatusName, reason: string): void => this.#refuseRequest(now, hop, 'reserve', status, reason)
    if (conn.limited) return refuse('PERMISSION_DENIED', 'reservation over a relayed connection')
    const addrs = this.reservationAddrs()
    if (addrs.length === 0) return refuse('RESERVATION_REFUSED', 'the relay has no address to offer')
    const peerKey = peer.toString()
    const ip = ipKey(conn.remoteAddr) ?? 'no-ip'
    if (!this.#ratePeer.allows(now, peerKey)) return refuse('RESERVATION_REFUSED', 'reservation rate limit (peer)')
    if (!this.#rateIp.allows(now, ip)) return refuse('RESERVATION_REFUSED', 'reservation rate limit (IP)')
    this.#ratePeer.take(now, peerKey)
    this.#rateIp.take(now, ip)
    this.#nextSweep ??= now + SWEEP_INTERVAL
    const old = this.#reservations.get(peerKey)
    if (old === undefined && this.#reservations.size >= this.options.maxReservations) return refuse('RESERVATION_REFUSED', `${this.options.maxReservations} reservations held`)
    if (old?.ip !== ip && (this.#perIp.get(ip) ?? 0) >= this.options.maxReservationsPerIp) {
      return refuse('RESERVATION_REFUSED', `${this.options.maxReservationsPerIp} reservations held from ${ip}`)
    }
    const expireAt = now + this.options.reservationTtl
    const expire = BigInt(Math.floor((this.#epoch + expireAt) / 1000))
    const voucher = sealVoucher(this.#key, { relay: this.#self, peer, expiration: expire }, this.#crypto).bytes
    const limit = circuitLimit(this.options)
    const msg: HopMessage = { type: HopType.STATUS, status: Status.OK, reservation: { expire, addrs, voucher }, ...(limit !== undefined ? { limit } : {}) }
    // a multi-homed relay's addresses may not all fit in one message: keep the first ones that do
    while (addrs.length > 1 && encodeHopFrame(msg).length > this.options.maxMessageSize) addrs.pop()
    if (old !== undefined) this.#unholdIp(old.ip)
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1)
    this.#reservations.set(peerKey, { peer, ip, conn: conn.id, expireAt })
    if (old === undefined) this.push({ type: 'tag-peer', peer, tag: RESERVATION_TAG, value: RESERVATION_TAG_VALUE })
    this.#answer(now, hop, msg)
    this.#emit({ type: 'reservation-accepted', peer, expire, addrs, renewed: old !== undefined })
  }

  #unholdIp(ip: string): void {
    const n = (this.#perIp.get(ip) ?? 1) - 1
    if (n <= 0) this.#perIp.delete(ip)
    else this.#perIp.set(ip, n)
  }

  #dropReservation(r: Reservation, reason: 'expired' | 'disconnected'): void {
    const key = r.peer.toString()
    if (this.#reservations.get(key) !== r) return
    this.#reservations.delete(key)
    this.#unholdIp(r.ip)
    this.push({ type: 'tag-peer', peer: r.peer, tag: RESERVATION_TAG, value: undefined })
    this.#emit({ type: 'reservation-closed', peer: r.peer, reason })
  }

  #connectionClosed(info: ConnectionInfo): void {
    const key = info.peer.toString()
    const m = this.#conns.get(key)
    m?.delete(info.id)
    if (m?.size === 0) this.#conns.delete(key)
    const r = this.#reservations.get(key)
    if (r === undefined || r.conn !== info.id) return
    // A reservation lives while its peer has a direct connection (a relayed one cannot carry STOP).
    const direct = [...(m?.values() ?? [])].find((c) => !c.limited)
    if (direct !== undefined) r.conn = direct.id
    else this.#dropReservation(r, 'disconnected')
    // a stop stream still being opened on that connection fails through stream-open-failed
  }

  // ---- circuits --------------------------------------------------------------------------------

  #refuseCircuit(src: PeerId, dst: PeerId | undefined, status: StatusName, reason: string): void {
    this.#emit({ type: 'circuit-refused', src, dst, status, reason })
  }

  #connect(now: Millis, hop: HopStream, dst: PeerId, rest: Uint8Array): void {
    const src = hop.conn.peer
    const refuse = (status: StatusName, reason: string): void => this.#refuseRequest(now, hop, 'connect', status, reason, dst)
    if (hop.conn.limited) return refuse('PERMISSION_DENIED', 'connect over a relayed connection')
    const dstKey = dst.toString()
    const r = this.#reservations.get(dstKey)
    if (r === undefined || dst.equals(src)) return refuse('NO_RESERVATION', 'the target holds no reservation')
    if (this.#circuitCount >= this.options.maxCircuits) return refuse('RESOURCE_LIMIT_EXCEEDED', `${this.options.maxCircuits} circuits open`)
    const max = this.options.maxCircuitsPerPeer
    if ((this.#circuitsPerPeer.get(src.toString()) ?? 0) >= max) return refuse('RESOURCE_LIMIT_EXCEEDED', `the initiator has ${max} circuits`)
    if ((this.#circuitsPerPeer.get(dstKey) ?? 0) >= max) return refuse('RESOURCE_LIMIT_EXCEEDED', `the target has ${max} circuits`)
    const conns = this.#conns.get(dstKey)
    const preferred = conns?.get(r.conn)
    const conn = preferred !== undefined && !preferred.limited ? preferred : [...(conns?.values() ?? [])].find((c) => !c.limited)
    if (conn === undefined) return refuse('CONNECTION_FAILED', 'no direct connection to the target')
    if (rest.length > this.options.maxMessageSize) return refuse('UNEXPECTED_MESSAGE', `${rest.length} bytes sent before STATUS OK`)
    const requestId = this.#nextId++
    const c: Connecting = { id: requestId, hop, dst, requestId, stop: undefined, stopDecoder: undefined, deadline: now + this.options.connectTimeout }
    hop.phase = 'connecting'
    hop.deadline = undefined
    hop.connecting = c
    if (rest.length > 0) {
      hop.early.push(rest)
      hop.earlyBytes = rest.length
    }
    this.#opening.set(requestId, c)
    this.#circuitCount++
    this.#holdCircuit(src)
    this.#holdCircuit(dst)
    this.push({ type: 'open-stream', requestId, peer: dst, protocols: [STOP_PROTOCOL], connection: conn.id })
  }

  #holdCircuit(peer: PeerId): void {
    const key = peer.toString()
    const n = (this.#circuitsPerPeer.get(key) ?? 0) + 1
    this.#circuitsPerPeer.set(key, n)
    if (n === 1) this.push({ type: 'tag-peer', peer, tag: HOP_TAG, value: HOP_TAG_VALUE })
  }

  #releaseCircuit(peer: PeerId): void {
    const key = peer.toString()
    const n = (this.#circuitsPerPeer.get(key) ?? 1) - 1
    if (n > 0) return void this.#circuitsPerPeer.set(key, n)
    this.#circuitsPerPeer.delete(key)
    this.push({ type: 'tag-peer', peer, tag: HOP_TAG, value: undefined })
  }

  #stopOpened(ref: StreamRef, requestId: number): void {
    if (this.#abandoned.delete(requestId)) {
      this.push({ type: 'reset', stream: ref })
      return
    }
    const c = this.#opening.get(requestId)
    if (c === undefined) return
    this.#opening.delete(requestId)
    c.stop = ref
    c.stopDecoder = RelayFrameDecoder.stop({ maxMessageSize: this.options.maxMessageSize })
    this.#stops.set(streamKey(ref), c)
    const limit = circuitLimit(this.options)
    const msg: StopMessage = { type: StopType.CONNECT, peer: { id: c.hop.conn.peer, addrs: [] }, ...(limit !== undefined ? { limit } : {}) }
    this.push({ type: 'write', stream: ref, data: encodeStopFrame(msg) })
  }

  #stopData(now: Millis, c: Connecting, data: Uint8Array): void {
    let msg: StopMessage | undefined
    try {
      c.stopDecoder!.push(data)
      msg = c.stopDecoder!.next()
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      return this.#connectFailed(now, c, `the target sent a malformed stop message (${e.code})`)
    }
    if (msg === undefined) return
    if (msg.type !== StopType.STATUS) return this.#connectFailed(now, c, 'the target sent CONNECT on a stop stream')
    if (msg.status !== Status.OK) return this.#connectFailed(now, c, `the target answered ${statusName(msg.status!) ?? msg.status}`)
    this.#splice(now, c, c.stopDecoder!.takeRemainder())
  }

  #splice(now: Millis, c: Connecting, stopRest: Uint8Array): void {
    const hop = c.hop
    const stop = c.stop!
    this.#stops.delete(streamKey(stop))
    this.#hops.delete(streamKey(hop.ref))
    const limit = circuitLimit(this.options)
    this.push({ type: 'write', stream: hop.ref, data: encodeHopFrame({ type: HopType.STATUS, status: Status.OK, ...(limit !== undefined ? { limit } : {}) }) })
    const { limitDuration, limitData } = this.options
    const circuit = new Circuit(c.id, this, { ref: hop.ref, peer: hop.conn.peer }, { ref: stop, peer: c.dst }, now, {
      durationMs: limitDuration > 0 ? durationSeconds(limitDuration) * 1000 : 0, data: limitData,
    })
    this.#circuits.set(streamKey(hop.ref), circuit)
    this.#circuits.set(streamKey(stop), circuit)
    this.#emit({ type: 'circuit-opened', id: circuit.id, src: hop.conn.peer, dst: c.dst })
    const ended = circuit.start(hop.early, stopRest.length > 0 ? [stopRest] : [])
    hop.early = []
    if (ended !== undefined) this.#endCircuit(now, circuit, ended)
  }

  /** The stop exchange failed: CONNECTION_FAILED to the initiator, the stop stream reset. */
  #connectFailed(now: Millis, c: Connecting, reason: string): void {
    const hop = c.hop
    if (hop.connecting !== c) return
    this.#releaseConnecting(c)
    this.#refuseRequest(now, hop, 'connect', 'CONNECTION_FAILED', reason, c.dst)
  }

  /** The initiator went away (or misbehaved) while we were reaching the target: drop both sides. */
  #abortConnecting(c: Connecting): void {
    const hop = c.hop
    if (hop.connecting !== c) return
    this.#releaseConnecting(c)
    this.#dropHop(hop)
    this.push({ type: 'reset', stream: hop.ref })
  }

  #releaseConnecting(c: Connecting): void {
    c.hop.connecting = undefined
    if (this.#opening.delete(c.requestId)) {
      this.#abandoned.add(c.requestId)
      // the swarm answers every open-stream, so entries leave; the cap only guards against a swarm bug
      if (this.#abandoned.size > MAX_ABANDONED) this.#abandoned.delete(this.#abandoned.values().next().value!)
    }
    if (c.stop !== undefined) {
      this.#stops.delete(streamKey(c.stop))
      this.push({ type: 'reset', stream: c.stop })
    }
    this.#circuitCount--
    this.#releaseCircuit(c.hop.conn.peer)
    this.#releaseCircuit(c.dst)
  }

  #endCircuit(now: Millis, circuit: Circuit, reason: CircuitEndReason): void {
    const k1 = streamKey(circuit.src.ref)
    if (this.#circuits.get(k1) !== circuit) return
    this.#circuits.delete(k1)
    this.#circuits.delete(streamKey(circuit.dst.ref))
    this.#circuitCount--
    this.#releaseCircuit(circuit.src.peer)
    this.#releaseCircuit(circuit.dst.peer)
    const { srcToDst, dstToSrc } = circuit.stats
    this.#emit({ type: 'circuit-closed', id: circuit.id, src: circuit.src.peer, dst: circuit.dst.peer, reason, srcToDst, dstToSrc, duration: now - circuit.openedAt })
  }
}
