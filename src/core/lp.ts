/**
 * Length-prefixed messages: an unsigned varint length, then that many bytes. Used by identify,
 * kad, gossipsub, multistream-select and Noise's libp2p payload framing in other stacks.
 *
 * Every decoder has a maximum message size: without one, a remote announcing a 2^53-byte message
 * would make us buffer without bound.
 */
import { ProtocolError } from './errors.js'
import { ReadBuffer } from './read-buffer.js'
import * as varint from './varint.js'

export type LpErrorCode = 'lp/too-large' | 'lp/truncated' | 'varint/truncated' | 'varint/non-minimal' | 'varint/overlong' | 'varint/too-large'

/** Prefix `body` with its length as an unsigned varint (the framing most libp2p protocols use). */
export function encodeLp(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(varint.encodingLength(body.length) + body.length)
  const off = varint.encodeInto(body.length, out, 0)
  out.set(body, off)
  return out
}

/** Decode a buffer holding exactly one length-prefixed message. */
export function decodeLpExact(buf: Uint8Array, maxLength: number, protocol = 'lp'): Uint8Array {
  const d = varint.decode(buf, 0)!
  if (d.value > maxLength) throw new ProtocolError(protocol, 'lp/too-large', `${d.value} > ${maxLength}`)
  if (buf.length - d.bytes !== d.value) throw new ProtocolError(protocol, 'lp/truncated', `declared ${d.value}, have ${buf.length - d.bytes}`)
  return buf.slice(d.bytes)
}

/**
 * Streaming decoder: push bytes in any chunking, pull whole messages out.
 * Buffers at most `maxLength` + 9 bytes beyond the messages already decodable.
 */
export class LpDecoder {
  readonly #buf = new ReadBuffer()
  readonly #maxLength: number
  readonly #protocol: string

  constructor(maxLength: number, protocol = 'lp') {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0) throw new RangeError('maxLength must be a non-negative integer')
    this.#maxLength = maxLength
    this.#protocol = protocol
  }

  /** Append received bytes (copied; any chunking). Call `next()` to take out whole messages. */
  push(data: Uint8Array): void {
    this.#buf.push(data)
  }

  /** Bytes buffered and not yet returned. */
  get buffered(): number {
    return this.#buf.length
  }

  /** Next whole message, or undefined when more bytes are needed. Throws ProtocolError. */
  next(): Uint8Array | undefined {
    const head = this.#buf.peek(Math.min(this.#buf.length, varint.VARINT_MAX_BYTES))
    const d = varint.decode(head, 0, true)
    if (d === undefined) return undefined
    if (d.value > this.#maxLength) throw new ProtocolError(this.#protocol, 'lp/too-large', `${d.value} > ${this.#maxLength}`)
    if (this.#buf.length < d.bytes + d.value) return undefined
    this.#buf.skip(d.bytes)
    return this.#buf.read(d.value).slice()
  }

  /** Remove and return whatever follows the decoded messages (used when a protocol hands over the stream). */
  takeRemainder(): Uint8Array {
    return this.#buf.readAll().slice()
  }
}

/**
 * The messages of one protocol, length-prefixed, from a stream in any chunking (Circuit Relay,
 * AutoNAT, DCUtR): `decode` turns each body into a message. A frame announcing more than
 * `maxMessageSize` bytes is `ProtocolError(protocol, '<protocol>/message-too-large')` and a bad
 * prefix `'<protocol>/malformed'`, before any of its body is buffered; `decode` throws its own.
 */
export class MessageFrameDecoder<M, P extends string = string> {
  readonly #lp: LpDecoder
  readonly #protocol: P
  readonly #decode: (body: Uint8Array) => M

  constructor(protocol: P, maxMessageSize: number, decode: (body: Uint8Array) => M) {
    this.#lp = new LpDecoder(maxMessageSize, protocol)
    this.#protocol = protocol
    this.#decode = decode
  }

  /** Append received bytes (copied; any chunking). Call `next()` to take out whole messages. */
  push(data: Uint8Array): void {
    this.#lp.push(data)
  }

  /** Bytes buffered and not yet returned. */
  get buffered(): number {
    return this.#lp.buffered
  }

  /** The next whole message, or undefined when more bytes are needed. */
  next(): M | undefined {
    let body: Uint8Array | undefined
    try {
      body = this.#lp.next()
    } catch (e) {
      const tooLarge = e instanceof ProtocolError && e.code === 'lp/too-large'
      const code: `${P}/message-too-large` | `${P}/malformed` = tooLarge ? `${this.#protocol}/message-too-large` : `${this.#protocol}/malformed`
      throw new ProtocolError(this.#protocol, code, `frame: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    }
    return body === undefined ? undefined : this.#decode(body)
  }

  /** Remove and return whatever follows the decoded messages (the stream is handed over). */
  takeRemainder(): Uint8Array {
    return this.#lp.takeRemainder()
  }
}
