/**
 * Bundle-size budgets (issue 5): builds the browser bundles of bench/bundles.ts with esbuild and
 * fails when one's gzip -9 size exceeds its budget in bench/size-budget.json, or when a single-module
 * bundle (weft/multiaddr, weft/peer-id) pulls in noise or yamux code. Deterministic: no timing.
 * Bundles whose modules do not exist yet (gossipsub, Kademlia) are skipped.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUNDLES, REPO, buildBundle, type BundleResult } from '../bench/bundles.js'

interface Budget { gzip: number; goal: number | null }
const budgets = JSON.parse(readFileSync(path.join(REPO, 'bench/size-budget.json'), 'utf8')) as Record<string, Budget>

describe('browser bundle size budgets', () => {
  it('every bundle has a budget, and every budget a bundle', () => {
    const names = BUNDLES.map((b) => b.name).sort()
    expect(Object.keys(budgets).filter((k) => !k.startsWith('_')).sort()).toEqual(names)
    for (const n of names) expect(budgets[n]!.gzip).toBeGreaterThan(0)
  })

  for (const spec of BUNDLES) {
    it(`${spec.name}: gzip size within budget${spec.forbid.length ? `, nothing from its ${spec.forbid.length} forbidden paths (${spec.forbid.slice(0, 3).join(', ')}...)` : ''}`, async () => {
      const r: BundleResult = await buildBundle(spec)
      if (!r.built) throw new Error(`${spec.name} did not build: ${r.missing.join(', ')}`)
      expect(r.inputs.length).toBeGreaterThan(0)
      expect(r.forbiddenInputs).toEqual([])
      expect(r.forbiddenText).toEqual([])
      expect(r.gzip, `${spec.name} is ${r.gzip} bytes gzip, budget ${budgets[spec.name]!.gzip}`).toBeLessThanOrEqual(budgets[spec.name]!.gzip)
    })
  }

  it('the forbidden-input check sees noise and yamux when they are there', async () => {
    const r = await buildBundle({ name: 'probe', description: '', entry: "export * from './src/noise/index.ts'\n", requires: ['src/noise/index.ts'], forbid: ['src/noise/', 'src/yamux/'] })
    if (!r.built) throw new Error('probe did not build')
    expect(r.forbiddenInputs.length).toBeGreaterThan(0)
  })

  it('the forbidden-text check sees perf\'s client when the perf service is in the bundle', async () => {
    const entry = "import { createNode, perf } from './src/browser.ts'\nconst node = await createNode({ services: { perf: perf() } })\nconsole.log(await node.perf(globalThis.T, { uploadBytes: 1, downloadBytes: 1 }))\n"
    const r = await buildBundle({ name: 'probe-perf', description: '', entry, requires: ['src/browser.ts'], forbid: ['src/perf/'], forbidText: ['perf-progress'] })
    if (!r.built) throw new Error('probe did not build')
    expect(r.forbiddenInputs.length).toBeGreaterThan(0)
    expect(r.forbiddenText).toEqual(['perf-progress'])
  })
})
