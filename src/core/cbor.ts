/**
 * A small general CBOR codec (RFC 8949), clean room, for request-response's `cbor` codec and any
 * protocol that needs CBOR beyond the IPNS slice in src/kad/cbor.ts. See spec/cbor.md.
 *
 * Values (decoding):
 * - major 0/1 (integers): a `number` when it is a safe integer, else a `bigint`;
 * - major 2 (bytes): `Uint8Array`; major 3 (text): `string` (invalid UTF-8 is an error);
 * - major 4 (array): `CborValue[]`;
 * - major 5 (map): a plain object (null prototype) when every key is a text string, else a `Map`;
 *   duplicate keys are an error (RFC 8949 §5.6: "decoders MAY reject");
 * - major 6 (tag): `CborTag { tag, value }` (no tag is interpreted: bignums stay tag 2/3 of bytes);
 * - major 7: false, true, null, undefined, `CborSimple { value }` for the other simple values, and
 *   half, single and double floats as `number`.
 *
 * Indefinite lengths (byte and text strings in chunks, arrays and maps ended by a break) are DECODED,
 * since RFC 8949 §3.2 makes them well formed and streaming encoders (serde with unsized sequences) emit
 * them, but never ENCODED: the encoder writes the deterministic encoding of §4.2.1 (shortest heads,
 * definite lengths, map keys sorted by their encoded bytes, floats in the shortest of half, single,
 * double that keeps the value; a safe-integer `number` is written as an integer, not a float).
 *
 * Limits (a ProtocolError 'cbor/...' past each, never an unbounded allocation): nesting depth
 * (`maxDepth`, default 64) and items in total (`maxItems`, default 65 536); every length is checked
 * against the bytes actually left before anything is allocated, so the input size bounds the work.
 */
import { ProtocolError } from './errors.js'
import { compare, concat, fromUtf8, utf8 } from './bytes.js'

export type CborValue =
  | number | bigint | string | boolean | null | undefined | Uint8Array
  | CborValue[] | CborMap | Map<CborValue, CborValue> | CborTag | CborSimple

/** A map whose keys are all text strings. */
export interface CborMap { [key: string]: CborValue }

/** Major type 6: a tag number and the value it tags. */
export class CborTag {
  constructor(readonly tag: number | bigint, readonly value: CborValue) {}
}

/** A simple value other than false, true, null and undefined (0-19, 32-255). */
export class CborSimple {
  constructor(readonly value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 255 || (value >= 20 && value < 32)) throw new RangeError(`simple(${value}) cannot be encoded`)
  }
}

export type CborErrorCode =
  | 'cbor/truncated'
  | 'cbor/trailing-bytes'
  | 'cbor/reserved-info'
  | 'cbor/invalid-simple'
  | 'cbor/unexpected-break'
  | 'cbor/bad-chunk'
  | 'cbor/invalid-utf8'
  | 'cbor/duplicate-key'
  | 'cbor/too-deep'
  | 'cbor/too-many-items'

export interface CborDecodeOptions {
  /** Nesting of arrays, maps and tags. Default 64. Stops: deep nesting exhausting the stack. */
  maxDepth?: number
  /** Data items in one message. Default 65 536. Stops: millions of one-byte items each becoming a JS value. */
  maxItems?: number
}

export const DEFAULT_CBOR_MAX_DEPTH = 64
export const DEFAULT_CBOR_MAX_ITEMS = 65_536

const fail = (code: CborErrorCode, m?: string): ProtocolError<CborErrorCode> => new ProtocolError<CborErrorCode>('cbor', code, m)
const BREAK = Symbol('break')
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

// --- encoding -------------------------------------------------------------------------------------

