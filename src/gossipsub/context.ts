/**
 * The state the parts of the gossipsub router share (gossipsub.ts composes them), like kad's
 * KadContext: resolved options, the action queue handed to the swarm, the peers and their streams,
 * the topic views (announced subscriptions, mesh, fanout), the data structures of the spec (mcache,
 * seen, backoff, score, IWANT promises) and the pending validations. A plain holder: its only logic
 * is `graftable`, a question about the state. It imports no part of the router.
 *
 * Each part takes only the slice it needs (`Pick<GossipsubContext, ...>`, named in the part:
 * SendContext, PeersContext, ReceiveContext, ControlContext, PublishContext, HeartbeatContext), so
 * which part reads or changes what is written in its signature. The behaviour keeps the context
 * private; tests and simulations read it through `GossipsubBehaviour.inspect()` (GossipsubView).
 *
 * Ownership: every structure here belongs to one router (one node); nothing is shared between
 * routers. The slab hands out regions that are never written again (core/slab.ts).
 */
import type { Millis } from '../core/byte-machine.js'
import { Slab } from '../core/slab.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { BehaviourAction } from '../swarm/index.js'
import { Backoff } from './backoff.js'
import { FLOODSUB, type GossipsubConfig } from './config.js'
import { MessageCache } from './mcache.js'
import { AuthorKeyCache } from './message.js'
import type { Rand } from './mesh.js'
import { TopicBytes, TopicNames } from './rpc-publish.js'
import { PeerScore } from './score.js'
import { SeenCache } from './seen.js'
import type { GossipsubEvent, PeerState, PendingValidation } from './types.js'
import { SignatureQueue } from './verify-queue.js'

/** Connection manager tag of a mesh peer: `pubsub:<topic>` with value 20 (go-libp2p-pubsub's GossipSubConnTagValueMeshPeer). */
export const MESH_TAG_PREFIX = 'pubsub:'
export const MESH_TAG_VALUE = 20
/** Connection manager protection of a direct peer (go-libp2p-pubsub's tag). */
export const DIRECT_PEER_TAG = 'pubsub:<direct>'
/** Addresses kept from one PX peer record (the peer store caps them too). Stops: a record of thousands of addresses filling the peer store. */
export const PX_MAX_ADDRS = 16

export class GossipsubContext {
  readonly peers = new Map<string, PeerState>()
  /** topic → peers subscribed to it (as they announced). */
  readonly topicPeers = new Map<string, Set<string>>()
  /** Our topics. */
  readonly subscriptions = new Set<string>()
  /** Our topics → mesh peers. */
  readonly mesh = new Map<string, Set<string>>()
  /** Topics we publish to without subscribing → fanout peers. */
  readonly fanout = new Map<string, Set<string>>()
  readonly fanoutLastPub = new Map<string, Millis>()
  readonly backoff: Backoff
  readonly mcache: MessageCache
  readonly seen: SeenCache
  readonly score: PeerScore
  /** IWANT promises: message id → (peer → deadline). */
  readonly promises = new Map<string, Map<string, Millis>>()
  readonly direct: Set<string>
  readonly rand: Rand
  /** Actions waiting for pollAction. */
  readonly actions: BehaviourAction<GossipsubEvent>[] = []
  /** Peers whose outbox may be written at the next flush. */
  readonly dirty = new Set<PeerState>()
  /** Topics with an async validator. */
  readonly validated = new Set<string>()
  readonly authorKeys: AuthorKeyCache
  /** Parsed `from` peer ids of recent authors (≤ maxCachedAuthors, oldest first out). */
  readonly authorIds = new Map<string, PeerId | undefined>()
  /** Validations waiting for reportValidation, by request id (deadline order). */
  readonly pending = new Map<number, PendingValidation>()
  /** Bytes of the pending messages (≤ maxPendingValidationBytes). */
  pendingBytes = 0
  /** Signature checks in flight, in arrival order (asyncSignatures only). */
  readonly signatures: SignatureQueue | undefined
  readonly inStreams = new Map<string, PeerState>()
  readonly outStreams = new Map<string, PeerState>()
  /** Outbound stream opens by request id. */
  readonly openRequests = new Map<number, PeerState>()
  /** The last topic name decoded (receive fast path). */
  readonly topicNames = new TopicNames()
  /** UTF-8 of the topics we publish to (publish fast path). */
  readonly topicBytes = new TopicBytes()
  /** Small byte strings (published frames, delivered data) carved from shared blocks. */
  readonly slab = new Slab()
  /** Heartbeats run so far. */
  heartbeatTicks = 0
  /** The seqno of our next StrictSign message. */
  seqno: bigint
  #nextRequest = 1

