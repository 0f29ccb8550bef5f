/**
 * The discovery behaviour (src/edge/discovery.ts) on a virtual clock: events and their dedupe,
 * the auto-dial policy (low watermark, concurrency, backoff, bounds) and bootstrap peers.
 */
import { describe, expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { generatePrivateKey, type PeerId } from '../src/peer-id/index.js'
import { UsageError } from '../src/core/errors.js'
import type { BehaviourAction, ConnectionInfo } from '../src/swarm/index.js'
import { DiscoveryBehaviour, backoffDelay, parseBootstrap, type DiscoveredEvent, type DiscoveryConfig } from '../src/edge/discovery.js'

const mk = (): PeerId => generatePrivateKey(nodeCrypto).publicKey.toPeerId()
const SELF = mk()
const ma = (port: number): Multiaddr => Multiaddr.fromString(`/ip4/10.0.0.1/tcp/${port}`)
let connId = 1
const conn = (peer: PeerId): ConnectionInfo => ({ id: connId++, peer, direction: 'outbound', remoteAddr: ma(1), localAddr: undefined, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: false, limited: false } as unknown as ConnectionInfo)

function make(over: Partial<DiscoveryConfig> = {}, lowWater = 10): DiscoveryBehaviour {
  const d = new DiscoveryBehaviour({ self: SELF, bootstrap: [], autoDial: true, lowWater: () => lowWater, random: () => 0.5, ...over })
  d.handle(0, { type: 'local-info', listenAddrs: [], protocols: [] })
  return d
}

function drain(d: DiscoveryBehaviour): BehaviourAction<DiscoveredEvent>[] {
  const out: BehaviourAction<DiscoveredEvent>[] = []
  for (let a = d.pollAction(); a !== undefined; a = d.pollAction()) out.push(a)
  return out
}
const dials = (as: BehaviourAction<DiscoveredEvent>[]) => as.filter((a): a is Extract<typeof a, { type: 'dial' }> => a.type === 'dial')
const events = (as: BehaviourAction<DiscoveredEvent>[]) => as.flatMap((a) => (a.type === 'event' ? [a.event] : []))
const info = (d: DiscoveryBehaviour, now: number, peer: PeerId, addrs: Multiaddr[], from = 'kad'): void =>
  d.handle(now, { type: 'peer-info', peer, info: { addrs, addrsAreHints: true }, from })

describe('parseBootstrap', () => {
  test('needs /p2p; merges addresses of one peer', () => {
    const p = mk()
    const list = parseBootstrap([`/ip4/1.2.3.4/tcp/1/p2p/${p}`, Multiaddr.fromString(`/ip4/1.2.3.5/tcp/2/p2p/${p}`)])
    expect(list).toHaveLength(1)
    expect(list[0]!.peer.equals(p)).toBe(true)
    expect(list[0]!.addrs.map(String)).toEqual(['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.5/tcp/2'])
    const e = (() => { try { parseBootstrap(['/ip4/1.2.3.4/tcp/1']) } catch (err) { return err } })()
    expect(e).toBeInstanceOf(UsageError)
    expect((e as UsageError).code).toBe('discovery/bootstrap-needs-peer-id')
    expect(() => parseBootstrap(['not an address'])).toThrow(UsageError)
  })
})

test('backoffDelay: doubles per failure, jittered within [d/2, d), capped', () => {
  expect(backoffDelay(1, 1000, 60_000, () => 0)).toBe(500)
  expect(backoffDelay(1, 1000, 60_000, () => 0.999)).toBe(999)
  expect(backoffDelay(3, 1000, 60_000, () => 0)).toBe(2000)
  expect(backoffDelay(40, 1000, 60_000, () => 0)).toBe(30_000)
  expect(backoffDelay(40, 1000, 60_000, () => 0.999)).toBeLessThan(60_000)
})

describe('events', () => {
  test('once per peer per new address set; sources by behaviour; never self, never unknown behaviours', () => {
    const d = make({ autoDial: false })
    drain(d)
    const p = mk()
    info(d, 1, p, [ma(1)])
    info(d, 2, p, [ma(1)])
    info(d, 3, p, [ma(1)], 'identify')
    let ev = events(drain(d))
    expect(ev).toHaveLength(1)
    expect(ev[0]!.source).toBe('kad')
    info(d, 4, p, [ma(1), ma(2)], 'identify')
    ev = events(drain(d))
    expect(ev.map((e) => [e.source, e.addrs.length])).toEqual([['identify', 2]])
    info(d, 5, mk(), [ma(3)], 'gossipsub')
    expect(events(drain(d))[0]!.source).toBe('pubsub-px')
    info(d, 6, mk(), [ma(3)], 'autonat')
    info(d, 6, SELF, [ma(3)], 'kad')
    info(d, 6, mk(), [], 'kad')
    expect(events(drain(d))).toEqual([])
  })

  test('the dedupe memory is bounded (maxRemembered): at the limit a peer is remembered, past it the oldest is forgotten', () => {
    const d = make({ autoDial: false, maxRemembered: 2 })
    const [a, b, c] = [mk(), mk(), mk()]
    info(d, 1, a, [ma(1)])
    info(d, 1, b, [ma(1)])
    info(d, 1, a, [ma(1)])
    expect(events(drain(d))).toHaveLength(2) // at the limit: a still remembered
    info(d, 1, c, [ma(1)]) // past it: b (least recently touched) forgotten
    info(d, 1, b, [ma(1)])
    expect(events(drain(d)).map((e) => e.peer.toString())).toEqual([c.toString(), b.toString()])
  })
})

describe('auto-dial', () => {
  test('dials discovered peers up to the low watermark, counting dials in flight; none at or above it', () => {
    const d = make({ autoDialOptions: { concurrency: 10 } }, 3)
    const peers = Array.from({ length: 6 }, mk)
    for (const p of peers) info(d, 1, p, [ma(1)])
    const first = dials(drain(d))
    expect(first).toHaveLength(3)
    expect(d.autoDialsInFlight).toBe(3)
    // the three connect: at the watermark, nothing more
    for (const a of first) {
      d.handle(2, { type: 'connection-established', connection: conn(a.peer!) })
      d.handle(2, { type: 'dial-succeeded', requestId: a.requestId, connection: conn(a.peer!) })
    }
    expect(dials(drain(d))).toHaveLength(0)
    expect(d.pollTimeout()).toBeUndefined()
    info(d, 3, mk(), [ma(1)])
    expect(dials(drain(d))).toHaveLength(0)
    // one closes: one below, one dial
    d.handle(4, { type: 'connection-closed', connection: conn(first[0]!.peer!) })
    expect(dials(drain(d))).toHaveLength(1)
  })

  test('bounded concurrency; a failed peer waits its backoff, doubling', () => {
    const d = make({ autoDialOptions: { concurrency: 2, backoffBase: 1000, backoffMax: 8000 } })
    const peers = [mk(), mk(), mk()]
    for (const p of peers) info(d, 0, p, [ma(1)])
    const a = dials(drain(d))
    expect(a).toHaveLength(2)
    d.handle(10, { type: 'dial-failed', requestId: a[0]!.requestId, error: new Error('x') })
    const b = dials(drain(d))
    expect(b.map((x) => x.peer!.toString())).toEqual([peers[2]!.toString()]) // the third, not the failed one
    d.handle(20, { type: 'dial-failed', requestId: a[1]!.requestId, error: new Error('x') })
    d.handle(20, { type: 'dial-failed', requestId: b[0]!.requestId, error: new Error('x') })
    expect(dials(drain(d))).toHaveLength(0)
    expect(d.pollTimeout()).toBe(10 + 750) // random 0.5: 1000/2 + 500*0.5
    d.handleTimeout(759)
    expect(dials(drain(d))).toHaveLength(0)
    d.handleTimeout(760)
    const c = dials(drain(d))
    expect(c.map((x) => x.peer!.toString())).toEqual([peers[0]!.toString()])
    // the failure at 800 frees a slot: peers[1] and [2] are due (770)
    d.handle(800, { type: 'dial-failed', requestId: c[0]!.requestId, error: new Error('x') })
    const e = dials(drain(d))
    expect(e.map((x) => x.peer!.toString()).sort()).toEqual([peers[1]!.toString(), peers[2]!.toString()].sort())
    for (const x of e) d.handle(810, { type: 'dial-failed', requestId: x.requestId, error: new Error('x') })
    expect(dials(drain(d))).toHaveLength(0)
    expect(d.stats.autoDialFailures).toBe(6)
    // each peer's second failure: 2000 * 0.75; peers[0] first (failed at 800)
    expect(d.pollTimeout()).toBe(800 + 1500)
    d.handleTimeout(2299)
    expect(dials(drain(d))).toHaveLength(0)
    d.handleTimeout(2300)
    expect(dials(drain(d)).map((x) => x.peer!.toString())).toEqual([peers[0]!.toString()])
  })

  test('never a connected peer, never self; a mDNS/rendezvous candidate is dialed but not re-emitted', () => {
    const d = make()
    const p = mk()
    d.handle(0, { type: 'connection-established', connection: conn(p) })
    info(d, 1, p, [ma(1)])
    d.candidate(1, SELF, [ma(1)])
    expect(dials(drain(d))).toHaveLength(0)
    const q = mk()
    d.candidate(2, q, [ma(2)])
    const as = drain(d)
    expect(events(as)).toHaveLength(0)
    expect(dials(as).map((x) => x.peer!.toString())).toEqual([q.toString()])
    // and a later kad report of the same addresses is no new discovery
    info(d, 3, q, [ma(2)])
    expect(events(drain(d))).toHaveLength(0)
  })

  test('maxCandidates: at the limit all are kept, past it the oldest waiting one is dropped', () => {
    const d = make({ autoDialOptions: { maxCandidates: 3, concurrency: 1 } }, 100)
    const peers = Array.from({ length: 4 }, mk)
    for (const p of peers.slice(0, 3)) info(d, 0, p, [ma(1)])
    const a = dials(drain(d))
    expect(a).toHaveLength(1)
    expect(d.candidateCount).toBe(3)
    info(d, 0, peers[3]!, [ma(1)])
    expect(d.candidateCount).toBe(3) // peers[1] dropped, peers[0] (dialing) kept
    d.handle(1, { type: 'connection-established', connection: conn(peers[0]!) })
    d.handle(1, { type: 'dial-succeeded', requestId: a[0]!.requestId, connection: conn(peers[0]!) })
    d.handle(2, { type: 'connection-established', connection: conn(mk()) })
    const rest: string[] = []
    for (let i = 0; i < 3; i++) {
      const x = dials(drain(d))
      for (const y of x) {
        rest.push(y.peer!.toString())
        d.handle(3, { type: 'dial-failed', requestId: y.requestId, error: new Error('x') })
      }
    }
    expect(rest).toEqual([peers[2]!.toString(), peers[3]!.toString()])
  })

  test('autoDial false: nothing is dialed; stop(): nothing more is dialed', () => {
    const d = make({ autoDial: false })
    info(d, 0, mk(), [ma(1)])
    expect(dials(drain(d))).toHaveLength(0)
    const e = make()
    e.stop()
    info(e, 0, mk(), [ma(1)])
    expect(dials(drain(e))).toHaveLength(0)
    expect(e.pollTimeout()).toBeUndefined()
  })
})

describe('bootstrap peers', () => {
  test('dialed and protected at start; failed dials back off exponentially; success resets; reported once; redialed after a disconnect', () => {
    const b = mk()
    const d = new DiscoveryBehaviour({ self: SELF, bootstrap: [{ peer: b, addrs: [ma(4001)] }, { peer: SELF, addrs: [ma(1)] }], autoDial: false, lowWater: () => 10, random: () => 0, bootstrapBackoffBase: 1000, bootstrapBackoffMax: 4000 })
    expect(d.pollAction()).toBeUndefined() // nothing before start
    d.handle(0, { type: 'local-info', listenAddrs: [], protocols: [] })
    let as = drain(d)
    expect(as.filter((a) => a.type === 'protect-peer')).toHaveLength(1) // never ourselves
    expect(as.some((a) => a.type === 'peer-info' && a.peer.equals(b))).toBe(true)
    let ds = dials(as)
    expect(ds).toHaveLength(1)
    expect(ds[0]!.addrs!.map(String)).toEqual(['/ip4/10.0.0.1/tcp/4001'])
    const delays: number[] = []
    let now = 0
    for (let i = 0; i < 4; i++) {
      d.handle(now, { type: 'dial-failed', requestId: ds[0]!.requestId, error: new Error('down') })
      const t = d.pollTimeout()!
      delays.push(t - now)
      expect(dials(drain(d))).toHaveLength(0)
      now = t
      d.handleTimeout(now)
      ds = dials(drain(d))
      expect(ds).toHaveLength(1)
    }
    expect(delays).toEqual([500, 1000, 2000, 2000]) // random 0: d/2; capped at 4000
    const c = conn(b)
    d.handle(now, { type: 'connection-established', connection: c })
    d.handle(now, { type: 'dial-succeeded', requestId: ds[0]!.requestId, connection: c })
    as = drain(d)
    expect(events(as).map((e) => e.source)).toEqual(['bootstrap'])
    expect(d.pollTimeout()).toBeUndefined()
    d.handle(now + 5, { type: 'connection-closed', connection: c })
    expect(d.pollTimeout()).toBe(now + 5 + 500) // reset on success
    d.handleTimeout(now + 505)
    ds = dials(drain(d))
    expect(ds).toHaveLength(1)
    d.handle(now + 600, { type: 'connection-established', connection: conn(b) })
    expect(events(drain(d))).toHaveLength(0) // reported once
  })
})
