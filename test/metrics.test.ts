/**
 * The metrics registry and exposition (src/metrics): the text format 0.0.4 (escaping, histogram
 * shape, Go's number formatting), closed label sets and the label-combination cap, and the
 * collectors' mappings from weft's events to go-libp2p's and rust-libp2p's families.
 */
import { describe, expect, test } from 'vitest'
import { Registry, exposition, formatFloat, escapeLabelValue, prometheusMetrics, RcmgrMetrics, exponentialBuckets, type ResourceSnapshot } from '../src/metrics/index.js'
import { CONNECTION_DURATION_BUCKETS, HANDSHAKE_LATENCY_BUCKETS, dialErrorLabel } from '../src/metrics/swarm.js'
import { addrTransport, connTransport, ipVersion } from '../src/metrics/labels.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { ConnectionClosedError, OutcomeError, ProtocolError } from '../src/core/errors.js'
import { TransportError } from '../src/io/transport.js'
import { parsePrometheus, sumOf } from './helpers/prometheus.js'

describe('exposition format 0.0.4', () => {
  test('HELP and TYPE precede the samples; counters and gauges one line per series', () => {
    const r = new Registry()
    const c = r.counter({ name: 'a_total', help: 'A', labels: ['x'] })
    const g = r.gauge({ name: 'b', help: 'B' })
    c.inc({ x: '1' })
    c.inc({ x: '1' }, 2)
    c.inc({ x: '2' })
    g.set({}, -1.5)
    expect(exposition(r)).toBe('# HELP a_total A\n# TYPE a_total counter\na_total{x="1"} 3\na_total{x="2"} 1\n# HELP b B\n# TYPE b gauge\nb -1.5\n')
  })

  test('escaping: backslash and newline in HELP; backslash, quote and newline in label values', () => {
    const r = new Registry()
    const nasty = 'a\\b"c\nd'
    const c = r.counter({ name: 'e_total', help: 'line one\nback\\slash "quoted"', labels: ['v'] })
    c.inc({ v: nasty })
    const text = exposition(r)
    expect(text).toContain('# HELP e_total line one\\nback\\\\slash "quoted"\n')
    expect(text).toContain('e_total{v="a\\\\b\\"c\\nd"} 1\n')
    const f = parsePrometheus(text).get('e_total')!
    expect(f.help).toBe('line one\nback\\slash "quoted"')
    expect(f.samples[0]!.labels['v']).toBe(nasty)
    expect(escapeLabelValue('plain')).toBe('plain')
  })

  test('histograms: cumulative _bucket{le} ending at +Inf, then _sum and _count', () => {
    const r = new Registry()
    const h = r.histogram({ name: 'h_seconds', help: 'H', labels: ['k'], buckets: [1, 2, 5] })
    for (const v of [0.5, 1, 1.5, 7]) h.observe({ k: 'a' }, v)
    expect(exposition(r)).toBe([
      '# HELP h_seconds H', '# TYPE h_seconds histogram',
      'h_seconds_bucket{k="a",le="1"} 2', 'h_seconds_bucket{k="a",le="2"} 3', 'h_seconds_bucket{k="a",le="5"} 3',
      'h_seconds_bucket{k="a",le="+Inf"} 4', 'h_seconds_sum{k="a"} 10', 'h_seconds_count{k="a"} 4', '',
    ].join('\n'))
    expect(h.count({ k: 'a' })).toBe(4)
  })

  test("numbers as Go's FormatFloat(v, 'g', -1, 64) writes them (client_golang)", () => {
    const cases: Array<[number, string]> = [
      [0, '0'], [1, '1'], [-2, '-2'], [0.0625, '0.0625'], [0.75, '0.75'], [100000, '100000'], [123456.7, '123456.7'],
      [1e6, '1e+06'], [1048576, '1.048576e+06'], [33554432, '3.3554432e+07'], [4294967296, '4.294967296e+09'],
      [0.0001, '0.0001'], [0.00001, '1e-05'], [1.5e-7, '1.5e-07'], [1e21, '1e+21'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [NaN, 'NaN'],
    ]
    for (const [v, s] of cases) expect([v, formatFloat(v)]).toEqual([v, s])
  })

  test("go-libp2p's bucket bounds: same count, same first and last bound", () => {
    expect(CONNECTION_DURATION_BUCKETS).toHaveLength(25)
    expect(CONNECTION_DURATION_BUCKETS[0]).toBe(0.0625)
    expect(CONNECTION_DURATION_BUCKETS[24]).toBe(1048576)
    expect(HANDSHAKE_LATENCY_BUCKETS).toHaveLength(35)
    expect(HANDSHAKE_LATENCY_BUCKETS[0]).toBe(0.001)
    // Computed by repeated multiplication, as ExponentialBuckets does: the same doubles as go.
    expect(HANDSHAKE_LATENCY_BUCKETS[1]).toBe(0.001 * 1.3)
    expect(exponentialBuckets(1, 2, 3)).toEqual([1, 2, 4])
  })

  test('a family without series writes HELP and TYPE only, and parses', () => {
    const r = new Registry()
    r.histogram({ name: 'empty', help: 'nothing yet', buckets: [1] })
    const text = exposition(r)
    expect(text).toBe('# HELP empty nothing yet\n# TYPE empty histogram\n')
    expect(parsePrometheus(text).get('empty')!.samples).toEqual([])
  })
})

describe('registry bounds and validation', () => {
  test('a label with a closed set records any other value as "other"', () => {
    const r = new Registry()
    const c = r.counter({ name: 'x_total', help: 'x', labels: ['dir'], values: { dir: ['inbound', 'outbound'] } })
    c.inc({ dir: 'inbound' })
    c.inc({ dir: '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq' })
    expect(c.get({ dir: 'other' })).toBe(1)
    expect(exposition(r)).not.toContain('12D3Koo')
  })

  test('label combinations per family: at the cap kept, past it dropped and counted', () => {
    const r = new Registry()
    const c = r.counter({ name: 'y_total', help: 'y', labels: ['p'], maxSeries: 2 })
    c.inc({ p: 'a' })
    c.inc({ p: 'b' })
    expect(c.size).toBe(2) // at the limit: both kept
    c.inc({ p: 'a' }) // an existing series still counts
    c.inc({ p: 'c' }) // one past: dropped
    expect(c.size).toBe(2)
    expect(c.get({ p: 'a' })).toBe(2)
    const f = parsePrometheus(exposition(r))
    expect(sumOf(f, 'weft_metrics_dropped_total', { family: 'y_total' })).toBe(1)
    expect(f.get('y_total')!.samples.map((s) => s.labels['p'])).toEqual(['a', 'b'])
  })

  test('bad names, labels, buckets and counter decrements are refused', () => {
    const r = new Registry()
    expect(() => r.counter({ name: '1bad', help: '' })).toThrow(RangeError)
    expect(() => r.counter({ name: 'ok', help: '', labels: ['__reserved'] })).toThrow(RangeError)
    expect(() => r.histogram({ name: 'h', help: '', labels: ['le'], buckets: [1] })).toThrow(RangeError)
    expect(() => r.histogram({ name: 'h2', help: '', buckets: [2, 1] })).toThrow(RangeError)
    expect(() => r.histogram({ name: 'h3', help: '', buckets: [1, Infinity] })).toThrow(RangeError)
    const c = r.counter({ name: 'c_total', help: '' })
    expect(() => c.inc({}, -1)).toThrow(RangeError)
    expect(() => r.counter({ name: 'c_total', help: '' })).toThrow(RangeError)
  })
})

describe('label values from addresses and errors', () => {
  test("transport and ip_version as go's metricshelper derives them", () => {
    const tcp = Multiaddr.fromString('/ip4/1.2.3.4/tcp/4001')
    const ws = Multiaddr.fromString('/ip6/::1/tcp/4002/ws')
    const wss = Multiaddr.fromString('/dns4/example.com/tcp/443/wss')
    expect([connTransport(tcp), connTransport(ws), connTransport(wss)]).toEqual(['tcp', 'websocket', 'websocket'])
    expect([addrTransport(tcp), addrTransport(ws), addrTransport(wss), addrTransport(undefined)]).toEqual(['tcp', 'ws', 'wss', 'other'])
    expect([ipVersion(tcp), ipVersion(ws), ipVersion(wss), ipVersion(Multiaddr.fromString('/dns/example.com/tcp/1'))]).toEqual(['ip4', 'ip6', 'ip4', 'unknown'])
  })

  test("dial errors map onto go's FailedDialing classes", () => {
    expect(dialErrorLabel(new TransportError('transport/refused', 'x'))).toBe('connection refused')
    expect(dialErrorLabel(new TransportError('transport/timeout', 'x'))).toBe('deadline')
    expect(dialErrorLabel(new ProtocolError('connection', 'connection/upgrade-timeout'))).toBe('deadline')
    expect(dialErrorLabel(new TransportError('transport/aborted', 'x'))).toBe('canceled')
    expect(dialErrorLabel(new Error('anything'))).toBe('other')
  })
})

describe('collectors', () => {
  test('swarm: close reasons from ConnectionClosedError (by, code); none without an error', () => {
    const m = prometheusMetrics()
    const info = { id: 1, peer: undefined as never, remotePublicKey: { type: 'Ed25519' } as never, remoteAddr: Multiaddr.fromString('/ip4/1.2.3.4/tcp/1'), localAddr: undefined, direction: 'inbound' as const, opened: 0, established: 5, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    m.observe(10, { type: 'connection-open', connection: info })
    m.observe(1000, { type: 'connection-closed', connection: info, error: new ConnectionClosedError(0x1005, 'remote') })
    m.observe(1000, { type: 'connection-closed', connection: info })
    m.observe(1000, { type: 'connection-closed', connection: info, error: new Error('x') })
    const f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'weft_swarm_connections_close_reasons_total', { by: 'remote', reason: 'close/garbage-collected' })).toBe(1)
    expect(sumOf(f, 'weft_swarm_connections_close_reasons_total', { by: '', reason: 'none' })).toBe(1)
    expect(sumOf(f, 'weft_swarm_connections_close_reasons_total', { by: '', reason: 'error' })).toBe(1)
    expect(sumOf(f, 'libp2p_swarm_handshake_latency_seconds', {}, 'libp2p_swarm_handshake_latency_seconds_sum')).toBe(0.005)
    expect(sumOf(f, 'libp2p_swarm_connection_duration_seconds', {}, 'libp2p_swarm_connection_duration_seconds_sum')).toBeCloseTo(3 * 0.995)
  })

  test('ping: RTT in seconds, failures by rust-libp2p reason', () => {
    const m = prometheusMetrics()
    const peer = undefined as never
    m.observe(0, { type: 'behaviour', from: 'ping', event: { type: 'pong', requestId: 1, peer, rtt: 3 } })
    m.observe(0, { type: 'behaviour', from: 'ping', event: { type: 'ping-failed', requestId: 2, peer, error: new OutcomeError('ping/timeout') } })
    m.observe(0, { type: 'behaviour', from: 'ping', event: { type: 'ping-failed', requestId: 3, peer, error: new ProtocolError('connection', 'connection/protocol-rejected') } })
    m.observe(0, { type: 'behaviour', from: 'ping', event: { type: 'ping-failed', requestId: 4, peer, error: new OutcomeError('ping/stream-reset') } })
    const f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_ping_rtt_seconds', {}, 'libp2p_ping_rtt_seconds_sum')).toBe(0.003)
    expect(sumOf(f, 'libp2p_ping_rtt_seconds', { le: '0.004' }, 'libp2p_ping_rtt_seconds_bucket')).toBe(1)
    expect(sumOf(f, 'libp2p_ping_rtt_seconds', { le: '0.002' }, 'libp2p_ping_rtt_seconds_bucket')).toBe(0)
    for (const reason of ['Timeout', 'Unsupported', 'Other']) expect(sumOf(f, 'libp2p_ping_failure_total', { reason })).toBe(1)
  })

  test("kad: rust-libp2p's query families by query type; routing table changes", () => {
    const m = prometheusMetrics()
    const stats = { hops: 2, requests: 5, duration: 250 }
    m.observe(0, { type: 'behaviour', from: 'kad', event: { type: 'query-done', requestId: 1, result: { kind: 'closest-peers', peers: [{}, {}, {}] }, stats } })
    m.observe(0, { type: 'behaviour', from: 'kad', event: { type: 'query-done', requestId: 2, result: { kind: 'get', key: new Uint8Array(), value: new Uint8Array(), from: [] }, stats } })
    m.observe(0, { type: 'behaviour', from: 'kad', event: { type: 'query-failed', requestId: 3, error: new OutcomeError('kad/not-found'), stats } })
    m.observe(0, { type: 'behaviour', from: 'kad', event: { type: 'routing-table', peer: undefined, change: 'added' } })
    const f = parsePrometheus(m.exposition())
    expect(sumOf(f, 'libp2p_kad_query_result_num_requests', { type: 'GetClosestPeers' }, 'libp2p_kad_query_result_num_requests_sum')).toBe(5)
    expect(sumOf(f, 'libp2p_kad_query_result_duration_seconds', { type: 'GetRecord' }, 'libp2p_kad_query_result_duration_seconds_sum')).toBe(0.25)
    expect(sumOf(f, 'libp2p_kad_query_result_get_closest_peers_ok', {}, 'libp2p_kad_query_result_get_closest_peers_ok_sum')).toBe(3)
    expect(sumOf(f, 'libp2p_kad_query_result_get_record_ok_total')).toBe(1)
    expect(sumOf(f, 'weft_kad_query_failures_total', { error: 'not-found' })).toBe(1)
    expect(sumOf(f, 'libp2p_kad_routing_updated_total', { action: 'Added' })).toBe(1)
    expect(sumOf(f, 'weft_kad_routing_table_peers')).toBe(1)
  })

  test("rcmgr: gauges from the snapshot; peer_* minus previous_peer_* is the current per-peer distribution", () => {
    const r = new Registry()
    const usage = (ci: number, co = 0, mem = 0) => ({ connsInbound: ci, connsOutbound: co, streamsInbound: 0, streamsOutbound: 0, memory: mem })
    const limits = { conns: 512, connsInbound: 256, connsOutbound: 512, streams: 4096, streamsInbound: 2048, streamsOutbound: 4096, memory: Infinity }
    let snap: ResourceSnapshot = {
      scopes: [{ scope: 'system', usage: usage(3, 1), limits }, { scope: 'transient', usage: usage(0), limits }, { scope: 'protocol', name: '/ipfs/ping/1.0.0', usage: { ...usage(0), streamsInbound: 2 }, limits }],
      peers: [usage(1), usage(2, 1)], connections: [usage(0, 0, 1024)],
      blocked: [{ scope: 'protocol-peer', resource: 'stream', direction: 'inbound', count: 4 }, { scope: 'system', resource: 'memory', direction: 'outbound', count: 1 }],
    }
    new RcmgrMetrics(r, () => snap)
    let f = parsePrometheus(exposition(r))
    expect(sumOf(f, 'libp2p_rcmgr_connections', { dir: 'inbound', scope: 'system' })).toBe(3)
    expect(sumOf(f, 'libp2p_rcmgr_streams', { dir: 'inbound', scope: 'protocol', protocol: '/ipfs/ping/1.0.0' })).toBe(2)
    expect(sumOf(f, 'libp2p_rcmgr_limit', { scope: 'system', resource: 'conns_inbound' })).toBe(256)
    expect(sumOf(f, 'libp2p_rcmgr_limit', { scope: 'system', resource: 'memory' })).toBe(Infinity)
    // go names the protocol-peer scope "protocol"; memory has no direction
    expect(sumOf(f, 'libp2p_rcmgr_blocked_resources', { dir: 'inbound', scope: 'protocol', resource: 'stream' })).toBe(4)
    expect(sumOf(f, 'libp2p_rcmgr_blocked_resources', { dir: '', scope: 'system', resource: 'memory' })).toBe(1)
    const current = (le: string): number =>
      sumOf(f, 'libp2p_rcmgr_peer_connections', { dir: 'inbound', le }, 'libp2p_rcmgr_peer_connections_bucket') -
      sumOf(f, 'libp2p_rcmgr_previous_peer_connections', { dir: 'inbound', le }, 'libp2p_rcmgr_previous_peer_connections_bucket')
    expect([current('1'), current('2'), current('+Inf')]).toEqual([1, 2, 2])
    // one peer goes from 2 to 3 inbound connections, the other leaves, a new one comes with 1
    snap = { ...snap, peers: [usage(3, 1), usage(1)] }
    f = parsePrometheus(exposition(r))
    expect([current('1'), current('2'), current('3'), current('+Inf')]).toEqual([1, 1, 2, 2])
    expect(sumOf(f, 'libp2p_rcmgr_conn_memory', {}, 'libp2p_rcmgr_conn_memory_count')).toBe(1)
  })

  test('one metrics object per node', () => {
    const m = prometheusMetrics()
    const host = { swarm: { protocols: () => [], externalAddrs: [], policy: { resources: { snapshot: () => undefined as never } } }, getMultiaddrs: () => [] }
    m.attach(host)
    expect(() => m.attach(host)).toThrow(RangeError)
  })
})

describe('browser bundles', () => {
  const entry = "import { createNode } from './src/browser.ts'\nconst node = await createNode()\nconsole.log(await node.ping(globalThis.WEFT_TARGET))\n"
  async function metricsBytes(extra: string): Promise<number> {
    const { buildBundle } = await import('../bench/bundles.js')
    const r = await buildBundle({ name: 'metrics-check', description: '', entry: entry + extra, requires: ['src/browser.ts'], forbid: [] })
    if (!r.built) throw new Error('not built')
    return r.bytesByGroup['src/metrics'] ?? 0
  }

  test('weft/browser carries no metrics code unless the application uses prometheusMetrics', async () => {
    expect(await metricsBytes('')).toBe(0)
    // the check sees the code when it is there
    expect(await metricsBytes("import { prometheusMetrics } from './src/browser.ts'\nconsole.log(prometheusMetrics())\n")).toBeGreaterThan(5_000)
  })
})
