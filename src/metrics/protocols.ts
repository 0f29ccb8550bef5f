/**
 * Families fed by behaviour events (`{ type: 'behaviour', from, event }`): identify (go-libp2p's
 * `libp2p_identify_*`, p2p/protocol/identify/metrics.go), ping (rust-libp2p's `libp2p_ping_*`: go has
 * none), Kademlia and gossipsub (rust-libp2p's misc/metrics names where the concept matches;
 * go-libp2p-kad-dht reports through OpenTelemetry with peer ids as attributes and go-libp2p-pubsub
 * has no Prometheus metrics), and `weft_*` families for what neither has. spec/metrics.md lists them.
 */
import type { PingEvent } from '../ping/index.js'
import type { IdentifyEvent } from '../identify/index.js'
import type { KadEvent } from '../kad/index.js'
import type { GossipsubEvent } from '../gossipsub/index.js'
import { exponentialBuckets, linearBuckets, type Counter, type Gauge, type Histogram, type Registry } from './registry.js'

/** go identify: 1 to 20, then 25 to 100 in steps of 5. */
export const IDENTIFY_COUNT_BUCKETS = /* @__PURE__ */ linearBuckets(1, 1, 20).concat(/* @__PURE__ */ linearBuckets(25, 5, 16))
/** rust ping: exponential_buckets(0.001, 2.0, 12), 1 ms to about 2 s. */
export const PING_RTT_BUCKETS = /* @__PURE__ */ exponentialBuckets(0.001, 2, 12)
/** rust kad: exponential_buckets(1.0, 2.0, 10) for counts, (0.1, 2.0, 10) for durations in seconds. */
export const KAD_COUNT_BUCKETS = /* @__PURE__ */ exponentialBuckets(1, 2, 10)
export const KAD_DURATION_BUCKETS = /* @__PURE__ */ exponentialBuckets(0.1, 2, 10)

const IDENTIFY_PUSH = '/ipfs/id/push/1.0.0'
/** rust's QueryType label values that weft's KadResult kinds map to. */
export const KAD_QUERY_TYPES = ['Bootstrap', 'GetClosestPeers', 'GetProviders', 'StartProviding', 'GetRecord', 'PutRecord'] as const
const KAD_TYPE: Record<string, (typeof KAD_QUERY_TYPES)[number]> = {
  'bootstrap': 'Bootstrap',
  'closest-peers': 'GetClosestPeers',
  'find-peer': 'GetClosestPeers',
  'find-providers': 'GetProviders',
  'provide': 'StartProviding',
  'get': 'GetRecord',
  'put': 'PutRecord',
}
export const KAD_FAILURES = ['not-found', 'no-peers', 'timeout', 'other'] as const

/** Per-protocol families: identify, ping, kad, gossipsub and perf events and timings. */
export class ProtocolMetrics {
  readonly identify: Counter
  readonly identifyPush: Counter
  readonly pushSupport: Counter
  readonly protocolsReceived: Histogram
  readonly addrsReceived: Histogram
  readonly identifyErrors: Counter
  readonly pingRtt: Histogram
  readonly pingFailure: Counter
  readonly kadRequests: Histogram
  readonly kadDuration: Histogram
  readonly kadGetRecordOk: Counter
  readonly kadClosestPeersOk: Histogram
  readonly kadProvidersOk: Histogram
  readonly kadRouting: Counter
  readonly kadTable: Gauge
  readonly kadFailures: Counter
  readonly gossipMessages: Counter
  readonly gossipInvalid: Counter
  readonly gossipMesh: Counter
  readonly gossipSlow: Counter
  readonly protocolErrors: Counter

