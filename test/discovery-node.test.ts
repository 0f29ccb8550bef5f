/**
 * Discovery in real nodes over TCP loopback (spec/discovery.md): kad discoveries auto-dialed, a
 * bootstrap peer that restarts is redialed, gossipsub PX records (verified) discovered, and no
 * dial storm at the low watermark.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test, vi } from 'vitest'
import { main } from '../src/cli/main.js'
import { createNode, nodeCrypto, UsageError, type WeftNode, type WeftNodeEvents } from '../src/node.js'
import { createNode as createBrowserNode } from '../src/browser.js'
import { encodeLp } from '../src/core/lp.js'
import { encodeRpc } from '../src/gossipsub/rpc.js'
import { generatePrivateKey, sealPeerRecord, type PeerId } from '../src/peer-id/index.js'
import type { Multiaddr } from '../src/multiaddr/index.js'
import type { DiscoverySource } from '../src/edge/node-types.js'
import type { DiscoveryBehaviour } from '../src/edge/discovery.js'
import { cli } from './helpers/cli.js'

const LOOP = '/ip4/127.0.0.1/tcp/0'
const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: [LOOP], ...opts })
  nodes.push(n)
  return n
}

/** Resolves with the first event of `type` that `pred` accepts. */
function next<K extends 'peer:discovery' | 'peer:connect' | 'peer:disconnect' | 'peer:identify'>(n: WeftNode, type: K, pred: (d: WeftNodeEvents[K]) => boolean): Promise<WeftNodeEvents[K]> {
  return new Promise((resolve) => {
    const off = n.on(type, (d) => { if (pred(d)) { off(); resolve(d) } })
  })
}

const disc = (n: WeftNode): DiscoveryBehaviour => n.swarm.behaviours['discovery'] as DiscoveryBehaviour
const is = (p: PeerId) => (x: PeerId) => x.equals(p)
const found = (p: PeerId, source: DiscoverySource) => (d: { peer: PeerId; source: DiscoverySource }) => d.peer.equals(p) && d.source === source

test('A bootstraps from B, B knows C: A discovers C through kad and connects to it', async () => {
  const b = await node()
  const c = await node({ discovery: { bootstrap: [b.getMultiaddrs()[0]!] } })
  // B has C in its routing table once it identified C
  await next(b, 'peer:identify', (d) => d.peer.equals(c.peerId))
  if (b.getConnections(c.peerId).length === 0 || b.dht.routingTableSize === 0) await next(b, 'peer:identify', () => b.dht.routingTableSize > 0)

  const a = await createNode({ listen: [LOOP], start: false, discovery: { bootstrap: [b.getMultiaddrs()[0]!.toString()] } })
  nodes.push(a)
  const events: Array<{ peer: string; source: DiscoverySource }> = []
  a.on('peer:discovery', (d) => events.push({ peer: d.peer.toString(), source: d.source }))
  const bootEv = next(a, 'peer:discovery', found(b.peerId, 'bootstrap'))
  const kadEv = next(a, 'peer:discovery', found(c.peerId, 'kad'))
  const toC = next(a, 'peer:connect', is(c.peerId))
  await a.start()
  await bootEv
  expect(a.connectionManager.isProtected(b.peerId)).toBe(true)
  const ev = await kadEv
  expect(ev.addrs.length).toBeGreaterThan(0)
  expect(a.peerStore.get(c.peerId)?.addrs.length).toBeGreaterThan(0) // in the store when it fired
  await toC
  expect(a.getConnections(c.peerId).length).toBeGreaterThan(0)
  // bootstrap reported once; kad reported C once for one address set
  expect(events.filter((e) => e.source === 'bootstrap')).toHaveLength(1)
  expect(events.filter((e) => e.source === 'kad' && e.peer === c.peerId.toString())).toHaveLength(1)
}, 20_000)

