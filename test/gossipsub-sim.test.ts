// Gossipsub on a simulated network (bench/gossipsub-sim-net.ts: behaviour level, virtual time, seeded):
// mesh invariants as properties after every heartbeat, no message forwarded twice to one peer, scores
// within their bounds; 100 nodes delivering everything, with and without loss and spammers.
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { simulate, type SimNode } from '../bench/gossipsub-sim-net.js'
import { Harness, mulberry32, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { encodeLp } from '../src/core/lp.js'
import { decodeRpc, encodeRpc, GossipsubBehaviour, type GossipsubEvent } from '../src/gossipsub/index.js'
import type { BehaviourAction, ConnectionInfo } from '../src/swarm/index.js'

/** The score's upper bound from the parameters: the capped topic part plus nothing else positive (P₅ = 0). */
function scoreUpperBound(node: SimNode): number {
  const p = node.behaviour.inspect().cfg.scoreParams
  const t = p.defaultTopic!
  const topic = t.topicWeight * (t.timeInMeshWeight * t.timeInMeshCap + t.firstMessageDeliveriesWeight * t.firstMessageDeliveriesCap)
  return p.topicScoreCap > 0 ? Math.min(topic, p.topicScoreCap) : topic
}

function checkHeartbeatInvariants(node: SimNode, now: number, seenTicks: Map<number, number>): void {
  const b = node.behaviour.inspect()
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
    const s = node.behaviour.getScore(k, now)
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

  test('IDONTWANT, 64 KiB messages several in flight at once: duplicates cut by >= 30%, delivery 1.0, every duplicate accounted for', () => {
    // 30 nodes, 40 messages in 1 s (about 2.6 MiB per second published into a 10 Mbit/s-per-link
    // network): copies queue behind earlier writes, where an IDONTWANT can still cancel them
    const base = { nodes: 30, seed: 1, messages: 40, messageSize: 64 * 1024, warmup: 3000, duration: 1000, crypto: nodeCrypto }
    const on = simulate({ ...base, idontwant: true }).result
    const off = simulate({ ...base, idontwant: false }).result
    expect(on.deliveryRatio).toBe(1)
    expect(off.deliveryRatio).toBe(1)
    expect(on.repeatedToSamePeer).toBe(0)
    expect(1 - on.duplicatesPerMessage / off.duplicatesPerMessage).toBeGreaterThanOrEqual(0.3)
    for (const r of [on, off]) {
      const byCause = Object.values(r.duplicatesByCause).reduce((a, b) => a + b, 0)
      expect(byCause).toBe(r.duplicates)
      // a peer is never handed a message after its IDONTWANT for it arrived
      expect(r.duplicatesByCause['after-idontwant']).toBe(0)
    }
    // without IDONTWANT nothing tells a peer; with it, (almost) every peer that could be told was
    expect(off.duplicatesByCause['idontwant-in-transit']).toBe(0)
    expect(on.duplicatesByCause['no-idontwant']).toBeLessThan(off.duplicatesByCause['no-idontwant'] / 10)
  }, 60_000)

  test('the same seed gives the same run', () => {
    const a = simulate({ nodes: 20, seed: 9, loss: 0.05, messages: 20, duration: 4000, crypto: nodeCrypto }).result
    const b = simulate({ nodes: 20, seed: 9, loss: 0.05, messages: 20, duration: 4000, crypto: nodeCrypto }).result
    expect(a).toEqual(b)
  })

  test('v1.2 "Cancelling IWANT": a queued IWANT reply is dropped by the IDONTWANT that follows; an id the peer said IDONTWANT for is not served', () => {
    const r = mulberry32(5)
    const me = testIdentity(1, '/ip4/10.0.0.1/tcp/1')
    const peer = testIdentity(2, '/ip4/10.0.0.2/tcp/1')
    const b = new GossipsubBehaviour({ random: (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256)), crypto: nobleCrypto, privateKey: me.key, heartbeatInitialDelay: 1000 })
    const h = new Harness<GossipsubEvent>(b)
    b.subscribe(0, 't')
    const conn: ConnectionInfo = { id: 1, peer: peer.peer, remotePublicKey: peer.publicKey, remoteAddr: peer.addr, localAddr: undefined, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    const OUT = { connection: 1, stream: 1 }
    const IN = { connection: 1, stream: 2 }
    const open = h.input({ type: 'connection-established', connection: conn }).find((a) => a.type === 'open-stream') as Extract<BehaviourAction<GossipsubEvent>, { type: 'open-stream' }>
    h.input({ type: 'stream-opened', stream: OUT, protocol: '/meshsub/1.2.0', direction: 'outbound', connection: conn, requestId: open.requestId })
    h.input({ type: 'stream-opened', stream: IN, protocol: '/meshsub/1.2.0', direction: 'inbound', connection: conn })
    const send = (rpc: Parameters<typeof encodeRpc>[0]) => h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc(rpc)) })
    const written = (acts: BehaviourAction<GossipsubEvent>[]): number => acts.filter((a) => a.type === 'write').reduce((n, a) => n + (a.type === 'write' ? countMessages(a.data) : 0), 0)
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    h.input({ type: 'stream-writable', stream: OUT })
    const { messageId } = b.publish(h.now, 't', new Uint8Array(2000).fill(7))
    expect(written(h.drain())).toBe(1) // flood published, the write is in flight
    // IWANT while that write is in flight: the reply waits in our queue ...
    expect(written(send({ control: { iwant: [{ messageIds: [messageId] }] } }))).toBe(0)
    const p = b.inspect().peers.get(peer.peer.toString())!
    expect(p.outbox.filter((e) => e.id !== undefined)).toHaveLength(1)
    // ... and the peer's IDONTWANT (it got the message meanwhile) removes it before it is written
    send({ control: { idontwant: [{ messageIds: [messageId] }] } })
    expect(p.outbox.filter((e) => e.id !== undefined)).toHaveLength(0)
    expect(written(h.input({ type: 'stream-writable', stream: OUT }))).toBe(0)
    // a later IWANT for an id the peer said IDONTWANT for is not served
    expect(written(send({ control: { iwant: [{ messageIds: [messageId] }] } }))).toBe(0)
    expect(p.outbox).toHaveLength(0)
  })
})

/** Messages in the RPC frames of one write. */
function countMessages(data: Uint8Array): number {
  let n = 0
  let pos = 0
  while (pos < data.length) {
    let len = 0
    let mul = 1
    for (;;) { const x = data[pos++]!; len += (x & 0x7f) * mul; if ((x & 0x80) === 0) break; mul *= 128 }
    n += decodeRpc(data.subarray(pos, pos + len)).messages.length
    pos += len
  }
  return n
}
