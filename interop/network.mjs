#!/usr/bin/env node
/**
 * Network scenarios: mixed networks of weft, go-libp2p and rust-libp2p nodes (NETWORK.md).
 *
 *   node interop/network.mjs                      every case once
 *   node interop/network.mjs --case gossip-content --repeat 3
 *   node interop/network.mjs --suite              as part of `node interop/run.mjs --suite`
 *
 * Each case: FLUSHALL, start every node (env network_scenario, node_name, node_count, ...), wait
 * until each has pushed one JSON result to `results` (or exited, or the case timeout passed), kill
 * them all, check every result is ok. A hang fails its case, never the run. Exit 1 when a case failed.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killGroup, sleep, startRedis, which } from './lib/proc.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const say = (/** @type {string} */ s) => console.log(`[network] ${s}`)
const CI = process.env.CI === 'true' || process.env.CI === '1'

/**
 * The cases. `nodes`: [impl, name, extra env]. Node names are unique; gossip data is `<name>/<i>`.
 * @type {Record<string, { nodes: [string, string, Record<string, string>?][], messages?: number, timeout: number, proves: string }>}
 */
const CASES = {
  'gossip-content': {
    nodes: [['weft', 'weft-0'], ['go', 'go-0'], ['rust', 'rust-0'], ['weft', 'weft-1'], ['go', 'go-1'], ['rust', 'rust-1']],
    messages: 100,
    timeout: 90,
    proves: 'StrictSign, sha256(data) message ids on all: every node publishes 100, everyone gets each exactly once',
  },
  'gossip-seqno': {
    nodes: [['weft', 'weft-0'], ['go', 'go-0'], ['weft', 'weft-1'], ['go', 'go-1']],
    messages: 100,
    timeout: 90,
    proves: "go's default message id (from + seqno) between weft and go",
  },
  'gossip-badsig': {
    nodes: [['weft', 'weft-bad', { bad: 'true' }], ['weft', 'weft-0'], ['go', 'go-0'], ['rust', 'rust-0']],
    messages: 5,
    timeout: 60,
    proves: 'a message with an invalid signature is dropped by go, rust and weft; weft scores its sender below 0',
  },
  kad: {
    nodes: [['weft', 'weft-0'], ['go', 'go-0'], ['rust', 'rust-0'], ['weft', 'weft-1'], ['weft', 'weft-late', { late: 'true' }]],
    timeout: 150,
    proves: 'PUT_VALUE/GET_VALUE (/pk records), ADD_PROVIDER/GET_PROVIDERS, FIND_NODE across weft, go, rust; a late client GETs every record over the network',
  },
}

// ---- arguments -----------------------------------------------------------------------------------

const opt = { suite: false, repeat: 1, /** @type {string[]} */ cases: [] }
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--suite') opt.suite = true
  else if (a === '--repeat') opt.repeat = Number(args[++i])
  else if (a === '--case') opt.cases.push(...String(args[++i]).split(','))
  else {
    console.error(`usage: node interop/network.mjs [--suite] [--case ${Object.keys(CASES).join('|')}] [--repeat n]`)
    process.exit(2)
  }
}
if (opt.cases.length === 0) opt.cases = Object.keys(CASES)
for (const c of opt.cases) if (!(c in CASES)) { console.error(`unknown case ${c}`); process.exit(2) }
const needed = new Set(opt.cases.flatMap((c) => CASES[c].nodes.map((n) => n[0])))

// ---- prerequisites and builds ----------------------------------------------------------------------

