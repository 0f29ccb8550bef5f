/**
 * CID text -> the multihash it names (multiformats/cid spec), for `weft dht` keys. Just what the CLI
 * needs, so weft carries no CID library:
 * - CIDv0: 46 base58btc characters starting `Qm`, which decode to a sha2-256 multihash (0x12 0x20 ...);
 * - CIDv1: a multibase prefix (src/core/base.ts decodeBase), then varint version 1, varint content
 *   codec, and the multihash (varint hash code, varint digest length, digest; nothing after it).
 */
import { BASE58BTC, baseXDecode, decodeBase } from '../core/base.js'
import { decode as decodeVarint } from '../core/varint.js'

/** The multihash bytes a CID's text names, or undefined when `text` is not a valid CID. */
export function cidMultihash(text: string): Uint8Array | undefined {
  if (text.length === 46 && text.startsWith('Qm')) {
    const mh = baseXDecode(text, BASE58BTC)
    return mh !== undefined && mh.length === 34 && mh[0] === 0x12 && mh[1] === 0x20 ? mh : undefined
  }
  if (text.length < 2) return undefined
  const bytes = decodeBase(text[0]!, text.slice(1))
  if (bytes === undefined) return undefined
  try {
    let off = 0
    const next = (): number => {
      const d = decodeVarint(bytes, off)!
      off += d.bytes
      return d.value
    }
    if (next() !== 1) return undefined // version
    next() // content codec: any
    const start = off
    next() // hash function code
    const length = next()
    if (bytes.length - off !== length) return undefined
    return bytes.slice(start)
  } catch {
    return undefined // a truncated or overlong varint
  }
}
