/**
 * The mDNS node service over a fake socket on a virtual clock (the UDP one is tested in namespaces:
 * test/netns-mdns.test.ts): the query schedule, announcements, answers (multicast once a second,
 * QU and legacy unicast), discovery and TTL expiry, goodbyes, address hygiene, the limits at and
 * past their values, and garbage that never throws.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, nodeCrypto, prometheusMetrics, tcp, type PrometheusMetrics, type WeftNode } from '../src/node.js'
import {
  mdns, Mdns, type MdnsExpiredEvent, type MdnsOptions, type MdnsSocketFactory, buildQuery, buildResponse, decodeDnsMessage, encodeDnsMessage, parseQuery,
  parseResponse, peerNameFromBytes, SERVICE_NAME, TYPE, FLAG_QR, type DecodedDnsMessage,
} from '../src/mdns/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey } from '../src/peer-id/keys.js'
import type { PeerId } from '../src/peer-id/index.js'
import type { NodeService } from '../src/swarm/index.js'

interface Sent { at: number; packet: Uint8Array; to?: { address: string; port: number } }
const LAN = { address: '192.0.2.50', port: 5353 }

/** A fake socket pair on a virtual clock: timers run only in advance(). */
class FakeNet {
  t = 0
  sent: Sent[] = []
  timers: Array<{ at: number; f: () => void; seq: number }> = []
  seq = 0
  ips = ['192.0.2.7']
  openedWith: { ipv6?: boolean } | undefined
  deliver: ((d: Uint8Array, from?: { address: string; port: number }) => void) | undefined
  closed = false
  factory: MdnsSocketFactory = {
    open: async (h, o) => {
      this.openedWith = o
      this.deliver = (d, from = LAN) => h.onPacket(d, from)
      return {
        send: (packet, to) => void this.sent.push({ at: this.t, packet, ...(to !== undefined ? { to } : {}) }),
        interfaceIps: () => this.ips,
        close: () => void (this.closed = true),
      }
    },
    now: () => this.t,
    after: (ms, f) => {
      const timer = { at: this.t + ms, f, seq: this.seq++ }
      this.timers.push(timer)
      return () => void (this.timers = this.timers.filter((x) => x !== timer))
    },
  }
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (next === undefined) break
      this.timers = this.timers.filter((x) => x !== next)
      this.t = next.at
      next.f()
    }
    this.t = end
  }
  decoded(): Array<Sent & { msg: DecodedDnsMessage }> {
    return this.sent.map((s) => ({ ...s, msg: decodeDnsMessage(s.packet) }))
  }
  queries(): Sent[] {
    return this.decoded().filter((s) => (s.msg.flags & FLAG_QR) === 0)
  }
  responses(o: { unicast?: boolean } = {}): Array<Sent & { msg: DecodedDnsMessage }> {
    return this.decoded().filter((s) => (s.msg.flags & FLAG_QR) !== 0 && (s.to !== undefined) === (o.unicast ?? false))
  }
}

const nodes: WeftNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
})

async function setup(o: Partial<MdnsOptions> = {}, services: Record<string, (ctx: never) => NodeService> = {}, nodeOptions: { metrics?: PrometheusMetrics } = {}): Promise<{ node: WeftNode; net: FakeNet; api: Mdns }> {
  const net = new FakeNet()
  const node = await createNode({ transports: [tcp()], listen: ['/ip4/0.0.0.0/tcp/0'], services: { mdns: mdns({ socket: net.factory, ...o }), ...services }, ...nodeOptions })
  nodes.push(node)
  for (let i = 0; i < 200 && net.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 1))
  return { node, net, api: node.service<Mdns>('mdns') }
}

const otherPeer = (): PeerId => generatePrivateKey(nodeCrypto).publicKey.toPeerId()
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const NAME = peerNameFromBytes(new Uint8Array(32).fill(7))
const responseOf = (peer: PeerId, addrs: string[], ttl = 120, name = NAME): Uint8Array[] => buildResponse({ peerId: peer, peerName: name, addrs: addrs.map(ma), ttl, ips: [new Uint8Array([192, 0, 2, 9])] })
const qu = (): Uint8Array => encodeDnsMessage({ id: 0, flags: 0, questions: [{ name: SERVICE_NAME, type: TYPE.PTR, class: 1, unicastResponse: true }], answers: [], authorities: [], additionals: [] })
const legacyQuery = (id: number): Uint8Array => encodeDnsMessage({ id, flags: 0, questions: [{ name: SERVICE_NAME, type: TYPE.PTR, class: 1, unicastResponse: false }], answers: [], authorities: [], additionals: [] })

