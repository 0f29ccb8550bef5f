#!/usr/bin/env node
// npm run soak -- --minutes M [--json] [--rate R] [--concurrency C] [--hostile-share F] [--seed S] [--identities N] [--samples FILE] [--snapshots DIR]
//
// One weft node under churn for M minutes (bench/README.md, "Soak"). Three processes:
//   - the target (bench/soak/target.mjs, run with --expose-gc): the one node measured; it reports a
//     sample each second over IPC (heap after a forced GC every GC_EVERY samples, RSS, external
//     memory, connections, open streams, event-loop delay);
//   - the churn (bench/soak/churn.mjs): peers that connect, open streams, transfer, gossip, query
//     the DHT, misbehave (bench/soak/hostile.mjs) and leave, R episodes per second;
//   - this driver, which only collects.
// It prints { minutes, connectionsOpened, streamsOpened, errorsUnexpected, heapStartMiB, heapEndMiB,
// rssStartMiB, rssEndMiB, eventLoopDelayP99Ms, ... }. "start" is the first forced-GC sample after the
// first minute (runs shorter than 2 minutes: after a warm-up of 20% of the run, and `startNote`
// says so); "end" is the last forced-GC sample before the churn stops. Uses dist/ (npm run build).
import { fork } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt
}
const minutes = flag('minutes', 1)
const json = args.includes('--json')
const samplesFile = args.includes('--samples') ? args[args.indexOf('--samples') + 1] : undefined
// heap snapshots of the target after the warm-up and at the end (diff them in Chrome DevTools)
const snapshotDir = args.includes('--snapshots') ? args[args.indexOf('--snapshots') + 1] : undefined
const churnOpts = { rate: flag('rate', 4), concurrency: flag('concurrency', 12), hostileShare: flag('hostile-share', 0.35), seed: flag('seed', 1), identities: flag('identities', 200) }
if (!(minutes > 0)) throw new RangeError('--minutes must be a positive number')
if (process.env.WEFT_SOAK_DIST === undefined && !existsSync(join(here, '..', 'dist', 'node.js'))) {
  console.error('soak: dist/ is missing; run npm run build first')
  process.exit(2)
}

const durationMs = minutes * 60_000
const warmupMs = minutes >= 2 ? 60_000 : Math.max(2000, durationMs * 0.2)
const log = (...a) => { if (!json) console.error(...a) }

