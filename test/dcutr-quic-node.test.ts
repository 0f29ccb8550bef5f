/**
 * Circuit Relay v2 and DCUtR over QUIC v1, end to end in one process on loopback (three weft nodes,
 * QUIC only): B reserves on the relay over a QUIC connection, A dials
 * `/ip4/127.0.0.1/udp/<port>/quic-v1/p2p/<relay>/p2p-circuit/p2p/<B>`, and DCUtR upgrades the relayed
 * connection to a direct QUIC one (B's punch packets from its listening socket, A's QUIC dial to
 * B's observed address). Loopback has no NAT: this proves the plumbing (addresses, the punch event,
 * B accepting A's inbound connection as the punched one); test/netns-dcutr-quic.test.ts proves the
 * punch through real NATs.
 */
import { createSocket } from 'node:dgram'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createNode, quic, type WeftNode } from '../src/node.js'
import { circuitRelayClient, circuitRelayServer } from '../src/relay/index.js'
import { dcutr, type Dcutr, type DcutrEvent } from '../src/dcutr/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const nodes: WeftNode[] = []
const until = async <T>(f: () => T | undefined, what: string, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function peer(mode: 'relay' | 'listen' | 'dial', relayAddr = ''): Promise<{ node: WeftNode; events: DcutrEvent[] }> {
  const t = quic()
  const node = await createNode({
    transports: [t],
    listen: ['/ip4/127.0.0.1/udp/0/quic-v1', ...(mode === 'listen' ? [`${relayAddr}/p2p-circuit`] : [])],
    dialTimeout: 5_000,
    services: mode === 'relay' ? { relay: circuitRelayServer() } : { relayClient: circuitRelayClient(), dcutr: dcutr({ quic: t, relayedCloseGrace: 300 }) },
  })
  nodes.push(node)
  const events: DcutrEvent[] = []
  if (mode !== 'relay') for (const type of ['direct', 'attempt', 'failed', 'unavailable', 'punch'] as const) node.service<Dcutr>('dcutr').on(type, (e) => events.push(e))
  return { node, events }
}

describe('relay and DCUtR over QUIC, in process', () => {
  let relay: WeftNode
  let relayAddr = ''
  beforeAll(async () => {
    relay = (await peer('relay')).node
    relayAddr = `${relay.getMultiaddrs()[0]!.toString().replace(/\/p2p\/.*$/, '')}/p2p/${relay.peerId.toString()}`
  })
  afterAll(async () => {
    for (const n of nodes.splice(0)) await n.stop()
  })

  test('B reserves over QUIC; A dials the QUIC circuit address; DCUtR punches a direct QUIC connection; the relayed one closes; ping on the direct one', async () => {
    expect(relayAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\//)
    const b = await peer('listen', relayAddr)
    const circuitListen = await until(() => b.node.getMultiaddrs().map(String).find((a) => a.includes('/p2p-circuit')), 'the reservation')
    expect(circuitListen).toBe(`${relayAddr}/p2p-circuit/p2p/${b.node.peerId.toString()}`)
    expect(b.node.service<Dcutr>('dcutr').status()).toEqual({ holePunching: 'available' })
    const a = await peer('dial')
    await a.node.dial(relayAddr) // identify with the relay: A's observed QUIC address
    await until(() => a.node.service<Dcutr>('dcutr').localAddrs().length > 0 || undefined, 'A observed')
    const relayed = await a.node.dial(Multiaddr.fromString(circuitListen))
    expect(relayed.limited).toBe(true)
    expect(relayed.remoteAddr.toString()).toContain('/quic-v1/p2p/')
    const directA = await until(() => a.events.find((e) => e.type === 'direct' || e.type === 'failed'), 'A direct')
    expect(directA).toMatchObject({ type: 'direct', role: 'A', via: 'hole-punch' })
    const directB = await until(() => b.events.find((e) => e.type === 'direct' || e.type === 'failed'), 'B direct')
    expect(directB).toMatchObject({ type: 'direct', role: 'B', via: 'hole-punch' })
    if (directA.type !== 'direct' || directB.type !== 'direct') throw new Error('unreachable')
    // A dialed B's QUIC listening socket; B accepted it: inbound at B, from A's listening socket
    const bPort = b.node.getMultiaddrs().map(String).find((x) => x.startsWith('/ip4/127.0.0.1/udp/'))!.split('/')[4]
    const aPort = a.node.getMultiaddrs().map(String).find((x) => x.startsWith('/ip4/127.0.0.1/udp/'))!.split('/')[4]
    expect(directA.connection.remoteAddr.toString()).toBe(`/ip4/127.0.0.1/udp/${bPort}/quic-v1`)
    expect(directA.connection.muxer).toBe('/quic-v1')
    expect(directB.connection).toMatchObject({ direction: 'inbound', limited: false })
    expect(directB.connection.remoteAddr.toString()).toBe(`/ip4/127.0.0.1/udp/${aPort}/quic-v1`)
    const punch = b.events.find((e) => e.type === 'punch')
    expect(punch).toMatchObject({ type: 'punch', attempt: 1 })
    expect(punch?.type === 'punch' && punch.addrs.map(String)).toEqual([`/ip4/127.0.0.1/udp/${aPort}/quic-v1`])
    await until(() => !a.node.getConnections(b.node.peerId).some((c) => c.limited) || undefined, 'the relayed connection closed')
    expect(await a.node.ping(b.node.peerId)).toBeGreaterThanOrEqual(0)
    expect(a.node.getConnections(b.node.peerId).every((c) => !c.limited && c.muxer === '/quic-v1')).toBe(true)
  }, 60_000)

  test('createNode\'s defaults (no transports, no services) hole punch over QUIC when listening on QUIC', async () => {
    const b = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1', `${relayAddr}/p2p-circuit`], dialTimeout: 5_000 })
    nodes.push(b)
    const a = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], dialTimeout: 5_000 })
    nodes.push(a)
    expect(a.service<Dcutr>('dcutr').status()).toEqual({ holePunching: 'available' }) // no TCP dial yet: no punch port; QUIC it is
    const events: DcutrEvent[] = []
    for (const type of ['direct', 'punch', 'failed'] as const) b.service<Dcutr>('dcutr').on(type, (e) => events.push(e))
    const circuit = await until(() => b.getMultiaddrs().map(String).find((x) => x.includes('/p2p-circuit')), 'the reservation')
    await a.dial(relayAddr)
    await until(() => a.service<Dcutr>('dcutr').localAddrs().length > 0 || undefined, 'A observed')
    await a.dial(Multiaddr.fromString(circuit))
    const direct = await until(() => events.find((e) => e.type === 'direct' || e.type === 'failed'), 'B direct')
    expect(direct).toMatchObject({ type: 'direct', role: 'B', via: 'hole-punch' })
    expect(events.some((e) => e.type === 'punch')).toBe(true)
    expect(direct.type === 'direct' && direct.connection.muxer).toBe('/quic-v1')
  }, 60_000)

  test('punch packets reach A\'s listening socket from B\'s (a UDP sink standing in for A)', async () => {
    const t = quic()
    const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/udp/0/quic-v1'), () => {})
    const sink = createSocket('udp4')
    const from: number[] = []
    sink.on('message', (_d, r) => from.push(r.port))
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r))
    const svc = dcutr({ quic: t, maxPunchPackets: 3 })({ run: (f: (n: number) => unknown) => f(0) } as never)
    const peerId = relay.peerId
    svc.onEvent({ type: 'punch', peer: peerId, attempt: 1, addrs: [Multiaddr.fromString(`/ip4/127.0.0.1/udp/${sink.address().port}/quic-v1`)], timeout: 5_000 })
    await until(() => from.length >= 3 || undefined, 'three packets')
    expect(new Set(from)).toEqual(new Set([Number(l.addrs[0]!.toString().split('/')[4])]))
    svc.stop(new Error('done'))
    await l.close()
    await new Promise<void>((r) => sink.close(() => r()))
  })
})
