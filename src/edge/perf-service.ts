/**
 * Perf (`/perf/1.0.0`, spec/perf.md) as an opt-in node service, so that a browser bundle that
 * never benchmarks does not carry it:
 *
 *   import { createNode, perf } from 'weft/browser'
 *   const node = await createNode({ services: { perf: perf() } })
 *   const result = await node.perf(addr, { uploadBytes: 1e6, downloadBytes: 1e6 })
 *
 * `weft/node` always includes it. The node drives the behaviour itself (`node.perf()`, the
 * `perf:served` and `perf:server-error` events), so the service's own API is the behaviour.
 */
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { PerfBehaviour, type PerfOptions } from '../perf/index.js'

export function perf(options: PerfOptions = {}): ServiceFactory<PerfBehaviour> {
  return (): NodeService<PerfBehaviour> => {
    const behaviour = new PerfBehaviour(options)
    return { name: 'perf', behaviour: behaviour as NodeService['behaviour'], api: behaviour, onEvent: () => {}, stop: () => {} }
  }
}
