/**
 * Structure-aware protobuf generation: a message built from a field schema (known field numbers with
 * their kinds, nested messages, custom value generators), with repeated and unknown fields, fields out
 * of order and, sometimes, a wrong wire type. The byte mutators then lie about lengths and cut it.
 */
import type { Rand } from './rng.js'

export type FieldKind =
  | 'varint' | 'bool' | 'bytes' | 'string' | 'fixed32' | 'fixed64'
  | { msg: Schema }
  | { gen: (r: Rand) => Uint8Array }
  | { text: (r: Rand) => string }
  /** A varint from this list (now and then any value). */
  | { oneOf: readonly number[] }

export interface Schema { [field: number]: FieldKind }

const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789/-._'

const enc = new TextEncoder()

/** A tiny protobuf writer that can also write what a correct encoder never would. */
class W {
  a = new Uint8Array(256)
  n = 0
  push(b: number): void {
    if (this.n === this.a.length) { const x = new Uint8Array(this.a.length * 2); x.set(this.a); this.a = x }
    this.a[this.n++] = b
  }
  uint64(v: bigint): void {
    while (v >= 0x80n) { this.push(Number(v & 0x7fn) | 0x80); v >>= 7n }
    this.push(Number(v))
  }
  uint32(v: number): void {
    v >>>= 0
    while (v >= 0x80) { this.push((v & 0x7f) | 0x80); v >>>= 7 }
    this.push(v)
  }
  fixed32(v: number): void { this.push(v & 0xff); this.push((v >>> 8) & 0xff); this.push((v >>> 16) & 0xff); this.push((v >>> 24) & 0xff) }
  fixed64(v: bigint): void { this.fixed32(Number(v & 0xffffffffn)); this.fixed32(Number((v >> 32n) & 0xffffffffn)) }
  bytes(b: Uint8Array): void {
    this.uint32(b.length)
    while (this.n + b.length > this.a.length) { const x = new Uint8Array(this.a.length * 2); x.set(this.a); this.a = x }
    this.a.set(b, this.n)
    this.n += b.length
  }
  string(s: string): void { this.bytes(enc.encode(s)) }
}

export function genMessage(r: Rand, schema: Schema, depth = 0): Uint8Array {
  const w = new W()
  writeFields(r, w, schema, depth)
  return w.a.slice(0, w.n)
}

function writeFields(r: Rand, w: W, schema: Schema, depth: number): void {
  const fields = Object.keys(schema).map(Number)
  const n = r.int(2 + fields.length * 2)
  for (let i = 0; i < n; i++) {
    if (r.chance(0.03)) { writeUnknown(r, w); continue }
    const f = r.pick(fields)
    writeField(r, w, f, schema[f]!, depth)
  }
}

function writeUnknown(r: Rand, w: W): void {
  const f = 1 + r.int(40)
  const wt = r.pick([0, 1, 2, 5])
  w.uint32(((f << 3) | wt) >>> 0)
  if (wt === 0) w.uint32(r.int(2 ** 31))
  else if (wt === 1) w.fixed64(BigInt(r.int(2 ** 31)))
  else if (wt === 5) w.fixed32(r.int(2 ** 31))
  else w.bytes(r.bytes(r.size(64)))
}

function writeField(r: Rand, w: W, f: number, kind: FieldKind, depth: number): void {
  const tag = (wt: number): void => { w.uint32(((f << 3) | (r.chance(0.02) ? r.pick([0, 1, 2, 5]) : wt)) >>> 0) }
  if (kind === 'varint') { tag(0); if (r.chance(0.2)) w.uint64(2n ** BigInt(1 + r.int(64)) - 1n); else w.uint32(r.int(1000)) }
  else if (kind === 'bool') { tag(0); w.uint32(r.int(3)) }
  else if (kind === 'fixed32') { tag(5); w.fixed32(r.int(2 ** 32)) }
  else if (kind === 'fixed64') { tag(1); w.fixed64(BigInt(r.int(2 ** 32))) }
  else if (kind === 'bytes') { tag(2); w.bytes(r.bytes(r.size(96))) }
  else if (kind === 'string') { tag(2); w.string(r.text(r.size(40), ALPHA)) }
  else if ('msg' in kind) { tag(2); w.bytes(depth > 4 ? r.bytes(r.int(8)) : genMessage(r, kind.msg, depth + 1)) }
  else if ('gen' in kind) { tag(2); w.bytes(kind.gen(r)) }
  else if ('oneOf' in kind) { tag(0); w.uint32(r.chance(0.95) ? r.pick(kind.oneOf) : r.int(2 ** 31)) }
  else { tag(2); w.string(kind.text(r)) }
}
