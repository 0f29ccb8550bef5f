/**
 * Byte-level mutations (structure-blind, applied on top of structure-aware generators) and the two
 * ways an input reaches a core: delivery schedules (whole, byte by byte, random pieces) and programs
 * (an input read as a sequence of operations, see `Program`).
 */
import type { Rand } from './rng.js'

const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff]
/** Length-field lies: values just around common limits and the integer edges. */
export const LIES = [0, 1, 2, 11, 12, 13, 255, 256, 1023, 1024, 1025, 4096, 65535, 65536, 65519, 65520, 131072, 262144, 262145, 1 << 20, (1 << 20) + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1]

function encodeVarint(v: number): number[] {
  const out: number[] = []
  while (v >= 0x80) {
    out.push((v % 128) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return out
}

/** `a` with bytes [i, i + del) replaced by `ins`. */
function splice(a: Uint8Array, i: number, del: number, ins: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(a.length - del + ins.length)
  out.set(a.subarray(0, i), 0)
  out.set(ins, i)
  out.set(a.subarray(i + del), i + ins.length)
  return out
}

/** One mutation of `buf` (a fresh array; `buf` is not modified). `corpus` feeds splicing. */
export function mutateOnce(r: Rand, buf: Uint8Array, corpus?: readonly Uint8Array[]): Uint8Array {
  const n = buf.length
  switch (r.int(11)) {
    case 0: { // bit flip
      const a = buf.slice()
      if (n > 0) { const i = r.int(n); a[i] = a[i]! ^ (1 << r.int(8)) }
      return a
    }
    case 1: { // interesting byte
      const a = buf.slice()
      if (n > 0) a[r.int(n)] = r.pick(INTERESTING_U8)
      return a
    }
    case 2: { // random byte
      const a = buf.slice()
      if (n > 0) a[r.int(n)] = r.int(256)
      return a
    }
    case 3: // truncate
      return buf.slice(0, r.int(n + 1))
    case 4: { // delete a run
      if (n === 0) return buf.slice()
      const i = r.int(n)
      return splice(buf, i, 1 + r.int(Math.min(16, n - i)), [])
    }
    case 5: // insert random bytes
      return splice(buf, r.int(n + 1), 0, r.bytes(1 + r.int(16)))
    case 6: { // duplicate a run (repeated fields / frames)
      if (n === 0) return buf.slice()
      const i = r.int(n)
      const run = buf.slice(i, i + 1 + r.int(Math.min(64, n - i)))
      return splice(buf, r.int(n + 1), 0, run)
    }
    case 7: { // splice with another corpus entry
      const other = corpus !== undefined && corpus.length > 0 ? r.pick(corpus) : undefined
      if (other === undefined) return buf.slice()
      const i = r.int(n + 1)
      return splice(buf, i, n - i, other.subarray(r.int(other.length + 1)))
    }
    case 8: { // varint length lie at a random position
      const i = r.int(n + 1)
      return splice(buf, i, i < n ? varintLen(buf, i) : 0, encodeVarint(r.pick(LIES)))
    }
    case 9: { // big-endian u16/u32 lie (Noise prefixes, yamux headers)
      const a = buf.slice()
      if (n >= 2) {
        const i = r.int(n - 1)
        const v = r.pick(LIES)
        if (r.chance(0.5) || n < i + 4) { a[i] = (v >>> 8) & 0xff; a[i + 1] = v & 0xff }
        else { a[i] = (v >>> 24) & 0xff; a[i + 1] = (v >>> 16) & 0xff; a[i + 2] = (v >>> 8) & 0xff; a[i + 3] = v & 0xff }
      }
      return a
    }
    default: { // overlong / non-minimal varint: pad with continuation bytes
      if (n === 0) return buf.slice()
      const i = r.int(n)
      return splice(buf, i, 1, [buf[i]! | 0x80, 0x80, 0])
    }
  }
}

function varintLen(a: Uint8Array, i: number): number {
  let n = 0
  while (i + n < a.length && n < 10) {
    if (a[i + n]! < 0x80) return n + 1
    n++
  }
  return n
}

/** 0..k mutations (none in about a quarter of cases: valid inputs matter too). */
export function mutate(r: Rand, buf: Uint8Array, corpus?: readonly Uint8Array[], k = 4): Uint8Array {
  let out = buf
  const n = r.chance(0.25) ? 0 : 1 + r.int(k)
  for (let i = 0; i < n; i++) out = mutateOnce(r, out, corpus)
  return out
}

/** How `deliver` cuts an input: whole, one byte per call, or seeded random pieces. */
export type Schedule = 0 | 1 | 2

/** Cut `data` per `schedule` (for 2, piece sizes come from `r`), calling `sink` for each piece. */
export function deliver(data: Uint8Array, schedule: number, r: Rand, sink: (piece: Uint8Array) => boolean | void): void {
  const mode = schedule % 3
  if (mode === 0 || data.length <= 1) {
    sink(data)
    return
  }
  for (let off = 0; off < data.length;) {
    const n = mode === 1 ? 1 : 1 + r.int(Math.min(data.length - off, r.chance(0.5) ? 8 : 4096))
    if (sink(data.subarray(off, off + n)) === false) return
    off += n
  }
}

/**
 * An input read as a program: a byte op code, then operands. Reads past the end return zeros and
 * `done` turns true, so every byte string is a valid program (mutations never make it unreadable).
 */
export class Program {
  readonly #b: Uint8Array
  #pos = 0
  constructor(b: Uint8Array) {
    this.#b = b
  }

  get done(): boolean {
    return this.#pos >= this.#b.length
  }

  u8(): number {
    return this.#pos < this.#b.length ? this.#b[this.#pos++]! : (this.#pos++, 0)
  }

  u16(): number {
    return (this.u8() << 8) | this.u8()
  }

  u24(): number {
    return (this.u8() << 16) | this.u16()
  }

  /** u24 length then that many bytes (fewer at the end of the input). */
  blob(): Uint8Array {
    const n = this.u24()
    const start = Math.min(this.#pos, this.#b.length)
    const end = Math.min(start + n, this.#b.length)
    this.#pos = start + n
    return this.#b.subarray(start, end)
  }
}

/** Builds programs for `Program` to read. */
export class ProgramWriter {
  readonly #parts: number[] = []
  op(code: number): this {
    this.#parts.push(code & 0xff)
    return this
  }

  u8(v: number): this {
    this.#parts.push(v & 0xff)
    return this
  }

  u16(v: number): this {
    this.#parts.push((v >>> 8) & 0xff, v & 0xff)
    return this
  }

  blob(b: Uint8Array): this {
    const n = Math.min(b.length, 0xffffff)
    this.#parts.push((n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
    for (let i = 0; i < n; i++) this.#parts.push(b[i]!)
    return this
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts)
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
