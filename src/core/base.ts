/**
 * Base encodings of the multibase table (multiformats/multibase, multibase.csv), the few weft uses:
 * base16, base32, base36, base58btc, base64 and base64url, bare (no prefix character) or as
 * multibase text (a one-character prefix naming the base, then the data).
 *
 * Two families, as the multibase spec describes them:
 *   - RFC 4648 bases (base16, base32, base64*): the bytes as a bit string cut into fixed-width
 *     characters, most significant bit first; the last character is zero-padded on the right and
 *     optionally followed by `=` up to a whole number of bytes.
 *   - "base-x" bases (base36, base58btc): the bytes read as one big-endian number written in the
 *     base, each leading zero byte written as one leading zero digit (the alphabet's first character).
 *
 * Decoding matches the multiformats JS library (which weft used before): every trailing `=` is
 * dropped, leftover bits must be fewer than one character and all zero, and the bases the multibase
 * table lists as case-insensitive (base16, base32, base36) accept both cases of ASCII letters. Any
 * other character, non-ASCII included, makes the text invalid. Decoders return `undefined` for
 * invalid text; callers raise their own ProtocolError. Base-x costs time quadratic in the length:
 * callers bound the text first.
 */

export const BASE16 = '0123456789abcdef'
export const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
export const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'
export const BASE58BTC = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
export const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
export const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The value of `text[i]` in `alphabet`, or -1. `fold`: ASCII upper case reads as lower case. */
function digit(text: string, i: number, alphabet: string, fold: boolean): number {
  const c = text.charCodeAt(i)
  return alphabet.indexOf(String.fromCharCode(fold && c >= 65 && c <= 90 ? c + 32 : c))
}

/** RFC 4648 encoding, `bits` (4, 5 or 6) per character; `pad` appends `=` to a whole number of bytes. */
export function rfc4648Encode(bytes: Uint8Array, alphabet: string, bits: number, pad = false): string {
  let out = ''
  let acc = 0
  let n = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    n += 8
    while (n >= bits) {
      n -= bits
      out += alphabet[(acc >> n) & ((1 << bits) - 1)]
    }
  }
  if (n > 0) out += alphabet[(acc << (bits - n)) & ((1 << bits) - 1)]
  while (pad && (out.length * bits) % 8 !== 0) out += '='
  return out
}

export function rfc4648Decode(text: string, alphabet: string, bits: number, fold = false): Uint8Array | undefined {
  let end = text.length
  while (text[end - 1] === '=') end--
  const out = new Uint8Array(((end * bits) / 8) | 0)
  let acc = 0
  let n = 0
  let o = 0
  for (let i = 0; i < end; i++) {
    const v = digit(text, i, alphabet, fold)
    if (v < 0) return undefined
    acc = (acc << bits) | v
    n += bits
    if (n >= 8) {
      n -= 8
      out[o++] = (acc >> n) & 255
    }
  }
  // Fewer leftover bits than one character, all zero: one text per byte string.
  return n >= bits || ((acc << (8 - n)) & 255) !== 0 ? undefined : out
}

/** Base-x encoding (base36, base58btc): a big-endian number, leading zero bytes as leading zero digits. */
export function baseXEncode(bytes: Uint8Array, alphabet: string): string {
  const base = alphabet.length
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  // Digits, least significant first; log(256) / log(base) digits per byte at most.
  const digits = new Uint8Array(Math.ceil(((bytes.length - zeros) * 8) / Math.log2(base)) + 1)
  let used = 0
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i]!
    let j = 0
    for (; j < used || carry > 0; j++) {
      carry += digits[j]! << 8
      digits[j] = carry % base
      carry = (carry / base) | 0
    }
    used = j
  }
  // One flat string: `out += char` per digit would build a V8 cons-string rope (~32 bytes a
  // character, ~1.4 KiB per peer id text, kept as long as the peer id is).
  const chars: string[] = new Array<string>(zeros + used).fill(alphabet[0]!, 0, zeros)
  for (let k = zeros; used > 0; k++) chars[k] = alphabet[digits[--used]!]!
  return chars.join('')
}

export function baseXDecode(text: string, alphabet: string, fold = false): Uint8Array | undefined {
  const base = alphabet.length
  let zeros = 0
  while (text[zeros] === alphabet[0]) zeros++
  const bytes: number[] = [] // least significant first
  for (let i = zeros; i < text.length; i++) {
    let carry = digit(text, i, alphabet, fold)
    if (carry < 0) return undefined
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j]! * base
      bytes[j] = carry & 255
      carry >>= 8
    }
    for (; carry > 0; carry >>= 8) bytes.push(carry & 255)
  }
  const out = new Uint8Array(zeros + bytes.length)
  for (let j = 0; j < bytes.length; j++) out[out.length - 1 - j] = bytes[j]!
  return out
}

/**
 * Decode bare text in the base a multibase prefix names: `f`/`F` base16, `b`/`B` base32, `k`/`K`
 * base36, `z` base58btc, `m`/`M` base64 (unpadded/padded), `u`/`U` base64url. Undefined for another
 * prefix or invalid text. The upper-case prefixes decode as the lower-case ones (both cases accepted).
 */
export function decodeBase(prefix: string, text: string): Uint8Array | undefined {
  switch (prefix) {
    case 'f':
    case 'F':
      return rfc4648Decode(text, BASE16, 4, true)
    case 'b':
    case 'B':
      return rfc4648Decode(text, BASE32, 5, true)
    case 'm':
    case 'M':
      return rfc4648Decode(text, BASE64, 6)
    case 'u':
    case 'U':
      return rfc4648Decode(text, BASE64URL, 6)
    case 'k':
    case 'K':
      return baseXDecode(text, BASE36, true)
    case 'z':
      return baseXDecode(text, BASE58BTC)
    default:
      return undefined
  }
}
