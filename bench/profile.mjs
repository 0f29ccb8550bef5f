// profile: where a weft<->weft throughput run spends its CPU. Runs the weft perf server and client
// (TCP, or WebSocket with --ws; one stream, 512 MiB up + 512 MiB down; --quick 64 MiB) under `node --cpu-prof`, then sums
// each profile's self time by category (and lists the top functions). Categories, by the frame's
// script and function name:
//   chacha20-poly1305 (node:crypto)  self time of src/io/crypto-node.ts and node:internal/crypto frames
//                                    (the native cipher runs inside those calls)
//   noise framing / yamux / perf / multistream  src/<protocol>/ frames (framing, copies, bookkeeping)
//   runtime, swarm, connection, edge  src/io/runtime, src/swarm, src/connection, src/edge
//   socket I/O                        node:net, node:internal/stream_base_commons, streams
//   GC                                (garbage collector)
//   idle (event loop waiting)         (idle)
//   native / other                    (program) and the rest
// Typed-array copies (set/slice/subarray) are builtins: V8 charges them to the calling JS frame, so
// they show inside the category of the code that copies.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { BENCH, MIB, REPO, portPair, runPerfClient, sleep } from './lib.mjs'

export const title = 'profile: weft<->weft throughput under node --cpu-prof (% of each process\'s samples)'

function category(frame) {
  const url = frame.url ?? ''
  const fn = frame.functionName
  if (fn === '(garbage collector)') return 'GC'
  if (fn === '(idle)') return 'idle (event loop waiting)'
  if (fn === '(program)') return 'native / other ((program))'
  if (url === '' && /^(writeBuffer|writev|writeUtf8String|writeLatin1String)$/.test(fn)) return 'socket I/O (node:net, streams)' // the native socket write
  if (url.includes('/io/crypto-node') || url.startsWith('node:internal/crypto')) return 'chacha20-poly1305 (node:crypto)'
  const m = /\/dist\/([a-z-]+)\//.exec(url)
  if (m) {
    if (m[1] === 'io') return /runtime/.test(url) ? 'runtime (src/io/runtime)' : /tcp|ws/.test(url) ? 'transport (src/io tcp/ws)' : 'io other'
    if (m[1] === 'core') return 'core (lp, read-buffer, bytes)'
    return `${m[1]}`
  }
  if (url.startsWith('node:net') || url.includes('stream_base_commons') || url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'socket I/O (node:net, streams)'
  if (url.startsWith('node:')) return 'other node internals'
  if (url.includes('/node_modules/ws/')) return 'ws package (WebSocket framing, masking)'
  if (url.includes('/node_modules/')) return 'dependencies'
  return 'other JS'
}

export function summarize(profile) {
  const byCat = new Map()
  const byFn = new Map()
  const selfUs = new Map()
  // samples + timeDeltas give the time spent with each node on top
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
  let total = 0
  for (const n of profile.nodes) {
    const us = selfUs.get(n.id) ?? 0
    total += us
    const c = category(n.callFrame)
    byCat.set(c, (byCat.get(c) ?? 0) + us)
    const f = `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url || '')}:${n.callFrame.lineNumber + 1}`
    byFn.set(f, (byFn.get(f) ?? 0) + us)
  }
  const pct = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / total) * 1000) / 10])
  return { seconds: total / 1e6, categories: pct(byCat), top: pct(byFn).slice(0, 15) }
}

export async function run({ quick, log }) {
  const transport = process.argv.includes('--ws') ? 'ws' : 'tcp'
  const bytes = quick ? 64 * MIB : 512 * MIB
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-prof-'))
  const port = portPair()
  const prof = (sub) => ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, sub)}`, path.join(BENCH, 'drivers/profiled.mjs'), 'perf']
  const server = spawn(process.execPath, [...prof('server'), '--run-server', '--server-address', `127.0.0.1:${port}`], { stdio: 'ignore', cwd: REPO })
  try {
    await sleep(1500)
    const client = spawn(process.execPath, [...prof('client'), '--server-address', `127.0.0.1:${port}`, '--transport', transport, '--upload-bytes', String(bytes), '--download-bytes', String(bytes)], { stdio: ['ignore', 'pipe', 'ignore'], cwd: REPO })
    let out = ''
    client.stdout.on('data', (d) => { out += d })
    await new Promise((r) => client.on('close', r))
    const final = out.split('\n').filter((l) => l.includes('"final"')).map((l) => JSON.parse(l))[0]
    log(`  profiled run (${transport}): ${((final.uploadBytes + final.downloadBytes) / 1e6 / final.timeSeconds).toFixed(0)} MB/s (profiler on)`)
  } finally {
    server.kill('SIGTERM')
    await new Promise((r) => server.on('close', r))
  }
  const rows = []
  for (const side of ['client', 'server']) {
    const f = readdirSync(path.join(dir, side)).find((x) => x.endsWith('.cpuprofile'))
    const s = summarize(JSON.parse(readFileSync(path.join(dir, side, f), 'utf8')))
    log(`\n  ${side}: ${s.seconds.toFixed(1)} s profiled\n    by category: ${s.categories.map(([k, v]) => `${k} ${v}%`).join(', ')}\n    top self time: ${s.top.map(([k, v]) => `${k} ${v}%`).join('; ')}`)
    for (const [k, v] of s.categories.filter(([, v]) => v > 0)) rows.push({ benchmark: 'profile', impl: `weft ${side}`, transport, metric: k, unit: '%', runs: 1, median: v, min: v, max: v })
  }
  rmSync(dir, { recursive: true, force: true })
  return rows
}
