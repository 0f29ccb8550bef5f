/** Per-IP limits (src/swarm/ip-limits.ts): concurrency per prefix, rate buckets, pending-inbound fairness. */
import { describe, expect, test } from 'vitest'
import { Multiaddr } from '../src/multiaddr/index.js'
import { DEFAULT_IP_LIMITS, IpLimits, ipOf, prefixText } from '../src/swarm/ip-limits.js'
import { SwarmPolicy } from '../src/swarm/policy.js'
import { createGuards } from '../src/swarm/guards.js'

const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const v4 = (ip: string, port = 1000): Multiaddr => ma(`/ip4/${ip}/tcp/${port}`)
const v6 = (ip: string, port = 1000): Multiaddr => ma(`/ip6/${ip}/tcp/${port}`)
/** Rate limits off, to test concurrency alone. */
const NO_RATE = { inboundRatePerIp4: { perSecond: Infinity, burst: 1 }, inboundRatePerIp6Net56: { perSecond: Infinity, burst: 1 }, inboundRatePerIp6Net48: { perSecond: Infinity, burst: 1 } }

describe('defaults', () => {
  test('go-libp2p rcmgr parity', () => {
    expect(DEFAULT_IP_LIMITS.maxInboundPerIp4).toBe(8)
    expect(DEFAULT_IP_LIMITS.maxInboundPerIp6Net56).toBe(8)
    expect(DEFAULT_IP_LIMITS.maxInboundPerIp6Net48).toBe(64)
    expect(DEFAULT_IP_LIMITS.inboundRatePerIp4).toEqual({ perSecond: 0.2, burst: 16 })
    expect(DEFAULT_IP_LIMITS.inboundRatePerIp6Net56).toEqual({ perSecond: 0.2, burst: 16 })
    expect(DEFAULT_IP_LIMITS.inboundRatePerIp6Net48).toEqual({ perSecond: 0.5, burst: 80 })
    expect(DEFAULT_IP_LIMITS.exemptLoopback).toBe(true)
  })

  test('bad options are RangeErrors', () => {
    expect(() => new IpLimits({ maxInboundPerIp4: 0 })).toThrow(RangeError)
    expect(() => new IpLimits({ inboundRatePerIp4: { perSecond: 0, burst: 1 } })).toThrow(RangeError)
    expect(() => new IpLimits({}, 0)).toThrow(RangeError)
  })
})

describe('ip helpers', () => {
  test('ipOf unmaps IPv4-mapped IPv6 and skips a zone', () => {
    expect(ipOf(v6('::ffff:1.2.3.4'))).toEqual({ family: 4, bytes: Uint8Array.of(1, 2, 3, 4) })
    expect(ipOf(ma('/ip6zone/eth0/ip6/fe80::1/tcp/1'))?.family).toBe(6)
    expect(ipOf(ma('/dns4/example.com/tcp/1'))).toBeUndefined()
    expect(ipOf(ma('/memory/7'))).toBeUndefined()
  })

  test('prefixText masks', () => {
    expect(prefixText(ipOf(v6('2001:db8:1:2ff::7'))!, 56)).toBe('2001:db8:1:200::/56')
    expect(prefixText(ipOf(v6('2001:db8:1:2ff::7'))!, 48)).toBe('2001:db8:1::/48')
    expect(prefixText(ipOf(v4('1.2.3.4'))!, 32)).toBe('1.2.3.4/32')
  })
})

