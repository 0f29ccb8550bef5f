// memory: N idle connections (1,000; --quick 100) into one node, TCP, from the cheap holders of
//   bench/drivers/weft-hold-clients.mjs (a bare connection core per connection, one identity each),
//   then N more. For weft the server is bench/drivers/weft-hold-server.mjs with createNode's default
//   services, measured after three full GCs: heap (V8 heapUsed), RSS, external. Per connection =
//   (after 2N - after N) / N (the main figure: the first N pay the process's first-use costs, JIT
//   code and heap growth, which are not per connection) and (after N - before any) / N. For go and
//   rust the server is their perf server and only RSS (/proc/<pid>/status VmRSS) is measured; the
//   floor, `raw node:net`, is bench/drivers/raw-hold.mjs: a bare node:net server whose sockets read
//   and wrote 1 KiB once each.
// memory --why: per-connection heap snapshot diff and the bare node:net floor (bench/memory-why.mjs).
// scale: see bench/scale.mjs.
import path from 'node:path'
import { BENCH, PERF_SERVER_ID, perfCli, row, missing, sleep, spawnWithUlimit, startPerfServer } from './lib.mjs'
import { jsonChild, openHolders, rssOf } from './scale.mjs'
import { rawClients, rawServer, runWhy } from './memory-why.mjs'

export { runScale, scaleTitle } from './scale.mjs'
export const title = 'memory: idle connections into one node, TCP (KiB per connection)'

async function weftServer() {
  const s = jsonChild(spawnWithUlimit(process.execPath, ['--expose-gc', path.join(BENCH, 'drivers/weft-hold-server.mjs'), 'tcp', '--services', 'default'], { stdio: ['pipe', 'pipe', 'pipe'] }))
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

export async function run({ quick, log }) {
  if (process.argv.includes('--why')) return runWhy({ quick, log })
  const count = quick ? 100 : 1000
  const rows = []
  const put = (impl, m, v, note) => rows.push(note ? { ...row('memory', impl, 'tcp', m, 'KiB', [v]), note } : row('memory', impl, 'tcp', m, 'KiB', [v]))
  for (const impl of ['weft', 'go', 'rust', 'raw node:net']) {
    if ((impl === 'go' || impl === 'rust') && perfCli(impl) === null) { rows.push(missing('memory', impl, 'tcp', 'RSS per idle connection', 'KiB', 'peer binary unavailable')); continue }
    const server = impl === 'weft' ? await weftServer() : impl === 'raw node:net' ? await rawServer() : await refServer(impl)
    const clients = []
    try {
      await sleep(500)
      const m = [await server.measure()]
      const held = []
      // N connections (the first pay the process's first-use costs: JIT, heap growth), then N more
      for (let step = 0; step < 2; step++) {
        const c = impl === 'raw node:net' ? await rawClients(server.addr, count) : await openHolders(server.addr, count, { concurrency: 32 })
        clients.push(c)
        if (c.failed) log(`  ${c.failed} dials failed: ${JSON.stringify(c.errors)}`)
        await sleep(impl === 'raw node:net' ? 500 : 3000) // identify and the first keep-alive settle
        m.push(await server.measure())
        held.push(impl === 'raw node:net' ? c.ready : (await c.count()).open)
      }
      log(`  ${impl}: ${held[0]} + ${held[1]}/${count} + ${count} connections held (client side), RSS ${m.map((x) => (x.rss / 2 ** 20).toFixed(1)).join(' -> ')} MiB`)
      if (held[0] === 0 || held[1] === 0) { rows.push(missing('memory', impl, 'tcp', 'RSS per idle connection', 'KiB', 'server kept no idle connection')); continue }
      const note = held[0] + held[1] < 2 * count ? `${held[0]} + ${held[1]} held` : undefined
      const per = (k, from, to, n) => (m[to][k] - m[from][k]) / n / 1024
      const span = `${count} -> ${2 * count}`
      put(impl, `RSS per idle connection (${span})`, per('rss', 1, 2, held[1]), note)
      if (m[0].heapUsed !== undefined) {
        put(impl, `heap per idle connection (${span})`, per('heapUsed', 1, 2, held[1]), note)
        put(impl, `external + ArrayBuffers per idle connection (${span})`, per('external', 1, 2, held[1]), note)
      }
      put(impl, `RSS per idle connection (0 -> ${count}, first-use costs included)`, per('rss', 0, 1, held[0]), note)
      if (m[0].heapUsed !== undefined) put(impl, `heap per idle connection (0 -> ${count})`, per('heapUsed', 0, 1, held[0]), note)
    } finally {
      for (const c of clients) c.stop()
      server.stop()
    }
  }
  return rows
}
