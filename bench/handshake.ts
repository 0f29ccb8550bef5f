/**
 * Issue 3's connection figures, from the suite: dial-to-ready median ms (weft API driver, a client
 * process dialing a perf server in another process over TCP, Noise XX + yamux) and heap per idle
 * connection KiB (1,000 idle connections into one node). A thin entry: it runs
 * `node bench/run.mjs latency memory` and prints the weft rows from bench/results/latest.json (quick.json with --quick).
 * Extra arguments (e.g. --quick) pass through.
 *
 * Run from the repository root (Node 20 cannot run .ts directly):
 *   npx esbuild bench/handshake.ts --bundle --platform=node --format=esm --log-level=warning | node --input-type=module - --quick
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

interface Row { benchmark: string; impl: string; transport: string; metric: string; unit: string; median: number | null; runs: number; p95?: number }

const extra = process.argv.slice(2).filter((a) => a !== '-')
execFileSync(process.execPath, ['bench/run.mjs', 'latency', 'memory', ...extra], { stdio: 'inherit' })
const rows = JSON.parse(readFileSync(extra.includes('--quick') ? 'bench/results/quick.json' : 'bench/results/latest.json', 'utf8')) as Row[]
const find = (benchmark: string, impl: string, metric: string): Row | undefined => rows.find((r) => r.benchmark === benchmark && r.impl === impl && r.metric.startsWith(metric))
const dial = find('latency', 'weft (api)', 'dial to ready')
const rtt = find('latency', 'weft (api)', 'dial + 1 B')
const heap = find('memory', 'weft', 'heap per idle connection')
const rss = find('memory', 'weft', 'RSS per idle connection')
console.log('\nweft, TCP, two processes on loopback:')
console.log(`  dial to ready            ${dial?.median ?? '—'} ms median, p95 ${dial?.p95 ?? '—'} (${dial?.runs ?? 0} dials; goal <= 3 ms)`)
console.log(`  dial + 1-byte round trip ${rtt?.median ?? '—'} ms median, p95 ${rtt?.p95 ?? '—'}`)
console.log(`  heap per idle connection ${heap?.median ?? '—'} KiB (${heap?.metric ?? ''}; goal <= 12 KiB)`)
console.log(`  RSS per idle connection  ${rss?.median ?? '—'} KiB`)
