/**
 * The README is a promise: its runnable examples run here, as written. Every ```ts block that
 * imports 'weft/node' is executed (with 'weft/node' pointed at src/node.ts), and what it prints is
 * compared with the `// <expected>` comments on its console.log lines. The `weft inspect` sample
 * is run through the CLI and compared line by line. The two commands at the top are checked too.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { cli } from './helpers/cli.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const README = readFileSync(`${ROOT}README.md`, 'utf8')
const TMP = `${ROOT}test/.readme-tmp/`

const blocks = [...README.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }))
const runnable = blocks.filter((b) => b.lang === 'ts' && b.code.includes("from 'weft/node'"))

afterAll(() => rmSync(TMP, { recursive: true, force: true }))

describe('README', () => {
  test('starts with exactly the two commands', () => {
    expect(blocks[0]).toEqual({ lang: 'sh', code: 'npm install && npm start\nnpm test\n' })
  })

  test('has runnable examples (the library example and it-pipe)', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(2)
  })

  runnable.forEach((block, i) => {
    test(`example ${i + 1} runs and prints what its comments say`, async () => {
      const expected = [...block.code.matchAll(/console\.log\([^\n]*\/\/ (.+)$/gm)].map((m) => m[1]!.trim())
      expect(expected.length).toBeGreaterThan(0)
      mkdirSync(TMP, { recursive: true })
      const file = `${TMP}example-${i + 1}.ts`
      // 'weft/node' is src/node.ts, any other 'weft/<module>' its src/<module>/index.ts
      writeFileSync(file, block.code.replaceAll("from 'weft/node'", `from '${ROOT}src/node.ts'`).replace(/from 'weft\/([a-z-]+)'/g, `from '${ROOT}src/$1/index.ts'`))
      const printed: string[] = []
      const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { printed.push(a.map(String).join(' ')) })
      try {
        await import(/* @vite-ignore */ file)
      } finally {
        log.mockRestore()
      }
      // lines the comments describe, in order (peer:identify lines may come in between)
      const tail = printed.filter((l) => !/^12D3KooW/.test(l))
      expect(tail).toEqual(expected)
    }, 30_000)
  })

  test('the weft inspect sample is what the CLI prints', async () => {
    const sample = /\$ node bin\/weft\.js inspect (\S+)\n([\s\S]*?)```/.exec(README)
    expect(sample).not.toBeNull()
    const r = await cli('inspect', sample![1]!)
    expect(r.code).toBe(0)
    expect(r.out.trim().split('\n').map((l) => l.trimEnd())).toEqual(sample![2]!.trim().split('\n').map((l) => l.trimEnd()))
  })
})
