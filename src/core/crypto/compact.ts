/**
 * `compactCrypto`: the browser crypto provider, weft's own small pure-JS code (sha2.ts, chacha.ts,
 * curve25519.ts) in place of @noble/* (about 20 KB gzip less in browser-minimal: bench/README.md,
 * "Budgets"). Same contract and outputs as `nobleCrypto` and `nodeCrypto`
 * (test/crypto-providers.test.ts, RFC vectors in test/crypto-compact.test.ts); slower on curve
 * operations (BigInt, no tables), which a browser does a handful of per connection.
 * spec/browser.md says what each browser provides and why this is not WebCrypto (yet).
 */
import type { CryptoProvider } from './provider.js'
import { randomBytes } from './random.js'
import { hkdfSha256, hmacSha256, sha256 } from './sha2.js'
import { chachaOpenInto, chachaSealInto } from './chacha.js'
import { ed25519PublicKey, ed25519Sign, ed25519Verify, x25519, x25519PublicKey } from './curve25519.js'

/**
 * weft's compact pure-JS CryptoProvider, the default of `weft/browser`: SHA-256, HMAC, HKDF,
 * ChaCha20-Poly1305, X25519 and Ed25519 written for size rather than speed (about 20 KB gzip less
 * than `nobleCrypto`). It verifies Ed25519 signatures only: a peer with an RSA, Secp256k1 or ECDSA key
 * fails the handshake (`noise/invalid-signature`: a signature we cannot check is not valid);
 * `nobleCryptoFull` accepts Secp256k1 and ECDSA.
 * @example
 * ```ts
 * import { createNode, compactCrypto } from 'weft/browser'
 * const node = await createNode({ crypto: compactCrypto })
 * ```
 */
export const compactCrypto: CryptoProvider = {
  name: 'compact',
  randomBytes,
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmacSha256(key, data),
  hkdfSha256,
  x25519PublicKey,
  x25519SharedSecret: x25519,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify: (pub, msg, sig) => {
    try {
      return ed25519Verify(pub, msg, sig)
    } catch {
      return false
    }
  },
  chachaSeal: (key, nonce, pt, ad) => {
    const out = new Uint8Array(pt.length + 16)
    chachaSealInto(key, nonce, pt, ad, out, 0)
    return out
  },
  chachaOpen: (key, nonce, ct, ad) => {
    if (ct.length < 16) return undefined
    const out = new Uint8Array(ct.length - 16)
    return chachaOpenInto(key, nonce, ct, ad, out, 0) ? out : undefined
  },
  chachaSealInto,
  chachaOpenInto,
}
