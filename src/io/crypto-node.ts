/**
 * The node:crypto provider (OpenSSL): native ChaCha20-Poly1305, X25519, Ed25519, SHA-256.
 * Used by the Node entry point (`weft/node`); it lives in io/ because it touches a `node:` module.
 *
 * @module weft/crypto/node
 */
import * as nc from 'node:crypto'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import type { CryptoProvider, OtherKeyType } from '../core/crypto/provider.js'
import { sha256Short } from '../core/crypto/sha256-short.js'

/** Up to this size (two SHA-256 blocks of message) sha256Short is faster than createHash (measured ~1.8x at 100 bytes). */
const SHA256_SHORT_MAX = 119

// DER prefixes that wrap a raw 32-byte key (RFC 8410): PKCS#8 private, SPKI public.
const X25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const X25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
const ED25519_PKCS8 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const ED25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])


/**
 * Turning raw key bytes into an OpenSSL KeyObject is the expensive part of X25519 and Ed25519 in
 * Node, not the operation itself. Measured on the 2-core CI machine: a PKCS#8 DER private key costs
 * about 1,050 us to import, a JWK about 150 us, a DER public key 230 us, a JWK public key 70 us. So:
 * - keys are imported from JWK. A private JWK must carry `x`, but OpenSSL derives the public half
 *   from `d` and ignores `x` (checked: signatures and shared secrets are identical, and the property
 *   test against the noble provider would catch any difference), so a placeholder is passed;
 * - KeyObjects are cached in a WeakMap keyed by the key's Uint8Array: the identity key signs every
 *   handshake and a connection's static and ephemeral keys each take part in two DH operations.
 *   Entries die with the array that holds the key, so no secret outlives its owner in this cache.
 *   A cached entry is used only if the bytes are unchanged (arrays are mutable).
 * - public keys (no secret) are cached in one LRU of PUBLIC_CACHE_MAX entries by their bytes
 *   instead: tied to its array, a remote's Ed25519 key (verified once per handshake) stayed cached
 *   as long as its PublicKey lived (peer store, connection): ~2 KiB of OpenSSL memory per connected
 *   peer, 20 MB at 10,000 (bench/README.md "Scale"). One author's messages (gossipsub) and a
 *   handshake's two DH operations with one remote key still hit it. X25519 keys have an LRU of
 *   their own (X25519_CACHE_MAX): a remote's ephemeral key is used twice and thrown away, and in
 *   one shared LRU a burst of handshakes would push out the Ed25519 keys gossipsub verifies with.
 */
const PLACEHOLDER_X = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
type Curve = 'X25519' | 'Ed25519'
interface CacheEntry { curve: Curve; priv: boolean; copy: Uint8Array; key: nc.KeyObject }
const keyCache = new WeakMap<Uint8Array, CacheEntry[]>()
/** Ed25519 public KeyObjects by base64url bytes, least recently used first. */
const PUBLIC_CACHE_MAX = 1024
/** X25519 public KeyObjects (a handshake's remote static and ephemeral keys), least recently used first. */
const X25519_CACHE_MAX = 64
const publicCache: Record<Curve, Map<string, nc.KeyObject>> = { Ed25519: new Map(), X25519: new Map() }
const publicMax: Record<Curve, number> = { Ed25519: PUBLIC_CACHE_MAX, X25519: X25519_CACHE_MAX }

/** Public KeyObjects cached now, of one curve or both (tests: the caches stay bounded). */
export function cachedPublicKeys(curve?: 'X25519' | 'Ed25519'): number {
  return curve !== undefined ? publicCache[curve].size : publicCache.Ed25519.size + publicCache.X25519.size
}

function importPublic(curve: Curve, k: Uint8Array): nc.KeyObject {
  const b64 = Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('base64url')
  const cache = publicCache[curve]
  const hit = cache.get(b64)
  if (hit !== undefined) {
    cache.delete(b64)
    cache.set(b64, hit)
    return hit
  }
  const key = nc.createPublicKey({ key: { kty: 'OKP', crv: curve, x: b64 }, format: 'jwk' })
  cache.set(b64, key)
  if (cache.size > publicMax[curve]) cache.delete(cache.keys().next().value!)
  return key
}

function importKey(curve: Curve, priv: boolean, k: Uint8Array): nc.KeyObject {
  if (k.length !== 32) throw new TypeError(`expected a 32-byte key, got ${k.length}`)
  if (!priv) return importPublic(curve, k)
  const entries = keyCache.get(k)
  const hit = entries?.find((e) => e.curve === curve && e.priv === priv && equal32(e.copy, k))
  if (hit !== undefined) return hit.key
  const b64 = Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('base64url')
  const key = nc.createPrivateKey({ key: { kty: 'OKP', crv: curve, d: b64, x: PLACEHOLDER_X }, format: 'jwk' })
  const entry: CacheEntry = { curve, priv, copy: k.slice(), key }
  if (entries === undefined) keyCache.set(k, [entry])
  else {
    if (entries.length >= 4) entries.shift()
    entries.push(entry)
  }
  return key
}

