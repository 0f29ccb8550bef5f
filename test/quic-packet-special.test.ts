// Packets without frames: Retry (RFC 9000 §17.2.5, RFC 9001 §5.8), Version Negotiation (RFC 9000
// §6, §17.2.1) and Stateless Reset (RFC 9000 §10.3).
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'
import {
  DEFAULT_PARSE_LIMITS, MIN_STATELESS_RESET_SIZE, QUIC_V1, buildRetry, buildStatelessReset, buildVersionNegotiation, detectStatelessReset,
  handleVersionNegotiation, isReservedVersion, parseDatagram, statelessResetToken, verifyRetry, versionNegotiationFor,
  type RetryPacket, type VersionNegotiationPacket,
} from '../src/quic/index.js'

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
const counter = (): ((n: number) => Uint8Array) => { let i = 0; return (n) => Uint8Array.from({ length: n }, () => (i++ * 37) & 0xff) }

describe('Retry', () => {
  test('build, parse, verify: any fields round-trip; another ODCID or a changed byte fails', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.uint8Array({ minLength: 8, maxLength: 20 }), fc.nat(),
      (dcid, scid, token, odcid, at) => {
        const wire = buildRetry(c, { dcid, scid, token, odcid })
        const p = parseDatagram(wire, 8).packets[0] as RetryPacket
        expect([p.type, p.dcid, p.scid, p.token]).toEqual(['retry', dcid, scid, token])
        expect(verifyRetry(c, p, odcid)).toBe(true)
        const other = odcid.slice(); other[0]! ^= 1
        expect(verifyRetry(c, p, other)).toBe(false)
        const bad = wire.slice(); const i = at % bad.length
        bad[i]! ^= i === 0 ? 0x01 : 0x80 // the first byte's Unused bits are not covered by the rules, but are by the tag
        const q = parseDatagram(bad, 8).packets[0]
        if (q?.type === 'retry') expect(verifyRetry(c, q, odcid)).toBe(false)
      }), { numRuns: 200 })
  })
  test('a Retry with an empty token is never accepted (RFC 9000 §17.2.5.2); shorter than a tag is dropped', () => {
    expect(() => buildRetry(c, { dcid: bytes(4, 1), scid: bytes(4, 2), token: new Uint8Array(0), odcid: bytes(8, 3) })).toThrow(RangeError)
    const wire = buildRetry(c, { dcid: bytes(4, 1), scid: bytes(4, 2), token: bytes(1, 9), odcid: bytes(8, 3) })
    const noToken = new Uint8Array(wire.length - 1)
    noToken.set(wire.subarray(0, 15)) // header without the token byte
    noToken.set(wire.subarray(16), 15)
    const p = parseDatagram(noToken, 8).packets[0] as RetryPacket
    expect(p.token.length).toBe(0)
    expect(verifyRetry(c, p, bytes(8, 3))).toBe(false)
    expect(parseDatagram(wire.subarray(0, 30), 8)).toEqual({ packets: [], dropped: 'truncated' })
  })
})

