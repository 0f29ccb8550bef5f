/**
 * CBOR target (src/core/cbor.ts, spec/cbor.md): `decodeCbor` on hostile bytes. Inputs come from a
 * small grammar of CBOR items written byte by byte (so non-shortest heads, indefinite strings,
 * arrays and maps, tags, floats, simple values, stray breaks, deep chains and lying lengths are all
 * reachable), then 0-4 byte mutations. The first input byte picks the limits (defaults, or small
 * maxDepth / maxItems so that the limit paths are hit often).
 *
 * Checks: only ProtocolError('cbor', 'cbor/...') escapes decodeCbor; a decoded value is no deeper
 * than maxDepth and holds no more than maxItems items; the value encodes (deterministic encoding)
 * without an exception, that encoding decodes under the same limits, and re-encodes to the same
 * bytes (encode(decode(encode(decode(x)))) === encode(decode(x))).
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals, utf8 } from '../../src/core/bytes.js'
import { CborSimple, CborTag, DEFAULT_CBOR_MAX_DEPTH, DEFAULT_CBOR_MAX_ITEMS, decodeCbor, encodeCbor, type CborValue } from '../../src/core/cbor.js'
import { check, count, type Target } from './engine.js'
import { LIES, concatBytes, mutate } from './mutate.js'
import type { Rand } from './rng.js'

const stats: Record<string, number> = {}

/** A head: major type, argument; shortest form usually, else a longer one (or indefinite). */
function head(r: Rand, out: number[], major: number, n: number | bigint, allowLong = true): void {
  const v = BigInt(n)
  const m = major << 5
  let size: number // 0: in the initial byte, else 1, 2, 4, 8 bytes
  if (v < 24n) size = 0
  else if (v < 0x100n) size = 1
  else if (v < 0x10000n) size = 2
  else if (v < 0x1_0000_0000n) size = 4
  else size = 8
  if (allowLong && r.chance(0.1) && size < 8) size = [1, 2, 4, 8].filter((s) => s > size)[r.int([1, 2, 4, 8].filter((s) => s > size).length)]!
  if (size === 0) { out.push(m | Number(v)); return }
  out.push(m | (24 + Math.log2(size)))
  for (let i = size - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn))
}

const BIG: readonly bigint[] = [0n, 23n, 24n, 255n, 256n, 65535n, 65536n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]
const TEXTS = ['', 'a', 'key', 'é', '\u{1f600}', '__proto__', 'constructor', '1', '0', 'toString']

/** Keys equal as numbers but not as encodings: 0, -0.0 (half, single, double), 0.0, 1, 1.0, -1, NaN. */
const NUMERIC_KEYS: readonly number[][] = [[0x00], [0xf9, 0x80, 0x00], [0xfa, 0x80, 0, 0, 0], [0xfb, 0x80, 0, 0, 0, 0, 0, 0, 0], [0xf9, 0, 0], [0x01], [0xf9, 0x3c, 0x00], [0x20], [0xf9, 0x7e, 0x00], [0xfa, 0x7f, 0xc0, 0, 0]]

function lie(r: Rand): bigint {
  return r.chance(0.5) ? BigInt(r.pick(LIES)) : r.pick(BIG)
}

function genString(r: Rand, out: number[], major: 2 | 3): void {
  const payload = (): Uint8Array => {
    if (major === 3) {
      if (r.chance(0.08)) return r.bytes(1 + r.int(4)) // likely invalid UTF-8
      return utf8(r.chance(0.5) ? r.pick(TEXTS) : r.text(r.size(24), 'ab\u00e9\u{1f600}'))
    }
    return r.bytes(r.size(32))
  }
  if (r.chance(0.2)) { // indefinite: definite chunks until a break (sometimes a bad chunk)
    out.push((major << 5) | 31)
    const k = r.int(4)
    for (let i = 0; i < k; i++) {
      if (r.chance(0.05)) { out.push(((major === 2 ? 3 : 2) << 5) | 0); continue }
      if (r.chance(0.03)) { out.push((major << 5) | 31); continue }
      const p = payload()
      head(r, out, major, p.length)
      out.push(...p)
    }
    if (r.chance(0.95)) out.push(0xff)
    return
  }
  if (r.chance(0.04)) { head(r, out, major, lie(r)); out.push(...r.bytes(r.int(8))); return } // a length lie
  const p = payload()
  head(r, out, major, p.length)
  out.push(...p)
}

