/**
 * Circuit Relay v2 end to end over TCP loopback: a weft relay (circuitRelayServer), a weft listener
 * reserving on it (a `/p2p-circuit` listen address), a weft dialer dialing
 * `<relay>/p2p/<R>/p2p-circuit/p2p/<listener>` (spec/relay.md "Relay client").
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, readAll, DialError, type WeftNode } from '../src/node.js'
import { circuitRelayClient, circuitRelayServer, RelayStatusError, type RelayReservationEvent } from '../src/relay/index.js'
import type { RelayServerOptions } from '../src/relay/server-limits.js'
import type { CircuitRelayClientOptions } from '../src/relay/client-api.js'
import { OutcomeError } from '../src/core/errors.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { nodeCrypto } from '../src/node.js'
import { CODE } from '../src/multiaddr/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

async function relayNode(opts: RelayServerOptions = {}): Promise<WeftNode> {
  const n = await createNode({ listen: [LOOPBACK], services: { relay: circuitRelayServer(opts) } })
  nodes.push(n)
  return n
}

async function clientNode(listen: string[], opts: CircuitRelayClientOptions = {}): Promise<WeftNode> {
  const n = await createNode({ listen, services: { relayClient: circuitRelayClient(opts) } })
  nodes.push(n)
  return n
}

function nextReservation(n: WeftNode, type: RelayReservationEvent['type']): Promise<RelayReservationEvent> {
  return new Promise((resolve) => {
    const off = n.on('relay:reservation', (ev) => {
      if (ev.type !== type) return
      off()
      resolve(ev)
    })
  })
}

describe('relay client end to end (TCP loopback)', () => {
  test('reserve by listening on <relay>/p2p-circuit; identify and ping over the circuit; the connection is limited', async () => {
    const relay = await relayNode()
    const relayAddr = relay.getMultiaddrs()[0]!
    const listener = await createNode({ listen: [LOOPBACK, `${relayAddr.toString()}/p2p-circuit`], services: { relayClient: circuitRelayClient() }, start: false })
    nodes.push(listener)
    const accepted = nextReservation(listener, 'accepted')
    await listener.start()
    const ev = await accepted
    expect(ev.type === 'accepted' && ev.reservation.addrs.length).toBeGreaterThan(0)
    const circuit = `${relayAddr.toString()}/p2p-circuit/p2p/${listener.peerId.toString()}`
    expect(listener.getMultiaddrs().map(String)).toContain(circuit)
    // the relay connection is protected while the reservation lives
    expect(listener.connectionManager.isProtected(relay.peerId, 'relay-reservation')).toBe(true)

    const dialer = await clientNode([])
    const identified = new Promise<string[]>((resolve) => dialer.on('peer:identify', ({ peer, info }) => { if (peer.equals(listener.peerId)) resolve(info.listenAddrs.map(String)) }))
    const conn = await dialer.dial(circuit)
    expect(conn.peer.equals(listener.peerId)).toBe(true)
    expect(conn.limited).toBe(true)
    // identify over the circuit; it advertises the relayed address
    expect(await identified).toContain(`${relayAddr.toString()}/p2p-circuit`)
    const rtt = await dialer.ping(conn.peer)
    expect(rtt).toBeGreaterThanOrEqual(0)
    const inbound = listener.getConnections(dialer.peerId)
    expect(inbound.length).toBe(1)
    expect(inbound[0]!.limited).toBe(true)
    expect(inbound[0]!.remoteAddr.toString()).toContain('/p2p-circuit')
  })

  test('protocols: without allowLimited refused over the circuit, with it served', async () => {
    const { listener, circuit } = await setup0()
    listener.handle('/test/open/1.0.0', async (s) => { await s.sink(s.source) }, { allowLimited: true })
    listener.handle('/test/closed/1.0.0', async (s) => { await s.sink(s.source) })
    const dialer = await clientNode([])
    await dialer.dial(circuit)
    await expect(dialer.newStream(listener.peerId, '/test/closed/1.0.0', { allowLimited: true })).rejects.toThrow()
    await expect(dialer.newStream(listener.peerId, '/test/open/1.0.0')).rejects.toSatisfy((e: unknown) => e instanceof OutcomeError && e.code === 'swarm/limited-connection')
    const s = await dialer.newStream(listener.peerId, '/test/open/1.0.0', { allowLimited: true })
    await s.sink([new TextEncoder().encode('hello')])
    expect(new TextDecoder().decode(await readAll(s.source))).toBe('hello')
  })

  test('a data limit reached resets the circuit', async () => {
    const { listener, circuit } = await setup0({ limitData: 4096 })
    listener.handle('/test/echo/1.0.0', async (s) => { await s.sink(s.source) }, { allowLimited: true })
    const dialer = await clientNode([])
    await dialer.dial(circuit)
    const s = await dialer.newStream(listener.peerId, '/test/echo/1.0.0', { allowLimited: true })
    const chunk = new Uint8Array(1024)
    let echoed = 0
    const reader = (async () => {
      for await (const c of s.source) echoed += c.length
    })()
    const writer = (async () => {
      for (let i = 0; i < 16; i++) await s.write(chunk)
      s.closeWrite()
    })()
    const results = await Promise.allSettled([reader, writer])
    expect(echoed).toBeLessThan(16 * 1024)
    expect(results.some((r) => r.status === 'rejected')).toBe(true)
  })

  test('dialing a peer without a reservation gives NO_RESERVATION', async () => {
    const relay = await relayNode()
    const nobody = await clientNode([])
    const dialer = await clientNode([])
    const addr = `${relay.getMultiaddrs()[0]!.toString()}/p2p-circuit/p2p/${nobody.peerId.toString()}`
    const e = await dialer.dial(addr).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(DialError)
    const cause = (e as DialError).attempts[0]!.error
    expect(cause).toBeInstanceOf(RelayStatusError)
    expect((cause as RelayStatusError).statusName).toBe('NO_RESERVATION')
    expect((cause as RelayStatusError).code).toBe('relay/no-reservation')
  })

  test('the `relays` option reserves; a short TTL is renewed', async () => {
    const relay = await relayNode({ reservationTtl: 2_000 })
    const relayAddr = relay.getMultiaddrs()[0]!
    // no /p2p-circuit listen address: the service listens on it itself
    const listener = await createNode({ listen: [], services: { relayClient: circuitRelayClient({ relays: [relayAddr], minRenewDelay: 500 }) }, start: false })
    nodes.push(listener)
    const accepted = nextReservation(listener, 'accepted')
    const renewed = nextReservation(listener, 'renewed')
    await listener.start()
    await accepted
    const ev = await renewed
    expect(ev.type).toBe('renewed')
    // circuits from it are accepted through the /p2p-circuit listener the service asked for
    const dialer = await clientNode([])
    const conn = await dialer.dial(`${relayAddr.toString()}/p2p-circuit/p2p/${listener.peerId.toString()}`)
    expect(conn.limited).toBe(true)
  })

  test('the relay coming back (same identity and port): the reservation is made again', async () => {
    const key = generatePrivateKey(nodeCrypto)
    const relay = await createNode({ privateKey: key, listen: [LOOPBACK], services: { relay: circuitRelayServer() } })
    nodes.push(relay)
    const relayAddr = relay.getMultiaddrs()[0]!
    const listener = await createNode({ listen: [`${relayAddr.toString()}/p2p-circuit`], services: { relayClient: circuitRelayClient({ retryInitialDelay: 100, retryMaxDelay: 200 }) }, start: false })
    nodes.push(listener)
    const first = nextReservation(listener, 'accepted')
    await listener.start()
    await first
    const lost = nextReservation(listener, 'lost')
    await relay.stop()
    await lost
    const again = nextReservation(listener, 'accepted')
    const back = await createNode({ privateKey: key, listen: [relayAddr.decapsulateCode(CODE.p2p)], services: { relay: circuitRelayServer() } })
    nodes.push(back)
    await again
    expect(listener.getMultiaddrs().map(String)).toContain(`${relayAddr.toString()}/p2p-circuit/p2p/${listener.peerId.toString()}`)
  })

  test('the relay going away drops the reservation and its address', async () => {
    const { relay, listener, circuit } = await setup0()
    const lost = nextReservation(listener, 'lost')
    await relay.stop()
    const ev = await lost
    expect(ev.type === 'lost' && ev.reason).toBe('connection-closed')
    expect(listener.getMultiaddrs().map(String)).not.toContain(circuit)
    expect(listener.service<{ reservations(): unknown[] }>('relayClient').reservations()).toEqual([])
  })
})

async function setup0(relayOpts: RelayServerOptions = {}): Promise<{ relay: WeftNode; listener: WeftNode; circuit: string }> {
  const relay = await relayNode(relayOpts)
  const relayAddr = relay.getMultiaddrs()[0]!
  const listener = await createNode({ listen: [LOOPBACK, `${relayAddr.toString()}/p2p-circuit`], services: { relayClient: circuitRelayClient() }, start: false })
  nodes.push(listener)
  const accepted = nextReservation(listener, 'accepted')
  await listener.start()
  await accepted
  return { relay, listener, circuit: `${relayAddr.toString()}/p2p-circuit/p2p/${listener.peerId.toString()}` }
}
