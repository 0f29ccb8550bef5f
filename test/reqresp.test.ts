/** Request-response: codecs, and the behaviour on a virtual clock (Pair / Harness, no IO). */
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import { OutcomeError, ProtocolError, UsageError, DialError } from '../src/core/errors.js'
import {
  RequestResponseBehaviour, cbor, json, raw, lengthPrefixed, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT,
  type RequestResponseEvent, type RequestResponseOptions,
} from '../src/request-response/index.js'
import type { ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { Harness, Pair, testIdentity } from './helpers/behaviour-harness.js'

const P = '/test/rr/1.0.0'
const A = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const B = testIdentity(2, '/ip4/10.0.0.2/tcp/4001')
type Ev = RequestResponseEvent<unknown, unknown>

function pair(opts: Partial<RequestResponseOptions<unknown, unknown>> = {}, chunking: 'whole' | 'bytes' = 'whole', bOpts: Partial<RequestResponseOptions<unknown, unknown>> = {}) {
  const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), ...opts })
  const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), serve: true, ...opts, ...bOpts })
  const p = new Pair<Ev, Ev>(a, b, { a: A, b: B }, { latency: 5, chunking })
  p.connect()
  p.run()
  return { p, a, b }
}

/** b answers every request with `f(request)` at once. */
function autoRespond(p: Pair<Ev, Ev>, b: RequestResponseBehaviour<unknown, unknown>, f: (r: any) => unknown): void {
  let seen = 0
  for (let i = 0; i < 1000; i++) {
    p.runFor(100)
    const reqs = p.b.eventsOf('request').slice(seen)
    if (reqs.length === 0) return
    seen += reqs.length
    for (const r of reqs) p.b.command((now) => b.respond(now, r.inboundId, f(r.request)))
  }
}

const code = (e: Error): string => (e as unknown as { code: string }).code

describe('limits are rust-libp2p defaults', () => {
  test('1 MiB request, 10 MiB response, 10 s, 100 streams', () => {
    expect([DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS]).toEqual([1 << 20, 10 << 20, 10_000, 100])
  })
})

describe('codecs', () => {
  test('json, cbor and raw round trip and reject garbage', () => {
    const req = { id: 7, payload: 'x', list: [1, 2] }
    for (const c of [json(), cbor()]) {
      expect(c.decodeRequest(c.encodeRequest(req as never))).toEqual(req)
      expect(() => c.decodeResponse(fromHex('ff'))).toThrow()
    }
    expect(toHex(json().encodeRequest({ a: 1 }))).toBe(toHex(utf8('{"a":1}')))
    // the rust interop struct Req { id: u64, #[serde(with = "serde_bytes")] payload } as cbor4ii writes it
    expect(cbor().decodeRequest(fromHex('a262696401677061796c6f616441aa'))).toEqual(Object.assign(Object.create(null), { id: 1, payload: new Uint8Array([0xaa]) }))
    expect(raw().decodeRequest(new Uint8Array([1, 2]))).toEqual(new Uint8Array([1, 2]))
    expect(() => json().decodeRequest(new Uint8Array([0xc3, 0x28]))).toThrow()
  })
})

