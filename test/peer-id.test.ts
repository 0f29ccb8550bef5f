import fc from 'fast-check'
import * as nc from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { base58btc } from 'multiformats/bases/base58'
import { isProtocolError, ProtocolError, UsageError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nobleCryptoFull } from '../src/core/crypto/noble-full.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import {
  PeerId,
  PrivateKey,
  PublicKey,
  generatePrivateKey,
  privateKeyFromProtobuf,
  privateKeyFromSeed,
  publicKeyFromProtobuf,
} from '../src/peer-id/index.js'
import type { Vector } from './helpers/vectors.js'
import { vectorFile } from './helpers/vectors.js'
import { protocolErrorCode, thrown } from './helpers/errors.js'

const vectors = vectorFile('peer-id')

/** The entry point a vector's `kind` names. */
function decodeVector(v: Vector): unknown {
  switch (v['kind']) {
    case 'public-key':
      return publicKeyFromProtobuf(fromHex(v.hex!))
    case 'private-key':
      return privateKeyFromProtobuf(fromHex(v.hex!), nobleCrypto)
    case 'text':
      return PeerId.parse(v['text'] as string)
    case 'multihash':
      return PeerId.fromMultihash(fromHex(v.hex!))
    default:
      throw new Error(`unknown kind ${String(v['kind'])}`)
  }
}

/** Public key of a spec private key that weft does not load, derived with another library. */
function derivePublicKeyProtobuf(type: string, data: Uint8Array): string {
  if (type === 'Secp256k1') return toHex(new PublicKey('Secp256k1', secp256k1.getPublicKey(data, true)).bytes)
  const priv = nc.createPrivateKey({ key: Buffer.from(data), format: 'der', type: type === 'RSA' ? 'pkcs1' : 'sec1' })
  const spki = new Uint8Array(nc.createPublicKey(priv).export({ format: 'der', type: 'spki' }))
  return toHex(new PublicKey(type === 'RSA' ? 'RSA' : 'ECDSA', spki).bytes)
}

describe('peer-id vectors', () => {
  for (const v of vectors.where((x) => x.error !== undefined)) {
    test(`${v.id} -> ${v.error}`, () => {
      if (v['kind'] !== 'text') {
        expect(protocolErrorCode(() => decodeVector(v))).toBe(v.error)
        return
      }
      // text is user input: the same code, as a UsageError (never a ProtocolError)
      const e = thrown(() => decodeVector(v))
      expect(e).toBeInstanceOf(UsageError)
      expect(isProtocolError(e)).toBe(false)
      expect((e as UsageError).code).toBe(v.error)
    })
  }

  for (const v of vectors.where((x) => x.error === undefined && x['kind'] === 'public-key')) {
    test(v.id, () => {
      const d = v.decoded
      const key = publicKeyFromProtobuf(fromHex(v.hex!))
      expect(key.type).toBe(d.type)
      expect(toHex(key.data)).toBe(d.dataHex)
      expect(toHex(key.bytes)).toBe(v.hex)
      expect(toHex(new PublicKey(d.type, fromHex(d.dataHex)).bytes)).toBe(v.hex)
      const id = key.toPeerId()
      if (d.peerId !== null) expect(id.toString()).toBe(d.peerId)
      if (d.cid !== null) expect(id.toCID()).toBe(d.cid)
      const expectedMultihash = key.bytes.length <= 42 ? `00${key.bytes.length.toString(16)}${v.hex}` : `1220${toHex(sha256(key.bytes))}`
      expect(toHex(id.multihash)).toBe(expectedMultihash)
      expect(toHex(PeerId.fromPublicKey(key, nodeCrypto).multihash)).toBe(expectedMultihash)
      // text round trips through both forms
      const parsed = PeerId.parse(id.toString())
      expect(parsed.equals(id)).toBe(true)
      expect(PeerId.parse(id.toCID()).equals(id)).toBe(true)
      expect(parsed.publicKey?.equals(key) ?? key.bytes.length > 42).toBe(true)
    })
  }

  for (const v of vectors.where((x) => x.error === undefined && x['kind'] === 'private-key')) {
    test(v.id, () => {
      const d = v.decoded
      const bytes = fromHex(v.hex!)
      if (d.loads) {
        const key = privateKeyFromProtobuf(bytes, nobleCrypto)
        expect(toHex(key.publicKey.bytes)).toBe(d.publicKeyHex)
        expect(toHex(privateKeyFromProtobuf(bytes, nodeCrypto).seed)).toBe(toHex(key.seed))
        // re-encodes in the preferred 64-byte form
        expect(toHex(key.bytes)).toBe(`08011240${toHex(key.seed)}${toHex(key.publicKey.data)}`)
      } else {
        expect(protocolErrorCode(() => privateKeyFromProtobuf(bytes, nobleCrypto))).toBe('peer-id/unsupported-key-type')
        // the spec says the public key belongs to the private key: check it with another library
        const dataOffset = bytes[3]! & 0x80 ? 5 : 4
        expect(derivePublicKeyProtobuf(d.type, bytes.subarray(dataOffset))).toBe(d.publicKeyHex)
      }
    })
  }

  for (const v of vectors.where((x) => x.error === undefined && x['kind'] === 'text')) {
    test(v.id, () => {
      const d = v.decoded
      const id = PeerId.parse(v['text'] as string)
      expect(toHex(id.multihash)).toBe(d.multihashHex)
      expect(id.toString()).toBe(d.peerId)
      if (d.cid !== null) expect(id.toCID()).toBe(d.cid)
      expect(id.publicKey === undefined ? null : toHex(id.publicKey.bytes)).toBe(d.publicKeyHex)
      expect(PeerId.fromBytes(id.multihash).equals(id)).toBe(true)
      expect(id.equals(v['text'] as string)).toBe(true)
    })
  }

  for (const v of vectors.where((x) => x['kind'] === 'seed')) {
    test(v.id, () => {
      const d = v.decoded
      for (const crypto of [nobleCrypto, nodeCrypto]) {
        const key = privateKeyFromSeed(fromHex(v['seedHex'] as string), crypto)
        expect(toHex(key.publicKey.bytes)).toBe(d.publicKeyHex)
        expect(toHex(key.bytes)).toBe(d.privateKeyHex)
        expect(key.toPeerId().toString()).toBe(d.peerId)
        if (d.cid !== null) expect(key.toPeerId().toCID()).toBe(d.cid)
      }
    })
  }
})

