/** WebSocket transport for browsers (the native WebSocket): dial only. */
import { ProtocolError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport } from './transport.js'

const HIGH_WATER = 4 * 1024 * 1024

/** Options of `browserWebSockets()`. */
export interface BrowserWebSocketOptions {
  /**
   * Largest WebSocket message accepted, default 1 MiB. Stops: one message as large as the remote
   * likes (a native WebSocket assembles the whole message before we see it). Noise frames are at
   * most 65,537 bytes; weft coalesces at most 256 KiB per message; go and rust send one frame each.
   */
  maxMessageBytes?: number
  /**
   * Bytes held while the connection is paused (or not yet started), default 16 MiB. A WebSocket
   * cannot stop reading, so while the core asks for no data this transport holds what arrives.
   * Stops: a peer that ignores backpressure (it sends while we cannot, e.g. it never reads our
   * yamux pongs so our control queue fills) growing that hold without end. A peer that honours
   * yamux windows stays far below it. Past it the connection is closed with
   * ProtocolError 'websocket/receive-overflow'.
   */
  maxBufferedBytes?: number
}

const DEFAULT_MAX_MESSAGE = 1024 * 1024
const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024

class BrowserWsConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr = undefined
  readonly #ws: WebSocket
  #h: RawHandlers | undefined
  #buffered: Uint8Array[] = []
  #bufferedBytes = 0
  #paused = false
  #failed: Error | undefined
  #drainTimer: ReturnType<typeof setInterval> | undefined

  constructor(ws: WebSocket, remoteAddr: Multiaddr, limits: Required<BrowserWebSocketOptions>) {
    this.#ws = ws
    this.remoteAddr = remoteAddr
    ws.binaryType = 'arraybuffer'
    // Listen from the first moment: the remote may send (a multistream header) right after the
    // upgrade, and some WebSocket implementations deliver it before start() is called.
    ws.onmessage = (ev: MessageEvent) => {
      if (this.#failed !== undefined) return
      const data = new Uint8Array(ev.data as ArrayBuffer)
      if (data.length > limits.maxMessageBytes) {
        return this.#fail(new ProtocolError('websocket', 'websocket/message-too-large', `${data.length} > ${limits.maxMessageBytes} bytes`))
      }
      // A WebSocket cannot stop reading; before start() and while paused we hold what arrives.
      if (this.#paused || this.#h === undefined) {
        this.#bufferedBytes += data.length
        if (this.#bufferedBytes > limits.maxBufferedBytes) {
          return this.#fail(new ProtocolError('websocket', 'websocket/receive-overflow', `more than ${limits.maxBufferedBytes} bytes arrived while paused`))
        }
        this.#buffered.push(data)
      } else this.#h.onData(data)
    }
  }

  /** Drop what is held, close the socket (1009: message too big), report the cause once. */
  #fail(error: Error): void {
    this.#failed = error
    this.#buffered = []
    this.#bufferedBytes = 0
    this.#ws.onmessage = null
    this.#ws.close(1009)
    const h = this.#h
    if (h !== undefined) {
      this.#h = undefined
      h.onClose(error)
    }
  }

  /** How many received bytes are held while paused (for tests and metrics). */
  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  start(h: RawHandlers): void {
    if (this.#failed !== undefined) {
      h.onClose(this.#failed)
      return
    }
    this.#h = h
    if (!this.#paused) this.resume()
    this.#ws.onclose = (ev: CloseEvent) => {
      if (this.#h === undefined) return
      this.#h = undefined
      h.onEnd()
      h.onClose(ev.wasClean ? undefined : new TransportError('transport/failed', `websocket closed with ${ev.code}`))
    }
  }

  write(data: Uint8Array): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return true
    this.#ws.send(data)
    if (this.#ws.bufferedAmount > HIGH_WATER) {
      this.#drainTimer ??= setInterval(() => {
        if (this.#ws.bufferedAmount <= HIGH_WATER / 2) {
          clearInterval(this.#drainTimer)
          this.#drainTimer = undefined
          this.#h?.onDrain()
        }
      }, 10)
      return false
    }
    return true
  }

  pause(): void { this.#paused = true }
  resume(): void {
    this.#paused = false
    const b = this.#buffered
    this.#buffered = []
    this.#bufferedBytes = 0
    for (const d of b) this.#h?.onData(d)
  }
  close(): void { this.#ws.close(1000) }
  destroy(): void { this.#ws.close() }
}

/**
 * The WebSocket transport of `weft/browser` (the browser's `WebSocket`): dials `/dns4|ip4/.../tcp/<port>/ws`
 * and `/wss` (or `/tls/ws`) addresses; browsers cannot listen. Failures are `TransportError`s.
 */
export function browserWebSockets(options: BrowserWebSocketOptions = {}): Transport {
  const limits: Required<BrowserWebSocketOptions> = {
    maxMessageBytes: positive(options.maxMessageBytes, DEFAULT_MAX_MESSAGE, 'maxMessageBytes'),
    maxBufferedBytes: positive(options.maxBufferedBytes, DEFAULT_MAX_BUFFERED, 'maxBufferedBytes'),
  }
  return {
    name: 'ws',
    canDial: (addr) => {
      const t = addr.toDialTarget()
      return t !== undefined && (t.transport === 'ws' || t.transport === 'wss')
    },
    canListen: () => false,
    dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      const t = addr.toDialTarget()
      if (t === undefined || (t.transport !== 'ws' && t.transport !== 'wss')) return Promise.reject(new TransportError('transport/unsupported', addr.toString()))
      const host = t.family === 6 ? `[${t.host}]` : t.host
      const url = `${t.transport}://${host}:${t.port}${t.path ?? '/'}`
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url)
        const timer = setTimeout(() => { ws.close(); reject(new TransportError('transport/timeout', url)) }, options.timeout ?? 10_000)
        options.signal?.addEventListener('abort', () => { clearTimeout(timer); ws.close(); reject(new TransportError('transport/aborted', url)) }, { once: true })
        ws.onopen = () => { clearTimeout(timer); resolve(new BrowserWsConnection(ws, addr.withoutPeerId(), limits)) }
        ws.onerror = () => { clearTimeout(timer); reject(new TransportError('transport/failed', `websocket error dialing ${url}`)) }
      })
    },
    listen: () => Promise.reject(new TransportError('transport/unsupported', 'browsers cannot listen on WebSockets')),
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`)
  return v
}

export { Multiaddr }
