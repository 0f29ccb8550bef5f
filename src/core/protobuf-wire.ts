/**
 * The protobuf wire format, both directions, in the subset libp2p's messages use
 * (protobuf.dev/programming-guides/encoding): varints (uint32, int32, uint64, bool, enums),
 * length-delimited fields (bytes, strings, nested messages), and fixed64 (AutoNAT v2's nonce); other
 * fixed-width fields are only skipped.
 *
 *   tag      = varint( field_number << 3 | wire_type )
 *   varint   = 7 bits per byte, least significant group first, high bit set on all but the last
 *   LEN      = varint(length) followed by length bytes
 *
 * `PbReader` reads from one buffer and throws a RangeError on truncated or overlong input (callers
 * turn it into a ProtocolError; see protobuf.ts). `PbWriter` appends into one growing buffer; a nested
 * message is written in place after a one-byte length slot (`fork`), and `ldelim` widens the slot when
 * the message turned out to be 128 bytes or longer. Output is canonical: minimal varints, fields in the
 * order written, so a signed record re-encodes to the same bytes.
 */
import { utf8 } from './bytes.js'
import { Slab } from './slab.js'

/** The longest varint: 64 bits in 7-bit groups. */
const MAX_VARINT_BYTES = 10

export class PbReader {
  readonly buf: Uint8Array
  readonly len: number
  pos = 0

  constructor(buf: Uint8Array) {
    this.buf = buf
    this.len = buf.length
  }

  /** A varint's low 32 bits (protobuf's uint32 reading of any varint), unsigned. */
  uint32(): number {
    const b = this.buf
    let pos = this.pos
    if (pos >= this.len) throw new RangeError('varint: index out of range')
    let byte = b[pos++]!
    let value = byte & 0x7f
    if (byte < 0x80) {
      this.pos = pos
      return value
    }
    let shift = 7
    for (let i = 1; i < MAX_VARINT_BYTES; i++) {
      if (pos >= this.len) throw new RangeError('varint: index out of range')
      byte = b[pos++]!
      // bits beyond 32 are dropped (but consumed), as the encoding spec says for uint32
      if (shift < 32) value |= (byte & 0x7f) << shift
      shift += 7
      if (byte < 0x80) {
        this.pos = pos
        return value >>> 0
      }
    }
    throw new RangeError('varint: more than 10 bytes')
  }

  /** int32: the low 32 bits as a signed integer (negative values arrive as 10-byte varints). */
  int32(): number {
    return this.uint32() | 0
  }

  /** bool: true when any bit of the varint is set (a value of 2^35 is true, not its zero low 32 bits). */
  bool(): boolean {
    const b = this.buf
    let pos = this.pos
    let any = 0
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= this.len) throw new RangeError('varint: index out of range')
      const byte = b[pos++]!
      any |= byte & 0x7f
      if (byte < 0x80) {
        this.pos = pos
        return any !== 0
      }
    }
    throw new RangeError('varint: more than 10 bytes')
  }

  /** A full 64-bit varint as a bigint. */
  uint64(): bigint {
    const b = this.buf
    let pos = this.pos
    let lo = 0
    let hi = 0
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= this.len) throw new RangeError('varint: index out of range')
      const byte = b[pos++]!
      const bits = byte & 0x7f
      if (i < 4) lo |= bits << (7 * i)
      else if (i === 4) {
        lo |= bits << 28
        hi |= bits >>> 4
      } else hi |= bits << (7 * i - 32)
      if (byte < 0x80) {
        if (i === 9 && byte > 1) throw new RangeError('varint: value exceeds 64 bits')
        this.pos = pos
        return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
      }
    }
    throw new RangeError('varint: more than 10 bytes')
  }

  /** A fixed64: 8 bytes, little-endian, as a bigint. */
  fixed64(): bigint {
    const pos = this.pos
    if (8 > this.len - pos) throw new RangeError('fixed64: index out of range')
    const b = this.buf
    const lo = (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0
    const hi = (b[pos + 4]! | (b[pos + 5]! << 8) | (b[pos + 6]! << 16) | (b[pos + 7]! << 24)) >>> 0
    this.pos = pos + 8
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** A length-delimited field's bytes, as a view of the input (callers copy what they keep). */
  bytes(): Uint8Array {
    const n = this.#length()
    const start = this.pos
    if (n > this.len - start) throw new RangeError(`length ${n} exceeds the ${this.len - start} bytes left`)
    this.pos = start + n
    return this.buf.subarray(start, start + n)
  }

  /** Skip one field's value of the given wire type (0, 1, 2 or 5). */
  skipType(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint32()
        return
      case 1:
        this.#skip(8)
        return
      case 2:
        this.#skip(this.#length())
        return
      case 5:
        this.#skip(4)
        return
      default:
        throw new RangeError(`cannot skip wire type ${wireType}`)
    }
  }

  /**
   * A length prefix. Unlike uint32() it keeps every bit: a length of 2^32 + 5 must not read as 5.
   * Any length of 2^32 or more exceeds every buffer, so it is returned as Infinity (the caller's
   * bounds check then fails). Found by the protobufjs oracle property: [0x80 x5, 0x7f] is not 0.
   */
  #length(): number {
    const start = this.pos
    const low = this.uint32()
    // bits above bit 31 live in the 5th byte's bits 4-6 and in any later byte
    for (let i = start + 4; i < this.pos; i++) {
      const bits = this.buf[i]! & 0x7f
      if (i === start + 4 ? bits > 0x0f : bits !== 0) return Infinity
    }
    return low
  }

  #skip(n: number): void {
    if (n > this.len - this.pos) throw new RangeError(`skip of ${n} exceeds the ${this.len - this.pos} bytes left`)
    this.pos += n
  }
}

