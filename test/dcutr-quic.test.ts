/**
 * DCUtR over QUIC v1 (spec/dcutr.md "QUIC"), on a virtual clock (test/helpers/behaviour-harness.ts
 * Pair, 10 ms one way): the address rules for `/udp/<port>/quic-v1`, B's `punch` event after RTT/2
 * (no dial: A dials, B's service sends the punch packets), A's immediate QUIC dial on SYNC, B
 * accepting A's inbound QUIC connection as the punched one, the punch window's retries, mixed
 * TCP + QUIC, A's attempts (one outcome per SYNC, its QUIC dial bounded by the punch window), no
 * shared transport, and the `dcutr({ quic })` service driving the transport's
 * `holePunch`. The packets themselves: test/udp-punch.test.ts; end to end: test/dcutr-quic-node.test.ts
 * and test/netns-dcutr-quic.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { OutcomeError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo } from '../src/swarm/behaviour.js'
import { DCUTR_PROTOCOL, DcutrBehaviour, HolePunchType, dcutr, decodeHolePunch, encodeHolePunchFrame, punchTarget, punchTargets, punchTransport, type DcutrEvent, type DcutrOptions } from '../src/dcutr/index.js'
import { localSocket, quicListenSockets } from '../src/dcutr/addrs.js'
import { Pair, testIdentity, type PairIdentity } from './helpers/behaviour-harness.js'
import { decodeLpExact } from '../src/core/lp.js'
import { HolepunchMetrics } from '../src/metrics/holepunch.js'
import { Registry } from '../src/metrics/registry.js'
import { exposition } from '../src/metrics/exposition.js'
import { parsePrometheus, sumOf } from './helpers/prometheus.js'

const L = 10
const ia = testIdentity(1, '/ip4/10.0.1.2/udp/4001/quic-v1')
const ib = testIdentity(2, '/ip4/10.0.2.2/udp/4002/quic-v1')
const relay = testIdentity(9, '/ip4/11.0.0.10/udp/4001/quic-v1')
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const RELAYED = 100

describe('addresses: QUIC v1 punch targets', () => {
  test('punchTransport: <host>/tcp/<port> is tcp, <host>/udp/<port>/quic-v1 is quic, optionally /p2p/; nothing else', () => {
    const cases: Array<[string, string | undefined]> = [
      ['/ip4/11.0.0.1/udp/4001/quic-v1', 'quic'],
      ['/ip6/2001:db8::1/udp/4001/quic-v1', 'quic'],
      ['/dns4/example.com/udp/4001/quic-v1', 'quic'],
      ['/dns6/example.com/udp/4001/quic-v1', 'quic'],
      ['/dns/example.com/udp/4001/quic-v1', 'quic'],
      [`/ip4/11.0.0.1/udp/4001/quic-v1/p2p/${ia.peer}`, 'quic'],
      ['/ip4/11.0.0.1/tcp/4001', 'tcp'],
      ['/ip4/11.0.0.1/udp/0/quic-v1', undefined],
      ['/ip4/11.0.0.1/udp/4001/quic', undefined], // draft-29
      ['/ip4/11.0.0.1/udp/4001', undefined],
      ['/ip4/11.0.0.1/udp/4001/quic-v1/webtransport', undefined],
      [`/ip4/11.0.0.10/udp/4001/quic-v1/p2p/${relay.peer}/p2p-circuit`, undefined],
      [`/ip4/11.0.0.10/udp/4001/quic-v1/p2p/${relay.peer}/p2p-circuit/p2p/${ia.peer}`, undefined],
      ['/ip4/11.0.0.1/tcp/4001/ws', undefined],
    ]
    for (const [a, want] of cases) expect([a, punchTransport(ma(a))]).toEqual([a, want])
  })

  test('punchTarget: the peer\'s own /p2p/ stripped, another peer\'s refused; punchTargets filters by transport and dedups', () => {
    expect(punchTarget(ma(`/ip4/11.0.0.1/udp/4001/quic-v1/p2p/${ia.peer}`), ia.peer)?.toString()).toBe('/ip4/11.0.0.1/udp/4001/quic-v1')
    expect(punchTarget(ma(`/ip4/11.0.0.1/udp/4001/quic-v1/p2p/${ib.peer}`), ia.peer)).toBeUndefined()
    expect(punchTarget(ma(`/ip4/11.0.0.1/udp/4001/quic-v1/p2p/${ia.peer}`), undefined)).toBeUndefined()
    const addrs = ['/ip4/11.0.0.1/tcp/50001', '/ip4/11.0.0.1/udp/4001/quic-v1', `/ip4/11.0.0.1/udp/4001/quic-v1/p2p/${ia.peer}`, '/ip6/2001:db8::1/udp/4001/quic-v1'].map(ma)
    expect(punchTargets(addrs, ia.peer, 32).map(String)).toEqual(['/ip4/11.0.0.1/tcp/50001', '/ip4/11.0.0.1/udp/4001/quic-v1', '/ip6/2001:db8::1/udp/4001/quic-v1'])
    expect(punchTargets(addrs, ia.peer, 32, new Set(['quic'])).map(String)).toEqual(['/ip4/11.0.0.1/udp/4001/quic-v1', '/ip6/2001:db8::1/udp/4001/quic-v1'])
    expect(punchTargets(addrs, ia.peer, 32, new Set(['tcp'])).map(String)).toEqual(['/ip4/11.0.0.1/tcp/50001'])
    expect(punchTargets(addrs, ia.peer, 1, new Set(['quic'])).map(String)).toEqual(['/ip4/11.0.0.1/udp/4001/quic-v1'])
  })

  test('local sockets: tcp/<port> and udp/<port>; the QUIC listen sockets of a node', () => {
    expect(localSocket(ma('/ip4/10.0.0.1/tcp/5'))).toBe('tcp/5')
    expect(localSocket(ma('/ip4/0.0.0.0/udp/4001/quic-v1'))).toBe('udp/4001')
    expect(localSocket(undefined)).toBeUndefined()
    expect([...quicListenSockets(['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/udp/4001/quic-v1', '/ip6/::1/udp/4002/quic-v1', '/ip4/10.0.0.1/udp/4003/quic-v1/webtransport'].map(ma))]).toEqual(['udp/4001', 'udp/4002'])
  })
})

/** Records every action with the virtual time it was drained at. */
class Recorder<Ev> implements Behaviour<Ev> {
  readonly log: Array<{ at: number; action: BehaviourAction<Ev> }> = []
  clock: () => number = () => 0
  constructor(readonly inner: Behaviour<Ev>) {}
  get protocols(): readonly string[] { return this.inner.protocols }
  handle(now: number, input: BehaviourInput): void { this.inner.handle(now, input) }
  handleTimeout(now: number): void { this.inner.handleTimeout(now) }
  pollTimeout(): number | undefined { return this.inner.pollTimeout() }
  pollAction(): BehaviourAction<Ev> | undefined {
    const a = this.inner.pollAction()
    if (a !== undefined) this.log.push({ at: this.clock(), action: a })
    return a
  }
  of<T extends BehaviourAction<Ev>['type']>(type: T): Array<{ at: number; action: Extract<BehaviourAction<Ev>, { type: T }> }> {
    return this.log.filter((x) => x.action.type === type) as never
  }
  events(): Ev[] {
    return this.log.flatMap((x) => (x.action.type === 'event' ? [x.action.event] : []))
  }
}

