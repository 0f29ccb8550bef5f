/**
 * Metrics end to end: a real node with metrics, 2 outbound connections, 1 failed dial, a ping and a
 * hang-up, scraped over HTTP (src/io/metrics-http.ts); every line parsed strictly
 * (test/helpers/prometheus.ts), every family checked against spec/metrics.md's table (both ways),
 * deterministic values checked, no peer id or address in any label value, and `promtool check
 * metrics` when promtool is installed (Debian package `prometheus`). Then `weft node --metrics`.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, serveMetrics, type MetricsServer, type WeftNode } from '../src/node.js'
import { METRICS_CONTENT_TYPE, parseHostPort } from '../src/io/metrics-http.js'
import { parsePrometheus, sumOf, type ParsedFamily } from './helpers/prometheus.js'

const HAS_PROMTOOL = spawnSync('promtool', ['--version']).status === 0
/** promtool's lint of go-libp2p's gauge names (spec/metrics.md, "promtool"). */
const GO_NAME_LINT = ['libp2p_identify_addrs_count', 'libp2p_identify_protocols_count', 'libp2p_autorelay_relay_addresses_count'].map((n) => `${n} non-histogram and non-summary metrics should not have "_count" suffix`)

const nodes: WeftNode[] = []
const servers: MetricsServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** The family names in spec/metrics.md's "Families" table, and which are lazy. */
function specFamilies(): { all: Set<string>; lazy: Set<string> } {
  const text = readFileSync(new URL('../spec/metrics.md', import.meta.url), 'utf8')
  const section = text.slice(text.indexOf('## Families'), text.indexOf('\n## ', text.indexOf('## Families') + 1))
  const all = new Set<string>()
  const lazy = new Set<string>()
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z0-9_]+)` \| (c|g|h) \|/.exec(line)
    if (m === null) continue
    all.add(m[1]!)
    if (line.includes('(lazy)')) lazy.add(m[1]!)
  }
  return { all, lazy }
}

async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

function waitFor<T>(node: WeftNode, event: 'peer:identify' | 'connection:close', n: number): Promise<T[]> {
  const got: T[] = []
  return new Promise((resolve) => {
    const off = node.on(event, (d) => {
      got.push(d as T)
      if (got.length === n) { off(); resolve(got) }
    })
  })
}

function labelValues(families: Map<string, ParsedFamily>): string[] {
  return [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.entries(s.labels).filter(([k]) => k !== 'le').map(([, v]) => v)))
}

describe('a node scraped over HTTP', () => {
  test('2 connections, 1 failed dial, a ping, a hang-up: every line parses, every family is in the spec, values as expected', async () => {
    const denied = await createNode({ listen: [], services: {} })
    nodes.push(denied)
    const a = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], metrics: true, gater: { deny: [denied.peerId.toString()] } })
    nodes.push(a)
    const b = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {} })
    const c = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {} })
    nodes.push(b, c)
    const server = await serveMetrics('127.0.0.1:0', () => a.metrics!.exposition())
    servers.push(server)

    const identified = waitFor(a, 'peer:identify', 2)
    await a.dial(b.getMultiaddrs()[0]!)
    await a.dial(c.getMultiaddrs()[0]!)
    await expect(a.dial(`/ip4/127.0.0.1/tcp/${await closedPort()}`)).rejects.toThrow()
    await a.ping(b.peerId)
    await identified
    const closed = waitFor(a, 'connection:close', 1)
    await a.hangUp(c.peerId)
    await closed
    // refused after Noise by A's gater (a GoAway): counted, never reported as opened
    const goneAway = waitFor(denied, 'connection:close', 1)
    await denied.dial(a.getMultiaddrs()[0]!).then(() => goneAway, () => undefined)

    const res = await fetch(server.url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE)
    const text = await res.text()
    const f = parsePrometheus(text)

    // every exposed family is in the spec's table, and every non-lazy one there is exposed
    const spec = specFamilies()
    expect(spec.all.size).toBeGreaterThan(40)
    expect([...f.keys()].filter((n) => !spec.all.has(n))).toEqual([])
    expect([...spec.all].filter((n) => !spec.lazy.has(n) && !f.has(n))).toEqual([])

    const conn = { dir: 'outbound', transport: 'tcp', security: '/noise', muxer: '/yamux/1.0.0', ip_version: 'ip4' }
    expect(sumOf(f, 'libp2p_swarm_connections_opened_total', conn)).toBe(2)
    expect(sumOf(f, 'libp2p_swarm_connections_opened_total', { dir: 'inbound' })).toBe(0)
    expect(sumOf(f, 'weft_swarm_connections_refused_total', { dir: 'inbound', code: 'gater/denied' })).toBe(1)
    expect(sumOf(f, 'weft_swarm_connections_close_reasons_total')).toBe(1) // the hang-up
    expect(sumOf(f, 'libp2p_swarm_connections_closed_total', conn)).toBe(1)
    // weft <-> weft negotiates the muxer inside Noise (early muxer negotiation)
    expect(sumOf(f, 'libp2p_swarm_connections_opened_total', { ...conn, early_muxer: 'true' })).toBe(2)
    expect(sumOf(f, 'libp2p_swarm_key_types_total', { dir: 'outbound', key_type: 'Ed25519' })).toBe(2)
    expect(sumOf(f, 'libp2p_swarm_dial_errors_total', { transport: 'tcp', error: 'connection refused', ip_version: 'ip4' })).toBe(1)
    expect(sumOf(f, 'libp2p_swarm_handshake_latency_seconds', { transport: 'tcp' }, 'libp2p_swarm_handshake_latency_seconds_count')).toBe(2)
    expect(sumOf(f, 'libp2p_swarm_connection_duration_seconds', conn, 'libp2p_swarm_connection_duration_seconds_count')).toBe(1)
    expect(sumOf(f, 'libp2p_ping_rtt_seconds', {}, 'libp2p_ping_rtt_seconds_count')).toBe(1)
    expect(sumOf(f, 'libp2p_identify_identify_total', { dir: 'outbound' })).toBe(2)
    expect(sumOf(f, 'libp2p_identify_conn_push_support_total', { support: 'supported' })).toBe(2)
    expect(sumOf(f, 'libp2p_identify_protocols_received', {}, 'libp2p_identify_protocols_received_count')).toBe(2)
    expect(sumOf(f, 'libp2p_identify_protocols_count')).toBe(a.swarm.protocols().length)
    expect(sumOf(f, 'libp2p_identify_addrs_count')).toBe(1)
    // the resource manager's view, read at scrape time: one outbound connection left
    expect(sumOf(f, 'libp2p_rcmgr_connections', { dir: 'outbound', scope: 'system' })).toBe(1)
    expect(sumOf(f, 'libp2p_rcmgr_limit', { scope: 'system', resource: 'conns' })).toBeGreaterThan(0)

    // no peer id, no address in any label value
    for (const v of labelValues(f)) {
      expect(v).not.toMatch(/^(12D3Koo|Qm|bafz|k51)[1-9A-Za-z]{20,}/)
      expect(v).not.toMatch(/^\/(ip4|ip6|dns|dns4|dns6|dnsaddr|tcp|udp|p2p|memory|unix)\//)
      expect(v).not.toMatch(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|::/)
    }
    for (const n of [a, b, c, denied]) expect(text).not.toContain(n.peerId.toString())
    expect(text).not.toContain('127.0.0.1')

    // Kubo's path answers the same; other paths and methods do not
    const kubo = await fetch(server.url.replace('/metrics', '/debug/metrics/prometheus'))
    expect(kubo.status).toBe(200)
    parsePrometheus(await kubo.text())
    expect((await fetch(server.url.replace('/metrics', '/nope'))).status).toBe(404)
    expect((await fetch(server.url, { method: 'POST', body: 'x'.repeat(100_000) })).status).toBe(405)

    if (HAS_PROMTOOL) {
      // promtool exits 1 on a format error, 3 on lint findings only. Its one lint finding is about
      // two of go-libp2p's own names, kept because go's identify dashboard reads them.
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text })
      const findings = (r.stdout.toString() + r.stderr.toString()).split('\n').filter((l) => l !== '')
      const goNames = findings.filter((l) => GO_NAME_LINT.some((g) => l === g))
      expect({ status: r.status, findings }).toEqual({ status: findings.length === 0 ? 0 : 3, findings: goNames })
    }
  })

  test.skipIf(!HAS_PROMTOOL)('promtool (installed here) tells a format error from lint findings', () => {
    expect(spawnSync('promtool', ['check', 'metrics'], { input: '# HELP x_total x\n# TYPE x_total counter\nx_total 1\n' }).status).toBe(0)
    expect(spawnSync('promtool', ['check', 'metrics'], { input: '# HELP x_total x\n# TYPE x_total counter\nx_total{a="1} 1\n' }).status).toBe(1)
  })

  test('metrics: true is weft/node only; a node without metrics has none', async () => {
    const { WeftNode } = await import('../src/node.js')
    const { nodeCrypto } = await import('../src/node.js')
    expect(() => new WeftNode({ metrics: true, start: false }, { crypto: nodeCrypto, transports: [], wallClock: () => 0 })).toThrow(/prometheusMetrics/)
    const n = await createNode({ listen: [], services: {} })
    nodes.push(n)
    expect(n.metrics).toBeUndefined()
  })

  test('ip:port parsing', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseHostPort('[::1]:9090')).toEqual({ host: '::1', port: 9090 })
    for (const bad of ['127.0.0.1', ':80', '1.2.3.4:70000', '::1:80', 'host:port']) expect(() => parseHostPort(bad)).toThrow(RangeError)
  })
})

describe('weft node --metrics <ip:port>', () => {
  test('prints the bound address and serves the exposition there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-metrics-'))
    const child = spawn('node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'id.key'), '--json', '--metrics', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'metrics' line: ${out}`)), 15_000)
        child.stdout.on('data', (d) => {
          out += d
          const line = out.split('\n').find((l) => l.includes('"event":"metrics"'))
          if (line !== undefined) { clearTimeout(timer); resolve((JSON.parse(line) as { url: string }).url) }
        })
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)) })
      })
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      const res = await fetch(url)
      expect(res.status).toBe(200)
      const f = parsePrometheus(await res.text())
      expect(f.has('libp2p_swarm_connections_opened_total')).toBe(true)
      expect(f.has('libp2p_rcmgr_limit')).toBe(true)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
  })

  test('a value that is not ip:port is one line and exit 1', async () => {
    const r = spawnSync('node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics', 'localhost'], { encoding: 'utf8', timeout: 15_000 })
    expect(r.status).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/--metrics/)
  })
})
