/**
 * The resource manager as pure accounting (src/swarm/resources.ts, src/swarm/resource-limits.ts):
 * every scope and limit at the limit and one past it, refusals counted, autoscale figures, the
 * coherence rule, limits files, and exact release (a property test).
 */
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { OutcomeError, ResourceLimitError, UsageError } from '../src/core/errors.js'
import { ResourceManager, type ScopeUsage } from '../src/swarm/resources.js'
import {
  applyLimits, autoscale, coherenceWarnings, parseLimitsJson, unlimited, unlimitedLimits, type ResourceLimits, type ScopeLimits,
} from '../src/swarm/resource-limits.js'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB
const ZERO: ScopeUsage = { connsInbound: 0, connsOutbound: 0, streamsInbound: 0, streamsOutbound: 0, memory: 0 }

/** Unlimited everywhere except `scope`, which gets `l`. */
function only(scope: keyof Pick<ResourceLimits, 'system' | 'transient' | 'peer' | 'protocol' | 'service' | 'protocolPeer' | 'connection' | 'stream'>, l: Partial<ScopeLimits>, extra: Partial<ResourceLimits> = {}): ResourceManager {
  const limits = unlimitedLimits()
  Object.assign(limits[scope], l)
  return new ResourceManager({ ...limits, ...extra })
}

function expectRefused(err: ResourceLimitError | undefined, scope: string, resource: string, direction: string): void {
  expect(err).toBeInstanceOf(ResourceLimitError)
  expect(err).toBeInstanceOf(OutcomeError)
  expect(err!.code).toBe('resource/limit-exceeded')
  expect({ scope: err!.scope, resource: err!.resource, direction: err!.direction }).toEqual({ scope, resource, direction })
}

/** Open `n` connections (ids from `first`) to `peer`, returning the first refusal. */
function connect(rm: ResourceManager, first: number, n: number, dir: 'inbound' | 'outbound', peer?: string): ResourceLimitError | undefined {
  for (let i = 0; i < n; i++) {
    const err = rm.reserveConnection(first + i, dir) ?? (peer !== undefined ? rm.reservePeer(first + i, peer) : undefined)
    if (err !== undefined) return err
  }
  return undefined
}

describe('connections', () => {
  for (const [field, dir] of [['conns', 'inbound'], ['connsInbound', 'inbound'], ['connsOutbound', 'outbound']] as const) {
    test(`system ${field} = 3: the 3rd ${dir} connection is admitted, the 4th refused and counted`, () => {
      const rm = only('system', { [field]: 3 })
      expect(connect(rm, 1, 3, dir, 'P')).toBeUndefined()
      expectRefused(rm.reserveConnection(4, dir), 'system', 'connection', dir)
      expect(rm.usage().system[dir === 'inbound' ? 'connsInbound' : 'connsOutbound']).toBe(3)
      expect(rm.usage().blocked).toEqual([{ scope: 'system', resource: 'connection', direction: dir, count: 1 }])
      rm.releaseConnection(1)
      expect(rm.reserveConnection(4, dir)).toBeUndefined()
    })
  }

  test('connsInbound does not limit outbound connections, and conns limits both together', () => {
    const rm = only('system', { conns: 4, connsInbound: 2 })
    expect(connect(rm, 1, 2, 'inbound')).toBeUndefined()
    expectRefused(rm.reserveConnection(3, 'inbound'), 'system', 'connection', 'inbound')
    expect(connect(rm, 3, 2, 'outbound')).toBeUndefined()
    expectRefused(rm.reserveConnection(5, 'outbound'), 'system', 'connection', 'outbound')
  })

  test('transient: connections count until their peer is known, then move to the peer scope', () => {
    const rm = only('transient', { connsInbound: 2 })
    expect(connect(rm, 1, 2, 'inbound')).toBeUndefined()
    expectRefused(rm.reserveConnection(3, 'inbound'), 'transient', 'connection', 'inbound')
    expect(rm.reservePeer(1, 'A')).toBeUndefined()
    expect(rm.usage().transient.connsInbound).toBe(1)
    expect(rm.peer('A')).toEqual({ ...ZERO, connsInbound: 1 })
    expect(rm.reserveConnection(3, 'inbound')).toBeUndefined()
    expect(rm.usage().system.connsInbound).toBe(3)
  })

  test('peer conns = 2: a 3rd connection of the same peer is refused at the handshake and stays transient until released', () => {
    const rm = only('peer', { conns: 2 })
    expect(connect(rm, 1, 2, 'inbound', 'A')).toBeUndefined()
    expect(rm.reserveConnection(3, 'outbound')).toBeUndefined()
    const err = rm.reservePeer(3, 'A')
    expectRefused(err, 'peer', 'connection', 'outbound')
    expect(err!.scopeName).toBe('A')
    expect(rm.usage().transient.connsOutbound).toBe(1)
    expect(connect(rm, 4, 1, 'inbound', 'B')).toBeUndefined() // another peer is not affected
    rm.releaseConnection(3)
    expect(rm.usage().transient).toEqual(ZERO)
    expect(rm.usage().system).toEqual({ ...ZERO, connsInbound: 3 })
    expect(rm.usage().blocked).toEqual([{ scope: 'peer', resource: 'connection', direction: 'outbound', count: 1 }])
  })

  test('peer connsInbound / connsOutbound separately', () => {
    const rm = only('peer', { connsInbound: 1, connsOutbound: 1 })
    expect(connect(rm, 1, 1, 'inbound', 'A')).toBeUndefined()
    expect(connect(rm, 2, 1, 'outbound', 'A')).toBeUndefined()
    expectRefused(connect(rm, 3, 1, 'inbound', 'A'), 'peer', 'connection', 'inbound')
    expectRefused(connect(rm, 4, 1, 'outbound', 'A'), 'peer', 'connection', 'outbound')
  })

  test('misuse: reserving an id twice, a peer for an unknown id, a peer twice', () => {
    const rm = new ResourceManager(unlimitedLimits())
    rm.reserveConnection(1, 'inbound')
    expect(() => rm.reserveConnection(1, 'inbound')).toThrow(UsageError)
    expect(() => rm.reservePeer(2, 'A')).toThrow(UsageError)
    rm.reservePeer(1, 'A')
    expect(() => rm.reservePeer(1, 'A')).toThrow(UsageError)
    expect(() => rm.reserveStream(9, 1, 'inbound', '/p', 's')).toThrow(UsageError)
  })
})

