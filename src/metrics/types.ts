/**
 * What a node asks of its metrics (`createNode({ metrics })`), as a type only: src/edge/weft-node.ts
 * imports nothing else from src/metrics, so a browser bundle carries no metrics code unless the
 * embedder imports `prometheusMetrics` (src/metrics/index.ts) itself.
 */
import type { Millis } from '../core/byte-machine.js'
import type { SwarmEvent } from '../swarm/index.js'
import type { ResourceSnapshot } from './rcmgr.js'

/**
 * What metrics read from their node at scrape time (a WeftNode is one): its protocols and addresses
 * (go's identify counts) and its resource manager's snapshot, when the swarm's policy has one.
 */
export interface MetricsHost {
  /** The parts of the swarm metrics read: protocols, external addresses, resource usage. */
  readonly swarm: {
    /** The protocols the node serves. */
    protocols(): readonly string[]
    readonly externalAddrs: readonly unknown[]
    /** The resource manager (src/swarm/resources.ts): its snapshot() must fit ResourceSnapshot (checked by tsc here). */
    readonly policy: { readonly resources: { snapshot(): ResourceSnapshot } }
    /** The behaviours by name (relay, relay-client, autonat, dcutr: read at scrape time by src/metrics/nat.ts). */
    readonly behaviours?: Readonly<Record<string, unknown>>
  }
  /** The node's listen addresses. */
  getMultiaddrs(): readonly unknown[]
}

/**
 * What a node's metrics implement (`createNode({ metrics })`): attached once, then fed every swarm and behaviour event. `PrometheusMetrics` is weft's.
 */
export interface NodeMetrics {
  /** Called by the node once, at construction, before any event. */
  attach(host: MetricsHost): void
  /** Every SwarmEvent, in order; `now` on the swarm's clock (the same clock as ConnectionInfo.opened). */
  observe(now: Millis, event: SwarmEvent): void
  /** The Prometheus text format 0.0.4 (spec/metrics.md). */
  exposition(): string
}
