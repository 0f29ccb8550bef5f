/**
 * Control messages (gossipsub-v1.0.md "Control Messages", gossipsub-v1.1.md "PRUNE Backoff and Peer
 * Exchange", "Spam Protection Measures", gossipsub-v1.2.md "IDONTWANT Message"): what the router does
 * with the IHAVE, IWANT, GRAFT, PRUNE and IDONTWANT of one RPC, and the PRUNE it builds.
 *
 * Replies (IWANT for an IHAVE, PRUNE for a refused GRAFT) go back as one RPC; messages asked for by
 * IWANT follow, each as its own frame.
 */
import type { Millis } from '../core/byte-machine.js'
import { ownMap } from '../core/empty-map.js'
import { PeerId, openPeerRecord } from '../peer-id/index.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { GOSSIPSUB_V10 } from './config.js'
import type { GossipsubContext } from './context.js'
import { sendFrame, sendRpc, type SendContext } from './send.js'
import type { PeerState } from './types.js'
import { idKey } from './types.js'
import { sample, shuffle } from './mesh.js'
import { frameMessage, type ControlMessage, type ControlPrune } from './rpc.js'

/** What building a PRUNE reads. */
export type PruneContext = Pick<GossipsubContext, 'cfg' | 'topicPeers' | 'peers' | 'score' | 'rand'>

/** What handling control messages reads and changes. */
export type ControlContext = SendContext & PruneContext & Pick<GossipsubContext, 'seen' | 'promises' | 'mcache' | 'backoff' | 'direct' | 'dial' | 'learn'>

export function handleControl(g: ControlContext, now: Millis, p: PeerState, c: ControlMessage): void {
  const reply: { messages: Array<{ id: string; raw: Uint8Array }>; iwant: Uint8Array[]; prune: ControlPrune[] } = { messages: [], iwant: [], prune: [] }
  const gossipOk = !g.cfg.scoring || g.score.score(p.key, now) >= g.cfg.scoreThresholds.gossipThreshold
  if (gossipOk) {
    for (const ih of c.ihave) handleIHave(g, now, p, ih.topic, ih.messageIds, reply.iwant)
    for (const iw of c.iwant) handleIWant(g, p, iw.messageIds, reply.messages)
  }
  for (const gr of c.graft) handleGraft(g, now, p, gr.topic, reply.prune)
  for (const pr of c.prune) handlePrune(g, now, p, pr)
  let cancelled = false
  for (const d of c.idontwant) {
    for (const id of d.messageIds) {
      if (++p.idontwant > g.cfg.maxIDontWantMessages) break
      if (id.length > g.cfg.maxMessageIdLength) continue // never an id of ours: not kept
      const k = idKey(id)
      p.dontSend = ownMap(p.dontSend)
      p.dontSend.set(k, now + 3 * g.cfg.heartbeatInterval)
      cancelled = true
    }
  }
  // v1.2: a queued, not yet written copy of a message the peer does not want is dropped (IWANT
  // replies included: "Cancelling IWANT")
  if (cancelled && p.outbox.length > 0) {
    p.outbox = p.outbox.filter((e) => {
      if (e.id === undefined || !p.dontSend.has(e.id)) return true
      p.outboxBytes -= e.frame.length
      return false
    })
  }
  if (reply.iwant.length > 0) {
    // track one random id per IWANT (v1.1 "Spam Protection Measures")
    const id = idKey(reply.iwant[Math.floor(g.rand() * reply.iwant.length)]!)
    let byPeer = g.promises.get(id)
    if (byPeer === undefined) g.promises.set(id, (byPeer = new Map()))
    if (!byPeer.has(p.key)) byPeer.set(p.key, now + g.cfg.iwantFollowupTime)
  }
  if (reply.iwant.length > 0 || reply.prune.length > 0) {
    sendRpc(g, p, { control: { iwant: reply.iwant.length > 0 ? [{ messageIds: reply.iwant }] : [], prune: reply.prune } }, true)
  }
  // replies stay cancellable by IDONTWANT while queued (v1.2 "Cancelling IWANT")
  for (const m of reply.messages) sendFrame(g, p, frameMessage(m.raw), false, m.id)
}

function handleIHave(g: ControlContext, now: Millis, p: PeerState, topic: string, ids: Uint8Array[], iwant: Uint8Array[]): void {
  if (++p.ihaveMessages > g.cfg.maxIHaveMessages) return
  if (p.ihaveIds >= g.cfg.maxIHaveLength || !g.mesh.has(topic)) return
  const want: Uint8Array[] = []
  for (const id of ids) {
    if (id.length > g.cfg.maxMessageIdLength) continue // never asked for: not kept as a promise
    const k = idKey(id)
    if (!g.seen.has(k) && !g.promises.get(k)?.has(p.key)) want.push(id)
  }
  const room = g.cfg.maxIHaveLength - p.ihaveIds
  const chosen = want.length > room ? shuffle(want, g.rand).slice(0, room) : want
  p.ihaveIds += chosen.length
  iwant.push(...chosen)
  void now
}

