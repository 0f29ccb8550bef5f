/**
 * The error codes of keys and peer ids, and the helpers that raise them, as the class that says who
 * is to blame (src/core/errors.ts):
 *
 * - bytes (key protobufs, multihashes) come from remote peers (Noise payloads, identify, records):
 *   `ProtocolError('peer-id', code)`, built by `fail`;
 * - text (`PeerId.parse`) comes from users: `UsageError(code)` with the same code, through
 *   `fromUserText` (the decoders shared with bytes raise ProtocolError, turned around at the text
 *   entry point).
 *
 * A file of its own so that keys.ts and peer-id.ts both use it without importing each other for it.
 */
import { ProtocolError, UsageError } from '../core/errors.js'

/**
 * Every way a peer id or key can be malformed (peer-ids spec). `ProtocolError('peer-id', code)` for
 * bytes from a peer; `UsageError(code)` for text from a user (`PeerId.parse`).
 */
export type PeerIdErrorCode =
  | 'peer-id/invalid-key'
  | 'peer-id/unsupported-key-type'
  | 'peer-id/invalid-text'
  | 'peer-id/invalid-multihash'
  | 'peer-id/wrong-codec'

/** A ProtocolError('peer-id', ...) to throw. */
export const fail = (code: PeerIdErrorCode, message: string, cause?: unknown): ProtocolError<PeerIdErrorCode> =>
  new ProtocolError<PeerIdErrorCode>('peer-id', code, message, cause === undefined ? undefined : { cause })

/** Run a parse of user text: a peer-id ProtocolError raised inside becomes a UsageError, same code and message. */
export function fromUserText<T>(parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.protocol !== 'peer-id') throw e
    const prefix = `${e.code}: `
    const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : undefined
    throw new UsageError(e.code, detail, e.cause === undefined ? undefined : { cause: e.cause })
  }
}
