/**
 * AutoNAT under go-libp2p's names, labels and label values, fed by the `autonat` behaviour's events
 * (src/autonat/types.ts) and read from its status() at scrape time:
 * - v1 (`libp2p_autonat_*`, go's p2p/host/autonat/metrics.go): the node's reachability and its
 *   confidence, dial responses received (client) and sent (server), refusals (server);
 * - v2 (`libp2p_autonatv2_*`, p2p/protocol/autonatv2/metrics.go): requests served (server),
 *   requests completed by the client;
 * - host addresses (`libp2p_host_addrs_*`, p2p/host/basic/addrs_metrics.go): the addresses AutoNAT
 *   tracks, by verdict, IP version and transport.
 * spec/metrics.md lists every family, its labels and how weft's outcomes map onto go's values.
 */
import type { AutoNATEvent, AutoNATStatus, NodeReachability, ServedOutcome } from '../autonat/index.js'
import { IP_VERSIONS, ipVersion } from './labels.js'
import { GO_TRANSPORTS, IP_OR_DNS_VERSIONS, goTransport, ipOrDnsVersion } from './nat-labels.js'
import type { Counter, Gauge, Registry } from './registry.js'

export const AUTONAT_BEHAVIOUR = 'autonat'
/** go's network.Reachability numbers. */
export const REACHABILITY_VALUE: Readonly<Record<NodeReachability, number>> = { unknown: 0, public: 1, private: 2 }
/** go's confidence cap (maxConfidence). */
export const MAX_CONFIDENCE = 3
/** v1 getResponseStatus. */
export const V1_RESPONSE_STATUSES = ['ok', 'dial error', 'dial refused', 'bad request', 'internal error', 'unknown'] as const
export const V1_REFUSAL_REASONS = ['rate limited', 'dial blocked', 'no valid address'] as const
/** v1 DialResponse status numbers (spec/autonat.md) to go's label values. */
const V1_STATUS_LABEL: ReadonlyMap<number, (typeof V1_RESPONSE_STATUSES)[number]> = new Map([
  [0, 'ok'], [100, 'dial error'], [101, 'dial refused'], [200, 'bad request'], [300, 'internal error'],
])
/** v2 protobuf enum names, as go writes them. */
export const V2_RESPONSE_STATUSES = ['E_INTERNAL_ERROR', 'E_REQUEST_REJECTED', 'E_DIAL_REFUSED', 'OK'] as const
export const V2_DIAL_STATUSES = ['UNUSED', 'E_DIAL_ERROR', 'E_DIAL_BACK_ERROR', 'OK'] as const
/** go's getErrString: `nil`, its three named errors, else `other`. */
export const V2_SERVER_ERRORS = ['nil', 'bad request', 'dial data refused', 'resource limit exceeded', 'other'] as const
/** go's client labels the request's address count; weft's client tests one address per request. */
export const V2_ADDR_COUNTS = ['1', '2', '3', '4', '5', '6', '7', '8', 'other'] as const

/** A served v2 request as go's server labels it: [server_error, response_status, dial_status]. */
const V2_SERVED: Readonly<Record<ServedOutcome, readonly [string, string, string]>> = {
  'dial-ok': ['nil', 'OK', 'OK'],
  'dial-error': ['nil', 'OK', 'E_DIAL_ERROR'],
  'dial-back-error': ['nil', 'OK', 'E_DIAL_BACK_ERROR'],
  'refused': ['nil', 'E_DIAL_REFUSED', 'UNUSED'],
  'rejected': ['nil', 'E_REQUEST_REJECTED', 'UNUSED'],
  // go answers these with no response: the status stays at its zero value, E_INTERNAL_ERROR
  'bad-request': ['bad request', 'E_INTERNAL_ERROR', 'UNUSED'],
  'dial-data-refused': ['dial data refused', 'E_INTERNAL_ERROR', 'UNUSED'],
  'aborted': ['other', 'E_INTERNAL_ERROR', 'UNUSED'],
}

/** The status a v1 client read (the probe event's `v1Status`), as go labels it; undefined when no response came. */
export function v1ReceivedStatus(status: number | undefined): (typeof V1_RESPONSE_STATUSES)[number] | undefined {
  if (status === undefined) return undefined
  return V1_STATUS_LABEL.get(status) ?? 'unknown'
}

/** Field of a v2 `served` event: present when the server asked for dial data (the bytes received). */
interface DialData {
  dialDataBytes?: number
}

