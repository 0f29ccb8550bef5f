/**
 * Peer scoring (gossipsub-v1.1.md "Peer Scoring", "The Score Function", "Parameter Decay").
 *
 *   Score(p) = TopicCap(Σtᵢ·(w₁P₁ + w₂P₂ + w₃P₃ + w₃bP₃b + w₄P₄)) + w₅P₅ + w₆P₆ + w₇P₇
 *
 * P₁ time in mesh, P₂ first message deliveries, P₃ mesh message delivery deficit², P₃b mesh failure
 * penalty (sticky, added on prune), P₄ invalid messages², P₅ application score, P₆ IP colocation
 * surplus², P₇ behaviour penalty² (above a threshold, as go). Counters decay every `decayInterval`
 * and snap to zero below `decayToZero`. A disconnected peer's counters are retained for `retainScore`.
 *
 * Message delivery records (to credit "near-first" mesh deliveries and to penalise every peer that
 * sent a message later found invalid) are kept per message id for `seenTTL`, bounded in count.
 */
import type { Millis } from '../core/byte-machine.js'
import { emptyMap, ownMap } from '../core/empty-map.js'

/** Per-topic score parameters (gossipsub v1.1 "Topic Parameter Calculation"): weights and decays of P₁-P₄. */
export interface TopicScoreParams {
  topicWeight: number
  /** P₁ */
  timeInMeshWeight: number
  timeInMeshQuantum: number
  timeInMeshCap: number
  /** P₂ */
  firstMessageDeliveriesWeight: number
  firstMessageDeliveriesDecay: number
  firstMessageDeliveriesCap: number
  /** P₃ */
  meshMessageDeliveriesWeight: number
  meshMessageDeliveriesDecay: number
  meshMessageDeliveriesThreshold: number
  meshMessageDeliveriesCap: number
  meshMessageDeliveriesActivation: number
  meshMessageDeliveriesWindow: number
  /** P₃b */
  meshFailurePenaltyWeight: number
  meshFailurePenaltyDecay: number
  /** P₄ */
  invalidMessageDeliveriesWeight: number
  invalidMessageDeliveriesDecay: number
}

/**
 * Peer score parameters (gossipsub v1.1 "The Score Function"): topic parameters, P₅ app-specific, P₆ IP colocation, P₇ behaviour penalty, decay interval.
 */
export interface PeerScoreParams {
  /** Per-topic parameters; topics absent here use `defaultTopic` (or do not count when it is undefined). */
  topics: Record<string, TopicScoreParams>
  defaultTopic: TopicScoreParams | undefined
  /** Cap on the positive part of the topic sum (0 = no cap). */
  topicScoreCap: number
  /** P₅ */
  appSpecificScore: (peer: string) => number
  appSpecificWeight: number
  /** P₆ */
  ipColocationFactorWeight: number
  ipColocationFactorThreshold: number
  /** P₇ */
  behaviourPenaltyWeight: number
  behaviourPenaltyThreshold: number
  behaviourPenaltyDecay: number
  decayInterval: number
  decayToZero: number
  retainScore: number
}

/**
 * The score thresholds (gossipsub v1.1 "Score Thresholds"): below `gossipThreshold` no gossip, below `publishThreshold` no flood publish, below `graylistThreshold` RPCs ignored.
 */
export interface PeerScoreThresholds {
  gossipThreshold: number
  publishThreshold: number
  graylistThreshold: number
  acceptPXThreshold: number
  opportunisticGraftThreshold: number
}

/** Frozen, as every default here: shared by every router in the process, so never written. */
export const DEFAULT_TOPIC_SCORE_PARAMS: TopicScoreParams = Object.freeze({
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  // P₃ depends on the topic's message rate: off unless configured.
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.9,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesCap: 10,
  meshMessageDeliveriesActivation: 5000,
  meshMessageDeliveriesWindow: 10,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.9,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.999,
})

/**
 * Default `PeerScoreParams`: every topic scored with `DEFAULT_TOPIC_SCORE_PARAMS`, topic score cap 100, P₆ from 10 peers per IP, P₇ weight -1 (decay 0.9), decay every 1 s, scores kept 60 s after a disconnect.
 */
export const DEFAULT_PEER_SCORE_PARAMS: PeerScoreParams = Object.freeze({
  topics: Object.freeze({}),
  defaultTopic: DEFAULT_TOPIC_SCORE_PARAMS,
  topicScoreCap: 100,
  appSpecificScore: () => 0,
  appSpecificWeight: 1,
  ipColocationFactorWeight: -1,
  ipColocationFactorThreshold: 10,
  behaviourPenaltyWeight: -1,
  behaviourPenaltyThreshold: 1,
  behaviourPenaltyDecay: 0.9,
  decayInterval: 1000,
  decayToZero: 0.01,
  retainScore: 60_000,
})

