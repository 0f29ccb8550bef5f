// spec/vectors/quic.json: RFC 9001 Appendix A (Initial keys, client and server Initial, Retry,
// ChaCha20 short header), RFC 9000 Appendix A (varints, packet numbers) and the frame vectors.
import { describe, expect, test } from 'vitest'
import { fromHex, toHex } from '../src/core/bytes.js'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'
import {
  QuicProtocolError, decodeFrames, decodePacketNumber, derivePacketKeys, encodeFrames, headerProtectionMask, initialKeys, nextPacketKeys,
  openPacket, packetNonce, packetNumberLength, parseDatagram, peekVarint, readVarintBig, encodeVarint, removeHeaderProtection, sealPacket,
  TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, buildRetry, DEFAULT_TRANSPORT_PARAMETERS, decodeTransportParameters, encodeTransportParameters, verifyRetry, RETRY_INTEGRITY_KEY_V1, RETRY_INTEGRITY_NONCE_V1,
  type Frame, type FramePacketType, type ProtectedPacket, type RetryPacket,
} from '../src/quic/index.js'
import { hkdfExpandLabel, hkdfExtract } from '../src/tls/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('quic')
const keyHex = (k: { key: Uint8Array, iv: Uint8Array, hp: Uint8Array }): object => ({ key: toHex(k.key), iv: toHex(k.iv), hp: toHex(k.hp) })
const EMPTY = new Uint8Array(0)

/** Frames with byte fields as hex strings (the vectors' JSON shape). */
function framesToJson(frames: readonly Frame[]): unknown[] {
  return frames.map((f) => Object.fromEntries(Object.entries(f).map(([k, x]) => [k, x instanceof Uint8Array ? toHex(x) : x])))
}
const BYTE_FIELDS = new Set(['data', 'token', 'connectionId', 'statelessResetToken', 'reason'])
function framesFromJson(frames: readonly Record<string, unknown>[]): Frame[] {
  return frames.map((f) => Object.fromEntries(Object.entries(f).map(([k, x]) => [k, BYTE_FIELDS.has(k) ? fromHex(x as string) : x])) as unknown as Frame)
}

