// Gossipsub on a simulated network (bench/gossipsub-sim-net.ts: behaviour level, virtual time, seeded):
// mesh invariants as properties after every heartbeat, no message forwarded twice to one peer, scores
// within their bounds; 100 nodes delivering everything, with and without loss and spammers.
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { simulate, type SimNode } from '../bench/gossipsub-sim-net.js'

/** The score's upper bound from the parameters: the capped topic part plus nothing else positive (P₅ = 0). */
function scoreUpperBound(node: SimNode): number {
  const p = node.behaviour.cfg.scoreParams
  const t = p.defaultTopic!
  const topic = t.topicWeight * (t.timeInMeshWeight * t.timeInMeshCap + t.firstMessageDeliveriesWeight * t.firstMessageDeliveriesCap)
  return p.topicScoreCap > 0 ? Math.min(topic, p.topicScoreCap) : topic
}

function checkHeartbeatInvariants(node: SimNode, now: number, seenTicks: Map<number, number>): void {
  const b = node.behaviour
  if (seenTicks.get(node.index) === b.heartbeatTicks) return
  seenTicks.set(node.index, b.heartbeatTicks)
  const { Dlo, Dhi } = b.cfg
  for (const [topic, mesh] of b.mesh) {
    expect(mesh.size).toBeLessThanOrEqual(Dhi)
    // every peer we could graft, plus those already in the mesh
    const known = [...(b.topicPeers.get(topic) ?? [])].filter((k) => mesh.has(k) || b.graftable(now, topic, k, 0)).length
    expect(mesh.size).toBeGreaterThanOrEqual(Math.min(Dlo, known))
    for (const k of mesh) expect(b.topicPeers.get(topic)?.has(k)).toBe(true)
  }
  const upper = scoreUpperBound(node)
  for (const k of b.peers.keys()) {
    const s = b.getScore(k, now)
    expect(Number.isFinite(s)).toBe(true)
    expect(s).toBeLessThanOrEqual(upper + 1e-9)
  }
}

describe('gossipsub simulation', () => {
  test('mesh invariants after every heartbeat; no message forwarded twice to one peer (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 8, max: 30 }), fc.integer({ min: 2, max: 7 }), fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(0, 0.05),
      (nodes, degree, seed, loss) => {
        const seen = new Map<number, number>()
        const { result } = simulate({
          nodes, seed, degree, loss, messages: 30, warmup: 3000, duration: 5000, crypto: nodeCrypto,
          onTimeout: (node, now) => checkHeartbeatInvariants(node, now, seen),
        })
        expect(result.repeatedToSamePeer).toBe(0)
        if (loss === 0) expect(result.deliveryRatio).toBe(1)
      },
    ), { numRuns: 8 })
  }, 60_000)

  test('100 nodes, no loss: delivery ratio 1.0', () => {
    const { result } = simulate({ nodes: 100, seed: 1, messages: 40, duration: 6000, crypto: nodeCrypto })
    expect(result.deliveryRatio).toBe(1)
    expect(result.repeatedToSamePeer).toBe(0)
    expect(result.latencyP99Ms).toBeLessThan(1000)
  }, 30_000)

  test('100 nodes, 5% loss, 10% spammers: delivery >= 0.999, every spammer graylisted by its honest neighbours', () => {
    const { result } = simulate({ nodes: 100, seed: 2, spammers: 0.1, loss: 0.05, messages: 40, duration: 6000, crypto: nodeCrypto })
    expect(result.deliveryRatio).toBeGreaterThanOrEqual(0.999)
    expect(result.spammers).toBe(10)
    expect(result.spammersGraylisted).toBe(10)
  }, 30_000)

  test('the same seed gives the same run', () => {
    const a = simulate({ nodes: 20, seed: 9, loss: 0.05, messages: 20, duration: 4000, crypto: nodeCrypto }).result
    const b = simulate({ nodes: 20, seed: 9, loss: 0.05, messages: 20, duration: 4000, crypto: nodeCrypto }).result
    expect(a).toEqual(b)
  })
})
