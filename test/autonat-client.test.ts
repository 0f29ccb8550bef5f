/**
 * The AutoNAT client part (src/autonat/client.ts), driven input by input: candidates from observed
 * addresses (observed IP + our listen port), one address per v2 request, the dial-back matched by
 * nonce only, dial data paid in 4096-byte chunks (bounded), confidence ±2, external-addr actions,
 * node status, v1 as the node-level fallback.
 */
import { describe, expect, test } from 'vitest'
import { encodeLp } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, DialStatus, ResponseStatus, encodeDialBack, encodeV2Frame } from '../src/autonat/message-v2.js'
import { AUTONAT_V1_PROTOCOL, V1Status, encodeV1Frame } from '../src/autonat/message-v1.js'
import type { AutoNATClientOptions } from '../src/autonat/types.js'
import { CLIENT, DIALER, OTHER, SERVER, conn, events, harness, ma, ofType, v1Sent, v2Sent, writesTo } from './helpers/autonat.js'

const LISTEN = '/ip4/0.0.0.0/tcp/4001'
const PUBLIC = '/ip4/11.0.0.30/tcp/4001'

function client(opts: Partial<AutoNATClientOptions> = {}) {
  const h = harness({ client: { serverThrottle: 0, ...opts } }, CLIENT)
  h.input({ type: 'local-info', listenAddrs: [ma(LISTEN)], protocols: [] })
  return h
}

type H = ReturnType<typeof client>

/** Connect a server that speaks `protocols`. */
function addServer(h: H, server: typeof SERVER, protocols = [DIAL_REQUEST_PROTOCOL]): ConnectionInfo {
  const c = conn(server, '/ip4/11.0.0.23/tcp/4001', '/ip4/10.0.0.2/tcp/51000', { direction: 'outbound' })
  h.input({ type: 'connection-established', connection: c })
  h.input({ type: 'peer-info', peer: server.peer, info: { protocols }, from: 'identify' })
  return c
}

function observe(h: H, c: ConnectionInfo, addr = '/ip4/11.0.0.30/tcp/51000') {
  return h.input({ type: 'observed-addr', connection: c, addr: ma(addr) })
}

let nextStream = 500
/** Answer the open-stream `open` with a stream; returns the stream and the DialRequest written. */
function accept(h: H, open: { requestId: number; peer: unknown }, c: ConnectionInfo, protocol = DIAL_REQUEST_PROTOCOL) {
  const stream: StreamRef = { connection: c.id, stream: nextStream++ }
  const acts = h.input({ type: 'stream-opened', stream, protocol, direction: 'outbound', connection: c, requestId: open.requestId })
  return { stream, acts }
}

/** The server dials back (from another peer id, as go does) with `nonce`; returns the actions and the stream. */
function dialBackWith(h: H, nonce: bigint, local = '/ip4/10.0.0.2/tcp/4001') {
  const dc = conn(DIALER, '/ip4/11.0.0.23/tcp/40000', local)
  h.input({ type: 'connection-established', connection: dc })
  const stream: StreamRef = { connection: dc.id, stream: 1 }
  h.input({ type: 'stream-opened', stream, protocol: DIAL_BACK_PROTOCOL, direction: 'inbound', connection: dc })
  return { stream, acts: h.input({ type: 'stream-data', stream, data: encodeLp(encodeDialBack(nonce)) }) }
}

function respond(h: H, stream: StreamRef, dialStatus: number, status: number = ResponseStatus.OK) {
  return h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-response', status, addrIdx: 0, dialStatus }) })
}

/** One full probe: open -> request -> optional dial-back -> response. */
function probe(h: H, c: ConnectionInfo, opts: { dialBack?: boolean; dialStatus?: number } = {}) {
  const open = ofType(h.log, 'open-stream').filter((o) => o.peer.equals(c.peer)).at(-1)!
  const { stream, acts } = accept(h, open, c)
  const [req] = v2Sent(acts, stream)
  const nonce = (req as { nonce: bigint }).nonce
  if (opts.dialBack ?? true) dialBackWith(h, nonce)
  return { req, stream, after: respond(h, stream, opts.dialStatus ?? DialStatus.OK) }
}