/** The deterministic encoding of `value` (RFC 8949 §4.2.1). TypeError for what CBOR cannot carry. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: Uint8Array[] = []
  encodeItem(out, value, 0)
  return concat(out)
}

function head(major: number, n: number | bigint): Uint8Array {
  const m = major << 5
  const v = BigInt(n)
  if (v < 24n) return Uint8Array.of(m | Number(v))
  if (v < 0x100n) return Uint8Array.of(m | 24, Number(v))
  if (v < 0x10000n) return Uint8Array.of(m | 25, Number(v >> 8n), Number(v & 0xffn))
  const len = v < 0x1_0000_0000n ? 4 : 8
  const b = new Uint8Array(1 + len)
  b[0] = m | (len === 4 ? 26 : 27)
  for (let i = 0; i < len; i++) b[len - i] = Number((v >> BigInt(8 * i)) & 0xffn)
  return b
}

function encodeItem(out: Uint8Array[], v: CborValue, depth: number): void {
  if (depth > 1000) throw new RangeError('value nested too deep to encode')
  if (v === false) out.push(Uint8Array.of(0xf4))
  else if (v === true) out.push(Uint8Array.of(0xf5))
  else if (v === null) out.push(Uint8Array.of(0xf6))
  else if (v === undefined) out.push(Uint8Array.of(0xf7))
  else if (typeof v === 'number') out.push(Number.isSafeInteger(v) && !Object.is(v, -0) ? encodeInt(BigInt(v)) : encodeFloat(v))
  else if (typeof v === 'bigint') out.push(encodeInt(v))
  else if (typeof v === 'string') {
    const b = utf8(v)
    out.push(head(3, b.length), b)
  } else if (v instanceof Uint8Array) out.push(head(2, v.length), v)
  else if (Array.isArray(v)) {
    out.push(head(4, v.length))
    for (const x of v) encodeItem(out, x, depth + 1)
  } else if (v instanceof CborTag) {
    if (BigInt(v.tag) < 0n || BigInt(v.tag) >= 1n << 64n) throw new RangeError('tag must be a uint64')
    out.push(head(6, v.tag))
    encodeItem(out, v.value, depth + 1)
  } else if (v instanceof CborSimple) out.push(v.value < 24 ? Uint8Array.of(0xe0 | v.value) : Uint8Array.of(0xf8, v.value))
  else if (v instanceof Map || typeof v === 'object') {
    const entries: Array<[Uint8Array, Uint8Array]> = []
    const pairs: Array<[CborValue, CborValue]> = v instanceof Map ? [...v.entries()] : Object.entries(v)
    for (const [k, x] of pairs) {
      const ko: Uint8Array[] = []
      encodeItem(ko, k, depth + 1)
      const vo: Uint8Array[] = []
      encodeItem(vo, x, depth + 1)
      entries.push([concat(ko), concat(vo)])
    }
    // §4.2.1: keys sorted by the bytewise lexicographic order of their deterministic encodings.
    entries.sort((a, b) => compare(a[0], b[0]))
    for (let i = 1; i < entries.length; i++) if (compare(entries[i - 1]![0], entries[i]![0]) === 0) throw new TypeError('duplicate map key')
    out.push(head(5, entries.length))
    for (const [k, x] of entries) out.push(k, x)
  } else throw new TypeError(`cannot encode ${typeof v} as CBOR`)
}

function encodeInt(n: bigint): Uint8Array {
  if (n >= 0n) {
    if (n >= 1n << 64n) throw new RangeError('integer above 2^64 - 1 (use a tag 2 bignum)')
    return head(0, n)
  }
  if (-1n - n >= 1n << 64n) throw new RangeError('integer below -2^64 (use a tag 3 bignum)')
  return head(1, -1n - n)
}

/** The shortest of half, single and double that holds `x` exactly (§4.2.2 preferred serialization). */
function encodeFloat(x: number): Uint8Array {
  if (Number.isNaN(x)) return Uint8Array.of(0xf9, 0x7e, 0x00)
  const half = toHalf(x)
  if (half !== undefined) return Uint8Array.of(0xf9, half >> 8, half & 0xff)
  const b = new Uint8Array(9)
  const dv = new DataView(b.buffer)
  if (Math.fround(x) === x) {
    dv.setUint8(0, 0xfa)
    dv.setFloat32(1, x)
    return b.subarray(0, 5)
  }
  dv.setUint8(0, 0xfb)
  dv.setFloat64(1, x)
  return b
}