const EMPTY = new Uint8Array(0)

/**
 * Encoded messages up to 2 KiB are carved from shared 8 KiB blocks (core/slab.ts), as protobufjs does:
 * a typed array above 64 bytes gets its own off-heap backing store, which costs more (~0.4-0.9 us
 * here) than encoding the message. Each result is a view no one else writes to; it keeps its block
 * alive while it lives, so a caller storing many small messages for long should copy them.
 */
const outputs = new Slab(8192)

/** Bytes a varint of `v` (0 <= v < 2^32) takes. */
function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5
}

/**
 * One scratch buffer shared by writers: allocating a typed array costs more than encoding a small
 * message, so a writer borrows this one when no other writer holds it (an encoder may build an inner
 * message while an outer one is open: the inner one then allocates its own) and `finish()` returns it.
 * Only the final `finish()` copy leaves the writer. Scratch buffers above SCRATCH_KEEP are not kept.
 */
let scratch: Uint8Array | undefined = new Uint8Array(1024)
const SCRATCH_KEEP = 64 * 1024

export class PbWriter {
  #buf: Uint8Array
  #pos = 0
  /** Start offsets of the open nested messages (each followed by its one-byte length slot). */
  readonly #forks: number[] = []

  constructor() {
    if (scratch !== undefined) {
      this.#buf = scratch
      scratch = undefined
    } else this.#buf = new Uint8Array(1024)
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#pos))
    this.#buf = next
  }

  /** A varint of the low 32 bits of `v`, unsigned. */
  uint32(v: number): this {
    let x = v >>> 0
    this.#reserve(5)
    const b = this.#buf
    let pos = this.#pos
    while (x >= 0x80) {
      b[pos++] = (x & 0x7f) | 0x80
      x >>>= 7
    }
    b[pos++] = x
    this.#pos = pos
    return this
  }

  /** int32: negative values take the 64-bit two's complement form (10 bytes), as protobuf requires. */
  int32(v: number): this {
    return v >= 0 ? this.uint32(v) : this.uint64(BigInt.asUintN(64, BigInt(v | 0)))
  }

  bool(v: boolean): this {
    return this.uint32(v ? 1 : 0)
  }

  /** A uint64 varint; `v` is a non-negative safe integer or a bigint below 2^64. */
  uint64(v: number | bigint): this {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uint64 value ${v} is not a non-negative safe integer`)
      if (v <= 0xffff_ffff) return this.uint32(v)
      v = BigInt(v)
    }
    if (v < 0n || v >= 1n << 64n) throw new RangeError('uint64 value out of range')
    this.#reserve(MAX_VARINT_BYTES)
    const b = this.#buf
    let pos = this.#pos
    while (v >= 0x80n) {
      b[pos++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    b[pos++] = Number(v)
    this.#pos = pos
    return this
  }

  /** A fixed64: 8 bytes, little-endian; `v` is a bigint in [0, 2^64). */
  fixed64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new RangeError('fixed64 value out of range')
    this.#reserve(8)
    const b = this.#buf
    let pos = this.#pos
    for (let i = 0; i < 8; i++) {
      b[pos++] = Number(v & 0xffn)
      v >>= 8n
    }
    this.#pos = pos
    return this
  }

  /** A length-delimited field: varint(length) then the bytes. */
  bytes(data: Uint8Array): this {
    const n = data.length
    this.uint32(n)
    this.#reserve(n)
    const b = this.#buf
    let pos = this.#pos
    // TypedArray#set has a fixed cost that a short loop beats
    if (n <= 32) for (let i = 0; i < n; i++) b[pos++] = data[i]!
    else {
      b.set(data, pos)
      pos += n
    }
    this.#pos = pos
    return this
  }

  /** A string as UTF-8 bytes (ASCII below 128 characters written directly, the rest through TextEncoder). */
  string(s: string): this {
    const n = s.length
    if (n < 0x80) {
      this.#reserve(n + 1)
      const b = this.#buf
      const start = this.#pos
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) return this.bytes(utf8(s))
        b[start + 1 + i] = c
      }
      b[start] = n
      this.#pos = start + 1 + n
      return this
    }
    return this.bytes(utf8(s))
  }

  /** Begin a nested message (its tag is already written); end it with `ldelim()`. */
  fork(): this {
    this.#reserve(1)
    this.#forks.push(this.#pos)
    this.#pos += 1
    return this
  }

  /** End the innermost nested message: write its length in front of it. */
  ldelim(): this {
    const start = this.#forks.pop()
    if (start === undefined) throw new RangeError('ldelim without fork')
    const bodyStart = start + 1
    const length = this.#pos - bodyStart
    const size = varint32Size(length)
    if (size > 1) {
      this.#reserve(size - 1)
      this.#buf.copyWithin(start + size, bodyStart, this.#pos)
      this.#pos += size - 1
    }
    const end = this.#pos
    this.#pos = start
    this.uint32(length)
    this.#pos = end
    return this
  }

  /** The encoded bytes, which the caller owns (small ones are views of a shared block; see `outputs`). */
  finish(): Uint8Array {
    if (this.#forks.length > 0) throw new RangeError(`${this.#forks.length} nested message(s) not ended with ldelim`)
    const out = outputs.alloc(this.#pos)
    out.set(this.#buf.subarray(0, this.#pos))
    if (this.#buf.length <= SCRATCH_KEEP) scratch = this.#buf
    this.#buf = EMPTY
    this.#pos = 0
    return out
  }
}
