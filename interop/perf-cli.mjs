#!/usr/bin/env node
/**
 * The perf CLI contract (libp2p test-plans perf, plus `--streams N`) across weft, go-libp2p and
 * rust-libp2p: the benchmark suite (bench/throughput.mjs) runs these three CLIs against each other,
 * so their flags and final lines must agree before any figure means anything.
 *
 *   node interop/perf-cli.mjs            every case; interop/results/perf-cli.json
 *   node interop/perf-cli.mjs --suite    as part of `node interop/run.mjs --suite`
 *
 * Cases: each client (weft, go, rust) against each server, over TCP and WebSocket, with `--streams 1`
 * and `--streams 4`, uploading and downloading byte counts that 4 does not divide: the final JSON line
 * must report exactly the bytes asked for (and `"streams": 4` when N > 1), exit 0. Then each client
 * must refuse `--streams 17` with a non-zero exit and a message naming the flag. Exit 1 when a case failed.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { perfCli, runPerfClient, startPerfServer } from '../bench/lib.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const IMPLS = ['weft', 'go', 'rust']
const UPLOAD = 3 * 1024 * 1024 + 5
const DOWNLOAD = 2 * 1024 * 1024 + 3

if (!fs.existsSync(path.join(here, '../dist/node.js'))) {
  spawnSync('npm', ['run', '--silent', 'build'], { cwd: path.join(here, '..'), stdio: 'inherit' })
}
const results = []
const say = (s) => console.log(`[perf-cli] ${s}`)
async function check(name, fn) {
  const t0 = Date.now()
  let error = null
  try { await fn() } catch (e) { error = String(e.message ?? e).slice(0, 600) }
  results.push({ name, ok: error === null, error, seconds: (Date.now() - t0) / 1000 })
  say(`${error === null ? 'ok  ' : 'FAIL'} ${name}${error === null ? '' : `: ${error}`}`)
}

const servers = {}
try {
  // a server that cannot be built or started fails its cases; the others still run
  for (const impl of IMPLS) {
    await check(`${impl} perf server starts`, async () => {
      if (perfCli(impl) === null) throw new Error(`interop/${impl}/build.sh did not produce a binary`)
      servers[impl] = await startPerfServer(impl)
    })
  }
  for (const c of IMPLS.filter((i) => servers[i])) {
    for (const s of IMPLS.filter((i) => servers[i])) {
      for (const transport of ['tcp', 'ws']) {
        for (const streams of [1, 4]) {
          await check(`${c}->${s} ${transport} --streams ${streams}`, async () => {
            const r = await runPerfClient(c, servers[s].port, transport, UPLOAD, DOWNLOAD, 60_000, ['--streams', String(streams)])
            if (r.uploadBytes !== UPLOAD || r.downloadBytes !== DOWNLOAD) throw new Error(`final line reports ${r.uploadBytes} up / ${r.downloadBytes} down, asked ${UPLOAD} / ${DOWNLOAD}`)
            if (streams > 1 && r.streams !== streams) throw new Error(`final line's streams is ${r.streams}, want ${streams}`)
            if (!(r.timeSeconds > 0)) throw new Error(`final line's timeSeconds is ${r.timeSeconds}`)
          })
        }
      }
    }
    await check(`${c} refuses --streams 17`, async () => {
      const [cmd, ...pre] = perfCli(c)
      const r = spawnSync(cmd, [...pre, '--server-address', `127.0.0.1:${servers[c].port}`, '--upload-bytes', '1', '--download-bytes', '1', '--streams', '17'], { encoding: 'utf8', timeout: 20_000 })
      if (r.status === 0) throw new Error('exit 0')
      if (!/--streams/.test(r.stderr)) throw new Error(`stderr does not name --streams: ${r.stderr.slice(-300)}`)
    })
  }
} finally {
  for (const s of Object.values(servers)) s?.stop()
}
const failed = results.filter((r) => !r.ok)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results/perf-cli.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`)
say(`${results.length - failed.length}/${results.length} passed; interop/results/perf-cli.json`)
process.exit(failed.length > 0 ? 1 : 0)
