/**
 * The browser bundles whose size weft tracks: what they contain, and how they are built.
 *
 * Each bundle is an esbuild build of a small entry file (ESM, minified, tree-shaken, platform
 * browser) written from the repository's TypeScript sources, so building them needs neither tsc nor
 * a fresh dist/; the sources go through `webMessages` (code-only error messages), as dist/web/ does. Sizes are raw bytes and gzip -9 bytes of the output. Deterministic: used both by
 * `npm run bench -- size` and by test/size-budget.test.ts against bench/size-budget.json.
 *
 * A bundle whose `requires` path does not exist is reported as not built.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'
import { stripMessages } from '../scripts/strip-messages.mjs'

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
  /**
   * Text that must not appear in the output: a mark of code that belongs elsewhere (perf's client
   * in the perf service, not in every node). Checked by test/size-budget.test.ts.
   */
  forbidText?: string[]
}

/**
 * What only weft/node needs (issue 15): discovery and auto-dial, the gater and per-IP limits, node
 * transports and crypto, the tracer (weft/node's `trace` option), and the services weft/node adds
 * by default. No browser bundle may carry any of it; the services' own bundles add theirs.
 */
const NODE_ONLY = [
  'node_modules/@noble/', // compactCrypto replaces @noble/* in browsers (~17 KB gzip)
  'src/edge/discovery.ts', 'src/swarm/gater.ts', 'src/swarm/ip-limits.ts', 'src/swarm/guards.ts',
  'src/io/tcp.ts', 'src/io/ws.ts', 'src/io/memory.ts', 'src/io/crypto-node.ts', 'src/io/system-memory.ts',
  'src/trace/', 'src/metrics/', 'src/perf/', 'src/edge/perf-service.ts',
  'src/mdns/', 'src/rendezvous/', 'src/relay/', 'src/autonat/', 'src/dcutr/', 'src/request-response/',
]
/** Marks of perf's client (src/edge/perf-service.ts) and of discovery events in the node's own code. */
const NODE_ONLY_TEXT = ['perf-progress', 'perf:served']

const MINIMAL = `import { createNode } from './src/browser.ts'
const node = await createNode()
console.log(await node.ping(globalThis.WEFT_TARGET))
await node.stop()
`

// The service bundles use the services as an application does (README, "services"): createNode with
// the service, then its API. Until 2026-12-06 they imported `* as` the whole module and logged it,
// which kept every export (IPNS and record helpers, scoring internals) whether used or not.
const GOSSIPSUB = `import { createNode, gossipsub } from './src/browser.ts'
const node = await createNode({ services: { pubsub: gossipsub() } })
node.pubsub.subscribe('news')
node.pubsub.on('message', (m) => console.log(m.topic, m.data))
console.log(await node.pubsub.publish('news', 'hello'), await node.ping(globalThis.WEFT_TARGET))
await node.stop()
`

const KAD = `import { createNode, gossipsub, kadDht } from './src/browser.ts'
const node = await createNode({ services: { dht: kadDht({ mode: 'client' }), pubsub: gossipsub() } })
node.pubsub.subscribe('news')
node.pubsub.on('message', (m) => console.log(m.topic, m.data))
console.log(await node.pubsub.publish('news', 'hello'), await node.ping(globalThis.WEFT_TARGET))
await node.dht.bootstrap()
await node.dht.put(new Uint8Array(1), new Uint8Array(1))
console.log(await node.dht.get(new Uint8Array(1)), await node.dht.findPeer(globalThis.WEFT_PEER))
console.log(await node.dht.findProviders(globalThis.WEFT_CID))
await node.dht.provide(globalThis.WEFT_CID)
await node.stop()
`

export const BUNDLES: BundleSpec[] = [
  {
    name: 'browser-minimal',
    description: 'weft/browser createNode + ping (websocket, noise, yamux, identify, ping)',
    entry: MINIMAL,
    requires: ['src/browser.ts'],
    forbid: [...NODE_ONLY, 'src/kad/', 'src/gossipsub/'],
    forbidText: NODE_ONLY_TEXT,
  },
  {
    name: 'browser-gossipsub',
    description: 'browser-minimal + gossipsub',
    entry: GOSSIPSUB,
    requires: ['src/browser.ts', 'src/gossipsub/index.ts'],
    forbid: [...NODE_ONLY, 'src/kad/'],
    forbidText: NODE_ONLY_TEXT,
  },
  {
    name: 'browser-kad',
    description: 'browser-minimal + gossipsub + Kademlia',
    entry: KAD,
    requires: ['src/browser.ts', 'src/gossipsub/index.ts', 'src/kad/index.ts'],
    forbid: NODE_ONLY,
    forbidText: NODE_ONLY_TEXT,
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

/**
 * What a browser application gets: package.json's `browser` export condition selects dist/web/, whose
 * modules have code-only error messages (scripts/strip-messages.mjs, run by `npm run build`). The
 * bundles here are built from src/ through the same function, so they weigh what an application's do.
 */
export const webMessages: Plugin = {
  name: 'weft-web-messages',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => ({ contents: stripMessages(readFileSync(args.path, 'utf8'), args.path).code, loader: 'ts' }))
  },
}

export type BundleResult =
  | { name: string; built: true; raw: number; gzip: number; inputs: string[]; forbiddenInputs: string[]; forbiddenText: string[]; bytesByGroup: Record<string, number> }
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
    plugins: [webMessages],
  })
  const out = result.outputFiles[0]!.contents
  const inputs = Object.keys(result.metafile.inputs).sort()
  // an input counts when it puts bytes in the output (the metafile also lists modules tree-shaken to nothing)
  const emitting = Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k))
  const forbiddenInputs = [...new Set(emitting)].filter((i) => spec.forbid.some((f) => i.startsWith(f))).sort()
  const text = new TextDecoder().decode(out)
  const forbiddenText = (spec.forbidText ?? []).filter((t) => text.includes(t))
  // minified bytes each package / source folder contributes (before gzip)
  const bytesByGroup: Record<string, number> = {}
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const g = groupOf(input)
      bytesByGroup[g] = (bytesByGroup[g] ?? 0) + bytesInOutput
    }
  }
  return { name: spec.name, built: true, raw: out.length, gzip: gzipSync(out, { level: 9 }).length, inputs, forbiddenInputs, forbiddenText, bytesByGroup }
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

