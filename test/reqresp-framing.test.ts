/**
 * Request-response: length-prefixed framing (the reader, then the behaviour on a virtual clock),
 * per-call timeouts, exchange durations, and the swarm/resource bounds a behaviour declares.
 */
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { concat, toHex, utf8 } from '../src/core/bytes.js'
import { encode as varint } from '../src/core/varint.js'
import { MessageReader, RequestResponseBehaviour, frame, json, lengthPrefixed, raw, type RequestResponseEvent, type RequestResponseOptions } from '../src/request-response/index.js'
import type { ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { SwarmPolicy } from '../src/swarm/policy.js'
import { Harness, Pair, testIdentity } from './helpers/behaviour-harness.js'
import { vectorFile, type Vector } from './helpers/vectors.js'
import { fromHex } from '../src/core/bytes.js'
import { cbor } from '../src/request-response/index.js'
import { toJsonText } from '../src/cli/request.js'

const P = '/test/rr-lp/1.0.0'
const A = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const B = testIdentity(2, '/ip4/10.0.0.2/tcp/4001')
type Ev = RequestResponseEvent<unknown, unknown>
const code = (e: Error): string => (e as unknown as { code: string }).code
const S: StreamRef = { connection: 1, stream: 1 }

describe('MessageReader', () => {
  test('length-prefixed: complete when the announced bytes are in, whatever the chunking; extra bytes discarded', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }), (msg, cuts) => {
      const wire = concat([frame('length-prefixed', msg), new Uint8Array([9, 9, 9])])
      const r = new MessageReader('length-prefixed', 300)
      let at = 0
      let last = 'more'
      for (const c of [...cuts, wire.length]) {
        if (at >= wire.length || last === 'complete') break
        last = r.push(wire.subarray(at, Math.min(wire.length, at + c)))
        at += c
      }
      expect(last).toBe('complete')
      expect(toHex(r.message()!)).toBe(toHex(msg))
    }))
  })

  test('the cap is checked on the prefix: at the limit accepted, one past refused before any message byte is buffered', () => {
    const at = new MessageReader('length-prefixed', 1000)
    expect(at.push(varint(1000))).toBe('more')
    expect(at.announced).toBe(1000)
    const past = new MessageReader('length-prefixed', 1000)
    expect(past.push(varint(1001))).toBe('too-large')
    expect(past.buffered).toBe(0)
    // a prefix announcing 2^53 - 1 bytes: refused at once
    expect(new MessageReader('length-prefixed', 1 << 20).push(varint(Number.MAX_SAFE_INTEGER))).toBe('too-large')
  })

  test('bad prefixes: non-minimal, longer than 9 bytes; a cut-short frame has no message', () => {
    expect(new MessageReader('length-prefixed', 100).push(new Uint8Array([0x80, 0x00]))).toBe('bad-prefix')
    expect(new MessageReader('length-prefixed', 100).push(new Uint8Array(9).fill(0x80))).toBe('bad-prefix')
    const short = new MessageReader('length-prefixed', 100)
    expect(short.push(concat([varint(10), utf8('abc')]))).toBe('more')
    expect(short.message()).toBeUndefined()
    const zero = new MessageReader('length-prefixed', 100)
    expect(zero.push(new Uint8Array([0]))).toBe('complete')
    expect(zero.message()).toEqual(new Uint8Array(0))
  })

  test("'eof': the cap is checked as bytes arrive", () => {
    const r = new MessageReader('eof', 4)
    expect(r.push(utf8('abcd'))).toBe('more')
    expect(r.push(utf8('e'))).toBe('too-large')
  })
})

function pair(opts: Partial<RequestResponseOptions<unknown, unknown>> = {}, chunking: 'whole' | 'bytes' = 'whole') {
  const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), ...opts })
  const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), serve: true, ...opts })
  const p = new Pair<Ev, Ev>(a, b, { a: A, b: B }, { latency: 5, chunking })
  p.connect()
  p.run()
  return { p, a, b }
}

