/**
 * The gossipsub router as a behaviour (libp2p/specs pubsub/gossipsub v1.0, v1.1, v1.2; floodsub peers
 * are served as floodsub). A pure state machine: the swarm feeds it connections, streams and bytes;
 * it emits stream writes and `message` / `validate` events. Time and randomness are inputs.
 *
 * Streams (pubsub README "Stream management"): one long-lived outbound stream per peer that we only
 * write (length-prefixed RPCs), and the peer's inbound stream that we only read. The negotiated
 * protocol of our outbound stream decides what the peer understands: `/floodsub/1.0.0` (messages
 * only), `/meshsub/1.0.0` (mesh and gossip), `/meshsub/1.1.0` (+ PX, backoff), `/meshsub/1.2.0`
 * (+ IDONTWANT).
 *
 * Message path: decode → signature policy → message id → seen? (duplicate: scoring, IWANT promise)
 * → signature check → seen := yes, IDONTWANT to mesh peers for large messages → validation (sync,
 * or a `validate` event answered by `reportValidation`) → accept: cache, deliver, forward to mesh,
 * floodsub and direct peers (never to the source or peers that said IDONTWANT); reject: P₄.
 *
 * The heartbeat (`heartbeatInterval`) maintains meshes (heartbeat.ts), emits gossip, expires fanout,
 * shifts the message cache and applies broken IWANT promises to P₇.
 *
 * Flow control: written bytes count against the peer until `stream-writable`; a peer over
 * `maxOutboundBytes` gets no more messages and is removed from every mesh (a slow peer never grows
 * our memory).
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError, UsageError } from '../core/errors.js'
import { encodeLp, LpDecoder } from '../core/lp.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { Backoff } from './backoff.js'
import { FLOODSUB, GOSSIPSUB_V12, resolveConfig, type GossipsubConfig, type GossipsubOptions } from './config.js'
import { handleControl, makePrune } from './control.js'
import { heartbeat } from './heartbeat.js'
import { MessageCache } from './mcache.js'
import { AuthorKeyCache, buildMessage, checkSignaturePolicy } from './message.js'
import { sample, type Rand } from './mesh.js'
import { decodeRpc, DEFAULT_RPC_DECODE_LIMITS, encodePubsubMessage, encodeRpc, frameMessage, PROTOCOL, type ControlMessage, type PubsubMessage, type Rpc, type SubOpts, type WireMessage } from './rpc.js'
import { PeerScore } from './score.js'
import { SeenCache } from './seen.js'

export type ValidationResult = 'accept' | 'reject' | 'ignore'

export type GossipsubErrorCode = 'gossipsub/no-peers' | 'gossipsub/duplicate-message' | 'gossipsub/message-too-large' | 'gossipsub/unknown-validation'

/** A message as delivered to the application. */
export interface GossipsubMessage {
  topic: string
  data: Uint8Array
  /** The author (StrictSign); undefined under StrictNoSign. */
  from: PeerId | undefined
  seqno: bigint | undefined
  messageId: Uint8Array
  /** The peer that forwarded it to us. */
  propagationSource: PeerId
}

export type GossipsubEvent =
  | { type: 'message'; message: GossipsubMessage }
  /** Answer with `reportValidation(now, requestId, result)` within `validationTimeout`. */
  | { type: 'validate'; requestId: number; message: GossipsubMessage }
  | { type: 'subscription-change'; peer: PeerId; topic: string; subscribed: boolean }
  | { type: 'graft'; peer: PeerId; topic: string }
  | { type: 'prune'; peer: PeerId; topic: string }
  /** A received message failed the signature policy, validation, or size limit. */
  | { type: 'invalid-message'; peer: PeerId; topic: string; reason: string }
  /** The peer sent bytes that are not a valid RPC; its inbound stream was reset. */
  | { type: 'peer-protocol-error'; peer: PeerId; error: ProtocolError }
  /** The peer did not take our bytes fast enough: messages dropped, removed from every mesh. */
  | { type: 'slow-peer'; peer: PeerId; droppedBytes: number }

export interface PublishResult {
  messageId: Uint8Array
  recipients: number
}

