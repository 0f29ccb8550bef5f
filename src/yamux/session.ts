/**
 * A yamux session (hashicorp/yamux spec.md; libp2p yamux, `/yamux/1.0.0`) as a sans-IO core.
 *
 * One session multiplexes many logical streams over one reliable, ordered byte stream. Bytes from
 * the transport go into `handleData`; frames to write come out of `pollTransmit`; stream activity
 * comes out of `pollEvent` as events; the application drives streams with commands (`openStream`,
 * `accept`, `write`, `closeWrite`, `reset`, `consume`, `close`, `ping`). Time is an input.
 *
 * Message flow, in spec terms:
 * - Opening a stream: a Window Update with SYN on a new StreamID (odd for the client, even for the
 *   server). The receiver accepts with ACK or rejects with RST. Data may follow the SYN at once.
 * - Closing a stream: FIN half-closes one direction; once both sides sent FIN the stream is closed.
 *   RST closes it immediately.
 * - Flow control: each stream starts with a 256 KiB window in each direction; Window Updates add to
 *   it (a Window Update sent with SYN/ACK is additive too). Only Data payload counts.
 * - Ping (SYN = request, ACK = response, opaque value echoed) measures RTT and keeps the session alive.
 * - Go Away ends the session: 0 normal, 1 protocol error, 2 internal error, or any libp2p close
 *   code (src/core/close-codes.ts), all reported. A RST Window Update's Length is a reset code
 *   (specs PR #622), never window credit: 'stream-reset' carries it; `reset(id, code)` sends one.
 *
 * Backpressure end to end: received data is handed out as 'stream-data' events; the receive window is
 * reopened only when the application calls `consume(id, n)`, so a stream nobody reads stops the
 * remote by its window and never grows our memory beyond it.
 *
 * Remote input can only cause a `ProtocolError`: the session then queues a Go Away with code 1,
 * ends every stream, throws the error from `handleData`, and emits 'closed' with it once the Go Away
 * has been taken by `pollTransmit`. Any other exception while handling input is a bug in this core:
 * the same happens with Go Away code 2 and an `InternalError('yamux/internal-error')` whose `cause`
 * is the original exception, so a driver sees only these two types.
 */
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import { StreamResetCode } from '../core/close-codes.js'
import { InternalError, ProtocolError, UsageError } from '../core/errors.js'
import { Flag, FrameType, GoAwayCode, HEADER_LENGTH, MAX_U32, VERSION, encodeDataFrame, encodeHeaderFrame, type FrameHeader } from './frame.js'
import { CONTROL_QUEUE_LIMIT, resolveOptions, type ResolvedOptions, type YamuxOptions } from './options.js'
import { emptyMap, ownMap, shrinkMap } from '../core/empty-map.js'
import { EventQueue } from '../core/event-queue.js'
import { FrameReader } from './receive.js'
import { Stream, receivingStreams, streamState, windowUpdateDelta, type StreamId } from './stream.js'
import { PingsInFlight } from './ping.js'
import { RemoteIds } from './remote-ids.js'
import { TransmitQueue } from './transmit.js'
import { WriteTurns } from './writers.js'
import { protocolError, type StreamStats, type YamuxEvent } from './types.js'


export type { StreamStats, YamuxErrorCode, YamuxEvent } from './types.js'

// closing: our Go Away is queued; 'closed' once it is taken
type SessionState = { kind: 'open' } | { kind: 'closing'; error?: ProtocolError | InternalError } | { kind: 'closed' }

/** The Data frame whose payload is being read: its stream (undefined: skip) and flags. */
interface Payload { id: StreamId; stream: Stream | undefined; flags: number }

