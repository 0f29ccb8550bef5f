/**
 * Keeps the architecture true (ARCHITECTURE.md §1, §2):
 * - protocol cores and the node edge are pure: no clock, timer, Math.random, Buffer, process or
 *   node: import outside src/io, src/cli and the entry points (src/node.ts, src/browser.ts);
 * - imports go one way: core <- multiaddr <- peer-id <- {multistream, noise, yamux} <- connection <-
 *   swarm <- behaviours <- node/browser/cli; io depends only on core, multiaddr and peer-id;
 * - a folder imports another folder only through its index.ts (core's primitives excepted).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { expect, test } from 'vitest'

const SRC = new URL('../src/', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? files(p) : e.name.endsWith('.ts') ? [p] : []
  })
}

const BEHAVIOURS = ['ping', 'identify', 'perf', 'kad', 'gossipsub', 'autonat', 'relay', 'dcutr', 'mdns', 'request-response', 'rendezvous']
const RANK: Record<string, number> = {
  core: 0, multiaddr: 1, websocket: 1, 'peer-id': 2, multistream: 3, noise: 3, yamux: 3, tls: 3, connection: 4, quic: 4, swarm: 5,
  ...Object.fromEntries(BEHAVIOURS.map((b) => [b, 6])), io: 7, metrics: 7, trace: 7, edge: 8,
}

/** The module a file belongs to: its top folder under src/, or 'edge' for entry points and the CLI. */
function moduleOf(rel: string): string {
  const top = rel.split('/')[0]!
  if (!rel.includes('/')) return 'edge' // src/index.ts, src/node.ts, src/browser.ts
  if (top === 'cli') return 'edge'
  return top
}

const IMPURE: Array<[RegExp, string]> = [
  [/\bDate\.now\s*\(/, 'Date.now'],
  [/\bnew Date\s*\(/, 'new Date'],
  [/\bperformance\.now\s*\(/, 'performance.now'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timer'],
  [/\bMath\.random\s*\(/, 'Math.random'],
  [/\bBuffer\b/, 'Buffer'],
  [/\bprocess\./, 'process'],
  [/from\s+['"]node:/, 'node: import'],
  [/import\s*\(\s*['"]node:/, 'node: import'],
  [/(?<!-)\bWebSocket\b(?!-)/, 'WebSocket'], // the global, not a Sec-WebSocket-* header name
  [/\bfetch\s*\(/, 'fetch'],
]

/**
 * Asynchrony and ambient randomness: allowed only in the promise adapters over a core (the guide's
 * `async.ts`; here the `*-api.ts` files of kad and gossipsub), the node edge, and the one randomness
 * source of the pure-JS crypto providers (core/crypto/random.ts). A core that awaited or drew its own randomness would no
 * longer be deterministic under the Pair harness and the simulations.
 */
const ASYNC_OR_RANDOM: Array<[RegExp, string]> = [
  [/\bqueueMicrotask\s*\(/, 'queueMicrotask'],
  [/\bnew Promise\b/, 'new Promise'],
  [/\basync\s+(function|\*|\(|[A-Za-z_$#][\w$]*\s*\()/, 'async function'],
  [/\bgetRandomValues\s*\(/, 'getRandomValues'],
]
const ASYNC_ALLOWED = (rel: string): boolean => rel.startsWith('edge/') || /(^|\/)(async|[\w-]+-api)\.ts$/.test(rel) || rel === 'core/crypto/random.ts'

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

test('protocol cores are pure', () => {
  const offences: string[] = []
  for (const f of files(SRC)) {
    const rel = relative(SRC, f)
    const mod = moduleOf(rel)
    // The IO edge: src/io, the CLI and the entry points. src/edge (the friendly API) is checked too:
    // it gets the clock and the transports handed in by the entry points.
    if (mod === 'io' || (mod === 'edge' && !rel.startsWith('edge/'))) continue
    const code = stripComments(readFileSync(f, 'utf8'))
    for (const [re, what] of IMPURE) if (re.test(code)) offences.push(`${rel}: ${what}`)
    if (!ASYNC_ALLOWED(rel)) for (const [re, what] of ASYNC_OR_RANDOM) if (re.test(code)) offences.push(`${rel}: ${what}`)
  }
  expect(offences).toEqual([])
})

test('the purity check catches what it claims to (each pattern on a sample)', () => {
  const samples = ['Date.now()', 'setTimeout(f, 1)', 'Math.random()', 'Buffer.from(x)', "import x from 'node:fs'", 'new WebSocket(u)', 'fetch(u)']
  for (const s of samples) expect(IMPURE.some(([re]) => re.test(s)), s).toBe(true)
  for (const s of ['queueMicrotask(f)', 'new Promise((r) => r())', 'async function f() {}', 'async #run() {}', 'crypto.getRandomValues(b)']) {
    expect(ASYNC_OR_RANDOM.some(([re]) => re.test(s)), s).toBe(true)
  }
  expect(ASYNC_ALLOWED('kad/dht-api.ts') && ASYNC_ALLOWED('edge/weft-node.ts') && !ASYNC_ALLOWED('kad/kad.ts')).toBe(true)
})

test('imports follow the dependency direction, through index.ts', () => {
  const offences: string[] = []
  for (const f of files(SRC)) {
    const rel = relative(SRC, f)
    const mod = moduleOf(rel)
    const code = stripComments(readFileSync(f, 'utf8'))
    for (const m of code.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
      const target = relative(SRC, join(f, '..', m[1]!))
      const tmod = moduleOf(target)
      if (tmod === mod) continue
      const rank = RANK[mod]
      const trank = RANK[tmod]
      if (rank === undefined || trank === undefined) {
        offences.push(`${rel}: unknown module ${rank === undefined ? mod : tmod} (add it to RANK)`)
        continue
      }
      if (mod === 'io' && !['core', 'multiaddr', 'peer-id', 'websocket'].includes(tmod)) offences.push(`${rel} -> ${target}: io depends only on core, multiaddr, peer-id, websocket`)
      else if (trank >= rank && mod !== 'io') offences.push(`${rel} -> ${target}: against the dependency direction`)
      if (tmod !== 'core' && !target.endsWith('/index.js') && !target.endsWith('/index.ts') && !target.startsWith('io/') && mod !== 'edge') {
        offences.push(`${rel} -> ${target}: import another module through its index.ts`)
      }
    }
  }
  expect(offences).toEqual([])
})
