/**
 * The discovery sources inside the protocol cores: kad reports every closer peer that is new to it
 * (or at new addresses) as a `peer-info` hint, not only the ones it goes on to ask.
 */
import { expect, test } from 'vitest'
import { testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto as crypto } from '../src/core/crypto/noble.js'
import { utf8 } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { PeerId } from '../src/peer-id/index.js'
import { ConnectionType, KadBehaviour, encodeKadMessage, MessageType } from '../src/kad/index.js'
import { PeerBook } from '../src/kad/peers.js'

const ma = (n: number): Multiaddr => Multiaddr.fromString(`/ip4/10.0.0.${n}/tcp/4001`)

test('PeerBook.learn returns what it stored only for a new peer or changed addresses', () => {
  const book = new PeerBook({ crypto, self: testIdentity(1, '/memory/1').peer, maxAddressBook: 10, maxAddrsPerPeer: 4, addressFilter: () => true })
  const p = testIdentity(2, '/memory/2').peer
  expect(book.learn(p, [ma(1)])?.map(String)).toEqual([ma(1).toString()])
  expect(book.learn(p, [ma(1)])).toBeUndefined()
  expect(book.learn(p, [Multiaddr.fromString(ma(1).toString())])).toBeUndefined()
  expect(book.learn(p, [ma(1), ma(2)])?.length).toBe(2)
  const seen: PeerId[] = []
  book.usable([{ id: p, addrs: [ma(1), ma(2)], connection: 0 }, { id: testIdentity(3, '/memory/3').peer, addrs: [ma(3)], connection: 0 }], (peer) => seen.push(peer))
  expect(seen).toHaveLength(1)
})

test('kad: every new closer peer of a response becomes a peer-info hint', () => {
  const ia = testIdentity(3, '/memory/3')
  const ib = testIdentity(2, '/memory/2')
  let s = 7
  const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24)
  const kad = new KadBehaviour({ crypto, random, peerId: ia.peer })
  kad.handle(0, { type: 'peer-info', peer: ib.peer, info: { protocols: [kad.protocol], addrs: [ib.addr] }, from: 'identify' })
  kad.getClosestPeers(0, utf8('x'))
  let open: any
  for (let x = kad.pollAction(); x !== undefined; x = kad.pollAction()) if (x.type === 'open-stream') open = x
  const closer = Array.from({ length: 10 }, (_, i) => ({ id: testIdentity(10 + i, `/memory/${10 + i}`).peer, addrs: [ma(10 + i)], connection: ConnectionType.NOT_CONNECTED }))
  const stream = { connection: 1, stream: 1 }
  const conn = { id: 1, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'outbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
  kad.handle(1, { type: 'stream-opened', stream, protocol: kad.protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
  kad.handle(2, { type: 'stream-data', stream, data: encodeLp(encodeKadMessage({ type: MessageType.FIND_NODE, key: utf8('x'), closerPeers: closer, providerPeers: [] })) })
  const hinted = new Map<string, number>()
  let asked = 0
  for (let x = kad.pollAction(); x !== undefined; x = kad.pollAction()) {
    if (x.type === 'peer-info' && x.info.addrsAreHints === true) hinted.set(x.peer.toString(), (hinted.get(x.peer.toString()) ?? 0) + 1)
    if (x.type === 'open-stream') asked++
  }
  expect(asked).toBeLessThan(10) // kad asks only alpha of them now...
  for (const c of closer) expect(hinted.get(c.id.toString())).toBeGreaterThanOrEqual(1) // ...but reports all ten
})

test('gossipsub PX: a verified record becomes a peer-info hint of at most PX_MAX_ADDRS addresses; a forged one none', async () => {
  const { scripted } = await import('./helpers/gossipsub-scripted.js')
  const { sealPeerRecord } = await import('../src/peer-id/index.js')
  const { PX_MAX_ADDRS } = await import('../src/gossipsub/context.js')
  const { send } = scripted({ scoring: false })
  send({ subscriptions: [{ subscribe: true, topic: 't' }] })
  const rec = (seed: number, n: number): { peer: PeerId; bytes: Uint8Array } => {
    const id = testIdentity(seed, '/memory/1')
    const addrs = Array.from({ length: n }, (_, i) => Multiaddr.fromString(`/ip4/10.1.${seed}.${i}/tcp/1`))
    return { peer: id.peer, bytes: sealPeerRecord(id.key, { peerId: id.peer, seq: 1n, addrs }, crypto).bytes }
  }
  const atLimit = rec(40, PX_MAX_ADDRS)
  const past = rec(41, PX_MAX_ADDRS + 1)
  const forged = rec(42, 1)
  const other = testIdentity(43, '/memory/1').peer
  const acts = send({ control: { prune: [{ topic: 't', backoff: 60, peers: [
    { peerId: atLimit.peer.multihash, signedPeerRecord: atLimit.bytes },
    { peerId: past.peer.multihash, signedPeerRecord: past.bytes },
    { peerId: other.multihash, signedPeerRecord: forged.bytes }, // the record names another peer
  ] }] } })
  const hints = acts.flatMap((a) => (a.type === 'peer-info' ? [a] : []))
  expect(hints.map((h) => [h.peer.toString(), h.info.addrs!.length, h.info.addrsAreHints])).toEqual([
    [atLimit.peer.toString(), PX_MAX_ADDRS, true],
    [past.peer.toString(), PX_MAX_ADDRS, true],
  ])
})