function listen(node: WeftNode): Array<{ peer: string; addrs: string[] }> {
  const seen: Array<{ peer: string; addrs: string[] }> = []
  node.on('peer:discovery', (d) => seen.push({ peer: d.peer.toString(), addrs: d.addrs.map(String) }))
  return seen
}
function expiries(api: Mdns): MdnsExpiredEvent[] {
  const out: MdnsExpiredEvent[] = []
  api.on('expired', (e) => out.push(e))
  return out
}

describe('schedule', () => {
  test('first query at once, then 1 s, 2 s, 4 s ... (each + at most 10 % jitter) up to interval; two announcements 1 s apart', async () => {
    const { net } = await setup({ interval: 8000 })
    expect(net.queries().map((q) => q.at)).toEqual([0])
    expect(decodeDnsMessage(net.sent.find((s) => (decodeDnsMessage(s.packet).flags & FLAG_QR) === 0)!.packet).questions.map((x) => [x.name, x.type])).toEqual([[SERVICE_NAME, 12]])
    net.advance(60_000)
    const at = net.queries().map((q) => q.at)
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    const base = [1000, 2000, 4000, 8000, 8000, 8000]
    base.forEach((b, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(b)
      expect(gaps[i]).toBeLessThanOrEqual(b * 1.1)
    })
    expect(net.responses().map((r) => r.at)).toEqual([0, 1000])
    const ours = parseResponse(net.responses()[0]!.msg)
    expect(ours.length).toBe(1)
    expect(ours[0]!.ttl).toBe(360)
  })

  test('a change of our listen addresses is announced again (twice)', async () => {
    let extra: Multiaddr[] = []
    const extraSvc = (): NodeService => ({ name: 'extra', behaviour: { protocols: [], handle() {}, handleTimeout() {}, pollAction: () => undefined, pollTimeout: () => undefined }, api: {}, onEvent() {}, stop() {}, listenAddrs: () => extra })
    const { node, net } = await setup({}, { extra: extraSvc as never })
    net.advance(5000)
    expect(net.responses().length).toBe(2)
    extra = [ma('/ip4/192.0.2.77/tcp/9')]
    node.refreshListenAddrs()
    await Promise.resolve()
    net.advance(1500)
    const after = net.responses().slice(2)
    expect(after.length).toBe(2)
    expect(parseResponse(after[0]!.msg)[0]!.addrs.map(String)).toContain('/ip4/192.0.2.77/tcp/9')
  })
})

