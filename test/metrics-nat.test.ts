/**
 * NAT-traversal metrics (src/metrics/{nat,relay,holepunch,autonat,nat-labels}.ts): synthetic events
 * of the relay server, relay client, AutoNAT and DCUtR behaviours fed to `prometheusMetrics()`, the
 * exposition checked for go-libp2p's family names, label names and label values (and by `promtool
 * check metrics` when installed); then a weft relay and two weft nodes over TCP loopback.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, test } from 'vitest'
import { prometheusMetrics, type MetricsHost } from '../src/metrics/index.js'
import { MAX_PENDING_PUNCHES, holePunchOutcomes } from '../src/metrics/holepunch.js'
import { MAX_TRACKED_RELAYS } from '../src/metrics/relay.js'
import { goTransport, ipOrDnsVersion } from '../src/metrics/nat-labels.js'
import { v1ReceivedStatus } from '../src/metrics/autonat.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId } from '../src/peer-id/index.js'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import { createNode, type WeftNode } from '../src/node.js'
import { circuitRelayClient, circuitRelayServer } from '../src/relay/index.js'
import { autoNAT, type AutoNAT, type AutoNATOptions } from '../src/autonat/index.js'
import type { SwarmEvent } from '../src/swarm/index.js'
import { parsePrometheus, sumOf, type ParsedFamily } from './helpers/prometheus.js'

const HAS_PROMTOOL = spawnSync('promtool', ['--version']).status === 0
const P = PeerId.parse('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
const Q = PeerId.parse('12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK')
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)

/** go-libp2p v0.48.0's NAT families and their label names (sorted). */
const GO_FAMILIES: Record<string, { type: string; labels: string[] }> = {
  libp2p_relaysvc_status: { type: 'gauge', labels: [] },
  libp2p_relaysvc_reservations_total: { type: 'counter', labels: ['type'] },
  libp2p_relaysvc_reservation_request_response_status_total: { type: 'counter', labels: ['status'] },
  libp2p_relaysvc_reservation_rejections_total: { type: 'counter', labels: ['reason'] },
  libp2p_relaysvc_connections_total: { type: 'counter', labels: ['type'] },
  libp2p_relaysvc_connection_request_response_status_total: { type: 'counter', labels: ['status'] },
  libp2p_relaysvc_connection_rejections_total: { type: 'counter', labels: ['reason'] },
  libp2p_relaysvc_connection_duration_seconds: { type: 'histogram', labels: [] },
  libp2p_relaysvc_data_transferred_bytes_total: { type: 'counter', labels: [] },
  libp2p_autorelay_reservations_opened_total: { type: 'counter', labels: [] },
  libp2p_autorelay_reservations_closed_total: { type: 'counter', labels: [] },
  libp2p_autorelay_reservation_requests_outcome_total: { type: 'counter', labels: ['outcome', 'request_type'] },
  libp2p_autorelay_relay_addresses_updated_total: { type: 'counter', labels: [] },
  libp2p_autorelay_relay_addresses_count: { type: 'gauge', labels: [] },
  libp2p_holepunch_direct_dials_total: { type: 'counter', labels: ['outcome'] },
  libp2p_holepunch_address_outcomes_total: { type: 'counter', labels: ['ipv', 'num_attempts', 'outcome', 'side', 'transport'] },
  libp2p_holepunch_outcomes_total: { type: 'counter', labels: ['num_attempts', 'outcome', 'side'] },
  libp2p_autonat_reachability_status: { type: 'gauge', labels: [] },
  libp2p_autonat_reachability_status_confidence: { type: 'gauge', labels: [] },
  libp2p_autonat_received_dial_response_total: { type: 'counter', labels: ['response_status'] },
  libp2p_autonat_outgoing_dial_response_total: { type: 'counter', labels: ['response_status'] },
  libp2p_autonat_outgoing_dial_refused_total: { type: 'counter', labels: ['refusal_reason'] },
  libp2p_autonatv2_requests_completed_total: { type: 'counter', labels: ['dial_data_required', 'dial_status', 'ip_or_dns_version', 'response_status', 'server_error', 'transport'] },
  libp2p_autonatv2_client_requests_completed_total: { type: 'counter', labels: ['addr_count', 'dial_refused', 'ip_or_dns_version', 'reachability', 'transport'] },
  libp2p_autonatv2_client_requests_total: { type: 'counter', labels: ['outcome'] },
  libp2p_host_addrs_reachable: { type: 'gauge', labels: ['ipv', 'transport'] },
  libp2p_host_addrs_unreachable: { type: 'gauge', labels: ['ipv', 'transport'] },
  libp2p_host_addrs_unknown: { type: 'gauge', labels: ['ipv', 'transport'] },
}

