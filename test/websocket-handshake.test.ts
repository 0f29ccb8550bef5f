/**
 * The RFC 6455 §4 opening handshake: the core's request/response checks, the bounded head reader at
 * its limit and one past, and the Node driver's handshake against raw sockets (a wrong accept key,
 * missing headers, an oversize head, a peer that never finishes).
 */
import * as net from 'node:net'
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, test } from 'vitest'
import {
  HttpHeadReader, acceptKey, checkClientRequest, checkServerResponse, clientRequest, serverResponse, websocketKey, type HttpHead,
} from '../src/websocket/index.js'
import { concat, fromUtf8, utf8 } from '../src/core/bytes.js'
import { webSockets } from '../src/io/ws.js'
import { Multiaddr } from '../src/multiaddr/index.js'

const sha1 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(b).digest())
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

function head(text: string): HttpHead {
  const r = new HttpHeadReader().push(utf8(text))
  if (r === undefined) throw new Error('incomplete head')
  return r.head
}

const REQUEST = `GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
const RESPONSE = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'

describe('handshake core', () => {
  test('the client request and the server response round-trip through the checks', () => {
    const key = websocketKey(new Uint8Array(16).fill(7))
    const req = head(fromUtf8(clientRequest({ host: 'h:1', path: '/p', key })))
    expect(req.startLine).toEqual(['GET', '/p', 'HTTP/1.1'])
    expect(checkClientRequest(req)).toEqual({ ok: true, key })
    expect(() => checkServerResponse(head(fromUtf8(serverResponse(key, sha1))), key, sha1)).not.toThrow()
    expect(fromUtf8(serverResponse(KEY, sha1))).toBe(RESPONSE)
    expect(checkClientRequest(head(REQUEST))).toEqual({ ok: true, key: KEY })
    expect(acceptKey(KEY, sha1)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
  })

  test('a request missing or breaking any required part is refused (400; a version other than 13 426)', () => {
    const cases: Array<[string, string, number]> = [
      ['POST', REQUEST.replace('GET', 'POST'), 400],
      ['HTTP/1.0', REQUEST.replace('HTTP/1.1', 'HTTP/1.0'), 400],
      ['no Host', REQUEST.replace('Host: server.example.com\r\n', ''), 400],
      ['no Upgrade', REQUEST.replace('Upgrade: websocket\r\n', ''), 400],
      ['no Connection', REQUEST.replace('Connection: Upgrade\r\n', ''), 400],
      ['no key', REQUEST.replace(`Sec-WebSocket-Key: ${KEY}\r\n`, ''), 400],
      ['a 15-byte key', REQUEST.replace(KEY, 'dGhlIHNhbXBsZSBub25jZQ'.slice(0, 20)), 400],
      ['version 8', REQUEST.replace('Version: 13', 'Version: 8'), 426],
    ]
    for (const [what, text, status] of cases) expect(checkClientRequest(head(text)), what).toMatchObject({ ok: false, status })
    // header names are case-insensitive and Connection is a token list
    expect(checkClientRequest(head(REQUEST.replace('Connection: Upgrade', 'connection: keep-alive, upgrade')))).toMatchObject({ ok: true })
  })

  test('a response that is not a valid 101 for our key is websocket/bad-handshake', () => {
    const bad = [
      RESPONSE.replace('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 's3pPLMBiTxaQ9kYGzzhZRbK+xOA='),
      RESPONSE.replace('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n', ''),
      RESPONSE.replace('101 Switching Protocols', '200 OK'),
      RESPONSE.replace('Upgrade: websocket\r\n', ''),
      RESPONSE.replace('Connection: Upgrade\r\n', ''),
      RESPONSE.replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'),
      RESPONSE.replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat\r\n\r\n'),
    ]
    expect(() => checkServerResponse(head(RESPONSE), KEY, sha1)).not.toThrow()
    for (const text of bad) expect(() => checkServerResponse(head(text), KEY, sha1), text).toThrow(expect.objectContaining({ name: 'ProtocolError', code: 'websocket/bad-handshake' }))
  })

  test('the head reader: any split, the bytes after the head returned, at the limit and one past', () => {
    const text = concat([utf8(REQUEST), Uint8Array.of(0x82, 0x00)])
    for (let at = 0; at <= text.length; at++) {
      const r = new HttpHeadReader()
      const first = r.push(text.subarray(0, at))
      const got = first ?? r.push(text.subarray(at))
      expect(got?.head.headers.get('sec-websocket-key')).toBe(KEY)
      const rest = first === undefined ? got!.rest : concat([first.rest, text.subarray(at)])
      expect(Array.from(rest)).toEqual([0x82, 0x00])
    }
    const exact = utf8(REQUEST)
    expect(new HttpHeadReader(exact.length).push(exact)).toBeDefined()
    expect(() => new HttpHeadReader(exact.length - 1).push(exact)).toThrow(expect.objectContaining({ code: 'websocket/header-too-large' }))
    expect(() => new HttpHeadReader().push(utf8('GARBAGE\r\n\r\n'))).toThrow(expect.objectContaining({ code: 'websocket/bad-handshake' }))
  })
})

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A raw TCP server that answers any request with `answer(request)` (or nothing). */
async function rawServer(answer: (request: string) => string | undefined): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    let got = ''
    s.on('data', (b) => {
      got += b.toString('latin1')
      if (!got.includes('\r\n\r\n')) return
      const a = answer(got)
      if (a !== undefined) s.write(a)
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }))
  return (server.address() as net.AddressInfo).port
}

const keyOf = (request: string): string => /sec-websocket-key: (\S+)/i.exec(request)![1]!

describe('Node driver handshake', () => {
  test('the dial sends a §4.1 request and accepts a correct 101', async () => {
    let request = ''
    const port = await rawServer((r) => { request = r; return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(keyOf(r), sha1)}\r\n\r\n` })
    const conn = await webSockets().dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${port}/ws`))
    conn.destroy()
    expect(request).toMatch(new RegExp(`^GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: [A-Za-z0-9+/]{22}==\r\nSec-WebSocket-Version: 13\r\n\r\n$`))
  })

  test('a wrong accept key fails the dial with ProtocolError websocket/bad-handshake; so does a 404', async () => {
    const wrong = await rawServer(() => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(KEY, sha1)}\r\n\r\n`)
    await expect(webSockets().dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${wrong}/ws`))).rejects.toMatchObject({ name: 'ProtocolError', code: 'websocket/bad-handshake' })
    const notFound = await rawServer(() => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    await expect(webSockets().dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${notFound}/ws`))).rejects.toMatchObject({ name: 'ProtocolError', code: 'websocket/bad-handshake' })
  })

  test('a response head past maxHeaderBytes fails the dial with websocket/header-too-large; a server that never answers hits the dial timeout', async () => {
    const big = await rawServer(() => `HTTP/1.1 101 Switching Protocols\r\nX-Pad: ${'a'.repeat(600)}\r\n\r\n`)
    await expect(webSockets({ maxHeaderBytes: 512 }).dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${big}/ws`))).rejects.toMatchObject({ code: 'websocket/header-too-large' })
    const mute = await rawServer(() => undefined)
    await expect(webSockets().dial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/${mute}/ws`), { timeout: 200 })).rejects.toMatchObject({ name: 'TransportError', code: 'transport/timeout' })
  })

  async function listener(options: Parameters<typeof webSockets>[0] = {}): Promise<{ port: number; accepted: number }> {
    const state = { port: 0, accepted: 0 }
    const l = await webSockets(options).listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0/ws'), (c) => { state.accepted++; c.destroy() })
    cleanups.push(() => l.close())
    state.port = l.addrs[0]!.toDialTarget()!.port
    return state
  }

  /** Send `text` on a raw socket; resolve with everything the listener sent before closing. */
  function rawExchange(port: number, text: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(text))
      let got = ''
      s.on('data', (b) => { got += b.toString('latin1') })
      s.on('error', () => {})
      s.on('close', () => resolve(got))
      cleanups.push(() => s.destroy())
    })
  }

  test('the listener answers a bad request with 400 (426 for another version) and closes', async () => {
    const l = await listener()
    expect(await rawExchange(l.port, REQUEST.replace('Upgrade: websocket\r\n', ''))).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/)
    expect(await rawExchange(l.port, REQUEST.replace('Version: 13', 'Version: 8'))).toMatch(/^HTTP\/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n/)
    expect(l.accepted).toBe(0)
  })

  test('the listener: a head of exactly maxHeaderBytes is accepted, one byte more is refused with 400', async () => {
    const l = await listener({ maxHeaderBytes: 512 })
    const pad = (n: number): string => REQUEST.replace('\r\n\r\n', `\r\nX-Pad: ${'a'.repeat(n)}\r\n\r\n`)
    const base = utf8(pad(0)).length
    const exact = pad(512 - base)
    expect(utf8(exact).length).toBe(512)
    expect(await rawExchange(l.port, exact)).toMatch(/^HTTP\/1.1 101 /)
    expect(await rawExchange(l.port, pad(513 - base))).toMatch(/^HTTP\/1.1 400 /)
    expect(l.accepted).toBe(1)
  })

  test('the listener closes a socket that does not finish its handshake within handshakeTimeout', async () => {
    const l = await listener({ handshakeTimeout: 100 })
    expect(await rawExchange(l.port, 'GET / HTTP/1.1\r\n')).toBe('')
    expect(l.accepted).toBe(0)
    expect(() => webSockets({ handshakeTimeout: 0 })).toThrow(RangeError)
    expect(() => webSockets({ maxHeaderBytes: 10 })).toThrow(RangeError)
  })
})