describe('answers', () => {
  test('a query is answered by multicast with the non-loopback addresses, at most once a second; own response ignored', async () => {
    const { node, net, api } = await setup()
    const seen = listen(node)
    net.advance(2500) // past the announcements (at 0 and 1 s) and their one-second gap
    const before = net.responses().length
    for (let i = 0; i < 5; i++) net.deliver!(buildQuery())
    expect(net.responses().length).toBe(before + 1)
    net.advance(999)
    expect(net.responses().length).toBe(before + 1)
    net.deliver!(buildQuery())
    net.advance(1)
    expect(net.responses().length).toBe(before + 2) // the query inside the second waited for it
    const peers = parseResponse(net.responses().at(-1)!.msg)
    expect(peers[0]!.peer.equals(node.peerId)).toBe(true)
    const mine = node.getMultiaddrs().map((a) => a.withoutPeerId().toString()).filter((a) => !a.startsWith('/ip4/127.'))
    expect(peers[0]!.addrs.map(String)).toEqual(mine)
    net.deliver!(net.responses().at(-1)!.packet) // multicast loopback brings our own response back
    expect(seen).toEqual([])
    expect(api.stats()).toMatchObject({ answered: 6, discovered: 0 })
  })

  test('QU bit: a unicast answer to the querier; no extra multicast when we multicast within ttl/4', async () => {
    const { net, api } = await setup()
    net.advance(1500)
    const multicasts = net.responses().length
    net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    const uni = net.responses({ unicast: true })
    expect(uni.length).toBe(1)
    expect(uni[0]!.to).toEqual({ address: '192.0.2.60', port: 5353 })
    expect(uni[0]!.msg.questions).toEqual([])
    net.advance(2000)
    expect(net.responses().length).toBe(multicasts)
    expect(api.stats().unicastSent).toBe(1)
  })

  test('legacy querier (source port not 5353): unicast reply with its id and question, TTL <= 10, no cache-flush; and a multicast answer (what rust reads)', async () => {
    const { net } = await setup()
    net.advance(1500)
    const multicasts = net.responses().length
    net.deliver!(legacyQuery(0x4242), { address: '192.0.2.61', port: 40_001 })
    const [u] = net.responses({ unicast: true })
    expect(u!.to).toEqual({ address: '192.0.2.61', port: 40_001 })
    expect(u!.msg.id).toBe(0x4242)
    expect(u!.msg.questions.map((q) => q.name)).toEqual([SERVICE_NAME])
    for (const r of [...u!.msg.answers, ...u!.msg.additionals]) {
      expect(r.ttl).toBeLessThanOrEqual(10)
      expect(r.cacheFlush).toBe(false)
    }
    expect(parseQuery(u!.msg)).toBeUndefined() // QR set: no one takes it for a query
    net.advance(1000)
    expect(net.responses().length).toBe(multicasts + 1)
  })

  test('known-answer suppression (RFC 6762 §7.1): a query listing our PTR with at least half our TTL left is not answered', async () => {
    const { net, api } = await setup()
    net.advance(2500)
    const ours = net.responses()[0]!.msg.answers[0]!
    expect(ours.type).toBe('PTR')
    const withKnown = (ttl: number): Uint8Array => encodeDnsMessage({ id: 0, flags: 0, questions: [{ name: SERVICE_NAME, type: TYPE.PTR, class: 1, unicastResponse: false }], answers: [{ ...ours, ttl }], authorities: [], additionals: [] })
    const before = net.responses().length
    net.deliver!(withKnown(180)) // half of 360: known
    net.advance(1000)
    expect(net.responses().length).toBe(before)
    expect(api.stats().knownAnswers).toBe(1)
    net.deliver!(withKnown(179)) // under half: answered
    net.advance(1000)
    expect(net.responses().length).toBe(before + 1)
  })

  test('maxUnicastAnswers: at the limit all are answered, past it the rest are dropped and counted', async () => {
    const { net, api } = await setup({ maxUnicastAnswers: 2 })
    for (let i = 0; i < 2; i++) net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    expect(net.responses({ unicast: true }).length).toBe(2)
    net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    expect(net.responses({ unicast: true }).length).toBe(2)
    expect(api.stats().unicastDropped).toBe(1)
    net.advance(1000)
    net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    expect(net.responses({ unicast: true }).length).toBe(3)
  })

  test('ipv6: on by default (AAAA from IPv6 interface addresses); ipv6: false asks the socket for IPv4 only', async () => {
    const { net } = await setup()
    expect(net.openedWith).toEqual({ ipv6: true })
    net.ips = ['192.0.2.7', '2001:db8::7']
    net.advance(1000) // second announcement
    const m = net.responses().at(-1)!.msg
    expect(m.additionals.filter((r) => r.type === 'AAAA').length).toBe(1)
    const off = await setup({ ipv6: false })
    expect(off.net.openedWith).toEqual({ ipv6: false })
  })
})