describe('concurrent inbound connections per prefix', () => {
  test('IPv4 /32: 8 at the limit, the 9th refused before Noise; a close frees a slot; another /32 unaffected', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 1; i <= 8; i++) expect(l.admitInbound(0, i, v4('1.2.3.4', i))).toBeUndefined()
    expect(l.admitInbound(0, 9, v4('1.2.3.4', 9))).toMatchObject({ code: 'limits/per-ip', prefix: '1.2.3.4/32' })
    expect(l.admitInbound(0, 10, v4('1.2.3.5'))).toBeUndefined()
    // established connections still count (from accept until close)
    l.established(1)
    expect(l.admitInbound(0, 11, v4('1.2.3.4'))).toMatchObject({ code: 'limits/per-ip' })
    l.removed(1)
    expect(l.admitInbound(0, 12, v4('1.2.3.4'))).toBeUndefined()
    expect(l.count('1.2.3.4/32')).toBe(8)
  })

  test('relayed connections are not counted under their relay\'s IP (a circuit address names the relay)', () => {
    const l = new IpLimits({ inboundRatePerIp4: { perSecond: 0.001, burst: 2 } })
    const relayed = ma('/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit')
    for (let i = 1; i <= 20; i++) expect(l.admitInbound(0, i, relayed)).toBeUndefined()
    expect(l.count('1.2.3.4/32')).toBe(0)
    // the relay's own direct connections still are
    expect(l.admitInbound(0, 100, v4('1.2.3.4'))).toBeUndefined()
    expect(l.admitInbound(0, 101, v4('1.2.3.4'))).toBeUndefined()
    expect(l.admitInbound(0, 102, v4('1.2.3.4'))).toMatchObject({ code: 'limits/rate' })
  })

  test('IPv6 /56: 8 at the limit, the 9th from another address of the same /56 refused', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 1; i <= 8; i++) expect(l.admitInbound(0, i, v6(`2001:db8:0:1${i}::1`))).toBeUndefined()
    expect(l.admitInbound(0, 9, v6('2001:db8:0:ff::9'))).toMatchObject({ code: 'limits/per-ip', prefix: '2001:db8::/56' })
    expect(l.admitInbound(0, 10, v6('2001:db8:0:100::1'))).toBeUndefined() // the next /56
  })

  test('IPv6 /48: 64 at the limit over many /56s, the 65th refused', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 0; i < 64; i++) expect(l.admitInbound(0, i + 1, v6(`2001:db8:7:${(i * 256).toString(16)}::1`))).toBeUndefined()
    expect(l.admitInbound(0, 100, v6('2001:db8:7:ff00::1'))).toMatchObject({ code: 'limits/per-ip', prefix: '2001:db8:7::/48' })
    expect(l.admitInbound(0, 101, v6('2001:db8:8::1'))).toBeUndefined()
  })

  test('loopback is exempt by default, not when exemptLoopback is false', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 1; i <= 20; i++) expect(l.admitInbound(0, i, v4('127.0.0.1', i))).toBeUndefined()
    const strict = new IpLimits({ ...NO_RATE, exemptLoopback: false })
    for (let i = 1; i <= 8; i++) expect(strict.admitInbound(0, i, v6('::1', i))).toBeUndefined()
    expect(strict.admitInbound(0, 9, v6('::1'))).toMatchObject({ code: 'limits/per-ip' })
  })

  test('an exempt (allow-listed) connection skips the limits; exempt(id) stops counting an admitted one', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 1; i <= 8; i++) l.admitInbound(0, i, v4('1.2.3.4'))
    expect(l.admitInbound(0, 9, v4('1.2.3.4'), true)).toBeUndefined()
    l.exempt(1)
    expect(l.admitInbound(0, 10, v4('1.2.3.4'))).toBeUndefined()
    l.removed(1) // counted no more: removing it frees nothing twice
    expect(l.admitInbound(0, 11, v4('1.2.3.4'))).toMatchObject({ code: 'limits/per-ip' })
  })

  test('addresses without an IP are not limited per IP', () => {
    const l = new IpLimits(NO_RATE)
    for (let i = 1; i <= 20; i++) expect(l.admitInbound(0, i, ma('/memory/7'))).toBeUndefined()
  })
})

