/**
 * The crypto providers agree (foundation requirement, ARCHITECTURE.md §6): nobleCrypto (pure JS) and
 * nodeCrypto (OpenSSL) give identical outputs on random inputs and accept each other's outputs; tampered
 * signatures and ciphertexts fail on both. verifyOther: nodeCrypto and nobleCryptoFull agree on
 * Secp256k1 and ECDSA signatures made with @noble/curves.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p256, p384 } from '@noble/curves/nist.js'
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concat, fromHex, toHex } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nobleCryptoFull } from '../src/core/crypto/noble-full.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto'

const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const data = fc.uint8Array({ maxLength: 300 })
const PAIRS: Array<[CryptoProvider, CryptoProvider]> = [[nobleCrypto, nodeCrypto], [nodeCrypto, nobleCrypto]]
const RUNS = { numRuns: 60 }
/** pure-JS curve operations cost milliseconds each: fewer runs keep the suite fast */
const CURVE_RUNS = { numRuns: 25 }

/** Flip one bit of a copy of `b` at a position chosen by `at`. */
function flip(b: Uint8Array, at: number, bit: number): Uint8Array {
  const out = b.slice()
  out[at % out.length]! ^= 1 << bit
  return out
}

/** Call `f`; the outcome as a comparable value (its hex, or 'throws'). */
function outcome(f: () => Uint8Array): string {
  try {
    return toHex(f())
  } catch {
    return 'throws'
  }
}

describe('nobleCrypto and nodeCrypto agree on random inputs', () => {
  test('sha256, hmacSha256, hkdfSha256', () => {
    fc.assert(fc.property(data, data, data, fc.integer({ min: 1, max: 255 * 32 }), (a, b, c, len) => {
      expect(toHex(nodeCrypto.sha256(a))).toBe(toHex(nobleCrypto.sha256(a)))
      expect(toHex(nodeCrypto.hmacSha256(a, b))).toBe(toHex(nobleCrypto.hmacSha256(a, b)))
      expect(toHex(nodeCrypto.hkdfSha256(a, b, c, len))).toBe(toHex(nobleCrypto.hkdfSha256(a, b, c, len)))
    }), RUNS)
  })

  test('x25519 public key and shared secret', () => {
    fc.assert(fc.property(bytes(32), bytes(32), bytes(32), (a, b, randomPublic) => {
      const pa = nodeCrypto.x25519PublicKey(a)
      const pb = nobleCrypto.x25519PublicKey(b)
      expect(toHex(pa)).toBe(toHex(nobleCrypto.x25519PublicKey(a)))
      expect(toHex(pb)).toBe(toHex(nodeCrypto.x25519PublicKey(b)))
      const s1 = nodeCrypto.x25519SharedSecret(a, pb)
      expect(toHex(s1)).toBe(toHex(nobleCrypto.x25519SharedSecret(b, pa)))
      expect(toHex(s1)).toBe(toHex(nobleCrypto.x25519SharedSecret(a, pb)))
      // any 32 bytes as a public key: same secret, or both refuse
      expect(outcome(() => nodeCrypto.x25519SharedSecret(a, randomPublic))).toBe(outcome(() => nobleCrypto.x25519SharedSecret(a, randomPublic)))
    }), CURVE_RUNS)
  })

  test('x25519: a low-order public key is refused by both', () => {
    for (const p of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      expect(() => nodeCrypto.x25519SharedSecret(new Uint8Array(32).fill(9), p)).toThrow()
      expect(() => nobleCrypto.x25519SharedSecret(new Uint8Array(32).fill(9), p)).toThrow()
    }
  })

  test('ed25519 public key and (deterministic) signatures are equal; each verifies the other', () => {
    fc.assert(fc.property(bytes(32), data, fc.nat(), fc.nat(7), (seed, msg, at, bit) => {
      const pub = nobleCrypto.ed25519PublicKey(seed)
      expect(toHex(nodeCrypto.ed25519PublicKey(seed))).toBe(toHex(pub))
      const sig = nobleCrypto.ed25519Sign(seed, msg)
      expect(toHex(nodeCrypto.ed25519Sign(seed, msg))).toBe(toHex(sig))
      for (const [signer, verifier] of PAIRS) {
        const s = signer.ed25519Sign(seed, msg)
        expect(verifier.ed25519Verify(pub, msg, s)).toBe(true)
        expect(verifier.ed25519Verify(pub, msg, flip(s, at, bit))).toBe(false)
        expect(verifier.ed25519Verify(pub, concat([msg, Uint8Array.of(0)]), s)).toBe(false)
      }
    }), CURVE_RUNS)
  })

  test('ed25519Verify agrees on garbage keys and signatures (false, never a throw)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 33 }), data, fc.uint8Array({ maxLength: 65 }), (pub, msg, sig) => {
      const a = nodeCrypto.ed25519Verify(pub, msg, sig)
      expect(nobleCrypto.ed25519Verify(pub, msg, sig)).toBe(a)
      expect(a).toBe(false)
    }), RUNS)
  })

  test('chacha20-poly1305: equal output; each opens the other; tampering fails on both', () => {
    fc.assert(fc.property(bytes(32), bytes(12), data, fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(7), (key, nonce, pt, ad, at, bit) => {
      const ct = nobleCrypto.chachaSeal(key, nonce, pt, ad)
      expect(ct.length).toBe(pt.length + 16)
      expect(toHex(nodeCrypto.chachaSeal(key, nonce, pt, ad))).toBe(toHex(ct))
      const [body, tag] = nodeCrypto.chachaSealDetached!(key, nonce, pt, ad)
      expect(toHex(concat([body, tag]))).toBe(toHex(ct))
      for (const [sealer, opener] of PAIRS) {
        const c = sealer.chachaSeal(key, nonce, pt, ad)
        expect(toHex(opener.chachaOpen(key, nonce, c, ad)!)).toBe(toHex(pt))
        expect(opener.chachaOpen(key, nonce, flip(c, at, bit), ad)).toBeUndefined()
        expect(opener.chachaOpen(key, nonce, c, concat([ad, Uint8Array.of(1)]))).toBeUndefined()
        expect(opener.chachaOpen(key, nonce, c.subarray(0, c.length - 1), ad)).toBeUndefined()
      }
    }), RUNS)
  })

  test('chachaOpen on short or random ciphertexts: undefined on both', () => {
    fc.assert(fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 40 }), (key, nonce, ct) => {
      expect(nodeCrypto.chachaOpen(key, nonce, ct, new Uint8Array(0))).toBeUndefined()
      expect(nobleCrypto.chachaOpen(key, nonce, ct, new Uint8Array(0))).toBeUndefined()
    }), RUNS)
  })
})