describe('discovery and expiry', () => {
  test('a response: one event (refreshes are not events), addresses in the peer store, listed in discovered()', async () => {
    const { node, net, api } = await setup()
    const seen = listen(node)
    const peer = otherPeer()
    for (let i = 0; i < 3; i++) for (const p of responseOf(peer, ['/ip4/192.0.2.9/tcp/4001'])) net.deliver!(p)
    expect(seen).toEqual([{ peer: peer.toString(), addrs: ['/ip4/192.0.2.9/tcp/4001'] }])
    expect(node.peerStore.get(peer)?.addrs.map(String)).toContain('/ip4/192.0.2.9/tcp/4001')
    expect(api.discovered().map((e) => e.peer.toString())).toEqual([peer.toString()])
    for (const p of responseOf(peer, ['/ip4/192.0.2.9/tcp/4001', '/ip4/192.0.2.9/tcp/4002'])) net.deliver!(p)
    expect(seen.length).toBe(2) // a new address is a new discovery
  })

  test('TTL: expires when not refreshed in time (event, gone from discovered()); a refresh moves the expiry; rediscovery is an event again', async () => {
    const { node, net, api } = await setup()
    const seen = listen(node)
    const gone = expiries(api)
    const peer = otherPeer()
    const send = (): void => { for (const p of responseOf(peer, ['/ip4/192.0.2.9/tcp/4001'], 5)) net.deliver!(p) }
    send()
    net.advance(4000)
    send() // refresh at 4 s: now expires at 9 s
    net.advance(4999)
    expect(gone).toEqual([])
    net.advance(1)
    expect(gone.map((e) => [e.peer.toString(), e.addrs.map(String), e.gone, e.reason])).toEqual([[peer.toString(), ['/ip4/192.0.2.9/tcp/4001'], true, 'ttl']])
    expect(api.discovered()).toEqual([])
    send()
    expect(seen.length).toBe(2)
    expect(api.stats().expired).toBe(1)
  })

  test('a goodbye (TTL 0) expires the peer at once', async () => {
    const { net, api } = await setup()
    const gone = expiries(api)
    const peer = otherPeer()
    for (const p of responseOf(peer, ['/ip4/192.0.2.9/tcp/4001'])) net.deliver!(p)
    for (const p of responseOf(peer, ['/ip4/192.0.2.9/tcp/4001'], 0)) net.deliver!(p)
    expect(gone.map((e) => [e.peer.toString(), e.reason, e.gone])).toEqual([[peer.toString(), 'goodbye', true]])
    expect(api.discovered()).toEqual([])
    expect(api.stats().goodbyes).toBe(1)
  })

  test('stop sends a goodbye: our records with TTL 0 and the addresses we announced; then closes the socket and every timer', async () => {
    const { node, net } = await setup()
    const announced = parseResponse(net.responses()[0]!.msg)[0]!
    await node.stop()
    nodes.length = 0
    const bye = parseResponse(net.responses().at(-1)!.msg)
    expect(bye.map((p) => [p.peer.toString(), p.ttl])).toEqual([[node.peerId.toString(), 0]])
    expect(bye[0]!.addrs.map(String)).toEqual(announced.addrs.map(String))
    expect(net.closed).toBe(true)
    expect(net.timers).toEqual([])
  })

  test('maxTtl: a TTL of maxTtl is honoured; maxTtl + 1 and a huge TTL expire after maxTtl', async () => {
    const { net, api } = await setup({ maxTtl: 10 })
    const gone = expiries(api)
    for (const [i, ttl] of [10, 11, 0xffff_ffff].entries()) for (const p of responseOf(otherPeer(), ['/ip4/192.0.2.9/tcp/4001'], ttl, peerNameFromBytes(new Uint8Array(32).fill(i)))) net.deliver!(p)
    expect(api.discovered().length).toBe(3)
    net.advance(9_999)
    expect(gone.length).toBe(0)
    net.advance(1)
    expect(gone.length).toBe(3)
  })
})

