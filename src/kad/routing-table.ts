/**
 * The Kademlia routing table: k-buckets over the 256-bit key space (libp2p/specs kad-dht/README.md,
 * "Kademlia routing table"; Kademlia paper §2.2).
 *
 * Bucket `i` holds peers whose kad key shares exactly `i` leading bits with ours (cpl = i), at most
 * `k` of them, ordered least recently seen first. Updating on contact (`update`):
 * - a peer already in its bucket moves to the tail (most recently seen);
 * - a bucket with room takes the peer at the tail;
 * - a full bucket does not evict blindly. If its least recently seen peer was seen within
 *   `staleAfter` ms, the newcomer is dropped (the paper: live old peers are preferred). Otherwise the
 *   newcomer waits as the bucket's `replacement` and the caller is told to check the oldest peer
 *   (`check`); `checked(peer, alive)` then keeps the oldest (alive: moved to the tail) or evicts it
 *   for the replacement. One check per bucket at a time.
 *
 * Only peers that act as DHT servers are ever offered to `update` (the behaviour's job: identify
 * listed the kad protocol, or the peer answered a kad request).
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'
import { commonPrefixLength, compareDistance, peerKey } from './key.js'

/** A routing table entry: the peer, its key and when it was last seen. */
export interface TableEntry {
  readonly peer: PeerId
  /** peerKey(peer) */
  readonly id: string
  /** sha256 of the peer id's multihash. */
  readonly key: Uint8Array
  lastSeen: Millis
}

/** An entry with the first 48 bits of its key as two numbers, for cheap distance comparisons. */
interface Entry extends TableEntry {
  /** Key bytes 0..3, big-endian. */
  readonly w0: number
  /** Key bytes 4..5, big-endian. */
  readonly w1: number
}

interface Bucket {
  /** Least recently seen first. */
  entries: Entry[]
  /** A newcomer waiting for the outcome of a check of entries[0]. */
  replacement: Entry | undefined
  /** The peer being checked (by id string). */
  checking: string | undefined
}

/**
 * What `update` did with a peer: nothing (ourselves), moved it to the tail, added it, dropped it, or the bucket is full and its oldest peer must be checked (`check`).
 */
export type UpdateResult =
  | { kind: 'self' }
  | { kind: 'updated' }
  | { kind: 'added' }
  /** The bucket is full and its oldest peer is fresh: the newcomer was dropped. */
  | { kind: 'dropped' }
  /** The bucket is full: ping `oldest`, then call `checked(oldest, alive)`. */
  | { kind: 'check'; oldest: PeerId }
  /** The bucket is full and a check is already running: the newcomer is the replacement now. */
  | { kind: 'pending' }

const SELF: UpdateResult = Object.freeze({ kind: 'self' })
const UPDATED: UpdateResult = Object.freeze({ kind: 'updated' })
const ADDED: UpdateResult = Object.freeze({ kind: 'added' })
const DROPPED: UpdateResult = Object.freeze({ kind: 'dropped' })
const PENDING: UpdateResult = Object.freeze({ kind: 'pending' })

/** Options of `RoutingTable`. */
export interface RoutingTableOptions {
  /** Bucket size; the spec's replication parameter. Default 20. */
  k?: number
  /** A full bucket's oldest peer is checked only if not seen for this long (ms). Default 60 000. */
  staleAfter?: number
  /** Told of every membership change, a replacement moving in included (kad tags peers for the connection manager). */
  onChange?: (peer: PeerId, change: 'added' | 'removed') => void
}

/**
 * The Kademlia routing table (kad-dht "Kademlia routing table"): 256 k-buckets by the common prefix length of SHA-256 keys.
 */
export class RoutingTable {
  readonly localKey: Uint8Array
  readonly k: number
  readonly #staleAfter: number
  readonly #buckets: Bucket[] = []
  /** Peer id string -> bucket index, for O(1) membership. */
  readonly #index = new Map<string, number>()
  readonly #onChange: ((peer: PeerId, change: 'added' | 'removed') => void) | undefined

  constructor(localKey: Uint8Array, options: RoutingTableOptions = {}) {
    this.localKey = localKey.slice()
    this.k = options.k ?? 20
    if (!Number.isSafeInteger(this.k) || this.k < 1) throw new RangeError('k must be a positive integer')
    this.#staleAfter = options.staleAfter ?? 60_000
    this.#onChange = options.onChange
    for (let i = 0; i < 256; i++) this.#buckets.push({ entries: [], replacement: undefined, checking: undefined })
  }

  /** Peers in the table. */
  get size(): number {
    return this.#index.size
  }

  /** True when `peer` is in the table. */
  has(peer: PeerId): boolean {
    return this.#index.has(peerKey(peer))
  }