/** Default `PeerScoreThresholds`: gossip -10, publish -50, graylist -80, accept PX 10, opportunistic graft 1. */
export const DEFAULT_SCORE_THRESHOLDS: PeerScoreThresholds = Object.freeze({
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 1,
})

/** RangeError when the parameters break the spec's constraints ("Overview of New Parameters"). */
export function validateScoreParams(p: PeerScoreParams, t: PeerScoreThresholds): void {
  const bad = (m: string): never => { throw new RangeError(`score params: ${m}`) }
  if (!(t.gossipThreshold <= 0)) bad('gossipThreshold must be <= 0')
  if (!(t.publishThreshold <= t.gossipThreshold)) bad('publishThreshold must be <= gossipThreshold')
  if (!(t.graylistThreshold < t.publishThreshold)) bad('graylistThreshold must be < publishThreshold')
  if (!(t.acceptPXThreshold >= 0)) bad('acceptPXThreshold must be >= 0')
  if (!(t.opportunisticGraftThreshold >= 0)) bad('opportunisticGraftThreshold must be >= 0')
  if (!(p.appSpecificWeight >= 0)) bad('appSpecificWeight must be >= 0')
  if (!(p.ipColocationFactorWeight <= 0)) bad('ipColocationFactorWeight must be <= 0')
  if (!(p.ipColocationFactorThreshold >= 1)) bad('ipColocationFactorThreshold must be >= 1')
  if (!(p.behaviourPenaltyWeight <= 0)) bad('behaviourPenaltyWeight must be <= 0')
  if (!(p.behaviourPenaltyDecay > 0 && p.behaviourPenaltyDecay < 1)) bad('behaviourPenaltyDecay must be in (0, 1)')
  if (!(p.decayInterval >= 1)) bad('decayInterval must be >= 1 ms')
  if (!(p.decayToZero > 0 && p.decayToZero < 1)) bad('decayToZero must be in (0, 1)')
  if (!(p.retainScore >= 0)) bad('retainScore must be >= 0')
  if (!(p.topicScoreCap >= 0)) bad('topicScoreCap must be >= 0')
  const topics = Object.entries(p.topics)
  if (p.defaultTopic !== undefined) topics.push(['<default>', p.defaultTopic])
  for (const [name, tp] of topics) {
    const b = (m: string): never => bad(`topic ${name}: ${m}`)
    if (!(tp.topicWeight >= 0)) b('topicWeight must be >= 0')
    if (!(tp.timeInMeshWeight >= 0)) b('timeInMeshWeight must be >= 0')
    if (!(tp.timeInMeshQuantum > 0)) b('timeInMeshQuantum must be > 0')
    if (!(tp.timeInMeshCap > 0)) b('timeInMeshCap must be > 0')
    if (!(tp.firstMessageDeliveriesWeight >= 0)) b('firstMessageDeliveriesWeight must be >= 0')
    if (!(tp.firstMessageDeliveriesCap > 0)) b('firstMessageDeliveriesCap must be > 0')
    if (!(tp.meshMessageDeliveriesWeight <= 0)) b('meshMessageDeliveriesWeight must be <= 0')
    if (!(tp.meshMessageDeliveriesThreshold > 0)) b('meshMessageDeliveriesThreshold must be > 0')
    if (!(tp.meshMessageDeliveriesCap >= tp.meshMessageDeliveriesThreshold)) b('meshMessageDeliveriesCap must be >= threshold')
    if (!(tp.meshMessageDeliveriesActivation >= 0)) b('meshMessageDeliveriesActivation must be >= 0')
    if (!(tp.meshMessageDeliveriesWindow >= 0)) b('meshMessageDeliveriesWindow must be >= 0')
    if (!(tp.meshFailurePenaltyWeight <= 0)) b('meshFailurePenaltyWeight must be <= 0')
    if (!(tp.invalidMessageDeliveriesWeight <= 0)) b('invalidMessageDeliveriesWeight must be <= 0')
    for (const d of [tp.firstMessageDeliveriesDecay, tp.meshMessageDeliveriesDecay, tp.meshFailurePenaltyDecay, tp.invalidMessageDeliveriesDecay]) {
      if (!(d > 0 && d < 1)) b('decays must be in (0, 1)')
    }
  }
}

