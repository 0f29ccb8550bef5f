// scale: N idle inbound connections (10,000; --quick 300; --conns N) into one server, for weft,
// go-libp2p and rust-libp2p in the same run, under the same holders (bench/README.md "Scale").
//
// Holders: bench/drivers/weft-hold-clients.mjs, a bare connection core per TCP socket with its own
// identity (no node, no services), `--holders` processes (default 2) of `--concurrency` dials in
// flight each (default 64). They count their open connections at the end and yamux-ping a sample.
// Servers (each started with `ulimit -n 20000`):
//   weft          bench/drivers/weft-hold-server.mjs --services none: identify + ping, watermarks
//                 15,000/20,000 (above N), connection and resource limits raised
//   weft-default  the same with createNode's default services (Kademlia and gossipsub too)
//   weft-trim     identify + ping, watermarks below N (low 0.4 N, high 0.5 N; --low/--high): must trim
//                 (held at least 90 s: the default grace period is 60 s)
//   go, rust      interop/<impl> `peer scale-server` (interop/go/scale.go, interop/rust/src/scale.rs)
// Per server: handshakes/s = inbound connections established per second while the holders ramp
// (server's own count, sampled every 250 ms, between 5% and 95% of the final count); server CPU
// per handshake (/proc/<pid>/stat over the ramp); RSS (and weft's V8 heap, go's HeapInuse) added per
// held connection, after a hold period (--hold seconds, default 70: idle yamux sessions release their
// send slabs after one 30 s keep-alive interval without traffic; quick 5) and forced GCs; ping
// RTT (median of 20 /ipfs/ping/1.0.0 round trips from one more weft node) through the loaded
// server vs the same before any holder connected; connections held at the end, on both sides.
//   npm run bench -- scale [--quick] [--conns N] [--impls weft,go,rust,weft-trim] [--holders 2]
//                          [--concurrency 64] [--hold 30] [--low L --high H]
// WEFT_SERVER_NODE_FLAGS="--max-semi-space-size=1": extra node flags for the weft servers.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { BENCH, REPO, row, missing, runNodeJson, sleep, spawnWithUlimit, median } from './lib.mjs'

export const scaleTitle = 'scale: idle inbound connections into one server, TCP, same holders'

/** A child speaking JSON lines on stdout, commands on stdin. */
export function jsonChild(child) {
  const lines = []
  const waiters = []
  let err = ''
  child.stderr?.on('data', (d) => { err = (err + d).slice(-20_000) })
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

export const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
/** User + system CPU of a process, ms (clock ticks are 10 ms on Linux). */
export const cpuMsOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

/** The go or rust interop peer binary, built if needed (null when it cannot be). */
const peerBins = new Map()
function peerBin(impl) {
  if (!peerBins.has(impl)) {
    let bin = null
    try {
      const out = execFileSync(path.join(REPO, `interop/${impl}/build.sh`), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15 * 60_000 })
      const last = out.trim().split('\n').pop()
      if (last && existsSync(last)) bin = last
    } catch { /* unavailable */ }
    peerBins.set(impl, bin)
  }
  return peerBins.get(impl)
}

