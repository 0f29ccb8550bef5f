/**
 * DCUtR, `/libp2p/dcutr` (libp2p/specs relay/DCUtR.md), as a behaviour: upgrade a relayed (limited)
 * connection to a direct one by hole punching: TCP simultaneous open, or QUIC (B sends random UDP
 * packets to A's address, A dials B over QUIC). spec/dcutr.md has the state machine and limits.
 *
 * Roles, as the spec and go / rust assign them (research note §2.1, §2.5):
 * - B holds the INBOUND relayed connection (A dialed B through a relay). After identify completed on
 *   it (a `peer-info` for A listing `/libp2p/dcutr`; without it B waits for an identify push), B
 *   first dials A's public non-relay addresses, if A advertises any (connection reversal). Else, up
 *   to `maxAttempts` times: open `/libp2p/dcutr` on the relayed connection, send CONNECT{our addrs},
 *   read A's CONNECT (RTT = the time between), send SYNC, wait RTT/2, dial A's TCP addresses with
 *   `force` and `role: 'responder'` (B is the server of the simultaneous open) and, for A's QUIC
 *   addresses, emit `punch` (the service sends the punch packets from the QUIC listening socket)
 *   and wait `punchTimeout` for A's QUIC connection. A new attempt only when every dial of the
 *   previous one failed and the punch window passed; a protocol error or a timeout ends the exchange.
 * - A holds the OUTBOUND relayed connection and answers the stream: CONNECT{our addrs}, then on SYNC
 *   dials B's addresses at once with `force` (A is the client): one attempt per SYNC with its own
 *   outcome, its QUIC dials cancelled after `punchTimeout` or at B's next SYNC (a-punch.ts). Streams
 *   on other connections are reset (as go does).
 * Our addresses: the observed addresses (seam `observed-addr`, direct connections only) of connections
 * whose local port is the TCP punch port or a QUIC listening port, then the confirmed external
 * addresses and the public listen addresses. Without a punch port and without QUIC (`quicPunch` and a
 * QUIC listen address) the node cannot punch: an `unavailable` event, and the relayed connection stays.
 * Once a direct connection to the peer exists: a `direct` event, and the relayed connections to that
 * peer are closed after `relayedCloseGrace` (the spec's grace period; new streams already prefer the
 * direct connection).
 *
 * Pure: time is an input, no IO. Errors: a remote breaking the protocol is a ProtocolError('dcutr',
 * DcutrErrorCode) in a `failed` event; timeouts, resets and failed dials are OutcomeError.
 */
