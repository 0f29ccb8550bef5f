/**
 * The HKDF pieces of the TLS 1.3 key schedule (RFC 8446 §7.1) and of QUIC's packet protection
 * keys (RFC 9001 §5.1), over SHA-256 (the hash of both cipher suites weft offers):
 *
 *   HKDF-Extract(salt, IKM)                  = HMAC-SHA256(salt, IKM)            (RFC 5869 §2.2)
 *   HKDF-Expand(PRK, info, L)                = T(1) || T(2) || ... first L bytes (RFC 5869 §2.3)
 *   HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel, Length)
 *     struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; } HkdfLabel
 *   Derive-Secret(Secret, Label, Messages)   = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), 32)
 */
import type { CryptoProvider } from '../core/crypto/provider.js'

/** SHA-256's output length: Hash.length in RFC 8446. */
export const HASH_LENGTH = 32

const encoder = new TextEncoder()

/** HKDF-Extract: an empty or absent salt is HashLen zero bytes (RFC 5869 §2.2). */
export function hkdfExtract(c: CryptoProvider, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return c.hmacSha256(salt.length === 0 ? new Uint8Array(HASH_LENGTH) : salt, ikm)
}

/** HKDF-Expand, L <= 255 * HashLen. */
export function hkdfExpand(c: CryptoProvider, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_LENGTH) throw new RangeError(`HKDF-Expand length ${length} out of range`)
  const out = new Uint8Array(length)
  let t: Uint8Array = new Uint8Array(0)
  for (let i = 1, done = 0; done < length; i++) {
    const input = new Uint8Array(t.length + info.length + 1)
    input.set(t, 0)
    input.set(info, t.length)
    input[input.length - 1] = i
    t = c.hmacSha256(prk, input)
    out.set(t.subarray(0, Math.min(t.length, length - done)), done)
    done += t.length
  }
  return out
}

/** HKDF-Expand-Label with the "tls13 " prefix (QUIC uses it too, with labels such as "quic key"). */
export function hkdfExpandLabel(c: CryptoProvider, secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const full = encoder.encode('tls13 ' + label)
  if (full.length > 255 || context.length > 255) throw new RangeError('HKDF-Expand-Label: label or context too long')
  const info = new Uint8Array(2 + 1 + full.length + 1 + context.length)
  info[0] = length >> 8
  info[1] = length & 0xff
  info[2] = full.length
  info.set(full, 3)
  info[3 + full.length] = context.length
  info.set(context, 4 + full.length)
  return hkdfExpand(c, secret, info, length)
}

/** Derive-Secret, given the transcript hash (the caller keeps the running hash). */
export function deriveSecret(c: CryptoProvider, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(c, secret, label, transcriptHash, HASH_LENGTH)
}
