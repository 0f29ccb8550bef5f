/** Request-response end to end between weft nodes over TCP loopback. */
import { describe, expect, test } from 'vitest'
import { cbor, json, noResponse, raw, requestResponse, type RequestResponse } from '../src/request-response/index.js'
import { code, loopbackNodes, until } from './helpers/loopback-nodes.js'

const P = '/weft-test/rr/1.0.0'
const { node, nodes } = loopbackNodes()
/** A client that does not listen. */
const NO_LISTEN = { listen: [] }

describe('request-response over TCP', () => {
  test('json: a request to an address gets its response; both sides end with nothing in flight', async () => {
    const server = await node({ rr: requestResponse<{ q: string }, { a: string; from: string }>({ protocol: P, codec: json(), handler: (req, { peer }) => ({ a: req.q.toUpperCase(), from: peer.toString() }) }) })
    const client = await node({ rr: requestResponse<{ q: string }, { a: string; from: string }>({ protocol: P, codec: json() }) }, NO_LISTEN)
    const rr = client.service<RequestResponse<{ q: string }, { a: string; from: string }>>('rr')
    expect(await rr.request(server.getMultiaddrs()[0]!, { q: 'hi' })).toEqual({ a: 'HI', from: client.peerId.toString() })
    expect(await rr.request(server.peerId, { q: 'again' })).toEqual({ a: 'AGAIN', from: client.peerId.toString() })
    const srv = server.service<RequestResponse>('rr')
    await until(() => srv.behaviour.inFlight.inbound === 0)
    expect(rr.behaviour.inFlight).toEqual({ outbound: 0, inbound: 0 })
  })

  test('cbor with byte strings, and raw bytes; a 5 MiB response arrives whole', async () => {
    const server = await node({
      c: requestResponse({ protocol: '/weft-test/rr/cbor/1.0.0', codec: cbor(), handler: (req: any) => ({ id: req.id, payload: new Uint8Array(req.len).fill(7) }) }),
      r: requestResponse({ protocol: '/weft-test/rr/raw/1.0.0', codec: raw(), handler: (req) => req.slice().reverse() }),
    })
    interface Req { id: number; len: number }
    const client = await node({ c: requestResponse({ protocol: '/weft-test/rr/cbor/1.0.0', codec: cbor<Req, { id: number; payload: Uint8Array }>() }), r: requestResponse({ protocol: '/weft-test/rr/raw/1.0.0', codec: raw() }) }, NO_LISTEN)
    await client.dial(server.getMultiaddrs()[0]!)
    const res = (await client.service<RequestResponse>('c').request(server.peerId, { id: 9, len: 5 << 20 })) as { id: number; payload: Uint8Array }
    expect(res.id).toBe(9)
    expect(res.payload.length).toBe(5 << 20)
    expect(res.payload.every((b) => b === 7)).toBe(true)
    expect(await client.service<RequestResponse<Uint8Array, Uint8Array>>('r').request(server.peerId, new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([3, 2, 1]))
  })

  test('concurrency: 30 requests at once on one connection, answered out of order', async () => {
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: async (n) => { await new Promise((r) => setTimeout(r, (30 - n) * 3)); return n * n } }) })
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) }, NO_LISTEN)
    await client.dial(server.getMultiaddrs()[0]!)
    const rr = client.service<RequestResponse<number, number>>('rr')
    const got = await Promise.all(Array.from({ length: 30 }, (_, i) => rr.request(server.peerId, i)))
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i * i))
    expect(client.getConnections().length).toBe(1)
  })

  test('maxConcurrentStreams, default options: 100 at once on one connection are served; the 101st fails locally (outbound) or is reset (inbound)', async () => {
    // rust's max_concurrent_streams (100), with nothing raised by hand: the swarm's per-protocol
    // inbound cap (32 by default) and the resource manager's protocol-peer inbound streams (go's 64
    // + 4/GiB) follow the behaviour's bound (Behaviour.maxInboundStreams)
    const N = 100
    let open!: () => void
    const gate = new Promise<void>((r) => { open = r })
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: async (n) => { await gate; return n } }) })
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) }, NO_LISTEN)
    const greedy = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), maxConcurrentStreams: 1000 }) }, NO_LISTEN)
    const srv = server.service<RequestResponse>('rr')
    const rr = client.service<RequestResponse<number, number>>('rr')
    await client.dial(server.getMultiaddrs()[0]!)
    const first = Array.from({ length: N }, (_, i) => code(rr.request(server.peerId, i)))
    expect(await code(rr.request(server.peerId, N))).toBe('reqresp/too-many-streams') // at once, locally
    await until(() => srv.behaviour.inFlight.inbound === N)
    // another peer that allows itself more: its 101st stream on its connection is reset by the server
    await greedy.dial(server.getMultiaddrs()[0]!)
    const g = greedy.service<RequestResponse<number, number>>('rr')
    const failures: string[] = []
    srv.on('inbound-failure', ({ error }) => failures.push((error as { code?: string }).code!))
    const second = Array.from({ length: N + 1 }, (_, i) => code(g.request(server.peerId, i)))
    await until(() => failures.length === 1)
    expect(srv.behaviour.inFlight.inbound).toBe(2 * N)
    open()
    expect((await Promise.all(first)).every((c) => c === 'resolved')).toBe(true)
    const outcomes = await Promise.all(second)
    expect(outcomes.filter((c) => c === 'resolved')).toHaveLength(N)
    expect(outcomes.filter((c) => c !== 'resolved')).toEqual(['reqresp/reset'])
    expect(failures).toEqual(['reqresp/too-many-streams'])
    expect(client.getConnections().length + greedy.getConnections().length).toBe(2)
  }, 30_000)

  test('oversize: a response past maxResponseBytes fails the requester, the connection survives', async () => {
    const server = await node({ rr: requestResponse<number, string>({ protocol: P, codec: json(), handler: (n) => 'x'.repeat(n) }) })
    const client = await node({ rr: requestResponse<number, string>({ protocol: P, codec: json(), maxResponseBytes: 1000 }) }, NO_LISTEN)
    await client.dial(server.getMultiaddrs()[0]!)
    const rr = client.service<RequestResponse<number, string>>('rr')
    expect(await rr.request(server.peerId, 998)).toHaveLength(998) // 1000 bytes with the quotes: at the limit
    await expect(rr.request(server.peerId, 999)).rejects.toMatchObject({ name: 'ProtocolError', code: 'reqresp/response-too-large' })
    await expect(rr.request(server.peerId, 1024 * 1024)).rejects.toMatchObject({ code: 'reqresp/response-too-large' })
    expect(await rr.request(server.peerId, 3)).toBe('xxx')
  })

  test('oversize: a request past the server maxRequestBytes is reset by the server', async () => {
    const server = await node({ rr: requestResponse<string, string>({ protocol: P, codec: json(), maxRequestBytes: 100, handler: (s) => s }) })
    const client = await node({ rr: requestResponse<string, string>({ protocol: P, codec: json() }) }, NO_LISTEN)
    const failures: string[] = []
    server.service<RequestResponse>('rr').on('inbound-failure', ({ error }) => failures.push((error as { code?: string }).code!))
    await client.dial(server.getMultiaddrs()[0]!)
    const rr = client.service<RequestResponse<string, string>>('rr')
    expect(await code(rr.request(server.peerId, 'y'.repeat(5000)))).toBe('reqresp/reset')
    expect(failures).toEqual(['reqresp/request-too-large'])
  })

  test('timeout: a handler slower than the requester timeout; the handler is told through its signal', async () => {
    let aborted = false
    const server = await node({
      rr: requestResponse<number, number>({ protocol: P, codec: json(), timeout: 400, handler: (n, { signal }) => new Promise((resolve) => { signal.addEventListener('abort', () => { aborted = true; resolve(n) }) }) }),
    })
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), timeout: 200 }) }, NO_LISTEN)
    await client.dial(server.getMultiaddrs()[0]!)
    const err = await client.service<RequestResponse<number, number>>('rr').request(server.peerId, 1).catch((e: Error) => e)
    expect(err).toMatchObject({ name: 'OutcomeError', code: 'reqresp/timeout' })
    await until(() => aborted) // the requester's reset reaches the server: its handler is aborted
    await until(() => server.service<RequestResponse>('rr').behaviour.inFlight.inbound === 0)
  })

  test('omitted response: noResponse, and a handler that throws, both give reqresp/no-response', async () => {
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: (n) => { if (n === 1) return noResponse; if (n === 2) throw new Error('boom'); return n } }) })
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) }, NO_LISTEN)
    await client.dial(server.getMultiaddrs()[0]!)
    const rr = client.service<RequestResponse<number, number>>('rr')
    expect(await code(rr.request(server.peerId, 1))).toBe('reqresp/no-response')
    expect(await code(rr.request(server.peerId, 2))).toBe('reqresp/no-response')
    expect(await rr.request(server.peerId, 3)).toBe(3)
  })

  test('unsupported protocol, dial failure, abort', async () => {
    const server = await node({})
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) }, NO_LISTEN)
    const rr = client.service<RequestResponse<number, number>>('rr')
    expect(await code(rr.request(server.getMultiaddrs()[0]!, 1))).toBe('reqresp/unsupported-protocol')
    const ghost = await node({})
    const ghostAddr = ghost.getMultiaddrs()[0]!
    const ghostId = ghost.peerId
    await ghost.stop()
    nodes.splice(nodes.indexOf(ghost), 1)
    expect(await code(rr.request(ghostId, 1))).toBe('reqresp/dial-failed')
    expect(await code(rr.request(ghostAddr, 1))).toMatch(/^dial\//) // dialing an address first: the node's DialError
    const slow = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: () => new Promise(() => {}) }) })
    const ctl = new AbortController()
    const p = rr.request(slow.getMultiaddrs()[0]!, 1, { signal: ctl.signal })
    await until(() => slow.service<RequestResponse>('rr').behaviour.inFlight.inbound === 1)
    ctl.abort()
    expect(await p.catch((e: unknown) => e)).toBe(ctl.signal.reason) // the signal's reason, as node.dial and the DHT
    await until(() => slow.service<RequestResponse>('rr').behaviour.inFlight.inbound === 0) // our reset reached the server
    expect(rr.behaviour.inFlight.outbound).toBe(0)
  })
})
