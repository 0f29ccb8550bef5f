/**
 * What AutoNAT's two codecs share: the error type, protobuf decoding with AutoNAT's limits, and the
 * length-prefixed framing on a stream (a varint length, then the protobuf; both versions).
 *
 * Decoding remote bytes throws `ProtocolError('autonat', 'autonat/...')` only, whatever went wrong.
 */
import { ProtocolError } from '../core/errors.js'
import { decodeMessage, type FieldReader } from '../core/protobuf.js'
import { MessageFrameDecoder } from '../core/lp.js'

export const PROTOCOL = 'autonat'

/**
 * The `ProtocolError('autonat', code)` codes of AutoNAT v1 and v2: a message over the limit, malformed, unexpected, a wrong nonce.
 */
export type AutoNATErrorCode =
  | 'autonat/message-too-large'
  | 'autonat/malformed'
  | 'autonat/missing-field'
  | 'autonat/unknown-message'
  | 'autonat/invalid-peer-id'
  | 'autonat/invalid-multiaddr'
  | 'autonat/too-many-addrs'
  | 'autonat/addr-too-long'
  | 'autonat/data-too-large'
  | 'autonat/unexpected-message'

export const fail = (code: AutoNATErrorCode, message?: string, cause?: unknown): ProtocolError<AutoNATErrorCode> =>
  new ProtocolError<AutoNATErrorCode>(PROTOCOL, code, message, cause === undefined ? undefined : { cause })

/** Decode one protobuf message within `maxSize`; every failure becomes a ProtocolError('autonat', 'autonat/...'). */
export function decodeWith(bytes: Uint8Array, maxSize: number, what: string, onField: (field: number, r: FieldReader) => void): void {
  if (bytes.length > maxSize) throw fail('autonat/message-too-large', `${what}: ${bytes.length} > ${maxSize}`)
  try {
    decodeMessage(bytes, PROTOCOL, maxSize, onField)
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('autonat/')) throw e
    throw fail('autonat/malformed', `${what}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
}

/** Throws autonat/malformed when a singular field (or a second oneof member) appears twice. */
export function once(current: unknown, what: string): void {
  if (current !== undefined) throw fail('autonat/malformed', `repeated field ${what}`)
}

/**
 * Reads length-prefixed messages from a stream in any chunking. Buffers at most `maxMessageSize` + 9
 * bytes beyond whole messages. Throws ProtocolError('autonat', ...) only.
 */
export class FrameDecoder<M> extends MessageFrameDecoder<M, typeof PROTOCOL> {
  constructor(maxMessageSize: number, decode: (body: Uint8Array) => M) {
    super(PROTOCOL, maxMessageSize, decode)
  }
}
