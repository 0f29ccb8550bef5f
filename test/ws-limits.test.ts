/**
 * WebSocket receive limits (issue 11 item 4, audit finding 5): the Node transport's message size
 * cap, and the browser transport's message size cap and its hold while paused. Each is tested at
 * the limit and one byte past it.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { WebSocket as WsClient, WebSocketServer } from 'ws'
import { webSockets } from '../src/io/ws.js'
import { browserWebSockets } from '../src/io/ws-browser.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { RawConnection, TransportListener } from '../src/io/transport.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Seen { bytes: number; closed: Promise<Error | undefined> }
function watch(conn: RawConnection): Seen {
  const seen: Seen = { bytes: 0, closed: undefined as unknown as Promise<Error | undefined> }
  seen.closed = new Promise((resolve) => {
    conn.start({ onData: (d) => { seen.bytes += d.length }, onEnd: () => {}, onDrain: () => {}, onClose: (e) => resolve(e) })
  })
  return seen
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5))
}

describe('Node WebSocket transport: maxMessageBytes', () => {
  async function listener(max: number): Promise<{ url: string; next: Promise<RawConnection> }> {
    let accept!: (c: RawConnection) => void
    const next = new Promise<RawConnection>((r) => { accept = r })
    const l: TransportListener = await webSockets({ maxMessageBytes: max }).listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0/ws'), accept)
    cleanups.push(() => l.close())
    const t = l.addrs[0]!.toDialTarget()!
    return { url: `ws://127.0.0.1:${t.port}/`, next }
  }

  test('a message of exactly the limit is delivered; one byte more closes with websocket/message-too-large', async () => {
    const { url, next } = await listener(1000)
    const client = new WsClient(url)
    cleanups.push(() => client.terminate())
    await new Promise((r) => client.once('open', r))
    const seen = watch(await next)
    client.send(new Uint8Array(1000))
    await until(() => seen.bytes === 1000)
    client.send(new Uint8Array(1001))
    const err = await seen.closed
    expect(err).toMatchObject({ name: 'ProtocolError', code: 'websocket/message-too-large' })
    expect(seen.bytes).toBe(1000)
  })

  test('the default is 1 MiB and bad options are RangeErrors', () => {
    expect(() => webSockets({ maxMessageBytes: 0 })).toThrow(RangeError)
    expect(() => browserWebSockets({ maxBufferedBytes: -1 })).toThrow(RangeError)
  })
})

describe('browser WebSocket transport (the ws client stands in for the native WebSocket)', () => {
  async function server(): Promise<{ addr: Multiaddr; peer: Promise<WsClient> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    cleanups.push(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()) }))
    await new Promise((r) => wss.once('listening', r))
    const peer = new Promise<WsClient>((r) => wss.once('connection', r))
    const port = (wss.address() as { port: number }).port
    return { addr: Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${port}/ws`), peer }
  }
  const g = globalThis as { WebSocket?: unknown }

  async function dial(opts: Parameters<typeof browserWebSockets>[0]): Promise<{ conn: RawConnection; peer: WsClient }> {
    const had = g.WebSocket
    g.WebSocket = WsClient
    cleanups.push(() => { g.WebSocket = had })
    const { addr, peer } = await server()
    const conn = await browserWebSockets(opts).dial(addr)
    cleanups.push(() => conn.destroy())
    return { conn, peer: await peer }
  }

  test('while paused it holds up to maxBufferedBytes, delivers them on resume, and fails one byte past', async () => {
    const { conn, peer } = await dial({ maxBufferedBytes: 5000, maxMessageBytes: 1000 })
    const seen = watch(conn)
    conn.pause()
    for (let i = 0; i < 5; i++) peer.send(new Uint8Array(1000))
    const held = conn as unknown as { bufferedBytes: number }
    await until(() => held.bufferedBytes === 5000)
    expect(seen.bytes).toBe(0)
    conn.resume()
    expect(seen.bytes).toBe(5000)
    conn.pause()
    for (let i = 0; i < 5; i++) peer.send(new Uint8Array(1000))
    peer.send(new Uint8Array(1))
    const err = await seen.closed
    expect(err).toMatchObject({ name: 'ProtocolError', code: 'websocket/receive-overflow' })
    expect(held.bufferedBytes).toBe(0)
  })

  test('a message of exactly maxMessageBytes is delivered; one byte more closes with websocket/message-too-large', async () => {
    const { conn, peer } = await dial({ maxMessageBytes: 1000 })
    const seen = watch(conn)
    peer.send(new Uint8Array(1000))
    await until(() => seen.bytes === 1000)
    peer.send(new Uint8Array(1001))
    expect(await seen.closed).toMatchObject({ code: 'websocket/message-too-large' })
    expect(seen.bytes).toBe(1000)
  })
})