describe('keys', () => {
  test('sign and verify with both providers; tampering fails', () => {
    const key = generatePrivateKey(nodeCrypto)
    const msg = new TextEncoder().encode('weft')
    const sig = key.sign(msg, nobleCrypto)
    expect(key.sign(msg, nodeCrypto)).toEqual(sig)
    for (const crypto of [nobleCrypto, nodeCrypto]) {
      expect(key.publicKey.verify(msg, sig, crypto)).toBe(true)
      const bad = sig.slice()
      bad[7]! ^= 1
      expect(key.publicKey.verify(msg, bad, crypto)).toBe(false)
      expect(key.publicKey.verify(Uint8Array.of(1), sig, crypto)).toBe(false)
    }
  })

  test('verify on a type the provider cannot verify is peer-id/unsupported-key-type', () => {
    const key = publicKeyFromProtobuf(fromHex(vectors.get('spec-secp256k1-public').hex!))
    expect(protocolErrorCode(() => key.verify(Uint8Array.of(1), Uint8Array.of(2), nobleCrypto))).toBe('peer-id/unsupported-key-type')
    expect(key.verify(Uint8Array.of(1), Uint8Array.of(2), nobleCryptoFull)).toBe(false)
    expect(key.verify(Uint8Array.of(1), Uint8Array.of(2), nodeCrypto)).toBe(false)
    const rsa = publicKeyFromProtobuf(fromHex(vectors.get('spec-rsa-public').hex!))
    expect(protocolErrorCode(() => rsa.verify(Uint8Array.of(1), Uint8Array.of(2), nobleCryptoFull))).toBe('peer-id/unsupported-key-type')
  })

  test('RSA signatures from the spec key verify through nodeCrypto', () => {
    const priv = fromHex(vectors.get('spec-rsa-private').hex!).subarray(5)
    const key = nc.createPrivateKey({ key: Buffer.from(priv), format: 'der', type: 'pkcs1' })
    const msg = new TextEncoder().encode('rsa message')
    const sig = new Uint8Array(nc.sign('sha256', msg, key))
    const pub = publicKeyFromProtobuf(fromHex(vectors.get('spec-rsa-public').hex!))
    expect(pub.verify(msg, sig, nodeCrypto)).toBe(true)
    expect(pub.verify(Uint8Array.of(0), sig, nodeCrypto)).toBe(false)
  })

  test('constructor and seed argument checks are TypeError / RangeError', () => {
    expect(() => new PublicKey('Ed25519', new Uint8Array(31))).toThrow(RangeError)
    expect(() => new PublicKey('DSA' as never, new Uint8Array(32))).toThrow(TypeError)
    expect(() => privateKeyFromSeed(new Uint8Array(31), nobleCrypto)).toThrow(RangeError)
  })

  test('keys copy their inputs', () => {
    const seed = new Uint8Array(32)
    const key = privateKeyFromSeed(seed, nobleCrypto)
    seed[0] = 1
    expect(key.seed[0]).toBe(0)
    const data = key.publicKey.data.slice()
    const pub = new PublicKey('Ed25519', data)
    data[0]! ^= 1
    expect(pub.equals(key.publicKey)).toBe(true)
  })
})