  constructor(r: Registry) {
    const dir = { dir: ['inbound', 'outbound'] }
    this.identify = r.counter({ name: 'libp2p_identify_identify_total', help: 'Identify', labels: ['dir'], values: dir })
    this.identifyPush = r.counter({ name: 'libp2p_identify_identify_push_total', help: 'Identify Push', labels: ['dir'], values: dir })
    this.pushSupport = r.counter({
      name: 'libp2p_identify_conn_push_support_total', help: 'Identify Connection Push Support', labels: ['support'],
      values: { support: ['supported', 'not supported', 'unknown'] },
    })
    this.protocolsReceived = r.histogram({ name: 'libp2p_identify_protocols_received', help: 'Number of Protocols received', buckets: IDENTIFY_COUNT_BUCKETS })
    this.addrsReceived = r.histogram({ name: 'libp2p_identify_addrs_received', help: 'Number of addrs received', buckets: IDENTIFY_COUNT_BUCKETS })
    this.identifyErrors = r.counter({ name: 'libp2p_identify_errors_total', help: 'Identify exchanges that failed (rust-libp2p name)' })
    this.pingRtt = r.histogram({ name: 'libp2p_ping_rtt_seconds', help: "Round-trip time sending a 'ping' and receiving a 'pong'", buckets: PING_RTT_BUCKETS })
    this.pingFailure = r.counter({
      name: 'libp2p_ping_failure_total', help: "Failure while sending a 'ping' or receiving a 'pong'", labels: ['reason'],
      values: { reason: ['Timeout', 'Unsupported', 'Other'] },
    })
    const type = { type: KAD_QUERY_TYPES }
    this.kadRequests = r.histogram({ name: 'libp2p_kad_query_result_num_requests', help: 'Number of requests started for a Kademlia query', labels: ['type'], values: type, buckets: KAD_COUNT_BUCKETS })
    this.kadDuration = r.histogram({ name: 'libp2p_kad_query_result_duration_seconds', help: 'Duration of a Kademlia query', labels: ['type'], values: type, buckets: KAD_DURATION_BUCKETS })
    this.kadGetRecordOk = r.counter({ name: 'libp2p_kad_query_result_get_record_ok_total', help: 'Number of records returned by a successful Kademlia get record query' })
    this.kadClosestPeersOk = r.histogram({
      name: 'libp2p_kad_query_result_get_closest_peers_ok', help: 'Number of closest peers returned by a successful Kademlia get closest peers query', buckets: KAD_COUNT_BUCKETS,
    })
    this.kadProvidersOk = r.histogram({
      name: 'libp2p_kad_query_result_get_providers_ok', help: 'Number of providers returned by a successful Kademlia get providers query', buckets: KAD_COUNT_BUCKETS,
    })
    this.kadRouting = r.counter({
      name: 'libp2p_kad_routing_updated_total', help: 'Peers added to or removed from the routing table (rust-libp2p name, without its bucket label)', labels: ['action'],
      values: { action: ['Added', 'Removed'] },
    })
    this.kadTable = r.gauge({ name: 'weft_kad_routing_table_peers', help: 'Peers in the Kademlia routing table' })
    this.kadFailures = r.counter({ name: 'weft_kad_query_failures_total', help: 'Kademlia queries that ended without a result', labels: ['error'], values: { error: KAD_FAILURES } })
    this.gossipMessages = r.counter({ name: 'libp2p_gossipsub_messages_total', help: 'Number of messages received' })
    this.gossipInvalid = r.counter({ name: 'weft_gossipsub_invalid_messages_total', help: 'Received messages refused (signature policy, validation, size)', labels: ['reason'], maxSeries: 32 })
    this.gossipMesh = r.counter({ name: 'weft_gossipsub_mesh_changes_total', help: 'GRAFT and PRUNE events', labels: ['change'], values: { change: ['graft', 'prune'] } })
    this.gossipSlow = r.counter({ name: 'weft_gossipsub_slow_peers_total', help: 'Peers dropped from every mesh for not reading fast enough' })
    this.protocolErrors = r.counter({
      name: 'weft_protocol_errors_total', help: 'Streams reset because the remote broke a protocol', labels: ['protocol'],
      values: { protocol: ['kad', 'gossipsub', 'other'] },
    })
  }

