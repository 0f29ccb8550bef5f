/**
 * An idle connection holds no empty tables (bench/README.md "Scale": 10,000 idle connections in
 * under 200 MB). Every Map or Set costs ~200 B of hash table even when empty, ~570 B once it held a
 * few entries; each connection used to keep about a dozen (yamux streams, pings, blocked, skipped and
 * send slabs; the stream table's streams and closed ids; the swarm's streams; the resource manager's
 * streams; the connection manager's tags and decaying tags), on both ends.
 *
 * Setup: a swarm (the server: resource and connection managers included) and bare connection cores
 * (the clients, as bench/drivers/weft-hold-clients.mjs). Each client connects, opens a stream to a
 * protocol the server handles, both sides close it (identify's life), then the connection idles.
 * Live Maps and Sets are counted with v8.queryObjects (after its own full GC).
 */
import { queryObjects } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { emptyMap, emptySet, ownMap, ownSet, shrinkMap, shrinkSet } from '../src/core/empty-map.js'
import { EventQueue } from '../src/core/event-queue.js'
import { Connection } from '../src/connection/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { Swarm } from '../src/swarm/swarm.js'

const PROTOCOL = '/test/idle/1'
const count = (ctor: object): number => queryObjects(ctor as never, { format: 'count' }) as number

describe('memory of an idle connection', () => {
  it('neither end holds a Map; the server holds at most two Sets (its per-peer connection sets)', () => {
    const server = new Swarm({}, {
      crypto: nodeCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto),
      limits: { maxConnections: 1_000, maxPendingInbound: 1_000 },
      policy: { resources: { system: { conns: 1_000, connsInbound: 1_000 }, transient: { conns: 1_000, connsInbound: 1_000 } } },
    })
    server.start(0)
    server.handle(0, PROTOCOL)
    const local = Multiaddr.fromString('/ip4/127.0.0.1/tcp/4001')
    const pairs: Array<{ id: number; client: Connection }> = []
    let served = 0
    const pump = (now: number): void => {
      for (let moved = true; moved;) {
        moved = false
        for (const p of pairs) {
          for (let b = p.client.pollTransmit(65536); b !== undefined; b = p.client.pollTransmit(65536)) { server.handleData(now, p.id, b); moved = true }
          for (let b = server.pollTransmit(p.id, 65536); b !== undefined; b = server.pollTransmit(p.id, 65536)) { p.client.handleData(now, b); moved = true }
          for (let ev = p.client.pollEvent(); ev !== undefined; ev = p.client.pollEvent()) {
            moved = true
            if (ev.type === 'established') p.client.openStream(now, [PROTOCOL], 1)
            else if (ev.type === 'stream-opened') { p.client.write(ev.id, new Uint8Array([1, 2, 3])); p.client.closeWrite(ev.id) }
          }
        }
        while (server.pollDirty() !== undefined);
        while (server.pollIo() !== undefined);
        for (let ev = server.pollEvent(); ev !== undefined; ev = server.pollEvent()) {
          moved = true
          if (ev.type === 'stream-closed') served++
          else if (ev.type === 'stream-data') server.consume(now, ev.stream, ev.data.length)
          else if (ev.type === 'stream-eof') server.closeWrite(now, ev.stream)
        }
      }
    }
    const N = 40
    const before = { maps: count(Map), sets: count(Set) }
    for (let i = 0; i < N; i++) {
      const client = new Connection({
        role: 'dialer', crypto: nodeCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(10 + i), nodeCrypto),
        supportsProtocol: () => false, listProtocols: () => [], now: 0,
      })
      const id = server.handleInbound(0, Multiaddr.fromString(`/ip4/10.0.0.${i + 1}/tcp/1`), local)
      expect(id).toBeDefined()
      pairs.push({ id: id!, client })
    }
    pump(1)
    expect(server.connections()).toHaveLength(N)
    expect(served).toBe(N) // each connection ran its stream to the end
    expect(pairs.every((p) => p.client.streamCount === 0)).toBe(true)
    const maps = (count(Map) - before.maps) / N
    const sets = (count(Set) - before.sets) / N
    expect(maps).toBeLessThan(0.5) // 0 (was 12: 8 on the server, 4 on the client)
    expect(sets).toBeLessThanOrEqual(2) // 2 (was 7: 5 on the server, 2 on the client)
  })
})

describe('core/empty-map: the shared empty set', () => {
  it('reads like an empty Set, refuses writes, and ownSet/shrinkSet swap it in and out', () => {
    const shared = emptySet<string>()
    expect(shared.size).toBe(0)
    expect(shared.has('a')).toBe(false)
    expect(shared.delete('a')).toBe(false)
    expect(() => shared.add('a')).toThrow(TypeError)
    const own = ownSet(shared)
    expect(own).not.toBe(shared)
    own.add('a')
    expect(ownSet(own)).toBe(own)
    expect(shrinkSet(own)).toBe(own)
    own.delete('a')
    expect(shrinkSet(own)).toBe(shared)
  })
})

describe('core/event-queue', () => {
  it('an empty queue holds no array, before any event and after the last was polled or dropped', () => {
    const arrays = (): number => count(Array)
    const before = arrays()
    const queues = Array.from({ length: 500 }, () => new EventQueue<number>())
    expect(arrays() - before).toBeLessThan(50) // 1 (the list of queues); was 501: one array each
    for (const q of queues) { q.push(1); q.push(2) }
    expect(queues[0]!.poll()).toBe(1)
    queues[0]!.push(3)
    expect([queues[0]!.poll(), queues[0]!.poll(), queues[0]!.poll()]).toEqual([2, 3, undefined])
    for (const q of queues.slice(1)) q.drop(() => true)
    expect(queues[1]!.poll()).toBeUndefined()
    expect(arrays() - before).toBeLessThan(50)
  })
})

describe('core/empty-map', () => {
  it('reads like an empty Map, refuses writes, and ownMap/shrinkMap swap it in and out', () => {
    const shared = emptyMap<string, number>()
    expect(shared.size).toBe(0)
    expect(shared.get('a')).toBeUndefined()
    expect([...shared]).toEqual([])
    expect(shared.delete('a')).toBe(false)
    expect(() => shared.set('a', 1)).toThrow(TypeError)
    const own = ownMap(shared)
    expect(own).not.toBe(shared)
    own.set('a', 1)
    expect(ownMap(own)).toBe(own)
    expect(shrinkMap(own)).toBe(own)
    own.delete('a')
    expect(shrinkMap(own)).toBe(shared)
    expect(emptyMap<number, string>().size).toBe(0)
  })
})
