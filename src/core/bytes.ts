/** Small byte helpers. Everything here is allocation-conscious and free of `Buffer`. */

const HEX = /* @__PURE__ */ Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Lowercase hexadecimal text of `bytes`, two characters per byte (`Uint8Array.of(1, 255)` gives `'01ff'`). */
export function toHex(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]
  return s
}

/** Bytes of a hexadecimal string (either case). Throws `TypeError` for an odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('invalid hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/**
 * One new array holding `parts` back to back. `totalLength`, when given, must be the sum of their lengths (it saves a pass).
 */
export function concat(parts: readonly Uint8Array[], totalLength?: number): Uint8Array {
  const len = totalLength ?? parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(len)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** True when `a` and `b` hold the same bytes. Not constant-time: never use it to compare secrets or MACs. */
export function equals(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic comparison, for deterministic sorting of byte strings. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The UTF-8 encoding of `s` (lone surrogates become U+FFFD, as `TextEncoder` does). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s)
}

/** Strict UTF-8 decode: throws TypeError on malformed input (callers turn it into ProtocolError). */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b)
}

/** A copy that owns its memory (cores never keep references to caller buffers). */
export function copy(b: Uint8Array): Uint8Array {
  return b.slice()
}
