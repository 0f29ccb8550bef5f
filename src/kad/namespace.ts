/** Record key namespaces (`/pk/...`, `/ipns/...`) and the invalid-record error. */
import { ProtocolError } from '../core/errors.js'
import { fromUtf8 } from '../core/bytes.js'
import type { KadErrorCode } from './message.js'

/** The `ProtocolError('kad', 'kad/invalid-record')` a validator throws for a record its namespace refuses. */
export function invalidRecord(message: string): ProtocolError<KadErrorCode> {
  return new ProtocolError<KadErrorCode>('kad', 'kad/invalid-record', message)
}

/**
 * Split a record key into its namespace and the rest (bytes after `/<namespace>/`). Undefined when
 * the key has no namespace.
 */
export function splitNamespace(key: Uint8Array): { namespace: string; rest: Uint8Array } | undefined {
  if (key.length < 3 || key[0] !== 0x2f) return undefined
  const end = key.indexOf(0x2f, 1)
  if (end <= 1) return undefined
  let namespace: string
  try {
    namespace = fromUtf8(key.subarray(1, end))
  } catch {
    return undefined
  }
  return { namespace, rest: key.subarray(end + 1) }
}