type Verdict = 'reachable' | 'unreachable' | 'unknown'

/**
 * The AutoNAT families (go-libp2p's `libp2p_autonat_*` names where weft has the concept): reachability, confidence, requests served and refused, probe verdicts.
 */
export class AutonatMetrics {
  readonly reachability: Gauge
  readonly confidence: Gauge
  readonly receivedDialResponse: Counter
  readonly outgoingDialResponse: Counter
  readonly outgoingDialRefused: Counter
  readonly v2Requests: Counter
  readonly v2ClientCompleted: Counter
  readonly v2ClientRequests: Counter
  readonly hostAddrs: Readonly<Record<Verdict, Gauge>>
  #status: NodeReachability = 'unknown'
  #confidence = 0
  /** Label pairs of host_addrs ever set: go sets a pair that disappeared to 0 rather than deleting it. */
  readonly #addrKeys = new Set<string>()

  constructor(r: Registry) {
    const ns = 'libp2p_autonat_'
    this.reachability = r.gauge({ name: `${ns}reachability_status`, help: 'Current node reachability' })
    this.confidence = r.gauge({ name: `${ns}reachability_status_confidence`, help: 'Node reachability status confidence' })
    const rs = { response_status: V1_RESPONSE_STATUSES }
    this.receivedDialResponse = r.counter({ name: `${ns}received_dial_response_total`, help: 'Count of dial responses for client', labels: ['response_status'], values: rs })
    this.outgoingDialResponse = r.counter({ name: `${ns}outgoing_dial_response_total`, help: 'Count of dial responses for server', labels: ['response_status'], values: rs })
    this.outgoingDialRefused = r.counter({
      name: `${ns}outgoing_dial_refused_total`, help: 'Count of dial requests refused by server', labels: ['refusal_reason'], values: { refusal_reason: V1_REFUSAL_REASONS },
    })
    const v2 = 'libp2p_autonatv2_'
    const bool = ['true', 'false']
    this.v2Requests = r.counter({
      name: `${v2}requests_completed_total`, help: 'Requests Completed',
      labels: ['server_error', 'response_status', 'dial_status', 'dial_data_required', 'ip_or_dns_version', 'transport'],
      values: {
        server_error: V2_SERVER_ERRORS, response_status: V2_RESPONSE_STATUSES, dial_status: V2_DIAL_STATUSES, dial_data_required: bool,
        ip_or_dns_version: IP_OR_DNS_VERSIONS, transport: [...GO_TRANSPORTS, ''],
      },
    })
    this.v2ClientCompleted = r.counter({
      name: `${v2}client_requests_completed_total`, help: 'Client Requests Completed', labels: ['ip_or_dns_version', 'transport', 'addr_count', 'dial_refused', 'reachability'],
      values: { ip_or_dns_version: IP_OR_DNS_VERSIONS, transport: [...GO_TRANSPORTS, 'unknown'], addr_count: V2_ADDR_COUNTS, dial_refused: bool, reachability: ['public', 'private', 'unknown'] },
    })
    this.v2ClientRequests = r.counter({ name: `${v2}client_requests_total`, help: 'Client Requests Total', labels: ['outcome'], values: { outcome: ['success', 'failure'] } })
    const addrs = (name: string, help: string): Gauge => r.gauge({ name: `libp2p_host_addrs_${name}`, help, labels: ['ipv', 'transport'], values: { ipv: IP_VERSIONS, transport: GO_TRANSPORTS } })
    this.hostAddrs = {
      reachable: addrs('reachable', 'Number of reachable addresses by transport'),
      unreachable: addrs('unreachable', 'Number of unreachable addresses by transport'),
      unknown: addrs('unknown', 'Number of addresses with unknown reachability by transport'),
    }
    // go's plain gauges are exported from registration, at 0
    this.reachability.set({}, 0)
    this.confidence.set({}, 0)
  }