  constructor(readonly cfg: GossipsubConfig) {
    this.backoff = new Backoff(cfg.maxBackoffEntries)
    this.mcache = new MessageCache(cfg.mcacheLength, cfg.mcacheGossip, cfg.mcacheMaxBytes, cfg.mcacheMaxMessages)
    this.seen = new SeenCache(cfg.seenTTL, cfg.maxSeenEntries)
    this.score = new PeerScore(cfg.scoreParams, cfg.seenTTL, cfg.maxSeenEntries, cfg.maxRetainedPeers)
    this.authorKeys = new AuthorKeyCache(cfg.maxCachedAuthors)
    this.signatures = cfg.asyncSignatures ? new SignatureQueue(cfg.maxPendingSignatures, cfg.maxPendingSignatureBytes, cfg.signatureBatchSize) : undefined
    this.direct = new Set(cfg.directPeers.map((p) => p.toString()))
    // direct peers are never trimmed (go-libp2p-pubsub protects them with the same tag)
    for (const peer of cfg.directPeers) this.actions.push({ type: 'protect-peer', peer, tag: DIRECT_PEER_TAG, protect: true })
    this.seqno = cfg.seqnoBase
    const random = cfg.random
    let pool: Uint8Array = new Uint8Array(0)
    let at = 0
    this.rand = () => {
      if (at + 4 > pool.length) { pool = random(1024); at = 0 }
      const v = ((pool[at]! << 24) | (pool[at + 1]! << 16) | (pool[at + 2]! << 8) | pool[at + 3]!) >>> 0
      at += 4
      return v / 0x1_0000_0000
    }
  }

  /** The next id for a swarm request (stream open, dial) or a validation. */
  nextId(): number {
    return this.#nextRequest++
  }

  event(ev: GossipsubEvent): void {
    // Connection manager tags (spec/connection-manager.md, as go-libp2p-pubsub's tag tracer): every
    // mesh change is a graft or prune event, so mesh peers carry `pubsub:<topic>` while in the mesh.
    if (ev.type === 'graft') this.actions.push({ type: 'tag-peer', peer: ev.peer, tag: MESH_TAG_PREFIX + ev.topic, value: MESH_TAG_VALUE })
    else if (ev.type === 'prune') this.actions.push({ type: 'tag-peer', peer: ev.peer, tag: MESH_TAG_PREFIX + ev.topic, value: undefined })
    this.actions.push({ type: 'event', event: ev })
  }

  /**
   * Addresses of `peer` from a verified signed peer record in a PRUNE's PX: a hint for the peer
   * store, and a `peer-info` fact the node's discovery reports (`source: 'pubsub-px'`).
   */
  learn(peer: PeerId, addrs: readonly Multiaddr[]): void {
    if (addrs.length > 0) this.actions.push({ type: 'peer-info', peer, info: { addrs: addrs.slice(0, PX_MAX_ADDRS), addrsAreHints: true } })
  }

  /** Dial a peer (direct peers, PX), by its known or the given addresses. */
  dial(peer: PeerId, addrs?: readonly Multiaddr[]): void {
    this.actions.push({ type: 'dial', requestId: this.nextId(), peer, ...(addrs !== undefined ? { addrs } : {}) })
  }

  /** Can `k` be grafted into `topic` now? */
  graftable(now: Millis, topic: string, k: string, minScore: number): boolean {
    const p = this.peers.get(k)
    if (p === undefined || p.protocol === undefined || p.protocol === FLOODSUB || p.slow) return false
    if (this.direct.has(k) || this.backoff.active(now, topic, k)) return false
    return !this.cfg.scoring || this.score.score(k, now) >= minScore
  }
}

/** A read-only view of the router's state, for tests and simulations (not a stable API). */
export interface GossipsubView {
  readonly cfg: Readonly<GossipsubConfig>
  readonly heartbeatTicks: number
  readonly peers: ReadonlyMap<string, Readonly<PeerState>>
  readonly topicPeers: ReadonlyMap<string, ReadonlySet<string>>
  readonly mesh: ReadonlyMap<string, ReadonlySet<string>>
  readonly fanout: ReadonlyMap<string, ReadonlySet<string>>
  readonly mcache: { readonly size: number; readonly bytes: number; get(key: string): { readonly raw: Uint8Array } | undefined }
  readonly seen: { readonly size: number }
  readonly backoff: { readonly size: number }
  readonly authorIds: { readonly size: number }
  readonly pending: { readonly size: number }
  readonly pendingBytes: number
  /** Signature checks in flight (asyncSignatures): messages, bytes, batches out, drops. */
  readonly signatures: { readonly size: number; readonly bytes: number; readonly batchesOut: number; readonly dropped: number } | undefined
  /** Whether peer `k` may be grafted into `topic`'s mesh now (not backing off, score at least `minScore`). */
  graftable(now: Millis, topic: string, k: string, minScore: number): boolean
}
