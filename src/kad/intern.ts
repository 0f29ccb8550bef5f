/**
 * Interning of the peer ids and multiaddrs decoded from kad messages. Every lookup response
 * carries up to k Peer entries, and the same peers come back again and again (a lookup converges
 * on the same k closest; a whole network of them in one process repeats them across nodes):
 * decoding each anew means validating, copying and allocating the same values many times over,
 * and a fresh PeerId each time defeats the per-object caches of key.ts.
 *
 * Both tables map the exact encoded bytes (as a binary string) to the immutable decoded value,
 * so a hit is indistinguishable from a fresh decode (PeerId and Multiaddr are immutable: callers
 * must not write into `peerId.multihash`). Bounded: the oldest entry goes when a table is full.
 * Bytes that fail to decode are never cached.
 */
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { bytesKey, seedPeerKey } from './key.js'

/** Entries per table. Stops: a stream of distinct peers or addresses growing memory (~4 MB full). */
export const MAX_INTERNED = 16_384

const peers = new Map<string, PeerId>()
const addrs = new Map<string, Multiaddr>()

/** PeerId.fromMultihash, interned. Throws what it throws. */
export function internPeerId(bytes: Uint8Array): PeerId {
  const k = bytesKey(bytes)
  let p = peers.get(k)
  if (p === undefined) {
    p = PeerId.fromMultihash(bytes)
    if (peers.size >= MAX_INTERNED) peers.delete(peers.keys().next().value!)
    peers.set(k, p)
    seedPeerKey(p, k)
  }
  return p
}

/** Multiaddr.fromBytes (default limits), interned. Throws what it throws. */
export function internMultiaddr(bytes: Uint8Array): Multiaddr {
  const k = bytesKey(bytes)
  let a = addrs.get(k)
  if (a === undefined) {
    a = Multiaddr.fromBytes(bytes)
    if (addrs.size >= MAX_INTERNED) addrs.delete(addrs.keys().next().value!)
    addrs.set(k, a)
  }
  return a
}
