// startup: wall time of a fresh `weft` process (spawn to exit), N runs each of `node -e 0` (the
// floor: Node's own start-up), `weft inspect /ip4/1.2.3.4/tcp/1`, `weft version` and `weft help`,
// interleaved so that machine load hits every command alike. Median and p90 in ms, and the median
// minus `node -e 0`'s (the goal: inspect within 40 ms of node -e 0). Runs bin/weft.js as a user would.
//   npm run bench -- startup [--quick]        node bench/startup.mjs [runs]   (standalone: prints only)
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { REPO, quantile, row } from './lib.mjs'

export const title = 'startup: fresh process, spawn to exit (ms)'

const WEFT = path.join(REPO, 'bin/weft.js')
export const COMMANDS = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'weft inspect', args: [WEFT, 'inspect', '/ip4/1.2.3.4/tcp/1'] },
  { name: 'weft version', args: [WEFT, 'version'] },
  { name: 'weft help', args: [WEFT, 'help'] },
]

/** One timed run: spawn to exit, in ms (hrtime around a synchronous spawn). */
function once(args) {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

/** ms[name] for `runs` interleaved rounds (after one unrecorded warm-up round: page cache). */
export function measure(runs, commands = COMMANDS) {
  const ms = Object.fromEntries(commands.map((c) => [c.name, []]))
  for (const c of commands) once(c.args)
  for (let i = 0; i < runs; i++) for (const c of commands) ms[c.name].push(once(c.args))
  return ms
}

export function summary(ms) {
  const base = quantile(ms['node -e 0'], 0.5)
  return Object.entries(ms).map(([name, v]) => ({ name, median: quantile(v, 0.5), p90: quantile(v, 0.9), overNode: quantile(v, 0.5) - base }))
}

export async function run({ quick, log }) {
  const runs = quick ? 10 : 40
  const ms = measure(runs)
  const rows = []
  for (const s of summary(ms)) {
    rows.push({ ...row('startup', s.name.startsWith('weft') ? 'weft' : 'node', 'process', s.name, 'ms', ms[s.name]), p90: Math.round(s.p90 * 10) / 10, note: `p90 ${s.p90.toFixed(1)}, +${s.overNode.toFixed(1)} over node -e 0` })
  }
  log(`  ${runs} runs per command, interleaved; goal: weft inspect <= node -e 0 + 40 ms`)
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 30)
  for (const s of summary(measure(runs))) {
    console.log(`${s.name.padEnd(14)} median ${s.median.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms  +${s.overNode.toFixed(1)} over node -e 0`)
  }
}
