// memory: N idle connections (1,000; --quick 200) into one node, TCP, client nodes in other
//   processes (one identity per connection: a node shares one connection per peer). For weft the
//   server is bench/drivers/weft-hold-server.mjs (connection limit raised), measured after three full
//   GCs: heap (V8 heapUsed) and RSS per connection = (loaded - baseline) / connections held. For go
//   and rust the server is their perf server and only RSS (/proc/<pid>/status VmRSS) is measured.
// scale: as many connections into one weft node as fit, up to 10,000 (--quick 500), file-descriptor
//   limit raised with `ulimit -n` in the spawned shells; connections held, RSS growth, and the ping
//   RTT (median of 20) from one more client through the loaded node, next to the unloaded RTT.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { BENCH, PERF_SERVER_ID, perfCli, row, missing, runNodeJson, sleep, spawnWithUlimit, startPerfServer } from './lib.mjs'

export const title = 'memory: idle connections into one node, TCP (KiB per connection)'
export const scaleTitle = 'scale: concurrent connections into one weft node, TCP'

/** A child speaking JSON lines on stdout, commands on stdin. */
function jsonChild(child) {
  const lines = []
  const waiters = []
  let err = ''
  child.stderr?.on('data', (d) => { err += d })
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (!l.startsWith('{')) return
    const j = JSON.parse(l)
    const w = waiters.shift()
    if (w) w(j); else lines.push(j)
  })
  return {
    child,
    next: (timeoutMs = 300_000) => lines.length ? Promise.resolve(lines.shift()) : new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`child timeout: ${err.slice(-500)}`)), timeoutMs)
      waiters.push((j) => { clearTimeout(t); res(j) })
    }),
    send: (s) => child.stdin.write(`${s}\n`),
    stderr: () => err,
  }
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024