function metricsWith(behaviours: Record<string, unknown> = {}): ReturnType<typeof prometheusMetrics> {
  const m = prometheusMetrics()
  const host: MetricsHost = { swarm: { protocols: () => [], externalAddrs: [], policy: { resources: { snapshot: () => ({ scopes: [], peers: [], connections: [], blocked: [] }) } }, behaviours }, getMultiaddrs: () => [] }
  m.attach(host)
  return m
}

function feed(m: ReturnType<typeof prometheusMetrics>, from: string, ...events: unknown[]): void {
  for (const event of events) m.observe(0, { type: 'behaviour', from, event } as SwarmEvent)
}

function promtool(text: string): void {
  if (!HAS_PROMTOOL) return
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text })
  const out = (r.stdout.toString() + r.stderr.toString()).split('\n').filter((l) => l !== '')
  // exit 3 is lint only; weft's accepted lint findings are go's own *_count gauge names
  expect(out.filter((l) => !/non-histogram and non-summary metrics should not have "_count" suffix/.test(l))).toEqual([])
  expect([0, 3]).toContain(r.status)
}

function labelSet(f: Map<string, ParsedFamily>, family: string, label: string): string[] {
  return [...new Set(f.get(family)!.samples.map((s) => s.labels[label]!))].sort()
}

describe("relay service: go's libp2p_relaysvc_*", () => {
  test('reservations, circuits, refusals with go label values; status from the relay behaviour', () => {
    const m = metricsWith({ relay: {} })
    feed(m, 'relay',
      { type: 'reservation-accepted', peer: P, expire: 1n, addrs: [], renewed: false },
      { type: 'reservation-accepted', peer: P, expire: 2n, addrs: [], renewed: true },
      { type: 'reservation-accepted', peer: Q, expire: 2n, addrs: [], renewed: false },
      { type: 'reservation-refused', peer: Q, status: 'RESERVATION_REFUSED', reason: 'x' },
      { type: 'reservation-refused', peer: Q, status: 'PERMISSION_DENIED', reason: 'x' },
      { type: 'reservation-closed', peer: P, reason: 'expired' },
      { type: 'circuit-refused', src: P, dst: Q, status: 'NO_RESERVATION', reason: 'x' },
      { type: 'circuit-refused', src: P, dst: Q, status: 'RESOURCE_LIMIT_EXCEEDED', reason: 'x' },
      { type: 'circuit-refused', src: P, dst: Q, status: 'CONNECTION_FAILED', reason: 'x' },
      // an undecodable hop message: go counts no request
      { type: 'circuit-refused', src: P, dst: undefined, status: 'MALFORMED_MESSAGE', reason: 'x' },
      { type: 'circuit-opened', id: 1, src: P, dst: Q },
      { type: 'circuit-closed', id: 1, src: P, dst: Q, reason: 'closed', srcToDst: 1000, dstToSrc: 24, duration: 1500 },
    )
    const text = m.exposition()
    const f = parsePrometheus(text)
    expect(sumOf(f, 'libp2p_relaysvc_status')).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_reservations_total', { type: 'opened' })).toBe(2)
    expect(sumOf(f, 'libp2p_relaysvc_reservations_total', { type: 'renewed' })).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_reservations_total', { type: 'closed' })).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_reservation_request_response_status_total', { status: 'ok' })).toBe(3)
    expect(sumOf(f, 'libp2p_relaysvc_reservation_request_response_status_total', { status: 'rejected' })).toBe(2)
    expect(labelSet(f, 'libp2p_relaysvc_reservation_rejections_total', 'reason')).toEqual(['ip constraint violation', 'permission denied'])
    expect(sumOf(f, 'libp2p_relaysvc_connection_request_response_status_total', { status: 'rejected' })).toBe(2)
    expect(sumOf(f, 'libp2p_relaysvc_connection_request_response_status_total', { status: 'error' })).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_connection_request_response_status_total', { status: 'ok' })).toBe(1)
    expect(labelSet(f, 'libp2p_relaysvc_connection_rejections_total', 'reason')).toEqual(['no reservation', 'resource limit exceeded'])
    expect(sumOf(f, 'libp2p_relaysvc_connections_total', { type: 'opened' })).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_connections_total', { type: 'closed' })).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_connection_duration_seconds', {}, 'libp2p_relaysvc_connection_duration_seconds_sum')).toBe(1.5)
    expect(sumOf(f, 'libp2p_relaysvc_connection_duration_seconds', { le: '2.5' }, 'libp2p_relaysvc_connection_duration_seconds_bucket')).toBe(1)
    expect(sumOf(f, 'libp2p_relaysvc_connection_duration_seconds', { le: '1' }, 'libp2p_relaysvc_connection_duration_seconds_bucket')).toBe(0)
    expect(sumOf(f, 'libp2p_relaysvc_data_transferred_bytes_total')).toBe(1024)
    expect(text).not.toContain(P.toString())
    promtool(text)
  })

  test('no relay behaviour: status 0, no series; with one, the unlabelled families start at 0 (as go exports them)', () => {
    const none = parsePrometheus(metricsWith({}).exposition())
    expect(sumOf(none, 'libp2p_relaysvc_status')).toBe(0)
    expect(none.get('libp2p_relaysvc_data_transferred_bytes_total')!.samples).toEqual([])
    expect(none.get('libp2p_autorelay_reservations_opened_total')!.samples).toEqual([])
    const f = parsePrometheus(metricsWith({ 'relay': {}, 'relay-client': {} }).exposition())
    for (const name of ['libp2p_relaysvc_data_transferred_bytes_total', 'libp2p_autorelay_reservations_opened_total', 'libp2p_autorelay_reservations_closed_total', 'libp2p_autorelay_relay_addresses_updated_total']) {
      expect([name, f.get(name)!.samples.map((s) => s.value)]).toEqual([name, [0]])
    }
    expect(sumOf(f, 'libp2p_relaysvc_connection_duration_seconds', {}, 'libp2p_relaysvc_connection_duration_seconds_count')).toBe(0)
    expect(f.get('libp2p_relaysvc_connection_duration_seconds')!.samples).toHaveLength(14)
  })
})

