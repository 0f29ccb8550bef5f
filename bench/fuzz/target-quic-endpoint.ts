/**
 * QUIC endpoint target (src/quic/endpoint.ts, spec/quic-endpoint.md): one `QuicEndpoint` with small
 * limits, driven as the UDP driver drives it, fed datagrams from many source addresses (IPv4, IPv6,
 * several in one /64, IPv4-mapped) with random time steps: client Initials (valid, too small, short
 * DCID, mangled, with a token from one of its Retries replayed from the same or another address,
 * late, or forged), short-header packets for routed and unknown connection ids, stateless resets
 * (datagrams ending with a peer's reset token), unknown versions, Handshake / 0-RTT / Retry / VN
 * packets, random bytes; and the connections' events (ids issued and retired, reset tokens,
 * confirmation, close, removal). Checks, after every step: nothing thrown; the limits
 * (connections, handshakes, handshakes per IP or IPv6 /64) never exceeded and the endpoint's counts
 * equal the driver's model; the routing state bounded by connections x ids per connection; every
 * 'respond' well-formed (Version Negotiation only for >= 1200-byte datagrams, stateless resets
 * shorter than their trigger and no more than the token bucket allows, Retries that parse); an
 * Initial accepted with its address validated only for a token this endpoint issued to that IP
 * within `tokenLifetime`, on an Initial sent to that Retry's connection id.
 */
import { equals } from '../../src/core/bytes.js'
import type { TlsCrypto } from '../../src/core/crypto/tls.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { QuicEndpoint, ipBucket, type EndpointResult, type QuicEndpointLimits } from '../../src/quic/endpoint.js'
import { QUIC_V1, parseDatagram } from '../../src/quic/packet.js'
import { initialKeys, sealPacket } from '../../src/quic/protection.js'
import { fuzzCrypto } from './crypto.js'
import { check, count, type Target } from './engine.js'
import { mutateOnce, Program } from './mutate.js'
import { Rand } from './rng.js'

const base = fuzzCrypto()
const crypto: TlsCrypto = { ...nodeTlsCrypto, base }
const stats: Record<string, number> = {}
const OPS = 14
const CID_LENGTH = 8
// the endpoint never opens a packet: one key set seals every forged packet (deriving Initial keys per DCID would dominate the run)
const KEYS = initialKeys(crypto, new Uint8Array(8))

const ADDRESSES = [
  '192.0.2.1', '192.0.2.2', '198.51.100.7', '::ffff:192.0.2.1', '2001:db8::1', '2001:db8::2', '2001:db8:0:0:ffff::9',
  '2001:db8:1::1', 'fe80::1%eth0', '::1', '2001:DB8::3',
]

function generate(r: Rand): Uint8Array {
  const out: number[] = [r.int(256), r.int(256)]
  const n = r.range(1, 80)
  for (let i = 0; i < n; i++) {
    out.push(r.int(OPS))
    for (let k = 0; k < 4; k++) out.push(r.int(256))
  }
  return r.chance(0.2) ? mutateOnce(r, Uint8Array.from(out)) : Uint8Array.from(out)
}

interface Conn {
  readonly handle: number
  readonly ip: string | undefined // the bucket, while handshaking (model)
  readonly cids: Uint8Array[]
  readonly tokens: Uint8Array[]
  handshaking: boolean
}

interface Issued { readonly token: Uint8Array, readonly bucket: string, readonly address: string, readonly at: number, readonly scid: Uint8Array, readonly odcid: Uint8Array }