describe('behaviour', () => {
  test('one request, one response, one stream; write, half-close, read to EOF', () => {
    for (const chunking of ['whole', 'bytes'] as const) {
      const { p, a, b } = pair({}, chunking)
      const id = p.a.command((now) => a.request(now, B.peer, { q: 'hello' }))
      autoRespond(p, b, (r) => ({ echo: r.q }))
      expect(p.a.eventsOf('response')).toEqual([expect.objectContaining({ requestId: id, response: { echo: 'hello' }, protocol: P })])
      expect(p.b.eventsOf('request')[0]!.peer.equals(A.peer)).toBe(true)
      expect(p.b.eventsOf('response-sent')).toHaveLength(1)
      const acts = p.a.actions.map((x) => x.type)
      expect(acts).toEqual(['open-stream', 'write', 'close-write'])
      expect(a.inFlight).toEqual({ outbound: 0, inbound: 0 })
      expect(b.inFlight).toEqual({ outbound: 0, inbound: 0 })
    }
  })

  test('many concurrent requests on one connection each get their own response', () => {
    const { p, a, b } = pair()
    const ids = Array.from({ length: 50 }, (_, i) => p.a.command((now) => a.request(now, B.peer, i)))
    autoRespond(p, b, (r) => r * 2)
    const got = new Map(p.a.eventsOf('response').map((e) => [e.requestId, e.response]))
    expect(ids.map((id) => got.get(id))).toEqual(Array.from({ length: 50 }, (_, i) => i * 2))
  })

  test('a large response is written in chunks, each after stream-writable', () => {
    const { p, a, b } = pair()
    p.a.command((now) => a.request(now, B.peer, 'big'))
    autoRespond(p, b, () => 'x'.repeat(300_000))
    expect((p.a.eventsOf('response')[0]!.response as string).length).toBe(300_000)
    const writes = p.b.actions.filter((x) => x.type === 'write')
    expect(writes.length).toBe(Math.ceil(300_002 / 65_536))
  })

  test('timeout: no answer within `timeout` fails the requester, which resets the stream', () => {
    const { p, a } = pair({ timeout: 1000 })
    p.a.command((now) => a.request(now, B.peer, 1))
    p.runFor(999)
    expect(p.a.eventsOf('outbound-failure')).toEqual([])
    p.runFor(10)
    expect(p.a.eventsOf('outbound-failure').map((e) => code(e.error))).toEqual(['reqresp/timeout'])
    // the responder's own deadline started 5 ms later (stream latency): it sees the requester's reset first
    expect(p.b.eventsOf('inbound-failure').map((e) => code(e.error))).toEqual(['reqresp/reset'])
    expect(p.a.actions.at(-1)!.type).toBe('reset')
    expect(a.inFlight.outbound).toBe(0)
  })

  test('a requester that never half-closes times out on the responder; nothing leaks', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), serve: true, timeout: 500 })
    const h = new Harness(b)
    const S: StreamRef = { connection: 1, stream: 1 }
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn(A) })
    h.input({ type: 'stream-data', stream: S, data: utf8('{"a":') })
    const out = h.advance(500)
    expect(out.map((x) => x.type)).toEqual(['reset', 'event'])
    expect(b.inFlight.inbound).toBe(0)
  })

  test('oversize: a request past maxRequestBytes is refused locally; a response past maxResponseBytes fails the requester', () => {
    const { p, a, b } = pair({ maxRequestBytes: 10, maxResponseBytes: 10 }, 'whole', { maxResponseBytes: 100 })
    expect(() => p.a.command((now) => a.request(now, B.peer, '12345678'))).not.toThrow() // 10 bytes with quotes: at the limit
    expect(() => p.a.command((now) => a.request(now, B.peer, '123456789'))).toThrow(expect.objectContaining({ name: 'UsageError', code: 'reqresp/request-too-large' }))
    autoRespond(p, b, (r: string) => (r.length === 8 ? '1234567890' : r))
    const f = p.a.eventsOf('outbound-failure')
    expect(f.map((e) => [e.error.name, code(e.error)])).toEqual([['ProtocolError', 'reqresp/response-too-large']])
    // exactly at the limit: accepted
    p.a.command((now) => a.request(now, B.peer, 'ok'))
    autoRespond(p, b, () => '12345678')
    expect(p.a.eventsOf('response').map((e) => e.response)).toEqual(['12345678'])
  })

  test("a handler's response past the responder's maxResponseBytes: the responder resets (UsageError), the requester sees a reset", () => {
    const { p, a, b } = pair({ maxResponseBytes: 10 })
    p.a.command((now) => a.request(now, B.peer, 1))
    autoRespond(p, b, () => '1234567890')
    expect(p.b.eventsOf('inbound-failure').map((e) => [e.error.name, code(e.error)])).toEqual([['UsageError', 'reqresp/response-too-large']])
    expect(p.a.eventsOf('outbound-failure').map((e) => code(e.error))).toEqual(['reqresp/reset'])
  })

  test('a requester sending more than maxRequestBytes is reset by the responder', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: raw() as never, serve: true, maxRequestBytes: 4 })
    const h = new Harness(b)
    const S: StreamRef = { connection: 1, stream: 1 }
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn(A) })
    expect(h.input({ type: 'stream-data', stream: S, data: new Uint8Array(4) })).toEqual([])
    const out = h.input({ type: 'stream-data', stream: S, data: new Uint8Array(1) })
    expect(out[0]).toEqual({ type: 'reset', stream: S })
    expect(h.events().map((e) => (e.type === 'inbound-failure' ? [e.error.name, code(e.error)] : e.type))).toEqual([['ProtocolError', 'reqresp/request-too-large']])
  })

  test('omitted response (EOF with no bytes): reqresp/no-response', () => {
    const { p, a, b } = pair()
    p.a.command((now) => a.request(now, B.peer, 1))
    p.runFor(100)
    const r = p.b.eventsOf('request')[0]!
    expect(p.b.command((now) => b.omit(now, r.inboundId))).toBe(true)
    p.runFor(100)
    expect(p.a.eventsOf('outbound-failure').map((e) => [e.error.name, code(e.error)])).toEqual([['OutcomeError', 'reqresp/no-response']])
    expect(p.b.command((now) => b.respond(now, r.inboundId, 2))).toBe(false) // too late
  })

  test('undecodable response: ProtocolError reqresp/decode with the codec error as cause', () => {
    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json() })
    const h = new Harness(a)
    const id = h.command((now) => a.request(now, B.peer, 1))
    const S: StreamRef = { connection: 1, stream: 1 }
    expect(h.drain().map((x) => x.type)).toEqual(['open-stream'])
    expect(h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'outbound', connection: conn(B), requestId: id }).map((x) => x.type)).toEqual(['write', 'close-write'])
    h.input({ type: 'stream-data', stream: S, data: utf8('{nope') })
    h.input({ type: 'stream-eof', stream: S })
    const e = (h.events()[0] as Extract<Ev, { type: 'outbound-failure' }>).error
    expect([e.name, code(e)]).toEqual(['ProtocolError', 'reqresp/decode'])
    expect(e.cause).toBeInstanceOf(SyntaxError)
  })

  test('reset by the remote: reqresp/reset; connection closed: reqresp/connection-closed', () => {
    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json() })
    const h = new Harness(a)
    const opened = (id: number, s: StreamRef): void => void h.input({ type: 'stream-opened', stream: s, protocol: P, direction: 'outbound', connection: conn(B, s.connection), requestId: id })
    const id1 = h.command((now) => a.request(now, B.peer, 1))
    const id2 = h.command((now) => a.request(now, B.peer, 2))
    const S1 = { connection: 1, stream: 1 }
    const S2 = { connection: 2, stream: 1 }
    opened(id1, S1)
    opened(id2, S2)
    h.input({ type: 'stream-reset', stream: S1 })
    // a dead connection: the swarm feeds its streams' resets and connection-closed before draining
    a.handle(h.now, { type: 'stream-reset', stream: S2 })
    a.handle(h.now, { type: 'stream-closed', stream: S2 })
    a.handle(h.now, { type: 'connection-closed', connection: conn(B, 2) })
    h.drain()
    const fails = h.events().filter((e) => e.type === 'outbound-failure') as Extract<Ev, { type: 'outbound-failure' }>[]
    expect(fails.map((e) => [e.requestId, code(e.error)])).toEqual([[id1, 'reqresp/reset'], [id2, 'reqresp/connection-closed']])
    expect(a.inFlight.outbound).toBe(0)
  })

  test('stream-open-failed maps to dial-failed, unsupported-protocol, connection-closed', () => {
    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json() })
    const h = new Harness(a)
    const errors = [
      new DialError('dial/no-addresses'),
      new ProtocolError('connection', 'connection/protocol-rejected', 'remote supports none of the proposed protocols'),
      new UsageError('connection/closed'),
      new OutcomeError('swarm/limited-connection'),
    ]
    for (const error of errors) {
      const id = h.command((now) => a.request(now, B.peer, 1))
      h.input({ type: 'stream-open-failed', requestId: id, error })
    }
    const fails = h.events() as Extract<Ev, { type: 'outbound-failure' }>[]
    expect(fails.map((e) => code(e.error))).toEqual(['reqresp/dial-failed', 'reqresp/unsupported-protocol', 'reqresp/connection-closed', 'reqresp/stream-open-failed'])
    expect(fails.every((e) => e.error instanceof OutcomeError && e.error.cause === errors[fails.indexOf(e)])).toBe(true)
  })

  test('unsupported protocol end to end in the Pair (b does not serve)', () => {
    const { p, a } = pair({ serve: false })
    p.a.command((now) => a.request(now, B.peer, 1))
    p.runFor(100)
    expect(p.a.eventsOf('outbound-failure')).toHaveLength(1)
  })

  test('maxConcurrentStreams: inbound at the limit served, one past reset; outbound one past fails', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), serve: true, maxConcurrentStreams: 3 })
    const h = new Harness(b)
    for (let s = 1; s <= 3; s++) expect(h.input({ type: 'stream-opened', stream: { connection: 1, stream: s }, protocol: P, direction: 'inbound', connection: conn(A) })).toEqual([])
    const out = h.input({ type: 'stream-opened', stream: { connection: 1, stream: 4 }, protocol: P, direction: 'inbound', connection: conn(A) })
    expect(out[0]).toEqual({ type: 'reset', stream: { connection: 1, stream: 4 } })
    expect(code((out[1] as { event: Extract<Ev, { type: 'inbound-failure' }> }).event.error)).toBe('reqresp/too-many-streams')
    // another connection has its own budget
    expect(h.input({ type: 'stream-opened', stream: { connection: 2, stream: 1 }, protocol: P, direction: 'inbound', connection: conn(A, 2) })).toEqual([])

    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), maxConcurrentStreams: 3 })
    const ha = new Harness(a)
    for (let i = 0; i < 4; i++) ha.command((now) => a.request(now, B.peer, i))
    const acts = ha.drain()
    expect(acts.filter((x) => x.type === 'open-stream')).toHaveLength(3)
    expect(acts.filter((x) => x.type === 'event').map((x) => code((x as any).event.error))).toEqual(['reqresp/too-many-streams'])
  })

  test('cancel resets the stream and frees the slot, with no event', () => {
    const { p, a } = pair()
    const id = p.a.command((now) => a.request(now, B.peer, 1))
    p.runFor(100)
    p.a.command((now) => a.cancel(now, id))
    p.runFor(100)
    expect(p.a.events).toEqual([])
    expect(a.inFlight.outbound).toBe(0)
  })
})

