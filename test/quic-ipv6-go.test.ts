/**
 * `/quic-v1` over IPv6 against go-libp2p (v0.48.0, interop/go's pin; quic-go inside) as a black box:
 * a small Go program listens on `/ip6/::1/udp/0/quic-v1` or dials a weft node there and pings it.
 * weft dials go and go dials weft, both over `::1`. Built offline from the Go module cache
 * (test/helpers/go-program.ts; skipped, saying why, where Go or the modules are missing).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { quic } from '../src/edge/quic-transport.js'
import { createNode, type WeftNode } from '../src/node.js'
import { buildGoProgram } from './helpers/go-program.js'

// the Go program lives in a .go file (Go import paths are quoted package names)
const GO_MAIN = readFileSync(new URL('./helpers/quic-ipv6-peer.go', import.meta.url), 'utf8')

let bin = ''
let skip: string | undefined
const procs: ChildProcess[] = []
const nodes: WeftNode[] = []

beforeAll(async () => {
  // interop/go's go.mod and go.sum (the pinned go-libp2p and everything under it), renamed
  const root = new URL('..', import.meta.url).pathname
  const mod = readFileSync(join(root, 'interop/go/go.mod'), 'utf8').replace(/^module .*$/m, 'module weft.test/quicipv6')
  const r = await buildGoProgram('weft-quic-ipv6-golibp2p', GO_MAIN, mod, readFileSync(join(root, 'interop/go/go.sum'), 'utf8'))
  bin = r.bin
  skip = r.skip
}, 300_000)
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })
afterAll(() => { for (const p of procs) p.kill() })

const lines = (p: ChildProcess): AsyncGenerator<string> => (async function * () {
  let buf = ''
  for await (const chunk of p.stdout!) {
    buf += String(chunk)
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { yield buf.slice(0, i); buf = buf.slice(i + 1) }
  }
  if (buf !== '') yield buf
})()

async function weft(): Promise<WeftNode> {
  const n = await createNode({ listen: ['/ip6/::1/udp/0/quic-v1'], transports: [quic()], services: {} })
  nodes.push(n)
  return n
}

describe('QUIC over IPv6 with go-libp2p', () => {
  test('weft dials go-libp2p at /ip6/::1/udp/<port>/quic-v1 and pings it', async (ctx) => {
    if (skip !== undefined) return ctx.skip()
    const p = spawn(bin, ['listen'], { stdio: ['pipe', 'pipe', 'inherit'] })
    procs.push(p)
    let addr = ''
    for await (const l of lines(p)) { if (l.includes('/quic-v1/')) { addr = l; break } }
    expect(addr).toMatch(/^\/ip6\/::1\/udp\/\d+\/quic-v1\/p2p\//)
    const n = await weft()
    expect(await n.ping(addr, { signal: AbortSignal.timeout(10_000) })).toBeGreaterThanOrEqual(0)
    expect(n.getConnections()[0]!.remoteAddr.toString()).toMatch(/^\/ip6\/::1\/udp\//)
    p.stdin!.end()
  }, 60_000)

  test('go-libp2p dials weft at /ip6/::1/udp/<port>/quic-v1 and pings it', async (ctx) => {
    if (skip !== undefined) return ctx.skip()
    const n = await weft()
    const addr = n.getMultiaddrs().find((a) => a.toString().startsWith('/ip6/'))!.toString()
    const p = spawn(bin, ['dial', addr], { stdio: ['ignore', 'pipe', 'inherit'] })
    procs.push(p)
    let out = ''
    for await (const l of lines(p)) out += l
    expect(out).toMatch(/^ok \S+ \/ip6\/::1\/udp\/\d+\/quic-v1/)
  }, 60_000)
})