/** A yamux session, the sans-IO core this file's header describes (client: odd stream ids; a violation: Go Away + `ProtocolError('yamux', code)`). */
export class YamuxSession implements ByteMachine<YamuxEvent> {
  readonly #o: ResolvedOptions
  #state: SessionState = { kind: 'open' }
  /** Go Away code the remote sent; from then on we open no new streams. */
  #remoteGoAway: number | undefined
  #streams: Map<StreamId, Stream> = emptyMap() // shared while empty: no table per idle session (core/empty-map.ts)
  #nextId: StreamId
  /** The ids the remote opened (remote-ids.ts): increasing, with out-of-order SYNs tolerated. */
  readonly #remoteIds: RemoteIds
  #inboundUnacked = 0 // ACK backlog, inbound: 'syn-received' streams
  #outboundUnacked = 0 // ACK backlog, outbound: 'syn-sent' streams
  #totalRecvWindow = 0
  readonly #tx = new TransmitQueue()
  readonly #events = new EventQueue<YamuxEvent>()
  /** Turns of the writers blocked on a full send queue (writers.ts): round-robin 'stream-writable'. */
  readonly #turns = new WriteTurns()
  readonly #offerCb = (id: StreamId, free: number): number => this.#offer(id, free)
  #now: Millis = 0
  readonly #reader = new FrameReader()
  #payload: Payload | undefined
  /** The input being read may be handed out as views ('stream-data' from handleOwnedData). */
  #owned = false
  readonly #onHeaderCb = (h: FrameHeader): number => this.#onHeader(h)
  readonly #onPayloadCb = (data: Uint8Array, off: number, end: number, done: boolean): void => this.#onPayload(data, off, end, done)
  readonly #pings = new PingsInFlight()
  #keepAlive: { interval: number; due: Millis; outstanding: number | undefined } | undefined
  #rtt: number | undefined

  constructor(options: YamuxOptions) {
    this.#o = resolveOptions(options)
    this.#nextId = this.#o.role === 'client' ? 1 : 2
    this.#remoteIds = new RemoteIds(this.#o.role === 'client' ? 2 : 1)
    const interval = this.#o.keepAliveInterval
    // due = 0: the first handleTimeout sends a Ping right away, measuring the RTT for auto-tuning.
    if (interval !== undefined) this.#keepAlive = { interval, due: 0, outstanding: undefined }
  }

  /** Latest RTT measured by a Ping, in ms. */
  get rtt(): number | undefined {
    return this.#rtt
  }

  /** Live streams (both directions). */
  streamCount(): number {
    return this.#streams.size
  }

  /** Is `id` a live stream (not yet freed by a reset, both FINs or the session's end)? */
  hasStream(id: StreamId): boolean {
    return this.#streams.has(id)
  }

  /** Flow-control state of a live stream (for diagnostics and tests), or undefined. */
  streamStats(id: StreamId): StreamStats | undefined {
    const s = this.#streams.get(id)
    if (s === undefined) return undefined
    return { state: streamState(s), sendCredit: s.sendCredit, recvWindow: s.recvWindow, recvCredit: s.recvCredit, unconsumed: s.unconsumed }
  }

  /** Bytes queued for the transport. */
  get queuedBytes(): number {
    return this.#tx.bytes
  }

  /** True once the session has ended (after a Go Away, an EOF or a protocol error): no frame is sent or accepted any more. */
  get isClosed(): boolean {
    return this.#state.kind === 'closed'
  }

  // ---------------------------------------------------------------- ByteMachine inputs

  /** Bytes from the transport, read during the call only (the ByteMachine input rule): 'stream-data'
   * events carry copies, and a header cut by the end of `data` is copied into a 12-byte buffer. */
  handleData(now: Millis, data: Uint8Array): void {
    this.#handle(now, data, false)
  }

  /**
   * `handleData` for a caller that hands `data` over (never reads or writes it again; the connection
   * core's fresh Noise plaintext): 'stream-data' events are views of it instead of copies, the driver's.
   */
  handleOwnedData(now: Millis, data: Uint8Array): void {
    this.#handle(now, data, true)
  }

  #handle(now: Millis, data: Uint8Array, owned: boolean): void {
    if (this.#state.kind !== 'open') return // after Go Away or failure, input is ignored
    this.#now = now
    try {
      this.#owned = owned
      this.#reader.read(data, this.#onHeaderCb, this.#onPayloadCb)
    } catch (e) {
      throw this.#fail(e)
    }
  }

