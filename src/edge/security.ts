/**
 * The node's `security` option (spec/tls.md): the swarm's per-connection options with the security
 * protocols in order and, when 'tls' is among them, the factory of `/tls/1.0.0` channels that the
 * entry point supplies (weft/node; weft/browser has none).
 */
import { UsageError } from '../core/errors.js'
import type { PrivateKey } from '../peer-id/index.js'
import type { SwarmConfig } from '../swarm/index.js'
import type { NodeInternals, NodeOptions } from './node-types.js'

/** The swarm's `connection` options with `security` (and the TLS channel factory it needs). */
export function withSecurity(opts: NodeOptions, internals: NodeInternals, identity: PrivateKey): { connection?: NonNullable<SwarmConfig['connection']> } {
  const security = opts.security
  if (security === undefined) return opts.connection !== undefined ? { connection: opts.connection } : {}
  if (!Array.isArray(security) || security.length === 0 || security.some((s) => s !== 'noise' && s !== 'tls') || new Set(security).size !== security.length) {
    throw new RangeError("security: a non-empty list of 'noise' and 'tls', each at most once")
  }
  if (!security.includes('tls')) return { connection: { ...opts.connection, security } }
  if (internals.tls === undefined) throw new UsageError('node/no-tls', "security 'tls' needs weft/node (this build has no TLS)")
  return { connection: { ...opts.connection, security, tls: internals.tls(identity) } }
}
