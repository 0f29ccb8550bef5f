/**
 * Kad client/server mode: 'auto' follows the swarm's reachability input (behaviour level, over the
 * Pair harness), and over real TCP nodes the switch reaches peers through identify push.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { Pair, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { utf8 } from '../src/core/bytes.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { KadBehaviour, type KadEvent } from '../src/kad/index.js'
import { createNode, type WeftNode } from '../src/node.js'

function seeded(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0
  return (n) => Uint8Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24))
}

const reachable = (yes: boolean): { type: 'reachability'; reachable: boolean; externalAddrs: Multiaddr[] } =>
  ({ type: 'reachability', reachable: yes, externalAddrs: yes ? [Multiaddr.fromString('/ip4/198.18.0.1/tcp/4001')] : [] })

describe('behaviour', () => {
  test("mode option: 'auto' starts as a client; unknown modes are a RangeError", () => {
    const ia = testIdentity(1, '/memory/1')
    const auto = new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer, mode: 'auto' })
    expect(auto.mode).toBe('client')
    expect(auto.configuredMode).toBe('auto')
    expect(auto.protocols).toEqual([])
    expect(new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer }).protocols).toEqual(['/ipfs/kad/1.0.0'])
    expect(() => new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer, mode: 'both' as 'auto' })).toThrow(RangeError)
  })

  test("auto: reachable -> server (set-protocols + mode event), unreachable -> client; repeats change nothing; fixed modes ignore reachability", () => {
    const ia = testIdentity(1, '/memory/1')
    const k = new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer, mode: 'auto', protocolPrefix: '/weft' })
    const drain = (): unknown[] => {
      const out: unknown[] = []
      for (let a = k.pollAction(); a !== undefined; a = k.pollAction()) out.push(a)
      return out
    }
    k.handle(0, reachable(false))
    expect(drain()).toEqual([])
    k.handle(1, reachable(true))
    expect(drain()).toEqual([{ type: 'set-protocols', protocols: ['/weft/kad/1.0.0'] }, { type: 'event', event: { type: 'mode', mode: 'server' } }])
    expect(k.mode).toBe('server')
    k.handle(2, reachable(true))
    expect(drain()).toEqual([])
    k.handle(3, reachable(false))
    expect(drain()).toEqual([{ type: 'set-protocols', protocols: [] }, { type: 'event', event: { type: 'mode', mode: 'client' } }])
    for (const mode of ['server', 'client'] as const) {
      const fixed = new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer, mode })
      fixed.handle(0, reachable(mode === 'client'))
      expect(fixed.pollAction()).toBeUndefined()
      expect(fixed.mode).toBe(mode)
    }
  })

  test('over a pair: a peer admitted as server answers; once a client it refuses our stream and leaves the table', () => {
    const ia = testIdentity(1, '/memory/1')
    const ib = testIdentity(2, '/memory/2')
    const a = new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer })
    const b = new KadBehaviour({ crypto: nobleCrypto, random: seeded(2), peerId: ib.peer, mode: 'auto' })
    const pair = new Pair<KadEvent, KadEvent>(a, b, { a: ia, b: ib }, { latency: 5 })
    pair.connect()
    pair.run()
    // identify of b lists no kad protocol: a does not admit it
    pair.a.input({ type: 'peer-info', peer: ib.peer, info: { protocols: ['/ipfs/id/1.0.0'], addrs: [ib.addr] }, from: 'identify' })
    expect(a.table.has(ib.peer)).toBe(false)
    // b becomes reachable: a server; the identify push lists the protocol, a admits it and b answers
    pair.b.input(reachable(true))
    expect(pair.b.eventsOf('mode')).toEqual([{ type: 'mode', mode: 'server' }])
    pair.a.input({ type: 'peer-info', peer: ib.peer, info: { protocols: ['/ipfs/id/1.0.0', b.protocol] }, from: 'identify' })
    expect(a.table.has(ib.peer)).toBe(true)
    pair.a.command((now) => a.getClosestPeers(now, utf8('k1')))
    pair.run()
    const progress = (kind: string): boolean => pair.a.eventsOf('progress').some((e) => e.progress.kind === kind && 'peer' in e.progress && e.progress.peer.equals(ib.peer))
    expect(progress('answered')).toBe(true)
    // b becomes a client; a asks before the push arrives: the stream is refused, b leaves a's table
    pair.b.input(reachable(false))
    expect(b.protocols).toEqual([])
    pair.a.command((now) => a.getClosestPeers(now, utf8('k2')))
    pair.run()
    expect(progress('failed')).toBe(true)
    expect(a.table.has(ib.peer)).toBe(false)
    // the push without the protocol keeps it out
    pair.a.input({ type: 'peer-info', peer: ib.peer, info: { protocols: ['/ipfs/id/1.0.0'] }, from: 'identify' })
    expect(a.table.has(ib.peer)).toBe(false)
    expect(pair.a.eventsOf('routing-table').map((e) => e.change)).toEqual(['added', 'removed'])
  })

  test('a client resets an inbound kad stream (one that raced the switch)', () => {
    const ia = testIdentity(1, '/memory/1')
    const ib = testIdentity(2, '/memory/2')
    const k = new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: ia.peer, mode: 'auto' })
    const stream = { connection: 1, stream: 1 }
    const connection = { id: 1, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: ia.addr, direction: 'inbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    k.handle(0, { type: 'stream-opened', stream, protocol: k.protocol, direction: 'inbound', connection })
    expect(k.pollAction()).toEqual({ type: 'reset', stream })
  })
})

describe('nodes over TCP', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

  const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
    if (!cond()) throw new Error(`timed out waiting for ${what}`)
  }

  test("auto mode: client until a confirmed external address, then server (peers add it after the identify push), and back", async () => {
    const opts = { listen: ['/ip4/127.0.0.1/tcp/0'] }
    const a = await createNode({ ...opts, dht: { mode: 'server' } })
    const b = await createNode({ ...opts, dht: { mode: 'server' } })
    const c = await createNode({ ...opts, dht: { mode: 'auto' } })
    nodes.push(a, b, c)
    const kadOf = (n: WeftNode): KadBehaviour => n.swarm.behaviours['kad'] as KadBehaviour
    const modes: string[] = []
    c.dht.onModeChange((m) => modes.push(m))
    expect(c.dht.mode).toBe('client')
    expect(c.dht.configuredMode).toBe('auto')
    expect(c.getExternalAddresses()).toEqual([]) // 127.0.0.1 is not a public address

    const identified = (n: WeftNode, peer: WeftNode): Promise<void> => new Promise((r) => n.on('peer:identify', (d) => { if (d.peer.equals(peer.peerId)) r() }))
    const idA = identified(a, c)
    const idB = identified(b, c)
    await c.dial(a.getMultiaddrs()[0]!)
    await c.dial(b.getMultiaddrs()[0]!)
    await Promise.all([idA, idB])
    await waitFor(() => kadOf(c).table.has(a.peerId) && kadOf(c).table.has(b.peerId), 'c to admit the servers')
    // a client: not in the servers' tables, and it refuses inbound kad streams
    expect(kadOf(a).table.has(c.peerId)).toBe(false)
    expect(kadOf(b).table.has(c.peerId)).toBe(false)
    await expect(a.newStream(c.peerId, '/ipfs/kad/1.0.0')).rejects.toMatchObject({ code: 'connection/protocol-rejected' })

    // confirmed external address: a server; a and b add it after the identify push
    c.addExternalAddress(c.getMultiaddrs()[0]!)
    expect(c.dht.mode).toBe('server')
    await waitFor(() => kadOf(a).table.has(c.peerId) && kadOf(b).table.has(c.peerId), 'a and b to add c')
    const closest = await a.dht.getClosestPeers(utf8('mode test'))
    expect(closest.map((p) => p.peer.toString())).toContain(c.peerId.toString())
    const s = await a.newStream(c.peerId, '/ipfs/kad/1.0.0')
    s.reset()

    // and back
    c.removeExternalAddress(c.getMultiaddrs()[0]!)
    expect(c.dht.mode).toBe('client')
    await waitFor(() => !kadOf(a).table.has(c.peerId) && !kadOf(b).table.has(c.peerId), 'a and b to remove c')
    await expect(b.newStream(c.peerId, '/ipfs/kad/1.0.0')).rejects.toMatchObject({ code: 'connection/protocol-rejected' })
    expect(modes).toEqual(['server', 'client'])
  }, 20_000)
})