function genFloat(r: Rand, out: number[]): void {
  const dv = new DataView(new ArrayBuffer(8))
  switch (r.int(3)) {
    case 0: {
      out.push(0xf9)
      const h = r.chance(0.5) ? r.pick([0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001, 0x03ff, 0x0400, 0x7bff, 0xfbff]) : r.int(65536)
      out.push(h >> 8, h & 0xff)
      return
    }
    case 1:
      dv.setFloat32(0, r.chance(0.5) ? r.pick([0, -0, 1.5, 65504, 65505, 2 ** -24, 2 ** -25, 3.4e38, NaN, Infinity, 16777216]) : (r.int(2 ** 31) - 2 ** 30) / (1 + r.int(1000)))
      if (r.chance(0.3)) dv.setUint32(0, r.int(2 ** 32) >>> 0)
      out.push(0xfa, ...new Uint8Array(dv.buffer, 0, 4))
      return
    default:
      dv.setFloat64(0, r.chance(0.5) ? r.pick([0.1, -0, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 64, 1e308, 5e-324, NaN, -Infinity, 9007199254740991]) : (r.int(2 ** 31) - 2 ** 30) * 2 ** (r.int(200) - 100))
      if (r.chance(0.3)) for (let i = 0; i < 8; i++) dv.setUint8(i, r.int(256))
      out.push(0xfb, ...new Uint8Array(dv.buffer))
  }
}

/** One item at nesting `depth`. */
function genItem(r: Rand, out: number[], depth: number): void {
  const leaf = depth > 6 || r.chance(depth * 0.12)
  const kind = leaf ? r.int(5) : r.int(9)
  switch (kind) {
    case 0: head(r, out, 0, r.chance(0.5) ? BigInt(r.int(1000)) : r.pick(BIG)); return
    case 1: head(r, out, 1, r.chance(0.5) ? BigInt(r.int(1000)) : r.pick(BIG)); return
    case 2: genString(r, out, r.chance(0.5) ? 2 : 3); return
    case 3: { // simple values and floats
      const s = r.int(10)
      if (s < 4) out.push(0xf4 + s)
      else if (s === 4) out.push(0xe0 | r.int(20))
      else if (s === 5) out.push(0xf8, r.chance(0.8) ? 32 + r.int(224) : r.int(32))
      else if (s === 6) out.push(0xe0 | (28 + r.int(4))) // reserved and break
      else genFloat(r, out)
      return
    }
    case 4: // a stray head with reserved info, or an indefinite integer / tag
      out.push((r.int(8) << 5) | r.pick([28, 29, 30, 31]))
      return
    case 5:
    case 6: { // array
      const n = r.int(5)
      if (r.chance(0.3)) { out.push(0x9f); for (let i = 0; i < n; i++) genItem(r, out, depth + 1); if (r.chance(0.95)) out.push(0xff); return }
      if (r.chance(0.04)) { head(r, out, 4, lie(r)); return }
      head(r, out, 4, n)
      for (let i = 0; i < n; i++) genItem(r, out, depth + 1)
      return
    }
    case 7: { // map: text keys mostly, else any item (duplicates sometimes)
      const n = r.int(4)
      const indef = r.chance(0.3)
      if (!indef && r.chance(0.04)) { head(r, out, 5, lie(r)); return }
      if (indef) out.push(0xbf)
      else head(r, out, 5, n)
      const keys: number[][] = []
      const numeric = r.chance(0.15) // keys JavaScript may not tell apart (0 and -0.0)
      for (let i = 0; i < n; i++) {
        const k: number[] = []
        if (keys.length > 0 && r.chance(0.1)) k.push(...r.pick(keys))
        else if (numeric) k.push(...r.pick(NUMERIC_KEYS))
        else if (r.chance(0.6)) { const t = utf8(r.pick(TEXTS)); head(r, k, 3, t.length); k.push(...t) } else if (r.chance(0.3)) { k.push(...r.pick(NUMERIC_KEYS)) } else genItem(r, k, depth + 1)
        keys.push(k)
        out.push(...k)
        genItem(r, out, depth + 1)
      }
      if (indef && r.chance(0.95)) out.push(0xff)
      return
    }
    default: // tag
      head(r, out, 6, r.chance(0.5) ? BigInt(r.pick([0, 1, 2, 3, 24, 42, 55799])) : r.pick(BIG))
      genItem(r, out, depth + 1)
  }
}

/** A chain of nested arrays / maps / tags around a leaf: the depth limit's input. */
function genDeep(r: Rand): Uint8Array {
  const n = r.chance(0.5) ? DEFAULT_CBOR_MAX_DEPTH - 2 + r.int(5) : r.int(20_000)
  const opener = r.pick([[0x81], [0x9f], [0xa1, 0x60], [0xc6], [0xd8, 0x2a]])
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(...opener)
  out.push(0x00)
  if (opener[0] === 0x9f) for (let i = 0; i < n; i++) out.push(0xff)
  return Uint8Array.from(out)
}

