/**
 * The resource manager (spec/resource-manager.md): accounting of connections, streams and memory in
 * nested scopes, each with hard limits (src/swarm/resource-limits.ts).
 *
 *   system ─┬─ transient ──────────────── connection (before the handshake names the peer)
 *           ├─ peer ─────┬─ protocol-peer ─ stream
 *           ├─ protocol ─┘                    │
 *           ├─ service ───────────────────────┘
 *           └─ (every connection and stream also counts in system)
 *
 * A connection is reserved in system + transient when its socket is accepted or dialed, moved from
 * transient to its peer's scope when the security handshake names the peer (refused: the connection
 * stays transient until it is released), and released once. A negotiated stream is reserved in its
 * connection, protocol-peer, peer, protocol, service (the behaviour owning the protocol; none for
 * user streams) and system scopes, with the memory it may hold (`streamMemory` for user streams).
 * Streams still negotiating are not accounted here: the connection core bounds them
 * (`maxNegotiatingStreams`, spec/connection.md).
 *
 * Every reservation is all or nothing: every scope is checked before any is charged. A refusal is a
 * `ResourceLimitError` naming the narrowest full scope, and is counted (`usage().blocked`). Pure: no
 * clock, no IO; `release*` are exact (a second release of the same id does nothing).
 */
import { ResourceLimitError, UsageError, type ResourceKind, type ResourceScope } from '../core/errors.js'
import { coherenceWarnings, limitsFor, type ResourceLimits, type ScopeLimits } from './resource-limits.js'

export type Direction = 'inbound' | 'outbound'

/** Current usage of one scope (JSON-friendly). */
export interface ScopeUsage {
  connsInbound: number
  connsOutbound: number
  streamsInbound: number
  streamsOutbound: number
  /** Bytes reserved (streams' receive windows, see ResourceLimits.streamMemory). */
  memory: number
}

/** How many reservations a kind of scope refused, per resource and direction. */
export interface BlockedCount {
  scope: ResourceScope
  resource: ResourceKind
  direction: Direction
  count: number
}

/** What `node.resources()` returns. */
export interface ResourceUsage {
  system: ScopeUsage
  transient: ScopeUsage
  /** Peers with at least one connection or stream accounted. */
  peers: number
  /** Per peer (id text -> usage): only with `usage({ peers: true })`. */
  byPeer?: Record<string, ScopeUsage>
  /** Protocols with streams open. */
  protocols: Record<string, ScopeUsage>
  /** Services with streams open or a usage reporter; `reported` = the bytes their stores say they hold. */
  services: Record<string, ScopeUsage & { reported: number }>
  blocked: BlockedCount[]
  /** Incoherent limits (coherenceWarnings), e.g. a system connection limit below 2 x high water. */
  warnings: string[]
}

/** The raw view a metrics collector reads (src/metrics): no peer ids, closed label sets. */
export interface ResourceSnapshot {
  /** system, transient, every protocol, every service (name = the protocol or service). */
  scopes: Array<{ scope: ResourceScope; name?: string; usage: ScopeUsage; limits: ScopeLimits }>
  /** One entry per peer with usage, anonymous (for go's libp2p_rcmgr_peer_* histograms). */
  peers: ScopeUsage[]
  /** One entry per open connection (memory only matters: go's libp2p_rcmgr_conn_memory). */
  connections: ScopeUsage[]
  blocked: BlockedCount[]
}

class Scope {
  ci = 0
  co = 0
  si = 0
  so = 0
  mem = 0
  constructor(readonly kind: ResourceScope, readonly name: string | undefined, readonly limits: ScopeLimits) {}

  get empty(): boolean {
    return this.ci + this.co + this.si + this.so + this.mem === 0
  }

  usage(): ScopeUsage {
    return { connsInbound: this.ci, connsOutbound: this.co, streamsInbound: this.si, streamsOutbound: this.so, memory: this.mem }
  }

