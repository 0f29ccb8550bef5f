/**
 * The connection manager: keeps the number of established connections between two watermarks.
 *
 * When the count passes `highWater`, it closes the least valuable connections until `lowWater` of
 * the trimmable ones remain (go-libp2p's BasicConnMgr semantics, spec/connection-manager.md):
 *
 * - a peer's value is the sum of its tags (set by protocols and the user: `tag`, `upsertTag`, decaying
 *   tags); a protected peer (`protect(peer, reason)`) is never trimmed; a peer first seen less than
 *   `gracePeriodMs` ago is never trimmed;
 * - when fewer than `lowWater` connections are trimmable (outside the grace period, not protected),
 *   nothing is trimmed: trimming then would close connections that had no chance to prove useful;
 * - order: temporary entries (tags set before any connection) first, then the lowest value, then peers
 *   with no open stream, then peers with an inbound connection, then fewer streams; ties close the
 *   most recently seen peer first;
 * - at most one automatic trim per `silencePeriodMs`.
 *
 * Pure, like every core: `now` in, deadlines out (`pollTimeout` / `handleTimeout`), the connections to
 * close out through `pollClose()` (the swarm closes them with GoAway code 0x1005, GarbageCollected).
 * The user API (tag, protect, ...) takes no time: it reads the clock the node edge hands in
 * (`setDriver`), else the latest `now` an input brought.
 *
 * The swarm tells it about connections and streams through src/swarm/policy.ts (`connected`,
 * `disconnected`, `streamOpened`, `streamClosed`); behaviours tag and protect peers through the
 * `tag-peer` / `protect-peer` actions.
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import { bumpSum } from './conn-manager-decay.js'
import type { BumpFn, DecayFn, DecayingTag } from './conn-manager-decay.js'
import { DEFAULT_CONNECTION_MANAGER, compareForTrim } from './conn-manager-options.js'
import { ConnCloseCode } from '../core/close-codes.js'
import type { ConnectionManagerDriver, ConnectionManagerInfo, ConnectionManagerOptions, TagInfo, TrimCandidate, TrimClose } from './conn-manager-options.js'

export * from './conn-manager-decay.js'
export * from './conn-manager-options.js'

interface PeerEntry {
  readonly key: string
  readonly peer: PeerId
  firstSeen: Millis
  temporary: boolean
  /** tags and decaying: undefined until the first one (an idle peer holds no empty tables). */
  tags: Map<string, number> | undefined
  decaying: Map<string, { added: Millis; lastVisit: Millis; value: number }> | undefined
  value: number
  readonly conns: Set<number>
}

interface ConnEntry {
  readonly id: number
  readonly peer: string
  readonly direction: 'inbound' | 'outbound'
  readonly openedAt: Millis
  streams: number
  closing: boolean
}

interface DecayingTagState {
  readonly name: string
  readonly intervalMs: number
  readonly decay: DecayFn
  readonly bump: BumpFn
  next: Millis
  /** Peers holding a value of this tag. */
  readonly peers: Set<string>
}

/**
 * Keeps the number of connections between the watermarks (go-libp2p's connmgr): tags and decaying tags
 * give peers a value, protected peers are never trimmed, and the lowest-valued connections outside the
 * grace period are closed with 'close/garbage-collected'. `node.connectionManager` gives it.
 */
export class ConnectionManager {
  readonly options: Readonly<ConnectionManagerOptions>
  #now: Millis = 0
  readonly #peers = new Map<string, PeerEntry>()
  /** The temporary entries, oldest first. */
  readonly #temporary = new Map<string, PeerEntry>()
  readonly #conns = new Map<number, ConnEntry>()
  readonly #protected = new Map<string, Set<string>>()
  readonly #decaying = new Map<string, DecayingTagState>()
  readonly #closes: TrimClose[] = []
  #live = 0
  #lastTrim: Millis | undefined
  #trimDue: Millis | undefined
  #trims = 0
  #trimmed = 0
  #evicted = 0
  #dropped = 0
  #driver: ConnectionManagerDriver | undefined