import type { Millis } from '../core/byte-machine.js'
import { OutcomeError, ProtocolError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, PeerInfoUpdate, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { isPublicAddr } from '../swarm/index.js'
import { DCUTR_PROTOCOL, DEFAULT_DCUTR_MESSAGE_LIMITS, HolePunchDecoder, HolePunchType, encodeHolePunchFrame, type DcutrErrorCode, type DcutrMessageLimits, type HolePunch } from './message.js'
import { localSocket, punchTargets, punchTransport, quicListenSockets, type PunchTransport } from './addrs.js'
import { APunches } from './a-punch.js'
import type { DcutrEvent, DcutrOptions, DcutrOutcomeCode, DcutrRole, DcutrStatus, PunchAddrs } from './types.js'

export type { DcutrEvent, DcutrOptions, DcutrOutcomeCode, DcutrRole, DcutrStatus, PunchAddrs } from './types.js'

type BState =
  /** Waiting for identify on the relayed connection (or a push listing /libp2p/dcutr). */
  | { kind: 'identify' }
  | { kind: 'reversal'; pending: Set<number> }
  | { kind: 'opening'; requestId: number; deadline: Millis }
  | { kind: 'connect-sent'; stream: StreamRef; sentAt: Millis; deadline: Millis; decoder: HolePunchDecoder }
  | { kind: 'sync-wait'; until: Millis; addrs: Multiaddr[] }
  /** B's TCP dials in flight and, for QUIC, the end of the punch window (A's QUIC connection expected). */
  | { kind: 'dialing'; pending: Set<number>; punchUntil?: Millis }

interface BExchange {
  readonly peer: PeerId
  readonly key: string
  readonly relayed: number
  attempts: number
  reversalTried: boolean
  supportsDcutr: boolean
  /** A's advertised addresses (identify). */
  addrs: readonly Multiaddr[]
  /** The last CONNECT exchange: what we sent, what A sent (filtered). */
  punch: PunchAddrs
  state: BState
}

interface AStream {
  readonly peer: PeerId
  readonly key: string
  readonly stream: StreamRef
  readonly deadline: Millis
  readonly decoder: HolePunchDecoder
  state: 'await-connect' | 'await-sync'
  addrs: Multiaddr[]
  ours: Multiaddr[]
}

interface DialRef {
  readonly key: string
  readonly role: DcutrRole
}

interface Observed {
  readonly addr: Multiaddr
  /** `tcp/<port>` or `udp/<port>` of the observed connection's local address. */
  readonly local: string | undefined
}

const protocolError = (code: DcutrErrorCode, message: string): ProtocolError<DcutrErrorCode> => new ProtocolError<DcutrErrorCode>('dcutr', code, message)
const outcome = (code: DcutrOutcomeCode, message?: string): OutcomeError<DcutrOutcomeCode> => new OutcomeError<DcutrOutcomeCode>(code, message)

export class DcutrBehaviour implements Behaviour<DcutrEvent> {
  readonly protocols: readonly string[] = [DCUTR_PROTOCOL]
  readonly limitedProtocols: readonly string[] = [DCUTR_PROTOCOL]

  readonly #punchPort: () => number | undefined
  readonly #quic: boolean
  readonly #punchTimeout: number
  readonly #maxAttempts: number
  readonly #timeout: number
  readonly #maxInbound: number
  readonly #maxCandidates: number
  readonly #grace: number | false
  readonly #limits: DcutrMessageLimits

  readonly #actions: BehaviourAction<DcutrEvent>[] = []
  /** B's exchanges, by peer. */
  readonly #b = new Map<string, BExchange>()
  /** A's inbound dcutr streams, by stream key. */
  readonly #a = new Map<string, AStream>()
  readonly #aPerPeer = new Map<string, number>()
  /** A's punch attempts (one per SYNC, each with its dials and outcome; QUIC dials bounded by the attempt). */
  readonly #aPunch = new APunches({
    emit: (event) => this.#emit(event),
    cancel: (requestId) => { this.#dials.delete(requestId); this.#actions.push({ type: 'cancel-dial', requestId }) },
  })
  readonly #dials = new Map<number, DialRef>()
  /** Open connections by peer: limited (relayed) and direct ones. */
  readonly #limited = new Map<string, Set<number>>()
  readonly #direct = new Map<string, Set<number>>()
  /** Relayed connections to close at the given time (after a direct connection appeared). */
  readonly #closeAt = new Map<number, { key: string; at: Millis }>()
  /** Observed addresses, by text, least recent first. */
  readonly #observed = new Map<string, Observed>()
  #listenAddrs: readonly Multiaddr[] = []
  #externalAddrs: readonly Multiaddr[] = []
  #nextId = 1

  constructor(options: DcutrOptions) {
    if (typeof options.punchPort !== 'function') throw new TypeError('punchPort must be a function')
    this.#punchPort = options.punchPort
    this.#quic = options.quicPunch === true
    this.#punchTimeout = positive(options.punchTimeout ?? 5_000, 'punchTimeout')
    this.#maxAttempts = positive(options.maxAttempts ?? 3, 'maxAttempts')
    this.#timeout = positive(options.exchangeTimeout ?? 10_000, 'exchangeTimeout')
    this.#maxInbound = positive(options.maxInboundStreamsPerPeer ?? 2, 'maxInboundStreamsPerPeer')
    this.#maxCandidates = positive(options.maxCandidates ?? 16, 'maxCandidates')
    const grace = options.relayedCloseGrace ?? 10_000
    this.#grace = grace === false ? false : nonNegative(grace, 'relayedCloseGrace')
    this.#limits = { ...DEFAULT_DCUTR_MESSAGE_LIMITS, ...options.messageLimits }
  }

  /** Whether this node can hole punch now. */
  status(): DcutrStatus {
    return this.#transports().size === 0
      ? { holePunching: 'unavailable', reason: 'no TCP punch port (tcp({ punchPort })) and no QUIC listen address with dcutr({ quic })' }
      : { holePunching: 'available' }
  }

  /** The transports we can punch over now: TCP with a punch port, QUIC with `quicPunch` and a QUIC listen address. */
  #transports(): Set<PunchTransport> {
    const ts = new Set<PunchTransport>()
    if (this.#punchPort() !== undefined) ts.add('tcp')
    if (this.#quic && quicListenSockets(this.#listenAddrs).size > 0) ts.add('quic')
    return ts
  }

  /** The addresses we send in CONNECT now (observed mappings of the punch port and QUIC listening sockets first). */
  localAddrs(): Multiaddr[] {
    const ts = this.#transports()
    const tcp = this.#punchPort()
    const quic = this.#quic ? quicListenSockets(this.#listenAddrs) : new Set<string>()
    const out: Multiaddr[] = []
    for (const o of [...this.#observed.values()].reverse()) if ((tcp !== undefined && o.local === `tcp/${tcp}`) || (o.local !== undefined && quic.has(o.local))) out.push(o.addr)
    out.push(...this.#externalAddrs, ...this.#listenAddrs.filter(isPublicAddr))
    return punchTargets(out.map((a) => a.withoutPeerId()), undefined, this.#limits.maxAddrs, ts.size > 0 ? ts : undefined)
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        this.#listenAddrs = input.listenAddrs
        return
      case 'reachability':
        this.#externalAddrs = input.externalAddrs
        return
      case 'observed-addr':
        this.#observe(input.connection, input.addr)
        return
      case 'connection-established':
        this.#established(now, input.connection)
        return
      case 'connection-closed':
        this.#closed(input.connection)
        return
      case 'peer-info':
        this.#peerInfo(now, input.peer, input.info)
        return
      case 'dial-succeeded': {
        const d = this.#dials.get(input.requestId)
        this.#dials.delete(input.requestId)
        if (d !== undefined && !input.connection.limited) this.#direct_(now, d.key, input.connection)
        return
      }
      case 'dial-failed':
        this.#dialFailed(now, input.requestId, input.error)
        return
      case 'stream-opened':
        if (input.protocol !== DCUTR_PROTOCOL) return
        if (input.direction === 'outbound') this.#bOpened(now, input.stream, input.requestId)
        else this.#aOpened(now, input.stream, input.connection)
        return
      case 'stream-open-failed':
        for (const ex of this.#b.values()) {
          if (ex.state.kind === 'opening' && ex.state.requestId === input.requestId) return this.#bFail(now, ex, outcome('dcutr/open-failed', input.error.message))
        }
        return
      case 'stream-data':
        this.#data(now, input.stream, input.data)
        return
      case 'stream-eof':
        this.#streamEnded(input.stream, outcome('dcutr/stream-closed', 'the remote closed the stream early'))
        return
      case 'stream-reset':
      case 'stream-closed':
        this.#streamEnded(input.stream, outcome(input.type === 'stream-reset' ? 'dcutr/stream-reset' : 'dcutr/stream-closed'))
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    for (const ex of [...this.#b.values()]) {
      const s = ex.state
      if ((s.kind === 'opening' || s.kind === 'connect-sent') && s.deadline <= now) {
        if (s.kind === 'connect-sent') this.#actions.push({ type: 'reset', stream: s.stream })
        this.#bFail(now, ex, outcome('dcutr/timeout', `no CONNECT within ${this.#timeout} ms`))
      } else if (s.kind === 'sync-wait' && s.until <= now) this.#bDial(now, ex, s.addrs)
      else if (s.kind === 'dialing' && s.punchUntil !== undefined && s.punchUntil <= now) {
        delete s.punchUntil
        if (s.pending.size === 0) this.#bFail(now, ex, outcome('dcutr/punch-timeout', `no QUIC connection from the peer within ${this.#punchTimeout} ms of punch packets`))
      }
    }
    for (const [key, a] of [...this.#a]) {
      if (a.deadline > now) continue
      this.#dropA(key, a)
      this.#actions.push({ type: 'reset', stream: a.stream })
      this.#emit({ type: 'failed', peer: a.peer, role: 'A', attempts: 1, error: outcome('dcutr/timeout', `exchange not done within ${this.#timeout} ms`) })
    }
    this.#aPunch.expire(now)
    for (const [conn, c] of [...this.#closeAt]) {
      if (c.at > now) continue
      this.#closeAt.delete(conn)
      // Only while the direct connection is still there: otherwise the relayed one is all we have.
      if ((this.#direct.get(c.key)?.size ?? 0) > 0 && this.#limited.get(c.key)?.has(conn) === true) this.#actions.push({ type: 'close-connection', connection: conn })
    }
  }

  pollAction(): BehaviourAction<DcutrEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    const at = (t: Millis): void => { if (min === undefined || t < min) min = t }
    for (const ex of this.#b.values()) {
      const s = ex.state
      if (s.kind === 'opening' || s.kind === 'connect-sent') at(s.deadline)
      else if (s.kind === 'sync-wait') at(s.until)
      else if (s.kind === 'dialing' && s.punchUntil !== undefined) at(s.punchUntil)
    }
    for (const a of this.#a.values()) at(a.deadline)
    const w = this.#aPunch.nextDeadline()
    if (w !== undefined) at(w)
    for (const c of this.#closeAt.values()) at(c.at)
    return min
  }

  // --- connections and facts ------------------------------------------------------------------

  #observe(connection: ConnectionInfo, addr: Multiaddr): void {
    if (connection.limited) return
    const o: Observed = { addr: addr.withoutPeerId(), local: localSocket(connection.localAddr) }
    const key = `${o.addr.toString()}|${o.local ?? ''}`
    this.#observed.delete(key)
    this.#observed.set(key, o)
    if (this.#observed.size > this.#maxCandidates) this.#observed.delete(this.#observed.keys().next().value!)
  }

  #established(now: Millis, c: ConnectionInfo): void {
    const key = c.peer.toString()
    const table = c.limited ? this.#limited : this.#direct
    let set = table.get(key)
    if (set === undefined) table.set(key, (set = new Set()))
    set.add(c.id)
    if (!c.limited) return this.#direct_(now, key, c)
    // B: an inbound relayed connection, no direct one, no exchange running.
    if (c.direction !== 'inbound' || (this.#direct.get(key)?.size ?? 0) > 0 || this.#b.has(key)) return
    this.#b.set(key, { peer: c.peer, key, relayed: c.id, attempts: 0, reversalTried: false, supportsDcutr: false, addrs: [], punch: {}, state: { kind: 'identify' } })
  }

  #closed(c: ConnectionInfo): void {
    const key = c.peer.toString()
    const table = c.limited ? this.#limited : this.#direct
    const set = table.get(key)
    set?.delete(c.id)
    if (set?.size === 0) table.delete(key)
    if (c.limited && set?.size === 0) this.#aPunch.forget(key)
    this.#closeAt.delete(c.id)
    for (const [k, a] of [...this.#a]) if (a.stream.connection === c.id) this.#dropA(k, a)
    const ex = this.#b.get(key)
    if (ex === undefined || ex.relayed !== c.id) return
    const s = ex.state
    // Dials already made may still succeed; everything else needs the relayed connection.
    if (s.kind === 'identify') this.#b.delete(key)
    else if (s.kind === 'opening' || s.kind === 'connect-sent') this.#bEnd(ex, outcome('dcutr/connection-closed', 'the relayed connection closed'))
  }

  #peerInfo(now: Millis, peer: PeerId, info: PeerInfoUpdate): void {
    const ex = this.#b.get(peer.toString())
    if (ex === undefined || ex.state.kind !== 'identify' || info.protocols === undefined) return
    ex.supportsDcutr = info.protocols.includes(DCUTR_PROTOCOL)
    if (info.addrs !== undefined && info.addrsAreHints !== true) ex.addrs = info.addrs
    this.#bStart(now, ex)
  }

  /** A direct connection to the peer `key` exists: end its exchanges, schedule closing the relayed ones. */
  #direct_(now: Millis, key: string, connection: ConnectionInfo): void {
    const ex = this.#b.get(key)
    let role: DcutrRole | undefined
    let via: 'reversal' | 'hole-punch' = 'hole-punch'
    let attempts = 0
    let punch: PunchAddrs = {}
    if (ex !== undefined) {
      this.#b.delete(key)
      if (ex.state.kind === 'connect-sent') this.#actions.push({ type: 'reset', stream: ex.state.stream })
      if (ex.state.kind !== 'identify') {
        role = 'B'
        via = ex.state.kind === 'reversal' ? 'reversal' : 'hole-punch'
        attempts = ex.attempts
        punch = ex.punch
      }
    }
    const a = this.#aPunch.direct(key)
    if (a !== undefined) {
      role = 'A'
      attempts = a.attempts
      punch = a.punch
    }
    if (role === undefined) return
    this.#emit({ type: 'direct', peer: connection.peer, connection, role, via, attempts, ...punch })
    if (this.#grace === false) return
    for (const id of this.#limited.get(key) ?? []) if (!this.#closeAt.has(id)) this.#closeAt.set(id, { key, at: now + this.#grace })
  }

  #dialFailed(now: Millis, requestId: number, error: Error): void {
    const d = this.#dials.get(requestId)
    if (d === undefined) return
    this.#dials.delete(requestId)
    if (d.role === 'A') {
      this.#aPunch.dialFailed(requestId, error)
      return
    }
    const ex = this.#b.get(d.key)
    const s = ex?.state
    if (ex === undefined || (s?.kind !== 'reversal' && s?.kind !== 'dialing') || !s.pending.delete(requestId) || s.pending.size > 0) return
    if (s.kind === 'dialing' && s.punchUntil !== undefined) return // A's QUIC connection may still come
    if (s.kind === 'reversal') {
      this.#emit({ type: 'reversal-failed', peer: ex.peer, error: outcome('dcutr/dial-failed', error.message) })
      ex.state = { kind: 'identify' }
      this.#bStart(now, ex)
    } else this.#bFail(now, ex, outcome('dcutr/dial-failed', error.message))
  }

  // --- B ----------------------------------------------------------------------------------------

  /** From the identify state: connection reversal first, then a hole punch if A speaks DCUtR. */
  #bStart(now: Millis, ex: BExchange): void {
    if (!ex.reversalTried) {
      ex.reversalTried = true
      const targets = punchTargets(ex.addrs.filter(isPublicAddr), ex.peer, this.#limits.maxAddrs)
      if (targets.length > 0) {
        const pending = new Set<number>()
        for (const addr of targets) pending.add(this.#dial(ex.key, 'B', ex.peer, addr, false))
        ex.state = { kind: 'reversal', pending }
        return
      }
    }
    if (!ex.supportsDcutr) return // wait for an identify push listing /libp2p/dcutr
    if (this.#transports().size === 0) {
      this.#b.delete(ex.key)
      this.#emit({ type: 'unavailable', peer: ex.peer, reason: this.status().reason! })
      return
    }
    if (!this.#limited.get(ex.key)?.has(ex.relayed)) {
      this.#b.delete(ex.key)
      return
    }
    this.#bAttempt(now, ex)
  }

  #bAttempt(now: Millis, ex: BExchange): void {
    ex.attempts++
    const requestId = this.#nextId++
    ex.state = { kind: 'opening', requestId, deadline: now + this.#timeout }
    this.#actions.push({ type: 'open-stream', requestId, peer: ex.peer, protocols: [DCUTR_PROTOCOL], connection: ex.relayed, allowLimited: true })
  }

  #bOpened(now: Millis, stream: StreamRef, requestId: number | undefined): void {
    const ex = [...this.#b.values()].find((e) => e.state.kind === 'opening' && e.state.requestId === requestId)
    if (ex === undefined || ex.state.kind !== 'opening') {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    const addrs = this.localAddrs()
    if (addrs.length === 0) {
      this.#actions.push({ type: 'reset', stream })
      this.#bEnd(ex, outcome('dcutr/no-local-addrs', 'no observed address of the punch port yet, no public address'))
      return
    }
    ex.state = { kind: 'connect-sent', stream, sentAt: now, deadline: ex.state.deadline, decoder: new HolePunchDecoder(this.#limits) }
    ex.punch = { ourAddrs: addrs }
    this.#actions.push({ type: 'write', stream, data: encodeHolePunchFrame({ type: HolePunchType.CONNECT, obsAddrs: addrs }) })
  }

  #bMessage(now: Millis, ex: BExchange, msg: HolePunch): void {
    const s = ex.state
    if (s.kind !== 'connect-sent') return
    if (msg.type !== HolePunchType.CONNECT) throw protocolError('dcutr/unexpected-message', `expected CONNECT, got type ${msg.type}`)
    const addrs = this.#theirAddrs(msg.obsAddrs, ex.peer)
    const rtt = now - s.sentAt
    ex.punch.theirAddrs = addrs
    this.#actions.push({ type: 'write', stream: s.stream, data: encodeHolePunchFrame({ type: HolePunchType.SYNC, obsAddrs: [] }) })
    this.#actions.push({ type: 'close-write', stream: s.stream })
    ex.state = { kind: 'sync-wait', until: now + rtt / 2, addrs }
    this.#emit({ type: 'attempt', peer: ex.peer, attempt: ex.attempts, rtt, addrs })
    if (rtt === 0) this.#bDial(now, ex, addrs)
  }

  /** A's CONNECT addresses we can punch (none valid: `dcutr/no-addrs`; none over our transports: `dcutr/no-shared-transport`). */
  #theirAddrs(obsAddrs: readonly Multiaddr[], peer: PeerId): Multiaddr[] {
    const all = punchTargets(obsAddrs, peer, this.#limits.maxAddrs)
    if (all.length === 0) throw protocolError('dcutr/no-addrs', 'CONNECT holds no address we can dial')
    const ts = this.#transports()
    const addrs = all.filter((a) => ts.has(punchTransport(a)!))
    if (addrs.length === 0) throw outcome('dcutr/no-shared-transport', `CONNECT holds no address over a transport we punch (${[...ts].join(', ') || 'none'})`)
    return addrs
  }

  /** TCP: dial A as the responder. QUIC: send punch packets (the `punch` event) and wait for A's connection. */
  #bDial(now: Millis, ex: BExchange, addrs: Multiaddr[]): void {
    const pending = new Set<number>()
    const quic = addrs.filter((a) => punchTransport(a) === 'quic')
    for (const addr of addrs) if (punchTransport(addr) === 'tcp') pending.add(this.#dial(ex.key, 'B', ex.peer, addr, true))
    ex.state = quic.length > 0 ? { kind: 'dialing', pending, punchUntil: now + this.#punchTimeout } : { kind: 'dialing', pending }
    if (quic.length > 0) this.#emit({ type: 'punch', peer: ex.peer, attempt: ex.attempts, addrs: quic, timeout: this.#punchTimeout })
  }

  /** This attempt failed: another one while attempts remain and the relayed connection lives. */
  #bFail(now: Millis, ex: BExchange, error: Error): void {
    if (error instanceof OutcomeError && (error.code === 'dcutr/dial-failed' || error.code === 'dcutr/punch-timeout') && ex.attempts < this.#maxAttempts && this.#limited.get(ex.key)?.has(ex.relayed) === true) {
      this.#bAttempt(now, ex)
      return
    }
    this.#bEnd(ex, error)
  }

  #bEnd(ex: BExchange, error: Error): void {
    this.#b.delete(ex.key)
    this.#emit({ type: 'failed', peer: ex.peer, role: 'B', attempts: ex.attempts, error, ...ex.punch })
  }

  // --- A ----------------------------------------------------------------------------------------

  #aOpened(now: Millis, stream: StreamRef, c: ConnectionInfo): void {
    const key = c.peer.toString()
    const count = this.#aPerPeer.get(key) ?? 0
    // A answers only on its outbound relayed connection (go resets the others too).
    if (!c.limited || c.direction !== 'outbound' || count >= this.#maxInbound) {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    this.#aPerPeer.set(key, count + 1)
    this.#a.set(streamKey(stream), { peer: c.peer, key, stream, deadline: now + this.#timeout, decoder: new HolePunchDecoder(this.#limits), state: 'await-connect', addrs: [], ours: [] })
  }

  #aMessage(now: Millis, a: AStream, msg: HolePunch): void {
    if (a.state === 'await-connect') {
      if (msg.type !== HolePunchType.CONNECT) throw protocolError('dcutr/unexpected-message', `expected CONNECT, got type ${msg.type}`)
      if (this.#transports().size === 0) {
        this.#dropA(streamKey(a.stream), a)
        this.#actions.push({ type: 'reset', stream: a.stream })
        this.#emit({ type: 'unavailable', peer: a.peer, reason: this.status().reason! })
        return
      }
      a.addrs = this.#theirAddrs(msg.obsAddrs, a.peer)
      const ours = this.localAddrs()
      if (ours.length === 0) {
        this.#dropA(streamKey(a.stream), a)
        this.#actions.push({ type: 'reset', stream: a.stream })
        this.#emit({ type: 'failed', peer: a.peer, role: 'A', attempts: 1, error: outcome('dcutr/no-local-addrs', 'no observed address of the punch port yet, no public address') })
        return
      }
      this.#actions.push({ type: 'write', stream: a.stream, data: encodeHolePunchFrame({ type: HolePunchType.CONNECT, obsAddrs: ours }) })
      a.state = 'await-sync'
      a.ours = ours
      return
    }
    if (msg.type !== HolePunchType.SYNC) throw protocolError('dcutr/unexpected-message', `expected SYNC, got type ${msg.type}`)
    // SYNC: dial at once, as the client.
    this.#dropA(streamKey(a.stream), a)
    this.#actions.push({ type: 'close-write', stream: a.stream })
    const dial = (): Array<{ id: number; quic: boolean }> => a.addrs.map((addr) => ({ id: this.#dial(a.key, 'A', a.peer, addr, false), quic: punchTransport(addr) === 'quic' }))
    this.#aPunch.start(now, a.peer, a.key, { ourAddrs: a.ours, theirAddrs: a.addrs }, dial, this.#punchTimeout)
  }

  #dropA(key: string, a: AStream): void {
    if (!this.#a.delete(key)) return
    const n = (this.#aPerPeer.get(a.key) ?? 1) - 1
    if (n > 0) this.#aPerPeer.set(a.key, n)
    else this.#aPerPeer.delete(a.key)
  }

  // --- streams ----------------------------------------------------------------------------------

  #data(now: Millis, stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const a = this.#a.get(key)
    const ex = a === undefined ? this.#bByStream(stream) : undefined
    const decoder = a?.decoder ?? (ex?.state.kind === 'connect-sent' ? ex.state.decoder : undefined)
    if (decoder === undefined) return
    try {
      decoder.push(data)
      for (let msg = decoder.next(); msg !== undefined; msg = decoder.next()) {
        if (a !== undefined) {
          if (!this.#a.has(key)) break
          this.#aMessage(now, a, msg)
        } else if (ex !== undefined) {
          if (ex.state.kind !== 'connect-sent') break // B reads one message; anything after A's CONNECT is ignored
          this.#bMessage(now, ex, msg)
        }
      }
    } catch (e) {
      if (!(e instanceof ProtocolError) && !(e instanceof OutcomeError)) throw e
      this.#actions.push({ type: 'reset', stream })
      if (a !== undefined) {
        this.#dropA(key, a)
        this.#emit({ type: 'failed', peer: a.peer, role: 'A', attempts: 1, error: e })
      } else if (ex !== undefined && this.#b.get(ex.key) === ex) this.#bEnd(ex, e)
    }
  }

  #bByStream(stream: StreamRef): BExchange | undefined {
    for (const ex of this.#b.values()) if (ex.state.kind === 'connect-sent' && ex.state.stream.connection === stream.connection && ex.state.stream.stream === stream.stream) return ex
    return undefined
  }

  #streamEnded(stream: StreamRef, error: Error): void {
    const key = streamKey(stream)
    const a = this.#a.get(key)
    if (a !== undefined) {
      this.#dropA(key, a)
      this.#emit({ type: 'failed', peer: a.peer, role: 'A', attempts: 1, error })
      return
    }
    const ex = this.#bByStream(stream)
    if (ex !== undefined) this.#bEnd(ex, error)
  }

  #dial(key: string, role: DcutrRole, peer: PeerId, addr: Multiaddr, responder: boolean): number {
    const requestId = this.#nextId++
    this.#dials.set(requestId, { key, role })
    // By address (with /p2p/<peer>): only this address, and it does not enter the peer store.
    this.#actions.push({ type: 'dial', requestId, addrs: [addr.encapsulate(`/p2p/${peer.toString()}`)], options: responder ? { force: true, role: 'responder' } : { force: true } })
    return requestId
  }

  #emit(event: DcutrEvent): void {
    this.#actions.push({ type: 'event', event })
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}

function nonNegative(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be a non-negative number or false`)
  return n
}
