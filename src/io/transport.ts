/**
 * The transport contract: how bytes get between two machines. Everything protocol-shaped happens
 * above, in the swarm; a transport only moves bytes and reports the end of the stream.
 */
import type { Multiaddr } from '../multiaddr/index.js'

export interface RawHandlers {
  /** Bytes received: a VIEW that is only valid during the call. The transport may reuse the memory
   * for its next read (TCP's shared read buffer does), so anything kept past the call must be
   * copied. The receiver must not write into it. */
  onData(data: Uint8Array): void
  /** The remote closed its write side (TCP FIN / WebSocket close). */
  onEnd(): void
  /** The connection is gone; `error` when it failed rather than closed. */
  onClose(error?: Error): void
  /** A write that returned false has been flushed; writing may continue. */
  onDrain(): void
}

/**
 * A raw byte stream a transport opened or accepted (a TCP socket, a WebSocket), before the upgrade; the node drives it with `RawHandlers`.
 */
export interface RawConnection {
  /** The remote's address (as seen from here). */
  readonly remoteAddr: Multiaddr
  /** Our local address of the connection, when the transport knows it. */
  readonly localAddr: Multiaddr | undefined
  /**
   * Set by a transport that brings its own security and streams (QUIC: src/io/udp.ts): what the
   * swarm builds the connection core from instead of the Noise/TLS + yamux upgrade. Its bytes are
   * then that core's (whole datagrams for QUIC).
   */
  readonly session?: unknown
  /**
   * Set by a datagram transport (src/io/udp.ts): data events come in bursts (libuv reads many
   * datagrams per socket wake-up), so the runtime drives the swarm once after the burst, not once
   * per datagram: one ACK for the burst, one timer re-arm, one batch of writes.
   */
  readonly datagrams?: boolean
  /** Start delivering events. Called once, right after the connection is handed over. */
  start(handlers: RawHandlers): void
  /** Queue bytes; false = the transport's buffer is full, wait for onDrain. The transport may keep
   * a reference to `data` until it is sent, so the caller hands it over: it must not write into
   * those bytes after the call (weft's cores return bytes they never touch again). */
  write(data: Uint8Array): boolean
  /** Optional: hold the writes that follow until uncork(), then send them together (one writev). */
  cork?(): void
  /** Send the writes held since `cork()` together. */
  uncork?(): void
  /** Stop/start reading (backpressure from the cores). */
  pause(): void
  /** Start reading again after `pause()`. */
  resume(): void
  /** Flush and close gracefully. */
  close(): void
  /** Close at once. */
  destroy(error?: Error): void
}

/** What `Transport.listen` returns: the bound addresses and a way to stop. */
export interface TransportListener {
  /** The addresses actually bound (port 0 resolved, unspecified hosts expanded). */
  readonly addrs: readonly Multiaddr[]
  /** Stop accepting connections; resolves once the listening socket is closed. */
  close(): Promise<void>
}

export interface DialOptions {
  signal?: AbortSignal | undefined
  /** ms, default 10_000 */
  timeout?: number | undefined
}

/**
 * A transport: opens raw byte streams to multiaddrs it can dial, and accepts them on multiaddrs it can listen on.
 * Pass your own in `createNode({ transports })`. Failures are `TransportError`s.
 */
export interface Transport {
  /** A short name for logs and metrics (`'tcp'`, `'ws'`, ...). */
  readonly name: string
  /** True when this transport can dial `addr` (e.g. `/ip4/.../tcp/...` for TCP). */
  canDial(addr: Multiaddr): boolean
  /** True when this transport can listen on `addr`. */
  canListen(addr: Multiaddr): boolean
  /**
   * Open a raw connection to `addr`; rejects with a `TransportError` (refused, unreachable, timeout, aborted by `options.signal`).
   */
  dial(addr: Multiaddr, options?: DialOptions): Promise<RawConnection>
  /** Listen on `addr` (port 0: any free port); `onConnection` receives each accepted raw connection. */
  listen(addr: Multiaddr, onConnection: (conn: RawConnection) => void): Promise<TransportListener>
}

/** Transport errors are local facts (refused, unreachable, timed out), not protocol violations. */
export class TransportError extends Error {
  override readonly name = 'TransportError'
  /**
   * Why the network operation failed: refused, timed out, aborted, unreachable, address in use, an address this transport cannot handle, or another failure.
   */
  readonly code: 'transport/refused' | 'transport/timeout' | 'transport/aborted' | 'transport/unreachable' | 'transport/address-in-use' | 'transport/unsupported' | 'transport/failed'
  constructor(code: TransportError['code'], message?: string, options?: { cause?: unknown }) {
    // no message (browser builds drop the texts: scripts/strip-messages.mjs): the code alone
    super(message === undefined ? code : `${code}: ${message}`, options)
    this.code = code
  }
}
