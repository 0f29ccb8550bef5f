/** The rendezvous point and client behaviours, driven by hand (pure: no swarm, virtual clock). Limits at and past. */
import { describe, expect, test } from 'vitest'
import { nobleCrypto as crypto } from '../src/core/crypto/noble.js'
import { OutcomeError, ProtocolError, UsageError } from '../src/core/errors.js'
import { encodeLp } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../src/swarm/index.js'
import {
  MessageType, RENDEZVOUS_PROTOCOL, RendezvousClientBehaviour, RendezvousDecoder, RendezvousServerBehaviour, RendezvousStatusError, ResponseStatus,
  encodeRendezvous, encodeRendezvousFrame, sealRendezvousRecord, type RendezvousClientEvent, type RendezvousServerEvent,
} from '../src/rendezvous/index.js'

const keys = [1, 2].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), crypto))
const [A, P] = keys.map((k) => ({ key: k, peer: k.publicKey.toPeerId(crypto) }))
const addr = Multiaddr.fromString('/ip4/10.0.0.1/tcp/4001')
const conn = (who: typeof A, id = 1): ConnectionInfo => ({ id, peer: who!.peer, remotePublicKey: who!.key.publicKey, remoteAddr: addr, localAddr: undefined, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false })
const s = (stream: number, connection = 1): StreamRef => ({ connection, stream })

function drain<E>(b: { pollAction(): BehaviourAction<E> | undefined }): BehaviourAction<E>[] {
  const out: BehaviourAction<E>[] = []
  for (let a = b.pollAction(); a !== undefined; a = b.pollAction()) out.push(a)
  return out
}
const events = <E>(acts: BehaviourAction<E>[]): E[] => acts.flatMap((a) => (a.type === 'event' ? [a.event] : []))
const record = (): Uint8Array => sealRendezvousRecord(A!.key, { peerId: A!.peer, seq: 1n, addrs: [addr] }, crypto)
const registerFrame = (ns = 'app'): Uint8Array => encodeRendezvousFrame({ type: MessageType.REGISTER, register: { ns, signedPeerRecord: record() } })

describe('point behaviour', () => {
  const open = (b: RendezvousServerBehaviour, stream: number, now = 0): void =>
    b.handle(now, { type: 'stream-opened', stream: s(stream), protocol: RENDEZVOUS_PROTOCOL, direction: 'inbound', connection: conn(A) })

  test('answers REGISTER and DISCOVER on the stream, none for UNREGISTER; closes at the remote EOF', () => {
    const b = new RendezvousServerBehaviour({ crypto })
    open(b, 1)
    b.handle(0, { type: 'stream-data', stream: s(1), data: registerFrame() })
    const acts = drain(b)
    const w = acts.find((a) => a.type === 'write') as { data: Uint8Array }
    const d = new RendezvousDecoder()
    d.push(w.data)
    expect(d.next()).toEqual({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.OK, ttl: 7200 } })
    expect(events(acts)).toEqual([{ type: 'registered', peer: A!.peer, namespace: 'app', ttl: 7200 }])
    b.handle(0, { type: 'stream-data', stream: s(1), data: encodeRendezvousFrame({ type: MessageType.UNREGISTER, unregister: { ns: 'app' } }) })
    const u = drain(b)
    expect(u.some((a) => a.type === 'write')).toBe(false)
    expect(events(u)).toEqual([{ type: 'unregistered', peer: A!.peer, namespace: 'app' }])
    b.handle(0, { type: 'stream-eof', stream: s(1) })
    expect(drain(b)).toEqual([{ type: 'close-write', stream: s(1) }])
    expect(b.openStreams).toBe(0)
  })

  test('maxStreamsPerPeer: at the limit accepted, one past is reset', () => {
    const b = new RendezvousServerBehaviour({ crypto, maxStreamsPerPeer: 2 })
    open(b, 1)
    open(b, 2)
    expect(drain(b)).toEqual([])
    open(b, 3)
    const acts = drain(b)
    expect(acts[0]).toEqual({ type: 'reset', stream: s(3) })
    expect((events(acts)[0] as unknown as { error: OutcomeError }).error.code).toBe('rendezvous/too-many-streams')
    b.handle(0, { type: 'stream-closed', stream: s(1) })
    open(b, 4)
    expect(drain(b)).toEqual([])
  })

  test('maxRequestsPerStream: at the limit answered, one past resets the stream', () => {
    const b = new RendezvousServerBehaviour({ crypto, maxRequestsPerStream: 2 })
    open(b, 1)
    const discover = encodeRendezvousFrame({ type: MessageType.DISCOVER, discover: {} })
    b.handle(0, { type: 'stream-data', stream: s(1), data: discover })
    b.handle(0, { type: 'stream-data', stream: s(1), data: discover })
    expect(drain(b).filter((a) => a.type === 'write')).toHaveLength(2)
    b.handle(0, { type: 'stream-data', stream: s(1), data: discover })
    const acts = drain(b)
    expect(acts[0]).toEqual({ type: 'reset', stream: s(1) })
    expect((events(acts)[0] as unknown as { error: OutcomeError }).error.code).toBe('rendezvous/too-many-requests')
  })

  test("a remote's bad bytes (oversize frame, a response sent to the point) reset the stream with a ProtocolError", () => {
    const b = new RendezvousServerBehaviour({ crypto, messageLimits: { maxMessageSize: 100 } })
    open(b, 1)
    b.handle(0, { type: 'stream-data', stream: s(1), data: encodeLp(new Uint8Array(101)) })
    let ev = events(drain(b))[0] as Extract<RendezvousServerEvent, { type: 'inbound-failure' }>
    expect(ev.error).toBeInstanceOf(ProtocolError)
    expect((ev.error as ProtocolError).code).toBe('rendezvous/message-too-large')
    open(b, 2)
    b.handle(0, { type: 'stream-data', stream: s(2), data: encodeRendezvousFrame({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: 0 } }) })
    ev = events(drain(b))[0] as Extract<RendezvousServerEvent, { type: 'inbound-failure' }>
    expect((ev.error as ProtocolError).code).toBe('rendezvous/unexpected-message')
    expect(b.openStreams).toBe(0)
  })

  test('streamTimeout: a silent stream is reset at the deadline, not before', () => {
    const b = new RendezvousServerBehaviour({ crypto, streamTimeout: 1000 })
    open(b, 1, 5)
    expect(b.pollTimeout()).toBe(1005)
    b.handleTimeout(1004)
    expect(drain(b)).toEqual([])
    b.handleTimeout(1005)
    expect(drain(b)[0]).toEqual({ type: 'reset', stream: s(1) })
    expect(b.pollTimeout()).toBeUndefined()
  })
})

