/**
 * Unsigned varint, as the multiformats spec (multiformats/unsigned-varint) defines it:
 * little-endian groups of 7 bits, the high bit of each byte set when more bytes follow.
 *
 * Practical maximum: 9 bytes, 63 bits. Only the minimal encoding is valid: a trailing 0x00 group
 * (e.g. `80 00` for zero) is rejected, so every value has exactly one encoding. JavaScript numbers
 * are exact to 2^53 - 1; values above that decode as bigint through `decodeBig`.
 */
import { ProtocolError } from './errors.js'

/**
 * The `ProtocolError('varint', code)` codes: input ended inside a varint, a non-minimal encoding (a trailing `0x00` group), more than 9 bytes, or a value above 2^53 - 1.
 */
export type VarintErrorCode = 'varint/truncated' | 'varint/non-minimal' | 'varint/overlong' | 'varint/too-large'

/** Longest varint accepted, in bytes: 9 bytes carry 63 bits, the multiformats unsigned-varint practical maximum. */
export const VARINT_MAX_BYTES = 9

/**
 * Bytes the varint encoding of `value` takes (1 to 8 for a safe integer). Throws `RangeError` unless `value` is a non-negative safe integer.
 */
export function encodingLength(value: number): number {
  checkValue(value)
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/** Encode `value` (a safe non-negative integer) into `out` at `offset`; returns the new offset. */
export function encodeInto(value: number, out: Uint8Array, offset = 0): number {
  checkValue(value)
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  out[offset++] = value
  return offset
}

/**
 * The minimal unsigned-varint encoding of `value` (e.g. 300 → `ac 02`). Throws `RangeError` unless `value` is a non-negative safe integer.
 */
export function encode(value: number): Uint8Array {
  const out = new Uint8Array(encodingLength(value))
  encodeInto(value, out, 0)
  return out
}

/** A decoded varint and how many bytes it took. */
export interface Decoded {
  /** The decoded value (at most 2^53 - 1). */
  value: number
  /** Number of bytes consumed. */
  bytes: number
}

/**
 * Decode a varint at `offset`. Returns `undefined` when the input ends before the varint does and
 * `allowPartial` is true (streaming use); otherwise a truncated varint is `varint/truncated`.
 */
export function decode(buf: Uint8Array, offset = 0, allowPartial = false): Decoded | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < VARINT_MAX_BYTES; i++) {
    const at = offset + i
    if (at >= buf.length) {
      if (allowPartial) return undefined
      throw new ProtocolError<VarintErrorCode>('varint', 'varint/truncated')
    }
    const b = buf[at]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new ProtocolError<VarintErrorCode>('varint', 'varint/non-minimal')
      if (value > Number.MAX_SAFE_INTEGER) throw new ProtocolError<VarintErrorCode>('varint', 'varint/too-large', 'value exceeds 2^53-1')
      return { value, bytes: i + 1 }
    }
    scale *= 128
  }
  throw new ProtocolError<VarintErrorCode>('varint', 'varint/overlong', `more than ${VARINT_MAX_BYTES} bytes`)
}

/** Decode a whole buffer that must contain exactly one varint. */
export function decodeExact(buf: Uint8Array): number {
  const d = decode(buf, 0)!
  if (d.bytes !== buf.length) throw new ProtocolError<VarintErrorCode>('varint', 'varint/truncated', 'trailing bytes after varint')
  return d.value
}

function checkValue(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint value must be a safe non-negative integer, got ${value}`)
}
