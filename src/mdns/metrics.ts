/**
 * mDNS metrics (spec/mdns.md "Metrics"; conventions of spec/metrics.md). Neither go-libp2p nor
 * rust-libp2p exports mDNS metrics, so the families are `weft_mdns_*`, with closed label sets:
 *
 * - `weft_mdns_packets_received_total{outcome}` counter: `query` (a query for us), `response`
 *   (any other well-formed message), `malformed` (dropped: the codec refused it).
 * - `weft_mdns_packets_sent_total{type}` counter: `query`, `response` (multicast: answers,
 *   announcements, goodbyes), `unicast` (answers to QU and legacy queries).
 * - `weft_mdns_peers_discovered_total` counter: discoveries (a new peer, or new addresses of one).
 * - `weft_mdns_peers_expired_total{reason}` counter: `ttl`, `goodbye`.
 * - `weft_mdns_dropped_total{reason}` counter: `peer-limit` (maxPeers), `unicast-limit` (maxUnicastAnswers).
 * - `weft_mdns_peers` gauge: peers discovered and not expired (at scrape time).
 *
 * The node's registry is duck-typed (src/metrics ranks above this module): the service finds
 * `node.metrics.registry` when the node was created with `prometheusMetrics()`.
 */

interface CounterLike { inc(labels: Record<string, string>, by?: number): void }
interface GaugeLike { set(labels: Record<string, string>, v: number): void }
interface RegistryLike {
  get(name: string): unknown
  counter(o: object): CounterLike
  gauge(o: object): GaugeLike
  onCollect(hook: () => void): void
}

export interface MdnsMetrics {
  received(outcome: 'query' | 'response' | 'malformed'): void
  sent(type: 'query' | 'response' | 'unicast'): void
  discovered(): void
  expired(reason: 'ttl' | 'goodbye'): void
  dropped(reason: 'peer-limit' | 'unicast-limit'): void
}

/** The families in `node.metrics.registry`, or undefined when the node has no Prometheus metrics. */
export function mdnsMetrics(node: unknown, peers: () => number): MdnsMetrics | undefined {
  const r = (node as { metrics?: { registry?: RegistryLike } } | undefined)?.metrics?.registry
  if (r === undefined || typeof r.get !== 'function' || typeof r.counter !== 'function') return undefined
  const counter = (name: string, help: string, labels: string[] = []): CounterLike =>
    (r.get(name) as CounterLike | undefined) ?? r.counter({ name, help, labels })
  const received = counter('weft_mdns_packets_received_total', 'mDNS datagrams received, by outcome', ['outcome'])
  const sent = counter('weft_mdns_packets_sent_total', 'mDNS datagrams sent, by type', ['type'])
  const discovered = counter('weft_mdns_peers_discovered_total', 'Peers (or new addresses of peers) discovered by mDNS')
  const expired = counter('weft_mdns_peers_expired_total', 'mDNS peers expired, by reason', ['reason'])
  const dropped = counter('weft_mdns_dropped_total', 'mDNS work refused by a limit, by reason', ['reason'])
  const gauge = (r.get('weft_mdns_peers') as GaugeLike | undefined) ?? r.gauge({ name: 'weft_mdns_peers', help: 'Peers discovered by mDNS and not expired' })
  r.onCollect(() => gauge.set({}, peers()))
  return {
    received: (outcome) => received.inc({ outcome }),
    sent: (type) => sent.inc({ type }),
    discovered: () => discovered.inc({}),
    expired: (reason) => expired.inc({ reason }),
    dropped: (reason) => dropped.inc({ reason }),
  }
}
