/**
 * compactCrypto (src/core/crypto/compact.ts, weft's own SHA-2, HMAC, HKDF, ChaCha20-Poly1305,
 * X25519, Ed25519 for browsers): the standards' known-answer vectors (spec/vectors/crypto.json) on
 * every provider, and agreement with nodeCrypto (OpenSSL) on random inputs, block boundaries, the
 * `*Into` offsets, tampering and malformed keys and signatures.
 */
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { concat, fromHex, toHex } from '../src/core/bytes.js'
import { compactCrypto } from '../src/core/crypto/compact.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { sha512 } from '../src/core/crypto/sha2.js'
import { x25519 } from '../src/core/crypto/curve25519.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('crypto')
const PROVIDERS: CryptoProvider[] = [compactCrypto, nobleCrypto, nodeCrypto]
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const data = fc.uint8Array({ maxLength: 300 })
const L = 2n ** 252n + 27742317777372353535851937790883648493n

describe('known-answer vectors (spec/vectors/crypto.json)', () => {
  for (const v of vectors.all()) {
    test(v.id, () => {
      const d = v.decoded as Record<string, string>
      const x = (k: string): Uint8Array => fromHex(d[k]!)
      for (const c of PROVIDERS) {
        switch (d['alg']) {
          case 'sha256': expect(toHex(c.sha256(x('input'))), c.name).toBe(d['output']); break
          case 'sha512': expect(toHex(sha512(x('input')))).toBe(d['output']); break
          case 'hmac-sha256': expect(toHex(c.hmacSha256(x('key'), x('input'))), c.name).toBe(d['output']); break
          case 'hkdf-sha256': expect(toHex(c.hkdfSha256(x('ikm'), x('salt'), x('info'), Number(d['length']))), c.name).toBe(d['output']); break
          case 'chacha20poly1305':
            expect(toHex(c.chachaSeal(x('key'), x('nonce'), x('input'), x('ad'))), c.name).toBe(d['output'])
            expect(toHex(c.chachaOpen(x('key'), x('nonce'), x('output'), x('ad'))!), c.name).toBe(d['input'])
            break
          case 'x25519': expect(toHex(x25519(x('scalar'), x('u')))).toBe(d['output']); break
          case 'x25519-dh':
            expect(toHex(c.x25519PublicKey(x('alicePrivate'))), c.name).toBe(d['alicePublic'])
            expect(toHex(c.x25519PublicKey(x('bobPrivate'))), c.name).toBe(d['bobPublic'])
            expect(toHex(c.x25519SharedSecret(x('alicePrivate'), x('bobPublic'))), c.name).toBe(d['output'])
            expect(toHex(c.x25519SharedSecret(x('bobPrivate'), x('alicePublic'))), c.name).toBe(d['output'])
            break
          case 'ed25519':
            expect(toHex(c.ed25519PublicKey(x('seed'))), c.name).toBe(d['publicKey'])
            expect(toHex(c.ed25519Sign(x('seed'), x('input'))), c.name).toBe(d['output'])
            expect(c.ed25519Verify(x('publicKey'), x('input'), x('output')), c.name).toBe(true)
            break
          default: throw new Error(`unknown alg ${d['alg']}`)
        }
      }
    })
  }
})

