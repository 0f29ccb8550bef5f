/**
 * The state the parts of the kad behaviour share (kad.ts composes them): resolved options, the
 * action queue handed to the swarm, the routing table, record store, validators, the peer book and
 * the id counter for requests. A plain holder with no protocol decisions of its own.
 */
import type { RandomBytes } from '../core/byte-machine.js'
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { OutcomeError, ProtocolError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { BehaviourAction } from '../swarm/index.js'
import { encodeLp } from '../core/lp.js'
import { encodeKadMessage, MessageType } from './message.js'
import type { DecodeLimits, KadErrorCode, KadOutcomeCode } from './message.js'
import { KadInterns } from './intern.js'
import type { PeerBook } from './peers.js'
import type { RoutingTable } from './routing-table.js'
import type { RecordStore } from './store.js'
import type { KadEvent } from './types.js'
import type { ValidationContext, Validators } from './validators.js'

/** Options after defaults and checks. */
export interface KadConfig {
  readonly k: number
  readonly alpha: number
  readonly requestTimeout: number
  readonly queryTimeout: number
  readonly quorum: number
  readonly decodeLimits: DecodeLimits
  readonly maxInboundPerPeer: number
  readonly maxRequestsPerMinute: number
  readonly maxQueries: number
  readonly maxAddressBook: number
  readonly refreshMaxCpl: number
  readonly epoch: number
  readonly addressFilter: (a: Multiaddr) => boolean
  readonly progress: boolean
}

export class KadContext {
  readonly actions: BehaviourAction<KadEvent>[] = []
  /** This node's decode caches (intern.ts): never shared with another node in the process. */
  readonly interns = new KadInterns()
  /** Next id for a request (RPC) or query. */
  nextId = 1
  /** Our listen addresses (from the swarm's `local-info`). */
  listenAddrs: readonly Multiaddr[] = []
  /** Our confirmed external addresses (from the swarm's `reachability`). */
  externalAddrs: readonly Multiaddr[] = []

  /** The addresses we give out as a provider: confirmed external ones first, then listen addresses. */
  advertisedAddrs(): Multiaddr[] {
    const seen = new Set<string>()
    const out: Multiaddr[] = []
    for (const a of [...this.externalAddrs, ...this.listenAddrs]) {
      const k = a.toString()
      if (seen.has(k)) continue
      seen.add(k)
      out.push(a)
    }
    return out
  }

  constructor(
    readonly protocol: string,
    readonly config: KadConfig,
    readonly crypto: CryptoProvider,
    readonly random: RandomBytes,
    readonly peerId: PeerId,
    readonly localKey: Uint8Array,
    readonly table: RoutingTable,
    readonly store: RecordStore,
    readonly validators: Validators,
    readonly peers: PeerBook,
  ) {}

  emit(event: KadEvent): void {
    this.actions.push({ type: 'event', event })
  }

  validation(now: Millis): ValidationContext {
    return { crypto: this.crypto, wallTime: this.config.epoch + now }
  }

  valid(key: Uint8Array, value: Uint8Array, now: Millis): boolean {
    try {
      this.validators.validate(key, value, this.validation(now))
      return true
    } catch {
      return false
    }
  }

  /** A framed FIND_NODE request for `key`. */
  findNode(key: Uint8Array): Uint8Array {
    return encodeLp(encodeKadMessage({ type: MessageType.FIND_NODE, key, closerPeers: [], providerPeers: [] }))
  }
}

/** A remote broke the protocol. */
export function kadError(code: KadErrorCode, message?: string): ProtocolError<KadErrorCode> {
  return new ProtocolError<KadErrorCode>('kad', code, message)
}

/** A local operation ended without its result; nobody broke the protocol. */
export function kadOutcome(code: KadOutcomeCode, message?: string): OutcomeError<KadOutcomeCode> {
  return new OutcomeError<KadOutcomeCode>(code, message)
}
