/**
 * Text encodings used inside multiaddr values: multibase, multihash, RFC 3986 percent-encoding,
 * and I2P's base64 alphabet. Base arithmetic comes from src/core/base.ts; this file only chooses
 * the bases, checks the input alphabet strictly and turns every failure into a ProtocolError.
 */
import { BASE32, BASE58BTC, BASE64URL, baseXDecode, baseXEncode, decodeBase, rfc4648Decode, rfc4648Encode } from '../core/base.js'
import { decode as decodeVarint } from '../core/varint.js'
import { ProtocolError } from '../core/errors.js'
import { fromUtf8, utf8 } from '../core/bytes.js'
import { fail, type MultiaddrErrorCode } from './errors.js'

/**
 * Longest base58 / base36 text we decode. Base-x decoding costs time quadratic in the length, so
 * an unbounded value would let a remote (or a dnsaddr record) burn CPU. 1,500 characters hold
 * 1 KiB, the default size limit of a whole multiaddr.
 */
export const MAX_BASEX_CHARS = 1500

const BASE58_RE = /^[1-9A-HJ-NP-Za-km-z]+$/

/** Bare base58btc (no multibase prefix), as peer ids are written. */
export function decodeBase58(text: string): Uint8Array {
  if (text.length > MAX_BASEX_CHARS) fail('multiaddr/too-large', `base58 text of ${text.length} characters`)
  if (!BASE58_RE.test(text)) fail('multiaddr/invalid-base58', 'character outside the base58btc alphabet')
  return baseXDecode(text, BASE58BTC)!
}

export function encodeBase58(bytes: Uint8Array): string {
  return baseXEncode(bytes, BASE58BTC)
}

/**
 * The multibase prefixes accepted, each with the characters a canonical text in that base uses
 * (strictly one case; no `=` where the base has no padding, at most two where it has) and the error
 * code for a text outside them. `k`, `K` and `z` are the base-x bases, whose length is bounded.
 */
const MULTIBASES: Record<string, [re: RegExp, error: MultiaddrErrorCode]> = {
  f: [/^[0-9a-f]*$/, 'multiaddr/invalid-value'],
  F: [/^[0-9A-F]*$/, 'multiaddr/invalid-value'],
  b: [/^[a-z2-7]*$/, 'multiaddr/invalid-base32'],
  B: [/^[A-Z2-7]*$/, 'multiaddr/invalid-base32'],
  k: [/^[0-9a-z]*$/, 'multiaddr/invalid-value'],
  K: [/^[0-9A-Z]*$/, 'multiaddr/invalid-value'],
  z: [/^[1-9A-HJ-NP-Za-km-z]*$/, 'multiaddr/invalid-base58'],
  m: [/^[A-Za-z0-9+/]*$/, 'multiaddr/invalid-value'],
  M: [/^[A-Za-z0-9+/]*={0,2}$/, 'multiaddr/invalid-value'],
  u: [/^[A-Za-z0-9_-]*$/, 'multiaddr/invalid-value'],
  U: [/^[A-Za-z0-9_-]*={0,2}$/, 'multiaddr/invalid-value'],
}

/** Decode multibase text: a one-character prefix naming the base, then the data in that base. */
export function decodeMultibase(text: string): Uint8Array {
  const prefix = text.charAt(0)
  const base = MULTIBASES[prefix]
  if (base === undefined) fail('multiaddr/invalid-value', `unsupported multibase prefix ${JSON.stringify(prefix)}`)
  const body = text.slice(1)
  if ('kKz'.includes(prefix) && body.length > MAX_BASEX_CHARS) fail('multiaddr/too-large', `multibase text of ${text.length} characters`)
  if (!base[0].test(body)) fail(base[1], 'character outside the multibase alphabet')
  return decodeBase(prefix, body) ?? fail(base[1], 'leftover bits in the last character')
}

/** Multibase base64url (prefix `u`), how certhash values are written. */
export function encodeBase64url(bytes: Uint8Array): string {
  return `u${rfc4648Encode(bytes, BASE64URL, 6)}`
}

/** Bare base32 (lower case, no padding), as onion and garlic32 hosts are written. */
export function encodeBase32(bytes: Uint8Array): string {
  return rfc4648Encode(bytes, BASE32, 5)
}

/** Bare base32, upper or lower case; undefined for invalid text. */
export function decodeBase32(text: string): Uint8Array | undefined {
  return rfc4648Decode(text, BASE32, 5, true)
}

/**
 * I2P base32 as go-multiaddr decodes it (garlic32StB): lowercase RFC 4648 alphabet; the text is
 * padded with `=` to a multiple of 8 characters and decoded as padded base32, so padding may be
 * written or left out, a final group of 1, 3 or 6 characters is invalid, and the unused low bits of
 * the last character are dropped (go's decoder does not check them). Undefined for invalid text.
 * Printing (encodeBase32) is unpadded with zero unused bits, so bytes still round-trip.
 */
