/**
 * `/quic-v1` end to end (createNode with the QUIC transport over loopback UDP): two weft nodes
 * authenticate with the libp2p TLS certificate inside QUIC, every QUIC stream is one libp2p stream
 * negotiated with multistream-select: ping, identify, a 1 MB echo, several streams at once; a dial to
 * the wrong peer id fails; one UDP socket listens and dials.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { DialError } from '../src/core/errors.js'
import { quic } from '../src/edge/quic-transport.js'
import { createNode, nodeCrypto as crypto, perf, readAll, type WeftNode } from '../src/node.js'
import { PERF_SERVER_SEED } from '../src/cli/perf.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { cli } from './helpers/cli.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], transports: [quic()], services: {}, ...opts })
  nodes.push(n)
  return n
}

describe('/quic-v1 between two weft nodes', () => {
  test('ping, identify and a 1 MB echo over QUIC; the connection reports the QUIC address', async () => {
    const a = await node()
    const b = await node({ listen: [] })
    a.handle('/echo/1.0.0', async (s) => { await s.sink([await readAll(s.source, 4 << 20)]) })
    const addr = a.getMultiaddrs()[0]!
    expect(addr.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\//)
    const identified = new Promise<string | undefined>((resolve) => b.on('peer:identify', (e) => resolve(e.info.agentVersion)))
    const rtt = await b.ping(addr, { signal: AbortSignal.timeout(10_000) })
    expect(rtt).toBeGreaterThanOrEqual(0)
    expect(await identified).toMatch(/^weft\//)
    const payload = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 13) & 0xff)
    const s = await b.newStream(addr, '/echo/1.0.0')
    const [, back] = await Promise.all([s.sink([payload]), readAll(s.source, 4 << 20)])
    expect(Buffer.from(back).equals(payload)).toBe(true)
    const conns = b.getConnections(a.peerId)
    expect(conns.length).toBe(1)
    expect(conns[0]!.remoteAddr.toString()).toContain('/quic-v1')
  }, 30_000)

  test('eight echo streams at once on one connection', async () => {
    const a = await node()
    const b = await node()
    a.handle('/echo/1.0.0', async (s) => { await s.sink([await readAll(s.source, 1 << 20)]) })
    const addr = a.getMultiaddrs()[0]!
    const runs = Array.from({ length: 8 }, async (_, k) => {
      const data = Uint8Array.from({ length: 50_000 + k }, (_, i) => (i + k) & 0xff)
      const s = await b.newStream(addr, '/echo/1.0.0')
      const [, back] = await Promise.all([s.sink([data]), readAll(s.source, 1 << 20)])
      return Buffer.from(back).equals(data)
    })
    expect(await Promise.all(runs)).toEqual(Array(8).fill(true))
    expect(b.getConnections(a.peerId).length).toBe(1)
  }, 30_000)

  test('the node dials from its listening socket (the port peers see is the one it listens on)', async () => {
    const a = await node()
    const b = await node()
    const seen = new Promise<string>((resolve) => a.on('peer:connect', () => resolve(a.getConnections(b.peerId)[0]!.remoteAddr.toString())))
    await b.ping(a.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
    const bPort = /\/udp\/(\d+)\//.exec(b.getMultiaddrs()[0]!.toString())![1]
    expect(await seen).toContain(`/udp/${bPort}/quic-v1`)
  }, 30_000)

  test('a dial to /p2p/<another id> fails the TLS handshake', async () => {
    const a = await node()
    const b = await node({ listen: [] })
    const other = generatePrivateKey(crypto).toPeerId()
    const wrong = a.getMultiaddrs()[0]!.withoutPeerId().encapsulate(`/p2p/${other.toString()}`)
    const err = await b.dial(wrong, { signal: AbortSignal.timeout(10_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(DialError)
  }, 30_000)

  test('createNode with its default transports listens on /quic-v1, and `weft ping` reaches it over QUIC', async () => {
    const n = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], services: {} })
    nodes.push(n)
    const addr = n.getMultiaddrs()[0]!.toString()
    expect(addr).toContain('/quic-v1/p2p/')
    const r = await cli('ping', addr, '--count', '2', '--json')
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { seq: number, peer: string })
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ seq: 0, peer: n.peerId.toString() })
  }, 30_000)

  test('`weft perf` over QUIC: <ip:port> with --transport quic-v1 and a /quic-v1 multiaddr', async () => {
    const server = await createNode({ privateKey: privateKeyFromSeed(PERF_SERVER_SEED, crypto), listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], services: { perf: perf() } })
    nodes.push(server)
    const port = server.getMultiaddrs()[0]!.toDialTarget()!.port
    const r = await cli('perf', '--server-address', `127.0.0.1:${port}`, '--transport', 'quic-v1', '--upload-bytes', '100000', '--download-bytes', '200000')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const final = (out: string): unknown => JSON.parse(out.trim().split('\n').filter((l) => l.includes('"final"')).at(-1)!)
    expect(final(r.out)).toMatchObject({ type: 'final', uploadBytes: 100000, downloadBytes: 200000 })
    const m = await cli('perf', '--server-address', server.getMultiaddrs()[0]!.toString(), '--upload-bytes', '30', '--download-bytes', '40')
    expect(m.code).toBe(0)
    expect(final(m.out)).toMatchObject({ uploadBytes: 30, downloadBytes: 40 })
    // go's datagram size and a 1 MiB socket buffer; values out of range are usage errors
    const g = await cli('perf', '--server-address', `127.0.0.1:${port}`, '--transport', 'quic-v1', '--max-datagram-size', '1452', '--socket-buffer-size', '1048576', '--upload-bytes', '50000', '--download-bytes', '50000')
    expect(g.err).toBe('')
    expect(final(g.out)).toMatchObject({ uploadBytes: 50000, downloadBytes: 50000 })
    const bad = await cli('perf', '--server-address', `127.0.0.1:${port}`, '--transport', 'quic-v1', '--max-datagram-size', '1000')
    expect(bad.code).not.toBe(0)
    expect(bad.err).toMatch(/max-datagram-size/)
  }, 30_000)
})
