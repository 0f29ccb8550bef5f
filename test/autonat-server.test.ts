/**
 * The AutoNAT server part (src/autonat/server.ts), driven input by input: v2 dial-backs on a new
 * connection with the nonce, dial data for another IP (amplification protection), refusals, rate
 * limits, timeouts; v1 with the observed IP substituted.
 */
import { describe, expect, test } from 'vitest'
import { encodeLp } from '../src/core/lp.js'
import type { ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialStatus, ResponseStatus, encodeDialBackResponse, encodeV2Frame } from '../src/autonat/message-v2.js'
import { AUTONAT_V1_PROTOCOL, V1Status, encodeV1Frame } from '../src/autonat/message-v1.js'
import type { AutoNATServerOptions } from '../src/autonat/types.js'
import { CLIENT, DIALER, OTHER, conn, dialBackSent, events, harness, ma, ofType, v1Sent, v2Sent } from './helpers/autonat.js'

const OBSERVED = '/ip4/11.0.0.30/tcp/50123'
const LOCAL = '/ip4/11.0.0.23/tcp/4001'

let nextStream = 1
function server(opts: Partial<AutoNATServerOptions> = {}) {
  const h = harness({ client: false, server: { amplificationJitter: 0, dialBackCloseDelay: 0, ...opts } })
  h.input({ type: 'local-info', listenAddrs: [ma(LOCAL)], protocols: [] })
  return h
}

function request(h: ReturnType<typeof server>, c: ConnectionInfo, addrs: string[], nonce = 42n) {
  const stream: StreamRef = { connection: c.id, stream: nextStream++ }
  const opened = h.input({ type: 'stream-opened', stream, protocol: DIAL_REQUEST_PROTOCOL, direction: 'inbound', connection: c })
  const acts = h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-request', addrs: addrs.map((a) => ma(a).bytes), nonce }) })
  return { stream, acts: [...opened, ...acts] }
}