describe('inbound rate per prefix (token buckets)', () => {
  test('IPv4 /32: burst 16 at the limit, the 17th refused; one token back after 5 s (0.2/s)', () => {
    const l = new IpLimits()
    for (let i = 1; i <= 16; i++) {
      expect(l.admitInbound(0, i, v4('1.2.3.4'))).toBeUndefined()
      l.removed(i) // churn: connect and close, so concurrency never binds
    }
    expect(l.admitInbound(0, 17, v4('1.2.3.4'))).toMatchObject({ code: 'limits/rate', prefix: '1.2.3.4/32' })
    expect(l.admitInbound(4_999, 18, v4('1.2.3.4'))).toMatchObject({ code: 'limits/rate' })
    expect(l.admitInbound(5_000, 19, v4('1.2.3.4'))).toBeUndefined()
    l.removed(19)
    expect(l.admitInbound(5_000, 20, v4('1.2.3.4'))).toMatchObject({ code: 'limits/rate' })
    expect(l.admitInbound(0, 21, v4('1.2.3.5'))).toBeUndefined() // another /32 has its own bucket
  })

  test('IPv6 /56: burst 16, the 17th refused', () => {
    const l = new IpLimits()
    for (let i = 1; i <= 16; i++) {
      expect(l.admitInbound(0, i, v6(`2001:db8:0:1::${i}`))).toBeUndefined()
      l.removed(i)
    }
    expect(l.admitInbound(0, 17, v6('2001:db8:0:1::99'))).toMatchObject({ code: 'limits/rate', prefix: '2001:db8::/56' })
  })

  test('IPv6 /48: burst 80 over many /56s, the 81st refused; 0.5/s refill', () => {
    const l = new IpLimits()
    for (let i = 0; i < 80; i++) {
      expect(l.admitInbound(0, i + 1, v6(`2001:db8:9:${(i * 256).toString(16)}::1`))).toBeUndefined()
      l.removed(i + 1)
    }
    expect(l.admitInbound(0, 100, v6('2001:db8:9:ff00::1'))).toMatchObject({ code: 'limits/rate', prefix: '2001:db8:9::/48' })
    expect(l.admitInbound(2_000, 101, v6('2001:db8:9:ff00::1'))).toBeUndefined()
  })

  test('a refused connection takes no token', () => {
    const l = new IpLimits({ maxInboundPerIp4: 1 })
    expect(l.admitInbound(0, 1, v4('1.2.3.4'))).toBeUndefined()
    for (let i = 2; i < 50; i++) expect(l.admitInbound(0, i, v4('1.2.3.4'))).toMatchObject({ code: 'limits/per-ip' })
    l.removed(1)
    expect(l.admitInbound(0, 60, v4('1.2.3.4'))).toBeUndefined() // 14 tokens left, not 0
  })

  test('loopback is exempt from the rate limit', () => {
    const l = new IpLimits()
    for (let i = 1; i <= 100; i++) {
      expect(l.admitInbound(0, i, v4('127.0.0.1'))).toBeUndefined()
      l.removed(i)
    }
  })

  test('maxTrackedPrefixes bounds the bucket table (least recently used dropped): at the bound and one past it', () => {
    const l = new IpLimits({ maxTrackedPrefixes: 4 })
    for (let i = 1; i <= 4; i++) { l.admitInbound(0, i, v4(`9.0.0.${i}`)); l.removed(i) }
    expect(l.stats().buckets).toBe(4)
    l.admitInbound(0, 5, v4('9.0.0.5'))
    expect(l.stats().buckets).toBe(4)
  })

  test('the sweep drops buckets that refilled to full, keeps the others, and stops when none are left', () => {
    const l = new IpLimits()
    l.admitInbound(0, 1, v4('1.1.1.1'))
    expect(l.pollTimeout()).toBe(60_000)
    l.handleTimeout(60_000) // 1 token spent, 0.2/s refills it in 5 s: full again
    expect(l.stats().buckets).toBe(0)
    expect(l.pollTimeout()).toBeUndefined()
    for (let i = 2; i <= 17; i++) { l.admitInbound(70_000, i, v4('2.2.2.2')); l.removed(i) }
    l.handleTimeout(130_000) // 16 spent at 70 s; 12 back by 130 s: kept
    expect(l.stats().buckets).toBe(1)
    expect(l.pollTimeout()).toBe(190_000)
    l.handleTimeout(190_000)
    expect(l.stats().buckets).toBe(0)
  })
})

