import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nobleCryptoFull } from '../src/core/crypto/noble-full.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import {
  MAX_PEER_RECORD_ADDRESSES,
  PEER_RECORD_DOMAIN,
  PEER_RECORD_PAYLOAD_TYPE,
  decodePeerRecord,
  encodePeerRecord,
  openEnvelope,
  openPeerRecord,
  privateKeyFromSeed,
  sealEnvelope,
  sealPeerRecord,
} from '../src/peer-id/index.js'
import type { Vector } from './helpers/vectors.js'
import { vectorFile } from './helpers/vectors.js'
import { protocolErrorCode } from './helpers/errors.js'

const vectors = vectorFile('signed-envelope')

function open(v: Vector, crypto: CryptoProvider): unknown {
  const bytes = fromHex(v.hex!)
  return v['kind'] === 'peer-record' ? openPeerRecord(bytes, crypto) : openEnvelope(bytes, v['domain'] as string, crypto)
}

describe('signed-envelope vectors', () => {
  for (const v of vectors.where((x) => x.error !== undefined)) {
    test(`${v.id} -> ${v.error}`, () => {
      for (const crypto of [nobleCrypto, nodeCrypto]) expect(protocolErrorCode(() => open(v, crypto))).toBe(v.error)
    })
  }

  test('peer-record-sealed: sealing reproduces the exact bytes; opening gives the record', () => {
    const v = vectors.get('peer-record-sealed')
    const d = v.decoded
    const key = privateKeyFromSeed(fromHex(d.seedHex), nobleCrypto)
    const record = { peerId: key.toPeerId(), seq: BigInt(d.seq), addrs: (d.addrs as string[]).map((a) => Multiaddr.fromString(a)) }
    expect(record.addrs.map((a) => toHex(a.bytes))).toEqual(d.addrsHex)
    expect(toHex(encodePeerRecord(record))).toBe(d.payloadHex)
    for (const crypto of [nobleCrypto, nodeCrypto]) {
      const sealed = sealPeerRecord(key, record, crypto)
      expect(toHex(sealed.bytes)).toBe(v.hex)
      expect(toHex(sealed.signature)).toBe(d.signatureHex)
      const { envelope, record: opened } = openPeerRecord(fromHex(v.hex!), crypto)
      expect(toHex(envelope.payloadType)).toBe(d.payloadTypeHex)
      expect(toHex(envelope.payload)).toBe(d.payloadHex)
      expect(toHex(envelope.bytes)).toBe(v.hex)
      expect(envelope.publicKey.equals(key.publicKey)).toBe(true)
      expect(opened.peerId.toString()).toBe(d.peerId)
      expect(opened.seq).toBe(BigInt(d.seq))
      expect(opened.addrs.map((a) => a.toString())).toEqual(d.addrs)
    }
    expect(d.domain).toBe(PEER_RECORD_DOMAIN)
    expect(toHex(PEER_RECORD_PAYLOAD_TYPE)).toBe(d.payloadTypeHex)
  })

  test('envelope-empty-payload-type: sealing reproduces the exact bytes', () => {
    const v = vectors.get('envelope-empty-payload-type')
    const d = v.decoded
    const key = privateKeyFromSeed(fromHex(d.seedHex), nobleCrypto)
    const sealed = sealEnvelope(key, v['domain'] as string, fromHex(d.payloadTypeHex), fromHex(d.payloadHex), nodeCrypto)
    expect(toHex(sealed.bytes)).toBe(v.hex)
    expect(toHex(sealed.signature)).toBe(d.signatureHex)
    const opened = openEnvelope(fromHex(v.hex!), v['domain'] as string, nobleCrypto)
    expect(toHex(opened.payloadType)).toBe('')
    expect(toHex(opened.payload)).toBe(d.payloadHex)
  })

  for (const id of ['envelope-secp256k1', 'envelope-ecdsa-p256']) {
    test(`${id}: verifies with nodeCrypto and nobleCryptoFull, unsupported with nobleCrypto`, () => {
      const v = vectors.get(id)
      const bytes = fromHex(v.hex!)
      for (const crypto of [nodeCrypto, nobleCryptoFull]) {
        const env = openEnvelope(bytes, v['domain'] as string, crypto)
        expect(env.publicKey.type).toBe(v.decoded.keyType)
        expect(toHex(env.payloadType)).toBe(v.decoded.payloadTypeHex)
        expect(toHex(env.payload)).toBe(v.decoded.payloadHex)
        expect(protocolErrorCode(() => openEnvelope(bytes, 'other-domain', crypto))).toBe('envelope/invalid-signature')
      }
      expect(protocolErrorCode(() => openEnvelope(bytes, v['domain'] as string, nobleCrypto))).toBe('envelope/unsupported-key-type')
    })
  }
})

