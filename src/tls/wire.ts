/**
 * The TLS presentation language's integers and vectors (RFC 8446 §3): a bounds-checked reader whose
 * every fault is `tls/decode-error`, and a writer that grows as it goes. Vector lengths are checked
 * against the spec's ranges by the callers (messages.ts, extensions.ts).
 */
import { tlsError } from './errors.js'

/** Reads big-endian integers and length-prefixed vectors; any overrun is 'tls/decode-error'. */
export class Reader {
  readonly #buf: Uint8Array
  #pos: number
  readonly #end: number

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf
    this.#pos = start
    this.#end = end
  }

  get remaining(): number {
    return this.#end - this.#pos
  }

  #need(n: number): void {
    if (this.#end - this.#pos < n) throw tlsError('tls/decode-error', `needs ${n} more bytes, has ${this.#end - this.#pos}`)
  }

  u8(): number {
    this.#need(1)
    return this.#buf[this.#pos++]!
  }

  u16(): number {
    this.#need(2)
    const v = (this.#buf[this.#pos]! << 8) | this.#buf[this.#pos + 1]!
    this.#pos += 2
    return v
  }

  u24(): number {
    this.#need(3)
    const v = (this.#buf[this.#pos]! << 16) | (this.#buf[this.#pos + 1]! << 8) | this.#buf[this.#pos + 2]!
    this.#pos += 3
    return v
  }

  u32(): number {
    return this.u16() * 0x10000 + this.u16()
  }

  /** `n` bytes, copied (the result never aliases the input). */
  bytes(n: number): Uint8Array {
    this.#need(n)
    const out = this.#buf.slice(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  /** A vector with a 1, 2 or 3-byte length prefix whose length lies in [min, max]. */
  vector(prefix: 1 | 2 | 3, min = 0, max = Infinity): Uint8Array {
    const n = prefix === 1 ? this.u8() : prefix === 2 ? this.u16() : this.u24()
    if (n < min || n > max) throw tlsError('tls/decode-error', `vector length ${n} outside [${min}, ${max}]`)
    return this.bytes(n)
  }

  /** A sub-reader over a length-prefixed vector (no copy), advancing past it. */
  sub(prefix: 1 | 2 | 3, min = 0, max = Infinity): Reader {
    const n = prefix === 1 ? this.u8() : prefix === 2 ? this.u16() : this.u24()
    if (n < min || n > max) throw tlsError('tls/decode-error', `vector length ${n} outside [${min}, ${max}]`)
    this.#need(n)
    const r = new Reader(this.#buf, this.#pos, this.#pos + n)
    this.#pos += n
    return r
  }

  /** Throws 'tls/decode-error' when bytes are left over. */
  end(what: string): void {
    if (this.#pos !== this.#end) throw tlsError('tls/decode-error', `${this.#end - this.#pos} trailing bytes in ${what}`)
  }
}

/** Appends big-endian integers and length-prefixed vectors. */
export class Writer {
  #buf = new Uint8Array(256)
  #len = 0

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#len + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.#buf.subarray(0, this.#len))
    this.#buf = b
  }

  u8(v: number): this {
    this.#room(1)
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u16(v: number): this {
    this.#room(2)
    this.#buf[this.#len++] = (v >>> 8) & 0xff
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u24(v: number): this {
    this.#room(3)
    this.#buf[this.#len++] = (v >>> 16) & 0xff
    this.#buf[this.#len++] = (v >>> 8) & 0xff
    this.#buf[this.#len++] = v & 0xff
    return this
  }

  u32(v: number): this {
    return this.u16(Math.floor(v / 0x10000)).u16(v % 0x10000)
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length)
    this.#buf.set(b, this.#len)
    this.#len += b.length
    return this
  }

  /** A vector: its length as a 1, 2 or 3-byte prefix, then the bytes (RangeError when it does not fit). */
  vector(prefix: 1 | 2 | 3, b: Uint8Array): this {
    if (b.length >= 2 ** (8 * prefix)) throw new RangeError(`vector of ${b.length} bytes does not fit a ${prefix}-byte length`)
    return (prefix === 1 ? this.u8(b.length) : prefix === 2 ? this.u16(b.length) : this.u24(b.length)).bytes(b)
  }

  /** Writes a length-prefixed vector whose content `fill` writes. */
  nested(prefix: 1 | 2 | 3, fill: (w: Writer) => void): this {
    const w = new Writer()
    fill(w)
    return this.vector(prefix, w.finish())
  }

  /** The bytes written so far (a fresh copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len)
  }
}

/**
 * A FIFO of received bytes with amortized O(1) cost per byte however the input is split (one
 * growing buffer, compacted when the consumed part is at least half of it), so a peer feeding
 * a record or a handshake message byte by byte costs linear, not quadratic, time.
 */
export class ByteQueue {
  #buf = new Uint8Array(0)
  #start = 0
  #end = 0

  get length(): number {
    return this.#end - this.#start
  }

  /** Copies `data` in (no reference kept). */
  push(data: Uint8Array): void {
    if (data.length === 0) return
    if (this.#end + data.length > this.#buf.length) {
      const live = this.#end - this.#start
      if (live + data.length <= this.#buf.length && this.#start >= this.#buf.length / 2) {
        this.#buf.copyWithin(0, this.#start, this.#end)
      } else {
        const b = new Uint8Array(Math.max(256, 2 * this.#buf.length, live + data.length))
        b.set(this.#buf.subarray(this.#start, this.#end))
        this.#buf = b
      }
      this.#start = 0
      this.#end = live
    }
    this.#buf.set(data, this.#end)
    this.#end += data.length
  }

  /** The unconsumed bytes: a view, valid until the next push. */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end)
  }

  /** Drops the first `n` bytes. */
  consume(n: number): void {
    this.#start += n
    if (this.#start >= this.#end) {
      this.#start = 0
      this.#end = 0
    }
  }
}
