/**
 * The connection manager's options, defaults and the shapes it hands out (src/swarm/conn-manager.ts;
 * spec/connection-manager.md), and the trim order as a pure comparator.
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'

/**
 * Options of the connection manager (spec/swarm.md "Connection manager"; go-libp2p's connmgr): trim to
 * `lowWater` when above `highWater`, sparing protected and recently opened connections.
 */
export interface ConnectionManagerOptions {
  /** Trim down to this many trimmable connections, default 160 (go). 0 disables trimming. */
  lowWater: number
  /** Trim when the count passes this, default 192 (go): stops slow accumulation of idle peers exhausting sockets and memory. 0 disables trimming. */
  highWater: number
  /** A peer is not trimmed for this long after its first connection, default 60 s: stops a burst of new connections evicting peers before they could prove useful. */
  gracePeriodMs: number
  /** At most one automatic trim per period, default 10 s: stops connection churn making the node sort every peer on every new connection. */
  silencePeriodMs: number
  /** Tags (plain and decaying) per peer, default 64: stops a protocol tagging on remote input (topic names) growing an entry without bound. */
  maxTagsPerPeer: number
  /** Peers tagged while not connected (temporary entries), default 1024: stops peer ids learned from remotes (kad responses, PX) that are tagged before a dial filling memory; the oldest is evicted. */
  maxTemporaryEntries: number
  /** A temporary entry with no connection is dropped after this long, default the grace period (go drops it at the next trim past its grace period). */
  temporaryEntryTimeoutMs: number
  /** Protected peers, connected or not, default 4096: stops protections for peers that never come (or came and left) growing without bound. */
  maxProtectedPeers: number
  /** Protection reasons per peer, default 32: same, per peer. */
  maxProtectReasonsPerPeer: number
  /** Registered decaying tags, default 64: each holds a deadline and a value per peer. */
  maxDecayingTags: number
}

export const DEFAULT_CONNECTION_MANAGER: ConnectionManagerOptions = {
  lowWater: 160,
  highWater: 192,
  gracePeriodMs: 60_000,
  silencePeriodMs: 10_000,
  maxTagsPerPeer: 64,
  maxTemporaryEntries: 1024,
  temporaryEntryTimeoutMs: 60_000,
  maxProtectedPeers: 4096,
  maxProtectReasonsPerPeer: 32,
  maxDecayingTags: 64,
}

/** What the node edge provides (ConnectionManager.setDriver). */
export interface ConnectionManagerDriver {
  now(): Millis
  wake(): void
}

/** What `getTagInfo` returns: a snapshot of one peer's entry. */
export interface TagInfo {
  readonly firstSeen: Millis
  /** The sum of every tag's value (decaying ones included). */
  readonly value: number
  readonly tags: ReadonlyMap<string, number>
  /** True while the entry only holds early tags and no connection. */
  readonly temporary: boolean
  readonly conns: readonly { id: number; direction: 'inbound' | 'outbound'; openedAt: Millis; streams: number }[]
}

/** A connection the manager wants closed. */
export interface TrimClose {
  readonly connection: number
  readonly peer: PeerId
  readonly code: number
  readonly reason: string
}

/** Configuration and status (go's GetInfo), plus counters for metrics. */
export interface ConnectionManagerInfo {
  readonly lowWater: number
  readonly highWater: number
  readonly gracePeriodMs: number
  readonly silencePeriodMs: number
  /** Established connections not already being closed by a trim. */
  readonly connections: number
  readonly lastTrim: Millis | undefined
  readonly trims: number
  readonly trimmedConnections: number
  /** Temporary entries evicted at the bound (maxTemporaryEntries). */
  readonly evictedTemporaryEntries: number
  /** Behaviour tag / protect actions dropped at a bound (maxTagsPerPeer, maxProtectedPeers...). */
  readonly droppedActions: number
}

/** The fields the trim order looks at, one per peer (exported for tests). */
export interface TrimCandidate {
  readonly key: string
  readonly temporary: boolean
  readonly value: number
  readonly streams: number
  readonly inbound: boolean
  readonly firstSeen: Millis
}

/**
 * The trim order (go's SortByValueAndStreams, plus a deterministic tie-break): negative means `a` is
 * closed before `b`.
 */
export function compareForTrim(a: TrimCandidate, b: TrimCandidate): number {
  if (a.temporary !== b.temporary) return a.temporary ? -1 : 1
  if (a.value !== b.value) return a.value - b.value
  if (a.streams !== b.streams && (a.streams === 0 || b.streams === 0)) return a.streams - b.streams
  if (a.inbound !== b.inbound) return a.inbound ? -1 : 1
  if (a.streams !== b.streams) return a.streams - b.streams
  if (a.firstSeen !== b.firstSeen) return b.firstSeen - a.firstSeen
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}
