/**
 * The UDP driver (node:dgram) for datagram transports such as QUIC (`/ip4/.../udp/<port>/quic-v1`).
 *
 * One socket per listen address both accepts and dials, so the port a NAT learns from our dials is
 * the port peers reach us on (hole punching over UDP needs exactly that); a node that listens on
 * nothing of a family dials from one ephemeral socket of that family. Which connection a datagram
 * belongs to is not decided here: each socket has a `DatagramRouter` (structural, so io/ imports no
 * protocol; src/quic/libp2p.ts `quicRouter` is the QUIC one) that answers 'deliver' to a connection,
 * 'accept' a new one (handed to the listener as a RawConnection whose `session` the swarm opens),
 * 'reply' (Version Negotiation, Retry, stateless reset) or nothing.
 *
 * A connection is a RawConnection whose data events are whole datagrams and whose writes are whole
 * datagrams. UDP has no backpressure: sends the kernel has not taken yet are counted per socket and,
 * past `maxPendingSends`, new datagrams are dropped (QUIC's loss recovery and congestion control
 * treat that as loss); `write` never returns false. Socket errors are TransportErrors.
 */
import { createSocket, type Socket } from 'node:dgram'
import { Multiaddr } from '../multiaddr/index.js'
import { expandUnspecified, mapSocketError, view } from './net-util.js'
import { maxUdpPayloadTo } from './udp-mtu.js'
import { TransportError, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

/** A datagram's peer address. */
export interface UdpAddress {
  readonly address: string
  readonly port: number
}

/** Where a received datagram goes. `key` names one connection of the router (an object it made). */
export type DatagramRoute =
  | { kind: 'deliver'; key: object }
  | { kind: 'accept'; key: object; session: unknown }
  | { kind: 'reply'; data: Uint8Array }
  | { kind: 'none' }

/** The pure side of one socket (see the file comment). */
export interface DatagramRouter {
  route(now: number, from: UdpAddress, data: Uint8Array): DatagramRoute
  /** A new outgoing connection from this socket: its key and the session seed for the swarm. */
  dial(now: number, to: UdpAddress): { key: object; session: unknown }
  /** Connection `key` is gone. */
  closed(key: object): void
}

/** Options of `udpTransport`. */
export interface UdpTransportOptions {
  /** The transport's name and the multiaddr protocol after /udp/<port> (e.g. 'quic-v1'). */
  protocol: string
  /**
   * The router of a new socket (`listening`: it was bound by listen(), else it only dials). `moved`
   * tells the driver that connection `key`'s peer now sends from `to` (a QUIC path change after a
   * NAT rebinding, RFC 9000 §9.3): its datagrams go there from now on (`remoteAddr` stays the first).
   */
  router: (listening: boolean, moved: (key: object, to: UdpAddress) => void) => DatagramRouter
  /**
   * Datagrams handed to a socket and not yet sent, per socket, default 4096: past it new ones are
   * dropped. Stops a sender faster than the network from queueing unbounded memory in the kernel
   * binding.
   */
  maxPendingSends?: number
  /**
   * The kernel's receive and send buffer per socket, bytes (SO_RCVBUF / SO_SNDBUF); 0 (the default)
   * keeps the OS default, at most 64 MiB (the OS may cap it lower: net.core.rmem_max on Linux). The
   * cap stops a configuration from pinning unbounded kernel memory per socket. Linux's ~208 KiB
   * default drops datagrams when the reader is a few ms late (QUIC reads that as loss and halves its
   * window); a few MiB removes those drops (quic() asks for 4 MiB: bench/README.md "QUIC throughput").
   */
  socketBufferSize?: number
}

/** Largest `socketBufferSize` accepted. */
export const MAX_SOCKET_BUFFER_SIZE = 64 << 20

interface Bound {
  socket: Socket
  router: DatagramRouter
  family: 4 | 6
  pending: number
  conns: Map<object, UdpConnection>
  local: Multiaddr
  /** Bound by listen(): keeps the process alive; a dial socket does only while it has connections. */
  listener: boolean
  /** Called when `pending` drops to 0 (closeSocket waits for it). */
  drained?: (() => void) | undefined
}

/** Longest closeSocket waits for queued sends (a CONNECTION_CLOSE among them) before closing anyway. */
const CLOSE_DRAIN_MS = 250

/**
 * Closes `b`'s socket once the datagrams already handed to it have left (node:dgram sends
 * asynchronously, and closing drops what is still queued: the peers would never see our
 * CONNECTION_CLOSE and would wait for their idle timeout), or after CLOSE_DRAIN_MS.
 */
function closeSocket(b: Bound, done: () => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined
  const close = (): void => {
    b.drained = undefined
    clearTimeout(timer)
    try { b.socket.close(() => done()) } catch { done() }
  }
  if (b.pending === 0) { close(); return }
  timer = setTimeout(close, CLOSE_DRAIN_MS)
  b.drained = close
}

const t0 = performance.now()
const now = (): number => performance.now() - t0

function udpAddr(ip: string, port: number, protocol: string): Multiaddr {
  const v6 = ip.includes(':')
  if (v6 && ip.startsWith('::ffff:') && ip.includes('.')) return Multiaddr.fromString(`/ip4/${ip.slice(7)}/udp/${port}/${protocol}`)
  return Multiaddr.fromString(`/${v6 ? 'ip6' : 'ip4'}/${v6 ? ip.split('%')[0] : ip}/udp/${port}/${protocol}`)
}

/** `/ip4|ip6/<host>/udp/<port>/<protocol>[/p2p/<id>]` -> host and port, else undefined. */
function parse(addr: Multiaddr, protocol: string): { host: string; port: number; family: 4 | 6 } | undefined {
  const c = addr.components()
  if (c.length < 3) return undefined
  const [ip, udp, proto] = c
  if ((ip!.name !== 'ip4' && ip!.name !== 'ip6') || udp!.name !== 'udp' || proto!.name !== protocol) return undefined
  if (c.length > 4 || (c.length === 4 && c[3]!.name !== 'p2p')) return undefined
  return { host: ip!.value!, port: Number(udp!.value), family: ip!.name === 'ip4' ? 4 : 6 }
}

/** One connection over a shared socket: datagrams in, datagrams out. */
class UdpConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly session: unknown
  readonly datagrams = true
  #handlers: RawHandlers | undefined
  #queued: Uint8Array[] = []
  #closed = false
  /** Larger datagrams are dropped, not fragmented by the kernel (udp-mtu.ts): a QUIC PMTU probe above it is lost. */
  readonly #maxPayload: number
  constructor(readonly bound: Bound, readonly key: object, public to: UdpAddress, protocol: string, session: unknown) {
    this.remoteAddr = udpAddr(to.address, to.port, protocol)
    this.localAddr = bound.local
    this.session = session
    this.#maxPayload = maxUdpPayloadTo(to.address)
  }

  start(handlers: RawHandlers): void {
    this.#handlers = handlers
    const q = this.#queued
    this.#queued = []
    for (const d of q) if (!this.#closed) handlers.onData(d)
  }

  /** A datagram for this connection (queued until start()). */
  deliver(d: Uint8Array): void {
    if (this.#closed) return
    if (this.#handlers === undefined) {
      if (this.#queued.length < 16) this.#queued.push(d.slice())
      return
    }
    this.#handlers.onData(d)
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || data.length > this.#maxPayload) return true
    send(this.bound, data, this.to)
    return true
  }

  pause(): void {}
  resume(): void {}
  close(): void { this.#end(undefined) }
  destroy(error?: Error): void { this.#end(error) }

  #end(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.bound.conns.delete(this.key)
    if (this.bound.conns.size === 0 && !this.bound.listener) this.bound.socket.unref()
    this.bound.router.closed(this.key)
    const h = this.#handlers
    if (h !== undefined) queueMicrotask(() => h.onClose(error))
  }
}

function send(b: Bound, data: Uint8Array, to: UdpAddress): void {
  if (b.pending >= maxPending.get(b)!) return // dropped: QUIC sees loss
  b.pending++
  b.socket.send(data, to.port, to.address, () => {
    if (--b.pending === 0) b.drained?.()
  })
}
const maxPending = new WeakMap<Bound, number>()

/** The listening sockets of each transport `udpTransport` made (for `sendRawDatagram`). */
const listeningOf = new WeakMap<object, readonly Bound[]>()

/**
 * Sends `data` as one datagram, outside any connection, from `transport`'s (first) listening socket
 * of `to`'s address family to `to`: DCUtR's QUIC hole punch (random packets that open our NAT toward
 * the peer from the port the peer dials, spec/dcutr.md). Counted against `maxPendingSends` like any
 * send. false (nothing sent): not a transport of `udpTransport`, no listening socket of that family,
 * or the socket's pending sends are full.
 */
export function sendRawDatagram(transport: object, to: UdpAddress, data: Uint8Array): boolean {
  const family = to.address.includes(':') ? 6 : 4
  const b = listeningOf.get(transport)?.find((x) => x.family === family)
  if (b === undefined || b.pending >= maxPending.get(b)!) return false
  send(b, data, to)
  return true
}

/** A datagram transport on node:dgram (see the file comment). `udpTransport({ protocol: 'quic-v1', router })`. */
export function udpTransport(o: UdpTransportOptions): Transport & { close(): Promise<void> } {
  const listening: Bound[] = []
  const dialers = new Map<4 | 6, Promise<Bound>>()
  const limit = o.maxPendingSends ?? 4096
  const bufferSize = o.socketBufferSize ?? 0
  if (!Number.isInteger(bufferSize) || bufferSize < 0 || bufferSize > MAX_SOCKET_BUFFER_SIZE) {
    throw new RangeError(`socketBufferSize must be an integer in 0..${MAX_SOCKET_BUFFER_SIZE}, got ${bufferSize}`)
  }
  const sizes = bufferSize > 0 ? { recvBufferSize: bufferSize, sendBufferSize: bufferSize } : {}

  const bind = (host: string, port: number, family: 4 | 6, isListener: boolean): Promise<Bound> => new Promise((resolve, reject) => {
    const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: false, ...sizes })
    const onError = (e: unknown): void => reject(mapSocketError(e, `udp bind ${host}:${port}`))
    socket.once('error', onError)
    socket.bind(port, host, () => {
      socket.off('error', onError)
      const a = socket.address()
      const moved = (key: object, to: UdpAddress): void => { const c = b.conns.get(key); if (c !== undefined) c.to = { address: to.address, port: to.port } }
      const b: Bound = { socket, router: o.router(isListener, moved), family, pending: 0, conns: new Map(), local: udpAddr(a.address, a.port, o.protocol), listener: isListener }
      maxPending.set(b, limit)
      socket.on('error', () => { /* ICMP errors of one peer (ECONNREFUSED on Linux): QUIC's timers handle an unreachable peer */ })
      socket.on('message', (msg, rinfo) => onMessage(b, view(msg), rinfo, isListener ? listenerFor.get(b) : undefined))
      if (!isListener) socket.unref()
      resolve(b)
    })
  })
  const listenerFor = new WeakMap<Bound, (c: RawConnection) => void>()

  const onMessage = (b: Bound, data: Uint8Array, from: UdpAddress, onConnection: ((c: RawConnection) => void) | undefined): void => {
    let r: DatagramRoute
    try {
      r = b.router.route(now(), { address: from.address, port: from.port }, data)
    } catch {
      return // a bug in the router must not take the socket down; the datagram is lost
    }
    if (r.kind === 'deliver') b.conns.get(r.key)?.deliver(data)
    else if (r.kind === 'reply') send(b, r.data, from)
    else if (r.kind === 'accept') {
      if (onConnection === undefined) return b.router.closed(r.key)
      const c = new UdpConnection(b, r.key, { address: from.address, port: from.port }, o.protocol, r.session)
      b.conns.set(r.key, c)
      c.deliver(data)
      onConnection(c)
    }
  }

  const dialSocket = (family: 4 | 6): Promise<Bound> => {
    const l = listening.find((x) => x.family === family)
    if (l !== undefined) return Promise.resolve(l)
    let p = dialers.get(family)
    if (p === undefined) {
      p = bind(family === 4 ? '0.0.0.0' : '::', 0, family, false)
      dialers.set(family, p)
      p.catch(() => dialers.delete(family))
    }
    return p
  }

  const transport: Transport & { close(): Promise<void> } = {
    name: o.protocol,
    canDial: (addr) => parse(addr, o.protocol) !== undefined,
    canListen: (addr) => parse(addr, o.protocol) !== undefined && !addr.toString().includes('/p2p/'),
    async dial(addr, options) {
      const p = parse(addr, o.protocol)
      if (p === undefined) throw new TransportError('transport/unsupported', `udp cannot dial ${addr.toString()}`)
      if (options?.signal?.aborted === true) throw new TransportError('transport/aborted', 'dial aborted')
      const b = await dialSocket(p.family)
      const to = { address: p.host, port: p.port }
      const { key, session } = b.router.dial(now(), to)
      const c = new UdpConnection(b, key, to, o.protocol, session)
      b.conns.set(key, c)
      b.socket.ref()
      return c
    },
    async listen(addr, onConnection): Promise<TransportListener> {
      const p = parse(addr, o.protocol)
      if (p === undefined) throw new TransportError('transport/unsupported', `udp cannot listen on ${addr.toString()}`)
      const b = await bind(p.host, p.port, p.family, true)
      listenerFor.set(b, onConnection)
      listening.push(b)
      const port = b.socket.address().port
      const addrs = expandUnspecified(p.host, port, '').map((m) => {
        const s = m.toString()
        return Multiaddr.fromString(`${s.slice(0, s.lastIndexOf('/tcp/'))}/udp/${port}/${o.protocol}`)
      })
      return {
        addrs,
        close: () => new Promise<void>((resolve) => {
          listenerFor.delete(b)
          const i = listening.indexOf(b)
          if (i >= 0) listening.splice(i, 1)
          // connections on it end with it (the swarm closed them first on stop)
          for (const c of [...b.conns.values()]) c.destroy(new TransportError('transport/failed', 'the UDP socket closed'))
          closeSocket(b, resolve)
        }),
      }
    },
    async close() {
      for (const p of dialers.values()) {
        const b = await p.catch(() => undefined)
        if (b !== undefined) await new Promise<void>((resolve) => closeSocket(b, resolve))
      }
      dialers.clear()
    },
  }
  listeningOf.set(transport, listening)
  return transport
}