describe('streams', () => {
  const P = '/p/1.0.0'
  /** A manager with connection 1 (to peer A) and connection 2 (to peer B). */
  function setup(limits: ResourceManager): ResourceManager {
    connect(limits, 1, 1, 'outbound', 'A')
    connect(limits, 2, 1, 'outbound', 'B')
    return limits
  }
  function streams(rm: ResourceManager, conn: number, first: number, n: number, dir: 'inbound' | 'outbound', protocol = P, service: string | null = 'svc'): ResourceLimitError | undefined {
    // null: a user stream (undefined would take the default)
    for (let i = 0; i < n; i++) {
      const err = rm.reserveStream(conn, first + i, dir, protocol, service ?? undefined)
      if (err !== undefined) return err
    }
    return undefined
  }

  const cases: Array<[keyof ResourceLimits, 'system' | 'peer' | 'protocol' | 'service' | 'protocol-peer', boolean]> = [
    // scope limited, the scope kind in the error, whether another peer shares the limit
    ['system', 'system', true],
    ['peer', 'peer', false],
    ['protocol', 'protocol', true],
    ['service', 'service', true],
    ['protocolPeer', 'protocol-peer', false],
  ]
  for (const [key, kind, shared] of cases) {
    for (const [field, dir] of [['streams', 'outbound'], ['streamsInbound', 'inbound'], ['streamsOutbound', 'outbound']] as const) {
      test(`${key}.${field} = 2: the 2nd ${dir} stream is admitted, the 3rd refused (${shared ? 'shared by peers' : 'per peer'})`, () => {
        const rm = setup(only(key as 'system', { [field]: 2 }))
        expect(streams(rm, 1, 1, 2, dir)).toBeUndefined()
        expectRefused(rm.reserveStream(1, 3, dir, P, 'svc'), kind, 'stream', dir)
        const other = rm.reserveStream(2, 1, dir, P, 'svc')
        if (shared) expectRefused(other, kind, 'stream', dir)
        else expect(other).toBeUndefined()
        rm.releaseStream(1, 1)
        expect(rm.reserveStream(1, 3, dir, P, 'svc')).toBeUndefined()
        expect(rm.usage().blocked.reduce((n, b) => n + b.count, 0)).toBe(shared ? 2 : 1)
      })
    }
  }

  test('per-protocol overrides apply to that protocol only; other protocols get the default', () => {
    const limits = unlimitedLimits()
    limits.protocols['/small'] = { streamsInbound: 1 }
    const rm = setup(new ResourceManager(limits))
    expect(rm.reserveStream(1, 1, 'inbound', '/small', 'svc')).toBeUndefined()
    expectRefused(rm.reserveStream(1, 2, 'inbound', '/small', 'svc'), 'protocol', 'stream', 'inbound')
    expect(streams(rm, 1, 3, 10, 'inbound', '/big')).toBeUndefined()
  })

  test('per-service overrides', () => {
    const limits = unlimitedLimits()
    limits.services.kad = { streamsOutbound: 1 }
    const rm = setup(new ResourceManager(limits))
    expect(rm.reserveStream(1, 1, 'outbound', '/a', 'kad')).toBeUndefined()
    const err = rm.reserveStream(1, 2, 'outbound', '/b', 'kad')
    expectRefused(err, 'service', 'stream', 'outbound')
    expect(err!.scopeName).toBe('kad')
    expect(rm.reserveStream(1, 2, 'outbound', '/b', 'gossipsub')).toBeUndefined()
  })

  test('built-in ping limits (go): 2 inbound, 3 outbound, 4 in all, per peer', () => {
    const rm = setup(new ResourceManager(autoscale(undefined)))
    const PING = '/ipfs/ping/1.0.0'
    expect(streams(rm, 1, 1, 2, 'inbound', PING, 'ping')).toBeUndefined()
    expectRefused(rm.reserveStream(1, 3, 'inbound', PING, 'ping'), 'protocol-peer', 'stream', 'inbound')
    expect(streams(rm, 1, 10, 2, 'outbound', PING, 'ping')).toBeUndefined()
    expectRefused(rm.reserveStream(1, 12, 'outbound', PING, 'ping'), 'protocol-peer', 'stream', 'outbound') // 4 in all
    expect(streams(rm, 2, 1, 3, 'outbound', PING, 'ping')).toBeUndefined()
    expectRefused(rm.reserveStream(2, 4, 'outbound', PING, 'ping'), 'protocol-peer', 'stream', 'outbound')
  })

  test('built-in identify limits (go): 16 inbound per peer', () => {
    const rm = setup(new ResourceManager(autoscale(undefined)))
    expect(streams(rm, 1, 1, 16, 'inbound', '/ipfs/id/1.0.0', 'identify')).toBeUndefined()
    expectRefused(rm.reserveStream(1, 17, 'inbound', '/ipfs/id/1.0.0', 'identify'), 'protocol-peer', 'stream', 'inbound')
  })

  test('memory: a user stream reserves streamMemory in every scope; a behaviour stream reserves nothing', () => {
    const rm = setup(new ResourceManager({ ...unlimitedLimits(), streamMemory: 1000 }))
    rm.reserveStream(1, 1, 'inbound', P, undefined)
    rm.reserveStream(1, 2, 'inbound', P, 'svc')
    const u = rm.usage()
    expect(u.system.memory).toBe(1000)
    expect(u.protocols[P]!.memory).toBe(1000)
    expect(u.services.svc!.memory).toBe(0)
    expect(rm.peer('A')!.memory).toBe(1000)
    expect(rm.snapshot().connections.find((c) => c.memory > 0)!.memory).toBe(1000)
  })

  for (const [key, kind] of [['system', 'system'], ['peer', 'peer'], ['protocol', 'protocol'], ['protocolPeer', 'protocol-peer'], ['connection', 'connection'], ['stream', 'stream']] as const) {
    test(`memory: ${key}.memory = 2 x streamMemory admits 2 user streams and refuses the 3rd`, () => {
      const rm = setup(only(key, { memory: key === 'stream' ? 999 : 2000 }, { streamMemory: key === 'stream' ? 999 : 1000 }))
      if (key === 'stream') {
        // the stream scope limits one stream's memory: at the limit admitted; one byte more refused
        expect(rm.reserveStream(1, 1, 'inbound', P, undefined)).toBeUndefined()
        const rm2 = setup(only('stream', { memory: 999 }, { streamMemory: 1000 }))
        expectRefused(rm2.reserveStream(1, 1, 'inbound', P, undefined), 'stream', 'memory', 'inbound')
        return
      }
      expect(streams(rm, 1, 1, 2, 'inbound', P, null)).toBeUndefined()
      expectRefused(rm.reserveStream(1, 3, 'inbound', P, undefined), kind, 'memory', 'inbound')
      expect(rm.reserveStream(1, 3, 'inbound', P, 'svc')).toBeUndefined() // a behaviour stream reserves no memory
    })
  }

  test('service memory limit', () => {
    const limits = unlimitedLimits()
    limits.service.memory = 0
    const rm = setup(new ResourceManager(limits))
    expect(rm.reserveStream(1, 1, 'inbound', P, 'svc')).toBeUndefined() // 0 bytes fit in 0
  })

  test('a refused stream charges nothing (all or nothing)', () => {
    const rm = setup(only('protocol', { streams: 1 }))
    rm.reserveStream(1, 1, 'inbound', P, 'svc')
    const before = rm.usage()
    expectRefused(rm.reserveStream(1, 2, 'inbound', P, 'svc'), 'protocol', 'stream', 'inbound')
    expect({ ...rm.usage(), blocked: [] }).toEqual({ ...before, blocked: [] })
  })

  test('the error names the narrowest full scope', () => {
    const limits = unlimitedLimits()
    limits.system.streams = 1
    limits.peer.streams = 1
    const rm = setup(new ResourceManager(limits))
    rm.reserveStream(1, 1, 'inbound', P, 'svc')
    expectRefused(rm.reserveStream(1, 2, 'inbound', P, 'svc'), 'peer', 'stream', 'inbound')
  })

  test('releasing a connection releases its streams; second releases do nothing', () => {
    const rm = setup(new ResourceManager({ ...unlimitedLimits(), streamMemory: 7 }))
    streams(rm, 1, 1, 5, 'inbound', P, null)
    rm.releaseStream(1, 1)
    rm.releaseStream(1, 1)
    rm.releaseConnection(1)
    rm.releaseConnection(1)
    rm.releaseStream(1, 2)
    rm.releaseConnection(2)
    expect(rm.usage()).toEqual({ system: ZERO, transient: ZERO, peers: 0, protocols: {}, services: {}, blocked: [], warnings: [] })
    expect(rm.connections).toBe(0)
  })
})

