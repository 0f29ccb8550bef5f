// The libp2p mDNS layer (src/mdns/message.ts, spec/mdns.md): our query and response, what a query
// asks, the peers a response announces (go and rust layouts), and its limits at and past.
import { describe, expect, test } from 'vitest'
import { toHex, utf8 } from '../src/core/bytes.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId } from '../src/peer-id/index.js'
import {
  FLAG_AA, FLAG_QR, SERVICE_NAME, TYPE, buildQuery, buildResponse, decodeDnsMessage, encodeDnsMessage, parseQuery, parseResponse, peerNameFromBytes,
  type DnsMessage, type DnsRecord,
} from '../src/mdns/index.js'
import { readVectorFile } from './helpers/vectors.js'

const A = PeerId.parse('12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7')
const B = PeerId.parse('12D3KooWSrKnMZUcSxK8G7wmBbXdU8nFEfWGhLu6H8xjn8LmCSJb')
const NAME = peerNameFromBytes(new Uint8Array(32).map((_, i) => i * 7))
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const text = (ps: ReturnType<typeof parseResponse>): unknown => ps.map((p) => ({ peer: p.peer.toString(), addrs: p.addrs.map(String) }))
// (the vectors are used by test/mdns-dns.test.ts; here only one is read, without marking)
const vector = (id: string): string => readVectorFile('mdns').vectors.find((v) => v.id === id)!.hex!

describe('peer name and query', () => {
  test('peerNameFromBytes: 32 to 63 lower-case alphanumerics', () => {
    expect(NAME).toMatch(/^[a-z0-9]{32}$/)
    expect(peerNameFromBytes(new Uint8Array(63).fill(255))).toMatch(/^[a-z0-9]{63}$/)
    expect(() => peerNameFromBytes(new Uint8Array(31))).toThrow(RangeError)
    expect(() => peerNameFromBytes(new Uint8Array(64))).toThrow(RangeError)
  })

  test('buildQuery is the query go and rust send (vector query)', () => {
    expect(toHex(buildQuery())).toBe(vector('query'))
    expect(parseQuery(decodeDnsMessage(buildQuery()))).toEqual({ peers: true, meta: false, unicastResponse: false })
  })

  test('parseQuery: responses, opcodes, rcodes, probes and other names are not queries for us; direct SRV/TXT questions are', () => {
    const q = (flags: number, name: string, type: number = TYPE.PTR): DnsMessage => ({ id: 0, flags, questions: [{ name, type, class: 1, unicastResponse: false }], answers: [], authorities: [], additionals: [] })
    const parse = (m: DnsMessage, peerName?: string): unknown => parseQuery(decodeDnsMessage(encodeDnsMessage(m)), peerName === undefined ? {} : { peerName })
    expect(parse(q(FLAG_QR, SERVICE_NAME))).toBeUndefined()
    expect(parse(q(0x0800, SERVICE_NAME))).toBeUndefined() // opcode 1
    expect(parse(q(0x0003, SERVICE_NAME))).toBeUndefined() // rcode 3
    expect(parse(q(0, '_http._tcp.local'))).toBeUndefined()
    expect(parse(q(0, '_P2P._UDP.LOCAL.'))).toMatchObject({ peers: true })
    expect(parse(q(0, SERVICE_NAME, TYPE.ANY))).toMatchObject({ peers: true })
    expect(parse(q(0, `${NAME}.${SERVICE_NAME}`, TYPE.SRV))).toBeUndefined()
    expect(parse(q(0, `${NAME}.${SERVICE_NAME}`, TYPE.SRV), NAME)).toMatchObject({ peers: true })
    expect(parse(q(0, `${NAME}.${SERVICE_NAME}`, TYPE.TXT), NAME)).toMatchObject({ peers: true })
    expect(parse(q(0, `${NAME}.local`, TYPE.A), NAME)).toMatchObject({ peers: true })
    expect(parse(q(0, `${NAME}.local`, TYPE.AAAA), NAME)).toMatchObject({ peers: true })
    expect(parse(q(0, `${NAME}.local`, TYPE.A))).toBeUndefined()
    expect(parse(q(0, `other.local`, TYPE.A), NAME)).toBeUndefined()
  })
})

