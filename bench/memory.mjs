// memory: N idle connections (1,000; --quick 100) into one node, TCP, from the cheap holders of
//   bench/drivers/weft-hold-clients.mjs (a bare connection core per connection, one identity each).
//   For weft the server is bench/drivers/weft-hold-server.mjs with createNode's default services,
//   measured after three full GCs: heap (V8 heapUsed) and RSS per connection = (loaded - baseline) /
//   connections held. For go and rust the server is their perf server and only RSS
//   (/proc/<pid>/status VmRSS) is measured.
// memory --why: per-connection heap snapshot diff and the bare node:net floor (bench/memory-why.mjs).
// scale: see bench/scale.mjs.
import path from 'node:path'
import { BENCH, PERF_SERVER_ID, perfCli, row, missing, sleep, spawnWithUlimit, startPerfServer } from './lib.mjs'
import { jsonChild, openHolders, rssOf } from './scale.mjs'
import { runWhy } from './memory-why.mjs'

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
  for (const impl of ['weft', 'go', 'rust']) {
    if (impl !== 'weft' && perfCli(impl) === null) { rows.push(missing('memory', impl, 'tcp', 'RSS per idle connection', 'KiB', 'peer binary unavailable')); continue }
    const server = impl === 'weft' ? await weftServer() : await refServer(impl)
    let clients
    try {
      await sleep(500)
      const before = await server.measure()
      clients = await openHolders(server.addr, count, { concurrency: 32 })
      if (clients.failed) log(`  ${clients.failed} dials failed: ${JSON.stringify(clients.errors)}`)
      await sleep(3000) // identify and the first keep-alive settle
      const after = await server.measure()
      const held = (await clients.count()).open
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
