/**
 * The Node WebSocket transport (src/io/ws.ts) against an independent implementation, the `ws`
 * package (a dev dependency kept for exactly this), in both roles, and against itself: the byte
 * stream both ways through cork/uncork, ping answered, the close handshake, text refused,
 * backpressure (write() false above the high-water mark, then onDrain).
 */
import { afterEach, describe, expect, test } from 'vitest'
import { WebSocket as WsClient, WebSocketServer, type RawData } from 'ws'
import { webSockets } from '../src/io/ws.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { concat, equals } from '../src/core/bytes.js'
import type { RawConnection } from '../src/io/transport.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Seen { chunks: Uint8Array[]; bytes: number; ended: boolean; drains: number; closed: Promise<Error | undefined> }
function watch(conn: RawConnection): Seen {
  const seen: Seen = { chunks: [], bytes: 0, ended: false, drains: 0, closed: undefined as unknown as Promise<Error | undefined> }
  seen.closed = new Promise((resolve) => {
    conn.start({
      onData: (d) => { seen.chunks.push(d.slice()); seen.bytes += d.length },
      onEnd: () => { seen.ended = true },
      onDrain: () => { seen.drains++ },
      onClose: (e) => resolve(e),
    })
  })
  return seen
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5))
}

function pattern(n: number, salt = 0): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt + (i >> 8)) & 0xff
  return b
}
/** Byte equality without vitest's element-wise diff (slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => equals(a, b)
const bytesOf = (d: RawData): Uint8Array => (Array.isArray(d) ? concat(d) : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength))

async function wsServer(): Promise<{ addr: Multiaddr; peer: Promise<WsClient> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()) }))
  await new Promise((r) => wss.once('listening', r))
  const peer = new Promise<WsClient>((r) => wss.once('connection', r))
  return { addr: Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${(wss.address() as { port: number }).port}/ws`), peer }
}

async function weftServer(): Promise<{ addr: Multiaddr; next: Promise<RawConnection> }> {
  let accept!: (c: RawConnection) => void
  const next = new Promise<RawConnection>((r) => { accept = r })
  const l = await webSockets().listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0/ws'), accept)
  cleanups.push(() => l.close())
  return { addr: l.addrs[0]!, next }
}

/** Writes `data` as the runtime does: corked runs of pieces (a Noise-like 2 + n + 16 split). */
function corkedWrite(conn: RawConnection, data: Uint8Array): void {
  conn.cork?.()
  for (let at = 0; at < data.length;) {
    const n = Math.min(65_535, data.length - at)
    for (const [a, b] of [[at, at + 2], [at + 2, at + n - 16], [at + n - 16, at + n]] as const) conn.write(data.subarray(Math.min(a, at + n), Math.min(b, at + n)))
    at += n
  }
  conn.uncork?.()
}

describe('weft client <-> ws server', () => {
  test('bytes both ways, pings answered, a clean close from either side', async () => {
    const { addr, peer } = await wsServer()
    const conn = await webSockets().dial(addr)
    const seen = watch(conn)
    const remote = await peer
    const got: Uint8Array[] = []
    remote.on('message', (d) => got.push(bytesOf(d)))
    const up = pattern(3 * 1024 * 1024 + 5)
    corkedWrite(conn, up)
    conn.write(Uint8Array.of(1, 2, 3))
    await until(() => got.reduce((n, g) => n + g.length, 0) === up.length + 3)
    expect(same(concat(got), concat([up, Uint8Array.of(1, 2, 3)]))).toBe(true)
    expect(got.every((g) => g.length <= 256 * 1024)).toBe(true)

    const pong = new Promise<Buffer>((r) => remote.once('pong', r))
    remote.ping(Buffer.from('are you there'))
    expect((await pong).toString()).toBe('are you there')

    const down = pattern(700_000, 9)
    remote.send(down.subarray(0, 100), { fin: false })
    remote.send(down.subarray(100, 300_000), { fin: false })
    remote.send(down.subarray(300_000), { fin: true })
    remote.send(new Uint8Array(0))
    await until(() => seen.bytes === down.length)
    expect(same(concat(seen.chunks), down)).toBe(true)

    const closed = new Promise<number>((r) => remote.once('close', r))
    conn.close()
    expect(await closed).toBe(1000)
    expect(await seen.closed).toBeUndefined()
    expect(seen.ended).toBe(true)
  })

  test('the server closing with 1000 ends the stream cleanly; a text message closes with 1003 and websocket/text-message', async () => {
    const a = await wsServer()
    const seenA = watch(await webSockets().dial(a.addr))
    ;(await a.peer).close(1000)
    expect(await seenA.closed).toBeUndefined()
    expect(seenA.ended).toBe(true)

    const b = await wsServer()
    const seenB = watch(await webSockets().dial(b.addr))
    const remote = await b.peer
    const code = new Promise<number>((r) => remote.once('close', r))
    remote.send('hello')
    expect(await seenB.closed).toMatchObject({ name: 'ProtocolError', code: 'websocket/text-message' })
    expect(await code).toBe(1003)
  })
})

