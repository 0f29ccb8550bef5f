/**
 * TCP transport (Node `net`): `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, TCP_NODELAY on.
 *
 * Read path: every TCP connection of the process reads into one shared 256 KiB buffer (Node's
 * `onread` option) instead of a fresh 64 KiB Buffer per read. That is safe because a read is
 * handed to `onData` synchronously and the cores never keep a reference to their input (they copy
 * what they keep: ReadBuffer, Noise's partial-frame scratch buffer), and one thread means no two
 * reads overlap. It spares one allocation (and its GC) per read, and a read carries up to four
 * 65,537-byte Noise frames instead of splitting nearly every one of them.
 *
 * Who relies on what: the bytes reach Noise as views of the shared buffer, and Noise hands the
 * provider's plaintext up as owned, so the shared buffer is safe with any CryptoProvider that honours
 * its written contract (fresh outputs; src/core/crypto/provider.ts), and Noise checks that contract.
 * `tcp({ sharedReadBuffer: false })` turns the fast path off (a fresh Buffer per read, Node's
 * 'data' events) for anyone who would rather not depend on it.
 *
 * Accepted sockets reach the shared buffer through Node internals (see useSharedReadBuffer). That
 * part is enabled only on the Node majors it was tested on (NODE_MAJORS_TESTED); on any other
 * version accepted sockets use 'data' events, so a Node that changed the internals' semantics
 * without renaming them cannot corrupt data. Dialled sockets use the public `onread` option.
 */
import * as net from 'node:net'
import type { Multiaddr } from '../multiaddr/index.js'
import { expandUnspecified, ipMultiaddr, mapSocketError, view, withDeadline } from './net-util.js'
import { TransportError, type DialOptions, type RawConnection, type RawHandlers, type Transport, type TransportListener } from './transport.js'

/** Size of the shared read buffer: the most one read returns. */
export const READ_BUFFER_SIZE = 256 * 1024
let sharedReadBuffer: Uint8Array | undefined
const readBuffer = (): Uint8Array => (sharedReadBuffer ??= new Uint8Array(READ_BUFFER_SIZE))

/**
 * Bytes a socket queues before write() reports it full (Node's default is 16 KiB). The runtime
 * corks the socket while it moves a connection's output, so everything written up to this mark
 * leaves in one writev: Noise sends a large frame as three pieces (prefix, ciphertext, tag).
 */
const WRITE_HIGH_WATER_MARK = 1024 * 1024

type ReadSink = (data: Uint8Array) => void

/** Node majors on which accepted sockets were tested with the internals below (test/tcp-read.test.ts). */
export const NODE_MAJORS_TESTED: readonly number[] = [20, 22, 24]
const nodeMajor = Number((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node?.split('.')[0])
const internalsTrusted = NODE_MAJORS_TESTED.includes(nodeMajor)

/** Options of the `tcp()` transport. */
export interface TcpOptions {
  /**
   * Read every connection into one shared 256 KiB buffer (default true). false: a fresh Buffer per
   * read ('data' events), about 25% more receiver CPU at high throughput (bench/README.md).
   */
  sharedReadBuffer?: boolean
  /**
   * The punch port for TCP hole punching (DCUtR, spec/hole-punching.md): every outbound dial leaves
   * from this local port (bound with SO_REUSEADDR, which libuv sets on every bind; on Linux
   * non-listening sockets may share it as long as their 4-tuples differ), so every observer sees the
   * same NAT mapping and the punch dial reuses it. A dial whose bind or connect fails with
   * EADDRINUSE (a listener holds the port) or EADDRNOTAVAIL (that 4-tuple is open or in TIME_WAIT)
   * is retried at once from an ephemeral port. `'auto'`: the first outbound dial binds port 0 and
   * the port the kernel picks becomes the punch port. Default: none (ephemeral ports, as before).
   * Never listen on the punch port: Node 20 cannot dial from a listening port.
   */
  punchPort?: number | 'auto'
}

/** The TCP transport; `punchPort` tells the punch port in use (see TcpOptions.punchPort). */
export interface TcpTransport extends Transport {
  /** The punch port: the configured one, the one `'auto'` picked (undefined before the first dial), or undefined when off. */
  readonly punchPort: number | undefined
  /** Outbound dials that fell back to an ephemeral port because the punch port could not be used. */
  readonly punchPortFallbacks: number
}

/**
 * An accepted socket cannot be given `onread` through the public API (net.Server has no such
 * option), so the listener sets the same two fields that `onread` sets on a dialled socket and
 * points the handle at the shared buffer, before the first read (the server pauses on connect).
 * Should a Node version lack them, the socket keeps ordinary 'data' events: false is returned.
 */
function useSharedReadBuffer(socket: net.Socket, callback: (n: number, buf: Uint8Array) => boolean): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle
  if (typeof handle?.useUserBuffer !== 'function') return false
  const own = Object.getOwnPropertySymbols(socket)
  const kBuffer = own.find((k) => k.description === 'kBuffer')
  const kBufferCb = own.find((k) => k.description === 'kBufferCb')
  if (kBuffer === undefined || kBufferCb === undefined) return false
  const fields = socket as unknown as Record<symbol, unknown>
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null) return false
  const buf = readBuffer()
  fields[kBuffer] = buf
  fields[kBufferCb] = callback
  handle.useUserBuffer(buf)
  return true
}

