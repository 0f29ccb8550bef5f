/**
 * The pure-JS crypto provider on @noble/*. Browsers
 * get `compactCrypto` (weft's own smaller code, compact.ts) unless they pass this one, whose curve
 * operations are faster (precomputed tables) for about 20 KB gzip more.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import type { CryptoProvider } from './provider.js'
import { randomBytes } from './random.js'

/**
 * The pure-JS CryptoProvider built on the audited `@noble/hashes`, `@noble/ciphers` and
 * `@noble/curves` libraries: runs in every JavaScript engine, faster curve operations than
 * `compactCrypto`, about 20 KB gzip more. Verifies Ed25519 signatures only (see `nobleCryptoFull`).
 * @example
 * ```ts
 * import { createNode, nobleCrypto } from 'weft/browser'
 * const node = await createNode({ crypto: nobleCrypto })
 * ```
 */
export const nobleCrypto: CryptoProvider = {
  name: 'noble',
  randomBytes,
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  x25519PublicKey: (priv) => x25519.getPublicKey(priv),
  x25519SharedSecret: (priv, pub) => x25519.getSharedSecret(priv, pub),
  ed25519PublicKey: (seed) => ed25519.getPublicKey(seed),
  ed25519Sign: (seed, msg) => ed25519.sign(msg, seed),
  ed25519Verify: (pub, msg, sig) => {
    try {
      // zip215: false = RFC 8032 strict encodings, which is what OpenSSL (node:crypto) checks
      return ed25519.verify(sig, msg, pub, { zip215: false })
    } catch {
      return false
    }
  },
  chachaSeal: (key, nonce, pt, ad) => chacha20poly1305(key, nonce, ad).encrypt(pt),
  chachaOpen: (key, nonce, ct, ad) => {
    try {
      return chacha20poly1305(key, nonce, ad).decrypt(ct)
    } catch {
      return undefined
    }
  },
  chachaSealInto: (key, nonce, pt, ad, output, offset) => {
    chacha20poly1305(key, nonce, ad).encrypt(pt, output.subarray(offset, offset + pt.length + 16))
  },
  chachaOpenInto: (key, nonce, ct, ad, output, offset) => {
    if (ct.length < 16) return false
    try {
      chacha20poly1305(key, nonce, ad).decrypt(ct, output.subarray(offset, offset + ct.length - 16))
      return true
    } catch {
      return false
    }
  },
}
