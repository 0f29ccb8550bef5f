import { afterAll, expect, test } from 'vitest'
import { createNode } from '../src/node.js'
import type { WeftNode } from '../src/node.js'
import { concat, utf8 } from '../src/core/bytes.js'
import type { KadProgress } from '../src/kad/index.js'

const nodes: WeftNode[] = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

test('6 real nodes over the memory transport: bootstrap, put/get, provide/findProviders, findPeer, getClosestPeers', async () => {
  const first = await createNode({ listen: ['/memory/0'] })
  nodes.push(first)
  const boot = first.getMultiaddrs()[0]!
  for (let i = 1; i < 6; i++) {
    const n = await createNode({ listen: ['/memory/0'], dht: { bootstrapPeers: [{ peer: first.peerId, addrs: [boot.withoutPeerId()] }] } })
    nodes.push(n)
    await n.dht.bootstrap()
  }
  for (const n of nodes) await n.dht.bootstrap()
  expect(nodes[5]!.dht.routingTableSize).toBeGreaterThanOrEqual(3)

  // put a /pk record from node 1, get it from node 4
  const key = concat([utf8('/pk/'), nodes[2]!.peerId.multihash])
  const put = await nodes[1]!.dht.put(key, nodes[2]!.privateKey.publicKey.bytes)
  expect(put.stored.length).toBeGreaterThan(0)
  const progress: KadProgress[] = []
  const value = await nodes[4]!.dht.get(key, { onProgress: (p) => progress.push(p) })
  expect(value).toEqual(nodes[2]!.privateKey.publicKey.bytes)
  expect(progress.some((p) => p.kind === 'asked')).toBe(true)

  // provide from node 3, find from node 5
  const cid = concat([Uint8Array.of(0x12, 0x20), new Uint8Array(32).fill(7)])
  await nodes[3]!.dht.provide(cid)
  const providers = await nodes[5]!.dht.findProviders(cid)
  expect(providers.map((p) => p.peer.toString())).toContain(nodes[3]!.peerId.toString())

  // find peer 5 from node 1
  const found = await nodes[1]!.dht.findPeer(nodes[5]!.peerId)
  expect(found.addrs.length).toBeGreaterThan(0)

  const closest = await nodes[2]!.dht.getClosestPeers(utf8('anything'))
  expect(closest.length).toBe(5)

  // an aborted query rejects
  const ac = new AbortController()
  const p = nodes[1]!.dht.get(utf8('/pk/missing'), { signal: ac.signal })
  ac.abort()
  await expect(p).rejects.toBeDefined()
}, 20_000)
