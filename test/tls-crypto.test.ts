import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto as c } from '../src/io/crypto-tls-node.js'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)))
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

describe('nodeTlsCrypto', () => {
  test('AES-128-GCM: NIST GCM test case 4 (key feffe9..., 60-byte plaintext, 20-byte AAD)', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308')
    const iv = hex('cafebabefacedbaddecaf888')
    const pt = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39')
    const ad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2')
    const sealed = c.aes128GcmSeal(key, iv, pt, ad)
    expect(toHex(sealed)).toBe('42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' + '5bc94fbc3221a5db94fae95ae7121a47')
    expect(c.aes128GcmOpen(key, iv, sealed, ad)).toEqual(pt)
    sealed[3] ^= 1
    expect(c.aes128GcmOpen(key, iv, sealed, ad)).toBeUndefined()
    expect(c.aes128GcmOpen(key, iv, new Uint8Array(5), ad)).toBeUndefined()
  })
  test('AES-128-GCM: a key array changed in place is used as changed (the per-key cache notices)', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308')
    const iv = hex('cafebabefacedbaddecaf888')
    const pt = Uint8Array.of(1, 2, 3), ad = Uint8Array.of(9)
    const first = c.aes128GcmSeal(key, iv, pt, ad)
    expect(c.aes128GcmSeal(key, iv, pt, ad)).toEqual(first)
    key[0] ^= 1
    const fresh = c.aes128GcmSeal(key.slice(), iv, pt, ad)
    expect(fresh).not.toEqual(first)
    expect(c.aes128GcmSeal(key, iv, pt, ad)).toEqual(fresh)
    expect(c.aes128GcmOpen(key, iv, first, ad)).toBeUndefined()
    expect(c.aes128GcmOpen(key, iv, fresh, ad)).toEqual(pt)
    const out = new Uint8Array(pt.length + 16)
    c.aes128GcmSealInto!(key, iv, pt, ad, out, 0)
    expect(out).toEqual(fresh)
  })

  test('header protection masks: RFC 9001 A.2 (AES) and A.5 (ChaCha20)', () => {
    // A.2: client Initial hp key and sample
    expect(toHex(c.aes128EncryptBlock(hex('9f50449e04a0e810283a1e9933adedd2'), hex('d1b1c98dd7689fb8ec11d242b123dc9b'))).slice(0, 10)).toBe('437b9aec36')
    // A.5: ChaCha20-Poly1305 short header packet
    expect(toHex(c.chacha20Mask(hex('25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4'), hex('5e5cd55c41f69080575d7999c25a5bfb')))).toBe('aefefe7d03')
  })
  test('ECDSA P-256: sign and verify, tampered and malformed inputs are false', () => {
    const { privateKey, publicKey } = c.p256Generate()
    expect(privateKey.length).toBe(32)
    expect(publicKey.length).toBe(65)
    const msg = new TextEncoder().encode('libp2p-tls-handshake:')
    const sig = c.p256Sign(privateKey, msg)
    expect(c.p256Verify(publicKey, msg, sig)).toBe(true)
    expect(c.p256Verify(publicKey, msg.subarray(1), sig)).toBe(false)
    expect(c.p256Verify(publicKey.subarray(1), msg, sig)).toBe(false)
    const offCurve = publicKey.slice(); offCurve[64] ^= 1
    expect(c.p256Verify(offCurve, msg, sig)).toBe(false)
    expect(c.p256Verify(publicKey, msg, new Uint8Array(3))).toBe(false)
  })
})
