// startup: wall time of a fresh `weft` process (spawn to exit), N runs each of `node -e 0` (the
// floor: Node's own start-up), `weft inspect /ip4/1.2.3.4/tcp/1`, `weft version`, `weft help` and
// `weft ping <local listener> --count 1`, interleaved so that machine load hits every command alike.
// Then the fresh-process connection plus first round trip (the interop suite's
// handshakePlusOneRTTMillis, seen from outside): spawn `weft ping` against a running `weft node`
// on loopback and time spawn to its first pong line, minus `node -e 0`'s spawn to exit. Median and p90 in ms, and the median
// minus `node -e 0`'s (the goal: inspect within 40 ms of node -e 0), and the same for CPU time.
// Runs bin/weft.js as a user would.
//   npm run bench -- startup [--quick] [--forms]     node bench/startup.mjs [runs] [--forms]   (standalone: prints only)
// --forms: inspect and version from dist/ (ESM modules) and from the bundle side by side.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { REPO, quantile, row } from './lib.mjs'

export const title = 'startup: fresh process, spawn to exit (ms)'

const WEFT = path.join(REPO, 'bin/weft.js')
export const COMMANDS = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'weft inspect', args: [WEFT, 'inspect', '/ip4/1.2.3.4/tcp/1'] },
  { name: 'weft version', args: [WEFT, 'version'] },
  { name: 'weft help', args: [WEFT, 'help'] },
]

/**
 * One timed run: wall ms (spawn to exit) and CPU ms (user + system of the node process, from
 * bash's `times`: on a shared machine the CPU figure moves far less with load than wall time).
 * bash adds the same few ms of wall time to every command, node -e 0 included.
 */
function once(args) {
  const t = process.hrtime.bigint()
  const r = spawnSync('/bin/bash', ['-c', '"$0" "$@" >/dev/null || exit 1; times', process.execPath, ...args], { encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  // `times`: the shell's user and system time, then its children's: "0m0.052s 0m0.012s"
  const sec = (m) => Number(m[1]) * 60 + Number(m[2])
  const child = [...r.stdout.trim().split('\n').pop().matchAll(/(\d+)m([\d.]+)s/g)]
  return { ms, cpu: (sec(child[0]) + sec(child[1])) * 1000 }
}

/** { wall: ms[name], cpu: ms[name] } for `runs` interleaved rounds (after one unrecorded warm-up round: page cache). */
export function measure(runs, commands = COMMANDS) {
  const wall = Object.fromEntries(commands.map((c) => [c.name, []]))
  const cpu = Object.fromEntries(commands.map((c) => [c.name, []]))
  for (const c of commands) once(c.args)
  for (let i = 0; i < runs; i++) {
    for (const c of commands) {
      const r = once(c.args)
      wall[c.name].push(r.ms)
      cpu[c.name].push(r.cpu)
    }
  }
  return { wall, cpu }
}

/**
 * A listening `weft node` on loopback (a fresh identity, no optional flags) for the ping rows:
 * { addr, stop }. `weft` is the script to run (bin/weft.js unless a form is compared).
 */
export async function startListener(weft = WEFT) {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-startup-'))
  const child = spawn(process.execPath, [weft, 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', path.join(dir, 'key'), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      for (const line of buf.split('\n').slice(0, -1)) {
        const ev = JSON.parse(line)
        if (ev.event === 'started') resolve(ev.addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws')) + (ev.addrs[0].includes('/p2p/') ? '' : `/p2p/${ev.peerId}`))
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1)
    })
    child.once('exit', (code) => reject(new Error(`weft node exited ${code}`)))
  })
  child.stdout.resume()
  return { addr, stop: () => { child.kill(); rmSync(dir, { recursive: true, force: true }) } }
}

/**
 * Spawn to the first line on stdout that matches `re` (ms), and the child's CPU time at exit (ms),
 * through the same bash wrapper as `once` (its `times` go to stderr here).
 */
export function firstLine(args, re) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint()
    let at
    let out = ''
    let err = ''
    const child = spawn('/bin/bash', ['-c', '"$0" "$@" || exit 1; times >&2', process.execPath, ...args])
    child.stdout.on('data', (d) => {
      out += d
      if (at === undefined && re.test(out)) at = Number(process.hrtime.bigint() - t) / 1e6
    })
    child.stderr.on('data', (d) => { err += d })
    child.once('close', (code) => {
      if (code !== 0 || at === undefined) return reject(new Error(`${args.join(' ')} exited ${code}: ${err}${out}`))
      const sec = (m) => Number(m[1]) * 60 + Number(m[2])
      const child = [...err.trim().split('\n').pop().matchAll(/(\d+)m([\d.]+)s/g)]
      resolve({ ms: at, cpu: (sec(child[0]) + sec(child[1])) * 1000 })
    })
  })
}

/**
 * The fresh-process dial + first pong: `runs` interleaved rounds of `node -e 0` (spawn to exit) and
 * each of `pings` ({ name, args }: spawn to the first `pong from` line). { wall, cpu } as `measure`.
 */
