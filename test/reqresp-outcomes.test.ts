/**
 * Request-response between weft nodes over TCP loopback: `node.request`, length-prefixed framing,
 * every outcome seen from both sides (the requester's rejection, the responder's inbound-failure
 * event), per-call timeouts, and the weft_request_response_* metrics.
 */
import { describe, expect, test } from 'vitest'
import type { WeftNode } from '../src/node.js'
import { prometheusMetrics } from '../src/metrics/index.js'
import { concat, utf8 } from '../src/core/bytes.js'
import { encode as varint } from '../src/core/varint.js'
import { json, lengthPrefixed, noResponse, raw, requestResponse, type RequestResponse } from '../src/request-response/index.js'
import { code, loopbackNodes, until } from './helpers/loopback-nodes.js'

const P = '/weft-test/rr-outcomes/1.0.0'
const { node } = loopbackNodes()
/** The codes of a service's inbound-failure events, as they come. */
function failures(n: WeftNode, name = 'rr'): string[] {
  const out: string[] = []
  n.service<RequestResponse>(name).on('inbound-failure', ({ error }) => out.push((error as { code?: string }).code!))
  return out
}

describe('node.request', () => {
  test('finds the service by protocol (or the only one); typed errors when none or several', async () => {
    const server = await node({
      a: requestResponse<string, string>({ protocol: '/weft-test/a/1.0.0', codec: json(), handler: (s) => `a:${s}` }),
      b: requestResponse<string, string>({ protocol: ['/weft-test/b/2.0.0', '/weft-test/b/1.0.0'], codec: json(), handler: (s) => `b:${s}` }),
    })
    const one = await node({ a: requestResponse<string, string>({ protocol: '/weft-test/a/1.0.0', codec: json() }) })
    expect(await one.request<string>(server.getMultiaddrs()[0]!, 'x')).toBe('a:x')
    expect(await one.request<string>(server.peerId, 'y', { protocol: '/weft-test/a/1.0.0', timeout: 5000 })).toBe('a:y')
    await expect(one.request(server.peerId, 'z', { protocol: '/nope/1.0.0' })).rejects.toMatchObject({ name: 'UsageError', code: 'reqresp/no-service' })
    await expect(server.request(one.peerId, 'z')).rejects.toMatchObject({ name: 'UsageError', code: 'reqresp/ambiguous' })
    expect(await code(server.request(one.getMultiaddrs()[0]!, 'w', { protocol: '/weft-test/b/1.0.0' }))).toBe('reqresp/unsupported-protocol') // one does not serve b
    const none = await node({})
    await expect(none.request(server.peerId, 'z')).rejects.toMatchObject({ name: 'UsageError', code: 'reqresp/no-service' })
  })
})

describe('length-prefixed framing over TCP', () => {
  test('messages both ways, a 2 MiB response, an empty one; a lying prefix from a raw writer is refused', async () => {
    const server = await node({ rr: requestResponse<Uint8Array, Uint8Array>({ protocol: P, codec: lengthPrefixed(raw()), maxRequestBytes: 1000, handler: (b) => (b.length === 0 ? new Uint8Array(0) : new Uint8Array(2 << 20).fill(b[0]!)) }) })
    const fails = failures(server)
    const client = await node({ rr: requestResponse<Uint8Array, Uint8Array>({ protocol: P, codec: lengthPrefixed(raw()) }) })
    const res = await client.request<Uint8Array>(server.getMultiaddrs()[0]!, new Uint8Array([5]))
    expect(res.length).toBe(2 << 20)
    expect(res.every((x) => x === 5)).toBe(true)
    expect(await client.request<Uint8Array>(server.peerId, new Uint8Array(0))).toEqual(new Uint8Array(0))
    // a hand-rolled requester announcing 1001 bytes (past maxRequestBytes): reset before the bytes come
    const s = await client.newStream(server.peerId, P)
    await s.sink((async function* () { yield varint(1001) })())
    const got: Uint8Array[] = []
    const err = await (async () => { for await (const c of s.source) got.push(c) })().then(() => undefined, (e: unknown) => e)
    expect(err).toBeDefined()
    expect(got).toEqual([])
    await until(() => fails.length === 1)
    expect(fails).toEqual(['reqresp/request-too-large'])
    // and one announcing 10 bytes but sending 3 then EOF: a decode error
    const t = await client.newStream(server.peerId, P)
    await t.sink((async function* () { yield concat([varint(10), utf8('abc')]) })())
    await until(() => fails.length === 2)
    expect(fails[1]).toBe('reqresp/decode')
    expect(client.getConnections().length).toBe(1)
  })
})

