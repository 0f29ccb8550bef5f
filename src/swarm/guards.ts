/**
 * The gater and the per-IP limits for the swarm's policy (src/swarm/policy.ts), in a file of their
 * own so that only builds that accept connections carry them: `weft/node` passes `createGuards` to
 * every node; `weft/browser` (browsers never accept a connection) does not.
 */
import { Gater } from './gater.js'
import { IpLimits } from './ip-limits.js'
import type { Guards, PolicyConfig } from './policy.js'

/** The swarm's admission guards (gater and per-IP limits) from a policy config; `createNode` calls it. */
export function createGuards(config: PolicyConfig): Guards {
  return { gater: new Gater(config.gater), ipLimits: new IpLimits(config.ipLimits, config.maxPendingInbound) }
}