function equal32(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false
  return true
}

const privKey = (prefix: Uint8Array, k: Uint8Array): nc.KeyObject => importKey(prefix === X25519_PKCS8 ? 'X25519' : 'Ed25519', true, k)
const pubKey = (prefix: Uint8Array, k: Uint8Array): nc.KeyObject => importKey(prefix === X25519_SPKI ? 'X25519' : 'Ed25519', false, k)

/** The raw 32-byte public key. A JWK export is several times cheaper than a DER export. */
function rawPublic(key: nc.KeyObject): Uint8Array {
  const x = key.export({ format: 'jwk' }).x
  if (typeof x !== 'string') throw new TypeError('key has no public part')
  return plain(Buffer.from(x, 'base64url'))
}

/** Copy out of a Node Buffer into a plain Uint8Array (Buffer.slice aliases; weft never hands out Buffers). */
function plain(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

// SubjectPublicKeyInfo prefix for an uncompressed secp256k1 point (id-ecPublicKey, curve 1.3.132.0.10,
// BIT STRING of 66 bytes: 0 unused bits + 65-byte point).
const SECP256K1_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
])

const ECDSA_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])

/**
 * RSA modulus bounds, as go-libp2p enforces them (crypto.MinRsaKeyBits / maxRsaKeyBits). Below 2048 bits a
 * key can be factored by a determined attacker, so a signature under it proves nothing; above 8192 bits each
 * verification costs a remote peer nothing and us milliseconds of CPU.
 */
const RSA_MIN_BITS = 2048
const RSA_MAX_BITS = 8192

/** The peer-ids spec's non-Ed25519 key types: a DER SPKI public key object for OpenSSL. */
function otherPublicKey(type: OtherKeyType, key: Uint8Array): nc.KeyObject {
  if (type === 'Secp256k1') {
    // Data is a 33-byte compressed point; OpenSSL wants SPKI, so decompress (throws on an invalid point)
    if (key.length !== 33) throw new RangeError('Secp256k1 public key must be 33 bytes')
    const point = nc.ECDH.convertKey(key, 'secp256k1', undefined, undefined, 'uncompressed') as Buffer
    const der = Buffer.allocUnsafe(SECP256K1_SPKI_PREFIX.length + point.length)
    der.set(SECP256K1_SPKI_PREFIX, 0)
    der.set(point, SECP256K1_SPKI_PREFIX.length)
    return nc.createPublicKey({ key: der, format: 'der', type: 'spki' })
  }
  const k = nc.createPublicKey({ key: Buffer.from(key.buffer, key.byteOffset, key.byteLength), format: 'der', type: 'spki' })
  const kind = k.asymmetricKeyType
  if (type === 'RSA' ? kind !== 'rsa' : kind !== 'ec') throw new RangeError(`${type} Data holds a ${String(kind)} key`)
  const bits = k.asymmetricKeyDetails?.modulusLength ?? 0
  if (type === 'RSA' && (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)) throw new RangeError(`RSA key of ${bits} bits, outside ${RSA_MIN_BITS}..${RSA_MAX_BITS}`)
  // ECDSA keys are on the NIST curves (what go-libp2p's x509 parser and nobleCryptoFull accept)
  if (type === 'ECDSA' && !ECDSA_CURVES.has(String(k.asymmetricKeyDetails?.namedCurve))) throw new RangeError('ECDSA key on an unsupported curve')
  return k
}

/**
 * RSA (PKCS#1 v1.5), ECDSA (any curve OpenSSL knows; DER signature) and Secp256k1 (DER signature), all
 * over SHA-256 of the message. False for any malformed key or signature, never an exception.
 */