describe('ws client <-> weft server', () => {
  test('bytes both ways; the client closes with 1000: end, then a clean close', async () => {
    const { addr, next } = await weftServer()
    const t = addr.toDialTarget()!
    const client = new WsClient(`ws://127.0.0.1:${t.port}/any/path`)
    cleanups.push(() => client.terminate())
    const got: Uint8Array[] = []
    client.on('message', (d, isBinary) => { expect(isBinary).toBe(true); got.push(bytesOf(d)) })
    await new Promise((r) => client.once('open', r))
    const conn = await next
    const seen = watch(conn)
    const up = pattern(1_000_000, 3)
    for (let at = 0; at < up.length; at += 77_777) client.send(up.subarray(at, at + 77_777))
    await until(() => seen.bytes === up.length)
    expect(same(concat(seen.chunks), up)).toBe(true)
    const down = pattern(2_000_001, 4)
    corkedWrite(conn, down)
    await until(() => got.reduce((n, g) => n + g.length, 0) === down.length)
    expect(same(concat(got), down)).toBe(true)
    const code = new Promise<number>((r) => client.once('close', r))
    client.close(1000)
    expect(await seen.closed).toBeUndefined()
    expect(seen.ended).toBe(true)
    expect(await code).toBe(1000)
  })

  test('backpressure: write() turns false above the high-water mark, onDrain follows once the client reads', async () => {
    const { addr, next } = await weftServer()
    const client = new WsClient(`ws://127.0.0.1:${addr.toDialTarget()!.port}/`)
    cleanups.push(() => client.terminate())
    let received = 0
    client.on('message', (d) => { received += bytesOf(d).length })
    await new Promise((r) => client.once('open', r))
    client.pause()
    const conn = await next
    const seen = watch(conn)
    let sent = 0
    const chunk = new Uint8Array(64 * 1024)
    while (conn.write(chunk)) {
      sent += chunk.length
      if (sent > 64 * 1024 * 1024) throw new Error('write() never pushed back')
    }
    sent += chunk.length
    expect(seen.drains).toBe(0)
    client.resume()
    await until(() => seen.drains > 0)
    await until(() => received === sent)
  })
})

describe('weft <-> weft', () => {
  test('corked writes both ways; a destroyed peer is an error on the other side', async () => {
    const { addr, next } = await weftServer()
    const client = await webSockets().dial(addr)
    const server = await next
    const atClient = watch(client)
    const atServer = watch(server)
    const up = pattern(5_000_000, 1)
    const down = pattern(4_000_000, 2)
    corkedWrite(client, up)
    corkedWrite(server, down)
    await until(() => atServer.bytes === up.length && atClient.bytes === down.length)
    expect(same(concat(atServer.chunks), up)).toBe(true)
    expect(same(concat(atClient.chunks), down)).toBe(true)
    client.destroy()
    expect(await atServer.closed).toMatchObject({ name: 'TransportError', code: 'transport/failed' })
    expect(await atClient.closed).toBeUndefined()
  })
})

describe('wss: node:tls with the server name', () => {
  async function tlsServer(): Promise<{ port: number; names: string[]; peer: Promise<WsClient> }> {
    const { execFileSync } = await import('node:child_process')
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const https = await import('node:https')
    const tls = await import('node:tls')
    const dir = mkdtempSync(`${tmpdir()}/weft-wss-`)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`], { stdio: 'ignore' })
    const key = readFileSync(`${dir}/k.pem`)
    const cert = readFileSync(`${dir}/c.pem`)
    rmSync(dir, { recursive: true })
    const names: string[] = []
    const context = tls.createSecureContext({ key, cert })
    const server = https.createServer({ key, cert, SNICallback: (name, cb) => { names.push(name); cb(null, context) } })
    const wss = new WebSocketServer({ server })
    const peer = new Promise<WsClient>((r) => wss.once('connection', r))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); server.closeAllConnections(); server.close(() => r()) }))
    return { port: (server.address() as { port: number }).port, names, peer }
  }

  test('/tls/sni/<name>/ws sends the name; the self-signed certificate is refused; trusted, bytes flow', async () => {
    const s = await tlsServer()
    const addr = Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${s.port}/tls/sni/localhost/ws`)
    await expect(webSockets().dial(addr)).rejects.toMatchObject({ name: 'TransportError' })
    expect(s.names).toEqual(['localhost'])
    const had = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0' // this test only: trust the self-signed certificate
    let conn: RawConnection
    try {
      conn = await webSockets().dial(Multiaddr.fromString(`/dns4/localhost/tcp/${s.port}/wss`))
    } finally {
      if (had === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = had
    }
    cleanups.push(() => conn.destroy())
    const seen = watch(conn)
    const remote = await s.peer
    const got: Uint8Array[] = []
    remote.on('message', (d) => got.push(bytesOf(d)))
    const up = pattern(300_000, 5)
    corkedWrite(conn, up)
    remote.send(Uint8Array.of(9, 8, 7))
    await until(() => seen.bytes === 3 && got.reduce((n, g) => n + g.length, 0) === up.length)
    expect(same(concat(got), up)).toBe(true)
    expect(s.names).toEqual(['localhost', 'localhost'])
  })
})
