import { expect } from 'vitest'
import { ProtocolError } from '../../src/core/errors.js'

/** Run `f` and return the ProtocolError code it throws (failing on success or any other exception). */
export function protocolErrorCode(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    return (e as ProtocolError).code
  }
  throw new Error('expected a ProtocolError, got a result')
}
