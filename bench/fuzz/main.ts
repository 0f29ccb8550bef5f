/**
 * `npm run fuzz -- [--target NAME] [--iterations N] [--from I] [--seed S] [--json] [--replay HEX|FILE [--minimize]] [--max-seconds T] [--stats]`
 *
 * Runs every target (or one) for inputs I..N-1 (I = 0 by default) of seed S. An escape prints the target, seed, iteration,
 * the error and the input hex, and saves the input to bench/.cache/fuzz-escapes/. `--json` prints
 * only `{ "targets": [ { "name", "iterations", "escapes", "seconds" } ] }`. Exit code 1 on any escape.
 *
 * Hangs: every driver loop in a target is step-bounded and each input has a wall-clock deadline;
 * besides, each target runs in a worker thread watched by the main thread, so an input that never
 * returns is reported (and its input regenerated from seed and iteration) instead of stalling the run.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { fromHex, toHex } from '../../src/core/bytes.js'
import { type EscapeReport, type TargetResult, inputAt, minimize, runOne, runTarget } from './engine.js'
import { TARGETS, targetByName } from './index.js'

interface Args { target?: string; iterations: number; from: number; seed: number; json: boolean; replay?: string; minimize: boolean; stats: boolean; maxSeconds?: number; hangMs: number; outDir: string }

function parseArgs(argv: string[]): Args {
  const a: Args = { iterations: 10_000, from: 0, seed: 1, json: false, minimize: false, stats: false, hangMs: 30_000, outDir: path.resolve('bench/.cache/fuzz-escapes') }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!
    const v = (): string => {
      const x = argv[++i]
      if (x === undefined) throw new Error(`${k} needs a value`)
      return x
    }
    if (k === '--target') a.target = v()
    else if (k === '--iterations') a.iterations = Number(v())
    else if (k === '--seed') a.seed = Number(v())
    else if (k === '--from') a.from = Number(v())
    else if (k === '--json') a.json = true
    else if (k === '--stats') a.stats = true
    else if (k === '--minimize') a.minimize = true
    else if (k === '--max-seconds') a.maxSeconds = Number(v())
    else if (k === '--replay') a.replay = v()
    else if (k === '--hang-ms') a.hangMs = Number(v())
    else if (k === '--out') a.outDir = path.resolve(v())
    else throw new Error(`unknown option ${k}`)
  }
  if (!Number.isSafeInteger(a.iterations) || a.iterations < 0) throw new Error('--iterations must be a non-negative integer')
  if (!Number.isSafeInteger(a.seed)) throw new Error('--seed must be an integer')
  return a
}

function save(outDir: string, r: EscapeReport): string {
  mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${r.target}-s${r.seed}-i${r.iteration}.hex`)
  writeFileSync(file, r.hex + '\n')
  return file
}

function printEscape(r: EscapeReport, file: string): void {
  const hex = r.hex.length > 4096 ? `${r.hex.slice(0, 4096)}... (${r.hex.length / 2} bytes, whole input in the file)` : r.hex
  process.stderr.write(`ESCAPE target=${r.target} seed=${r.seed} iteration=${r.iteration}\n  input: ${hex}\n  saved: ${file}\n  ${r.error.split('\n').join('\n  ')}\n`)
}

/** Run one target in a worker; the main thread watches its progress counter. */
function runInWorker(file: string, name: string, args: Args): Promise<TargetResult> {
  return new Promise((resolve) => {
    const progress = new Int32Array(new SharedArrayBuffer(4))
    const w = new Worker(file, { workerData: { name, iterations: args.iterations, from: args.from, seed: args.seed, progress, stats: args.stats, maxSeconds: args.maxSeconds } })
    let escapes = 0
    let last = -1
    let still = 0
    const t0 = performance.now()
    const tick = setInterval(() => {
      const now = Atomics.load(progress, 0)
      if (now !== last) { last = now; still = 0; return }
      still += 1000
      if (still < args.hangMs) return
      clearInterval(tick)
      void w.terminate()
      const target = targetByName(name)!
      const input = inputAt(target, args.seed, now)
      const r: EscapeReport = { target: name, seed: args.seed, iteration: now, hex: toHex(input), error: `hang: no progress for ${args.hangMs} ms` }
      printEscape(r, save(args.outDir, r))
      resolve({ name, iterations: now + 1 - args.from, escapes: escapes + 1, seconds: (performance.now() - t0) / 1000 })
    }, 1000)
    w.on('message', (m: { escape?: EscapeReport; done?: TargetResult }) => {
      if (m.escape !== undefined) { escapes++; printEscape(m.escape, save(args.outDir, m.escape)) }
      if (m.done !== undefined) { clearInterval(tick); resolve(m.done) }
    })
    w.on('error', (e) => {
      clearInterval(tick)
      process.stderr.write(`ESCAPE target=${name}: worker died: ${e instanceof Error ? e.stack : String(e)}\n`)
      resolve({ name, iterations: Atomics.load(progress, 0) - args.from, escapes: escapes + 1, seconds: (performance.now() - t0) / 1000 })
    })
  })
}

