/**
 * The swarm: every connection of a node, its dials, its streams, and the behaviours on top.
 *
 * Sans-IO like the protocol cores. The runtime (src/io/runtime.ts) owns sockets and timers and
 * talks to the swarm in three directions:
 * - transport facts in: `handleInbound` (an accepted socket), `handleConnected` / `handleConnectFailed`
 *   (the outcome of a `connect` action), `handleData`, `handleEof`, `handleTransportClosed`, `handleTimeout`;
 * - IO out: `pollIo()` yields `connect` (open a transport to an address) and `close` (end a
 *   transport after its pending bytes are written); `pollDirty()` names connections with bytes to
 *   write, drained with `pollTransmit(id, max)`;
 * - user and behaviour commands: `dial`, `openStream`, `write`, `closeWrite`, `reset`, `consume`,
 *   `handle`, `hangUp`, `stop`; results and user-facing facts come out of `pollEvent()`.
 *
 * Behaviours (a plain record: `{ ping, identify }`) are polled in their record order until none
 * makes progress. Streams negotiated on a behaviour's protocol go to that behaviour; streams on a
 * protocol registered with `handle()` go to the user.
 *
 * Containment: an exception from a connection core, or from a behaviour handling something that
 * concerns one connection, closes that connection at once with an `InternalError`
 * ('swarm/internal-error', the exception as its cause) and comes out as an `error` event; every other
 * connection and behaviour goes on. Only a bug can throw here: remote misbehaviour is a
 * `ProtocolError` the cores handle themselves (spec/connection.md, "Containment").
 */
import type { Millis } from '../core/byte-machine.js'
import { InternalError, UsageError } from '../core/errors.js'
import { ConnCloseCode } from '../core/close-codes.js'
import { Connection } from '../connection/index.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourInput, ConnectionInfo, DialOptions, StreamRef } from './behaviour.js'
import { isLimitedAddr } from './limited.js'
import { BehaviourSet } from './behaviours.js'
import { PeerStore } from './peer-store.js'
import { ProtocolTable } from './protocols.js'
import { ExternalAddresses } from './reachability.js'
import { closeForPolicy, noStreams, onAction, onConnEvent, openOn, removeConn, type RouteHost } from './routing.js'
import type { Dials } from './dials.js'
import { newDials } from './dial-host.js'
import { DeadlineQueue } from './deadlines.js'
import { SwarmPolicy, refusal } from './policy.js'
import { DEFAULT_SWARM_LIMITS, type Conn, type ConnectionCore, type Owner, type SwarmConfig, type SwarmEvent, type SwarmIo, type SwarmLimits } from './types.js'

/**
 * The swarm (spec/swarm.md): a sans-IO core owning every connection core, the behaviours, dials,
 * admission and the peer store. A driver (src/io/runtime.ts) feeds it transport events with the
 * `handle*` methods and drains `pollIo`, `pollTransmit`, `pollEvent` and `pollTimeout`.
 */
export class Swarm<B extends Record<string, Behaviour<unknown>> = Record<string, Behaviour<unknown>>> {
  readonly behaviours: B
  readonly peerStore: PeerStore
  readonly #config: SwarmConfig
  readonly #limits: SwarmLimits
  readonly #set: BehaviourSet<B>
  #nextConnId = 1
  #nextInternalReq = 1
  readonly #conns = new Map<number, Conn>()
  readonly #byPeer = new Map<string, Set<number>>()
  readonly #dials: Dials<Conn>
  readonly #protocols: ProtocolTable
  /** Internal request id -> (owner, requestId) for stream opens routed through connections. */
  readonly #opens = new Map<number, { owner: Owner; requestId: number }>()
  readonly #io: SwarmIo[] = []
  readonly #events: SwarmEvent[] = []
  readonly #dirty = new Set<number>()
  readonly #deadlines = new DeadlineQueue((id) => this.#conns.get(id)?.core?.pollTimeout())
  #listenAddrs: Multiaddr[] = []
  readonly #external: ExternalAddresses
  #started = false
  #stopped = false
  #now: Millis = 0
  readonly #peerId: PeerId
  /** Admission (gater, per-IP limits, resources) and the connection manager (src/swarm/policy.ts). */
  readonly policy: SwarmPolicy
  /** What src/swarm/routing.ts sees of the swarm. */
  readonly #route: RouteHost