describe('peer-id properties', () => {
  const seeds = fc.uint8Array({ minLength: 32, maxLength: 32 })

  test('round trip: seed -> key protobufs -> peer id text -> peer id', () => {
    fc.assert(fc.property(seeds, (seed) => {
      const key = privateKeyFromSeed(seed, nobleCrypto)
      const back = privateKeyFromProtobuf(key.bytes, nobleCrypto)
      expect(back.publicKey.equals(key.publicKey)).toBe(true)
      const pub = publicKeyFromProtobuf(key.publicKey.bytes)
      expect(pub.equals(key.publicKey)).toBe(true)
      const id = pub.toPeerId()
      expect(id.toString().startsWith('12D3KooW')).toBe(true)
      expect(id.toCID().startsWith('bafzaa')).toBe(true)
      const fromText = PeerId.parse(id.toString())
      expect(fromText.equals(id)).toBe(true)
      expect(fromText.publicKey!.equals(pub)).toBe(true)
      expect(PeerId.parse(id.toCID()).equals(id.toString())).toBe(true)
      expect(key instanceof PrivateKey).toBe(true)
    }), { numRuns: 50 })
  })

  test('garbage into publicKeyFromProtobuf / privateKeyFromProtobuf / fromMultihash: ProtocolError only', () => {
    const valid = fromHex(vectors.get('spec-ed25519-public').hex!)
    const mutated = fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = valid.slice()
      b[i]! ^= x
      return b
    })
    const inputs = fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated, fc.uint8Array({ maxLength: 3000 }))
    fc.assert(fc.property(inputs, (b) => {
      for (const f of [() => publicKeyFromProtobuf(b), () => privateKeyFromProtobuf(b, nobleCrypto), () => PeerId.fromMultihash(b)]) {
        try {
          f()
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e
        }
      }
    }), { numRuns: 500 })
  })

  test('garbage into PeerId.parse: UsageError (user text) only', () => {
    const prefixed = fc.tuple(fc.constantFrom('1', 'Qm', 'b', 'z', 'k', 'f', 'bafz', '12D3KooW', 'm', ''), fc.string({ maxLength: 80 })).map(([p, s]) => p + s)
    const base58 = fc.uint8Array({ maxLength: 50 }).map((b) => base58btc.baseEncode(b))
    fc.assert(fc.property(fc.oneof(prefixed, base58, fc.string({ maxLength: 200 })), (text) => {
      try {
        const id = PeerId.parse(text)
        // whatever parses, prints back to something that parses to the same peer id
        expect(PeerId.parse(id.toString()).equals(id)).toBe(true)
      } catch (e) {
        if (!(e instanceof UsageError) || !e.code.startsWith('peer-id/')) throw e
      }
    }), { numRuns: 1000 })
  })

  test('peer-id imports no crypto library (sha2-256 without a provider is core/crypto/sha256.ts) and raises through errors.ts', () => {
    for (const f of readdirSync(new URL('../src/peer-id/', import.meta.url))) {
      const src = readFileSync(new URL(`../src/peer-id/${f}`, import.meta.url), 'utf8')
      expect(src, f).not.toMatch(/from '@noble\//)
      expect(src, f).not.toMatch(/import \{[^}]*\bfail\b[^}]*\} from '\.\/keys\.js'/)
    }
  })

  test('equals: a string that is not a peer id is not equal', () => {
    const id = privateKeyFromSeed(new Uint8Array(32), nobleCrypto).toPeerId()
    expect(id.equals('not a peer id')).toBe(false)
    expect(id.equals(id.toCID())).toBe(true)
    expect(JSON.stringify({ id })).toBe(`{"id":"${id.toString()}"}`)
  })
})
