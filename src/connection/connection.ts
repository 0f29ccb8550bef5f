/**
 * One libp2p connection as a sans-IO core (a ByteMachine): the facade over its two state machines.
 *
 *   raw bytes ── multistream-select (/noise) ── Noise XX ── [multistream-select (/yamux/1.0.0)] ── yamux
 *                                                                  └ skipped when both sides listed
 *                                                                    /yamux/1.0.0 in the Noise
 *                                                                    extensions (early muxer negotiation)
 *
 * - upgrade.ts: everything up to the agreed muxer (security negotiation, Noise handshake, muxer
 *   negotiation);
 * - streams.ts: every yamux stream's own protocol negotiation and its error boundary;
 * - this file: the phases (upgrading, open, closed), the byte path through Noise and yamux, the
 *   connection's error boundary, and the commands.
 *
 * The core owns no socket and no timer: the driver feeds raw bytes (`handleData`), drains raw
 * bytes (`pollTransmit`), events (`pollEvent`) and a deadline (`pollTimeout`), exactly like every
 * other ByteMachine. Nothing remote input causes is ever thrown at the driver:
 * - a stream's failure is that stream's (streams.ts);
 * - a ProtocolError of the connection (upgrade, Noise, yamux) ends it: GoAway 1 if yamux is up, then a
 *   `closed` event carrying the error (after the GoAway has been flushed);
 * - any other exception is a bug in weft: GoAway 2 and `closed` with an InternalError
 *   ('connection/internal-error' or 'yamux/internal-error') whose `cause` is the original.
 * - the remote's GoAway ends the connection at once (spec/connection.md, "Closing"): every stream is
 *   reset, and `closed` carries a ConnectionClosedError { by: 'remote' } for any code but 0 (normal).
 *   A local `close(now, code)` with a code other than 0 carries one with `by: 'local'`.
 * Commands (openStream, write, ...) throw UsageError / TypeError / RangeError for local misuse.
 *
 * Memory: `handleData` input is only read during the call (Noise copies or decrypts out of it), so
 * the driver may reuse it at once; `pollTransmit` output is the driver's (a view of memory no layer
 * writes again); `stream-data` bytes are the driver's too.
 */
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import { ConnectionClosedError, InternalError, ProtocolError, UsageError } from '../core/errors.js'
import { EventQueue } from '../core/event-queue.js'
import type { TraceHook } from '../core/trace.js'
import type { PeerId } from '../peer-id/index.js'
import { YamuxSession } from '../yamux/index.js'
import { StreamTable } from './streams.js'
import { YAMUX_PROTOCOL, type ConnectionErrorCode, type ConnectionEvent, type ConnectionOptions } from './types.js'
import { Upgrade, type SecureChannel, type Upgraded } from './upgrade.js'

export { NOISE_PROTOCOL, TLS_PROTOCOL, YAMUX_PROTOCOL } from './types.js'
export type { ConnectionErrorCode, ConnectionEvent, ConnectionOptions } from './types.js'

/** Largest plaintext one Noise transport frame carries (65535 - 16-byte tag). */
const NOISE_MAX_PLAINTEXT = 65535 - 16

type Phase =
  | { kind: 'upgrading'; up: Upgrade }
  | { kind: 'open'; noise: SecureChannel; yamux: YamuxSession; streams: StreamTable }
  | { kind: 'closed' }

/**
 * One libp2p connection over a raw byte stream, as a sans-IO core: the upgrade (multistream-select
 * `/noise`, the Noise XX handshake with the libp2p handshake payload, then `/yamux/1.0.0`, or yamux
 * chosen early inside the handshake), then yamux streams inside Noise transport messages. The
 * connection spec ("Upgrading connections") defines the sequence. Failures surface as a
 * `connection-closed` event with a `ProtocolError` (the peer broke a protocol) or an
 * `OutcomeError('connection/upgrade-timeout')`.
 */