  /** Entries of bucket `cpl`, least recently seen first (a copy). */
  bucket(cpl: number): TableEntry[] {
    return [...(this.#buckets[cpl]?.entries ?? [])]
  }

  /** Indices of non-empty buckets. */
  nonEmptyBuckets(): number[] {
    const out: number[] = []
    for (let i = 0; i < 256; i++) if (this.#buckets[i]!.entries.length > 0) out.push(i)
    return out
  }

  /** Record contact with `peer` (a DHT server) at `now`. */
  update(peer: PeerId, key: Uint8Array, now: Millis): UpdateResult {
    const cpl = commonPrefixLength(this.localKey, key)
    if (cpl === 256) return SELF
    const b = this.#buckets[cpl]!
    const id = peerKey(peer)
    if (this.#index.has(id)) {
      // Move it to the tail (most recently seen), shifting the younger ones down.
      const es = b.entries
      let i = es.length - 1
      const e = es.find((x) => x.id === id)!
      e.lastSeen = now
      for (let next = e; i >= 0; i--) {
        const cur = es[i]!
        es[i] = next
        if (cur === e) break
        next = cur
      }
      return UPDATED
    }
    const entry = (): Entry => ({ peer, id, key: key.slice(), lastSeen: now, w0: word0(key), w1: word1(key) })
    if (b.entries.length < this.k) {
      b.entries.push(entry())
      this.#index.set(id, cpl)
      this.#onChange?.(peer, 'added')
      return ADDED
    }
    if (b.checking !== undefined) {
      b.replacement = entry()
      return PENDING
    }
    const oldest = b.entries[0]!
    if (now - oldest.lastSeen < this.#staleAfter) return DROPPED
    b.replacement = entry()
    b.checking = oldest.id
    return { kind: 'check', oldest: oldest.peer }
  }

  /** Outcome of a check asked for by `update`: keep `peer` (alive) or evict it for the replacement. */
  checked(peer: PeerId, alive: boolean, now: Millis): void {
    const id = peerKey(peer)
    const cpl = this.#index.get(id)
    if (cpl === undefined) return
    const b = this.#buckets[cpl]!
    if (b.checking !== id) return
    b.checking = undefined
    if (alive) {
      this.update(peer, b.entries.find((e) => e.id === id)!.key, now)
      b.replacement = undefined
      return
    }
    this.remove(peer)
  }

  /** Remove `peer`; its bucket's replacement (if any) takes the free slot. */
  remove(peer: PeerId): boolean {
    const id = peerKey(peer)
    const cpl = this.#index.get(id)
    if (cpl === undefined) return false
    const b = this.#buckets[cpl]!
    const i = b.entries.findIndex((e) => e.id === id)
    b.entries.splice(i, 1)
    this.#index.delete(id)
    if (b.checking === id) b.checking = undefined
    this.#onChange?.(peer, 'removed')
    const r = b.replacement
    if (r !== undefined && !this.#index.has(r.id)) {
      b.replacement = undefined
      b.entries.push(r)
      this.#index.set(r.id, cpl)
      this.#onChange?.(r.peer, 'added')
    }
    return true
  }

  /**
   * Up to `count` peers closest to `target` (a kad key), closest first, `exclude` left out.
   *
   * The buckets come in distance order: with c = cpl(local, target), bucket c's peers agree with
   * the target on bit c, so all are closer than any deeper bucket's (those differ from the target
   * at bit c, with distance in [2^(255-c), 2^(256-c))); a shallower bucket i < c holds distances
   * in [2^(255-i), 2^(256-i)), farther the smaller i. So: bucket c, then the deeper buckets
   * together, then c-1, c-2, ... — each group sorted on its own, and only as far as needed.
   */
  closest(target: Uint8Array, count: number, exclude?: PeerId): TableEntry[] {
    const out: TableEntry[] = []
    if (count <= 0) return out
    const skip = exclude === undefined ? undefined : peerKey(exclude)
    const cpl = Math.min(commonPrefixLength(this.localKey, target), 255)
    const order = distanceOrder(target)
    takeClosest(out, this.#buckets[cpl]!.entries, order, count, skip)
    if (out.length < count) {
      const deeper: Entry[] = []
      for (let i = cpl + 1; i < 256; i++) for (const e of this.#buckets[i]!.entries) deeper.push(e)
      takeClosest(out, deeper, order, count, skip)
    }
    for (let i = cpl - 1; i >= 0 && out.length < count; i--) takeClosest(out, this.#buckets[i]!.entries, order, count, skip)
    return out
  }

  /** Every entry (unordered). */
  all(): TableEntry[] {
    return this.#buckets.flatMap((b) => b.entries)
  }
}

function word0(key: Uint8Array): number {
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0
}

function word1(key: Uint8Array): number {
  return (key[4]! << 8) | key[5]!
}

/** A comparator of entries by distance to `target`: the first 48 bits as numbers, then all bytes. */
function distanceOrder(target: Uint8Array): (a: Entry, b: Entry) => number {
  const t0 = word0(target)
  const t1 = word1(target)
  return (a, b) => ((a.w0 ^ t0) >>> 0) - ((b.w0 ^ t0) >>> 0) || (a.w1 ^ t1) - (b.w1 ^ t1) || compareDistance(target, a.key, b.key)
}

/** Append the closest entries of `group` but `skip` (in order) to `out` until it holds `count`. */
function takeClosest(out: TableEntry[], group: readonly Entry[], order: (a: Entry, b: Entry) => number, count: number, skip: string | undefined): void {
  const need = count - out.length
  if (need <= 0 || group.length === 0) return
  if (need === 1) {
    let best: Entry | undefined
    for (const e of group) if (e.id !== skip && (best === undefined || order(e, best) < 0)) best = e
    if (best !== undefined) out.push(best)
    return
  }
  const sorted = (skip === undefined ? [...group] : group.filter((e) => e.id !== skip)).sort(order)
  for (let i = 0; i < sorted.length && i < need; i++) out.push(sorted[i]!)
}
