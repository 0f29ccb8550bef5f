/**
 * Circuit Relay v2 families under go-libp2p's names and label values:
 * - the relay service (`libp2p_relaysvc_*`, go's p2p/protocol/circuitv2/relay/metrics.go), fed by the
 *   relay server's events (src/relay/server-api.ts, behaviour `relay`);
 * - the reservation side of go's autorelay (`libp2p_autorelay_*`, p2p/host/autorelay/metrics.go), fed
 *   by the relay client's events (src/relay/client.ts, behaviour `relay-client`). weft's client keeps
 *   reservations on the relays it is given: go's relay-finder families (candidates, loop state,
 *   scheduled work, desired reservations) have no counterpart and are not emitted.
 * spec/metrics.md lists every family and label value.
 */
import type { RelayClientEvent, RelayServerEvent, StatusName } from '../relay/index.js'
import type { Counter, Gauge, Histogram, Registry } from './registry.js'

/** The behaviour names the events arrive from (`{ type: 'behaviour', from }`). */
export const RELAY_SERVER_BEHAVIOUR = 'relay'
export const RELAY_CLIENT_BEHAVIOUR = 'relay-client'

/** go's getResponseStatus: a request's outcome. */
export const RELAY_RESPONSE_STATUSES = ['ok', 'rejected', 'error', 'unknown'] as const
/** go's getRejectionReason (the refusing statuses; RESERVATION_REFUSED is "ip constraint violation" in go). */
export const RELAY_REJECTION_REASONS = ['ip constraint violation', 'resource limit exceeded', 'permission denied', 'no reservation', 'malformed message', 'unknown'] as const
/** go autorelay's getReservationRequestStatus. */
export const AUTORELAY_OUTCOMES = ['success', 'connection failed', 'malformed message', 'reservation refused', 'permission denied', 'resource limit exceeded', 'err other'] as const
/** Prometheus' DefBuckets: go's `libp2p_relaysvc_connection_duration_seconds` sets no buckets of its own. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A status the relay answered with, as go's relay service labels it. */
export function relayResponseStatus(status: StatusName | undefined): (typeof RELAY_RESPONSE_STATUSES)[number] {
  switch (status) {
    case 'OK': return 'ok'
    case 'RESERVATION_REFUSED': case 'RESOURCE_LIMIT_EXCEEDED': case 'PERMISSION_DENIED': case 'NO_RESERVATION': case 'MALFORMED_MESSAGE': return 'rejected'
    case 'UNEXPECTED_MESSAGE': case 'CONNECTION_FAILED': return 'error'
    default: return 'unknown'
  }
}

export function relayRejectionReason(status: StatusName | undefined): (typeof RELAY_REJECTION_REASONS)[number] {
  switch (status) {
    case 'RESERVATION_REFUSED': return 'ip constraint violation'
    case 'RESOURCE_LIMIT_EXCEEDED': return 'resource limit exceeded'
    case 'PERMISSION_DENIED': return 'permission denied'
    case 'NO_RESERVATION': return 'no reservation'
    case 'MALFORMED_MESSAGE': return 'malformed message'
    default: return 'unknown'
  }
}

function autorelayOutcome(status: StatusName | undefined): (typeof AUTORELAY_OUTCOMES)[number] {
  switch (status) {
    case 'CONNECTION_FAILED': return 'connection failed'
    case 'MALFORMED_MESSAGE': return 'malformed message'
    case 'RESERVATION_REFUSED': return 'reservation refused'
    case 'PERMISSION_DENIED': return 'permission denied'
    case 'RESOURCE_LIMIT_EXCEEDED': return 'resource limit exceeded'
    default: return 'err other'
  }
}

/** Relays remembered as holding our reservation (to tell go's `refresh` from `new`). Stops: a relay list growing this set without bound. */
export const MAX_TRACKED_RELAYS = 1024

/**
 * The Circuit Relay families (go-libp2p's `libp2p_relaysvc_*` and `libp2p_autorelay_*`): server status, reservations, circuits, bytes; client reservations and addresses.
 */
export class RelayMetrics {
  readonly status: Gauge
  readonly reservations: Counter
  readonly reservationStatus: Counter
  readonly reservationRejections: Counter
  readonly connections: Counter
  readonly connectionStatus: Counter
  readonly connectionRejections: Counter
  readonly connectionDuration: Histogram
  readonly dataTransferred: Counter
  readonly autorelayOpened: Counter
  readonly autorelayClosed: Counter
  readonly autorelayRequests: Counter
  readonly autorelayAddrsUpdated: Counter
  readonly autorelayAddrs: Gauge
  /** Relays whose reservation we hold (keys only, never a label). */
  readonly #reserved = new Set<string>()

