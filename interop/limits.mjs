#!/usr/bin/env node
/**
 * Limits scenarios (README.md "Limits"): weft's connection manager and go-libp2p's resource limits
 * against real go-libp2p v0.48 and rust-libp2p 0.57 peers.
 *
 *   node interop/limits.mjs                       every case once; interop/results/limits.json
 *   node interop/limits.mjs --case go-ping-limit --repeat 3
 *   node interop/limits.mjs --suite               as part of `node interop/run.mjs --suite`
 *
 * metrics-parity compares weft's Prometheus families with a go-libp2p host's (spec/metrics.md "Interop").
 *
 * Each case: FLUSHALL, run the weft side (interop/weft/limits-weft.mjs or metrics-weft.mjs, in this process) which
 * spawns its go/rust peers (env limits_scenario=...), kill the peers. A hang fails its case (its
 * timeout), never the run. Exit 1 when a case failed.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killGroup } from './lib/proc.mjs'
import { setupScenarios } from './lib/scenarios.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)

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
  'metrics-parity': {
    impls: ['go'], fn: 'metricsParity', timeout: 40,
    proves: "a go host (default metrics and rcmgr) and a weft node each open 3 connections, close 1, fail 1 dial: every libp2p_* family both emit has the same TYPE, label names and buckets, and the deterministic values agree",
  },
}

const { bins, prepared, redis, redisAddr, children, run } = await setupScenarios({
  tag: 'limits', cases: CASES, impls: (c) => c.impls,
  prepare: async () => ({ weft: await import('../dist/node.js'), scenarios: { ...(await import('./weft/limits-weft.mjs')), ...(await import('./weft/metrics-weft.mjs')) } }),
})
const { weft, scenarios } = /** @type {{ weft: any, scenarios: any }} */ (prepared)

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

await run(runCase, (name) => name.padEnd(20), 'limits.json')
