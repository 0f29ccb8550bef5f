/**
 * The fuzz engine: targets, the escape rule, and the loop that runs one target.
 *
 * A target turns a seeded `Rand` into an input (bytes: structure-aware generation, then byte
 * mutations) and runs one input against a core. An input ESCAPES when:
 * - running it throws anything but a `ProtocolError` (or an error type the target's spec note lists,
 *   `allowed`);
 * - a check inside the target fails (`Escape`): a model disagrees, a buffered byte count passes its
 *   configured limit, a failure is reported with a non-ProtocolError cause, a step bound is hit
 *   (a hang: every driver loop in a target is bounded);
 * - it runs longer than `deadlineMs` of wall-clock time (checked after each input; the CLI's watchdog
 *   also catches an input that never returns).
 * Inputs are a pure function of (target, seed, iteration), so an escape is reproduced from those three
 * numbers or from the saved input bytes (`--replay`).
 */
import { ProtocolError } from '../../src/core/errors.js'
import { toHex } from '../../src/core/bytes.js'
import { Rand, iterationSeed } from './rng.js'

export interface Target {
  readonly name: string
  /** One input: structure-aware generation and mutation, from `r` only. */
  generate(r: Rand): Uint8Array
  /** Run one input; return normally or throw (classified by `allowed`). */
  run(input: Uint8Array): void
  /** Errors this target's spec note lists as outcomes of remote input (default: ProtocolError only). */
  allowed?(e: unknown): boolean
  /** Coverage counters a target keeps (how far inputs got), printed by `--stats`. */
  readonly stats?: Record<string, number>
}

/** Count one occurrence of `what` in `stats`. */
export function count(stats: Record<string, number>, what: string): void {
  stats[what] = (stats[what] ?? 0) + 1
}

/** A failed check inside a target (model mismatch, limit passed, hang, wrong error type reported). */
export class Escape extends Error {
  override readonly name = 'Escape'
}

/** Throw an Escape unless `cond`. */
export function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Escape(message)
}

/** A step counter for driver loops: a core that never settles is a hang, reported as an escape. */
export function bounded(max: number, what: string): () => void {
  let n = 0
  return () => {
    if (++n > max) throw new Escape(`hang: ${what} did not settle within ${max} steps`)
  }
}

export interface EscapeReport {
  target: string
  seed: number
  iteration: number
  hex: string
  error: string
}

export interface TargetResult {
  name: string
  iterations: number
  escapes: number
  seconds: number
}

export interface RunOptions {
  iterations: number
  /** First iteration (default 0): `--from 500000 --iterations 1000000` runs the second half of a run. */
  from?: number
  seed: number
  /** Wall-clock limit per input, ms (default 5000). */
  deadlineMs?: number
  /** Stop a target after this many seconds even if `iterations` are not done (the result says how many ran). */
  maxSeconds?: number
  /** Stop after this many escapes (default 10). */
  maxEscapes?: number
  onEscape?: (e: EscapeReport) => void
  /** Called every `progressEvery` inputs with the iteration reached (for the CLI watchdog). */
  onProgress?: (iteration: number) => void
  progressEvery?: number
}

export function isAllowed(target: Target, e: unknown): boolean {
  if (e instanceof Escape) return false
  if (e instanceof ProtocolError) return true
  return target.allowed?.(e) ?? false
}

export function describeError(e: unknown): string {
  return e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e)
}

/** The input of (target, seed, iteration). */
export function inputAt(target: Target, seed: number, iteration: number): Uint8Array {
  return target.generate(new Rand(iterationSeed(seed, iteration)))
}

/** Run one input; undefined when it did not escape, else the error text. */
export function runOne(target: Target, input: Uint8Array, deadlineMs = 5000): string | undefined {
  const t0 = performance.now()
  try {
    target.run(input)
  } catch (e) {
    if (!isAllowed(target, e)) return describeError(e)
  }
  const ms = performance.now() - t0
  if (ms > deadlineMs) return `hang: input took ${ms.toFixed(0)} ms (deadline ${deadlineMs} ms)`
  return undefined
}

export function runTarget(target: Target, opts: RunOptions): TargetResult & { reports: EscapeReport[] } {
  const reports: EscapeReport[] = []
  const t0 = performance.now()
  const every = opts.progressEvery ?? 64
  const from = opts.from ?? 0
  let i = from
  for (; i < opts.iterations; i++) {
    if (opts.onProgress !== undefined && i % every === 0) opts.onProgress(i)
    if (opts.maxSeconds !== undefined && (i & 63) === 0 && performance.now() - t0 > opts.maxSeconds * 1000) break
    const input = inputAt(target, opts.seed, i)
    const err = runOne(target, input, opts.deadlineMs)
    if (err !== undefined) {
      const report = { target: target.name, seed: opts.seed, iteration: i, hex: toHex(input), error: err }
      reports.push(report)
      opts.onEscape?.(report)
      if (reports.length >= (opts.maxEscapes ?? 10)) { i++; break }
    }
  }
  return { name: target.name, iterations: i - from, escapes: reports.length, seconds: (performance.now() - t0) / 1000, reports }
}

/**
 * Shrink an escaping input: drop ever smaller runs of bytes while the input still escapes with the
 * same first error line (delta debugging, byte-granular at the end). `budget` bounds the runs.
 */
export function minimize(target: Target, input: Uint8Array, budget = 20_000): Uint8Array {
  const first = (e: string | undefined): string | undefined => e?.split('\n')[0]
  const want = first(runOne(target, input))
  if (want === undefined) return input
  let best = input
  let runs = 0
  for (let size = best.length >> 1; size >= 1 && runs < budget; size = size >> 1) {
    for (let at = 0; at < best.length && runs < budget;) {
      const cand = new Uint8Array(best.length - Math.min(size, best.length - at))
      cand.set(best.subarray(0, at), 0)
      cand.set(best.subarray(at + size), at)
      runs++
      if (first(runOne(target, cand)) === want) best = cand
      else at += size
    }
  }
  return best
}
