/**
 * The machine's RAM in bytes, read only at the edge (weft/node's createNode), which hands it to the
 * resource manager's autoscaled defaults (src/swarm/resource-limits.ts). Cores never read it.
 */
import { totalmem } from 'node:os'

export function systemMemory(): number {
  return totalmem()
}
