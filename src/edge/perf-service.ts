/**
 * Perf (`/perf/1.0.0`, spec/perf.md) as an opt-in node service, in `weft/node` and `weft/browser`
 * alike: perf lets any peer make the server send and receive bytes, so the spec says it SHOULD NOT
 * be on by default, and a bundle that never benchmarks does not carry it.
 *
 *   import { createNode, perf } from 'weft/node'
 *   const node = await createNode({ services: { perf: perf() } })            // serves with default caps
 *   const result = await node.perf(addr, { uploadBytes: 1e6, downloadBytes: 1e6 })
 *   createNode({ services: { perf: perf({ maxUploadBytes: 2 ** 30, maxDownloadBytes: 2 ** 30, maxStreamsPerPeer: 16 }) } })
 *
 * The service both runs `node.perf()` and serves `/perf/1.0.0`, within the caps of `PerfOptions`
 * (per request: maxUploadBytes, maxDownloadBytes, 64 MiB each; per peer: maxStreamsPerPeer, 2;
 * in all: maxInboundStreams, 16). The node drives the behaviour itself (`node.perf()`, the
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
