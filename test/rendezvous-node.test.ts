/** Rendezvous end to end between weft nodes over TCP loopback: a point and clients (spec/rendezvous.md). */
import { describe, expect, test } from 'vitest'
import type { WeftNode } from '../src/node.js'
import { createNode as createBrowserNode } from '../src/browser.js'
import { OutcomeError } from '../src/core/errors.js'
import { rendezvousClient, rendezvousServer, type RendezvousClient, type RendezvousServer } from '../src/rendezvous/index.js'
import { code, loopbackNodes, until } from './helpers/loopback-nodes.js'

const { node } = loopbackNodes()

describe('rendezvous over TCP', () => {
  test('register, discover (self and another), cookie, unregister; peer:discovery and the peer store', async () => {
    const point = await node({ rz: rendezvousServer() })
    const a = await node({ rendezvous: rendezvousClient() })
    const b = await node({ rendezvous: rendezvousClient() })
    const pa = point.getMultiaddrs()[0]!
    const srv = point.service<RendezvousServer>('rz')
    const seen: string[] = []
    srv.on('registered', ({ peer, namespace }) => seen.push(`reg ${peer} ${namespace}`))
    srv.on('unregistered', ({ peer, namespace }) => seen.push(`unreg ${peer} ${namespace}`))
    const ra = a.service<RendezvousClient>('rendezvous')
    const rb = b.service<RendezvousClient>('rendezvous')
    expect(await ra.register(pa, 'app', { ttl: 7200 })).toEqual({ ttl: 7200 })
    expect(await rb.register(pa, 'app')).toEqual({ ttl: 7200 })
    const found: Array<{ peer: string; source: string }> = []
    b.on('peer:discovery', ({ peer, source }) => found.push({ peer: peer.toString(), source }))

    const d1 = await rb.discover(point.peerId, { namespace: 'app' })
    expect(d1.registrations.map((r) => r.peer.toString())).toEqual([a.peerId.toString(), b.peerId.toString()])
    expect(d1.registrations[0]!.addrs.map(String)).toEqual(a.getMultiaddrs().map((m) => m.withoutPeerId().toString()))
    expect(d1.registrations[0]!.namespace).toBe('app')
    expect(found).toEqual([{ peer: a.peerId.toString(), source: 'rendezvous' }]) // not ourselves
    expect(b.peerStore.get(a.peerId)?.addrs.map(String)).toEqual(expect.arrayContaining(a.getMultiaddrs().map((m) => m.withoutPeerId().toString())))

    // the cookie: nothing new; after a new registration, only that one
    expect((await rb.discover(point.peerId, { namespace: 'app', cookie: d1.cookie! })).registrations).toEqual([])
    const c = await node({ rendezvous: rendezvousClient() })
    await c.service<RendezvousClient>('rendezvous').register(pa, 'app')
    const d2 = await rb.discover(point.peerId, { namespace: 'app', cookie: d1.cookie! })
    expect(d2.registrations.map((r) => r.peer.toString())).toEqual([c.peerId.toString()])
    // limit pages
    const p1 = await rb.discover(point.peerId, { namespace: 'app', limit: 1 })
    expect(p1.registrations).toHaveLength(1)

    await ra.unregister(point.peerId, 'app')
    await until(() => seen.includes(`unreg ${a.peerId} app`))
    const d3 = await rb.discover(point.peerId, { namespace: 'app' })
    expect(d3.registrations.map((r) => r.peer.toString())).toEqual([b.peerId.toString(), c.peerId.toString()])
    expect(seen).toContain(`reg ${a.peerId} app`)
    expect(ra.behaviour.inFlight.registrations).toBe(0)
    expect(rb.behaviour.inFlight.registrations).toBe(1)
  })

  test("the point's statuses surface as typed OutcomeErrors", async () => {
    const point = await node({ rz: rendezvousServer({ registry: { maxRegistrationsPerNamespace: 1 } }) })
    const a = await node({ rendezvous: rendezvousClient() })
    const b = await node({ rendezvous: rendezvousClient() })
    const pa = point.getMultiaddrs()[0]!
    const ra = a.service<RendezvousClient>('rendezvous')
    const err = await ra.register(pa, 'x'.repeat(256)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OutcomeError)
    expect((err as OutcomeError).code).toBe('rendezvous/invalid-namespace')
    expect(await code(ra.register(pa, 'x'.repeat(255)))).toBe('resolved') // at the limit
    expect(await code(ra.register(pa, 'ttl', { ttl: 60 }))).toBe('rendezvous/invalid-ttl')
    expect(await code(ra.discover(pa, { namespace: 'n', cookie: new Uint8Array(3) }))).toBe('rendezvous/invalid-cookie')
    expect(await code(ra.register(pa, 'full'))).toBe('resolved')
    expect(await code(b.service<RendezvousClient>('rendezvous').register(pa, 'full'))).toBe('rendezvous/unavailable')
    expect(ra.behaviour.inFlight.registrations).toBe(2) // the refused ones are not kept
  })

  test('a node without the server: unsupported-protocol', async () => {
    const other = await node({})
    const a = await node({ rendezvous: rendezvousClient() })
    expect(await code(a.service<RendezvousClient>('rendezvous').discover(other.getMultiaddrs()[0]!))).toBe('rendezvous/unsupported-protocol')
  })

  test('registrations are refreshed before the TTL runs out', async () => {
    const point = await node({ rz: rendezvousServer({ registry: { minTtl: 1 } }) })
    const a = await node({ rendezvous: rendezvousClient({ refreshRatio: 0.1, retryInterval: 100 }) })
    const ra = a.service<RendezvousClient>('rendezvous')
    const refreshes: boolean[] = []
    ra.on('registered', ({ refresh }) => refreshes.push(refresh))
    await ra.register(point.getMultiaddrs()[0]!, 'app', { ttl: 1 }) // refreshed every 100 ms (never sooner than retryInterval)
    await until(() => refreshes.filter((r) => r).length >= 2)
    await ra.unregister(point.peerId, 'app')
    expect(ra.behaviour.inFlight.registrations).toBe(0)
  })

  test('createNode({ discovery: { rendezvous } }): two nodes register and find each other on their own', async () => {
    const point = await node({ rz: rendezvousServer() })
    const pa = `${point.getMultiaddrs()[0]!.toString()}`
    const mk = (): Promise<WeftNode> => node({}, { discovery: { autoDial: false, rendezvous: { points: [pa], namespace: 'auto', interval: 100 } } })
    const a = await mk()
    const b = await mk()
    const seen = new Map<string, string[]>([[a.peerId.toString(), []], [b.peerId.toString(), []]])
    for (const n of [a, b]) n.on('peer:discovery', ({ peer, source }) => { if (source === 'rendezvous') seen.get(n.peerId.toString())!.push(peer.toString()) })
    await until(() => seen.get(a.peerId.toString())!.includes(b.peerId.toString()) && seen.get(b.peerId.toString())!.includes(a.peerId.toString()))
    expect(a.service<RendezvousClient>('rendezvous').behaviour.inFlight.registrations).toBe(1)
    expect(() => rendezvousClient({ discovery: { points: ['/ip4/127.0.0.1/tcp/1'], namespace: 'x' } })).toThrow(expect.objectContaining({ code: 'rendezvous/point-needs-peer-id' }))
  })

  test('weft/browser refuses discovery.rendezvous (the service is passed there instead)', async () => {
    await expect(createBrowserNode({ discovery: { rendezvous: { points: [], namespace: 'x' } } })).rejects.toMatchObject({ code: 'node/no-such-service' })
  })
})