  constructor(r: Registry) {
    const ns = 'libp2p_relaysvc_'
    const status = { status: RELAY_RESPONSE_STATUSES }
    const reason = { reason: RELAY_REJECTION_REASONS }
    this.status = r.gauge({ name: `${ns}status`, help: 'Relay Status' })
    this.reservations = r.counter({ name: `${ns}reservations_total`, help: 'Relay Reservation Request', labels: ['type'], values: { type: ['opened', 'renewed', 'closed'] } })
    this.reservationStatus = r.counter({ name: `${ns}reservation_request_response_status_total`, help: 'Relay Reservation Request Response Status', labels: ['status'], values: status })
    this.reservationRejections = r.counter({ name: `${ns}reservation_rejections_total`, help: 'Relay Reservation Rejected Reason', labels: ['reason'], values: reason })
    this.connections = r.counter({ name: `${ns}connections_total`, help: 'Relay Connection Total', labels: ['type'], values: { type: ['opened', 'closed'] } })
    this.connectionStatus = r.counter({ name: `${ns}connection_request_response_status_total`, help: 'Relay Connection Request Status', labels: ['status'], values: status })
    this.connectionRejections = r.counter({ name: `${ns}connection_rejections_total`, help: 'Relay Connection Rejected Reason', labels: ['reason'], values: reason })
    this.connectionDuration = r.histogram({ name: `${ns}connection_duration_seconds`, help: 'Relay Connection Duration', buckets: DEFAULT_BUCKETS })
    this.dataTransferred = r.counter({ name: `${ns}data_transferred_bytes_total`, help: 'Bytes Transferred Total' })
    const ar = 'libp2p_autorelay_'
    this.autorelayOpened = r.counter({ name: `${ar}reservations_opened_total`, help: 'Reservations Opened' })
    this.autorelayClosed = r.counter({ name: `${ar}reservations_closed_total`, help: 'Reservations Closed' })
    this.autorelayRequests = r.counter({
      name: `${ar}reservation_requests_outcome_total`, help: 'Reservation Request Outcome', labels: ['request_type', 'outcome'],
      values: { request_type: ['new', 'refresh'], outcome: AUTORELAY_OUTCOMES },
    })
    this.autorelayAddrsUpdated = r.counter({ name: `${ar}relay_addresses_updated_total`, help: 'Relay Addresses Updated Count' })
    this.autorelayAddrs = r.gauge({ name: `${ar}relay_addresses_count`, help: 'Relay Addresses Count' })
  }

  /** go exports its unlabelled counters and histogram at 0 once the relay service runs. */
  touchServer(): void {
    this.connectionDuration.touch()
    this.dataTransferred.touch()
  }

  /** ...and autorelay's once it runs. */
  touchClient(): void {
    this.autorelayOpened.touch()
    this.autorelayClosed.touch()
    this.autorelayAddrsUpdated.touch()
  }

  /**
   * Scrape-time values read from the node's behaviours: the relay service is on (go's status 1)
   * while a `relay` behaviour exists; the relay client's `/p2p-circuit` addresses.
   */
  collect(behaviours: Readonly<Record<string, unknown>> | undefined): void {
    this.status.set({}, behaviours?.[RELAY_SERVER_BEHAVIOUR] !== undefined ? 1 : 0)
    const client = behaviours?.[RELAY_CLIENT_BEHAVIOUR] as { listenAddrs?: () => readonly unknown[] } | undefined
    this.autorelayAddrs.set({}, typeof client?.listenAddrs === 'function' ? client.listenAddrs().length : 0)
  }

  /** Count one relay server event. */
  observeServer(ev: RelayServerEvent): void {
    switch (ev.type) {
      case 'reservation-accepted':
        // go: ReservationAllowed(isRenewal), then ReservationRequestHandled(OK)
        this.reservations.inc({ type: ev.renewed ? 'renewed' : 'opened' })
        this.reservationStatus.inc({ status: 'ok' })
        break
      case 'reservation-refused':
        this.#handled(this.reservationStatus, this.reservationRejections, ev.status)
        break
      case 'reservation-closed':
        this.reservations.inc({ type: 'closed' })
        break
      case 'circuit-refused':
        // a hop message that did not decode (no destination) is not a CONNECT: go does not count it
        if (ev.dst === undefined) break
        this.#handled(this.connectionStatus, this.connectionRejections, ev.status)
        break
      case 'circuit-opened':
        this.connections.inc({ type: 'opened' })
        this.connectionStatus.inc({ status: 'ok' })
        break
      case 'circuit-closed':
        this.connections.inc({ type: 'closed' })
        this.connectionDuration.observe({}, ev.duration / 1000)
        // go adds each write as it happens; weft's event reports both directions when the circuit ends
        this.dataTransferred.inc({}, ev.srcToDst + ev.dstToSrc)
        break
    }
  }

  #handled(statusFamily: Counter, rejections: Counter, status: StatusName): void {
    const s = relayResponseStatus(status)
    statusFamily.inc({ status: s })
    if (s === 'rejected') rejections.inc({ reason: relayRejectionReason(status) })
  }

  /** Count one relay client event. */
  observeClient(ev: RelayClientEvent): void {
    if (ev.type === 'listen-addrs') {
      this.autorelayAddrsUpdated.inc()
      return
    }
    if (ev.type !== 'reservation') return
    const r = ev.event
    const key = r.relay.toString()
    const requestType = this.#reserved.has(key) ? 'refresh' : 'new'
    switch (r.type) {
      case 'accepted':
      case 'renewed':
        // go counts a reservation opened when a new request succeeds, and a refresh as refresh
        this.autorelayRequests.inc({ request_type: r.type === 'renewed' ? 'refresh' : requestType, outcome: 'success' })
        if (r.type === 'accepted' && requestType === 'new') this.autorelayOpened.inc()
        if (this.#reserved.size < MAX_TRACKED_RELAYS) this.#reserved.add(key)
        break
      case 'refused':
        this.autorelayRequests.inc({ request_type: requestType, outcome: autorelayOutcome(r.statusName) })
        break
      case 'failed':
        this.autorelayRequests.inc({ request_type: requestType, outcome: 'err other' })
        break
      case 'lost':
        if (this.#reserved.delete(key)) this.autorelayClosed.inc()
        break
    }
  }
}
