/** The connection gater (src/swarm/gater.ts): entry parsing, the three checks, allow-list exemption, bounds. */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { UsageError } from '../src/core/errors.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { Gater, formatGaterEntry, parseGaterEntry } from '../src/swarm/gater.js'

const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const P1 = generatePrivateKey(nodeCrypto).publicKey.toPeerId()
const P2 = generatePrivateKey(nodeCrypto).publicKey.toPeerId()

describe('parseGaterEntry', () => {
  test.each([
    ['1.2.3.4', '1.2.3.4'],
    ['/ip4/1.2.3.4', '1.2.3.4'],
    ['1.2.3.4/32', '1.2.3.4'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['/ip4/10.9.9.9/ipcidr/16', '10.9.0.0/16'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::1', '2001:db8::1'],
    ['/ip6/2001:DB8::1', '2001:db8::1'],
    ['2001:db8:abcd:12ff::/56', '2001:db8:abcd:1200::/56'],
    ['::ffff:1.2.3.0/120', '1.2.3.0/24'],
    ['/ip4/1.2.3.4/tcp/4001', '/ip4/1.2.3.4/tcp/4001'],
    ['/dns4/example.com', '/dns4/example.com'],
  ])('%s -> %s', (text, canonical) => {
    expect(formatGaterEntry(parseGaterEntry(text))).toBe(canonical)
  })

  test('peer ids: base58, CID, /p2p', () => {
    for (const t of [P1.toString(), P1.toCID(), `/p2p/${P1.toString()}`]) expect(parseGaterEntry(t)).toEqual({ kind: 'peer', peer: P1.toString() })
    expect(formatGaterEntry(parseGaterEntry(`/ip4/1.2.3.4/tcp/1/p2p/${P1.toString()}`))).toBe(`/ip4/1.2.3.4/tcp/1/p2p/${P1.toString()}`)
  })

  test.each(['', '  ', '1.2.3', '1.2.3.4/33', '1.2.3.4/x', '1.2.3.4/08', '2001:db8::/129', 'example.com', '/ip4/1.2.3.999', '/ip4/1.2.3.4/ipcidr/40',
    '/ip4/1.2.3.4/tcp/1/ipcidr/8', 'Qmnotapeer', '/tcp/x'])('bad entry %j: UsageError gater/invalid-entry', (text) => {
    let err: unknown
    try { parseGaterEntry(text) } catch (e) { err = e }
    expect(err).toBeInstanceOf(UsageError)
    expect((err as UsageError).code).toBe('gater/invalid-entry')
  })
})

describe('checks', () => {
  test('allowAccept: IP, CIDR (v4, v6, mapped) and address-prefix denials, before Noise', () => {
    const g = new Gater({ deny: ['1.2.3.4', '10.0.0.0/8', '2001:db8::/32', '/ip4/5.5.5.5/tcp/4001'] })
    expect(g.allowAccept(ma('/ip4/1.2.3.4/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip4/1.2.3.5/tcp/1'))).toBe(true)
    expect(g.allowAccept(ma('/ip4/10.200.0.1/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip6/::ffff:10.0.0.1/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip6/2001:db8:ffff::1/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip6/2001:db9::1/tcp/1'))).toBe(true)
    expect(g.allowAccept(ma('/ip4/5.5.5.5/tcp/4001'))).toBe(false)
    expect(g.allowAccept(ma('/ip4/5.5.5.5/tcp/4002'))).toBe(true)
    expect(g.allowAccept(ma('/memory/7'))).toBe(true)
  })

  test('allowPeer: peer entries and address+peer entries, after Noise', () => {
    const g = new Gater({ deny: [P1.toString(), `/ip4/9.9.9.9/p2p/${P2.toString()}`] })
    expect(g.allowAccept(ma('/ip4/9.9.9.9/tcp/1'))).toBe(true) // a peer-bound entry cannot decide before Noise
    expect(g.allowPeer(P1)).toBe(false)
    expect(g.allowPeer(P2, ma('/ip4/9.9.9.9/tcp/1'))).toBe(false)
    expect(g.allowPeer(P2, ma('/ip4/9.9.9.8/tcp/1'))).toBe(true)
    expect(g.allowPeer(P2)).toBe(true)
  })

  test('allowDial: the peer of the dial, the /p2p of the address, the address itself', () => {
    const g = new Gater({ deny: [P1.toString(), '192.168.0.0/16', '/dns4/bad.example'] })
    expect(g.allowDial(P1, ma('/ip4/1.1.1.1/tcp/1'))).toBe(false)
    expect(g.allowDial(undefined, ma(`/ip4/1.1.1.1/tcp/1/p2p/${P1.toString()}`))).toBe(false)
    expect(g.allowDial(P2, ma('/ip4/192.168.1.1/tcp/1'))).toBe(false)
    expect(g.allowDial(P2, ma('/dns4/bad.example/tcp/443/wss'))).toBe(false)
    expect(g.allowDial(P2, ma('/ip4/1.1.1.1/tcp/1'))).toBe(true)
  })

  test('deny wins over allow; allow exempts (isAllowlisted) but does not restrict', () => {
    const g = new Gater({ allow: ['10.0.0.0/8', P2.toString()], deny: ['10.0.0.66'] })
    expect(g.isAllowlisted(ma('/ip4/10.1.1.1/tcp/1'))).toBe(true)
    expect(g.isAllowlisted(ma('/ip4/10.0.0.66/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip4/10.0.0.66/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip4/11.0.0.1/tcp/1'))).toBe(true)
    expect(g.isAllowlisted(ma('/ip4/11.0.0.1/tcp/1'))).toBe(false)
    expect(g.isAllowlisted(ma('/ip4/11.0.0.1/tcp/1'), P2)).toBe(true)
    g.deny(P2.toString())
    expect(g.isAllowlisted(ma('/ip4/11.0.0.1/tcp/1'), P2)).toBe(false)
  })
})

describe('runtime edits and bounds', () => {
  test('deny, allow, remove (one list or both), list in canonical text, idempotent', () => {
    const g = new Gater()
    expect(g.deny('/ip4/1.2.3.4')).toBe('1.2.3.4')
    expect(g.deny('1.2.3.4/32')).toBe('1.2.3.4')
    g.allow('1.2.3.4')
    expect(g.list()).toEqual({ allow: ['1.2.3.4'], deny: ['1.2.3.4'] })
    expect(g.allowAccept(ma('/ip4/1.2.3.4/tcp/1'))).toBe(false)
    expect(g.remove('1.2.3.4', 'deny')).toBe(true)
    expect(g.allowAccept(ma('/ip4/1.2.3.4/tcp/1'))).toBe(true)
    expect(g.list()).toEqual({ allow: ['1.2.3.4'], deny: [] })
    g.deny('1.2.3.4')
    expect(g.remove('/ip4/1.2.3.4')).toBe(true)
    expect(g.list()).toEqual({ allow: [], deny: [] })
    expect(g.remove('1.2.3.4')).toBe(false)
    g.deny('10.0.0.0/8')
    g.remove('10.0.0.0/8')
    expect(g.allowAccept(ma('/ip4/10.0.0.1/tcp/1'))).toBe(true)
  })

  test('maxEntries per list: at the limit, and one past it is UsageError gater/too-many-entries', () => {
    const g = new Gater({ maxEntries: 3 })
    for (let i = 1; i <= 3; i++) g.deny(`1.0.0.${i}`)
    g.deny('1.0.0.3') // already there: not an addition
    expect(() => g.deny('1.0.0.4')).toThrow(expect.objectContaining({ name: 'UsageError', code: 'gater/too-many-entries' }))
    g.allow('1.0.0.4') // the other list has its own bound
    g.remove('1.0.0.1')
    g.deny('1.0.0.4')
    expect(g.allowAccept(ma('/ip4/1.0.0.4/tcp/1'))).toBe(false)
  })

  test('constructor lists are validated', () => {
    expect(() => new Gater({ deny: ['nonsense'] })).toThrow(UsageError)
    expect(() => new Gater({ maxEntries: -1 })).toThrow(RangeError)
  })
})

describe('CIDR matching against a bit-by-bit model', () => {
  const bit = (b: Uint8Array, i: number): number => (b[i >> 3]! >> (7 - (i & 7))) & 1
  const inRange = (ip: Uint8Array, net: Uint8Array, bits: number): boolean => Array.from({ length: bits }, (_, i) => i).every((i) => bit(ip, i) === bit(net, i))
  const text4 = (b: Uint8Array): string => Array.from(b).join('.')
  const text6 = (b: Uint8Array): string => Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':')

  test('IPv4', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), (ip, net, bits) => {
      const g = new Gater({ deny: [`${text4(net)}/${bits}`] })
      expect(g.allowAccept(ma(`/ip4/${text4(ip)}/tcp/1`))).toBe(!inRange(ip, net, bits))
      expect(g.allowAccept(ma(`/ip4/${text4(net)}/tcp/1`))).toBe(false)
    }), { numRuns: 300 })
  })

  test('IPv6', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), (ip, net, bits) => {
      const mapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
      fc.pre(!mapped(ip) && !mapped(net))
      const g = new Gater({ deny: [`${text6(net)}/${bits}`] })
      expect(g.allowAccept(ma(`/ip6/${text6(ip)}/tcp/1`))).toBe(!inRange(ip, net, bits))
    }), { numRuns: 300 })
  })

  test('an IP close to a range: one past either end is outside', () => {
    const g = new Gater({ deny: ['10.0.0.0/31'] })
    expect(g.allowAccept(ma('/ip4/10.0.0.1/tcp/1'))).toBe(false)
    expect(g.allowAccept(ma('/ip4/10.0.0.2/tcp/1'))).toBe(true)
    expect(g.allowAccept(ma('/ip4/9.255.255.255/tcp/1'))).toBe(true)
  })
})