/** @internal the state heartbeat.ts works on */
export interface PeerState {
  readonly key: string
  readonly id: PeerId
  readonly connections: Map<number, ConnectionInfo>
  outbound: boolean
  /** The negotiated protocol of our outbound stream (what the peer understands). */
  protocol: string | undefined
  out: StreamRef | undefined
  opening: number | undefined
  openAttempts: number
  inbound: StreamRef | undefined
  decoder: LpDecoder | undefined
  readonly topics: Set<string>
  /**
   * LP frames waiting for the outbound stream / the next flush. Control frames go out at the next
   * flush; message frames wait while an earlier write is still in flight (not yet taken by the
   * muxer), so an IDONTWANT can still cancel them (`id`: the message-id key).
   */
  outbox: Array<{ frame: Uint8Array; id: string | undefined }>
  outboxBytes: number
  /** Bytes written and not yet taken by the muxer. */
  inFlight: number
  slow: boolean
  /** Per heartbeat counters (v1.1 spam protection, v1.2 max_idontwant_messages). */
  ihaveMessages: number
  ihaveIds: number
  iwantServed: number
  idontwant: number
  /** IDONTWANT ids (key → expiry), bounded by maxIDontWantMessages * 3 heartbeats. */
  readonly dontSend: Map<string, Millis>
}

interface PendingValidation {
  readonly id: string
  readonly wm: WireMessage
  readonly messageId: Uint8Array
  readonly source: string
  readonly sourceId: PeerId
  readonly deadline: Millis
}

const FRESH_IDS_PER_STREAM_REOPEN = 3

