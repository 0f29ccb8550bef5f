/**
 * Request-response metrics (spec/request-response.md, "Metrics"; conventions of spec/metrics.md).
 * Neither go-libp2p nor rust-libp2p's libp2p-metrics has request-response families, so they are
 * `weft_request_response_*`:
 *
 * - `weft_request_response_requests_total{dir, protocol, outcome}` counter: exchanges ended, by
 *   direction (`outbound`: ours, `inbound`: served), protocol id, and `ok` or the error code without
 *   its `reqresp/` prefix (`timeout`, `reset`, `no-response`...).
 * - `weft_request_response_in_flight{dir, protocol}` gauge: exchanges open now (read at scrape time).
 * - `weft_request_response_duration_seconds{dir, protocol}` histogram: duration of successful
 *   exchanges (outbound: request to response; inbound: stream opened to response written).
 *
 * The node's metrics registry is duck-typed (src/metrics ranks above this module): the service
 * finds `node.metrics.registry` when the node was created with `prometheusMetrics()`. Several
 * request-response services of one node share the families (by name). Protocol labels come from the
 * node's own configuration, so their number is bounded by it; the families cap series anyway.
 */

/** The part of src/metrics/registry.ts used here. */
interface Series { inc(labels: Record<string, string>, by?: number): void }
interface GaugeLike { set(labels: Record<string, string>, v: number): void }
interface HistLike { observe(labels: Record<string, string>, v: number): void }
interface RegistryLike {
  get(name: string): unknown
  counter(o: object): Series
  gauge(o: object): GaugeLike
  histogram(o: object): HistLike
  onCollect(hook: () => void): void
}

/** rust-libp2p's request-response timeout is 10 s: 1 ms to about 16 s. */
const BUCKETS = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384]
const MAX_SERIES = 256

export interface ReqRespMetrics {
  ended(dir: 'inbound' | 'outbound', protocol: string, error: Error | { code: string } | undefined, durationMs: number): void
}

/** The families in `node.metrics.registry`, or undefined when the node has no Prometheus metrics. */
export function reqRespMetrics(node: unknown, inFlight: () => { protocol: string; outbound: number; inbound: number }): ReqRespMetrics | undefined {
  const r = (node as { metrics?: { registry?: RegistryLike } } | undefined)?.metrics?.registry
  if (r === undefined || typeof r.get !== 'function' || typeof r.counter !== 'function') return undefined
  const labels = ['dir', 'protocol']
  const total = (r.get('weft_request_response_requests_total') as Series | undefined) ?? r.counter({
    name: 'weft_request_response_requests_total', help: 'Request-response exchanges ended, by direction, protocol and outcome',
    labels: [...labels, 'outcome'], maxSeries: MAX_SERIES,
  })
  const duration = (r.get('weft_request_response_duration_seconds') as HistLike | undefined) ?? r.histogram({
    name: 'weft_request_response_duration_seconds', help: 'Duration of successful request-response exchanges', labels, maxSeries: MAX_SERIES, buckets: BUCKETS,
  })
  const gauge = (r.get('weft_request_response_in_flight') as GaugeLike | undefined) ?? r.gauge({
    name: 'weft_request_response_in_flight', help: 'Request-response exchanges in flight', labels, maxSeries: MAX_SERIES,
  })
  r.onCollect(() => {
    const f = inFlight()
    gauge.set({ dir: 'outbound', protocol: f.protocol }, f.outbound)
    gauge.set({ dir: 'inbound', protocol: f.protocol }, f.inbound)
  })
  return {
    ended(dir, protocol, error, durationMs) {
      const code = (error as { code?: unknown } | undefined)?.code
      const outcome = error === undefined ? 'ok' : typeof code === 'string' ? code.replace(/^reqresp\//, '') : 'other'
      total.inc({ dir, protocol, outcome })
      if (error === undefined) duration.observe({ dir, protocol }, durationMs / 1000)
    },
  }
}