describe('buildResponse', () => {
  const addrs = [ma('/ip4/127.0.0.1/tcp/4001'), ma('/ip4/10.77.0.2/tcp/4001'), ma(`/ip6/fe80::2/udp/4001/quic-v1/p2p/${A.toString()}`)]

  test('the layout both go and rust read: PTR in Answer; TXT, SRV, A, AAAA in Additional; QR|AA; cache-flush on unique records', () => {
    const [packet, ...rest] = buildResponse({ peerId: A, peerName: NAME, addrs, meta: true })
    expect(rest).toEqual([])
    const m = decodeDnsMessage(packet!)
    expect(m.flags).toBe(FLAG_QR | FLAG_AA)
    expect(m.questions).toEqual([])
    const instance = `${NAME}.${SERVICE_NAME}`
    expect(m.answers).toEqual([
      { name: SERVICE_NAME, class: 1, cacheFlush: false, ttl: 360, type: 'PTR', target: instance },
      { name: '_services._dns-sd._udp.local', class: 1, cacheFlush: false, ttl: 360, type: 'PTR', target: SERVICE_NAME },
    ])
    const [txt, srv, a, aaaa] = m.additionals
    expect(txt).toMatchObject({ type: 'TXT', name: instance, cacheFlush: true })
    expect((txt as { strings: Uint8Array[] }).strings.map((s) => new TextDecoder().decode(s))).toEqual(addrs.map((x) => `dnsaddr=${x.withoutPeerId().toString()}/p2p/${A.toString()}`))
    expect(srv).toMatchObject({ type: 'SRV', name: instance, port: 4001, target: `${NAME}.local`, cacheFlush: true })
    expect(a).toMatchObject({ type: 'A', name: `${NAME}.local`, address: Uint8Array.of(10, 77, 0, 2) }) // not the loopback one
    expect(aaaa).toMatchObject({ type: 'AAAA', name: `${NAME}.local` })
    expect(text(parseResponse(m))).toEqual([{ peer: A.toString(), addrs: addrs.map((x) => x.withoutPeerId().toString()) }])
  })

  test('ttl, port and ips options; no A/AAAA without a non-loopback IP', () => {
    const m = decodeDnsMessage(buildResponse({ peerId: A, peerName: NAME, addrs: [ma('/ip4/127.0.0.1/tcp/9')], ttl: 3200, port: 7, ips: [Uint8Array.of(192, 168, 1, 5)] })[0]!)
    expect(m.additionals.map((r) => [r.type, r.ttl])).toEqual([['TXT', 3200], ['SRV', 3200], ['A', 3200]])
    expect(m.additionals[1]).toMatchObject({ port: 7 })
    const n = decodeDnsMessage(buildResponse({ peerId: A, peerName: NAME, addrs: [ma('/ip4/127.0.0.1/tcp/9')] })[0]!)
    expect(n.additionals.map((r) => r.type)).toEqual(['TXT', 'SRV'])
    expect(n.additionals[1]).toMatchObject({ port: 9 })
  })

  test('unspecified addresses (0.0.0.0, ::) are neither sent as dnsaddr nor used for A / AAAA', () => {
    const m = decodeDnsMessage(buildResponse({ peerId: A, peerName: NAME, addrs: [ma('/ip4/0.0.0.0/tcp/1'), ma('/ip6/::/tcp/1'), ma('/ip4/10.0.0.9/tcp/2')] })[0]!)
    expect(text(parseResponse(m))).toEqual([{ peer: A.toString(), addrs: ['/ip4/10.0.0.9/tcp/2'] }])
    expect(m.additionals.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => toHex((r as { address: Uint8Array }).address))).toEqual(['0a000009'])
  })

  test('a dnsaddr string of 255 bytes is sent, 256 is left out (as rust)', () => {
    const suffix = `/p2p/${A.toString()}`
    const withPath = (n: number): Multiaddr => {
      const pre = `dnsaddr=/dns4/`
      const rest = `/tcp/1${suffix}`
      return ma(`/dns4/${'h'.repeat(n - pre.length - rest.length)}/tcp/1`)
    }
    const strings = (a: Multiaddr): number[] => {
      const m = decodeDnsMessage(buildResponse({ peerId: A, peerName: NAME, addrs: [a] })[0]!)
      return (m.additionals[0] as { strings: Uint8Array[] }).strings.map((s) => s.length)
    }
    expect(strings(withPath(255))).toEqual([255])
    expect(strings(withPath(256))).toEqual([])
  })

  test('addresses that do not fit maxPacketSize go into further packets, each complete and within the size', () => {
    const many = Array.from({ length: 40 }, (_, i) => ma(`/ip4/10.0.${i}.1/tcp/${4000 + i}`))
    const packets = buildResponse({ peerId: A, peerName: NAME, addrs: many })
    expect(packets.length).toBeGreaterThan(1)
    const seen: string[] = []
    for (const p of packets) {
      expect(p.length).toBeLessThanOrEqual(1500)
      const found = parseResponse(decodeDnsMessage(p))
      expect(found.map((f) => f.peer.toString())).toEqual([A.toString()])
      seen.push(...found[0]!.addrs.map(String))
    }
    expect(seen).toEqual(many.map(String))
    expect(buildResponse({ peerId: A, peerName: NAME, addrs: many, maxPacketSize: 9000 })).toHaveLength(1)
  })
})

