/**
 * Every way a multiaddr can be malformed, as one set of codes, raised as the class that says who
 * is to blame (src/core/errors.ts):
 *
 * - bytes come from remote peers (identify, kad, relay, signed records): `Multiaddr.fromBytes`
 *   raises `ProtocolError('multiaddr', code)`;
 * - text comes from users and config files: `Multiaddr.fromString` raises `UsageError(code)`
 *   with the same code, so `isProtocolError` never mistakes a typo for a hostile peer.
 *
 * The codecs shared by both directions call `fail` (a ProtocolError); the text entry point turns
 * it into a UsageError with `fromUserText`.
 */
import { ProtocolError, UsageError } from '../core/errors.js'

/**
 * Every way a multiaddr can be malformed. Raised as `ProtocolError('multiaddr', code)` for bytes from a
 * remote peer (`Multiaddr.fromBytes`) and as `UsageError(code)` for text from a user
 * (`Multiaddr.fromString`), so `isProtocolError` never mistakes a typo for a hostile peer.
 */
export type MultiaddrErrorCode =
  | 'multiaddr/empty'
  | 'multiaddr/too-large'
  | 'multiaddr/missing-slash'
  | 'multiaddr/unknown-protocol'
  | 'multiaddr/unknown-code'
  | 'multiaddr/missing-value'
  | 'multiaddr/truncated'
  | 'multiaddr/invalid-varint'
  | 'multiaddr/trailing-bytes'
  | 'multiaddr/invalid-ip4'
  | 'multiaddr/invalid-ip6'
  | 'multiaddr/invalid-port'
  | 'multiaddr/invalid-base58'
  | 'multiaddr/invalid-base32'
  | 'multiaddr/invalid-onion'
  | 'multiaddr/invalid-peer-id'
  | 'multiaddr/invalid-value'
  | 'multiaddr/component-after-path'

/** Malformed multiaddr bytes (from a remote). */
export type MultiaddrError = ProtocolError<MultiaddrErrorCode>
/** Malformed multiaddr text (from a user): a UsageError whose code is a MultiaddrErrorCode. */
export type MultiaddrTextError = UsageError & { readonly code: MultiaddrErrorCode }

export function fail(code: MultiaddrErrorCode, message?: string, cause?: unknown): never {
  throw new ProtocolError<MultiaddrErrorCode>('multiaddr', code, message, cause === undefined ? undefined : { cause })
}

/** Run a parse of user text: a multiaddr ProtocolError raised inside becomes a UsageError, same code and message. */
export function fromUserText<T>(parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.protocol !== 'multiaddr') throw e
    // same code and detail: ProtocolError's message is `${code}` or `${code}: ${detail}`
    throw new UsageError(e.code, e.message.slice(e.code.length + 2) || undefined, { cause: e.cause })
  }
}
