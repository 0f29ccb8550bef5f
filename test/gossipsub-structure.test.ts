// The router's structure (audit finding 13): its parts share a narrow context (src/gossipsub/context.ts),
// not the behaviour object: no import circle among the files of src/gossipsub (type imports included),
// and the behaviour exposes no mutable state.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { GossipsubBehaviour } from '../src/gossipsub/index.js'
import { testIdentity } from './helpers/behaviour-harness.js'

const DIR = process.env.WEFT_GOSSIPSUB_DIR ?? join(import.meta.dirname, '..', 'src', 'gossipsub')

describe('gossipsub structure', () => {
  test('no import circle among the files of src/gossipsub (type-only imports included)', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'))
    const edges = new Map<string, string[]>()
    for (const f of files) {
      const src = readFileSync(join(DIR, f), 'utf8')
      const deps = [...src.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => `${m[1]}.ts`)
      edges.set(f, deps)
    }
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') { cycles.push([...path.slice(path.indexOf(f)), f].join(' -> ')); return }
      state.set(f, 'open')
      for (const d of edges.get(f) ?? []) visit(d, [...path, f])
      state.set(f, 'done')
    }
    for (const f of files) visit(f, [])
    expect(cycles).toEqual([])
    // the parts take the context, never the behaviour
    for (const f of ['control.ts', 'heartbeat.ts', 'peers.ts', 'publish.ts', 'receive.ts', 'send.ts']) expect(edges.get(f)).not.toContain('gossipsub.ts')
  })

  test('the behaviour has no public state: only `protocols` (read-only) and methods', () => {
    const b = new GossipsubBehaviour({ random: (n) => new Uint8Array(n), crypto: nobleCrypto, privateKey: testIdentity(1, '/ip4/127.0.0.1/tcp/1').key })
    expect(Object.keys(b)).toEqual(['protocols'])
  })
})
