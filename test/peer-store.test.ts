/**
 * The peer store keeps what a peer said about itself (identify) apart from what third parties
 * (kad responses, gossipsub PX) say about it: a hint adds addresses, it never replaces them.
 */
import { expect, test } from 'vitest'
import { PeerStore } from '../src/swarm/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { nobleCrypto } from '../src/core/index.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'

const peer = privateKeyFromSeed(new Uint8Array(32).fill(9), nobleCrypto).publicKey.toPeerId()
const ma = (port: number): Multiaddr => Multiaddr.fromString(`/ip4/192.0.2.1/tcp/${port}`)
const addrs = (s: PeerStore): string[] => s.get(peer)!.addrs.map(String)

test('identify replaces the addresses; a hint merges after them, deduplicated and bounded', () => {
  const s = new PeerStore({ maxAddrsPerPeer: 3 })
  s.update(peer, { addrs: [ma(1), ma(2)] })
  s.update(peer, { addrs: [ma(2), ma(3), ma(4)], addrsAreHints: true })
  expect(addrs(s)).toEqual([ma(1), ma(2), ma(3)].map(String))
  s.update(peer, { addrs: [ma(5)] })
  expect(addrs(s)).toEqual([String(ma(5))])
})