export async function main(argv: string[], selfFile: string): Promise<number> {
  const args = parseArgs(argv)
  if (args.replay !== undefined) {
    const target = args.target === undefined ? undefined : targetByName(args.target)
    if (target === undefined) throw new Error('--replay needs --target')
    let hex = existsSync(args.replay) ? readFileSync(args.replay, 'utf8').trim() : args.replay
    if (args.minimize) {
      hex = toHex(minimize(target, fromHex(hex)))
      process.stdout.write(`minimized: ${hex}\n`)
    }
    const err = runOne(target, fromHex(hex))
    process.stdout.write(err === undefined ? `no escape (${target.name}, ${hex.length / 2} bytes)\n` : `ESCAPE ${target.name}\n${err}\n`)
    return err === undefined ? 0 : 1
  }
  const targets = args.target === undefined ? TARGETS : [targetByName(args.target) ?? fail(`no target ${args.target}; targets: ${TARGETS.map((t) => t.name).join(', ')}`)]
  const results: TargetResult[] = []
  for (const t of targets) {
    const r = await runInWorker(selfFile, t.name, args)
    results.push(r)
    if (!args.json) process.stdout.write(`${r.name.padEnd(12)} ${String(r.iterations).padStart(9)} inputs  ${String(r.escapes).padStart(3)} escapes  ${r.seconds.toFixed(1).padStart(7)} s  ${Math.round(r.iterations / Math.max(r.seconds, 1e-9)).toLocaleString('en-US').padStart(9)} inputs/s\n`)
  }
  if (args.json) process.stdout.write(JSON.stringify({ targets: results.map(({ name, iterations, escapes, seconds }) => ({ name, iterations, escapes, seconds: Math.round(seconds * 1000) / 1000 })) }) + '\n')
  return results.some((r) => r.escapes > 0) ? 1 : 0
}

function fail(msg: string): never {
  throw new Error(msg)
}

/** Worker side: run one target, post escapes as they happen and the result at the end. */
if (!isMainThread && workerData !== null && typeof workerData === 'object' && 'progress' in workerData) {
  const { name, iterations, from, seed, progress, stats, maxSeconds } = workerData as { name: string; iterations: number; from: number; seed: number; progress: Int32Array; stats: boolean; maxSeconds?: number }
  const target = targetByName(name)!
  const res = runTarget(target, {
    iterations, from, seed, maxEscapes: 10, ...(maxSeconds !== undefined ? { maxSeconds } : {}),
    onEscape: (escape) => parentPort!.postMessage({ escape }),
    onProgress: (i) => Atomics.store(progress, 0, i),
    progressEvery: 1,
  })
  const { reports: _r, ...done } = res
  if (stats && target.stats !== undefined) process.stderr.write(`${name} stats: ${JSON.stringify(target.stats, null, 1)}\n`)
  parentPort!.postMessage({ done })
}