describe('verifyOther: nodeCrypto and nobleCryptoFull agree', () => {
  const SPKI_PREFIX: Record<string, string> = {
    p256: '3059301306072a8648ce3d020106082a8648ce3d030107034200',
    p384: '3076301006072a8648ce3d020106052b81040022036200',
  }

  /** Sign SHA-256(msg) with a noble curve, DER, optionally high-S (both providers accept it). */
  function ecdsaSign(curve: ECDSA, secret: Uint8Array, msg: Uint8Array, lowS: boolean): Uint8Array {
    return curve.sign(sha256(msg), secret, { prehash: false, format: 'der', lowS })
  }

  const cases: Array<[string, ECDSA, 'Secp256k1' | 'ECDSA', (pub: Uint8Array) => Uint8Array]> = [
    ['secp256k1', secp256k1, 'Secp256k1', (pub) => pub],
    ['ECDSA P-256', p256, 'ECDSA', (pub) => concat([fromHex(SPKI_PREFIX['p256']!), pub])],
    ['ECDSA P-384', p384, 'ECDSA', (pub) => concat([fromHex(SPKI_PREFIX['p384']!), pub])],
  ]

  for (const [name, curve, type, keyData] of cases) {
    test(name, () => {
      fc.assert(fc.property(bytes(curve.lengths.seed!), data, fc.boolean(), fc.nat(), fc.nat(7), (seed, msg, lowS, at, bit) => {
        const secret = curve.utils.randomSecretKey(seed)
        const compressed = type === 'Secp256k1'
        const key = keyData(curve.getPublicKey(secret, compressed))
        const sig = ecdsaSign(curve, secret, msg, lowS)
        for (const crypto of [nodeCrypto, nobleCryptoFull]) {
          expect(crypto.verifyOther!(type, key, msg, sig)).toBe(true)
          expect(crypto.verifyOther!(type, key, concat([msg, Uint8Array.of(0)]), sig)).toBe(false)
        }
        const bad = flip(sig, at, bit)
        expect(nobleCryptoFull.verifyOther!(type, key, msg, bad)).toBe(nodeCrypto.verifyOther!(type, key, msg, bad))
        const badKey = flip(key, key.length - 1 - (at % 8), bit)
        expect(nobleCryptoFull.verifyOther!(type, badKey, msg, sig)).toBe(false)
        expect(nodeCrypto.verifyOther!(type, badKey, msg, sig)).toBe(false)
      }), { numRuns: curve === p384 ? 6 : 12 })
    })
  }

  test('garbage keys and signatures: false on both, never a throw; RSA is undefined on noble-full', () => {
    fc.assert(fc.property(fc.constantFrom('Secp256k1' as const, 'ECDSA' as const), fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 80 }), (type, key, sig) => {
      expect(nodeCrypto.verifyOther!(type, key, Uint8Array.of(1), sig)).toBe(false)
      expect(nobleCryptoFull.verifyOther!(type, key, Uint8Array.of(1), sig)).toBe(false)
    }), RUNS)
    expect(nobleCryptoFull.verifyOther!('RSA', new Uint8Array(10), new Uint8Array(0), new Uint8Array(0))).toBeUndefined()
    expect(nodeCrypto.verifyOther!('RSA', new Uint8Array(10), new Uint8Array(0), new Uint8Array(0))).toBe(false)
    expect(nobleCrypto.verifyOther).toBeUndefined()
  })

  test('RSA: 2048-bit keys verify; a 1024-bit key gives false even for a correct signature (go-libp2p bounds)', () => {
    const msg = Uint8Array.of(1, 2, 3)
    for (const [bits, expected] of [[2048, true], [1024, false]] as const) {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits })
      const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))
      const sig = new Uint8Array(nodeSign('sha256', msg, privateKey))
      expect(nodeCrypto.verifyOther!('RSA', spki, msg, sig)).toBe(expected)
    }
  })
})
