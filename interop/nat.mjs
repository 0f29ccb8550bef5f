#!/usr/bin/env node
/**
 * NAT traversal against go-libp2p and rust-libp2p in a namespace network with real NATs
 * (interop/NAT.md): Circuit Relay v2, DCUtR hole punching and AutoNAT.
 *
 *   npm run interop:nat                        every case; interop/results/nat.json
 *   node interop/nat.mjs --case dcutr/rust     the cases whose id contains "dcutr/rust"
 *   node interop/nat.mjs --suite               as part of `node interop/run.mjs --suite` (one retry per failed case)
 *   node interop/nat.mjs --list                the case ids
 *   node interop/nat.mjs --transport quic-v1   only the QUIC v1 cases (or tcp: only the TCP ones)
 *   options: --parallel n (relay and AutoNAT cases at once; default 3), --capture <dir> (tcpdump
 *   rA/rB wan0 during hole punching), --repeat n, --verbose (every peer's stderr, passing cases too)
 *
 * Steps: check root + ip netns + nft (else `skipped: <reason>`, exit 0; under CI=true exit 1), build
 * the go/rust peers (their build.sh, cached), build the topology (interop/lib/nat-topology.mjs) under
 * a per-run prefix, start redis-server on a Unix socket, run the relay cases (a few at once: each has
 * its own relay process and TEST_KEY), then the hole-punch cases one at a time (the routers' direct-SYN
 * counters must be theirs alone), then the AutoNAT cases; remove everything (also on SIGINT/SIGTERM or
 * a crash). Exit 1 when a case with weft in it failed; a failing control (go/rust only) is reported
 * but does not fail the run.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { allCases, implsOf, markdown, record, selectCases } from './lib/nat-matrix.mjs'
import { runAutonatCase, runRelayCase, startRedisUnix } from './lib/nat-run.mjs'
import { NatTopology, natUnavailable, runPrefix } from './lib/nat-topology.mjs'
import { killGroup, missingTools } from './lib/proc.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(here)
const CI = process.env.CI === 'true' || process.env.CI === '1'
const RESULTS = path.join(here, 'results', 'nat.json')
const say = (/** @type {string} */ s) => console.log(`[nat] ${s}`)

// ---- arguments -------------------------------------------------------------------------------------

const opt = { suite: false, parallel: 3, repeat: 1, /** @type {string[]} */ cases: [], /** @type {string | undefined} */ transport: undefined, /** @type {string | undefined} */ capture: undefined, list: false, verbose: false }
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  const val = () => { const v = args[++i]; if (v === undefined) usage(`${a} needs a value`); return /** @type {string} */ (v) }
  if (a === '--suite') opt.suite = true
  else if (a === '--case') opt.cases.push(...val().split(','))
  else if (a === '--transport') opt.transport = val()
  else if (a === '--parallel') opt.parallel = Math.max(1, Number(val()))
  else if (a === '--repeat') opt.repeat = Math.max(1, Number(val()))
  else if (a === '--capture') opt.capture = path.resolve(val())
  else if (a === '--list') opt.list = true
  else if (a === '--verbose') opt.verbose = true
  else if (a === '--markdown') {
    const file = args[i + 1] ?? RESULTS
    console.log(markdown(JSON.parse(fs.readFileSync(file, 'utf8')).results))
    process.exit(0)
  }
  else usage(a === '-h' || a === '--help' ? undefined : `unknown argument ${a}`)
}
/** @param {string} [msg] @returns {never} */
function usage(msg) {
  if (msg) console.error(`nat: ${msg}`)
  console.error('usage: node interop/nat.mjs [--suite] [--case <id part>[,...]] [--transport tcp|quic-v1] [--parallel n] [--repeat n] [--capture dir] [--verbose] [--list] | --markdown [nat.json]')
  process.exit(msg ? 2 : 0)
}
if (opt.transport !== undefined && opt.transport !== 'tcp' && opt.transport !== 'quic-v1') usage(`--transport ${opt.transport}: want tcp or quic-v1`)
const cases = selectCases(allCases(), opt.cases).filter((c) => opt.transport === undefined || c.transport === opt.transport)
if (opt.list) { for (const c of cases) console.log(`${c.id}${c.control ? '  (control)' : ''}`); process.exit(0) }
if (cases.length === 0) usage('no case matches --case')
const filtered = opt.cases.length > 0 || opt.transport !== undefined

