/**
 * Gossipsub PX with signed peer records (go-libp2p-pubsub's behaviour): the router keeps each
 * connected peer's latest verified signed peer record from identify's `peer-info`, and a PRUNE with
 * PX carries it beside the peer id, so the pruned peer can verify and dial the PX peers. Peers
 * without a record go as bare ids. End to end over TCP loopback: A prunes B with PX and B discovers
 * C (only A knows it) with source 'pubsub-px' and dials it.
 */
import { afterEach, expect, test, vi } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { toHex } from '../src/core/bytes.js'
import { makePrune } from '../src/gossipsub/control.js'
import { resolveConfig } from '../src/gossipsub/config.js'
import { GossipsubContext } from '../src/gossipsub/context.js'
import type { PeerState } from '../src/gossipsub/types.js'
import type { PeerId } from '../src/peer-id/index.js'
import { testIdentity } from './helpers/behaviour-harness.js'
import { ME, PEER, scripted, seeded } from './helpers/gossipsub-scripted.js'

const C = testIdentity(3, '/ip4/10.0.0.3/tcp/1')
const D = testIdentity(4, '/ip4/10.0.0.4/tcp/1')
const REC_C = Uint8Array.of(1, 2, 3, 4)

function pruneContext() {
  const g = new GossipsubContext(resolveConfig({ random: seeded(3), crypto: nobleCrypto, privateKey: ME.key, scoring: false }))
  const add = (peer: PeerId, record?: Uint8Array): PeerState => {
    const p = { key: peer.toString(), id: peer, protocol: '/meshsub/1.2.0', ...(record !== undefined ? { record: { seq: 1n, envelope: record } } : {}) } as unknown as PeerState
    g.peers.set(p.key, p)
    return p
  }
  const b = add(PEER.peer)
  add(C.peer, REC_C)
  add(D.peer)
  g.topicPeers.set('t', new Set([PEER.peer.toString(), C.peer.toString(), D.peer.toString()]))
  return { g, b }
}

const px = (peers: Array<{ peerId?: Uint8Array; signedPeerRecord?: Uint8Array }>) =>
  peers.map((x) => [x.peerId === undefined ? '' : toHex(x.peerId), x.signedPeerRecord === undefined ? null : toHex(x.signedPeerRecord)]).sort()

test('a PRUNE with PX carries the signed record of each PX peer we hold one for; others go as bare ids', () => {
  const { g, b } = pruneContext()
  const prune = makePrune(g, 0, b, 't', 60_000, true)
  expect(px(prune.peers)).toEqual([
    [toHex(C.peer.multihash), toHex(REC_C)],
    [toHex(D.peer.multihash), null],
  ].sort())
  // no PX: no peers at all (and never the pruned peer itself)
  expect(makePrune(g, 0, b, 't', 60_000, false).peers).toEqual([])
  // bounded by prunePeers
  const one = new GossipsubContext(resolveConfig({ random: seeded(3), crypto: nobleCrypto, privateKey: ME.key, scoring: false, prunePeers: 1 }))
  for (const [k, v] of g.peers) one.peers.set(k, v)
  one.topicPeers.set('t', g.topicPeers.get('t')!)
  expect(makePrune(one, 0, b, 't', 60_000, true).peers).toHaveLength(1)
})

test("identify's peer-info record is kept per peer, newest seq wins, unknown peers ignored", () => {
  const { b, h } = scripted()
  const rec = (k: string) => b.inspect().peers.get(k)?.record
  const key = PEER.peer.toString()
  expect(rec(key)).toBeUndefined()
  h.input({ type: 'peer-info', peer: PEER.peer, info: { signedPeerRecord: { seq: 5n, envelope: Uint8Array.of(5) } }, from: 'identify' })
  expect(rec(key)?.seq).toBe(5n)
  h.input({ type: 'peer-info', peer: PEER.peer, info: { signedPeerRecord: { seq: 4n, envelope: Uint8Array.of(4) } }, from: 'identify' })
  expect(rec(key)?.envelope).toEqual(Uint8Array.of(5))
  h.input({ type: 'peer-info', peer: PEER.peer, info: { signedPeerRecord: { seq: 6n, envelope: Uint8Array.of(6) } }, from: 'identify' })
  expect(rec(key)?.envelope).toEqual(Uint8Array.of(6))
  // facts without a record leave it alone
  h.input({ type: 'peer-info', peer: PEER.peer, info: { protocols: ['/x'] }, from: 'identify' })
  expect(rec(key)?.seq).toBe(6n)
  // a peer the router has no state for: nothing is kept (the record goes with the PeerState)
  h.input({ type: 'peer-info', peer: C.peer, info: { signedPeerRecord: { seq: 1n, envelope: REC_C } }, from: 'identify' })
  expect(b.inspect().peers.has(C.peer.toString())).toBe(false)
})

const LOOP = '/ip4/127.0.0.1/tcp/0'
const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })
async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: [LOOP], ...opts })
  nodes.push(n)
  return n
}

test('A prunes B with PX over TCP: B discovers C (pubsub-px) from the signed record A sent and dials it', async () => {
  // A's mesh holds one peer: a GRAFT from a second inbound peer is answered with PRUNE + PX
  const a = await node({ pubsub: { scoring: false, D: 1, Dlo: 1, Dhi: 1, Dout: 0 } })
  a.pubsub.subscribe('t')
  const c = await node({ pubsub: { scoring: false } })
  c.pubsub.subscribe('t')
  const identified = new Promise<void>((resolve) => {
    const off = a.on('peer:identify', (d) => { if (d.peer.equals(c.peerId) && d.info.signedPeerRecordValid) { off(); resolve() } })
  })
  await c.dial(a.getMultiaddrs()[0]!)
  await identified
  await vi.waitFor(() => expect(a.pubsub.getMeshPeers('t').map(String)).toEqual([c.peerId.toString()]), { timeout: 10_000, interval: 50 })

  const b = await node({ pubsub: { scoring: false } })
  b.pubsub.subscribe('t')
  const discovered = new Promise<{ addrs: string[] }>((resolve) => {
    const off = b.on('peer:discovery', (d) => { if (d.peer.equals(c.peerId) && d.source === 'pubsub-px') { off(); resolve({ addrs: d.addrs.map(String) }) } })
  })
  const connected = new Promise<void>((resolve) => {
    const off = b.on('peer:connect', (p) => { if (p.equals(c.peerId)) { off(); resolve() } })
  })
  await b.dial(a.getMultiaddrs()[0]!)
  expect(b.getConnections(c.peerId)).toHaveLength(0) // only A knows C
  const ev = await discovered
  const cAddrs = c.getMultiaddrs().map((m) => m.withoutPeerId().toString())
  expect(ev.addrs).toEqual(expect.arrayContaining(cAddrs))
  await connected
  expect(b.getConnections(c.peerId).length).toBeGreaterThan(0)
  expect(b.peerStore.get(c.peerId)?.addrs.map(String)).toEqual(expect.arrayContaining(cAddrs))
}, 20_000)
