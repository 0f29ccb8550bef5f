/**
 * mDNS discovery (libp2p/specs discovery/mdns.md): a bounded DNS message codec and the libp2p
 * query / response layer over it, and the node service (`mdns({ socket })`; the UDP socket is
 * `udpMdnsSocket()` from 'weft/node'). See spec/mdns.md.
 *
 * @module weft/mdns
 */
export {
  TYPE,
  CLASS_IN,
  FLAG_QR,
  FLAG_AA,
  FLAG_TC,
  MAX_LABEL,
  MAX_NAME,
  DEFAULT_DNS_LIMITS,
  decodeDnsMessage,
  encodeDnsMessage,
  nameToLabels,
  sameName,
} from './dns.js'
export type { DnsLimits, DnsMessage, DecodedDnsMessage, DnsQuestion, DnsRecord, EncodeOptions, MdnsErrorCode } from './dns.js'
export {
  SERVICE_NAME,
  META_QUERY_NAME,
  peerNameFromBytes,
  buildQuery,
  buildResponse,
  parseQuery,
  parseResponse,
} from './message.js'
export { LEGACY_MAX_TTL } from './message.js'
export type { DiscoveredPeer, QueryQuestions, ResponseOptions, ResponseParseOptions } from './message.js'
export {
  mdns,
  Mdns,
  DEFAULT_MDNS_INTERVAL,
  DEFAULT_MDNS_TTL,
  DEFAULT_MDNS_MAX_PEERS,
  DEFAULT_MDNS_MAX_ADDRS_PER_PEER,
  DEFAULT_MDNS_MAX_TTL,
  DEFAULT_MDNS_MAX_UNICAST_ANSWERS,
  MDNS_FIRST_BACKOFF,
  MDNS_ANNOUNCEMENTS,
  MDNS_MIN_MULTICAST_GAP,
} from './service-api.js'
export type { MdnsEvents, MdnsExpiredEvent, MdnsOptions, MdnsSocket, MdnsSocketFactory, MdnsStats, PeerDiscoveryEvent } from './service-api.js'
export { DiscoveredPeers } from './peers.js'
export type { MdnsPeerEntry, MdnsPeerLimits } from './peers.js'
export { usable as mdnsUsableAddr, ourAddrs as mdnsOurAddrs } from './addrs.js'
