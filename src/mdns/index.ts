/**
 * mDNS discovery (libp2p/specs discovery/mdns.md): a bounded DNS message codec and the libp2p
 * query / response layer over it, and the node service (`mdns({ socket })`; the UDP socket is
 * `udpMdnsSocket()` from 'weft/node'). See spec/mdns.md.
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
export type { DiscoveredPeer, QueryQuestions, ResponseOptions, ResponseParseOptions } from './message.js'
export { mdns, DEFAULT_MDNS_INTERVAL, DEFAULT_MDNS_TTL } from './service-api.js'
export type { Mdns, MdnsOptions, MdnsSocket, MdnsSocketFactory, MdnsStats, PeerDiscoveryEvent } from './service-api.js'