interface TopicStats {
  inMesh: boolean
  graftTime: Millis
  meshTime: number
  firstMessageDeliveries: number
  meshMessageDeliveries: number
  meshMessageDeliveriesActive: boolean
  meshFailurePenalty: number
  invalidMessageDeliveries: number
}

/** The ips of a peer with none (a disconnected one's): one shared frozen array. */
const NO_IPS: readonly string[] = Object.freeze([])

interface PeerStats {
  connected: boolean
  /** When a disconnected peer's stats are forgotten. */
  expire: Millis
  /** The shared empty map (src/core/empty-map.ts) until a scored topic is seen: most peers never have one. */
  topics: Map<string, TopicStats>
  ips: readonly string[]
  behaviourPenalty: number
}

type DeliveryStatus = 'unknown' | 'valid' | 'invalid' | 'ignored'

interface DeliveryRecord {
  status: DeliveryStatus
  /** When the message was validated (valid status). */
  validated: Millis
  /** Peers that delivered it while it was being validated (or within the window after); allocated on the first. */
  peers: Set<string> | undefined
  expire: Millis
}

/** The peer scoring function of gossipsub v1.1 ("Peer Scoring"): counters per peer and topic, decayed each interval. */
export class PeerScore {
  readonly params: PeerScoreParams
  readonly #peers = new Map<string, PeerStats>()
  readonly #ipPeers = new Map<string, Set<string>>()
  readonly #deliveries = new Map<string, DeliveryRecord>()
  readonly #recordTTL: number
  readonly #maxRecords: number
  readonly #maxRetained: number
  /** Disconnected peers whose stats are retained, in the order they disconnected (oldest first). */
  readonly #retained = new Set<string>()

  constructor(params: PeerScoreParams, recordTTL: number, maxRecords: number, maxRetainedPeers: number) {
    this.params = params
    this.#recordTTL = recordTTL
    this.#maxRecords = maxRecords
    this.#maxRetained = maxRetainedPeers
  }