describe('every outcome, both sides', () => {
  test('too large: request at maxRequestBytes served, one past refused by our own cap or reset by the responder', async () => {
    const server = await node({ rr: requestResponse<string, number>({ protocol: P, codec: json(), maxRequestBytes: 100, handler: (s) => s.length }) })
    const fails = failures(server)
    const client = await node({ rr: requestResponse<string, number>({ protocol: P, codec: json() }) })
    const small = await node({ rr: requestResponse<string, number>({ protocol: P, codec: json(), maxRequestBytes: 100 }) })
    expect(await client.request(server.getMultiaddrs()[0]!, 'y'.repeat(98))).toBe(98) // 100 bytes with the quotes
    expect(await code(client.request(server.peerId, 'y'.repeat(99)))).toBe('reqresp/reset')
    await until(() => fails.length === 1)
    expect(fails).toEqual(['reqresp/request-too-large'])
    await small.dial(server.getMultiaddrs()[0]!)
    await expect(small.request(server.peerId, 'y'.repeat(99))).rejects.toMatchObject({ name: 'UsageError', code: 'reqresp/request-too-large' })
  })

  test("too large: the handler's response past its own maxResponseBytes fails the responder (UsageError) and resets the requester", async () => {
    const server = await node({ rr: requestResponse<number, string>({ protocol: P, codec: json(), maxResponseBytes: 100, handler: (n) => 'x'.repeat(n) }) })
    const fails = failures(server)
    const client = await node({ rr: requestResponse<number, string>({ protocol: P, codec: json() }) })
    expect(await client.request(server.getMultiaddrs()[0]!, 98)).toHaveLength(98)
    expect(await code(client.request(server.peerId, 99))).toBe('reqresp/reset')
    await until(() => fails.length === 1)
    expect(fails).toEqual(['reqresp/response-too-large'])
  })

  test('decode: a response that does not decode (requester), a request that does not (responder)', async () => {
    const server = await node({
      rr: requestResponse<Uint8Array, Uint8Array>({ protocol: P, codec: raw(), handler: () => utf8('{not json') }),
      js: requestResponse<unknown, unknown>({ protocol: '/weft-test/js/1.0.0', codec: json(), handler: (x) => x }),
    })
    const fails = failures(server, 'js')
    const client = await node({
      rr: requestResponse<unknown, unknown>({ protocol: P, codec: json() }),
      js: requestResponse<Uint8Array, Uint8Array>({ protocol: '/weft-test/js/1.0.0', codec: raw() }),
    })
    await expect(client.request(server.getMultiaddrs()[0]!, 1, { protocol: P })).rejects.toMatchObject({ name: 'ProtocolError', code: 'reqresp/decode' })
    expect(await code(client.request(server.peerId, utf8('[1,'), { protocol: '/weft-test/js/1.0.0' }))).toBe('reqresp/reset')
    await until(() => fails.length === 1)
    expect(fails).toEqual(['reqresp/decode'])
  })

  test('timeout: the responder\'s own deadline fails it (inbound-failure timeout) and resets the requester; a per-call timeout on the requester', async () => {
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), timeout: 200, handler: (n, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(n))) }) })
    const fails = failures(server)
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), timeout: 60_000 }) })
    await client.dial(server.getMultiaddrs()[0]!)
    expect(await code(client.request(server.peerId, 1))).toBe('reqresp/reset')
    expect(fails).toEqual(['reqresp/timeout'])
    const slow = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: () => new Promise(() => {}) }) })
    const sf = failures(slow)
    const t0 = Date.now()
    expect(await code(client.request(slow.getMultiaddrs()[0]!, 1, { timeout: 150 }))).toBe('reqresp/timeout')
    expect(Date.now() - t0).toBeLessThan(30_000) // the service's own 60 s did not apply
    await until(() => sf.length === 1)
    expect(sf).toEqual(['reqresp/reset'])
  })

  test('connection closed during the exchange, by either side: both see reqresp/connection-closed', async () => {
    let started!: () => void
    let inHandler = new Promise<void>((r) => { started = r })
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: () => { started(); return new Promise(() => {}) } }) })
    const fails = failures(server)
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) })
    // the responder hangs up: the requester's yamux ends the streams at the GoAway, and the swarm
    // marks those resets connectionClosed (its connection-closed input comes later, at the socket's end)
    const p = code(client.request(server.getMultiaddrs()[0]!, 1))
    await inHandler
    await server.hangUp(client.peerId)
    expect(await p).toBe('reqresp/connection-closed')
    await until(() => fails.length === 1)
    expect(fails).toEqual(['reqresp/connection-closed'])
    // the requester hangs up
    inHandler = new Promise<void>((r) => { started = r })
    const q = code(client.request(server.getMultiaddrs()[0]!, 2))
    await inHandler
    await client.hangUp(server.peerId)
    expect(await q).toBe('reqresp/connection-closed')
    await until(() => fails.length === 2)
    expect(fails[1]).toBe('reqresp/connection-closed')
  })

  test('no response and reset are typed on the requester; the responder counts an omission in its metrics', async () => {
    const metrics = prometheusMetrics()
    const server = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json(), handler: (n) => (n === 0 ? noResponse : n) }) }, { metrics })
    const cm = prometheusMetrics()
    const client = await node({ rr: requestResponse<number, number>({ protocol: P, codec: json() }) }, { metrics: cm })
    expect(await code(client.request(server.getMultiaddrs()[0]!, 0))).toBe('reqresp/no-response')
    expect(await client.request(server.peerId, 7)).toBe(7)
    expect(await client.request(server.peerId, 8)).toBe(8)
    const srv = metrics.exposition()
    expect(srv).toContain(`weft_request_response_requests_total{dir="inbound",protocol="${P}",outcome="ok"} 2`)
    expect(srv).toContain(`weft_request_response_requests_total{dir="inbound",protocol="${P}",outcome="omitted"} 1`)
    const cli = cm.exposition()
    expect(cli).toContain(`weft_request_response_requests_total{dir="outbound",protocol="${P}",outcome="ok"} 2`)
    expect(cli).toContain(`weft_request_response_requests_total{dir="outbound",protocol="${P}",outcome="no-response"} 1`)
    expect(cli).toContain(`weft_request_response_duration_seconds_count{dir="outbound",protocol="${P}"} 2`)
    expect(cli).toContain(`weft_request_response_in_flight{dir="outbound",protocol="${P}"} 0`)
  })
})
