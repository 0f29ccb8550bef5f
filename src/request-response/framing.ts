/**
 * How one message fills one stream direction (spec/request-response.md, "Framing"):
 *
 * - `'eof'` (default; rust-libp2p's cbor and json codecs): the message is every byte before the
 *   writer's half-close. The cap is checked as bytes arrive; the first byte past it fails the read.
 * - `'length-prefixed'` (protobuf protocols: libp2p fetch, AutoNAT v1, go's `msgio`/`pbio` style):
 *   an unsigned varint (multiformats, at most 9 bytes, minimal) giving the message's length, then
 *   the message. The cap is checked on the prefix, before a byte of the message is buffered; the
 *   message is complete once `length` bytes have come, without waiting for EOF; bytes after it are
 *   discarded unread. A zero length is a message (an empty protobuf); no byte at all before EOF is
 *   an omitted response, as with `'eof'`.
 *
 * Pure: a reader per stream direction, fed the stream's bytes.
 */
import { concat } from '../core/bytes.js'
import { decode as decodeVarint, encode as encodeVarint, VARINT_MAX_BYTES } from '../core/varint.js'

/**
 * How a message is delimited on its stream: `eof` (the writer half-closes after it, as rust-libp2p's
 * request-response) or `length-prefixed` (an unsigned varint length first).
 */
export type Framing = 'eof' | 'length-prefixed'

/** `message` as it goes on the wire under `framing`. */
export function frame(framing: Framing, message: Uint8Array): Uint8Array {
  if (framing === 'eof') return message
  return concat([encodeVarint(message.length), message])
}

/**
 * What a `push` made of the bytes so far: `more` (keep reading), `complete` (length-prefixed: the
 * whole message is in), `too-large` (past the cap, or a prefix announcing more), `bad-prefix` (a
 * prefix longer than 9 bytes or not minimal).
 */
export type PushResult = 'more' | 'complete' | 'too-large' | 'bad-prefix'

/** Gathers one message from one stream direction, never holding more than `max` bytes of it. */
export class MessageReader {
  readonly #lp: boolean
  readonly #max: number
  readonly #chunks: Uint8Array[] = []
  #have = 0
  /** Length-prefixed: the prefix bytes so far (before it is decoded), then the announced length. */
  #prefix: number[] = []
  #length: number | undefined
  #seen = 0

  constructor(framing: Framing, max: number) {
    this.#lp = framing === 'length-prefixed'
    this.#max = max
  }

  /** No byte has come (an omitted response, at EOF). */
  get empty(): boolean {
    return this.#seen === 0
  }

  /** Message bytes buffered (for tests: a lying prefix buffers nothing). */
  get buffered(): number {
    return this.#have
  }

  /** The announced length (length-prefixed, once the prefix is in). */
  get announced(): number | undefined {
    return this.#length
  }

  /** Add received bytes; says whether the message is complete, needs more, is too large, or has a bad length prefix. */
  push(data: Uint8Array): PushResult {
    if (data.length === 0) return this.#length !== undefined && this.#have === this.#length ? 'complete' : 'more'
    this.#seen += data.length
    if (!this.#lp) {
      if (this.#have + data.length > this.#max) return 'too-large'
      this.#take(data)
      return 'more'
    }
    let at = 0
    while (this.#length === undefined && at < data.length) {
      const b = data[at++]!
      this.#prefix.push(b)
      if ((b & 0x80) !== 0) {
        if (this.#prefix.length >= VARINT_MAX_BYTES) return 'bad-prefix'
        continue
      }
      let n: number
      try {
        n = decodeVarint(Uint8Array.from(this.#prefix))!.value
      } catch {
        return 'bad-prefix'
      }
      if (n > this.#max) return 'too-large'
      this.#length = n
      this.#prefix = []
    }
    if (this.#length === undefined) return 'more'
    const want = this.#length - this.#have
    if (at < data.length && want > 0) this.#take(data.subarray(at, at + Math.min(want, data.length - at)))
    return this.#have === this.#length ? 'complete' : 'more'
  }

  /**
   * The message (at EOF for 'eof', at 'complete' for length-prefixed). Undefined when a
   * length-prefixed message is cut short: EOF inside the prefix or before `length` bytes.
   */
  message(): Uint8Array | undefined {
    if (this.#lp && (this.#length === undefined || this.#have < this.#length)) return undefined
    const out = concat(this.#chunks, this.#have)
    this.#chunks.length = 0
    return out
  }

  #take(data: Uint8Array): void {
    this.#chunks.push(data.slice())
    this.#have += data.length
  }
}
