/**
 * `security: ['tls']` end to end over TCP (createNode): two weft nodes authenticate with libp2p TLS
 * and carry ping and echo streams; a dialer offering TLS then Noise reaches a Noise-only node; a
 * TLS-only dialer cannot reach a Noise-only node; a misconfigured option fails at createNode.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { DialError, ProtocolError } from '../src/core/errors.js'
import { createNode, readAll, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {}, ...opts })
  nodes.push(n)
  return n
}

describe("createNode({ security: ['tls'] })", () => {
  test('two TLS-only nodes: ping, identify and echo streams over /tls/1.0.0', async () => {
    const a = await node({ security: ['tls'] })
    const b = await node({ security: ['tls'], listen: [] })
    a.handle('/echo/1.0.0', async (s) => { await s.sink([await readAll(s.source, 4 << 20)]) })
    const addr = a.getMultiaddrs()[0]!
    const identified = new Promise<string | undefined>((resolve) => b.on('peer:identify', (e) => resolve(e.info.agentVersion)))
    const rtt = await b.ping(addr, { signal: AbortSignal.timeout(5_000) })
    expect(rtt).toBeGreaterThanOrEqual(0)
    expect(await identified).toMatch(/^weft\//)
    const payload = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 13) & 0xff)
    const s = await b.newStream(addr, '/echo/1.0.0')
    const [, back] = await Promise.all([s.sink([payload]), readAll(s.source, 4 << 20)])
    expect(Buffer.from(back).equals(payload)).toBe(true)
    expect(b.getConnections(a.peerId).length).toBe(1)
  })

  test("a dialer with ['tls', 'noise'] falls back to Noise with a default node; ['tls'] alone is refused", async () => {
    const plain = await node()
    const both = await node({ security: ['tls', 'noise'], listen: [] })
    expect(await both.ping(plain.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
    const tlsOnly = await node({ security: ['tls'], listen: [] })
    const err = await tlsOnly.dial(plain.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(DialError)
    const cause = (err as DialError).attempts[0]!.error as ProtocolError
    expect(cause).toBeInstanceOf(ProtocolError)
    expect(cause.code).toBe('connection/security-rejected')
  })

  test('a listener accepting both serves a Noise dialer and a TLS dialer', async () => {
    const server = await node({ security: ['noise', 'tls'] })
    const addr = server.getMultiaddrs()[0]!
    for (const security of [['noise'], ['tls']] as const) {
      const client = await node({ security: [...security], listen: [] })
      expect(await client.ping(addr, { signal: AbortSignal.timeout(5_000) })).toBeGreaterThanOrEqual(0)
    }
  })

  test('bad security options are refused at createNode', async () => {
    await expect(createNode({ security: [], start: false })).rejects.toThrow(RangeError)
    await expect(createNode({ security: ['quic' as 'tls'], start: false })).rejects.toThrow(RangeError)
  })
})

describe('a build without TLS (weft/browser)', () => {
  test("security 'tls' is UsageError node/no-tls; Noise alone needs nothing", async () => {
    const { withSecurity } = await import('../src/edge/security.js')
    const { usageErrorCode } = await import('./helpers/errors.js')
    const { generatePrivateKey } = await import('../src/peer-id/index.js')
    const { nodeCrypto } = await import('../src/io/crypto-node.js')
    const id = generatePrivateKey(nodeCrypto)
    const internals = { crypto: nodeCrypto, transports: [], wallClock: () => 0 }
    expect(usageErrorCode(() => withSecurity({ security: ['noise', 'tls'] }, internals, id))).toBe('node/no-tls')
    expect(withSecurity({ security: ['noise'] }, internals, id)).toEqual({ connection: { security: ['noise'] } })
    expect(withSecurity({}, internals, id)).toEqual({})
  })
})

describe('the CLI: --security', () => {
  test('weft ping --security tls reaches a TLS-only node; an unknown protocol is a usage error', async () => {
    const { main } = await import('../src/cli/main.js')
    const target = await node({ security: ['tls'] })
    const addr = target.getMultiaddrs()[0]!.toString()
    const lines: string[] = []
    const log = console.log
    console.log = (...a: unknown[]) => { lines.push(a.join(' ')) }
    try {
      expect(await main(['ping', addr, '--count', '1', '--security', 'tls'])).toBe(0)
    } finally {
      console.log = log
    }
    expect(lines.some((l) => l.startsWith(`pong from ${target.peerId.toString()}`))).toBe(true)
    const errors: string[] = []
    const err = console.error
    console.error = (...a: unknown[]) => { errors.push(a.join(' ')) }
    try {
      expect(await main(['ping', addr, '--security', 'quic'])).toBe(1)
    } finally {
      console.error = err
    }
    expect(errors).toEqual(['--security: unknown protocol "quic" (noise or tls)'])
  })
})