describe('envelope properties', () => {
  const key = privateKeyFromSeed(new Uint8Array(32).fill(7), nobleCrypto)
  const bytesArb = fc.uint8Array({ maxLength: 64 })

  // properties run on nodeCrypto for speed; test/crypto-providers.test.ts proves nobleCrypto agrees
  test('seal/open round trip; another domain fails', () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), bytesArb, bytesArb, (domain, payloadType, payload) => {
      const env = sealEnvelope(key, domain, payloadType, payload, nodeCrypto)
      const opened = openEnvelope(env.bytes, domain, nodeCrypto)
      expect(opened.payloadType).toEqual(payloadType)
      expect(opened.payload).toEqual(payload)
      expect(opened.signature).toEqual(env.signature)
      expect(protocolErrorCode(() => openEnvelope(env.bytes, `${domain}x`, nodeCrypto))).toBe('envelope/invalid-signature')
    }), { numRuns: 100 })
  })

  test('peer record round trip (seq over the whole uint64 range)', () => {
    const addr = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(65535)).map(([a, b, port]) => Multiaddr.fromString(`/ip4/10.${a}.${b}.1/tcp/${port}`))
    const seq = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
    fc.assert(fc.property(seq, fc.array(addr, { maxLength: 8 }), (s, addrs) => {
      const record = { peerId: key.toPeerId(), seq: s, addrs }
      const { record: back } = openPeerRecord(sealPeerRecord(key, record, nodeCrypto).bytes, nodeCrypto)
      expect(back.seq).toBe(s)
      expect(back.peerId.equals(record.peerId)).toBe(true)
      expect(back.addrs.map((a) => a.toString())).toEqual(addrs.map((a) => a.toString()))
    }), { numRuns: 100 })
  })

  test('every single-byte change to a sealed record is a ProtocolError, never a success', () => {
    const valid = fromHex(vectors.get('peer-record-sealed').hex!)
    fc.assert(fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const b = valid.slice()
      b[i]! ^= x
      expect(() => openPeerRecord(b, nodeCrypto)).toThrow(ProtocolError)
    }), { numRuns: 300 })
  })

  test('garbage into openEnvelope / openPeerRecord / decodePeerRecord: ProtocolError only', () => {
    const valid = fromHex(vectors.get('peer-record-sealed').hex!)
    const spliced = fc.tuple(fc.nat(valid.length), bytesArb).map(([i, extra]) => Uint8Array.from([...valid.subarray(0, i), ...extra]))
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), spliced), (b) => {
      for (const f of [() => openEnvelope(b, 'd', nodeCrypto), () => openPeerRecord(b, nodeCrypto), () => decodePeerRecord(b)]) {
        try {
          f()
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e
        }
      }
    }), { numRuns: 500 })
  })

  test('limits: envelope size and address count', () => {
    const big = sealEnvelope(key, 'd', new Uint8Array(0), new Uint8Array(20_000), nobleCrypto)
    expect(protocolErrorCode(() => openEnvelope(big.bytes, 'd', nobleCrypto))).toBe('envelope/too-large')
    expect(openEnvelope(big.bytes, 'd', nobleCrypto, { maxSize: 30_000 }).payload.length).toBe(20_000)
    const addrs = Array.from({ length: MAX_PEER_RECORD_ADDRESSES + 1 }, (_, i) => Multiaddr.fromString(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`))
    const payload = encodePeerRecord({ peerId: key.toPeerId(), seq: 1n, addrs })
    expect(protocolErrorCode(() => decodePeerRecord(payload))).toBe('peer-record/too-many-addresses')
  })

  test('misuse: sealing a record for another peer, a negative seq', () => {
    const other = privateKeyFromSeed(new Uint8Array(32), nobleCrypto)
    expect(() => sealPeerRecord(key, { peerId: other.toPeerId(), seq: 1n, addrs: [] }, nobleCrypto)).toThrow(RangeError)
    expect(() => encodePeerRecord({ peerId: key.toPeerId(), seq: -1n, addrs: [] })).toThrow(RangeError)
    expect(() => sealEnvelope(key, 5 as never, utf8('x'), utf8('y'), nobleCrypto)).toThrow(TypeError)
  })
})