describe('hostile input', () => {
  test('property: any sequence of stream inputs never throws, and a closed connection leaves nothing behind', () => {
    const input = fc.record({
      stream: fc.integer({ min: 1, max: 4 }),
      kind: fc.constantFrom('open-in', 'open-out', 'data', 'eof', 'reset', 'closed', 'writable', 'open-failed', 'request', 'respond', 'omit', 'tick'),
      bytes: fc.uint8Array({ maxLength: 40 }),
    })
    fc.assert(fc.property(fc.array(input, { maxLength: 60 }), fc.constantFrom('json', 'cbor', 'raw', 'lp-raw'), (steps, codecName) => {
      const codec = codecName === 'json' ? json() : codecName === 'cbor' ? cbor() : codecName === 'raw' ? raw() : lengthPrefixed(raw())
      const b = new RequestResponseBehaviour<any, any>({ protocols: [P], codec: codec as never, serve: true, maxRequestBytes: 64, maxResponseBytes: 64, timeout: 1000, maxConcurrentStreams: 3 })
      const h = new Harness(b)
      const ids: number[] = []
      for (const st of steps) {
        const S: StreamRef = { connection: 1, stream: st.stream }
        switch (st.kind) {
          case 'open-in': h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn(A) }); break
          case 'open-out': h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'outbound', connection: conn(B), requestId: ids.at(-1) ?? 1 }); break
          case 'data': h.input({ type: 'stream-data', stream: S, data: st.bytes }); break
          case 'eof': h.input({ type: 'stream-eof', stream: S }); break
          case 'reset': h.input({ type: 'stream-reset', stream: S }); break
          case 'closed': h.input({ type: 'stream-closed', stream: S }); break
          case 'writable': h.input({ type: 'stream-writable', stream: S }); break
          case 'open-failed': h.input({ type: 'stream-open-failed', requestId: ids.at(-1) ?? 1, error: new Error('x') }); break
          case 'request': ids.push(h.command((now) => b.request(now, B.peer, codecName.endsWith('raw') ? st.bytes : st.stream))); h.drain(); break
          case 'respond': for (const e of h.events()) if (e.type === 'request') h.command((now) => b.respond(now, e.inboundId, codecName.endsWith('raw') ? st.bytes : 'r')); h.drain(); break
          case 'omit': for (const e of h.events()) if (e.type === 'request') h.command((now) => b.omit(now, e.inboundId)); h.drain(); break
          case 'tick': h.advance(300); break
        }
      }
      for (const e of h.events()) {
        if (e.type === 'outbound-failure' || e.type === 'inbound-failure') expect(['OutcomeError', 'ProtocolError', 'UsageError']).toContain(e.error.name)
      }
      noLeak(h, b)
    }), { numRuns: 300 })
  })
})

/** After the connection dies (and past every deadline), nothing is in flight. */
function noLeak(h: Harness<any>, b: RequestResponseBehaviour<any, any>): void {
  for (let s = 1; s <= 4; s++) b.handle(h.now, { type: 'stream-reset', stream: { connection: 1, stream: s } })
  b.handle(h.now, { type: 'connection-closed', connection: conn(A) })
  h.drain()
  h.advance(2000)
  expect(b.inFlight).toEqual({ outbound: 0, inbound: 0 })
  expect(b.pollTimeout()).toBeUndefined()
}

function conn(who: typeof A, id = 1): ConnectionInfo {
  const other = who === A ? B : A
  return { id, peer: who.peer, remotePublicKey: who.publicKey, remoteAddr: who.addr, localAddr: other.addr, direction: who === A ? 'inbound' : 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
}
