/**
 * The swarm's reachability signal (confirmed external addresses, src/swarm/reachability.ts) and
 * the `set-protocols` action a behaviour uses to change what it serves.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { UsageError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { isPublicAddr, Swarm, type Behaviour, type BehaviourAction, type BehaviourInput, type SwarmEvent } from '../src/swarm/index.js'
import { createNode, type WeftNode } from '../src/node.js'

const ma = (s: string): Multiaddr => Multiaddr.fromString(s)

/** A behaviour that records its inputs and emits the actions it is told to. */
class Probe implements Behaviour<never> {
  readonly protocols: readonly string[]
  readonly inputs: BehaviourInput[] = []
  readonly queue: BehaviourAction<never>[] = []
  constructor(protocols: readonly string[]) {
    this.protocols = protocols
  }
  handle(_now: number, input: BehaviourInput): void {
    this.inputs.push(input)
  }
  handleTimeout(): void {}
  pollAction(): BehaviourAction<never> | undefined {
    return this.queue.shift()
  }
  pollTimeout(): undefined {
    return undefined
  }
  of<T extends BehaviourInput['type']>(type: T): Extract<BehaviourInput, { type: T }>[] {
    return this.inputs.filter((i): i is Extract<BehaviourInput, { type: T }> => i.type === type)
  }
}

function swarm(): { s: Swarm<{ a: Probe; b: Probe }>; a: Probe; b: Probe } {
  const a = new Probe(['/a/1.0.0'])
  const b = new Probe(['/b/1.0.0'])
  const s = new Swarm({ a, b }, { crypto: nobleCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(1), nobleCrypto), limits: { maxExternalAddrs: 2 } })
  return { s, a, b }
}

describe('isPublicAddr', () => {
  const cases: Array<[string, boolean]> = [
    ['/ip4/8.8.8.8/tcp/4001', true],
    ['/ip4/1.2.3.4', true],
    ['/ip4/127.0.0.1/tcp/1', false],
    ['/ip4/10.1.2.3/tcp/1', false],
    ['/ip4/172.16.0.1/tcp/1', false],
    ['/ip4/172.32.0.1/tcp/1', true],
    ['/ip4/192.168.1.1/tcp/1', false],
    ['/ip4/100.64.0.1/tcp/1', false],
    ['/ip4/100.128.0.1/tcp/1', true],
    ['/ip4/169.254.1.1/tcp/1', false],
    ['/ip4/0.0.0.0/tcp/1', false],
    ['/ip4/224.0.0.1/udp/1', false],
    ['/ip4/192.0.2.7/tcp/1', false],
    ['/ip4/198.51.100.7/tcp/1', false],
    ['/ip4/203.0.113.7/tcp/1', false],
    ['/ip6/2606:4700::1111/tcp/1', true],
    ['/ip6/2001:db8::1/tcp/1', false],
    ['/ip6/::1/tcp/1', false],
    ['/ip6/::/tcp/1', false],
    ['/ip6/fe80::1/tcp/1', false],
    ['/ip6/fd00::1/tcp/1', false],
    ['/dns4/example.com/tcp/1', false],
    ['/memory/7', false],
  ]
  for (const [addr, expected] of cases) test(`${addr} -> ${expected}`, () => expect(isPublicAddr(ma(addr))).toBe(expected))
})

describe('confirmed external addresses', () => {
  test('sent once at start (unreachable), then on every change of the set; duplicates change nothing', () => {
    const { s, a, b } = swarm()
    s.start(0)
    expect(a.of('reachability')).toEqual([{ type: 'reachability', reachable: false, externalAddrs: [] }])
    // local-info comes first
    expect(a.inputs.findIndex((i) => i.type === 'local-info')).toBeLessThan(a.inputs.findIndex((i) => i.type === 'reachability'))
    s.addExternalAddress(1, ma('/ip4/192.168.1.5/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'))
    const r = a.of('reachability')
    expect(r).toHaveLength(2)
    expect(r[1]!.reachable).toBe(true)
    expect(r[1]!.externalAddrs.map(String)).toEqual(['/ip4/192.168.1.5/tcp/4001']) // /p2p stripped; the user's word counts, even for a private IP
    expect(b.of('reachability')).toHaveLength(2)
    s.addExternalAddress(2, ma('/ip4/192.168.1.5/tcp/4001'))
    expect(a.of('reachability')).toHaveLength(2)
    expect(s.reachable).toBe(true)
    s.removeExternalAddress(3, ma('/ip4/192.168.1.5/tcp/4001'))
    expect(a.of('reachability').at(-1)).toEqual({ type: 'reachability', reachable: false, externalAddrs: [] })
    expect(s.reachable).toBe(false)
    s.removeExternalAddress(4, ma('/ip4/192.168.1.5/tcp/4001'))
    expect(a.of('reachability')).toHaveLength(3)
    // the user-facing event follows the behaviours' input
    const evs: unknown[] = []
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) if (e.type === 'reachability') evs.push(e.reachable)
    expect(evs).toEqual([false, true, false])
  })

  test('a listen address with a public IP counts; a private or loopback one does not', () => {
    const { s, a } = swarm()
    s.start(0)
    s.setListenAddrs(1, [ma('/ip4/127.0.0.1/tcp/4001'), ma('/ip4/10.0.0.2/tcp/4001')])
    expect(a.of('reachability')).toHaveLength(1)
    s.setListenAddrs(2, [ma('/ip4/127.0.0.1/tcp/4001'), ma('/ip4/8.8.4.4/tcp/4001')])
    expect(a.of('reachability').at(-1)).toMatchObject({ reachable: true })
    expect(s.externalAddrs.map(String)).toEqual(['/ip4/8.8.4.4/tcp/4001'])
  })

  test('nothing before start; the user bound is a UsageError', () => {
    const { s, a } = swarm()
    s.addExternalAddress(0, ma('/ip4/1.1.1.1/tcp/1'))
    expect(a.of('reachability')).toHaveLength(0)
    s.start(1)
    expect(a.of('reachability')).toEqual([{ type: 'reachability', reachable: true, externalAddrs: [ma('/ip4/1.1.1.1/tcp/1')] }])
    s.addExternalAddress(2, ma('/ip4/1.1.1.2/tcp/1'))
    let err: unknown
    try {
      s.addExternalAddress(3, ma('/ip4/1.1.1.3/tcp/1'))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(UsageError)
    expect((err as UsageError).code).toBe('swarm/too-many-external-addrs')
  })
})

