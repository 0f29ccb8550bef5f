/**
 * The slice of DAG-CBOR (RFC 8949 with the IPLD DAG-CBOR restrictions) that IPNS records use: a map
 * with text keys whose values are byte strings, text strings or unsigned integers. Only what the
 * IPNS `data` field needs; anything else (negative ints, floats, tags, arrays, indefinite lengths)
 * is rejected as a malformed record.
 *
 * Encoding is canonical DAG-CBOR: shortest-form lengths, map keys sorted by length then bytewise.
 */
import { ProtocolError } from '../core/errors.js'
import { fromUtf8, utf8, compare } from '../core/bytes.js'

export type CborValue = Uint8Array | string | bigint
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
    const vh = readHead()
    if (vh.major === 0) out.set(key, vh.n)
    else if (vh.major === 2) out.set(key, readBytes(vh.n))
    else if (vh.major === 3) {
      try {
        out.set(key, fromUtf8(readBytes(vh.n)))
      } catch {
        throw fail('invalid UTF-8')
      }
    } else throw fail(`unsupported major type ${vh.major} for ${key}`)
  }
  if (pos !== buf.length) throw fail('trailing bytes')
  return out
}
