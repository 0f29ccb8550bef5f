/** TCP transport (Node `net`): `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, TCP_NODELAY on. */
import * as net from 'node:net'
import type { Multiaddr } from '../multiaddr/index.js'
import { expandUnspecified, ipMultiaddr, mapSocketError, view, withDeadline } from './net-util.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

class TcpConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly #socket: net.Socket

  constructor(socket: net.Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.pause()
    this.remoteAddr = ipMultiaddr(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0, socket.remoteFamily)
    this.localAddr = socket.localAddress === undefined ? undefined : ipMultiaddr(socket.localAddress, socket.localPort ?? 0, socket.localFamily)
  }

  start(h: RawHandlers): void {
    const s = this.#socket
    s.on('data', (b: Buffer) => h.onData(view(b)))
    s.on('end', () => h.onEnd())
    s.on('drain', () => h.onDrain())
    s.on('error', () => { /* 'close' follows with hadError */ })
    s.on('close', (hadError: boolean) => h.onClose(hadError ? new TransportError('transport/failed', 'socket error') : undefined))
    s.resume()
  }

  write(data: Uint8Array): boolean {
    if (this.#socket.destroyed) return true
    return this.#socket.write(data)
  }

  pause(): void { this.#socket.pause() }
  resume(): void { this.#socket.resume() }

  close(): void {
    const s = this.#socket
    s.end()
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => s.destroy(), 2_000).unref()
  }

  destroy(error?: Error): void {
    this.#socket.destroy(error)
  }
}

function tcpTarget(addr: Multiaddr): { host: string; port: number } | undefined {
  const t = addr.toDialTarget()
  if (t === undefined || t.transport !== 'tcp') return undefined
  return { host: t.host, port: t.port }
}

export function tcp(): Transport {
  return {
    name: 'tcp',
    canDial: (addr) => tcpTarget(addr) !== undefined,
    canListen: (addr) => tcpTarget(addr) !== undefined,
    dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      const t = tcpTarget(addr)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `tcp cannot dial ${addr.toString()}`))
      return withDeadline<RawConnection>(`dial ${addr.toString()}`, options.timeout ?? 10_000, options.signal, (done) => {
        const socket = net.connect({ host: t.host, port: t.port })
        socket.once('connect', () => done(undefined, new TcpConnection(socket)))
        socket.once('error', (e) => done(mapSocketError(e, `dial ${addr.toString()}`)))
        return () => socket.destroy()
      })
    },
    listen(addr: Multiaddr, onConnection: (c: RawConnection) => void): Promise<TransportListener> {
      const t = tcpTarget(addr)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `tcp cannot listen on ${addr.toString()}`))
      return new Promise((resolve, reject) => {
        const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => onConnection(new TcpConnection(socket)))
        server.once('error', (e) => reject(mapSocketError(e, `listen ${addr.toString()}`)))
        server.listen(t.port, t.host, () => {
          const port = (server.address() as net.AddressInfo).port
          const sockets = new Set<net.Socket>()
          server.on('connection', (s) => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
          resolve({
            addrs: expandUnspecified(t.host, port, ''),
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