function pay(h: ReturnType<typeof server>, stream: StreamRef, sizes: number[]) {
  return sizes.flatMap((n) => h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-data-response', data: new Uint8Array(n) }) }))
}

/** Complete the dial-back of a request whose dial action is in `acts`; returns every action after it. */
function dialBack(h: ReturnType<typeof server>, acts: ReturnType<typeof h.input>, opts: { respond?: boolean } = {}) {
  const dial = ofType(acts, 'dial')[0]!
  const back = conn(CLIENT, dial.addrs![0]!.toString(), '/ip4/11.0.0.23/tcp/39999', { direction: 'outbound' })
  const opening = h.input({ type: 'dial-succeeded', requestId: dial.requestId, connection: back })
  const open = ofType(opening, 'open-stream')[0]!
  expect(open).toMatchObject({ connection: back.id, protocols: [DIAL_BACK_PROTOCOL] })
  const bs: StreamRef = { connection: back.id, stream: 1 }
  const sent = h.input({ type: 'stream-opened', stream: bs, protocol: DIAL_BACK_PROTOCOL, direction: 'outbound', connection: back, requestId: open.requestId })
  const after = opts.respond === false ? [] : h.input({ type: 'stream-data', stream: bs, data: encodeLp(encodeDialBackResponse()) })
  return { back, bs, sent, after }
}

describe('AutoNAT v2 server', () => {
  test('same IP: dials <addr>/p2p/<client> on a new connection, sends the nonce on dial-back, answers OK and closes that connection', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const { stream, acts } = request(h, c, ['/ip4/11.0.0.30/tcp/4001'], 0xfedcba9876543210n)
    const dials = ofType(acts, 'dial')
    expect(dials).toHaveLength(1)
    expect(dials[0]!.peer).toBeUndefined() // by address only: the peer store's addresses are never added
    expect(dials[0]!.addrs!.map(String)).toEqual([`/ip4/11.0.0.30/tcp/4001/p2p/${CLIENT.peer}`])
    expect(dials[0]!.options).toEqual({ force: true })
    expect(v2Sent(acts, stream)).toEqual([]) // no dial data for the observed IP
    const { back, bs, sent, after } = dialBack(h, acts)
    expect(dialBackSent(sent, bs)).toEqual([0xfedcba9876543210n])
    expect(ofType(sent, 'close-write')).toEqual([{ type: 'close-write', stream: bs }])
    expect(v2Sent(after, stream)).toEqual([{ type: 'dial-response', status: ResponseStatus.OK, addrIdx: 0, dialStatus: DialStatus.OK }])
    expect(ofType(after, 'close-connection')).toEqual([{ type: 'close-connection', connection: back.id }])
    expect(events(after)).toMatchObject([{ type: 'served', version: 2, outcome: 'dial-ok' }])
    expect(h.b.server!.active).toBe(0)
  })

  test('the first address we are willing to dial is chosen: private, circuit, DNS, foreign /p2p and our own are skipped', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const { stream, acts } = request(h, c, [
      '/ip4/10.0.0.2/tcp/4001', `/ip4/11.0.0.5/tcp/1/p2p/${DIALER.peer}/p2p-circuit`, '/dns4/example.com/tcp/4001',
      `/ip4/11.0.0.30/tcp/4001/p2p/${OTHER.peer}`, LOCAL, '/ip4/127.0.0.1/tcp/4001', `/ip4/11.0.0.30/tcp/4002/p2p/${CLIENT.peer}`,
    ])
    expect(ofType(acts, 'dial')[0]!.addrs!.map(String)).toEqual([`/ip4/11.0.0.30/tcp/4002/p2p/${CLIENT.peer}`])
    const { after } = dialBack(h, acts)
    expect(v2Sent(after, stream)[0]).toMatchObject({ addrIdx: 6, dialStatus: DialStatus.OK })
  })

  test('no address we will dial: E_DIAL_REFUSED and no dial; allowPrivateAddrs lets a loopback one through', () => {
    const h = server()
    const c = conn(CLIENT, '/ip4/127.0.0.1/tcp/50000', '/ip4/127.0.0.1/tcp/4001')
    const { stream, acts } = request(h, c, ['/ip4/127.0.0.1/tcp/4002', '/ip4/192.168.1.2/tcp/4001'])
    expect(ofType(acts, 'dial')).toEqual([])
    expect(v2Sent(acts, stream)).toEqual([{ type: 'dial-response', status: ResponseStatus.E_DIAL_REFUSED, addrIdx: 0, dialStatus: 0 }])
    const p = server({ allowPrivateAddrs: true })
    const r = request(p, c, ['/ip4/127.0.0.1/tcp/4002'])
    expect(ofType(r.acts, 'dial')[0]!.addrs!.map(String)).toEqual([`/ip4/127.0.0.1/tcp/4002/p2p/${CLIENT.peer}`])
  })

  test('another IP: a DialDataRequest for [30000, 100000) bytes and no dial yet', () => {
    const h = server()
    const seen = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const { stream, acts } = request(h, conn(i % 2 === 0 ? CLIENT : OTHER, OBSERVED, LOCAL), ['/ip4/11.0.0.99/tcp/4001'])
      expect(ofType(acts, 'dial')).toEqual([])
      const [ddr] = v2Sent(acts, stream)
      expect(ddr).toMatchObject({ type: 'dial-data-request', addrIdx: 0 })
      const need = Number((ddr as { numBytes: bigint }).numBytes)
      expect(need).toBeGreaterThanOrEqual(30_000)
      expect(need).toBeLessThan(100_000)
      seen.add(need)
      h.input({ type: 'stream-reset', stream })
    }
    expect(seen.size).toBeGreaterThan(1) // random per request
  })

  test('the dial waits for exactly numBytes; a final chunk may be under 100 bytes', () => {
    const h = server({ minDialDataBytes: 30_000, maxDialDataBytes: 30_001 })
    const { stream, acts } = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.99/tcp/4001'])
    expect(v2Sent(acts, stream)).toEqual([{ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }])
    const before = pay(h, stream, [...Array(7).fill(4096), 30_000 - 7 * 4096 - 1]) // 29 999 bytes
    expect(ofType(before, 'dial')).toEqual([])
    expect(ofType(before, 'reset')).toEqual([])
    const last = pay(h, stream, [1])
    expect(ofType(last, 'dial')[0]!.addrs!.map(String)).toEqual([`/ip4/11.0.0.99/tcp/4001/p2p/${CLIENT.peer}`])
  })

  test('a non-final chunk under 100 bytes resets the stream and nothing is dialled; 100 bytes is accepted', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const ok = request(h, c, ['/ip4/11.0.0.99/tcp/4001'])
    expect(ofType(pay(h, ok.stream, [100]), 'reset')).toEqual([])
    const bad = request(h, conn(OTHER, '/ip4/11.0.0.31/tcp/5000', LOCAL), ['/ip4/11.0.0.99/tcp/4001'])
    const acts = pay(h, bad.stream, [99])
    expect(ofType(acts, 'reset')).toEqual([{ type: 'reset', stream: bad.stream }])
    expect(events(acts)).toMatchObject([{ type: 'served', outcome: 'dial-data-refused' }])
    expect(ofType(h.log, 'dial')).toEqual([])
  })

  test('a client that resets instead of paying gets no dial', () => {
    const h = server()
    const { stream } = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.99/tcp/4001'])
    h.input({ type: 'stream-reset', stream })
    expect(ofType(h.log, 'dial')).toEqual([])
    expect(h.b.server!.active).toBe(0)
  })

  test('amplification jitter: the paid dial waits up to amplificationJitter ms', () => {
    const h = server({ amplificationJitter: 3000, minDialDataBytes: 100, maxDialDataBytes: 101 })
    const { stream } = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.99/tcp/4001'])
    const paid = pay(h, stream, [4096])
    const waited = [...paid, ...h.advance(3000)]
    expect(ofType(waited, 'dial')).toHaveLength(1)
  })

  test('dial failure: OK with E_DIAL_ERROR; dial-back without a response: E_DIAL_BACK_ERROR after dialBackTimeout', () => {
    const h = server()
    const a = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    const failed = h.input({ type: 'dial-failed', requestId: ofType(a.acts, 'dial')[0]!.requestId, error: new Error('connection refused') })
    expect(v2Sent(failed, a.stream)).toEqual([{ type: 'dial-response', status: ResponseStatus.OK, addrIdx: 0, dialStatus: DialStatus.E_DIAL_ERROR }])
    const b = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    const { back } = dialBack(h, b.acts, { respond: false })
    const late = h.advance(5000)
    expect(v2Sent(late, b.stream)).toEqual([{ type: 'dial-response', status: ResponseStatus.OK, addrIdx: 0, dialStatus: DialStatus.E_DIAL_BACK_ERROR }])
    expect(ofType(late, 'close-connection')).toEqual([{ type: 'close-connection', connection: back.id }])
  })

  test('dialBackCloseDelay: the dial-back connection closes after the delay, unless the client sent an AutoNAT request on it (go does: interop flake)', () => {
    const h = server({ dialBackCloseDelay: 1000 })
    const a = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    const { back, after } = dialBack(h, a.acts)
    expect(ofType(after, 'close-connection')).toEqual([])
    expect(ofType(h.advance(999), 'close-connection')).toEqual([])
    expect(ofType(h.advance(1), 'close-connection')).toEqual([{ type: 'close-connection', connection: back.id }])
    const b = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    const second = dialBack(h, b.acts)
    // the client's next request arrives on the dial-back connection (its remote address is the client's listen address)
    request(h, { ...second.back, direction: 'inbound' }, ['/ip4/11.0.0.30/tcp/4001'])
    expect(ofType(h.advance(1000), 'close-connection').filter((x) => x.connection === second.back.id)).toEqual([])
  })

  test('requests over a limited (relayed) connection are reset', () => {
    const h = server()
    const { stream, acts } = request(h, conn(CLIENT, `/ip4/11.0.0.5/tcp/1/p2p/${DIALER.peer}/p2p-circuit`, LOCAL, { limited: true }), ['/ip4/11.0.0.30/tcp/4001'])
    expect(ofType(acts, 'reset')).toEqual([{ type: 'reset', stream }])
    expect(ofType(acts, 'dial')).toEqual([])
    expect(h.b.limitedProtocols).toEqual([])
  })

  test('rate limit: 12 requests per peer per minute, the 13th is E_REQUEST_REJECTED; another peer is not affected; the window moves', () => {
    const h = server({ maxConcurrentPerPeer: 100 })
    const c = conn(CLIENT, OBSERVED, LOCAL)
    for (let i = 0; i < 12; i++) expect(ofType(request(h, c, ['/ip4/11.0.0.30/tcp/4001']).acts, 'dial')).toHaveLength(1)
    const r13 = request(h, c, ['/ip4/11.0.0.30/tcp/4001'])
    expect(ofType(r13.acts, 'dial')).toEqual([])
    expect(v2Sent(r13.acts, r13.stream)).toEqual([{ type: 'dial-response', status: ResponseStatus.E_REQUEST_REJECTED, addrIdx: 0, dialStatus: 0 }])
    expect(ofType(request(h, conn(OTHER, '/ip4/11.0.0.31/tcp/5000', LOCAL), ['/ip4/11.0.0.31/tcp/4001']).acts, 'dial')).toHaveLength(1)
    h.advance(60_001)
    expect(ofType(request(h, c, ['/ip4/11.0.0.30/tcp/4001']).acts, 'dial')).toHaveLength(1)
  })

  test('global rate limit: globalRequests per minute from everyone', () => {
    const h = server({ globalRequests: 3 })
    const peers = [CLIENT, OTHER, DIALER]
    for (const p of peers) expect(ofType(request(h, conn(p, '/ip4/11.0.0.40/tcp/5000', LOCAL), ['/ip4/11.0.0.40/tcp/4001']).acts, 'dial')).toHaveLength(1)
    const r = request(h, conn(CLIENT, '/ip4/11.0.0.40/tcp/5001', LOCAL), ['/ip4/11.0.0.40/tcp/4001'])
    expect(v2Sent(r.acts, r.stream)[0]).toMatchObject({ status: ResponseStatus.E_REQUEST_REJECTED })
  })

  test('at most 2 requests of one peer in progress: the third is rejected until one ends', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const a = request(h, c, ['/ip4/11.0.0.30/tcp/4001'])
    request(h, c, ['/ip4/11.0.0.30/tcp/4001'])
    const third = request(h, c, ['/ip4/11.0.0.30/tcp/4001'])
    expect(v2Sent(third.acts, third.stream)[0]).toMatchObject({ status: ResponseStatus.E_REQUEST_REJECTED })
    h.input({ type: 'dial-failed', requestId: ofType(a.acts, 'dial')[0]!.requestId, error: new Error('x') })
    expect(ofType(request(h, c, ['/ip4/11.0.0.30/tcp/4001']).acts, 'dial')).toHaveLength(1)
  })

  test('dial-data requests: dialDataRequests per minute in all, then E_REQUEST_REJECTED', () => {
    const h = server({ dialDataRequests: 2, maxConcurrentPerPeer: 10 })
    const c = conn(CLIENT, OBSERVED, LOCAL)
    for (let i = 0; i < 2; i++) {
      const r = request(h, c, ['/ip4/11.0.0.99/tcp/4001'])
      expect(v2Sent(r.acts, r.stream)[0]).toMatchObject({ type: 'dial-data-request' })
    }
    const r = request(h, c, ['/ip4/11.0.0.99/tcp/4001'])
    expect(v2Sent(r.acts, r.stream)[0]).toMatchObject({ type: 'dial-response', status: ResponseStatus.E_REQUEST_REJECTED })
  })

  test('a request not finished within streamTimeout is reset; a late dial success closes its connection', () => {
    const h = server()
    const a = request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    const late = h.advance(15_000)
    expect(ofType(late, 'reset')).toEqual([{ type: 'reset', stream: a.stream }])
    const back = conn(CLIENT, '/ip4/11.0.0.30/tcp/4001', LOCAL, { direction: 'outbound' })
    expect(h.input({ type: 'dial-succeeded', requestId: ofType(a.acts, 'dial')[0]!.requestId, connection: back })).toEqual([{ type: 'close-connection', connection: back.id }])
  })

  test('maxRequestAddrs: only the first 50 addresses are considered', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const junk = Array.from({ length: 49 }, () => '/ip4/10.0.0.9/tcp/1')
    expect(ofType(request(h, c, [...junk, '/ip4/11.0.0.30/tcp/4001']).acts, 'dial')).toHaveLength(1) // the 50th
    const r = request(h, c, [...junk, '/ip4/10.0.0.9/tcp/1', '/ip4/11.0.0.30/tcp/4001']) // the 51st
    expect(ofType(r.acts, 'dial')).toEqual([])
    expect(v2Sent(r.acts, r.stream)[0]).toMatchObject({ status: ResponseStatus.E_DIAL_REFUSED })
  })

  test('maxConcurrent: requests in progress in all; one more stream is reset', () => {
    const h = server({ maxConcurrent: 2 })
    request(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    request(h, conn(OTHER, '/ip4/11.0.0.31/tcp/5000', LOCAL), ['/ip4/11.0.0.31/tcp/4001'])
    const third = request(h, conn(DIALER, '/ip4/11.0.0.24/tcp/5000', LOCAL), ['/ip4/11.0.0.24/tcp/4001'])
    expect(ofType(third.acts, 'reset')).toEqual([{ type: 'reset', stream: third.stream }])
    expect(ofType(third.acts, 'dial')).toEqual([])
    expect(h.b.server!.active).toBe(2)
  })

  test('a message other than DialRequest first, or garbage, resets the stream', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const stream: StreamRef = { connection: c.id, stream: 999 }
    h.input({ type: 'stream-opened', stream, protocol: DIAL_REQUEST_PROTOCOL, direction: 'inbound', connection: c })
    expect(ofType(h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-data-response', data: new Uint8Array(200) }) }), 'reset')).toHaveLength(1)
    const s2: StreamRef = { connection: c.id, stream: 1000 }
    h.input({ type: 'stream-opened', stream: s2, protocol: DIAL_REQUEST_PROTOCOL, direction: 'inbound', connection: c })
    expect(ofType(h.input({ type: 'stream-data', stream: s2, data: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f) }), 'reset')).toHaveLength(1)
  })
})

