/**
 * WebSocket transport for Node over weft's own RFC 6455 core (src/websocket): listen on
 * `/.../tcp/<port>/ws`, dial `/ws`, `/wss` and `/tls/ws` (and `/tls/sni/<name>/ws`). Binary frames
 * carry the byte stream; message boundaries mean nothing (libp2p treats a WebSocket as a byte stream).
 *
 * Both ends run on node:net (node:tls for wss), with the opening handshake parsed by the core: one
 * code path, no HTTP server, and the socket is ours from the first byte (spec/websocket.md says why).
 *
 * Send: the runtime corks the connection while it moves output, so the pieces written meanwhile
 * (Noise: prefix, ciphertext, tag) become ONE frame at uncork: a server sends a small header buffer
 * and the pieces themselves; a client copies them into one buffer it owns and masks it there,
 * word-wise (the caller's bytes are never written). Everything leaves in one writev.
 * Receive: frames are unmasked in place in the read buffer (plain sockets read into one shared
 * buffer, as TCP's do; TLS sockets get a fresh Buffer per read) and payload views go up.
 */
import * as net from 'node:net'
import type * as tls from 'node:tls'
import { createHash, randomBytes } from 'node:crypto'
import type { Multiaddr } from '../multiaddr/index.js'
import {
  DEFAULT_MAX_HEADER_BYTES, HttpHeadReader, WebSocketEndpoint, checkClientRequest, checkServerResponse, clientRequest,
  refusalResponse, serverResponse, websocketKey,
} from '../websocket/index.js'
import { expandUnspecified, ipMultiaddr, mapSocketError, view, withDeadline } from './net-util.js'
import { acceptIntoSharedReadBuffer } from './tcp.js'
import { ProtocolError } from '../core/errors.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

/** Options of the `webSockets()` transport. */
export interface WebSocketOptions {
  /**
   * Largest WebSocket message accepted, default 1 MiB (it was 16 MiB). Stops: a remote making us
   * take one huge message per connection before any limit of Noise or yamux can see it (weft never
   * assembles a message, but counts it). Noise frames are at most 65,537 bytes; weft sends at most
   * 256 KiB per message; go-libp2p and rust-libp2p send one Noise frame per message. A larger
   * message closes the connection (status 1009) with ProtocolError 'websocket/message-too-large'.
   */
  maxMessageBytes?: number
  /**
   * Largest HTTP head (request line or status line plus headers) of the opening handshake, default
   * 8 KiB. Stops: a peer streaming an endless head to hold memory before the upgrade. Past it: a
   * listener answers 400 and closes; a dial fails with ProtocolError 'websocket/header-too-large'.
   */
  maxHeaderBytes?: number
  /**
   * ms an accepted socket has to complete the opening handshake, default 10,000. Stops: sockets
   * held open by peers that never finish their request (slowloris). A dial is bounded by its own
   * dial timeout instead.
   */
  handshakeTimeout?: number
}

const DEFAULT_MAX_MESSAGE = 1024 * 1024
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000
/** Bytes a socket queues before write() reports it full (as for TCP: the runtime's corked output leaves in one writev). */
const WRITE_HIGH_WATER_MARK = 1024 * 1024
/** A dialled plain socket's reads land here (Node's `onread`); views of it are valid during one read only. */
const READ_BUFFER_SIZE = 256 * 1024
let sharedReadBuffer: Uint8Array | undefined
const readBuffer = (): Uint8Array => (sharedReadBuffer ??= new Uint8Array(READ_BUFFER_SIZE))

/** node:tls, loaded on the first wss dial (0.5 ms a process that never dials wss does not pay). */
let tlsModule: Promise<typeof tls> | undefined
const loadTls = (): Promise<typeof tls> => (tlsModule ??= import('node:tls'))

const sha1 = (data: Uint8Array): Uint8Array => view(createHash('sha1').update(data).digest())
const random = (n: number): Uint8Array => view(randomBytes(n))

type Sink = (bytes: Uint8Array) => void

class WsConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly #socket: net.Socket
  readonly #ep: WebSocketEndpoint
  #h: RawHandlers | undefined
  /** Bytes that followed the handshake or arrived before start() (copies). */
  #early: Uint8Array[]
  #corked = false
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  /** write() returned false while corked: a drain is owed even if the socket never fills. */
  #owedDrain = false
  #paused = false
  #ended = false
  #error: Error | undefined
  #localDestroy = false

  constructor(socket: net.Socket, ep: WebSocketEndpoint, remoteAddr: Multiaddr, localAddr: Multiaddr | undefined, early: Uint8Array) {
    this.#socket = socket
    this.#ep = ep
    this.remoteAddr = remoteAddr
    this.localAddr = localAddr
    this.#early = early.length > 0 ? [early.slice()] : []
  }

  /** Bytes read from the socket (owned by us until we return: unmasked in place). */
  receive(bytes: Uint8Array): void {
    const h = this.#h
    if (h === undefined) {
      this.#early.push(bytes.slice())
      return
    }
    try {
      this.#ep.receive(bytes, h.onData)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#error ??= e
      this.#sendControl()
      this.#finish()
      return
    }
    this.#sendControl()
    if (this.#ep.remoteClose !== undefined && !this.#ended) {
      this.#ended = true
      h.onEnd()
      this.#finish()
    }
  }

  /** For `onread`: false (stop reading) while paused, as in src/io/tcp.ts. */
  deliver(n: number, buf: Uint8Array): boolean {
    this.receive(buf.subarray(0, n))
    return !this.#paused
  }

  start(h: RawHandlers): void {
    this.#h = h
    const s = this.#socket
    s.on('end', () => {
      if (this.#ended) return
      this.#ended = true
      h.onEnd()
    })
    s.on('drain', () => h.onDrain())
    s.on('error', () => { /* 'close' follows */ })
    s.on('close', () => {
      const rc = this.#ep.remoteClose
      let error = this.#error
      if (error === undefined && rc !== undefined && rc.code !== undefined && rc.code !== 1000) error = new TransportError('transport/failed', `websocket closed with ${rc.code}`)
      if (error === undefined && rc === undefined && !this.#localDestroy && !this.#ep.closeSent) error = new TransportError('transport/failed', 'websocket closed without a close frame')
      h.onClose(error)
    })
    for (const b of this.#early.splice(0)) this.receive(b)
    s.resume()
  }

  write(data: Uint8Array): boolean {
    const s = this.#socket
    if (s.destroyed || this.#ep.closeSent) return true
    if (this.#corked) {
      this.#pending.push(data)
      this.#pendingBytes += data.length
      if (s.writableLength + this.#pendingBytes < WRITE_HIGH_WATER_MARK) return true
      this.#owedDrain = true
      return false
    }
    return this.#send([data], data.length)
  }

  #send(pieces: Uint8Array[], length: number): boolean {
    const s = this.#socket
    const frames = this.#ep.frameData(pieces, length)
    if (frames.length === 1) return s.write(frames[0]!)
    s.cork()
    let ok = true
    for (const f of frames) ok = s.write(f)
    s.uncork()
    return ok
  }

  cork(): void {
    this.#corked = true
  }

  uncork(): void {
    this.#corked = false
    const pieces = this.#pending
    const length = this.#pendingBytes
    this.#pending = []
    this.#pendingBytes = 0
    const s = this.#socket
    if (length > 0 && !s.destroyed && !this.#ep.closeSent) this.#send(pieces, length)
    if (this.#owedDrain) {
      this.#owedDrain = false
      // The socket emits 'drain' if it filled; if not, nobody else will wake the writer.
      if (!s.writableNeedDrain) queueMicrotask(() => { if (!s.destroyed) this.#h?.onDrain() })
    }
  }

  pause(): void {
    this.#paused = true
    this.#socket.pause()
  }

  resume(): void {
    this.#paused = false
    this.#socket.resume()
  }

  close(): void {
    if (this.#socket.destroyed) return
    this.#ep.close(1000)
    this.#sendControl()
    // §7.1.1: once both close frames went, the TCP connection ends; the remote's echo ends reading.
    if (this.#ep.remoteClose !== undefined) this.#finish()
    const s = this.#socket
    setTimeout(() => s.destroy(), 2_000).unref()
  }

  destroy(error?: Error): void {
    this.#localDestroy = true
    this.#socket.destroy(error)
  }

  #sendControl(): void {
    const s = this.#socket
    for (const f of this.#ep.takeOutput()) if (!s.destroyed) s.write(f)
  }

  /** Both close frames went (or the remote broke the protocol): end the TCP connection, bounded. */
  #finish(): void {
    const s = this.#socket
    if (s.destroyed) return
    s.end()
    setTimeout(() => s.destroy(), 2_000).unref()
  }
}

interface WsTarget { host: string; port: number; tls: boolean; servername: string | undefined; hostHeader: string; path: string }

function wsTarget(addr: Multiaddr, listen: boolean): WsTarget | undefined {
  const t = addr.toDialTarget()
  if (t === undefined || (t.transport !== 'ws' && t.transport !== 'wss')) return undefined
  if (listen && t.transport !== 'ws') return undefined
  const secure = t.transport === 'wss'
  const name = t.sni ?? (t.family === 'dns' ? t.host : undefined)
  const shown = t.sni ?? (t.family === 6 ? `[${t.host}]` : t.host)
  const hostHeader = t.port === (secure ? 443 : 80) ? shown : `${shown}:${t.port}`
  return { host: t.host, port: t.port, tls: secure, servername: name, hostHeader, path: t.path ?? '/' }
}

function localAddrOf(s: net.Socket): Multiaddr | undefined {
  return s.localAddress === undefined ? undefined : ipMultiaddr(s.localAddress, s.localPort ?? 0, s.localFamily, '/ws')
}

/**
 * The WebSocket transport of `weft/node` (RFC 6455, weft's own implementation on `node:net`/`node:tls`):
 * dials and listens on `/tcp/<port>/ws`, dials `/wss` and `/tls/ws`. Each binary WebSocket message
 * carries libp2p bytes; message and header sizes are bounded (`WebSocketOptions`).
 */
export function webSockets(options: WebSocketOptions = {}): Transport {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) throw new RangeError('maxMessageBytes must be a positive integer')
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 256) throw new RangeError('maxHeaderBytes must be an integer >= 256')
  if (!Number.isFinite(handshakeTimeout) || handshakeTimeout <= 0) throw new RangeError('handshakeTimeout must be a positive number of ms')
  const endpoint = (server: boolean): WebSocketEndpoint => new WebSocketEndpoint({ server, maxMessageBytes, randomBytes: random })
  return {
    name: 'ws',
    canDial: (addr) => wsTarget(addr, false) !== undefined,
    canListen: (addr) => wsTarget(addr, true) !== undefined,
    dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      const t = wsTarget(addr, false)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `ws cannot dial ${addr.toString()}`))
      return (t.tls ? loadTls() : Promise.resolve(undefined)).then((tlsm) => withDeadline<RawConnection>(`dial ${addr.toString()}`, options.timeout ?? 10_000, options.signal, (done) => {
        const key = websocketKey(random(16))
        const reader = new HttpHeadReader(maxHeaderBytes)
        let conn: WsConnection | undefined
        let settled = false
        const handshake: Sink = (bytes) => {
          if (settled) return
          let r
          try {
            r = reader.push(bytes)
            if (r !== undefined) checkServerResponse(r.head, key, sha1)
          } catch (e) {
            settled = true
            return done(e as Error)
          }
          if (r === undefined) return
          settled = true
          socket.pause()
          socket.setNoDelay(true)
          const remote = addr.withoutPeerId()
          conn = new WsConnection(socket, endpoint(false), remote, localAddrOf(socket), r.rest)
          done(undefined, conn)
        }
        const sink: Sink = (bytes) => (conn !== undefined ? conn.receive(bytes) : handshake(bytes))
        const onread = t.tls ? undefined : { buffer: readBuffer, callback: (n: number, buf: Uint8Array): boolean => conn !== undefined ? conn.deliver(n, buf) : (handshake(buf.subarray(0, n)), true) }
        const socket: net.Socket = tlsm !== undefined
          ? tlsm.connect({ host: t.host, port: t.port, servername: t.servername, highWaterMark: WRITE_HIGH_WATER_MARK } as tls.ConnectionOptions)
          : net.connect({ host: t.host, port: t.port, onread, writableHighWaterMark: WRITE_HIGH_WATER_MARK } as unknown as net.NetConnectOpts)
        if (t.tls) socket.on('data', (b: Buffer) => sink(view(b)))
        socket.once(t.tls ? 'secureConnect' : 'connect', () => {
          socket.setNoDelay(true)
          socket.write(clientRequest({ host: t.hostHeader, path: t.path, key }))
        })
        socket.on('error', (e) => { if (!settled) { settled = true; done(mapSocketError(e, `dial ${addr.toString()}`)) } })
        socket.once('close', () => { if (!settled) { settled = true; done(new TransportError('transport/failed', `dial ${addr.toString()}: closed during the WebSocket handshake`)) } })
        return () => socket.destroy()
      }))
    },
    listen(addr: Multiaddr, onConnection: (c: RawConnection) => void): Promise<TransportListener> {
      const t = wsTarget(addr, true)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `ws cannot listen on ${addr.toString()}`))
      const sockets = new Set<net.Socket>()
      const accept = (socket: net.Socket): void => {
        sockets.add(socket)
        socket.once('close', () => sockets.delete(socket))
        socket.on('error', () => { /* close follows */ })
        const reader = new HttpHeadReader(maxHeaderBytes)
        const timer = setTimeout(() => socket.destroy(), handshakeTimeout)
        let conn: WsConnection | undefined
        let refused = false
        const refuse = (status: 400 | 426): void => {
          refused = true
          clearTimeout(timer)
          socket.end(refusalResponse(status))
          setTimeout(() => socket.destroy(), 2_000).unref()
        }
        const handshake: Sink = (bytes) => {
          if (refused) return
          let r
          try {
            r = reader.push(bytes)
          } catch {
            return refuse(400)
          }
          if (r === undefined) return
          const check = checkClientRequest(r.head)
          if (!check.ok) return refuse(check.status)
          clearTimeout(timer)
          socket.pause()
          socket.write(serverResponse(check.key, sha1))
          const remote = ipMultiaddr(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0, socket.remoteFamily, '/ws')
          conn = new WsConnection(socket, endpoint(true), remote, localAddrOf(socket), r.rest)
          onConnection(conn)
        }
        // Reads land in TCP's shared buffer where Node allows it (src/io/tcp.ts), else fresh Buffers.
        const shared = acceptIntoSharedReadBuffer(socket, (n, buf) => (conn !== undefined ? conn.deliver(n, buf) : (handshake(buf.subarray(0, n)), true)))
        if (!shared) socket.on('data', (b: Buffer) => (conn !== undefined ? conn.receive(view(b)) : handshake(view(b))))
        socket.resume()
      }
      return new Promise<TransportListener>((resolve, reject) => {
        const server = net.createServer({ noDelay: true, pauseOnConnect: true, highWaterMark: WRITE_HIGH_WATER_MARK } as net.ServerOpts, accept)
        server.once('error', (e) => reject(mapSocketError(e, `listen ${addr.toString()}`)))
        server.listen(t.port, t.host, () => {
          const port = (server.address() as net.AddressInfo).port
          resolve({
            addrs: expandUnspecified(t.host, port, '/ws'),
            close: () => new Promise<void>((res) => {
              for (const s of sockets) s.destroy()
              server.close(() => res())
            }),
          })
        })
      })
    },
  }
}