describe('pending-inbound fairness', () => {
  test('slots full of one address: a newcomer from another address evicts that address\'s oldest pending connection', () => {
    const l = new IpLimits({}, 4)
    for (let i = 1; i <= 4; i++) expect(l.admitInbound(i, i, v4('127.0.0.2', i))).toBeUndefined()
    expect(l.admitInbound(10, 10, v4('127.0.0.1'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 1 })
    expect(l.pollEvict()).toBeUndefined()
    expect(l.isPending(1)).toBe(false)
    expect(l.stats().pending).toBe(4)
    l.removed(1) // the swarm closes it and reports it removed: nothing changes twice
    expect(l.stats().pending).toBe(4)
  })

  test('at the limit a newcomer from the heaviest address itself is refused (limits/pending-inbound)', () => {
    const l = new IpLimits({}, 4)
    for (let i = 1; i <= 4; i++) l.admitInbound(0, i, v4('127.0.0.2', i))
    expect(l.admitInbound(0, 5, v4('127.0.0.2'))).toMatchObject({ code: 'limits/pending-inbound' })
    expect(l.pollEvict()).toBeUndefined()
  })

  test('one below the limit nobody is evicted; finished handshakes free their slot', () => {
    const l = new IpLimits({}, 4)
    for (let i = 1; i <= 3; i++) l.admitInbound(0, i, v4('127.0.0.2', i))
    expect(l.admitInbound(0, 4, v4('127.0.0.2'))).toBeUndefined()
    expect(l.pollEvict()).toBeUndefined()
    l.established(1)
    expect(l.admitInbound(0, 5, v4('127.0.0.2'))).toBeUndefined()
    expect(l.pollEvict()).toBeUndefined()
  })

  test('equal holders: nobody is evicted for a newcomer holding as many; ties go to the longest-held address', () => {
    const l = new IpLimits({}, 4)
    l.admitInbound(0, 1, v4('127.0.0.2'))
    l.admitInbound(0, 2, v4('127.0.0.3'))
    l.admitInbound(0, 3, v4('127.0.0.2'))
    l.admitInbound(0, 4, v4('127.0.0.3'))
    expect(l.admitInbound(0, 5, v4('127.0.0.3'))).toMatchObject({ code: 'limits/pending-inbound' })
    expect(l.admitInbound(0, 6, v4('127.0.0.9'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 1 }) // .2 and .3 hold 2 each: the oldest slot goes
  })

  test('an honest address always gets in against many attacker addresses holding one slot each', () => {
    const l = new IpLimits({}, 8)
    for (let i = 1; i <= 8; i++) l.admitInbound(0, i, v4(`127.0.1.${i}`))
    expect(l.admitInbound(0, 9, v4('127.0.0.1'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 1 }) // the longest-held slot
  })

  test('idle pending connections (no byte yet) go before active ones, among addresses holding more than the newcomer\'s', () => {
    const l = new IpLimits({}, 4)
    for (let i = 1; i <= 3; i++) l.admitInbound(0, i, v4('10.0.0.1'))
    l.admitInbound(0, 4, v4('10.0.0.2'))
    l.progress(1)
    l.progress(2)
    expect(l.admitInbound(0, 5, v4('10.0.0.3'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 3 }) // idle, and its address is the heaviest
    l.progress(4)
    l.progress(5)
    l.progress(99) // unknown ids are ignored
    // 10.0.0.1 holds 2 (both active), .2 holds 1, .3 holds 1: a newcomer from .2 may only take from .1
    expect(l.admitInbound(0, 6, v4('10.0.0.2'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 1 })
    // an idle slot goes before an active one even from a lighter address
    const m = new IpLimits({}, 3)
    m.admitInbound(0, 1, v4('10.0.0.1'))
    m.admitInbound(0, 2, v4('10.0.0.1'))
    m.admitInbound(0, 3, v4('10.0.0.2'))
    m.progress(1)
    m.progress(2)
    expect(m.admitInbound(0, 4, v4('10.0.0.9'))).toBeUndefined()
    expect(m.pollEvict()).toMatchObject({ connection: 3 })
  })

  test('many attacker addresses churning idle sockets: an honest pending handshake that has spoken is never the victim', () => {
    const l = new IpLimits({}, 8)
    let id = 1
    for (let i = 0; i < 8; i++) l.admitInbound(0, id++, v4(`127.0.1.${i}`))
    const honest = id++
    expect(l.admitInbound(0, honest, v4('127.0.0.1'))).toBeUndefined()
    l.progress(honest)
    for (let round = 0; round < 1000; round++) {
      for (let e = l.pollEvict(); e !== undefined; e = l.pollEvict()) {
        expect(e.connection).not.toBe(honest)
        l.removed(e.connection)
      }
      l.admitInbound(0, id++, v4(`127.0.1.${round % 50}`))
    }
    expect(l.isPending(honest)).toBe(true)
  })

  test('allow-listed pending connections are never evicted; an allow-listed newcomer evicts from any other address', () => {
    const l = new IpLimits({}, 2)
    l.admitInbound(0, 1, v4('10.0.0.1'), true)
    l.admitInbound(0, 2, v4('10.0.0.2'))
    // 10.0.0.1 holds as many as 10.0.0.2 but cannot be evicted; a newcomer from 10.0.0.2 holds as many: refused
    expect(l.admitInbound(0, 3, v4('10.0.0.2'))).toMatchObject({ code: 'limits/pending-inbound' })
    expect(l.admitInbound(0, 4, v4('10.0.0.2'), true)).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 2 })
    expect(l.admitInbound(0, 5, v4('10.0.0.5'), true)).toMatchObject({ code: 'limits/pending-inbound' })
  })

  test('the measured attack in miniature: 200 idle sockets from one address, then an honest dial from another', () => {
    const l = new IpLimits({}, 64)
    let admitted = 0
    for (let i = 1; i <= 200; i++) if (l.admitInbound(i, i, v4('127.0.0.2', 40000 + i)) === undefined) admitted++
    expect(admitted).toBe(64)
    expect(l.admitInbound(300, 1000, v4('127.0.0.1'))).toBeUndefined()
    expect(l.pollEvict()).toMatchObject({ connection: 1 })
    // the attacker reconnects: refused (its address holds the most), the honest slot stays
    expect(l.admitInbound(301, 1001, v4('127.0.0.2'))).toMatchObject({ code: 'limits/pending-inbound' })
    expect(l.isPending(1000)).toBe(true)
  })
})

describe('in the swarm policy', () => {
  test('a connection the per-IP limits admitted but a later part refused is forgotten (no slot or count leaks)', () => {
    const policy = new SwarmPolicy({ guards: createGuards, maxPendingInbound: 64, resources: { system: { connsInbound: 1 } } })
    expect(policy.admitInbound(0, 1, v4('1.2.3.4'))).toBeUndefined()
    expect(policy.admitInbound(0, 2, v4('1.2.3.4'))).toMatchObject({ code: 'resource/limit-exceeded' })
    expect(policy.ipLimits!.count('1.2.3.4/32')).toBe(1)
    expect(policy.ipLimits!.stats().pending).toBe(1)
    policy.connectionRemoved(0, 1)
    expect(policy.ipLimits!.stats()).toMatchObject({ connections: 0, pending: 0, prefixes: 0 })
  })

  test('refusal codes and evictions through the policy', () => {
    const policy = new SwarmPolicy({ guards: createGuards, maxPendingInbound: 2, gater: { deny: ['9.9.9.9'] }, ipLimits: { maxInboundPerIp4: 1 } })
    expect(policy.admitInbound(0, 1, v4('9.9.9.9'))).toMatchObject({ code: 'gater/denied', wireCode: 0x1007 })
    expect(policy.admitInbound(0, 2, v4('1.1.1.1'))).toBeUndefined()
    expect(policy.admitInbound(0, 3, v4('1.1.1.1'))).toMatchObject({ code: 'limits/per-ip' })
    expect(policy.admitInbound(0, 4, v4('127.0.0.2'))).toBeUndefined()
    expect(policy.admitInbound(0, 5, v4('127.0.0.2'))).toMatchObject({ code: 'limits/pending-inbound' })
    expect(policy.admitInbound(0, 6, v4('2.2.2.2'))).toBeUndefined()
    expect(policy.pollClose()).toMatchObject({ connection: 2, code: 0x1002 })
  })
})