/**
 * For src/io/ws.ts: an accepted socket (paused since connect, never read) reads into the shared
 * buffer, `callback` getting each read as in TcpConnection.deliver. False (the socket keeps 'data'
 * events) when this Node's internals are untrusted or absent.
 */
export function acceptIntoSharedReadBuffer(socket: net.Socket, callback: (n: number, buf: Uint8Array) => boolean): boolean {
  return internalsTrusted && useSharedReadBuffer(socket, callback)
}

class TcpConnection implements RawConnection {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly #socket: net.Socket
  /** Set when reads arrive through the shared buffer (`onread`) rather than as 'data' events. */
  readonly #sharedReads: boolean
  #sink: ReadSink | undefined
  /** Copies of reads that arrived before start() (none expected: the socket is paused until then). */
  #early: Uint8Array[] = []
  #paused = false

  /**
   * `sharedReads`: the socket was dialled with `onread` whose callback calls `deliver`;
   * `tryShared`: an accepted socket may be switched to the shared buffer.
   */
  constructor(socket: net.Socket, sharedReads: boolean, tryShared: boolean, localAddr: (s: net.Socket) => Multiaddr | undefined = localMultiaddr) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.pause()
    this.#sharedReads = sharedReads || (tryShared && internalsTrusted && useSharedReadBuffer(socket, (n, buf) => this.deliver(n, buf)))
    this.remoteAddr = ipMultiaddr(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0, socket.remoteFamily)
    this.localAddr = localAddr(socket)
  }

  /**
   * One read of `n` bytes into the shared buffer; the bytes are only valid during this call.
   * Returns false (Node then stops reading) while paused: Node's stream machinery may start one
   * more read after pause() (a resume scheduled earlier runs `read(0)`), and a read already made
   * cannot be held back in a buffer we hand out again, so it is delivered. Backpressure thus lets
   * through at most one read (READ_BUFFER_SIZE) per resume beyond the pause.
   */
  deliver(n: number, buf: Uint8Array): boolean {
    if (this.#sink !== undefined) this.#sink(buf.subarray(0, n))
    else this.#early.push(buf.slice(0, n)) // the shared buffer is reused by the next read: keep a copy
    return !this.#paused
  }

  start(h: RawHandlers): void {
    const s = this.#socket
    if (this.#sharedReads) {
      this.#sink = (data) => h.onData(data)
      for (const early of this.#early.splice(0)) h.onData(early)
    } else s.on('data', (b: Buffer) => h.onData(view(b)))
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

  cork(): void {
    this.#socket.cork()
  }

  uncork(): void {
    this.#socket.uncork()
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
    const s = this.#socket
    s.end()
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => s.destroy(), 2_000).unref()
  }

  destroy(error?: Error): void {
    this.#socket.destroy(error)
  }
}

function localMultiaddr(socket: net.Socket): Multiaddr | undefined {
  return socket.localAddress === undefined ? undefined : ipMultiaddr(socket.localAddress, socket.localPort ?? 0, socket.localFamily)
}

/**
 * A listener's accepted sockets share one Multiaddr per local address (Multiaddr is immutable): a
 * parsed address per connection cost ~0.6 KiB, 6 MB over 10,000 inbound connections to one port.
 * Bounded: a listener on 0.0.0.0 sees one local address per interface.
 */
function sharedLocalMultiaddr(): (socket: net.Socket) => Multiaddr | undefined {
  const seen = new Map<string, Multiaddr | undefined>()
  return (socket) => {
    const key = `${socket.localAddress}|${socket.localPort}|${socket.localFamily}`
    if (seen.has(key)) return seen.get(key)
    const addr = localMultiaddr(socket)
    if (seen.size < 64) seen.set(key, addr)
    return addr
  }
}

function tcpTarget(addr: Multiaddr): { host: string; port: number } | undefined {
  const t = addr.toDialTarget()
  if (t === undefined || t.transport !== 'tcp') return undefined
  return { host: t.host, port: t.port }
}

/** The wildcard address to bind a dial's punch port on, by the target's family (undefined: let Node pick). */
function bindHost(addr: Multiaddr): string | undefined {
  const first = addr.protos()[0]?.name
  if (first === 'ip4' || first === 'dns4') return '0.0.0.0'
  if (first === 'ip6' || first === 'dns6') return '::'
  return undefined
}

/** The punch port cannot be used for this dial: another 4-tuple or a listener holds it. */
function punchPortBusy(e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL'
}

function checkPunchPort(p: number | 'auto' | undefined): number | 'auto' | undefined {
  if (p === undefined || p === 'auto') return p
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`punchPort must be 'auto' or an integer in [1, 65535], got ${String(p)}`)
  return p
}

