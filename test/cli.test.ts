import { execFile, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { createNode, nodeCrypto, perf, type WeftNode } from '../src/node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { PERF_SERVER_SEED, heapGrowingGiven } from '../src/cli/perf.js'

const run = promisify(execFile)


const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

describe('weft inspect', () => {
  test('a multiaddr in text prints its bytes', async () => {
    const r = await cli('inspect', '/ip4/192.0.2.42/tcp/443')
    expect(r.code).toBe(0)
    expect(r.out).toContain('04c000022a0601bb')
    expect(r.out).toMatch(/ip4\s+code 4\s+192\.0\.2\.42/)
  })
  test('a multiaddr in hex decodes to text; --json is one object', async () => {
    const r = await cli('inspect', '04c000022a0601bb', '--json')
    expect(JSON.parse(r.out)).toMatchObject({ kind: 'multiaddr', text: '/ip4/192.0.2.42/tcp/443' })
  })
  test('a peer id in base58 and CID form, with its embedded key', async () => {
    const r = await cli('inspect', '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq', '--json')
    const j = JSON.parse(r.out)
    expect(j).toMatchObject({ kind: 'peer-id', keyType: 'Ed25519', multihash: { name: 'identity' } })
    const back = JSON.parse((await cli('inspect', j.cid, '--json')).out)
    expect(back.base58).toBe('12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq')
  })
  test('a key protobuf in hex gives its peer id', async () => {
    const pid = JSON.parse((await cli('inspect', '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq', '--json')).out)
    const r = JSON.parse((await cli('inspect', pid.publicKey, '--json')).out)
    expect(r).toMatchObject({ kind: 'public-key', keyType: 'Ed25519', peerId: '12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq' })
  })
  test('a mistyped multiaddr is a UsageError printed as its code, exit 1', async () => {
    const r = await cli('ping', '/ip4/127.0.0.1/tcp/70000')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error: multiaddr\/invalid-port: /)
    expect(r.err.split('\n')).toHaveLength(1)
  })
  test('invalid input: exit 1 and one line naming the error code', async () => {
    for (const bad of ['/ip4/1.2.3.4/tcp/70000', '/ip4/300.1.1.1', 'not-a-thing', '0102']) {
      const r = await cli('inspect', bad)
      expect(r.code).toBe(1)
      expect(r.err.split('\n')).toHaveLength(1)
      expect(r.err).toMatch(/^error: [a-z0-9-]+\/[a-z0-9-]+/)
    }
  })
})

describe('weft ping / id / usage', () => {
  test('ping prints each RTT as JSON', async () => {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(n)
    const r = await cli('ping', n.getMultiaddrs()[0]!.toString(), '--count', '2', '--json')
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ seq: 0, peer: n.peerId.toString() })
  })
  test('id prints the identify record', async () => {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(n)
    const r = await cli('id', n.getMultiaddrs()[0]!.toString(), '--json')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.agentVersion).toMatch(/^weft\//)
    expect(j.protocols).toContain('/ipfs/id/1.0.0')
    expect(j.signedPeerRecord.addrs.length).toBeGreaterThan(0)
  })
  test('an unreachable peer is one line and exit 1', async () => {
    const r = await cli('ping', '/ip4/127.0.0.1/tcp/1', '--count', '1')
    expect(r.code).toBe(1)
    // a DialError (dial/all-failed) that names each address's cause, or the bare transport error
    expect(r.err).toMatch(/^error: (dial\/all-failed: .*)?transport\/refused/)
  })
  test('unknown commands and missing arguments are usage errors', async () => {
    expect((await cli('frobnicate')).code).toBe(1)
    expect((await cli('ping')).code).toBe(1)
    expect((await cli('ping', '/ip4/127.0.0.1/tcp/1', '--count', 'x')).code).toBe(1)
    expect((await cli('help')).code).toBe(0)
  })
  test('an unknown flag is a usage error naming it, for every command (--listn is not ignored)', async () => {
    const cases: string[][] = [
      ['node', '--listn', '/ip4/127.0.0.1/tcp/0'],
      ['ping', '/ip4/127.0.0.1/tcp/1', '--cuont', '1'],
      ['id', '/ip4/127.0.0.1/tcp/1', '--jsn'],
      ['inspect', '/ip4/1.2.3.4', '--verbose'],
      ['sub', 't', '--peers', '/ip4/127.0.0.1/tcp/1'],
      ['pub', 't', 'm', '--wiat', '1'],
      ['dht', 'get', 'k', '--bootstrp', '/ip4/127.0.0.1/tcp/1'],
      ['perf', '--server-adress', '127.0.0.1:1'],
    ]
    for (const argv of cases) {
      const r = await cli(...argv)
      expect(r.code, argv.join(' ')).toBe(1)
      expect(r.err.split('\n'), argv.join(' ')).toHaveLength(1)
      expect(r.err, argv.join(' ')).toMatch(/^unknown flag --[a-z-]+ \(known: /)
    }
    // a boolean flag given a value is also a usage error
    expect((await cli('inspect', '/ip4/1.2.3.4', '--json=yes')).err).toBe('--json takes no value')
  })
})

