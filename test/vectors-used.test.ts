// Every spec/vectors file must be loaded by some test through vectorFile('<name>').
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { VECTOR_DIR, readVectorFile } from './helpers/vectors.js'

function testSources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...testSources(p))
    else if (e.name.endsWith('.ts')) out.push(readFileSync(p, 'utf8'))
  }
  return out
}

test('every vector file is well-formed and loaded by a test', () => {
  const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json'))
  const sources = testSources(new URL('.', import.meta.url).pathname).join('\n')
  for (const f of files) {
    const name = f.slice(0, -'.json'.length)
    readVectorFile(name)
    expect(sources.includes(`vectorFile('${name}')`), `spec/vectors/${f} is not loaded by any test`).toBe(true)
  }
})
