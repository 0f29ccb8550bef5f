/**
 * The swarm's earliest deadline without scanning every connection (src/swarm/deadlines.ts wired into
 * swarm.ts): with many idle connections, pollTimeout re-reads only the connections an input touched.
 * Before, every pollTimeout (after every input) read every connection's core: with 10,000 idle
 * connections a handshake cost ~30 ms of CPU and upgrades timed out (bench/README.md "Scale").
 */
import { describe, expect, it, vi } from 'vitest'
import { Connection } from '../src/connection/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { Swarm } from '../src/swarm/swarm.js'

describe('swarm deadlines with many connections', () => {
  it('pollTimeout reads only touched connections; handleTimeout handles only due ones', () => {
    const s = new Swarm({}, { crypto: nodeCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(3), nodeCrypto), limits: { maxConnections: 10_000, maxPendingInbound: 10_000 }, policy: { resources: { system: { conns: 10_000, connsInbound: 10_000 }, transient: { conns: 10_000, connsInbound: 10_000 } } } })
    s.start(0)
    const addr = Multiaddr.fromString('/ip4/127.0.0.1/tcp/4001')
    const ids: number[] = []
    for (let i = 0; i < 500; i++) {
      const id = s.handleInbound(i, Multiaddr.fromString(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`), addr)
      expect(id).toBeDefined()
      ids.push(id!)
    }
    while (s.pollDirty() !== undefined);
    const reads = vi.spyOn(Connection.prototype, 'pollTimeout')
    const first = s.pollTimeout()
    expect(first).toBe(10_000) // the first connection's upgrade deadline (10 s after it came)
    reads.mockClear()
    expect(s.pollTimeout()).toBe(10_000)
    expect(reads.mock.calls.length).toBeLessThanOrEqual(1)
    // input on one connection: only it is read again
    s.handleData(600, ids[250]!, new TextEncoder().encode('\x13/multistream/1.0.0\n'))
    while (s.pollDirty() !== undefined);
    reads.mockClear()
    s.pollTimeout()
    expect(reads.mock.calls.length).toBeLessThanOrEqual(2)
    // the first 10 upgrade deadlines pass: handleTimeout closes those 10 and reads few others
    reads.mockClear()
    s.handleTimeout(10_009)
    expect(reads.mock.calls.length).toBeLessThan(50)
    expect(s.pollTimeout()).toBe(10_010)
    reads.mockRestore()
  })
})