describe('weft perf --server-address', () => {
  const finalLine = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as { type: string; uploadBytes: number; downloadBytes: number }

  test('a full multiaddr with /p2p/<id> dials that peer: a perf server with a random identity', async () => {
    const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { perf: perf() } })
    nodes.push(server)
    const addr = server.getMultiaddrs()[0]!.withoutPeerId().encapsulate(`/p2p/${server.peerId.toString()}`)
    const r = await cli('perf', '--server-address', addr.toString(), '--transport', 'tcp', '--upload-bytes', '1000', '--download-bytes', '2000')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(finalLine(r.out)).toMatchObject({ type: 'final', uploadBytes: 1000, downloadBytes: 2000 })
    // without /p2p the fixed test-plans identity is required, which this server does not have
    const bare = await cli('perf', '--server-address', addr.withoutPeerId().toString(), '--upload-bytes', '1', '--download-bytes', '1')
    expect(bare.code).toBe(1)
    expect(bare.err.split('\n')).toHaveLength(1)
    expect(bare.err).toMatch(/^error: /)
  })

  test('<ip:port> and a multiaddr without /p2p both mean the fixed test-plans identity', async () => {
    const server = await createNode({ privateKey: privateKeyFromSeed(PERF_SERVER_SEED, nodeCrypto), listen: ['/ip4/127.0.0.1/tcp/0'], services: { perf: perf() } })
    nodes.push(server)
    const port = server.getMultiaddrs()[0]!.toDialTarget()!.port
    const r = await cli('perf', '--server-address', `127.0.0.1:${port}`, '--transport', 'tcp', '--upload-bytes', '10', '--download-bytes', '20')
    expect(r.code).toBe(0)
    expect(finalLine(r.out)).toMatchObject({ uploadBytes: 10, downloadBytes: 20 })
    const m = await cli('perf', '--server-address', `/ip4/127.0.0.1/tcp/${port}`, '--upload-bytes', '30', '--download-bytes', '40')
    expect(m.code).toBe(0)
    expect(finalLine(m.out)).toMatchObject({ uploadBytes: 30, downloadBytes: 40 })
  })

  test('--streams N: N concurrent perf streams over one connection, the byte totals split between them', async () => {
    const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { perf: perf({ maxStreamsPerPeer: 4 }) } })
    nodes.push(server)
    const addr = server.getMultiaddrs()[0]!.withoutPeerId().encapsulate(`/p2p/${server.peerId.toString()}`).toString()
    const r = await cli('perf', '--server-address', addr, '--streams', '3', '--upload-bytes', '1000', '--download-bytes', '2002')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(finalLine(r.out)).toMatchObject({ type: 'final', uploadBytes: 1000, downloadBytes: 2002, streams: 3, connections: 1 })
    for (const bad of ['0', '17', '2.5', 'x']) {
      const u = await cli('perf', '--server-address', addr, '--streams', bad, '--upload-bytes', '1', '--download-bytes', '1')
      expect(u.code, bad).toBe(1)
      expect(u.err, bad).toBe('--streams must be an integer from 1 to 16')
    }
  })

  test('usage errors: --transport disagreeing with the multiaddr, an undialable or mistyped multiaddr', async () => {
    expect((await cli('perf', '--server-address', '/ip4/127.0.0.1/tcp/1', '--transport', 'ws')).err).toMatch(/^--transport ws disagrees/)
    expect((await cli('perf', '--server-address', '/ip4/127.0.0.1/udp/1/quic')).err).toMatch(/not a TCP, WebSocket or QUIC v1 address/)
    const typo = await cli('perf', '--server-address', '/ip4/127.0.0.1/tcp/99999')
    expect(typo.code).toBe(1)
    expect(typo.err).toMatch(/^error: multiaddr\/invalid-port: /)
  })
})

