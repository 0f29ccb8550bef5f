/**
 * The per-stream half of a connection: every yamux stream negotiates its protocol with
 * multistream-select before application bytes flow. Inbound streams get a listener that asks
 * `supportsProtocol`; outbound streams a dialer that proposes the caller's protocols in turn.
 *
 * Per stream: negotiating → open ('stream-opened') → closed ('stream-closed'). The error boundary is
 * the stream: an `na` on every proposal, EOF (half-close), reset, garbage (a multistream
 * ProtocolError) or the negotiation deadline fails that stream alone: 'stream-open-failed' with the
 * typed error for an outbound stream, a quiet reset for an inbound one. The connection and its other
 * streams go on. Only an exception that is not a ProtocolError (a bug) leaves this table, for the
 * connection's own boundary to turn into an internal-error close.
 *
 * Yamux may free a stream (RST, both FINs) while events about it are still queued, even in the same
 * read that opened it: a stream yamux no longer has is never written to, and the driver's commands
 * on a stream whose 'stream-closed' it has not polled yet are quiet no-ops.
 */
import type { Millis } from '../core/byte-machine.js'
import { StreamResetCode, formatWireCode, resetReason } from '../core/close-codes.js'
import { emptyMap, ownMap, shrinkMap } from '../core/empty-map.js'
import { ProtocolError, UsageError } from '../core/errors.js'
import type { TraceHook } from '../core/trace.js'
import { MultistreamDialer, MultistreamListener } from '../multistream/index.js'
import type { YamuxEvent, YamuxSession } from '../yamux/index.js'
import type { ConnectionErrorCode, ConnectionEvent, ConnectionOptions } from './types.js'

type Negotiator = MultistreamDialer | MultistreamListener

export type StreamTableOptions = Pick<ConnectionOptions,
  'supportsProtocol' | 'listProtocols' | 'streamNegotiationTimeout' | 'maxNegotiatingStreams' | 'trace'>

interface StreamState {
  id: number
  direction: 'inbound' | 'outbound'
  /** Present while negotiating. */
  negotiator: Negotiator | undefined
  protocol: string | undefined
  requestId: number | undefined
  deadline: Millis | undefined
  /** Negotiation bytes waiting for yamux send credit (tiny, bounded by the negotiation messages). */
  pendingOut: Uint8Array[]
  /** Bytes we already returned to the yamux window on the app's behalf (the negotiation remainder). */
  preConsumed: number
}

export class StreamTable {
  readonly #opts: StreamTableOptions
  readonly #yamux: YamuxSession
  readonly #emit: (ev: ConnectionEvent) => void
  #streams: Map<number, StreamState> = emptyMap() // shared while empty: no table per idle connection
  #negotiating = 0
  /** Streams freed here whose 'stream-closed' the driver has not polled yet: to the driver they are
   * still live, so its commands on them are quiet no-ops (their bytes are dropped, as on any reset).
   * Undefined while empty: an idle connection holds no empty table (bench/README.md "Scale"). */
  #unseenClosed: Set<number> | undefined
  /** The connection is ending under every stream (a remote GoAway): openers still negotiating hear `#closeError`. */
  #ending = false
  #closeError: Error | undefined
  /** spec/trace.md; undefined (the default): no trace event is built. */
  readonly #trace: TraceHook | undefined

  constructor(opts: StreamTableOptions, yamux: YamuxSession, emit: (ev: ConnectionEvent) => void) {
    this.#opts = opts
    this.#trace = opts.trace
    this.#yamux = yamux
    this.#emit = emit
  }

  get size(): number {
    return this.#streams.size
  }

  // ---- commands (from the connection's driver) ---------------------------------------------------

  open(now: Millis, protocols: readonly string[], requestId: number): number {
    if (protocols.length === 0) throw new TypeError('openStream needs at least one protocol')
    const id = this.#yamux.openStream(now)
    const s = this.#add(id, 'outbound', new MultistreamDialer({ protocols: [...protocols], trace: this.#msTrace(id) }), now)
    s.requestId = requestId
    return id
  }

  /** Send an opened stream's first negotiation bytes (apart from open(): its errors are not usage). */
  start(id: number): void {
    const s = this.#streams.get(id)
    if (s !== undefined) this.#flushNegotiator(s)
  }