describe('usage and reporting', () => {
  test('reportUsage: read at usage() time, unregistered by the returned function', () => {
    const rm = new ResourceManager(unlimitedLimits())
    let bytes = 10
    const off = rm.reportUsage('kad', () => bytes)
    rm.reportUsage('kad', () => 5)
    expect(rm.usage().services.kad).toEqual({ ...ZERO, reported: 15 })
    bytes = 20
    expect(rm.usage().services.kad!.reported).toBe(25)
    off()
    expect(rm.usage().services.kad!.reported).toBe(5)
  })

  test('usage is JSON-friendly; byPeer only when asked; snapshot has no peer ids', () => {
    const rm = new ResourceManager(autoscale(undefined), { highWater: 192 })
    connect(rm, 1, 1, 'inbound', 'PEER-A')
    rm.reserveStream(1, 1, 'inbound', '/x', 'svc')
    const u = rm.usage()
    expect(JSON.parse(JSON.stringify(u))).toEqual(u)
    expect(u.byPeer).toBeUndefined()
    expect(u.peers).toBe(1)
    expect(rm.usage({ peers: true }).byPeer).toEqual({ 'PEER-A': { ...ZERO, connsInbound: 1, streamsInbound: 1 } })
    expect(JSON.stringify(rm.snapshot())).not.toContain('PEER-A')
    expect(rm.snapshot().scopes.map((s) => `${s.scope}:${s.name ?? ''}`)).toEqual(['system:', 'transient:', 'protocol:/x', 'service:svc'])
  })
})

