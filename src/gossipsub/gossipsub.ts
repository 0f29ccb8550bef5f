/**
 * The gossipsub router as a behaviour (libp2p/specs pubsub/gossipsub v1.0, v1.1, v1.2; floodsub peers
 * are served as floodsub). A pure state machine: the swarm feeds it connections, streams and bytes;
 * it emits stream writes and `message` / `validate` events. Time and randomness are inputs.
 *
 * This file holds the router's commands (subscribe, unsubscribe, publish, reportValidation) and the
 * Behaviour contract; the state the parts share is a GossipsubContext (context.ts), private to the
 * behaviour, of which each part sees only the slice its signature names. The parts, after the spec:
 * - peers.ts     peer and stream bookkeeping (one outbound stream per peer, the peer's inbound one per connection)
 * - receive.ts   RPC handling: the message path (policy, seen, signature, validation, forwarding)
 * - control.ts   IHAVE / IWANT / GRAFT / PRUNE / IDONTWANT
 * - publish.ts   publishing and its targets (mesh, fanout, flood publishing)
 * - send.ts      the outbound queue per peer (flow control, slow peers, IDONTWANT cancellation)
 * - heartbeat.ts mesh maintenance, gossip, fanout expiry, cache shifts (every `heartbeatInterval`)
 * - mcache.ts, seen.ts, backoff.ts, mesh.ts, score.ts: the data structures of the spec
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { resolveConfig, type GossipsubOptions } from './config.js'
import { GossipsubContext, type GossipsubView } from './context.js'
import { makePrune } from './control.js'
import { heartbeat } from './heartbeat.js'
import { sample } from './mesh.js'
import { peerConnected, peerDisconnected, streamGone, streamOpened, streamOpenFailed, streamWritable } from './peers.js'
import { publishMessage } from './publish.js'
import { emitSignatureBatch, finishValidation, receiveData, signatureTimeouts, signaturesVerified, takePending } from './receive.js'
import type { PubsubMessage } from './rpc.js'
import { flush, sendRpc } from './send.js'
import { topicLength, type GossipsubEvent, type PublishResult, type ValidationResult } from './types.js'

export type { GossipsubErrorCode, GossipsubEvent, GossipsubMessage, PeerState, PublishResult, ValidationResult } from './types.js'
export type { GossipsubView } from './context.js'
export { idKey } from './types.js'

/** Batches out below which a partial signature batch is handed out at the end of a turn (not a memory bound: maxPendingSignatures is). */
const PARTIAL_BATCHES_OUT = 2

export class GossipsubBehaviour implements Behaviour<GossipsubEvent> {
  readonly protocols: readonly string[]
  readonly #g: GossipsubContext
  #nextHeartbeat: Millis | undefined
  #nextDecay: Millis | undefined
  #started = false

  constructor(options: GossipsubOptions) {
    this.#g = new GossipsubContext(resolveConfig(options))
    this.protocols = this.#g.cfg.protocols
  }

  /** A read-only view of the router's state, for tests and simulations (not a stable API). */
  inspect(): GossipsubView {
    return this.#g
  }

  // --- commands ----------------------------------------------------------------------------------

