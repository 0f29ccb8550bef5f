#!/usr/bin/env node
// weft's benchmark suite. `npm run bench` runs everything, prints one table per benchmark and writes
// bench/results/latest.json; `npm run bench -- <name> [<name>...]` runs some; `--quick` runs each with
// fewer iterations and smaller transfers (a smoke check, about a minute, written to
// bench/results/quick.json instead); `--runs N` sets the
// repetitions of the throughput/streams/crypto benchmarks (default 3); `--build` rebuilds dist/ first.
// Benchmarks: throughput, streams, latency, memory, scale, crypto, size, startup, profile, gossipsub-compare
// (weft vs go-libp2p-pubsub message rates; profile and gossipsub-compare are not part of the default
// set). See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { BENCH, REPO, printTable } from './lib.mjs'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const runsIdx = argv.indexOf('--runs')
const runs = runsIdx >= 0 ? Number(argv[runsIdx + 1]) : 3
// options that take a value (the scale benchmark reads its own from process.argv: bench/scale.mjs)
const VALUED = new Set(['--runs', '--conns', '--impls', '--holders', '--concurrency', '--hold', '--low', '--high', '--top', '--settle', '--services', '--linger'])
const names = argv.filter((a, i) => !a.startsWith('--') && !VALUED.has(argv[i - 1]))
const CACHE = path.join(REPO, 'node_modules/.cache/weft-bench')

/** Bundle a TypeScript file of bench/ (imports from src/) to CACHE with esbuild; returns its path. */
async function bundleTs(file) {
  const { build } = await import('esbuild')
  const outfile = path.join(CACHE, file.replace(/\.ts$/, '.mjs'))
  await build({ entryPoints: [path.join(BENCH, file)], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning', target: 'node20' })
  return outfile
}
const loadTs = async (file) => import(pathToFileURL(await bundleTs(file)).href)
function runBundled(file, args) {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`${path.basename(file)} failed: ${r.stderr}`)
  return r.stdout
}
const log = (s) => console.log(s)
const ctx = { quick, runs, log, bundleTs, loadTs, runBundled }

const throughput = await import('./throughput.mjs')
const memory = await import('./memory.mjs')
const SUITE = {
  throughput: { title: throughput.title, run: throughput.run },
  streams: { title: throughput.streamsTitle, run: throughput.runStreams },
  latency: await import('./latency.mjs'),
  memory: { title: memory.title, run: memory.run },
  scale: { title: memory.scaleTitle, run: memory.runScale },
  crypto: await import('./crypto.mjs'),
  size: await import('./size.mjs'),
  profile: await import('./profile.mjs'),
  'gossipsub-compare': await import('./gossipsub-compare.mjs'),
  startup: await import('./startup.mjs'),
}
const DEFAULT = ['size', 'startup', 'crypto', 'latency', 'throughput', 'streams', 'memory', 'scale']
const selected = names.length ? names : DEFAULT
for (const n of selected) if (!SUITE[n]) { console.error(`unknown benchmark ${n}; known: ${Object.keys(SUITE).join(', ')}`); process.exit(2) }

if (argv.includes('--build') || !existsSync(path.join(REPO, 'dist/node.js'))) {
  console.log('building dist/ (npm run build: tsc -p tsconfig.build.json, then the CLI bundle)')
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' })
}
mkdirSync(CACHE, { recursive: true })

const cpu = (/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? os.cpus()[0]?.model
const machine = { cores: os.cpus().length, cpu, node: process.version, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' ') }
console.log(`weft bench${quick ? ' --quick' : ''}: ${selected.join(', ')} on ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, load ${machine.loadavg}`)

const all = []
const started = Date.now()
for (const n of selected) {
  const t = Date.now()
  console.log(`\n-- ${n} --`)
  try {
    const rows = await SUITE[n].run(ctx)
    all.push(...rows)
    printTable(`${SUITE[n].title}${quick ? ' [quick]' : ''}`, rows)
  } catch (e) {
    console.error(`benchmark ${n} failed: ${e.stack ?? e}`)
    process.exitCode = 1
  }
  console.log(`(${n}: ${((Date.now() - t) / 1000).toFixed(0)} s)`)
}

if (!selected.includes('profile') || selected.length > 1) {
  mkdirSync(path.join(BENCH, 'results'), { recursive: true })
  // --quick figures are a smoke check: they never replace the published ones
  const file = path.join(BENCH, quick ? 'results/quick.json' : 'results/latest.json')
  // a partial run replaces only its own benchmarks' rows
  const kept = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).filter((r) => !selected.includes(r.benchmark)) : []
  writeFileSync(file, JSON.stringify([...kept, ...all], null, 1) + '\n')
  writeFileSync(path.join(BENCH, `results/${quick ? 'quick' : 'latest'}-meta-${selected.join('+')}.json`), JSON.stringify({ date: new Date().toISOString(), quick, runs, benchmarks: selected, machine, seconds: Math.round((Date.now() - started) / 1000) }, null, 1) + '\n')
  console.log(`\nwrote ${path.relative(REPO, file)} (${all.length} rows) in ${((Date.now() - started) / 1000).toFixed(0)} s`)
}
