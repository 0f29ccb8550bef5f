/**
 * Message-level Noise: CipherState / SymmetricState / HandshakeState for
 * Noise_XX_25519_ChaChaPoly_SHA256, checked byte-exact against the cacophony vectors, plus the
 * spec rules around them (nonce format and exhaustion, failures delete the handshake, wrong turns).
 */
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { CipherState, HandshakeState, PROTOCOL_NAME, SymmetricState } from '../src/noise/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('noise')
const providers: [string, CryptoProvider][] = [
  ['noble', nobleCrypto],
  ['node', nodeCrypto],
]

interface Cacophony {
  protocol_name: string
  init_prologue: string
  init_static: string
  init_ephemeral: string
  resp_prologue: string
  resp_static: string
  resp_ephemeral: string
  handshake_hash: string
  messages: { payload: string; ciphertext: string }[]
}

describe.each(providers)('cacophony %s', (_name, crypto) => {
  const v = vectors.get('cacophony-Noise_XX_25519_ChaChaPoly_SHA256')
  const c = v.decoded as Cacophony

  test('handshake and transport messages are byte-exact', () => {
    expect(c.protocol_name).toBe(PROTOCOL_NAME)
    const init = new HandshakeState({ crypto, initiator: true, prologue: fromHex(c.init_prologue), s: fromHex(c.init_static), e: fromHex(c.init_ephemeral) })
    const resp = new HandshakeState({ crypto, initiator: false, prologue: fromHex(c.resp_prologue), s: fromHex(c.resp_static), e: fromHex(c.resp_ephemeral) })
    const parties = [init, resp]
    // handshake: message i is written by the initiator when i is even
    for (let i = 0; i < 3; i++) {
      const m = c.messages[i]!
      const writer = parties[i % 2]!
      const reader = parties[(i + 1) % 2]!
      const message = writer.writeMessage(fromHex(m.payload))
      expect(toHex(message)).toBe(m.ciphertext)
      expect(toHex(reader.readMessage(message))).toBe(m.payload)
    }
    expect(init.complete && resp.complete).toBe(true)
    expect(toHex(init.h)).toBe(c.handshake_hash)
    expect(toHex(resp.h)).toBe(c.handshake_hash)
    expect(toHex(init.rs!)).toBe(toHex(crypto.x25519PublicKey(fromHex(c.resp_static))))
    expect(toHex(resp.rs!)).toBe(toHex(crypto.x25519PublicKey(fromHex(c.init_static))))
    // transport: the alternation continues (message 3 is the responder's)
    const ci = init.split()
    const cr = resp.split()
    for (let i = 3; i < c.messages.length; i++) {
      const m = c.messages[i]!
      const [send, receive] = i % 2 === 0 ? [ci.send, cr.receive] : [cr.send, ci.receive]
      const ct = send.encryptWithAd(new Uint8Array(0), fromHex(m.payload))
      expect(toHex(ct)).toBe(m.ciphertext)
      expect(toHex(receive.decryptWithAd(new Uint8Array(0), ct))).toBe(m.payload)
    }
  })

  test('a flipped bit in any handshake message fails with decrypt-failed (or invalid-key) and deletes the state', () => {
    for (let i = 1; i < 3; i++) {
      const init = new HandshakeState({ crypto, initiator: true, s: fromHex(c.init_static), e: fromHex(c.init_ephemeral) })
      const resp = new HandshakeState({ crypto, initiator: false, s: fromHex(c.resp_static), e: fromHex(c.resp_ephemeral) })
      const parties = [init, resp]
      for (let j = 0; j < i; j++) parties[(j + 1) % 2]!.readMessage(parties[j % 2]!.writeMessage(new Uint8Array(0)))
      const message = parties[i % 2]!.writeMessage(utf8('payload'))
      message[message.length - 1]! ^= 1
      const reader = parties[(i + 1) % 2]!
      expect(() => reader.readMessage(message)).toThrow(expect.objectContaining({ code: 'noise/decrypt-failed' }))
      expect(() => reader.readMessage(message)).toThrow(UsageError)
    }
  })
})

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