  handleEof(now: Millis): void {
    this.#now = now
    const st = this.#state
    if (st.kind === 'closed') return
    if (st.kind === 'closing') {
      this.#finish(st.error)
      return
    }
    const error = this.#reader.midFrame ? protocolError('yamux/unexpected-eof') : undefined
    this.#endStreams(true)
    this.#finish(error)
    if (error !== undefined) throw error
  }

  handleTimeout(now: Millis): void {
    const ka = this.#keepAlive
    if (this.#state.kind !== 'open' || ka === undefined || now < ka.due) return
    this.#now = now
    if (ka.outstanding !== undefined && this.#pings.has(ka.outstanding)) {
      // No answer within one interval: the remote (or the path to it) is gone.
      this.#endStreams(true)
      this.#finish(protocolError('yamux/keep-alive-timeout', `no Ping response within ${ka.interval} ms`))
      return
    }
    this.#tx.releaseIfIdle() // idle for an interval: its send slabs go (transmit.ts)
    ka.outstanding = this.#sendPing(now)
    ka.due = now + ka.interval
  }

  wantsData(): boolean {
    return this.#state.kind === 'open' && this.#tx.control.bytes < CONTROL_QUEUE_LIMIT
  }

  /** Up to `max` bytes of frames. The result may be a view into a larger buffer (use its
   * byteOffset/byteLength); those bytes are the caller's and are never written again, so the caller
   * may keep them as long as it likes. */
  pollTransmit(max: number): Uint8Array | undefined {
    return this.#transmit(max, false)
  }

  /**
   * `pollTransmit` for a caller done with the bytes before its next call here (it encrypts them at
   * once): their memory is reused for later frames (no fresh slab per 1 MiB sent). Valid until then.
   */
  pollTransmitTransient(max: number): Uint8Array | undefined {
    return this.#transmit(max, true)
  }

  #transmit(max: number, transient: boolean): Uint8Array | undefined {
    if (!(max >= 1)) throw new RangeError('pollTransmit: max must be >= 1')
    const st = this.#state
    if (st.kind === 'closed') return undefined
    const out = this.#tx.take(max, transient)
    if (out === undefined) this.#turns.lapse()
    this.#wakeWriters()
    if (out === undefined && st.kind === 'closing') this.#finish(st.error)
    return out
  }

  pollEvent(): YamuxEvent | undefined {
    return this.#events.poll()
  }

  pollTimeout(): Millis | undefined {
    return this.#state.kind === 'open' ? this.#keepAlive?.due : undefined
  }

  // ---------------------------------------------------------------- commands