  checkConn(dir: Direction): ResourceLimitError | undefined {
    const l = this.limits
    if (this.ci + this.co + 1 > l.conns) return this.#err('connection', dir, l.conns)
    const lim = dir === 'inbound' ? l.connsInbound : l.connsOutbound
    if ((dir === 'inbound' ? this.ci : this.co) + 1 > lim) return this.#err('connection', dir, lim)
    return undefined
  }

  checkStream(dir: Direction): ResourceLimitError | undefined {
    const l = this.limits
    if (this.si + this.so + 1 > l.streams) return this.#err('stream', dir, l.streams)
    const lim = dir === 'inbound' ? l.streamsInbound : l.streamsOutbound
    if ((dir === 'inbound' ? this.si : this.so) + 1 > lim) return this.#err('stream', dir, lim)
    return undefined
  }

  checkMemory(bytes: number, dir: Direction): ResourceLimitError | undefined {
    return bytes > 0 && this.mem + bytes > this.limits.memory ? this.#err('memory', dir, this.limits.memory) : undefined
  }

  addConn(dir: Direction, n: 1 | -1): void {
    if (dir === 'inbound') this.ci += n
    else this.co += n
  }

  addStream(dir: Direction, n: 1 | -1, bytes: number): void {
    if (dir === 'inbound') this.si += n
    else this.so += n
    this.mem += n * bytes
  }

  #err(resource: ResourceKind, dir: Direction, limit: number): ResourceLimitError {
    return new ResourceLimitError(this.kind, resource, dir, limit, this.name)
  }
}

interface StreamRec {
  readonly dir: Direction
  readonly memory: number
  /** Every scope charged, released in one go. */
  readonly scopes: readonly Scope[]
}

interface ConnRec {
  readonly dir: Direction
  peer: string | undefined
  readonly scope: Scope
  /** Undefined while the connection has none: an idle connection holds no empty table. */
  streams: Map<number, StreamRec> | undefined
}

const ZERO = (): ScopeUsage => ({ connsInbound: 0, connsOutbound: 0, streamsInbound: 0, streamsOutbound: 0, memory: 0 })

export class ResourceManager {
  readonly limits: ResourceLimits
  readonly #highWater: number | undefined
  readonly #system: Scope
  readonly #transient: Scope
  readonly #peers = new Map<string, Scope>()
  readonly #protocols = new Map<string, Scope>()
  readonly #services = new Map<string, Scope>()
  /** protocol + '\n' + peer -> scope. */
  readonly #protocolPeers = new Map<string, Scope>()
  readonly #conns = new Map<number, ConnRec>()
  readonly #blocked = new Map<string, BlockedCount>()
  readonly #reporters = new Map<string, Set<() => number>>()

  /** `highWater`: the connection manager's, checked against the system limits (`usage().warnings`). */
  constructor(limits: ResourceLimits, options: { highWater?: number } = {}) {
    this.limits = limits
    this.#highWater = options.highWater
    this.#system = new Scope('system', undefined, limits.system)
    this.#transient = new Scope('transient', undefined, limits.transient)
  }

  // ---- connections ---------------------------------------------------------------------------------

