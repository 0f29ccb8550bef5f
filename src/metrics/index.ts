/**
 * weft's metrics: Prometheus text format 0.0.4, written here (no dependency), with go-libp2p's
 * metric and label names wherever weft has the same concept (spec/metrics.md lists every family).
 *
 *   import { createNode, prometheusMetrics } from 'weft/node'   // or 'weft/metrics' in a browser
 *   const node = await createNode({ metrics: prometheusMetrics() })
 *   res.end(node.metrics!.exposition())
 *
 * Pure: no clock, no IO. The HTTP endpoint is src/io/metrics-http.ts (Node only).
 *
 * @module weft/metrics
 */
import type { Millis } from '../core/byte-machine.js'
import type { SwarmEvent } from '../swarm/index.js'
import { exposition } from './exposition.js'
import { NatMetrics } from './nat.js'
import { ProtocolMetrics } from './protocols.js'
import { RcmgrMetrics } from './rcmgr.js'
import { Registry } from './registry.js'
import { SwarmMetrics } from './swarm.js'
import type { MetricsHost, NodeMetrics } from './types.js'

/**
 * Prometheus metrics of a node (spec/metrics.md lists every family; go-libp2p's names and labels
 * where weft has the same concept), built from the node's own events. Pass one to `createNode`; read
 * the text exposition (format 0.0.4) with `exposition()`, or serve it with `serveMetrics` (`weft/node`).
 * Cardinality is bounded (per-family series cap; overflow counted in `weft_metrics_dropped_total`).
 * @example
 * ```ts
 * const node = await createNode({ metrics: prometheusMetrics() })
 * const text = node.metrics!.exposition()
 * ```
 */
export class PrometheusMetrics implements NodeMetrics {
  readonly registry: Registry
  readonly swarm: SwarmMetrics
  readonly protocols: ProtocolMetrics
  readonly nat: NatMetrics
  #attached = false

  constructor(registry: Registry = new Registry()) {
    this.registry = registry
    this.swarm = new SwarmMetrics(registry)
    this.protocols = new ProtocolMetrics(registry)
    this.nat = new NatMetrics(registry)
  }

  attach(host: MetricsHost): void {
    if (this.#attached) throw new RangeError('these metrics already belong to a node: give each node its own prometheusMetrics()')
    this.#attached = true
    const protocols = this.registry.gauge({ name: 'libp2p_identify_protocols_count', help: 'Protocols Count' })
    const addrs = this.registry.gauge({ name: 'libp2p_identify_addrs_count', help: 'Address Count' })
    this.registry.onCollect(() => {
      protocols.set({}, host.swarm.protocols().length)
      addrs.set({}, host.getMultiaddrs().length + host.swarm.externalAddrs.length)
    })
    new RcmgrMetrics(this.registry, () => host.swarm.policy.resources.snapshot())
    this.nat.attach(() => host.swarm.behaviours)
  }

  observe(now: Millis, ev: SwarmEvent): void {
    if (ev.type === 'behaviour') {
      this.protocols.observe(ev.from, ev.event)
      this.nat.observe(ev.from, ev.event)
    } else this.swarm.observe(now, ev)
  }

  exposition(): string {
    return exposition(this.registry)
  }
}

/** Metrics for one node: `createNode({ metrics: prometheusMetrics() })`. */
export function prometheusMetrics(): PrometheusMetrics {
  return new PrometheusMetrics()
}

export { Registry, Counter, Gauge, Histogram, Family, exponentialBuckets, linearBuckets, DEFAULT_MAX_SERIES } from './registry.js'
export type { FamilyOptions, HistogramOptions, Labels, MetricType, Series } from './registry.js'
export { exposition, formatFloat, escapeHelp, escapeLabelValue, CONTENT_TYPE } from './exposition.js'
export type { NodeMetrics, MetricsHost } from './types.js'
export type { ResourceSnapshot, ScopeUsage, RcmgrScope, RcmgrLimits } from './rcmgr.js'
export { SwarmMetrics } from './swarm.js'
export { ProtocolMetrics } from './protocols.js'
export { RcmgrMetrics } from './rcmgr.js'
export { NatMetrics, RelayMetrics, HolepunchMetrics, AutonatMetrics } from './nat.js'
