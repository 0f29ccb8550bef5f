/**
 * The swarm's dial state machine: at most one pending dial per peer, its addresses tried one at a
 * time, and everyone waiting on it (a user's dial, a behaviour's dial, a stream opening that needs
 * a connection first).
 *
 * Pure and testable alone: it owns no connection. The swarm is its host (`DialHost`): it reuses open
 * connections, reads the peer store, starts transport connections and routes each waiter's outcome.
 * Inputs from the swarm: `dial` (a request), `attemptFailed` (the current address did not give a
 * connection), `succeed` (a connection to the peer is up), `fail`, `cancel` (a waiter gave up) and
 * `abortAll` (stop). Outcomes go out through `host.notify` exactly once per waiter.
 *
 * A failed dial is a `DialError` (src/core/errors.ts) whose `attempts` lists each address tried with
 * its own cause: `dial/no-addresses`, `dial/all-failed`, `dial/timeout` (every attempt timed out),
 * `dial/aborted`, `dial/too-many-pending`, `dial/connection-limit`, `dial/self`, `dial/denied` (the
 * gater refused every address), `dial/resource-limit` (the resource manager refused every one).
 */
import { DialError, type DialAttempt } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { Owner } from './types.js'
import type { DialOptions } from './behaviour.js'
import { isLimitedAddr } from './limited.js'

/** Who gets the outcome of a dial or a stream opening. */
export interface DialWaiter {
  owner: Owner
  requestId: number
  /** Set when the dial serves an open-stream request. */
  openStream?: { protocols: readonly string[]; allowLimited?: boolean }
  /** How to dial (force a new connection, act as the responder). */
  options?: DialOptions
}

export interface Dial {
  readonly id: number
  readonly peer: PeerId | undefined
  /** Every address this dial will try, at most `maxDialAddrs`; `next` indexes the next one. */
  readonly addrs: Multiaddr[]
  /** `addrs` as strings, to merge new addresses without a quadratic scan. */
  readonly keys: Set<string>
  next: number
  /** The connection id of the attempt in flight. */
  attempt: number | undefined
  readonly waiters: DialWaiter[]
  readonly attempts: DialAttempt[]
  /** The first waiter's options: a forced dial is alone, never joined. */
  readonly options: DialOptions | undefined
}

export interface DialLimits {
  /** Dials in flight (SwarmLimits.maxPendingDials). */
  maxPendingDials: number
  /** Addresses tried per dial, counting addresses merged into a pending dial (SwarmLimits.maxDialAddrs). */
  maxDialAddrs: number
}

export interface DialHost<C> {
  readonly localPeer: PeerId
  /** True once the swarm stopped: every dial fails with dial/aborted. */
  readonly stopped: boolean
  /**
   * An open connection to `peer` a new dial can reuse, a direct one first; a limited (relayed) one
   * only when `limitedOk` (a dial by peer id or by a circuit address, not by a direct address).
   */
  openConnection(peer: PeerId, limitedOk: boolean): C | undefined
  /** The addresses the peer store knows for `peer`. */
  knownAddrs(peer: PeerId): readonly Multiaddr[]
  /**
   * Start a transport connection to `addr` for `d`: its id; an Error when the swarm's policy refuses
   * this address (the gater, a resource limit: the next address is tried); undefined at the
   * connection limit (the dial fails).
   */
  connect(d: Dial, addr: Multiaddr): number | Error | undefined
  /** Close an attempt's connection nobody waits for any more (every waiter cancelled). */
  abandon(connection: number): void
  /** The outcome for one waiter: a connection, or an error. */
  notify(w: DialWaiter, c: C | undefined, error: DialError | undefined): void
}

export class Dials<C> {
  readonly #host: DialHost<C>
  readonly #limits: DialLimits
  readonly #dials = new Map<number, Dial>()
  readonly #byPeer = new Map<string, Dial>()
  #nextId = 1

  constructor(host: DialHost<C>, limits: DialLimits) {
    this.#host = host
    this.#limits = limits
  }

  get size(): number {
    return this.#dials.size
  }

  /** The pending dial to `peer`, if any. */
  pendingFor(peer: PeerId): Dial | undefined {
    return this.#byPeer.get(peer.toString())
  }

  /** True while `d` has not succeeded or failed. */
  isActive(d: Dial): boolean {
    return this.#dials.get(d.id) === d
  }