  write(id: number, data: Uint8Array): number {
    if (this.#unseenClosed?.has(id) === true) return data.length
    const s = this.#negotiated(id)
    if (s.pendingOut.length > 0) return 0
    return this.#yamux.write(id, data)
  }

  consume(now: Millis, id: number, n: number): void {
    const s = this.#streams.get(id)
    if (s === undefined) return
    const pre = Math.min(s.preConsumed, n)
    s.preConsumed -= pre
    if (n - pre > 0) this.#yamux.consume(id, n - pre, now)
  }

  closeWrite(id: number): void {
    if (this.#unseenClosed?.has(id) === true) return
    this.#negotiated(id)
    this.#yamux.closeWrite(id)
  }

  reset(id: number, code?: number): void {
    const s = this.#streams.get(id)
    if (s === undefined) return
    this.#endNegotiation(s)
    this.#yamux.reset(id, code)
  }

  /** The connection is ending with `error` (yamux is about to end every stream). */
  closing(error: Error | undefined): void {
    this.#ending = true
    this.#closeError = error
  }

  /** The driver polled this 'stream-closed': the id is no longer known to it. */
  seenClosed(id: number): void {
    if (this.#unseenClosed?.delete(id) === true && this.#unseenClosed.size === 0) this.#unseenClosed = undefined
  }

  // ---- time ----------------------------------------------------------------------------------------

  handleTimeout(now: Millis): void {
    for (const s of this.#streams.values()) {
      if (s.deadline !== undefined && now >= s.deadline) {
        this.#fail(s, new ProtocolError<ConnectionErrorCode>('connection', 'connection/stream-negotiation-timeout'))
      }
    }
  }

  nextDeadline(): Millis | undefined {
    let t: Millis | undefined
    for (const s of this.#streams.values()) if (s.deadline !== undefined && (t === undefined || s.deadline < t)) t = s.deadline
    return t
  }

  // ---- yamux events ------------------------------------------------------------------------------

  /** Route one stream event of yamux, negotiating each new stream's protocol before exposing it. */
  handleYamuxEvent(now: Millis, ev: Exclude<YamuxEvent, { type: 'ping' | 'go-away' | 'closed' | 'stream-opened' }>): void {
    const y = this.#yamux
    if (ev.type === 'stream-inbound') {
      if (this.#negotiating >= (this.#opts.maxNegotiatingStreams ?? 64)) {
        y.reset(ev.id, StreamResetCode.ResourceLimitExceeded)
        return
      }
      y.accept(ev.id)
      const negotiator = new MultistreamListener({ protocols: this.#opts.supportsProtocol, list: this.#opts.listProtocols, trace: this.#msTrace(ev.id) })
      this.#flushNegotiator(this.#add(ev.id, 'inbound', negotiator, now))
      return
    }
    const s = this.#streams.get(ev.id)
    if (s === undefined) return
    switch (ev.type) {
      case 'stream-data':
        if (s.negotiator !== undefined) {
          y.consume(ev.id, ev.data.length, now)
          this.#negotiate(now, s, ev.data)
        } else if (s.protocol !== undefined) {
          this.#emit({ type: 'stream-data', id: ev.id, data: ev.data })
        } else {
          y.consume(ev.id, ev.data.length, now) // a failed negotiation: drop until the reset lands
        }
        break
      case 'stream-eof':
        // A half-close before agreement fails that stream alone (no byte of it can still agree).
        if (s.negotiator !== undefined) {
          this.#fail(s, new ProtocolError('multistream', 'multistream/unexpected-eof', `stream ${s.id} ended during negotiation`))
        } else if (s.protocol !== undefined) this.#emit({ type: 'stream-eof', id: ev.id })
        break
      case 'stream-reset':
        if (s.negotiator !== undefined && this.#ending) {
          // the connection is ending: the opener hears why at 'stream-closed'
        } else if (s.negotiator !== undefined) {
          const why = ev.code === undefined ? '' : ` (code ${formatWireCode(ev.code)} ${resetReason(ev.code)})`
          this.#fail(s, new ProtocolError<ConnectionErrorCode>('connection', 'connection/protocol-rejected', `stream reset during negotiation${why}`))
        } else if (s.protocol !== undefined) this.#emit(ev.code === undefined ? { type: 'stream-reset', id: ev.id } : { type: 'stream-reset', id: ev.id, code: ev.code })
        break
      case 'stream-writable':
        this.#flushPending(s)
        if (s.negotiator === undefined && s.pendingOut.length === 0) this.#emit({ type: 'stream-writable', id: ev.id })
        break
      case 'stream-closed':
        this.#streams.delete(ev.id)
        this.#streams = shrinkMap(this.#streams)
        // yamux closing every stream (the session ended: Noise failed, GoAway, EOF) reaches a stream
        // still negotiating here, before endAll: its opener must still hear that it failed (the
        // 30-minute soak found openers waiting forever, bench/soak/repro-open-leak.mjs)
        if (s.negotiator !== undefined && s.direction === 'outbound' && s.requestId !== undefined) {
          this.#emit({ type: 'stream-open-failed', requestId: s.requestId, error: this.#closeError ?? new UsageError('connection/closed', `stream ${s.id} ended before its protocol was agreed`) })
          s.requestId = undefined
        }
        this.#endNegotiation(s)
        if (s.protocol !== undefined) {
          this.#emit({ type: 'stream-closed', id: ev.id })
          ;(this.#unseenClosed ??= new Set()).add(ev.id)
        }
        break
    }
  }

  /** The connection ended under every stream: tell each opener or owner, forget them all. */
  endAll(error: Error | undefined): void {
    for (const s of this.#streams.values()) {
      if (s.negotiator !== undefined && s.direction === 'outbound' && s.requestId !== undefined) {
        this.#emit({ type: 'stream-open-failed', requestId: s.requestId, error: error ?? new UsageError('connection/closed') })
      } else if (s.protocol !== undefined) {
        this.#emit({ type: 'stream-reset', id: s.id })
        this.#emit({ type: 'stream-closed', id: s.id })
      }
    }
    this.#streams = emptyMap()
    this.#negotiating = 0
  }

  // ---- internals -----------------------------------------------------------------------------------

  /** A stream's multistream trace hook (spec/trace.md), undefined when tracing is off. */
  #msTrace(stream: number): ((dir: 'in' | 'out', line: string) => void) | undefined {
    const t = this.#trace
    return t && ((dir, line) => t({ kind: 'multistream', dir, stream, line }))
  }

  #add(id: number, direction: 'inbound' | 'outbound', negotiator: Negotiator, now: Millis): StreamState {
    const s: StreamState = {
      id, direction, negotiator, protocol: undefined, requestId: undefined,
      deadline: now + (this.#opts.streamNegotiationTimeout ?? 10_000), pendingOut: [], preConsumed: 0,
    }
    ;(this.#streams = ownMap(this.#streams)).set(id, s)
    this.#negotiating++
    return s
  }

  #negotiated(id: number): StreamState {
    const s = this.#streams.get(id)
    if (s === undefined || s.negotiator !== undefined) throw new UsageError('connection/stream-not-open', `stream ${id}`)
    return s
  }

  #endNegotiation(s: StreamState): void {
    if (s.negotiator !== undefined) this.#negotiating--
    s.negotiator = undefined
    s.deadline = undefined
  }

  /** The stream's error boundary: a ProtocolError from its negotiation fails that stream alone. */
  #negotiate(now: Millis, s: StreamState, data: Uint8Array): void {
    try {
      s.negotiator!.handleData(now, data)
      this.#flushNegotiator(s)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e // a bug: the connection's boundary takes it
      this.#fail(s, e)
    }
  }

  /** Send the negotiator's bytes and act on its events. */
  #flushNegotiator(s: StreamState): void {
    const n = s.negotiator
    if (n === undefined) return
    for (let b = n.pollTransmit(1 << 16); b !== undefined; b = n.pollTransmit(1 << 16)) s.pendingOut.push(b)
    this.#flushPending(s)
    for (let ev = n.pollEvent(); ev !== undefined; ev = n.pollEvent()) {
      if (ev.type === 'negotiated') {
        const rest = n.takeRemainder()
        this.#endNegotiation(s)
        s.protocol = ev.protocol
        this.#emit(s.requestId === undefined
          ? { type: 'stream-opened', id: s.id, protocol: ev.protocol, direction: s.direction }
          : { type: 'stream-opened', id: s.id, protocol: ev.protocol, direction: s.direction, requestId: s.requestId })
        if (rest.length > 0) {
          s.preConsumed += rest.length
          this.#emit({ type: 'stream-data', id: s.id, data: rest })
        }
        return
      }
      if (ev.type === 'failed') {
        this.#fail(s, new ProtocolError<ConnectionErrorCode>('connection', 'connection/protocol-rejected', 'remote supports none of the proposed protocols'))
        return
      }
    }
  }

  #flushPending(s: StreamState): void {
    if (!this.#yamux.hasStream(s.id)) {
      // Yamux freed the stream already (a RST in the same read as its SYN): its 'stream-closed' is
      // queued behind this event. Nothing can be sent on it any more.
      s.pendingOut = []
      return
    }
    while (s.pendingOut.length > 0) {
      const b = s.pendingOut[0]!
      const n = this.#yamux.write(s.id, b)
      if (n === b.length) s.pendingOut.shift()
      else {
        s.pendingOut[0] = b.subarray(n)
        return
      }
    }
  }

  /**
   * Fail one stream: its opener hears why; yamux resets it (a no-op if yamux freed it already) with
   * the code go-libp2p uses for a failed negotiation, protocol-negotiation-failed (0x1001).
   */
  #fail(s: StreamState, error: Error): void {
    this.#trace?.({ kind: 'state', layer: 'stream', stream: s.id, to: 'failed', reason: (error as { code?: string }).code ?? error.message })
    this.#endNegotiation(s)
    if (s.direction === 'outbound' && s.requestId !== undefined) {
      this.#emit({ type: 'stream-open-failed', requestId: s.requestId, error })
      s.requestId = undefined
    }
    this.#yamux.reset(s.id, StreamResetCode.ProtocolNegotiationFailed)
  }
}