describe('client behaviour', () => {
  const client = (o: Partial<ConstructorParameters<typeof RendezvousClientBehaviour>[0]> = {}): RendezvousClientBehaviour => {
    const c = new RendezvousClientBehaviour({ crypto, privateKey: A!.key, peerId: A!.peer, seqBase: 1n, addresses: [addr], ...o })
    return c
  }
  const opened = (c: RendezvousClientBehaviour, id: number, stream: number, now = 0): BehaviourAction<RendezvousClientEvent>[] => {
    c.handle(now, { type: 'stream-opened', stream: s(stream), protocol: RENDEZVOUS_PROTOCOL, direction: 'outbound', connection: conn(P), requestId: id })
    return drain(c)
  }
  const answer = (c: RendezvousClientBehaviour, stream: number, body: Uint8Array, now = 0): RendezvousClientEvent[] => {
    c.handle(now, { type: 'stream-data', stream: s(stream), data: encodeLp(body) })
    return events(drain(c))
  }

  test('register: writes REGISTER then closes; OK -> registered, refreshed at 80% of the TTL', () => {
    const c = client()
    const id = c.register(0, P!.peer, 'app', { ttl: 7200 })
    expect(drain(c)).toEqual([{ type: 'open-stream', requestId: id, peer: P!.peer, protocols: [RENDEZVOUS_PROTOCOL] }])
    const acts = opened(c, id, 1)
    expect(acts.map((a) => a.type)).toEqual(['write', 'close-write'])
    const ev = answer(c, 1, encodeRendezvous({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: 0, ttl: 100 } }))
    expect(ev).toEqual([{ type: 'registered', requestId: id, point: P!.peer, namespace: 'app', ttl: 100, refresh: false }])
    c.handle(0, { type: 'stream-eof', stream: s(1) })
    expect(c.pollTimeout()).toBe(80_000)
    c.handleTimeout(80_000)
    const again = drain(c)
    expect(again[0]).toMatchObject({ type: 'open-stream', peer: P!.peer })
  })

  test('a granted TTL shorter than retryInterval (0 here) is refreshed after retryInterval, not in a loop', () => {
    const c = client({ retryInterval: 30_000 })
    const id = c.register(0, P!.peer, 'app')
    drain(c)
    opened(c, id, 1)
    answer(c, 1, encodeRendezvous({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: 0, ttl: 0 } }))
    c.handle(0, { type: 'stream-eof', stream: s(1) })
    expect(c.pollTimeout()).toBe(30_000)
  })

  test("a point's status is a RendezvousStatusError (an OutcomeError named after it); a refused first registration is not kept", () => {
    const c = client()
    const id = c.register(0, P!.peer, 'x'.repeat(300))
    drain(c)
    opened(c, id, 1)
    const [ev] = answer(c, 1, encodeRendezvous({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_INVALID_NAMESPACE, statusText: 'too long' } }))
    const error = (ev as unknown as { error: RendezvousStatusError }).error
    expect(error).toBeInstanceOf(OutcomeError)
    expect(error.code).toBe('rendezvous/invalid-namespace')
    expect(error.status).toBe(100)
    expect(c.inFlight.registrations).toBe(0)
    for (const [status, code] of [[101, 'invalid-signed-peer-record'], [102, 'invalid-ttl'], [103, 'invalid-cookie'], [200, 'not-authorized'], [300, 'internal-error'], [400, 'unavailable']] as const) {
      expect(new RendezvousStatusError(status).code).toBe(`rendezvous/${code}`)
    }
  })

  test('discover: verified registrations (bad records counted, dropped), addresses to the peer store before the event, cookie', () => {
    const c = client({ peerId: P!.peer, privateKey: P!.key })
    const id = c.discover(0, P!.peer, { namespace: 'app', limit: 5 })
    drain(c)
    opened(c, id, 1)
    const bad = record().slice()
    bad[bad.length - 1]! ^= 1
    c.handle(0, { type: 'stream-data', stream: s(1), data: encodeRendezvousFrame({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [{ ns: 'app', signedPeerRecord: record(), ttl: 60 }, { ns: 'app', signedPeerRecord: bad }], cookie: Uint8Array.of(1), status: 0 } }) })
    const acts = drain(c)
    expect(acts.map((a) => a.type)).toEqual(['peer-info', 'event'])
    const ev = events(acts)[0] as Extract<RendezvousClientEvent, { type: 'discovered' }>
    expect(ev.invalid).toBe(1)
    expect(ev.cookie).toEqual(Uint8Array.of(1))
    expect(ev.registrations.map((r) => [r.peer.toString(), r.addrs.map(String), r.ttl, r.format])).toEqual([[A!.peer.toString(), [addr.toString()], 60, 'standard']])
  })

  test('discover of one namespace: registrations the point labels with another are dropped (counted invalid)', () => {
    const c = client({ peerId: P!.peer, privateKey: P!.key })
    const id = c.discover(0, P!.peer, { namespace: 'app' })
    drain(c)
    opened(c, id, 1)
    c.handle(0, { type: 'stream-data', stream: s(1), data: encodeRendezvousFrame({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [{ ns: 'other', signedPeerRecord: record() }, { signedPeerRecord: record() }], status: 0 } }) })
    const ev = events(drain(c))[0] as Extract<RendezvousClientEvent, { type: 'discovered' }>
    expect(ev.invalid).toBe(1)
    expect(ev.registrations.map((r) => r.namespace)).toEqual(['app'])
  })

  test('no response (EOF), a wrong message type (ProtocolError), a timeout', () => {
    const c = client()
    const a = c.discover(0, P!.peer)
    const b = c.discover(0, P!.peer)
    const t = c.discover(0, P!.peer)
    drain(c)
    opened(c, a, 1)
    opened(c, b, 2)
    opened(c, t, 3)
    c.handle(0, { type: 'stream-eof', stream: s(1) })
    expect((events(drain(c))[0] as unknown as { error: OutcomeError }).error.code).toBe('rendezvous/no-response')
    const [ev] = answer(c, 2, encodeRendezvous({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: 0 } }))
    expect((ev as unknown as { error: ProtocolError }).error).toBeInstanceOf(ProtocolError)
    expect((ev as unknown as { error: ProtocolError }).error.code).toBe('rendezvous/unexpected-message')
    c.handleTimeout(9_999)
    expect(events(drain(c))).toEqual([])
    c.handleTimeout(10_000)
    const acts = drain(c)
    expect(acts[0]).toEqual({ type: 'reset', stream: s(3) })
    expect((events(acts)[0] as unknown as { error: OutcomeError }).error.code).toBe('rendezvous/timeout')
    expect(c.inFlight.operations).toBe(0)
  })

  test('maxPending: at the limit sent, one past fails at once; maxRegistrations likewise (UsageError)', () => {
    const c = client({ maxPending: 2, maxRegistrations: 1 })
    c.discover(0, P!.peer)
    c.register(0, P!.peer, 'one')
    expect(drain(c).filter((x) => x.type === 'open-stream')).toHaveLength(2)
    c.discover(0, P!.peer)
    expect((events(drain(c))[0] as unknown as { error: OutcomeError }).error.code).toBe('rendezvous/too-many-requests')
    expect(() => c.register(0, P!.peer, 'two')).toThrow(UsageError)
  })

  test('nothing to announce: register throws UsageError rendezvous/no-addresses; unspecified addresses do not count', () => {
    const c = new RendezvousClientBehaviour({ crypto, privateKey: A!.key, peerId: A!.peer, seqBase: 1n })
    c.handle(0, { type: 'local-info', listenAddrs: [Multiaddr.fromString('/ip4/0.0.0.0/tcp/1')], protocols: [] })
    expect(() => c.register(0, P!.peer, 'app')).toThrow(expect.objectContaining({ code: 'rendezvous/no-addresses' }))
    c.handle(0, { type: 'reachability', reachable: true, externalAddrs: [addr] })
    expect(c.addresses().map(String)).toEqual([addr.toString()])
  })

  test('periodic discovery: register and discover at start, then each interval with the last cookie; a failed round drops it', () => {
    const c = client({ discovery: { points: [{ peer: P!.peer, addrs: [addr] }], namespace: 'auto', interval: 1000 } })
    expect(drain(c)).toEqual([{ type: 'peer-info', peer: P!.peer, info: { addrs: [addr] } }])
    expect(c.pollTimeout()).toBe(0)
    c.handleTimeout(0)
    const round1 = drain(c).filter((a) => a.type === 'open-stream') as Array<{ requestId: number }>
    expect(round1).toHaveLength(2) // REGISTER and DISCOVER
    const discoverOf = (id: number, stream: number): Uint8Array => {
      const w = opened(c, id, stream).find((a) => a.type === 'write') as { data: Uint8Array }
      const d = new RendezvousDecoder()
      d.push(w.data)
      return (d.next() as { discover: { cookie?: Uint8Array } }).discover.cookie ?? new Uint8Array()
    }
    expect(discoverOf(round1[1]!.requestId, 1)).toEqual(new Uint8Array())
    answer(c, 1, encodeRendezvous({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [], cookie: Uint8Array.of(7, 7), status: 0 } }))
    expect(c.pollTimeout()).toBe(1000)
    c.handleTimeout(1000)
    const round2 = drain(c).filter((a) => a.type === 'open-stream') as Array<{ requestId: number }>
    expect(round2).toHaveLength(1) // the REGISTER is still in flight (kept): only a new DISCOVER
    const id2 = round2[round2.length - 1]!.requestId
    expect(discoverOf(id2, 2)).toEqual(Uint8Array.of(7, 7))
    answer(c, 2, encodeRendezvous({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [], status: ResponseStatus.E_INVALID_COOKIE } }))
    c.handleTimeout(2000)
    const round3 = drain(c).filter((a) => a.type === 'open-stream') as Array<{ requestId: number }>
    expect(discoverOf(round3[round3.length - 1]!.requestId, 3)).toEqual(new Uint8Array())
    expect(() => client({ discovery: { points: [], namespace: 'x', interval: 0 } })).toThrow(RangeError)
  })

  test('a cancelled first REGISTER (an aborted signal) is not kept as a registration that is never refreshed', () => {
    const c = client({ maxRegistrations: 1 })
    const id = c.register(0, P!.peer, 'app')
    drain(c)
    opened(c, id, 1)
    c.cancel(0, id)
    expect(drain(c)).toEqual([{ type: 'reset', stream: s(1) }])
    expect(c.inFlight.registrations).toBe(0)
    expect(c.pollTimeout()).toBeUndefined()
    // the slot is free for another namespace
    expect(() => c.register(0, P!.peer, 'other')).not.toThrow()
  })

  test('unregister while the REGISTER is in flight: its stream is reset, no event for it, the UNREGISTER goes out', () => {
    const c = client()
    const id = c.register(0, P!.peer, 'app')
    drain(c)
    opened(c, id, 1)
    const u = c.unregister(0, P!.peer, 'app')
    const acts = drain(c)
    expect(acts).toEqual([{ type: 'reset', stream: s(1) }, { type: 'open-stream', requestId: u, peer: P!.peer, protocols: [RENDEZVOUS_PROTOCOL] }])
    expect(events(opened(c, u, 2))).toEqual([{ type: 'unregistered', requestId: u, point: P!.peer, namespace: 'app' }])
    c.handle(0, { type: 'stream-data', stream: s(1), data: encodeRendezvousFrame({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: 0, ttl: 7200 } }) })
    expect(drain(c)).toEqual([])
    expect(c.inFlight.registrations).toBe(0)
  })
})
