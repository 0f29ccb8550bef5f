/**
 * A 15-second soak (bench/soak.mjs): one node in its own process under churn of honest and hostile
 * peers. The soak imports a build; this test transpiles the current src/ into
 * node_modules/.cache/weft-soak-test (esbuild, one file per module, well under a second) so it never
 * measures a stale dist/. Asserts the result's shape, that churn happened, and that nothing
 * unexpected escaped in the target (no untyped connection error, no uncaughtException or
 * unhandledRejection) or in the churn (no untyped error, no echo mismatch).
 */
import { spawn } from 'node:child_process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'

const root = resolve(import.meta.dirname, '..')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

async function buildSrc(): Promise<string> {
  const base = join(root, 'node_modules', '.cache', 'weft-soak-test')
  const out = join(base, 'dist')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  writeFileSync(join(base, 'package.json'), '{ "type": "module" }\n')
  await build({ entryPoints: sources(join(root, 'src')), outdir: out, outbase: join(root, 'src'), format: 'esm', platform: 'node', target: 'node20', bundle: false, logLevel: 'warning' })
  return pathToFileURL(out).href + '/'
}

function runSoak(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [join(root, 'bench', 'soak.mjs'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    p.on('error', rej)
    p.on('close', (code) => res({ code, stdout, stderr }))
  })
}

test('a 15-second soak: churn happens, nothing unexpected escapes, the result has the documented shape', async () => {
  const dist = await buildSrc()
  const { code, stdout, stderr } = await runSoak({ WEFT_SOAK_DIST: dist }, ['--minutes', '0.25', '--json', '--rate', '5', '--seed', '7'])
  expect(code, stderr).toBe(0)
  const r = JSON.parse(stdout) as Record<string, unknown> & { churn: { episodes: number; hostile: number; honest: number; unexpectedErrors: unknown[] }; targetUnexpected: { first: unknown[] } }
  for (const k of ['minutes', 'connectionsOpened', 'streamsOpened', 'errorsUnexpected', 'heapStartMiB', 'heapEndMiB', 'rssStartMiB', 'rssEndMiB', 'eventLoopDelayP99Ms']) {
    expect(typeof r[k], k).toBe('number')
  }
  expect(r.minutes).toBe(0.25)
  expect(r.gcForced).toBe(true)
  expect(r.startNote).toMatch(/shorter than 2 minutes/)
  expect(r.churn.honest).toBeGreaterThan(0)
  expect(r.churn.hostile).toBeGreaterThan(0)
  expect(r.connectionsOpened as number).toBeGreaterThan(0)
  expect(r.streamsOpened as number).toBeGreaterThan(0)
  expect(r.errorsUnexpected, JSON.stringify({ target: r.targetUnexpected.first, churn: r.churn.unexpectedErrors }, null, 1)).toBe(0)
}, 120_000)

/**
 * Found by the soak's heap snapshots: a departed peer cost ~5 KiB in the peer store, half of it two
 * peer-id texts held as V8 cons-string ropes (base58 built one `+=` per character: ~45 rope cells
 * of 32 bytes, ~1.4 KiB per 52-character text). Texts are flat now.
 */
test('a peer id text costs tens of bytes of heap, not a kilobyte-sized string rope', () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const ids = Array.from({ length: 2000 }, () => generatePrivateKey(nodeCrypto).publicKey.toPeerId())
  gc()
  const before = process.memoryUsage().heapUsed
  const texts = ids.map((id) => id.toString())
  gc()
  const perText = (process.memoryUsage().heapUsed - before) / texts.length
  expect(texts.every((t) => t.length > 40)).toBe(true)
  expect(perText).toBeLessThan(400) // a flat 52-byte one-byte string is ~72 bytes; the rope was ~1,450
})

/**
 * Found by the soak's heap snapshots: PublicKey.bytes was a 36-byte view of the protobuf writer's
 * shared 8 KiB output block, so each long-lived key (peer store, kad interns, gossipsub author
 * cache) could keep 8 KiB of external memory alive. Keys keep their own copies now.
 */
test('a key keeps its own protobuf bytes, not a view pinning a shared 8 KiB block', () => {
  const priv = generatePrivateKey(nodeCrypto)
  for (const u of [priv.publicKey.bytes, priv.bytes, priv.publicKey.toPeerId().publicKey!.bytes]) {
    expect(u.byteOffset).toBe(0)
    expect(u.buffer.byteLength).toBe(u.length)
  }
})
