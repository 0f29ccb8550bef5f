// QUIC packets (src/quic/packet.ts, protection.ts): seal/parse/open round trips (fast-check) for
// every protected packet type and both cipher suites, coalesced datagrams, packet numbers, and the
// drops RFC 9000 asks for, each a result rather than an exception.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'
import {
  DEFAULT_PARSE_LIMITS, QuicProtocolError, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, buildHeader, decodePacketNumber,
  derivePacketKeys, headerProtectionMask, initialKeys, nextPacketKeys, openPacket, packetNonce, packetNumberLength, parseDatagram,
  sealPacket, type CipherSuite, type PacketKeys, type ProtectedPacket, type SendHeader,
} from '../src/quic/index.js'

const keysFor = (suite: CipherSuite, seed: number): PacketKeys => derivePacketKeys(c, suite, new Uint8Array(32).fill(seed))
const AES = keysFor(TLS_AES_128_GCM_SHA256, 1)
const CHACHA = keysFor(TLS_CHACHA20_POLY1305_SHA256, 2)
const cid = (n: number, fill = 0xc1): Uint8Array => new Uint8Array(n).fill(fill)
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const protectedOnly = (d: Uint8Array, cidLen: number): ProtectedPacket[] => parseDatagram(d, cidLen).packets as ProtectedPacket[]

const headerArb: fc.Arbitrary<SendHeader> = fc.oneof(
  fc.tuple(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 64 }))
    .map(([dcid, scid, token]): SendHeader => ({ type: 'initial', dcid, scid, token })),
  fc.tuple(fc.constantFrom<'handshake' | '0rtt'>('handshake', '0rtt'), fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }))
    .map(([type, dcid, scid]): SendHeader => ({ type, dcid, scid })),
  fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.constantFrom<0 | 1>(0, 1), fc.boolean())
    .map(([dcid, keyPhase, spin]): SendHeader => ({ type: '1rtt', dcid, keyPhase, spin })),
)

describe('seal, parse, open', () => {
  test('every packet type, both suites: the payload and packet number come back (padded to the sample size)', () => {
    fc.assert(fc.property(headerArb, fc.boolean(), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 100 }), fc.uint8Array({ minLength: 1, maxLength: 300 }),
      (header, chacha, pn0, distance, behind, payload) => {
        const keys = chacha ? CHACHA : AES
        const pn = pn0 + distance
        const largestAcked = pn - distance
        const wire = sealPacket(c, keys, header, pn, payload, { largestAcked })
        const parsed = parseDatagram(wire, 8)
        expect(parsed.dropped).toBeUndefined()
        const p = parsed.packets[0] as ProtectedPacket
        expect(p.type).toBe(header.type)
        expect(p.dcid).toEqual(header.dcid)
        if (header.type === 'initial') expect(p.token).toEqual(header.token)
        // the receiver has seen anything from the sender's largest acknowledged to pn - 1
        const largestPn = Math.max(largestAcked, pn - 1 - behind)
        const r = openPacket(c, keys, p, largestPn)
        if (!r.ok) throw new Error(r.reason)
        expect(r.packetNumber).toBe(pn)
        expect(r.payload.subarray(0, payload.length)).toEqual(payload)
        expect(r.payload.subarray(payload.length).every((b) => b === 0)).toBe(true) // PADDING only
        if (header.type === '1rtt') expect([r.keyPhase, r.spin]).toEqual([header.keyPhase, header.spin])
      }), { numRuns: 300 })
  })

  test('minPacketSize pads to exactly that size', () => {
    fc.assert(fc.property(headerArb, fc.integer({ min: 0, max: 2 ** 30 }), fc.uint8Array({ minLength: 1, maxLength: 1300 }), fc.oneof(fc.integer({ min: 1200, max: 1500 }), fc.integer({ min: 1, max: 200 })), (header, pn, payload, min) => {
      const natural = sealPacket(c, AES, header, pn, payload).length
      const padded = sealPacket(c, AES, header, pn, payload, { minPacketSize: min })
      expect(padded.length).toBe(Math.max(min, natural))
      const r = openPacket(c, AES, protectedOnly(padded, 8)[0]!, pn - 1)
      expect(r.ok).toBe(true)
    }), { numRuns: 200 })
  })

  test('minPacketSize across the 1- to 2-byte Length boundary: exactly that size', () => {
    for (let min = 30; min <= 120; min++) {
      const wire = sealPacket(c, AES, { type: 'handshake', dcid: cid(8), scid: cid(0) }, 0, Uint8Array.of(1), { minPacketSize: min })
      expect(wire.length, `minPacketSize ${min}`).toBe(Math.max(min, 36))
      expect(openPacket(c, AES, protectedOnly(wire, 8)[0]!, -1).ok).toBe(true)
    }
  })

  test('coalesced Initial + Handshake + 1-RTT: each opens with its own keys', () => {
    const dcid = cid(8)
    const init = initialKeys(c, dcid)
    const hs = keysFor(TLS_AES_128_GCM_SHA256, 7)
    const datagram = concat(
      sealPacket(c, init.client, { type: 'initial', dcid, scid: cid(4, 2) }, 0, Uint8Array.of(1)),
      sealPacket(c, hs, { type: 'handshake', dcid, scid: cid(4, 2) }, 0, Uint8Array.of(1, 1)),
      sealPacket(c, CHACHA, { type: '1rtt', dcid }, 0, Uint8Array.of(1, 1, 1)),
    )
    const ps = protectedOnly(datagram, 8)
    expect(ps.map((p) => p.type)).toEqual(['initial', 'handshake', '1rtt'])
    expect([init.client, hs, CHACHA].map((k, i) => openPacket(c, k, ps[i]!, -1).ok)).toEqual([true, true, true])
    // the wrong keys never open a packet: a result, not an exception
    expect(openPacket(c, hs, ps[0]!, -1)).toEqual({ ok: false, reason: 'undecryptable' })
  })

  test('key update: the Key Phase bit selects the keys (RFC 9001 §6), the header protection key stays', () => {
    const next = nextPacketKeys(c, AES)
    expect(next.hp).toEqual(AES.hp)
    const wire = sealPacket(c, next, { type: '1rtt', dcid: cid(8), keyPhase: 1 }, 10, Uint8Array.of(1))
    const p = protectedOnly(wire, 8)[0]!
    const seen: Array<[number, number]> = []
    const r = openPacket(c, AES, p, 9, (phase, pn) => { seen.push([phase, pn]); return phase === 1 ? next : AES })
    expect(r.ok && r.keyPhase).toBe(1)
    expect(seen).toEqual([[1, 10]])
    expect(openPacket(c, AES, p, 9)).toEqual({ ok: false, reason: 'undecryptable' })
    expect(openPacket(c, AES, p, 9, () => undefined)).toEqual({ ok: false, reason: 'no-keys' })
  })
})