function conn(): ConnectionInfo {
  return { id: 1, peer: A.peer, remotePublicKey: A.publicKey, remoteAddr: A.addr, localAddr: B.addr, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
}

describe('behaviour with lengthPrefixed(codec)', () => {
  test('messages exchanged both ways with a uvarint prefix; durations reported; nothing left in flight', () => {
    for (const chunking of ['whole', 'bytes'] as const) {
      const { p, a, b } = pair({}, chunking)
      const id = p.a.command((now) => a.request(now, B.peer, { q: 'x'.repeat(200) }))
      p.runFor(50)
      const req = p.b.eventsOf('request')[0]!
      expect(req.request).toEqual({ q: 'x'.repeat(200) })
      p.runFor(20)
      p.b.command((now) => b.respond(now, req.inboundId, 'ok'))
      p.runFor(50)
      const res = p.a.eventsOf('response')[0]!
      expect(res).toMatchObject({ requestId: id, response: 'ok', protocol: P })
      expect(res.duration).toBeGreaterThanOrEqual(70)
      expect(p.b.eventsOf('response-sent')[0]!.duration).toBeGreaterThanOrEqual(20)
      // the requester wrote prefix + message then half-closed
      const writes = p.a.actions.filter((x) => x.type === 'write').map((x) => (x as { data: Uint8Array }).data)
      const sent = concat(writes)
      expect(toHex(sent)).toBe(toHex(frame('length-prefixed', utf8(JSON.stringify({ q: 'x'.repeat(200) })))))
      expect(toHex(sent.subarray(0, 2))).toBe('d001') // 208 as a uvarint
      expect(a.inFlight).toEqual({ outbound: 0, inbound: 0 })
      expect(b.inFlight).toEqual({ outbound: 0, inbound: 0 })
    }
  })

  test('an empty message is a message (prefix 0), not an omission', () => {
    const a = new RequestResponseBehaviour<Uint8Array, Uint8Array>({ protocols: [P], codec: lengthPrefixed(raw()) })
    const b = new RequestResponseBehaviour<Uint8Array, Uint8Array>({ protocols: [P], codec: lengthPrefixed(raw()), serve: true })
    const p = new Pair(a, b, { a: A, b: B }, { latency: 5 })
    p.connect()
    p.run()
    p.a.command((now) => a.request(now, B.peer, new Uint8Array(0)))
    p.runFor(50)
    const req = p.b.eventsOf('request')[0]!
    expect(req.request).toEqual(new Uint8Array(0))
    p.b.command((now) => b.respond(now, req.inboundId, new Uint8Array(0)))
    p.runFor(50)
    expect(p.a.eventsOf('response')[0]!.response).toEqual(new Uint8Array(0))
  })

  test('the responder answers before the requester half-closes, and frees the stream at its EOF or deadline', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), serve: true, timeout: 1000 })
    const h = new Harness(b)
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn() })
    h.input({ type: 'stream-data', stream: S, data: frame('length-prefixed', utf8('"hi"')) })
    const req = h.events().find((e) => e.type === 'request')!
    expect(req).toMatchObject({ request: 'hi' })
    h.command((now) => b.respond(now, (req as { inboundId: number }).inboundId, 'yo'))
    expect(h.drain().map((x) => x.type)).toEqual(['write', 'close-write', 'event'])
    expect(b.inFlight.inbound).toBe(1) // still counts: the stream is open
    h.input({ type: 'stream-data', stream: S, data: utf8('junk after the frame') }) // discarded
    const late = h.advance(1000)
    expect(late.map((x) => x.type)).toEqual(['reset']) // answered: the deadline frees it without a failure event
    expect(b.inFlight.inbound).toBe(0)
  })

  test('a lying prefix: more than maxRequestBytes announced is refused before the bytes come', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), serve: true, maxRequestBytes: 100 })
    const h = new Harness(b)
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn() })
    const out = h.input({ type: 'stream-data', stream: S, data: varint(101) })
    expect(out.map((x) => x.type)).toEqual(['reset', 'event'])
    expect(code((out[1] as { event: { error: Error } }).event.error)).toBe('reqresp/request-too-large')
    expect((out[1] as { event: { error: Error } }).event.error.name).toBe('ProtocolError')
  })

  test('a lying prefix: fewer bytes than announced, then EOF, is a decode error (both sides)', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), serve: true })
    const h = new Harness(b)
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn() })
    h.input({ type: 'stream-data', stream: S, data: concat([varint(50), utf8('"short"')]) })
    const out = h.input({ type: 'stream-eof', stream: S })
    expect(out.map((x) => x.type)).toEqual(['reset', 'event'])
    expect(code((out[1] as { event: { error: Error } }).event.error)).toBe('reqresp/decode')

    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()), maxResponseBytes: 64 })
    const ha = new Harness(a)
    const ids = [1, 2, 3].map(() => ha.command((now) => a.request(now, B.peer, 'q')))
    ha.drain()
    const opened = (n: number): StreamRef => ({ connection: 1, stream: n })
    for (const [k, id] of ids.entries()) ha.input({ type: 'stream-opened', stream: opened(k + 1), protocol: P, direction: 'outbound', connection: conn(), requestId: id })
    ha.drain()
    ha.input({ type: 'stream-data', stream: opened(1), data: concat([varint(50), utf8('"x"')]) })
    ha.input({ type: 'stream-eof', stream: opened(1) })
    ha.input({ type: 'stream-data', stream: opened(2), data: varint(65) }) // past maxResponseBytes
    ha.input({ type: 'stream-data', stream: opened(3), data: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) })
    const fails = ha.events().filter((e) => e.type === 'outbound-failure').map((e) => [(e as { requestId: number }).requestId, code((e as { error: Error }).error)])
    expect(fails).toEqual([[ids[0], 'reqresp/decode'], [ids[1], 'reqresp/response-too-large'], [ids[2], 'reqresp/decode']])
  })

  test('a length-prefixed response that is complete before EOF resolves at once', () => {
    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: lengthPrefixed(json()) })
    const h = new Harness(a)
    const id = h.command((now) => a.request(now, B.peer, 1))
    h.drain()
    h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'outbound', connection: conn(), requestId: id })
    h.drain()
    const out = h.input({ type: 'stream-data', stream: S, data: concat([frame('length-prefixed', utf8('[1,2]')), utf8('trailing')]) })
    expect(out.map((x) => x.type)).toEqual(['event'])
    expect((out[0] as { event: Ev }).event).toMatchObject({ type: 'response', response: [1, 2] })
    // the stream stays ours (and counted) until the responder's EOF...
    expect(a.inFlight.outbound).toBe(1)
    expect(h.input({ type: 'stream-data', stream: S, data: utf8('more junk') })).toEqual([])
    expect(h.input({ type: 'stream-eof', stream: S })).toEqual([])
    expect(a.inFlight.outbound).toBe(0)
    // ...or its deadline: reset, and no failure event (the response was reported)
    const id2 = h.command((now) => a.request(now, B.peer, 2))
    h.drain()
    const S2: StreamRef = { connection: 1, stream: 2 }
    h.input({ type: 'stream-opened', stream: S2, protocol: P, direction: 'outbound', connection: conn(), requestId: id2 })
    h.drain()
    expect(h.input({ type: 'stream-data', stream: S2, data: frame('length-prefixed', utf8('3')) }).map((x) => x.type)).toEqual(['event'])
    expect(h.advance(10_000).map((x) => x.type)).toEqual(['reset'])
    expect(a.inFlight.outbound).toBe(0)
  })
})

