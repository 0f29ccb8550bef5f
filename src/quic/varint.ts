/**
 * QUIC's variable-length integers (RFC 9000 §16): the two most significant bits of the first byte
 * give the length (00: 1, 01: 2, 10: 4, 11: 8 bytes), the remaining 6, 14, 30 or 62 bits the value,
 * big-endian. Values are JavaScript numbers: encoding takes 0 ≤ v ≤ 2^53 − 1 (a RangeError above:
 * local misuse), decoding refuses what it cannot represent exactly (see QuicReader). Non-minimal
 * encodings are valid on the wire (§16: "values do not need to be encoded on the minimum number of
 * bytes") and are accepted, except for frame types (§12.4, checked in frames.ts).
 */
import { quicError, type TransportErrorName } from './errors.js'

/** 2^62 − 1, the largest value a varint carries. */
export const MAX_VARINT = 2n ** 62n - 1n

/** The encoded size of `v`: 1, 2, 4 or 8 bytes. */
export function varintSize(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40 && v >= 0) return 1
  if (v < 0x4000 && v >= 0) return 2
  if (v < 0x4000_0000 && v >= 0) return 4
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint ${v} is not an integer in 0..2^53-1`)
  return 8
}

/** Writes `v` at `offset` on exactly `size` bytes (default: the fewest); returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, v: number, size: 1 | 2 | 4 | 8 = varintSize(v)): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint ${v} is not an integer in 0..2^53-1`)
  switch (size) {
    case 1:
      if (v >= 0x40) throw new RangeError(`varint ${v} does not fit 1 byte`)
      buf[offset] = v
      return offset + 1
    case 2:
      if (v >= 0x4000) throw new RangeError(`varint ${v} does not fit 2 bytes`)
      buf[offset] = 0x40 | (v >> 8)
      buf[offset + 1] = v & 0xff
      return offset + 2
    case 4:
      if (v >= 0x4000_0000) throw new RangeError(`varint ${v} does not fit 4 bytes`)
      buf[offset] = 0x80 | (v >>> 24)
      buf[offset + 1] = (v >>> 16) & 0xff
      buf[offset + 2] = (v >>> 8) & 0xff
      buf[offset + 3] = v & 0xff
      return offset + 4
    default: {
      const hi = Math.floor(v / 0x1_0000_0000)
      const lo = v >>> 0
      buf[offset] = 0xc0 | (hi >>> 24)
      buf[offset + 1] = (hi >>> 16) & 0xff
      buf[offset + 2] = (hi >>> 8) & 0xff
      buf[offset + 3] = hi & 0xff
      buf[offset + 4] = lo >>> 24
      buf[offset + 5] = (lo >>> 16) & 0xff
      buf[offset + 6] = (lo >>> 8) & 0xff
      buf[offset + 7] = lo & 0xff
      return offset + 8
    }
  }
}

/** `v` as a fresh varint (fewest bytes unless `size` is given). */
export function encodeVarint(v: number, size?: 1 | 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(size ?? varintSize(v))
  writeVarint(out, 0, v, size)
  return out
}

/**
 * Reads a varint at `offset` as a bigint (the whole 62-bit range); undefined when `buf` ends first.
 * `next` is the offset after it.
 */
export function readVarintBig(buf: Uint8Array, offset: number): { value: bigint, next: number } | undefined {
  if (offset >= buf.length) return undefined
  const size = 1 << (buf[offset]! >> 6)
  if (offset + size > buf.length) return undefined
  let v = BigInt(buf[offset]! & 0x3f)
  for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(buf[offset + i]!)
  return { value: v, next: offset + size }
}

/**
 * Reads a varint at `offset`: the value, -1 when `buf` ends first (truncated), or -2 when the value
 * is above 2^53 − 1. The offset after it is `offset + (1 << (buf[offset] >> 6))`.
 */
export function peekVarint(buf: Uint8Array, offset: number, end = buf.length): number {
  if (offset >= end) return -1
  const b = buf[offset]!
  switch (b >> 6) {
    case 0:
      return b
    case 1:
      return offset + 2 > end ? -1 : ((b & 0x3f) << 8) | buf[offset + 1]!
    case 2:
      return offset + 4 > end ? -1 : ((b & 0x3f) * 0x100_0000) + (buf[offset + 1]! << 16 | buf[offset + 2]! << 8 | buf[offset + 3]!)
    default: {
      if (offset + 8 > end) return -1
      const hi = ((b & 0x3f) * 0x100_0000) + (buf[offset + 1]! << 16 | buf[offset + 2]! << 8 | buf[offset + 3]!)
      if (hi > 0x1f_ffff) return -2 // 2^53 = 2^21 * 2^32
      return hi * 0x1_0000_0000 + ((buf[offset + 4]! << 24 | buf[offset + 5]! << 16 | buf[offset + 6]! << 8 | buf[offset + 7]!) >>> 0)
    }
  }
}

/**
 * A cursor over remote bytes. Every read past `end` and every varint above 2^53 − 1 throws
 * ProtocolError('quic', `code`) (FRAME_ENCODING_ERROR for frames); `saturating()` reads a varint
 * whose meaning is a limit (flow-control credit, stream counts) and caps it at 2^53 − 1 instead.
 */
export class QuicReader {
  pos: number
  readonly end: number
  /** The frame type being decoded, reported as CONNECTION_CLOSE's Frame Type. */
  frameType = 0

  constructor(readonly buf: Uint8Array, pos = 0, end = buf.length, readonly code: TransportErrorName = 'FRAME_ENCODING_ERROR') {
    this.pos = pos
    this.end = end
  }

  get remaining(): number {
    return this.end - this.pos
  }

  fail(message: string, code: TransportErrorName = this.code): never {
    throw quicError(code, message, this.frameType)
  }

  varint(): number {
    const v = peekVarint(this.buf, this.pos, this.end)
    if (v < 0) this.fail(v === -1 ? 'truncated varint' : 'varint above 2^53-1')
    this.pos += 1 << (this.buf[this.pos]! >> 6)
    return v
  }

  /** A varint capped at Number.MAX_SAFE_INTEGER (values that are limits: a larger one means "no limit" here). */
  saturating(): number {
    const v = peekVarint(this.buf, this.pos, this.end)
    if (v === -1) this.fail('truncated varint')
    this.pos += 1 << (this.buf[this.pos]! >> 6)
    return v === -2 ? Number.MAX_SAFE_INTEGER : v
  }

  /** The exact value as a bigint (for fields checked against 2^60 / 2^62 bounds before saturating). */
  big(): bigint {
    const r = readVarintBig(this.buf.subarray(0, this.end), this.pos)
    if (r === undefined) this.fail('truncated varint')
    this.pos = r.next
    return r.value
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('truncated')
    return this.buf[this.pos++]!
  }

  /** `n` bytes as a view into the input (no copy). */
  bytes(n: number): Uint8Array {
    if (n > this.end - this.pos) this.fail(`${n} bytes announced, ${this.end - this.pos} left`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}
