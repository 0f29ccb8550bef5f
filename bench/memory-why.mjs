// memory --why: what one idle connection holds, measured (bench/README.md "Where an idle
// connection's memory goes").
//   npm run bench -- memory --why [--quick] [--conns N] [--services none|default] [--top 30] [--settle 3] [--departed [--linger 0.2]]
// 1. weft: bench/drivers/weft-hold-server.mjs (createNode's default services unless --services none)
//    under the cheap holders of bench/scale.mjs: N connections (500; --quick 200), settle (--settle s,
//    default 3), measure; N more, settle, measure. Per connection = (2N - N) / N, so start-up and
//    first-use costs cancel. Then a heap snapshot at 2N, the second N closed, and one at N (state kept
//    per peer after its connection closed cancels out of the diff). They are diffed by class (V8 type +
//    constructor or function name: self bytes and count per connection) and by class <- first
//    retainer (parent class . edge name), top rows printed.
// 2. the floor: bench/drivers/raw-hold.mjs, a bare node:net server holding the same number of idle
//    sockets (each has read and written 1 KiB once), same N -> 2N method: what Node costs per socket.
// RSS = /proc VmRSS; heap = V8 heapUsed; external = process.memoryUsage().external (ArrayBuffer
// backing stores included); heap committed = V8 heapTotal; native = RSS - heap committed - external (libuv,
// Node's wraps, OpenSSL, malloc slack, V8 code space and metadata outside heapTotal).
import { readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BENCH, row, sleep, spawnWithUlimit } from './lib.mjs'
import { jsonChild, openHolders } from './scale.mjs'

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

/** Self bytes and counts by class, and by class <- first retainer, of a .heapsnapshot file. */
export function summarize(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'))
  const m = snap.snapshot.meta
  const nf = m.node_fields.length
  const ef = m.edge_fields.length
  const types = m.node_types[0]
  const edgeTypes = m.edge_types[0]
  const [iType, iName, iSelf, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f))
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f))
  const { nodes, edges, strings } = snap
  const n = nodes.length / nf
  const klass = new Array(n)
  for (let i = 0; i < n; i++) {
    const t = types[nodes[i * nf + iType]]
    const name = strings[nodes[i * nf + iName]]
    klass[i] = t === 'object' || t === 'native' || t === 'hidden' ? `${name}`
      : t === 'closure' ? `closure ${name || '(anonymous)'}`
      : t === 'array' ? `array ${name}` : t === 'code' ? 'code' : t.includes('string') ? 'string' : `${t} ${name}`
  }
  // first strong retainer of each node
  const parent = new Int32Array(n).fill(-1)
  const via = new Array(n)
  let e = 0
  for (let i = 0; i < n; i++) {
    const count = nodes[i * nf + iEdges]
    for (let k = 0; k < count; k++, e++) {
      const et = edgeTypes[edges[e * ef + eType]]
      if (et === 'weak' || et === 'shortcut') continue
      const to = edges[e * ef + eTo] / nf
      if (parent[to] !== -1) continue
      parent[to] = i
      via[to] = et === 'element' || et === 'hidden' ? `[${et}]` : strings[edges[e * ef + eName]]
    }
  }
  const byClass = new Map()
  const byRetainer = new Map()
  const add = (map, k, size) => { const v = map.get(k); if (v) { v.bytes += size; v.count++ } else map.set(k, { bytes: size, count: 1 }) }
  for (let i = 0; i < n; i++) {
    const size = nodes[i * nf + iSelf]
    add(byClass, klass[i], size)
    const p = parent[i]
    add(byRetainer, p < 0 ? `${klass[i]} <- (root)` : `${klass[i]} <- ${klass[p]}.${via[i]}`, size)
  }
  return { byClass, byRetainer }
}

/** Rows of (b - a) / per, largest first. */
function diff(a, b, per, top) {
  const out = []
  for (const [k, v] of b) {
    const w = a.get(k) ?? { bytes: 0, count: 0 }
    out.push({ k, bytes: (v.bytes - w.bytes) / per, count: (v.count - w.count) / per })
  }
  for (const [k, w] of a) if (!b.has(k)) out.push({ k, bytes: -w.bytes / per, count: -w.count / per })
  out.sort((x, y) => y.bytes - x.bytes)
  const total = out.reduce((s, r) => s + r.bytes, 0)
  return { total, rows: out.slice(0, top) }
}

const kib = (x) => (x / 1024).toFixed(2)
function printDiff(log, title, d) {
  log(`  ${title}: ${kib(d.total)} KiB per connection in all`)
  for (const r of d.rows) log(`    ${String(Math.round(r.bytes)).padStart(6)} B  ${r.count.toFixed(2).padStart(6)} x  ${r.k}`)
}