describe('limits', () => {
  test('autoscale: the base limits below 1 GiB of RAM and in a browser (no memory given)', () => {
    for (const l of [autoscale(undefined), autoscale(512 * MiB), autoscale(1 * GiB)]) {
      expect(l.system).toEqual({ conns: 512, connsInbound: 384, connsOutbound: 512, streams: 2048, streamsInbound: 1024, streamsOutbound: 2048, memory: 128 * MiB })
      expect(l.transient).toEqual({ conns: 256, connsInbound: 128, connsOutbound: 128, streams: 256, streamsInbound: 128, streamsOutbound: 256, memory: 32 * MiB })
      expect(l.peer).toEqual({ conns: 8, connsInbound: 8, connsOutbound: 8, streams: 512, streamsInbound: 256, streamsOutbound: 512, memory: 64 * MiB })
      expect(l.connection.memory).toBe(32 * MiB)
      expect(l.stream.memory).toBe(16 * MiB)
      expect(l.streamMemory).toBe(256 * KiB)
    }
  })

  test('autoscale: 16 GiB of RAM allows 2 GiB, each limit grows by twice its per-GiB increase', () => {
    const l = autoscale(16 * GiB)
    expect(l.system).toEqual({ conns: 768, connsInbound: 512, connsOutbound: 768, streams: 6144, streamsInbound: 3072, streamsOutbound: 6144, memory: 128 * MiB + 2 * GiB })
    expect(l.transient).toEqual({ conns: 320, connsInbound: 160, connsOutbound: 192, streams: 768, streamsInbound: 384, streamsOutbound: 768, memory: 288 * MiB })
    expect(l.peer).toEqual({ conns: 8, connsInbound: 8, connsOutbound: 8, streams: 1024, streamsInbound: 512, streamsOutbound: 1024, memory: 320 * MiB })
    expect(l.protocol.streamsInbound).toBe(1024)
    expect(l.service.streams).toBe(8192)
    expect(l.protocolPeer).toEqual({ conns: Infinity, connsInbound: Infinity, connsOutbound: Infinity, streams: 288, streamsInbound: 72, streamsOutbound: 144, memory: 24 * MiB })
  })

  test('autoscale: the system connection limits stay at least 2 x the high water mark, streams 4 x', () => {
    const l = autoscale(undefined, 1000)
    expect([l.system.conns, l.system.connsInbound, l.system.connsOutbound]).toEqual([2000, 2000, 2000])
    expect([l.system.streams, l.system.streamsInbound, l.system.streamsOutbound]).toEqual([4000, 4000, 4000])
    expect(autoscale(undefined, 10_000).system).toMatchObject({ conns: 20_000, connsInbound: 20_000, streams: 40_000 })
    expect(coherenceWarnings(l, 1000)).toEqual([])
    expect(coherenceWarnings(autoscale(undefined), 192)).toEqual([])
  })

  test('coherence warnings name the field; usage() carries them', () => {
    const l = applyLimits(autoscale(undefined), { system: { connsInbound: 300 } })
    const w = coherenceWarnings(l, 192)
    expect(w).toHaveLength(1)
    expect(w[0]).toContain('system.connsInbound (300)')
    expect(new ResourceManager(l, { highWater: 192 }).usage().warnings).toEqual(w)
  })

  test('applyLimits merges field by field and key by key; bad overrides are RangeErrors', () => {
    const l = applyLimits(autoscale(undefined), { peer: { conns: 2 }, protocolsPeer: { '/ipfs/ping/1.0.0': { streamsInbound: 5 } }, streamMemory: 1 })
    expect(l.peer.conns).toBe(2)
    expect(l.peer.streams).toBe(512)
    expect(l.protocolsPeer['/ipfs/ping/1.0.0']).toEqual({ streamsInbound: 5, streamsOutbound: 3, streams: 4 })
    expect(l.streamMemory).toBe(1)
    expect(autoscale(undefined).peer.conns).toBe(8) // not mutated
    expect(() => applyLimits(autoscale(undefined), { peer: { conns: -1 } })).toThrow(RangeError)
    expect(() => applyLimits(autoscale(undefined), { peer: { cons: 1 } as never })).toThrow(/peer.cons/)
    expect({ ...unlimited }.memory).toBe(Infinity)
  })

  test('parseLimitsJson: the shape of createNode({ resources }), "unlimited" for Infinity, UsageErrors naming the bad field', () => {
    expect(parseLimitsJson('{"system":{"conns":"unlimited","memory":1024},"protocols":{"/a":{"streams":3}}}'))
      .toEqual({ system: { conns: Infinity, memory: 1024 }, protocols: { '/a': { streams: 3 } } })
    const bad: Array<[string, RegExp]> = [
      ['{', /not JSON/],
      ['[]', /resources must be an object/],
      ['{"sytem":{}}', /sytem is not a resource scope/],
      ['{"peer":{"conns":1.5}}', /peer\.conns must be a non-negative integer/],
      ['{"peer":{"conns":"8"}}', /peer\.conns must be/],
      ['{"peer":{"fds":8}}', /peer\.fds is not a limit/],
      ['{"protocols":{"/x":{"streams":-1}}}', /protocols\["\/x"\]\.streams/],
      ['{"protocols":[]}', /protocols must be an object/],
      ['{"streamMemory":"unlimited"}', /streamMemory/],
    ]
    for (const [text, msg] of bad) {
      let err: unknown
      try {
        parseLimitsJson(text)
      } catch (e) {
        err = e
      }
      expect(err, text).toBeInstanceOf(UsageError)
      expect((err as UsageError).code).toBe('resources/bad-limits')
      expect((err as Error).message).toMatch(msg)
    }
  })
})