describe("relay client: go's libp2p_autorelay_* reservation families", () => {
  test(`tracked relays: ${MAX_TRACKED_RELAYS} are remembered, one more is not (its loss is not counted)`, () => {
    const m = metricsWith({})
    const relay = (i: number) => ({ toString: () => `relay-${i}` })
    for (let i = 0; i <= MAX_TRACKED_RELAYS; i++) feed(m, 'relay-client', { type: 'reservation', event: { type: 'accepted', relay: relay(i), reservation: {} } })
    const closed = () => sumOf(parsePrometheus(m.exposition()), 'libp2p_autorelay_reservations_closed_total')
    feed(m, 'relay-client', { type: 'reservation', event: { type: 'lost', relay: relay(MAX_TRACKED_RELAYS), reason: 'expired' } })
    expect(closed()).toBe(0)
    feed(m, 'relay-client', { type: 'reservation', event: { type: 'lost', relay: relay(MAX_TRACKED_RELAYS - 1), reason: 'expired' } })
    expect(closed()).toBe(1)
    expect(sumOf(parsePrometheus(m.exposition()), 'libp2p_autorelay_reservations_opened_total')).toBe(MAX_TRACKED_RELAYS + 1)
  })

  test('new and refresh requests by outcome; opened, closed; relay addresses', () => {
    const m = metricsWith({ 'relay-client': { listenAddrs: () => [ma('/ip4/11.0.0.1/tcp/1/p2p/' + P.toString() + '/p2p-circuit')] } })
    const reservation = { relay: P, expire: 0n, addrs: [], limit: undefined }
    const refused = (statusName: string | undefined) => ({ type: 'reservation', event: { type: 'refused', relay: Q, status: 100, statusName, error: new Error('x') } })
    feed(m, 'relay-client',
      { type: 'reservation', event: { type: 'accepted', relay: P, reservation } },
      { type: 'listen-addrs' },
      { type: 'reservation', event: { type: 'renewed', relay: P, reservation } },
      refused('RESERVATION_REFUSED'),
      refused(undefined),
      { type: 'reservation', event: { type: 'failed', relay: Q, error: new Error('x') } },
      { type: 'reservation', event: { type: 'lost', relay: P, reason: 'connection-closed' } },
      { type: 'reservation', event: { type: 'lost', relay: Q, reason: 'removed' } },
      { type: 'deadline', token: 1 },
    )
    const f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_autorelay_reservations_opened_total')).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_reservations_closed_total')).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_reservation_requests_outcome_total', { request_type: 'new', outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_reservation_requests_outcome_total', { request_type: 'refresh', outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_reservation_requests_outcome_total', { request_type: 'new', outcome: 'reservation refused' })).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_reservation_requests_outcome_total', { request_type: 'new', outcome: 'err other' })).toBe(2)
    expect(sumOf(f, 'libp2p_autorelay_relay_addresses_updated_total')).toBe(1)
    expect(sumOf(f, 'libp2p_autorelay_relay_addresses_count')).toBe(1)
  })
})

