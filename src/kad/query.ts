/**
 * The iterative lookup (libp2p/specs kad-dht/README.md, "Peer routing"), as a pure state machine
 * with no IO, no time and no randomness: the behaviour asks it whom to contact next and tells it
 * how each request ended. The same engine drives FIND_NODE, GET_VALUE and GET_PROVIDERS lookups.
 *
 * State (spec names): `Pn`, the candidates sorted by distance to the target, and `Pq`, the peers
 * already queried. Each peer is in one of: candidate (not yet asked), in-flight, succeeded, failed.
 *
 * - `next()` hands out the closest candidate while fewer than `alpha` requests are in flight and
 *   the candidate is among the `k` closest peers not known to have failed (asking a peer farther
 *   than that could not change the result).
 * - `succeeded(peer, closer)` merges the response's closer peers into `Pn` ("except for those that
 *   have already been queried"); `failed(peer)` discards the peer (error or timeout).
 * - Termination: "when the initiator has queried and gotten responses from the k closest nodes it
 *   has seen", or early when nothing is in flight and no candidate is left ("queried all known
 *   nodes"). `finish()` ends it at once (a GET_VALUE quorum, a found peer, a timeout).
 *
 * The candidate set is bounded (`maxPeers`, default 10·k): a lookup is fed up to k peers per
 * response, and peers far beyond the k closest can never be asked, so the farthest are dropped.
 *
 * Hops: seeds are at hop 1; a peer first learned from a response of a hop-h peer is at hop h+1.
 * `stats()` reports the hop of the closest peer in the result and the requests made.
 */
import type { PeerId } from '../peer-id/index.js'
import { compareDistance, peerKey } from './key.js'

/** A peer's state in a query: not asked yet, asked, answered, or failed (kad-dht "Peer routing"). */
export type QueryPeerState = 'candidate' | 'in-flight' | 'succeeded' | 'failed'

/** A peer seen by a query: its key, state and the hop at which it was learned. */
export interface QueryPeer {
  readonly peer: PeerId
  /** peerKey(peer) */
  readonly id: string
  readonly key: Uint8Array
  state: QueryPeerState
  readonly hop: number
}

/** Options of `ClosestPeersQuery`: `k` results (default 20), `alpha` requests in flight (default 3). */
export interface QueryOptions {
  /** Results wanted, the closest k peers (the spec's replication parameter). Default 20. */
  k?: number
  /** Requests in flight at once (the spec's concurrency parameter α). Default 3. */
  alpha?: number
  /** Peers remembered by the lookup. Default 10·k. */
  maxPeers?: number
}

/**
 * The iterative lookup of kad-dht "Peer routing": ask the α closest candidates not yet asked, add the
 * closer peers they return, and stop when the k closest have all answered.
 */
export class ClosestPeersQuery {
  readonly target: Uint8Array
  readonly k: number
  readonly alpha: number
  readonly #maxPeers: number
  /** Every peer seen, sorted by distance to the target, closest first. */
  readonly #peers: QueryPeer[] = []
  readonly #byId = new Map<string, QueryPeer>()
  #inFlight = 0
  #requests = 0
  #finished = false

  constructor(target: Uint8Array, seeds: readonly { peer: PeerId; key: Uint8Array }[], options: QueryOptions = {}) {
    this.target = target.slice()
    this.k = options.k ?? 20
    this.alpha = options.alpha ?? 3
    if (!Number.isSafeInteger(this.k) || this.k < 1) throw new RangeError('k must be a positive integer')
    if (!Number.isSafeInteger(this.alpha) || this.alpha < 1) throw new RangeError('alpha must be a positive integer')
    this.#maxPeers = options.maxPeers ?? 10 * this.k
    for (const s of seeds) this.#add(s.peer, s.key, 1)
  }

  /** Requests sent and not yet answered or failed. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Requests sent so far. */
  get requests(): number {
    return this.#requests
  }

  /** The next peer to ask, or undefined (alpha in flight, nothing useful left, or finished). */
  next(): PeerId | undefined {
    if (this.#finished || this.#inFlight >= this.alpha) return undefined
    let live = 0
    for (const p of this.#peers) {
      if (p.state === 'failed') continue
      if (live >= this.k) return undefined
      live++
      if (p.state === 'candidate') {
        p.state = 'in-flight'
        this.#inFlight++
        this.#requests++
        return p.peer
      }
    }
    return undefined
  }

  /** `peer` answered; `closer` are the peers it returned (with their kad keys). */
  succeeded(peer: PeerId, closer: readonly { peer: PeerId; key: Uint8Array }[]): void {
    const p = this.#byId.get(peerKey(peer))
    if (p === undefined || p.state !== 'in-flight') return
    p.state = 'succeeded'
    this.#inFlight--
    if (this.#finished) return
    for (const c of closer) this.#add(c.peer, c.key, p.hop + 1)
  }

  /** The request to `peer` failed or timed out. */
  failed(peer: PeerId): void {
    const p = this.#byId.get(peerKey(peer))
    if (p === undefined || p.state !== 'in-flight') return
    p.state = 'failed'
    this.#inFlight--
  }

  /** Whether `peer` has a request in flight. */
  isInFlight(peer: PeerId): boolean {
    return this.#byId.get(peerKey(peer))?.state === 'in-flight'
  }

  /** End the lookup now: `next()` returns nothing more; in-flight answers are still accepted. */
  finish(): void {
    this.#finished = true
  }

  /**
   * True once the k closest non-failed peers have all answered, or no request is in flight and
   * no candidate can be asked, or `finish()` was called.
   */
  get done(): boolean {
    if (this.#finished) return true
    let live = 0
    for (const p of this.#peers) {
      if (p.state === 'failed') continue
      if (live >= this.k) break
      live++
      if (p.state !== 'succeeded') return false
    }
    return true
  }

  /** The closest peers that answered, at most k, closest first. */
  closest(): QueryPeer[] {
    const out: QueryPeer[] = []
    for (const p of this.#peers) {
      if (p.state !== 'succeeded') continue
      out.push(p)
      if (out.length >= this.k) break
    }
    return out
  }

  /** Every peer of the lookup in distance order (for tests and diagnostics). */
  peers(): readonly QueryPeer[] {
    return this.#peers
  }

  /** Hop depth of the closest peer and the number of requests made so far. */
  stats(): { hops: number; requests: number } {
    const best = this.closest()[0]
    return { hops: best?.hop ?? 0, requests: this.#requests }
  }

  #add(peer: PeerId, key: Uint8Array, hop: number): void {
    const id = peerKey(peer)
    if (this.#byId.has(id)) return
    // Binary search for the insertion point (the list stays sorted by distance).
    let lo = 0
    let hi = this.#peers.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareDistance(this.target, this.#peers[mid]!.key, key) < 0) lo = mid + 1
      else hi = mid
    }
    if (lo >= this.#maxPeers) return
    const qp: QueryPeer = { peer, id, key, state: 'candidate', hop }
    this.#peers.splice(lo, 0, qp)
    this.#byId.set(id, qp)
    if (this.#peers.length > this.#maxPeers) {
      // Drop the farthest peer that is not in flight (in-flight ones must stay to be accounted).
      for (let i = this.#peers.length - 1; i >= 0; i--) {
        const far = this.#peers[i]!
        if (far.state === 'in-flight') continue
        this.#peers.splice(i, 1)
        this.#byId.delete(far.id)
        break
      }
    }
  }
}