export async function measureFirstPong(runs, pings) {
  const names = ['node -e 0', ...pings.map((p) => p.name)]
  const wall = Object.fromEntries(names.map((n) => [n, []]))
  const cpu = Object.fromEntries(names.map((n) => [n, []]))
  for (const p of pings) await firstLine(p.args, /pong from/)
  for (let i = 0; i < runs; i++) {
    const base = once(COMMANDS[0].args)
    wall['node -e 0'].push(base.ms)
    cpu['node -e 0'].push(base.cpu)
    for (const p of pings) {
      const r = await firstLine(p.args, /pong from/)
      wall[p.name].push(r.ms)
      cpu[p.name].push(r.cpu)
    }
  }
  return { wall, cpu }
}

export function summary({ wall, cpu }) {
  const base = quantile(wall['node -e 0'], 0.5)
  const baseCpu = quantile(cpu['node -e 0'], 0.5)
  return Object.keys(wall).map((name) => ({
    name, median: quantile(wall[name], 0.5), p90: quantile(wall[name], 0.9), overNode: quantile(wall[name], 0.5) - base,
    cpu: quantile(cpu[name], 0.5), cpuOverNode: quantile(cpu[name], 0.5) - baseCpu,
  }))
}

/** Which form bin/weft.js runs now: the bundle when it is at least as new as dist/cli/main.js. */
export function binForm() {
  const m = (f) => statSync(path.join(REPO, f), { throwIfNoEntry: false })?.mtimeMs ?? -1
  const b = m('dist/cli/bundle/weft.mjs')
  return b >= 0 && b >= m('dist/cli/main.js') ? 'dist/cli/bundle (esbuild bundle)' : 'dist/ (ESM modules: the bundle is missing or older than dist/cli/main.js)'
}

/**
 * With --forms: the same commands run from each form directly (dist/cli/main.js, the bundle), with a
 * runner script in node_modules/.cache/weft-bench, whichever bin/weft.js would pick.
 */
export function formCommands() {
  const dir = path.join(REPO, 'node_modules/.cache/weft-bench')
  mkdirSync(dir, { recursive: true })
  const out = [COMMANDS[0]]
  for (const [form, entry] of [['dist', 'dist/cli/main.js'], ['bundle', 'dist/cli/bundle/weft.mjs']]) {
    const runner = path.join(dir, `startup-${form}.mjs`)
    writeFileSync(runner, `import { main } from ${JSON.stringify(pathToFileURL(path.join(REPO, entry)).href)}\nprocess.exitCode = await main(process.argv.slice(2))\n`)
    out.push({ name: `${form} inspect`, args: [runner, 'inspect', '/ip4/1.2.3.4/tcp/1'] }, { name: `${form} version`, args: [runner, 'version'] })
  }
  return out
}

/** `weft ping <addr> --count 1` as a command row (spawn to exit). */
export const pingCommand = (listener, weft = WEFT, name = 'weft ping') => ({ name, args: [weft, 'ping', listener.addr, '--count', '1'] })

export async function run({ quick, log }) {
  const runs = quick ? 10 : 40
  log(`  bin/weft.js runs ${binForm()}`)
  const forms = process.argv.includes('--forms')
  const listener = await startListener()
  let m
  let pong
  try {
    m = measure(runs, forms ? formCommands() : [...COMMANDS, pingCommand(listener)])
    pong = await measureFirstPong(runs, [{ name: 'weft ping: first pong', args: [WEFT, 'ping', listener.addr, '--count', '1'] }])
  } finally {
    listener.stop()
  }
  const rows = []
  const both = [...summary(m).map((s) => [s, m]), ...summary(pong).slice(1).map((s) => [s, pong])]
  for (const [s, { wall, cpu }] of both) {
    const impl = s.name === 'node -e 0' ? 'node' : forms ? `weft (${s.name.split(' ')[0]})` : 'weft'
    rows.push({ ...row('startup', impl, 'process', s.name, 'ms', wall[s.name]), p90: Math.round(s.p90 * 10) / 10, note: `p90 ${s.p90.toFixed(1)}, +${s.overNode.toFixed(1)} over node -e 0` })
    rows.push({ ...row('startup', impl, 'process', `${s.name} CPU`, 'ms', cpu[s.name]), note: `+${s.cpuOverNode.toFixed(1)} over node -e 0` })
  }
  log(`  ${runs} runs per command, interleaved; goal: weft inspect <= node -e 0 + 40 ms (wall); "first pong": spawn to the first pong line`)
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30)
  console.log(`bin/weft.js runs ${binForm()}`)
  const listener = await startListener()
  try {
    const m = measure(runs, process.argv.includes('--forms') ? formCommands() : [...COMMANDS, pingCommand(listener)])
    const pong = await measureFirstPong(runs, [{ name: 'weft ping: first pong', args: [WEFT, 'ping', listener.addr, '--count', '1'] }])
    for (const s of [...summary(m), ...summary(pong).slice(1)]) print(s)
  } finally {
    listener.stop()
  }
}

export function print(s) {
  console.log(`${s.name.padEnd(22)} median ${s.median.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms  +${s.overNode.toFixed(1).padStart(5)} over node -e 0;  CPU ${s.cpu.toFixed(1).padStart(5)} ms  +${s.cpuOverNode.toFixed(1)}`)
}