describe("hole punching: go's libp2p_holepunch_*", () => {
  test(`pending punches: ${MAX_PENDING_PUNCHES} peers' addresses are kept, one more is not (its outcome counts without addresses)`, () => {
    const m = metricsWith({ dcutr: { localAddrs: () => [ma('/ip4/11.0.0.2/tcp/4001')] } })
    const peer = (i: number) => ({ toString: () => `peer-${i}` })
    for (let i = 0; i <= MAX_PENDING_PUNCHES; i++) feed(m, 'dcutr', { type: 'attempt', peer: peer(i), attempt: 1, rtt: 1, addrs: [ma('/ip4/11.0.0.3/tcp/1')] })
    const fail = (i: number) => feed(m, 'dcutr', { type: 'failed', peer: peer(i), role: 'B', attempts: 1, error: new OutcomeError('dcutr/dial-failed') })
    const addrOutcomes = () => sumOf(parsePrometheus(m.exposition()), 'libp2p_holepunch_address_outcomes_total')
    fail(MAX_PENDING_PUNCHES) // the one past the cap: no addresses kept
    expect(addrOutcomes()).toBe(0)
    fail(MAX_PENDING_PUNCHES - 1) // at the cap: kept
    expect(addrOutcomes()).toBe(1)
    expect(sumOf(parsePrometheus(m.exposition()), 'libp2p_holepunch_outcomes_total', { outcome: 'failed' })).toBe(2)
  })

  test("go's per-address rule: success, cancelled, failed, no_suitable_address", () => {
    const ours = [ma('/ip4/11.0.0.2/tcp/4001'), ma('/ip6/2001:db8::2/tcp/4001'), ma('/ip4/11.0.0.2/udp/4001/quic-v1')]
    const theirs = [ma('/ip4/11.0.0.3/tcp/5001'), ma('/ip6/2001:db8::3/tcp/5001')]
    const direct = holePunchOutcomes(ours, theirs, ma('/ip4/11.0.0.2/tcp/4001'))
    expect(direct.outcome).toBe('success')
    expect(direct.addrs.map((a) => `${a.ipv}/${a.transport}:${a.outcome}`)).toEqual(['ip4/tcp:success', 'ip6/tcp:cancelled', 'ip4/quic-v1:no_suitable_address'])
    const none = holePunchOutcomes(ours, theirs, undefined)
    expect(none.outcome).toBe('failed')
    expect(none.addrs.map((a) => a.outcome)).toEqual(['failed', 'failed', 'no_suitable_address'])
    expect(holePunchOutcomes([ma('/ip4/11.0.0.2/udp/1/quic-v1')], theirs, undefined).outcome).toBe('no_suitable_address')
  })

  test('initiator (B) and receiver (A) outcomes, reversal as a direct dial; protocol errors are not punches', () => {
    const local = [ma('/ip4/11.0.0.2/tcp/4001')]
    const m = metricsWith({ dcutr: { localAddrs: () => local } })
    const conn = (localAddr: string) => ({ id: 9, peer: Q, localAddr: ma(localAddr), remoteAddr: ma('/ip4/11.0.0.3/tcp/5001'), direction: 'outbound', limited: false })
    feed(m, 'dcutr',
      { type: 'attempt', peer: Q, attempt: 1, rtt: 10, addrs: [ma('/ip4/11.0.0.3/tcp/5001')] },
      { type: 'attempt', peer: Q, attempt: 2, rtt: 10, addrs: [ma('/ip4/11.0.0.3/tcp/5001')] },
      { type: 'direct', peer: Q, connection: conn('/ip4/11.0.0.2/tcp/4001'), role: 'B', via: 'hole-punch', attempts: 2 },
      { type: 'attempt', peer: P, attempt: 3, rtt: 10, addrs: [ma('/ip4/11.0.0.4/tcp/5001')] },
      { type: 'failed', peer: P, role: 'B', attempts: 3, error: new OutcomeError('dcutr/dial-failed') },
      { type: 'direct', peer: P, connection: conn('/ip4/11.0.0.2/tcp/4001'), role: 'A', via: 'hole-punch', attempts: 1 },
      { type: 'failed', peer: Q, role: 'A', attempts: 1, error: new OutcomeError('dcutr/dial-failed') },
      { type: 'direct', peer: P, connection: conn('/ip4/11.0.0.2/tcp/4001'), role: 'B', via: 'reversal', attempts: 0 },
      { type: 'failed', peer: P, role: 'B', attempts: 1, error: new ProtocolError('dcutr', 'dcutr/no-addrs') },
      { type: 'failed', peer: P, role: 'B', attempts: 1, error: new OutcomeError('dcutr/timeout') },
      { type: 'unavailable', peer: P, reason: 'no punch port' },
      { type: 'reversal-failed', peer: Q, error: new OutcomeError('dcutr/dial-failed') },
    )
    const text = m.exposition()
    const f = parsePrometheus(text)
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total', { side: 'initiator', num_attempts: '2', outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total', { side: 'initiator', num_attempts: '3', outcome: 'failed' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total', { side: 'receiver', num_attempts: '1', outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total', { side: 'receiver', num_attempts: '1', outcome: 'failed' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total')).toBe(4)
    expect(sumOf(f, 'libp2p_holepunch_address_outcomes_total', { side: 'initiator', num_attempts: '2', ipv: 'ip4', transport: 'tcp', outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_address_outcomes_total', { side: 'initiator', num_attempts: '3', ipv: 'ip4', transport: 'tcp', outcome: 'failed' })).toBe(1)
    // the receiver's event does not carry the initiator's addresses: only its overall outcome
    expect(sumOf(f, 'libp2p_holepunch_address_outcomes_total', { side: 'receiver' })).toBe(0)
    expect(sumOf(f, 'libp2p_holepunch_direct_dials_total', { outcome: 'success' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_direct_dials_total', { outcome: 'failed' })).toBe(1)
    // go's zero series (attempts 1-4, tcp) exist on a node running DCUtR
    expect(f.get('libp2p_holepunch_outcomes_total')!.samples).toHaveLength(24)
    expect(f.get('libp2p_holepunch_address_outcomes_total')!.samples).toHaveLength(64)
    promtool(text)
  })

  test('events carrying both address lists give the receiver per-address outcomes too', () => {
    const m = metricsWith({})
    feed(m, 'dcutr', {
      type: 'direct', peer: P, role: 'A', via: 'hole-punch', attempts: 1,
      connection: { localAddr: ma('/ip6/2001:db8::2/tcp/4001') }, ourAddrs: [ma('/ip6/2001:db8::2/tcp/4001')], theirAddrs: [ma('/ip6/2001:db8::3/tcp/1')],
    })
    const f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_holepunch_address_outcomes_total', { side: 'receiver', num_attempts: '1', ipv: 'ip6', transport: 'tcp', outcome: 'success' })).toBe(1)
    // no DCUtR behaviour at attach: no zero series
    expect(f.get('libp2p_holepunch_outcomes_total')!.samples).toHaveLength(1)
  })
})

describe("AutoNAT: go's libp2p_autonat_*, libp2p_autonatv2_*, libp2p_host_addrs_*", () => {
  test('v1 client and server, v2 client and server, with go label values', () => {
    const m = metricsWith({})
    // a v1 probe the server answered carries its status (`v1Status`)
    const probe = (version: 1 | 2, outcome: string, reason: string, addr?: Multiaddr, v1Status?: number) =>
      ({ type: 'probe', server: P, version, outcome, reason, ...(addr ? { addr } : {}), ...(v1Status !== undefined ? { v1Status } : {}) })
    const served = (version: 1 | 2, outcome: string, reason?: string, addr?: Multiaddr) => ({
      type: 'served', peer: P, version, outcome, ...(reason ? { reason } : {}), ...(addr ? { addr } : {}),
      ...(outcome === 'refused' && version === 1 ? { refusal: reason === 'observed address has no IP' ? 'dial-blocked' : 'no-valid-address' } : {}),
    })
    const a4 = ma('/ip4/11.0.0.2/tcp/4001')
    feed(m, 'autonat',
      probe(1, 'reachable', 'OK', a4, 0), probe(1, 'unreachable', 'E_DIAL_ERROR', undefined, 100), probe(1, 'inconclusive', 'E_DIAL_REFUSED: too many dials', undefined, 101),
      probe(1, 'inconclusive', 'status 7', undefined, 7), probe(1, 'inconclusive', 'probe timed out'),
      probe(2, 'reachable', 'OK', a4), probe(2, 'unreachable', 'E_DIAL_ERROR', ma('/dns4/example.com/tcp/1')), probe(2, 'inconclusive', 'E_DIAL_REFUSED', a4),
      probe(2, 'inconclusive', 'E_REQUEST_REJECTED', a4),
      served(1, 'dial-ok', undefined, a4), served(1, 'dial-error', 'every dial failed'), served(1, 'rejected', 'too many dials'),
      served(1, 'refused', 'no dialable addresses'), served(1, 'refused', 'observed address has no IP'), served(1, 'bad-request', 'expected DIAL'), served(1, 'aborted'),
      served(2, 'dial-ok', undefined, a4), served(2, 'dial-back-error', 'x', ma('/ip6/2001:db8::1/tcp/1/ws')), served(2, 'refused', 'x'), served(2, 'dial-data-refused', 'x', a4),
      { ...served(2, 'dial-error', 'x', a4), dialDataBytes: 30000 },
      { type: 'status', reachability: 'public' },
    )
    const text = m.exposition()
    const f = parsePrometheus(text)
    expect(sumOf(f, 'libp2p_autonat_reachability_status')).toBe(1)
    expect(Object.fromEntries(f.get('libp2p_autonat_received_dial_response_total')!.samples.map((s) => [s.labels['response_status'], s.value]))).toEqual({ 'ok': 1, 'dial error': 1, 'dial refused': 1, 'unknown': 1 })
    expect(Object.fromEntries(f.get('libp2p_autonat_outgoing_dial_response_total')!.samples.map((s) => [s.labels['response_status'], s.value]))).toEqual({ 'ok': 1, 'dial error': 1, 'dial refused': 3, 'bad request': 1 })
    expect(Object.fromEntries(f.get('libp2p_autonat_outgoing_dial_refused_total')!.samples.map((s) => [s.labels['refusal_reason'], s.value]))).toEqual({ 'rate limited': 1, 'no valid address': 1, 'dial blocked': 1 })
    expect(sumOf(f, 'libp2p_autonatv2_client_requests_total', { outcome: 'success' })).toBe(3)
    expect(sumOf(f, 'libp2p_autonatv2_client_requests_total', { outcome: 'failure' })).toBe(1)
    expect(sumOf(f, 'libp2p_autonatv2_client_requests_completed_total', { ip_or_dns_version: 'ip4', transport: 'tcp', addr_count: '1', dial_refused: 'false', reachability: 'public' })).toBe(1)
    expect(sumOf(f, 'libp2p_autonatv2_client_requests_completed_total', { ip_or_dns_version: 'dns4', transport: 'tcp', dial_refused: 'false', reachability: 'private' })).toBe(1)
    expect(sumOf(f, 'libp2p_autonatv2_client_requests_completed_total', { ip_or_dns_version: 'unknown', transport: 'unknown', dial_refused: 'true', reachability: 'unknown' })).toBe(1)
    const v2 = (l: Record<string, string>) => sumOf(f, 'libp2p_autonatv2_requests_completed_total', l)
    expect(v2({ server_error: 'nil', response_status: 'OK', dial_status: 'OK', dial_data_required: 'false', ip_or_dns_version: 'ip4', transport: 'tcp' })).toBe(1)
    expect(v2({ server_error: 'nil', response_status: 'OK', dial_status: 'E_DIAL_BACK_ERROR', ip_or_dns_version: 'ip6', transport: 'ws' })).toBe(1)
    expect(v2({ server_error: 'nil', response_status: 'E_DIAL_REFUSED', dial_status: 'UNUSED', ip_or_dns_version: '', transport: '' })).toBe(1)
    expect(v2({ server_error: 'dial data refused', response_status: 'E_INTERNAL_ERROR', dial_status: 'UNUSED', dial_data_required: 'true' })).toBe(1)
    expect(v2({ server_error: 'nil', response_status: 'OK', dial_status: 'E_DIAL_ERROR', dial_data_required: 'true', ip_or_dns_version: 'ip4' })).toBe(1)
    promtool(text)
  })

  test('confidence: agreeing results raise it to 3, a disagreeing one lowers it, a new status resets it', () => {
    const m = metricsWith({})
    const probe = (outcome: string) => ({ type: 'probe', server: P, version: 2, outcome, reason: 'x' })
    const conf = () => sumOf(parsePrometheus(m.exposition()), 'libp2p_autonat_reachability_status_confidence')
    expect(conf()).toBe(0)
    feed(m, 'autonat', { type: 'status', reachability: 'private' }, probe('unreachable'), probe('unreachable'))
    expect(conf()).toBe(2)
    feed(m, 'autonat', probe('unreachable'), probe('unreachable'))
    expect(conf()).toBe(3)
    feed(m, 'autonat', probe('reachable'))
    expect(conf()).toBe(2)
    feed(m, 'autonat', { type: 'status', reachability: 'public' })
    expect(conf()).toBe(0)
    expect(sumOf(parsePrometheus(m.exposition()), 'libp2p_autonat_reachability_status')).toBe(1)
  })

  test('host addrs and reachability read from the AutoNAT behaviour at scrape time; a vanished pair goes to 0', () => {
    let status = {
      reachability: 'private',
      addrs: [
        { addr: ma('/ip4/11.0.0.2/tcp/4001'), reachability: 'unreachable' }, { addr: ma('/ip4/11.0.0.2/tcp/4002/ws'), reachability: 'unreachable' },
        { addr: ma('/ip6/2001:db8::2/tcp/4001'), reachability: 'reachable' }, { addr: ma('/ip4/11.0.0.2/udp/4001/quic-v1'), reachability: 'unknown' },
      ],
    }
    const m = metricsWith({ autonat: { status: () => status } })
    let f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_autonat_reachability_status')).toBe(2)
    expect(sumOf(f, 'libp2p_host_addrs_unreachable', { ipv: 'ip4', transport: 'tcp' })).toBe(1)
    expect(sumOf(f, 'libp2p_host_addrs_unreachable', { ipv: 'ip4', transport: 'ws' })).toBe(1)
    expect(sumOf(f, 'libp2p_host_addrs_reachable', { ipv: 'ip6', transport: 'tcp' })).toBe(1)
    expect(sumOf(f, 'libp2p_host_addrs_unknown', { ipv: 'ip4', transport: 'quic-v1' })).toBe(1)
    status = { reachability: 'public', addrs: [{ addr: ma('/ip4/11.0.0.2/tcp/4001'), reachability: 'reachable' }] }
    f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_autonat_reachability_status')).toBe(1)
    expect(sumOf(f, 'libp2p_host_addrs_reachable', { ipv: 'ip4', transport: 'tcp' })).toBe(1)
    expect(sumOf(f, 'libp2p_host_addrs_reachable', { ipv: 'ip6', transport: 'tcp' })).toBe(0)
    expect(f.get('libp2p_host_addrs_reachable')!.samples).toHaveLength(2)
    expect(sumOf(f, 'libp2p_host_addrs_unreachable')).toBe(0)
  })

  test('label helpers as go derives them', () => {
    expect(goTransport(ma('/ip4/1.2.3.4/tcp/1/p2p/' + P.toString() + '/p2p-circuit'))).toBe('p2p-circuit')
    expect(goTransport(ma('/ip4/1.2.3.4/udp/1/quic-v1/webtransport'))).toBe('webtransport')
    expect(goTransport(ma('/ip4/1.2.3.4/tcp/1/wss'))).toBe('wss')
    expect(goTransport(ma('/memory/1'))).toBe('other')
    expect(goTransport(undefined)).toBe('other')
    expect(ipOrDnsVersion(ma('/dnsaddr/example.com'))).toBe('dns')
    expect(ipOrDnsVersion(ma('/dns6/example.com/tcp/1'))).toBe('dns6')
    expect(ipOrDnsVersion(ma('/ip6/::1/tcp/1'))).toBe('ip6')
    expect(ipOrDnsVersion(undefined)).toBe('')
    expect(v1ReceivedStatus(200)).toBe('bad request')
    expect(v1ReceivedStatus(300)).toBe('internal error')
    expect(v1ReceivedStatus(7)).toBe('unknown')
    expect(v1ReceivedStatus(undefined)).toBeUndefined()
  })
})

describe('every NAT family', () => {
  test("go's names, types and label names; each in spec/metrics.md's table", () => {
    const m = metricsWith({ relay: {}, dcutr: { localAddrs: () => [] }, autonat: { status: () => ({ reachability: 'unknown', addrs: ['unknown', 'reachable', 'unreachable'].map((reachability, i) => ({ addr: ma(`/ip4/11.0.0.2/tcp/${i + 1}`), reachability })) }) } })
    feed(m, 'relay', { type: 'reservation-refused', peer: Q, status: 'NO_RESERVATION', reason: 'x' }, { type: 'circuit-refused', src: P, dst: Q, status: 'NO_RESERVATION', reason: 'x' },
      { type: 'reservation-accepted', peer: P, expire: 1n, addrs: [], renewed: false }, { type: 'circuit-opened', id: 1, src: P, dst: Q },
      { type: 'circuit-closed', id: 1, src: P, dst: Q, reason: 'closed', srcToDst: 1, dstToSrc: 1, duration: 1 })
    feed(m, 'relay-client', { type: 'reservation', event: { type: 'failed', relay: Q, error: new Error('x') } }, { type: 'listen-addrs' },
      { type: 'reservation', event: { type: 'accepted', relay: P, reservation: {} } }, { type: 'reservation', event: { type: 'lost', relay: P, reason: 'expired' } })
    feed(m, 'dcutr', { type: 'direct', peer: P, connection: { localAddr: ma('/ip4/11.0.0.2/tcp/1') }, role: 'B', via: 'reversal', attempts: 0 })
    feed(m, 'autonat', { type: 'probe', server: P, version: 1, outcome: 'reachable', reason: 'OK', v1Status: 0 }, { type: 'probe', server: P, version: 2, outcome: 'reachable', reason: 'OK' },
      { type: 'served', peer: P, version: 1, outcome: 'rejected', reason: 'x' }, { type: 'served', peer: P, version: 2, outcome: 'dial-ok', addr: ma('/ip4/11.0.0.2/tcp/1') })
    const text = m.exposition()
    const f = parsePrometheus(text)
    const spec = readFileSync(new URL('../spec/metrics.md', import.meta.url), 'utf8')
    for (const [name, want] of Object.entries(GO_FAMILIES)) {
      const fam = f.get(name)
      expect([name, fam?.type]).toEqual([name, want.type])
      expect([name, fam!.samples.length > 0]).toEqual([name, true])
      for (const s of fam!.samples) expect([name, Object.keys(s.labels).filter((l) => l !== 'le').sort()]).toEqual([name, want.labels])
      expect([name, spec.includes(`| \`${name}\` |`)]).toEqual([name, true])
    }
    promtool(text)
  })
})

describe('end to end: a weft relay and two weft nodes over TCP loopback', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  })

  test('one reservation, one circuit: relaysvc and autorelay series', async () => {
    const relay = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { relay: circuitRelayServer() }, metrics: true })
    nodes.push(relay)
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const listener = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0', `${relayAddr}/p2p-circuit`], services: { relayClient: circuitRelayClient() }, metrics: true, start: false })
    nodes.push(listener)
    const reserved = new Promise<void>((resolve) => { const off = listener.on('relay:reservation', (ev) => { if (ev.type === 'accepted') { off(); resolve() } }) })
    await listener.start()
    await reserved
    const dialer = await createNode({ listen: [], services: { relayClient: circuitRelayClient() } })
    nodes.push(dialer)
    const conn = await dialer.dial(`${relayAddr}/p2p-circuit/p2p/${listener.peerId.toString()}`)
    expect(conn.limited).toBe(true)
    await dialer.ping(listener.peerId)

    const r = parsePrometheus(relay.metrics!.exposition())
    expect(sumOf(r, 'libp2p_relaysvc_status')).toBe(1)
    expect(sumOf(r, 'libp2p_relaysvc_reservations_total', { type: 'opened' })).toBe(1)
    expect(sumOf(r, 'libp2p_relaysvc_reservation_request_response_status_total', { status: 'ok' })).toBe(1)
    expect(sumOf(r, 'libp2p_relaysvc_connections_total', { type: 'opened' })).toBe(1)
    expect(sumOf(r, 'libp2p_relaysvc_connection_request_response_status_total', { status: 'ok' })).toBe(1)
    const l = parsePrometheus(listener.metrics!.exposition())
    expect(sumOf(l, 'libp2p_relaysvc_status')).toBe(0)
    expect(sumOf(l, 'libp2p_autorelay_reservations_opened_total')).toBe(1)
    expect(sumOf(l, 'libp2p_autorelay_reservation_requests_outcome_total', { request_type: 'new', outcome: 'success' })).toBe(1)
    expect(sumOf(l, 'libp2p_autorelay_relay_addresses_count')).toBe(1)
    const text = relay.metrics!.exposition()
    for (const n of [relay, listener, dialer]) expect(text).not.toContain(n.peerId.toString())
    promtool(text)
  })

  async function autonatNode(opts: AutoNATOptions): Promise<WeftNode> {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { autonat: autoNAT({ allowPrivateAddrs: true, ...opts }) }, metrics: true })
    nodes.push(n)
    return n
  }

  function status(n: WeftNode, want: string): Promise<void> {
    return new Promise((resolve) => {
      const off = n.service<AutoNAT>('autonat').on('status', ({ reachability }) => { if (reachability === want) { off(); resolve() } })
    })
  }

  test('AutoNAT v2: a reachable listener; server and client series, host addrs, reachability public', async () => {
    const server = await autonatNode({ client: false, server: { amplificationJitter: 0 } })
    const client = await autonatNode({ client: { serverThrottle: 0 } })
    const pub = status(client, 'public')
    await client.dial(server.getMultiaddrs()[0]!)
    await pub
    const c = parsePrometheus(client.metrics!.exposition())
    expect(sumOf(c, 'libp2p_autonat_reachability_status')).toBe(1)
    expect(sumOf(c, 'libp2p_autonatv2_client_requests_total', { outcome: 'success' })).toBeGreaterThanOrEqual(2)
    expect(sumOf(c, 'libp2p_autonatv2_client_requests_completed_total', { ip_or_dns_version: 'ip4', transport: 'tcp', addr_count: '1', dial_refused: 'false', reachability: 'public' })).toBeGreaterThanOrEqual(2)
    expect(sumOf(c, 'libp2p_host_addrs_reachable', { ipv: 'ip4', transport: 'tcp' })).toBe(1)
    const s = parsePrometheus(server.metrics!.exposition())
    expect(sumOf(s, 'libp2p_autonatv2_requests_completed_total', { server_error: 'nil', response_status: 'OK', dial_status: 'OK', dial_data_required: 'false', ip_or_dns_version: 'ip4', transport: 'tcp' })).toBeGreaterThanOrEqual(2)
  }, 20_000)

  test('AutoNAT v1: OK answers counted on both sides', async () => {
    const server = await autonatNode({ client: false, server: { v2: false } })
    const client = await autonatNode({ client: { serverThrottle: 0, v2: false } })
    const pub = status(client, 'public')
    await client.dial(server.getMultiaddrs()[0]!)
    await pub
    const c = parsePrometheus(client.metrics!.exposition())
    expect(sumOf(c, 'libp2p_autonat_received_dial_response_total', { response_status: 'ok' })).toBeGreaterThanOrEqual(2)
    expect(sumOf(c, 'libp2p_autonat_reachability_status')).toBe(1)
    const s = parsePrometheus(server.metrics!.exposition())
    expect(sumOf(s, 'libp2p_autonat_outgoing_dial_response_total', { response_status: 'ok' })).toBeGreaterThanOrEqual(2)
  }, 20_000)
})
