// The QUIC endpoint's per-IP handshake limit over IPv6 and dual-stack sockets (src/quic/endpoint.ts
// `ipBucket`): an IPv6 host is counted by its /64 (it usually holds all of it), an IPv4-mapped
// address as its IPv4 address; and the stateless-reset budget is taken before the reset token's HMAC.
import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { QuicEndpoint, ipBucket, type QuicEndpointOptions } from '../src/quic/endpoint.js'
import { initialKeys, sealPacket } from '../src/quic/protection.js'
import { prng } from './helpers/prng.js'

const rand = prng(11)
const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))

function endpoint(o: Partial<QuicEndpointOptions> = {}): QuicEndpoint<object> {
  return new QuicEndpoint<object>({ crypto: tls, random, staticKey: random(32), retry: 'never', ...o })
}

/** A client Initial of 1200 bytes (the endpoint reads the header only). */
function initial(): Uint8Array {
  const dcid = random(8)
  return sealPacket(tls, initialKeys(tls, dcid).client, { type: 'initial', dcid, scid: random(8), token: new Uint8Array(0) }, 0, new Uint8Array([1, 0, 0, 0]), { minPacketSize: 1200 })
}

function tryAccept(ep: QuicEndpoint<object>, address: string): string {
  const r = ep.handleDatagram(0, { address, port: 4001 }, initial())
  if (r.kind === 'accept') ep.accept({}, r.incoming)
  return r.kind === 'drop' ? r.reason : r.kind
}

describe('ipBucket', () => {
  test('IPv4 as is; IPv4-mapped IPv6 as its IPv4; IPv6 by its /64 whatever the spelling; zones dropped; not an IP: itself', () => {
    expect(ipBucket('192.0.2.1')).toBe('192.0.2.1')
    expect(ipBucket('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(ipBucket('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(ipBucket('2001:DB8:0000:0:ffff::9')).toBe('2001:db8:0:0::/64')
    expect(ipBucket('2001:0db8:0:1::1')).toBe('2001:db8:0:1::/64')
    expect(ipBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(ipBucket('::1')).toBe('0:0:0:0::/64')
    expect(ipBucket('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64')
    expect(ipBucket('2001:db8::192.0.2.1')).toBe('2001:db8:0:0::/64')
    for (const bad of ['1::2::3', 'zz::1', '1:2:3', 'localhost', '12345::1']) expect(ipBucket(bad)).toBe(bad.toLowerCase())
  })
})

describe('maxHandshakesPerIp over IPv6 and dual stack', () => {
  test('addresses of one /64 share the limit: at it accepted, past it dropped; another /64 still accepted', () => {
    const ep = endpoint({ limits: { maxHandshakesPerIp: 2 } })
    expect(tryAccept(ep, '2001:db8:0:7::1')).toBe('accept')
    expect(tryAccept(ep, '2001:db8:0:7::2')).toBe('accept')
    expect(tryAccept(ep, '2001:db8:0:7:abcd::3')).toBe('ip-handshake-limit')
    expect(tryAccept(ep, '2001:db8:0:8::1')).toBe('accept')
    expect(ep.handshakesFrom('2001:db8:0:7::99')).toBe(2)
  })

  test('an IPv4-mapped address counts with its IPv4 address (one host on a dual-stack socket)', () => {
    const ep = endpoint({ limits: { maxHandshakesPerIp: 1 } })
    expect(tryAccept(ep, '::ffff:198.51.100.4')).toBe('accept')
    expect(tryAccept(ep, '198.51.100.4')).toBe('ip-handshake-limit')
    expect(tryAccept(ep, '198.51.100.5')).toBe('accept')
  })

  test('the per-IP counters are freed with their connections', () => {
    const ep = endpoint({ limits: { maxHandshakesPerIp: 1 } })
    const h = {}
    const r = ep.handleDatagram(0, { address: '2001:db8::1', port: 1 }, initial())
    expect(r.kind).toBe('accept')
    if (r.kind === 'accept') ep.accept(h, r.incoming)
    expect(tryAccept(ep, '2001:db8::2')).toBe('ip-handshake-limit')
    ep.remove(h)
    expect(ep.routingEntries).toEqual({ connectionIds: 0, resetTokens: 0, ips: 0 })
    expect(tryAccept(ep, '2001:db8::2')).toBe('accept')
  })
})

describe('stateless resets', () => {
  test('past the budget no reset token is computed (the HMAC is skipped); tiny triggers never cost one', () => {
    let hmacs = 0
    const counting = { ...tls, base: { ...tls.base, hmacSha256: (k: Uint8Array, d: Uint8Array) => { hmacs++; return tls.base.hmacSha256(k, d) } } }
    const ep = new QuicEndpoint<object>({ crypto: counting, random, staticKey: random(32), limits: { statelessResetsPerSecond: 2 } })
    const before = hmacs
    const short = (n: number): Uint8Array => { const d = random(n); d[0] = 0x40; return d }
    expect(ep.handleDatagram(0, { address: '192.0.2.1', port: 1 }, short(10))).toEqual({ kind: 'drop', reason: 'too-small-to-reset' })
    expect(hmacs).toBe(before)
    expect(ep.handleDatagram(0, { address: '192.0.2.1', port: 1 }, short(60)).kind).toBe('respond')
    expect(ep.handleDatagram(0, { address: '192.0.2.1', port: 1 }, short(60)).kind).toBe('respond')
    expect(hmacs).toBe(before + 2)
    expect(ep.handleDatagram(0, { address: '192.0.2.1', port: 1 }, short(60))).toEqual({ kind: 'drop', reason: 'reset-rate-limit' })
    expect(hmacs).toBe(before + 2)
  })
})
