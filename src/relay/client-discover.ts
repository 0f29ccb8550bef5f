/**
 * Relay discovery (spec/relay.md "Relay client", "Discovered relays"): which connected peers to
 * reserve on when no relay was given, like go-libp2p's autorelay with its connected peers as the
 * peer source. Pure: it reads the relay client's inputs and answers with relays to add or drop.
 *
 * A candidate is a peer whose identify lists the hop protocol, seen on a direct connection. While
 * the node has no confirmed external address (the swarm's `reachability` input: AutoNAT has not
 * confirmed one, the user gave none), it keeps up to `maxRelays` of them; once it has one it drops
 * the discovered reservations (a reachable node needs no relay), and takes them up again if it
 * loses it. Candidates are taken in the order they were seen; a candidate that disconnects or stops
 * serving hop is dropped and replaced.
 */
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import { isLimitedAddr, type BehaviourInput } from '../swarm/index.js'
import { HOP_PROTOCOL } from './message.js'

/** Options of relay discovery: finding relays among connected peers that serve the hop protocol (`weft node --relay-discover`). */
export interface RelayDiscoveryOptions {
  /**
   * Relays discovered and reserved on at most at once. Default 2. Stops: a node reserving on every
   * relay it meets (each reservation is a connection kept open and renewed).
   */
  maxRelays: number
  /** Candidates remembered (peers serving hop). Default 32. Stops: a flood of relays growing the table. */
  maxCandidates: number
}

export const DEFAULT_RELAY_DISCOVERY: Readonly<RelayDiscoveryOptions> = Object.freeze({ maxRelays: 2, maxCandidates: 32 })

export type DiscoveryCommand = { type: 'add'; addr: Multiaddr } | { type: 'remove'; peer: PeerId }

interface Candidate {
  peer: PeerId
  /** An address to dial it at (the remote address of a direct connection), `/p2p/<peer>` appended. */
  addr: Multiaddr
  connections: Set<number>
  serves: boolean
}

export class RelayDiscovery {
  readonly #o: RelayDiscoveryOptions
  /** Peers to leave alone: the relays the user configured. */
  readonly #configured: (peer: PeerId) => boolean
  readonly #candidates = new Map<string, Candidate>()
  /** Peers we reserve on because we discovered them, by peer id text. */
  readonly #chosen = new Map<string, PeerId>()
  #reachable = false

  constructor(options: Partial<RelayDiscoveryOptions>, configured: (peer: PeerId) => boolean) {
    this.#o = { ...DEFAULT_RELAY_DISCOVERY, ...options }
    for (const k of ['maxRelays', 'maxCandidates'] as const) {
      const v = this.#o[k]
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`discover.${k} must be a positive integer`)
    }
    this.#configured = configured
  }

  /** The relays discovered and in use now. */
  get chosen(): readonly string[] {
    return [...this.#chosen.keys()]
  }

  /** Feed one input; returns what the relay client should add or drop. */
  handle(input: BehaviourInput): DiscoveryCommand[] {
    switch (input.type) {
      case 'reachability':
        this.#reachable = input.reachable
        break
      case 'connection-established': {
        const c = input.connection
        if (c.limited || isLimitedAddr(c.remoteAddr)) return []
        const key = c.peer.toString()
        let cand = this.#candidates.get(key)
        if (cand === undefined) {
          if (this.#candidates.size >= this.#o.maxCandidates) return []
          cand = { peer: c.peer, addr: c.remoteAddr.withoutPeerId().encapsulate(`/p2p/${key}`), connections: new Set(), serves: false }
          this.#candidates.set(key, cand)
        }
        // an outbound connection's address is one we can dial again; an inbound one's port may not be
        if (c.direction === 'outbound') cand.addr = c.remoteAddr.withoutPeerId().encapsulate(`/p2p/${key}`)
        cand.connections.add(c.id)
        break
      }
      case 'connection-closed': {
        const key = input.connection.peer.toString()
        const cand = this.#candidates.get(key)
        if (cand === undefined || !cand.connections.delete(input.connection.id) || cand.connections.size > 0) return []
        this.#candidates.delete(key)
        break
      }
      case 'peer-info': {
        const cand = this.#candidates.get(input.peer.toString())
        if (cand === undefined || input.info.protocols === undefined) return []
        cand.serves = input.info.protocols.includes(HOP_PROTOCOL)
        break
      }
      default:
        return []
    }
    return this.#rebalance()
  }

  /** Drop what no longer fits, then fill up to maxRelays while unreachable. */
  #rebalance(): DiscoveryCommand[] {
    const out: DiscoveryCommand[] = []
    for (const [key, peer] of [...this.#chosen]) {
      const cand = this.#candidates.get(key)
      if (this.#reachable || cand === undefined || !cand.serves) {
        this.#chosen.delete(key)
        out.push({ type: 'remove', peer })
      }
    }
    if (this.#reachable) return out
    for (const cand of this.#candidates.values()) {
      if (this.#chosen.size >= this.#o.maxRelays) break
      const key = cand.peer.toString()
      if (!cand.serves || this.#chosen.has(key) || this.#configured(cand.peer)) continue
      this.#chosen.set(key, cand.peer)
      out.push({ type: 'add', addr: cand.addr })
    }
    return out
  }
}
