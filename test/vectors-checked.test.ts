// The provenance rules of spec/README.md ("Vectors") that the loader enforces, and the link between
// vectors recorded as confirmed by another implementation (provenance interop + checkedBy) and
// interop/vectors.mjs, which re-checks them in the interop suite.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { VECTOR_DIR, checkVectorFile, readVectorFile, type Vector, type VectorFile } from './helpers/vectors.js'

const one = (v: Partial<Vector>): VectorFile => ({ protocol: 't', description: 't', vectors: [{ id: 'a', provenance: 'interop', source: 's', hex: '', decoded: {}, ...v } as Vector] })

describe('vector schema', () => {
  test('checkedBy is accepted on an interop vector that names its checkers', () => {
    expect(() => checkVectorFile('t', one({ checkedBy: ['go-libp2p v0.48.0'] }))).not.toThrow()
  })
  test('checkedBy on any other provenance is refused', () => {
    expect(() => checkVectorFile('t', one({ provenance: 'derived', checkedBy: ['go-libp2p v0.48.0'] }))).toThrow(/only for provenance interop/)
  })
  test('an empty or non-string checkedBy is refused', () => {
    expect(() => checkVectorFile('t', one({ checkedBy: [] }))).toThrow(/must list/)
    expect(() => checkVectorFile('t', one({ checkedBy: [''] }))).toThrow(/must list/)
    expect(() => checkVectorFile('t', one({ checkedBy: 'go' as unknown as string[] }))).toThrow(/must list/)
  })
  test('a vector needs a known provenance, a source and exactly one outcome', () => {
    expect(() => checkVectorFile('t', one({ provenance: 'guessed' as Vector['provenance'] }))).toThrow(/bad provenance/)
    expect(() => checkVectorFile('t', one({ source: '' }))).toThrow(/missing source/)
    expect(() => checkVectorFile('t', one({ error: 'x/y' }))).toThrow(/exactly one/)
  })
})

test('every vector confirmed through interop/vectors.mjs (checkedBy) still has a checker there', () => {
  const recorded: string[] = []
  for (const f of readdirSync(VECTOR_DIR).filter((n) => n.endsWith('.json'))) {
    const name = f.slice(0, -'.json'.length)
    for (const v of readVectorFile(name).vectors) if (v.checkedBy !== undefined) recorded.push(`${name}:${v.id}`)
  }
  expect(recorded.length).toBeGreaterThan(0)
  // --list plans the checks without building or running go or rust
  const script = fileURLToPath(new URL('../interop/vectors.mjs', import.meta.url))
  const r = spawnSync(process.execPath, [script, '--list'], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  const covered = new Set(r.stdout.split('\n').filter((l) => /^(go|rust) /.test(l)).map((l) => l.trim().split(/\s+/)[1]))
  expect(recorded.filter((id) => !covered.has(id))).toEqual([])
})
