/**
 * WebSocket transport for Node (the `ws` package): listen on `/.../tcp/<port>/ws`, dial `/ws`,
 * `/wss` and `/tls/ws` (and `/tls/sni/<name>/ws`). Binary messages carry the byte stream; message
 * boundaries mean nothing (libp2p treats a WebSocket as a byte stream).
 */
import type { WebSocket } from 'ws'
import type { Multiaddr } from '../multiaddr/index.js'
import { expandUnspecified, ipMultiaddr, mapSocketError, view, withDeadline } from './net-util.js'
import { ProtocolError } from '../core/errors.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

/** Above this many unsent bytes, write() asks the caller to wait (ws has no 'drain' event). */
const HIGH_WATER = 4 * 1024 * 1024

export interface WebSocketOptions {
  /**
   * Largest WebSocket message accepted (ws `maxPayload`), default 1 MiB (it was 16 MiB). Stops: a
   * remote making us assemble one huge message per connection before any limit of Noise or yamux
   * can see it. Noise frames are at most 65,537 bytes; weft coalesces at most 256 KiB per message;
   * go-libp2p and rust-libp2p send one Noise frame per message. A larger message closes the
   * connection with ProtocolError 'websocket/message-too-large'.
   */
  maxMessageBytes?: number
}

const DEFAULT_MAX_MESSAGE = 1024 * 1024

class WsConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly #ws: WebSocket
  #h: RawHandlers | undefined
  #waitingDrain = false
  #closed = false
  #error: Error | undefined

  constructor(ws: WebSocket, remoteAddr: Multiaddr, localAddr: Multiaddr | undefined) {
    this.#ws = ws
    this.remoteAddr = remoteAddr
    this.localAddr = localAddr
    ws.binaryType = 'nodebuffer'
    ws.pause()
  }

  start(h: RawHandlers): void {
    this.#h = h
    const ws = this.#ws
    ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer) => {
      if (Array.isArray(data)) for (const d of data) h.onData(view(d))
      else h.onData(data instanceof ArrayBuffer ? new Uint8Array(data) : view(data))
    })
    ws.on('error', (e: Error & { code?: string }) => {
      // close follows; keep the cause when it was the remote's fault
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#error ??= new ProtocolError('websocket', 'websocket/message-too-large', e.message)
    })
    ws.on('close', (code: number) => {
      if (this.#closed) return
      this.#closed = true
      h.onEnd()
      h.onClose(this.#error ?? (code === 1000 || code === 1005 ? undefined : new TransportError('transport/failed', `websocket closed with ${code}`)))
    })
    ws.resume()
  }

  write(data: Uint8Array): boolean {
    if (this.#ws.readyState !== OPEN) return true
    this.#ws.send(data, { binary: true }, () => this.#checkDrain())
    if (this.#ws.bufferedAmount > HIGH_WATER) {
      this.#waitingDrain = true
      return false
    }
    return true
  }

  #checkDrain(): void {
    if (this.#waitingDrain && this.#ws.bufferedAmount <= HIGH_WATER / 2) {
      this.#waitingDrain = false
      this.#h?.onDrain()
    }
  }

  pause(): void { this.#ws.pause() }
  resume(): void { this.#ws.resume() }

  close(): void {
    this.#ws.close(1000)
    const ws = this.#ws
    setTimeout(() => ws.terminate(), 2_000).unref()
  }

  destroy(): void {
    this.#ws.terminate()
  }
}

interface WsTarget { url: string; host: string; port: number }

function wsTarget(addr: Multiaddr, listen: boolean): WsTarget | undefined {
  const t = addr.toDialTarget()
  if (t === undefined || (t.transport !== 'ws' && t.transport !== 'wss')) return undefined
  if (listen && t.transport !== 'ws') return undefined
  const host = t.family === 6 ? `[${t.host}]` : t.host
  const scheme = t.transport === 'wss' ? 'wss' : 'ws'
  return { url: `${scheme}://${host}:${t.port}${t.path ?? '/'}`, host: t.host, port: t.port }
}

/** ws's readyState OPEN (the WebSocket standard's 1). */
const OPEN = 1

/**
 * The `ws` package, imported on the first dial or listen: a process that only dials TCP (a fresh
 * `weft ping`) does not compile its 125 KB (bench/README.md "Start-up").
 */
let wsModule: Promise<typeof import('ws')> | undefined
const loadWs = (): Promise<typeof import('ws')> => (wsModule ??= import('ws'))

export function webSockets(options: WebSocketOptions = {}): Transport {
  const maxPayload = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE
  if (!Number.isSafeInteger(maxPayload) || maxPayload < 1) throw new RangeError('maxMessageBytes must be a positive integer')
  return {
    name: 'ws',
    canDial: (addr) => wsTarget(addr, false) !== undefined,
    canListen: (addr) => wsTarget(addr, true) !== undefined,
    dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      const t = wsTarget(addr, false)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `ws cannot dial ${addr.toString()}`))
      return loadWs().then(({ WebSocket }) => withDeadline<RawConnection>(`dial ${addr.toString()}`, options.timeout ?? 10_000, options.signal, (done) => {
        const ws = new WebSocket(t.url, { perMessageDeflate: false, maxPayload })
        ws.once('open', () => {
          const sock = (ws as unknown as { _socket?: { localAddress?: string; localPort?: number; localFamily?: string; remoteAddress?: string; remotePort?: number; setNoDelay?: (b: boolean) => void } })._socket
          sock?.setNoDelay?.(true)
          const local = sock?.localAddress === undefined ? undefined : ipMultiaddr(sock.localAddress, sock.localPort ?? 0, sock.localFamily, '/ws')
          done(undefined, new WsConnection(ws, addr.withoutPeerId(), local))
        })
        ws.once('error', (e) => done(mapSocketError(e, `dial ${addr.toString()}`)))
        return () => ws.terminate()
      }))
    },
    listen(addr: Multiaddr, onConnection: (c: RawConnection) => void): Promise<TransportListener> {
      const t = wsTarget(addr, true)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `ws cannot listen on ${addr.toString()}`))
      return loadWs().then(({ WebSocketServer }) => new Promise<TransportListener>((resolve, reject) => {
        const server = new WebSocketServer({ host: t.host, port: t.port, perMessageDeflate: false, maxPayload, clientTracking: true })
        server.once('error', (e) => reject(mapSocketError(e, `listen ${addr.toString()}`)))
        server.on('connection', (ws, req) => {
          const s = req.socket
          s.setNoDelay(true)
          const remote = ipMultiaddr(s.remoteAddress ?? '0.0.0.0', s.remotePort ?? 0, s.remoteFamily, '/ws')
          const local = s.localAddress === undefined ? undefined : ipMultiaddr(s.localAddress, s.localPort ?? 0, s.localFamily, '/ws')
          onConnection(new WsConnection(ws, remote, local))
        })
        server.once('listening', () => {
          const port = (server.address() as { port: number }).port
          resolve({
            addrs: expandUnspecified(t.host, port, '/ws'),
            close: () => new Promise<void>((res) => {
              for (const c of server.clients) c.terminate()
              server.close(() => res())
            }),
          })
        })
      }))
    },
  }
}
