// Shared helpers for the benchmark suite: locating the three implementations' perf CLIs, spawning
// servers and clients as separate processes, statistics and table printing.
import { spawn, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const BENCH = path.join(REPO, 'bench')
export const MIB = 1024 * 1024
export const GIB = 1024 * MIB
export const PERF_SERVER_ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

// below Linux's ephemeral range (32768+), where thousands of short client connections can hold a port
let nextPort = 20000 + Math.floor(Math.random() * 4000) * 2
/** Two consecutive free-ish ports (perf servers take TCP on p and WebSocket on p+1). */
export function portPair() {
  const p = nextPort
  nextPort += 2
  return p
}

/** The perf CLI of each implementation as [command, ...args-before-the-perf-flags]. */
const binCache = new Map()
export function perfCli(impl) {
  if (impl === 'weft') return [process.execPath, path.join(REPO, 'bin/weft.js'), 'perf']
  if (impl === 'raw') return [process.execPath, path.join(BENCH, 'drivers/raw-net.mjs')]
  if (!binCache.has(impl)) {
    let bin = null
    try {
      const out = execFileSync(path.join(REPO, `interop/${impl}/build.sh`), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15 * 60_000 })
      const last = out.trim().split('\n').pop()
      if (last && existsSync(last)) bin = last
    } catch { /* unavailable: reported as such */ }
    binCache.set(impl, bin)
  }
  const bin = binCache.get(impl)
  return bin === null ? null : [bin]
}

/** Spawn a child with a raised file-descriptor limit (`ulimit -n` in a shell that then execs it). */
export function spawnWithUlimit(cmd, args, opts = {}, nofile = 20000) {
  const quoted = [cmd, ...args].map((s) => `'${String(s).replace(/'/g, `'\\''`)}'`).join(' ')
  return spawn('/bin/sh', ['-c', `ulimit -n ${nofile} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], opts)
}

/** Start a perf server on `port` (or a free pair); resolves when it accepts TCP connections. `extra`: more CLI flags (`--security tls`). */
export async function startPerfServer(impl, port, extra = []) {
  for (let attempt = 0; ; attempt++) {
    const p = port ?? portPair()
    try {
      return await startPerfServerOn(impl, p, extra)
    } catch (e) {
      // another process took the port: try another pair
      if (port !== undefined || attempt >= 5 || !/in use|EADDRINUSE|exited/i.test(String(e.message))) throw e
    }
  }
}

async function startPerfServerOn(impl, port, extra) {
  const cli = perfCli(impl)
  if (cli === null) return null
  const [cmd, ...pre] = cli
  const child = spawn(cmd, [...pre, '--run-server', '--server-address', `127.0.0.1:${port}`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => { err += d })
  const net = await import('node:net')
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${impl} perf server exited: ${err}`)
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true) })
      s.on('error', () => res(false))
    })
    if (ok) break
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${impl} perf server did not listen: ${err}`) }
    await sleep(50)
  }
  // a server that fails to bind may exit just after another process answered on the port
  await sleep(100)
  if (child.exitCode !== null) throw new Error(`${impl} perf server exited: ${err}`)
  return { child, pid: child.pid, port, stop: () => { child.kill('SIGKILL') } }
}

/** Collect a child's stdout and stderr until it exits; SIGKILL it after `timeoutMs`. */
function collect(child, timeoutMs) {
  return new Promise((resolve) => {
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}

/** The JSON objects among a child's stdout lines. */
const jsonLines = (out) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))

/** Run a perf client to completion; resolves with its final JSON line (plus wall time). `extra`: more CLI flags (weft: `--streams N`). */
export async function runPerfClient(impl, port, transport, upload, download, timeoutMs = 600_000, extra = []) {
  const [cmd, ...pre] = perfCli(impl)
  const t0 = performance.now()
  const child = spawn(cmd, [...pre, '--server-address', `127.0.0.1:${port}`, '--transport', transport, '--upload-bytes', String(upload), '--download-bytes', String(download), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  const { code, out, err } = await collect(child, timeoutMs)
  const final = jsonLines(out).find((j) => j.type === 'final')
  if (code !== 0 || final === undefined) throw new Error(`${impl} perf client failed (${code}): ${err.slice(-500)}`)
  return { ...final, wallSeconds: (performance.now() - t0) / 1000 }
}

/** Run a node script as a child process and collect its JSON result (last stdout line). */
export async function runNodeJson(script, args = [], { nodeArgs = [], nofile, timeoutMs = 600_000, env } = {}) {
  const a = [...nodeArgs, script, ...args]
  const opts = { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }
  const child = nofile ? spawnWithUlimit(process.execPath, a, opts, nofile) : spawn(process.execPath, a, opts)
  const { code, out, err } = await collect(child, timeoutMs)
  const last = jsonLines(out.trim()).pop()
  if (code !== 0 || last === undefined) throw new Error(`${path.basename(script)} failed (${code}): ${err.slice(-800)}`)
  return last
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return s[lo] + (s[hi] - s[lo]) * (i - lo)
}
export const median = (xs) => quantile(xs, 0.5)

/** One result row as written to latest.json. */
export function row(benchmark, impl, transport, metric, unit, values) {
  const v = values.filter((x) => Number.isFinite(x))
  return { benchmark, impl, transport, metric, unit, runs: v.length, median: round(median(v)), min: round(Math.min(...v)), max: round(Math.max(...v)) }
}
/** A row recording that a measurement does not exist (not supported / not built yet). */
export function missing(benchmark, impl, transport, metric, unit, note) {
  return { benchmark, impl, transport, metric, unit, runs: 0, median: null, min: null, max: null, note }
}
export function round(x) {
  if (!Number.isFinite(x)) return null
  const a = Math.abs(x)
  return a >= 100 ? Math.round(x * 10) / 10 : a >= 1 ? Math.round(x * 100) / 100 : Math.round(x * 10000) / 10000
}

/**
 * Print one table: a line per (metric, transport, impl) with median [min–max], and for weft rows
 * the ratios to the go and rust rows of the same metric and transport ("weft/go" for a weft↔weft row
 * compares with go↔go; a mixed pair like "weft->go" is compared with go↔go too).
 */
export function printTable(title, rows) {
  console.log(`\n== ${title} ==`)
  const fmt = (x) => (x === null || x === undefined ? '—' : String(x))
  const lines = [['metric', 'transport', 'impl', 'median', 'min', 'max', 'unit', 'runs', 'weft/go', 'weft/rust']]
  for (const r of rows) {
    let rg = ''
    let rr = ''
    if (r.impl.startsWith('weft') && r.median !== null) {
      const peer = (impl) => rows.find((o) => o.metric === r.metric && o.transport === r.transport && o.impl === impl && o.median !== null)
      const g = peer('go') ?? peer('go<->go')
      const ru = peer('rust') ?? peer('rust<->rust')
      if (g) rg = (r.median / g.median).toFixed(2)
      if (ru) rr = (r.median / ru.median).toFixed(2)
    }
    lines.push([r.metric, r.transport, r.impl, fmt(r.median), fmt(r.min), fmt(r.max), r.unit, String(r.runs), rg, rr + (r.note ? `  (${r.note})` : '')])
  }
  const w = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)))
  for (const l of lines) console.log(l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(w[i]))).join('  '))
}