describe('AutoNAT server and client in one behaviour', () => {
  test("the client part leaves the server's dial-back stream alone (it reset every outbound stream it had not opened: go and rust saw E_DIAL_BACK_ERROR)", () => {
    const h = harness({ server: { amplificationJitter: 0 } }) // client on, as by default
    h.input({ type: 'local-info', listenAddrs: [ma(LOCAL)], protocols: [] })
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const { stream, acts } = request(h, c, ['/ip4/11.0.0.30/tcp/4001'], 99n)
    const { bs, sent, after } = dialBack(h, acts)
    expect(ofType(sent, 'reset')).toEqual([])
    expect(dialBackSent(sent, bs)).toEqual([99n])
    expect(v2Sent(after, stream)[0]).toMatchObject({ dialStatus: DialStatus.OK })
  })
})

describe('AutoNAT v1 server', () => {
  function v1(h: ReturnType<typeof server>, c: ConnectionInfo, addrs: string[], id = CLIENT.peer) {
    const stream: StreamRef = { connection: c.id, stream: nextStream++ }
    const a = h.input({ type: 'stream-opened', stream, protocol: AUTONAT_V1_PROTOCOL, direction: 'inbound', connection: c })
    const b = h.input({ type: 'stream-data', stream, data: encodeV1Frame({ type: 'dial', peer: { id, addrs: addrs.map((x) => ma(x).bytes) } }) })
    return { stream, acts: [...a, ...b] }
  }

  test('every address gets the observed IP; circuit and non-public ones are skipped; the first success answers OK with the address', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    const { stream, acts } = v1(h, c, ['/ip4/11.0.0.99/tcp/4001', '/ip4/10.0.0.2/tcp/4002', `/ip4/11.0.0.5/tcp/1/p2p/${DIALER.peer}/p2p-circuit`, '/ip4/11.0.0.99/tcp/4001'])
    const dials = ofType(acts, 'dial')
    expect(dials.map((d) => d.addrs!.map(String))).toEqual([[`/ip4/11.0.0.30/tcp/4001/p2p/${CLIENT.peer}`], [`/ip4/11.0.0.30/tcp/4002/p2p/${CLIENT.peer}`]])
    expect(dials.every((d) => d.options?.force === true && d.peer === undefined)).toBe(true)
    const back = conn(CLIENT, '/ip4/11.0.0.30/tcp/4002', LOCAL, { direction: 'outbound' })
    const done = h.input({ type: 'dial-succeeded', requestId: dials[1]!.requestId, connection: back })
    expect(v1Sent(done, stream)).toEqual([{ type: 'dial-response', status: V1Status.OK, addr: ma('/ip4/11.0.0.30/tcp/4002') }])
    expect(ofType(done, 'close-connection')).toEqual([{ type: 'close-connection', connection: back.id }])
    const back2 = conn(CLIENT, '/ip4/11.0.0.30/tcp/4001', LOCAL, { direction: 'outbound' })
    expect(h.input({ type: 'dial-succeeded', requestId: dials[0]!.requestId, connection: back2 })).toEqual([{ type: 'close-connection', connection: back2.id }])
  })

  test('every dial fails: E_DIAL_ERROR', () => {
    const h = server()
    const { stream, acts } = v1(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/1.2.3.4/tcp/4001'])
    const failed = h.input({ type: 'dial-failed', requestId: ofType(acts, 'dial')[0]!.requestId, error: new Error('refused') })
    expect(v1Sent(failed, stream)[0]).toMatchObject({ status: V1Status.E_DIAL_ERROR })
  })

  test('a Dial naming another peer: E_BAD_REQUEST; no usable address: E_DIAL_REFUSED', () => {
    const h = server()
    const a = v1(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/11.0.0.30/tcp/4001'], OTHER.peer)
    expect(v1Sent(a.acts, a.stream)[0]).toMatchObject({ status: V1Status.E_BAD_REQUEST })
    const b = v1(h, conn(CLIENT, '/ip4/192.168.0.7/tcp/5000', LOCAL), ['/ip4/11.0.0.30/tcp/4001'])
    expect(v1Sent(b.acts, b.stream)[0]).toMatchObject({ status: V1Status.E_DIAL_REFUSED })
    expect(ofType(h.log, 'dial')).toEqual([])
  })

  test('3 requests per peer per minute; the 4th is E_DIAL_REFUSED', () => {
    const h = server()
    const c = conn(CLIENT, OBSERVED, LOCAL)
    for (let i = 0; i < 3; i++) expect(ofType(v1(h, c, ['/ip4/11.0.0.30/tcp/4001']).acts, 'dial')).toHaveLength(1)
    const r = v1(h, c, ['/ip4/11.0.0.30/tcp/4001'])
    expect(v1Sent(r.acts, r.stream)[0]).toMatchObject({ status: V1Status.E_DIAL_REFUSED })
    expect(ofType(r.acts, 'dial')).toEqual([])
  })

  test('v1MaxDialAddrs bounds the dials of one request', () => {
    const h = server({ v1MaxDialAddrs: 2 })
    const r = v1(h, conn(CLIENT, OBSERVED, LOCAL), ['/ip4/1.1.1.1/tcp/1', '/ip4/1.1.1.1/tcp/2', '/ip4/1.1.1.1/tcp/3'])
    expect(ofType(r.acts, 'dial')).toHaveLength(2)
  })

  test('over a limited connection: reset, no dial', () => {
    const h = server()
    const r = v1(h, conn(CLIENT, `/ip4/11.0.0.5/tcp/1/p2p/${DIALER.peer}/p2p-circuit`, LOCAL, { limited: true }), ['/ip4/11.0.0.30/tcp/4001'])
    expect(ofType(r.acts, 'reset')).toHaveLength(1)
    expect(ofType(r.acts, 'dial')).toEqual([])
  })
})