function conn(id: number, remote: PairIdentity, o: { limited?: boolean; direction?: 'inbound' | 'outbound'; local?: string; remoteAddr?: string } = {}): ConnectionInfo {
  return {
    id, peer: remote.peer, remotePublicKey: remote.publicKey, remoteAddr: ma(o.remoteAddr ?? remote.addr.toString()),
    localAddr: o.local === undefined ? undefined : ma(o.local),
    direction: o.direction ?? 'outbound', opened: 0, established: 0, security: '/tls/1.0.0', muxer: '/quic-v1', earlyMuxer: true, limited: o.limited ?? false,
  }
}

const byType = <T extends DcutrEvent['type']>(r: Recorder<DcutrEvent>, t: T): Extract<DcutrEvent, { type: T }>[] => r.events().filter((e) => e.type === t) as never

function connects(r: Recorder<DcutrEvent>): string[][] {
  return r.of('write').map((w) => decodeHolePunch(decodeLpExact(w.action.data, 4096))).filter((m) => m.type === HolePunchType.CONNECT).map((m) => m.obsAddrs.map(String))
}

interface Setup {
  pair: Pair<DcutrEvent, DcutrEvent>
  a: Recorder<DcutrEvent>
  b: Recorder<DcutrEvent>
}

/**
 * A dialed B through a relay over QUIC. Each listens on QUIC (A 10.0.1.2:4001, B 10.0.2.2:4002) and
 * the relay observed its listening socket's mapping: A 11.0.0.1:4001, B 11.0.0.2:4002. Both run with
 * `quicPunch`; `tcp` adds a TCP punch port (50001 / 50002) with its observed mapping.
 */