test('a bootstrap peer that restarts is redialed after backoff', async () => {
  const key = generatePrivateKey(nodeCrypto)
  const b1 = await createNode({ privateKey: key, listen: [LOOP], services: {} })
  const addr = b1.getMultiaddrs()[0]!
  const a = await node({ services: {}, discovery: { bootstrap: [addr] } })
  if (a.getConnections(b1.peerId).length === 0) await next(a, 'peer:connect', is(b1.peerId))
  const gone = next(a, 'peer:disconnect', is(b1.peerId))
  await b1.stop()
  await gone
  const back = next(a, 'peer:connect', is(key.publicKey.toPeerId()))
  const b2 = await createNode({ privateKey: key, listen: [addr.withoutPeerId().toString()], services: {} })
  nodes.push(b2)
  await back
  const conns = a.getConnections(b2.peerId)
  expect(conns.length).toBeGreaterThan(0)
  expect(conns[0]!.direction).toBe('outbound') // A redialed; B2 never dials
  expect(disc(a).stats.bootstrapDials).toBeGreaterThanOrEqual(2)
}, 30_000)

test('a PRUNE with a signed PX record is discovered (pubsub-px); forged records are not', async () => {
  const a = await node({ pubsub: { scoring: false } })
  a.pubsub.subscribe('t')
  const c = await node({ services: {} })
  const cAddrs = c.getMultiaddrs().map((m) => m.withoutPeerId())
  const good = sealPeerRecord(c.privateKey, { peerId: c.peerId, seq: 1n, addrs: cAddrs }, nodeCrypto).bytes
  // D's valid record offered under E's id, and E's record with a broken signature
  const dKey = generatePrivateKey(nodeCrypto)
  const eKey = generatePrivateKey(nodeCrypto)
  const fake: Multiaddr[] = [cAddrs[0]!]
  const dRec = sealPeerRecord(dKey, { peerId: dKey.publicKey.toPeerId(), seq: 1n, addrs: fake }, nodeCrypto).bytes
  const eRec = sealPeerRecord(eKey, { peerId: eKey.publicKey.toPeerId(), seq: 1n, addrs: fake }, nodeCrypto).bytes.slice()
  eRec[eRec.length - 1]! ^= 1
  const px: Array<{ peer: string; source: DiscoverySource }> = []
  a.on('peer:discovery', (d) => px.push({ peer: d.peer.toString(), source: d.source }))
  const discovered = next(a, 'peer:discovery', found(c.peerId, 'pubsub-px'))

  const b = await node({ listen: [], services: {} })
  const s = await b.newStream(a.getMultiaddrs()[0]!, '/meshsub/1.1.0')
  await s.write(encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 't' }] })))
  await s.write(encodeLp(encodeRpc({ control: { prune: [{ topic: 't', peers: [
    { peerId: eKey.publicKey.toPeerId().multihash, signedPeerRecord: dRec },
    { peerId: eKey.publicKey.toPeerId().multihash, signedPeerRecord: eRec },
    { peerId: c.peerId.multihash, signedPeerRecord: good },
  ], backoff: 60 }] } })))
  const ev = await discovered
  expect(ev.addrs.map(String)).toEqual(cAddrs.map(String))
  expect(a.peerStore.get(c.peerId)?.addrs.map(String)).toEqual(expect.arrayContaining(cAddrs.map(String)))
  expect(px.filter((e) => e.source === 'pubsub-px').map((e) => e.peer)).toEqual([c.peerId.toString()])
  s.reset()
}, 15_000)