export class Connection implements ByteMachine<ConnectionEvent> {
  readonly #opts: ConnectionOptions
  #phase: Phase
  /** Raw bytes queued for the transport outside Noise's own queue (the upgrade's, a final flush). */
  #rawOut: Uint8Array[] = []
  /** O(1) poll: one read can queue thousands of events (tiny Noise frames, each a yamux frame). */
  readonly #events = new EventQueue<ConnectionEvent>()
  #upgradeDeadline: Millis | undefined
  #closedEmitted = false
  #closeError: Error | undefined
  #remotePeer: PeerId | undefined
  /** Time of the latest input, for work triggered by pollTransmit. */
  #now: Millis
  /** spec/trace.md; undefined (the default): no trace event is built. */
  readonly #trace: TraceHook | undefined

  constructor(opts: ConnectionOptions) {
    this.#opts = opts
    this.#now = opts.now
    this.#trace = opts.trace
    this.#upgradeDeadline = opts.now + (opts.upgradeTimeout ?? 10_000)
    this.#phase = { kind: 'upgrading', up: new Upgrade(opts, (b) => this.#rawOut.push(b), opts.now) }
  }

  /** The remote's peer id, once the Noise handshake authenticated it. */
  get remotePeer(): PeerId | undefined {
    const p = this.#phase
    return this.#remotePeer ?? (p.kind === 'upgrading' ? p.up.remotePeer : undefined)
  }

  /** True once the upgrade completed and until the connection closes. */
  get isOpen(): boolean {
    return this.#phase.kind === 'open'
  }

  /** True once the connection closed (gracefully, by error, or by timeout). */
  get isClosed(): boolean {
    return this.#phase.kind === 'closed'
  }

  // ---- ByteMachine inputs ---------------------------------------------------------------------