// ---- prerequisites ---------------------------------------------------------------------------------

/** Write nat.json saying why nothing ran, and exit (1 under CI, which never skips). @param {string} reason @returns {never} */
function skip(reason) {
  console.log(`skipped: ${reason}`)
  if (!filtered) writeResults({ skipped: reason, results: [] })
  if (CI) { console.error('[nat] CI=true: failing (the NAT suite is never skipped on CI)'); process.exit(1) }
  process.exit(0)
}
/** @param {Record<string, unknown>} body */
function writeResults(body) {
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true })
  const file = filtered ? path.join(here, 'results', 'nat-filtered.json') : RESULTS
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...body }, null, 2)}\n`)
  return file
}

const prefix = runPrefix()
const why = natUnavailable(prefix)
if (why !== undefined) skip(why)
const needed = new Set(cases.flatMap(implsOf))
const { redisServer, missing } = missingTools(needed)
if (missing.length > 0) skip(`missing ${missing.join(', ')} (see interop/README.md "Running it")`)
if (!fs.existsSync(path.join(root, 'dist/node.js'))) {
  console.error('[nat] dist/ is missing: run `npm run build` (interop/run.mjs does it)')
  process.exit(1)
}
/** @type {Record<string, string[]>} */
const commands = { weft: [process.execPath, path.join(here, 'weft/nat-peer.mjs')] }
for (const impl of ['go', 'rust']) {
  if (!needed.has(impl)) continue
  const t = Date.now()
  const r = spawnSync('bash', [path.join(here, impl, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const bin = (r.stdout ?? '').trim().split('\n').pop()
  if (r.status !== 0 || !bin || !fs.existsSync(bin)) { console.error(`[nat] interop/${impl}/build.sh failed`); process.exit(1) }
  say(`${impl} peer: ${bin} (${((Date.now() - t) / 1000).toFixed(1)} s)`)
  commands[impl] = [bin]
}
const { generatePrivateKey } = await import('../dist/peer-id/index.js')
const { nodeCrypto } = await import('../dist/node.js')
/** A peer id that never reserves anywhere (the no-reservation target). */
const targetPeerId = generatePrivateKey(nodeCrypto).toPeerId().toString()

// ---- topology, redis, cleanup --------------------------------------------------------------------------

const topo = new NatTopology(prefix)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `weft-nat-${prefix}-`))
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const c of children) killGroup(c, 'SIGKILL')
  topo.down()
  fs.rmSync(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => { cleanup(); process.exit(130) })
process.on('SIGTERM', () => { cleanup(); process.exit(143) })
process.on('exit', cleanup)
process.on('uncaughtException', (e) => { console.error('[nat] crashed:', e); cleanup(); process.exit(1) })

const t0 = Date.now()
try {
  topo.up()
  await topo.checkVictimCounter()
} catch (e) {
  console.error(`[nat] building the topology failed: ${/** @type {Error} */ (e).message}`)
  process.exit(1)
}
say(`topology ${prefix}-* up in ${Date.now() - t0} ms (WAN 11.0.0.0/24 inside the namespaces only; the victim's SYN counter counts)`)
const { proc: redisProc, addr: redisAddr, db } = await startRedisUnix(/** @type {string} */ (redisServer), dir)
children.add(redisProc)
if (db === undefined) { console.error(`[nat] redis-server did not answer on ${redisAddr}`); process.exit(1) }
const ctx = { topo, commands, redisAddr, root, children, log: say, capture: opt.capture, prefix, verbose: opt.verbose }

// ---- the run -------------------------------------------------------------------------------------------

let seq = 0
/** @param {import('./lib/nat-matrix.mjs').NatCase} c */
async function once(c) {
  const key = `${prefix}k${++seq}`
  try {
    return c.suite === 'autonat' ? await runAutonatCase(ctx, c, key) : await runRelayCase(ctx, c, key, { targetPeerId, db: /** @type {any} */ (db) })
  } catch (e) {
    return { ok: false, rttMillis: null, error: `orchestrator: ${/** @type {Error} */ (e).message}`, seconds: 0, extra: {}, log: [] }
  }
}

const W = [38, 8, 9, 8, 7]
const line = (/** @type {string[]} */ cells) => cells.map((s, i) => s.padEnd(W[i] ?? 0)).join(' ')
console.log(line(['case', 'result', 'rtt ms', 'time s', 'detail']))
/** @type {ReturnType<typeof record>[]} */
const results = []
/** @param {import('./lib/nat-matrix.mjs').NatCase} c */
async function runOne(c) {
  for (let run = 1; run <= opt.repeat; run++) {
    let r = await once(c)
    /** @type {Record<string, unknown>} */
    let flaky = {}
    if (!r.ok && opt.suite) {
      // --suite: one retry (as run.mjs); a pass on the retry is recorded as flaky, the first error kept.
      for (const l of r.log) console.log(l)
      say(`retrying ${c.id} once (first error: ${r.error})`)
      const second = await once(c)
      if (second.ok) flaky = { flaky: true, firstError: r.error }
      r = second
    }
    const rec = record(c, { ...r, extra: { ...r.extra, ...flaky, ...(opt.repeat > 1 ? { run } : {}) } })
    results.push(rec)
    const detail = r.ok ? detailOf(rec) : /** @type {string} */ (r.error)
    console.log(line([`${c.id}${c.control ? ' (ctl)' : ''}`, r.ok ? (flaky.flaky ? 'flaky' : 'pass') : c.control ? 'fail-ctl' : 'FAIL', r.rttMillis === null ? '-' : r.rttMillis.toFixed(1), r.seconds.toFixed(1), detail]))
    if (!r.ok || opt.verbose) for (const l of r.log) console.log(l)
  }
}
/** @param {any} rec */
function detailOf(rec) {
  if (rec.scenario === 'hole-punch' && rec.transport === 'quic-v1') return `direct ${rec.direct} directUdp rA ${rec.directUdp?.rA} rB ${rec.directUdp?.rB}`
  if (rec.scenario === 'hole-punch') return `direct ${rec.direct} directSyn rA ${rec.directSyn?.rA} rB ${rec.directSyn?.rB}`
  if (rec.scenario === 'limit') return `echoed ${rec.echoed} B`
  if (rec.scenario === 'no-reservation') return String(rec.status)
  if (rec.suite === 'autonat') return rec.scenario === 'amplification' ? `victim SYNs ${rec.victimSyns}` : `${rec.reachability} ${rec.protocol ?? ''} ${rec.addr ?? ''}`
  return ''
}
/** Run `list` with at most `n` at once. @param {import('./lib/nat-matrix.mjs').NatCase[]} list @param {number} n */
async function pool(list, n) {
  const queue = [...list]
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) await runOne(c)
  }))
}

