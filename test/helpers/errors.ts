import { expect } from 'vitest'
import { ProtocolError, UsageError } from '../../src/core/errors.js'

/** Run `f` and return the ProtocolError code it throws (failing on success or any other exception). */
export function protocolErrorCode(f: () => unknown): string {
  return thrownCode(f, ProtocolError)
}

/** Run `f` and return the UsageError code it throws (failing on success or any other exception). */
export function usageErrorCode(f: () => unknown): string {
  return thrownCode(f, UsageError)
}

function thrownCode(f: () => unknown, cls: typeof ProtocolError | typeof UsageError): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(cls)
    return (e as ProtocolError | UsageError).code
  }
  throw new Error(`expected a ${cls.name}, got a result`)
}

/** The ProtocolError code `f` throws, or 'no error' when it returns (any other exception propagates). */
export function codeOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (e instanceof ProtocolError) return e.code
    throw e
  }
  return 'no error'
}

/** Whatever `f` throws, or undefined when it returns. */
export function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  return undefined
}