  /**
   * Subscribe to `topic`: announce it to every pubsub peer and build its mesh (from fanout peers first). Throws `UsageError` for a topic longer than `maxTopicLength`.
   */
  subscribe(now: Millis, topic: string): void {
    checkTopic(topic, this.#g.cfg.maxTopicLength)
    this.#start(now)
    const g = this.#g
    if (g.subscriptions.has(topic)) return
    g.subscriptions.add(topic)
    for (const p of g.peers.values()) sendRpc(g, p, { subscriptions: [{ subscribe: true, topic }] }, true)
    // join (gossipsub-v1.0 "Mesh Maintenance", JOIN): fanout peers first, then others, up to D
    const mesh = new Set<string>()
    const fan = g.fanout.get(topic)
    if (fan !== undefined) for (const k of fan) if (g.graftable(now, topic, k, 0)) mesh.add(k)
    g.fanout.delete(topic)
    g.fanoutLastPub.delete(topic)
    if (mesh.size < g.cfg.D) {
      const cands = [...(g.topicPeers.get(topic) ?? [])].filter((k) => !mesh.has(k) && g.graftable(now, topic, k, 0))
      for (const k of sample(cands, g.cfg.D - mesh.size, g.rand)) mesh.add(k)
    }
    g.mesh.set(topic, mesh)
    for (const k of mesh) {
      g.score.graft(k, topic, now)
      const p = g.peers.get(k)!
      sendRpc(g, p, { control: { graft: [{ topic }] } }, true)
      g.event({ type: 'graft', peer: p.id, topic })
    }
  }

  /** Unsubscribe from `topic`: announce it, PRUNE the mesh peers (with backoff) and drop the mesh. */
  unsubscribe(now: Millis, topic: string): void {
    const g = this.#g
    if (!g.subscriptions.delete(topic)) return
    for (const p of g.peers.values()) sendRpc(g, p, { subscriptions: [{ subscribe: false, topic }] }, true)
    const mesh = g.mesh.get(topic) ?? new Set()
    g.mesh.delete(topic)
    for (const k of mesh) {
      const p = g.peers.get(k)
      if (p === undefined) continue
      g.score.prune(k, topic)
      g.backoff.add(now, topic, k, g.cfg.unsubscribeBackoff)
      sendRpc(g, p, { control: { prune: [makePrune(g, now, p, topic, g.cfg.unsubscribeBackoff, false)] } }, true)
      g.event({ type: 'prune', peer: p.id, topic })
    }
  }

  /** Run messages of `topic` through the async validator (`validate` events). */
  setTopicValidator(topic: string, enabled: boolean): void {
    if (enabled) this.#g.validated.add(topic)
    else this.#g.validated.delete(topic)
  }

  /**
   * Publish `data` on `topic`. Throws UsageError 'gossipsub/no-peers' when no peer would receive it
   * (unless allowPublishToZeroPeers), 'gossipsub/duplicate-message' when its id was seen recently,
   * 'gossipsub/message-too-large' over maxMessageSize.
   */
  publish(now: Millis, topic: string, data: Uint8Array): PublishResult {
    checkTopic(topic, this.#g.cfg.maxTopicLength)
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array')
    this.#start(now)
    return publishMessage(this.#g, now, topic, data)
  }

  /** Answer a `validate` event. Unknown or timed-out ids are ignored (returns false). */
  reportValidation(now: Millis, requestId: number, result: ValidationResult): boolean {
    if (result !== 'accept' && result !== 'reject' && result !== 'ignore') throw new TypeError(`unknown validation result ${String(result)}`)
    const v = takePending(this.#g, requestId)
    if (v === undefined) return false
    finishValidation(this.#g, now, v, result)
    return true
  }

  /**
   * Answer a `verify-signatures` event (asyncSignatures): one byte per job, 1 = valid. Messages then
   * go on in arrival order. Unknown batches are ignored (returns false).
   */
  signaturesVerified(now: Millis, batch: number, results: ArrayLike<number>): boolean {
    return signaturesVerified(this.#g, now, batch, results)
  }

  /** The topics we are subscribed to. */
  getTopics(): string[] {
    return [...this.#g.subscriptions]
  }

  /** The peers of `topic`'s mesh. */
  getMeshPeers(topic: string): PeerId[] {
    return [...(this.#g.mesh.get(topic) ?? [])].map((k) => this.#g.peers.get(k)!.id)
  }

  /** Peers that announced a subscription to `topic`. */
  getSubscribers(topic: string): PeerId[] {
    return [...(this.#g.topicPeers.get(topic) ?? [])].map((k) => this.#g.peers.get(k)!.id)
  }

  /** The peers we exchange RPCs with (an outbound pubsub stream is open). */
  getPeers(): PeerId[] {
    return [...this.#g.peers.values()].filter((p) => p.protocol !== undefined).map((p) => p.id)
  }

  /** A peer's score (gossipsub v1.1 "Peer Scoring"), 0 when scoring is off. */
  getScore(peer: PeerId | string, now: Millis): number {
    return this.#g.cfg.scoring ? this.#g.score.score(peer.toString(), now) : 0
  }

  /** The negotiated protocol towards `peer`, if any. */
  getPeerProtocol(peer: PeerId | string): string | undefined {
    return this.#g.peers.get(peer.toString())?.protocol
  }

  // --- Behaviour ---------------------------------------------------------------------------------

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        this.#start(now)
        return
      case 'connection-established':
        this.#start(now)
        peerConnected(this.#g, input.connection)
        return
      case 'connection-closed':
        peerDisconnected(this.#g, now, input.connection)
        return
      case 'stream-opened':
        streamOpened(this.#g, input.stream, input.protocol, input.direction, input.connection, input.requestId)
        return
      case 'stream-open-failed':
        streamOpenFailed(this.#g, input.requestId)
        return
      case 'stream-data': {
        const p = this.#g.inStreams.get(streamKey(input.stream))
        if (p !== undefined) receiveData(this.#g, now, p, input.stream, input.data)
        return
      }
      case 'stream-eof':
        if (this.#g.inStreams.has(streamKey(input.stream))) this.#g.actions.push({ type: 'close-write', stream: input.stream })
        return
      case 'stream-writable':
        streamWritable(this.#g, input.stream)
        return
      case 'stream-reset':
      case 'stream-closed':
        streamGone(this.#g, input.stream)
        return
      case 'peer-info': {
        // identify verified it; keep the newest for PX (go sends its certified address book's)
        const r = input.info.signedPeerRecord
        const p = this.#g.peers.get(input.peer.toString())
        if (r !== undefined && p !== undefined && (p.record === undefined || r.seq >= p.record.seq)) p.record = r
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    if (this.#nextHeartbeat !== undefined && now >= this.#nextHeartbeat) {
      this.#nextHeartbeat = now + this.#g.cfg.heartbeatInterval
      heartbeat(this.#g, now)
    }
    if (this.#nextDecay !== undefined && now >= this.#nextDecay) {
      this.#nextDecay = now + this.#g.cfg.scoreParams.decayInterval
      this.#g.score.refresh(now)
    }
    const first = this.#g.signatures?.first()
    if (first !== undefined && first.deadline <= now) signatureTimeouts(this.#g, now)
    for (const [id, v] of this.#g.pending) {
      if (v.deadline > now) break
      takePending(this.#g, id)
      finishValidation(this.#g, now, v, 'ignore')
    }
  }

  pollAction(): BehaviourAction<GossipsubEvent> | undefined {
    // signature checks queued in this turn go out as one batch (full ones left at once); while
    // PARTIAL_BATCHES_OUT batches are out a partial one waits for an answer and grows meanwhile:
    // a peer sending one message per RPC (go) still makes batches of many
    const q = this.#g.signatures
    if (q?.hasOpen === true && q.batchesOut < PARTIAL_BATCHES_OUT) emitSignatureBatch(this.#g)
    if (this.#g.dirty.size > 0) flush(this.#g)
    return this.#g.actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let t = this.#nextHeartbeat
    if (this.#nextDecay !== undefined && (t === undefined || this.#nextDecay < t)) t = this.#nextDecay
    const first = this.#g.pending.values().next().value
    if (first !== undefined && (t === undefined || first.deadline < t)) t = first.deadline
    const sig = this.#g.signatures?.first()
    if (sig !== undefined && (t === undefined || sig.deadline < t)) t = sig.deadline
    return t
  }

  #start(now: Millis): void {
    if (this.#started) return
    this.#started = true
    this.#nextHeartbeat = now + this.#g.cfg.heartbeatInitialDelay
    if (this.#g.cfg.scoring) this.#nextDecay = now + this.#g.cfg.scoreParams.decayInterval
  }
}

function checkTopic(topic: string, maxLength: number): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('topic must be a non-empty string')
  // peers with our limits would ignore a longer topic: refuse it here rather than go unheard
  if (topicLength(topic) > maxLength) throw new RangeError(`topic is longer than maxTopicLength (${maxLength} bytes)`)
}

export type { PubsubMessage }
