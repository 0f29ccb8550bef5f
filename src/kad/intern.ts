/**
 * Interning of what kad decodes from Peer entries. Every lookup response carries up to k Peer
 * entries, and the same peers come back again and again (a lookup converges on the same k
 * closest; a whole simulated network in one process repeats them across nodes): decoding each
 * anew means validating, copying and allocating the same values many times over, and a fresh
 * PeerId each time defeats the per-object caches of key.ts.
 *
 * An `InternTable` maps exact encoded bytes to the immutable decoded value, so a hit is
 * indistinguishable from a fresh decode (PeerId and Multiaddr are immutable: callers must not
 * write into `peerId.multihash`). It is a cache, not a dictionary: slots are found by a 32-bit
 * FNV-1a hash of the bytes and verified byte for byte, a collision simply replaces the slot.
 * Bounded: the oldest slot goes when a table is full. Bytes that fail to decode are never cached.
 */
import { equals } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'

/** Slots per table. Stops: a stream of distinct peers or addresses growing memory (a few MB full). */
export const MAX_INTERNED = 16_384

export class InternTable<V> {
  readonly #max: number
  readonly #slots = new Map<number, { readonly bytes: Uint8Array; readonly value: V }>()

  constructor(max = MAX_INTERNED) {
    this.#max = max
  }

  get size(): number {
    return this.#slots.size
  }

  /** The value interned for `bytes`, or `decode(bytes)` (then interned; a throw passes through). */
  intern(bytes: Uint8Array, decode: (bytes: Uint8Array) => V): V {
    const h = fnv1a(bytes)
    const slot = this.#slots.get(h)
    if (slot !== undefined && equals(slot.bytes, bytes)) return slot.value
    const value = decode(bytes)
    if (slot === undefined && this.#slots.size >= this.#max) this.#slots.delete(this.#slots.keys().next().value!)
    this.#slots.set(h, { bytes: bytes.slice(), value })
    return value
  }
}

/** 32-bit FNV-1a. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193)
  return h >>> 0
}

const peers = new InternTable<PeerId>()
const addrs = new InternTable<Multiaddr>()

/** PeerId.fromMultihash, interned. Throws what it throws. */
export function internPeerId(bytes: Uint8Array): PeerId {
  return peers.intern(bytes, PeerId.fromMultihash)
}

/** Multiaddr.fromBytes (default limits), interned. Throws what it throws. */
export function internMultiaddr(bytes: Uint8Array): Multiaddr {
  return addrs.intern(bytes, Multiaddr.fromBytes)
}