const missing = []
const redisServer = which('redis-server')
if (redisServer === undefined) missing.push('redis-server')
if (needed.has('go') && which('go') === undefined) missing.push('go')
if (needed.has('rust') && which('cargo') === undefined) missing.push('cargo')
if (missing.length > 0) {
  say(`missing: ${missing.join(', ')} (see interop/README.md "Running it")`)
  process.exit(CI ? 1 : 0)
}
/** @type {Record<string, string[]>} */
const commands = { weft: [process.execPath, path.join(here, 'weft/network-peer.mjs')] }
if (!fs.existsSync(path.join(root, 'dist/node.js'))) {
  console.error('[network] dist/ is missing: run `npm run build` (interop/run.mjs does it)')
  process.exit(1)
}
for (const impl of ['go', 'rust']) {
  if (!needed.has(impl)) continue
  const t = Date.now()
  const r = spawnSync('bash', [path.join(here, impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const bin = (r.stdout ?? '').trim().split('\n').pop()
  if (r.status !== 0 || !bin || !fs.existsSync(bin)) {
    console.error(`[network] interop/${impl}/build.sh failed`)
    process.exit(1)
  }
  say(`${impl} peer: ${bin} (${((Date.now() - t) / 1000).toFixed(1)} s)`)
  commands[impl] = [bin]
}

// ---- redis -----------------------------------------------------------------------------------------

/** @type {import('node:child_process').ChildProcess[]} */
const children = []
const cleanup = () => { for (const c of children) killGroup(c, 'SIGKILL') }
process.on('SIGINT', () => { cleanup(); process.exit(130) })
process.on('SIGTERM', () => { cleanup(); process.exit(143) })

const { proc: redisProc, addr: redisAddr, db } = await startRedis(/** @type {string} */ (redisServer))
children.push(redisProc)
if (db === undefined) { console.error(`[network] redis-server did not answer on ${redisAddr}`); cleanup(); process.exit(1) }
const redis = db

// ---- one case ----------------------------------------------------------------------------------------

/** @param {string} name @returns {Promise<{ ok: boolean, error: string | null, seconds: number, results: any[] }>} */
async function runCase(name) {
  const c = CASES[name]
  const t0 = Date.now()
  await redis.command('FLUSHALL')
  // Late nodes (`late: 'true'`) join after the others' phases: they are not counted in node_count.
  const members = c.nodes.filter((n) => n[2]?.late !== 'true').length
  const procs = c.nodes.map(([impl, node, extra]) => {
    const [cmd, ...argv] = commands[impl]
    const p = spawn(/** @type {string} */ (cmd), argv, {
      cwd: root,
      env: {
        ...process.env, network_scenario: name, node_name: node, node_count: String(members),
        messages: String(c.messages ?? 0), ip: '127.0.0.1', redis_addr: redisAddr, test_timeout_seconds: String(c.timeout + 10), ...extra,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    })
    children.push(p)
    let err = ''
    p.stderr?.on('data', (d) => { err += d; if (err.length > 1 << 20) err = err.slice(-(1 << 19)) })
    /** @type {{ code: number | null } | undefined} */ let exited
    p.once('exit', (code) => { exited = { code } })
    return { node, p, stderr: () => err, exited: () => exited }
  })
  let error = null
  const deadline = Date.now() + c.timeout * 1000
  for (;;) {
    const n = Number(await redis.command('LLEN', 'results'))
    if (n >= procs.length) break
    const dead = procs.find((p) => p.exited() !== undefined)
    if (dead !== undefined) {
      await sleep(300) // its result (if any) may still be on its way
      if (Number(await redis.command('LLEN', 'results')) >= procs.length) break
      error = `${dead.node} exited (${dead.exited()?.code}) before all results were in`
      break
    }
    if (Date.now() > deadline) { error = `timeout: ${n} of ${procs.length} results after ${c.timeout} s`; break }
    await sleep(200)
  }
  const results = /** @type {string[]} */ (await redis.command('LRANGE', 'results', '0', '-1')).map((s) => { try { return JSON.parse(s) } catch { return { ok: false, error: `bad JSON ${s}` } } })
  for (const p of procs) killGroup(p.p, 'SIGKILL')
  const bad = results.filter((r) => r.ok !== true)
  if (error === null && bad.length > 0) error = bad.map((r) => `${r.name}: ${r.error ?? JSON.stringify({ missing: r.missing, duplicates: r.duplicates, invalidDelivered: r.invalidDelivered, scores: r.scores })}`).join('; ')
  if (error !== null) {
    for (const p of procs) {
      console.log(`--- ${p.node} stderr (last 30 lines)`)
      for (const l of p.stderr().split('\n').filter(Boolean).slice(-30)) console.log(`  ${l}`)
    }
  }
  return { ok: error === null, error, seconds: (Date.now() - t0) / 1000, results }
}

// ---- main ----------------------------------------------------------------------------------------------

const started = Date.now()
/** @type {{ case: string, run: number, ok: boolean, error: string | null, seconds: number, results: any[] }[]} */
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
    console.log(`${name.padEnd(16)} ${String(CASES[name].nodes.length).padStart(2)} nodes  ${r.ok ? (r.flaky === true ? 'flaky' : 'pass') : 'FAIL'}  ${r.seconds.toFixed(1)} s${r.error ? `  ${r.error}` : ''}`)
  }
}
redis.close()
killGroup(redisProc, 'SIGTERM')
const failed = all.filter((r) => !r.ok)
say(`${all.length - failed.length}/${all.length} passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'network.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: all.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(2)) })) }, null, 2)}\n`)
process.exit(failed.length > 0 ? 1 : 0)
