/**
 * The browser bundles whose size weft tracks: what they contain, and how they are built.
 *
 * Each bundle is an esbuild build of a small entry file (ESM, minified, tree-shaken, platform
 * browser) written from the repository's TypeScript sources, so building them needs neither tsc nor
 * a fresh dist/. Sizes are raw bytes and gzip -9 bytes of the output. Deterministic: used both by
 * `npm run bench -- size` and by test/size-budget.test.ts against bench/size-budget.json.
 *
 * A bundle whose `requires` path does not exist yet (gossipsub, Kademlia) is reported as not yet
 * built; its entry is a placeholder that keeps the whole module and should be revisited when the
 * module lands.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/** The repository root: the nearest folder above this file (or its bundled copy) whose package is weft. */
export const REPO = ((): string => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'weft') return dir
  }
  throw new Error('weft repository root not found')
})()

export interface BundleSpec {
  name: string
  description: string
  /** Entry source, resolved from the repository root. */
  entry: string
  /** Source folders that must exist for this bundle to be buildable. */
  requires: string[]
  /** Source folders that must NOT appear among the bundle's inputs. */
  forbid: string[]
}

const MINIMAL = `import { createNode } from './src/browser.ts'
const node = await createNode()
console.log(await node.ping(globalThis.WEFT_TARGET))
await node.stop()
`

export const BUNDLES: BundleSpec[] = [
  {
    name: 'browser-minimal',
    description: 'weft/browser createNode + ping (websocket, noise, yamux, identify, ping)',
    entry: MINIMAL,
    requires: ['src/browser.ts'],
    forbid: [],
  },
  {
    name: 'browser-gossipsub',
    description: 'browser-minimal + gossipsub',
    entry: `${MINIMAL}import * as gossipsub from './src/gossipsub/index.ts'\nconsole.log(gossipsub)\n`,
    requires: ['src/browser.ts', 'src/gossipsub/index.ts'],
    forbid: [],
  },
  {
    name: 'browser-kad',
    description: 'browser-minimal + gossipsub + Kademlia',
    entry: `${MINIMAL}import * as gossipsub from './src/gossipsub/index.ts'\nimport * as kad from './src/kad/index.ts'\nconsole.log(gossipsub, kad)\n`,
    requires: ['src/browser.ts', 'src/gossipsub/index.ts', 'src/kad/index.ts'],
    forbid: [],
  },
  {
    name: 'multiaddr',
    description: 'weft/multiaddr alone (every export kept)',
    entry: `export * from './src/multiaddr/index.ts'\n`,
    requires: ['src/multiaddr/index.ts'],
    forbid: ['src/noise/', 'src/yamux/'],
  },
  {
    name: 'peer-id',
    description: 'weft/peer-id alone (every export kept)',
    entry: `export * from './src/peer-id/index.ts'\n`,
    requires: ['src/peer-id/index.ts'],
    forbid: ['src/noise/', 'src/yamux/'],
  },
]

export type BundleResult =
  | { name: string; built: true; raw: number; gzip: number; inputs: string[]; forbiddenInputs: string[]; bytesByGroup: Record<string, number> }
  | { name: string; built: false; missing: string[] }

export async function buildBundle(spec: BundleSpec): Promise<BundleResult> {
  const missing = spec.requires.filter((p) => !existsSync(path.join(REPO, p)))
  if (missing.length > 0) return { name: spec.name, built: false, missing }
  const result = await build({
    stdin: { contents: spec.entry, resolveDir: REPO, sourcefile: `${spec.name}-entry.ts`, loader: 'ts' },
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const out = result.outputFiles[0]!.contents
  const inputs = Object.keys(result.metafile.inputs).sort()
  const forbiddenInputs = inputs.filter((i) => spec.forbid.some((f) => i.startsWith(f)))
  // minified bytes each package / source folder contributes (before gzip)
  const bytesByGroup: Record<string, number> = {}
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const g = groupOf(input)
      bytesByGroup[g] = (bytesByGroup[g] ?? 0) + bytesInOutput
    }
  }
  return { name: spec.name, built: true, raw: out.length, gzip: gzipSync(out, { level: 9 }).length, inputs, forbiddenInputs, bytesByGroup }
}

/** 'node_modules/@noble/curves/ed25519.js' -> '@noble/curves'; 'src/noise/state.ts' -> 'src/noise'. */
function groupOf(input: string): string {
  const nm = input.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const parts = input.slice(nm + 'node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const parts = input.split('/')
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : input
}

export async function buildAll(): Promise<BundleResult[]> {
  return Promise.all(BUNDLES.map(buildBundle))
}