  /** Raw bytes from the transport. Only read during the call: the driver may reuse them at once. */
  handleData(now: Millis, data: Uint8Array): void {
    this.#now = now
    this.#trace?.({ kind: 'transport', dir: 'in', bytes: data.length })
    this.#guard(now, () => {
      const p = this.#phase
      if (p.kind === 'upgrading') {
        const up = p.up.handleData(now, data)
        if (up !== undefined) this.#openYamux(now, up)
      } else if (p.kind === 'open') {
        p.noise.handleData(now, data)
      }
      this.#drainNoise(now)
    })
  }

  handleEof(now: Millis): void {
    this.#now = now
    this.#guard(now, () => {
      const p = this.#phase
      if (p.kind === 'upgrading') p.up.handleEof()
      if (p.kind === 'open') {
        p.noise.handleEof(now)
        this.#drainNoise(now)
        if (this.#phase.kind === 'open') {
          p.yamux.handleEof(now)
          this.#drainYamux(now)
        }
      }
    })
  }

  handleTimeout(now: Millis): void {
    this.#now = now
    this.#guard(now, () => {
      if (this.#upgradeDeadline !== undefined && now >= this.#upgradeDeadline) {
        throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/upgrade-timeout')
      }
      const p = this.#phase
      if (p.kind !== 'open') return
      p.streams.handleTimeout(now)
      p.yamux.handleTimeout(now)
      this.#drainYamux(now)
    })
  }

  wantsData(): boolean {
    const p = this.#phase
    if (p.kind === 'closed') return false
    if (p.kind === 'open') return p.noise.wantsData() && p.yamux.wantsData()
    return true
  }

  /**
   * Up to `max` bytes for the transport. They are the driver's: a view of memory no layer writes
   * again (Noise's ciphertext is fresh or a detached frame that is never reused).
   */
  pollTransmit(max: number): Uint8Array | undefined {
    const out = this.#takeTransmit(max)
    if (out !== undefined) this.#trace?.({ kind: 'transport', dir: 'out', bytes: out.length })
    return out
  }

  #takeTransmit(max: number): Uint8Array | undefined {
    if (this.#rawOut.length > 0) return this.#rawOut.shift()
    let out: Uint8Array | undefined
    this.#guard(this.#now, () => { out = this.#fromNoise(max) })
    // A failure while taking bytes queued the final flush (GoAway) in #rawOut.
    return out ?? this.#rawOut.shift()
  }

  /** Ciphertext from Noise, after moving the layer above's plaintext into it. */
  #fromNoise(max: number): Uint8Array | undefined {
    const p = this.#phase
    const noise = p.kind === 'open' ? p.noise : p.kind === 'upgrading' ? p.up.noise : undefined
    if (noise === undefined) return undefined
    // Noise's queue first; plaintext moves only once it is empty. A large frame leaves Noise in
    // three pieces (prefix, ciphertext, tag), one per call, so topping Noise up on every call moved
    // ~max of plaintext per piece handed out and drained yamux's bounded send queue into Noise's
    // unbounded one (37 MiB with 16 perf streams: promoted buffers, Mark-Compacts; bench/README.md).
    const queued = noise.pollTransmit(max)
    if (queued !== undefined) return queued
    // Move plaintext from the layer above into Noise, one frame's worth at a time, only as far as
    // needed to fill `max`: Noise's own queue never grows beyond what the socket asked for.
    let budget = max
    while (budget > 0) {
      // noise.write encrypts at once and keeps nothing: yamux may reuse the memory afterwards
      const want = Math.min(NOISE_MAX_PLAINTEXT, budget)
      const plain = p.kind === 'open' ? p.yamux.pollTransmitTransient(want) : p.kind === 'upgrading' ? p.up.pollPlain(want) : undefined
      if (plain === undefined) break
      if (this.#trace && p.kind === 'open') this.#trace({ kind: 'yamux-bytes', dir: 'out', data: plain })
      noise.write(plain)
      budget -= plain.length + 18
    }
    const out = noise.pollTransmit(max)
    // Taking bytes can complete yamux's graceful close ('closed' once its GoAway is taken).
    if (p.kind === 'open') this.#drainYamux(this.#now)
    return out
  }

  pollEvent(): ConnectionEvent | undefined {
    const ev = this.#events.poll()
    if (ev?.type === 'stream-closed') {
      const p = this.#phase
      if (p.kind === 'open') p.streams.seenClosed(ev.id)
    }
    return ev
  }

  pollTimeout(): Millis | undefined {
    let t = this.#upgradeDeadline
    const p = this.#phase
    if (p.kind === 'open') {
      for (const d of [p.yamux.pollTimeout(), p.streams.nextDeadline()]) if (d !== undefined && (t === undefined || d < t)) t = d
    }
    return t
  }

  // ---- commands --------------------------------------------------------------------------------

  /** Open a stream and negotiate the first protocol of `protocols` the remote supports. */
  openStream(now: Millis, protocols: readonly string[], requestId: number): number {
    const { streams } = this.#open('openStream')
    const id = streams.open(now, protocols, requestId)
    this.#guard(now, () => {
      streams.start(id)
      this.#drainYamux(now)
    })
    return id
  }

  /** Write application bytes; returns how many were accepted (0 = wait for 'stream-writable').
   * The bytes are copied before this returns. */
  write(id: number, data: Uint8Array): number {
    const n = this.#open('write').streams.write(id, data)
    if (this.#trace && n > 0) this.#trace({ kind: 'stream-data', dir: 'out', stream: id, data: data.subarray(0, n) })
    return n
  }

  /** The application has read `n` bytes of stream `id`: reopen that much receive window. */
  consume(now: Millis, id: number, n: number): void {
    this.#now = now
    // The driver may still be reading the events of a connection that has just closed (stream-data
    // queued before a later frame failed it): there is no window left to give back, so nothing to do.
    if (this.#phase.kind === 'closed') return
    this.#open('consume').streams.consume(now, id, n)
  }

  /**
   * Half-close stream `id`: send FIN (yamux §"Stream Close"); we may still read. Throws `UsageError` unless the connection is open.
   */
  closeWrite(id: number): void {
    this.#open('closeWrite').streams.closeWrite(id)
  }

  /** Reset a stream; `code` (default 0) is a libp2p stream reset code (src/core/close-codes.ts). */
  reset(id: number, code?: number): void {
    // As for consume: the driver may still be routing events of a connection that has just closed
    // (a stream-opened queued before the remote's GoAway ended it); its streams are gone already.
    if (this.#phase.kind === 'closed') return
    this.#open('reset').streams.reset(id, code)
  }

  /**
   * Graceful close: GoAway (`code`, default 0 normal; src/core/close-codes.ts), then `closed` once
   * yamux has flushed. Before the upgrade: immediate. A code other than 0 makes the `closed` error a
   * ConnectionClosedError { by: 'local', wireCode: code } (unless something else ended it first).
   */
  close(now: Millis, code?: number): void {
    const p = this.#phase
    if (p.kind === 'closed') return
    if (code !== undefined && code !== 0) {
      if (!Number.isInteger(code) || code < 0 || code > 0xffff_ffff) throw new RangeError('close: code must be a 32-bit unsigned integer')
      this.#closeError ??= new ConnectionClosedError(code, 'local')
    }
    if (p.kind === 'open') {
      this.#guard(now, () => {
        p.yamux.close(now, code)
        this.#drainYamux(now)
      })
    } else {
      this.#enterClosed(undefined)
    }
  }

  /** Send a yamux Ping (yamux §"Ping Type"); the round-trip time arrives as an event. */
  ping(now: Millis): void {
    this.#open('ping').yamux.ping(now)
  }

  /** The round-trip time of the last yamux Ping, in ms (undefined before the first pong). */
  get rtt(): number | undefined {
    return this.#phase.kind === 'open' ? this.#phase.yamux.rtt : undefined
  }

  /** Streams open on this connection (negotiating ones included). */
  get streamCount(): number {
    return this.#phase.kind === 'open' ? this.#phase.streams.size : 0
  }

  // ---- internals ---------------------------------------------------------------------------------

  #open(what: string): Extract<Phase, { kind: 'open' }> {
    const p = this.#phase
    if (p.kind !== 'open') throw new UsageError('connection/not-open', `${what} before the connection is established or after it closed`)
    return p
  }

  /**
   * The connection's error boundary. Run `fn`; whatever it throws ends this connection and never
   * escapes to the driver. A ProtocolError (the remote broke a protocol) closes with GoAway 1 and is
   * the 'closed' error; any other exception is a bug in weft: GoAway 2 and an InternalError whose
   * cause is the original.
   */
  #guard(now: Millis, fn: () => void): void {
    if (this.#phase.kind === 'closed') return
    try {
      fn()
    } catch (e) {
      this.#fatal(now, e)
    }
  }

  #fatal(now: Millis, e: unknown): void {
    const error = e instanceof ProtocolError || e instanceof InternalError ? e : new InternalError('connection/internal-error', e)
    const p = this.#phase
    if (p.kind === 'open') {
      // Tell the remote why (GoAway 1 protocol error, 2 internal error) if yamux is still able to.
      try {
        p.yamux.close(now, error instanceof ProtocolError ? 1 : 2)
        this.#drainYamux(now)
      } catch { /* yamux already terminal */ }
    }
    this.#enterClosed(error)
  }

  #enterClosed(error: Error | undefined): void {
    // First cause wins, also over the error-less 'closed' yamux emits while its GoAway is flushed below.
    this.#closeError ??= error
    error = this.#closeError
    const p = this.#phase
    if (p.kind === 'closed') return
    // Flush what the layers still have (a GoAway), so the driver can write it before closing.
    if (p.kind === 'open') {
      try {
        for (let b = this.#fromNoise(1 << 20); b !== undefined; b = this.#fromNoise(1 << 20)) this.#rawOut.push(b)
      } catch {
        // The secure channel itself failed (tampered frame, or a bug): nothing more can be sent on it.
      }
      // (#fromNoise may have completed the close already, through yamux's own 'closed'.)
      if (this.#phase.kind === 'closed') return
      // TLS: close_notify after the GoAway (RFC 8446 §6.1; spec/tls.md). A channel that failed sends nothing.
      if (p.noise.close !== undefined) {
        try {
          p.noise.close()
          for (let b = p.noise.pollTransmit(1 << 16); b !== undefined; b = p.noise.pollTransmit(1 << 16)) this.#rawOut.push(b)
        } catch { /* nothing to send */ }
      }
      p.streams.endAll(error)
    } else if (p.kind === 'upgrading') {
      // A failed handshake may have queued its reason for the peer (a TLS alert: bad_certificate...).
      try {
        const ch = p.up.noise
        for (let b = ch?.pollTransmit(1 << 16); b !== undefined; b = ch?.pollTransmit(1 << 16)) this.#rawOut.push(b)
      } catch { /* nothing to send */ }
    }
    this.#phase = { kind: 'closed' }
    this.#trace?.({ kind: 'state', layer: 'connection', to: 'closed', reason: (error as { code?: string } | undefined)?.code ?? error?.message })
    this.#upgradeDeadline = undefined
    if (!this.#closedEmitted) {
      this.#closedEmitted = true
      this.#events.push(error === undefined ? { type: 'closed' } : { type: 'closed', error })
    }
  }

  #openYamux(now: Millis, up: Upgraded): void {
    const yamux = new YamuxSession({ ...this.#opts.yamux, role: this.#opts.role === 'dialer' ? 'client' : 'server' })
    const streams = new StreamTable(this.#opts, yamux, (ev) => {
      // spec/trace.md: the tracer reads a stream's bytes and the remote's half-close from these
      this.#trace?.({ kind: 'stream-event', event: ev })
      this.#events.push(ev)
    })
    this.#phase = { kind: 'open', noise: up.noise, yamux, streams }
    this.#remotePeer = up.remotePeer
    this.#upgradeDeadline = undefined
    this.#events.push({ type: 'established', remotePeer: up.remotePeer, remotePublicKey: up.remotePublicKey, muxer: YAMUX_PROTOCOL, earlyMuxerNegotiation: up.earlyMuxerNegotiation, security: up.security })
    if (up.rest.length > 0) {
      this.#trace?.({ kind: 'yamux-bytes', dir: 'in', data: up.rest })
      yamux.handleData(now, up.rest)
    }
    this.#drainYamux(now)
  }

  /** Route Noise's events once open: plaintext to yamux, EOF to yamux. */
  #drainNoise(now: Millis): void {
    for (;;) {
      const p = this.#phase
      if (p.kind !== 'open') return
      const ev = p.noise.pollEvent()
      if (ev === undefined) return
      if (ev.type === 'data') {
        // Noise's plaintext is ours alone: yamux may hand out views of it instead of copies.
        this.#trace?.({ kind: 'yamux-bytes', dir: 'in', data: ev.data })
        p.yamux.handleOwnedData(now, ev.data)
        this.#drainYamux(now)
      } else if (ev.type === 'eof') {
        p.yamux.handleEof(now)
        this.#drainYamux(now)
      }
    }
  }

  /** Route yamux events: stream events to the stream table, the rest here. */
  #drainYamux(now: Millis): void {
    const p = this.#phase
    if (p.kind !== 'open') return
    const y = p.yamux
    for (let ev = y.pollEvent(); ev !== undefined; ev = y.pollEvent()) {
      switch (ev.type) {
        case 'ping':
          this.#events.push({ type: 'rtt', rtt: ev.rtt })
          break
        case 'closed':
          this.#enterClosed(ev.error)
          return
        case 'go-away':
          // The remote ends the session: it opens nothing new and accepts nothing new, and go-libp2p,
          // rust-libp2p and weft all close the transport right after their GoAway, so nothing more
          // can arrive for the open streams. End at once: every stream is reset, then 'closed'.
          if (ev.code !== 0) this.#closeError ??= new ConnectionClosedError(ev.code, 'remote')
          p.streams.closing(this.#closeError)
          y.terminate(now)
          break
        case 'stream-opened':
          break
        default:
          p.streams.handleYamuxEvent(now, ev)
      }
    }
  }
}
