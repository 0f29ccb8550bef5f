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
 *
 * Tables are per node (`KadInterns`, one per KadBehaviour), never process-wide.
 */
import { equals } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { KadPeer } from './message.js'

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

/**
 * The intern tables of ONE node (a KadBehaviour's context owns one; decodeKadMessage takes it as
 * an argument). Nothing is shared between nodes in a process: one node's decoded objects can never
 * reach another, whatever a caller does to them (audit finding 14). Without one, decoding interns
 * nothing.
 */
export class KadInterns {
  readonly peers: InternTable<PeerId>
  readonly addrs: InternTable<Multiaddr>
  /** Decoded Peer entries (message.ts), by their exact bytes. */
  readonly entries: InternTable<InternedPeerEntry>

  constructor(max = MAX_INTERNED) {
    this.peers = new InternTable(max)
    this.addrs = new InternTable(max)
    this.entries = new InternTable(max)
  }

  /** PeerId.fromMultihash, interned. Throws what it throws. */
  peerId(bytes: Uint8Array): PeerId {
    return this.peers.intern(bytes, PeerId.fromMultihash)
  }

  /** Multiaddr.fromBytes (default limits), interned. Throws what it throws. */
  multiaddr(bytes: Uint8Array): Multiaddr {
    return this.addrs.intern(bytes, Multiaddr.fromBytes)
  }
}

/** A decoded Peer entry as message.ts interns it: the entry (undefined: unusable id), its skip count, and the address limit it was decoded under. */
export interface InternedPeerEntry {
  readonly peer: KadPeer | undefined
  readonly skipped: number
  readonly maxAddrs: number
}