/** The binary16 bits of `x` when it holds `x` exactly, else undefined. */
function toHalf(x: number): number | undefined {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0
  const a = Math.abs(x)
  if (a === Infinity) return sign | 0x7c00
  if (a === 0) return sign
  // subnormal halves: multiples of 2^-24 below 2^-14
  if (a < 2 ** -14) {
    const m = a / 2 ** -24
    return Number.isInteger(m) ? sign | m : undefined
  }
  const e = Math.floor(Math.log2(a))
  if (e > 15) return undefined
  const exp = 2 ** e <= a ? e : e - 1 // guard log2 rounding
  const mant = a / 2 ** exp - 1 // in [0, 1)
  const m10 = mant * 1024
  if (!Number.isInteger(m10) || exp > 15 || exp < -14) return undefined
  return sign | ((exp + 15) << 10) | m10
}

function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

// --- decoding -------------------------------------------------------------------------------------

/** Decode exactly one data item filling `bytes`. ProtocolError 'cbor/...' on malformed input. */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  const d = new Decoder(bytes, options.maxDepth ?? DEFAULT_CBOR_MAX_DEPTH, options.maxItems ?? DEFAULT_CBOR_MAX_ITEMS)
  const v = d.item(0)
  if (v === BREAK) throw fail('cbor/unexpected-break')
  if (d.pos !== bytes.length) throw fail('cbor/trailing-bytes', `${bytes.length - d.pos} bytes after the item`)
  return v
}

class Decoder {
  pos = 0
  #items = 0
  readonly #dv: DataView

  constructor(readonly buf: Uint8Array, readonly maxDepth: number, readonly maxItems: number) {
    this.#dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  #need(n: number | bigint): number {
    if (BigInt(n) > BigInt(this.buf.length - this.pos)) throw fail('cbor/truncated')
    return Number(n)
  }

