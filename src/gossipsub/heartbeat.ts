/**
 * The heartbeat (gossipsub-v1.0.md "Heartbeat", gossipsub-v1.1.md "Heartbeat Maintenance",
 * "Opportunistic Grafting", "Adaptive Gossip Dissemination", "Spam Protection Measures").
 *
 * Every `heartbeatInterval`:
 * 1. reset per-heartbeat counters; PRUNE (with backoff) the meshes a slow peer was dropped from;
 *    apply broken IWANT promises to P₇;
 * 2. for each topic we joined: drop negative-score peers; below D_lo graft up to D; above D_hi keep
 *    D_score best + random up to D with at least D_out outbound; fill the D_out quota; every
 *    `opportunisticGraftTicks` graft peers above the mesh median when it is below the threshold;
 * 3. fanout: expire after `fanoutTTL` without publishing, drop low scorers, refill to D;
 * 4. gossip: IHAVE of the mcache's gossip windows to max(D_lazy, gossipFactor·n) eligible non-mesh peers;
 * 5. send GRAFT / PRUNE / IHAVE as one RPC per peer; shift the mcache; expire seen, backoff, IDONTWANT;
 * 6. every `directConnectTicks`, redial unconnected direct peers.
 */
import type { Millis } from '../core/byte-machine.js'
import { shrinkMap } from '../core/empty-map.js'
import type { ControlIHave, ControlPrune } from './rpc.js'
import { FLOODSUB } from './config.js'
import { makePrune, type PruneContext } from './control.js'
import type { GossipsubContext } from './context.js'
import { clearSlow, sendRpc, type SendContext } from './send.js'
import type { PeerState } from './types.js'
import { gossipTargetCount, median, sample, selectMeshSurvivors, shuffle } from './mesh.js'

/** What the heartbeat reads and changes. */
export type HeartbeatContext = SendContext & PruneContext & Pick<GossipsubContext, 'heartbeatTicks' | 'promises' | 'fanout' | 'fanoutLastPub' |
  'mcache' | 'seen' | 'backoff' | 'direct' | 'graftable' | 'dial'>

interface Outgoing {
  graft: string[]
  prune: ControlPrune[]
  ihave: ControlIHave[]
}

