/**
 * The libp2p mDNS messages (libp2p/specs discovery/mdns.md) over the DNS codec of dns.ts: the
 * `_p2p._udp.local PTR` query, our response, what a received query asks for, and the peers a
 * received response announces, in go-libp2p's (zeroconf) and rust-libp2p's layouts. See spec/mdns.md.
 *
 * Pure: randomness (the peer name) and the host's IPs are handed in; no sockets here.
 */
import { utf8, fromUtf8 } from '../core/bytes.js'
import { CODE, Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { CLASS_IN, FLAG_AA, FLAG_QR, TYPE, encodeDnsMessage, sameName } from './dns.js'
import type { DecodedDnsMessage, DnsMessage, DnsQuestion, DnsRecord } from './dns.js'

/** The DNS-SD service name of libp2p peers (libp2p specs discovery/mdns.md "Definitions"). */
export const SERVICE_NAME = '_p2p._udp.local'
/** The DNS-SD meta query (RFC 6763 §9): "which services are on this link". */
export const META_QUERY_NAME = '_services._dns-sd._udp.local'
const DNSADDR = 'dnsaddr='
const PEER_NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

/**
 * A peer name from random bytes (the caller's randomness: cores draw none): one lower-case
 * alphanumeric character per byte, 32 to 63 bytes (spec: ≥ 32 characters, < 64, the DNS label limit).
 */
export function peerNameFromBytes(random: Uint8Array): string {
  if (random.length < 32 || random.length > 63) throw new RangeError('a peer name needs 32 to 63 random bytes')
  let s = ''
  for (const b of random) s += PEER_NAME_ALPHABET[b % PEER_NAME_ALPHABET.length]
  return s
}

/** The query every peer sends: one question `_p2p._udp.local PTR IN`, id 0, no QU bit (as go and rust). */
export function buildQuery(serviceName = SERVICE_NAME): Uint8Array {
  return encodeDnsMessage({
    id: 0, flags: 0, answers: [], authorities: [], additionals: [],
    questions: [{ name: serviceName, type: TYPE.PTR, class: CLASS_IN, unicastResponse: false }],
  })
}

/**
 * What goes in our mDNS response (discovery/mdns.md "Response"): our peer name and a `dnsaddr=` TXT record per address.
 */
export interface ResponseOptions {
  peerId: PeerId
  /** From peerNameFromBytes: 32–63 lower-case alphanumerics. */
  peerName: string
  /** Our addresses; each goes out as `dnsaddr=<addr>/p2p/<id>` (a `/p2p/<id>` already there is kept). */
  addrs: readonly Multiaddr[]
  /** TTL of every record, seconds. Default 360 (rust's; go uses 3200). */
  ttl?: number
  /** Port in the SRV record (go's dummy is 4001). Default: the first TCP/UDP port in addrs, else 4001. */
  port?: number
  /** IPv4 (4 bytes) / IPv6 (16 bytes) of the host for A / AAAA. Default: the first non-loopback ip4 and ip6 in addrs. */
  ips?: readonly Uint8Array[]
  /**
   * Largest packet, bytes. Default 1500 (an Ethernet MTU: go-libp2p #3415 keeps responses in one
   * frame); addresses that do not fit go into further packets, each complete on its own.
   */
  maxPacketSize?: number
  /** Answer the DNS-SD meta query as well (`_services._dns-sd._udp.local PTR _p2p._udp.local`). */
  meta?: boolean
  serviceName?: string
  /**
   * A legacy unicast response (RFC 6762 §6.7) to a one-shot querier (source port not 5353): the
   * query's id and questions repeated, every TTL at most 10 s, no cache-flush bits.
   */
  legacy?: { id: number; questions: readonly DnsQuestion[] }
}

/** RFC 6762 §6.7: TTLs in a legacy unicast response are at most 10 s. */
export const LEGACY_MAX_TTL = 10

/**
 * Our response, readable by go and rust alike (spec/mdns.md "Our response"): Answer
 * `<service> PTR <peer-name>.<service>`; Additional `<peer-name>.<service> TXT` (one `dnsaddr=`
 * string per address), `<peer-name>.<service> SRV 0 0 <port> <peer-name>.local`, and
 * `<peer-name>.local A / AAAA`. Flags QR|AA, id 0, cache-flush on the unique records (TXT, SRV,
 * A, AAAA), not on the shared PTR (RFC 6762 §10.2). One packet unless the addresses need more.
 * Addresses whose string is over 255 bytes are left out (as rust does), and so are unspecified
 * ones (0.0.0.0, ::): the caller expands those to its interface addresses first.
 */
export function buildResponse(o: ResponseOptions): Uint8Array[] {
  const service = o.serviceName ?? SERVICE_NAME
  if (!/^[a-z0-9]{1,63}$/.test(o.peerName)) throw new RangeError('peerName must be 1-63 lower-case alphanumerics')
  const legacy = o.legacy
  const ttl = legacy === undefined ? o.ttl ?? 360 : Math.min(o.ttl ?? 360, LEGACY_MAX_TTL)
  const flush = legacy === undefined
  const max = o.maxPacketSize ?? 1500
  const instance = `${o.peerName}.${service}`
  const host = `${o.peerName}.local`
  const id = o.peerId.toString()
  const strings: Uint8Array[] = []
  for (const a of o.addrs) {
    if (isUnspecified(a)) continue // 0.0.0.0 / :: is a listen wildcard, not an address anyone can dial
    const full = a.getPeerId() === id ? a : a.encapsulate(`/p2p/${id}`)
    const s = utf8(DNSADDR + full.toString())
    if (s.length <= 255) strings.push(s)
  }
  const ips = o.ips ?? defaultIps(o.addrs)
  const port = o.port ?? defaultPort(o.addrs)
  const base = { class: CLASS_IN, ttl }
  const fixed: DnsRecord[] = [
    { ...base, cacheFlush: flush, name: instance, type: 'SRV', priority: 0, weight: 0, port, target: host },
    ...ips.map((ip): DnsRecord => ({ ...base, cacheFlush: flush, name: host, type: ip.length === 4 ? 'A' : 'AAAA', address: ip })),
  ]
  const answers: DnsRecord[] = [{ ...base, cacheFlush: false, name: service, type: 'PTR', target: instance }]
  if (o.meta === true) answers.push({ ...base, cacheFlush: false, name: META_QUERY_NAME, type: 'PTR', target: service })
  const packet = (chunk: Uint8Array[]): DnsMessage => ({
    id: legacy?.id ?? 0, flags: FLAG_QR | FLAG_AA, questions: legacy === undefined ? [] : [...legacy.questions], answers, authorities: [],
    additionals: [{ ...base, cacheFlush: flush, name: instance, type: 'TXT', strings: chunk }, ...fixed],
  })
  const out: Uint8Array[] = []
  let chunk: Uint8Array[] = []
  for (const s of strings) {
    const next = [...chunk, s]
    if (chunk.length > 0 && encodeDnsMessage(packet(next), { maxPacketSize: Infinity }).length > max) {
      out.push(encodeDnsMessage(packet(chunk), { maxPacketSize: max }))
      chunk = [s]
    } else chunk = next
  }
  out.push(encodeDnsMessage(packet(chunk), { maxPacketSize: max }))
  return out
}

function isUnspecified(a: Multiaddr): boolean {
  const c = a.components()[0]
  return (c?.code === CODE.ip4 || c?.code === CODE.ip6) && c.bytes.every((x) => x === 0)
}

function defaultIps(addrs: readonly Multiaddr[]): Uint8Array[] {
  let v4: Uint8Array | undefined
  let v6: Uint8Array | undefined
  for (const a of addrs) {
    const c = a.components()[0]
    if (a.isLoopback() || isUnspecified(a)) continue
    if (c?.code === CODE.ip4 && v4 === undefined) v4 = c.bytes
    if (c?.code === CODE.ip6 && v6 === undefined) v6 = c.bytes
  }
  return [v4, v6].filter((x): x is Uint8Array => x !== undefined)
}

function defaultPort(addrs: readonly Multiaddr[]): number {
  for (const a of addrs) {
    const c = a.components()[1]
    if ((c?.code === CODE.tcp || c?.code === CODE.udp) && c.value !== undefined) return Number(c.value)
  }
  return 4001
}

/** What a received mDNS query asks: our peers (a PTR question for the service), the DNS-SD meta query, or neither. */
export interface QueryQuestions {
  /** A `<service> PTR` (or ANY) question: answer with buildResponse. */
  peers: boolean
  /** The DNS-SD meta query. */
  meta: boolean
  /** Any question that asks for our answer has the QU bit: a unicast answer is welcome. */
  unicastResponse: boolean
}

/**
 * What a received message asks us, or undefined when it is not a query for us: a response (QR
 * set), an opcode or rcode other than 0 (RFC 6762 §18.3, §18.11), a probe (authority records,
 * §8.2), or no question we answer. Direct SRV / TXT questions on `<peer-name>.<service>` and A /
 * AAAA questions on our host name `<peer-name>.local` count as `peers` ("Gotchas" in the spec)
 * when `peerName` is given (the full response carries every record they ask for).
 */
export function parseQuery(msg: DecodedDnsMessage, options: { serviceName?: string; peerName?: string } = {}): QueryQuestions | undefined {
  if ((msg.flags & FLAG_QR) !== 0 || (msg.flags & 0x780f) !== 0 || msg.authorities.length > 0) return undefined
  const service = options.serviceName ?? SERVICE_NAME
  const instance = options.peerName === undefined ? undefined : `${options.peerName}.${service}`
  const host = options.peerName === undefined ? undefined : `${options.peerName}.local`
  const q: QueryQuestions = { peers: false, meta: false, unicastResponse: false }
  for (const x of msg.questions) {
    const ptr = x.type === TYPE.PTR || x.type === TYPE.ANY
    let hit = false
    if (ptr && sameName(x.name, service)) hit = q.peers = true
    else if (ptr && sameName(x.name, META_QUERY_NAME)) hit = q.meta = true
    else if (instance !== undefined && (x.type === TYPE.SRV || x.type === TYPE.TXT || x.type === TYPE.ANY) && sameName(x.name, instance)) hit = q.peers = true
    else if (host !== undefined && (x.type === TYPE.A || x.type === TYPE.AAAA || x.type === TYPE.ANY) && sameName(x.name, host)) hit = q.peers = true
    if (hit && x.unicastResponse) q.unicastResponse = true
  }
  return q.peers || q.meta ? q : undefined
}

/** A peer found in an mDNS response: its id and addresses, with the record TTL in seconds. */
export interface DiscoveredPeer {
  peer: PeerId
  /** Its addresses without the `/p2p/<id>` suffix, unique, in packet order. */
  addrs: Multiaddr[]
  /** Seconds: the smallest TTL of its PTR and the TXT records used (0: a goodbye, RFC 6762 §10.1). */
  ttl: number
}

/** Options of parsing an mDNS response (the service name, and the bounds on what one packet may add). */
export interface ResponseParseOptions {
  serviceName?: string
  /** Most peers taken from one packet (PTR answers beyond are ignored). Default 16. Stops one packet filling the peer store. */
  maxPeers?: number
  /** Most addresses kept per peer from one packet. Default 64. Stops one peer's thousand addresses reaching the dialer. */
  maxAddrsPerPeer?: number
}

/**
 * The peers a received response announces (spec/mdns.md "Reading responses"): PTR records named
 * `<service>` in any section give instance names; TXT records (any section) named like an instance
 * give `dnsaddr=` strings. Both go's `<n>._p2p._udp.local` and rust's bare `<n>` instance names
 * match, since the TXT name is compared to the PTR target. A string without `dnsaddr=`, not UTF-8,
 * not a multiaddr, without `/p2p/<id>`, or naming another peer than the instance's first is
 * skipped. Two instances naming the same peer are merged. Messages that are queries, or have an opcode or rcode, give []. Never throws.
 */
export function parseResponse(msg: DecodedDnsMessage, options: ResponseParseOptions = {}): DiscoveredPeer[] {
  const service = options.serviceName ?? SERVICE_NAME
  const maxPeers = options.maxPeers ?? 16
  const maxAddrs = options.maxAddrsPerPeer ?? 64
  // rust: a packet without questions is a response; go's answers carry QR. Either is accepted.
  if (((msg.flags & FLAG_QR) === 0 && msg.questions.length > 0) || (msg.flags & 0x780f) !== 0) return []
  const records = [...msg.answers, ...msg.additionals, ...msg.authorities]
  const instances: Array<{ target: string; ttl: number }> = []
  for (const r of records) {
    if (r.type !== 'PTR' || !sameName(r.name, service)) continue
    const known = instances.find((i) => sameName(i.target, r.target))
    if (known !== undefined) known.ttl = Math.min(known.ttl, r.ttl)
    else if (instances.length < maxPeers) instances.push({ target: r.target, ttl: r.ttl })
  }
  const out: DiscoveredPeer[] = []
  for (const { target: instance, ttl: ptrTtl } of instances) {
    let found: DiscoveredPeer | undefined
    let ttl = ptrTtl
    const seen = new Set<string>()
    for (const r of records) {
      if (r.type !== 'TXT' || !sameName(r.name, instance)) continue
      ttl = Math.min(ttl, r.ttl)
      for (const s of r.strings) {
        if (found !== undefined && found.addrs.length >= maxAddrs) break
        const d = dnsaddr(s)
        if (d === undefined) continue
        if (found === undefined) found = { peer: d.peer, addrs: [], ttl }
        else if (!found.peer.equals(d.peer)) continue
        const key = d.addr.toString()
        if (seen.has(key)) continue
        seen.add(key)
        found.addrs.push(d.addr)
      }
    }
    if (found === undefined) continue
    found.ttl = ttl
    const same = out.find((p) => p.peer.equals(found.peer))
    if (same === undefined) out.push(found)
    else {
      same.ttl = Math.min(same.ttl, found.ttl)
      for (const a of found.addrs) if (same.addrs.length < maxAddrs && !same.addrs.some((x) => x.equals(a))) same.addrs.push(a)
    }
  }
  return out
}

/** One `dnsaddr=<multiaddr>/p2p/<id>` string, or undefined for anything else. */
function dnsaddr(s: Uint8Array): { peer: PeerId; addr: Multiaddr } | undefined {
  try {
    const text = fromUtf8(s)
    if (!text.startsWith(DNSADDR)) return undefined
    const ma = Multiaddr.fromString(text.slice(DNSADDR.length))
    const id = ma.getPeerIdBytes()
    if (id === undefined) return undefined
    return { peer: PeerId.fromMultihash(id), addr: ma.withoutPeerId() }
  } catch {
    return undefined
  }
}
