/**
 * The resource manager end to end (spec/resource-manager.md): real nodes over TCP and the memory
 * transport. A full protocol-peer scope resets the next inbound stream (its opener sees a
 * StreamResetError); a full system scope refuses the next inbound connection and counts it; an
 * outbound stream refused locally fails with a ResourceLimitError; thousands of connections and
 * streams opened and closed leave zero usage everywhere.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, readAll, StreamResetError, ResourceLimitError, DialError, ConnectionClosedError, type WeftNode, type NodeOptions, type WeftStream } from '../src/node.js'
import type { Multiaddr } from '../src/multiaddr/index.js'
import { gossipsub, kadDht } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(options: NodeOptions = {}): Promise<WeftNode> {
  const n = await createNode({ services: {}, ...options })
  nodes.push(n)
  return n
}

/** Resolves once `f()` is true, polling on the event loop (a positive signal, no fixed sleep). */
async function until(f: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const ECHO = '/echo/1.0.0'
const ZERO = { connsInbound: 0, connsOutbound: 0, streamsInbound: 0, streamsOutbound: 0, memory: 0 }

describe('over TCP', () => {
  test('protocol-peer streamsInbound = 2: the 3rd inbound stream is reset (code 0x1002), the opener sees a StreamResetError', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], resources: { protocolsPeer: { [ECHO]: { streamsInbound: 2 } } } })
    const b = await node()
    const held: WeftStream[] = []
    a.handle(ECHO, (s) => {
      held.push(s) // held open: the scope stays full
    })
    const addr = a.getMultiaddrs()[0]!
    const s1 = await b.newStream(addr, ECHO)
    const s2 = await b.newStream(addr, ECHO)
    await until(() => held.length === 2, 'two streams at the handler')
    let error: unknown
    try {
      const s3 = await b.newStream(addr, ECHO)
      await readAll(s3.source)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(StreamResetError)
    expect((error as StreamResetError).wireCode).toBe(0x1002)
    const u = a.resources()
    expect(u.protocols[ECHO]).toMatchObject({ streamsInbound: 2 })
    expect(u.blocked).toEqual([{ scope: 'protocol-peer', resource: 'stream', direction: 'inbound', count: 1 }])
    // a stream closed frees its slot: the next one is admitted
    await s1.sink([])
    held[0]!.sink([]).catch(() => {})
    await until(() => (a.resources().protocols[ECHO]?.streamsInbound ?? 0) < 2, 'the slot released')
    const s4 = await b.newStream(addr, ECHO)
    await until(() => held.length === 3, 'the 4th stream at the handler')
    void s2
    void s4
  })

  test('peer streamsInbound = 2: the 3rd inbound stream of one peer is reset, whatever its protocol', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], resources: { peer: { streamsInbound: 2 } } })
    const b = await node()
    const held: WeftStream[] = []
    a.handle(ECHO, (s) => { held.push(s) })
    a.handle('/other/1.0.0', (s) => { held.push(s) })
    const addr = a.getMultiaddrs()[0]!
    await b.dial(addr)
    // identify's inbound stream counts too: wait until it is over
    const bKey = b.peerId.toString()
    await until(() => a.resources({ peers: true }).byPeer?.[bKey]?.streamsInbound === 0 && a.resources().protocols['/ipfs/id/1.0.0'] === undefined, 'identify done')
    await b.newStream(addr, ECHO)
    await b.newStream(addr, '/other/1.0.0')
    await until(() => held.length === 2, 'two streams at the handlers')
    const error = await b.newStream(addr, ECHO).then((s) => readAll(s.source)).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(StreamResetError)
    expect((error as StreamResetError).wireCode).toBe(0x1002)
    expect(a.resources().blocked).toEqual([{ scope: 'peer', resource: 'stream', direction: 'inbound', count: 1 }])
  })

  test('system connsInbound = 2: the 3rd inbound connection is refused before any byte, and counted', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], resources: { system: { connsInbound: 2 } } })
    const addr = a.getMultiaddrs()[0]!
    const clients = await Promise.all([node(), node(), node()])
    await clients[0]!.dial(addr)
    await clients[1]!.dial(addr)
    let error: unknown
    try {
      await clients[2]!.dial(addr)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DialError)
    const u = a.resources()
    expect(u.system).toMatchObject({ connsInbound: 2 })
    expect(u.blocked).toEqual([{ scope: 'system', resource: 'connection', direction: 'inbound', count: 1 }])
    expect(u.warnings.join('\n')).toContain('system.connsInbound (2)')
    // one leaves, the next gets in
    await clients[0]!.hangUp(a.peerId)
    await until(() => a.resources().system.connsInbound === 1, 'the connection released')
    await clients[2]!.dial(addr)
  })

  test('an outbound stream refused by a local limit fails with a ResourceLimitError and is reset', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const b = await node({ resources: { protocols: { [ECHO]: { streamsOutbound: 1 } } } })
    a.handle(ECHO, () => {})
    const addr = a.getMultiaddrs()[0]!
    await b.newStream(addr, ECHO)
    const error = await b.newStream(addr, ECHO).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(ResourceLimitError)
    expect(error).toMatchObject({ code: 'resource/limit-exceeded', scope: 'protocol', resource: 'stream', direction: 'outbound', scopeName: ECHO })
    expect(b.resources().blocked).toEqual([{ scope: 'protocol', resource: 'stream', direction: 'outbound', count: 1 }])
  })
})

