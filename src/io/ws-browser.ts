/** WebSocket transport for browsers (the native WebSocket): dial only. */
import { Multiaddr } from '../multiaddr/index.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport } from './transport.js'

const HIGH_WATER = 4 * 1024 * 1024

class BrowserWsConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr = undefined
  readonly #ws: WebSocket
  #h: RawHandlers | undefined
  #buffered: Uint8Array[] = []
  #paused = false
  #drainTimer: ReturnType<typeof setInterval> | undefined

  constructor(ws: WebSocket, remoteAddr: Multiaddr) {
    this.#ws = ws
    this.remoteAddr = remoteAddr
    ws.binaryType = 'arraybuffer'
    // Listen from the first moment: the remote may send (a multistream header) right after the
    // upgrade, and some WebSocket implementations deliver it before start() is called.
    ws.onmessage = (ev: MessageEvent) => {
      const data = new Uint8Array(ev.data as ArrayBuffer)
      // A WebSocket cannot stop reading; before start() and while paused we hold what arrives.
      if (this.#paused || this.#h === undefined) this.#buffered.push(data)
      else this.#h.onData(data)
    }
  }

  start(h: RawHandlers): void {
    this.#h = h
    if (!this.#paused) this.resume()
    this.#ws.onclose = (ev: CloseEvent) => {
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
    for (const d of b) this.#h?.onData(d)
  }
  close(): void { this.#ws.close(1000) }
  destroy(): void { this.#ws.close() }
}

export function browserWebSockets(): Transport {
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
        ws.onopen = () => { clearTimeout(timer); resolve(new BrowserWsConnection(ws, addr.withoutPeerId())) }
        ws.onerror = () => { clearTimeout(timer); reject(new TransportError('transport/failed', `websocket error dialing ${url}`)) }
      })
    },
    listen: () => Promise.reject(new TransportError('transport/unsupported', 'browsers cannot listen on WebSockets')),
  }
}

export { Multiaddr }