  /** The argument of a head with additional info `info`; undefined for indefinite (31). */
  #arg(info: number): bigint | undefined {
    if (info < 24) return BigInt(info)
    if (info === 31) return undefined
    if (info > 27) throw fail('cbor/reserved-info', `additional information ${info}`)
    const len = 1 << (info - 24)
    this.#need(len)
    let n = 0n
    for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(this.buf[this.pos++]!)
    return n
  }

  item(depth: number): CborValue | typeof BREAK {
    if (depth > this.maxDepth) throw fail('cbor/too-deep', `deeper than ${this.maxDepth}`)
    if (++this.#items > this.maxItems) throw fail('cbor/too-many-items', `more than ${this.maxItems} items`)
    this.#need(1)
    const ib = this.buf[this.pos++]!
    const major = ib >> 5
    const info = ib & 31
    if (major === 7) return this.#simple(info)
    const n = this.#arg(info)
    switch (major) {
      case 0:
        return n === undefined ? this.#bad() : int(n)
      case 1:
        return n === undefined ? this.#bad() : int(-1n - n)
      case 2:
        return n === undefined ? this.#chunks(2) : this.#bytes(n).slice()
      case 3:
        return n === undefined ? text(this.#chunks(3)) : text(this.#bytes(n))
      case 4: {
        const out: CborValue[] = []
        if (n === undefined) {
          for (let v = this.item(depth + 1); v !== BREAK; v = this.item(depth + 1)) out.push(v)
          return out
        }
        // each item takes at least one byte: a count above the bytes left is truncated input
        this.#need(n)
        for (let i = 0n; i < n; i++) out.push(this.#value(depth + 1))
        return out
      }
      case 5:
        return this.#map(n, depth)
      default: { // 6: tag
        if (n === undefined) return this.#bad()
        return new CborTag(int(n), this.#value(depth + 1))
      }
    }
  }

  #bad(): never {
    throw fail('cbor/reserved-info', 'indefinite length on a type that has none')
  }

  #value(depth: number): CborValue {
    const v = this.item(depth)
    if (v === BREAK) throw fail('cbor/unexpected-break')
    return v
  }

  #bytes(n: bigint): Uint8Array {
    const len = this.#need(n)
    const b = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return b
  }

  /** An indefinite byte or text string: definite chunks of the same major type until a break. */
  #chunks(major: number): Uint8Array {
    const parts: Uint8Array[] = []
    for (;;) {
      this.#need(1)
      const ib = this.buf[this.pos++]!
      if (ib === 0xff) return concat(parts)
      if (ib >> 5 !== major || (ib & 31) === 31) throw fail('cbor/bad-chunk', 'a chunk must be a definite string of the same type')
      const part = this.#bytes(this.#arg(ib & 31)!)
      if (major === 3) text(part) // each chunk is valid UTF-8 on its own (§3.2.3)
      parts.push(part)
    }
  }

  #map(n: bigint | undefined, depth: number): CborValue {
    const keys: CborValue[] = []
    const vals: CborValue[] = []
    const seen = new Set<string>()
    const add = (k: CborValue): void => {
      const id = keyId(k)
      if (seen.has(id)) throw fail('cbor/duplicate-key')
      seen.add(id)
      keys.push(k)
      vals.push(this.#value(depth + 1))
    }
    if (n === undefined) {
      for (let k = this.item(depth + 1); k !== BREAK; k = this.item(depth + 1)) add(k)
    } else {
      this.#need(n * 2n)
      for (let i = 0n; i < n; i++) add(this.#value(depth + 1))
    }
    if (keys.every((k) => typeof k === 'string')) {
      const o: CborMap = Object.create(null) as CborMap
      keys.forEach((k, i) => { o[k as string] = vals[i]! })
      return o
    }
    return new Map(keys.map((k, i) => [k, vals[i]!]))
  }

  #simple(info: number): CborValue | typeof BREAK {
    switch (info) {
      case 20: return false
      case 21: return true
      case 22: return null
      case 23: return undefined
      case 24: {
        this.#need(1)
        const v = this.buf[this.pos++]!
        // §3.3: simple values 0-31 in the two-byte form are not well formed
        if (v < 32) throw fail('cbor/invalid-simple', `simple(${v}) in two bytes`)
        return new CborSimple(v)
      }
      case 25: {
        this.#need(2)
        const h = this.#dv.getUint16(this.pos)
        this.pos += 2
        return fromHalf(h)
      }
      case 26: {
        this.#need(4)
        const f = this.#dv.getFloat32(this.pos)
        this.pos += 4
        return f
      }
      case 27: {
        this.#need(8)
        const f = this.#dv.getFloat64(this.pos)
        this.pos += 8
        return f
      }
      case 31: return BREAK
      default:
        if (info < 20) return new CborSimple(info)
        throw fail('cbor/reserved-info', `major 7 additional information ${info}`)
    }
  }
}

function int(n: bigint): number | bigint {
  return n <= MAX_SAFE && n >= -MAX_SAFE ? Number(n) : n
}

function text(b: Uint8Array): string {
  try {
    return fromUtf8(b)
  } catch {
    throw fail('cbor/invalid-utf8')
  }
}

/**
 * An identity for duplicate-key detection: the key's deterministic encoding, with -0.0 taken as 0
 * (a JavaScript Map holds one key for both: a map with both would silently lose a pair).
 */
function keyId(k: CborValue): string {
  const b = encodeCbor(Object.is(k, -0) ? 0 : k)
  let s = ''
  for (const x of b) s += String.fromCharCode(x)
  return s
}