/** Byte string key for a message id (Map keys). */
export function idKey(id: Uint8Array): string {
  if (id.length <= 256) return String.fromCharCode.apply(null, id as unknown as number[])
  let s = ''
  for (let i = 0; i < id.length; i += 256) s += String.fromCharCode.apply(null, id.subarray(i, i + 256) as unknown as number[])
  return s
}

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

  readonly #actions: BehaviourAction<GossipsubEvent>[] = []
  readonly #dirty = new Set<PeerState>()
  readonly #subscriptions = new Set<string>()
  readonly #validated = new Set<string>()
  readonly #authorKeys = new AuthorKeyCache()
  /** Parsed `from` peer ids of recent authors (bounded like AuthorKeyCache: oldest first out). */
  readonly #authorIds = new Map<string, PeerId | undefined>()

  #authorId(from: Uint8Array): PeerId | undefined {
    const k = idKey(from)
    if (this.#authorIds.has(k)) return this.#authorIds.get(k)
    let id: PeerId | undefined
    try { id = PeerId.fromMultihash(from) } catch { id = undefined }
    if (this.#authorIds.size >= 4096) {
      const oldest = this.#authorIds.keys().next().value
      if (oldest !== undefined) this.#authorIds.delete(oldest)
    }
    this.#authorIds.set(k, id)
    return id
  }
  readonly #pending = new Map<number, PendingValidation>()
  readonly #inStreams = new Map<string, PeerState>()
  readonly #outStreams = new Map<string, PeerState>()
  readonly #openRequests = new Map<number, PeerState>()
  #seqno: bigint
  #nextRequest = 1
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
    this.#seqno = this.cfg.seqnoBase
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
    if (fan !== undefined) for (const k of fan) if (this.#graftable(now, topic, k, 0)) mesh.add(k)
    this.fanout.delete(topic)
    this.fanoutLastPub.delete(topic)
    if (mesh.size < this.cfg.D) {
      const cands = [...(this.topicPeers.get(topic) ?? [])].filter((k) => !mesh.has(k) && this.#graftable(now, topic, k, 0))
      for (const k of sample(cands, this.cfg.D - mesh.size, this.rand)) mesh.add(k)
    }
    this.mesh.set(topic, mesh)
    for (const k of mesh) {
      this.score.graft(k, topic, now)
      const p = this.peers.get(k)!
      this.sendRpc(p, { control: { graft: [{ topic }] } }, true)
      this.#event({ type: 'graft', peer: p.id, topic })
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
      this.#event({ type: 'prune', peer: p.id, topic })
    }
  }

  /** Run messages of `topic` through the async validator (`validate` events). */
  setTopicValidator(topic: string, enabled: boolean): void {
    if (enabled) this.#validated.add(topic)
    else this.#validated.delete(topic)
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
    const signer = this.cfg.privateKey === undefined ? undefined : { key: this.cfg.privateKey, crypto: this.cfg.crypto, seqno: this.#seqno }
    const msg = buildMessage(this.cfg.signaturePolicy, topic, data, signer)
    const raw = encodePubsubMessage(msg)
    if (raw.length > this.cfg.maxMessageSize || raw.length + 16 > this.cfg.maxRpcSize) throw new UsageError('gossipsub/message-too-large', `${raw.length} bytes`)
    const messageId = this.cfg.msgIdFn(msg)
    const key = idKey(messageId)
    if (this.seen.has(key)) throw new UsageError('gossipsub/duplicate-message', 'a message with this id was seen recently')
    const to = this.#publishTargets(now, topic)
    if (to.size === 0 && !this.cfg.allowPublishToZeroPeers) throw new UsageError('gossipsub/no-peers', `no peer to publish ${topic} to`)
    if (this.cfg.signaturePolicy === 'StrictSign') this.#seqno++
    this.seen.put(now, key)
    this.mcache.put(key, messageId, topic, raw)
    if (!this.#subscriptions.has(topic)) this.fanoutLastPub.set(topic, now)
    let recipients = 0
    const frame = frameMessage(raw)
    for (const k of to) if (this.sendFrame(this.peers.get(k)!, frame, false, key)) recipients++
    return { messageId, recipients }
  }

  /** Answer a `validate` event. Unknown or timed-out ids are ignored (returns false). */
  reportValidation(now: Millis, requestId: number, result: ValidationResult): boolean {
    if (result !== 'accept' && result !== 'reject' && result !== 'ignore') throw new TypeError(`unknown validation result ${String(result)}`)
    const v = this.#pending.get(requestId)
    if (v === undefined) return false
    this.#pending.delete(requestId)
    this.#finishValidation(now, v, result)
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
        this.#connected(now, input.connection)
        return
      case 'connection-closed':
        this.#disconnected(now, input.connection)
        return
      case 'stream-opened':
        this.#streamOpened(now, input.stream, input.protocol, input.direction, input.connection, input.requestId)
        return
      case 'stream-open-failed': {
        const p = this.#openRequests.get(input.requestId)
        if (p === undefined) return
        this.#openRequests.delete(input.requestId)
        p.opening = undefined
        p.outbox = []
        p.outboxBytes = 0
        return
      }
      case 'stream-data': {
        const p = this.#inStreams.get(streamKey(input.stream))
        if (p !== undefined) this.#data(now, p, input.stream, input.data)
        return
      }
      case 'stream-eof': {
        const k = streamKey(input.stream)
        if (this.#inStreams.has(k)) this.#actions.push({ type: 'close-write', stream: input.stream })
        return
      }
      case 'stream-writable': {
        const p = this.#outStreams.get(streamKey(input.stream))
        if (p !== undefined) {
          p.inFlight = 0
          if (p.outbox.length > 0) this.#dirty.add(p)
        }
        return
      }
      case 'stream-reset':
      case 'stream-closed':
        this.#streamGone(input.stream)
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
    for (const [id, v] of this.#pending) {
      if (v.deadline > now) break
      this.#pending.delete(id)
      this.#finishValidation(now, v, 'ignore')
    }
  }

  pollAction(): BehaviourAction<GossipsubEvent> | undefined {
    if (this.#dirty.size > 0) this.#flush()
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let t = this.#nextHeartbeat
    if (this.#nextDecay !== undefined && (t === undefined || this.#nextDecay < t)) t = this.#nextDecay
    const first = this.#pending.values().next().value
    if (first !== undefined && (t === undefined || first.deadline < t)) t = first.deadline
    return t
  }

  // --- peers and streams ---------------------------------------------------------------------------

  #start(now: Millis): void {
    if (this.#started) return
    this.#started = true
    this.#nextHeartbeat = now + this.cfg.heartbeatInitialDelay
    if (this.cfg.scoring) this.#nextDecay = now + this.cfg.scoreParams.decayInterval
  }

  #connected(now: Millis, c: ConnectionInfo): void {
    this.#start(now)
    const key = c.peer.toString()
    let p = this.peers.get(key)
    if (p === undefined) {
      p = {
        key, id: c.peer, connections: new Map(), outbound: false, protocol: undefined, out: undefined, opening: undefined,
        openAttempts: 0, inbound: undefined, decoder: undefined, topics: new Set(), outbox: [], outboxBytes: 0, inFlight: 0,
        slow: false, ihaveMessages: 0, ihaveIds: 0, iwantServed: 0, idontwant: 0, dontSend: new Map(),
      }
      this.peers.set(key, p)
      this.score.addPeer(key)
    }
    p.connections.set(c.id, c)
    if (c.direction === 'outbound') p.outbound = true
    this.score.setIPs(key, peerIPs(p))
    this.#ensureOutbound(p)
  }

  #ensureOutbound(p: PeerState): void {
    if (p.out !== undefined || p.opening !== undefined || p.openAttempts >= FRESH_IDS_PER_STREAM_REOPEN) return
    const conn = p.connections.keys().next().value
    if (conn === undefined) return
    const requestId = this.#nextRequest++
    p.opening = requestId
    p.openAttempts++
    this.#openRequests.set(requestId, p)
    this.#actions.push({ type: 'open-stream', requestId, peer: p.id, protocols: this.cfg.protocols, connection: conn })
  }

  #disconnected(now: Millis, c: ConnectionInfo): void {
    const key = c.peer.toString()
    const p = this.peers.get(key)
    if (p === undefined) return
    p.connections.delete(c.id)
    if (p.out?.connection === c.id) this.#streamGone(p.out)
    if (p.inbound?.connection === c.id) this.#streamGone(p.inbound)
    if (p.connections.size > 0) {
      this.score.setIPs(key, peerIPs(p))
      this.#ensureOutbound(p)
      return
    }
    this.peers.delete(key)
    this.#dirty.delete(p)
    for (const t of p.topics) this.topicPeers.get(t)?.delete(key)
    for (const [topic, m] of this.mesh) if (m.delete(key)) this.#event({ type: 'prune', peer: p.id, topic })
    for (const f of this.fanout.values()) f.delete(key)
    for (const [id, byPeer] of this.promises) {
      byPeer.delete(key)
      if (byPeer.size === 0) this.promises.delete(id)
    }
    this.score.removePeer(key, now)
  }

  #streamOpened(now: Millis, s: StreamRef, protocol: string, direction: 'inbound' | 'outbound', c: ConnectionInfo, requestId: number | undefined): void {
    const p = this.peers.get(c.peer.toString())
    if (direction === 'inbound') {
      if (p === undefined) {
        this.#actions.push({ type: 'reset', stream: s })
        return
      }
      // one inbound stream per peer: a newer one replaces the older (go does the same)
      if (p.inbound !== undefined) {
        this.#inStreams.delete(streamKey(p.inbound))
        this.#actions.push({ type: 'reset', stream: p.inbound })
      }
      p.inbound = s
      p.decoder = new LpDecoder(this.cfg.maxRpcSize, PROTOCOL)
      this.#inStreams.set(streamKey(s), p)
      return
    }
    const owner = requestId === undefined ? undefined : this.#openRequests.get(requestId)
    if (requestId !== undefined) this.#openRequests.delete(requestId)
    if (owner === undefined || owner !== p || p.opening !== requestId) {
      this.#actions.push({ type: 'reset', stream: s })
      return
    }
    p.opening = undefined
    p.out = s
    p.protocol = protocol
    p.inFlight = 0
    this.#outStreams.set(streamKey(s), p)
    // hello: our subscriptions, first on the stream
    const subs: SubOpts[] = [...this.#subscriptions].map((topic) => ({ subscribe: true, topic }))
    if (subs.length > 0) {
      const hello = encodeLp(encodeRpc({ subscriptions: subs }))
      p.outbox.unshift({ frame: hello, id: undefined })
      p.outboxBytes += hello.length
    }
    if (p.outbox.length > 0) this.#dirty.add(p)
    void now
  }

  #streamGone(s: StreamRef): void {
    const k = streamKey(s)
    const inP = this.#inStreams.get(k)
    if (inP !== undefined) {
      this.#inStreams.delete(k)
      if (inP.inbound !== undefined && streamKey(inP.inbound) === k) {
        inP.inbound = undefined
        inP.decoder = undefined
      }
    }
    const outP = this.#outStreams.get(k)
    if (outP !== undefined) {
      this.#outStreams.delete(k)
      outP.out = undefined
      outP.inFlight = 0
      outP.outbox = []
      outP.outboxBytes = 0
      this.#dirty.delete(outP)
      if (outP.connections.size > 0 && this.peers.get(outP.key) === outP) this.#ensureOutbound(outP)
    }
  }

  #data(now: Millis, p: PeerState, s: StreamRef, data: Uint8Array): void {
    const dec = p.decoder
    if (dec === undefined) return
    try {
      dec.push(data)
      for (let frame = dec.next(); frame !== undefined; frame = dec.next()) {
        const rpc = decodeRpc(frame, DEFAULT_RPC_DECODE_LIMITS)
        this.#handleRpc(now, p, rpc)
        if (p.decoder !== dec) return
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#inStreams.delete(streamKey(s))
      p.inbound = undefined
      p.decoder = undefined
      this.#actions.push({ type: 'reset', stream: s })
      this.score.addPenalty(p.key, 1)
      this.#event({ type: 'peer-protocol-error', peer: p.id, error: e })
    }
  }

  // --- RPC handling --------------------------------------------------------------------------------

  #handleRpc(now: Millis, p: PeerState, rpc: Rpc): void {
    // graylisted peers are ignored entirely (v1.1 "Score Thresholds"); direct peers always accepted
    if (this.cfg.scoring && !this.direct.has(p.key) && this.score.score(p.key, now) < this.cfg.scoreThresholds.graylistThreshold) return
    for (const sub of rpc.subscriptions) this.#handleSubscription(now, p, sub)
    for (const wm of rpc.messages) this.#handleMessage(now, p, wm)
    if (rpc.control !== undefined && p.protocol !== FLOODSUB) handleControl(this, now, p, rpc.control)
  }

  #handleSubscription(now: Millis, p: PeerState, sub: SubOpts): void {
    const { topic } = sub
    if (sub.subscribe) {
      if (p.topics.has(topic) || p.topics.size >= this.cfg.maxTopicsPerPeer) return
      p.topics.add(topic)
      let set = this.topicPeers.get(topic)
      if (set === undefined) this.topicPeers.set(topic, (set = new Set()))
      set.add(p.key)
    } else {
      if (!p.topics.delete(topic)) return
      const set = this.topicPeers.get(topic)
      set?.delete(p.key)
      if (set?.size === 0) this.topicPeers.delete(topic)
      if (this.mesh.get(topic)?.delete(p.key) === true) {
        this.score.prune(p.key, topic)
        this.#event({ type: 'prune', peer: p.id, topic })
      }
      this.fanout.get(topic)?.delete(p.key)
    }
    void now
    this.#event({ type: 'subscription-change', peer: p.id, topic, subscribed: sub.subscribe })
  }

  #invalid(p: PeerState, topic: string, reason: string, id: string | undefined, now: Millis): void {
    this.score.rejectMessage(p.key, id, topic, false, now)
    this.#event({ type: 'invalid-message', peer: p.id, topic, reason })
  }

  #handleMessage(now: Millis, p: PeerState, wm: WireMessage): void {
    const { msg, raw } = wm
    const topic = msg.topic
    if (!this.#subscriptions.has(topic)) return // not ours: ignored, as go does
    if (raw.length > this.cfg.maxMessageSize) return this.#invalid(p, topic, 'gossipsub/message-too-large', undefined, now)
    const policy = this.cfg.signaturePolicy
    if (policy === 'StrictSign' ? (msg.from === undefined || msg.seqno === undefined || msg.signature === undefined)
      : (msg.from !== undefined || msg.seqno !== undefined || msg.signature !== undefined || msg.key !== undefined)) {
      return this.#invalid(p, topic, policy === 'StrictSign' ? 'gossipsub/missing-signature-fields' : 'gossipsub/unexpected-signature-fields', undefined, now)
    }
    let messageId: Uint8Array
    try {
      messageId = this.cfg.msgIdFn(msg)
    } catch {
      return this.#invalid(p, topic, 'gossipsub/message-id-failed', undefined, now)
    }
    const key = idKey(messageId)
    if (this.seen.has(key)) {
      this.score.duplicateMessage(p.key, key, topic, now)
      this.promises.delete(key)
      return
    }
    const reason = checkSignaturePolicy(policy, msg, raw, this.cfg.crypto, this.#authorKeys)
    if (reason !== undefined) return this.#invalid(p, topic, reason, undefined, now)
    this.seen.put(now, key)
    this.promises.delete(key)
    this.score.validateMessage(p.key, key, now)
    // v1.2: tell mesh peers at once, before validation, so they do not send it too
    if (raw.length >= this.cfg.idontwantMessageSizeThreshold) {
      for (const k of this.mesh.get(topic) ?? []) {
        const q = this.peers.get(k)
        if (q !== undefined && k !== p.key && q.protocol === GOSSIPSUB_V12) this.sendRpc(q, { control: { idontwant: [{ messageIds: [messageId] }] } }, true)
      }
    }
    const v: PendingValidation = { id: key, wm, messageId, source: p.key, sourceId: p.id, deadline: now + this.cfg.validationTimeout }
    if (!this.#validated.has(topic)) return this.#finishValidation(now, v, 'accept')
    if (this.#pending.size >= this.cfg.maxPendingValidations) return this.#finishValidation(now, v, 'ignore')
    const requestId = this.#nextRequest++
    this.#pending.set(requestId, v)
    this.#event({ type: 'validate', requestId, message: this.#appMessage(v, p.id) })
  }

  #appMessage(v: PendingValidation, source: PeerId): GossipsubMessage {
    const m = v.wm.msg
    let from: PeerId | undefined
    if (m.from !== undefined) {
      from = this.#authorId(m.from)
    }
    const seqno = m.seqno?.length === 8 ? new DataView(m.seqno.buffer, m.seqno.byteOffset, 8).getBigUint64(0) : undefined
    return { topic: m.topic, data: m.data ?? new Uint8Array(0), from, seqno, messageId: v.messageId, propagationSource: source }
  }

  #finishValidation(now: Millis, v: PendingValidation, result: ValidationResult): void {
    const topic = v.wm.msg.topic
    const src = this.peers.get(v.source)
    if (result !== 'accept') {
      this.score.rejectMessage(v.source, v.id, topic, result === 'ignore', now)
      if (result === 'reject' && src !== undefined) this.#event({ type: 'invalid-message', peer: src.id, topic, reason: 'gossipsub/validation-rejected' })
      return
    }
    this.score.deliverMessage(v.source, v.id, topic, now)
    this.mcache.put(v.id, v.messageId, topic, v.wm.raw)
    if (this.#subscriptions.has(topic)) {
      this.#event({ type: 'message', message: this.#appMessage(v, v.sourceId) })
    }
    this.#forward(v, topic)
  }

  #forward(v: PendingValidation, topic: string): void {
    const author = v.wm.msg.from === undefined ? undefined : this.#authorId(v.wm.msg.from)?.toString()
    const targets = new Set<string>()
    for (const k of this.mesh.get(topic) ?? []) targets.add(k)
    for (const k of this.topicPeers.get(topic) ?? []) {
      const q = this.peers.get(k)
      if (q !== undefined && (q.protocol === FLOODSUB || this.direct.has(k))) targets.add(k)
    }
    let frame: Uint8Array | undefined
    for (const k of targets) {
      if (k === v.source || k === author) continue
      const q = this.peers.get(k)
      if (q === undefined || q.dontSend.has(v.id)) continue
      frame ??= frameMessage(v.wm.raw)
      this.sendFrame(q, frame, false, v.id)
    }
  }

  // --- sending -------------------------------------------------------------------------------------

  /** @internal can `k` be grafted into `topic` now? */
  graftable(now: Millis, topic: string, k: string, minScore: number): boolean {
    return this.#graftable(now, topic, k, minScore)
  }

  #graftable(now: Millis, topic: string, k: string, minScore: number): boolean {
    const p = this.peers.get(k)
    if (p === undefined || p.protocol === undefined || p.protocol === FLOODSUB || p.slow) return false
    if (this.direct.has(k) || this.backoff.active(now, topic, k)) return false
    return !this.cfg.scoring || this.score.score(k, now) >= minScore
  }

  #publishTargets(now: Millis, topic: string): Set<string> {
    const out = new Set<string>()
    const subs = this.topicPeers.get(topic) ?? new Set<string>()
    const ok = (k: string): boolean => !this.cfg.scoring || this.score.score(k, now) >= this.cfg.scoreThresholds.publishThreshold
    for (const k of subs) {
      const p = this.peers.get(k)
      if (p === undefined || p.protocol === undefined) continue
      if (this.direct.has(k) || p.protocol === FLOODSUB) out.add(k)
      else if (this.cfg.floodPublish && ok(k)) out.add(k)
    }
    if (!this.cfg.floodPublish) {
      let peers = this.mesh.get(topic)
      if (peers === undefined) {
        peers = this.fanout.get(topic)
        if (peers === undefined || peers.size === 0) {
          const cands = [...subs].filter((k) => !out.has(k) && this.#graftable(now, topic, k, this.cfg.scoreThresholds.publishThreshold))
          peers = new Set(sample(cands, this.cfg.D, this.rand))
          this.fanout.set(topic, peers)
        }
      }
      for (const k of peers) out.add(k)
    }
    return out
  }

  /** @internal queue an RPC for `p`; control-only RPCs may exceed the message budget a little. */
  sendRpc(p: PeerState, rpc: { subscriptions?: SubOpts[]; messages?: Uint8Array[]; control?: Partial<ControlMessage> }, control: boolean): boolean {
    if (p.protocol === FLOODSUB && rpc.control !== undefined) {
      if (rpc.subscriptions === undefined && rpc.messages === undefined) return false
      rpc = { ...rpc, control: {} }
    }
    return this.sendFrame(p, encodeLp(encodeRpc(rpc)), control)
  }

  /** @internal queue one LP frame for `p` (control frames may exceed the message budget by one RPC). */
  sendFrame(p: PeerState, frame: Uint8Array, control: boolean, id?: string): boolean {
    if (p.out === undefined && p.opening === undefined) return false
    const queued = p.inFlight + p.outboxBytes
    const limit = control ? this.cfg.maxOutboundBytes + this.cfg.maxRpcSize : this.cfg.maxOutboundBytes
    if (queued + frame.length > limit) {
      if (!control) this.#slow(p, frame.length)
      return false
    }
    p.outbox.push({ frame, id: control ? undefined : id })
    p.outboxBytes += frame.length
    if (p.out !== undefined && (control || p.inFlight === 0)) this.#dirty.add(p)
    return true
  }

  #slow(p: PeerState, dropped: number): void {
    if (!p.slow) {
      p.slow = true
      for (const [topic, m] of this.mesh) {
        if (!m.delete(p.key)) continue
        this.score.prune(p.key, topic)
        this.#event({ type: 'prune', peer: p.id, topic })
      }
    }
    this.#event({ type: 'slow-peer', peer: p.id, droppedBytes: dropped })
  }

  #flush(): void {
    for (const p of this.#dirty) {
      if (p.out === undefined || p.outbox.length === 0) continue
      // while a write is in flight only control frames go (messages stay cancellable by IDONTWANT)
      const take = p.inFlight === 0 ? p.outbox : p.outbox.filter((e) => e.id === undefined)
      if (take.length === 0) continue
      const rest = p.inFlight === 0 ? [] : p.outbox.filter((e) => e.id !== undefined)
      let bytes = 0
      for (const e of take) bytes += e.frame.length
      const data = take.length === 1 ? take[0]!.frame : concatFrames(take, bytes)
      p.inFlight += bytes
      p.outbox = rest
      p.outboxBytes -= bytes
      this.#actions.push({ type: 'write', stream: p.out, data })
    }
    this.#dirty.clear()
  }

  /** @internal */
  event(ev: GossipsubEvent): void {
    this.#event(ev)
  }

  #event(ev: GossipsubEvent): void {
    this.#actions.push({ type: 'event', event: ev })
  }

  /** @internal a heartbeat tick clears slow marks of peers that caught up. */
  clearSlow(p: PeerState): void {
    if (p.slow && p.inFlight + p.outboxBytes < this.cfg.maxOutboundBytes / 2) p.slow = false
  }

  /** @internal */
  subscriptions(): ReadonlySet<string> {
    return this.#subscriptions
  }

  /** @internal dial a peer (direct peers, PX), by its known or the given addresses. */
  dial(peer: PeerId, addrs?: readonly Multiaddr[]): void {
    this.#actions.push({ type: 'dial', requestId: this.#nextRequest++, peer, ...(addrs !== undefined ? { addrs } : {}) })
  }
}

function concatFrames(parts: Array<{ frame: Uint8Array }>, total: number): Uint8Array {
  const out = new Uint8Array(total)
  let o = 0
  for (const { frame } of parts) { out.set(frame, o); o += frame.length }
  return out
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('topic must be a non-empty string')
}

/** The IP addresses of a peer's connections (for P₆), loopback excluded. */
function peerIPs(p: PeerState): string[] {
  const out = new Set<string>()
  for (const c of p.connections.values()) {
    const first = c.remoteAddr.components()[0]
    if (first === undefined || (first.name !== 'ip4' && first.name !== 'ip6') || first.value === undefined) continue
    if (c.remoteAddr.isLoopback()) continue
    out.add(first.value)
  }
  return [...out]
}

export type { PubsubMessage }
