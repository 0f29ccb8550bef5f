/**
 * The metrics endpoint's limits (src/io/metrics-http.ts, spec/metrics.md Limits), each at the limit
 * and one past it: header bytes, concurrent sockets, the request deadline, the idle socket timeout;
 * and that a request body is never read.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { serveMetrics, type MetricsServer, type MetricsServerOptions } from '../src/io/metrics-http.js'

const servers: MetricsServer[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function start(options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const s = await serveMetrics('127.0.0.1:0', () => '# HELP x_total x\n# TYPE x_total counter\nx_total 1\n', options)
  servers.push(s)
  return s
}

function open(server: MetricsServer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(server.port, server.host, () => resolve(s))
    s.once('error', reject)
    sockets.push(s)
  })
}

/** Everything the server sends until it closes the socket. */
function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = ''
    s.on('data', (d) => { out += d })
    s.on('error', () => {})
    s.once('close', () => resolve(out))
  })
}

function request(path: string, headers: string[] = []): string {
  return [`GET ${path} HTTP/1.1`, 'Host: x', ...headers, '', ''].join('\r\n')
}

describe('metrics endpoint limits', () => {
  test('request headers: at maxHeaderSize answered, past it refused with 431', async () => {
    const server = await start({ maxHeaderSize: 1024 })
    const fill = (n: number): string => `X-Fill: ${'a'.repeat(n)}`
    const base = request('/metrics', [fill(0)]).length
    const at = await open(server)
    const atReply = readAll(at)
    at.write(request('/metrics', [fill(1024 - base - 10)]))
    expect(await atReply).toMatch(/^HTTP\/1\.1 200 /)
    const past = await open(server)
    const pastReply = readAll(past)
    past.write(request('/metrics', [fill(1024 + 10)]))
    expect(await pastReply).toMatch(/^HTTP\/1\.1 431 /)
  })

  test('concurrent sockets: at maxConnections all served, one past it closed unanswered', async () => {
    const server = await start({ maxConnections: 2 })
    const [a, b] = [await open(server), await open(server)]
    const c = await open(server)
    const cReply = readAll(c)
    c.write(request('/metrics'))
    expect(await cReply).toBe('') // dropped: the two idle sockets hold both slots
    const replies = [readAll(a), readAll(b)]
    a.write(request('/metrics'))
    b.write(request('/metrics'))
    for (const r of await Promise.all(replies)) expect(r).toMatch(/^HTTP\/1\.1 200 /)
  })

  test('a request finished within the deadline is answered; one trickled past it gets 408', async () => {
    const server = await start({ requestTimeout: 300 })
    const ok = await open(server)
    const okReply = readAll(ok)
    ok.write(request('/metrics').slice(0, 10))
    ok.write(request('/metrics').slice(10))
    expect(await okReply).toMatch(/^HTTP\/1\.1 200 /)
    const slow = await open(server)
    const slowReply = readAll(slow)
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n') // headers never finished
    expect(await slowReply).toMatch(/^HTTP\/1\.1 408 /)
  })

  test('an idle socket is closed after socketTimeout', async () => {
    const server = await start({ socketTimeout: 200 })
    const idle = await open(server)
    expect(await readAll(idle)).toBe('')
  })

  test('a request body is never read: the answer comes at once and the connection closes', async () => {
    const server = await start()
    const s = await open(server)
    const reply = readAll(s)
    s.write(['POST /metrics HTTP/1.1', 'Host: x', 'Content-Length: 100000000', '', 'partial body'].join('\r\n'))
    const text = await reply
    expect(text).toMatch(/^HTTP\/1\.1 405 /)
    expect(text.toLowerCase()).toContain('connection: close')
  })
})
