/**
 * The error classes of weft. Each says who is to blame, so a caller can tell a hostile peer from a
 * typo or a quiet network:
 *
 * - `ProtocolError`: a remote peer broke the spec, and nothing else. It is the ONLY exception that
 *   remote input may cause, anywhere in weft. `protocol` names the protocol (`'yamux'`, `'noise'`,
 *   `'varint'`, ...) and `code` is a stable string (`'yamux/credits-exceeded'`) used in tests, vectors
 *   and spec notes.
 * - `UsageError`: local misuse (a command in the wrong state, a closed object, user input such as a
 *   mistyped multiaddr). Argument checks use the built-in `TypeError` / `RangeError`.
 * - `OutcomeError`: a local operation ended without the result it asked for, and nobody broke a
 *   protocol: a DHT query that found nothing (`kad/not-found`) or ran out of time (`kad/timeout`).
 * - `DialError` (an `OutcomeError`): a dial that could not produce a connection, with the cause of
 *   each address tried.
 * - `TransportError` (src/io/transport.ts): the network failed (refused, unreachable, timeout).
 * - `InternalError`: a bug in weft, contained at a stream, connection or runtime boundary; the
 *   original exception is its `cause`.
 */
import { closeReason, formatWireCode, type CloseReasonCode } from './close-codes.js'

/**
 * A remote peer broke a protocol, and nothing else: the only exception remote input may cause anywhere
 * in weft. `protocol` names the protocol (`'yamux'`, `'noise'`, `'varint'`...) and `code` is a stable
 * string (`'yamux/credits-exceeded'`) used in tests, vectors and the spec notes' error tables.
 * Test for it with `isProtocolError(e)` or `e instanceof ProtocolError`.
 */
export class ProtocolError<Code extends string = string> extends Error {
  override readonly name = 'ProtocolError'
  readonly protocol: string
  readonly code: Code

  constructor(protocol: string, code: Code, message?: string, options?: { cause?: unknown }) {
    super(message === undefined ? code : `${code}: ${message}`, options)
    this.protocol = protocol
    this.code = code
  }
}

/**
 * Local misuse: a command in the wrong state, a closed object, or user input such as a mistyped
 * multiaddr (`multiaddr/...` codes). Argument type and range checks throw `TypeError` / `RangeError` instead.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  readonly code: string

  constructor(code: string, message?: string, options?: { cause?: unknown }) {
    super(message === undefined ? code : `${code}: ${message}`, options)
    this.code = code
  }
}

/** A local operation ended without its result; nobody broke a protocol (see the header). */
export class OutcomeError<Code extends string = string> extends Error {
  override readonly name: string = 'OutcomeError'
  readonly code: Code

  constructor(code: Code, message?: string, options?: { cause?: unknown }) {
    super(message === undefined ? code : `${code}: ${message}`, options)
    this.code = code
  }
}

/** Why a dial failed. `too-many-pending`, `connection-limit` are local limits; `self` is misuse caught late. */
export type DialErrorCode =
  | 'dial/no-addresses'
  | 'dial/all-failed'
  | 'dial/timeout'
  | 'dial/aborted'
  | 'dial/too-many-pending'
  | 'dial/connection-limit'
  | 'dial/self'
  | 'dial/denied'
  | 'dial/resource-limit'

/** One address a dial tried, and why it failed (a TransportError, a ProtocolError from the upgrade, ...). */
export interface DialAttempt {
  readonly addr: string
  readonly error: Error
}

/** A dial that produced no connection. `attempts` lists every address tried with its own cause. */
export class DialError extends OutcomeError<DialErrorCode> {
  override readonly name: string = 'DialError'
  readonly attempts: readonly DialAttempt[]

  constructor(code: DialErrorCode, message?: string, attempts: readonly DialAttempt[] = [], options?: { cause?: unknown }) {
    super(code, message, options ?? (attempts.length > 0 ? { cause: attempts[attempts.length - 1]!.error } : undefined))
    this.attempts = attempts
  }
}

/**
 * A connection ended with a close code (a yamux Go Away, src/core/close-codes.ts): the remote closed
 * it with one (`by: 'remote'`), or this node did with a code other than normal (`by: 'local'`, e.g.
 * the connection manager trimming it: 'close/garbage-collected'). Nobody broke a protocol on our
 * side, so it is an outcome. `code` is the typed reason ('close/unknown' for a number weft does not
 * know); `wireCode` the number on the wire.
 */
export class ConnectionClosedError extends OutcomeError<CloseReasonCode> {
  override readonly name: string = 'ConnectionClosedError'
  readonly wireCode: number
  readonly by: 'local' | 'remote'

  constructor(wireCode: number, by: 'local' | 'remote', message?: string) {
    const code = closeReason(wireCode)
    super(code, message ?? `${by === 'remote' ? 'the remote closed the connection' : 'connection closed'} (code ${formatWireCode(wireCode)})`)
    this.wireCode = wireCode
    this.by = by
  }
}

/** A resource manager scope (spec/resource-manager.md); `protocol-peer` is one protocol of one peer. */
export type ResourceScope = 'system' | 'transient' | 'peer' | 'protocol' | 'service' | 'protocol-peer' | 'connection' | 'stream'
/** What was reserved: a connection, a stream, or bytes of memory. */
export type ResourceKind = 'connection' | 'stream' | 'memory'

/**
 * A reservation refused because a resource manager scope is full (src/swarm/resources.ts): no
 * protocol was broken, this node's limits said no. `scope` is the scope that was full, `scopeName` the
 * protocol, service or peer id it belongs to (absent for system, transient, connection, stream),
 * `resource` what was asked for, `direction` of the connection or stream, `limit` the limit hit.
 */
export class ResourceLimitError extends OutcomeError<'resource/limit-exceeded'> {
  override readonly name: string = 'ResourceLimitError'
  readonly scope: ResourceScope
  readonly scopeName: string | undefined
  readonly resource: ResourceKind
  readonly direction: 'inbound' | 'outbound'
  readonly limit: number

  constructor(scope: ResourceScope, resource: ResourceKind, direction: 'inbound' | 'outbound', limit: number, scopeName?: string) {
    super('resource/limit-exceeded', `${scope}${scopeName !== undefined ? ` ${scopeName}` : ''}: cannot reserve ${direction} ${resource} (limit ${limit})`)
    this.scope = scope
    this.scopeName = scopeName
    this.resource = resource
    this.direction = direction
    this.limit = limit
  }
}

/**
 * A bug in weft itself, caught at a boundary (a stream, a connection, the IO runtime) so that it ends
 * only what it happened in: never caused by well-formed or malformed remote input (that is a
 * ProtocolError). `code` names the boundary (`'yamux/internal-error'`, `'connection/internal-error'`);
 * `cause` is the original exception.
 */
export class InternalError extends Error {
  override readonly name = 'InternalError'
  readonly code: string

  constructor(code: string, cause: unknown) {
    super(`${code}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause })
    this.code = code
  }
}

/** True when `e` is a ProtocolError, optionally with the given code. */
export function isProtocolError(e: unknown, code?: string): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code)
}