  /** Open a stream: queues its SYN (a Window Update announcing any window above 256 KiB). */
  openStream(now: Millis): StreamId {
    this.#requireOpen()
    if (this.#remoteGoAway !== undefined) throw new UsageError('yamux/going-away', 'the remote sent Go Away')
    if (this.#streams.size >= this.#o.maxStreams) throw new UsageError('yamux/too-many-streams', `${this.#o.maxStreams} streams open`)
    if (this.#outboundUnacked >= this.#o.ackBacklog) {
      throw new UsageError('yamux/ack-backlog-full', `${this.#o.ackBacklog} streams await ACK; wait for 'stream-opened'`)
    }
    if (this.#nextId > MAX_U32) throw new UsageError('yamux/stream-ids-exhausted')
    this.#now = now
    const id = this.#nextId
    this.#nextId += 2
    const s = this.#addStream(id, 'syn-sent')
    this.#outboundUnacked++
    const delta = s.grantable()
    s.recvCredit += delta
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.WindowUpdate, Flag.SYN, id, delta))
    return id
  }

  /** Accept an inbound stream: queues its ACK. */
  accept(id: StreamId): void {
    const s = this.#stream(id)
    if (s === undefined) return
    if (s.handshake !== 'syn-received') throw new UsageError('yamux/already-accepted', `stream ${id}`)
    this.#ack(s)
  }

  /**
   * Queue up to `data.length` bytes as Data frames (copied now). Returns how many bytes were taken:
   * at most the remote's window and the room in the send queue. When less than asked, a
   * 'stream-writable' event follows once more can be taken. Writing to a stream not yet accepted
   * accepts it.
   */
  write(id: StreamId, data: Uint8Array): number {
    if (this.#state.kind !== 'open') throw new UsageError('yamux/closed', 'session is closed')
    const s = this.#stream(id)
    if (s === undefined) throw new UsageError('yamux/stream-closed', `stream ${id} has ended`)
    if (s.localClosed) throw new UsageError('yamux/write-after-close', `stream ${id} is closed for writing`)
    if (s.handshake === 'syn-received') this.#ack(s)
    const want = data.length
    if (want === 0) return 0
    const room = Math.min(s.sendCredit, this.#turns.room(id, this.#o.sendQueueLimit - this.#tx.ordered.bytes))
    const n = Math.max(0, Math.min(want, room))
    if (n > 0) this.#turns.wrote(id, n, n < want)
    const step = this.#o.maxFrameSize
    for (let off = 0; off < n; off += step) {
      const end = Math.min(n, off + step)
      this.#tx.ordered.push(encodeDataFrame(0, id, data, off, end, this.#tx.allocate(HEADER_LENGTH + end - off)))
    }
    s.sendCredit -= n
    if (n < want) {
      s.blocked = true
      s.wanted = want - n
      // in line, woken by a later pollTransmit: never inside write() (its caller would miss it)
      if (s.sendCredit > 0) this.#turns.join(id)
    }
    return n
  }

  /** Half-close: queue FIN. Idempotent; a no-op on a stream that has ended. */
  closeWrite(id: StreamId): void {
    const s = this.#stream(id)
    if (s === undefined || s.localClosed || this.#state.kind !== 'open') return
    if (s.handshake === 'syn-received') this.#ack(s)
    s.localClosed = true
    this.#unblock(s)
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.WindowUpdate, Flag.FIN, id, 0))
    if (s.remoteClosed) this.#free(s)
  }

  /**
   * Reset (or reject, before accept) a stream: queue RST and free it; its queued events are dropped
   * and 'stream-closed' follows. A no-op on a stream that has ended. `code` (default 0, no error) is
   * a libp2p stream reset code (src/core/close-codes.ts), sent in the RST Window Update's Length.
   */
  reset(id: StreamId, code: number = StreamResetCode.NoError): void {
    if (!Number.isInteger(code) || code < 0 || code > MAX_U32) throw new RangeError('reset: code must be a 32-bit unsigned integer')
    const s = this.#stream(id)
    if (s === undefined || this.#state.kind !== 'open') return
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.WindowUpdate, Flag.RST, id, code))
    this.#dropEvents((e) => e === id)
    this.#free(s)
  }

  /**
   * The application has processed `n` bytes of 'stream-data': reopen that much window (in batches).
   * `now` feeds receive-window auto-tuning; without it the time of the latest input is used.
   */
  consume(id: StreamId, n: number, now?: Millis): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('consume: n must be a non-negative integer')
    const s = this.#stream(id)
    if (s === undefined) return
    if (n > s.unconsumed) throw new RangeError(`consume: ${n} > ${s.unconsumed} unconsumed bytes on stream ${id}`)
    if (now !== undefined && now > this.#now) this.#now = now
    s.unconsumed -= n
    if (s.remoteClosed) {
      s.recvWindow -= n // the window of a half-closed stream is what the application holds (#endOfFrame)
      this.#totalRecvWindow -= n
      return
    }
    if (s.handshake === 'syn-received' || this.#state.kind !== 'open') return
    if (s.grantable() < s.recvWindow / 2) return // no Window Update due yet (batched: stream.ts)
    const before = s.recvWindow
    const budget = this.#o.maxSessionWindow - this.#totalRecvWindow
    // at most a fair share of the budget among the streams receiving now (stream.ts, receivingStreams)
    const share = Math.max(this.#o.initialWindow, Math.floor(this.#o.maxSessionWindow / receivingStreams(this.#streams.values(), this.#now)))
    const delta = windowUpdateDelta(s, this.#now, this.#rtt, Math.min(this.#o.maxWindow, share), budget)
    this.#totalRecvWindow += s.recvWindow - before
    if (delta > 0) this.#tx.control.push(encodeHeaderFrame(FrameType.WindowUpdate, 0, id, delta))
  }

  /**
   * End the session: queue Go Away (after queued stream frames), end every stream ('stream-closed'),
   * 'closed' once the Go Away is flushed. Queued events of live streams are dropped.
   */
  close(now: Millis, code: number = GoAwayCode.Normal): void {
    if (!Number.isInteger(code) || code < 0 || code > MAX_U32) throw new RangeError('close: code must be a 32-bit unsigned integer')
    if (this.#state.kind !== 'open') return
    this.#now = now
    this.#dropEvents((id) => this.#streams.has(id))
    this.#endStreams(false)
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.GoAway, 0, 0, code))
    this.#state = { kind: 'closing' }
  }

  /** End at once, as the remote's doing (after its Go Away, spec/connection.md): streams reset, nothing more sent, 'closed'. */
  terminate(now: Millis): void {
    if (this.#state.kind === 'closed') return
    this.#now = now
    this.#endStreams(true)
    this.#finish(this.#state.kind === 'closing' ? this.#state.error : undefined)
  }

  /** Send a Ping; a 'ping' event with the RTT follows its response. */
  ping(now: Millis): void {
    this.#requireOpen()
    this.#now = now
    this.#sendPing(now)
  }

  // ---------------------------------------------------------------- receiving

  #onPayload(data: Uint8Array, off: number, end: number, done: boolean): void {
    const rx = this.#payload!
    // The record may have been freed by a command between two handleData calls.
    const s = rx.stream !== undefined && this.#streams.get(rx.id) === rx.stream ? rx.stream : undefined
    if (s !== undefined) this.#emit({ type: 'stream-data', id: rx.id, data: this.#owned ? data.subarray(off, end) : data.slice(off, end) })
    if (done) {
      this.#payload = undefined
      if (s !== undefined) this.#endOfFrame(s, rx.flags)
    }
  }

  /** A complete header: act on it; returns the payload length that follows (0: none). */
  #onHeader(h: FrameHeader): number {
    if (h.version !== VERSION) throw protocolError('yamux/bad-version', `version ${h.version}`)
    switch (h.type) {
      case FrameType.Data:
      case FrameType.WindowUpdate:
        return this.#onStreamFrame(h)
      case FrameType.Ping:
        this.#onPing(h)
        return 0
      case FrameType.GoAway:
        if (this.#remoteGoAway === undefined) {
          this.#remoteGoAway = h.length
          this.#emit({ type: 'go-away', code: h.length })
        }
        return 0
      default:
        throw protocolError('yamux/bad-type', `type ${h.type}`)
    }
  }

  #onStreamFrame(h: FrameHeader): number {
    const id = h.streamId
    if (id === 0) throw protocolError('yamux/bad-stream-id', 'stream frame on StreamID 0')
    let s = this.#streams.get(id)
    if ((h.flags & Flag.SYN) !== 0) {
      if (!this.#isRemoteId(id)) throw protocolError('yamux/bad-stream-id', `SYN for ${id}, which has our parity`)
      this.#remoteIds.syn(id)
      s = this.#onSyn(id)
    } else if (s === undefined && !this.#wasOpened(id)) {
      throw protocolError('yamux/unknown-stream', `frame for stream ${id}, never opened`)
    }
    // s === undefined now means a recently closed / reset / refused stream: its late frames are
    // tolerated and ignored (a Data payload is skipped).
    if (s !== undefined && (h.flags & Flag.ACK) !== 0 && s.handshake === 'syn-sent') {
      s.handshake = 'established'
      this.#outboundUnacked--
      this.#emit({ type: 'stream-opened', id })
    }
    if (h.type === FrameType.Data) {
      if (s !== undefined && h.length > 0) {
        if (s.remoteClosed) throw protocolError('yamux/data-after-fin', `stream ${id}`)
        if (h.length > s.recvCredit) throw protocolError('yamux/credits-exceeded', `stream ${id}: ${h.length} > window ${s.recvCredit}`)
        s.recvCredit -= h.length
        s.unconsumed += h.length
      }
      if (h.length > 0) {
        this.#payload = { id, stream: s, flags: h.flags }
        return h.length
      }
    } else if ((h.flags & Flag.RST) !== 0) {
      // A Window Update with RST: Length is the reset code (specs PR #622), not window credit.
      if (s !== undefined) this.#endOfFrame(s, h.flags, h.length)
      return 0
    } else if (s !== undefined && h.length > 0) {
      const credit = s.sendCredit + h.length
      if (credit > MAX_U32) throw protocolError('yamux/window-overflow', `stream ${id}: window ${credit}`)
      s.sendCredit = credit
      this.#checkWritable(s)
    }
    if (s !== undefined) this.#endOfFrame(s, h.flags)
    return 0
  }

  /** A new inbound stream: refused with RST after Go Away, or (code resource-limit-exceeded) beyond maxStreams or the ACK backlog. */
  #onSyn(id: StreamId): Stream | undefined {
    const full = this.#streams.size >= this.#o.maxStreams || this.#inboundUnacked >= this.#o.ackBacklog
    if (full || this.#remoteGoAway !== undefined) {
      const code = this.#remoteGoAway === undefined ? StreamResetCode.ResourceLimitExceeded : 0
      this.#tx.control.push(encodeHeaderFrame(FrameType.WindowUpdate, Flag.RST, id, code))
      return undefined
    }
    const s = this.#addStream(id, 'syn-received')
    this.#inboundUnacked++
    this.#emit({ type: 'stream-inbound', id })
    return s
  }

  /** FIN / RST take effect after the frame's payload. `code`: a Window Update RST's reset code. */
  #endOfFrame(s: Stream, flags: number, code = 0): void {
    if ((flags & Flag.FIN) !== 0 && !s.remoteClosed) {
      this.#totalRecvWindow -= s.finReceived()
      this.#emit({ type: 'stream-eof', id: s.id })
      if (s.localClosed && (flags & Flag.RST) === 0) {
        this.#free(s)
        return
      }
    }
    if ((flags & Flag.RST) !== 0) {
      this.#emit(code === 0 ? { type: 'stream-reset', id: s.id } : { type: 'stream-reset', id: s.id, code })
      this.#free(s)
    }
  }

