/**
 * DCUtR behaviour (src/dcutr/dcutr.ts) on a virtual clock: two behaviours joined by a simulated
 * relayed (limited) connection (test/helpers/behaviour-harness.ts Pair), 10 ms one way. Roles and
 * timing as the spec gives them: B (inbound relayed connection) opens the stream after identify,
 * CONNECT / CONNECT / SYNC, A dials at once on SYNC, B after RTT/2 as the responder; retries,
 * connection reversal, address filtering, limits, and what happens without a punch port.
 */
import { describe, expect, test } from 'vitest'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo } from '../src/swarm/behaviour.js'
import { DCUTR_PROTOCOL, DcutrBehaviour, HolePunchType, dcutr, decodeHolePunch, encodeHolePunchFrame, type DcutrEvent, type DcutrOptions } from '../src/dcutr/index.js'
import { Pair, testIdentity, type PairIdentity } from './helpers/behaviour-harness.js'
import { decodeLpExact } from '../src/core/lp.js'

const L = 10
const PORT_A = 50001
const PORT_B = 50002
const RELAYED = 100
const ia = testIdentity(1, '/ip4/10.0.1.2/tcp/4001')
const ib = testIdentity(2, '/ip4/10.0.2.2/tcp/4001')
const ic = testIdentity(3, '/ip4/10.0.3.2/tcp/4001')
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)

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

/** A ConnectionInfo as `self` sees its connection `id` to `remote`. */
function conn(id: number, remote: PairIdentity, o: { limited?: boolean; direction?: 'inbound' | 'outbound'; localPort?: number; remoteAddr?: string } = {}): ConnectionInfo {
  return {
    id, peer: remote.peer, remotePublicKey: remote.publicKey, remoteAddr: ma(o.remoteAddr ?? remote.addr.toString()),
    localAddr: o.localPort === undefined ? undefined : ma(`/ip4/10.0.0.9/tcp/${o.localPort}`),
    direction: o.direction ?? 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: o.limited ?? false,
  }
}

const relay = testIdentity(9, '/ip4/11.0.0.10/tcp/4001')

interface Setup {
  pair: Pair<DcutrEvent, DcutrEvent>
  a: Recorder<DcutrEvent>
  b: Recorder<DcutrEvent>
  /** The relayed connection as A and as B see it. */
  ca: ConnectionInfo
  cb: ConnectionInfo
}

/**
 * A dialed B through a relay (connection RELAYED: outbound limited at A, inbound limited at B).
 * Each saw its punch-port mapping observed by the relay: A 11.0.0.1:PORT_A, B 11.0.0.2:PORT_B.
 */
function setup(o: { a?: Partial<DcutrOptions>; b?: Partial<DcutrOptions>; bInner?: Behaviour<DcutrEvent>; aInner?: Behaviour<DcutrEvent> } = {}): Setup {
  const a = new Recorder<DcutrEvent>(o.aInner ?? new DcutrBehaviour({ punchPort: () => PORT_A, ...o.a }))
  const b = new Recorder<DcutrEvent>(o.bInner ?? new DcutrBehaviour({ punchPort: () => PORT_B, ...o.b }))
  const pair = new Pair(a, b, { a: ia, b: ib }, { latency: L })
  a.clock = b.clock = () => pair.now
  for (const [side, ip, port] of [[pair.a, '11.0.0.1', PORT_A], [pair.b, '11.0.0.2', PORT_B]] as const) {
    side.input({ type: 'local-info', listenAddrs: [side.identity.addr], protocols: [DCUTR_PROTOCOL] })
    side.input({ type: 'observed-addr', connection: conn(50, relay, { localPort: port }), addr: ma(`/ip4/${ip}/tcp/${port}`) })
  }
  const ca = conn(RELAYED, ib, { limited: true, direction: 'outbound', remoteAddr: `/ip4/11.0.0.10/tcp/4001/p2p/${relay.peer}/p2p-circuit` })
  const cb = conn(RELAYED, ia, { limited: true, direction: 'inbound', remoteAddr: `/ip4/11.0.0.10/tcp/4001/p2p/${relay.peer}/p2p-circuit` })
  pair.a.connections.push(ca)
  pair.b.connections.push(cb)
  pair.a.input({ type: 'connection-established', connection: ca })
  pair.b.input({ type: 'connection-established', connection: cb })
  return { pair, a, b, ca, cb }
}

