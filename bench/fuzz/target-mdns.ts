/**
 * mDNS target (src/mdns): the DNS message codec and the libp2p layer over it, as a packet from the
 * multicast group reaches them. The first input byte picks the re-encoding (compressed or plain);
 * the rest is a DNS message built from go- and rust-like records (PTR, SRV, TXT with dnsaddr
 * strings, A, AAAA, an unknown type), names from a small pool, compressed or not, then mutated.
 * Checks: only ProtocolError('mdns', 'mdns/...') escapes; a decoded message re-encodes to bytes that
 * decode to the same encoding (a fixed point); parseResponse stays within maxPeers and
 * maxAddrsPerPeer and parseQuery never throws.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals, utf8 } from '../../src/core/bytes.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import { SERVICE_NAME, decodeDnsMessage, encodeDnsMessage, parseQuery, parseResponse, type DnsMessage, type DnsRecord } from '../../src/mdns/index.js'
import { check, count, type Target } from './engine.js'
import { concatBytes, mutate } from './mutate.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const PEERS = [31, 32].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), crypto).publicKey.toPeerId(crypto).toString())
const INSTANCES = ['k3v9x2m7q1w8e4r6t0y5u3i2o9p7a1s8', 'z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k3']
const NAMES = [SERVICE_NAME, '_services._dns-sd._udp.local', ...INSTANCES, ...INSTANCES.map((n) => `${n}.${SERVICE_NAME}`), ...INSTANCES.map((n) => `${n}.local`), 'a.b.c', '']
const ADDRS = ['/ip4/10.77.0.3/tcp/4001', '/ip4/127.0.0.1/tcp/4001', '/ip6/fe80::1/udp/4001/quic-v1', '/dns4/x.local/tcp/1', '/ip4/999.0.0.1/tcp/1']
const LIMITS = { maxPeers: 16, maxAddrsPerPeer: 64 }

function name(r: Rand): string {
  if (r.chance(0.9)) return r.pick(NAMES)
  const labels: string[] = []
  for (let i = r.int(5); i > 0; i--) labels.push(r.text(1 + r.int(12), 'abcXYZ019-_')) // ≤ 36 UTF-8 bytes: under the label limit
  return labels.join('.').replace(/[.\\]/g, 'x')
}

function record(r: Rand): DnsRecord {
  const base = { name: name(r), class: r.chance(0.9) ? 1 : r.int(0x8000), cacheFlush: r.chance(0.5), ttl: r.chance(0.5) ? 120 : r.int(2 ** 32) }
  switch (r.int(6)) {
    case 0: return { ...base, type: 'PTR', target: name(r) }
    case 1: return { ...base, type: 'SRV', priority: r.int(65536), weight: r.int(65536), port: r.int(65536), target: name(r) }
    case 2: return { ...base, type: 'A', address: r.bytes(4) }
    case 3: return { ...base, type: 'AAAA', address: r.bytes(16) }
    default: {
      const strings: Uint8Array[] = []
      for (let i = r.int(6); i > 0; i--) strings.push(r.chance(0.8) ? utf8(`dnsaddr=${r.pick(ADDRS)}/p2p/${r.pick(PEERS)}`) : r.bytes(r.size(255)))
      return { ...base, type: 'TXT', strings }
    }
  }
}

function message(r: Rand): Uint8Array {
  const m: DnsMessage = { id: r.chance(0.8) ? 0 : r.int(65536), flags: r.pick([0, 0x8400, 0x8000, r.int(65536)]), questions: [], answers: [], authorities: [], additionals: [] }
  for (let i = r.int(3); i > 0; i--) m.questions.push({ name: name(r), type: r.pick([12, 33, 16, 255, r.int(65536)]), class: 1, unicastResponse: r.chance(0.3) })
  if (r.chance(0.5)) {
    // a go-like (instance <n>._p2p._udp.local) or rust-like (bare <n>) response, then random records
    const n = r.pick(INSTANCES)
    const instance = r.chance(0.5) ? `${n}.${SERVICE_NAME}` : n
    m.flags = 0x8400
    m.answers.push({ name: SERVICE_NAME, class: 1, cacheFlush: false, ttl: 360, type: 'PTR', target: instance })
    for (let i = 1 + r.int(4); i > 0; i--) {
      const strings = Array.from({ length: 1 + r.int(4) }, () => utf8(`dnsaddr=${r.pick(ADDRS)}/p2p/${r.pick(PEERS)}`))
      ;(r.chance(0.7) ? m.additionals : m.answers).push({ name: instance, class: 1, cacheFlush: true, ttl: 360, type: 'TXT', strings })
    }
  }
  for (const section of [m.answers, m.authorities, m.additionals]) for (let i = r.int(5); i > 0; i--) section.push(record(r))
  const bytes = encodeDnsMessage(m, { compress: r.chance(0.7), maxPacketSize: Infinity })
  if (!r.chance(0.1)) return bytes
  // an unknown record type (NSEC) appended, with the count raised
  const extra = concatBytes([bytes, Uint8Array.of(0xc0, 0x0c, 0, 47, 0x80, 1, 0, 0, 0, 120, 0, 3, 1, 2, 3)])
  extra[11] = (extra[11]! + 1) & 0xff
  return extra
}

const stats: Record<string, number> = {}

export const mdnsTarget: Target = {
  name: 'mdns',
  stats,
  generate(r) {
    return concatBytes([Uint8Array.of(r.int(256)), mutate(r, message(r))])
  },
  run(input) {
    try {
      runMdns(input)
    } catch (e) {
      if (e instanceof ProtocolError) {
        check(e.protocol === 'mdns' && e.code.startsWith('mdns/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the mdns codec`)
        count(stats, e.code)
      }
      throw e
    }
  },
}

function runMdns(input: Uint8Array): void {
  const compress = ((input[0] ?? 0) & 1) === 1
  const m = decodeDnsMessage(input.subarray(1))
  count(stats, 'decoded')
  const peers = parseResponse(m, LIMITS)
  check(peers.length <= LIMITS.maxPeers, `${peers.length} peers from one packet`)
  for (const p of peers) check(p.addrs.length > 0 && p.addrs.length <= LIMITS.maxAddrsPerPeer, `${p.addrs.length} addrs for one peer`)
  if (peers.length > 0) count(stats, 'peers')
  if (parseQuery(m) !== undefined) count(stats, 'query')
  const once = encodeDnsMessage(m, { compress, maxPacketSize: Infinity })
  const again = encodeDnsMessage(decodeDnsMessage(once, { maxPacketSize: Infinity }), { compress, maxPacketSize: Infinity })
  check(equals(again, once), 'DNS message: encode(decode(x)) is not a fixed point')
}