async function weftServer(services) {
  const s = jsonChild(spawnWithUlimit(process.execPath, ['--expose-gc', path.join(BENCH, 'drivers/weft-hold-server.mjs'), 'tcp', '--services', services], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const { addr } = await s.next(30_000)
  const ask = async (c) => { s.send(c); return s.next() }
  return { addr, ask, stop: () => s.child.kill('SIGKILL') }
}

export async function rawServer() {
  const s = jsonChild(spawnWithUlimit(process.execPath, ['--expose-gc', path.join(BENCH, 'drivers/raw-hold.mjs'), 'server'], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const { addr } = await s.next(30_000)
  const ask = async (c) => { s.send(c); return s.next() }
  return { addr, ask, measure: () => ask('measure'), stop: () => s.child.kill('SIGKILL') }
}

export async function rawClients(addr, count) {
  const port = addr.split('/')[4]
  const c = jsonChild(spawnWithUlimit(process.execPath, [path.join(BENCH, 'drivers/raw-hold.mjs'), 'clients', port, String(count)], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const { ready } = await c.next(120_000)
  return { ready, stop: () => c.child.kill('SIGKILL') }
}

const perConn = (a, b, n) => ({
  heap: (b.heapUsed - a.heapUsed) / n, 'heap committed': (b.heapTotal - a.heapTotal) / n, rss: (b.rss - a.rss) / n, external: (b.external - a.external) / n,
  native: ((b.rss - b.heapTotal - b.external) - (a.rss - a.heapTotal - a.external)) / n,
})

export async function runWhy({ quick, log }) {
  const n = Number(flag('conns', quick ? 200 : 500))
  const services = flag('services', 'default')
  const settleMs = Number(flag('settle', 3)) * 1000
  // --departed: snapshots at N before the second N came and after it left: what a peer leaves behind
  const departed = process.argv.includes('--departed')
  const rows = []
  const put = (impl, what, v) => rows.push(row('memory', impl, 'tcp', `${what} per idle connection (${n} -> ${2 * n})`, 'KiB', [Number(kib(v))]))
  const tmp = os.tmpdir()
  // weft
  const server = await weftServer(services)
  const holders = []
  const snaps = [path.join(tmp, `weft-why-${process.pid}-a.heapsnapshot`), path.join(tmp, `weft-why-${process.pid}-b.heapsnapshot`)]
  try {
    await sleep(500)
    // measure at N and 2N without snapshots (writing one inflates RSS), then snapshot at 2N, close
    // the second N (their holder process exits) and snapshot again at N
    const m = []
    for (let step = 0; step < 2; step++) {
      const h = await openHolders(server.addr, n, { holders: 1, concurrency: 32 })
      holders.push(h)
      if (h.failed) log(`  ${h.failed} dials failed: ${JSON.stringify(h.errors)}`)
      await sleep(settleMs)
      m.push(await server.ask('measure'))
      if (departed && step === 0) await server.ask(`snapshot ${snaps[0]}`)
      log(`  weft (--services ${services}): ${m[step].connections} connections held, heap ${(m[step].heapUsed / 2 ** 20).toFixed(1)} MiB, RSS ${(m[step].rss / 2 ** 20).toFixed(1)} MiB, external ${(m[step].external / 2 ** 20).toFixed(1)} MiB`)
    }
    if (!departed) await server.ask(`snapshot ${snaps[1]}`)
    holders.pop().stop()
    for (let i = 0; i < 100 && (await server.ask('stats')).connections > m[0].connections; i++) await sleep(100)
    await sleep(Number(flag('linger', 0.2)) * 1000)
    const gone = await server.ask('measure')
    log(`  after the second ${n} closed: ${gone.connections} connections held, heap ${(gone.heapUsed / 2 ** 20).toFixed(1)} MiB: ${kib((gone.heapUsed - m[0].heapUsed) / n)} KiB per closed connection stays (per-peer state kept after it left; not in the diff below)`)
    await server.ask(`snapshot ${departed ? snaps[1] : snaps[0]}`)
    const held = m[1].connections - m[0].connections
    const p = perConn(m[0], m[1], held)
    for (const k of ['heap', 'heap committed', 'rss', 'external', 'native']) put('weft', k, p[k])
    const [a, b] = snaps.map(summarize)
    printDiff(log, departed ? `heap snapshot diff by class, ${m[0].connections} connections before and after ${held} more came and went (per departed peer)` : `heap snapshot diff by class, ${m[0].connections} -> ${m[1].connections} connections`, diff(a.byClass, b.byClass, held, Number(flag('top', 30))))
    printDiff(log, 'by class <- first retainer', diff(a.byRetainer, b.byRetainer, held, Number(flag('top', 30))))
  } finally {
    for (const h of holders) h.stop()
    server.stop()
    for (const f of snaps) rmSync(f, { force: true })
  }
  // the floor: bare node:net
  const raw = await rawServer()
  const clients = []
  try {
    await sleep(500)
    const m = []
    for (let step = 0; step < 2; step++) {
      clients.push(await rawClients(raw.addr, n))
      await sleep(500)
      m.push(await raw.ask('measure'))
    }
    log(`  raw node:net: ${m[0].connections} -> ${m[1].connections} sockets, RSS ${(m[0].rss / 2 ** 20).toFixed(1)} -> ${(m[1].rss / 2 ** 20).toFixed(1)} MiB`)
    const p = perConn(m[0], m[1], m[1].connections - m[0].connections)
    for (const k of ['heap', 'heap committed', 'rss', 'external', 'native']) put('raw node:net', k, p[k])
  } finally {
    for (const c of clients) c.stop()
    raw.stop()
  }
  return rows
}