  /**
   * Dial a peer id (its `addrs`, then the peer store's) or an address. Joins the pending dial to the
   * same peer, merging the new addresses into it within `maxDialAddrs`.
   */
  dial(target: PeerId | Multiaddr, waiter: DialWaiter, addrs: readonly Multiaddr[] = []): void {
    const host = this.#host
    const fail = (code: ConstructorParameters<typeof DialError>[0], message: string): void => host.notify(waiter, undefined, new DialError(code, message))
    if (host.stopped) return fail('dial/aborted', 'swarm stopped')
    let peer: PeerId | undefined
    let candidates: readonly Multiaddr[]
    if (isPeerId(target)) {
      peer = target
      candidates = addrs.length === 0 ? host.knownAddrs(peer) : [...addrs, ...host.knownAddrs(peer)]
    } else {
      const mh = target.getPeerIdBytes()
      peer = mh === undefined ? undefined : PeerId.fromMultihash(mh)
      candidates = [target]
    }
    if (peer !== undefined && peer.equals(host.localPeer)) return fail('dial/self', 'cannot dial our own peer id')
    const force = waiter.options?.force === true
    if (peer !== undefined && !force) {
      const open = host.openConnection(peer, isPeerId(target) || isLimitedAddr(target))
      if (open !== undefined) return host.notify(waiter, open, undefined)
      const pending = this.#byPeer.get(peer.toString())
      if (pending !== undefined) {
        pending.waiters.push(waiter)
        this.#merge(pending, candidates)
        return
      }
    }
    if (candidates.length === 0) return fail('dial/no-addresses', `no known addresses for ${peer?.toString() ?? '?'}`)
    if (this.#dials.size >= this.#limits.maxPendingDials) return fail('dial/too-many-pending', `${this.#dials.size} dials in flight`)
    const d: Dial = { id: this.#nextId++, peer, addrs: [], keys: new Set(), next: 0, attempt: undefined, waiters: [waiter], attempts: [], options: waiter.options }
    this.#merge(d, candidates)
    this.#dials.set(d.id, d)
    if (peer !== undefined && !force) this.#byPeer.set(peer.toString(), d)
    this.#tryNext(d)
  }

  /** The attempt in flight failed (transport, upgrade or a close before it was established). */
  attemptFailed(d: Dial, error: Error): void {
    if (!this.isActive(d)) return
    const addr = d.next > 0 ? d.addrs[d.next - 1]! : undefined
    d.attempts.push({ addr: addr?.toString() ?? '?', error })
    d.attempt = undefined
    this.#tryNext(d)
  }

  /** A connection to the dial's peer is established: every waiter gets it. */
  succeed(d: Dial, c: C): void {
    if (!this.#remove(d)) return
    for (const w of d.waiters) this.#host.notify(w, c, undefined)
  }

  fail(d: Dial, error: DialError): void {
    if (!this.#remove(d)) return
    for (const w of d.waiters) this.#host.notify(w, undefined, error)
  }

  /**
   * A waiter gave up (its AbortSignal fired): drop it. A dial nobody waits for any more ends and its
   * attempt's connection is closed. Returns true when the waiter was found.
   */
  cancel(match: (w: DialWaiter) => boolean): boolean {
    let found = false
    for (const d of [...this.#dials.values()]) {
      const i = d.waiters.findIndex(match)
      if (i < 0) continue
      d.waiters.splice(i, 1)
      found = true
      if (d.waiters.length === 0) {
        this.#remove(d)
        if (d.attempt !== undefined) this.#host.abandon(d.attempt)
      }
    }
    return found
  }

  /** Fail every pending dial (the swarm stops). */
  abortAll(message: string): void {
    for (const d of [...this.#dials.values()]) this.fail(d, new DialError('dial/aborted', message, d.attempts))
  }

  #merge(d: Dial, addrs: readonly Multiaddr[]): void {
    for (const a of addrs) {
      if (d.addrs.length >= this.#limits.maxDialAddrs) return
      const k = a.toString()
      if (d.keys.has(k)) continue
      d.keys.add(k)
      d.addrs.push(a)
    }
  }

  #tryNext(d: Dial): void {
    if (d.next >= d.addrs.length) {
      const all = (c: string): boolean => d.attempts.length > 0 && d.attempts.every((a) => (a.error as { code?: unknown }).code === c)
      const code = all('transport/timeout') ? 'dial/timeout' : all('gater/denied') ? 'dial/denied' : all('resource/limit-exceeded') ? 'dial/resource-limit' : 'dial/all-failed'
      this.fail(d, new DialError(code, `${d.attempts.length} address(es) tried for ${d.peer?.toString() ?? d.addrs[0]?.toString() ?? '?'}: ${d.attempts.map((a) => `${a.addr} (${a.error.message})`).join(', ')}`, d.attempts))
      return
    }
    const addr = d.addrs[d.next++]!
    const id = this.#host.connect(d, addr)
    if (id === undefined) {
      this.fail(d, new DialError('dial/connection-limit', 'the swarm is at its connection limit', d.attempts))
      return
    }
    if (id instanceof Error) {
      d.attempts.push({ addr: addr.toString(), error: id })
      this.#tryNext(d)
      return
    }
    d.attempt = id
  }

  #remove(d: Dial): boolean {
    if (!this.isActive(d)) return false
    this.#dials.delete(d.id)
    if (d.peer !== undefined && this.#byPeer.get(d.peer.toString()) === d) this.#byPeer.delete(d.peer.toString())
    return true
  }
}

export function isPeerId(x: PeerId | Multiaddr): x is PeerId {
  return 'multihash' in x
}
