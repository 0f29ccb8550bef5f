/**
 * The gossipsub router as a behaviour (libp2p/specs pubsub/gossipsub v1.0, v1.1, v1.2; floodsub peers
 * are served as floodsub). A pure state machine: the swarm feeds it connections, streams and bytes;
 * it emits stream writes and `message` / `validate` events. Time and randomness are inputs.
 *
 * This file holds the router's state, its commands (subscribe, unsubscribe, publish,
 * reportValidation) and the Behaviour contract; the work is done by its parts, named after the spec:
 * - peers.ts     peer and stream bookkeeping (one outbound stream per peer, the peer's inbound one)
 * - receive.ts   RPC handling: the message path (policy, seen, signature, validation, forwarding)
 * - control.ts   IHAVE / IWANT / GRAFT / PRUNE / IDONTWANT
 * - publish.ts   publishing and its targets (mesh, fanout, flood publishing)
 * - send.ts      the outbound queue per peer (flow control, slow peers, IDONTWANT cancellation)
 * - heartbeat.ts mesh maintenance, gossip, fanout expiry, cache shifts (every `heartbeatInterval`)
 * - mcache.ts, seen.ts, backoff.ts, mesh.ts, score.ts: the data structures of the spec
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { Backoff } from './backoff.js'
import { FLOODSUB, resolveConfig, type GossipsubConfig, type GossipsubOptions } from './config.js'
import { makePrune } from './control.js'
import { heartbeat } from './heartbeat.js'
import { MessageCache } from './mcache.js'
import { AuthorKeyCache } from './message.js'
import { sample, type Rand } from './mesh.js'
import { peerConnected, peerDisconnected, streamGone, streamOpened, streamOpenFailed, streamWritable } from './peers.js'
import { publishMessage } from './publish.js'
import { finishValidation, receiveData } from './receive.js'
import type { PubsubMessage } from './rpc.js'
import { TopicNames } from './rpc-publish.js'
import { PeerScore } from './score.js'
import { SeenCache } from './seen.js'
import { Slab } from '../core/slab.js'
import { clearSlow, flush, sendFrame, sendRpc, type OutgoingRpc } from './send.js'
import type { GossipsubEvent, PeerState, PendingValidation, PublishResult, ValidationResult } from './types.js'

export type { GossipsubErrorCode, GossipsubEvent, GossipsubMessage, PeerState, PublishResult, ValidationResult } from './types.js'
export { idKey } from './types.js'

export class GossipsubBehaviour implements Behaviour<GossipsubEvent> {
  readonly protocols: readonly string[]
  /** @internal */ readonly cfg: GossipsubConfig
  /** @internal */ readonly peers = new Map<string, PeerState>()
  /** @internal topic → peers subscribed to it (as they announced). */
  readonly topicPeers = new Map<string, Set<string>>()
  /** @internal our topics → mesh peers. */
  readonly mesh = new Map<string, Set<string>>()
  /** @internal topics we publish to without subscribing → fanout peers. */
  readonly fanout = new Map<string, Set<string>>()
  /** @internal */ readonly fanoutLastPub = new Map<string, Millis>()
  /** @internal */ readonly backoff: Backoff
  /** @internal */ readonly mcache: MessageCache
  /** @internal */ readonly seen: SeenCache
  /** @internal */ readonly score: PeerScore
  /** @internal IWANT promises: message id → (peer → deadline). */
  readonly promises = new Map<string, Map<string, Millis>>()
  /** @internal */ readonly direct: Set<string>
  /** @internal */ heartbeatTicks = 0
  /** @internal */ readonly rand: Rand

  /** @internal actions waiting for pollAction */
  readonly actions: BehaviourAction<GossipsubEvent>[] = []
  /** @internal peers whose outbox may be written at the next flush */
  readonly dirty = new Set<PeerState>()
  /** @internal topics with an async validator */
  readonly validated = new Set<string>()
  /** @internal */ readonly authorKeys = new AuthorKeyCache()
  /** @internal parsed `from` peer ids of recent authors (bounded like AuthorKeyCache: oldest first out). */
  readonly authorIds = new Map<string, PeerId | undefined>()
  /** @internal validations waiting for reportValidation, by request id (deadline order). */
  readonly pending = new Map<number, PendingValidation>()
  /** @internal */ readonly inStreams = new Map<string, PeerState>()
  /** @internal */ readonly outStreams = new Map<string, PeerState>()
  /** @internal outbound stream opens by request id */
  readonly openRequests = new Map<number, PeerState>()
  /** @internal the seqno of our next StrictSign message */
  seqno: bigint
  /** @internal */ nextRequest = 1
  /** @internal the last topic name decoded (receive fast path) */
  readonly topicNames = new TopicNames()
  /** @internal small byte strings (published frames, delivered data) carved from shared blocks */
  readonly slab = new Slab()

  readonly #subscriptions = new Set<string>()
  #nextHeartbeat: Millis | undefined
  #nextDecay: Millis | undefined
  #started = false

  constructor(options: GossipsubOptions) {
    this.cfg = resolveConfig(options)
    this.protocols = this.cfg.protocols
    this.backoff = new Backoff(100_000)
    this.mcache = new MessageCache(this.cfg.mcacheLength, this.cfg.mcacheGossip)
    this.seen = new SeenCache(this.cfg.seenTTL, this.cfg.maxSeenEntries)
    this.score = new PeerScore(this.cfg.scoreParams, this.cfg.seenTTL, this.cfg.maxSeenEntries, this.cfg.maxRetainedPeers)
    this.direct = new Set(this.cfg.directPeers.map((p) => p.toString()))
    this.seqno = this.cfg.seqnoBase
    const random = this.cfg.random
    let pool: Uint8Array = new Uint8Array(0)
    let at = 0
    this.rand = () => {
      if (at + 4 > pool.length) { pool = random(1024); at = 0 }
      const v = ((pool[at]! << 24) | (pool[at + 1]! << 16) | (pool[at + 2]! << 8) | pool[at + 3]!) >>> 0
      at += 4
      return v / 0x1_0000_0000
    }
  }

  // --- commands ----------------------------------------------------------------------------------

  subscribe(now: Millis, topic: string): void {
    checkTopic(topic)
    this.#start(now)
    if (this.#subscriptions.has(topic)) return
    this.#subscriptions.add(topic)
    for (const p of this.peers.values()) this.sendRpc(p, { subscriptions: [{ subscribe: true, topic }] }, true)
    // join (gossipsub-v1.0 "Mesh Maintenance", JOIN): fanout peers first, then others, up to D
    const mesh = new Set<string>()
    const fan = this.fanout.get(topic)
    if (fan !== undefined) for (const k of fan) if (this.graftable(now, topic, k, 0)) mesh.add(k)
    this.fanout.delete(topic)
    this.fanoutLastPub.delete(topic)
    if (mesh.size < this.cfg.D) {
      const cands = [...(this.topicPeers.get(topic) ?? [])].filter((k) => !mesh.has(k) && this.graftable(now, topic, k, 0))
      for (const k of sample(cands, this.cfg.D - mesh.size, this.rand)) mesh.add(k)
    }
    this.mesh.set(topic, mesh)
    for (const k of mesh) {
      this.score.graft(k, topic, now)
      const p = this.peers.get(k)!
      this.sendRpc(p, { control: { graft: [{ topic }] } }, true)
      this.event({ type: 'graft', peer: p.id, topic })
    }
  }

  unsubscribe(now: Millis, topic: string): void {
    if (!this.#subscriptions.delete(topic)) return
    for (const p of this.peers.values()) this.sendRpc(p, { subscriptions: [{ subscribe: false, topic }] }, true)
    const mesh = this.mesh.get(topic) ?? new Set()
    this.mesh.delete(topic)
    for (const k of mesh) {
      const p = this.peers.get(k)
      if (p === undefined) continue
      this.score.prune(k, topic)
      this.backoff.add(now, topic, k, this.cfg.unsubscribeBackoff)
      this.sendRpc(p, { control: { prune: [makePrune(this, now, p, topic, this.cfg.unsubscribeBackoff, false)] } }, true)
      this.event({ type: 'prune', peer: p.id, topic })
    }
  }

  /** Run messages of `topic` through the async validator (`validate` events). */
  setTopicValidator(topic: string, enabled: boolean): void {
    if (enabled) this.validated.add(topic)
    else this.validated.delete(topic)
  }

  /**
   * Publish `data` on `topic`. Throws UsageError 'gossipsub/no-peers' when no peer would receive it
   * (unless allowPublishToZeroPeers), 'gossipsub/duplicate-message' when its id was seen recently,
   * 'gossipsub/message-too-large' over maxMessageSize.
   */
  publish(now: Millis, topic: string, data: Uint8Array): PublishResult {
    checkTopic(topic)
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
    this.#start(now)
    return publishMessage(this, now, topic, data)
  }

  /** Answer a `validate` event. Unknown or timed-out ids are ignored (returns false). */
  reportValidation(now: Millis, requestId: number, result: ValidationResult): boolean {
    if (result !== 'accept' && result !== 'reject' && result !== 'ignore') throw new TypeError(`unknown validation result ${String(result)}`)
    const v = this.pending.get(requestId)
    if (v === undefined) return false
    this.pending.delete(requestId)
    finishValidation(this, now, v, result)
    return true
  }

  getTopics(): string[] {
    return [...this.#subscriptions]
  }

  getMeshPeers(topic: string): PeerId[] {
    return [...(this.mesh.get(topic) ?? [])].map((k) => this.peers.get(k)!.id)
  }

  /** Peers that announced a subscription to `topic`. */
  getSubscribers(topic: string): PeerId[] {
    return [...(this.topicPeers.get(topic) ?? [])].map((k) => this.peers.get(k)!.id)
  }

  /** The peers we exchange RPCs with (an outbound pubsub stream is open). */
  getPeers(): PeerId[] {
    return [...this.peers.values()].filter((p) => p.protocol !== undefined).map((p) => p.id)
  }

  getScore(peer: PeerId | string, now: Millis): number {
    return this.cfg.scoring ? this.score.score(peer.toString(), now) : 0
  }

  /** The negotiated protocol towards `peer`, if any. */
  getPeerProtocol(peer: PeerId | string): string | undefined {
    return this.peers.get(peer.toString())?.protocol
  }

  // --- Behaviour ---------------------------------------------------------------------------------

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        this.#start(now)
        return
      case 'connection-established':
        this.#start(now)
        peerConnected(this, input.connection)
        return
      case 'connection-closed':
        peerDisconnected(this, now, input.connection)
        return
      case 'stream-opened':
        streamOpened(this, input.stream, input.protocol, input.direction, input.connection, input.requestId)
        return
      case 'stream-open-failed':
        streamOpenFailed(this, input.requestId)
        return
      case 'stream-data': {
        const p = this.inStreams.get(streamKey(input.stream))
        if (p !== undefined) receiveData(this, now, p, input.stream, input.data)
        return
      }
      case 'stream-eof':
        if (this.inStreams.has(streamKey(input.stream))) this.actions.push({ type: 'close-write', stream: input.stream })
        return
      case 'stream-writable':
        streamWritable(this, input.stream)
        return
      case 'stream-reset':
      case 'stream-closed':
        streamGone(this, input.stream)
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    if (this.#nextHeartbeat !== undefined && now >= this.#nextHeartbeat) {
      this.#nextHeartbeat = now + this.cfg.heartbeatInterval
      heartbeat(this, now)
    }
    if (this.#nextDecay !== undefined && now >= this.#nextDecay) {
      this.#nextDecay = now + this.cfg.scoreParams.decayInterval
      this.score.refresh(now)
    }
    for (const [id, v] of this.pending) {
      if (v.deadline > now) break
      this.pending.delete(id)
      finishValidation(this, now, v, 'ignore')
    }
  }

  pollAction(): BehaviourAction<GossipsubEvent> | undefined {
    if (this.dirty.size > 0) flush(this)
    return this.actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let t = this.#nextHeartbeat
    if (this.#nextDecay !== undefined && (t === undefined || this.#nextDecay < t)) t = this.#nextDecay
    const first = this.pending.values().next().value
    if (first !== undefined && (t === undefined || first.deadline < t)) t = first.deadline
    return t
  }

  #start(now: Millis): void {
    if (this.#started) return
    this.#started = true
    this.#nextHeartbeat = now + this.cfg.heartbeatInitialDelay
    if (this.cfg.scoring) this.#nextDecay = now + this.cfg.scoreParams.decayInterval
  }

  // --- for the router's parts ----------------------------------------------------------------------

  /** @internal can `k` be grafted into `topic` now? */
  graftable(now: Millis, topic: string, k: string, minScore: number): boolean {
    const p = this.peers.get(k)
    if (p === undefined || p.protocol === undefined || p.protocol === FLOODSUB || p.slow) return false
    if (this.direct.has(k) || this.backoff.active(now, topic, k)) return false
    return !this.cfg.scoring || this.score.score(k, now) >= minScore
  }

  /** @internal queue an RPC for `p` (send.ts). */
  sendRpc(p: PeerState, rpc: OutgoingRpc, control: boolean): boolean {
    return sendRpc(this, p, rpc, control)
  }

  /** @internal queue one LP frame for `p` (send.ts). */
  sendFrame(p: PeerState, frame: Uint8Array, control: boolean, id?: string): boolean {
    return sendFrame(this, p, frame, control, id)
  }

  /** @internal */
  event(ev: GossipsubEvent): void {
    this.actions.push({ type: 'event', event: ev })
  }

  /** @internal a heartbeat tick clears slow marks of peers that caught up. */
  clearSlow(p: PeerState): void {
    clearSlow(this, p)
  }

  /** @internal */
  subscriptions(): ReadonlySet<string> {
    return this.#subscriptions
  }

  /** @internal dial a peer (direct peers, PX), by its known or the given addresses. */
  dial(peer: PeerId, addrs?: readonly Multiaddr[]): void {
    this.actions.push({ type: 'dial', requestId: this.nextRequest++, peer, ...(addrs !== undefined ? { addrs } : {}) })
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('topic must be a non-empty string')
}

export type { PubsubMessage }
