/**
 * The in-memory peer store: what we know of each peer (addresses, protocols, public key, agent).
 *
 * Bounded: at most `maxPeers` entries (default 10,000) and `maxAddrsPerPeer` addresses (default 64)
 * and `maxProtocolsPerPeer` protocols (default 256) each, so identify messages from many peers
 * (or one peer claiming thousands of addresses) cannot grow memory without limit. When full, the
 * least recently updated peer without a live connection is evicted.
 */
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId, PublicKey } from '../peer-id/index.js'
import type { PeerInfoUpdate } from './behaviour.js'

/** What the peer store knows of one peer: addresses, protocols, public key, agent. */
export interface PeerRecordView {
  /** The peer. */
  readonly peer: PeerId
  /** Its known addresses. */
  readonly addrs: readonly Multiaddr[]
  /** The protocols it announced (identify). */
  readonly protocols: readonly string[]
  /** Its public key, once learned. */
  readonly publicKey: PublicKey | undefined
  /** Its identify `agentVersion`, once learned. */
  readonly agentVersion: string | undefined
  /** Its identify `protocolVersion`, once learned. */
  readonly protocolVersion: string | undefined
}

interface Entry {
  peer: PeerId
  addrs: Multiaddr[]
  protocols: string[]
  publicKey: PublicKey | undefined
  agentVersion: string | undefined
  protocolVersion: string | undefined
}

/** Bounds of the peer store (spec/swarm.md "Limits"); the stalest peer is evicted past `maxPeers`. */
export interface PeerStoreLimits {
  /** Peers remembered; past it the stalest is evicted. Default 10 000. */
  maxPeers: number
  /** Addresses remembered per peer. Default 64. */
  maxAddrsPerPeer: number
  /** Protocols remembered per peer. Default 256. */
  maxProtocolsPerPeer: number
}

/** Default `PeerStoreLimits`: 10 000 peers, 64 addresses and 256 protocols per peer. */
export const DEFAULT_PEER_STORE_LIMITS: PeerStoreLimits = { maxPeers: 10_000, maxAddrsPerPeer: 64, maxProtocolsPerPeer: 256 }

/** The swarm's bounded store of other peers: addresses, protocols and keys learned from identify, kad and discovery. */
export class PeerStore {
  // Map iteration order = insertion order; an update re-inserts, so the first key is the stalest.
  readonly #peers = new Map<string, Entry>()
  readonly #limits: PeerStoreLimits
  readonly #isConnected: (peer: string) => boolean

  constructor(limits: Partial<PeerStoreLimits> = {}, isConnected: (peer: string) => boolean = () => false) {
    this.#limits = { ...DEFAULT_PEER_STORE_LIMITS, ...limits }
    this.#isConnected = isConnected
  }

  /** Peers known. */
  get size(): number {
    return this.#peers.size
  }

  /** What is known of `peer`, or undefined. */
  get(peer: PeerId | string): PeerRecordView | undefined {
    return this.#peers.get(typeof peer === 'string' ? peer : peer.toString())
  }

  /** Every known peer, stalest first. */
  peers(): PeerRecordView[] {
    return [...this.#peers.values()]
  }

  /** Add addresses (deduplicated, newest first, bounded). */
  addAddrs(peer: PeerId, addrs: readonly Multiaddr[]): void {
    const e = this.#entry(peer)
    const merged = [...addrs, ...e.addrs]
    e.addrs = dedupe(merged).slice(0, this.#limits.maxAddrsPerPeer)
  }

  /** Merge what was learned of `peer` (bounded by `PeerStoreLimits`). */
  update(peer: PeerId, info: PeerInfoUpdate): void {
    const e = this.#entry(peer)
    if (info.addrs !== undefined) {
      const next = info.addrsAreHints === true ? [...e.addrs, ...info.addrs] : [...info.addrs]
      e.addrs = dedupe(next).slice(0, this.#limits.maxAddrsPerPeer)
    }
    if (info.protocols !== undefined) e.protocols = [...new Set(info.protocols)].slice(0, this.#limits.maxProtocolsPerPeer)
    if (info.publicKey !== undefined) e.publicKey = info.publicKey
    if (info.agentVersion !== undefined) e.agentVersion = info.agentVersion
    if (info.protocolVersion !== undefined) e.protocolVersion = info.protocolVersion
  }

  /** Forget `peer`. */
  delete(peer: PeerId | string): void {
    this.#peers.delete(typeof peer === 'string' ? peer : peer.toString())
  }

  #entry(peer: PeerId): Entry {
    const key = peer.toString()
    let e = this.#peers.get(key)
    if (e !== undefined) {
      this.#peers.delete(key)
      this.#peers.set(key, e)
      return e
    }
    if (this.#peers.size >= this.#limits.maxPeers) this.#evict()
    e = { peer, addrs: [], protocols: [], publicKey: undefined, agentVersion: undefined, protocolVersion: undefined }
    this.#peers.set(key, e)
    return e
  }

  #evict(): void {
    for (const key of this.#peers.keys()) {
      if (!this.#isConnected(key)) {
        this.#peers.delete(key)
        return
      }
    }
    // Everyone is connected: drop the stalest anyway (the connection limit is far below maxPeers).
    const first = this.#peers.keys().next()
    if (first.done !== true) this.#peers.delete(first.value)
  }
}

function dedupe(addrs: Multiaddr[]): Multiaddr[] {
  const seen = new Set<string>()
  const out: Multiaddr[] = []
  for (const a of addrs) {
    const k = a.toString()
    if (!seen.has(k)) {
      seen.add(k)
      out.push(a)
    }
  }
  return out
}
