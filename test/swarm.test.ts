import { afterEach, describe, expect, test } from 'vitest'
import { createNode, readAll, type WeftNode } from '../src/node.js'
import { DialError } from '../src/core/errors.js'

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

async function node(listen: string[] = ['/memory/0'], opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen, ...opts })
  nodes.push(n)
  return n
}

describe('swarm', () => {
  test('concurrent dials to one peer share one connection', async () => {
    const a = await node()
    const b = await node([])
    const addr = a.getMultiaddrs()[0]!
    const conns = await Promise.all([b.dial(addr), b.dial(addr), b.dial(a.peerId).catch(() => undefined), b.newStream(addr, '/ipfs/ping/1.0.0').then((s) => { s.reset(); return s.connection })])
    const ids = new Set(conns.filter((c) => c !== undefined).map((c) => c!.id))
    expect(ids.size).toBe(1)
    expect(b.getConnections(a.peerId)).toHaveLength(1)
  })

  test('dialing a peer id uses the addresses in the peer store', async () => {
    const a = await node()
    const b = await node([])
    await b.dial(a.getMultiaddrs()[0]!)
    const gone = new Promise<void>((resolve) => b.on('peer:disconnect', (p) => { if (p.equals(a.peerId)) resolve() }))
    await b.hangUp(a.peerId)
    await gone
    expect(b.getConnections(a.peerId)).toHaveLength(0)
    const c = await b.dial(a.peerId)
    expect(c.peer.equals(a.peerId)).toBe(true)
  })

  test('dialing an unknown peer id fails with dial/no-addresses', async () => {
    const a = await node()
    const b = await node([])
    const e = await b.dial(a.peerId).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(DialError)
    expect(e).toMatchObject({ code: 'dial/no-addresses', attempts: [] })
  })

  test('inbound streams per protocol are limited; extra ones are refused, others still work', async () => {
    const a = await node()
    const b = await node([])
    const held: Array<{ close(): Promise<void> }> = []
    a.handle('/hold/1.0.0', (s) => { held.push(s) }, { maxInboundStreams: 2 })
    const addr = a.getMultiaddrs()[0]!
    const s1 = await b.newStream(addr, '/hold/1.0.0')
    const s2 = await b.newStream(addr, '/hold/1.0.0')
    const s3 = await b.newStream(addr, '/hold/1.0.0')
    // The third is reset by the listener once negotiated: reading it fails.
    await expect(readAll(s3.source)).rejects.toMatchObject({ code: 'stream/reset' })
    expect(held).toHaveLength(2)
    expect(await b.ping(a.peerId)).toBeGreaterThanOrEqual(0)
    s1.reset()
    s2.reset()
  })

  test('identify push: a new protocol on one side reaches the other side', async () => {
    const a = await node()
    const b = await node([])
    const identified = new Promise<void>((r) => b.on('peer:identify', () => r()))
    await b.dial(a.getMultiaddrs()[0]!)
    await identified
    expect(b.peerStore.get(a.peerId)?.protocols).not.toContain('/late/1.0.0')
    a.handle('/late/1.0.0', () => {})
    for (let i = 0; i < 50 && !(b.peerStore.get(a.peerId)?.protocols ?? []).includes('/late/1.0.0'); i++) await new Promise((r) => setTimeout(r, 10))
    expect(b.peerStore.get(a.peerId)?.protocols).toContain('/late/1.0.0')
  })

  test('dial honours an AbortSignal', async () => {
    const b = await node([])
    const ac = new AbortController()
    const p = b.dial('/ip4/10.255.255.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', { signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeDefined()
  })

  test('a connection limit refuses the excess and keeps the rest', async () => {
    const a = await node(['/memory/0'], { limits: { maxConnections: 2 } })
    const addr = a.getMultiaddrs()[0]!
    const clients = await Promise.all([node([]), node([]), node([])])
    const results = await Promise.allSettled(clients.map((c) => c.ping(addr)))
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(2)
    expect(a.getConnections().length).toBeLessThanOrEqual(2)
  })
})