/** Start a scale server; `stats()` is cheap, `measure()` forces GC where the runtime has one. */
export async function startServer(impl, { low, high } = {}) {
  let child
  if (impl.startsWith('weft')) {
    const args = [...(process.env.WEFT_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean), '--expose-gc', path.join(BENCH, 'drivers/weft-hold-server.mjs'), 'tcp', '--services', impl === 'weft-default' ? 'default' : 'none']
    if (high !== undefined) args.push('--low', String(low), '--high', String(high))
    child = spawnWithUlimit(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  } else {
    const bin = peerBin(impl)
    if (bin === null) return null
    child = spawnWithUlimit(bin, ['scale-server', '--listen', '127.0.0.1:0'], { stdio: ['pipe', 'pipe', 'pipe'] })
  }
  const s = jsonChild(child)
  const { addr } = await s.next(30_000)
  // spawnWithUlimit execs the server in place of the shell: the child's pid is the server's
  const pid = child.pid
  const ask = async (cmd) => { s.send(cmd); return s.next(120_000) }
  return {
    impl, addr, pid, ask,
    stats: () => ask('stats'),
    measure: async () => ({ ...(await ask('measure')), rss: rssOf(pid), cpuMs: cpuMsOf(pid) }),
    cpuMs: () => cpuMsOf(pid),
    stderr: s.stderr,
    stop: () => child.kill('SIGKILL'),
  }
}

/** Holder processes for `count` connections; resolves once every dial settled. */
export async function openHolders(addr, count, { holders = 2, concurrency = 64, budgetMs, onTick } = {}) {
  const per = Math.ceil(count / holders)
  const procs = []
  for (let left = count; left > 0; left -= per) {
    const args = ['--max-old-space-size=4096', path.join(BENCH, 'drivers/weft-hold-clients.mjs'), addr, String(Math.min(per, left)), String(concurrency)]
    if (budgetMs !== undefined) args.push(String(budgetMs))
    procs.push(jsonChild(spawnWithUlimit(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })))
  }
  const t0 = performance.now()
  const tick = onTick === undefined ? undefined : setInterval(onTick, 250)
  let ready
  try {
    ready = await Promise.all(procs.map(async (c) => { for (;;) { const j = await c.next(1_800_000); if (j.ready !== undefined) return j } }))
  } catch (e) {
    for (const c of procs) c.child.kill('SIGKILL')
    throw e
  } finally {
    if (tick !== undefined) clearInterval(tick)
  }
  const sum = (k) => ready.reduce((s, r) => s + (r[k] ?? 0), 0)
  const errors = {}
  for (const r of ready) for (const [k, v] of Object.entries(r.errors ?? {})) errors[k] = (errors[k] ?? 0) + v
  const askAll = async (cmd) => Promise.all(procs.map(async (c) => { c.send(cmd); return c.next(60_000) }))
  return {
    seconds: (performance.now() - t0) / 1000,
    ready: sum('ready'), failed: sum('failed'), attempted: sum('attempted'), errors,
    /** Upgrade steps as the holders saw them: p50 (median over holders) / p95 (worst holder), ms. */
    steps: Object.fromEntries(['connectMs', 'replyMs', 'noiseMs', 'upgradeMs'].map((k) => [k, `${Math.round(median(ready.map((r) => r[k]?.p50 ?? NaN)))}/${Math.round(Math.max(...ready.map((r) => r[k]?.p95 ?? 0)))}`])),
    /** Timelines of failed upgrades (a few per holder, from their stderr). */
    traces: procs.flatMap((c) => c.stderr().split('\n').filter((l) => l.startsWith('{"failedUpgrade"'))).slice(0, 3),
    firstError: ready.find((r) => r.firstError)?.firstError,
    /** Connections the holders still have open, and why the others closed. */
    count: async () => {
      const rs = await askAll('count')
      const closeErrors = {}
      for (const r of rs) for (const [k, v] of Object.entries(r.closeErrors)) closeErrors[k] = (closeErrors[k] ?? 0) + v
      return { open: rs.reduce((s, r) => s + r.open, 0), closeErrors }
    },
    /** yamux ping on k random open connections per holder. */
    ping: async (k) => {
      const rs = await askAll(`ping ${k}`)
      return { pinged: rs.reduce((s, r) => s + r.pinged, 0), ok: rs.reduce((s, r) => s + r.ok, 0), rttMs: median(rs.map((r) => r.rttMs).filter((x) => x !== null)) }
    },
    cpuMs: async () => (await askAll('cpu')).reduce((s, r) => s + r.cpuMs, 0),
    stop: () => { for (const c of procs) c.child.kill('SIGKILL') },
  }
}

/** Sustained rate between 5% and 95% of the final count, from (seconds, established) samples. */
export function sustainedRate(samples, final) {
  const a = samples.find((s) => s.n >= final * 0.05)
  const b = samples.find((s) => s.n >= final * 0.95) ?? samples.at(-1)
  if (a === undefined || b === undefined || b.t <= a.t) return NaN
  return (b.n - a.n) / (b.t - a.t)
}

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

const pingOf = async (addr) => (await runNodeJson(path.join(BENCH, 'drivers/weft-latency.mjs'), [addr, '20', 'ping'])).pingMs

