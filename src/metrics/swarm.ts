/**
 * The swarm's families, fed by SwarmEvents: go-libp2p's `libp2p_swarm_*` (p2p/net/swarm/
 * swarm_metrics.go) with its label names, label values and buckets, plus rust-libp2p's
 * `libp2p_swarm_connections_incoming_error_total` and weft's own refusal counters. spec/metrics.md
 * lists them all.
 */
import type { Millis } from '../core/byte-machine.js'
import type { SwarmEvent } from '../swarm/index.js'
import type { ConnectionInfo } from '../swarm/index.js'
import { exponentialBuckets, type Counter, type Histogram, type Registry } from './registry.js'
import { ADDR_TRANSPORTS, CONN_TRANSPORTS, DIRECTIONS, IP_VERSIONS, KEY_TYPES, MUXER, SECURITY, addrTransport, connTransport, ipVersion } from './labels.js'

/** go: prometheus.ExponentialBuckets(1.0/16, 2, 25), 62.5 ms up to about 24 days. */
export const CONNECTION_DURATION_BUCKETS = /* @__PURE__ */ exponentialBuckets(1 / 16, 2, 25)
/** go: prometheus.ExponentialBuckets(0.001, 1.3, 35), 1 ms up to about 7.5 s. */
export const HANDSHAKE_LATENCY_BUCKETS = /* @__PURE__ */ exponentialBuckets(0.001, 1.3, 35)

/** FailedDialing's `error` values in go; weft maps its errors onto them (dialErrorLabel). */
export const DIAL_ERRORS = ['canceled', 'deadline', 'timeout', 'connection refused', 'other'] as const
/** weft's reasons an inbound connection failed before it was established. */
export const INCOMING_ERRORS = ['timeout', 'transport', 'protocol', 'other'] as const
/** ConnectionClosedError codes (src/core/close-codes.ts), `none` for a close without a code, `error` for any other error. */
export const CLOSE_REASONS = [
  'close/normal', 'close/protocol-error', 'close/internal-error', 'close/protocol-negotiation-failed', 'close/resource-limit-exceeded',
  'close/rate-limited', 'close/protocol-violation', 'close/supplanted', 'close/garbage-collected', 'close/shutdown', 'close/gated',
  'close/unknown', 'none', 'error',
] as const
/** src/swarm/policy.ts RefusalCode, plus `other` for a code this list does not know yet. */
export const REFUSAL_CODES = ['gater/denied', 'limits/per-ip', 'limits/rate', 'limits/pending-inbound', 'resource/limit-exceeded', 'other'] as const

const CONN_LABELS = ['dir', 'transport', 'security', 'muxer', 'early_muxer', 'ip_version'] as const
const HANDSHAKE_VALUES = { transport: CONN_TRANSPORTS, security: [SECURITY], muxer: [MUXER], early_muxer: ['true', 'false', 'unknown'], ip_version: IP_VERSIONS }
const CONN_VALUES = { dir: DIRECTIONS, ...HANDSHAKE_VALUES }

/**
 * The swarm families (go-libp2p's `libp2p_swarm_*`): connections opened and closed, their duration, handshake latency, dial errors, streams.
 */
export class SwarmMetrics {
  readonly opened: Counter
  readonly closed: Counter
  readonly keyTypes: Counter
  readonly dialErrors: Counter
  readonly duration: Histogram
  readonly handshake: Histogram
  readonly incomingErrors: Counter
  readonly connectionsRefused: Counter
  readonly streamsRefused: Counter
  readonly closeReasons: Counter

