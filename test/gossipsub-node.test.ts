// Full stack: five real weft nodes over the memory transport subscribe, publish and receive; validators;
// the typed no-peers error.
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, type NodeOptions, type WeftNode } from '../src/node.js'
import type { GossipsubMessage } from '../src/node.js'
import { UsageError } from '../src/core/errors.js'
import { fromUtf8 } from '../src/core/bytes.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function network(n: number, pubsub: NonNullable<NodeOptions['pubsub']> = {}): Promise<WeftNode[]> {
  const ns: WeftNode[] = []
  for (let i = 0; i < n; i++) ns.push(await createNode({ listen: ['/memory/0'], pubsub: { heartbeatInterval: 100, ...pubsub } }))
  nodes.push(...ns)
  // a ring plus chords: every node reaches every other within two hops
  for (let i = 0; i < n; i++) {
    await ns[i]!.dial(ns[(i + 1) % n]!.getMultiaddrs()[0]!)
    if (n > 3) await ns[i]!.dial(ns[(i + 2) % n]!.getMultiaddrs()[0]!)
  }
  return ns
}

describe('gossipsub over the memory transport', () => {
  test('5 nodes: every published message reaches every other subscriber exactly once', async () => {
    const ns = await network(5)
    const got: GossipsubMessage[][] = ns.map(() => [])
    ns.forEach((n, i) => {
      n.pubsub.subscribe('chat')
      n.pubsub.on('message', (m) => got[i]!.push(m))
    })
    await until(() => ns.every((n) => n.pubsub.getSubscribers('chat').length >= 2 && n.pubsub.getMeshPeers('chat').length >= 2))
    for (let i = 0; i < ns.length; i++) {
      const r = await ns[i]!.pubsub.publish('chat', `hello from ${i}`)
      expect(r.recipients).toBeGreaterThan(0)
      expect(r.messageId.length).toBeGreaterThan(0)
    }
    await until(() => got.every((g) => g.length === ns.length - 1))
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < ns.length; i++) {
      const texts = got[i]!.map((m) => fromUtf8(m.data)).sort()
      expect(texts).toEqual(ns.map((_, j) => `hello from ${j}`).filter((_, j) => j !== i).sort())
      for (const m of got[i]!) {
        expect(m.from).toBeDefined()
        expect(ns.some((n) => n.peerId.equals(m.from!))).toBe(true)
      }
    }
    for (const n of ns) for (const p of n.pubsub.getPeers()) expect(n.pubsub.getScore(p)).toBeGreaterThanOrEqual(0)
  }, 20_000)

  test('an async validator rejecting a message stops it and lowers the sender score', async () => {
    const ns = await network(3)
    const got: string[][] = ns.map(() => [])
    ns.forEach((n, i) => {
      n.pubsub.subscribe('v')
      n.pubsub.on('message', (m) => got[i]!.push(fromUtf8(m.data)))
    })
    ns[1]!.pubsub.addValidator('v', async (m) => {
      await new Promise((r) => setTimeout(r, 5))
      return fromUtf8(m.data).startsWith('bad') ? 'reject' : 'accept'
    })
    await until(() => ns.every((n) => n.pubsub.getSubscribers('v').length === 2))
    await ns[0]!.pubsub.publish('v', 'good')
    await ns[0]!.pubsub.publish('v', 'bad one')
    // the positive signal first: node 1 has rejected 'bad one' (the rejection lowered the sender's score) ...
    await until(() => got[1]!.includes('good') && got[2]!.length >= 1 && ns[1]!.pubsub.getScore(ns[0]!.peerId) < 0)
    // ... then the negative check: it was not delivered
    expect(got[1]).toEqual(['good'])
  }, 20_000)

  test('publishing with no subscribed peer rejects with a typed error', async () => {
    const [a] = await network(2, { floodPublish: false })
    a!.pubsub.subscribe('lonely')
    await expect(a!.pubsub.publish('lonely', 'x')).rejects.toSatisfy((e: unknown) => e instanceof UsageError && e.code === 'gossipsub/no-peers')
  }, 20_000)
})
