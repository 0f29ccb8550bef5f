// Paired 16-vs-1 stream rounds over TCP, weft->weft, alternating order (issue 15, bench/README.md
// "Issue 15's goals at a glance" and "16 streams vs 1, session 7"):
//   node bench/streams-pairs.mjs [rounds] [MiB each way] [both|up|down]   (defaults 10, 512, both)
// A longer run shows how much of a gap is a fixed cost per process (warm-up) and how much a cost per
// byte; one direction shows what the overlap of uploads and downloads (16 streams at different
// phases) costs. Uses dist/ (the CLI bundle when `npm run build` made it: a dist/ rebuilt by tsc
// alone runs the slower module form). Besides MB/s, each run's CPU (user + sys, client + server)
// per MB moved, and the load average: decide by CPU per MB and paired rounds, not by one wall-clock
// figure.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { MIB, perfCli, startPerfServer, median } from './lib.mjs'
const rounds = Number(process.argv[2] ?? 10)
const bytes = Number(process.argv[3] ?? 512) * MIB
/** 'both' (default): upload then download on each stream, as the perf protocol does; 'up' or 'down': one direction only. */
const direction = process.argv[4] ?? 'both'
if (!['both', 'up', 'down'].includes(direction)) throw new Error(`direction must be both, up or down, not ${direction}`)
const up = direction === 'down' ? 0 : bytes
const down = direction === 'up' ? 0 : bytes
const TICK = 100 // clock ticks per second (USER_HZ)
/** utime + stime (own, or of waited-for children) of a process, in seconds. */
const cpuOf = (pid, children = false) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (children ? +f[13] + +f[14] : +f[11] + +f[12]) / TICK
}
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0]

/** One client run; its CPU from the wrapping shell's children times (the client is its only child). */
async function run(srv, streams) {
  const [cmd, ...pre] = perfCli('weft')
  const args = [...pre, '--server-address', `127.0.0.1:${srv.port}`, '--transport', 'tcp', '--upload-bytes', String(up), '--download-bytes', String(down), '--streams', String(streams)]
  const quoted = [cmd, ...args].map((s) => `'${String(s).replace(/'/g, `'\\''`)}'`).join(' ')
  const s0 = cpuOf(srv.pid)
  const child = spawn('/bin/sh', ['-c', `${quoted}; code=$?; cat /proc/$$/stat >&2; exit $code`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const code = await new Promise((r) => child.on('close', r))
  const final = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((j) => j.type === 'final')
  if (code !== 0 || final === undefined) throw new Error(`weft perf client failed (${code}): ${err.slice(-500)}`)
  const f = err.trim().split('\n').pop().split(') ')[1].split(' ')
  const mb = (final.uploadBytes + final.downloadBytes) / 1e6
  await new Promise((r) => setTimeout(r, 100)) // the server's last frames
  const cpu = (+f[13] + +f[14]) / TICK + (cpuOf(srv.pid) - s0)
  return { mbps: mb / final.timeSeconds, cpuMsPerMb: (cpu / mb) * 1000 }
}

const srv = await startPerfServer('weft')
const ratios = []
const cpuRatios = []
const x16 = []
const x1 = []
const c16 = []
const c1 = []
const loads = [load()]
try {
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [16, 1] : [1, 16]
    const r = {}
    for (const n of order) r[n] = await run(srv, n)
    x16.push(r[16].mbps); x1.push(r[1].mbps); ratios.push(r[16].mbps / r[1].mbps)
    c16.push(r[16].cpuMsPerMb); c1.push(r[1].cpuMsPerMb); cpuRatios.push(r[16].cpuMsPerMb / r[1].cpuMsPerMb)
    loads.push(load())
    console.log(`round ${i + 1}: x16 ${r[16].mbps.toFixed(0)} x1 ${r[1].mbps.toFixed(0)} ratio ${(r[16].mbps / r[1].mbps).toFixed(3)}; CPU ms/MB x16 ${r[16].cpuMsPerMb.toFixed(3)} x1 ${r[1].cpuMsPerMb.toFixed(3)} (load ${loads.at(-1)})`)
  }
} finally { srv.stop() }
console.log(`median x16 ${median(x16).toFixed(0)} x1 ${median(x1).toFixed(0)}; median paired ratio ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})`)
console.log(`CPU (client + server user+sys) per MB: median x16 ${median(c16).toFixed(3)} ms, x1 ${median(c1).toFixed(3)} ms; median paired 16/1 ${median(cpuRatios).toFixed(3)}; load ${Math.min(...loads)}-${Math.max(...loads)}`)