describe('connections refused after the handshake, and outbound', () => {
  test('peer conns = 1: a second connection of the same peer gets GoAway 0x1001 (ConnectionClosedError on the remote)', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], resources: { peer: { conns: 1 } } })
    const b = await node()
    const addr = a.getMultiaddrs()[0]!.withoutPeerId()
    await b.dial(addr)
    const closed = new Promise<Error | undefined>((resolve) => b.on('connection:close', ({ error }) => resolve(error)))
    const second = await b.dial(addr).then(() => undefined, (e: unknown) => e)
    // the refusal may reach b before or after b saw the connection established
    const error = second instanceof DialError ? second.attempts[0]!.error : await closed
    expect(error).toBeInstanceOf(ConnectionClosedError)
    expect(error).toMatchObject({ wireCode: 0x1001, code: 'close/resource-limit-exceeded', by: 'remote' })
    expect(a.resources().blocked).toEqual([{ scope: 'peer', resource: 'connection', direction: 'inbound', count: 1 }])
    await until(() => a.resources().transient.connsInbound === 0, 'the refused connection released')
    expect(a.resources().system.connsInbound).toBe(1)
  })

  test('system connsOutbound = 0: a dial fails with dial/resource-limit, its attempt with a ResourceLimitError, nothing connects', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const b = await node({ resources: { system: { connsOutbound: 0 } } })
    const error = await b.dial(a.getMultiaddrs()[0]!).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(DialError)
    expect((error as DialError).code).toBe('dial/resource-limit')
    expect((error as DialError).attempts[0]!.error).toBeInstanceOf(ResourceLimitError)
    expect(a.getConnections()).toEqual([])
  })

  test('weft/node autoscales to os.totalmem(); weft/browser gets the base limits; systemMemory overrides', async () => {
    const { totalmem } = await import('node:os')
    const { createNode: createBrowserNode } = await import('../src/browser.js')
    const { autoscale } = await import('../src/swarm/resource-limits.js')
    const n = await node()
    expect(n.swarm.policy.resources.limits.system).toEqual(autoscale(totalmem()).system)
    const b = await createBrowserNode({ start: false })
    expect(b.swarm.policy.resources.limits.system).toEqual(autoscale(undefined).system)
    const big = await node({ systemMemory: 64 * 2 ** 30 })
    expect(big.swarm.policy.resources.limits.system.connsInbound).toBe(384 + 64 * 8)
  })

  test('ping.maxInboundStreams sets the built-in ping limit, so one number governs ping streams', async () => {
    const n = await node({ ping: { maxInboundStreams: 5 } })
    expect(n.swarm.policy.resources.limits.protocolsPeer['/ipfs/ping/1.0.0']).toEqual({ streamsInbound: 5, streamsOutbound: 3, streams: 5 })
    const m = await node({ ping: { maxInboundStreams: 5 }, resources: { protocolsPeer: { '/ipfs/ping/1.0.0': { streamsInbound: 1 } } } })
    expect(m.swarm.policy.resources.limits.protocolsPeer['/ipfs/ping/1.0.0']!.streamsInbound).toBe(1) // an explicit resources value wins
  })
})

describe('services report their stores', () => {
  test("kad and gossipsub report their stores' bytes in resources().services (gossipsub's message cache after a publish)", async () => {
    const a = await node({ listen: ['/memory/0'], services: { dht: kadDht(), pubsub: gossipsub() } })
    const b = await node({ services: { pubsub: gossipsub() } })
    expect(a.resources().services).toMatchObject({ kad: { reported: 0 }, gossipsub: { reported: 0 } })
    a.pubsub.subscribe('t')
    b.pubsub.subscribe('t')
    await b.dial(a.getMultiaddrs()[0]!)
    const end = Date.now() + 10_000
    for (;;) {
      const ok = await a.pubsub.publish('t', new Uint8Array(1000)).then(() => true, () => false)
      if (ok) break
      if (Date.now() > end) throw new Error('never published')
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(a.resources().services.gossipsub!.reported).toBeGreaterThanOrEqual(1000)
  })
})

describe('release exactness end to end', () => {
  test('1,000 connections and 3,000 streams opened and closed (some reset) leave zero usage on both sides', async () => {
    const a = await node({ listen: ['/memory/0'] })
    const b = await node()
    a.handle(ECHO, async (s) => {
      const all = await readAll(s.source).catch(() => new Uint8Array(0))
      await s.sink([all]).catch(() => {})
    })
    const addr: Multiaddr = a.getMultiaddrs()[0]!
    const CONNS = 1000
    for (let i = 0; i < CONNS; i += 8) {
      // 8 at a time (the default connections per peer), each with 3 streams: echoed, reset by the opener, reset by a hang-up
      await Promise.all(Array.from({ length: Math.min(8, CONNS - i) }, async () => {
        await b.dial(addr.withoutPeerId()) // by address: a new connection each time
        const s1 = await b.newStream(addr, ECHO)
        const [, back] = await Promise.all([s1.sink([new Uint8Array([1, 2, 3])]), readAll(s1.source)])
        expect(back.length).toBe(3)
        const s2 = await b.newStream(addr, ECHO)
        s2.reset()
        await b.newStream(addr, ECHO) // left open: the hang-up resets it
      }))
      await b.hangUp(a.peerId)
      await until(() => b.getConnections().length === 0 && a.getConnections().length === 0, 'the batch closed')
    }
    await until(() => b.getConnections().length === 0 && a.getConnections().length === 0, 'every connection closed')
    for (const n of [a, b]) {
      const u = n.resources({ peers: true })
      expect({ system: u.system, transient: u.transient, peers: u.peers, byPeer: u.byPeer, protocols: u.protocols, services: u.services })
        .toEqual({ system: ZERO, transient: ZERO, peers: 0, byPeer: {}, protocols: {}, services: {} })
      expect(u.blocked).toEqual([])
    }
  }, 120_000)
})
