/**
 * The short pass of the fuzzer (bench/fuzz, `npm run fuzz` for the long run): every target, a fixed
 * seed, a few hundred inputs each, and 0 escapes. Then every saved regression input
 * (spec/vectors/fuzz-regressions.json) replays without an escape.
 */
import { describe, expect, test } from 'vitest'
import { fromHex } from '../src/core/bytes.js'
import { runOne, runTarget } from '../bench/fuzz/engine.js'
import { TARGETS, targetByName } from '../bench/fuzz/index.js'
import { vectorFile } from './helpers/vectors.js'

/** Inputs per target in the short pass: the slow targets (a whole handshake per input) get fewer. */
const SHORT: Record<string, number> = { noise: 300, connection: 400, gossipsub: 600, identify: 600, kad: 600, yamux: 1000, 'rendezvous-client': 1000, tls: 400, 'quic-connection': 150, 'quic-endpoint': 400 }

describe('fuzz: short pass of every target (seed 20261206)', () => {
  for (const t of TARGETS) {
    test(t.name, () => {
      const r = runTarget(t, { iterations: SHORT[t.name] ?? 2000, seed: 20261206, maxEscapes: 3 })
      expect(r.reports.map((e) => `${e.target} iteration ${e.iteration}: ${e.error.split('\n')[0]}\n  input ${e.hex.slice(0, 400)}`)).toEqual([])
      expect(r.iterations).toBe(SHORT[t.name] ?? 2000)
    }, 60_000)
  }
})

describe('fuzz: regression inputs', () => {
  const vectors = vectorFile('fuzz-regressions')
  for (const v of vectors.all()) {
    test(v.id, () => {
      for (const s of v.steps!) {
        const target = targetByName(s.target)
        expect(target, `target ${s.target}`).toBeDefined()
        expect(runOne(target!, fromHex(s.input))).toBeUndefined()
      }
    })
  }
})

describe('fuzz: the command line (npm run fuzz = node bench/fuzz-run.mjs)', () => {
  test('--target varint --iterations 500 --json prints { targets: [{ name, iterations, escapes, seconds }] }', async () => {
    const { execFile } = await import('node:child_process')
    const root = new URL('..', import.meta.url).pathname
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [`${root}bench/fuzz-run.mjs`, '--target', 'varint', '--iterations', '500', '--seed', '3', '--json'], { cwd: root }, (e, stdout) => (e ? reject(e) : resolve(stdout)))
    })
    const r = JSON.parse(out) as { targets: Array<Record<string, unknown>> }
    expect(r.targets).toHaveLength(1)
    expect(r.targets[0]).toMatchObject({ name: 'varint', iterations: 500, escapes: 0 })
    expect(Object.keys(r.targets[0]!).sort()).toEqual(['escapes', 'iterations', 'name', 'seconds'])
  }, 60_000)
})