/** One server under the holders; returns its rows. */
async function scaleOne(impl, opts, log) {
  const { count, holders, concurrency } = opts
  const trim = impl === 'weft-trim'
  // the connection manager spares connections younger than its grace period (60 s) and trims at
  // most once per silence period (10 s): hold long enough for it to act
  const holdMs = trim ? Math.max(opts.holdMs, 90_000) : opts.holdMs
  const high = trim ? opts.high : undefined
  const low = trim ? opts.low : undefined
  const server = await startServer(impl, { low, high })
  if (server === null) return [missing('scale', impl, 'tcp', 'connections held', 'count', 'peer binary unavailable')]
  let h
  const rows = []
  const put = (m, unit, v, note) => rows.push(note === undefined ? row('scale', impl, 'tcp', m, unit, [v]) : { ...row('scale', impl, 'tcp', m, unit, [v]), note })
  try {
    await sleep(500)
    const before = await server.measure()
    await pingOf(server.addr) // warm-up: the first pings of a fresh server run cold code
    const idlePing = await pingOf(server.addr)
    const cpu0 = server.cpuMs()
    const samples = []
    const t0 = performance.now()
    let sampling = false
    const sample = async () => {
      if (sampling) return
      sampling = true
      try {
        const s = await server.stats()
        samples.push({ t: (performance.now() - t0) / 1000, n: s.established, open: s.connections, loopP99: s.eventLoopP99Ms })
      } finally { sampling = false }
    }
    h = await openHolders(server.addr, count, { holders, concurrency, onTick: () => { sample().catch(() => {}) } })
    const rampS = (performance.now() - t0) / 1000
    await sample()
    const cpuRamp = server.cpuMs() - cpu0
    const atRamp = samples.at(-1)
    log(`  ${impl}: ${h.ready}/${h.attempted} dials ready in ${rampS.toFixed(1)} s (${h.failed} failed${h.failed ? `: ${JSON.stringify(h.errors)}` : ''}); server established ${atRamp.n}, open ${atRamp.open}`)
    log(`  ${impl}: upgrade steps, p50/p95 ms: ${JSON.stringify(h.steps)}; server event-loop p99 during the ramp ${Math.max(...samples.map((x) => x.loopP99 ?? 0))} ms`)
    for (const t of h.traces) log(`  ${impl}: a failed upgrade: ${t}`)
    await sleep(holdMs)
    const after = await server.measure()
    const loadedPing = await pingOf(server.addr)
    const held = await h.count()
    const yp = await h.ping(50)
    const holderCpu = await h.cpuMs()
    const rate = sustainedRate(samples, atRamp.n)
    const conns = after.connections
    log(`  ${impl}: after ${holdMs / 1000} s: server ${conns} open (${after.closed} closed${after.closeCodes ? ` ${JSON.stringify(after.closeCodes)}` : ''}), holders ${held.open} open${Object.keys(held.closeErrors).length ? ` (closed: ${JSON.stringify(held.closeErrors)})` : ''}; yamux ping ${yp.ok}/${yp.pinged} ok; RSS ${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MiB; ${rate.toFixed(0)} handshakes/s; server CPU ${(cpuRamp / 1000).toFixed(1)} s, holders ${(holderCpu / 1000).toFixed(1)} s`)
    put(`connections held after ${holdMs / 1000} s (server count)`, 'count', conns, `holders: ${held.open} open, yamux ping ${yp.ok}/${yp.pinged}`)
    put('dials failed', 'count', h.failed, h.failed ? JSON.stringify(h.errors) : undefined)
    put('handshakes per second (inbound, sustained)', 'conn/s', rate)
    put('server CPU per handshake', 'ms', cpuRamp / Math.max(1, atRamp.n))
    const per = Math.max(1, conns)
    put('RSS added', 'MB', (after.rss - before.rss) / 1e6)
    put('RSS added per held connection', 'KiB', (after.rss - before.rss) / per / 1024)
    if (after.heapUsed !== undefined) put('V8 heap added per held connection', 'KiB', (after.heapUsed - before.heapUsed) / per / 1024)
    if (after.heapInuse !== undefined) put('Go heap (HeapInuse) added per held connection', 'KiB', (after.heapInuse - before.heapInuse) / per / 1024)
    put('ping RTT, idle server', 'ms', median(idlePing), `median of ${idlePing.length}`)
    put('ping RTT, loaded server', 'ms', median(loadedPing), `median of ${loadedPing.length}`)
    put('loaded / idle ping RTT', 'x', median(loadedPing) / median(idlePing))
    if (after.eventLoopP99Ms !== undefined) put('event-loop delay p99 during the hold', 'ms', after.eventLoopP99Ms, `max ${after.eventLoopMaxMs}`)
    if (trim) {
      const gc = Object.entries(after.closeCodes ?? {}).filter(([k]) => /garbage/.test(k)).reduce((s, [, v]) => s + v, 0)
      put(`closed by the connection manager (low ${low}, high ${high})`, 'count', gc, JSON.stringify(after.closeCodes))
    }
  } finally {
    h?.stop()
    server.stop()
  }
  return rows
}

export async function runScale({ quick, log }) {
  const count = Number(flag('conns', quick ? 300 : 10_000))
  const opts = {
    count,
    holdMs: Number(flag('hold', quick ? 5 : 70)) * 1000,
    holders: Number(flag('holders', 2)),
    concurrency: Number(flag('concurrency', 64)),
    low: Number(flag('low', Math.round(count * 0.4))),
    high: Number(flag('high', Math.round(count * 0.5))),
  }
  const impls = flag('impls', quick ? 'weft,go,rust' : 'weft,go,rust,weft-trim').split(',')
  const rows = []
  for (const impl of impls) {
    try {
      rows.push(...await scaleOne(impl, opts, log))
    } catch (e) {
      log(`  ${impl} failed: ${e.message}`)
      rows.push(missing('scale', impl, 'tcp', 'connections held', 'count', `failed: ${String(e.message).slice(0, 200)}`))
    }
  }
  return rows
}
