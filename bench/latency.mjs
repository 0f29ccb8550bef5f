// latency: connection establishment plus a 1-byte round trip, TCP, two processes.
// Method A (all three implementations, identical): the perf CLI client with --upload-bytes 1
//   --download-bytes 1 against a perf server of the same implementation; the figure is the client's
//   own final timeSeconds, an in-process timer started just before the dial (after process start and
//   host construction: go starts it after libp2p.New, rust before building its swarm, weft after
//   createNode), so process start-up is not included. Iterations alternate weft, go, rust.
// Method B (weft only): bench/drivers/weft-latency.mjs keeps one client process and, per iteration,
//   times node.dial() to a ready connection (TCP + multistream + Noise XX + yamux) and then the same
//   1-byte perf exchange on a new stream; then hangs up.
import path from 'node:path'
import { BENCH, PERF_SERVER_ID, perfCli, quantile, row, runNodeJson, runPerfClient, startPerfServer } from './lib.mjs'

export const title = 'latency: connection establishment + 1-byte round trip, TCP (ms)'

export async function run({ quick, log }) {
  const iterations = quick ? 10 : 100
  const impls = ['weft', 'go', 'rust'].filter((i) => perfCli(i) !== null)
  const srv = {}
  for (const impl of impls) srv[impl] = await startPerfServer(impl)
  const ms = Object.fromEntries(impls.map((i) => [i, []]))
  let api
  try {
    for (let i = 0; i < iterations; i++) {
      for (const impl of impls) {
        const r = await runPerfClient(impl, srv[impl].port, 'tcp', 1, 1, 30_000)
        ms[impl].push(r.timeSeconds * 1000)
      }
    }
    api = await runNodeJson(path.join(BENCH, 'drivers/weft-latency.mjs'), [`/ip4/127.0.0.1/tcp/${srv.weft.port}/p2p/${PERF_SERVER_ID}`, String(iterations)])
  } finally {
    for (const s of Object.values(srv)) s.stop()
  }
  const withP95 = (r, v) => ({ ...r, p95: Math.round(quantile(v, 0.95) * 100) / 100, note: `p95 ${quantile(v, 0.95).toFixed(2)}` })
  const rows = []
  for (const impl of impls) rows.push(withP95(row('latency', impl, 'tcp', 'perf CLI: dial + 1 B up/down (A)', 'ms', ms[impl]), ms[impl]))
  rows.push(withP95(row('latency', 'weft (api)', 'tcp', 'dial to ready (B)', 'ms', api.dialMs), api.dialMs))
  rows.push(withP95(row('latency', 'weft (api)', 'tcp', 'dial + 1 B up/down (B)', 'ms', api.totalMs), api.totalMs))
  log(`  ${iterations} iterations per implementation`)
  return rows
}