  /** Count one event of the behaviour named `from`. */
  observe(from: string, event: unknown): void {
    const type = (event as { type?: unknown }).type
    if (typeof type !== 'string') return
    switch (from) {
      case 'identify': return this.#identify(event as IdentifyEvent)
      case 'ping': return this.#ping(event as PingEvent)
      case 'kad': return this.#kad(event as KadEvent)
      case 'gossipsub': return this.#gossipsub(event as GossipsubEvent)
      default: return
    }
  }

  #identify(ev: IdentifyEvent): void {
    switch (ev.type) {
      case 'identified':
        // Our request answered: go's IdentifyReceived(isPush=false) counts it as dir="outbound".
        this.identify.inc({ dir: 'outbound' })
        this.pushSupport.inc({ support: ev.info.protocols.includes(IDENTIFY_PUSH) ? 'supported' : 'not supported' })
        this.protocolsReceived.observe({}, ev.info.protocols.length)
        this.addrsReceived.observe({}, ev.info.listenAddrs.length)
        break
      case 'identify-push':
        this.identifyPush.inc({ dir: 'inbound' })
        this.protocolsReceived.observe({}, ev.info.protocols.length)
        this.addrsReceived.observe({}, ev.info.listenAddrs.length)
        break
      case 'identify-sent':
        // go's IdentifySent: an answer to the remote's request counts as dir="inbound", a push we send as push dir="outbound"
        if (ev.push) this.identifyPush.inc({ dir: 'outbound' })
        else this.identify.inc({ dir: 'inbound' })
        break
      case 'identify-failed':
        this.identifyErrors.inc()
        break
    }
  }

  #ping(ev: PingEvent): void {
    if (ev.type === 'pong') this.pingRtt.observe({}, ev.rtt / 1000)
    else if (ev.type === 'ping-failed') {
      const c = (ev.error as { code?: unknown }).code
      this.pingFailure.inc({ reason: c === 'ping/timeout' ? 'Timeout' : c === 'connection/protocol-rejected' ? 'Unsupported' : 'Other' })
    }
  }

  #kad(ev: KadEvent): void {
    switch (ev.type) {
      case 'query-done': {
        const type = KAD_TYPE[ev.result.kind] ?? 'other'
        this.kadRequests.observe({ type }, ev.stats.requests)
        this.kadDuration.observe({ type }, ev.stats.duration / 1000)
        if (ev.result.kind === 'get') this.kadGetRecordOk.inc()
        else if (ev.result.kind === 'closest-peers') this.kadClosestPeersOk.observe({}, ev.result.peers.length)
        else if (ev.result.kind === 'find-providers') this.kadProvidersOk.observe({}, ev.result.providers.length)
        break
      }
      case 'query-failed': {
        const c = (ev.error as { code?: unknown }).code
        this.kadFailures.inc({ error: c === 'kad/not-found' ? 'not-found' : c === 'kad/no-peers' ? 'no-peers' : c === 'kad/timeout' ? 'timeout' : 'other' })
        break
      }
      case 'routing-table':
        this.kadRouting.inc({ action: ev.change === 'added' ? 'Added' : 'Removed' })
        this.kadTable.inc({}, ev.change === 'added' ? 1 : -1)
        break
      case 'protocol-error':
        this.protocolErrors.inc({ protocol: 'kad' })
        break
    }
  }

  #gossipsub(ev: GossipsubEvent): void {
    switch (ev.type) {
      case 'message': this.gossipMessages.inc(); break
      case 'invalid-message': this.gossipInvalid.inc({ reason: ev.reason }); break
      case 'graft': this.gossipMesh.inc({ change: 'graft' }); break
      case 'prune': this.gossipMesh.inc({ change: 'prune' }); break
      case 'slow-peer': this.gossipSlow.inc(); break
      case 'peer-protocol-error': this.protocolErrors.inc({ protocol: 'gossipsub' }); break
    }
  }
}
