/**
 * The IO driver: the one place where sockets, timers and the clock meet the pure cores.
 *
 * It drives anything shaped like the swarm (`SwarmPort`, structural so io/ depends on no protocol):
 * after every input or command it
 *   1. performs IO actions (`connect` -> transport dial, `close` -> flush and close a socket),
 *   2. writes every dirty connection's bytes until the socket pushes back (then waits for drain) or
 *      WRITE_QUANTUM bytes went (then writes on after the event loop has turned),
 *   3. hands events to the node edge,
 *   4. pauses sockets whose core does not want data and resumes those that do again (looking only
 *      at the connections this flush touched and the paused ones, so its cost does not grow with the
 *      number of idle connections),
 *   5. arms exactly one timer for the earliest deadline.
 *
 * Containment: no exception reaches a socket callback, a promise or a timer. An exception while
 * handling one connection's input (a read, an EOF, a drain, a dial that completed) destroys that
 * connection's transport, tells the swarm it is gone, and is reported through `onError`; the other
 * connections keep serving. So no remote peer can cause an uncaughtException or an
 * unhandledRejection. (The swarm contains its own cores and behaviours first; this is the last line.)
 */
import type { Millis } from '../core/byte-machine.js'
import { InternalError } from '../core/errors.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { TransportError, type RawConnection, type Transport, type TransportListener } from './transport.js'

export interface SwarmPort<Ev> {
  /** `session`: RawConnection.session (a transport with its own secure, multiplexed session: QUIC). */
  handleInbound(now: Millis, remoteAddr: Multiaddr, localAddr: Multiaddr | undefined, session?: unknown): number | undefined
  handleConnected(now: Millis, id: number, localAddr: Multiaddr | undefined, session?: unknown): void
  handleConnectFailed(now: Millis, id: number, error: Error): void
  handleData(now: Millis, id: number, data: Uint8Array): void
  handleEof(now: Millis, id: number): void
  handleTransportClosed(now: Millis, id: number, error?: Error): void
  handleTimeout(now: Millis): void
  wantsData(id: number): boolean
  pollIo(): { type: 'connect'; connection: number; addr: Multiaddr } | { type: 'close'; connection: number; abort?: boolean } | undefined
  pollDirty(): number | undefined
  pollTransmit(id: number, max: number): Uint8Array | undefined
  pollEvent(): Ev | undefined
  pollTimeout(): Millis | undefined
}

export interface RuntimeOptions<Ev> {
  transports: Transport[]
  onEvent: (event: Ev) => void
  /**
   * An exception escaped the swarm while handling connection `connection` (destroyed since) or a
   * timer (`connection` undefined). Default: ignored.
   */
  onError?: (error: Error, connection: number | undefined) => void
  /** Transport dial timeout in ms, default 10_000. */
  dialTimeout?: number
}

/** Largest single read from a core per socket write; Noise coalesces frames up to this. */
const TRANSMIT_CHUNK = 256 * 1024

/**
 * Bytes one connection moves to its socket before the runtime lets the event loop turn (reads of
 * every connection, timers) and goes on after it (afterLoopTurn). A socket that keeps accepting (loopback,
 * a fast peer) and a core with window to spend would otherwise hold the loop for as long as its
 * windows last: 16 yamux streams with up to 4 MiB of window each. `weft perf --streams 16`, 1 GiB
 * each way, the client's event-loop delay (monitorEventLoopDelay): p99 47-62 ms and max 81-139 ms
 * without a quantum, 29-31 / 48-59 with 16 MiB, 15-16 / 24-26 with 4 MiB (1 stream: 20-23 / 33-35
 * -> 14-15 / 21-31). Throughput is unchanged within the noise (bench/README.md, "16 streams").
 * Counted since the socket last pushed back or the connection last yielded, not per turn: so no turn
 * moves more than this, and a connection that wrote a little in many turns may yield once before a
 * turn moved that much (one more turn of the loop, nothing else).
 * Stream connections only: a datagram connection's output is bounded by its congestion window and
 * pacer already, and yielding it cost QUIC throughput (1 GiB up, 6 interleaved rounds: 358.8 ->
 * 319.2 MB/s, CPU 4.61 -> 5.15 ms/MB).
 */
export const WRITE_QUANTUM = 4 * 1024 * 1024