/** Identify on the relayed connection completed at B: A's protocols and (private) addresses. */
function identified(s: Setup, protocols = [DCUTR_PROTOCOL, '/ipfs/id/1.0.0'], addrs = ['/ip4/10.0.1.2/tcp/4001']): void {
  s.pair.b.input({ type: 'peer-info', peer: ia.peer, info: { protocols, addrs: addrs.map(ma) }, from: 'identify' })
}

/** The CONNECT messages `r` wrote, decoded. */
function connects(r: Recorder<DcutrEvent>): string[][] {
  return r.of('write').map((w) => decodeHolePunch(decodeLpExact(w.action.data, 4096))).filter((m) => m.type === HolePunchType.CONNECT).map((m) => m.obsAddrs.map(String))
}

const byType = <T extends DcutrEvent['type']>(r: Recorder<DcutrEvent>, t: T): Extract<DcutrEvent, { type: T }>[] => r.events().filter((e) => e.type === t) as never

describe('dcutr: one exchange', () => {
  test('B opens /libp2p/dcutr on the relayed connection after identify; CONNECT, CONNECT, SYNC; A dials on SYNC, B after RTT/2 as the responder', () => {
    const s = setup()
    s.pair.run(1)
    expect(s.b.of('open-stream')).toHaveLength(0) // identify first
    identified(s)
    s.pair.run(1_000)
    const open = s.b.of('open-stream')
    expect(open).toHaveLength(1)
    expect(open[0]!.action).toMatchObject({ peer: ia.peer, protocols: [DCUTR_PROTOCOL], connection: RELAYED, allowLimited: true })
    // each side sends the observed mapping of its punch port (not its private listen address)
    expect(connects(s.b)).toEqual([['/ip4/11.0.0.2/tcp/50002']])
    expect(connects(s.a)).toEqual([['/ip4/11.0.0.1/tcp/50001']])
    // stream-opened at B at L; CONNECT reaches A at 2L; A's CONNECT reaches B at 3L: RTT = 2L
    expect(byType(s.b, 'attempt')).toEqual([{ type: 'attempt', peer: ia.peer, attempt: 1, rtt: 2 * L, addrs: [ma('/ip4/11.0.0.1/tcp/50001')] }])
    const aDials = s.a.of('dial')
    const bDials = s.b.of('dial')
    expect(aDials).toHaveLength(1)
    expect(bDials).toHaveLength(1)
    // SYNC reaches A at 4L: A dials at once; B dials RTT/2 = L after sending SYNC at 3L: the same instant
    expect(aDials[0]!.at).toBe(4 * L)
    expect(bDials[0]!.at).toBe(4 * L)
    expect(aDials[0]!.action).toMatchObject({ addrs: [ma(`/ip4/11.0.0.2/tcp/50002/p2p/${ib.peer}`)], options: { force: true } })
    expect(aDials[0]!.action.options?.role).toBeUndefined()
    expect(bDials[0]!.action).toMatchObject({ addrs: [ma(`/ip4/11.0.0.1/tcp/50001/p2p/${ia.peer}`)], options: { force: true, role: 'responder' } })
    expect(s.b.of('close-write')).toHaveLength(1)
    expect(s.a.of('close-write')).toHaveLength(1)
  })

  test('the simultaneous open succeeds: a direct event on each side, the relayed connection closed after the grace period', () => {
    const s = setup()
    identified(s)
    s.pair.run(1_000)
    const t0 = s.pair.now
    const direct = (side: 'a' | 'b'): ConnectionInfo => conn(200, side === 'a' ? ib : ia, { direction: 'outbound', localPort: side === 'a' ? PORT_A : PORT_B })
    s.pair.a.input({ type: 'dial-succeeded', requestId: s.a.of('dial')[0]!.action.requestId, connection: direct('a') })
    s.pair.a.input({ type: 'connection-established', connection: direct('a') })
    s.pair.b.input({ type: 'connection-established', connection: direct('b') })
    s.pair.b.input({ type: 'dial-succeeded', requestId: s.b.of('dial')[0]!.action.requestId, connection: direct('b') })
    const addrA = [ma('/ip4/11.0.0.1/tcp/50001')]
    const addrB = [ma('/ip4/11.0.0.2/tcp/50002')]
    expect(byType(s.a, 'direct')).toEqual([{ type: 'direct', peer: ib.peer, connection: direct('a'), role: 'A', via: 'hole-punch', attempts: 1, ourAddrs: addrA, theirAddrs: addrB }])
    expect(byType(s.b, 'direct')).toEqual([{ type: 'direct', peer: ia.peer, connection: direct('b'), role: 'B', via: 'hole-punch', attempts: 1, ourAddrs: addrB, theirAddrs: addrA }])
    s.pair.runFor(9_999)
    expect(s.a.of('close-connection')).toHaveLength(0)
    s.pair.runFor(1)
    expect(s.a.of('close-connection').map((x) => x.action.connection)).toEqual([RELAYED])
    expect(s.b.of('close-connection').map((x) => x.action.connection)).toEqual([RELAYED])
    expect(s.a.of('close-connection')[0]!.at).toBe(t0 + 10_000)
  })

  test('relayedCloseGrace false keeps the relayed connection; a direct connection gone before the grace ends keeps it too', () => {
    const s = setup({ a: { relayedCloseGrace: false }, b: { relayedCloseGrace: 1_000 } })
    identified(s)
    s.pair.run(1_000)
    const da = conn(200, ib, { localPort: PORT_A })
    const db = conn(200, ia, { localPort: PORT_B })
    s.pair.a.input({ type: 'connection-established', connection: da })
    s.pair.b.input({ type: 'connection-established', connection: db })
    s.pair.b.input({ type: 'connection-closed', connection: db })
    s.pair.runFor(60_000)
    expect(s.a.of('close-connection')).toHaveLength(0)
    expect(s.b.of('close-connection')).toHaveLength(0)
    expect(byType(s.b, 'direct')).toHaveLength(1)
  })

  test('B waits for identify to list /libp2p/dcutr (an identify push), then starts', () => {
    const s = setup()
    identified(s, ['/ipfs/id/1.0.0'])
    s.pair.run(1_000)
    expect(s.b.of('open-stream')).toHaveLength(0)
    identified(s, ['/ipfs/id/1.0.0', DCUTR_PROTOCOL])
    s.pair.run(1_000)
    expect(s.b.of('open-stream')).toHaveLength(1)
  })

  test('no exchange when a direct connection exists, on A\'s side, or for an outbound relayed connection', () => {
    const s = setup()
    s.pair.a.input({ type: 'peer-info', peer: ib.peer, info: { protocols: [DCUTR_PROTOCOL] }, from: 'identify' })
    s.pair.run(1_000)
    expect(s.a.of('open-stream')).toHaveLength(0) // A never opens
    const t = setup()
    t.pair.b.input({ type: 'connection-established', connection: conn(7, ic, { limited: false, direction: 'inbound' }) })
    t.pair.b.input({ type: 'connection-established', connection: conn(8, ic, { limited: true, direction: 'inbound' }) })
    t.pair.b.input({ type: 'peer-info', peer: ic.peer, info: { protocols: [DCUTR_PROTOCOL] }, from: 'identify' })
    t.pair.run(1_000)
    expect(t.b.of('open-stream')).toHaveLength(0)
  })

  test('one exchange per peer: a second relayed connection to the same peer starts none', () => {
    const s = setup()
    identified(s)
    s.pair.b.input({ type: 'connection-established', connection: conn(101, ia, { limited: true, direction: 'inbound' }) })
    identified(s)
    s.pair.run(25)
    expect(s.b.of('open-stream')).toHaveLength(1)
  })
})