function setup(o: { a?: Partial<DcutrOptions>; b?: Partial<DcutrOptions>; tcp?: boolean } = {}): Setup {
  const mk = (port: number, more: Partial<DcutrOptions> | undefined): DcutrBehaviour => new DcutrBehaviour({ punchPort: () => (o.tcp === true ? port : undefined), quicPunch: true, ...more })
  const a = new Recorder<DcutrEvent>(mk(50001, o.a))
  const b = new Recorder<DcutrEvent>(mk(50002, o.b))
  const pair = new Pair(a, b, { a: ia, b: ib }, { latency: L })
  a.clock = b.clock = () => pair.now
  for (const [side, i, qport, tport] of [[pair.a, 1, 4001, 50001], [pair.b, 2, 4002, 50002]] as const) {
    side.input({ type: 'local-info', listenAddrs: [side.identity.addr, ma(`/ip4/10.0.${i}.2/tcp/4001`)], protocols: [DCUTR_PROTOCOL] })
    side.input({ type: 'observed-addr', connection: conn(50, relay, { local: `/ip4/10.0.${i}.2/udp/${qport}/quic-v1` }), addr: ma(`/ip4/11.0.0.${i}/udp/${qport}/quic-v1`) })
    if (o.tcp === true) side.input({ type: 'observed-addr', connection: conn(51, relay, { local: `/ip4/10.0.${i}.2/tcp/${tport}` }), addr: ma(`/ip4/11.0.0.${i}/tcp/${tport}`) })
  }
  const circuit = `/ip4/11.0.0.10/udp/4001/quic-v1/p2p/${relay.peer}/p2p-circuit`
  const ca = conn(RELAYED, ib, { limited: true, direction: 'outbound', remoteAddr: circuit })
  const cb = conn(RELAYED, ia, { limited: true, direction: 'inbound', remoteAddr: circuit })
  pair.a.connections.push(ca)
  pair.b.connections.push(cb)
  pair.a.input({ type: 'connection-established', connection: ca })
  pair.b.input({ type: 'connection-established', connection: cb })
  pair.b.input({ type: 'peer-info', peer: ia.peer, info: { protocols: [DCUTR_PROTOCOL], addrs: [ia.addr] }, from: 'identify' })
  return { pair, a, b }
}

const QA = '/ip4/11.0.0.1/udp/4001/quic-v1'
const QB = '/ip4/11.0.0.2/udp/4002/quic-v1'