describe('address hygiene and bounds', () => {
  test('loopback and link-local addresses are dropped, unless the packet came over loopback', async () => {
    const { node, net } = await setup()
    const seen = listen(node)
    const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/169.254.3.3/tcp/4001', '/ip4/192.0.2.9/tcp/4001', '/ip6/fe80::1/tcp/4001', '/ip6/::1/tcp/4001', '/ip4/0.0.0.0/tcp/1']
    const a = otherPeer()
    for (const p of responseOf(a, addrs)) net.deliver!(p)
    expect(seen[0]!.addrs).toEqual(['/ip4/192.0.2.9/tcp/4001'])
    const b = otherPeer()
    for (const p of responseOf(b, ['/ip4/127.0.0.1/tcp/1'])) net.deliver!(p)
    expect(seen.length).toBe(1) // only loopback: nothing
    for (const p of responseOf(b, ['/ip4/127.0.0.1/tcp/1', '/ip4/0.0.0.0/tcp/2'])) net.deliver!(p, { address: '127.0.0.1', port: 5353 })
    expect(seen[1]).toEqual({ peer: b.toString(), addrs: ['/ip4/127.0.0.1/tcp/1'] })
  })

  test('a TXT address naming another peer than the others is dropped', async () => {
    const { node, net } = await setup()
    const seen = listen(node)
    const a = otherPeer()
    const b = otherPeer()
    const packet = encodeDnsMessage({
      id: 0, flags: 0x8400, questions: [], authorities: [],
      answers: [{ name: SERVICE_NAME, type: 'PTR', class: 1, cacheFlush: false, ttl: 120, target: `${NAME}.${SERVICE_NAME}` }],
      additionals: [{ name: `${NAME}.${SERVICE_NAME}`, type: 'TXT', class: 1, cacheFlush: true, ttl: 120, strings: [`dnsaddr=/ip4/192.0.2.9/tcp/1/p2p/${a}`, `dnsaddr=/ip4/192.0.2.66/tcp/1/p2p/${b}`].map((s) => new TextEncoder().encode(s)) }],
    })
    net.deliver!(packet)
    expect(seen).toEqual([{ peer: a.toString(), addrs: ['/ip4/192.0.2.9/tcp/1'] }])
  })

  test('maxPeers: at the limit every peer is kept; past it the next is refused until one expires', async () => {
    const { node, net, api } = await setup({ maxPeers: 2 })
    const seen = listen(node)
    const peers = [otherPeer(), otherPeer(), otherPeer()]
    peers.slice(0, 2).forEach((p, i) => { for (const x of responseOf(p, ['/ip4/192.0.2.9/tcp/1'], 5, peerNameFromBytes(new Uint8Array(32).fill(i)))) net.deliver!(x) })
    expect(api.discovered().length).toBe(2)
    net.advance(2000)
    for (const x of responseOf(peers[2]!, ['/ip4/192.0.2.9/tcp/1'], 120)) net.deliver!(x)
    expect(api.discovered().length).toBe(2)
    expect(api.stats().peersRefused).toBe(1)
    expect(seen.length).toBe(2)
    net.advance(3000) // the first two expire
    for (const x of responseOf(peers[2]!, ['/ip4/192.0.2.9/tcp/1'], 120)) net.deliver!(x)
    expect(api.discovered().map((e) => e.peer.toString())).toEqual([peers[2]!.toString()])
  })

  test('maxAddrsPerPeer: at the limit all are kept, past it the rest are not', async () => {
    const { net, api } = await setup({ maxAddrsPerPeer: 2 })
    const p = otherPeer()
    for (const x of responseOf(p, ['/ip4/192.0.2.9/tcp/1', '/ip4/192.0.2.9/tcp/2'])) net.deliver!(x)
    expect(api.discovered()[0]!.addrs.length).toBe(2)
    for (const x of responseOf(p, ['/ip4/192.0.2.9/tcp/1', '/ip4/192.0.2.9/tcp/2', '/ip4/192.0.2.9/tcp/3'])) net.deliver!(x)
    expect(api.discovered()[0]!.addrs.map(String)).toEqual(['/ip4/192.0.2.9/tcp/1', '/ip4/192.0.2.9/tcp/2'])
  })

  test('garbage through the service (random bytes and mutated valid packets): never throws, counted, state bounded, still answers', async () => {
    const { net, api } = await setup({ maxPeers: 8 })
    let seed = 12345
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff
    const valid = [buildQuery(), qu(), ...responseOf(otherPeer(), ['/ip4/192.0.2.9/tcp/1', '/ip4/127.0.0.1/tcp/2'])]
    let n = 0
    for (let i = 0; i < 3000; i++) {
      let g: Uint8Array
      if (i % 2 === 0) g = Uint8Array.from({ length: rnd() * 4 }, rnd)
      else {
        g = valid[i % valid.length]!.slice()
        for (let k = 0; k < 1 + (rnd() % 4); k++) g[rnd() * 8 % g.length] = rnd()
      }
      expect(() => net.deliver!(g, { address: `192.0.2.${rnd()}`, port: rnd() < 128 ? 5353 : 40000 + rnd() })).not.toThrow()
      n++
      if (i % 100 === 0) net.advance(500)
    }
    const s = api.stats()
    expect(s.received).toBe(n)
    expect(s.malformed).toBeGreaterThan(0)
    expect(api.discovered().length).toBeLessThanOrEqual(8)
    net.advance(2000)
    const before = net.responses().length
    net.deliver!(buildQuery())
    net.advance(1000)
    expect(net.responses().length).toBeGreaterThan(before)
  })

  test('serviceName: queries and answers that service only; responses of the default service are not ours', async () => {
    const { node, net } = await setup({ serviceName: '_myapp._udp.local' })
    const seen = listen(node)
    expect(decodeDnsMessage(net.queries()[0]!.packet).questions[0]!.name).toBe('_myapp._udp.local')
    net.advance(2500)
    const before = net.responses().length
    net.deliver!(buildQuery()) // _p2p._udp.local: not ours
    net.deliver!(buildQuery('_myapp._udp.local'))
    expect(net.responses().length).toBe(before + 1)
    expect(parseResponse(net.responses().at(-1)!.msg, { serviceName: '_myapp._udp.local' }).length).toBe(1)
    for (const p of responseOf(otherPeer(), ['/ip4/192.0.2.9/tcp/1'])) net.deliver!(p)
    expect(seen).toEqual([])
    const peer = otherPeer()
    for (const p of buildResponse({ peerId: peer, peerName: NAME, addrs: [ma('/ip4/192.0.2.9/tcp/1')], serviceName: '_myapp._udp.local' })) net.deliver!(p)
    expect(seen.map((x) => x.peer)).toEqual([peer.toString()])
  })

  test('options are checked', () => {
    const socket = new FakeNet().factory
    expect(() => mdns({ socket, interval: 0 })).toThrow(RangeError)
    expect(() => mdns({ socket, ttl: 1.5 })).toThrow(RangeError)
    expect(() => mdns({ socket, maxPeers: 0 })).toThrow(RangeError)
    expect(() => mdns({ socket, maxAddrsPerPeer: -1 })).toThrow(RangeError)
    expect(() => mdns({ socket, maxTtl: 0.5 })).toThrow(RangeError)
    expect(() => mdns({ socket, maxUnicastAnswers: 0 })).toThrow(RangeError)
    expect(() => mdns({ socket, serviceName: 'p2p.local' })).toThrow(RangeError)
  })
})

