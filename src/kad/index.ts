/**
 * weft kad: the libp2p Kademlia DHT (libp2p/specs kad-dht/README.md). Notes in spec/kad.md.
 *
 * @module weft/kad
 */
export { KadBehaviour, KAD_PROTOCOL, KBUCKET_TAG, KBUCKET_TAG_VALUE } from './kad.js'
export type { KadEvent, KadOptions, KadPeerInfo, KadProgress, KadQueryStats, KadResult } from './types.js'
export { ClosestPeersQuery } from './query.js'
export type { QueryOptions, QueryPeer, QueryPeerState } from './query.js'
export { RoutingTable } from './routing-table.js'
export type { RoutingTableOptions, TableEntry, UpdateResult } from './routing-table.js'
export { RecordStore, DEFAULT_STORE_LIMITS } from './store.js'
export type { StoreLimits, StoredRecord, ProviderEntry, StoreRejection, Origin } from './store.js'
export { sourceOf } from './source.js'
export { Validators, DEFAULT_VALIDATORS, pkValidator } from './validators.js'
export type { RecordValidator, ValidationContext } from './validators.js'
export { invalidRecord, splitNamespace } from './namespace.js'
export { ipnsValidator, validateIpnsRecord, createIpnsRecord, decodeIpnsEntry, encodeIpnsEntry, ipnsKey, parseRfc3339, IPNS_MAX_RECORD_SIZE } from './ipns.js'
export type { IpnsEntry, IpnsData, IpnsErrorCode } from './ipns.js'
export { kadKey, xorDistance, compareDistance, commonPrefixLength, randomPeerKeyInBucket, randomPeerKeysInBuckets, peerKey, KAD_KEY_BYTES } from './key.js'
export {
  MessageType,
  MESSAGE_TYPE_NAMES,
  ConnectionType,
  DEFAULT_DECODE_LIMITS,
  decodeKadMessage,
  encodeKadMessage,
  encodeKadRecord,
} from './message.js'
export type { KadMessage, KadPeer, KadRecord, KadErrorCode, KadOutcomeCode, DecodeLimits, DecodeStats } from './message.js'
export { Dht } from './dht-api.js'
export type { DhtCallOptions } from './dht-api.js'
export { kadDht } from './service.js'
export type { KadServiceOptions } from './service.js'