describe('drops are results (RFC 9000 §12.2, RFC 9001 §5.4.2, §5.5)', () => {
  test('any flipped byte of a protected packet: undecryptable (or too-short / another packet), never an exception', () => {
    const wire = sealPacket(c, AES, { type: 'handshake', dcid: cid(8), scid: cid(8) }, 5, new Uint8Array(40).fill(1))
    fc.assert(fc.property(fc.integer({ min: 0, max: wire.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = wire.slice()
      bad[at]! ^= x
      for (const p of parseDatagram(bad, 8).packets) {
        if (p.type === 'retry' || p.type === 'version_negotiation' || p.type === 'unsupported_version') continue
        expect(openPacket(c, AES, p, 4).ok).toBe(false)
      }
    }), { numRuns: 300 })
  })
  test('a packet too short for a header protection sample is too-short', () => {
    const p = protectedOnly(Uint8Array.of(0x40, ...cid(8), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19), 8)[0]!
    expect(openPacket(c, AES, p, -1)).toEqual({ ok: false, reason: 'too-short' })
  })
  test('reserved bits set in an authenticated packet are PROTOCOL_VIOLATION (RFC 9000 §17.2, §17.3.1)', () => {
    for (const header of [{ type: 'handshake', dcid: cid(8), scid: cid(0) }, { type: '1rtt', dcid: cid(8) }] as SendHeader[]) {
      const pn = 3
      const { header: h, pnOffset } = buildHeader(header, pn, 1, 20 + 16)
      h[0]! |= header.type === '1rtt' ? 0x08 : 0x04
      const sealed = c.aes128GcmSeal(AES.key, packetNonce(AES.iv, pn), new Uint8Array(20).fill(1), h)
      const wire = concat(h, sealed)
      const mask = headerProtectionMask(c, AES, wire.subarray(pnOffset + 4, pnOffset + 20))
      wire[0]! ^= mask[0]! & (header.type === '1rtt' ? 0x1f : 0x0f)
      wire[pnOffset]! ^= mask[1]!
      let err: unknown
      try { openPacket(c, AES, protectedOnly(wire, 8)[0]!, 2) } catch (e) { err = e }
      expect(err).toBeInstanceOf(QuicProtocolError)
      expect((err as QuicProtocolError).code).toBe('PROTOCOL_VIOLATION')
    }
  })
})

describe('parseDatagram', () => {
  const hs = (dcid: Uint8Array): Uint8Array => sealPacket(c, AES, { type: 'handshake', dcid, scid: cid(2) }, 0, Uint8Array.of(1))
  test('never throws, and every packet it returns lies inside the datagram', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 20 }), (b, n) => {
      const r = parseDatagram(b, n)
      let total = 0
      for (const p of r.packets) {
        expect(p.bytes.buffer).toBe(b.buffer)
        total += p.bytes.length
      }
      expect(total).toBeLessThanOrEqual(b.length)
    }), { numRuns: 3000 })
  })
  test(`maxCoalescedPackets (default ${DEFAULT_PARSE_LIMITS.maxCoalescedPackets}): at the limit all are read, past it the rest is dropped`, () => {
    const one = hs(cid(8))
    const n = DEFAULT_PARSE_LIMITS.maxCoalescedPackets
    expect(parseDatagram(concat(...Array<Uint8Array>(n).fill(one)), 8)).toEqual({ packets: expect.any(Array) })
    expect(parseDatagram(concat(...Array<Uint8Array>(n).fill(one)), 8).packets).toHaveLength(n)
    const past = parseDatagram(concat(...Array<Uint8Array>(n + 1).fill(one)), 8)
    expect([past.packets.length, past.dropped]).toEqual([n, 'too-many-packets'])
    expect(parseDatagram(concat(one, one, one), 8, { maxCoalescedPackets: 2 }).dropped).toBe('too-many-packets')
  })
  test('a coalesced packet with another DCID, trailing junk, a truncated Length, a 21-byte v1 CID, an empty datagram', () => {
    expect(parseDatagram(concat(hs(cid(8)), hs(cid(8, 9))), 8)).toMatchObject({ dropped: 'different-dcid' })
    expect(parseDatagram(concat(hs(cid(8)), new Uint8Array(30)), 8)).toMatchObject({ dropped: 'fixed-bit' })
    expect(parseDatagram(concat(hs(cid(8)), new Uint8Array(30)), 8).packets).toHaveLength(1)
    expect(parseDatagram(hs(cid(8)).subarray(0, 30), 8)).toEqual({ packets: [], dropped: 'truncated' })
    const long = Uint8Array.of(0xe0, 0, 0, 0, 1, 21, ...cid(21), 0, 0x00)
    expect(parseDatagram(long, 8)).toEqual({ packets: [], dropped: 'cid-too-long' })
    expect(parseDatagram(new Uint8Array(0), 8)).toEqual({ packets: [], dropped: 'empty' })
    expect(parseDatagram(Uint8Array.of(0x40, 1, 2), 8)).toEqual({ packets: [], dropped: 'short-dcid' })
  })
  test('a long header of another version: its invariant fields (RFC 8999), CIDs up to 255 bytes', () => {
    const d = Uint8Array.of(0xc0, 0xff, 0, 0, 0x1d, 30, ...cid(30), 2, 7, 7, 1, 2, 3)
    expect(parseDatagram(d, 8).packets[0]).toMatchObject({ type: 'unsupported_version', version: 0xff00001d, dcid: cid(30), scid: Uint8Array.of(7, 7) })
  })
})

describe('packet numbers (RFC 9000 §17.1)', () => {
  test('the length packetNumberLength picks always decodes back for any receiver state in the window', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 31 }), (acked, d, behind) => {
      const pn = acked + d
      const len = packetNumberLength(pn, acked)
      const truncated = pn % 2 ** (8 * len)
      const largest = Math.max(acked, pn - 1 - behind)
      expect(decodePacketNumber(largest, truncated, len)).toBe(pn)
    }), { numRuns: 1000 })
  })
  test('before any acknowledgment the full range counts; a gap of 2^31 or more cannot be encoded', () => {
    expect([packetNumberLength(0, undefined), packetNumberLength(126, undefined), packetNumberLength(127, undefined)]).toEqual([1, 1, 2])
    expect(() => packetNumberLength(2 ** 31, 0)).toThrow(RangeError)
    expect(decodePacketNumber(-1, 0, 1)).toBe(0)
  })
})
