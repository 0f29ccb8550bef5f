import { afterEach, describe, expect, test } from 'vitest'
import { createNode, readAll, type WeftNode } from '../src/node.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function pair(listen: string): Promise<[WeftNode, WeftNode, Multiaddr]> {
  const a = await createNode({ listen: [listen] })
  const b = await createNode({ listen: [] })
  nodes.push(a, b)
  return [a, b, a.getMultiaddrs()[0]!]
}

describe.each([
  ['memory', '/memory/0'],
  ['tcp', '/ip4/127.0.0.1/tcp/0'],
  ['ws', '/ip4/127.0.0.1/tcp/0/ws'],
])('full stack over %s', (_name, listen) => {
  test('dial, ping, identify', async () => {
    const [a, b, addr] = await pair(listen)
    const identified = new Promise<unknown>((resolve) => b.on('peer:identify', resolve))
    const conn = await b.dial(addr)
    expect(conn.peer.equals(a.peerId)).toBe(true)
    const rtt = await b.ping(addr)
    expect(rtt).toBeGreaterThanOrEqual(0)
    const id = (await identified) as { peer: { toString(): string }; info: { agentVersion: string; protocols: string[]; listenAddrs: Multiaddr[]; signedPeerRecordValid: boolean } }
    expect(id.peer.toString()).toBe(a.peerId.toString())
    expect(id.info.agentVersion).toMatch(/^weft\//)
    expect(id.info.protocols).toContain('/ipfs/ping/1.0.0')
    expect(id.info.signedPeerRecordValid).toBe(true)
  })

  test('echo streams, half-close, many at once', async () => {
    const [a, b, addr] = await pair(listen)
    a.handle('/echo/1.0.0', async (s) => {
      const all = await readAll(s.source)
      await s.sink([all])
    })
    const payload = (i: number): Uint8Array => Uint8Array.from({ length: 100_000 + i }, (_, j) => (j * 31 + i) & 0xff)
    const results = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const s = await b.newStream(addr, '/echo/1.0.0')
      const [, back] = await Promise.all([s.sink([payload(i)]), readAll(s.source)])
      return back
    }))
    results.forEach((r, i) => expect(Buffer.from(r).equals(Buffer.from(payload(i)))).toBe(true))
  })
})