  #topicParams(topic: string): TopicScoreParams | undefined {
    // own keys only: a topic named 'constructor' or '__proto__' is not an Object.prototype member
    return (Object.hasOwn(this.params.topics, topic) ? this.params.topics[topic] : undefined) ?? this.params.defaultTopic
  }

  #topicStats(s: PeerStats, topic: string): TopicStats | undefined {
    if (this.#topicParams(topic) === undefined) return undefined
    let t = s.topics.get(topic)
    if (t === undefined) {
      t = { inMesh: false, graftTime: 0, meshTime: 0, firstMessageDeliveries: 0, meshMessageDeliveries: 0, meshMessageDeliveriesActive: false, meshFailurePenalty: 0, invalidMessageDeliveries: 0 }
      s.topics = ownMap(s.topics)
      s.topics.set(topic, t)
    }
    return t
  }

  /** The peer's current score. */
  score(peer: string, now: Millis): number {
    const s = this.#peers.get(peer)
    if (s === undefined) return 0
    const p = this.params
    let topicScore = 0
    for (const [topic, t] of s.topics) {
      const tp = this.#topicParams(topic)
      if (tp === undefined) continue
      let ts = 0
      if (t.inMesh) {
        const p1 = Math.min((now - t.graftTime) / tp.timeInMeshQuantum, tp.timeInMeshCap)
        ts += Math.max(0, p1) * tp.timeInMeshWeight
      }
      ts += t.firstMessageDeliveries * tp.firstMessageDeliveriesWeight
      if (t.meshMessageDeliveriesActive && t.meshMessageDeliveries < tp.meshMessageDeliveriesThreshold) {
        const deficit = tp.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
        ts += deficit * deficit * tp.meshMessageDeliveriesWeight
      }
      ts += t.meshFailurePenalty * tp.meshFailurePenaltyWeight
      ts += t.invalidMessageDeliveries * t.invalidMessageDeliveries * tp.invalidMessageDeliveriesWeight
      topicScore += ts * tp.topicWeight
    }
    if (p.topicScoreCap > 0 && topicScore > p.topicScoreCap) topicScore = p.topicScoreCap
    let score = topicScore
    score += p.appSpecificScore(peer) * p.appSpecificWeight
    for (const ip of s.ips) {
      const n = this.#ipPeers.get(ip)?.size ?? 0
      if (n > p.ipColocationFactorThreshold) {
        const surplus = n - p.ipColocationFactorThreshold
        score += surplus * surplus * p.ipColocationFactorWeight
      }
    }
    if (s.behaviourPenalty > p.behaviourPenaltyThreshold) {
      const excess = s.behaviourPenalty - p.behaviourPenaltyThreshold
      score += excess * excess * p.behaviourPenaltyWeight
    }
    return score
  }

  /** Start (or resume, within the retention time) tracking `peer`. */
  addPeer(peer: string): void {
    const s = this.#peers.get(peer)
    if (s !== undefined) {
      s.connected = true
      this.#retained.delete(peer)
      return
    }
    this.#peers.set(peer, { connected: true, expire: 0, topics: emptyMap(), ips: NO_IPS, behaviourPenalty: 0 })
  }

  /** The peer disconnected: keep its stats for `retainScore` (mesh status cleared, P₃b applied). */
  removePeer(peer: string, now: Millis): void {
    const s = this.#peers.get(peer)
    if (s === undefined) return
    for (const [topic, t] of s.topics) if (t.inMesh) this.prune(peer, topic)
    this.setIPs(peer, [])
    s.connected = false
    s.expire = now + this.params.retainScore
    // bound the retained set: forget the peer that disconnected longest ago (O(1) per disconnect)
    this.#retained.delete(peer)
    this.#retained.add(peer)
    if (this.#retained.size > this.#maxRetained) {
      const oldest = this.#retained.values().next().value as string
      this.#retained.delete(oldest)
      this.#peers.delete(oldest)
    }
  }

  /** The IPs of `peer`'s connections, for P₆ (IP colocation). */
  setIPs(peer: string, ips: readonly string[]): void {
    const s = this.#peers.get(peer)
    if (s === undefined) return
    for (const ip of s.ips) {
      const set = this.#ipPeers.get(ip)
      set?.delete(peer)
      if (set?.size === 0) this.#ipPeers.delete(ip)
    }
    s.ips = ips.length === 0 ? NO_IPS : [...ips]
    for (const ip of ips) {
      let set = this.#ipPeers.get(ip)
      if (set === undefined) this.#ipPeers.set(ip, (set = new Set()))
      set.add(peer)
    }
  }

  /** `peer` joined our mesh of `topic` (starts its P₁ time-in-mesh). */
  graft(peer: string, topic: string, now: Millis): void {
    const s = this.#peers.get(peer)
    const t = s === undefined ? undefined : this.#topicStats(s, topic)
    if (t === undefined) return
    t.inMesh = true
    t.graftTime = now
    t.meshTime = 0
    t.meshMessageDeliveriesActive = false
  }

  /** `peer` left our mesh of `topic` (applies P₃b for a mesh delivery deficit). */
  prune(peer: string, topic: string): void {
    const s = this.#peers.get(peer)
    const t = s?.topics.get(topic)
    const tp = this.#topicParams(topic)
    if (t === undefined || tp === undefined) return
    if (t.meshMessageDeliveriesActive && t.meshMessageDeliveries < tp.meshMessageDeliveriesThreshold) {
      const deficit = tp.meshMessageDeliveriesThreshold - t.meshMessageDeliveries
      t.meshFailurePenalty += deficit * deficit
    }
    t.inMesh = false
    t.meshMessageDeliveriesActive = false
  }

  /** P₇ */
  addPenalty(peer: string, count: number): void {
    const s = this.#peers.get(peer)
    if (s !== undefined) s.behaviourPenalty += count
  }

  // --- message deliveries -------------------------------------------------------------------

  #record(id: string, now: Millis): DeliveryRecord {
    // validateMessage then deliverMessage of one message look up the same record: keep the last
    // (refresh, the only other place deleting records, forgets it)
    if (this.#last !== undefined && this.#lastId === id) return this.#last
    let r = this.#deliveries.get(id)
    if (r === undefined) {
      if (this.#deliveries.size >= this.#maxRecords) {
        const oldest = this.#deliveries.keys().next().value
        if (oldest !== undefined) this.#deliveries.delete(oldest)
      }
      r = { status: 'unknown', validated: 0, peers: undefined, expire: now + this.#recordTTL }
      this.#deliveries.set(id, r)
    }
    this.#lastId = id
    this.#last = r
    return r
  }
  #lastId: string | undefined
  #last: DeliveryRecord | undefined

  /** A first-seen message from `peer` enters validation. */
  validateMessage(_peer: string, id: string, now: Millis): void {
    this.#record(id, now)
  }

  /** The message validated: `peer` delivered it first; peers that sent it during validation get mesh credit. */
  deliverMessage(peer: string, id: string, topic: string, now: Millis): void {
    this.#markFirstDelivery(peer, topic)
    const r = this.#record(id, now)
    if (r.status !== 'unknown') return
    r.status = 'valid'
    r.validated = now
    for (const p of r.peers ?? []) if (p !== peer) this.#markDuplicateDelivery(p, topic, undefined, now)
  }

  /** The message was rejected. `id` undefined: rejected before it had an id (signature): only `peer` is penalised. */
  rejectMessage(peer: string, id: string | undefined, topic: string, ignore: boolean, now: Millis): void {
    if (id === undefined) {
      this.#markInvalid(peer, topic)
      return
    }
    const r = this.#record(id, now)
    if (r.status !== 'unknown') return
    if (ignore) {
      r.status = 'ignored'
      r.peers = undefined
      return
    }
    r.status = 'invalid'
    this.#markInvalid(peer, topic)
    for (const p of r.peers ?? []) this.#markInvalid(p, topic)
    r.peers = undefined
  }

  /** `peer` sent a message we already had (counts for P₃ when within the mesh delivery window). */
  duplicateMessage(peer: string, id: string, topic: string, now: Millis): void {
    const r = this.#record(id, now)
    if (r.peers?.has(peer) === true) return
    switch (r.status) {
      case 'unknown':
        (r.peers ??= new Set()).add(peer)
        break
      case 'valid':
        (r.peers ??= new Set()).add(peer)
        this.#markDuplicateDelivery(peer, topic, r.validated, now)
        break
      case 'invalid':
        this.#markInvalid(peer, topic)
        break
      case 'ignored':
        break
    }
  }

  #markInvalid(peer: string, topic: string): void {
    const s = this.#peers.get(peer)
    const t = s === undefined ? undefined : this.#topicStats(s, topic)
    if (t !== undefined) t.invalidMessageDeliveries += 1
  }

  #markFirstDelivery(peer: string, topic: string): void {
    const s = this.#peers.get(peer)
    const t = s === undefined ? undefined : this.#topicStats(s, topic)
    const tp = this.#topicParams(topic)
    if (t === undefined || tp === undefined) return
    t.firstMessageDeliveries = Math.min(t.firstMessageDeliveries + 1, tp.firstMessageDeliveriesCap)
    if (t.inMesh) t.meshMessageDeliveries = Math.min(t.meshMessageDeliveries + 1, tp.meshMessageDeliveriesCap)
  }

  #markDuplicateDelivery(peer: string, topic: string, validated: Millis | undefined, now: Millis): void {
    const s = this.#peers.get(peer)
    const t = s?.topics.get(topic)
    const tp = this.#topicParams(topic)
    if (t === undefined || tp === undefined || !t.inMesh) return
    if (validated !== undefined && now > validated + tp.meshMessageDeliveriesWindow) return
    t.meshMessageDeliveries = Math.min(t.meshMessageDeliveries + 1, tp.meshMessageDeliveriesCap)
  }

  /** Every `decayInterval`: decay counters, activate P₃, forget expired peers and delivery records. */
  refresh(now: Millis): void {
    const p = this.params
    const zero = (v: number): number => (v < p.decayToZero ? 0 : v)
    for (const [peer, s] of this.#peers) {
      if (!s.connected && s.expire <= now) {
        this.#peers.delete(peer)
        this.#retained.delete(peer)
        continue
      }
      for (const [topic, t] of s.topics) {
        const tp = this.#topicParams(topic)
        if (tp === undefined) continue
        t.firstMessageDeliveries = zero(t.firstMessageDeliveries * tp.firstMessageDeliveriesDecay)
        t.meshMessageDeliveries = zero(t.meshMessageDeliveries * tp.meshMessageDeliveriesDecay)
        t.meshFailurePenalty = zero(t.meshFailurePenalty * tp.meshFailurePenaltyDecay)
        t.invalidMessageDeliveries = zero(t.invalidMessageDeliveries * tp.invalidMessageDeliveriesDecay)
        if (t.inMesh) {
          t.meshTime = now - t.graftTime
          if (t.meshTime > tp.meshMessageDeliveriesActivation) t.meshMessageDeliveriesActive = true
        }
      }
      s.behaviourPenalty = zero(s.behaviourPenalty * p.behaviourPenaltyDecay)
    }
    this.#last = undefined
    for (const [id, r] of this.#deliveries) {
      if (r.expire > now) break
      this.#deliveries.delete(id)
    }
  }

  /** Stats kept (bounded by connected peers + maxRetainedPeers). */
  get trackedPeers(): number {
    return this.#peers.size
  }
}