describe('dcutr over QUIC: the exchange', () => {
  test('CONNECT carries the QUIC listening socket\'s mapping; on SYNC A dials B\'s QUIC address at once; RTT/2 later B emits punch (no dial)', () => {
    const s = setup()
    s.pair.run(1_000)
    expect(connects(s.b)).toEqual([[QB]])
    expect(connects(s.a)).toEqual([[QA]])
    const aDials = s.a.of('dial')
    expect(aDials).toHaveLength(1)
    expect(aDials[0]!.at).toBe(4 * L)
    expect(aDials[0]!.action).toMatchObject({ addrs: [ma(`${QB}/p2p/${ib.peer}`)], options: { force: true } })
    expect(aDials[0]!.action.options?.role).toBeUndefined()
    expect(s.b.of('dial')).toHaveLength(0)
    const punch = s.b.log.filter((x) => x.action.type === 'event' && x.action.event.type === 'punch')
    expect(punch).toHaveLength(1)
    expect(punch[0]!.at).toBe(4 * L) // SYNC sent at 3L, RTT/2 = L
    expect(punch[0]!.action).toMatchObject({ event: { type: 'punch', peer: ia.peer, attempt: 1, addrs: [ma(QA)], timeout: 5_000 } })
  })

  test('B takes A\'s inbound QUIC connection as the punched one: direct on both sides, the relayed connection closed after the grace', () => {
    const s = setup()
    s.pair.run(1_000)
    const t0 = s.pair.now
    const da = conn(200, ib, { direction: 'outbound', local: '/ip4/10.0.1.2/udp/4001/quic-v1', remoteAddr: QB })
    const db = conn(200, ia, { direction: 'inbound', local: '/ip4/10.0.2.2/udp/4002/quic-v1', remoteAddr: QA })
    s.pair.a.input({ type: 'dial-succeeded', requestId: s.a.of('dial')[0]!.action.requestId, connection: da })
    s.pair.a.input({ type: 'connection-established', connection: da })
    s.pair.b.input({ type: 'connection-established', connection: db })
    expect(byType(s.a, 'direct')).toEqual([{ type: 'direct', peer: ib.peer, connection: da, role: 'A', via: 'hole-punch', attempts: 1, ourAddrs: [ma(QA)], theirAddrs: [ma(QB)] }])
    expect(byType(s.b, 'direct')).toEqual([{ type: 'direct', peer: ia.peer, connection: db, role: 'B', via: 'hole-punch', attempts: 1, ourAddrs: [ma(QB)], theirAddrs: [ma(QA)] }])
    s.pair.runFor(10_000)
    expect(s.b.of('close-connection').map((x) => x.action.connection)).toEqual([RELAYED])
    expect(s.b.of('close-connection')[0]!.at).toBe(t0 + 10_000)
    // the punch window ended with the exchange: no retry, no failure
    s.pair.runFor(20_000)
    expect(byType(s.b, 'failed')).toHaveLength(0)
    expect(byType(s.b, 'punch')).toHaveLength(1)
  })

  test('no QUIC connection within punchTimeout: a new attempt (fresh CONNECT, SYNC, punch), three in all, then failed dcutr/punch-timeout', () => {
    const s = setup({ b: { punchTimeout: 2_000 } })
    s.pair.run(1_000)
    const first = byType(s.b, 'punch')
    expect(first).toHaveLength(1)
    expect(first[0]!.timeout).toBe(2_000)
    // A's dial fails (its own dial timeout); B's attempt waits for its punch window regardless
    s.pair.a.input({ type: 'dial-failed', requestId: s.a.of('dial')[0]!.action.requestId, error: new Error('timeout') })
    s.pair.runFor(1_999 - L)
    expect(byType(s.b, 'punch')).toHaveLength(1)
    s.pair.runFor(10_000)
    expect(byType(s.b, 'punch').map((p) => p.attempt)).toEqual([1, 2, 3])
    expect(connects(s.b)).toHaveLength(3)
    const failed = byType(s.b, 'failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ role: 'B', attempts: 3 })
    expect(failed[0]!.error).toBeInstanceOf(OutcomeError)
    expect((failed[0]!.error as OutcomeError).code).toBe('dcutr/punch-timeout')
    expect(s.b.of('close-connection')).toHaveLength(0) // the relayed connection stays
  })

  test('punch window at the limit: a connection at punchTimeout - 1 ms is the punched one; none by then: the next attempt', () => {
    const s = setup({ b: { punchTimeout: 1_000 } })
    s.pair.run(1_000)
    const at = s.b.log.find((x) => x.action.type === 'event' && x.action.event.type === 'punch')!.at
    s.pair.runFor(at + 999 - s.pair.now)
    expect(byType(s.b, 'punch')).toHaveLength(1)
    s.pair.b.input({ type: 'connection-established', connection: conn(300, ia, { direction: 'inbound', local: '/ip4/10.0.2.2/udp/4002/quic-v1', remoteAddr: QA }) })
    expect(byType(s.b, 'direct')).toHaveLength(1)
    const t = setup({ b: { punchTimeout: 1_000 } })
    t.pair.run(1_000)
    const at2 = t.b.log.find((x) => x.action.type === 'event' && x.action.event.type === 'punch')!.at
    t.pair.runFor(at2 + 1_000 - t.pair.now)
    expect(t.b.of('open-stream')).toHaveLength(2) // attempt 2 started
  })

  test('TCP and QUIC together: B dials A\'s TCP mapping as the responder and punches its QUIC one; a failed TCP dial waits for the punch window', () => {
    const s = setup({ tcp: true, b: { punchTimeout: 3_000 } })
    s.pair.run(1_000)
    expect(connects(s.b)).toEqual([['/ip4/11.0.0.2/tcp/50002', QB]]) // most recent observation first
    const bDials = s.b.of('dial')
    expect(bDials.map((d) => d.action.addrs!.map(String)[0])).toEqual([`/ip4/11.0.0.1/tcp/50001/p2p/${ia.peer}`])
    expect(bDials[0]!.action.options).toEqual({ force: true, role: 'responder' })
    expect(byType(s.b, 'punch')[0]!.addrs.map(String)).toEqual([QA])
    expect(s.a.of('dial').map((d) => d.action.addrs!.map(String)[0])).toEqual([`/ip4/11.0.0.2/tcp/50002/p2p/${ib.peer}`, `${QB}/p2p/${ib.peer}`])
    s.pair.b.input({ type: 'dial-failed', requestId: bDials[0]!.action.requestId, error: new Error('refused') })
    expect(s.b.of('open-stream')).toHaveLength(1) // still in the punch window
    s.pair.runFor(3_000)
    expect(s.b.of('open-stream')).toHaveLength(2)
  })

  test('A: each SYNC is one attempt with its own outcome; its QUIC dial is cancelled when the punch window ends (not the 10 s handshake timeout); the next SYNC dials afresh', () => {
    const s = setup()
    s.pair.run(1_000)
    const first = s.a.of('dial')[0]!
    s.pair.runFor(first.at + 4_999 - s.pair.now)
    expect(s.a.of('cancel-dial')).toHaveLength(0) // at the limit: still dialing
    expect(byType(s.a, 'failed')).toHaveLength(0)
    s.pair.runFor(1)
    expect(s.a.of('cancel-dial').map((x) => [x.at, x.action.requestId])).toEqual([[first.at + 5_000, first.action.requestId]])
    s.pair.runFor(30_000)
    const dials = s.a.of('dial')
    expect(dials).toHaveLength(3) // one per B attempt, each a new dial
    expect(new Set(dials.map((d) => d.action.requestId)).size).toBe(3)
    expect(s.a.of('cancel-dial').map((x) => x.action.requestId)).toEqual(dials.map((d) => d.action.requestId))
    const failed = byType(s.a, 'failed')
    expect(failed.map((f) => f.attempts)).toEqual([1, 2, 3])
    for (const f of failed) {
      expect(f).toMatchObject({ role: 'A', peer: ib.peer, theirAddrs: [ma(QB)] })
      expect((f.error as OutcomeError).code).toBe('dcutr/punch-timeout')
    }
    expect(byType(s.b, 'failed')).toHaveLength(1)
  })

  test('A: B\'s next SYNC ends the previous attempt\'s QUIC dial at once (B moved on; no joining a stale handshake); a dial failing in its window is that attempt\'s dcutr/dial-failed', () => {
    const s = setup({ a: { punchTimeout: 60_000 }, b: { punchTimeout: 2_000 } })
    s.pair.run(1_000)
    s.pair.runFor(2_100)
    const dials = s.a.of('dial')
    expect(dials).toHaveLength(2)
    const cancels = s.a.of('cancel-dial')
    expect(cancels.map((x) => [x.at, x.action.requestId])).toEqual([[dials[1]!.at, dials[0]!.action.requestId]])
    const failed = byType(s.a, 'failed')
    expect(failed.map((f) => [f.attempts, (f.error as OutcomeError).code])).toEqual([[1, 'dcutr/punch-timeout']])
    expect(failed[0]!.error.message).toMatch(/new attempt/)
    // the second attempt's dial fails by itself: its own outcome, nothing cancelled
    s.pair.a.input({ type: 'dial-failed', requestId: dials[1]!.action.requestId, error: new Error('unreachable') })
    expect(byType(s.a, 'failed').map((f) => [f.attempts, (f.error as OutcomeError).code])).toEqual([[1, 'dcutr/punch-timeout'], [2, 'dcutr/dial-failed']])
    expect(s.a.of('cancel-dial')).toHaveLength(1)
    // a direct connection within attempt 3: direct names attempt 3, and its dial is not cancelled
    s.pair.runFor(2_100)
    const third = s.a.of('dial')[2]!
    const da = conn(200, ib, { direction: 'outbound', local: '/ip4/10.0.1.2/udp/4001/quic-v1', remoteAddr: QB })
    s.pair.a.input({ type: 'dial-succeeded', requestId: third.action.requestId, connection: da })
    expect(byType(s.a, 'direct')).toMatchObject([{ role: 'A', attempts: 3 }])
    s.pair.runFor(70_000)
    expect(s.a.of('cancel-dial')).toHaveLength(1)
    expect(byType(s.a, 'failed')).toHaveLength(2)
  })

  test('no shared transport: A punches QUIC only, B sends TCP only: A resets with dcutr/no-shared-transport (an OutcomeError), no dial', () => {
    const a = new Recorder<DcutrEvent>(new DcutrBehaviour({ punchPort: () => undefined, quicPunch: true }))
    a.handle(0, { type: 'local-info', listenAddrs: [ia.addr], protocols: [DCUTR_PROTOCOL] })
    const ca = conn(RELAYED, ib, { limited: true, direction: 'outbound' })
    a.handle(0, { type: 'connection-established', connection: ca })
    const stream = { connection: RELAYED, stream: 1 }
    a.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
    a.handle(0, { type: 'stream-data', stream, data: encodeHolePunchFrame({ type: HolePunchType.CONNECT, obsAddrs: [ma('/ip4/11.0.0.2/tcp/50002')] }) })
    while (a.pollAction() !== undefined) { /* drain */ }
    expect(a.of('reset')).toHaveLength(1)
    expect(a.of('dial')).toHaveLength(0)
    const e = byType(a, 'failed')[0]!.error as OutcomeError
    expect(e).toBeInstanceOf(OutcomeError)
    expect(e.code).toBe('dcutr/no-shared-transport')
  })
})

describe('dcutr over QUIC: availability and candidates', () => {
  test('QUIC makes hole punching available only with quicPunch and a QUIC listen address', () => {
    const b = new DcutrBehaviour({ punchPort: () => undefined, quicPunch: true })
    expect(b.status().holePunching).toBe('unavailable')
    b.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/tcp/4001')], protocols: [] })
    expect(b.status().holePunching).toBe('unavailable')
    b.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/udp/4001/quic-v1')], protocols: [] })
    expect(b.status()).toEqual({ holePunching: 'available' })
    const c = new DcutrBehaviour({ punchPort: () => undefined })
    c.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/udp/4001/quic-v1')], protocols: [] })
    expect(c.status()).toEqual({ holePunching: 'unavailable', reason: expect.stringContaining('QUIC') })
  })

  test('candidates: observations of connections on a QUIC listening socket only (not another UDP port), from direct connections, most recent first', () => {
    const b = new DcutrBehaviour({ punchPort: () => undefined, quicPunch: true })
    b.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/udp/4001/quic-v1'), ma('/ip4/11.0.0.7/udp/4001/quic-v1')], protocols: [] })
    b.handle(0, { type: 'observed-addr', connection: conn(1, relay, { local: '/ip4/10.0.0.1/udp/4001/quic-v1' }), addr: ma('/ip4/11.0.0.2/udp/4001/quic-v1') })
    b.handle(0, { type: 'observed-addr', connection: conn(2, relay, { local: '/ip4/0.0.0.0/udp/39999/quic-v1' }), addr: ma('/ip4/11.0.0.3/udp/39999/quic-v1') })
    b.handle(0, { type: 'observed-addr', connection: conn(3, relay, { local: '/ip4/10.0.0.1/udp/4001/quic-v1', limited: true }), addr: ma('/ip4/11.0.0.4/udp/4001/quic-v1') })
    b.handle(0, { type: 'observed-addr', connection: conn(4, relay, { local: '/ip4/10.0.0.1/tcp/4001' }), addr: ma('/ip4/11.0.0.5/tcp/4001') })
    b.handle(0, { type: 'observed-addr', connection: conn(5, relay, { local: '/ip4/10.0.0.1/udp/4001/quic-v1' }), addr: ma(`/ip4/11.0.0.6/udp/4001/quic-v1/p2p/${relay.peer}`) })
    expect(b.localAddrs().map(String)).toEqual(['/ip4/11.0.0.6/udp/4001/quic-v1', '/ip4/11.0.0.2/udp/4001/quic-v1', '/ip4/11.0.0.7/udp/4001/quic-v1'])
    const off = new DcutrBehaviour({ punchPort: () => 50000 })
    off.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/udp/4001/quic-v1')], protocols: [] })
    off.handle(0, { type: 'observed-addr', connection: conn(1, relay, { local: '/ip4/10.0.0.1/udp/4001/quic-v1' }), addr: ma('/ip4/11.0.0.2/udp/4001/quic-v1') })
    expect(off.localAddrs()).toEqual([]) // without quicPunch, QUIC addresses are not offered
  })

  test('punchTimeout is checked', () => {
    for (const bad of [0, -1, 1.5]) expect(() => new DcutrBehaviour({ punchPort: () => 1, punchTimeout: bad })).toThrow(RangeError)
  })
})

describe('dcutr({ quic }): the service sends and stops the punch packets', () => {
  const ctx = { run: <T>(f: (now: number) => T): T => f(0) } as unknown as Parameters<ReturnType<typeof dcutr>>[0]
  function fakeQuic(): { calls: Array<{ addr: string; options: unknown; stopped: boolean }>; holePunch: (a: Multiaddr, o?: { timeout?: number; maxPackets?: number }) => { stop(): void } } {
    const calls: Array<{ addr: string; options: unknown; stopped: boolean }> = []
    return {
      calls,
      holePunch: (a, o) => {
        const c = { addr: a.toString(), options: o, stopped: false }
        calls.push(c)
        return { stop: () => { c.stopped = true } }
      },
    }
  }

  test('punch: one holePunch per address (timeout, maxPunchPackets); the next attempt, direct and stop() end them; events reach the api', () => {
    const q = fakeQuic()
    const svc = dcutr({ quic: q, maxPunchPackets: 7 })(ctx)
    const seen: number[] = []
    svc.api.on('punch', (e) => seen.push(e.attempt))
    svc.onEvent({ type: 'punch', peer: ia.peer, attempt: 1, addrs: [ma(QA), ma('/ip6/2001:db8::1/udp/4001/quic-v1')], timeout: 5_000 })
    expect(q.calls.map((c) => [c.addr, c.options, c.stopped])).toEqual([[QA, { timeout: 5_000, maxPackets: 7 }, false], ['/ip6/2001:db8::1/udp/4001/quic-v1', { timeout: 5_000, maxPackets: 7 }, false]])
    svc.onEvent({ type: 'punch', peer: ia.peer, attempt: 2, addrs: [ma(QA)], timeout: 5_000 })
    expect(q.calls.map((c) => c.stopped)).toEqual([true, true, false])
    svc.onEvent({ type: 'punch', peer: ib.peer, attempt: 1, addrs: [ma(QB)], timeout: 5_000 })
    svc.onEvent({ type: 'direct', peer: ia.peer, connection: conn(1, ia), role: 'B', via: 'hole-punch', attempts: 2 })
    expect(q.calls.map((c) => c.stopped)).toEqual([true, true, true, false])
    svc.stop(new Error('stopping'))
    expect(q.calls.map((c) => c.stopped)).toEqual([true, true, true, true])
    expect(seen).toEqual([1, 2, 1])
  })

  test('a failed exchange stops its punch; options are checked; status is available with a QUIC listen address', () => {
    const q = fakeQuic()
    const svc = dcutr({ quic: q })(ctx)
    svc.onEvent({ type: 'punch', peer: ia.peer, attempt: 3, addrs: [ma(QA)], timeout: 5_000 })
    expect(q.calls[0]!.options).toEqual({ timeout: 5_000, maxPackets: 100 })
    svc.onEvent({ type: 'failed', peer: ia.peer, role: 'B', attempts: 3, error: new Error('x') })
    expect(q.calls[0]!.stopped).toBe(true)
    expect(() => dcutr({ quic: {} as never })).toThrow(TypeError)
    expect(() => dcutr({ quic: q, maxPunchPackets: 0 })).toThrow(RangeError)
    expect(svc.api.status().holePunching).toBe('unavailable')
    svc.behaviour.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.0.1/udp/4001/quic-v1')], protocols: [] })
    expect(svc.api.status().holePunching).toBe('available')
  })
})

describe('metrics: a QUIC hole punch in go\'s libp2p_holepunch_* families', () => {
  test('a punch-timeout failure is a failed hole punch (per address over quic-v1), like a failed TCP dial', () => {
    const r = new Registry()
    const m = new HolepunchMetrics(r)
    m.observe({ type: 'attempt', peer: ia.peer, attempt: 3, rtt: 20, addrs: [ma(QA)] }, undefined)
    m.observe({ type: 'failed', peer: ia.peer, role: 'B', attempts: 3, error: new OutcomeError('dcutr/punch-timeout'), ourAddrs: [ma(QB)], theirAddrs: [ma(QA)] }, undefined)
    const f = parsePrometheus(exposition(r))
    expect(sumOf(f, 'libp2p_holepunch_outcomes_total', { side: 'initiator', num_attempts: '3', outcome: 'failed' })).toBe(1)
    expect(sumOf(f, 'libp2p_holepunch_address_outcomes_total', { side: 'initiator', num_attempts: '3', ipv: 'ip4', transport: 'quic-v1', outcome: 'failed' })).toBe(1)
  })
})