/** Run `f` once the event loop has turned: setImmediate in Node (after the poll phase's input), a 0 ms timer where there is none (browsers). */
function afterLoopTurn(f: () => void): void {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate
  if (immediate !== undefined) immediate(f)
  else setTimeout(f, 0)
}

interface Live {
  raw: RawConnection
  blocked: boolean
  /** Bytes written since the socket last pushed back or the connection last yielded. */
  sent: number
  /** WRITE_QUANTUM reached: writing resumes once the event loop has turned. */
  yielded: boolean
  paused: boolean
  /** A close was requested: keep reading (and discarding) until the remote's EOF arrives. */
  closing: boolean
}

/**
 * A long burst of datagrams is also flushed every this many datagrams, so the peer keeps getting
 * ACKs while we read (one ACK per whole burst, up to libuv's 32 reads, made the sender wait for
 * it: 1 GiB over QUIC on loopback went from ~280 to ~360 MB/s with 8; bench/README.md).
 */
export const DATAGRAM_BURST_FLUSH = 8

export class Runtime<Ev> {
  readonly #swarm: SwarmPort<Ev>
  readonly #opts: RuntimeOptions<Ev>
  readonly #live = new Map<number, Live>()
  readonly #dialing = new Map<number, AbortController>()
  readonly #listeners: TransportListener[] = []
  /**
   * Connections whose wish for data may have changed since the last flush: those that had input, a
   * drain or bytes to write. With the paused ones, the only connections the end of a flush looks at,
   * so the cost of a flush does not grow with the number of idle connections.
   */
  readonly #touched = new Set<number>()
  readonly #paused = new Set<number>()
  readonly #t0 = performance.now()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt: Millis | undefined
  #flushing = false
  #again = false
  /** A flush is scheduled by #flushSoon. */
  #soon = false
  /** Datagrams handled since the last flush. */
  #burst = 0
  #stopped = false

  constructor(swarm: SwarmPort<Ev>, opts: RuntimeOptions<Ev>) {
    this.#swarm = swarm
    this.#opts = opts
  }

  /** Monotonic milliseconds since the runtime started. */
  now(): Millis {
    return performance.now() - this.#t0
  }

  /** Run a command against the swarm, then drive everything it caused. */
  run<T>(command: (now: Millis) => T): T {
    const out = command(this.now())
    this.flush()
    return out
  }

  async listen(addr: Multiaddr): Promise<readonly Multiaddr[]> {
    const t = this.#opts.transports.find((x) => x.canListen(addr))
    if (t === undefined) throw new TransportError('transport/unsupported', `no transport can listen on ${addr.toString()}`)
    const l = await t.listen(addr, (raw) => this.#accept(raw))
    this.#listeners.push(l)
    return l.addrs
  }

  #accept(raw: RawConnection): void {
    if (this.#stopped) return raw.destroy()
    let id: number | undefined
    try {
      id = this.#swarm.handleInbound(this.now(), raw.remoteAddr, raw.localAddr, raw.session)
    } catch (e) {
      raw.destroy()
      return this.#fail(undefined, e)
    }
    if (id === undefined) return raw.destroy() // over a connection limit
    this.#attach(id, raw)
    this.#touched.add(id)
    this.#contained(id, () => this.flush())
  }

  /** Run `f` for connection `id`; an exception from it fails that connection alone. */
  #contained(id: number | undefined, f: () => void): void {
    try {
      f()
    } catch (e) {
      this.#fail(id, e)
    }
  }

  /** Destroy connection `id`'s transport, tell the swarm it is gone, report `e`, drive the rest. */
  #fail(id: number | undefined, e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e))
    if (id !== undefined) {
      const live = this.#live.get(id)
      this.#live.delete(id)
      live?.raw.destroy()
      this.#dialing.get(id)?.abort()
      this.#dialing.delete(id)
    }
    try {
      this.#opts.onError?.(error, id)
    } catch {
      // a throwing error listener must not undo the containment
    }
    try {
      if (id !== undefined) this.#swarm.handleTransportClosed(this.now(), id, error instanceof InternalError ? error : new InternalError('runtime/internal-error', error))
      this.flush()
    } catch (again) {
      // The swarm failed again: give up on this input; the next one drives it.
      if (again !== e && id !== undefined) {
        try { this.#opts.onError?.(again instanceof Error ? again : new Error(String(again)), id) } catch { /* see above */ }
      }
    }
  }