  /** Scrape time: the AutoNAT behaviour's status (the node's reachability, each tracked address's verdict). */
  collect(behaviours: Readonly<Record<string, unknown>> | undefined): void {
    const an = behaviours?.[AUTONAT_BEHAVIOUR] as { status?: () => AutoNATStatus } | undefined
    if (typeof an?.status !== 'function') return
    const s = an.status()
    this.reachability.set({}, REACHABILITY_VALUE[s.reachability] ?? 0)
    const counts = new Map<string, number>()
    for (const a of s.addrs) {
      const key = `${a.reachability}\u0000${ipVersion(a.addr)}\u0000${goTransport(a.addr)}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    for (const key of new Set([...this.#addrKeys, ...counts.keys()])) {
      const [verdict, ipv, transport] = key.split('\u0000') as [Verdict, string, string]
      const g = this.hostAddrs[verdict]
      if (g === undefined) continue
      this.#addrKeys.add(key)
      g.set({ ipv, transport }, counts.get(key) ?? 0)
    }
  }

  /** Count one AutoNAT event. */
  observe(ev: AutoNATEvent): void {
    switch (ev.type) {
      case 'status':
        this.#status = ev.reachability
        this.reachability.set({}, REACHABILITY_VALUE[ev.reachability] ?? 0)
        // go: flipping the status drops the confidence to 0
        this.#setConfidence(0)
        break
      case 'probe':
        this.#probe(ev)
        break
      case 'served':
        if (ev.version === 1) this.#servedV1(ev)
        else this.#servedV2(ev)
        break
      case 'addr-reachability':
        break
    }
  }

  #setConfidence(c: number): void {
    this.#confidence = c
    this.confidence.set({}, c)
  }

  #probe(ev: Extract<AutoNATEvent, { type: 'probe' }>): void {
    if (ev.outcome !== 'inconclusive') {
      // weft's confidence: results agreeing with the current status raise it (up to go's 3), others lower it
      const agrees = (ev.outcome === 'reachable' && this.#status === 'public') || (ev.outcome === 'unreachable' && this.#status === 'private')
      this.#setConfidence(agrees ? Math.min(MAX_CONFIDENCE, this.#confidence + 1) : Math.max(0, this.#confidence - 1))
    }
    if (ev.version === 1) {
      const s = v1ReceivedStatus(ev.v1Status)
      if (s !== undefined) this.receivedDialResponse.inc({ response_status: s })
      return
    }
    const refused = ev.outcome === 'inconclusive' && ev.reason === 'E_DIAL_REFUSED'
    if (ev.outcome === 'inconclusive' && !refused) {
      this.v2ClientRequests.inc({ outcome: 'failure' })
      return
    }
    this.v2ClientRequests.inc({ outcome: 'success' })
    const addr = refused ? undefined : ev.addr
    this.v2ClientCompleted.inc({
      ip_or_dns_version: addr === undefined ? 'unknown' : ipOrDnsVersion(addr),
      transport: addr === undefined ? 'unknown' : goTransport(addr),
      addr_count: '1',
      dial_refused: refused ? 'true' : 'false',
      reachability: ev.outcome === 'reachable' ? 'public' : ev.outcome === 'unreachable' ? 'private' : 'unknown',
    })
  }

  #servedV1(ev: Extract<AutoNATEvent, { type: 'served' }>): void {
    switch (ev.outcome) {
      case 'dial-ok': this.outgoingDialResponse.inc({ response_status: 'ok' }); break
      case 'dial-error': this.outgoingDialResponse.inc({ response_status: 'dial error' }); break
      case 'bad-request': this.outgoingDialResponse.inc({ response_status: 'bad request' }); break
      case 'rejected':
        this.outgoingDialRefused.inc({ refusal_reason: 'rate limited' })
        this.outgoingDialResponse.inc({ response_status: 'dial refused' })
        break
      case 'refused':
        // the observed address cannot be dialled (go: its dial policy blocks it), or no address of the request can
        this.outgoingDialRefused.inc({ refusal_reason: ev.refusal === 'dial-blocked' ? 'dial blocked' : 'no valid address' })
        this.outgoingDialResponse.inc({ response_status: 'dial refused' })
        break
      default:
        // aborted: no response was sent
        break
    }
  }

  #servedV2(ev: Extract<AutoNATEvent, { type: 'served' }> & DialData): void {
    const [serverError, responseStatus, dialStatus] = V2_SERVED[ev.outcome] ?? ['other', 'E_INTERNAL_ERROR', 'UNUSED']
    const dialData = ev.dialDataBytes !== undefined || ev.outcome === 'dial-data-refused'
    this.v2Requests.inc({
      server_error: serverError,
      response_status: responseStatus,
      dial_status: dialStatus,
      dial_data_required: dialData ? 'true' : 'false',
      ip_or_dns_version: ipOrDnsVersion(ev.addr),
      transport: ev.addr === undefined ? '' : goTransport(ev.addr),
    })
  }
}