function run(input: Uint8Array): void {
  base.reset(1)
  const p = new Program(input)
  const cfg = p.u8()
  const r = new Rand(1 + p.u8())
  const limits: QuicEndpointLimits = {
    maxConnections: 2 + (cfg & 7), maxHandshakes: 1 + ((cfg >> 3) & 3), maxHandshakesPerIp: 1 + ((cfg >> 5) & 1),
    statelessResetsPerSecond: 1 + ((cfg >> 6) & 3), tokenLifetime: 2000, maxConnectionIdsPerConnection: 2 + (cfg & 3),
  }
  const retry = (['always', 'under-load', 'never'] as const)[cfg % 3]!
  const ep = new QuicEndpoint<number>({ crypto, random: (n) => r.bytes(n), staticKey: new Uint8Array(32).fill(7), limits, retry, server: (cfg & 0x80) === 0 || (cfg & 1) === 0 })
  const conns = new Map<number, Conn>()
  const issued: Issued[] = []
  const peerTokens: Uint8Array[] = []
  let handles = 0
  let now = 0
  let resets = 0
  const start = 0

  const modelHandshakes = (): number => [...conns.values()].filter((c) => c.handshaking).length
  const perBucket = (bucket: string): number => [...conns.values()].filter((c) => c.handshaking && c.ip === bucket).length
  const routedCids = (): Uint8Array[] => [...conns.values()].flatMap((c) => c.cids)

  const initial = (dcid: Uint8Array, scid: Uint8Array, token: Uint8Array, size: number, version = QUIC_V1): Uint8Array =>
    sealPacket(crypto, KEYS.client, { type: 'initial', version, dcid, scid, token }, r.int(4), new Uint8Array([6, 0, 4, 1, 0, 0, 0]), { minPacketSize: size })

  const feed = (address: string, port: number, d: Uint8Array): void => {
    const res: EndpointResult<number> = ep.handleDatagram(now, { address, port }, d)
    count(stats, res.kind === 'drop' ? `drop-${res.reason}` : res.kind === 'respond' ? `respond-${res.reason}` : res.kind)
    if (res.kind === 'accept') {
      const i = res.incoming
      check(d.length >= 1200, 'accepted an Initial in a datagram under 1200 bytes')
      check(modelHandshakes() < limits.maxHandshakes && conns.size < limits.maxConnections, 'accepted past the connection or handshake limit')
      check(perBucket(ipBucket(address)) < limits.maxHandshakesPerIp, 'accepted past the per-IP handshake limit')
      check(i.localConnectionId.length === CID_LENGTH && i.originalDestinationConnectionId.length >= 8, 'accept: bad connection ids')
      if (i.addressValidated) {
        const t = issued.find((x) => i.retrySourceConnectionId !== undefined && equals(x.scid, i.retrySourceConnectionId) && equals(x.odcid, i.originalDestinationConnectionId))
        check(t !== undefined, 'validated by a token this endpoint never issued')
        check(t.bucket === ipBucket(address) && now - t.at <= limits.tokenLifetime && now >= t.at, 'a token accepted from another address or past its lifetime')
        count(stats, 'accept-validated')
      }
      if (p.u8() % 8 === 0) { count(stats, 'driver-refused'); return } // the driver may refuse (no listener)
      const h = handles++
      ep.accept(h, i)
      const c: Conn = { handle: h, ip: ipBucket(address), cids: [i.localConnectionId, i.originalDestinationConnectionId], tokens: [], handshaking: true }
      if (i.retrySourceConnectionId !== undefined) c.cids.push(i.retrySourceConnectionId)
      conns.set(h, c)
    } else if (res.kind === 'respond') {
      const out = res.datagram
      if (res.reason === 'version-negotiation') {
        check(d.length >= 1200, 'Version Negotiation for a datagram under 1200 bytes')
        const vn = parseDatagram(out, CID_LENGTH).packets[0]
        check(vn?.type === 'version_negotiation' && vn.versions.includes(QUIC_V1), 'a malformed Version Negotiation')
      } else if (res.reason === 'stateless-reset') {
        resets++
        check(out.length < d.length && out.length >= 21 && (out[0]! & 0xc0) === 0x40, 'a stateless reset not shorter than its trigger')
        check(resets <= limits.statelessResetsPerSecond * (1 + (now - start) / 1000) + 1, 'stateless resets past the token bucket')
      } else {
        const rp = parseDatagram(out, CID_LENGTH).packets[0]
        check(rp?.type === 'retry' && rp.token.length > 0, 'a malformed Retry')
        const sent = parseDatagram(d, CID_LENGTH, { maxCoalescedPackets: 1 }).packets[0]
        if (sent !== undefined && sent.type === 'initial') issued.push({ token: rp.token.slice(), bucket: ipBucket(address), address, at: now, scid: rp.scid.slice(), odcid: sent.dcid.slice() })
        if (issued.length > 16) issued.shift()
      }
    } else if (res.kind === 'connection') {
      check(conns.has(res.handle), 'routed to a connection that is not routed')
    }
  }

  for (let step = 0; step < 300 && !p.done; step++) {
    const op = p.u8() % OPS
    const a = p.u8()
    const b = p.u8()
    const c = p.u8()
    const address = ADDRESSES[a % ADDRESSES.length]!
    const port = 1000 + (b % 4)
    switch (op) {
      case 0: { // a client Initial, mostly valid
        const dcid = r.bytes(8 + (c % 13))
        feed(address, port, initial(dcid, r.bytes(c % 21), new Uint8Array(0), c % 16 === 0 ? 1100 : 1200 + (c % 200)))
        break
      }
      case 1: { // the token of one of our Retries, from its address or another, maybe late
        const t = issued[c % Math.max(1, issued.length)]
        if (t === undefined) break
        const from = b % 3 === 0 ? address : t.address
        feed(from, port, initial(t.scid, r.bytes(8), b % 5 === 0 ? mutateOnce(r, t.token) : t.token, 1200))
        break
      }
      case 2: { // a mangled Initial
        feed(address, port, mutateOnce(r, initial(r.bytes(8), r.bytes(8), r.bytes(c % 40), 1200)))
        break
      }
      case 3: { // a short-header packet for a routed id, or an unknown one
        const ids = routedCids()
        const dcid = ids.length > 0 && c % 2 === 0 ? ids[b % ids.length]! : r.bytes(CID_LENGTH)
        const d = new Uint8Array(1 + (c % 80))
        d[0] = 0x40 | (b & 0x3f)
        d.set(dcid.subarray(0, Math.max(0, Math.min(dcid.length, d.length - 1))), 1)
        feed(address, port, d)
        break
      }
      case 4: { // a stateless reset of a peer: random bytes ending with a token a connection learned
        if (peerTokens.length === 0) break
        const tok = peerTokens[c % peerTokens.length]!
        const d = r.bytes(21 + (b % 40))
        d[0] = 0x40 | (d[0]! & 0x3f)
        d.set(tok, d.length - 16)
        feed(address, port, d)
        break
      }
      case 5: { // an unknown version, big or small
        feed(address, port, initial(r.bytes(8 + (c % 13)), r.bytes(c % 21), new Uint8Array(0), b % 4 === 0 ? 300 : 1200, 0x1a2a3a4a))
        break
      }
      case 6: now += (a << 8 | b) % 5000; count(stats, 'time'); break
      case 7: { // a connection's event
        const list = [...conns.values()]
        const conn = list[a % Math.max(1, list.length)]
        if (conn === undefined) break
        switch (b % 6) {
          case 0: { const cid = r.bytes(CID_LENGTH); ep.handleEvent(conn.handle, { kind: 'connection-id-issued', connectionId: cid, sequenceNumber: c, statelessResetToken: r.bytes(16) }); if (conn.cids.length < limits.maxConnectionIdsPerConnection) conn.cids.push(cid); break }
          case 1: { const cid = conn.cids[c % conn.cids.length]; if (cid !== undefined) { ep.handleEvent(conn.handle, { kind: 'connection-id-retired', connectionId: cid, sequenceNumber: c }); conn.cids.splice(conn.cids.indexOf(cid), 1) } break }
          case 2: { const tok = r.bytes(c % 9 === 0 ? 15 : 16); ep.handleEvent(conn.handle, { kind: 'peer-reset-token', token: tok }); if (tok.length === 16) peerTokens.push(tok); break }
          case 3: ep.handleEvent(conn.handle, { kind: 'handshake-confirmed' }); conn.handshaking = false; break
          case 4: ep.handleEvent(conn.handle, { kind: 'closed', info: { source: 'idle', errorCode: 0, application: false, reason: '' } }); conns.delete(conn.handle); break
          default: ep.remove(conn.handle); conns.delete(conn.handle)
        }
        count(stats, `event-${b % 6}`)
        break
      }
      case 8: feed(address, port, r.bytes(c % 64 === 0 ? 0 : 1 + r.size(1500))); break
      case 9: { // Handshake, 0-RTT, Retry or VN-looking long headers for routed or unknown ids
        const ids = routedCids()
        const dcid = ids.length > 0 && c % 2 === 0 ? ids[b % ids.length]! : r.bytes(8)
        const type = ['handshake', '0rtt'][c % 2] as 'handshake' | '0rtt'
        const d = sealPacket(crypto, KEYS.client, { type, dcid, scid: r.bytes(8) }, 0, r.bytes(1 + (b % 30)))
        feed(address, port, b % 4 === 0 ? mutateOnce(r, d) : d)
        break
      }
      case 10: { // an Initial to a routed id (a retransmission) from anywhere
        const ids = routedCids()
        if (ids.length === 0) break
        feed(address, port, initial(ids[c % ids.length]!, r.bytes(8), new Uint8Array(0), 1200))
        break
      }
      case 11: { // a burst of Initials from one /64 (many IPv6 addresses of one host)
        for (let k = 0; k < 1 + (c % 6); k++) feed(`2001:db8:aa:bb:${(b * 7 + k).toString(16)}::${k + 1}`, port, initial(r.bytes(8), r.bytes(8), new Uint8Array(0), 1200))
        break
      }
      case 12: { // a forged token (random bytes of a plausible length)
        feed(address, port, initial(r.bytes(8), r.bytes(8), r.bytes(12 + 16 + 8 + (c % 40)), 1200))
        break
      }
      default: { // a short DCID Initial (under 8 bytes)
        feed(address, port, initial(r.bytes(c % 8), r.bytes(8), new Uint8Array(0), 1200))
      }
    }
    // the endpoint's view equals the model's, and every bound holds
    check(ep.connectionCount === conns.size, `connections: endpoint ${ep.connectionCount}, driver ${conns.size}`)
    check(ep.handshakeCount === modelHandshakes(), `handshakes: endpoint ${ep.handshakeCount}, model ${modelHandshakes()}`)
    check(ep.connectionCount <= limits.maxConnections && ep.handshakeCount <= limits.maxHandshakes, 'a limit exceeded')
    for (const addr of [address, '2001:db8:aa:bb::1']) check(ep.handshakesFrom(addr) <= limits.maxHandshakesPerIp, `per-IP handshakes exceeded for ${addr}`)
    const e = ep.routingEntries
    check(e.connectionIds <= conns.size * limits.maxConnectionIdsPerConnection, `routing table ${e.connectionIds} > ${conns.size} x ${limits.maxConnectionIdsPerConnection}`)
    check(e.resetTokens <= conns.size * limits.maxConnectionIdsPerConnection && e.ips <= ep.handshakeCount, 'reset tokens or per-IP counters unbounded')
  }
  if (conns.size > 0) count(stats, 'connections-left')
  // removing every connection leaves nothing behind
  for (const h of [...conns.keys()]) ep.remove(h)
  const e = ep.routingEntries
  check(ep.connectionCount === 0 && ep.handshakeCount === 0 && e.connectionIds === 0 && e.resetTokens === 0 && e.ips === 0, `state left after every connection was removed: ${JSON.stringify(e)}`)
}

export const quicEndpointTarget: Target = { name: 'quic-endpoint', generate, run, stats }