  #attach(id: number, raw: RawConnection): void {
    const live: Live = { raw, blocked: false, sent: 0, yielded: false, paused: false, closing: false }
    this.#live.set(id, live)
    raw.start({
      onData: (data) => this.#contained(id, () => {
        this.#touched.add(id)
        this.#swarm.handleData(this.now(), id, data)
        if (raw.datagrams === true && ++this.#burst < DATAGRAM_BURST_FLUSH) this.#flushSoon()
        else this.flush()
      }),
      onEnd: () => this.#contained(id, () => {
        this.#touched.add(id)
        this.#swarm.handleEof(this.now(), id)
        this.flush()
      }),
      onDrain: () => this.#contained(id, () => {
        this.#touched.add(id)
        live.blocked = false
        this.#write(id, live)
        this.flush()
      }),
      onClose: (error) => this.#contained(undefined, () => {
        if (this.#live.get(id) === live) {
          this.#live.delete(id)
          this.#paused.delete(id)
        }
        this.#swarm.handleTransportClosed(this.now(), id, error)
        this.flush()
      }),
    })
  }

  /** One flush after the current burst of socket events (setImmediate runs after libuv's poll phase). */
  #flushSoon(): void {
    if (this.#soon) return
    this.#soon = true
    afterLoopTurn(() => {
      this.#soon = false
      if (!this.#stopped) this.#contained(undefined, () => this.flush())
    })
  }

  /** Drive the swarm until it is quiet. Re-entrant calls are folded into the running one. */
  flush(): void {
    this.#burst = 0
    if (this.#flushing) {
      this.#again = true
      return
    }
    this.#flushing = true
    try {
      do {
        this.#again = false
        this.#flushOnce()
      } while (this.#again)
    } finally {
      this.#flushing = false
    }
    this.#arm()
  }

  #flushOnce(): void {
    const s = this.#swarm
    // Writing can complete a graceful close (a `close` action) and events can run user code that
    // issues commands, so repeat until IO, writes and events are all quiet.
    for (let progressed = true; progressed;) {
      progressed = false
      for (let io = s.pollIo(); io !== undefined; io = s.pollIo()) {
        progressed = true
        if (io.type === 'connect') this.#connect(io.connection, io.addr)
        else if (io.abort === true) this.#abort(io.connection)
        else this.#close(io.connection)
      }
      for (let id = s.pollDirty(); id !== undefined; id = s.pollDirty()) {
        progressed = true
        this.#touched.add(id)
        const live = this.#live.get(id)
        if (live !== undefined) this.#write(id, live)
      }
      for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) {
        progressed = true
        this.#opts.onEvent(ev)
      }
    }
    for (const id of this.#touched) this.#pauseOrResume(id)
    this.#touched.clear()
    for (const id of this.#paused) this.#pauseOrResume(id)
  }

  #pauseOrResume(id: number): void {
    const live = this.#live.get(id)
    if (live === undefined) return void this.#paused.delete(id)
    const wants = live.closing || this.#swarm.wantsData(id)
    if (!wants && !live.paused) {
      live.paused = true
      this.#paused.add(id)
      live.raw.pause()
    } else if (wants && live.paused) {
      live.paused = false
      this.#paused.delete(id)
      live.raw.resume()
    }
  }

  /** Move a connection's output to its socket until the socket is full or WRITE_QUANTUM bytes went;
   * corked, so the pieces (Noise sends large frames as prefix, ciphertext, tag) leave in one writev. */
  #write(id: number, live: Live): void {
    if (live.blocked || live.yielded) return
    const raw = live.raw
    raw.cork?.()
    try {
      for (let b = this.#swarm.pollTransmit(id, TRANSMIT_CHUNK); b !== undefined; b = this.#swarm.pollTransmit(id, TRANSMIT_CHUNK)) {
        if (!raw.write(b)) {
          live.blocked = true
          live.sent = 0
          return
        }
        if (!raw.datagrams && (live.sent += b.length) >= WRITE_QUANTUM) return this.#yieldWrites(id, live)
      }
    } finally {
      raw.uncork?.()
    }
  }

  /** Let the event loop turn (input, timers, other connections), then write on. */
  #yieldWrites(id: number, live: Live): void {
    live.yielded = true
    live.sent = 0
    afterLoopTurn(() => {
      live.yielded = false
      if (this.#stopped || this.#live.get(id) !== live) return
      this.#contained(id, () => {
        this.#touched.add(id)
        this.#write(id, live)
        this.flush()
      })
    })
  }

  #connect(id: number, addr: Multiaddr): void {
    const t = this.#opts.transports.find((x) => x.canDial(addr))
    if (t === undefined) {
      queueMicrotask(() => this.#contained(id, () => {
        this.#swarm.handleConnectFailed(this.now(), id, new TransportError('transport/unsupported', `no transport can dial ${addr.toString()}`))
        this.flush()
      }))
      return
    }
    const ac = new AbortController()
    this.#dialing.set(id, ac)
    t.dial(addr, { signal: ac.signal, timeout: this.#opts.dialTimeout ?? 10_000 }).then(
      (raw) => {
        // An attempt abandoned meanwhile (a cancelled dial, an internal error) is no longer dialing.
        const abandoned = this.#dialing.get(id) !== ac
        this.#dialing.delete(id)
        if (this.#stopped || abandoned) {
          raw.destroy()
          if (abandoned) {
            this.#contained(id, () => {
              this.#swarm.handleConnectFailed(this.now(), id, new TransportError('transport/aborted', 'the dial was abandoned'))
              this.flush()
            })
          }
          return
        }
        // The swarm creates the connection core first: a transport may deliver buffered bytes
        // synchronously from start() (the browser WebSocket does), and they must find the core.
        this.#contained(id, () => {
          this.#swarm.handleConnected(this.now(), id, raw.localAddr, raw.session)
          this.#attach(id, raw)
          this.#touched.add(id)
          this.flush()
        })
        if (!this.#live.has(id)) raw.destroy()
      },
      (error: Error) => this.#contained(id, () => {
        if (this.#dialing.get(id) === ac) this.#dialing.delete(id)
        this.#swarm.handleConnectFailed(this.now(), id, error)
        this.flush()
      }),
    )
  }

  /** Destroy a transport at once (the swarm dropped the connection after an internal error). */
  #abort(id: number): void {
    const live = this.#live.get(id)
    this.#live.delete(id)
    live?.raw.destroy()
    this.#dialing.get(id)?.abort()
    this.#dialing.delete(id)
  }

  #close(id: number): void {
    const live = this.#live.get(id)
    if (live === undefined) {
      this.#dialing.get(id)?.abort()
      this.#dialing.delete(id)
      return
    }
    live.closing = true
    if (live.paused) {
      live.paused = false
      this.#paused.delete(id)
      live.raw.resume()
    }
    // Write what is left (a GoAway) before closing.
    for (let b = this.#swarm.pollTransmit(id, TRANSMIT_CHUNK); b !== undefined; b = this.#swarm.pollTransmit(id, TRANSMIT_CHUNK)) live.raw.write(b)
    live.raw.close()
  }

  /**
   * Run `f` in `delay` ms, in a task of its own (not inside a flush, nor in the microtasks right
   * after one): work that may wait and should not compete with connections' input, such as the
   * Noise keys made ahead (src/noise/key-pool.ts). Nothing after stop(); an exception from `f` is
   * reported through `onError`, like any other; the timer never keeps the process alive.
   */
  defer(f: () => void, delay: number): void {
    if (this.#stopped) return
    const t = setTimeout(() => {
      if (!this.#stopped) this.#contained(undefined, f)
    }, delay)
    t.unref?.()
  }

  #arm(): void {
    if (this.#stopped) return
    const t = this.#swarm.pollTimeout()
    if (t === this.#timerAt) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = t
    if (t === undefined) return
    const delay = Math.max(0, Math.ceil(t - this.now()))
    this.#timer = setTimeout(() => this.#contained(undefined, () => {
      this.#timer = undefined
      this.#timerAt = undefined
      this.#swarm.handleTimeout(this.now())
      this.flush()
    }), delay)
    // Timers never keep the process alive on their own: sockets and listeners do.
    this.#timer.unref?.()
  }

  /** Stop listening, close every connection (after the swarm's graceful close), clear the timer. */
  async stop(): Promise<void> {
    this.flush()
    await Promise.all(this.#listeners.map((l) => l.close()))
    this.#listeners.length = 0
    for (const ac of this.#dialing.values()) ac.abort()
    // Give graceful closes (GoAway) a moment, then tear down what is left.
    const deadline = Date.now() + 1_000
    while (this.#live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    for (const live of this.#live.values()) live.raw.destroy()
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
  }
}