describe('set-protocols', () => {
  test('replaces what a behaviour serves; every behaviour gets the new local-info', () => {
    const { s, a, b } = swarm()
    s.start(0)
    expect(s.protocols()).toEqual(['/a/1.0.0', '/b/1.0.0'])
    a.queue.push({ type: 'set-protocols', protocols: ['/a/2.0.0'] })
    s.pump(1)
    expect(s.protocols()).toEqual(['/b/1.0.0', '/a/2.0.0'])
    expect(b.of('local-info').at(-1)!.protocols).toEqual(['/b/1.0.0', '/a/2.0.0'])
    a.queue.push({ type: 'set-protocols', protocols: [] })
    s.pump(2)
    expect(s.protocols()).toEqual(['/b/1.0.0'])
    const infos = b.of('local-info').length
    a.queue.push({ type: 'set-protocols', protocols: [] })
    s.pump(3)
    expect(b.of('local-info')).toHaveLength(infos) // no change, no local-info
  })

  test("a protocol another owner serves is a UsageError, reported as the behaviour's error event", () => {
    const { s, a } = swarm()
    s.start(0)
    const errors = (): Array<Extract<SwarmEvent, { type: 'error' }>> => {
      const out: Array<Extract<SwarmEvent, { type: 'error' }>> = []
      for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) if (ev.type === 'error') out.push(ev)
      return out
    }
    errors()
    a.queue.push({ type: 'set-protocols', protocols: ['/b/1.0.0'] })
    s.pump(1)
    const [e1] = errors()
    expect(e1).toMatchObject({ origin: 'behaviour', behaviour: 'a' })
    expect(e1!.error).toBeInstanceOf(UsageError)
    s.handle(2, '/user/1.0.0')
    a.queue.push({ type: 'set-protocols', protocols: ['/user/1.0.0'] })
    s.pump(3)
    expect(errors()[0]!.error.message).toMatch(/protocol-taken/)
  })

  test('two behaviours declaring one protocol: UsageError at construction', () => {
    const identity = privateKeyFromSeed(new Uint8Array(32).fill(1), nobleCrypto)
    expect(() => new Swarm({ a: new Probe(['/x/1.0.0']), b: new Probe(['/x/1.0.0']) }, { crypto: nobleCrypto, identity })).toThrow(/protocol-taken/)
  })
})

describe('node: external addresses', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

  test('addExternalAddress: a reachability event, and identify advertises the address (push)', async () => {
    const a = await createNode({ listen: ['/memory/0'], services: {} })
    const b = await createNode({ listen: [], services: {} })
    nodes.push(a, b)
    const identified = new Promise<void>((r) => b.on('peer:identify', () => r()))
    await b.dial(a.getMultiaddrs()[0]!)
    await identified
    const events: boolean[] = []
    a.on('reachability', (e) => events.push(e.reachable))
    a.addExternalAddress('/ip4/203.0.113.9/tcp/4001')
    expect(a.getExternalAddresses().map(String)).toEqual(['/ip4/203.0.113.9/tcp/4001'])
    expect(events).toEqual([true])
    const has = (): boolean => (b.peerStore.get(a.peerId)?.addrs ?? []).some((x) => x.toString() === '/ip4/203.0.113.9/tcp/4001')
    for (let i = 0; i < 100 && !has(); i++) await new Promise((r) => setTimeout(r, 10))
    expect(has()).toBe(true)
    a.removeExternalAddress('/ip4/203.0.113.9/tcp/4001')
    expect(events).toEqual([true, false])
  })
})
