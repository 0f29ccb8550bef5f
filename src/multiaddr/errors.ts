/**
 * Every way a multiaddr can be malformed, as one error class.
 *
 * Bytes come from remote peers (identify, kad, relay); text comes from users, config files and
 * dnsaddr TXT records. Both raise `ProtocolError('multiaddr', code)`, so callers catch one thing.
 */
import { ProtocolError } from '../core/errors.js'

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

export type MultiaddrError = ProtocolError<MultiaddrErrorCode>

export function fail(code: MultiaddrErrorCode, message?: string, cause?: unknown): never {
  throw new ProtocolError<MultiaddrErrorCode>('multiaddr', code, message, cause === undefined ? undefined : { cause })
}