describe('RFC 9001 Appendix A', () => {
  test('A.1: Initial secrets and keys', () => {
    const v = vectors.get('rfc9001-a1-initial-keys')
    const d = v.decoded
    const initial = hkdfExtract(c.base, fromHex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'), fromHex(v.hex!))
    expect(toHex(initial)).toBe(d.initialSecret)
    const k = initialKeys(c, fromHex(v.hex!))
    expect(toHex(k.client.secret)).toBe(d.clientSecret)
    expect(toHex(k.server.secret)).toBe(d.serverSecret)
    expect(keyHex(k.client)).toEqual(d.client)
    expect(keyHex(k.server)).toEqual(d.server)
  })

  test('A.2: the client Initial opens, decodes, and is rebuilt byte for byte', () => {
    const v = vectors.get('rfc9001-a2-client-initial')
    const d = v.decoded
    const keys = initialKeys(c, fromHex(d.dcid)).client
    const wire = fromHex(v.hex!)
    const parsed = parseDatagram(wire, 8)
    expect(parsed.dropped).toBeUndefined()
    const p = parsed.packets[0] as ProtectedPacket
    expect(p.type).toBe('initial')
    expect(toHex(p.dcid)).toBe(d.dcid)
    expect(p.scid.length).toBe(0)
    expect(p.token.length).toBe(0)
    expect(toHex(wire.subarray(p.pnOffset + 4, p.pnOffset + 20))).toBe(d.sample)
    expect(toHex(headerProtectionMask(c, keys, fromHex(d.sample)))).toBe(d.mask)
    const h = removeHeaderProtection(c, keys, p, -1)!
    expect(toHex(h.header)).toBe(d.unprotectedHeader)
    const r = openPacket(c, keys, p, -1)
    if (!r.ok) throw new Error(r.reason)
    expect(r.packetNumber).toBe(d.packetNumber)
    expect(r.payload.length).toBe(d.payloadLength)
    expect(toHex(r.payload.subarray(0, d.cryptoFrame.length / 2))).toBe(d.cryptoFrame)
    const frames = decodeFrames(r.payload, 'initial', { receiver: 'server' })
    expect(frames.map((f) => f.type)).toEqual(['crypto', 'padding'])
    expect(frames[0]).toMatchObject({ offset: 0 })
    expect((frames[0] as { data: Uint8Array }).data.length).toBe(241)
    expect(frames[1]).toEqual({ type: 'padding', length: d.payloadLength - d.cryptoFrame.length / 2 })
    const sealed = sealPacket(c, keys, { type: 'initial', dcid: fromHex(d.dcid), scid: EMPTY }, d.packetNumber, fromHex(d.cryptoFrame), { pnLength: d.pnLength, minPacketSize: 1200 })
    expect(toHex(sealed.subarray(0, 22))).toBe(d.protectedHeader)
    expect(toHex(sealed)).toBe(v.hex)
  })

  test('A.3: the server Initial opens, decodes, and is rebuilt byte for byte', () => {
    const v = vectors.get('rfc9001-a3-server-initial')
    const d = v.decoded
    const keys = initialKeys(c, fromHex(d.odcid)).server
    const p = parseDatagram(fromHex(v.hex!), 0).packets[0] as ProtectedPacket
    expect([p.type, toHex(p.dcid), toHex(p.scid)]).toEqual(['initial', d.dcid, d.scid])
    expect(toHex(p.bytes.subarray(p.pnOffset + 4, p.pnOffset + 20))).toBe(d.sample)
    expect(toHex(headerProtectionMask(c, keys, fromHex(d.sample)))).toBe(d.mask)
    const r = openPacket(c, keys, p, -1)
    if (!r.ok) throw new Error(r.reason)
    expect(toHex(r.header)).toBe(d.unprotectedHeader)
    expect(r.packetNumber).toBe(d.packetNumber)
    expect(toHex(r.payload)).toBe(d.payload)
    const frames = decodeFrames(r.payload, 'initial', { receiver: 'client' })
    expect(frames[0]).toEqual({ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] })
    expect(frames[1]!.type).toBe('crypto')
    expect(toHex(encodeFrames(frames))).toBe(d.payload)
    const sealed = sealPacket(c, keys, { type: 'initial', dcid: fromHex(d.dcid), scid: fromHex(d.scid) }, d.packetNumber, fromHex(d.payload), { pnLength: d.pnLength })
    expect(toHex(sealed.subarray(0, 20))).toBe(d.protectedHeader)
    expect(toHex(sealed)).toBe(v.hex)
  })

  test('A.4: the Retry verifies for its ODCID only, and is rebuilt byte for byte', () => {
    const v = vectors.get('rfc9001-a4-retry')
    const d = v.decoded
    const k = derivePacketKeys(c, TLS_AES_128_GCM_SHA256, fromHex(d.secret))
    expect([toHex(k.key), toHex(k.iv)]).toEqual([d.key, d.nonce])
    expect([toHex(RETRY_INTEGRITY_KEY_V1), toHex(RETRY_INTEGRITY_NONCE_V1)]).toEqual([d.key, d.nonce])
    const p = parseDatagram(fromHex(v.hex!), 0).packets[0] as RetryPacket
    expect(p.type).toBe('retry')
    expect([toHex(p.dcid), toHex(p.scid), toHex(p.token), toHex(p.integrityTag)]).toEqual([d.dcid, d.scid, d.token, d.integrityTag])
    expect(verifyRetry(c, p, fromHex(d.odcid))).toBe(true)
    expect(verifyRetry(c, p, fromHex('8394c8f03e515709'))).toBe(false)
    expect(toHex(buildRetry(c, { dcid: fromHex(d.dcid), scid: fromHex(d.scid), token: fromHex(d.token), odcid: fromHex(d.odcid) }))).toBe(v.hex)
  })

  test('A.5: ChaCha20-Poly1305 keys, key update secret, nonce, and the 21-byte short header packet', () => {
    const v = vectors.get('rfc9001-a5-chacha20-short-header')
    const d = v.decoded
    const keys = derivePacketKeys(c, TLS_CHACHA20_POLY1305_SHA256, fromHex(d.secret))
    expect(keyHex(keys)).toEqual({ key: d.key, iv: d.iv, hp: d.hp })
    const next = nextPacketKeys(c, keys)
    expect(toHex(next.secret)).toBe(d.ku)
    expect(toHex(next.hp)).toBe(d.hp) // header protection keys are not updated
    expect(toHex(next.key)).toBe(toHex(hkdfExpandLabel(c.base, fromHex(d.ku), 'quic key', EMPTY, 32)))
    expect(toHex(packetNonce(keys.iv, d.packetNumber))).toBe(d.nonce)
    expect(toHex(headerProtectionMask(c, keys, fromHex(d.sample)))).toBe(d.mask)
    const sealed = sealPacket(c, keys, { type: '1rtt', dcid: EMPTY }, d.packetNumber, fromHex(d.plaintext), { pnLength: d.pnLength })
    expect(toHex(sealed)).toBe(v.hex)
    expect(toHex(sealed.subarray(0, 4))).toBe(d.protectedHeader)
    expect(toHex(sealed.subarray(4))).toBe(d.ciphertext)
    const p = parseDatagram(fromHex(v.hex!), 0).packets[0] as ProtectedPacket
    const r = openPacket(c, keys, p, d.packetNumber - 1)
    if (!r.ok) throw new Error(r.reason)
    expect([toHex(r.header), r.packetNumber, toHex(r.payload), r.keyPhase]).toEqual([d.unprotectedHeader, d.packetNumber, d.plaintext, 0])
    expect(decodeFrames(r.payload, '1rtt')).toEqual([{ type: 'ping' }])
  })
})

