/**
 * The weft side of the metrics-parity case (../limits.mjs, README.md "Limits", spec/metrics.md
 * "Interop"): weft's Prometheus families against go-libp2p v0.48's own, for the same scenario.
 *
 * Three weft listeners. Two dialers run the same steps at the same time: a go-libp2p host as
 * libp2p.New builds it by default (metrics, default resource manager; TCP/Noise/yamux only;
 * ../go/metrics.go) and a weft node with prometheusMetrics(). Each opens 3 outbound connections (one
 * to each listener), waits until all 3 peers are identified, closes the first, and dials a closed
 * TCP port once. Then both expositions are compared: for every libp2p_* family both emit, the TYPE,
 * the label names and the histogram bucket bounds are identical; the deterministic values agree
 * (connections opened 3 / closed 1 with the same labels, key types, the refused dial's error class,
 * handshake and duration counts, identify counts, rcmgr connection gauges and per-peer histograms).
 * Families only one side emits are listed in the result, not failed.
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { bucketBounds, labelKeys, parseExposition, valueOf } from '../lib/prometheus.mjs'
import { until as pollUntil } from '../lib/wait.mjs'

/** Families the scenario must produce on both sides (each with at least one series). */
const REQUIRED = [
  'libp2p_swarm_connections_opened_total', 'libp2p_swarm_connections_closed_total', 'libp2p_swarm_key_types_total',
  'libp2p_swarm_dial_errors_total', 'libp2p_swarm_handshake_latency_seconds', 'libp2p_swarm_connection_duration_seconds',
  'libp2p_identify_identify_total', 'libp2p_identify_conn_push_support_total', 'libp2p_identify_protocols_received',
  'libp2p_identify_addrs_received', 'libp2p_rcmgr_connections', 'libp2p_rcmgr_peer_connections',
  'libp2p_rcmgr_previous_peer_connections', 'libp2p_rcmgr_streams', 'libp2p_rcmgr_memory', 'libp2p_rcmgr_limit',
]

/** A TCP port on 127.0.0.1 that nobody listens on (bound, then closed). */
async function closedPort() {
  const srv = net.createServer()
  await new Promise((res) => srv.listen(0, '127.0.0.1', () => res(undefined)))
  const port = /** @type {net.AddressInfo} */ (srv.address()).port
  await new Promise((res) => srv.close(() => res(undefined)))
  return port
}

/** @template T @param {Promise<T>} p @param {number} ms @param {string} what @returns {Promise<T>} */
function withTimeout(p, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */ let t
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms) })])
    .finally(() => clearTimeout(t))
}

/** Labels as `{k="v",...}`, keys sorted (go writes them sorted; weft in declaration order). */
const show = (/** @type {Record<string, string> | undefined} */ l) => (l === undefined ? '(none)' : `{${Object.keys(l).sort().map((k) => `${k}="${l[k]}"`).join(',')}}`)
const sameLabels = (/** @type {Record<string, string>} */ a, /** @type {Record<string, string>} */ b) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k])

/**
 * What must hold in one exposition for the scenario (each side on its own), and where go and weft
 * must agree. Returns the problems (empty: parity) and what was seen.
 * @param {Map<string, import('../lib/prometheus.mjs').Family>} go @param {Map<string, import('../lib/prometheus.mjs').Family>} weft
 */
