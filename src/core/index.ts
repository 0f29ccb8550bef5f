/**
 * The foundation every protocol core shares: typed errors (`ProtocolError`, `UsageError`, `OutcomeError`,
 * `DialError`), close and reset codes, unsigned varints and length-prefixed framing (spec/varint.md), the
 * `ByteMachine` contract of sans-IO cores, byte helpers and the `CryptoProvider` interface.
 *
 * @module weft/core
 */
export { ProtocolError, UsageError, OutcomeError, DialError, InternalError, ConnectionClosedError, ResourceLimitError, isProtocolError } from './errors.js'
export * from './close-codes.js'
export type { DialErrorCode, DialAttempt, ResourceScope, ResourceKind } from './errors.js'
/**
 * Unsigned varints (multiformats/unsigned-varint): `encode`, `encodeInto`, `encodingLength`, `decode`, `decodeExact`. Minimal encodings only, at most 9 bytes.
 */
export * as varint from './varint.js'
export { encodeLp, decodeLpExact, LpDecoder } from './lp.js'
export { ReadBuffer } from './read-buffer.js'
export type { ByteMachine, Millis, RandomBytes } from './byte-machine.js'
export type { CryptoProvider, OtherKeyType } from './crypto/provider.js'
export { nobleCrypto } from './crypto/noble.js'
export { toHex, fromHex, concat, equals, utf8, fromUtf8 } from './bytes.js'