describe('RFC 9000 Appendix A', () => {
  for (const v of vectors.where((x) => x.kind === 'varint')) {
    test(v.id, () => {
      const b = fromHex(v.hex!)
      expect(readVarintBig(b, 0)).toEqual({ value: BigInt(v.decoded.value), next: b.length })
      const n = Number(v.decoded.value)
      if (Number.isSafeInteger(n)) {
        expect(peekVarint(b, 0)).toBe(n)
        if (v.hex!.length === encodeVarint(n).length * 2) expect(toHex(encodeVarint(n))).toBe(v.hex)
      } else {
        expect(peekVarint(b, 0)).toBe(-2) // above 2^53 - 1: refused, never rounded
      }
    })
  }
  for (const v of vectors.where((x) => x.kind === 'pn-encode')) {
    test(v.id, () => expect(packetNumberLength(v.decoded.packetNumber, v.decoded.largestAcked)).toBe(v.decoded.pnLength))
  }
  for (const v of vectors.where((x) => x.kind === 'pn-decode')) {
    test(v.id, () => expect(decodePacketNumber(v.decoded.largestPn, v.decoded.truncated, v.decoded.pnLength)).toBe(v.decoded.packetNumber))
  }
})

describe('transport parameters', () => {
  for (const v of vectors.where((x) => x.kind === 'transport-parameters')) {
    test(v.id, () => {
      const p = decodeTransportParameters(fromHex(v.hex!), v.sender as 'client' | 'server')
      const expected = { ...DEFAULT_TRANSPORT_PARAMETERS, ...v.decoded, initialSourceConnectionId: fromHex(v.decoded.initialSourceConnectionId) }
      expect(p).toEqual(expected)
      // re-encoded (fewest bytes, id order, the cap written as 2^53-1) it decodes to the same parameters
      expect(decodeTransportParameters(encodeTransportParameters(p), v.sender as 'client' | 'server')).toEqual(p)
    })
  }
})

describe('frames', () => {
  for (const v of vectors.where((x) => x.kind === 'frame')) {
    test(v.id, () => {
      const packetType = (v.packetType ?? '1rtt') as FramePacketType
      const receiver = (v.receiver ?? 'client') as 'client' | 'server'
      const run = (): Frame[] => decodeFrames(fromHex(v.hex!), packetType, { receiver })
      if (v.error !== undefined) {
        let err: unknown
        try { run() } catch (e) { err = e }
        expect(err).toBeInstanceOf(QuicProtocolError)
        expect((err as QuicProtocolError).code).toBe(v.error)
        expect((err as QuicProtocolError).protocol).toBe('quic')
        return
      }
      const frames = run()
      expect(framesToJson(frames)).toEqual(v.decoded)
      expect(toHex(encodeFrames(framesFromJson(v.decoded)))).toBe(v.encodes ?? v.hex)
    })
  }
})
