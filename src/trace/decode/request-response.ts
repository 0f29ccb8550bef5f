/**
 * Request-response streams (spec/request-response.md; rust-libp2p's request-response format): one
 * message each way, framed by EOF (the default) or by an unsigned-varint length prefix, read with
 * the module's own MessageReader within DEFAULT_MAX_REQUEST_BYTES / DEFAULT_MAX_RESPONSE_BYTES, and
 * decoded with the module's json() or cbor() codec when the node says which codec the protocol
 * uses (`RequestResponseHint`); else only its length is shown.
 */
import { CborSimple, CborTag } from '../../core/cbor.js'
import { varint } from '../../core/index.js'
import type { DecodedMessage } from '../../core/trace.js'
import {
  cbor, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, json, MessageReader, type Codec, type Framing,
} from '../../request-response/index.js'
import { BaseDecoder, hex, list, msg, MAX_SHOWN_ITEMS, num, reason, text, type Fields } from './common.js'

/** What the node knows of a request-response protocol: its codec's name and its framing. */
export interface RequestResponseHint {
  /** 'json' and 'cbor' are decoded; any other name (e.g. 'raw', a user's codec) shows lengths only. */
  codec?: string | undefined
  /** Default 'eof'. */
  framing?: Framing | undefined
  /** This direction's cap (maxRequestBytes / maxResponseBytes); defaults: the module's. */
  maxBytes?: number | undefined
}

/** Nesting shown of a decoded value; deeper parts are replaced by '...'. */
const MAX_VALUE_DEPTH = 8

/** A decoded JSON or CBOR value made JSON-safe and short: bytes as hex, bigints as numbers or text, maps as [key, value] pairs. */
export function readable(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return text(v)
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v
  if (v === undefined) return null
  if (typeof v === 'bigint') return num(v)
  if (v instanceof Uint8Array) return hex(v)
  if (depth >= MAX_VALUE_DEPTH) return '...'
  if (v instanceof CborTag) return { tag: num(v.tag), value: readable(v.value, depth + 1) }
  if (v instanceof CborSimple) return { simple: v.value }
  if (Array.isArray(v)) return list(v, (x) => readable(x, depth + 1))
  if (v instanceof Map) return list([...v.entries()], ([k, x]) => [readable(k, depth + 1), readable(x, depth + 1)])
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    const out: Fields = {}
    const keys = Object.keys(o)
    for (const k of keys.slice(0, MAX_SHOWN_ITEMS)) out[text(k)] = readable(o[k], depth + 1)
    if (keys.length > MAX_SHOWN_ITEMS) out['...'] = `${keys.length - MAX_SHOWN_ITEMS} more`
    return out
  }
  return String(v)
}

const CODECS: Record<string, () => Codec<unknown, unknown>> = { json: () => json(), cbor: () => cbor() }

/**
 * One direction of a request-response stream. `opener`: this direction is the request (true), the
 * response (false) or unknown (the message is then named `Message`, capped by the larger limit).
 */
export class RequestResponseDecoder extends BaseDecoder {
  #reader: MessageReader
  readonly #lp: boolean
  readonly #name: string
  readonly #codecName: string | undefined
  readonly #decode: ((b: Uint8Array) => unknown) | undefined
  #bytes = 0

  constructor(hint: RequestResponseHint, opener: boolean | undefined) {
    super()
    const framing = hint.framing ?? 'eof'
    const max = hint.maxBytes ?? (opener === true ? DEFAULT_MAX_REQUEST_BYTES : opener === false ? DEFAULT_MAX_RESPONSE_BYTES : Math.max(DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES))
    this.#reader = new MessageReader(framing, max)
    this.#lp = framing === 'length-prefixed'
    this.#name = opener === true ? 'Request' : opener === false ? 'Response' : 'Message'
    this.#codecName = hint.codec
    const make = hint.codec !== undefined ? CODECS[hint.codec] : undefined
    if (make !== undefined) {
      const c = make()
      this.#decode = opener === false ? (b) => c.decodeResponse(b) : (b) => c.decodeRequest(b)
    }
  }

  get buffered(): number {
    return this.#bytes
  }

  protected release(): void {
    this.#reader = new MessageReader('eof', 0)
    this.#bytes = 0
  }

  protected decode(bytes: Uint8Array, out: DecodedMessage[]): void {
    this.#bytes += bytes.length
    const r = this.#reader.push(bytes)
    if (r === 'too-large') throw new RangeError(`reqresp: more than the ${this.#name === 'Response' ? 'response' : 'request'} cap`)
    if (r === 'bad-prefix') throw new RangeError('reqresp: a length prefix longer than 9 bytes or not minimal')
    if (r === 'complete') {
      const n = this.#reader.announced ?? 0
      const rest = this.#bytes - varint.encodingLength(n) - n
      this.#emit(out)
      this.handOver() // one message per direction: bytes after it are ignored by the peer too
      if (rest > 0) out.push(this.data(rest))
    }
  }

  protected override finish(out: DecodedMessage[]): void {
    if (this.#lp) {
      if (!this.#reader.empty) throw new RangeError('reqresp: the stream ended inside a length-prefixed message')
      return
    }
    if (!this.#reader.empty) this.#emit(out)
  }

  #emit(out: DecodedMessage[]): void {
    const m = this.#reader.message()
    if (m === undefined) return
    const f: Fields = { length: m.length }
    if (this.#codecName !== undefined) f.codec = this.#codecName
    if (this.#decode !== undefined) {
      try {
        f.value = readable(this.#decode(m))
      } catch (e) {
        f.decodeError = reason(e)
        f.hex = hex(m)
      }
    }
    out.push(msg(this.#name, f))
  }
}
