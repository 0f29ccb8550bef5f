/**
 * Issue 3's throughput figures, from the suite: single-stream and 16-stream MB/s, weft<->weft over
 * TCP, each with the go<->go figure of the same run for comparison. A thin entry: it runs
 * `node bench/run.mjs throughput streams` (two processes on loopback; see bench/README.md) and
 * prints the weft rows from bench/results/latest.json (quick.json with --quick). Extra arguments (e.g. --quick) pass through.
 *
 * Run from the repository root (Node 20 cannot run .ts directly):
 *   npx esbuild bench/throughput.ts --bundle --platform=node --format=esm --log-level=warning | node --input-type=module - --quick
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

interface Row { benchmark: string; impl: string; transport: string; metric: string; unit: string; median: number | null; runs: number }

const extra = process.argv.slice(2).filter((a) => a !== '-')
execFileSync(process.execPath, ['bench/run.mjs', 'throughput', 'streams', ...extra], { stdio: 'inherit' })
const rows = JSON.parse(readFileSync(extra.includes('--quick') ? 'bench/results/quick.json' : 'bench/results/latest.json', 'utf8')) as Row[]
const pick = (benchmark: string, impl: string): Row | undefined => rows.find((r) => r.benchmark === benchmark && r.impl === impl && r.transport === 'tcp')
const one = pick('throughput', 'weft')
const goOne = pick('throughput', 'go')
const many = pick('streams', 'weft')
console.log('\nweft <-> weft, TCP, two processes on loopback:')
console.log(`  single stream   ${one?.median ?? '—'} MB/s (median of ${one?.runs ?? 0}; go<->go ${goOne?.median ?? '—'} MB/s; goal >= 750)`)
console.log(`  16 streams      ${many?.median ?? '—'} MB/s (median of ${many?.runs ?? 0}; goal: no lower than one stream)`)
