/**
 * multistream-select 1.0: the wire format shared by the dialer and the listener.
 *
 * Every message is a *length-prefixed line*: an unsigned varint length, then a UTF-8 string, then
 * '\n'. The length counts the newline:
 *
 *     na  ->  03 6e 61 0a          /multistream/1.0.0  ->  13 2f6d...302e30 0a
 *
 * Messages of the protocol (spec terms):
 * - the multistream protocol id `/multistream/1.0.0` (the *header*), sent first by both sides;
 * - a protocol id (a *proposal* from the Initiator, echoed back by the Responder to accept it);
 * - `na` ("not available"), the Responder's refusal;
 * - `ls`, the request for the Responder's protocol list, answered by one message whose body is the
 *   concatenation of each protocol as its own length-prefixed line, followed by the message's own
 *   final '\n' (see spec/multistream.md, "ls response").
 *
 * Reading is bounded by `maxMessageLength` (the length including the newline). It is checked from
 * the length prefix alone, before a single byte of the body is buffered.
 */
import { ProtocolError } from '../core/errors.js'
import type { ReadBuffer } from '../core/read-buffer.js'
import * as varint from '../core/varint.js'
import { concat, fromUtf8, utf8 } from '../core/bytes.js'

/** The multistream-select header both sides send first. */
export const PROTOCOL_ID = '/multistream/1.0.0'
/** The listener's answer to a protocol it does not support. */
export const NA = 'na'
/** The request for the listener's protocol list. */
export const LS = 'ls'
const NEWLINE = 0x0a

/**
 * Default limit on a received message, newline included. go-multistream refuses anything above 1024,
 * so a longer message could never come from (or be accepted by) a go peer. Stops a remote making us
 * buffer a huge "line".
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 1024

/** A protocol id is at most 1023 UTF-8 bytes, so that id + '\n' fits go's 1024-byte messages. */
export const MAX_PROTOCOL_ID_BYTES = DEFAULT_MAX_MESSAGE_LENGTH - 1

/**
 * The `ProtocolError('multistream', code)` codes: a line too long, a bad length prefix, a missing newline, an unexpected header or answer.
 */
export type MultistreamErrorCode =
  | 'multistream/message-too-long'
  | 'multistream/invalid-varint'
  | 'multistream/missing-newline'
  | 'multistream/bad-header'
  | 'multistream/invalid-utf8'
  | 'multistream/unexpected-eof'
  | 'multistream/unexpected-message'
  | 'multistream/invalid-ls-response'
  | 'multistream/lazy-rejected'
  | 'multistream/too-many-proposals'
  | 'multistream/empty-protocol'

/**
 * Events of the multistream dialer and listener: a protocol agreed, none agreed, an `ls` answer, or bytes after the negotiation.
 */
export type MultistreamEvent =
  /** A protocol was agreed (the lazy dialer emits this before the Responder's confirmation). */
  | { type: 'negotiated'; protocol: string }
  /** Dialer: every proposal was answered `na`. */
  | { type: 'failed' }
  /** Dialer: the answer to an `ls()` request. */
  | { type: 'ls'; protocols: string[] }
  /** Lazy dialer only: application bytes from the Responder (the core stays in the byte path). */
  | { type: 'data'; data: Uint8Array }
  /** Lazy dialer only: the Responder closed its write side after the negotiation was confirmed. */
  | { type: 'eof' }

export function fail(code: MultistreamErrorCode, message?: string): ProtocolError<MultistreamErrorCode> {
  return new ProtocolError<MultistreamErrorCode>('multistream', code, message)
}

/** `varint(len(body) + 1) || body || '\n'`. */
export function encodeMessage(body: Uint8Array | string): Uint8Array {
  const b = typeof body === 'string' ? utf8(body) : body
  const out = new Uint8Array(varint.encodingLength(b.length + 1) + b.length + 1)
  const off = varint.encodeInto(b.length + 1, out, 0)
  out.set(b, off)
  out[out.length - 1] = NEWLINE
  return out
}

