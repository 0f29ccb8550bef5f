/**
 * Relay discovery (src/relay/client-discover.ts, spec/relay.md "Discovered relays"): the pure
 * policy, then end to end over TCP loopback (a peer serving hop is found through identify and
 * reserved on without being named).
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { circuitRelayClient, circuitRelayServer, HOP_PROTOCOL, type RelayClient, type RelayReservationEvent } from '../src/relay/index.js'
import { RelayDiscovery } from '../src/relay/client-discover.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import type { BehaviourInput, ConnectionInfo } from '../src/swarm/index.js'

const key = () => generatePrivateKey(nobleCrypto).publicKey
let nextConn = 1
function conn(pub = key(), direction: 'inbound' | 'outbound' = 'outbound', addr = '/ip4/11.0.0.9/tcp/4001'): ConnectionInfo {
  const remoteAddr = Multiaddr.fromString(addr)
  return { id: nextConn++, peer: pub.toPeerId(), remotePublicKey: pub, remoteAddr, localAddr: undefined, direction, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: remoteAddr.toString().includes('/p2p-circuit') }
}
const up = (c: ConnectionInfo): BehaviourInput => ({ type: 'connection-established', connection: c })
const down = (c: ConnectionInfo): BehaviourInput => ({ type: 'connection-closed', connection: c })
const serves = (c: ConnectionInfo, hop = true): BehaviourInput => ({ type: 'peer-info', peer: c.peer, info: { protocols: hop ? ['/ipfs/id/1.0.0', HOP_PROTOCOL] : ['/ipfs/id/1.0.0'] }, from: 'identify' })
const reach = (reachable: boolean): BehaviourInput => ({ type: 'reachability', reachable, externalAddrs: [] })

describe('RelayDiscovery (pure)', () => {
  test('reserves on peers that serve hop, at most maxRelays, over direct connections only', () => {
    const d = new RelayDiscovery({ maxRelays: 2 }, () => false)
    const [a, b, c] = [conn(), conn(), conn()]
    const relayed = conn(undefined, 'outbound', '/ip4/11.0.0.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit')
    for (const x of [a, b, c, relayed]) expect(d.handle(up(x))).toEqual([])
    expect(d.handle(serves(relayed))).toEqual([])
    const first = d.handle(serves(a))
    expect(first).toEqual([{ type: 'add', addr: Multiaddr.fromString(`/ip4/11.0.0.9/tcp/4001/p2p/${a.peer.toString()}`) }])
    expect(d.handle(serves(b, false))).toEqual([])
    expect(d.handle(serves(b))).toHaveLength(1)
    expect(d.handle(serves(c))).toEqual([]) // maxRelays reached
    expect(d.chosen).toEqual([a.peer.toString(), b.peer.toString()])
    // a chosen relay disconnects: dropped, the next candidate taken
    expect(d.handle(down(a))).toEqual([{ type: 'remove', peer: a.peer }, { type: 'add', addr: Multiaddr.fromString(`/ip4/11.0.0.9/tcp/4001/p2p/${c.peer.toString()}`) }])
    // one stops serving hop (identify push)
    expect(d.handle(serves(b, false))).toEqual([{ type: 'remove', peer: b.peer }])
  })

  test('reachable: discovered reservations are dropped, and taken up again when it is lost; configured relays are left alone', () => {
    const [a, b] = [conn(), conn()]
    const d = new RelayDiscovery({}, (p) => p.equals(b.peer))
    d.handle(up(a))
    d.handle(up(b))
    d.handle(serves(b))
    expect(d.handle(serves(a))).toHaveLength(1)
    expect(d.chosen).toEqual([a.peer.toString()])
    expect(d.handle(reach(true))).toEqual([{ type: 'remove', peer: a.peer }])
    expect(d.handle(serves(a))).toEqual([])
    expect(d.handle(reach(false))).toEqual([{ type: 'add', addr: Multiaddr.fromString(`/ip4/11.0.0.9/tcp/4001/p2p/${a.peer.toString()}`) }])
  })

  test('candidates are bounded; bad options are RangeErrors', () => {
    const d = new RelayDiscovery({ maxCandidates: 2, maxRelays: 5 }, () => false)
    const cs = [conn(), conn(), conn()]
    for (const c of cs) d.handle(up(c))
    for (const c of cs) d.handle(serves(c))
    expect(d.chosen).toHaveLength(2)
    expect(() => new RelayDiscovery({ maxRelays: 0 }, () => false)).toThrow(RangeError)
  })
})

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

describe('relay discovery end to end (TCP loopback)', () => {
  test('a connected relay is found through identify and reserved on; a dialer reaches us through it', async () => {
    const relay = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { relay: circuitRelayServer() } })
    nodes.push(relay)
    const listener = await createNode({ listen: [], services: { relayClient: circuitRelayClient({ discover: true }) } })
    nodes.push(listener)
    const accepted = new Promise<RelayReservationEvent>((r) => listener.on('relay:reservation', (ev) => { if (ev.type === 'accepted') r(ev) }))
    await listener.dial(relay.getMultiaddrs()[0]!)
    const ev = await accepted
    expect(ev.relay.equals(relay.peerId)).toBe(true)
    expect(listener.service<RelayClient>('relayClient').discovered()).toEqual([relay.peerId.toString()])
    const dialer = await createNode({ listen: [], services: { relayClient: circuitRelayClient() } })
    nodes.push(dialer)
    const circuit = listener.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!
    expect((await dialer.dial(circuit)).limited).toBe(true)
    expect(await dialer.ping(listener.peerId)).toBeGreaterThanOrEqual(0)
    // a confirmed external address: the discovered reservation is dropped
    const lost = new Promise<RelayReservationEvent>((r) => listener.on('relay:reservation', (e) => { if (e.type === 'lost') r(e) }))
    listener.addExternalAddress('/ip4/11.0.0.5/tcp/4001')
    expect((await lost).type).toBe('lost')
    expect(listener.service<RelayClient>('relayClient').discovered()).toEqual([])
  })
})
