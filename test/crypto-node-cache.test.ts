/**
 * nodeCrypto's public KeyObject cache is bounded (src/io/crypto-node.ts): a remote's Ed25519 key,
 * verified once per handshake, used to stay cached as long as its bytes lived (one OpenSSL key,
 * ~2 KiB, per connected peer). Verifying and DH stay correct across evictions.
 */
import { describe, expect, it } from 'vitest'
import { cachedPublicKeys, nodeCrypto } from '../src/io/crypto-node.js'

describe('nodeCrypto public key cache', () => {
  it('2,000 live peers keys: at most 1,024 cached, and every verification is right', () => {
    const msg = new TextEncoder().encode('handshake payload')
    const peers = Array.from({ length: 2000 }, () => {
      const seed = nodeCrypto.randomBytes(32)
      return { pub: nodeCrypto.ed25519PublicKey(seed), sig: nodeCrypto.ed25519Sign(seed, msg) }
    })
    // every peer stays alive (as a connected peer's PublicKey does)
    for (const p of peers) expect(nodeCrypto.ed25519Verify(p.pub, msg, p.sig)).toBe(true)
    expect(cachedPublicKeys()).toBeLessThanOrEqual(1024)
    // the first ones were evicted: re-imported, still right; a wrong signature still fails
    expect(nodeCrypto.ed25519Verify(peers[0]!.pub, msg, peers[0]!.sig)).toBe(true)
    expect(nodeCrypto.ed25519Verify(peers[0]!.pub, msg, peers[1]!.sig)).toBe(false)
    // a key whose array was changed in place is not confused with its old bytes
    const p = peers[5]!
    const pub = p.pub.slice()
    expect(nodeCrypto.ed25519Verify(pub, msg, p.sig)).toBe(true)
    pub[0] = pub[0]! ^ 1
    expect(nodeCrypto.ed25519Verify(pub, msg, p.sig)).toBe(false)
  })

  it('X25519 shared secrets agree both ways through the cache', () => {
    for (let i = 0; i < 50; i++) {
      const a = nodeCrypto.randomBytes(32)
      const b = nodeCrypto.randomBytes(32)
      const A = nodeCrypto.x25519PublicKey(a)
      const B = nodeCrypto.x25519PublicKey(b)
      expect(nodeCrypto.x25519SharedSecret(a, B)).toEqual(nodeCrypto.x25519SharedSecret(b, A))
      expect(nodeCrypto.x25519SharedSecret(a, B)).toEqual(nodeCrypto.x25519SharedSecret(b, A))
    }
    expect(cachedPublicKeys('X25519')).toBeLessThanOrEqual(64)
    expect(cachedPublicKeys('Ed25519')).toBeLessThanOrEqual(1024)
  })

  it('a burst of handshakes (X25519 keys) does not push out the Ed25519 keys', () => {
    const msg = new TextEncoder().encode('gossip')
    const authors = Array.from({ length: 100 }, () => {
      const seed = nodeCrypto.randomBytes(32)
      return { pub: nodeCrypto.ed25519PublicKey(seed), sig: nodeCrypto.ed25519Sign(seed, msg) }
    })
    for (const a of authors) expect(nodeCrypto.ed25519Verify(a.pub, msg, a.sig)).toBe(true)
    const ed = cachedPublicKeys('Ed25519')
    expect(ed).toBeGreaterThanOrEqual(100)
    const mine = nodeCrypto.randomBytes(32)
    for (let i = 0; i < 2000; i++) nodeCrypto.x25519SharedSecret(mine, nodeCrypto.x25519PublicKey(nodeCrypto.randomBytes(32)))
    expect(cachedPublicKeys('X25519')).toBeLessThanOrEqual(64)
    expect(cachedPublicKeys('Ed25519')).toBe(ed)
  })
})