const started = Date.now()
await pool(cases.filter((c) => c.suite === 'relay'), opt.parallel)
await pool(cases.filter((c) => c.suite === 'dcutr'), 1)
await pool(cases.filter((c) => c.suite === 'autonat'), opt.parallel)
db.close()

// Matrix order (parallel cases finish in any order), then the tables NAT.md shows.
const order = new Map(cases.map((c, i) => [c.id, i]))
results.sort((x, y) => /** @type {number} */ (order.get(x.id)) - /** @type {number} */ (order.get(y.id)))
console.log(`\n${markdown(results)}`)
const failedWeft = results.filter((r) => !r.ok && !r.control)
const failedCtl = results.filter((r) => !r.ok && r.control)
const seconds = (Date.now() - started) / 1000
if (failedWeft.length + failedCtl.length > 0) {
  console.log(`\nFAILED (${failedWeft.length} weft case(s), ${failedCtl.length} control(s)):`)
  for (const f of [...failedWeft, ...failedCtl]) console.log(`  ${f.id}${f.control ? ' (control)' : ''}: ${f.error}`)
}
say(`${results.length - failedWeft.length - failedCtl.length}/${results.length} passed in ${seconds.toFixed(0)} s (controls failing: ${failedCtl.length})`)
const file = writeResults({ prefix, seconds: Number(seconds.toFixed(1)), filters: filtered ? opt.cases : null, transport: opt.transport ?? null, results })
say(`results: ${path.relative(root, file)}`)
killGroup(redisProc, 'SIGTERM')
cleanup()
process.exit(failedWeft.length > 0 ? 1 : 0)
