/**
 * The slice of DAG-CBOR (RFC 8949 with the IPLD DAG-CBOR restrictions) that IPNS records use: a map
 * with text keys whose values are byte strings, text strings or unsigned integers. Other values
 * (negative ints, arrays, maps, tags such as CIDs, floats, booleans, null) are checked for being
 * well formed, skipped, and reported as `null`: the IPNS spec says implementations "MUST ignore
 * unexpected fields" (extensions such as `_namespace` maps). Indefinite lengths, non-canonical
 * lengths and nesting deeper than MAX_DEPTH are rejected as a malformed record.
 *
 * Encoding is canonical DAG-CBOR: shortest-form lengths, map keys sorted by length then bytewise.
 */
import { ProtocolError } from '../core/errors.js'
import { fromUtf8, utf8, compare } from '../core/bytes.js'

/** `null`: a well-formed value of a type IPNS does not use (skipped). */
export type CborValue = Uint8Array | string | bigint | null

/** Nesting of skipped values (arrays, maps, tags). Stops: deep nesting costing stack and time. */
const MAX_DEPTH = 16
export type CborMap = Map<string, CborValue>

const fail = (m: string): ProtocolError => new ProtocolError('kad', 'kad/invalid-record', `ipns data: ${m}`)

export function encodeCborMap(entries: Record<string, CborValue>): Uint8Array {
  const keys = Object.keys(entries).sort((a, b) => {
    const ka = utf8(a)
    const kb = utf8(b)
    return ka.length - kb.length || compare(ka, kb)
  })
  const parts: number[] = []
  head(parts, 5, BigInt(keys.length))
  for (const k of keys) {
    const kb = utf8(k)
    head(parts, 3, BigInt(kb.length))
    parts.push(...kb)
    const v = entries[k]!
    if (typeof v === 'bigint') head(parts, 0, v)
    else if (typeof v === 'string') {
      const b = utf8(v)
      head(parts, 3, BigInt(b.length))
      parts.push(...b)
    } else {
      head(parts, 2, BigInt(v.length))
      parts.push(...v)
    }
  }
  return Uint8Array.from(parts)
}

function head(out: number[], major: number, n: bigint): void {
  const m = major << 5
  if (n < 24n) out.push(m | Number(n))
  else if (n < 0x100n) out.push(m | 24, Number(n))
  else if (n < 0x10000n) out.push(m | 25, Number(n >> 8n), Number(n & 0xffn))
  else if (n < 0x1_0000_0000n) {
    out.push(m | 26)
    for (let s = 24n; s >= 0n; s -= 8n) out.push(Number((n >> s) & 0xffn))
  } else {
    out.push(m | 27)
    for (let s = 56n; s >= 0n; s -= 8n) out.push(Number((n >> s) & 0xffn))
  }
}

/** Decode a top-level map of text keys. ProtocolError 'kad/invalid-record' on anything else. */
export function decodeCborMap(buf: Uint8Array): CborMap {
  let pos = 0
  const readHead = (): { major: number; n: bigint } => {
    if (pos >= buf.length) throw fail('truncated')
    const b = buf[pos++]!
    const major = b >> 5
    const info = b & 31
    if (info < 24) return { major, n: BigInt(info) }
    const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (len === 0) throw fail(`unsupported additional info ${info}`)
    if (pos + len > buf.length) throw fail('truncated')
    let n = 0n
    for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(buf[pos++]!)
    const min = len === 1 ? 24n : len === 2 ? 0x100n : len === 4 ? 0x10000n : 0x1_0000_0000n
    if (n < min) throw fail('non-canonical length')
    return { major, n }
  }
  const readBytes = (n: bigint): Uint8Array => {
    if (n > BigInt(buf.length - pos)) throw fail('truncated')
    const out = buf.slice(pos, pos + Number(n))
    pos += Number(n)
    return out
  }
  /** Major type 7: false, true, null, undefined (20-23), simple (24), floats (25-27). */
  const skipSimple = (): void => {
    const info = buf[pos++]! & 31
    const len = info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1
    if (len < 0) throw fail(`unsupported simple value ${info}`)
    if (pos + len > buf.length) throw fail('truncated')
    pos += len
  }
  /** Skip one item whose head was read. */
  const skipRest = (h: { major: number; n: bigint }, depth: number): void => {
    if (depth > MAX_DEPTH) throw fail('nested too deep')
    switch (h.major) {
      case 0:
      case 1:
        return
      case 2:
      case 3:
        readBytes(h.n)
        return
      case 4:
      case 5: {
        const items = h.major === 4 ? h.n : h.n * 2n
        if (items > BigInt(buf.length - pos)) throw fail('truncated')
        for (let i = 0n; i < items; i++) skipItem(depth + 1)
        return
      }
      case 6:
        skipItem(depth + 1)
        return
      default:
        throw fail(`unsupported major type ${h.major}`)
    }
  }
  const skipItem = (depth: number): void => {
    if (pos < buf.length && buf[pos]! >> 5 === 7) skipSimple()
    else skipRest(readHead(), depth)
  }
  const top = readHead()
  if (top.major !== 5) throw fail('not a map')
  if (top.n > 64n) throw fail('too many entries')
  const out: CborMap = new Map()
  for (let i = 0n; i < top.n; i++) {
    const kh = readHead()
    if (kh.major !== 3) throw fail('map key is not text')
    let key: string
    try {
      key = fromUtf8(readBytes(kh.n))
    } catch {
      throw fail('invalid UTF-8')
    }
    if (out.has(key)) throw fail(`duplicate key ${key}`)
    if (pos < buf.length && buf[pos]! >> 5 === 7) {
      skipSimple()
      out.set(key, null)
      continue
    }
    const vh = readHead()
    if (vh.major === 0) out.set(key, vh.n)
    else if (vh.major === 2) out.set(key, readBytes(vh.n))
    else if (vh.major === 3) {
      try {
        out.set(key, fromUtf8(readBytes(vh.n)))
      } catch {
        throw fail('invalid UTF-8')
      }
    } else {
      skipRest(vh, 1)
      out.set(key, null)
    }
  }
  if (pos !== buf.length) throw fail('trailing bytes')
  return out
}