describe('per-call timeout and declared bounds', () => {
  test("request(..., timeout) overrides the behaviour's timeout for that exchange only", () => {
    const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: json(), timeout: 10_000 })
    const h = new Harness(a)
    const short = h.command((now) => a.request(now, B.peer, 1, undefined, 300))
    const long = h.command((now) => a.request(now, B.peer, 2))
    h.drain()
    expect(h.advance(299).filter((x) => x.type === 'event')).toEqual([])
    const out = h.advance(1)
    const evs = out.filter((x) => x.type === 'event').map((x) => (x as { event: Ev }).event)
    expect(evs).toEqual([expect.objectContaining({ type: 'outbound-failure', requestId: short, duration: 300 })])
    expect(code((evs[0] as { error: Error }).error)).toBe('reqresp/timeout')
    expect(h.advance(9_700).filter((x) => x.type === 'event').map((x) => (x as { event: { requestId: number } }).event.requestId)).toEqual([long])
    expect(() => a.request(0, B.peer, 1, undefined, 0)).toThrow(RangeError)
  })

  test('the behaviour declares 2 x maxConcurrentStreams to the swarm; the resource manager follows unless the user set a limit', () => {
    expect(new RequestResponseBehaviour({ protocols: [P], codec: json() }).maxInboundStreams).toBe(200)
    expect(new RequestResponseBehaviour({ protocols: [P], codec: json(), maxConcurrentStreams: 7 }).maxInboundStreams).toBe(14)
    const raised = new SwarmPolicy({ maxPendingInbound: 64, inboundBounds: { [P]: 200 } })
    expect(raised.resources.limits.protocolsPeer[P]).toMatchObject({ streamsInbound: 200 })
    const user = new SwarmPolicy({ maxPendingInbound: 64, inboundBounds: { [P]: 200 }, resources: { protocolsPeer: { [P]: { streamsInbound: 10 } } } })
    expect(user.resources.limits.protocolsPeer[P]).toMatchObject({ streamsInbound: 10 })
    // never lowered: a bound under the default leaves it alone
    const low = new SwarmPolicy({ maxPendingInbound: 64, inboundBounds: { [P]: 2 } })
    expect(low.resources.limits.protocolsPeer[P]).toBeUndefined()
  })
})