export function heartbeat(g: HeartbeatContext, now: Millis): void {
  const cfg = g.cfg
  g.heartbeatTicks++
  const score = (k: string): number => (cfg.scoring ? g.score.score(k, now) : 0)
  const out = new Map<string, Outgoing>()
  const get = (k: string): Outgoing => {
    let o = out.get(k)
    if (o === undefined) out.set(k, (o = { graft: [], prune: [], ihave: [] }))
    return o
  }

  // 1. counters, promises
  for (const p of g.peers.values()) {
    p.ihaveMessages = 0
    p.ihaveIds = 0
    p.iwantServed = 0
    p.idontwant = 0
    clearSlow(g, p)
    for (const topic of p.slowPrunes) {
      g.backoff.add(now, topic, p.key, cfg.pruneBackoff)
      get(p.key).prune.push(makePrune(g, now, p, topic, cfg.pruneBackoff, false))
    }
    p.slowPrunes.length = 0
    for (const [id, exp] of p.dontSend) {
      if (exp > now) break
      p.dontSend.delete(id)
    }
    p.dontSend = shrinkMap(p.dontSend)
  }
  for (const [id, byPeer] of g.promises) {
    for (const [k, deadline] of byPeer) {
      if (deadline > now) continue
      g.score.addPenalty(k, 1)
      byPeer.delete(k)
    }
    if (byPeer.size === 0) g.promises.delete(id)
  }

  const graft = (topic: string, mesh: Set<string>, k: string): void => {
    mesh.add(k)
    g.score.graft(k, topic, now)
    get(k).graft.push(topic)
    g.event({ type: 'graft', peer: g.peers.get(k)!.id, topic })
  }
  const prune = (topic: string, mesh: Set<string>, k: string, px: boolean): void => {
    mesh.delete(k)
    g.score.prune(k, topic)
    g.backoff.add(now, topic, k, cfg.pruneBackoff)
    const p = g.peers.get(k)!
    get(k).prune.push(makePrune(g, now, p, topic, cfg.pruneBackoff, px))
    g.event({ type: 'prune', peer: p.id, topic })
  }
  const candidates = (topic: string, mesh: Set<string>, minScore: number, filter?: (p: PeerState) => boolean): string[] =>
    [...(g.topicPeers.get(topic) ?? [])].filter((k) => !mesh.has(k) && g.graftable(now, topic, k, minScore) && (filter === undefined || filter(g.peers.get(k)!)))

  // 2. mesh maintenance
  for (const [topic, mesh] of g.mesh) {
    for (const k of [...mesh]) {
      const p = g.peers.get(k)
      if (p === undefined || !p.topics.has(topic)) { mesh.delete(k); continue }
      if (score(k) < 0) prune(topic, mesh, k, false)
    }
    if (mesh.size < cfg.Dlo) {
      for (const k of sample(candidates(topic, mesh, 0), cfg.D - mesh.size, g.rand)) graft(topic, mesh, k)
    }
    if (mesh.size > cfg.Dhi) {
      const cands = [...mesh].map((k) => ({ peer: k, score: score(k), outbound: g.peers.get(k)!.outbound }))
      const keep = selectMeshSurvivors(cands, cfg.D, cfg.Dscore, cfg.Dout, g.rand)
      for (const k of [...mesh]) if (!keep.has(k)) prune(topic, mesh, k, true)
    }
    if (mesh.size >= cfg.Dlo) {
      let outbound = 0
      for (const k of mesh) if (g.peers.get(k)!.outbound) outbound++
      if (outbound < cfg.Dout) {
        for (const k of sample(candidates(topic, mesh, 0, (p) => p.outbound), cfg.Dout - outbound, g.rand)) graft(topic, mesh, k)
      }
    }
    if (cfg.scoring && g.heartbeatTicks % cfg.opportunisticGraftTicks === 0 && mesh.size > 1) {
      const med = median([...mesh].map(score))
      if (med < cfg.scoreThresholds.opportunisticGraftThreshold) {
        const better = candidates(topic, mesh, 0).filter((k) => score(k) > med)
        for (const k of sample(better, cfg.opportunisticGraftPeers, g.rand)) graft(topic, mesh, k)
      }
    }
    emitGossip(g, now, topic, mesh, get)
  }

  // 3. fanout
  for (const [topic, fan] of g.fanout) {
    const last = g.fanoutLastPub.get(topic) ?? 0
    if (last + cfg.fanoutTTL < now) {
      g.fanout.delete(topic)
      g.fanoutLastPub.delete(topic)
      continue
    }
    for (const k of [...fan]) {
      const p = g.peers.get(k)
      if (p === undefined || !p.topics.has(topic) || score(k) < cfg.scoreThresholds.publishThreshold) fan.delete(k)
    }
    if (fan.size < cfg.D) {
      for (const k of sample(candidates(topic, fan, cfg.scoreThresholds.publishThreshold), cfg.D - fan.size, g.rand)) fan.add(k)
    }
    emitGossip(g, now, topic, fan, get)
  }

  // 5. one RPC per peer
  for (const [k, o] of out) {
    const p = g.peers.get(k)
    if (p === undefined) continue
    sendRpc(g, p, { control: { graft: o.graft.map((topic) => ({ topic })), prune: o.prune, ihave: o.ihave } }, true)
  }
  g.mcache.shift()
  g.seen.prune(now)
  g.backoff.prune(now)

  // 6. direct peers
  if (g.heartbeatTicks % cfg.directConnectTicks === 0) {
    for (const d of cfg.directPeers) if (!g.peers.has(d.toString())) g.dial(d)
  }
}

function emitGossip(g: HeartbeatContext, now: Millis, topic: string, exclude: Set<string>, get: (k: string) => Outgoing): void {
  const cfg = g.cfg
  const eligible = [...(g.topicPeers.get(topic) ?? [])].filter((k) => {
    if (exclude.has(k) || g.direct.has(k)) return false
    const p = g.peers.get(k)
    if (p === undefined || p.protocol === undefined || p.protocol === FLOODSUB) return false
    return !cfg.scoring || g.score.score(k, now) >= cfg.scoreThresholds.gossipThreshold
  })
  const n = gossipTargetCount(eligible.length, cfg.Dlazy, cfg.gossipFactor)
  if (n === 0) return
  const ids = g.mcache.getGossipIds(topic)
  if (ids.length === 0) return
  const chosen = ids.length > cfg.maxIHaveLength ? shuffle([...ids], g.rand).slice(0, cfg.maxIHaveLength) : ids
  for (const k of sample(eligible, n, g.rand)) get(k).ihave.push({ topic, messageIds: chosen })
}