describe('compactCrypto and nodeCrypto agree', () => {
  test('sha256 and sha512 around block boundaries', () => {
    for (let n = 0; n <= 260; n++) {
      const m = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)
      expect(toHex(compactCrypto.sha256(m))).toBe(toHex(nodeCrypto.sha256(m)))
      expect(toHex(sha512(m))).toBe(createHash('sha512').update(m).digest('hex'))
    }
  })

  test('sha256, hmacSha256 (keys over 64 bytes too), hkdfSha256 on random inputs', () => {
    fc.assert(fc.property(data, data, data, fc.integer({ min: 0, max: 255 * 32 }), (a, b, c, len) => {
      expect(toHex(compactCrypto.sha256(a))).toBe(toHex(nodeCrypto.sha256(a)))
      expect(toHex(compactCrypto.hmacSha256(a, b))).toBe(toHex(nodeCrypto.hmacSha256(a, b)))
      if (len > 0) expect(toHex(compactCrypto.hkdfSha256(a, b, c, len))).toBe(toHex(nodeCrypto.hkdfSha256(a, b, c, len)))
    }), { numRuns: 60 })
    expect(() => compactCrypto.hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1)).toThrow(RangeError)
  })

  test('x25519: keys and secrets equal; any 32 bytes as a public key: same secret or both refuse', () => {
    fc.assert(fc.property(bytes(32), bytes(32), bytes(32), (a, b, anyPublic) => {
      const pb = nodeCrypto.x25519PublicKey(b)
      expect(toHex(compactCrypto.x25519PublicKey(b))).toBe(toHex(pb))
      expect(toHex(compactCrypto.x25519SharedSecret(a, pb))).toBe(toHex(nodeCrypto.x25519SharedSecret(a, pb)))
      const outcome = (c: CryptoProvider): string => { try { return toHex(c.x25519SharedSecret(a, anyPublic)) } catch { return 'throws' } }
      expect(outcome(compactCrypto)).toBe(outcome(nodeCrypto))
    }), { numRuns: 15 })
    for (const p of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) expect(() => compactCrypto.x25519SharedSecret(new Uint8Array(32).fill(9), p)).toThrow()
  })

  test('ed25519: equal keys and signatures; each verifies the other; tampering fails', () => {
    fc.assert(fc.property(bytes(32), data, fc.nat(63), fc.nat(7), (seed, msg, at, bit) => {
      const pub = compactCrypto.ed25519PublicKey(seed)
      expect(toHex(pub)).toBe(toHex(nodeCrypto.ed25519PublicKey(seed)))
      const sig = compactCrypto.ed25519Sign(seed, msg)
      expect(toHex(sig)).toBe(toHex(nodeCrypto.ed25519Sign(seed, msg)))
      expect(compactCrypto.ed25519Verify(pub, msg, sig)).toBe(true)
      const bad = sig.slice()
      bad[at]! ^= 1 << bit
      expect(compactCrypto.ed25519Verify(pub, msg, bad)).toBe(nodeCrypto.ed25519Verify(pub, msg, bad))
      expect(compactCrypto.ed25519Verify(pub, concat([msg, Uint8Array.of(0)]), sig)).toBe(false)
    }), { numRuns: 10 })
  })

  test('ed25519Sign with alternating keys (its cache of the last key\'s public key) and a seed mutated in place', () => {
    const a = new Uint8Array(32).fill(1)
    const b = new Uint8Array(32).fill(2)
    const msg = Uint8Array.of(9)
    for (const seed of [a, b, a, a, b]) expect(toHex(compactCrypto.ed25519Sign(seed, msg))).toBe(toHex(nodeCrypto.ed25519Sign(seed, msg)))
    a[0] = 7 // same array, new key
    expect(toHex(compactCrypto.ed25519Sign(a, msg))).toBe(toHex(nodeCrypto.ed25519Sign(a, msg)))
  })

  test('ed25519Verify: S + L (non-canonical S), garbage keys and signatures are false, never a throw', () => {
    const seed = new Uint8Array(32).fill(3)
    const msg = Uint8Array.of(1, 2, 3)
    const pub = compactCrypto.ed25519PublicKey(seed)
    const sig = compactCrypto.ed25519Sign(seed, msg)
    let s = sig.subarray(32).reduceRight((n, x) => (n << 8n) | BigInt(x), 0n) + L
    const malleable = sig.slice()
    for (let i = 32; i < 64; i++, s >>= 8n) malleable[i] = Number(s & 0xffn)
    expect(compactCrypto.ed25519Verify(pub, msg, malleable)).toBe(false)
    expect(nodeCrypto.ed25519Verify(pub, msg, malleable)).toBe(false)
    // y = p (a non-canonical encoding of y = 0) as the public key
    const nonCanonical = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')
    expect(compactCrypto.ed25519Verify(nonCanonical, msg, sig)).toBe(false)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 33 }), data, fc.uint8Array({ maxLength: 65 }), (k, m, sg) => {
      expect(compactCrypto.ed25519Verify(k, m, sg)).toBe(nodeCrypto.ed25519Verify(k, m, sg))
    }), { numRuns: 60 })
  })

  test('chacha20-poly1305: equal output at every length to 200; Into forms at offsets; tampering fails', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i * 3)
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => 100 + i)
    for (let n = 0; n <= 200; n++) {
      const pt = Uint8Array.from({ length: n }, (_, i) => i ^ n)
      const ad = pt.subarray(0, n % 37)
      const ct = compactCrypto.chachaSeal(key, nonce, pt, ad)
      expect(toHex(ct)).toBe(toHex(nodeCrypto.chachaSeal(key, nonce, pt, ad)))
      const out = new Uint8Array(n + 16 + 5).fill(0xee)
      compactCrypto.chachaSealInto!(key, nonce, pt, ad, out, 3)
      expect(toHex(out.subarray(3, 3 + n + 16))).toBe(toHex(ct))
      expect([out[0], out[1], out[2], out[n + 19], out[n + 20]]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee])
      const back = new Uint8Array(n + 4)
      expect(compactCrypto.chachaOpenInto!(key, nonce, ct, ad, back, 2)).toBe(true)
      expect(toHex(back.subarray(2, 2 + n))).toBe(toHex(pt))
      const bad = ct.slice()
      bad[n % ct.length]! ^= 0x40
      expect(compactCrypto.chachaOpen(key, nonce, bad, ad)).toBeUndefined()
      expect(compactCrypto.chachaOpen(key, nonce, ct, concat([ad, Uint8Array.of(0)]))).toBeUndefined()
    }
    expect(compactCrypto.chachaOpen(key, nonce, new Uint8Array(15), new Uint8Array(0))).toBeUndefined()
  })

  test('chacha20-poly1305 on random keys, nonces, 64 KiB frames', () => {
    fc.assert(fc.property(bytes(32), bytes(12), fc.uint8Array({ minLength: 65500, maxLength: 65535 }), (key, nonce, pt) => {
      const ct = compactCrypto.chachaSeal(key, nonce, pt, new Uint8Array(0))
      expect(toHex(ct)).toBe(toHex(nodeCrypto.chachaSeal(key, nonce, pt, new Uint8Array(0))))
      expect(toHex(nodeCrypto.chachaOpen(key, nonce, ct, new Uint8Array(0))!)).toBe(toHex(pt))
    }), { numRuns: 4 })
  })

  test('returned arrays are fresh (the provider ownership rule)', () => {
    const key = new Uint8Array(32)
    const nonce = new Uint8Array(12)
    const pt = Uint8Array.of(1, 2, 3)
    const ct = compactCrypto.chachaSeal(key, nonce, pt, pt)
    const a = compactCrypto.chachaOpen(key, nonce, ct, pt)!
    const b = compactCrypto.chachaOpen(key, nonce, ct, pt)!
    expect(a.buffer).not.toBe(b.buffer)
    expect(a.buffer).not.toBe(ct.buffer)
    expect(compactCrypto.sha256(pt).buffer).not.toBe(compactCrypto.sha256(pt).buffer)
  })
})
