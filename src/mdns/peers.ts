/**
 * The peers mDNS has discovered and when each of their addresses expires (spec/mdns.md, "TTL and
 * expiry"): a response refreshes the addresses it names for its TTL, a goodbye (TTL 0) removes the
 * peer at once, and `expire(now)` hands back what passed its TTL without a refresh (rust-libp2p's
 * `Expired`). Bounded: at most `maxPeers` peers and `maxAddrsPerPeer` addresses each.
 *
 * Pure: the caller passes the time in (milliseconds on any monotonic clock).
 */
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'

/** Bounds of the table of peers found by mDNS (spec/mdns.md "Limits"). */
export interface MdnsPeerLimits {
  /** Peers remembered at once; a response about a further peer is refused until one expires. */
  maxPeers: number
  /** Addresses remembered per peer; further ones are refused until one expires. */
  maxAddrsPerPeer: number
}

/** One discovered peer: its live addresses and when the last of them expires. */
export interface MdnsPeerEntry {
  peer: PeerId
  addrs: Multiaddr[]
  /** Milliseconds (the caller's clock) when its last address expires. */
  expires: number
}

interface Entry {
  peer: PeerId
  addrs: Map<string, { addr: Multiaddr; expires: number }>
}

export interface UpdateResult {
  /** Addresses not known before (empty: a refresh only). */
  added: Multiaddr[]
  /** The peer was new and the table was full: nothing was stored. */
  refused: boolean
  /** Addresses past maxAddrsPerPeer that were not stored. */
  dropped: number
}

/** The peers found by mDNS and their addresses, each until its TTL ends; bounded by `MdnsPeerLimits`. */
export class DiscoveredPeers {
  readonly #peers = new Map<string, Entry>()
  constructor(readonly limits: MdnsPeerLimits) {}

  /** Peers remembered. */
  get size(): number {
    return this.#peers.size
  }

  /** A response named `addrs` of `peer` with a TTL of `ttlMs` (> 0). */
  update(now: number, peer: PeerId, addrs: readonly Multiaddr[], ttlMs: number): UpdateResult {
    const key = peer.toString()
    let e = this.#peers.get(key)
    if (e === undefined) {
      if (this.#peers.size >= this.limits.maxPeers) return { added: [], refused: true, dropped: addrs.length }
      e = { peer, addrs: new Map() }
      this.#peers.set(key, e)
    }
    const added: Multiaddr[] = []
    let dropped = 0
    for (const a of addrs) {
      const k = a.toString()
      const known = e.addrs.get(k)
      if (known !== undefined) known.expires = now + ttlMs // RFC 6762 §10: the new TTL replaces the old one
      else if (e.addrs.size >= this.limits.maxAddrsPerPeer) dropped++
      else {
        e.addrs.set(k, { addr: a, expires: now + ttlMs })
        added.push(a)
      }
    }
    if (e.addrs.size === 0) this.#peers.delete(key)
    return { added, refused: false, dropped }
  }

  /** A goodbye (TTL 0): the peer and every address of it go now; the addresses it had. */
  remove(peer: PeerId): Multiaddr[] {
    const key = peer.toString()
    const e = this.#peers.get(key)
    if (e === undefined) return []
    this.#peers.delete(key)
    return [...e.addrs.values()].map((x) => x.addr)
  }

  /** Addresses whose TTL passed by `now`, grouped by peer; a peer without addresses left is forgotten. */
  expire(now: number): Array<{ peer: PeerId; addrs: Multiaddr[]; gone: boolean }> {
    const out: Array<{ peer: PeerId; addrs: Multiaddr[]; gone: boolean }> = []
    for (const [key, e] of this.#peers) {
      const addrs: Multiaddr[] = []
      for (const [k, a] of e.addrs) {
        if (a.expires <= now) {
          addrs.push(a.addr)
          e.addrs.delete(k)
        }
      }
      if (addrs.length === 0) continue
      const gone = e.addrs.size === 0
      if (gone) this.#peers.delete(key)
      out.push({ peer: e.peer, addrs, gone })
    }
    return out
  }

  /** When the next address expires, or undefined when the table is empty. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const e of this.#peers.values()) for (const a of e.addrs.values()) if (next === undefined || a.expires < next) next = a.expires
    return next
  }

  /** True when `peer` was found and has not expired. */
  has(peer: PeerId): boolean {
    return this.#peers.has(peer.toString())
  }

  /** Every peer found, with its addresses and expiry. */
  list(): MdnsPeerEntry[] {
    return [...this.#peers.values()].map((e) => {
      const addrs = [...e.addrs.values()]
      return { peer: e.peer, addrs: addrs.map((a) => a.addr), expires: Math.max(...addrs.map((a) => a.expires)) }
    })
  }

  /** Forget every peer. */
  clear(): void {
    this.#peers.clear()
  }
}