  #onPing(h: FrameHeader): void {
    if ((h.flags & Flag.SYN) !== 0) {
      this.#tx.control.push(encodeHeaderFrame(FrameType.Ping, Flag.ACK, 0, h.length))
    } else if ((h.flags & Flag.ACK) !== 0) {
      const rtt = this.#pings.answer(h.length, this.#now)
      if (rtt === undefined) return // not ours, or forgotten: ignore
      this.#rtt = rtt
      this.#emit({ type: 'ping', rtt: this.#rtt })
    }
  }

  // ---------------------------------------------------------------- helpers

  #isRemoteId(id: StreamId): boolean {
    return (id % 2 === 1) === (this.#o.role === 'server')
  }

  /** True for an id that was opened at some point (by either side), live or not. */
  #wasOpened(id: StreamId): boolean {
    return this.#isRemoteId(id) ? this.#remoteIds.opened(id) : id < this.#nextId
  }

  /** The live stream, undefined if it has ended; UsageError if the id was never opened. */
  #stream(id: StreamId): Stream | undefined {
    if (!Number.isInteger(id) || id < 1 || id > MAX_U32) throw new RangeError(`invalid stream id ${id}`)
    const s = this.#streams.get(id)
    if (s === undefined && !this.#wasOpened(id)) throw new UsageError('yamux/unknown-stream', `stream ${id} was never opened`)
    return s
  }

  #requireOpen(): void {
    if (this.#state.kind !== 'open') throw new UsageError('yamux/closed', 'session is closed')
  }

  #addStream(id: StreamId, handshake: 'syn-sent' | 'syn-received'): Stream {
    const s = new Stream(id, handshake, this.#o.initialWindow, this.#now)
    ;(this.#streams = ownMap(this.#streams)).set(id, s)
    this.#totalRecvWindow += s.recvWindow
    return s
  }

  #ack(s: Stream): void {
    s.handshake = 'established'
    this.#inboundUnacked--
    const delta = s.remoteClosed ? 0 : s.grantable()
    s.recvCredit += delta
    s.epochStart = this.#now
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.WindowUpdate, Flag.ACK, s.id, delta))
  }

  #free(s: Stream): void {
    if (s.handshake === 'syn-received') this.#inboundUnacked--
    else if (s.handshake === 'syn-sent') this.#outboundUnacked--
    this.#totalRecvWindow -= s.recvWindow
    this.#streams.delete(s.id)
    this.#streams = shrinkMap(this.#streams)
    this.#unblock(s)
    this.#emit({ type: 'stream-closed', id: s.id })
  }

  /** End every stream: 'stream-reset' first when the remote side caused it, then 'stream-closed'. */
  #endStreams(remote: boolean): void {
    for (const s of [...this.#streams.values()]) {
      if (remote) this.#emit({ type: 'stream-reset', id: s.id })
      this.#free(s)
    }
    this.#turns.clear()
  }

  /** A blocked stream with send window: in line for queue room; woken in turn (writers.ts). */
  #checkWritable(s: Stream): void {
    if (!s.blocked || s.sendCredit <= 0) return
    this.#turns.join(s.id)
    this.#wakeWriters()
  }

  #wakeWriters(): void {
    this.#turns.wake(this.#o.sendQueueLimit, this.#tx.ordered.bytes, this.#offerCb)
  }

  /** Stream `id`'s turn: wake it; keep room for what it wanted, at least a quarter queue (0: it cannot write now). */
  #offer(id: StreamId, free: number): number {
    const s = this.#streams.get(id)
    if (s === undefined || !s.blocked || s.sendCredit <= 0) return 0
    s.blocked = false
    this.#emit({ type: 'stream-writable', id })
    return Math.min(Math.max(s.wanted, this.#o.sendQueueLimit / 4), s.sendCredit, free)
  }

  #unblock(s: Stream): void {
    s.blocked = false
    this.#turns.remove(s.id)
  }

  #sendPing(now: Millis): number {
    const opaque = this.#pings.send(now)
    this.#tx.control.push(encodeHeaderFrame(FrameType.Ping, Flag.SYN, 0, opaque))
    return opaque
  }

  /**
   * A fatal error while handling input: Go Away (1 protocol error, 2 internal error), streams end.
   * Returns the error to throw: the ProtocolError itself, or an InternalError wrapping a bug.
   */
  #fail(e: unknown): ProtocolError | InternalError {
    const error = e instanceof ProtocolError ? e : new InternalError('yamux/internal-error', e)
    const code = e instanceof ProtocolError ? GoAwayCode.ProtocolError : GoAwayCode.InternalError
    this.#endStreams(true)
    this.#tx.clear()
    this.#tx.ordered.push(encodeHeaderFrame(FrameType.GoAway, 0, 0, code))
    this.#state = { kind: 'closing', error }
    return error
  }

  #finish(error: ProtocolError | InternalError | undefined): void {
    this.#state = { kind: 'closed' }
    this.#tx.clear()
    this.#pings.clear()
    this.#emit(error === undefined ? { type: 'closed' } : { type: 'closed', error })
  }

  /** Forget queued events of streams the application has just ended itself (no data after its reset). */
  #dropEvents(ofStream: (id: StreamId) => boolean): void {
    this.#events.drop((ev) => 'id' in ev && ofStream(ev.id))
  }

  #emit(ev: YamuxEvent): void {
    this.#events.push(ev)
  }
}
