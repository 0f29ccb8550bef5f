/** Public types of the kad behaviour: options, events, results. */
import type { Millis, RandomBytes } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { DecodeLimits } from './message.js'
import type { StoreLimits } from './store.js'
import type { RecordValidator } from './validators.js'

/** A peer found by a DHT query, with the addresses it was reported at. */
export interface KadPeerInfo {
  /** The peer. */
  peer: PeerId
  /** Its addresses, as reported by the peers that named it. */
  addrs: Multiaddr[]
}

/**
 * Options of the Kademlia behaviour (spec/kad.md): mode, bucket size k (20), concurrency α (3),
 * timeouts, validators and the limits of what peers can make us store.
 */
export interface KadOptions {
  /** The crypto provider (SHA-256 keys, record signatures). */
  crypto: CryptoProvider
  /** Randomness (refresh targets, request ids). */
  random: RandomBytes
  /** Our own peer id. */
  peerId: PeerId
  /**
   * 'server' answers and advertises the protocol; 'client' only asks; 'auto' is a client that
   * becomes a server while the node has a confirmed external address (the swarm's `reachability`
   * input). Default 'server'.
   */
  mode?: 'server' | 'client' | 'auto'
  /** Protocol id is `${protocolPrefix}/kad/1.0.0`. Default '/ipfs'. */
  protocolPrefix?: string
  /** Replication parameter and bucket size. Default 20. */
  k?: number
  /** Requests in flight per lookup. Default 3 (the spec recommends 10; see spec/kad.md). */
  alpha?: number
  /** One RPC, from opening the stream to the response, ms. Default 10 000. */
  requestTimeout?: number
  /** A whole query, ms. Default 60 000. */
  queryTimeout?: number
  /** GET_VALUE stops after this many valid records (the spec's Q). Default 16. */
  quorum?: number
  /** Custom namespaces (added to /pk and /ipns; the same name replaces a built-in). */
  validators?: Readonly<Record<string, RecordValidator>>
  /** Bounds of the records and provider announcements we store as a server (`DEFAULT_STORE_LIMITS`). */
  store?: Partial<StoreLimits>
  /** Bounds of the messages we decode (`DEFAULT_DECODE_LIMITS`). */
  decode?: Partial<DecodeLimits>
  /** Inbound kad streams open at once per peer. Default 8. Stops: stream floods from one peer. */
  maxInboundStreamsPerPeer?: number
  /** Inbound requests per peer per minute. Default 600. Stops: one peer keeping us busy answering. */
  maxInboundRequestsPerMinute?: number
  /** Queries at once (a local bound: a UsageError beyond it). Default 256. */
  maxQueries?: number
  /** Peers whose addresses we remember. Default 10 000. Stops: closer-peer floods growing memory. */
  maxAddressBook?: number
  /** Peers dialed first to fill the table (`bootstrap()`). */
  bootstrapPeers?: readonly KadPeerInfo[]
  /** Routing table refresh period, ms; 0 disables. Default 600 000 (the spec's 10 minutes). */
  refreshInterval?: number
  /** Buckets refreshed: those with cpl <= this. Default 15. */
  refreshMaxCpl?: number
  /** Our provider records are re-announced this often, ms. Default 22 h. */
  providerRepublishInterval?: number
  /** Wall-clock ms since the Unix epoch at `now` = 0 (IPNS validity checks). Default 0. */
  epoch?: number
  /** Keep only addresses this returns true for (closer peers and providers). Default: all. */
  addressFilter?: (addr: Multiaddr) => boolean
  /** Emit `progress` events. Default true (a simulation turns them off). */
  progressEvents?: boolean
}

/** Statistics of a finished query. */
export interface KadQueryStats {
  /** Hop depth of the closest peer found (seeds are hop 1). */
  hops: number
  /** Requests sent by the lookup. */
  requests: number
  /** The query's duration, in ms. */
  duration: Millis
}

/** Progress of a DHT query, given to `onProgress`: a peer asked, answered or failed; a value or provider found. */
export type KadProgress =
  | { kind: 'asked'; peer: PeerId }
  | { kind: 'answered'; peer: PeerId; closerPeers: number }
  | { kind: 'failed'; peer: PeerId; error: Error }
  /** A valid record from `peer` (GET_VALUE). */
  | { kind: 'value'; peer: PeerId; value: Uint8Array }
  /** A provider found (GET_PROVIDERS). */
  | { kind: 'provider'; provider: KadPeerInfo }
  /** PUT_VALUE / ADD_PROVIDER delivered to `peer`. */
  | { kind: 'stored'; peer: PeerId }

/** The result of a finished DHT query, by kind. */
export type KadResult =
  | { kind: 'closest-peers'; peers: KadPeerInfo[] }
  | { kind: 'find-peer'; peer: KadPeerInfo }
  /** `from`: the peers that returned the best record (empty when it came from our own store only). */
  | { kind: 'get'; key: Uint8Array; value: Uint8Array; from: PeerId[] }
  | { kind: 'put'; stored: PeerId[]; failed: PeerId[] }
  | { kind: 'provide'; stored: PeerId[]; failed: PeerId[] }
  | { kind: 'find-providers'; providers: KadPeerInfo[] }
  | { kind: 'bootstrap'; tableSize: number }

/**
 * Events of the kad behaviour: query progress and results, routing table changes, mode changes, peers' protocol errors.
 */
export type KadEvent =
  | { type: 'progress'; requestId: number; progress: KadProgress }
  | { type: 'query-done'; requestId: number; result: KadResult; stats: KadQueryStats }
  /**
   * error: OutcomeError 'kad/not-found', 'kad/no-peers' or 'kad/timeout' (nobody broke the protocol);
   * UsageError 'kad/invalid-record' (a local put whose record its namespace's validator refuses) or
   * 'kad/key-too-long' (a key above `maxKeyLength`).
   */
  | { type: 'query-failed'; requestId: number; error: Error; stats: KadQueryStats }
  /** A remote broke the protocol on one of our streams (the stream was reset). */
  | { type: 'protocol-error'; peer: PeerId; error: Error }
  /** Mode 'auto' switched between client and server. */
  | { type: 'mode'; mode: 'server' | 'client' }
  /** A peer entered or left the routing table. */
  | { type: 'routing-table'; peer: PeerId; change: 'added' | 'removed' }
