/**
 * `weft trace` against a local `weft node --trace --keylog` (the built CLI, bin/weft.js; run
 * `npm run build` first): the trace prints every kind of event in order, exercises ping, kad,
 * gossipsub and a plain protocol, writes the keylog with mode 0600 (the same line on both sides);
 * the node prints its side of the connection; a failed dial is one typed error line and exit 1.
 * And createNode({ trace, keylog }) in-process, with the real decoders: identify decoded as sent.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { createNode, memory, type WeftNode } from '../src/node.js'
import type { TraceEvent } from '../src/trace/index.js'
import { KEYLOG_LABEL } from '../src/trace/index.js'
import { traceArgs } from '../src/cli/trace.js'
import { cli } from './helpers/cli.js'

const children: ChildProcess[] = []
const nodes: WeftNode[] = []
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM')
  await Promise.all(nodes.map((n) => n.stop()))
})

/** `weft node --json --trace --keylog <file>`: its stdout lines, live, and its first address once started. */
function traceNode(keylog: string): Promise<{ addr: string; lines: () => Array<Record<string, unknown>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-node-'))
  const child = spawn('node', ['bin/weft.js', 'node', '--identity', join(dir, 'id.key'), '--json', '--listen', '/ip4/127.0.0.1/tcp/0', '--trace', '--keylog', keylog], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  const lines = (): Array<Record<string, unknown>> => out.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not started within 20 s: ${out}`)), 20_000)
    child.stdout!.on('data', (d) => {
      out += d
      const started = lines().find((l) => l.event === 'started')
      if (started !== undefined) { clearTimeout(timer); resolve({ addr: (started.addrs as string[])[0]!, lines }) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)) })
  })
}

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (f()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('weft trace against weft node --trace', () => {
  test('every kind, in order; each --protocol exercised; the keylog on both sides; the node traces its side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-trace-cli-'))
    const nodeKeylog = join(dir, 'node.keys')
    const ourKeylog = join(dir, 'ours.keys')
    const server = await traceNode(nodeKeylog)
    const r = await cli('trace', server.addr, '--json', '--keylog', ourKeylog, '--duration', '200',
      '--protocol', 'ping', '--protocol', 'kad', '--protocol', 'gossipsub', '--protocol', '/ipfs/id/1.0.0')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const ev = r.out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as TraceEvent)
    const first = (f: (e: TraceEvent) => boolean): number => ev.findIndex(f)
    const kinds = new Set(ev.map((e) => e.kind))
    for (const k of ['transport', 'multistream', 'noise-handshake', 'yamux-frame', 'message', 'state'] as const) expect(kinds, k).toContain(k)
    expect(first((e) => e.kind === 'multistream' && e.line === '/noise')).toBeLessThan(first((e) => e.kind === 'noise-handshake'))
    expect(first((e) => e.kind === 'noise-handshake' && e.message === 3)).toBeLessThan(first((e) => e.kind === 'yamux-frame'))
    const protocols = new Set(ev.flatMap((e) => (e.kind === 'message' ? [e.protocol] : [])))
    for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/ipfs/kad/1.0.0']) expect(protocols, p).toContain(p)
    expect([...protocols].some((p) => p.startsWith('/meshsub/'))).toBe(true)
    // the plain protocol: opened, negotiated, closed
    expect(ev.some((e) => e.kind === 'state' && e.layer === 'stream' && e.to === 'negotiated' && e.protocol === '/ipfs/id/1.0.0')).toBe(true)
    // the close at the end: our GoAway and the connection's close
    expect(ev.some((e) => e.kind === 'state' && e.layer === 'yamux' && e.to === 'go-away')).toBe(true)
    expect(ev.some((e) => e.kind === 'state' && e.layer === 'connection' && e.to === 'closed')).toBe(true)

    // keylog: mode 0600, one line, the same keys on both sides
    await until(() => readFileSync(nodeKeylog, 'utf8').length > 0, 'the node keylog')
    for (const f of [ourKeylog, nodeKeylog]) expect(statSync(f).mode & 0o777).toBe(0o600)
    const ours = readFileSync(ourKeylog, 'utf8').trim().split('\n')
    expect(ours).toHaveLength(1)
    expect(ours[0]!.split(' ')[0]).toBe(KEYLOG_LABEL)
    expect(readFileSync(nodeKeylog, 'utf8').trim().split('\n')).toEqual(ours)
    // the ephemeral key in the keylog is message 1's, as both traces show it
    const m1 = ev.find((e) => e.kind === 'noise-handshake' && e.message === 1) as Extract<TraceEvent, { kind: 'noise-handshake' }>
    expect(ours[0]!.split(' ')[1]).toBe(m1.ephemeral)

    // the node's own trace of the same connection: message 1 inbound with the same ephemeral key
    await until(() => server.lines().some((l) => l.kind === 'state' && l.layer === 'connection' && l.to === 'closed'), 'the node trace')
    const theirs = server.lines().filter((l) => 'kind' in l) as unknown as TraceEvent[]
    expect(theirs.find((e) => e.kind === 'noise-handshake' && e.message === 1)).toMatchObject({ dir: 'in', ephemeral: m1.ephemeral })
    expect(theirs.some((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0' && e.dir === 'in')).toBe(true)
  }, 60_000)

  test('text form by default: one line per event with time, connection, direction, layer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-trace-cli-'))
    const server = await traceNode(join(dir, 'k'))
    const r = await cli('trace', server.addr, '--duration', '0')
    expect(r.code).toBe(0)
    const lines = r.out.split('\n').filter((l) => l !== '')
    expect(lines[0]).toMatch(/^\+0\.000ms c1 -   connection +upgrading \(dialer\)$/)
    expect(lines.some((l) => / c1 out noise +handshake message 1\/3 32 bytes e=[0-9a-f]{64}$/.test(l))).toBe(true)
    expect(lines.some((l) => / c1 in  \/ipfs\/ping\/1\.0\.0 stream=\d+ /.test(l))).toBe(true)
  }, 60_000)

  test('a failed dial: one typed error line, exit 1', async () => {
    const r = await cli('trace', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', '--duration', '0')
    expect(r.code).toBe(1)
    expect(r.err.split('\n')).toHaveLength(1)
    expect(r.err).toMatch(/^error: dial\//)
  }, 30_000)

  test('usage: a target is needed, --duration is checked, --pcap goes to the capture decryptor', () => {
    expect(() => traceArgs([])).toThrow(/usage: weft trace/)
    expect(() => traceArgs(['/ip4/1.2.3.4/tcp/1', '--duration', '-1'])).toThrow(/--duration/)
    expect(traceArgs(['--pcap', 'x', '--keylog', 'y'])).toBe('pcap')
    expect(traceArgs(['/ip4/1.2.3.4/tcp/1'])).toMatchObject({ protocols: ['ping'], json: false, durationMs: 500 })
  })
})

describe('createNode({ trace, keylog })', () => {
  test('the decoded identify is what the peer sent; one keylog line per connection; connection ids per node', async () => {
    const serverEvents: TraceEvent[] = []
    const server = await createNode({ listen: ['/memory/0'], transports: [memory()], agentVersion: 'trace-test/1', trace: (e) => serverEvents.push(e) })
    nodes.push(server)
    const events: TraceEvent[] = []
    const keys: string[] = []
    const client = await createNode({ listen: [], transports: [memory()], trace: (e) => events.push(e), keylog: (l) => keys.push(l) })
    nodes.push(client)
    let identified: { agentVersion?: string; protocols: string[] } | undefined
    client.on('peer:identify', (d) => { identified = d.info })
    await client.ping(server.getMultiaddrs()[0]!)
    await until(() => identified !== undefined && events.some((e) => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0' && e.dir === 'in'), 'identify')
    const id = events.find((e): e is Extract<TraceEvent, { kind: 'message' }> => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0' && e.dir === 'in')!
    expect(id.fields.agentVersion).toBe('trace-test/1')
    expect(id.fields.agentVersion).toBe(identified!.agentVersion)
    expect(id.fields.protocols).toEqual(identified!.protocols)
    expect(keys).toHaveLength(1)
    expect(new Set(events.map((e) => e.conn))).toEqual(new Set(['c1']))
    // the server's tracer numbers its own connections
    expect(serverEvents.some((e) => e.kind === 'noise-handshake' && e.dir === 'in' && e.message === 1 && e.conn === 'c1')).toBe(true)
    // a node without trace options works as before with a tracing peer, which numbers it c2
    const plain = await createNode({ listen: [], transports: [memory()] })
    nodes.push(plain)
    await plain.ping(server.getMultiaddrs()[0]!)
    await until(() => serverEvents.some((e) => e.conn === 'c2' && e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0'), 'the second connection')
  }, 30_000)
})