describe('Version Negotiation', () => {
  const clientInitial = (version: number, size: number): Uint8Array => {
    const d = new Uint8Array(size)
    d.set([0xc0, version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff, 8, ...bytes(8, 0xdd), 4, ...bytes(4, 0x5c)])
    return d
  }
  test('a server answers an unsupported version in a datagram of 1200 bytes or more, echoing the connection ids', () => {
    const d = clientInitial(0x1a2a3a4a, 1200)
    const vn = versionNegotiationFor(parseDatagram(d, 8).packets[0]!, d.length, { versions: [QUIC_V1, 0x0a1a2a3a] })!
    const p = parseDatagram(vn, 8).packets[0] as VersionNegotiationPacket
    expect(p).toMatchObject({ type: 'version_negotiation', dcid: bytes(4, 0x5c), scid: bytes(8, 0xdd), versions: [QUIC_V1, 0x0a1a2a3a] })
    expect(vn[0]! & 0x80).toBe(0x80)
    expect(vn.subarray(1, 5)).toEqual(new Uint8Array(4))
    // smaller datagrams, v1 packets and Version Negotiation packets get no answer
    expect(versionNegotiationFor(parseDatagram(d.subarray(0, 1199), 8).packets[0]!, 1199)).toBeUndefined()
    expect(versionNegotiationFor(p, 1200)).toBeUndefined()
    expect(versionNegotiationFor(parseDatagram(clientInitial(QUIC_V1, 1200), 8).packets[0] ?? p, 1200)).toBeUndefined()
  })
  test('the client abandons only for a genuine answer (RFC 9000 §6.2)', () => {
    const vn = parseDatagram(buildVersionNegotiation({ dcid: bytes(4, 1), scid: bytes(8, 2), versions: [0xff00001d] }), 8).packets[0] as VersionNegotiationPacket
    const client = { scid: bytes(4, 1), dcid: bytes(8, 2), receivedOther: false }
    expect(handleVersionNegotiation(vn, client)).toBe('abandon')
    expect(handleVersionNegotiation(vn, { ...client, receivedOther: true })).toBe('discard')
    expect(handleVersionNegotiation(vn, { ...client, scid: bytes(4, 9) })).toBe('discard')
    const listsOurs = parseDatagram(buildVersionNegotiation({ dcid: bytes(4, 1), scid: bytes(8, 2), versions: [0xff00001d, QUIC_V1] }), 8).packets[0] as VersionNegotiationPacket
    expect(handleVersionNegotiation(listsOurs, client)).toBe('discard')
  })
  test(`maxVersions (default ${DEFAULT_PARSE_LIMITS.maxVersions}): at the limit parsed, past it (or unaligned, or empty) dropped`, () => {
    const n = DEFAULT_PARSE_LIMITS.maxVersions
    const vn = (k: number): Uint8Array => buildVersionNegotiation({ dcid: bytes(1, 1), scid: bytes(1, 2), versions: Array.from({ length: k }, (_, i) => i + 2) })
    expect((parseDatagram(vn(n), 8).packets[0] as VersionNegotiationPacket).versions).toHaveLength(n)
    expect(parseDatagram(vn(n + 1), 8)).toEqual({ packets: [], dropped: 'bad-version-list' })
    expect(parseDatagram(vn(1).subarray(0, 10), 8)).toEqual({ packets: [], dropped: 'bad-version-list' })
    expect(parseDatagram(vn(1).subarray(0, 9), 8)).toEqual({ packets: [], dropped: 'bad-version-list' })
  })
  test('reserved versions 0x?a?a?a?a', () => {
    expect([0x0a0a0a0a, 0x1a2a3a4a, 0xfafafafa, QUIC_V1, 0x0a0a0a0b].map(isReservedVersion)).toEqual([true, true, true, false, false])
  })
})

describe('Stateless Reset', () => {
  const key = bytes(32, 7)
  test('the token is HMAC-SHA256(static key, connection id) truncated to 16 bytes (RFC 9000 §10.3.2)', () => {
    const t = statelessResetToken(nodeCrypto, key, bytes(8, 1))
    expect(t).toEqual(nodeCrypto.hmacSha256(key, bytes(8, 1)).subarray(0, 16))
    expect(statelessResetToken(nodeCrypto, key, bytes(8, 2))).not.toEqual(t)
  })
  test('a reset is shorter than its trigger, at least 21 bytes, looks like a short header and ends in the token', () => {
    const token = statelessResetToken(nodeCrypto, key, bytes(8, 1))
    fc.assert(fc.property(fc.integer({ min: 0, max: 1500 }), (trigger) => {
      const r = buildStatelessReset(token, trigger, counter())
      if (trigger <= MIN_STATELESS_RESET_SIZE) { expect(r).toBeUndefined(); return }
      expect(r!.length).toBeLessThan(trigger)
      expect(r!.length).toBeGreaterThanOrEqual(MIN_STATELESS_RESET_SIZE)
      if (trigger <= 43) expect(r!.length).toBe(trigger - 1)
      expect(r![0]! & 0xc0).toBe(0x40)
      expect(detectStatelessReset(r!, [bytes(16, 0), token])).toBe(token)
      expect(parseDatagram(r!, 8).packets[0]?.type).toBe('1rtt') // indistinguishable from a 1-RTT packet
    }))
  })
  test('detection: the last 16 bytes against the tokens; shorter than 21 bytes is never a reset', () => {
    const token = bytes(16, 0xab)
    const d = new Uint8Array(30); d[0] = 0x40; d.set(token, 14)
    expect(detectStatelessReset(d, [token])).toBe(token)
    expect(detectStatelessReset(d, [bytes(16, 0xac)])).toBeUndefined()
    expect(detectStatelessReset(d, [])).toBeUndefined()
    expect(detectStatelessReset(d.subarray(10), [token])).toBeUndefined() // 20 bytes
  })
})
