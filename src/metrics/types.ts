/**
 * What a node asks of its metrics (`createNode({ metrics })`), as a type only: src/edge/weft-node.ts
 * imports nothing else from src/metrics, so a browser bundle carries no metrics code unless the
 * embedder imports `prometheusMetrics` (src/metrics/index.ts) itself.
 */
import type { Millis } from '../core/byte-machine.js'
import type { SwarmEvent } from '../swarm/index.js'
import type { ResourceSnapshot } from './rcmgr.js'

/** Scrape-time readings the node offers its metrics. */
export interface MetricsSources {
  /** The resource manager's usage (src/swarm/resources.ts `snapshot()`); absent without one. */
  resources?: () => ResourceSnapshot | undefined
  /** What we advertise in identify: protocols we serve and addresses we announce (counts only). */
  local?: () => { protocols: number; addrs: number }
}

export interface NodeMetrics {
  /** Called by the node once, at construction, before any event. */
  attach(sources: MetricsSources): void
  /** Every SwarmEvent, in order; `now` on the swarm's clock (the same clock as ConnectionInfo.opened). */
  observe(now: Millis, event: SwarmEvent): void
  /** The Prometheus text format 0.0.4 (spec/metrics.md). */
  exposition(): string
}