async function weftServer() {
  const s = jsonChild(spawnWithUlimit(process.execPath, ['--expose-gc', path.join(BENCH, 'drivers/weft-hold-server.mjs'), 'tcp'], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const { addr } = await s.next(30_000)
  return { addr, measure: async () => { s.send('measure'); return s.next() }, stop: () => s.child.kill('SIGKILL') }
}

async function refServer(impl) {
  const s = await startPerfServer(impl)
  // the perf server is spawned directly; raise nothing: 1,000 connections fit the default limit here
  return {
    addr: `/ip4/127.0.0.1/tcp/${s.port}/p2p/${PERF_SERVER_ID}`,
    measure: async () => ({ rss: rssOf(s.pid) }),
    stop: s.stop,
  }
}

/** Open `count` idle connections from client processes of up to 2,500 nodes each. */
async function openClients(addr, count, log, budgetMs) {
  const per = 2500
  const clients = []
  for (let left = count; left > 0; left -= per) {
    const n = Math.min(per, left)
    clients.push(jsonChild(spawnWithUlimit(process.execPath, ['--max-old-space-size=4096', path.join(BENCH, 'drivers/weft-hold-clients.mjs'), addr, String(n), '32', ...(budgetMs ? [String(budgetMs)] : [])], { stdio: ['pipe', 'pipe', 'pipe'] })))
  }
  const t0 = performance.now()
  let ready
  try {
    ready = await Promise.all(clients.map(async (c) => { for (;;) { const j = await c.next(900_000); if (j.ready !== undefined) return j } }))
  } catch (e) {
    for (const c of clients) c.child.kill('SIGKILL')
    throw e
  }
  const failed = ready.reduce((s, r) => s + r.failed, 0)
  if (failed) log(`  ${failed} dials failed, first error: ${ready.find((r) => r.firstError)?.firstError}`)
  log(`  ${ready.reduce((s, r) => s + r.ready, 0)} dials succeeded of ${ready.reduce((s, r) => s + (r.attempted ?? 0), 0)} started in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  return {
    seconds: (performance.now() - t0) / 1000,
    open: async () => { let n = 0; for (const c of clients) { c.send('count'); n += (await c.next()).open } return n },
    stop: () => { for (const c of clients) c.child.kill('SIGKILL') },
  }
}

export async function run({ quick, log }) {
  const count = quick ? 100 : 1000
  const rows = []
  for (const impl of ['weft', 'go', 'rust']) {
    if (impl !== 'weft' && perfCli(impl) === null) { rows.push(missing('memory', impl, 'tcp', 'RSS per idle connection', 'KiB', 'peer binary unavailable')); continue }
    const server = impl === 'weft' ? await weftServer() : await refServer(impl)
    let clients
    try {
      await sleep(500)
      const before = await server.measure()
      clients = await openClients(server.addr, count, log)
      await sleep(3000) // identify and the first keep-alive settle
      const after = await server.measure()
      const held = await clients.open()
      log(`  ${impl}: ${held}/${count} connections held (client side), RSS ${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MiB`)
      const note = held < count ? `${held}/${count} held` : undefined
      const put = (r) => rows.push(note ? { ...r, note } : r)
      if (held === 0) { rows.push(missing('memory', impl, 'tcp', 'RSS per idle connection', 'KiB', `server kept none of ${count} idle connections`)); continue }
      if (impl === 'weft') put(row('memory', impl, 'tcp', `heap per idle connection (${count})`, 'KiB', [(after.heapUsed - before.heapUsed) / held / 1024]))
      put(row('memory', impl, 'tcp', `RSS per idle connection (${count})`, 'KiB', [(after.rss - before.rss) / held / 1024]))
      if (impl === 'weft') put(row('memory', impl, 'tcp', `external + ArrayBuffers per idle connection (${count})`, 'KiB', [(after.external - before.external) / held / 1024]))
    } finally {
      clients?.stop()
      server.stop()
    }
  }
  return rows
}

export async function runScale({ quick, log }) {
  const count = quick ? 300 : 10_000
  const budgetMs = quick ? 15_000 : 180_000 // dialing stops after this; held = what got in
  const server = await weftServer()
  let clients
  const rows = []
  try {
    await sleep(500)
    const before = await server.measure()
    const pingOf = async () => (await runNodeJson(path.join(BENCH, 'drivers/weft-latency.mjs'), [server.addr, '20', 'ping'])).pingMs
    const idlePing = await pingOf()
    clients = await openClients(server.addr, count, log, budgetMs)
    await sleep(3000)
    const after = await server.measure()
    const loadedPing = await pingOf()
    const held = await clients.open()
    log(`  opened ${held} connections in ${clients.seconds.toFixed(1)} s; server reports ${after.connections}`)
    rows.push(row('scale', 'weft', 'tcp', `connections held (goal ${count}, dialing for at most ${budgetMs / 1000} s)`, 'count', [held]))
    rows.push(row('scale', 'weft', 'tcp', 'connections opened per second', 'conn/s', [held / clients.seconds]))
    rows.push(row('scale', 'weft', 'tcp', 'server RSS growth', 'MB', [(after.rss - before.rss) / 1e6]))
    rows.push(row('scale', 'weft', 'tcp', 'server heap growth', 'MB', [(after.heapUsed - before.heapUsed) / 1e6]))
    rows.push(row('scale', 'weft', 'tcp', 'server external + ArrayBuffer growth', 'MB', [(after.external - before.external) / 1e6]))
    rows.push(row('scale', 'weft', 'tcp', 'server RSS growth per connection', 'KiB', [(after.rss - before.rss) / held / 1024]))
    rows.push({ ...row('scale', 'weft', 'tcp', 'ping RTT, loaded node', 'ms', loadedPing), note: `median of ${loadedPing.length}` })
    rows.push({ ...row('scale', 'weft', 'tcp', 'ping RTT, idle node', 'ms', idlePing), note: `median of ${idlePing.length}` })
  } finally {
    clients?.stop()
    server.stop()
  }
  return rows
}