  constructor(behaviours: B, config: SwarmConfig) {
    this.behaviours = behaviours
    this.#config = config
    this.#limits = { ...DEFAULT_SWARM_LIMITS, ...config.limits }
    this.#set = new BehaviourSet(behaviours, (name, e, conn) => this.#fault(this.#now, conn, e, name))
    this.peerStore = new PeerStore(config.peerStore, (p) => (this.#byPeer.get(p)?.size ?? 0) > 0)
    this.#protocols = new ProtocolTable(this.#limits.maxInboundStreamsPerProtocol)
    const inboundBounds: Record<string, number> = {}
    for (const name of this.#set.names) {
      const b = behaviours[name]!
      this.#protocols.setBehaviour(name, b.protocols, b.limitedProtocols, b.maxInboundStreams)
      if (b.maxInboundStreams !== undefined) for (const p of b.protocols) inboundBounds[p] = b.maxInboundStreams
    }
    this.#external = new ExternalAddresses(this.#limits.maxExternalAddrs)
    this.#peerId = config.identity.publicKey.toPeerId()
    this.policy = new SwarmPolicy({ ...config.policy, maxPendingInbound: this.#limits.maxPendingInbound, guards: config.guards, inboundBounds })
    const swarm = this
    this.#route = {
      peerId: this.#peerId, limits: this.#limits, policy: this.policy, conns: this.#conns, byPeer: this.#byPeer, opens: this.#opens,
      protocols: this.#protocols, peerStore: this.peerStore, get dials() { return swarm.#dials }, set: this.#set as BehaviourSet<Record<string, Behaviour<unknown>>>,
      io: this.#io, events: this.#events, dirty: this.#dirty,
      closeConnection: (now, id, code) => this.closeConnection(now, id, code),
      reset: (now, ref) => this.reset(now, ref),
      openStream: (now, owner, target, protocols, requestId, connection, allowLimited) => this.#openStream(now, owner, target, protocols, requestId, connection, allowLimited),
      setBehaviourProtocols: (now, name, protocols) => this.#setBehaviourProtocols(now, name, protocols),
      toOwner: (now, owner, input) => this.#toOwner(now, owner, input),
      fault: (now, id, e) => this.#fault(now, id, e, undefined),
      nextRequestId: () => this.#nextInternalReq++,
      drain: (now, c) => this.#guard(now, c, () => this.#drainConn(now, c)),
      external: (now, addr, confirmed) => {
        // a behaviour's confirmation past maxExternalAddrs is dropped (the bound holds; AutoNAT confirms at most 16)
        try { confirmed ? this.addExternalAddress(now, addr) : this.removeExternalAddress(now, addr) } catch (e) { if (!(e instanceof UsageError)) throw e }
      },
    }
    this.#dials = newDials({ route: this.#route, now: () => this.#now, stopped: () => this.#stopped, nextConnId: () => this.#nextConnId++ })
  }

  /** Our peer id. */
  get peerId(): PeerId {
    return this.#peerId
  }

  // ---- local information ---------------------------------------------------------------------------

  /** The protocols served, in the order announced by identify. */
  protocols(): string[] {
    return this.#protocols.list()
  }

  /** The runtime reports the addresses it listens on; behaviours (identify) learn of it. */
  setListenAddrs(now: Millis, addrs: readonly Multiaddr[]): void {
    this.#listenAddrs = [...addrs]
    this.#broadcastLocalInfo(now)
    this.#updateReachability(now)
  }

  /**
   * Confirm that peers can reach us at `addr` (a port forward, a public address the operator knows).
   * Behaviours get a `reachability` input when the set of confirmed external addresses changes.
   */
  addExternalAddress(now: Millis, addr: Multiaddr): void {
    this.#external.add(addr)
    this.#updateReachability(now)
  }

  /** Withdraw a confirmation made with addExternalAddress. */
  removeExternalAddress(now: Millis, addr: Multiaddr): void {
    this.#external.remove(addr)
    this.#updateReachability(now)
  }

  /** Confirmed external addresses: the user's, then the public listen addresses (src/swarm/reachability.ts). */
  get externalAddrs(): readonly Multiaddr[] {
    return this.#external.current(this.#listenAddrs)
  }

  /** True while there is at least one confirmed external address. */
  get reachable(): boolean {
    return this.externalAddrs.length > 0
  }

  /** The addresses we listen on. */
  get listenAddrs(): readonly Multiaddr[] {
    return this.#listenAddrs
  }

  /** Serve `protocol` on inbound streams; they surface as user `stream-opened` events. */
  handle(now: Millis, protocol: string, options: { maxInboundStreams?: number; allowLimited?: boolean } = {}): void {
    this.#protocols.handle(protocol, options.maxInboundStreams, options.allowLimited === true)
    this.#broadcastLocalInfo(now)
  }

  /** Stop serving `protocol`. */
  unhandle(now: Millis, protocol: string): void {
    if (this.#protocols.unhandle(protocol)) this.#broadcastLocalInfo(now)
  }

  /** Start: behaviours receive the initial local-info. */
  start(now: Millis): void {
    this.#started = true
    this.#broadcastLocalInfo(now)
    this.#updateReachability(now)
  }

  // ---- commands ------------------------------------------------------------------------------------

  /** Dial a peer (by id, using the peer store) or an address. The result is a dial-succeeded/-failed event. */
  dial(now: Millis, target: PeerId | Multiaddr, requestId: number, options?: DialOptions): void {
    this.#now = now
    this.#dials.dial(target, { owner: { kind: 'user' }, requestId, ...(options !== undefined ? { options } : {}) })
    this.#pump(now)
  }

  /** Open a stream to a peer, dialing it if needed. Result: stream-opened / stream-open-failed. */
  openStream(now: Millis, peer: PeerId | Multiaddr, protocols: readonly string[], requestId: number, options: { allowLimited?: boolean } = {}): void {
    this.#now = now
    this.#openStream(now, { kind: 'user' }, peer, protocols, requestId, undefined, options.allowLimited === true)
    this.#pump(now)
  }

  /** Write to a user stream; returns the bytes accepted now (0 = wait for stream-writable). */
  write(now: Millis, ref: StreamRef, data: Uint8Array): number {
    const c = this.#liveConn(ref.connection)
    const n = c.core!.write(ref.stream, data) // a UsageError (stream closed) is the caller's
    this.#markDirty(c.id)
    this.#pump(now)
    return n
  }

  /** Half-close a stream (yamux FIN). */
  closeWrite(now: Millis, ref: StreamRef): void {
    const c = this.#conns.get(ref.connection)
    if (c?.core === undefined || c.core.isClosed) return
    const s = c.streams.get(ref.stream)
    if (s !== undefined && s.queue.length > 0) {
      s.closeAfterQueue = true
      return
    }
    this.#guard(now, c, () => c.core!.closeWrite(ref.stream), true)
    this.#markDirty(c.id)
    this.#pump(now)
  }

  /** Reset a stream (yamux RST). */
  reset(now: Millis, ref: StreamRef): void {
    const c = this.#conns.get(ref.connection)
    if (c?.core === undefined || c.core.isClosed) return
    this.#guard(now, c, () => c.core!.reset(ref.stream), true)
    this.#markDirty(c.id)
    this.#pump(now)
  }

  /** The user has read `n` bytes of a stream: its receive window reopens. */
  consume(now: Millis, ref: StreamRef, n: number): void {
    const c = this.#conns.get(ref.connection)
    if (c?.core === undefined || !c.core.isOpen) return
    this.#guard(now, c, () => c.core!.consume(now, ref.stream, n), true)
    this.#markDirty(c.id)
    this.#pump(now)
  }

  /** Close every connection to `peer`. */
  hangUp(now: Millis, peer: PeerId): void {
    for (const id of this.#byPeer.get(peer.toString()) ?? []) this.closeConnection(now, id)
    this.#pump(now)
  }

  /** Close a connection gracefully; `code` is the GoAway code the remote receives (src/core/close-codes.ts). */
  closeConnection(now: Millis, id: number, code?: number): void {
    const c = this.#conns.get(id)
    if (c === undefined || c.closing) return
    c.closing = true
    if (c.core !== undefined && !c.core.isClosed) {
      this.#guard(now, c, () => {
        c.core!.close(now, code)
        this.#markDirty(id)
        this.#drainConn(now, c)
      })
    } else {
      this.#io.push({ type: 'close', connection: id })
    }
  }

  /** Send a yamux ping on a connection (RTT comes back as an `rtt` event). */
  pingConnection(now: Millis, id: number): void {
    const c = this.#conns.get(id)
    if (c?.core?.isOpen !== true) return
    this.#guard(now, c, () => c.core!.ping(now))
    this.#markDirty(id)
  }

  /**
   * A user (or an AbortSignal) gave up on request `requestId`: a dial nobody else waits for ends
   * and its connection attempt is closed; a stream still negotiating is reset when it opens.
   */
  cancel(now: Millis, requestId: number): void {
    const mine = (o: Owner, id: number): boolean => o.kind === 'user' && id === requestId
    this.#dials.cancel((w) => mine(w.owner, w.requestId))
    for (const [internal, open] of this.#opens) if (mine(open.owner, open.requestId)) this.#opens.delete(internal)
    this.#pump(now)
  }

  /** Close everything gracefully; afterwards every input is ignored. */
  stop(now: Millis): void {
    this.#dials.abortAll('swarm stopped')
    for (const id of [...this.#conns.keys()]) this.closeConnection(now, id)
    this.#stopped = true
  }

  /** The open connections, all or those to `peer`. */
  connections(peer?: PeerId): ConnectionInfo[] {
    const ids = peer === undefined ? [...this.#conns.keys()] : [...(this.#byPeer.get(peer.toString()) ?? [])]
    return ids.map((id) => this.#conns.get(id)?.info).filter((i): i is ConnectionInfo => i !== undefined)
  }

  /** The last yamux ping round-trip of a connection, in ms. */
  connectionRtt(id: number): number | undefined {
    return this.#conns.get(id)?.core?.rtt
  }

  // ---- transport inputs ------------------------------------------------------------------------------

  /**
   * An accepted transport connection; returns its id, or undefined when a limit or the policy
   * refuses it (close the socket without reading: nothing was said yet, so nothing is answered).
   */
  handleInbound(now: Millis, remoteAddr: Multiaddr, localAddr: Multiaddr | undefined, session?: unknown): number | undefined {
    this.#now = now
    if (this.#stopped) return undefined
    const id = this.#nextConnId++
    const refused = this.#conns.size >= this.#limits.maxConnections
      ? refusal('resource/limit-exceeded', ConnCloseCode.ResourceLimitExceeded, `${this.#conns.size} connections (SwarmLimits.maxConnections)`)
      : this.policy.admitInbound(now, id, remoteAddr)
    if (refused !== undefined) {
      this.#events.push({ type: 'connection-refused', direction: 'inbound', addr: remoteAddr, refusal: refused })
      this.#pump(now)
      return undefined
    }
    const c: Conn = {
      id, core: undefined, direction: 'inbound', remoteAddr, localAddr, dial: undefined, info: undefined,
      streams: noStreams(), closing: false, closeError: undefined, opened: now,
    }
    c.core = this.#newCore(now, 'listener', undefined, isLimitedAddr(remoteAddr), session)
    this.#conns.set(id, c)
    this.#guard(now, c, () => this.#drainConn(now, c))
    this.#pump(now)
    return id
  }

  /** The transport for a `connect` action is up. */
  handleConnected(now: Millis, id: number, localAddr: Multiaddr | undefined, session?: unknown): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c === undefined || c.core !== undefined) return
    c.localAddr = localAddr
    this.#guard(now, c, () => {
      // DCUtR's side B dials but runs the upgrade as the responder (DialOptions.role).
      c.core = this.#newCore(now, c.dial?.options?.role === 'responder' ? 'listener' : 'dialer', c.dial?.peer, isLimitedAddr(c.remoteAddr), session)
      this.#drainConn(now, c)
    })
    this.#pump(now)
  }

  /** The transport for a `connect` action failed. */
  handleConnectFailed(now: Millis, id: number, error: Error): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c === undefined) return
    this.#conns.delete(id)
    this.policy.connectionRemoved(now, id)
    this.#events.push({ type: 'connection-failed', addr: c.remoteAddr, direction: 'outbound', error })
    if (c.dial !== undefined) this.#dials.attemptFailed(c.dial, error)
    this.#pump(now)
  }

  /** Bytes read from connection `id`'s transport (read during the call only). */
  handleData(now: Millis, id: number, data: Uint8Array): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c?.core === undefined) return
    if (c.info === undefined && c.direction === 'inbound') this.policy.pendingProgress(now, id)
    this.#guard(now, c, () => {
      c.core!.handleData(now, data)
      this.#drainConn(now, c)
    })
    this.#pump(now)
  }

  /** Connection `id`'s transport reached end of stream. */
  handleEof(now: Millis, id: number): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c?.core === undefined) return
    this.#guard(now, c, () => {
      c.core!.handleEof(now)
      this.#drainConn(now, c)
    })
    this.#pump(now)
  }

  /** The transport is gone (closed by us after a `close` action, or by the network). */
  handleTransportClosed(now: Millis, id: number, error?: Error): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c === undefined) return
    if (c.core !== undefined && !c.core.isClosed) {
      this.#guard(now, c, () => {
        c.core!.handleEof(now)
        this.#drainConn(now, c)
      })
    }
    if (this.#conns.get(id) === c) removeConn(this.#route, now, c, error)
    this.#pump(now)
  }

  /** The deadline from `pollTimeout` passed. */
  handleTimeout(now: Millis): void {
    this.#now = now
    for (const id of this.#deadlines.popDue(now)) {
      const c = this.#conns.get(id)
      if (c?.core === undefined) continue
      this.#guard(now, c, () => {
        const t = c.core!.pollTimeout()
        if (t !== undefined && now >= t) {
          c.core!.handleTimeout(now)
          this.#drainConn(now, c)
        }
      })
    }
    this.#set.handleTimeout(now)
    this.policy.handleTimeout(now)
    this.#pump(now)
  }

  /** False while connection `id`'s cores want no more input (backpressure: pause the transport). */
  wantsData(id: number): boolean {
    const c = this.#conns.get(id)
    let wants = false
    if (c?.core !== undefined) this.#guard(this.#now, c, () => { wants = c.core!.wantsData() })
    return wants
  }

  // ---- outputs -----------------------------------------------------------------------------------------

  /** The next transport operation for the driver (connect, close...). */
  pollIo(): SwarmIo | undefined {
    return this.#io.shift()
  }

  /** A connection with bytes to write, or undefined. */
  pollDirty(): number | undefined {
    const first = this.#dirty.values().next()
    if (first.done === true) return undefined
    this.#dirty.delete(first.value)
    this.#deadlines.touch(first.value)
    return first.value
  }

  /** Up to `max` bytes to write on connection `id`'s transport (the caller's to keep). */
  pollTransmit(id: number, max: number): Uint8Array | undefined {
    const c = this.#conns.get(id)
    if (c?.core === undefined) return undefined
    let b: Uint8Array | undefined
    this.#guard(this.#now, c, () => {
      b = c.core!.pollTransmit(max)
      // Writing may have flushed muxer state that produces events (stream closed after FIN sent).
      // The caller keeps polling until undefined, so this does not mark the connection dirty again.
      this.#drainConn(this.#now, c, false)
    })
    // Those events may have woken a behaviour (stream-writable to perf): act on its actions now, or
    // they wait for the next unrelated input and a transfer with nothing else going on stalls.
    this.#pump(this.#now)
    return b
  }

  /** The next event for the application. */
  pollEvent(): SwarmEvent | undefined {
    return this.#events.shift()
  }

  /** The earliest deadline (monotonic ms) at which `handleTimeout` must be called. */
  pollTimeout(): Millis | undefined {
    let t = this.#deadlines.peek()
    for (const u of [this.#set.pollTimeout(), this.policy.pollTimeout()]) if (u !== undefined && (t === undefined || u < t)) t = u
    return t
  }

  // ---- internals: connections ---------------------------------------------------------------------

  #newCore(now: Millis, role: 'dialer' | 'listener', expected: PeerId | undefined, limited: boolean, session?: unknown): ConnectionCore {
    const quic = this.#config.quicCore?.(now, session, this.#config, expected, (p) => this.#protocols.has(p), () => this.protocols()) // RawConnection.session: QUIC
    if (quic !== undefined) return quic
    return new Connection({
      ...this.#config.connection,
      role,
      crypto: this.#config.crypto,
      identity: this.#config.identity,
      noiseKeys: this.#config.noiseKeys,
      expectedRemotePeer: expected,
      // a limited (relayed) connection serves only the protocols that opted in (src/swarm/limited.ts)
      supportsProtocol: limited ? (p) => this.#protocols.hasLimited(p) : (p) => this.#protocols.has(p),
      listProtocols: () => this.protocols(),
      now,
      ...this.#config.connectionTrace?.(role),
    })
  }

  #liveConn(id: number): Conn {
    const c = this.#conns.get(id)
    if (c?.core === undefined || !c.core.isOpen) throw new UsageError('swarm/connection-closed', `connection ${id}`)
    return c
  }

  #markDirty(id: number): void {
    this.#dirty.add(id)
    this.#deadlines.touch(id)
  }

  /** Route a connection's events; `dirty` = it may have bytes to send (false when called from pollTransmit). */
  #drainConn(now: Millis, c: Conn, dirty = true): void {
    const core = c.core
    if (core === undefined) return
    this.#deadlines.touch(c.id)
    if (dirty) this.#markDirty(c.id)
    for (let ev = core.pollEvent(); ev !== undefined && !c.faulted; ev = core.pollEvent()) onConnEvent(this.#route, now, c, ev)
  }

  /**
   * Run `f` (work on `c`'s core); an exception from it closes `c` with internal-error, except a
   * UsageError when `usageOk` (a user's reset/closeWrite/consume racing the stream's end is no bug).
   */
  #guard(now: Millis, c: Conn, f: () => void, usageOk = false): void {
    try {
      f()
    } catch (e) {
      if (!(usageOk && e instanceof UsageError)) this.#fault(now, c.id, e, undefined)
    }
  }

  /**
   * A bug surfaced (an exception from a core, or from behaviour `behaviour`): report it, and close
   * the connection it concerned at once (no graceful close: its core's state is unknown).
   */
  #fault(now: Millis, id: number | undefined, e: unknown, behaviour: string | undefined): void {
    const error = e instanceof Error ? e : new Error(String(e))
    const c = id === undefined ? undefined : this.#conns.get(id)
    this.#events.push({
      type: 'error', error, origin: behaviour === undefined ? 'connection' : 'behaviour',
      ...(behaviour !== undefined ? { behaviour } : {}), ...(c?.info !== undefined ? { connection: c.info, peer: c.info.peer } : {}),
    })
    if (c === undefined || c.faulted === true) return
    c.faulted = true
    c.closing = true
    c.closeError = error instanceof InternalError ? error : new InternalError('swarm/internal-error', error)
    this.#io.push({ type: 'close', connection: c.id, abort: true })
    if (c.info === undefined) this.#events.push({ type: 'connection-failed', addr: c.remoteAddr, direction: c.direction, error: c.closeError })
    removeConn(this.#route, now, c, undefined)
  }

  // ---- internals: dials and stream opening -----------------------------------------------------------

  #openStream(now: Millis, owner: Owner, target: PeerId | Multiaddr, protocols: readonly string[], requestId: number, connection: number | undefined, allowLimited: boolean): void {
    if (connection !== undefined) {
      const c = this.#conns.get(connection)
      if (c?.core?.isOpen !== true || c.closing) {
        this.#toOwner(now, owner, { type: 'stream-open-failed', requestId, error: new UsageError('swarm/connection-closed', `connection ${connection}`) })
        return
      }
      openOn(this.#route, now, c, owner, protocols, requestId, allowLimited)
      return
    }
    this.#dials.dial(target, { owner, requestId, openStream: { protocols, allowLimited } })
  }

  // ---- internals: behaviours -------------------------------------------------------------------------

  #toOwner(now: Millis, owner: Owner, input: BehaviourInput): void {
    if (owner.kind === 'behaviour') this.#set.feed(now, owner.name, input)
    else this.#events.push(input as SwarmEvent)
  }

  #broadcastLocalInfo(now: Millis): void {
    this.#set.broadcast(now, { type: 'local-info', listenAddrs: this.#listenAddrs, protocols: this.protocols() })
    this.#pump(now)
  }

  /** Tell behaviours (and the user) when the confirmed external addresses change; once at start. */
  #updateReachability(now: Millis): void {
    if (!this.#started || this.#stopped) return
    const addrs = this.#external.takeChange(this.#listenAddrs)
    if (addrs === undefined) return
    const reachable = addrs.length > 0
    this.#events.push({ type: 'reachability', reachable, externalAddrs: addrs })
    this.#set.broadcast(now, { type: 'reachability', reachable, externalAddrs: addrs })
    this.#pump(now)
  }

  /** A behaviour's `set-protocols`: route the new list to it, drop what it no longer serves. */
  #setBehaviourProtocols(now: Millis, name: string, protocols: readonly string[]): void {
    // The outer #pump loop drains whatever the behaviours do about it (identify's push).
    if (this.#protocols.setBehaviour(name, protocols, this.behaviours[name]?.limitedProtocols, this.behaviours[name]?.maxInboundStreams)) this.#set.broadcast(now, { type: 'local-info', listenAddrs: this.#listenAddrs, protocols: this.protocols() })
  }

  /** After calling a command on a behaviour directly (ping.ping(...)), let the swarm act on it. */
  pump(now: Millis): void {
    this.#now = now
    this.#pump(now)
  }

  /** Drain behaviour actions until none makes progress, and close what the policy wants closed. */
  #pump(now: Millis): void {
    for (let p = this.policy.pollClose(); p !== undefined; p = this.policy.pollClose()) closeForPolicy(this.#route, now, p)
    this.#set.drain((name, a) => {
      try {
        onAction(this.#route, now, name, a)
      } catch (e) {
        // The swarm or a core failed on a behaviour's action (a misuse such as a protocol taken, or
        // a bug): reported as that behaviour's; the connection the action named, if any, is closed.
        this.#fault(now, 'stream' in a ? a.stream.connection : a.type === 'close-connection' ? a.connection : undefined, e, name)
      }
    })
  }
}
