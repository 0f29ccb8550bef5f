/**
 * The node:crypto provider (OpenSSL): native ChaCha20-Poly1305, X25519, Ed25519, SHA-256.
 * Used by the Node entry point (`weft/node`); it lives in io/ because it touches a `node:` module.
 */
import * as nc from 'node:crypto'
import type { CryptoProvider } from '../core/crypto/provider.js'

// DER prefixes that wrap a raw 32-byte key (RFC 8410): PKCS#8 private, SPKI public.
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const X25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const ED25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new TypeError(`expected a 32-byte key, got ${key.length}`)
  const b = Buffer.allocUnsafe(prefix.length + 32)
  b.set(prefix, 0)
  b.set(key, prefix.length)
  return b
}

const privKey = (prefix: Uint8Array, k: Uint8Array): nc.KeyObject => nc.createPrivateKey({ key: der(prefix, k), format: 'der', type: 'pkcs8' })
const pubKey = (prefix: Uint8Array, k: Uint8Array): nc.KeyObject => nc.createPublicKey({ key: der(prefix, k), format: 'der', type: 'spki' })

function rawPublic(key: nc.KeyObject): Uint8Array {
  const d = key.export({ format: 'der', type: 'spki' })
  return plain(d.subarray(d.length - 32))
}

/** Copy out of a Node Buffer into a plain Uint8Array (Buffer.slice aliases; weft never hands out Buffers). */
function plain(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

export const nodeCrypto: CryptoProvider = {
  name: 'node',
  randomBytes: (n) => plain(nc.randomBytes(n)),
  sha256: (data) => plain(nc.createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => plain(nc.createHmac('sha256', key).update(data).digest()),
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(nc.hkdfSync('sha256', ikm, salt, info, length)),
  x25519PublicKey: (priv) => rawPublic(nc.createPublicKey(privKey(X25519_PKCS8, priv))),
  x25519SharedSecret: (priv, pub) => {
    const out = plain(nc.diffieHellman({ privateKey: privKey(X25519_PKCS8, priv), publicKey: pubKey(X25519_SPKI, pub) }))
    if (out.every((b) => b === 0)) throw new Error('x25519: all-zero shared secret')
    return out
  },
  ed25519PublicKey: (seed) => rawPublic(nc.createPublicKey(privKey(ED25519_PKCS8, seed))),
  ed25519Sign: (seed, msg) => plain(nc.sign(null, msg, privKey(ED25519_PKCS8, seed))),
  ed25519Verify: (pub, msg, sig) => {
    if (pub.length !== 32 || sig.length !== 64) return false
    try {
      return nc.verify(null, msg, pubKey(ED25519_SPKI, pub), sig)
    } catch {
      return false
    }
  },
  chachaSeal: (key, nonce, pt, ad) => {
    const c = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    c.setAAD(ad, { plaintextLength: pt.length })
    const out = new Uint8Array(pt.length + 16)
    const body = c.update(pt)
    out.set(body, 0)
    const fin = c.final()
    out.set(fin, body.length)
    out.set(c.getAuthTag(), pt.length)
    return out
  },
  chachaOpen: (key, nonce, ct, ad) => {
    if (ct.length < 16) return undefined
    try {
      const d = nc.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      d.setAAD(ad, { plaintextLength: ct.length - 16 })
      d.setAuthTag(ct.subarray(ct.length - 16))
      const out = new Uint8Array(ct.length - 16)
      const body = d.update(ct.subarray(0, ct.length - 16))
      out.set(body, 0)
      d.final()
      return out
    } catch {
      return undefined
    }
  },
}