describe('dcutr: connection reversal', () => {
  test('A advertises a public address: B dials it directly (initiator), no dcutr stream; success is via reversal', () => {
    const s = setup()
    identified(s, [DCUTR_PROTOCOL], ['/ip4/10.0.1.2/tcp/4001', '/ip4/11.0.0.5/tcp/4001', `/ip4/11.0.0.10/tcp/4001/p2p/${relay.peer}/p2p-circuit`])
    s.pair.run(1_000)
    const d = s.b.of('dial')
    expect(d.map((x) => x.action.addrs!.map(String))).toEqual([[`/ip4/11.0.0.5/tcp/4001/p2p/${ia.peer}`]])
    expect(d[0]!.action.options).toEqual({ force: true })
    expect(s.b.of('open-stream')).toHaveLength(0)
    const c = conn(300, ia, { localPort: PORT_B })
    s.pair.b.input({ type: 'dial-succeeded', requestId: d[0]!.action.requestId, connection: c })
    expect(byType(s.b, 'direct')).toEqual([{ type: 'direct', peer: ia.peer, connection: c, role: 'B', via: 'reversal', attempts: 0 }])
  })

  test('the reversal dial fails: B hole punches', () => {
    const s = setup()
    identified(s, [DCUTR_PROTOCOL], ['/ip4/11.0.0.5/tcp/4001'])
    s.pair.run(1_000)
    s.pair.b.input({ type: 'dial-failed', requestId: s.b.of('dial')[0]!.action.requestId, error: new Error('refused') })
    s.pair.run(1_000)
    expect(byType(s.b, 'reversal-failed')).toMatchObject([{ type: 'reversal-failed', peer: ia.peer, error: { code: 'dcutr/dial-failed' } }])
    expect(s.b.of('open-stream')).toHaveLength(1)
    expect(byType(s.b, 'attempt')).toHaveLength(1)
  })
})

