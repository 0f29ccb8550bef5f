/**
 * The node:crypto (OpenSSL) implementation of TlsCrypto (src/core/crypto/tls.ts): AES-128-GCM, the raw
 * header-protection blocks of QUIC, ECDSA P-256. It lives in io/ because it touches a `node:` module.
 */
import * as nc from 'node:crypto'
import type { TlsCrypto } from '../core/crypto/tls.js'
import { allocated, nodeCrypto } from './crypto-node.js'

function plain(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')

function p256Private(d: Uint8Array): nc.KeyObject {
  if (d.length !== 32) throw new TypeError(`expected a 32-byte P-256 private key, got ${d.length}`)
  // OpenSSL derives the public point from d; x and y must still be present and on the curve, so derive them once
  const ecdh = nc.createECDH('prime256v1')
  ecdh.setPrivateKey(d)
  const pub = ecdh.getPublicKey()
  return nc.createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64(d), x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33, 65)) }, format: 'jwk' })
}

function p256Public(q: Uint8Array): nc.KeyObject | undefined {
  if (q.length !== 65 || q[0] !== 4) return undefined
  try {
    return nc.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(q.subarray(1, 33)), y: b64(q.subarray(33, 65)) }, format: 'jwk' })
  } catch {
    return undefined // not a point on the curve
  }
}

/**
 * One AES-128-ECB cipher per header-protection key, reused for every packet: ECB without padding
 * keeps no state between 16-byte blocks, so `update(sample)` on a long-lived cipher is exactly
 * AES(key, sample), and a QUIC connection masks every packet header with the same key. Keyed by the
 * key's array (a connection keeps it for its keys' lifetime) with a copy to detect a mutated array;
 * entries die with the array, so no key outlives its owner here.
 */
const ecbCache = new WeakMap<Uint8Array, { copy: Uint8Array, cipher: nc.Cipher }>()
function ecbCipher(key: Uint8Array): nc.Cipher {
  const hit = ecbCache.get(key)
  if (hit !== undefined && hit.copy.every((b, i) => b === key[i])) return hit.cipher
  const cipher = nc.createCipheriv('aes-128-ecb', key, null)
  cipher.setAutoPadding(false)
  ecbCache.set(key, { copy: key.slice(), cipher })
  return cipher
}

/**
 * One KeyObject per AES-GCM key array, reused for every packet of that key: node:crypto has no way
 * to reuse a GCM context with a new nonce, but a KeyObject spares it importing the raw key each time.
 * Same cache discipline as `ecbCipher` (a copy detects a mutated array; entries die with the array).
 */
const gcmKeyCache = new WeakMap<Uint8Array, { copy: Uint8Array, key: nc.KeyObject }>()
function gcmKey(key: Uint8Array): nc.KeyObject | Uint8Array {
  if (key.length !== 16) return key // node:crypto reports the wrong length
  const hit = gcmKeyCache.get(key)
  if (hit !== undefined && hit.copy.every((b, i) => b === key[i])) return hit.key
  const k = nc.createSecretKey(key)
  gcmKeyCache.set(key, { copy: key.slice(), key: k })
  return k
}

/** TlsCrypto over node:crypto, with `nodeCrypto` as its base provider. */
export const nodeTlsCrypto: TlsCrypto = {
  base: nodeCrypto,
  aes128GcmSeal: (key, nonce, pt, ad) => {
    const c = nc.createCipheriv('aes-128-gcm', gcmKey(key), nonce, { authTagLength: 16 })
    c.setAAD(ad)
    const out = new Uint8Array(pt.length + 16)
    const body = c.update(pt)
    out.set(body, 0)
    out.set(c.final(), body.length)
    out.set(c.getAuthTag(), pt.length)
    return out
  },
  aes128GcmSealInto: (key, nonce, pt, ad, output, offset) => {
    const c = nc.createCipheriv('aes-128-gcm', gcmKey(key), nonce, { authTagLength: 16 })
    c.setAAD(ad)
    const body = c.update(pt) // reads all of pt before output is written: in place is fine
    allocated(body.length)
    output.set(body, offset)
    const fin = c.final()
    if (fin.length > 0) output.set(fin, offset + body.length)
    output.set(c.getAuthTag(), offset + pt.length)
  },
  aes128GcmOpen: (key, nonce, ct, ad) => {
    if (ct.length < 16 || key.length !== 16 || nonce.length !== 12) return undefined
    try {
      const d = nc.createDecipheriv('aes-128-gcm', gcmKey(key), nonce, { authTagLength: 16 })
      d.setAAD(ad)
      d.setAuthTag(ct.subarray(ct.length - 16))
      const body = d.update(ct.subarray(0, ct.length - 16))
      d.final()
      // the scavenge hint (scavengeEvery, crypto-node.ts): TLS records' plaintext is node:crypto's external memory too
      allocated(body.length)
      return new Uint8Array(body.buffer, body.byteOffset, body.length)
    } catch {
      return undefined
    }
  },
  aes128EncryptBlock: (key, block) => {
    if (block.length !== 16) throw new TypeError(`expected a 16-byte block, got ${block.length}`)
    return plain(ecbCipher(key).update(block))
  },
  chacha20Mask: (key, sample) => {
    if (sample.length !== 16) throw new TypeError(`expected a 16-byte sample, got ${sample.length}`)
    // OpenSSL's chacha20 IV is exactly RFC 9001's sample layout: 4-byte little-endian counter || 12-byte nonce
    const c = nc.createCipheriv('chacha20', key, sample)
    return plain(c.update(new Uint8Array(5)))
  },
  p256Generate: () => {
    const ecdh = nc.createECDH('prime256v1')
    ecdh.generateKeys()
    let d = plain(ecdh.getPrivateKey())
    if (d.length < 32) { const p = new Uint8Array(32); p.set(d, 32 - d.length); d = p } // leading zero bytes
    return { privateKey: d, publicKey: plain(ecdh.getPublicKey()) }
  },
  p256Sign: (d, msg) => plain(nc.sign('sha256', msg, p256Private(d))),
  p256Verify: (q, msg, sig) => {
    const key = p256Public(q)
    if (key === undefined) return false
    try {
      return nc.verify('sha256', msg, key, sig)
    } catch {
      return false
    }
  },
}