/** Spawn `weft node ... --json` (the built CLI) and resolve with the child and its 'started' line. */
async function startNode(...extra: string[]): Promise<{ child: ReturnType<typeof spawn>; started: { addrs: string[] } }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'))
  const child = spawn('node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'id.key'), '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const started = await new Promise<{ addrs: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'started' line: ${out}`)), 10_000)
    child.stdout!.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.includes('"event":"started"'))
      if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line)) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)) })
  })
  return { child, started }
}

describe('bin/weft.js (the built CLI)', () => {
  test('weft node serves /perf/1.0.0 only with --perf', async () => {
    const client = await createNode({ listen: [], services: { perf: perf() } })
    nodes.push(client)
    const plain = await startNode()
    try {
      await expect(client.perf(plain.started.addrs[0]!, { uploadBytes: 10, downloadBytes: 10 })).rejects.toMatchObject({ code: 'connection/protocol-rejected' })
    } finally {
      plain.child.kill('SIGTERM')
    }
    const withPerf = await startNode('--perf')
    try {
      expect(await client.perf(withPerf.started.addrs[0]!, { uploadBytes: 1000, downloadBytes: 2000 })).toMatchObject({ uploadBytes: 1000, downloadBytes: 2000 })
    } finally {
      withPerf.child.kill('SIGTERM')
    }
  })
  test('a reader that closes stdout ends the command quietly (exit 0, no EPIPE trace)', async () => {
    const { child, started } = await startNode()
    child.stdout!.destroy() // the reader leaves, as `weft node --json | head -1` does
    const client = await createNode({ listen: [] })
    nodes.push(client)
    let err = ''
    child.stderr!.on('data', (d) => { err += d })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await client.dial(started.addrs[0]!) // the node logs the connection: its write fails with EPIPE
    const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000))])
    if (code === 'running') child.kill('SIGKILL')
    expect(code).toBe(0)
    expect(err).not.toMatch(/EPIPE|Error:/)
  })
  test('inspect through the real binary', async () => {
    const { stdout } = await run('node', ['bin/weft.js', 'inspect', '/ip4/192.0.2.42/tcp/443'])
    expect(stdout).toContain('04c000022a0601bb')
  })
  test('weft node: a port in use is one clear line and exit 1', async () => {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(n)
    const port = n.getMultiaddrs()[0]!.toDialTarget()!.port
    const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'))
    const r = await run('node', ['bin/weft.js', 'node', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--identity', join(dir, 'id.key')]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    )
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/address-in-use/)
  })
  test('weft node --dht-mode auto --external: a DHT server at once; an unknown mode is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'))
    const child = spawn('node', ['bin/weft.js', 'node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'id.key'), '--json', '--dht-mode', 'auto', '--external', '/ip4/203.0.113.7/tcp/4001'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'started' line: ${out}`)), 10_000)
        child.stdout.on('data', (d) => {
          out += d
          if (out.includes('"event":"started"')) { clearTimeout(timer); resolve() }
        })
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)) })
      })
    } finally {
      child.kill('SIGTERM')
    }
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.find((l) => l.event === 'dht:mode')).toMatchObject({ mode: 'server' })
    expect(lines.find((l) => l.event === 'started')).toMatchObject({ dhtMode: 'server', dhtConfiguredMode: 'auto', externalAddrs: ['/ip4/203.0.113.7/tcp/4001'] })
    const bad = await cli('node', '--dht-mode', 'sometimes')
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/--dht-mode must be server, client or auto/)
  })
})

describe('weft perf: the collector settings of a bulk-transfer process', () => {
  test('a --heap-growing-percent given to node wins over the perf CLI\'s own', () => {
    expect(heapGrowingGiven([], undefined)).toBe(false)
    expect(heapGrowingGiven(['--max-old-space-size=512'], '--enable-source-maps')).toBe(false)
    expect(heapGrowingGiven(['--heap-growing-percent=100'], undefined)).toBe(true)
    expect(heapGrowingGiven(['--heap_growing_percent', '50'], undefined)).toBe(true)
    expect(heapGrowingGiven([], '--trace-gc --heap-growing-percent=300')).toBe(true)
    expect(heapGrowingGiven(['--heap-growing-percentage=3'], undefined)).toBe(false)
  })
})