describe('AutoNAT client (v2)', () => {
  test('an observation becomes the candidate observed IP + our listen port, sent alone in a DialRequest to a connected v2 server', () => {
    const h = client()
    const c = addServer(h, SERVER)
    const acts = observe(h, c)
    const [open] = ofType(acts, 'open-stream')
    expect(open).toMatchObject({ peer: SERVER.peer, protocols: [DIAL_REQUEST_PROTOCOL] })
    const { stream, acts: sent } = accept(h, open!, c)
    const [req] = v2Sent(sent, stream)
    expect(req).toMatchObject({ type: 'dial-request' })
    expect((req as { addrs: Uint8Array[] }).addrs.map((a) => Multiaddr.fromBytes(a).toString())).toEqual([PUBLIC])
    expect(h.b.status().addrs.map((a) => String(a.addr))).toEqual([PUBLIC])
  })

  test('two verified successes from two servers: reachable, confirmed external address, status public', () => {
    const h = client()
    const c1 = addServer(h, SERVER)
    const c2 = addServer(h, OTHER)
    observe(h, c1)
    const first = probe(h, c1)
    expect(events(first.after)).toMatchObject([{ type: 'probe', version: 2, outcome: 'reachable' }])
    expect(h.b.status().addrs[0]).toMatchObject({ reachability: 'unknown', successes: 1, failures: 0 })
    const second = probe(h, c2)
    expect(ofType(second.after, 'external-addr')).toEqual([{ type: 'external-addr', addr: ma(PUBLIC), confirmed: true }])
    expect(events(second.after).map((e) => e.type)).toEqual(['probe', 'addr-reachability', 'status'])
    expect(h.b.status()).toMatchObject({ reachability: 'public', addrs: [{ reachability: 'reachable', successes: 2, failures: 0 }] })
  })

  test('the dial-back is answered with DialBackResponse OK from an unknown peer; a wrong nonce is reset', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const open = ofType(h.log, 'open-stream')[0]!
    const { stream, acts } = accept(h, open, c)
    const nonce = (v2Sent(acts, stream)[0] as { nonce: bigint }).nonce
    const wrong = dialBackWith(h, nonce ^ 1n)
    expect(ofType(wrong.acts, 'reset')).toEqual([{ type: 'reset', stream: wrong.stream }])
    const right = dialBackWith(h, nonce)
    expect(writesTo(right.acts, right.stream)).toEqual([Uint8Array.of(0)])
    expect(ofType(right.acts, 'close-write')).toEqual([{ type: 'close-write', stream: right.stream }])
  })

  test('OK without our nonce is discarded after dialBackGrace: no result', () => {
    const h = client({ dialBackGrace: 2000 })
    const c = addServer(h, SERVER)
    observe(h, c)
    const { after } = probe(h, c, { dialBack: false })
    expect(events(after)).toEqual([])
    const later = h.advance(2000)
    expect(events(later)).toMatchObject([{ type: 'probe', outcome: 'inconclusive', reason: expect.stringContaining('dial-back') }])
    expect(h.b.status().addrs[0]).toMatchObject({ successes: 0, failures: 0 })
  })

  test('a dial-back on a connection of another transport does not count (local address check)', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const { stream, acts } = accept(h, ofType(h.log, 'open-stream')[0]!, c)
    const nonce = (v2Sent(acts, stream)[0] as { nonce: bigint }).nonce
    const ws = dialBackWith(h, nonce, '/ip4/10.0.0.2/tcp/4002/ws')
    expect(ofType(ws.acts, 'reset')).toHaveLength(1)
  })

  test('E_DIAL_BACK_ERROR with our nonce counts as reachable (the dial worked)', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    expect(events(probe(h, c, { dialStatus: DialStatus.E_DIAL_BACK_ERROR }).after)).toMatchObject([{ outcome: 'reachable' }])
  })

  test('two E_DIAL_ERROR: unreachable, status private; a success later withdraws nothing until the balance flips', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    probe(h, c, { dialBack: false, dialStatus: DialStatus.E_DIAL_ERROR })
    const second = probe(h, c, { dialBack: false, dialStatus: DialStatus.E_DIAL_ERROR })
    expect(ofType(second.after, 'external-addr')).toEqual([])
    expect(h.b.status()).toMatchObject({ reachability: 'private', addrs: [{ reachability: 'unreachable', failures: 2 }] })
  })

  test('reachable, then a failure brings the balance under 2: the confirmation is withdrawn (external-addr confirmed false)', () => {
    const h = client({ targetConfidence: 10 })
    const c = addServer(h, SERVER)
    observe(h, c)
    probe(h, c)
    probe(h, c)
    expect(h.b.status().reachability).toBe('public')
    const flip = probe(h, c, { dialBack: false, dialStatus: DialStatus.E_DIAL_ERROR })
    expect(ofType(flip.after, 'external-addr')).toEqual([{ type: 'external-addr', addr: ma(PUBLIC), confirmed: false }])
    expect(h.b.status().addrs[0]).toMatchObject({ reachability: 'unknown', successes: 2, failures: 1 })
  })

  test('refusals and rejections are inconclusive (no result, backoff)', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const open = ofType(h.log, 'open-stream')[0]!
    const { stream } = accept(h, open, c)
    const after = respond(h, stream, 0, ResponseStatus.E_DIAL_REFUSED)
    expect(events(after)).toMatchObject([{ type: 'probe', outcome: 'inconclusive', reason: 'E_DIAL_REFUSED' }])
    expect(ofType(after, 'open-stream')).toEqual([]) // backoff: not at once
    expect(ofType(h.advance(5000), 'open-stream')).toHaveLength(1)
  })

  test('dial data: paid in 4096-byte DialDataResponses up to numBytes', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const { stream } = accept(h, ofType(h.log, 'open-stream')[0]!, c)
    const acts = h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }) })
    const chunks = v2Sent(acts, stream)
    expect(chunks).toHaveLength(Math.ceil(30_000 / 4096))
    expect(chunks.every((m) => m.type === 'dial-data-response' && m.data.length === 4096)).toBe(true)
  })

  test('dial data over maxDialDataBytes (100 000) is refused by resetting; exactly 100 000 is paid', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const a = accept(h, ofType(h.log, 'open-stream')[0]!, c)
    const paid = h.input({ type: 'stream-data', stream: a.stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 100_000n }) })
    expect(v2Sent(paid, a.stream)).toHaveLength(Math.ceil(100_000 / 4096))
    const h2 = client()
    const c2 = addServer(h2, SERVER)
    observe(h2, c2)
    const b = accept(h2, ofType(h2.log, 'open-stream')[0]!, c2)
    const refused = h2.input({ type: 'stream-data', stream: b.stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 100_001n }) })
    expect(ofType(refused, 'reset')).toEqual([{ type: 'reset', stream: b.stream }])
    expect(ofType(refused, 'write')).toEqual([])
    expect(events(refused)).toMatchObject([{ outcome: 'inconclusive' }])
  })

  test('dial data is paid once per probe: a second DialDataRequest resets the stream (found by fuzzing: 100 000 + 30 000 were paid)', () => {
    const h = client()
    const c = addServer(h, SERVER)
    observe(h, c)
    const { stream } = accept(h, ofType(h.log, 'open-stream')[0]!, c)
    const ask = (n: bigint) => h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: n }) })
    expect(v2Sent(ask(100_000n), stream)).toHaveLength(Math.ceil(100_000 / 4096))
    const again = ask(30_000n)
    expect(ofType(again, 'write')).toEqual([])
    expect(ofType(again, 'reset')).toEqual([{ type: 'reset', stream }])
  })

  test('the peer that observed the address is paid the dial data it asks for', () => {
    const h2 = client()
    const c2 = addServer(h2, OTHER)
    observe(h2, c2, '/ip4/11.0.0.77/tcp/50000')
    const open2 = ofType(h2.log, 'open-stream').at(-1)!
    const a2 = accept(h2, open2, c2)
    const paid = h2.input({ type: 'stream-data', stream: a2.stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }) })
    expect(ofType(paid, 'reset')).toEqual([])
    expect(v2Sent(paid, a2.stream)).toHaveLength(Math.ceil(30_000 / 4096))
  })

  test('an observation from one peer is not paid for when another server asks; from two peers it is', () => {
    const h = client()
    const cs = addServer(h, SERVER, [])
    const co = addServer(h, OTHER, [])
    observe(h, co, '/ip4/11.0.0.77/tcp/50000')
    // a v2 server that observed nothing
    const cd = conn(DIALER, '/ip4/11.0.0.24/tcp/4001', '/ip4/10.0.0.2/tcp/51001', { direction: 'outbound' })
    h.input({ type: 'connection-established', connection: cd })
    h.input({ type: 'peer-info', peer: DIALER.peer, info: { protocols: [DIAL_REQUEST_PROTOCOL] }, from: 'identify' })
    const open = ofType(h.log, 'open-stream').at(-1)!
    expect(open.peer).toEqual(DIALER.peer)
    const a = accept(h, open, cd)
    const refused = h.input({ type: 'stream-data', stream: a.stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }) })
    expect(ofType(refused, 'reset')).toEqual([{ type: 'reset', stream: a.stream }])
    observe(h, cs, '/ip4/11.0.0.77/tcp/50001') // a second observer of the same candidate (observed IP + listen port)
    h.advance(5000) // the address's backoff after the inconclusive probe
    const open2 = ofType(h.log, 'open-stream').at(-1)!
    expect(open2.peer).toEqual(DIALER.peer)
    const b = accept(h, open2, cd)
    const paid = h.input({ type: 'stream-data', stream: b.stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }) })
    expect(ofType(paid, 'reset')).toEqual([])
  })

  test('maxDialDataBytes: 0 refuses every dial-data request', () => {
    const h = client({ maxDialDataBytes: 0 })
    const c = addServer(h, SERVER)
    observe(h, c)
    const { stream } = accept(h, ofType(h.log, 'open-stream')[0]!, c)
    expect(ofType(h.input({ type: 'stream-data', stream, data: encodeV2Frame({ type: 'dial-data-request', addrIdx: 0, numBytes: 30_000n }) }), 'reset')).toHaveLength(1)
  })

  test('private observed addresses are ignored unless allowPrivateAddrs', () => {
    const h = client()
    const c = addServer(h, SERVER)
    expect(ofType(observe(h, c, '/ip4/192.168.1.5/tcp/5000'), 'open-stream')).toEqual([])
    expect(h.b.status().addrs).toEqual([])
    const p = client({ allowPrivateAddrs: true })
    const pc = addServer(p, SERVER)
    expect(ofType(observe(p, pc, '/ip4/192.168.1.5/tcp/5000'), 'open-stream')).toHaveLength(1)
  })

  test('observations from limited connections and from peers without the protocol start nothing', () => {
    const h = client()
    const c = addServer(h, SERVER, ['/ipfs/id/1.0.0'])
    expect(ofType(observe(h, c), 'open-stream')).toEqual([])
    const relayed = conn(OTHER, `/ip4/11.0.0.5/tcp/1/p2p/${DIALER.peer}/p2p-circuit`, '/ip4/10.0.0.2/tcp/1', { limited: true })
    expect(ofType(h.input({ type: 'observed-addr', connection: relayed, addr: ma('/ip4/11.0.0.77/tcp/1') }), 'open-stream')).toEqual([])
  })

  test('maxCandidates bounds the tracked addresses', () => {
    const h = client({ maxCandidates: 3 })
    const c = addServer(h, SERVER, [])
    for (let i = 1; i <= 5; i++) observe(h, c, `/ip4/11.0.1.${i}/tcp/5000`)
    expect(h.b.status().addrs).toHaveLength(3)
  })

  test('serverThrottle: a server that answered is not asked again before the throttle ends', () => {
    const h = client({ serverThrottle: 60_000 })
    const c = addServer(h, SERVER)
    observe(h, c)
    const { after } = probe(h, c)
    expect(ofType(after, 'open-stream')).toEqual([])
    expect(ofType(h.advance(59_999), 'open-stream')).toEqual([])
    expect(ofType(h.advance(1), 'open-stream')).toHaveLength(1)
  })

  test('maxDialBackStreams bounds inbound dial-back streams being read', () => {
    const h = client({ maxDialBackStreams: 2 })
    const dc = conn(DIALER, '/ip4/11.0.0.23/tcp/40000', '/ip4/10.0.0.2/tcp/4001')
    h.input({ type: 'connection-established', connection: dc })
    const open = (i: number) => h.input({ type: 'stream-opened', stream: { connection: dc.id, stream: i }, protocol: DIAL_BACK_PROTOCOL, direction: 'inbound', connection: dc })
    expect(ofType([...open(1), ...open(2)], 'reset')).toEqual([])
    expect(ofType(open(3), 'reset')).toEqual([{ type: 'reset', stream: { connection: dc.id, stream: 3 } }])
  })

  test('a dial-back stream that says nothing is reset at dialBackTimeout', () => {
    const h = client({ dialBackTimeout: 5000 })
    const dc = conn(DIALER, '/ip4/11.0.0.23/tcp/40000', '/ip4/10.0.0.2/tcp/4001')
    h.input({ type: 'connection-established', connection: dc })
    const stream = { connection: dc.id, stream: 1 }
    h.input({ type: 'stream-opened', stream, protocol: DIAL_BACK_PROTOCOL, direction: 'inbound', connection: dc })
    expect(ofType(h.advance(4999), 'reset')).toEqual([])
    expect(ofType(h.advance(1), 'reset')).toEqual([{ type: 'reset', stream }])
  })

  test('a probe without an answer ends inconclusive at probeTimeout', () => {
    const h = client({ probeTimeout: 30_000 })
    const c = addServer(h, SERVER)
    observe(h, c)
    accept(h, ofType(h.log, 'open-stream')[0]!, c)
    expect(events(h.advance(30_000))).toMatchObject([{ type: 'probe', outcome: 'inconclusive', reason: 'probe timed out' }])
  })
})