describe('metrics', () => {
  test('weft_mdns_* families count packets, discoveries, expiries and limit drops; the gauge reads the live peers', async () => {
    const { net } = await setup({ maxUnicastAnswers: 1 }, {}, { metrics: prometheusMetrics() })
    const node = nodes.at(-1)!
    net.deliver!(new Uint8Array([1, 2, 3]))
    net.deliver!(buildQuery())
    net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    net.deliver!(qu(), { address: '192.0.2.60', port: 5353 })
    const p = otherPeer()
    for (const x of responseOf(p, ['/ip4/192.0.2.9/tcp/1'], 5)) net.deliver!(x)
    let text = node.metrics!.exposition()
    const value = (series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    expect(value('weft_mdns_packets_received_total{outcome="malformed"}')).toBe(1)
    expect(value('weft_mdns_packets_received_total{outcome="query"}')).toBe(3)
    expect(value('weft_mdns_packets_received_total{outcome="response"}')).toBe(1)
    expect(value('weft_mdns_packets_sent_total{type="query"}')).toBe(1)
    expect(value('weft_mdns_packets_sent_total{type="unicast"}')).toBe(1)
    expect(value('weft_mdns_dropped_total{reason="unicast-limit"}')).toBe(1)
    expect(value('weft_mdns_peers_discovered_total')).toBe(1)
    expect(value('weft_mdns_peers')).toBe(1)
    net.advance(5000)
    text = node.metrics!.exposition()
    expect(value('weft_mdns_peers_expired_total{reason="ttl"}')).toBe(1)
    expect(value('weft_mdns_peers')).toBe(0)
    expect(value('weft_mdns_packets_sent_total{type="response"}')).toBeGreaterThanOrEqual(2)
  })
})