/** Many small items: the item limit's input. */
function genMany(r: Rand): Uint8Array {
  const n = r.chance(0.5) ? 64 + r.int(8) : r.int(70_000)
  const out: number[] = []
  head(r, out, 4, n, false)
  for (let i = 0; i < n; i++) out.push(r.chance(0.9) ? 0x00 : 0xf6)
  return Uint8Array.from(out)
}

/**
 * Data items on the wire (a well-formed input: decodeCbor accepted it), counted as the decoder counts
 * them: an indefinite string is one item whatever its chunks. Returns the position after the item.
 */
function wireItems(b: Uint8Array, pos: number, acc: { items: number }): number {
  const ib = b[pos++]!
  const major = ib >> 5
  const info = ib & 31
  acc.items++
  let n = 0n
  if (info >= 24 && info <= 27) {
    const len = 1 << (info - 24)
    for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(b[pos++]!)
  } else n = BigInt(info)
  if (major === 7 || major === 0 || major === 1) return pos
  if (major === 2 || major === 3) {
    if (info !== 31) return pos + Number(n)
    while (b[pos] !== 0xff) pos = wireItems(b, pos, { items: 0 })
    return pos + 1
  }
  if (major === 6) return wireItems(b, pos, acc)
  const per = major === 5 ? 2 : 1
  if (info === 31) {
    while (b[pos] !== 0xff) pos = wireItems(b, pos, acc)
    return pos + 1
  }
  for (let i = 0n; i < n * BigInt(per); i++) pos = wireItems(b, pos, acc)
  return pos
}

/** Depth and item count of a decoded value, as the decoder counts them (each item 1, each nesting level 1). */
function measure(v: CborValue, depth: number, acc: { depth: number; items: number }): void {
  acc.items++
  if (depth > acc.depth) acc.depth = depth
  if (Array.isArray(v)) for (const x of v) measure(x, depth + 1, acc)
  else if (v instanceof CborTag) measure(v.value, depth + 1, acc)
  else if (v instanceof Map) for (const [k, x] of v) { measure(k, depth + 1, acc); measure(x, depth + 1, acc) }
  else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof CborSimple)) {
    for (const [k, x] of Object.entries(v)) { measure(k, depth + 1, acc); measure(x, depth + 1, acc) }
  }
}

export const cborTarget: Target = {
  name: 'cbor',
  stats,
  generate(r) {
    const mode = r.int(256)
    let body: Uint8Array
    if (r.chance(0.05)) body = genDeep(r)
    else if (r.chance(0.03)) body = genMany(r)
    else {
      const out: number[] = []
      genItem(r, out, 0)
      if (r.chance(0.05)) genItem(r, out, 0) // trailing bytes
      body = Uint8Array.from(out)
    }
    return concatBytes([Uint8Array.of(mode), r.chance(0.4) ? body : mutate(r, body)])
  },
  run(input) {
    const mode = input[0] ?? 0
    const limits = mode % 4 === 0 ? { maxDepth: 1 + (mode >> 2) % 8, maxItems: 1 + (mode >> 5) * 4 } : {}
    const maxDepth = limits.maxDepth ?? DEFAULT_CBOR_MAX_DEPTH
    const maxItems = limits.maxItems ?? DEFAULT_CBOR_MAX_ITEMS
    let v: CborValue
    try {
      v = decodeCbor(input.subarray(1), limits)
    } catch (e) {
      if (e instanceof ProtocolError) {
        check(e.protocol === 'cbor' && e.code.startsWith('cbor/'), `ProtocolError(${e.protocol}, ${e.code}) escaped decodeCbor`)
        count(stats, e.code)
      }
      throw e
    }
    count(stats, 'decoded')
    const m = { depth: 0, items: 0 }
    measure(v, 0, m)
    check(m.depth <= maxDepth, `decoded value is ${m.depth} deep, maxDepth ${maxDepth}`)
    check(m.items <= maxItems, `decoded value holds ${m.items} items, maxItems ${maxItems}`)
    const wire = { items: 0 }
    wireItems(input, 1, wire)
    check(wire.items === m.items, `the input holds ${wire.items} items, the decoded value ${m.items} (an item was dropped or invented)`)
    let once: Uint8Array
    try {
      once = encodeCbor(v)
    } catch (e) {
      throw new Error(`a decoded value does not encode: ${(e as Error).message}`)
    }
    let again: CborValue
    try {
      again = decodeCbor(once, limits)
    } catch (e) {
      throw new Error(`the encoding of a decoded value does not decode: ${(e as Error).message}`)
    }
    check(equals(encodeCbor(again), once), 'encode(decode(encode(decode(x)))) differs from encode(decode(x))')
  },
}
