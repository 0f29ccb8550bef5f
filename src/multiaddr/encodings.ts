/**
 * Text encodings used inside multiaddr values: multibase, multihash, RFC 3986 percent-encoding,
 * and I2P's base64 alphabet. Base arithmetic comes from `multiformats`; this file only chooses
 * the bases, checks the input alphabet strictly and turns every failure into a ProtocolError.
 */
import { base16, base16upper } from 'multiformats/bases/base16'
import { base32, base32upper } from 'multiformats/bases/base32'
import { base36, base36upper } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64, base64pad, base64url, base64urlpad } from 'multiformats/bases/base64'
import { decode as decodeVarint } from '../core/varint.js'
import { ProtocolError } from '../core/errors.js'
import { utf8 } from '../core/bytes.js'
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
  try {
    return base58btc.baseDecode(text)
  } catch (e) {
    return fail('multiaddr/invalid-base58', undefined, e)
  }
}

export function encodeBase58(bytes: Uint8Array): string {
  return base58btc.baseEncode(bytes)
}

interface Base {
  baseDecode(text: string): Uint8Array
  /** The characters a canonical text uses (rejects the '=' the rfc4648 decoder would skip). */
  re: RegExp
  error: MultiaddrErrorCode
  basex: boolean
}

const MULTIBASES: Record<string, Base> = {
  f: { baseDecode: (t) => base16.baseDecode(t), re: /^[0-9a-f]*$/, error: 'multiaddr/invalid-value', basex: false },
  F: { baseDecode: (t) => base16upper.baseDecode(t), re: /^[0-9A-F]*$/, error: 'multiaddr/invalid-value', basex: false },
  b: { baseDecode: (t) => base32.baseDecode(t), re: /^[a-z2-7]*$/, error: 'multiaddr/invalid-base32', basex: false },
  B: { baseDecode: (t) => base32upper.baseDecode(t), re: /^[A-Z2-7]*$/, error: 'multiaddr/invalid-base32', basex: false },
  k: { baseDecode: (t) => base36.baseDecode(t), re: /^[0-9a-z]*$/, error: 'multiaddr/invalid-value', basex: true },
  K: { baseDecode: (t) => base36upper.baseDecode(t), re: /^[0-9A-Z]*$/, error: 'multiaddr/invalid-value', basex: true },
  z: { baseDecode: (t) => base58btc.baseDecode(t), re: /^[1-9A-HJ-NP-Za-km-z]*$/, error: 'multiaddr/invalid-base58', basex: true },
  m: { baseDecode: (t) => base64.baseDecode(t), re: /^[A-Za-z0-9+/]*$/, error: 'multiaddr/invalid-value', basex: false },
  M: { baseDecode: (t) => base64pad.baseDecode(t), re: /^[A-Za-z0-9+/]*={0,2}$/, error: 'multiaddr/invalid-value', basex: false },
  u: { baseDecode: (t) => base64url.baseDecode(t), re: /^[A-Za-z0-9_-]*$/, error: 'multiaddr/invalid-value', basex: false },
  U: { baseDecode: (t) => base64urlpad.baseDecode(t), re: /^[A-Za-z0-9_-]*={0,2}$/, error: 'multiaddr/invalid-value', basex: false },
}

/** Decode multibase text: a one-character prefix naming the base, then the data in that base. */
export function decodeMultibase(text: string): Uint8Array {
  const base = MULTIBASES[text.charAt(0)]
  if (base === undefined) fail('multiaddr/invalid-value', `unsupported multibase prefix ${JSON.stringify(text.charAt(0))}`)
  const body = text.slice(1)
  if (base.basex && body.length > MAX_BASEX_CHARS) fail('multiaddr/too-large', `multibase text of ${text.length} characters`)
  if (!base.re.test(body)) fail(base.error, 'character outside the multibase alphabet')
  try {
    return base.baseDecode(body)
  } catch (e) {
    return fail(base.error, undefined, e)
  }
}

/** Multibase base64url (prefix `u`), how certhash values are written. */
export function encodeBase64url(bytes: Uint8Array): string {
  return base64url.encode(bytes)
}

/** CIDv1 in base32 (prefix `b`). */
export function encodeBase32Multibase(bytes: Uint8Array): string {
  return base32.encode(bytes)
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

// `ignoreBOM: true` keeps a leading U+FEFF: a value starting with one must print with it, or the
// text would no longer read back as the same bytes.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Strict UTF-8 decode of value bytes; malformed UTF-8 is `multiaddr/invalid-value`. */
export function checkUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes)
  } catch (e) {
    return fail('multiaddr/invalid-value', 'value is not valid UTF-8', e)
  }
}

// I2P's base64 (https://geti2p.net/spec/common-structures): RFC 4648 base64 with `-` and `~`
// in place of `+` and `/`, padded with `=`. multiformats has no base with this alphabet.
const I2P64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~'
const I2P64_INDEX = new Map([...I2P64].map((c, i) => [c, i]))

export function encodeI2pBase64(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = bytes.length - i
    const x = (bytes[i]! << 16) | ((n > 1 ? bytes[i + 1]! : 0) << 8) | (n > 2 ? bytes[i + 2]! : 0)
    out += I2P64[(x >> 18) & 63]! + I2P64[(x >> 12) & 63]!
    out += n > 1 ? I2P64[(x >> 6) & 63]! : '='
    out += n > 2 ? I2P64[x & 63]! : '='
  }
  return out
}

/** Decode I2P base64, padded or not; unused trailing bits must be zero (one text per value). */
export function decodeI2pBase64(text: string): Uint8Array {
  const body = text.replace(/={1,2}$/, '')
  if (body.length % 4 === 1) fail('multiaddr/invalid-value', 'i2p base64 length')
  if (body.length !== text.length && text.length % 4 !== 0) fail('multiaddr/invalid-value', 'i2p base64 padding')
  const out = new Uint8Array(Math.floor((body.length * 6) / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (const c of body) {
    const v = I2P64_INDEX.get(c)
    if (v === undefined) fail('multiaddr/invalid-value', 'character outside the i2p base64 alphabet')
    acc = ((acc << 6) | v) & 0xffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) fail('multiaddr/invalid-value', 'non-zero trailing bits in i2p base64')
  return out
}