describe('dcutr: retries and failures', () => {
  /** Fail every dial each side made since the last call. */
  function failDials(s: Setup, seen: Set<number>): void {
    for (const [side, r] of [[s.pair.a, s.a], [s.pair.b, s.b]] as const) {
      for (const d of r.of('dial')) {
        if (seen.has(d.action.requestId * 2 + (side === s.pair.a ? 0 : 1))) continue
        seen.add(d.action.requestId * 2 + (side === s.pair.a ? 0 : 1))
        side.input({ type: 'dial-failed', requestId: d.action.requestId, error: new Error('timed out') })
      }
    }
  }

  test('B retries twice (3 attempts, a fresh CONNECT/SYNC each), then fails; the relayed connection stays', () => {
    const s = setup()
    identified(s)
    const seen = new Set<number>()
    for (let i = 0; i < 4; i++) {
      s.pair.run(1_000)
      failDials(s, seen)
    }
    s.pair.run(60_000)
    expect(s.b.of('open-stream')).toHaveLength(3)
    expect(connects(s.b)).toHaveLength(3)
    expect(byType(s.b, 'attempt').map((e) => e.attempt)).toEqual([1, 2, 3])
    const failed = byType(s.b, 'failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ role: 'B', attempts: 3, ourAddrs: [ma('/ip4/11.0.0.2/tcp/50002')], theirAddrs: [ma('/ip4/11.0.0.1/tcp/50001')] })
    expect(byType(s.a, 'failed')[0]).toMatchObject({ role: 'A', ourAddrs: [ma('/ip4/11.0.0.1/tcp/50001')], theirAddrs: [ma('/ip4/11.0.0.2/tcp/50002')] })
    expect((failed[0]!.error as OutcomeError).code).toBe('dcutr/dial-failed')
    expect(byType(s.a, 'failed')).toHaveLength(3) // A's dials failed each time
    expect(s.b.of('close-connection')).toHaveLength(0)
    expect(s.a.of('close-connection')).toHaveLength(0)
  })

  test('maxAttempts: 1 attempt with maxAttempts 1, 2 with 2', () => {
    for (const max of [1, 2]) {
      const s = setup({ b: { maxAttempts: max } })
      identified(s)
      const seen = new Set<number>()
      for (let i = 0; i < 4; i++) {
        s.pair.run(1_000)
        failDials(s, seen)
      }
      expect(s.b.of('open-stream')).toHaveLength(max)
      expect(byType(s.b, 'failed')[0]).toMatchObject({ attempts: max })
    }
  })

  test('exchangeTimeout: A never answers; B fails at the deadline (not before) and does not retry', () => {
    const silent: Behaviour<DcutrEvent> = { protocols: [DCUTR_PROTOCOL], handle: () => {}, handleTimeout: () => {}, pollAction: () => undefined, pollTimeout: () => undefined }
    const s = setup({ aInner: silent, b: { exchangeTimeout: 500 } })
    identified(s)
    s.pair.runFor(499)
    expect(byType(s.b, 'failed')).toHaveLength(0)
    s.pair.runFor(1)
    const failed = byType(s.b, 'failed')
    expect(failed).toHaveLength(1)
    expect((failed[0]!.error as OutcomeError).code).toBe('dcutr/timeout')
    expect(s.b.of('reset')).toHaveLength(1)
    s.pair.run(60_000)
    expect(s.b.of('open-stream')).toHaveLength(1)
  })

  test('A times out a stream whose SYNC never comes', () => {
    const s = setup({ a: { exchangeTimeout: 300 } })
    // B's CONNECT arrives, then nothing: play B by hand on a raw stream
    const r = new Recorder<DcutrEvent>(new DcutrBehaviour({ punchPort: () => PORT_A, exchangeTimeout: 300 }))
    r.handle(0, { type: 'observed-addr', connection: conn(50, relay, { localPort: PORT_A }), addr: ma('/ip4/11.0.0.1/tcp/50001') })
    r.handle(0, { type: 'connection-established', connection: s.ca })
    const stream = { connection: RELAYED, stream: 1 }
    r.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: s.ca })
    r.handle(0, { type: 'stream-data', stream, data: encodeHolePunchFrame({ type: HolePunchType.CONNECT, obsAddrs: [ma('/ip4/11.0.0.2/tcp/50002')] }) })
    while (r.pollAction() !== undefined);
    expect(connects(r)).toHaveLength(1)
    expect(r.pollTimeout()).toBe(300)
    r.handleTimeout(299)
    while (r.pollAction() !== undefined);
    expect(r.of('reset')).toHaveLength(0)
    r.handleTimeout(300)
    while (r.pollAction() !== undefined);
    expect(r.of('reset')).toHaveLength(1)
    expect((byType(r, 'failed')[0]!.error as OutcomeError).code).toBe('dcutr/timeout')
    void s
  })
})