describe('protocol support (rust ProtocolSupport)', () => {
  test('inbound-only ids are served and never proposed; outbound-only ones proposed and never served', () => {
    const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [{ id: '/kv/3', support: 'outbound' }, '/kv/2', { id: '/kv/1', support: 'inbound' }], codec: json(), serve: true })
    expect(b.protocols).toEqual(['/kv/2', '/kv/1'])
    expect(b.offered).toEqual(['/kv/3', '/kv/2', '/kv/1'])
    const h = new Harness(b)
    h.command((now) => b.request(now, B.peer, 1))
    expect(h.drain().find((x) => x.type === 'open-stream')).toMatchObject({ protocols: ['/kv/3', '/kv/2'] })
    const inboundOnly = new RequestResponseBehaviour<unknown, unknown>({ protocols: [{ id: '/kv/1', support: 'inbound' }], codec: json(), serve: true })
    expect(() => inboundOnly.request(0, B.peer, 1)).toThrow(expect.objectContaining({ code: 'reqresp/no-outbound-protocol' }))
    expect(() => new RequestResponseBehaviour({ protocols: [{ id: '/kv/1', support: 'both' as never }], codec: json() })).toThrow(RangeError)
  })
})

describe('spec/vectors/reqresp.json', () => {
  const vectors = vectorFile('reqresp')
  /** A vector's JSON value as the codec's value: "0x.." strings are bytes for cbor and raw. */
  const value = (v: Vector, x: unknown): unknown => {
    if (v.codec === 'json') return x
    if (typeof x === 'string' && x.startsWith('0x')) return fromHex(x.slice(2))
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, value(v, y)]))
    return x
  }
  const codecOf = (v: Vector) => {
    const c = v.codec === 'cbor' ? cbor() : v.codec === 'json' ? json() : raw()
    return (v.framing === 'length-prefixed' ? lengthPrefixed(c as never) : c) as ReturnType<typeof json>
  }
  for (const v of vectors.all()) {
    test(v.id, () => {
      const max = typeof v.max === 'number' ? v.max : undefined
      const bytes = fromHex(v.hex!)
      let got: Ev[]
      let written: Uint8Array[] = []
      if (v.direction === 'request') {
        const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: codecOf(v), serve: true, ...(max !== undefined ? { maxRequestBytes: max } : {}) })
        const h = new Harness(b)
        h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn() })
        if (bytes.length > 0) h.input({ type: 'stream-data', stream: S, data: bytes })
        h.input({ type: 'stream-eof', stream: S })
        got = h.events()
        if (v.encode === true) {
          const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: codecOf(v), ...(max !== undefined ? { maxRequestBytes: max } : {}) })
          const ha = new Harness(a)
          const id = ha.command((now) => a.request(now, B.peer, value(v, v.decoded)))
          ha.drain()
          written = ha.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'outbound', connection: conn(), requestId: id }).filter((x) => x.type === 'write').map((x) => (x as { data: Uint8Array }).data)
        }
      } else {
        const a = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: codecOf(v), ...(max !== undefined ? { maxResponseBytes: max } : {}) })
        const h = new Harness(a)
        const id = h.command((now) => a.request(now, B.peer, v.codec === 'json' ? 1 : new Uint8Array([1])))
        h.drain()
        h.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'outbound', connection: conn(), requestId: id })
        h.drain()
        if (bytes.length > 0) h.input({ type: 'stream-data', stream: S, data: bytes })
        h.input({ type: 'stream-eof', stream: S })
        got = h.events()
        if (v.encode === true) {
          const b = new RequestResponseBehaviour<unknown, unknown>({ protocols: [P], codec: codecOf(v), serve: true })
          const hb = new Harness(b)
          hb.input({ type: 'stream-opened', stream: S, protocol: P, direction: 'inbound', connection: conn() })
          hb.input({ type: 'stream-data', stream: S, data: frame(v.framing as 'eof', v.codec === 'json' ? utf8('1') : new Uint8Array([1])) })
          hb.input({ type: 'stream-eof', stream: S })
          const req = hb.events().find((e) => e.type === 'request') as { inboundId: number }
          hb.command((now) => b.respond(now, req.inboundId, value(v, v.decoded)))
          written = hb.drain().filter((x) => x.type === 'write').map((x) => (x as { data: Uint8Array }).data)
        }
      }
      const ok = got.find((e) => e.type === 'request' || e.type === 'response') as { request?: unknown; response?: unknown } | undefined
      const fail = got.find((e) => e.type === 'inbound-failure' || e.type === 'outbound-failure') as { error: Error } | undefined
      if ('error' in v) {
        expect(ok).toBeUndefined()
        expect(code(fail!.error)).toBe(v.error)
      } else {
        expect(fail).toBeUndefined()
        expect(JSON.parse(toJsonText(ok!.request ?? ok!.response))).toEqual(v.decoded)
      }
      if (v.encode === true) expect(toHex(concat(written))).toBe(v.hex)
    })
  }
})