function verifyOther(type: OtherKeyType, key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | undefined {
  if (type !== 'RSA' && type !== 'ECDSA' && type !== 'Secp256k1') return undefined
  try {
    const k = otherPublicKey(type, key)
    return nc.verify('sha256', message, type === 'RSA' ? { key: k, padding: nc.constants.RSA_PKCS1_PADDING } : { key: k, dsaEncoding: 'der' }, signature)
  } catch {
    return false
  }
}

/**
 * Opt-in scavenge hint for bulk transfers (bench/README.md, "The receive path's per-frame buffer").
 * Node 20's cipher `update()` allocates its output natively, one ArrayBuffer per Noise frame, counted
 * by V8 as external memory. V8 11 subtracts external memory allocated since the last Mark-Compact
 * from the old generation's room, so in a process with a small heap those dead buffers start a full
 * Mark-Compact every few MiB, long before a scavenge (which would free them for almost nothing)
 * comes due. `scavengeEvery(n)` runs a minor GC after each `n` bytes that the ChaCha20-Poly1305
 * methods below allocated. Whether a process falls into that pattern depends on its heap when the
 * transfer starts (the same code storms as one bundle and not as dist/, or the other way round);
 * with the hint at 16 MiB it never does: receiving perf server, 512 MiB, interleaved: a storming
 * bundle 0.99-1.07 s CPU / 19-29 Mark-Compacts -> 0.60-0.80 s / 1, a calm dist/ 0.70-0.75 s / 3 ->
 * 0.77-0.79 s / 1 (33 scavenges of ~1 ms instead of 15). It sets V8's `--expose-gc` (process-wide: contexts created
 * afterwards by node:vm see a `gc` function), which is why it is not on by default; `0` turns the
 * hint off again. For long-lived processes that move bulk data (the perf CLI, a relay; the perf CLI
 * uses 8 MiB, measured in src/cli/perf.ts).
 */
let scavenge: ((options: { type: 'minor' }) => void) | undefined
let scavengeBytes = 0
let sinceScavenge = 0

/**
 * Tune the node:crypto provider's buffer recycling: scavenge pooled buffers after every `bytes` processed (0 turns it off). Throws `RangeError` for a negative or non-finite value.
 */
export function scavengeEvery(bytes: number): void {
  if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError('bytes must be a finite number >= 0')
  scavengeBytes = bytes
  sinceScavenge = 0
  if (bytes === 0 || scavenge !== undefined) return
  v8.setFlagsFromString('--expose-gc')
  scavenge = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void
}

/** Count `n` bytes node:crypto allocated; a minor GC when the hint's threshold is reached (also TLS's AES-GCM records, crypto-tls-node.ts). @internal */
export function allocated(n: number): void {
  if (scavengeBytes === 0) return
  sinceScavenge += n
  if (sinceScavenge >= scavengeBytes) {
    sinceScavenge = 0
    scavenge!({ type: 'minor' })
  }
}

/**
 * The CryptoProvider of `weft/node` (import it from `weft/crypto/node`): SHA-256, HMAC, HKDF,
 * ChaCha20-Poly1305, X25519 and Ed25519 from Node's `node:crypto` (OpenSSL), the fastest choice on
 * Node. Verifies Ed25519 signatures, and RSA, Secp256k1 and ECDSA ones too.
 */
export const nodeCrypto: CryptoProvider = {
  name: 'node',
  randomBytes: (n) => plain(nc.randomBytes(n)),
  // short inputs (message ids, multihashes): a JS hash beats createHash's per-call overhead below ~150 bytes
  sha256: (data) => (data.length <= SHA256_SHORT_MAX ? sha256Short(data) : plain(nc.createHash('sha256').update(data).digest())),
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
      // Noise transport frames have empty AD: no setAAD call then (one native call less per frame,
      // ~10% of a 128-byte gossipsub frame's open; the tag is the same as with an empty AAD)
      if (ad.length > 0) d.setAAD(ad, { plaintextLength: ct.length - 16 })
      d.setAuthTag(ct.subarray(ct.length - 16))
      const body = d.update(ct.subarray(0, ct.length - 16))
      d.final()
      allocated(body.length)
      // update() returns fresh memory of exactly this size: hand it out as a plain Uint8Array (no
      // copy; weft never hands out Buffers), so a Noise transport frame costs one allocation.
      return new Uint8Array(body.buffer, body.byteOffset, body.length)
    } catch {
      return undefined
    }
  },
  chachaSealInto: (key, nonce, pt, ad, output, offset) => {
    const c = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    if (ad.length > 0) c.setAAD(ad, { plaintextLength: pt.length }) // Noise transport messages have empty AD
    const body = c.update(pt)
    output.set(body, offset)
    allocated(body.length)
    const fin = c.final()
    if (fin.length > 0) output.set(fin, offset + body.length)
    output.set(c.getAuthTag(), offset + pt.length)
  },
  // update() returns fresh memory of exactly the plaintext's size (final() adds nothing for a
  // stream cipher): both are handed out as they are, as plain Uint8Array views.
  chachaSealDetached: (key, nonce, pt, ad) => {
    const c = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    if (ad.length > 0) c.setAAD(ad, { plaintextLength: pt.length })
    const body = c.update(pt)
    allocated(body.length)
    const fin = c.final()
    const tag = c.getAuthTag()
    const ct = fin.length === 0 ? new Uint8Array(body.buffer, body.byteOffset, body.length) : plain(Buffer.concat([body, fin]))
    return [ct, new Uint8Array(tag.buffer, tag.byteOffset, tag.length)]
  },
  chachaOpenInto: (key, nonce, ct, ad, output, offset) => {
    if (ct.length < 16) return false
    try {
      const d = nc.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      if (ad.length > 0) d.setAAD(ad, { plaintextLength: ct.length - 16 })
      d.setAuthTag(ct.subarray(ct.length - 16))
      const body = d.update(ct.subarray(0, ct.length - 16))
      output.set(body, offset)
      allocated(body.length)
      d.final()
      return true
    } catch {
      return false
    }
  },
  verifyOther,
}
