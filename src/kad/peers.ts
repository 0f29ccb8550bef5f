/**
 * What the kad behaviour knows about other peers, apart from the routing table: the address book
 * (peer -> multiaddrs, learned from identify, closer-peers and providers), how many connections
 * the swarm has to each peer, and kad keys of peers (sha256 of a peer id's multihash, cached per
 * PeerId object, in this node's own WeakMap: no node shares bytes with another, finding 14).
 *
 * The address book feeds dials (a peer we ask must be reachable) and the closerPeers we answer
 * with (a peer without addresses is useless to the requester). All three maps are bounded.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import { peerKey } from './key.js'
import type { KadPeer } from './message.js'

export interface PeerBookOptions {
  crypto: Pick<CryptoProvider, 'sha256'>
  /** Our own peer (never entered). */
  self: PeerId
  /** Peers whose addresses we remember. Stops: closer-peer floods growing memory. */
  maxAddressBook: number
  /** Addresses kept per peer. */
  maxAddrsPerPeer: number
  /** Keep only usable addresses. */
  addressFilter: (addr: Multiaddr) => boolean
}

export class PeerBook {
  readonly selfK: string
  readonly #opts: PeerBookOptions
  /** Peer (peerKey) -> addresses, least recently updated first. */
  readonly #addrs = new Map<string, readonly Multiaddr[]>()
  readonly #connected = new Map<string, number>()
  /** Kad keys by PeerId object (this node's: never handed to another node). */
  readonly #keys = new WeakMap<PeerId, Uint8Array>()

  constructor(options: PeerBookOptions) {
    this.#opts = options
    this.selfK = peerKey(options.self)
  }

  get maxSize(): number {
    return this.#opts.maxAddressBook
  }

  /** Known addresses of the peer with `peerKey` k (the stored array: do not modify). */
  addrs(k: string): readonly Multiaddr[] | undefined {
    return this.#addrs.get(k)
  }

  has(k: string): boolean {
    return this.#addrs.has(k)
  }

  isConnected(k: string): boolean {
    return this.#connected.has(k)
  }

  connectionOpened(peer: PeerId): void {
    const k = peerKey(peer)
    this.#connected.set(k, (this.#connected.get(k) ?? 0) + 1)
  }

  connectionClosed(peer: PeerId): void {
    const k = peerKey(peer)
    const n = (this.#connected.get(k) ?? 1) - 1
    if (n <= 0) this.#connected.delete(k)
    else this.#connected.set(k, n)
  }

  /**
   * Remember `addrs` (filtered, capped) for `peer`, as its most recently updated entry. Returns what
   * was stored when the peer is new or its addresses changed, else undefined.
   */
  learn(peer: PeerId, addrs: readonly Multiaddr[], k = peerKey(peer)): readonly Multiaddr[] | undefined {
    const old = this.#addrs.get(k)
    if (old !== undefined && old.length === addrs.length && old.every((a, i) => a === addrs[i] || a.equals(addrs[i]!))) return undefined
    const usable = addrs.filter(this.#opts.addressFilter)
    if (usable.length === 0) return undefined
    if (usable.length > this.#opts.maxAddrsPerPeer) usable.length = this.#opts.maxAddrsPerPeer
    this.#addrs.delete(k)
    if (this.#addrs.size >= this.#opts.maxAddressBook) this.#addrs.delete(this.#addrs.keys().next().value!)
    this.#addrs.set(k, usable)
    if (old !== undefined && old.length === usable.length && old.every((a, i) => a.equals(usable[i]!))) return undefined
    return usable
  }

  /**
   * Closer peers we can use: not us, with at least one address (after the filter) or a live
   * connection. `learned` gets each peer that is new or whose addresses changed (a discovery).
   */
  usable(peers: readonly KadPeer[], learned?: (peer: PeerId, addrs: readonly Multiaddr[]) => void): (KadPeer & { k: string })[] {
    const out: (KadPeer & { k: string })[] = []
    for (const p of peers) {
      const k = peerKey(p.id)
      if (k === this.selfK) continue
      const addrs = p.addrs.filter(this.#opts.addressFilter)
      if (addrs.length > 0) {
        const fresh = this.learn(p.id, addrs, k)
        if (fresh !== undefined) learned?.(p.id, fresh)
      } else if (!this.#connected.has(k) && !this.#addrs.has(k)) continue
      out.push({ id: p.id, addrs, connection: p.connection, k })
    }
    return out
  }

  /** The kad key of `peer`: sha256 of its multihash (shared: do not modify). */
  keyOf(peer: PeerId): Uint8Array {
    let k = this.#keys.get(peer)
    if (k === undefined) {
      k = this.#opts.crypto.sha256(peer.multihash)
      this.#keys.set(peer, k)
    }
    return k
  }
}