/** A lone behaviour playing A or B against a hand-written peer. */
function lone(o: Partial<DcutrOptions> = {}, port: number | null = PORT_A): Recorder<DcutrEvent> {
  const r = new Recorder<DcutrEvent>(new DcutrBehaviour({ punchPort: () => port ?? undefined, ...o }))
  r.handle(0, { type: 'observed-addr', connection: conn(50, relay, { localPort: PORT_A }), addr: ma('/ip4/11.0.0.1/tcp/50001') })
  return r
}
const drain = (r: Recorder<DcutrEvent>): void => { while (r.pollAction() !== undefined); }
const frame = (type: HolePunchType, addrs: string[]): Uint8Array => encodeHolePunchFrame({ type, obsAddrs: addrs.map(ma) })

describe('dcutr: A side', () => {
  const ca = conn(RELAYED, ib, { limited: true, direction: 'outbound' })

  test('dcutr streams on a direct connection or on an inbound relayed one are reset (as go does)', () => {
    const r = lone()
    for (const [i, c] of [conn(1, ib, { limited: false }), conn(2, ib, { limited: true, direction: 'inbound' })].entries()) {
      r.handle(0, { type: 'connection-established', connection: c })
      r.handle(0, { type: 'stream-opened', stream: { connection: c.id, stream: i }, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: c })
    }
    drain(r)
    expect(r.of('reset')).toHaveLength(2)
  })

  test('maxInboundStreamsPerPeer: 2 streams served at once, the third reset; a closed one frees its slot', () => {
    const r = lone()
    r.handle(0, { type: 'connection-established', connection: ca })
    for (let i = 1; i <= 3; i++) r.handle(0, { type: 'stream-opened', stream: { connection: RELAYED, stream: i }, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
    drain(r)
    expect(r.of('reset').map((x) => x.action.stream.stream)).toEqual([3])
    r.handle(0, { type: 'stream-reset', stream: { connection: RELAYED, stream: 1 } })
    r.handle(0, { type: 'stream-opened', stream: { connection: RELAYED, stream: 4 }, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
    drain(r)
    expect(r.of('reset').map((x) => x.action.stream.stream)).toEqual([3])
  })

  test('protocol violations: SYNC first, CONNECT twice, CONNECT without a usable address: reset and a ProtocolError', () => {
    const cases: Array<[Uint8Array[], string]> = [
      [[frame(HolePunchType.SYNC, [])], 'dcutr/unexpected-message'],
      [[frame(HolePunchType.CONNECT, ['/ip4/11.0.0.2/tcp/1']), frame(HolePunchType.CONNECT, ['/ip4/11.0.0.2/tcp/1'])], 'dcutr/unexpected-message'],
      [[frame(HolePunchType.CONNECT, [`/ip4/11.0.0.10/tcp/4001/p2p/${relay.peer}/p2p-circuit`, '/ip4/11.0.0.2/udp/1/quic-v1/webtransport'])], 'dcutr/no-addrs'],
      [[frame(HolePunchType.CONNECT, [])], 'dcutr/no-addrs'],
      [[new Uint8Array([0x81, 0x20])], 'dcutr/message-too-large'],
    ]
    for (const [msgs, code] of cases) {
      const r = lone()
      r.handle(0, { type: 'connection-established', connection: ca })
      const stream = { connection: RELAYED, stream: 1 }
      r.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
      for (const m of msgs) r.handle(0, { type: 'stream-data', stream, data: m })
      drain(r)
      expect(r.of('reset')).toHaveLength(1)
      const e = byType(r, 'failed')[0]!.error as ProtocolError
      expect(e).toBeInstanceOf(ProtocolError)
      expect(e.code).toBe(code)
      expect(r.of('dial')).toHaveLength(0)
    }
  })

  test('addresses filtered: relayed, non-TCP, /ws and another peer\'s /p2p/ dropped; the peer\'s own /p2p/ stripped; duplicates once', () => {
    const r = lone()
    r.handle(0, { type: 'connection-established', connection: ca })
    const stream = { connection: RELAYED, stream: 1 }
    r.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
    r.handle(0, { type: 'stream-data', stream, data: frame(HolePunchType.CONNECT, [
      `/ip4/11.0.0.10/tcp/4001/p2p/${relay.peer}/p2p-circuit/p2p/${ib.peer}`, '/ip4/11.0.0.2/udp/4001/quic-v1', '/ip4/11.0.0.2/tcp/4002/ws',
      `/ip4/11.0.0.3/tcp/4001/p2p/${ic.peer}`, `/ip4/11.0.0.2/tcp/50002/p2p/${ib.peer}`, '/ip4/11.0.0.2/tcp/50002', '/ip6/2001:db8::2/tcp/50002', '/ip4/11.0.0.2/tcp/0',
    ]) })
    r.handle(1, { type: 'stream-data', stream, data: frame(HolePunchType.SYNC, []) })
    drain(r)
    expect(r.of('dial').map((d) => d.action.addrs!.map(String)[0])).toEqual([`/ip4/11.0.0.2/tcp/50002/p2p/${ib.peer}`, `/ip6/2001:db8::2/tcp/50002/p2p/${ib.peer}`])
  })

  test('without a punch port A resets the stream and says hole punching is unavailable', () => {
    const r = lone({}, null)
    expect(new DcutrBehaviour({ punchPort: () => undefined }).status()).toEqual({ holePunching: 'unavailable', reason: expect.stringContaining('punch port') })
    r.handle(0, { type: 'connection-established', connection: ca })
    const stream = { connection: RELAYED, stream: 1 }
    r.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: ca })
    r.handle(0, { type: 'stream-data', stream, data: frame(HolePunchType.CONNECT, ['/ip4/11.0.0.2/tcp/50002']) })
    drain(r)
    expect(r.of('reset')).toHaveLength(1)
    expect(byType(r, 'unavailable')).toHaveLength(1)
    expect(r.of('write')).toHaveLength(0)
  })
})

describe('dcutr: B side without a punch port, candidates', () => {
  test('B without a punch port: an unavailable event, no stream, the relayed connection kept', () => {
    const s = setup({ b: { punchPort: () => undefined } })
    identified(s)
    s.pair.run(60_000)
    expect(s.b.of('open-stream')).toHaveLength(0)
    expect(byType(s.b, 'unavailable')).toEqual([{ type: 'unavailable', peer: ia.peer, reason: expect.stringContaining('punch port') }])
    expect(s.b.of('close-connection')).toHaveLength(0)
  })

  test('B with a punch port but no address to offer fails with dcutr/no-local-addrs', () => {
    const b = new DcutrBehaviour({ punchPort: () => 40000 })
    const s = setup({ bInner: b })
    identified(s)
    s.pair.run(1_000)
    expect((byType(s.b, 'failed')[0]!.error as OutcomeError).code).toBe('dcutr/no-local-addrs')
  })

  test('candidates: only observations of the punch port, from direct connections; then external and public listen addresses', () => {
    const b = new DcutrBehaviour({ punchPort: () => PORT_B })
    b.handle(0, { type: 'local-info', listenAddrs: [ma('/ip4/10.0.2.2/tcp/4001'), ma('/ip4/11.0.0.7/tcp/4001'), ma('/ip4/127.0.0.1/tcp/4001')], protocols: [] })
    b.handle(0, { type: 'reachability', reachable: true, externalAddrs: [ma('/ip4/11.0.0.8/tcp/4001')] })
    b.handle(0, { type: 'observed-addr', connection: conn(1, relay, { localPort: PORT_B }), addr: ma(`/ip4/11.0.0.2/tcp/50002/p2p/${ib.peer}`) })
    b.handle(0, { type: 'observed-addr', connection: conn(2, relay, { localPort: 33333 }), addr: ma('/ip4/11.0.0.2/tcp/33333') })
    b.handle(0, { type: 'observed-addr', connection: conn(3, relay, { localPort: PORT_B, limited: true }), addr: ma('/ip4/11.0.0.99/tcp/50002') })
    expect(b.localAddrs().map(String)).toEqual(['/ip4/11.0.0.2/tcp/50002', '/ip4/11.0.0.8/tcp/4001', '/ip4/11.0.0.7/tcp/4001'])
  })

  test('maxCandidates: the most recent observations are kept (at the limit all, one past: the oldest goes)', () => {
    const b = new DcutrBehaviour({ punchPort: () => PORT_B, maxCandidates: 3 })
    for (let i = 1; i <= 3; i++) b.handle(0, { type: 'observed-addr', connection: conn(i, relay, { localPort: PORT_B }), addr: ma(`/ip4/11.0.0.${i}/tcp/50002`) })
    expect(b.localAddrs().map(String)).toEqual(['/ip4/11.0.0.3/tcp/50002', '/ip4/11.0.0.2/tcp/50002', '/ip4/11.0.0.1/tcp/50002'])
    b.handle(0, { type: 'observed-addr', connection: conn(4, relay, { localPort: PORT_B }), addr: ma('/ip4/11.0.0.4/tcp/50002') })
    expect(b.localAddrs().map(String)).toEqual(['/ip4/11.0.0.4/tcp/50002', '/ip4/11.0.0.3/tcp/50002', '/ip4/11.0.0.2/tcp/50002'])
  })

  test('options are checked', () => {
    expect(() => new DcutrBehaviour({} as DcutrOptions)).toThrow(TypeError)
    for (const bad of [{ maxAttempts: 0 }, { exchangeTimeout: 0 }, { maxInboundStreamsPerPeer: 0 }, { maxCandidates: 1.5 }, { relayedCloseGrace: -1 }]) {
      expect(() => new DcutrBehaviour({ punchPort: () => 1, ...bad })).toThrow(RangeError)
    }
  })

  test('the relayed connection closing during the exchange ends it', () => {
    const s = setup()
    identified(s)
    s.pair.run(L + 1) // stream open, CONNECT on its way
    s.pair.disconnect(RELAYED)
    s.pair.run(1_000)
    const failed = byType(s.b, 'failed')
    expect(failed).toHaveLength(1)
    expect(['dcutr/connection-closed', 'dcutr/stream-reset']).toContain((failed[0]!.error as OutcomeError).code)
    expect(s.b.of('dial')).toHaveLength(0)
  })
})

describe('dcutr(): the service', () => {
  const ctx = { run: <T>(f: (now: number) => T): T => f(0) } as unknown as Parameters<ReturnType<typeof dcutr>>[0]

  test('reads the punch port from the TCP transport at each use; unavailable without one', () => {
    const t = { punchPort: undefined as number | undefined }
    const svc = dcutr({ punchPort: t })(ctx)
    expect(svc.name).toBe('dcutr')
    expect(svc.behaviour.protocols).toEqual([DCUTR_PROTOCOL])
    expect((svc.behaviour as DcutrBehaviour).limitedProtocols).toEqual([DCUTR_PROTOCOL])
    expect(svc.api.status().holePunching).toBe('unavailable')
    t.punchPort = 40000 // 'auto' picked it at the first dial
    expect(svc.api.status()).toEqual({ holePunching: 'available' })
    expect(dcutr()(ctx).api.status().holePunching).toBe('unavailable')
    expect(dcutr({ punchPort: 4001 })(ctx).api.status().holePunching).toBe('available')
    expect(() => dcutr({ punchPort: 0 })).toThrow(RangeError)
    expect(() => dcutr({ punchPort: 70000 })).toThrow(RangeError)
  })

  test('the behaviour\'s events reach the api as typed events', () => {
    const svc = dcutr({ punchPort: 4001 })(ctx)
    const seen: string[] = []
    const off = svc.api.on('unavailable', (e) => seen.push(e.reason))
    svc.onEvent({ type: 'unavailable', peer: ia.peer, reason: 'r1' })
    off()
    svc.onEvent({ type: 'unavailable', peer: ia.peer, reason: 'r2' })
    expect(seen).toEqual(['r1'])
  })
})