/**
 * Take the next whole message from `buf` and return its body without the trailing newline, or
 * `undefined` when more bytes are needed. Throws ProtocolError on a malformed message.
 *
 * The prefix of a message no longer than `max` takes at most `encodingLength(max)` bytes, so an
 * unfinished prefix of that many bytes is already too long: the verdict does not depend on how the
 * bytes were chunked.
 */
export function readMessage(buf: ReadBuffer, max: number): Uint8Array | undefined {
  const prefixMax = varint.encodingLength(max)
  const head = buf.peek(Math.min(buf.length, prefixMax))
  let end = -1
  for (let i = 0; i < head.length; i++) {
    if ((head[i]! & 0x80) === 0) {
      end = i
      break
    }
  }
  if (end === -1) {
    if (head.length >= prefixMax) throw fail('multistream/message-too-long', `length prefix exceeds ${max}`)
    return undefined
  }
  let length: number
  try {
    length = varint.decode(head.subarray(0, end + 1), 0)!.value
  } catch (e) {
    throw fail('multistream/invalid-varint', e instanceof Error ? e.message : undefined)
  }
  if (length > max) throw fail('multistream/message-too-long', `${length} > ${max}`)
  if (length === 0) throw fail('multistream/missing-newline', 'empty message')
  if (buf.length < end + 1 + length) return undefined
  buf.skip(end + 1)
  const body = buf.read(length).slice()
  if (body[length - 1] !== NEWLINE) throw fail('multistream/missing-newline')
  return body.subarray(0, length - 1)
}

/** Strict UTF-8 decoding of a received line. */
export function decodeLine(body: Uint8Array): string {
  try {
    return fromUtf8(body)
  } catch {
    throw fail('multistream/invalid-utf8')
  }
}

/** Body of the `ls` response: each protocol as a length-prefixed line (the caller frames it once more). */
export function encodeLsBody(protocols: readonly string[]): Uint8Array {
  return concat(protocols.map((p) => encodeMessage(p)))
}

/** Parse the body of an `ls` response (the outer newline already removed by readMessage). */
export function decodeLsBody(body: Uint8Array): string[] {
  const out: string[] = []
  let off = 0
  while (off < body.length) {
    let d: varint.Decoded
    try {
      d = varint.decode(body, off)!
    } catch {
      throw fail('multistream/invalid-ls-response', 'bad length prefix')
    }
    const start = off + d.bytes
    const end = start + d.value
    if (d.value < 2 || end > body.length || body[end - 1] !== NEWLINE) {
      throw fail('multistream/invalid-ls-response', 'entry is not a non-empty line')
    }
    const protocol = decodeLine(body.subarray(start, end - 1))
    if (protocol.includes('\n')) throw fail('multistream/invalid-ls-response', 'entry contains a newline')
    out.push(protocol)
    off = end
  }
  return out
}

/**
 * Check a protocol id given by local code. Throws TypeError / RangeError (local misuse), never
 * ProtocolError. `maxBytes` lets a core require that the id also fits its own read limit.
 */
export function checkProtocolId(protocol: unknown, maxBytes = MAX_PROTOCOL_ID_BYTES): asserts protocol is string {
  if (typeof protocol !== 'string') throw new TypeError('protocol id must be a string')
  if (protocol.length === 0) throw new RangeError('protocol id must not be empty')
  if (protocol.includes('\n')) throw new RangeError('protocol id must not contain a newline')
  if (protocol === NA || protocol === LS || protocol === PROTOCOL_ID) {
    throw new RangeError(`'${protocol}' is a multistream-select message, not a protocol id`)
  }
  const bytes = utf8(protocol)
  if (fromUtf8(bytes) !== protocol) throw new RangeError('protocol id is not well-formed Unicode')
  const limit = Math.min(maxBytes, MAX_PROTOCOL_ID_BYTES)
  if (bytes.length > limit) throw new RangeError(`protocol id is ${bytes.length} bytes, limit ${limit}`)
}

/** Check a maxMessageLength option: it must at least fit the header (19 bytes). */
export function checkMaxMessageLength(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_LENGTH
  const min = PROTOCOL_ID.length + 1
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`maxMessageLength must be an integer >= ${min}`)
  return value
}

export function checkMax(max: number): void {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('pollTransmit(max): max must be a positive integer')
}
