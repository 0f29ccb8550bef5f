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
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killGroup, sleep } from './lib/proc.mjs'
import { setupScenarios } from './lib/scenarios.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)

/** The nodes of the TLS and QUIC gossip cases: two of each implementation, as gossip-content. */
const MIXED = /** @type {[string, string][]} */ ([['weft', 'weft-0'], ['go', 'go-0'], ['rust', 'rust-0'], ['weft', 'weft-1'], ['go', 'go-1'], ['rust', 'rust-1']])
/** The TLS and QUIC kad cases: the same six servers, and the weft late getter (a DHT client) as in `kad`. */
const MIXED_KAD = /** @type {[string, string, Record<string, string>?][]} */ ([...MIXED, ['weft', 'weft-late', { late: 'true' }]])
/**
 * The cases. `nodes`: [impl, name, extra env]. Node names are unique; gossip data is `<name>/<i>`.
 * `scenario`: the network_scenario the nodes run (default: the case name); `channel`: the
 * transport and security every node uses (default tcp + noise).
 * @type {Record<string, { nodes: [string, string, Record<string, string>?][], scenario?: string, channel?: { transport: string, security: string }, messages?: number, timeout: number, proves: string }>}
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
  'gossip-tls': {
    nodes: MIXED, scenario: 'gossip-content', channel: { transport: 'tcp', security: 'tls' }, messages: 100, timeout: 90,
    proves: 'gossip-content among weft, go and rust over TCP with TLS 1.3 (libp2p TLS, muxer by ALPN)',
  },
  'gossip-quic': {
    nodes: MIXED, scenario: 'gossip-content', channel: { transport: 'quic-v1', security: 'tls' }, messages: 100, timeout: 90,
    proves: 'gossip-content among weft, go (quic-go) and rust (quinn) over QUIC v1',
  },
  'kad-tls': {
    nodes: MIXED_KAD, scenario: 'kad', channel: { transport: 'tcp', security: 'tls' }, timeout: 150,
    proves: 'kad (PUT/GET /pk, providers, FIND_NODE) among weft, go and rust over TCP with TLS; the weft late client GETs every record over the network',
  },
  'kad-quic': {
    nodes: MIXED_KAD, scenario: 'kad', channel: { transport: 'quic-v1', security: 'tls' }, timeout: 150,
    proves: 'kad (PUT/GET /pk, providers, FIND_NODE) among weft, go and rust over QUIC v1; the weft late client GETs every record over the network',
  },
}

const { bins, redis, redisAddr, children, run } = await setupScenarios({ tag: 'network', cases: CASES, impls: (c) => c.nodes.map((n) => n[0]) })
/** @type {Record<string, string[]>} */
const commands = { weft: [process.execPath, path.join(here, 'weft/network-peer.mjs')] }
for (const [impl, bin] of Object.entries(bins)) commands[impl] = [bin]

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
        ...process.env, network_scenario: c.scenario ?? name, node_name: node, node_count: String(members), ...(c.channel ?? {}),
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

await run(runCase, (name) => `${name.padEnd(16)} ${String(CASES[name].nodes.length).padStart(2)} nodes `, 'network.json')
