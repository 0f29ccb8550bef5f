/**
 * `/quic-v1` on real sockets, where the path matters: IPv6 (listen and dial `/ip6/::1/udp/<port>/quic-v1`)
 * and a NAT rebinding. The rebinding goes through a UDP relay between the two nodes, standing in for
 * a NAT: it forwards the client's datagrams to the server from one upstream socket, and in the middle
 * of a transfer switches to another (a new source port) and forgets the first (datagrams the server
 * still sends there are lost). The server must follow the client to the new port (RFC 9000 §9.3):
 * validate it with PATH_CHALLENGE and send there; every byte of the echo still arrives.
 */
import { createSocket, type Socket } from 'node:dgram'
import { afterEach, describe, expect, test } from 'vitest'
import { quic } from '../src/edge/quic-transport.js'
import { createNode, readAll, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
const sockets: Socket[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
  for (const s of sockets.splice(0)) try { s.close() } catch { /* closed */ }
})

async function node(listen: string[]): Promise<WeftNode> {
  const n = await createNode({ listen, transports: [quic()], services: {} })
  nodes.push(n)
  return n
}

const bind = (): Promise<Socket> => new Promise((resolve) => {
  const s = createSocket('udp4')
  sockets.push(s)
  s.bind(0, '127.0.0.1', () => resolve(s))
})

/** A one-client NAT: `front` faces the client, `upstream[active]` faces the server. */
async function nat(serverPort: number): Promise<{ port: number, rebind(): void, counts: { up: number[], down: number[], lostDown: number } }> {
  const front = await bind()
  const upstream = [await bind(), await bind()]
  let active = 0
  let client: { address: string, port: number } | undefined
  const counts = { up: [0, 0], down: [0, 0], lostDown: 0 }
  front.on('message', (m, r) => {
    client = { address: r.address, port: r.port }
    counts.up[active]!++
    upstream[active]!.send(m, serverPort, '127.0.0.1')
  })
  upstream.forEach((u, i) => u.on('message', (m) => {
    if (i !== active || client === undefined) { counts.lostDown++; return } // the old mapping is gone
    counts.down[i]!++
    front.send(m, client.port, client.address)
  }))
  return { port: front.address().port, rebind: () => { active = 1 }, counts }
}

describe('QUIC over real paths', () => {
  test('IPv6: a node listens on /ip6/::1/udp/0/quic-v1 and another dials it: ping and a 200 kB echo', async () => {
    const a = await node(['/ip6/::1/udp/0/quic-v1'])
    const b = await node(['/ip6/::1/udp/0/quic-v1'])
    a.handle('/echo/1.0.0', async (s) => { await s.sink([await readAll(s.source, 1 << 20)]) })
    const addr = a.getMultiaddrs()[0]!
    expect(addr.toString()).toMatch(/^\/ip6\/::1\/udp\/\d+\/quic-v1\/p2p\//)
    expect(await b.ping(addr, { signal: AbortSignal.timeout(10_000) })).toBeGreaterThanOrEqual(0)
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff)
    const s = await b.newStream(addr, '/echo/1.0.0')
    const [, back] = await Promise.all([s.sink([data]), readAll(s.source, 1 << 20)])
    expect(Buffer.from(back).equals(data)).toBe(true)
    expect(b.getConnections(a.peerId)[0]!.remoteAddr.toString()).toMatch(/^\/ip6\/::1\/udp\//)
  }, 30_000)

  test('a dial-only IPv4 node reaches an IPv6 listener from an ephemeral udp6 socket', async () => {
    const a = await node(['/ip6/::1/udp/0/quic-v1'])
    const b = await node([])
    expect(await b.ping(a.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })).toBeGreaterThanOrEqual(0)
  }, 30_000)

  test('a NAT rebinding mid-transfer (the client appears from a new port): the server follows, every byte of a 2 MB echo arrives', async () => {
    const a = await node(['/ip4/127.0.0.1/udp/0/quic-v1'])
    const b = await node([])
    a.handle('/echo/1.0.0', async (s) => { await s.sink((async function * () { for await (const c of s.source) yield c.subarray().slice() })()) })
    const serverPort = Number(/\/udp\/(\d+)\//.exec(a.getMultiaddrs()[0]!.toString())![1])
    const n = await nat(serverPort)
    const via = `/ip4/127.0.0.1/udp/${n.port}/quic-v1/p2p/${a.peerId.toString()}`
    expect(await b.ping(via, { signal: AbortSignal.timeout(10_000) })).toBeGreaterThanOrEqual(0)
    const total = 2_000_000
    const data = Uint8Array.from({ length: total }, (_, i) => (i * 13 + (i >> 8)) & 0xff)
    const s = await b.newStream(via, '/echo/1.0.0')
    const chunks = async function * (): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < total; off += 50_000) {
        if (off === total / 2) n.rebind()
        yield data.subarray(off, off + 50_000)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    const received: Uint8Array[] = []
    let got = 0
    const reader = (async () => {
      for await (const c of s.source) {
        received.push(c.subarray().slice())
        got += c.length
        if (got >= total) break
      }
    })()
    await s.sink(chunks())
    await reader
    expect(got).toBe(total)
    expect(Buffer.concat(received).equals(Buffer.from(data))).toBe(true)
    expect(n.counts.up[1]).toBeGreaterThan(0) // the client's datagrams came from the new port
    expect(n.counts.down[1]).toBeGreaterThan(0) // and the server sent to it
  }, 60_000)
})
