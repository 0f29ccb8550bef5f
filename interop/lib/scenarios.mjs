// The runner shared by the scenario orchestrators (network.mjs, limits.mjs): arguments
// (--suite, --case a,b, --repeat n), prerequisites, go/rust peer builds, a private redis-server,
// the case loop (under --suite a failed case runs once more; a pass on the retry is `flaky`), the
// results file and the exit code. Each orchestrator keeps its cases and how one case runs.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killGroup, missingTools, startRedis } from './proc.mjs'

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url))) // interop/
const root = path.dirname(here)
const CI = process.env.CI === 'true' || process.env.CI === '1'

/**
 * @typedef {{ ok: boolean, error: string | null, seconds: number, flaky?: boolean, firstError?: string | null, [k: string]: unknown }} CaseResult
 * @typedef {{ suite: boolean, repeat: number, cases: string[] }} Options
 */

/**
 * Parse the arguments, check the prerequisites, build the go/rust peers the chosen cases use and
 * start redis. Exits on a usage error (2), a missing tool (0, or 1 under CI=true), a missing dist/
 * or a failed build (1). `tag` names the script (interop/<tag>.mjs) and prefixes its log lines;
 * `prepare` runs after the builds, before redis starts (its result is `prepared`).
 * @template C, P
 * @param {{ tag: string, cases: Record<string, C>, impls: (c: C) => string[], prepare?: () => Promise<P> }} o
 */
export async function setupScenarios({ tag, cases, impls, prepare }) {
  const say = (/** @type {string} */ s) => console.log(`[${tag}] ${s}`)

  /** @type {Options} */
  const opt = { suite: false, repeat: 1, cases: [] }
  const args = process.argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--suite') opt.suite = true
    else if (a === '--repeat') opt.repeat = Number(args[++i])
    else if (a === '--case') opt.cases.push(...String(args[++i]).split(','))
    else {
      console.error(`usage: node interop/${tag}.mjs [--suite] [--case ${Object.keys(cases).join('|')}] [--repeat n]`)
      process.exit(2)
    }
  }
  if (opt.cases.length === 0) opt.cases = Object.keys(cases)
  for (const c of opt.cases) if (!(c in cases)) { console.error(`unknown case ${c}`); process.exit(2) }
  const needed = new Set(opt.cases.flatMap((c) => impls(/** @type {C} */ (cases[c]))))

  const { redisServer, missing } = missingTools(needed)
  if (missing.length > 0) {
    say(`missing: ${missing.join(', ')} (see interop/README.md "Running it")`)
    process.exit(CI ? 1 : 0)
  }
  if (!fs.existsSync(path.join(root, 'dist/node.js'))) {
    console.error(`[${tag}] dist/ is missing: run \`npm run build\` (interop/run.mjs does it)`)
    process.exit(1)
  }
  /** @type {Record<string, string>} the go / rust peer binaries */
  const bins = {}
  for (const impl of ['go', 'rust']) {
    if (!needed.has(impl)) continue
    const t = Date.now()
    const r = spawnSync('bash', [path.join(here, impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const bin = (r.stdout ?? '').trim().split('\n').pop()
    if (r.status !== 0 || !bin || !fs.existsSync(bin)) {
      console.error(`[${tag}] interop/${impl}/build.sh failed`)
      process.exit(1)
    }
    say(`${impl} peer: ${bin} (${((Date.now() - t) / 1000).toFixed(1)} s)`)
    bins[impl] = bin
  }
  const prepared = await prepare?.()

  /** @type {import('node:child_process').ChildProcess[]} every process still to kill on the way out */
  const children = []
  const cleanup = () => { for (const c of children) killGroup(c, 'SIGKILL') }
  process.on('SIGINT', () => { cleanup(); process.exit(130) })
  process.on('SIGTERM', () => { cleanup(); process.exit(143) })
  const { proc: redisProc, addr: redisAddr, db } = await startRedis(/** @type {string} */ (redisServer))
  children.push(redisProc)
  if (db === undefined) { console.error(`[${tag}] redis-server did not answer on ${redisAddr}`); cleanup(); process.exit(1) }
  const redis = db

  /**
   * Run every chosen case `--repeat` times, print one line each (`label(name)`, then the result),
   * write interop/results/<file> and exit (1 when a case failed).
   * @param {(name: string) => Promise<CaseResult>} runCase @param {(name: string) => string} label @param {string} file
   * @returns {Promise<never>}
   */
  async function run(runCase, label, file) {
    const started = Date.now()
    /** @type {({ case: string, run: number } & CaseResult)[]} */
    const all = []
    for (const name of opt.cases) {
      for (let run = 1; run <= opt.repeat; run++) {
        let r = await runCase(name)
        // --suite: one retry of a failed case (as in run.mjs); a pass on the retry is recorded as flaky.
        if (!r.ok && opt.suite) {
          say(`retrying ${name} once (first error: ${r.error})`)
          const second = await runCase(name)
          r = second.ok ? { ...second, flaky: true, firstError: r.error } : second
        }
        all.push({ case: name, run, ...r })
        console.log(`${label(name)} ${r.ok ? (r.flaky === true ? 'flaky' : 'pass') : 'FAIL'}  ${r.seconds.toFixed(1)} s${r.error ? `  ${r.error}` : ''}`)
      }
    }
    redis.close()
    killGroup(redisProc, 'SIGTERM')
    const failed = all.filter((r) => !r.ok)
    say(`${all.length - failed.length}/${all.length} passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    fs.mkdirSync(path.join(here, 'results'), { recursive: true })
    fs.writeFileSync(path.join(here, 'results', file), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: all.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(2)) })) }, null, 2)}\n`)
    process.exit(failed.length > 0 ? 1 : 0)
  }

  return { opt, say, bins, prepared, redis, redisAddr, children, run }
}
