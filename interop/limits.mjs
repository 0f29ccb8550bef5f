#!/usr/bin/env node
/**
 * Limits scenarios (README.md "Limits"): weft's connection manager and go-libp2p's resource limits
 * against real go-libp2p v0.48 and rust-libp2p 0.57 peers.
 *
 *   node interop/limits.mjs                       every case once; interop/results/limits.json
 *   node interop/limits.mjs --case go-ping-limit --repeat 3
 *   node interop/limits.mjs --suite               as part of `node interop/run.mjs --suite`
 *
 * Each case: FLUSHALL, run the weft side (interop/weft/limits-weft.mjs, in this process) which
 * spawns its go/rust peers (env limits_scenario=...), kill the peers. A hang fails its case (its
 * timeout), never the run. Exit 1 when a case failed.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killGroup, startRedis, which } from './lib/proc.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const say = (/** @type {string} */ s) => console.log(`[limits] ${s}`)
const CI = process.env.CI === 'true' || process.env.CI === '1'

/** @type {Record<string, { impls: string[], fn: string, timeout: number, proves: string }>} */
const CASES = {
  'go-trims-weft': {
    impls: ['go'], fn: 'goTrimsWeft', timeout: 60,
    proves: 'go connmgr (low 2, high 4, grace 1 s) trims 6 weft identities to 2; weft sees ConnectionClosedError close/garbage-collected 0x1005 by remote; the protected identity stays',
  },
  'weft-trims-go-rust': {
    impls: ['go', 'rust'], fn: 'weftTrimsGoRust', timeout: 60,
    proves: 'weft (low 2, high 4, grace 1 s) trims 3 go + 3 rust peers to the protected and the tagged one; go sees ConnError remote 0x1005, rust sees the close',
  },
  'cli-trims-go': {
    impls: ['go'], fn: 'cliTrimsGo', timeout: 60,
    proves: '`weft node --conns-low 2 --conns-high 4 --conns-grace 1s`: 6 go hosts (each pinging) connect; the CLI node trims 4 with GoAway 0x1005 and logs each close; go sees ConnError remote 0x1005',
  },
  'weft-ping-limit': {
    impls: ['go'], fn: 'weftPingLimit', timeout: 40,
    proves: "weft's ping limit: 2 inbound streams per peer; go's third is reset and go sees StreamError remote 0x1002",
  },
  'go-ping-limit': {
    impls: ['go'], fn: 'goPingLimit', timeout: 40,
    proves: "go's default rcmgr: 2 inbound ping streams per peer; weft's third is reset with 0x1002 (StreamResourceLimitExceeded)",
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
    console.error(`usage: node interop/limits.mjs [--suite] [--case ${Object.keys(CASES).join('|')}] [--repeat n]`)
    process.exit(2)
  }
}
if (opt.cases.length === 0) opt.cases = Object.keys(CASES)
for (const c of opt.cases) if (!(c in CASES)) { console.error(`unknown case ${c}`); process.exit(2) }
const needed = new Set(opt.cases.flatMap((c) => CASES[c].impls))

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
if (!fs.existsSync(path.join(root, 'dist/node.js'))) {
  console.error('[limits] dist/ is missing: run `npm run build` (interop/run.mjs does it)')
  process.exit(1)
}
/** @type {Record<string, string>} */
const bins = {}
for (const impl of needed) {
  const t = Date.now()
  const r = spawnSync('bash', [path.join(here, impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const bin = (r.stdout ?? '').trim().split('\n').pop()
  if (r.status !== 0 || !bin || !fs.existsSync(bin)) {
    console.error(`[limits] interop/${impl}/build.sh failed`)
    process.exit(1)
  }
  say(`${impl} peer: ${bin} (${((Date.now() - t) / 1000).toFixed(1)} s)`)
  bins[impl] = bin
}
const weft = await import('../dist/node.js')
const scenarios = await import('./weft/limits-weft.mjs')

// ---- redis -----------------------------------------------------------------------------------------

/** @type {import('node:child_process').ChildProcess[]} */
const children = []
const cleanup = () => { for (const c of children) killGroup(c, 'SIGKILL') }
process.on('SIGINT', () => { cleanup(); process.exit(130) })
process.on('SIGTERM', () => { cleanup(); process.exit(143) })
const { proc: redisProc, addr: redisAddr, db } = await startRedis(/** @type {string} */ (redisServer))
children.push(redisProc)
if (db === undefined) { console.error(`[limits] redis-server did not answer on ${redisAddr}`); cleanup(); process.exit(1) }
const redis = db

// ---- one case ----------------------------------------------------------------------------------------

/** @param {string} name @returns {Promise<{ ok: boolean, error: string | null, seconds: number, [k: string]: unknown }>} */
async function runCase(name) {
  const c = CASES[name]
  const t0 = Date.now()
  await redis.command('FLUSHALL')
  /** @type {{ impl: string, p: import('node:child_process').ChildProcess, stdout: () => string, stderr: () => string }[]} */
  const procs = []
  /** @type {string[]} */ const weftLog = []
  const log = (/** @type {string} */ s) => {
    const line = `[weft ${((Date.now() - t0) / 1000).toFixed(2)}s] ${s}`
    weftLog.push(line)
    if (process.env.LIMITS_VERBOSE) console.log(line)
  }
  const ctx = {
    weft, redis, log,
    /** impl go, rust, or weft-cli (bin/weft.js with `args`); returns the process's captured output */
    spawn: (/** @type {string} */ impl, /** @type {Record<string, string>} */ env, /** @type {string[]} */ args = []) => {
      const [cmd, argv] = impl === 'weft-cli' ? [process.execPath, [path.join(root, 'bin/weft.js'), ...args]] : [bins[impl], args]
      const p = spawn(cmd, argv, {
        cwd: root,
        env: { ...process.env, ...env, ip: '127.0.0.1', redis_addr: redisAddr, test_timeout_seconds: String(c.timeout + 10) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      })
      children.push(p)
      let out = ''
      let err = ''
      p.stdout?.on('data', (d) => { out += d; if (out.length > 1 << 20) out = out.slice(-(1 << 19)) })
      p.stderr?.on('data', (d) => { err += d; if (err.length > 1 << 20) err = err.slice(-(1 << 19)) })
      const proc = { impl, p, stdout: () => out, stderr: () => (impl === 'weft-cli' ? `${out}${err}` : err) }
      procs.push(proc)
      return proc
    },
  }
  /** @type {any} */ let r
  /** @type {NodeJS.Timeout | undefined} */ let timer
  try {
    r = await Promise.race([
      scenarios[c.fn](ctx),
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timeout: the case did not finish within ${c.timeout} s`)), c.timeout * 1000) }),
    ])
  } catch (e) {
    r = { ok: false, error: String(/** @type {Error} */ (e).message ?? e) }
  } finally {
    clearTimeout(timer)
  }
  for (const p of procs) {
    killGroup(p.p, 'SIGKILL')
    children.splice(children.indexOf(p.p), 1)
  }
  if (r.ok !== true) {
    console.log(`--- ${name}: weft log`)
    for (const l of weftLog.slice(-30)) console.log(`  ${l}`)
    for (const p of procs) {
      console.log(`--- ${name}: ${p.impl} stderr (last 30 lines)`)
      for (const l of p.stderr().split('\n').filter(Boolean).slice(-30)) console.log(`  ${l}`)
    }
  }
  return { ...r, ok: r.ok === true, error: r.error ?? null, seconds: (Date.now() - t0) / 1000 }
}

// ---- main ----------------------------------------------------------------------------------------------

const started = Date.now()
/** @type {any[]} */
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
    console.log(`${name.padEnd(20)} ${r.ok ? (r.flaky === true ? 'flaky' : 'pass') : 'FAIL'}  ${r.seconds.toFixed(1)} s${r.error ? `  ${r.error}` : ''}`)
  }
}
redis.close()
killGroup(redisProc, 'SIGTERM')
const failed = all.filter((r) => !r.ok)
say(`${all.length - failed.length}/${all.length} passed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
fs.mkdirSync(path.join(here, 'results'), { recursive: true })
fs.writeFileSync(path.join(here, 'results', 'limits.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: all.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(2)) })) }, null, 2)}\n`)
process.exit(failed.length > 0 ? 1 : 0)
