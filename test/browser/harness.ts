/**
 * What the Chromium suite (test/browser/chromium.test.ts) stands on: the page bundle, the HTTP
 * server that serves it, the three peers (go and rust interop peers in `scenario=browser` mode,
 * interop/go/browser_peer.go and interop/rust/src/browser_peer.rs, and a weft node in this
 * process) and Chromium itself (Debian's /usr/bin/chromium, driven by playwright-core).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { chromium, type Browser } from 'playwright-core'
import { REPO, webMessages } from '../../bench/bundles.js'
import { createNode, gossipsub, kadDht, type WeftNode } from '../../src/node.js'
import { PeerId } from '../../src/peer-id/index.js'

export const TOPIC = 'weft-browser'
export const ECHO = '/weft/echo/1.0.0'
export const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium'

/** What a peer announced about itself (the one JSON line the interop peers print; the weft peer builds the same). */
export interface PeerInfo {
  addr: string
  peerId: string
  agentVersion: string
  protocols: string[]
  topic: string
  echo: string
  /** The provider record it holds is for sha256 multihash of this text. */
  provide: string
  /** Peers in its routing table (kad servers, reachable over WebSocket). */
  neighbours: string[]
}

export interface RunningPeer {
  name: 'go' | 'rust' | 'weft'
  info: PeerInfo
  /** Last lines of the peer's log (stderr), for failure messages. */
  log: () => string
  stop: () => Promise<void>
}

/** The page bundle: test/browser/page.ts as an embedder would ship it (esbuild, ESM, minified, platform browser). */
export async function buildPage(): Promise<{ js: Uint8Array; raw: number; gzip: number }> {
  const result = await build({
    entryPoints: [path.join(REPO, 'test/browser/page.ts')],
    bundle: true, minify: true, treeShaking: true, format: 'esm', platform: 'browser', target: 'es2022',
    write: false, logLevel: 'silent', plugins: [webMessages],
  })
  const js = result.outputFiles[0]!.contents
  return { js, raw: js.length, gzip: gzipSync(js, { level: 9 }).length }
}

/** A tiny HTTP server: `/` is the page, `/weft.js` the bundle. */
export async function servePage(js: Uint8Array): Promise<{ url: string; close: () => Promise<void> }> {
  const html = '<!doctype html><meta charset="utf-8"><title>weft in Chromium</title><script type="module" src="/weft.js"></script>'
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
    else if (url.pathname === '/weft.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (.ci/run installs it)`)
  // Chromium's sandbox refuses to run as root (CI containers); the page is our own code. Containers
  // often have a 64 MB /dev/shm, too small for Chromium's shared memory: use /tmp instead.
  const args = ['--disable-dev-shm-usage', ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])]
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args })
}

/** Builds (cached) and starts an interop peer in browser mode; resolves with its JSON line. */
export async function startInteropPeer(name: 'go' | 'rust'): Promise<RunningPeer> {
  const script = path.join(REPO, 'interop', name, 'build.sh')
  // asynchronous, so that the go and rust builds (minutes when cold) run side by side
  const bin = await new Promise<string>((resolve, reject) => {
    const b = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    b.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    b.on('error', reject)
    // 'close', not 'exit': 'exit' may come before the last stdout bytes (the binary's path) were read
    b.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').pop()!) : reject(new Error(`${script} failed (exit ${code})`))))
  })
  const child: ChildProcess = spawn(bin, [], {
    env: { ...process.env, scenario: 'browser', ip: '127.0.0.1', test_timeout_seconds: '600', RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  createInterface({ input: child.stderr! }).on('line', (l) => { lines.push(l); if (lines.length > 200) lines.shift() })
  const log = (): string => lines.slice(-40).join('\n')
  const info = await new Promise<PeerInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} peer printed no address within 30 s:\n${log()}`)), 30_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} peer exited (${code}) before its address:\n${log()}`)) })
    createInterface({ input: child.stdout! }).once('line', (l) => { clearTimeout(timer); resolve(JSON.parse(l) as PeerInfo) })
  })
  return {
    name, info, log,
    stop: async () => {
      if (child.exitCode !== null) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.stdin!.end() // the peers exit when stdin closes
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(t)
    },
  }
}

/** The weft peer: a weft/node in this process doing what the interop peers do in browser mode. */
export async function startWeftPeer(): Promise<RunningPeer> {
  const agentVersion = 'weft-interop (browser)'
  const mk = (): Promise<WeftNode> => createNode({
    listen: ['/ip4/127.0.0.1/tcp/0/ws'], agentVersion,
    services: { pubsub: gossipsub(), dht: kadDht({ mode: 'server' }) },
    discovery: { autoDial: false },
  })
  const nodes = await Promise.all([mk(), mk(), mk()])
  const [node, ...neighbours] = nodes as [WeftNode, WeftNode, WeftNode]
  const lines: string[] = []
  node.on('error', ({ error, origin }) => lines.push(`error (${origin}): ${error.message}`))
  node.handle(ECHO, async (s) => { await s.sink(s.source) }) // every byte back until EOF, then close
  node.pubsub.subscribe(TOPIC)
  node.pubsub.on('message', (m) => {
    if (m.topic !== TOPIC || m.from?.equals(node.peerId)) return
    const text = new TextDecoder().decode(m.data)
    lines.push(`gossipsub: ${text}`)
    node.pubsub.publish(TOPIC, `weft echo: ${text}`).catch((e: Error) => lines.push(`publish: ${e.message}`))
  })
  for (const n of neighbours) {
    const identified = new Promise<void>((resolve) => node.on('peer:identify', ({ peer }) => { if (peer.equals(n.peerId)) resolve() }))
    await node.dial(n.getMultiaddrs()[0]!)
    await identified
  }
  const own = node.peerId.multihash
  await node.dht.put(pkKey(own), node.privateKey.publicKey.bytes)
  await node.dht.provide(provideKey('provide/browser-weft'))
  const addr = node.getMultiaddrs().find((a) => a.toString().includes('/ws'))!.toString()
  const protocols = [...node.swarm.protocols()].sort()
  return {
    name: 'weft',
    info: { addr, peerId: node.peerId.toString(), agentVersion, protocols, topic: TOPIC, echo: ECHO, provide: 'provide/browser-weft', neighbours: neighbours.map((n) => n.peerId.toString()) },
    log: () => lines.slice(-40).join('\n'),
    stop: async () => { await Promise.all(nodes.map((n) => n.stop())) },
  }
}

const enc = new TextEncoder()
/** The provider key the peers hold: the sha2-256 multihash of `text`. */
export const provideKey = (text: string): Uint8Array => Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(text).digest()])
/** The /pk record key of a peer: "/pk/" + its multihash. */
export const pkKey = (multihash: Uint8Array): Uint8Array => Uint8Array.from([...enc.encode('/pk/'), ...multihash])
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** The multihash of a peer id in text form, and (Ed25519 ids being identity multihashes) its public key protobuf. */
export function peerKeys(id: string): { multihash: Uint8Array; publicKey: Uint8Array } {
  const mh = PeerId.parse(id).multihash
  return { multihash: mh, publicKey: mh.subarray(2) }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