export interface InputCost {
  /** A source file, or a group (package / source folder) when grouped. */
  input: string
  /** Minified bytes in the output (esbuild metafile). */
  minified: number
  /** gzip -9 bytes the bundle would lose without these output bytes (whole bundle minus the rest). */
  gzip: number
}

export interface BundleExplanation { name: string; raw: number; gzip: number; files: InputCost[]; groups: InputCost[]; sets: InputCost[] }

/**
 * Where a bundle's bytes come from: each input's minified bytes (esbuild metafile) and its marginal
 * gzip bytes, i.e. gzip(bundle) - gzip(bundle without that input's output bytes), with the output
 * bytes attributed to inputs through the source map. Marginal gzip figures do not add up to the
 * total (text shared between inputs compresses against each other), but each says what taking that
 * input out would save. Used by `npm run bench -- size --why` and bench/size-why.mjs.
 */
export async function explainBundle(spec: BundleSpec, sets: Record<string, string[]> = {}): Promise<BundleExplanation | undefined> {
  const missing = spec.requires.filter((p) => !existsSync(path.join(REPO, p)))
  if (missing.length > 0) return undefined
  const result = await build({
    stdin: { contents: spec.entry, resolveDir: REPO, sourcefile: `${spec.name}-entry.ts`, loader: 'ts' },
    bundle: true, minify: true, treeShaking: true, format: 'esm', platform: 'browser', target: 'es2022',
    write: false, metafile: true, logLevel: 'silent', sourcemap: 'external', outfile: 'out.js', plugins: [webMessages],
  })
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!.contents
  const map = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))!.text) as { sources: string[]; mappings: string }
  const owner = attribute(js, map)
  const sources = map.sources.map((s) => path.relative(REPO, path.resolve(REPO, s)))
  const total = gzipSync(js, { level: 9 }).length
  const without = (drop: (src: number) => boolean): number => {
    const keep = new Uint8Array(js.length)
    let n = 0
    for (let i = 0; i < js.length; i++) if (!drop(owner[i]!)) keep[n++] = js[i]!
    return total - gzipSync(keep.subarray(0, n), { level: 9 }).length
  }
  const minified = new Map<string, number>()
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) minified.set(input, (minified.get(input) ?? 0) + bytesInOutput)
  }
  const files: InputCost[] = []
  const groups = new Map<string, { minified: number; srcs: Set<number> }>()
  sources.forEach((s, i) => {
    const key = [...minified.keys()].find((k) => path.relative(REPO, path.resolve(REPO, k)) === s) ?? s
    const m = minified.get(key) ?? 0
    files.push({ input: s, minified: m, gzip: without((o) => o === i) })
    const g = groups.get(groupOf(s)) ?? { minified: 0, srcs: new Set<number>() }
    g.minified += m
    g.srcs.add(i)
    groups.set(groupOf(s), g)
  })
  const byGzip = (a: InputCost, b: InputCost): number => b.gzip - a.gzip || b.minified - a.minified
  // named sets of inputs (path prefixes), each measured as one: what taking all of them out would save
  const setCosts = Object.entries(sets).map(([input, prefixes]) => {
    const srcs = new Set(sources.flatMap((s, i) => (prefixes.some((p) => s.startsWith(p)) ? [i] : [])))
    const m = files.filter((f) => prefixes.some((p) => f.input.startsWith(p))).reduce((a, f) => a + f.minified, 0)
    return { input, minified: m, gzip: without((o) => srcs.has(o)) }
  })
  return {
    name: spec.name, raw: js.length, gzip: total, sets: setCosts,
    files: files.sort(byGzip),
    groups: [...groups].map(([input, g]) => ({ input, minified: g.minified, gzip: without((o) => g.srcs.has(o)) })).sort(byGzip),
  }
}

/** Owner source index of each output byte (-1 = esbuild's own glue), from the source map's mappings. */
function attribute(js: Uint8Array, map: { mappings: string }): Int32Array {
  const owner = new Int32Array(js.length).fill(-1)
  // byte offset of each generated line (source map columns count UTF-16 units; minified output is ASCII
  // apart from string literals, close enough for attribution)
  const lineStart = [0]
  for (let i = 0; i < js.length; i++) if (js[i] === 0x0a) lineStart.push(i + 1)
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  let src = 0
  let prevPos = -1
  let prevSrc = -1
  map.mappings.split(';').forEach((line, li) => {
    let col = 0
    for (const seg of line.split(',')) {
      if (seg === '') continue
      const vals: number[] = []
      let v = 0
      let shift = 0
      for (const ch of seg) {
        const d = B64.indexOf(ch)
        v += (d & 31) << shift
        if (d & 32) { shift += 5; continue }
        vals.push(v & 1 ? -(v >>> 1) : v >>> 1)
        v = 0
        shift = 0
      }
      col += vals[0]!
      if (vals.length > 1) src += vals[1]!
      const pos = lineStart[li]! + col
      if (prevPos >= 0) owner.fill(prevSrc, prevPos, pos)
      prevPos = pos
      prevSrc = vals.length > 1 ? src : -1
    }
  })
  if (prevPos >= 0) owner.fill(prevSrc, prevPos, js.length)
  return owner
}