const target = fork(join(here, 'soak', 'target.mjs'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const samples = []
let final
let idleWake
let targetGone = false
const targetExit = new Promise((r) => target.once('exit', (code, sig) => { targetGone = true; r({ code, sig }) }))
const ready = new Promise((resolve, reject) => {
  target.on('message', (m) => {
    if (m.type === 'ready') resolve(m)
    else if (m.type === 'sample') samples.push(m.sample)
    else if (m.type === 'final') final = m
    else if (m.type === 'idle') idleWake?.(m.sample)
  })
  target.once('exit', () => reject(new Error('soak: the target exited before it was ready')))
})
const { addr, gcForced } = await ready
const t0 = Date.now()
const load0 = loadavg()
log(`soak: target ${addr}, ${minutes} min, ${churnOpts.rate} episodes/s, warm-up ${(warmupMs / 1000).toFixed(0)} s`)

const churn = fork(join(here, 'soak', 'churn.mjs'), [JSON.stringify({ ...churnOpts, addr })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
let churnStats
churn.on('message', (m) => { if (m.type === 'stats') churnStats = m })
const churnExit = new Promise((r) => churn.once('exit', () => r()))

const warm = setTimeout(() => {
  if (targetGone) return
  // the snapshot first: writing it stalls the target's event loop for seconds, before 'warm' resets the histogram
  if (snapshotDir !== undefined) target.send({ type: 'snapshot', file: join(snapshotDir, 'soak-start.heapsnapshot') })
  target.send({ type: 'warm' })
}, warmupMs)
const progress = setInterval(() => {
  const s = samples.at(-1)
  if (s !== undefined) log(`  ${((Date.now() - t0) / 1000).toFixed(0)} s  conns ${s.connections}  streams ${s.streams}  heap ${s.heapMiB.toFixed(1)} MiB  rss ${s.rssMiB.toFixed(1)} MiB  eld p99 ${s.eventLoopDelayP99Ms.toFixed(1)} ms  opened ${s.connectionsOpened}  unexpected ${s.errorsUnexpected}`)
}, 30_000)
await Promise.race([new Promise((r) => setTimeout(r, durationMs)), targetExit])
clearInterval(progress)
clearTimeout(warm)
const load1 = loadavg()
const tEnd = Date.now()
if (!targetGone) target.send({ type: 'end' })
if (!targetGone && snapshotDir !== undefined) target.send({ type: 'snapshot', file: join(snapshotDir, 'soak-end.heapsnapshot') })

churn.send({ type: 'stop' })
await Promise.race([churnExit, new Promise((r) => setTimeout(r, 30_000))])
if (churn.exitCode === null) churn.kill()

// After the churn: no peer left; a forced-GC sample shows what the node keeps with nobody connected.
let idle
if (!targetGone) {
  await new Promise((r) => setTimeout(r, 3000))
  idle = await Promise.race([new Promise((r) => { idleWake = r; target.send({ type: 'idle' }) }), new Promise((r) => setTimeout(r, 10_000))])
  target.send({ type: 'stop' })
  await Promise.race([targetExit, new Promise((r) => setTimeout(r, 15_000))])
  if (!targetGone) target.kill()
}

const loaded = samples.filter((s) => s.t <= tEnd)
const gcd = gcForced ? loaded.filter((s) => s.gcForced) : loaded
const start = gcd.find((s) => s.t - t0 >= warmupMs) ?? gcd[0]
const end = gcd.at(-1)
const sorted = loaded.filter((s) => s.t - t0 >= warmupMs).map((s) => s.eventLoopDelayP99Ms).sort((a, b) => a - b)
const r1 = (x) => (x === undefined ? null : Math.round(x * 10) / 10)
const pct = (a, b) => (a === undefined || b === undefined ? null : Math.round(((b - a) / a) * 1000) / 10)
const cs = churnStats?.stats
const targetUnexpected = final?.errorsUnexpected ?? loaded.at(-1)?.errorsUnexpected ?? 0
const result = {
  minutes,
  connectionsOpened: final?.sample.connectionsOpened ?? loaded.at(-1)?.connectionsOpened ?? 0,
  streamsOpened: final?.sample.streamsOpened ?? loaded.at(-1)?.streamsOpened ?? 0,
  errorsUnexpected: targetUnexpected + (cs?.unexpected ?? 0) + (targetGone && final === undefined ? 1 : 0),
  heapStartMiB: r1(start?.heapMiB),
  heapEndMiB: r1(end?.heapMiB),
  rssStartMiB: r1(start?.rssMiB),
  rssEndMiB: r1(end?.rssMiB),
  // p99 of every event-loop delay measured after the warm-up while the churn ran (one histogram)
  eventLoopDelayP99Ms: r1(final?.eventLoopDelayP99Ms ?? sorted[Math.floor(sorted.length * 0.99)] ?? sorted.at(-1)),
  // -- beyond the fields --
  startNote: minutes >= 2 ? 'start = first forced-GC sample after the first minute' : `run shorter than 2 minutes: start = first forced-GC sample after a ${(warmupMs / 1000).toFixed(0)} s warm-up`,
  heapChangePct: pct(start?.heapMiB, end?.heapMiB),
  rssChangePct: pct(start?.rssMiB, end?.rssMiB),
  externalStartMiB: r1(start?.externalMiB),
  externalEndMiB: r1(end?.externalMiB),
  idleAfterChurn: idle === undefined ? null : { heapMiB: r1(idle.heapMiB), rssMiB: r1(idle.rssMiB), externalMiB: r1(idle.externalMiB), connections: idle.connections, streams: idle.streams, gcForced: idle.gcForced },
  connectionsMax: Math.max(0, ...loaded.map((s) => s.connections)),
  streamsMax: Math.max(0, ...loaded.map((s) => s.streams)),
  eventLoopDelayP50OfSecondP99sMs: r1(sorted[Math.floor(sorted.length / 2)]),
  eventLoopDelayMaxMs: r1(Math.max(0, ...loaded.filter((s) => s.t - t0 >= warmupMs).map((s) => s.eventLoopDelayMaxMs))),
  samples: loaded.length,
  gcForced,
  loadAverage: { start: load0.map(r1), end: load1.map(r1) },
  targetUnexpected: { count: targetUnexpected, first: final?.unexpected ?? [] },
  targetExpected: final?.expected ?? {},
  targetExit: targetGone && final === undefined ? await targetExit : undefined,
  churn: cs === undefined ? null : { ...churnOpts, addr: undefined, ...cs, unexpectedErrors: cs.unexpectedErrors },
}
if (samplesFile !== undefined) writeFileSync(samplesFile, samples.map((s) => JSON.stringify({ ...s, t: s.t - t0 })).join('\n') + '\n')
if (json) console.log(JSON.stringify(result))
else console.log(JSON.stringify(result, null, 2))
process.exit(0)