  constructor(options: Partial<ConnectionManagerOptions> = {}) {
    const grace = options.gracePeriodMs ?? DEFAULT_CONNECTION_MANAGER.gracePeriodMs
    const o: ConnectionManagerOptions = { ...DEFAULT_CONNECTION_MANAGER, temporaryEntryTimeoutMs: grace, ...definedOnly(options) }
    for (const [name, v] of Object.entries(o)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`connectionManager.${name} must be a non-negative integer`)
    }
    if (o.lowWater > o.highWater) throw new RangeError('connectionManager.lowWater must not exceed highWater')
    if (o.maxTemporaryEntries < 1) throw new RangeError('connectionManager.maxTemporaryEntries must be at least 1')
    this.options = Object.freeze(o)
  }

  // ---- the swarm's side -------------------------------------------------------------------------

  /** An established connection (after the security handshake). A second call for the same id is ignored. */
  connected(now: Millis, connection: { id: number; peer: PeerId; direction: 'inbound' | 'outbound' }): void {
    this.#now = now
    if (this.#conns.has(connection.id)) return
    const key = connection.peer.toString()
    let entry = this.#peers.get(key)
    if (entry === undefined) {
      entry = newEntry(key, connection.peer, now, false)
      this.#peers.set(key, entry)
    } else if (entry.temporary) {
      // early tags are kept; the grace period starts with the first connection (go)
      entry.temporary = false
      entry.firstSeen = now
      this.#temporary.delete(key)
    }
    entry.conns.add(connection.id)
    this.#conns.set(connection.id, { id: connection.id, peer: key, direction: connection.direction, openedAt: now, streams: 0, closing: false })
    this.#live++
    this.#scheduleTrim(now)
    if (this.#trimDue !== undefined && this.#trimDue <= now) this.#autoTrim(now)
  }

  /** A connection reported by `connected` is gone. Its peer's entry (and tags) goes with its last connection, as in go. */
  disconnected(now: Millis, id: number): void {
    this.#now = now
    const c = this.#conns.get(id)
    if (c === undefined) return
    this.#conns.delete(id)
    if (!c.closing) this.#live--
    const entry = this.#peers.get(c.peer)
    if (entry !== undefined) {
      entry.conns.delete(id)
      if (entry.conns.size === 0) this.#dropEntry(entry)
    }
    if (this.#live <= this.options.highWater) this.#trimDue = undefined
  }

  /** @internal Called by the swarm: a stream opened on `connection`. */
  streamOpened(connection: number): void {
    const c = this.#conns.get(connection)
    if (c !== undefined) c.streams++
  }

  /** @internal Called by the swarm: a stream closed on `connection`. */
  streamClosed(connection: number): void {
    const c = this.#conns.get(connection)
    if (c !== undefined && c.streams > 0) c.streams--
  }

  /** The next connection to close (a trim), or undefined. */
  pollClose(): TrimClose | undefined {
    return this.#closes.shift()
  }

  /** @internal The next trim or decay deadline (monotonic ms). */
  pollTimeout(): Millis | undefined {
    let t = this.#trimDue
    const oldest = this.#temporary.values().next().value as PeerEntry | undefined
    if (oldest !== undefined) t = min(t, oldest.firstSeen + this.options.temporaryEntryTimeoutMs)
    for (const d of this.#decaying.values()) if (d.peers.size > 0) t = min(t, d.next)
    return t
  }

  /** @internal Called by the swarm when `pollTimeout` passed. */
  handleTimeout(now: Millis): void {
    this.#now = now
    for (const e of this.#temporary.values()) {
      if (e.firstSeen + this.options.temporaryEntryTimeoutMs > now) break
      this.#dropEntry(e)
    }
    for (const d of this.#decaying.values()) {
      if (d.next > now || d.peers.size === 0) continue
      d.next = now + d.intervalMs
      for (const key of [...d.peers]) {
        const e = this.#peers.get(key)
        const v = e?.decaying?.get(d.name)
        if (e === undefined || v === undefined) continue
        this.#setDecaying(e, d, d.decay({ tag: d.name, peer: e.peer, ...v }, now), v.lastVisit)
      }
    }
    if (this.#trimDue !== undefined && this.#trimDue <= now) this.#autoTrim(now)
  }

  // ---- the user's side --------------------------------------------------------------------------

  /**
   * The IO driver's hooks, set by the node edge: `now()` gives the user API its time (a temporary
   * entry's first seen, a manual trim), `wake()` lets the swarm close what a manual trim picked at once.
   */
  setDriver(driver: ConnectionManagerDriver | undefined): void {
    this.#driver = driver
  }

  /** Set `tag` on `peer` to `value` (a peer not connected gets a temporary entry). */
  tag(peer: PeerId, tag: string, value: number): void {
    this.upsertTag(peer, tag, () => value)
  }

  /** Remove `tag` from `peer`; a no-op for an unknown peer or tag. */
  untag(peer: PeerId, tag: string): void {
    const e = this.#peers.get(peer.toString())
    const old = e?.tags?.get(tag)
    if (e === undefined || old === undefined) return
    e.tags!.delete(tag)
    e.value -= old
  }

  /** Set `tag` on `peer` to `upsert(old)`, where old is 0 when the tag is not set. */
  upsertTag(peer: PeerId, tag: string, upsert: (old: number) => number): void {
    if (typeof tag !== 'string') throw new TypeError('tag must be a string')
    const key = peer.toString()
    const existing = this.#peers.get(key)
    const old = existing?.tags?.get(tag)
    if (existing !== undefined && old === undefined) this.#checkTagRoom(existing)
    const value = upsert(old ?? 0)
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError('a tag value must be a finite number')
    const e = existing ?? this.#entryFor(peer, key)
    ;(e.tags ??= new Map()).set(tag, value)
    e.value += value - (old ?? 0)
  }

  /** Protect `peer` from trimming for `reason` (several reasons may hold at once; idempotent). */
  protect(peer: PeerId, reason: string): void {
    if (typeof reason !== 'string') throw new TypeError('reason must be a string')
    const key = peer.toString()
    let reasons = this.#protected.get(key)
    if (reasons === undefined) {
      if (this.#protected.size >= this.options.maxProtectedPeers) throw new UsageError('connmgr/too-many-protected', `more than ${this.options.maxProtectedPeers} protected peers`)
      reasons = new Set()
      this.#protected.set(key, reasons)
    }
    if (!reasons.has(reason) && reasons.size >= this.options.maxProtectReasonsPerPeer) {
      throw new UsageError('connmgr/too-many-protect-reasons', `more than ${this.options.maxProtectReasonsPerPeer} protection reasons for one peer`)
    }
    reasons.add(reason)
  }

  /** Drop the protection `reason` from `peer`; returns whether the peer is still protected (for another reason). */
  unprotect(peer: PeerId, reason: string): boolean {
    const key = peer.toString()
    const reasons = this.#protected.get(key)
    if (reasons === undefined) return false
    reasons.delete(reason)
    if (reasons.size > 0) return true
    this.#protected.delete(key)
    return false
  }

  /** Whether `peer` is protected: for `reason`, or for any reason when it is undefined. */
  isProtected(peer: PeerId, reason?: string): boolean {
    const reasons = this.#protected.get(peer.toString())
    if (reasons === undefined) return false
    return reason === undefined || reasons.has(reason)
  }

  /** A snapshot of what the manager knows of `peer`, or undefined when it tracks nothing for it. */
  getTagInfo(peer: PeerId): TagInfo | undefined {
    const e = this.#peers.get(peer.toString())
    if (e === undefined) return undefined
    const tags = new Map(e.tags)
    for (const [name, v] of e.decaying ?? []) tags.set(name, v.value)
    const conns = [...e.conns].map((id) => {
      const c = this.#conns.get(id)!
      return { id, direction: c.direction, openedAt: c.openedAt, streams: c.streams }
    })
    return { firstSeen: e.firstSeen, value: e.value, tags, temporary: e.temporary, conns }
  }

  /**
   * Trim now, whatever the count against high water and the silence period (go's TrimOpenConns): close
   * the least valuable connections until `lowWater` trimmable ones remain. Returns how many it closed.
   */
  trim(now?: Millis): number {
    const t = now ?? this.#time()
    this.#now = Math.max(this.#now, t)
    const n = this.#trim(t)
    this.#scheduleTrim(t)
    if (n > 0 && now === undefined) this.#driver?.wake()
    return n
  }

  /** Register a decaying tag: every `intervalMs` each peer's value becomes `decay(value)`; 0 or less removes it. */
  registerDecayingTag(name: string, intervalMs: number, decay: DecayFn, bump: BumpFn = bumpSum()): DecayingTag {
    if (typeof name !== 'string') throw new TypeError('name must be a string')
    if (!Number.isInteger(intervalMs) || intervalMs <= 0) throw new RangeError('intervalMs must be a positive integer')
    if (this.#decaying.has(name)) throw new UsageError('connmgr/decaying-tag-exists', `a decaying tag named ${name} is registered`)
    if (this.#decaying.size >= this.options.maxDecayingTags) throw new UsageError('connmgr/too-many-decaying-tags', `more than ${this.options.maxDecayingTags} decaying tags`)
    const d: DecayingTagState = { name, intervalMs, decay, bump, next: this.#now + intervalMs, peers: new Set() }
    this.#decaying.set(name, d)
    const live = (): void => {
      if (this.#decaying.get(name) !== d) throw new UsageError('connmgr/decaying-tag-closed', `decaying tag ${name} is closed`)
    }
    return {
      name,
      intervalMs,
      bump: (peer, delta) => {
        live()
        if (typeof delta !== 'number' || !Number.isFinite(delta)) throw new TypeError('delta must be a finite number')
        const key = peer.toString()
        const existing = this.#peers.get(key)
        const v = existing?.decaying?.get(name)
        if (existing !== undefined && v === undefined) this.#checkTagRoom(existing)
        const now = this.#time()
        const e = existing ?? this.#entryFor(peer, key)
        const cur = v ?? { added: now, lastVisit: now, value: 0 }
        this.#setDecaying(e, d, d.bump({ tag: name, peer, ...cur }, delta), now, cur.added)
      },
      remove: (peer) => {
        live()
        const e = this.#peers.get(peer.toString())
        if (e !== undefined) this.#setDecaying(e, d, 0, 0)
      },
      close: () => {
        if (this.#decaying.get(name) !== d) return
        for (const key of d.peers) {
          const e = this.#peers.get(key)
          const v = e?.decaying?.get(name)
          if (e === undefined || v === undefined) continue
          e.decaying!.delete(name)
          e.value -= v.value
        }
        this.#decaying.delete(name)
      },
    }
  }

  /**
   * A `tag-peer` action from a behaviour (src/swarm/policy.ts): `value` undefined untags. A bound
   * reached drops the action (counted in `info().droppedActions`) instead of throwing at the behaviour.
   */
  tagFromBehaviour(now: Millis, peer: PeerId, tag: string, value: number | undefined): boolean {
    this.#now = Math.max(this.#now, now)
    return this.#orDrop(() => (value === undefined ? this.untag(peer, tag) : this.tag(peer, tag, value)))
  }

  /** A `protect-peer` action from a behaviour; a bound reached drops it (counted). */
  protectFromBehaviour(now: Millis, peer: PeerId, reason: string, protect: boolean): boolean {
    this.#now = Math.max(this.#now, now)
    return this.#orDrop(() => (protect ? this.protect(peer, reason) : void this.unprotect(peer, reason)))
  }

  #orDrop(f: () => void): boolean {
    try {
      f()
      return true
    } catch (e) {
      // a bound (UsageError) drops the action; anything else is a behaviour's bug, contained by the swarm
      if (!(e instanceof UsageError)) throw e
      this.#dropped++
      return false
    }
  }

  /** The watermarks, connection counts and tags, for diagnostics. */
  info(): ConnectionManagerInfo {
    const o = this.options
    return {
      lowWater: o.lowWater,
      highWater: o.highWater,
      gracePeriodMs: o.gracePeriodMs,
      silencePeriodMs: o.silencePeriodMs,
      connections: this.#live,
      lastTrim: this.#lastTrim,
      trims: this.#trims,
      trimmedConnections: this.#trimmed,
      evictedTemporaryEntries: this.#evicted,
      droppedActions: this.#dropped,
    }
  }

  /**
   * The coherence rule with a hard connection limit (the resource manager's system scope, the swarm's
   * maxConnections): high water must stay under it, or the limit refuses connections the manager
   * would have trimmed (go-libp2p #2628). Returns a warning, or undefined when coherent.
   */
  checkLimit(systemConnectionLimit: number, name = 'system connection limit'): string | undefined {
    if (this.options.highWater <= systemConnectionLimit) return undefined
    return `connection manager high water ${this.options.highWater} exceeds the ${name} of ${systemConnectionLimit}: connections past it are refused instead of trimmed`
  }

  /** How many peer entries it holds (connected and temporary); for tests and metrics. */
  get trackedPeers(): number {
    return this.#peers.size
  }

  // ---- internals --------------------------------------------------------------------------------

  /** The latest time: the driver's clock when set, else the latest input's. */
  #time(): Millis {
    const t = this.#driver?.now()
    if (t !== undefined && t > this.#now) this.#now = t
    return this.#now
  }

  #entryFor(peer: PeerId, key: string): PeerEntry {
    if (this.#temporary.size >= this.options.maxTemporaryEntries) {
      const oldest = this.#temporary.values().next().value as PeerEntry
      this.#dropEntry(oldest)
      this.#evicted++
    }
    const e = newEntry(key, peer, this.#time(), true)
    this.#peers.set(key, e)
    this.#temporary.set(key, e)
    return e
  }

  #dropEntry(e: PeerEntry): void {
    this.#peers.delete(e.key)
    this.#temporary.delete(e.key)
    for (const name of e.decaying?.keys() ?? []) this.#decaying.get(name)?.peers.delete(e.key)
  }

  #checkTagRoom(e: PeerEntry): void {
    if ((e.tags?.size ?? 0) + (e.decaying?.size ?? 0) >= this.options.maxTagsPerPeer) {
      throw new UsageError('connmgr/too-many-tags', `more than ${this.options.maxTagsPerPeer} tags on one peer`)
    }
  }

  #setDecaying(e: PeerEntry, d: DecayingTagState, value: number, lastVisit: Millis, added?: Millis): void {
    const old = e.decaying?.get(d.name)
    const oldValue = old?.value ?? 0
    if (!(value > 0)) {
      if (old === undefined) return
      e.decaying!.delete(d.name)
      d.peers.delete(e.key)
      e.value -= oldValue
      return
    }
    ;(e.decaying ??= new Map()).set(d.name, { added: added ?? old?.added ?? this.#now, lastVisit, value })
    // a tag with no peers has no deadline (pollTimeout skips it): its first value starts a fresh interval
    if (d.peers.size === 0) d.next = this.#now + d.intervalMs
    d.peers.add(e.key)
    e.value += value - oldValue
  }

  #scheduleTrim(now: Millis): void {
    const o = this.options
    if (o.lowWater === 0 || o.highWater === 0 || this.#live <= o.highWater) {
      this.#trimDue = undefined
      return
    }
    const due = this.#lastTrim === undefined ? now : Math.max(now, this.#lastTrim + o.silencePeriodMs)
    if (this.#trimDue === undefined || due < this.#trimDue) this.#trimDue = due
  }

  #autoTrim(now: Millis): void {
    this.#trimDue = undefined
    if (this.#live > this.options.highWater) this.#trim(now)
    this.#scheduleTrim(now)
  }

  /** go's getConnsToClose; queues the closes and returns how many. */
  #trim(now: Millis): number {
    const o = this.options
    this.#lastTrim = now
    this.#trims++
    if (o.lowWater === 0 || o.highWater === 0 || this.#live <= o.lowWater) return 0
    const graceStart = now - o.gracePeriodMs
    const candidates: { entry: PeerEntry; c: TrimCandidate; open: ConnEntry[] }[] = []
    let ncandidates = 0
    for (const e of this.#peers.values()) {
      if (this.#protected.has(e.key) || e.firstSeen > graceStart) continue
      const open: ConnEntry[] = []
      let streams = 0
      let inbound = false
      for (const id of e.conns) {
        const c = this.#conns.get(id)!
        if (c.closing) continue
        open.push(c)
        streams += c.streams
        if (c.direction === 'inbound') inbound = true
      }
      if (open.length === 0 && !e.temporary) continue
      ncandidates += open.length
      candidates.push({ entry: e, open, c: { key: e.key, temporary: e.temporary, value: e.value, streams, inbound, firstSeen: e.firstSeen } })
    }
    // fewer than low water trimmable (the rest protected or in their grace period): trimming now would
    // close connections that had no chance to prove useful (go; the target below would be negative anyway)
    if (ncandidates < o.lowWater) return 0
    candidates.sort((a, b) => compareForTrim(a.c, b.c))
    let target = ncandidates - o.lowWater
    let closed = 0
    for (const { entry, c, open } of candidates) {
      if (target <= 0) break
      if (entry.temporary) {
        this.#dropEntry(entry)
        continue
      }
      for (const conn of open) {
        conn.closing = true
        this.#live--
        closed++
        this.#closes.push({
          connection: conn.id,
          peer: entry.peer,
          code: ConnCloseCode.GarbageCollected,
          reason: `connection manager: trimmed to low water ${o.lowWater} (peer value ${c.value}, ${c.streams} streams, ${conn.direction})`,
        })
      }
      target -= open.length
    }
    this.#trimmed += closed
    return closed
  }
}

function newEntry(key: string, peer: PeerId, now: Millis, temporary: boolean): PeerEntry {
  return { key, peer, firstSeen: now, temporary, tags: undefined, decaying: undefined, value: 0, conns: new Set() }
}

function min(a: Millis | undefined, b: Millis): Millis {
  return a === undefined || b < a ? b : a
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