  constructor(r: Registry) {
    this.opened = r.counter({ name: 'libp2p_swarm_connections_opened_total', help: 'Connections Opened', labels: CONN_LABELS, values: CONN_VALUES })
    this.keyTypes = r.counter({ name: 'libp2p_swarm_key_types_total', help: 'key type', labels: ['dir', 'key_type'], values: { dir: DIRECTIONS, key_type: KEY_TYPES } })
    this.closed = r.counter({ name: 'libp2p_swarm_connections_closed_total', help: 'Connections Closed', labels: CONN_LABELS, values: CONN_VALUES })
    this.dialErrors = r.counter({
      name: 'libp2p_swarm_dial_errors_total', help: 'Dial Error', labels: ['transport', 'error', 'ip_version'],
      values: { transport: ADDR_TRANSPORTS, error: DIAL_ERRORS, ip_version: IP_VERSIONS },
    })
    this.duration = r.histogram({ name: 'libp2p_swarm_connection_duration_seconds', help: 'Duration of a Connection', labels: CONN_LABELS, values: CONN_VALUES, buckets: CONNECTION_DURATION_BUCKETS })
    this.handshake = r.histogram({
      name: 'libp2p_swarm_handshake_latency_seconds', help: 'Duration of the libp2p Handshake', labels: CONN_LABELS.slice(1), values: HANDSHAKE_VALUES,
      buckets: HANDSHAKE_LATENCY_BUCKETS,
    })
    this.incomingErrors = r.counter({
      name: 'libp2p_swarm_connections_incoming_error_total', help: 'Inbound connections that failed before they were established (rust-libp2p name; weft error values)',
      labels: ['error'], values: { error: INCOMING_ERRORS },
    })
    this.connectionsRefused = r.counter({
      name: 'weft_swarm_connections_refused_total', help: 'Connections refused by the gater, per-IP limits or the resource manager', labels: ['dir', 'code'],
      values: { dir: DIRECTIONS, code: REFUSAL_CODES },
    })
    this.closeReasons = r.counter({
      name: 'weft_swarm_connections_close_reasons_total', help: 'Established connections closed, by who closed them with a code (yamux GoAway) and the code', labels: ['by', 'reason'],
      values: { by: ['local', 'remote', ''], reason: CLOSE_REASONS },
    })
    this.streamsRefused = r.counter({
      name: 'weft_swarm_streams_refused_total', help: 'Negotiated streams refused (reset) by the resource manager', labels: ['dir', 'code'],
      values: { dir: DIRECTIONS, code: REFUSAL_CODES },
    })
  }

  /** Count one swarm event. */
  observe(now: Millis, ev: SwarmEvent): void {
    switch (ev.type) {
      case 'connection-open': {
        const c = ev.connection
        const labels = connLabels(c)
        this.opened.inc(labels)
        this.keyTypes.inc({ dir: c.direction, key_type: c.remotePublicKey.type })
        const latency = c.established - c.opened
        if (Number.isFinite(latency) && latency >= 0) this.handshake.observe(labels, latency / 1000)
        break
      }
      case 'connection-closed': {
        const c = ev.connection
        const labels = connLabels(c)
        this.closed.inc(labels)
        this.closeReasons.inc(closeReason(ev.error))
        if (Number.isFinite(c.established)) this.duration.observe(labels, Math.max(0, now - c.established) / 1000)
        break
      }
      case 'connection-failed':
        if (ev.direction === 'outbound') {
          this.dialErrors.inc({ transport: addrTransport(ev.addr), error: dialErrorLabel(ev.error), ip_version: ipVersion(ev.addr) })
        } else {
          this.incomingErrors.inc({ error: incomingErrorLabel(ev.error) })
        }
        break
      case 'connection-refused':
        this.connectionsRefused.inc({ dir: ev.direction, code: ev.refusal.code })
        break
      case 'stream-refused':
        this.streamsRefused.inc({ dir: ev.direction, code: ev.refusal.code })
        break
      default:
        break
    }
  }
}

/** go's connection labels: direction, ConnectionState (transport, security, muxer, early muxer), the local address's IP version. */
export function connLabels(c: ConnectionInfo): Record<(typeof CONN_LABELS)[number], string> {
  const early = c.earlyMuxer
  return {
    dir: c.direction,
    transport: connTransport(c.remoteAddr),
    security: SECURITY,
    muxer: MUXER,
    early_muxer: String(early),
    ip_version: ipVersion(c.localAddr ?? c.remoteAddr),
  }
}

function closeReason(e: Error | undefined): { by: string; reason: string } {
  if (e === undefined) return { by: '', reason: 'none' }
  const by = (e as { by?: unknown }).by
  if ((by === 'local' || by === 'remote') && typeof (e as { wireCode?: unknown }).wireCode === 'number') return { by, reason: code(e) }
  return { by: '', reason: 'error' }
}

function code(e: Error): string {
  const c = (e as { code?: unknown }).code
  return typeof c === 'string' ? c : ''
}

/**
 * go's FailedDialing classes: the dial given up (`canceled`), its deadline passed (`deadline`: weft's
 * dial timeout and upgrade timeout), the OS timed the connect out (`timeout`), the remote refused it.
 */
export function dialErrorLabel(e: Error): string {
  switch (code(e)) {
    case 'transport/aborted':
    case 'dial/aborted':
      return 'canceled'
    case 'transport/timeout':
    case 'connection/upgrade-timeout':
    case 'dial/timeout':
      return 'deadline'
    case 'transport/refused':
      return 'connection refused'
    default:
      return 'other'
  }
}

function incomingErrorLabel(e: Error): string {
  const c = code(e)
  if (c === 'connection/upgrade-timeout') return 'timeout'
  if (c.startsWith('transport/')) return 'transport'
  if ((e as { protocol?: unknown }).protocol !== undefined) return 'protocol'
  return 'other'
}