export function decodeGarlic32(text: string): Uint8Array | undefined {
  const padded = text.padEnd(text.length + ((8 - (text.length % 8)) % 8), '=')
  const body = padded.replace(/=+$/, '')
  if (![0, 1, 3, 4, 6].includes(padded.length - body.length) || !/^[a-z2-7]+$/.test(body)) return undefined
  // clear the unused low bits of the last character, which the strict decoder would refuse
  const last = BASE32[BASE32.indexOf(body.slice(-1)) & ~((1 << ((body.length * 5) % 8)) - 1)]
  return rfc4648Decode(body.slice(0, -1) + last, BASE32, 5)
}

/** CIDv1 in base32 (prefix `b`). */
export function encodeBase32Multibase(bytes: Uint8Array): string {
  return `b${encodeBase32(bytes)}`
}

/**
 * Check that `bytes` is exactly one multihash: `<hash-code varint><digest-length varint><digest>`.
 * `invalid` is the code for a structural failure; digest bytes beyond the declared length are
 * `multiaddr/trailing-bytes`.
 */
export function checkMultihash(bytes: Uint8Array, invalid: MultiaddrErrorCode): void {
  try {
    const code = decodeVarint(bytes, 0)!
    const len = decodeVarint(bytes, code.bytes)!
    const end = code.bytes + len.bytes + len.value
    if (end > bytes.length) fail(invalid, 'multihash digest shorter than its declared length')
    if (end < bytes.length) fail('multiaddr/trailing-bytes', 'bytes after the multihash digest')
  } catch (e) {
    if (e instanceof ProtocolError && e.protocol === 'multiaddr') throw e
    fail(invalid, 'malformed multihash varint', e)
  }
}

// RFC 3986 `pchar` minus pct-encoded: unreserved / sub-delims / ":" / "@". Everything else is escaped.
const PCHAR = new Uint8Array(128)
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@") PCHAR[c.charCodeAt(0)] = 1
const HEX_UPPER = '0123456789ABCDEF'

/** Percent-encode UTF-8 text as one RFC 3986 path segment (`segment-nz`): `/` becomes `%2F`. */
export function percentEncode(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) {
    if (b < 128 && PCHAR[b] === 1) out += String.fromCharCode(b)
    else out += `%${HEX_UPPER[b >> 4]}${HEX_UPPER[b & 15]}`
  }
  return out
}

const PERCENT_RE = /%([0-9a-fA-F]{2})?/g

/** Decode a percent-encoded segment; the decoded bytes must be UTF-8. */
export function percentDecode(text: string): Uint8Array {
  const parts: Uint8Array[] = []
  let last = 0
  for (const m of text.matchAll(PERCENT_RE)) {
    if (m[1] === undefined) fail('multiaddr/invalid-value', "'%' not followed by two hex digits")
    parts.push(utf8(text.slice(last, m.index)), Uint8Array.of(parseInt(m[1], 16)))
    last = m.index + 3
  }
  parts.push(utf8(text.slice(last)))
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  checkUtf8(out)
  return out
}

/**
 * Strict UTF-8 decode of value bytes; malformed UTF-8 is `multiaddr/invalid-value`. `fromUtf8`
 * keeps a leading U+FEFF (`ignoreBOM`): a value starting with one must print with it, or the text
 * would no longer read back as the same bytes.
 */
export function checkUtf8(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes)
  } catch (e) {
    return fail('multiaddr/invalid-value', 'value is not valid UTF-8', e)
  }
}

// I2P's base64 (https://geti2p.net/spec/common-structures): RFC 4648 base64 with `-` and `~`
// in place of `+` and `/`, padded with `=`. The multibase table has no base with this alphabet.
const I2P64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~'

export function encodeI2pBase64(bytes: Uint8Array): string {
  return rfc4648Encode(bytes, I2P64, 6, true)
}

/** Decode I2P base64, padded or not; unused trailing bits must be zero (one text per value). */
export function decodeI2pBase64(text: string): Uint8Array {
  const body = text.replace(/={1,2}$/, '')
  if (body.length !== text.length && text.length % 4 !== 0) fail('multiaddr/invalid-value', 'i2p base64 padding')
  // `body` has no `=` left that the decoder could drop: a third `=` is outside the alphabet.
  return (body.includes('=') ? undefined : rfc4648Decode(body, I2P64, 6)) ?? fail('multiaddr/invalid-value', 'not i2p base64 (alphabet, length or non-zero trailing bits)')
}
