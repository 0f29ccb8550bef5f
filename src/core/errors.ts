/**
 * The two error classes of weft.
 *
 * - `ProtocolError`: the remote broke the spec. It is the ONLY exception that remote input may cause,
 *   anywhere in weft. `protocol` names the protocol (`'yamux'`, `'noise'`, `'varint'`, ...) and `code`
 *   is a stable string (`'yamux/credits-exceeded'`) used in tests, vectors and spec notes.
 * - `UsageError`: local misuse (a command in the wrong state, a closed object). Argument checks use
 *   the built-in `TypeError` / `RangeError`.
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

export class UsageError extends Error {
  override readonly name = 'UsageError'
  readonly code: string

  constructor(code: string, message?: string, options?: { cause?: unknown }) {
    super(message === undefined ? code : `${code}: ${message}`, options)
    this.code = code
  }
}

/** True when `e` is a ProtocolError, optionally with the given code. */
export function isProtocolError(e: unknown, code?: string): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code)
}
