/**
 * Gossipsub peer exchange through a real swarm (audit finding 3): a node pruned with a PX entry
 * carrying a signed peer record for a peer it has never seen dials that peer at the record's
 * addresses. Before the fix the swarm read the (empty) peer store before adding the addresses and
 * the dial failed at once with dial/no-addresses.
 */
import { afterEach, expect, test } from 'vitest'
import { createNode, nodeCrypto, type WeftNode } from '../src/node.js'
import { encodeLp } from '../src/core/lp.js'
import { encodeRpc } from '../src/gossipsub/rpc.js'
import { sealPeerRecord } from '../src/peer-id/index.js'

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

async function node(opts: Parameters<typeof createNode>[0]): Promise<WeftNode> {
  const n = await createNode(opts)
  nodes.push(n)
  return n
}

test('a PRUNE with a signed PX record makes the node dial a peer its store has never seen', async () => {
  // A scores nobody below the PX threshold (scoring off), subscribes to 't', and will be pruned.
  const a = await node({ listen: ['/memory/0'], pubsub: { scoring: false } })
  a.pubsub.subscribe('t')
  // C is the peer offered by PX: A has never heard of it.
  const c = await node({ listen: ['/memory/0'], services: {} })
  expect(a.peerStore.get(c.peerId)).toBeUndefined()
  const cAddrs = c.getMultiaddrs().map((m) => m.withoutPeerId())
  const record = sealPeerRecord(c.privateKey, { peerId: c.peerId, seq: 1n, addrs: cAddrs }, nodeCrypto).bytes
  const reached = new Promise<void>((resolve) => c.on('peer:connect', (p) => { if (p.equals(a.peerId)) resolve() }))

  // B speaks gossipsub by hand: subscribe to 't', then PRUNE A from its mesh with C as PX.
  const b = await node({ listen: [], services: {} })
  const s = await b.newStream(a.getMultiaddrs()[0]!, '/meshsub/1.1.0')
  await s.write(encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 't' }] })))
  await s.write(encodeLp(encodeRpc({ control: { prune: [{ topic: 't', peers: [{ peerId: c.peerId.multihash, signedPeerRecord: record }], backoff: 60 }] } })))

  await reached
  expect(a.getConnections(c.peerId)).toHaveLength(1)
  expect(a.peerStore.get(c.peerId)?.addrs.map(String)).toEqual(expect.arrayContaining(cAddrs.map(String)))
  s.reset()
}, 10_000)