export function compare(go, weft) {
  const problems = []
  const lib = (/** @type {Map<string, any>} */ m) => [...m.keys()].filter((n) => n.startsWith('libp2p_'))
  const common = lib(go).filter((n) => weft.has(n)).sort()
  /** @type {string[]} */ const seriesOnlyGo = []
  /** @type {string[]} */ const seriesOnlyWeft = []
  for (const name of REQUIRED) {
    for (const [side, m] of [['go', go], ['weft', weft]]) {
      const f = /** @type {Map<string, any>} */ (m).get(name)
      if (f === undefined || f.samples.length === 0) problems.push(`${side} has no series of ${name}`)
    }
  }
  for (const name of common) {
    const g = /** @type {import('../lib/prometheus.mjs').Family} */ (go.get(name))
    const w = /** @type {import('../lib/prometheus.mjs').Family} */ (weft.get(name))
    if (g.type !== w.type) problems.push(`${name}: TYPE ${w.type} in weft, ${g.type} in go`)
    // A series go exports and weft does not would leave go's dashboard queries empty.
    if (g.samples.length > 0 && w.samples.length === 0 && !REQUIRED.includes(name)) problems.push(`${name}: go exports series, weft none`)
    if (g.samples.length === 0 || w.samples.length === 0) continue
    const gk = labelKeys(g).join(',')
    const wk = labelKeys(w).join(',')
    if (gk !== wk) problems.push(`${name}: label names {${wk}} in weft, {${gk}} in go`)
    // Label value combinations only one side has (listed, not failed: values depend on what each stack does).
    const combos = (/** @type {import('../lib/prometheus.mjs').Family} */ f) => new Set(f.samples.filter((x) => x.labels.le === undefined && !x.name.endsWith('_sum')).map((x) => show(x.labels)))
    const [gc, wc] = [combos(g), combos(w)]
    for (const c of gc) if (!wc.has(c) && w.samples.length > 0) seriesOnlyGo.push(`${name}${c}`)
    for (const c of wc) if (!gc.has(c) && g.samples.length > 0) seriesOnlyWeft.push(`${name}${c}`)
    if (g.type === 'histogram') {
      const gb = bucketBounds(g).join(' ')
      const wb = bucketBounds(w).join(' ')
      if (gb !== wb) problems.push(`${name}: buckets le=${wb} in weft, le=${gb} in go`)
    }
  }

  // Deterministic values, the same on both sides.
  /** @param {Map<string, any>} m @param {string} name @param {Record<string, string>} match */
  const series = (m, name, match) => ((m.get(name) ?? m.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples ?? []).filter((/** @type {any} */ s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
  const seen = {}
  /** One series matching `match` on each side, the same labels on both, value `want`. */
  const one = (/** @type {string} */ name, /** @type {Record<string, string>} */ match, /** @type {number} */ want) => {
    const [gs, ws] = [series(go, name, match), series(weft, name, match)]
    seen[name] = { go: gs.map((s) => `${show(s.labels)} ${s.value}`), weft: ws.map((s) => `${show(s.labels)} ${s.value}`) }
    if (gs.length !== 1 || ws.length !== 1) { problems.push(`${name}${show(match)}: ${gs.length} series in go, ${ws.length} in weft, want 1 each`); return undefined }
    if (!sameLabels(gs[0].labels, ws[0].labels)) problems.push(`${name}: weft ${show(ws[0].labels)}, go ${show(gs[0].labels)}`)
    if (gs[0].value !== want || ws[0].value !== want) problems.push(`${name}${show(ws[0].labels)}: go ${gs[0].value}, weft ${ws[0].value}, want ${want}`)
    return ws[0].labels
  }
  const conn = one('libp2p_swarm_connections_opened_total', { dir: 'outbound' }, 3)
  if (conn !== undefined) {
    const want = { dir: 'outbound', transport: 'tcp', security: '/noise', muxer: '/yamux/1.0.0', ip_version: 'ip4' }
    if (!Object.entries(want).every(([k, v]) => conn[k] === v)) problems.push(`opened_total labels ${show(conn)}, want ${show(want)} and early_muxer`)
    one('libp2p_swarm_connections_closed_total', conn, 1)
    const { dir: _, ...handshake } = conn
    one('libp2p_swarm_handshake_latency_seconds_count', handshake, 3)
    one('libp2p_swarm_connection_duration_seconds_count', conn, 1)
  }
  one('libp2p_swarm_key_types_total', { dir: 'outbound' }, 3)
  one('libp2p_swarm_dial_errors_total', {}, 1)
  one('libp2p_identify_identify_total', { dir: 'outbound' }, 3)
  // each listener identified the dialer: 3 answers sent
  one('libp2p_identify_identify_total', { dir: 'inbound' }, 3)
  one('libp2p_identify_conn_push_support_total', {}, 3)
  for (const [side, m] of [['go', go], ['weft', weft]]) {
    const get = (/** @type {string} */ s, /** @type {Record<string, string>} */ l = {}) => valueOf(/** @type {any} */ (m), s, l)
    // One observation per identify message received: the 3 responses plus any push.
    const received = (get('libp2p_identify_identify_total', { dir: 'outbound' }) ?? 0) + (get('libp2p_identify_identify_push_total', { dir: 'inbound' }) ?? 0)
    for (const h of ['libp2p_identify_protocols_received_count', 'libp2p_identify_addrs_received_count']) {
      if (get(h) !== received) problems.push(`${side} ${h} ${get(h)}, want ${received} (identify messages received)`)
    }
    // The resource manager after the scenario: 2 outbound connections in the system scope, none
    // inbound, none left in the transient scope; 2 peers with one outbound connection each.
    for (const [match, want] of /** @type {[Record<string, string>, number][]} */ ([[{ dir: 'outbound', scope: 'system' }, 2], [{ dir: 'inbound', scope: 'system' }, 0], [{ dir: 'outbound', scope: 'transient' }, 0]])) {
      const v = get('libp2p_rcmgr_connections', match)
      if (v !== want) problems.push(`${side} libp2p_rcmgr_connections${show(match)} ${v}, want ${want}`)
    }
    const perPeer = (get('libp2p_rcmgr_peer_connections_count', { dir: 'outbound' }) ?? 0) - (get('libp2p_rcmgr_previous_peer_connections_count', { dir: 'outbound' }) ?? 0)
    if (perPeer !== 2) problems.push(`${side} libp2p_rcmgr_peer_connections - previous_peer_connections {dir="outbound"} ${perPeer}, want 2 peers`)
  }
  return {
    problems, common,
    goOnly: lib(go).filter((n) => !weft.has(n)).sort(),
    // client_golang writes a labelled family only once it has a series; weft writes every family.
    weftOnly: lib(weft).filter((n) => !go.has(n)).sort().map((n) => (weft.get(n)?.samples.length === 0 ? `${n}(no series)` : n)),
    weftOwn: [...weft.keys()].filter((n) => n.startsWith('weft_')).length,
    seriesOnlyGo, seriesOnlyWeft,
    seen,
  }
}

/**
 * metrics-parity: 3 weft listeners; a go host and a weft node each open 3 connections, close 1,
 * fail 1 dial; their expositions are compared (compare above).
 */
export async function metricsParity(/** @type {any} */ ctx) {
  const { weft, redis, log } = ctx
  const listeners = await Promise.all([0, 1, 2].map(() => weft.createNode({ services: {}, listen: ['/ip4/127.0.0.1/tcp/0'] })))
  const dialer = await weft.createNode({ services: {}, metrics: weft.prometheusMetrics() })
  try {
    ctx.spawn('go', { metrics_scenario: 'parity' })
    const addrs = listeners.map((n) => { const a = `${n.getMultiaddrs()[0]}`; return a.includes('/p2p/') ? a : `${a}/p2p/${n.peerId}` })
    // A peer id nobody has: go dials every address it knows for a peer, so it must be a new one.
    const ghost = await weft.createNode({ services: {} })
    const refused = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${ghost.peerId}`
    await ghost.stop()
    await redis.command('SET', 'listeners', JSON.stringify(addrs))
    await redis.command('SET', 'refused', refused)

    // weft's run of the scenario, while go runs its own.
    const ids = listeners.map((n) => n.peerId.toString())
    const identified = new Set()
    dialer.addEventListener('peer:identify', (/** @type {any} */ ev) => identified.add(ev.detail.peer.toString()))
    const t0 = performance.now()
    for (const a of addrs) await withTimeout(dialer.dial(a), 10_000, `weft dial ${a}`)
    await pollUntil(() => ids.every((id) => identified.has(id)), 10_000, 'weft identifying the 3 listeners', 20)
    await dialer.hangUp(ids[0])
    const dialError = await withTimeout(dialer.dial(refused), 10_000, 'weft dial of the closed port').then(() => null, (e) => e)
    if (dialError === null) throw new Error(`weft's dial of ${refused} succeeded`)
    log(`weft: 3 connections, identified, 1 closed, refused dial: ${dialError.name} ${dialError.code}: ${dialError.message} (${(performance.now() - t0).toFixed(0)} ms)`)
    const goDone = JSON.parse(await pollUntil(async () => redis.command('GET', 'goDone'), 20_000, 'go running the scenario', 50))
    log(`go: closed ${goDone.closed.slice(-6)}, refused dial: ${goDone.dialError}`)
    const url = await redis.command('GET', 'goMetrics')

    // Counters and gauges settle shortly after the events (closes finish asynchronously in go):
    // compare until they agree, at most 8 s.
    /** @type {ReturnType<typeof compare> | undefined} */ let r
    const end = performance.now() + 8000
    for (;;) {
      const goText = await (await fetch(url)).text()
      r = compare(parseExposition(goText), parseExposition(dialer.metrics.exposition()))
      if (r.problems.length === 0 || performance.now() > end) break
      await new Promise((res) => setTimeout(res, 200))
    }
    for (const [k, v] of Object.entries(r.seen)) log(`${k}: go ${v.go.join(' | ')}; weft ${v.weft.join(' | ')}`)
    console.log(`  metrics-parity: ${r.common.length} libp2p_* families in both (name, TYPE, label names, buckets compared)`)
    console.log(`  only go emits (${r.goOnly.length}): ${r.goOnly.join(' ') || '-'}`)
    console.log(`  only weft emits (${r.weftOnly.length} libp2p_*, plus ${r.weftOwn} weft_*): ${r.weftOnly.join(' ') || '-'}`)
    console.log(`  series of common families only go has: ${r.seriesOnlyGo.join(' ') || '-'}`)
    console.log(`  ... only weft has: ${r.seriesOnlyWeft.join(' ') || '-'}`)
    return {
      ok: r.problems.length === 0, error: r.problems.join('; ') || null,
      common: r.common, goOnly: r.goOnly, weftOnly: r.weftOnly, seriesOnlyGo: r.seriesOnlyGo, seriesOnlyWeft: r.seriesOnlyWeft, values: r.seen,
      weftDialError: `${dialError.name} ${dialError.code}`, goDialError: goDone.dialError,
    }
  } finally {
    await Promise.all([dialer, ...listeners].map((n) => withTimeout(n.stop(), 3000, 'stop').catch(() => {})))
  }
}
