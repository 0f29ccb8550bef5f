/**
 * CLI start-up (issue 15, bench/README.md "Start-up"): the bundle of scripts/bundle-cli.mjs, built
 * into a temporary folder with its metafile. What a command reads at start is the entry chunk's
 * static-import closure plus its own chunk's; `weft version`/`help` must read only main.ts and its
 * few helpers, and `weft inspect` must not read the node, transports, Noise, yamux, the crypto
 * providers, @noble/curves or ws (their import is what made a fresh `weft inspect` take 230 ms more
 * than `node -e 0`). The bundle itself must run: `inspect` and the private-key form, whose crypto
 * provider is imported only then.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs build script without declarations
import { bundleCli } from '../scripts/bundle-cli.mjs'

interface Meta {
  outputs: Record<string, { entryPoint?: string; imports: Array<{ path: string; kind: string }>; inputs: Record<string, unknown> }>
}

let dir = ''
let meta: Meta
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'weft-cli-bundle-'))
  meta = (await bundleCli(dir, { metafile: true })).metafile as Meta
})
afterAll(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }) })

/** The source files a process reads when it loads the output built from `entry` (static imports only). */
function loaded(entry: string): string[] {
  const outs = Object.entries(meta.outputs)
  const start = outs.find(([, o]) => o.entryPoint === entry)
  if (start === undefined) throw new Error(`no output for ${entry}`)
  const seen = new Set<string>()
  const todo = [start[0]]
  while (todo.length > 0) {
    const f = todo.pop()!
    if (seen.has(f)) continue
    seen.add(f)
    for (const i of meta.outputs[f]!.imports) if (i.kind === 'import-statement' && meta.outputs[i.path] !== undefined) todo.push(i.path)
  }
  return [...seen].flatMap((f) => Object.keys(meta.outputs[f]!.inputs)).sort()
}

describe('the CLI bundle', () => {
  test('weft version and help load main.ts and its small helpers only', () => {
    expect(loaded('src/cli/main.ts')).toEqual(['src/cli/args.ts', 'src/cli/error-line.ts', 'src/cli/main.ts', 'src/core/close-codes.ts', 'src/core/errors.ts', 'src/edge/version.ts'])
  })

  test('weft inspect loads multiaddr and peer-id code, not the node, transports or crypto providers', () => {
    const files = [...loaded('src/cli/main.ts'), ...loaded('src/cli/inspect.ts')]
    expect(files).toContain('src/multiaddr/multiaddr.ts')
    expect(files).toContain('src/peer-id/peer-id.ts')
    const heavy = files.filter((f) => /^src\/(node|browser)\.ts$|^src\/(io|noise|yamux|swarm|edge\/weft-node|core\/crypto\/noble)|@noble\/curves|@noble\/ciphers|node_modules\/ws\//.test(f))
    expect(heavy).toEqual([])
  })

  test('weft ping and weft id load the node, not the optional services (DHT, gossipsub, relay, AutoNAT, DCUtR, metrics, mDNS, rendezvous) nor ws', () => {
    const entry = Object.values(meta.outputs).find((o) => o.entryPoint === 'src/cli/main.ts')!
    // the chunk main.ts imports for `ping` (and `id`): its dynamic import of the command's module
    const command = entry.imports.filter((i) => i.kind === 'dynamic-import').map((i) => meta.outputs[i.path]!).find((o) => o.entryPoint === 'src/cli/ping-cmd.ts')
    expect(command).toBeDefined()
    const files = [...loaded('src/cli/main.ts'), ...loaded('src/cli/ping-cmd.ts')]
    expect(files).toContain('src/create-node.ts')
    expect(files).toContain('src/noise/handshake-state.ts')
    // nor ws: the WebSocket transport imports it on its first dial or listen
    const optional = files.filter((f) => /^src\/(kad|gossipsub|relay|autonat|dcutr|metrics|mdns|rendezvous)\/|^src\/io\/(mdns-socket|metrics-http)\.ts$|node_modules\/ws\//.test(f))
    expect(optional).toEqual([])
  })

  test('the bundle runs: a multiaddr, and a private key protobuf (its crypto provider imported on demand)', () => {
    const script = path.join(dir, 'run.mjs')
    writeFileSync(script, "import { main } from './weft.mjs'\nprocess.exitCode = await main(process.argv.slice(2))\n")
    const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 15_000 })
    const ma = run('inspect', '/ip4/192.0.2.42/tcp/443')
    expect(ma.status).toBe(0)
    expect(ma.stdout).toContain('04c000022a0601bb')
    // Ed25519 private key protobuf of the seed 32 zero bytes (the perf server's identity)
    const key = run('inspect', `08011240${'00'.repeat(32)}3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29`)
    expect(key.stderr).toBe('')
    expect(key.stdout).toContain('private-key Ed25519')
    expect(key.stdout).toContain('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
  })
})

describe('bin/weft.js', () => {
  test('runs the bundle only when it is at least as new as dist/cli/main.js, else dist/', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'weft-bin-'))
    try {
      mkdirSync(path.join(root, 'bin'))
      mkdirSync(path.join(root, 'dist/cli/bundle'), { recursive: true })
      copyFileSync(path.join(import.meta.dirname, '../bin/weft.js'), path.join(root, 'bin/weft.js'))
      writeFileSync(path.join(root, 'package.json'), '{"type":"module"}')
      const entry = (form: string) => `export async function main(argv) { console.log('${form}', argv.join(' ')); return 0 }\n`
      writeFileSync(path.join(root, 'dist/cli/main.js'), entry('dist'))
      const bundle = path.join(root, 'dist/cli/bundle/weft.mjs')
      const weft = () => spawnSync(process.execPath, [path.join(root, 'bin/weft.js'), 'version'], { encoding: 'utf8', timeout: 15_000 }).stdout.trim()
      expect(weft()).toBe('dist version') // no bundle
      writeFileSync(bundle, entry('bundle'))
      const t = Date.now() / 1000
      utimesSync(path.join(root, 'dist/cli/main.js'), t - 60, t - 60)
      utimesSync(bundle, t, t)
      expect(weft()).toBe('bundle version')
      utimesSync(bundle, t - 120, t - 120) // tsc rebuilt dist/ after the bundle: the bundle is stale
      expect(weft()).toBe('dist version')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