describe('AutoNAT client (v1)', () => {
  test('a v1-only server gets Dial{our id, our addresses}; two OK: status public; two E_DIAL_ERROR: private', () => {
    const h = client({ v2: false })
    const c = addServer(h, SERVER, [AUTONAT_V1_PROTOCOL])
    observe(h, c)
    const run = (status: number) => {
      const open = ofType(h.log, 'open-stream').at(-1)!
      expect(open.protocols).toEqual([AUTONAT_V1_PROTOCOL])
      const { stream, acts } = accept(h, open, c, AUTONAT_V1_PROTOCOL)
      const [dial] = v1Sent(acts, stream)
      expect(dial).toMatchObject({ type: 'dial' })
      expect((dial as { peer: { id: unknown } }).peer.id).toEqual(CLIENT.peer)
      return h.input({ type: 'stream-data', stream, data: encodeV1Frame({ type: 'dial-response', status, ...(status === 0 ? { addr: ma(PUBLIC) } : {}) }) })
    }
    expect(events(run(V1Status.OK))).toMatchObject([{ type: 'probe', version: 1, outcome: 'reachable', addr: ma(PUBLIC) }])
    expect(h.b.status().reachability).toBe('unknown')
    run(V1Status.OK)
    expect(h.b.status().reachability).toBe('public')
    const h2 = client({ v2: false })
    const c2 = addServer(h2, SERVER, [AUTONAT_V1_PROTOCOL])
    observe(h2, c2)
    for (let i = 0; i < 2; i++) {
      const { stream } = accept(h2, ofType(h2.log, 'open-stream').at(-1)!, c2, AUTONAT_V1_PROTOCOL)
      h2.input({ type: 'stream-data', stream, data: encodeV1Frame({ type: 'dial-response', status: V1Status.E_DIAL_ERROR }) })
    }
    expect(h2.b.status().reachability).toBe('private')
  })

  test('a v1 probe whose stream cannot open is not retried at once (no open/fail loop while the node stops)', () => {
    const h = client({ v2: false, backoff: 5000 })
    const c = addServer(h, SERVER, [AUTONAT_V1_PROTOCOL])
    observe(h, c)
    const open = ofType(h.log, 'open-stream').at(-1)!
    const failed = h.input({ type: 'stream-open-failed', requestId: open.requestId, error: new Error('dial/aborted') })
    expect(ofType(failed, 'open-stream')).toEqual([])
    expect(ofType(h.advance(4999), 'open-stream')).toEqual([])
    expect(ofType(h.advance(1), 'open-stream')).toHaveLength(1)
  })

  test('E_DIAL_REFUSED is inconclusive', () => {
    const h = client({ v2: false })
    const c = addServer(h, SERVER, [AUTONAT_V1_PROTOCOL])
    observe(h, c)
    const { stream } = accept(h, ofType(h.log, 'open-stream').at(-1)!, c, AUTONAT_V1_PROTOCOL)
    expect(events(h.input({ type: 'stream-data', stream, data: encodeV1Frame({ type: 'dial-response', status: V1Status.E_DIAL_REFUSED, statusText: 'too many' }) }))).toMatchObject([{ outcome: 'inconclusive', reason: 'E_DIAL_REFUSED: too many' }])
  })
})