describe('release exactness (property)', () => {
  type Op =
    | { k: 'conn'; dir: 'inbound' | 'outbound'; peer: number }
    | { k: 'peer'; conn: number; peer: number }
    | { k: 'stream'; conn: number; dir: 'inbound' | 'outbound'; proto: number; user: boolean }
    | { k: 'close-stream'; conn: number; nth: number }
    | { k: 'close-conn'; conn: number }
  const dir = fc.constantFrom('inbound' as const, 'outbound' as const)
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('conn' as const), dir, peer: fc.nat(3) }),
    fc.record({ k: fc.constant('peer' as const), conn: fc.nat(15), peer: fc.nat(3) }),
    fc.record({ k: fc.constant('stream' as const), conn: fc.nat(15), dir, proto: fc.nat(2), user: fc.boolean() }),
    fc.record({ k: fc.constant('close-stream' as const), conn: fc.nat(15), nth: fc.nat(5) }),
    fc.record({ k: fc.constant('close-conn' as const), conn: fc.nat(15) }),
  )

  test('random open/close sequences under tight limits end at zero usage everywhere once all is released', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 120 }), fc.nat(4), (ops, tight) => {
      const limits = applyLimits(autoscale(undefined), {
        system: { conns: 6 + tight, streams: 12 + tight, memory: 5000 }, transient: { conns: 3 + tight }, peer: { conns: 2, streams: 5 },
        protocol: { streamsInbound: 4 }, protocolPeer: { streams: 2 }, connection: { memory: 2000 }, streamMemory: 1000,
      })
      const rm = new ResourceManager(limits)
      let next = 0
      const conns = new Map<number, { peer: boolean; streams: number[] }>()
      let sid = 0
      let model = { conns: 0, streams: 0 }
      for (const o of ops) {
        const ids = [...conns.keys()]
        const pick = (i: number): number | undefined => ids.length === 0 ? undefined : ids[i % ids.length]
        if (o.k === 'conn') {
          const id = next++
          if (rm.reserveConnection(id, o.dir) === undefined) conns.set(id, { peer: false, streams: [] })
        } else if (o.k === 'peer') {
          const id = pick(o.conn)
          if (id !== undefined && !conns.get(id)!.peer && rm.reservePeer(id, `P${o.conn % 4}`) === undefined) conns.get(id)!.peer = true
        } else if (o.k === 'stream') {
          const id = pick(o.conn)
          if (id === undefined || !conns.get(id)!.peer) continue
          const s = sid++
          if (rm.reserveStream(id, s, o.dir, `/p${o.proto}`, o.user ? undefined : 'svc') === undefined) conns.get(id)!.streams.push(s)
        } else if (o.k === 'close-stream') {
          const id = pick(o.conn)
          const c = id === undefined ? undefined : conns.get(id)
          if (c === undefined || c.streams.length === 0) continue
          const [s] = c.streams.splice(o.nth % c.streams.length, 1)
          rm.releaseStream(id!, s!)
          rm.releaseStream(id!, s!) // exactly once: a second release is a no-op
        } else {
          const id = pick(o.conn)
          if (id === undefined) continue
          rm.releaseConnection(id)
          conns.delete(id)
        }
        // invariants at every step: usage never negative, never above the limits, and system = what is open
        const u = rm.usage()
        model = { conns: conns.size, streams: [...conns.values()].reduce((n, c) => n + c.streams.length, 0) }
        expect(u.system.connsInbound + u.system.connsOutbound).toBe(model.conns)
        expect(u.system.streamsInbound + u.system.streamsOutbound).toBe(model.streams)
        expect(u.system.memory).toBeLessThanOrEqual(5000)
        expect(u.system.connsInbound + u.system.connsOutbound).toBeLessThanOrEqual(6 + tight)
        for (const v of [u.system, u.transient, ...Object.values(u.protocols)]) for (const n of Object.values(v)) expect(n).toBeGreaterThanOrEqual(0)
      }
      for (const id of [...conns.keys()]) rm.releaseConnection(id)
      const end = rm.usage()
      expect({ system: end.system, transient: end.transient, peers: end.peers, protocols: end.protocols, services: end.services })
        .toEqual({ system: ZERO, transient: ZERO, peers: 0, protocols: {}, services: {} })
      expect(rm.snapshot().connections).toEqual([])
    }), { numRuns: 300 })
  })
})