/**
 * The TCP transport of `weft/node` (`node:net`): dials and listens on `/ip4/<a>/tcp/<port>` (also ip6, dns, dns4, dns6).
 * Dial failures are `TransportError`s. The punch port (`punchPort`) lets DCUtR hole-punch from the
 * listening port (spec/dcutr.md).
 */
export function tcp(options: TcpOptions = {}): TcpTransport {
  const shared = options.sharedReadBuffer ?? true
  const configured = checkPunchPort(options.punchPort)
  let punchPort = configured === 'auto' ? undefined : configured
  let fallbacks = 0
  return {
    name: 'tcp',
    get punchPort() { return punchPort },
    get punchPortFallbacks() { return fallbacks },
    canDial: (addr) => tcpTarget(addr) !== undefined,
    canListen: (addr) => tcpTarget(addr) !== undefined,
    dial(addr: Multiaddr, options: DialOptions = {}): Promise<RawConnection> {
      const t = tcpTarget(addr)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `tcp cannot dial ${addr.toString()}`))
      return withDeadline<RawConnection>(`dial ${addr.toString()}`, options.timeout ?? 10_000, options.signal, (done) => {
        let socket: net.Socket | undefined
        // `local`: bind this port first (0: any, then it becomes the 'auto' punch port); undefined: ephemeral.
        const attempt = (local: number | undefined): void => {
          let conn: TcpConnection | undefined
          const onread = shared ? { buffer: readBuffer, callback: (n: number, buf: Uint8Array): boolean => conn?.deliver(n, buf) ?? true } : undefined
          const host = local === undefined ? undefined : bindHost(addr)
          const bind = local === undefined || host === undefined ? {} : { localAddress: host, localPort: local }
          const s = (socket = net.connect({ host: t.host, port: t.port, onread, writableHighWaterMark: WRITE_HIGH_WATER_MARK, ...bind } as unknown as net.NetConnectOpts))
          s.once('connect', () => {
            if (local === 0 && punchPort === undefined && s.localPort !== undefined) punchPort = s.localPort
            done(undefined, (conn = new TcpConnection(s, shared, false)))
          })
          s.once('error', (e) => {
            if (local !== undefined && punchPortBusy(e) && socket === s) {
              fallbacks++
              return attempt(undefined)
            }
            done(mapSocketError(e, `dial ${addr.toString()}`))
          })
        }
        attempt(punchPort ?? (configured === 'auto' ? 0 : undefined))
        return () => socket?.destroy()
      })
    },
    listen(addr: Multiaddr, onConnection: (c: RawConnection) => void): Promise<TransportListener> {
      const t = tcpTarget(addr)
      if (t === undefined) return Promise.reject(new TransportError('transport/unsupported', `tcp cannot listen on ${addr.toString()}`))
      return new Promise((resolve, reject) => {
        const local = sharedLocalMultiaddr()
        const server = net.createServer({ noDelay: true, pauseOnConnect: true, highWaterMark: WRITE_HIGH_WATER_MARK }, (socket) => onConnection(new TcpConnection(socket, false, shared, local)))
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
