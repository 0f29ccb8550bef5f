/**
 * Message-level Noise: CipherState / SymmetricState / HandshakeState rules for
 * Noise_XX_25519_ChaChaPoly_SHA256 (nonce format and exhaustion, failures delete the handshake, wrong
 * turns). The byte-exact cacophony vectors are in noise-vectors.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { CipherState, HandshakeState, PROTOCOL_NAME, SymmetricState } from '../src/noise/index.js'

const providers: [string, CryptoProvider][] = [
  ['noble', nobleCrypto],
  ['node', nodeCrypto],
]

describe('HandshakeState rules', () => {
  const crypto = nobleCrypto
  const s = () => crypto.randomBytes(32)

  test('wrong turn and use after completion are UsageErrors', () => {
    const init = new HandshakeState({ crypto, initiator: true, s: s() })
    const resp = new HandshakeState({ crypto, initiator: false, s: s() })
    expect(() => init.readMessage(new Uint8Array(32))).toThrow(UsageError)
    expect(() => resp.writeMessage(new Uint8Array(0))).toThrow(UsageError)
    expect(() => init.split()).toThrow(UsageError)
    resp.readMessage(init.writeMessage(new Uint8Array(0)))
    init.readMessage(resp.writeMessage(new Uint8Array(0)))
    resp.readMessage(init.writeMessage(new Uint8Array(0)))
    expect(() => init.writeMessage(new Uint8Array(0))).toThrow(UsageError)
    expect(() => resp.readMessage(new Uint8Array(64))).toThrow(UsageError)
    const a = init.split()
    const b = resp.split()
    expect(toHex(b.receive.decryptWithAd(new Uint8Array(0), a.send.encryptWithAd(new Uint8Array(0), utf8('x'))))).toBe(toHex(utf8('x')))
  })

  test('truncated e or s is short-message', () => {
    const resp = new HandshakeState({ crypto, initiator: false, s: s() })
    expect(() => resp.readMessage(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'noise/short-message' }))
    const init = new HandshakeState({ crypto, initiator: true, s: s() })
    const resp2 = new HandshakeState({ crypto, initiator: false, s: s() })
    resp2.readMessage(init.writeMessage(new Uint8Array(0)))
    const m2 = resp2.writeMessage(new Uint8Array(0))
    expect(() => init.readMessage(m2.subarray(0, 32 + 47))).toThrow(expect.objectContaining({ code: 'noise/short-message' }))
  })

  test('a low-order remote ephemeral key is invalid-key', () => {
    const resp = new HandshakeState({ crypto, initiator: false, s: s() })
    resp.readMessage(new Uint8Array(32)) // the all-zero point: every DH with it is zero
    expect(() => resp.writeMessage(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'noise/invalid-key' }))
  })
})

describe('CipherState', () => {
  const crypto = nobleCrypto
  const ad = new Uint8Array(0)

  test('nonce is 4 zero bytes || n little-endian, checked against the raw AEAD', () => {
    const k = crypto.randomBytes(32)
    const cs = new CipherState(crypto, k)
    cs.setNonce(0x0102030405060708n)
    const ct = cs.encryptWithAd(ad, utf8('hi'))
    const nonce = fromHex('000000000807060504030201')
    expect(toHex(ct)).toBe(toHex(crypto.chachaSeal(k, nonce, utf8('hi'), ad)))
    expect(cs.n).toBe(0x0102030405060709n)
    cs.setNonce(0xffffffffn)
    cs.encryptWithAd(ad, utf8(''))
    expect(cs.n).toBe(0x100000000n) // carry into the high half
  })

  test('n = 2^64-1 is reserved: encrypt and decrypt refuse it', () => {
    const k = crypto.randomBytes(32)
    const a = new CipherState(crypto, k)
    const b = new CipherState(crypto, k)
    a.setNonce(2n ** 64n - 2n)
    b.setNonce(2n ** 64n - 2n)
    expect(b.decryptWithAd(ad, a.encryptWithAd(ad, utf8('last')))).toEqual(utf8('last'))
    expect(a.remaining()).toBe(0n)
    expect(() => a.encryptWithAd(ad, utf8('x'))).toThrow(expect.objectContaining({ code: 'noise/nonce-exhausted' }))
    expect(() => a.encryptWithAd(ad, utf8('x'))).toThrow(UsageError)
    let err: unknown
    try {
      b.decryptWithAd(ad, new Uint8Array(17))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ProtocolError)
    expect((err as ProtocolError).code).toBe('noise/nonce-exhausted')
  })

  test('failed decryption does not advance n; empty key passes bytes through', () => {
    const k = crypto.randomBytes(32)
    const a = new CipherState(crypto, k)
    const b = new CipherState(crypto, k)
    const ct = a.encryptWithAd(ad, utf8('abc'))
    const bad = ct.slice()
    bad[0]! ^= 0x80
    expect(() => b.decryptWithAd(ad, bad)).toThrow(expect.objectContaining({ code: 'noise/decrypt-failed' }))
    expect(b.n).toBe(0n)
    expect(b.decryptWithAd(ad, ct)).toEqual(utf8('abc'))
    const empty = new CipherState(crypto)
    expect(empty.hasKey()).toBe(false)
    expect(empty.encryptWithAd(ad, utf8('p'))).toEqual(utf8('p'))
  })

  test('SymmetricState: a name of exactly HASHLEN bytes is used as h directly; a longer one is hashed', () => {
    const ss = new SymmetricState(crypto, utf8(PROTOCOL_NAME))
    expect(utf8(PROTOCOL_NAME).length).toBe(32)
    expect(toHex(ss.h)).toBe(toHex(utf8(PROTOCOL_NAME)))
    expect(toHex(ss.ck)).toBe(toHex(utf8(PROTOCOL_NAME)))
    const long = utf8('Noise_XXpsk3_25519_ChaChaPoly_SHA256')
    expect(toHex(new SymmetricState(crypto, long).h)).toBe(toHex(crypto.sha256(long)))
  })

  test.each(providers)('%s: the Into fast paths agree with chachaSeal / chachaOpen', (_n, c) => {
    const k = c.randomBytes(32)
    const nonce = c.randomBytes(12)
    const pt = c.randomBytes(1000)
    const out = new Uint8Array(1100)
    c.chachaSealInto!(k, nonce, pt, ad, out, 7)
    const sealed = c.chachaSeal(k, nonce, pt, ad)
    expect(toHex(out.subarray(7, 7 + 1016))).toBe(toHex(sealed))
    const back = new Uint8Array(1005)
    expect(c.chachaOpenInto!(k, nonce, sealed, ad, back, 5)).toBe(true)
    expect(toHex(back.subarray(5))).toBe(toHex(pt))
    sealed[3]! ^= 1
    expect(c.chachaOpenInto!(k, nonce, sealed, ad, back, 5)).toBe(false)
    expect(c.chachaOpenInto!(k, nonce, new Uint8Array(15), ad, back, 0)).toBe(false)
  })
})
