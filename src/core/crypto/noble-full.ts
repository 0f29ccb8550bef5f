/**
 * `nobleCryptoFull`: the pure-JS provider plus signature verification for the peer-ids spec's
 * Secp256k1 and ECDSA key types (@noble/curves). RSA is not offered (verifyOther returns undefined),
 * so a bundle using this provider pays for two Weierstrass curves but no bignum RSA.
 *
 * Kept apart from `nobleCrypto` so Ed25519-only browser bundles stay small: import this module only
 * when the application must verify signatures from peers with those key types.
 *
 * Key encodings (peer-ids spec, "Key Types"): Secp256k1 Data is a 33-byte compressed point; ECDSA Data
 * is a DER SubjectPublicKeyInfo (id-ecPublicKey with curve P-256, P-384 or P-521). Both sign SHA-256 of
 * the message and encode signatures in DER. High-S signatures are accepted, as OpenSSL (nodeCrypto)
 * and go-libp2p accept them.
 *
 * @module weft/crypto/noble-full
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p256, p384, p521 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js'
import type { CryptoProvider, OtherKeyType } from './provider.js'
import { nobleCrypto } from './noble.js'
import { equals } from '../bytes.js'

// DER object identifiers (contents only): id-ecPublicKey and the named curves.
const OID_EC_PUBLIC_KEY = Uint8Array.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]) // 1.2.840.10045.2.1
const CURVES: ReadonlyArray<[Uint8Array, ECDSA]> = [
  [Uint8Array.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]), p256], // 1.2.840.10045.3.1.7
  [Uint8Array.from([0x2b, 0x81, 0x04, 0x00, 0x22]), p384], // 1.3.132.0.34
  [Uint8Array.from([0x2b, 0x81, 0x04, 0x00, 0x23]), p521], // 1.3.132.0.35
]

/** One DER TLV at `at`: tag, contents and the offset after it; undefined when malformed. */
function tlv(b: Uint8Array, at: number): { tag: number; body: Uint8Array; end: number } | undefined {
  if (at + 2 > b.length) return undefined
  const t = b[at]!
  let len = b[at + 1]!
  let off = at + 2
  if (len >= 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 2 || off + n > b.length) return undefined
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + b[off + i]!
    off += n
  }
  if (off + len > b.length) return undefined
  return { tag: t, body: b.subarray(off, off + len), end: off + len }
}

/**
 * Parse `SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID curve }, BIT STRING point }` into the curve and
 * the SEC1 point bytes; undefined for anything else.
 */
function parseEcSpki(spki: Uint8Array): { curve: ECDSA; point: Uint8Array } | undefined {
  const outer = tlv(spki, 0)
  if (outer === undefined || outer.tag !== 0x30 || outer.end !== spki.length) return undefined
  const alg = tlv(outer.body, 0)
  if (alg === undefined || alg.tag !== 0x30) return undefined
  const bits = tlv(outer.body, alg.end)
  if (bits === undefined || bits.tag !== 0x03 || bits.end !== outer.body.length || bits.body[0] !== 0x00) return undefined
  const algOid = tlv(alg.body, 0)
  if (algOid === undefined || algOid.tag !== 0x06 || !equals(algOid.body, OID_EC_PUBLIC_KEY)) return undefined
  const curveOid = tlv(alg.body, algOid.end)
  if (curveOid === undefined || curveOid.tag !== 0x06 || curveOid.end !== alg.body.length) return undefined
  const curve = CURVES.find(([oid]) => equals(oid, curveOid.body))?.[1]
  return curve === undefined ? undefined : { curve, point: bits.body.subarray(1) }
}

/** ECDSA over SHA-256(message), DER signature; false for any malformed input. */
function ecdsaVerify(curve: ECDSA, point: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return curve.verify(signature, sha256(message), point, { prehash: false, format: 'der', lowS: false })
  } catch {
    return false
  }
}

function verifyOther(type: OtherKeyType, key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | undefined {
  switch (type) {
    case 'Secp256k1':
      if (key.length !== 33) return false
      return ecdsaVerify(secp256k1, key, message, signature)
    case 'ECDSA': {
      const parsed = parseEcSpki(key)
      return parsed === undefined ? false : ecdsaVerify(parsed.curve, parsed.point, message, signature)
    }
    default:
      return undefined // RSA: not offered by the pure-JS provider
  }
}

/**
 * `nobleCrypto` plus signature verification for two more libp2p key types (peer-ids spec "Keys"):
 * Secp256k1 and ECDSA P-256/P-384/P-521 (SHA-256, DER signatures). RSA is not offered (use
 * `nodeCrypto` on Node). Import it from `weft/crypto/noble-full` only when you must talk to peers with
 * such keys: it adds two Weierstrass curves to a bundle.
 */
export const nobleCryptoFull: CryptoProvider = { ...nobleCrypto, name: 'noble-full', verifyOther }