test('auto-dial stops at the low watermark (no dial storm) and resumes below it', async () => {
  const targets = await Promise.all([1, 2, 3, 4, 5].map(() => node({ services: {} })))
  const a = await node({ services: {}, connectionManager: { lowWater: 2, highWater: 10 } })
  const d = disc(a)
  let open = 0
  a.on('connection:open', () => { open++ })
  const two = new Promise<void>((resolve) => { const off = a.on('connection:open', () => { if (a.getConnections().length >= 2) { off(); resolve() } }) })
  for (const t of targets) {
    const addrs = t.getMultiaddrs().map((m) => m.withoutPeerId())
    a.peerStore.addAddrs(t.peerId, addrs)
    a.dispatchEvent(new CustomEvent('peer:discovery', { detail: { peer: t.peerId, addrs, source: 'rendezvous' } }))
  }
  await two
  // at the watermark: two dials made, none in flight, the other three wait
  expect(d.stats.autoDials).toBe(2)
  expect(d.autoDialsInFlight).toBe(0)
  expect(d.candidateCount).toBe(3)
  expect(a.getConnections()).toHaveLength(2)
  expect(open).toBe(2)
  // one goes: one more dial
  const peer = a.getConnections()[0]!.peer
  const again = next(a, 'peer:connect', (p) => !p.equals(peer))
  await a.hangUp(peer)
  await again
  expect(d.stats.autoDials).toBe(3)
  expect(a.getConnections()).toHaveLength(2)
}, 20_000)

test('options: a bootstrap address without /p2p is a UsageError; autoDial defaults on in weft/node; weft/browser has no discovery', async () => {
  await expect(createNode({ start: false, discovery: { bootstrap: ['/ip4/127.0.0.1/tcp/1'] } })).rejects.toThrow(UsageError)
  const n = await createNode({ start: false })
  expect(disc(n).autoDial).toBe(true)
  const off = await createNode({ start: false, discovery: { autoDial: false } })
  expect(disc(off).autoDial).toBe(false)
  // weft/browser carries no discovery (bundle size): none by default, a UsageError when asked for
  const br = await createBrowserNode({ start: false })
  expect(br.swarm.behaviours['discovery']).toBeUndefined()
  const boot = `/ip4/127.0.0.1/tcp/1/p2p/${n.peerId}`
  await expect(createBrowserNode({ start: false, discovery: { bootstrap: [boot] } })).rejects.toMatchObject({ code: 'node/no-discovery' })
  await expect(createBrowserNode({ start: false, discovery: { autoDial: true } })).rejects.toMatchObject({ code: 'node/no-discovery' })
})

test('weft node --bootstrap without /p2p: one usage line, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-disc-'))
  try {
    const r = await cli('node', '--identity', join(dir, 'k.key'), '--listen', LOOP, '--bootstrap', '/ip4/127.0.0.1/tcp/1')
    expect(r.code).toBe(1)
    expect(r.err).toBe('--bootstrap: bootstrap address /ip4/127.0.0.1/tcp/1 needs a /p2p/<peer id>')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('weft node --bootstrap keeps its bootstrap peer: reported, and redialed after the peer restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-disc-'))
  const key = generatePrivateKey(nodeCrypto)
  const b1 = await createNode({ privateKey: key, listen: [LOOP], services: {} })
  const addr = b1.getMultiaddrs()[0]!
  const out: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')) })
  try {
    const running = main(['node', '--listen', LOOP, '--identity', join(dir, 'n.key'), '--json', '--no-hole-punch', '--bootstrap', addr.toString()])
    await expect.poll(() => out.some((l) => l.includes('"event":"peer:discovery"') && l.includes('"source":"bootstrap"')), { timeout: 10_000 }).toBe(true)
    const started = JSON.parse(out.find((l) => l.includes('"event":"started"'))!) as { peerId: string }
    await b1.stop()
    const b2 = await createNode({ privateKey: key, listen: [addr.withoutPeerId().toString()], services: {} })
    nodes.push(b2)
    await next(b2, 'peer:connect', (p) => p.toString() === started.peerId)
    expect(b2.getConnections()[0]!.direction).toBe('inbound') // the CLI node came back to it
    process.emit('SIGTERM')
    expect(await running).toBe(0)
  } finally {
    log.mockRestore()
    rmSync(dir, { recursive: true, force: true })
  }
}, 30_000)