describe('parseResponse', () => {
  const rr = (r: Partial<DnsRecord> & Pick<DnsRecord, 'type' | 'name'>): DnsRecord => ({ class: 1, cacheFlush: false, ttl: 120, ...r } as DnsRecord)
  const txt = (name: string, ...ss: string[]): DnsRecord => rr({ type: 'TXT', name, strings: ss.map(utf8) })
  const ptr = (target: string, name = SERVICE_NAME): DnsRecord => rr({ type: 'PTR', name, target })
  const response = (answers: DnsRecord[], additionals: DnsRecord[] = [], flags = FLAG_QR | FLAG_AA, questions: DnsMessage['questions'] = []): ReturnType<typeof decodeDnsMessage> =>
    decodeDnsMessage(encodeDnsMessage({ id: 0, flags, questions, answers, authorities: [], additionals }))
  const dnsaddr = (addr: string, peer: PeerId = A): string => `dnsaddr=${addr}/p2p/${peer.toString()}`

  test('TXT in Answer or Additional, instance named with or without the service suffix', () => {
    expect(text(parseResponse(response([ptr('p1'), txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))])))).toEqual([{ peer: A.toString(), addrs: ['/ip4/10.0.0.1/tcp/1'] }])
    expect(text(parseResponse(response([ptr(`p2.${SERVICE_NAME}`)], [txt(`P2.${SERVICE_NAME}`, dnsaddr('/ip4/10.0.0.2/tcp/2', B))])))).toEqual([{ peer: B.toString(), addrs: ['/ip4/10.0.0.2/tcp/2'] }])
  })

  test('a TXT without a PTR, a PTR of another service, queries, rcodes: no peers', () => {
    expect(parseResponse(response([], [txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))]))).toEqual([])
    expect(parseResponse(response([ptr('p1', '_http._tcp.local'), txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))]))).toEqual([])
    const question = [{ name: SERVICE_NAME, type: TYPE.PTR, class: 1, unicastResponse: false }]
    expect(parseResponse(response([ptr('p1'), txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))], [], 0, question))).toEqual([])
    expect(parseResponse(response([ptr('p1'), txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))], [], FLAG_QR | 2))).toEqual([])
    // rust: a packet without questions is a response even without QR
    expect(parseResponse(response([ptr('p1'), txt('p1', dnsaddr('/ip4/10.0.0.1/tcp/1'))], [], 0))).toHaveLength(1)
  })

  test('maxPeers: 16 at, 17 past (the 17th PTR is ignored)', () => {
    const peers = (n: number): ReturnType<typeof decodeDnsMessage> =>
      response(Array.from({ length: n }, (_, i) => ptr(`p${i}`)), Array.from({ length: n }, (_, i) => txt(`p${i}`, dnsaddr(`/ip4/10.0.0.${i}/tcp/1`, i % 2 === 0 ? A : B))))
    // two peer ids over n instances: distinct instances of the same peer are merged into the first
    expect(parseResponse(peers(16)).map((p) => p.addrs.length)).toEqual([8, 8])
    const ptrs = (n: number): number => parseResponse(response(Array.from({ length: n }, (_, i) => ptr(`p${i}`)), [txt(`p${n - 1}`, dnsaddr('/ip4/10.0.0.1/tcp/1'))])).length
    expect(ptrs(16)).toBe(1)
    expect(ptrs(17)).toBe(0)
    expect(parseResponse(response(Array.from({ length: 17 }, (_, i) => ptr(`p${i}`)), [txt('p16', dnsaddr('/ip4/10.0.0.1/tcp/1'))]), { maxPeers: 17 })).toHaveLength(1)
  })

  test('maxAddrsPerPeer: 64 at, 65 past (kept: the first 64), duplicates counted once', () => {
    const strings = (n: number): string[] => Array.from({ length: n }, (_, i) => dnsaddr(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`))
    const addrs = (n: number): number => parseResponse(response([ptr('p')], [txt('p', ...strings(n)), txt('p', strings(1)[0]!)]))[0]!.addrs.length
    expect(addrs(64)).toBe(64)
    expect(addrs(65)).toBe(64)
    expect(parseResponse(response([ptr('p')], [txt('p', ...strings(65))]), { maxAddrsPerPeer: 65 })[0]!.addrs).toHaveLength(65)
  })

  test('our own response parses back, through a buildResponse / decode / parse round trip with a rust-style peer next to it', () => {
    const ours = decodeDnsMessage(buildResponse({ peerId: B, peerName: NAME, addrs: [ma('/ip4/10.77.0.5/tcp/4001')] })[0]!)
    expect(text(parseResponse(ours))).toEqual([{ peer: B.toString(), addrs: ['/ip4/10.77.0.5/tcp/4001'] }])
  })
})