  /** Connection `id` is opening (socket accepted, or about to dial): reserved in system + transient. */
  reserveConnection(id: number, dir: Direction): ResourceLimitError | undefined {
    if (this.#conns.has(id)) throw new UsageError('resources/duplicate', `connection ${id} is already reserved`)
    const err = this.#transient.checkConn(dir) ?? this.#system.checkConn(dir)
    if (err !== undefined) return this.#block(err)
    this.#transient.addConn(dir, 1)
    this.#system.addConn(dir, 1)
    const scope = new Scope('connection', undefined, this.limits.connection)
    scope.addConn(dir, 1)
    this.#conns.set(id, { dir, peer: undefined, scope, streams: undefined })
    return undefined
  }

  /** The handshake named connection `id`'s peer: move it from transient to the peer's scope. A refusal
   * leaves it transient (release it with releaseConnection once it is closed). */
  reservePeer(id: number, peer: string): ResourceLimitError | undefined {
    const c = this.#conns.get(id)
    if (c === undefined) throw new UsageError('resources/unknown', `connection ${id} is not reserved`)
    if (c.peer !== undefined) throw new UsageError('resources/duplicate', `connection ${id} already has a peer`)
    const ps = this.#peers.get(peer) ?? new Scope('peer', peer, this.limits.peer)
    const err = ps.checkConn(c.dir)
    if (err !== undefined) return this.#block(err)
    this.#peers.set(peer, ps)
    ps.addConn(c.dir, 1)
    this.#transient.addConn(c.dir, -1)
    c.peer = peer
    return undefined
  }

  /** Connection `id` is gone: its streams and the connection itself are released. Unknown ids (never
   * reserved, refused, already released) are ignored, so a release happens exactly once. */
  releaseConnection(id: number): void {
    const c = this.#conns.get(id)
    if (c === undefined) return
    for (const sid of [...(c.streams?.keys() ?? [])]) this.releaseStream(id, sid)
    this.#conns.delete(id)
    this.#system.addConn(c.dir, -1)
    if (c.peer === undefined) {
      this.#transient.addConn(c.dir, -1)
    } else {
      const ps = this.#peers.get(c.peer)!
      ps.addConn(c.dir, -1)
      if (ps.empty) this.#peers.delete(c.peer)
    }
  }

  // ---- streams -----------------------------------------------------------------------------------------

  /**
   * Stream `stream` of connection `conn` negotiated `protocol`. `service` is the behaviour that owns
   * the protocol (undefined: a user handler or opener, whose stream reserves `streamMemory`).
   */
  reserveStream(conn: number, stream: number, dir: Direction, protocol: string, service: string | undefined): ResourceLimitError | undefined {
    const c = this.#conns.get(conn)
    if (c === undefined) throw new UsageError('resources/unknown', `connection ${conn} is not reserved`)
    if (c.streams?.has(stream) === true) throw new UsageError('resources/duplicate', `stream ${stream} of connection ${conn} is already reserved`)
    const memory = service === undefined ? this.limits.streamMemory : 0
    const l = this.limits
    const ppKey = c.peer === undefined ? undefined : `${protocol}\n${c.peer}`
    const scopes: Scope[] = [c.scope]
    if (ppKey !== undefined) scopes.push(this.#protocolPeers.get(ppKey) ?? new Scope('protocol-peer', protocol, limitsFor(l.protocolPeer, l.protocolsPeer, protocol)))
    scopes.push(c.peer === undefined ? this.#transient : this.#peers.get(c.peer)!)
    scopes.push(this.#protocols.get(protocol) ?? new Scope('protocol', protocol, limitsFor(l.protocol, l.protocols, protocol)))
    if (service !== undefined) scopes.push(this.#services.get(service) ?? new Scope('service', service, limitsFor(l.service, l.services, service)))
    scopes.push(this.#system)
    const err = new Scope('stream', undefined, l.stream).checkMemory(memory, dir) ?? this.#check(scopes, dir, memory)
    if (err !== undefined) return this.#block(err)
    for (const s of scopes) s.addStream(dir, 1, memory)
    if (ppKey !== undefined) this.#protocolPeers.set(ppKey, scopes[1]!)
    this.#protocols.set(protocol, this.#protocols.get(protocol) ?? scopes.find((s) => s.kind === 'protocol')!)
    if (service !== undefined) this.#services.set(service, this.#services.get(service) ?? scopes.find((s) => s.kind === 'service')!)
    ;(c.streams ??= new Map()).set(stream, { dir, memory, scopes })
    return undefined
  }

  /** The stream is gone; unknown streams are ignored (exactly once). */
  releaseStream(conn: number, stream: number): void {
    const c = this.#conns.get(conn)
    const s = c?.streams?.get(stream)
    if (c === undefined || s === undefined) return
    c.streams!.delete(stream)
    if (c.streams!.size === 0) c.streams = undefined
    for (const scope of s.scopes) {
      scope.addStream(s.dir, -1, s.memory)
      if (!scope.empty) continue
      if (scope.kind === 'protocol') this.#protocols.delete(scope.name!)
      else if (scope.kind === 'service') this.#services.delete(scope.name!)
      else if (scope.kind === 'protocol-peer') this.#protocolPeers.delete(`${scope.name!}\n${c.peer!}`)
    }
  }

  #check(scopes: readonly Scope[], dir: Direction, memory: number): ResourceLimitError | undefined {
    for (const s of scopes) {
      const err = (s.kind === 'connection' ? undefined : s.checkStream(dir)) ?? s.checkMemory(memory, dir)
      if (err !== undefined) return err
    }
    return undefined
  }

  #block(err: ResourceLimitError): ResourceLimitError {
    const key = `${err.scope}|${err.resource}|${err.direction}`
    const b = this.#blocked.get(key)
    if (b === undefined) this.#blocked.set(key, { scope: err.scope, resource: err.resource, direction: err.direction, count: 1 })
    else b.count++
    return err
  }

  // ---- reporting -------------------------------------------------------------------------------------

  /**
   * A service reports the bytes its own stores hold (kad records, gossipsub message cache), read at
   * `usage()` time and shown as `services[service].reported` (reported, not enforced). Returns the
   * unregister function.
   */
  reportUsage(service: string, bytes: () => number): () => void {
    let set = this.#reporters.get(service)
    if (set === undefined) this.#reporters.set(service, (set = new Set()))
    set.add(bytes)
    return () => {
      set.delete(bytes)
      if (set.size === 0 && this.#reporters.get(service) === set) this.#reporters.delete(service)
    }
  }

  /** Usage of one peer (undefined when it has nothing accounted). */
  peer(peer: string): ScopeUsage | undefined {
    return this.#peers.get(peer)?.usage()
  }

  /** Number of connections accounted (for tests and the swarm's own checks). */
  get connections(): number {
    return this.#conns.size
  }

  usage(options: { peers?: boolean } = {}): ResourceUsage {
    const protocols: Record<string, ScopeUsage> = {}
    for (const [p, s] of this.#protocols) protocols[p] = s.usage()
    const services: Record<string, ScopeUsage & { reported: number }> = {}
    for (const [name, s] of this.#services) services[name] = { ...s.usage(), reported: 0 }
    for (const [name, set] of this.#reporters) {
      let reported = 0
      for (const f of set) {
        const n = f()
        if (Number.isFinite(n) && n > 0) reported += n
      }
      services[name] = { ...(services[name] ?? ZERO()), reported }
    }
    const out: ResourceUsage = {
      system: this.#system.usage(), transient: this.#transient.usage(), peers: this.#peers.size,
      protocols, services, blocked: this.#blockedList(),
      warnings: this.#highWater === undefined ? [] : coherenceWarnings(this.limits, this.#highWater),
    }
    if (options.peers === true) out.byPeer = Object.fromEntries([...this.#peers].map(([p, s]) => [p, s.usage()]))
    return out
  }

  snapshot(): ResourceSnapshot {
    const scopes: ResourceSnapshot['scopes'] = [
      { scope: 'system', usage: this.#system.usage(), limits: this.#system.limits },
      { scope: 'transient', usage: this.#transient.usage(), limits: this.#transient.limits },
    ]
    for (const [name, s] of this.#protocols) scopes.push({ scope: 'protocol', name, usage: s.usage(), limits: s.limits })
    for (const [name, s] of this.#services) scopes.push({ scope: 'service', name, usage: s.usage(), limits: s.limits })
    return {
      scopes,
      peers: [...this.#peers.values()].map((s) => s.usage()),
      connections: [...this.#conns.values()].map((c) => c.scope.usage()),
      blocked: this.#blockedList(),
    }
  }

  #blockedList(): BlockedCount[] {
    return [...this.#blocked.values()].map((b) => ({ ...b }))
  }
}