function handleIWant(g: ControlContext, p: PeerState, ids: Uint8Array[], out: Array<{ id: string; raw: Uint8Array }>): void {
  for (const id of ids) {
    if (p.iwantServed >= g.cfg.maxIWantServedPerHeartbeat) return
    if (id.length > g.cfg.maxMessageIdLength) continue // not in our cache
    const k = idKey(id)
    if (p.dontSend.has(k)) continue
    const got = g.mcache.getForPeer(k, p.key)
    if (got === undefined || got.count > g.cfg.gossipRetransmission) continue
    p.iwantServed++
    out.push({ id: k, raw: got.msg.raw })
  }
}

function handleGraft(g: ControlContext, now: Millis, p: PeerState, topic: string, prune: ControlPrune[]): void {
  const mesh = g.mesh.get(topic)
  if (mesh === undefined || mesh.has(p.key)) return // unknown topic: ignored (v1.1 spam protection)
  if (g.direct.has(p.key)) {
    prune.push(makePrune(g, now, p, topic, g.cfg.pruneBackoff, false))
    return
  }
  if (g.backoff.active(now, topic, p.key)) {
    g.score.addPenalty(p.key, 1)
    // a GRAFT right after our PRUNE (within graftFloodThreshold of it) is penalised twice
    if (g.backoff.remaining(now, topic, p.key) > g.cfg.pruneBackoff - g.cfg.graftFloodThreshold) g.score.addPenalty(p.key, 1)
    g.backoff.add(now, topic, p.key, g.cfg.pruneBackoff)
    prune.push(makePrune(g, now, p, topic, g.cfg.pruneBackoff, false))
    return
  }
  if (g.cfg.scoring && g.score.score(p.key, now) < 0) {
    g.backoff.add(now, topic, p.key, g.cfg.pruneBackoff)
    prune.push(makePrune(g, now, p, topic, g.cfg.pruneBackoff, false))
    return
  }
  if (mesh.size >= g.cfg.Dhi && !p.outbound) {
    g.backoff.add(now, topic, p.key, g.cfg.pruneBackoff)
    prune.push(makePrune(g, now, p, topic, g.cfg.pruneBackoff, true))
    return
  }
  mesh.add(p.key)
  g.score.graft(p.key, topic, now)
  g.event({ type: 'graft', peer: p.id, topic })
}

function handlePrune(g: ControlContext, now: Millis, p: PeerState, pr: ControlPrune): void {
  const mesh = g.mesh.get(pr.topic)
  if (mesh?.delete(p.key) === true) {
    g.score.prune(p.key, pr.topic)
    g.event({ type: 'prune', peer: p.id, topic: pr.topic })
  }
  // backoff in seconds; clamp to a day so a hostile value cannot overflow our clock arithmetic
  const backoff = pr.backoff !== undefined ? Math.min(pr.backoff, 86_400) * 1000 : g.cfg.pruneBackoff
  if (mesh !== undefined) g.backoff.add(now, pr.topic, p.key, backoff)
  if (pr.peers.length > 0 && mesh !== undefined && (!g.cfg.scoring || g.score.score(p.key, now) >= g.cfg.scoreThresholds.acceptPXThreshold)) {
    peerExchange(g, pr.peers.slice(0, g.cfg.prunePeers))
  }
}

function peerExchange(g: ControlContext, list: ControlPrune['peers']): void {
  for (const px of list) {
    if (px.peerId === undefined) continue
    let peer: PeerId
    try { peer = PeerId.fromBytes(px.peerId) } catch { continue }
    if (g.peers.has(peer.toString())) continue
    let addrs: Multiaddr[] | undefined
    if (px.signedPeerRecord !== undefined) {
      try {
        const { record } = openPeerRecord(px.signedPeerRecord, g.cfg.crypto)
        if (record.peerId.equals(peer)) addrs = record.addrs
      } catch {
        addrs = undefined
      }
    }
    if (addrs !== undefined) g.learn(peer, addrs)
    g.dial(peer, addrs)
  }
}

/** A PRUNE for `p`, with backoff and PX when the peer speaks v1.1+ (each PX peer with its signed record when we hold one). */
export function makePrune(g: PruneContext, now: Millis, p: PeerState, topic: string, backoffMs: number, px: boolean): ControlPrune {
  if (p.protocol === GOSSIPSUB_V10) return { topic, peers: [] }
  const peers: ControlPrune['peers'] = []
  if (px && g.cfg.doPX) {
    const cands = [...(g.topicPeers.get(topic) ?? [])].filter((k) => k !== p.key && (!g.cfg.scoring || g.score.score(k, now) >= 0))
    for (const k of sample(cands, g.cfg.prunePeers, g.rand)) {
      // with the peer's signed record when identify gave us one (go-libp2p-pubsub's PX), else a bare id
      const q = g.peers.get(k)!
      peers.push(q.record !== undefined ? { peerId: q.id.multihash, signedPeerRecord: q.record.envelope } : { peerId: q.id.multihash })
    }
  }
  return { topic, peers, backoff: Math.ceil(backoffMs / 1000) }
}
