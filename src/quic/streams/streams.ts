/**
 * `QuicStreams`: every stream of one QUIC connection and the connection's flow control (RFC 9000
 * §2–4), as a sans-IO core the connection core drives. It never sees packets: the connection hands
 * it the stream-related frames it decoded (`handleFrame`), asks it for frames to fill a packet
 * (`pollFrame`), and tells it the fate of each frame it took (`onFrameAcked` / `onFrameLost`, from
 * loss recovery). The application drives streams with commands (`open`, `write`, `finish`, `reset`,
 * `stopSending`, `read`) and learns what happened from `pollEvent`.
 *
 * Call order for the connection: `setPeerParameters` once the peer's transport parameters are known
 * (until then no stream can be opened and nothing sent); `setClock` before feeding input (time and
 * the smoothed RTT drive window auto-tuning only); after any input or command, fill packets with
 * `pollFrame(room)` until it returns undefined, then drain `pollEvent`.
 *
 * What goes out first: connection-level control (MAX_DATA, MAX_STREAMS, DATA_BLOCKED,
 * STREAMS_BLOCKED), then per-stream control (RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA,
 * STREAM_DATA_BLOCKED), then STREAM frames round-robin across streams, retransmissions of a stream
 * before its new data. Control frames are flags, not a queue: a lost one is sent again only if its
 * value is still the current one (§13.3), so a loss never resends a stale limit.
 *
 * Remote input can only cause a `ProtocolError('quic', <RFC 9000 §20.1 name>)` with `transportCode`
 * (src/quic/streams/errors.ts); the connection closes with it. Local misuse throws `UsageError`.
 */
import type { Millis } from '../../core/byte-machine.js'
import { UsageError } from '../../core/errors.js'
import { EventQueue } from '../../core/event-queue.js'
import type { Frame } from '../types.js'
import { QuicProtocolError } from '../errors.js'
import { frameTypeOf } from '../frames.js'
import { transportError } from './errors.js'
import { RecvCredit, varintLength as vl } from './flow.js'
import { MAX_STREAM_COUNT, isBidirectional, isLocal, streamIdOf, streamIndex, type StreamId } from './ids.js'
import { MAX_VARINT, checkPeerParameters, resolveStreamOptions, type QuicStreamsOptions, type ResolvedStreamOptions, type StreamParameters } from './options.js'
import { RecvStream } from './recv.js'
import { SendStream } from './send.js'
import type { QuicStreamEvent, StreamStates } from './events.js'

export type { QuicStreamEvent, StreamStates } from './events.js'

interface StreamRecord {
  readonly id: StreamId
  readonly send: SendStream | undefined
  readonly recv: RecvStream | undefined
}

type Dir = 'bidi' | 'uni'
const dir = (bidi: boolean): Dir => (bidi ? 'bidi' : 'uni')

/** One connection's streams and flow control (see the file comment). */
export class QuicStreams {
  readonly #o: ResolvedStreamOptions
  readonly #streams = new Map<StreamId, StreamRecord>()
  readonly #events = new EventQueue<QuicStreamEvent>()
  #now: Millis = 0
  #rtt: number | undefined
  #peer: StreamParameters | undefined
  // Streams we open: how many of each type, the peer's limit, and STREAMS_BLOCKED bookkeeping.
  readonly #nextLocal = { bidi: 0, uni: 0 }
  readonly #peerMaxStreams = { bidi: 0, uni: 0 }
  readonly #wantStreams = { bidi: false, uni: false }
  readonly #streamsBlockedAt = { bidi: -1, uni: -1 }
  readonly #streamsBlockedPending = { bidi: false, uni: false }
  // Streams the peer opens: how many, how many are gone, the limit we advertised.
  readonly #nextRemote = { bidi: 0, uni: 0 }
  readonly #remoteClosed = { bidi: 0, uni: 0 }
  readonly #maxRemote: { bidi: number, uni: number }
  readonly #maxStreamsPending = { bidi: false, uni: false }
  // Connection flow control, receiving: sum of the streams' highest offsets vs the limit we advertised.
  readonly #connRecv: RecvCredit
  #connReceived = 0
  #connConsumed = 0
  #maxDataPending = false
  // Connection flow control, sending: new bytes sent vs the peer's limit.
  #connSendMax = 0
  #connSent = 0
  #dataBlockedAt = -1
  #dataBlockedPending = false
  /** Streams with a control frame owed; streams that may have STREAM data (round-robin order). */
  readonly #control = new Set<StreamId>()
  readonly #sendable = new Set<StreamId>()

  constructor(options: QuicStreamsOptions) {
    this.#o = resolveStreamOptions(options)
    this.#maxRemote = { bidi: this.#o.maxIncomingBidiStreams, uni: this.#o.maxIncomingUniStreams }
    this.#connRecv = new RecvCredit(this.#o.initialConnectionWindow, this.#o.maxConnectionWindow, 0)
  }

  /** The flow-control transport parameters to send the peer (they match the initial limits enforced). */
  localParameters(): StreamParameters {
    const w = this.#o.initialStreamWindow
    return {
      initialMaxData: this.#o.initialConnectionWindow,
      initialMaxStreamDataBidiLocal: w,
      initialMaxStreamDataBidiRemote: w,
      initialMaxStreamDataUni: w,
      initialMaxStreamsBidi: this.#o.maxIncomingBidiStreams,
      initialMaxStreamsUni: this.#o.maxIncomingUniStreams,
    }
  }

  /** The peer's transport parameters arrived (any object with the six flow-control fields, e.g. the packet
   * layer's TransportParameters; TRANSPORT_PARAMETER_ERROR for a stream count above 2^60). */
  setPeerParameters(p: StreamParameters): void {
    if (this.#peer !== undefined) throw new UsageError('quic/parameters-set', 'the peer parameters are already set')
    this.#peer = checkPeerParameters(p)
    this.#connSendMax = Math.max(this.#connSendMax, p.initialMaxData)
    this.#raiseStreams('bidi', p.initialMaxStreamsBidi)
    this.#raiseStreams('uni', p.initialMaxStreamsUni)
    for (const rec of this.#streams.values()) {
      if (rec.send === undefined) continue
      rec.send.onMaxStreamData(this.#sendCredit(rec.id))
      if (rec.send.hasFrame(Number.POSITIVE_INFINITY)) this.#sendable.add(rec.id)
    }
  }

  /** The current time and smoothed RTT (ms; undefined before a sample): they drive window auto-tuning. */
  setClock(now: Millis, rtt: number | undefined): void {
    this.#now = now
    this.#rtt = rtt
  }

  /** The initial credit the peer gives us on stream `id` (0 until its parameters arrive). */
  #sendCredit(id: StreamId): number {
    const p = this.#peer
    if (p === undefined) return 0
    if (!isBidirectional(id)) return p.initialMaxStreamDataUni
    // The peer's "local" streams are the ones it opened.
    return isLocal(id, this.#o.role) ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataBidiLocal
  }

  #newRecord(id: StreamId): StreamRecord {
    const local = isLocal(id, this.#o.role)
    const bidi = isBidirectional(id)
    const rec: StreamRecord = {
      id,
      send: bidi || local ? new SendStream(this.#sendCredit(id)) : undefined,
      recv: bidi || !local ? new RecvStream(this.#o.initialStreamWindow, this.#o.maxStreamWindow, this.#now) : undefined,
    }
    this.#streams.set(id, rec)
    return rec
  }

  // ---- application commands ----

  /** Open a stream; undefined when the peer's stream limit is reached ('streams-available' follows when it rises). */
  open(bidirectional: boolean): StreamId | undefined {
    const d = dir(bidirectional)
    const index = this.#nextLocal[d]
    if (index >= this.#peerMaxStreams[d]) {
      this.#wantStreams[d] = true
      if (this.#streamsBlockedAt[d] !== this.#peerMaxStreams[d]) {
        this.#streamsBlockedAt[d] = this.#peerMaxStreams[d]
        this.#streamsBlockedPending[d] = true
      }
      return undefined
    }
    this.#nextLocal[d] = index + 1
    return this.#newRecord(streamIdOf(this.#o.role, bidirectional, index)).id
  }

  /** Can `open(bidirectional)` succeed now? */
  canOpen(bidirectional: boolean): boolean {
    const d = dir(bidirectional)
    return this.#nextLocal[d] < this.#peerMaxStreams[d]
  }

  /** Queue bytes (copied) on stream `id`; returns how many were taken (a short write: wait for 'writable'). */
  write(id: StreamId, data: Uint8Array): number {
    const send = this.#part(id, 'send')
    if (!send.writable) throw new UsageError('quic/stream-not-writable', `stream ${id} was finished or reset`)
    const n = send.write(data, this.#o.streamSendBuffer)
    if (n > 0) this.#sendable.add(id)
    return n
  }

  /** End our sending part after what was written (FIN). Idempotent; a no-op after a reset. */
  finish(id: StreamId): void {
    const send = this.#part(id, 'send')
    if (send.finRequested || !send.writable) return
    send.finRequested = true
    this.#sendable.add(id)
  }

  /** Abandon our sending part (RESET_STREAM with `errorCode`); a no-op once everything was acknowledged. */
  reset(id: StreamId, errorCode: number): void {
    checkCode(errorCode)
    const send = this.#part(id, 'send')
    if (send.reset(errorCode)) this.#control.add(id)
    this.#sendable.delete(id)
  }

  /** Stop reading stream `id` (STOP_SENDING with `errorCode`): buffered and later data is dropped. */
  stopSending(id: StreamId, errorCode: number): void {
    checkCode(errorCode)
    const rec = this.#record(id)
    const recv = this.#part(id, 'recv')
    recv.stop(errorCode)
    this.#release(recv)
    if (recv.stopPending) this.#control.add(id)
    this.#maybeFree(rec)
  }

  /** Read up to `max` bytes (a fresh copy); `fin` once the whole stream was read. */
  read(id: StreamId, max = Number.POSITIVE_INFINITY): { data: Uint8Array, fin: boolean } {
    const rec = this.#record(id)
    const recv = this.#part(id, 'recv')
    if (recv.stopped) throw new UsageError('quic/stream-stopped', `stream ${id}: reading was stopped`)
    if (recv.state === 'reset-recvd' || recv.state === 'reset-read') throw new UsageError('quic/stream-reset', `stream ${id} was reset by the peer`)
    const out = recv.read(max)
    this.#release(recv)
    if (recv.state === 'recv') {
      const limit = recv.credit.update(recv.readOffset, this.#now, this.#rtt)
      if (limit !== undefined) {
        recv.maxDataPending = true
        this.#control.add(id)
        this.#connRecv.ensureWindow(Math.floor(recv.credit.window * 1.5)) // the connection window never lags one stream's
      }
    }
    this.#maybeFree(rec)
    return out
  }

  /** The RFC 9000 §3 states of stream `id`, or undefined once it is closed (or never existed). */
  states(id: StreamId): StreamStates | undefined {
    const rec = this.#streams.get(id)
    if (rec === undefined) return undefined
    return { send: rec.send?.state, recv: rec.recv?.state }
  }

  /** Live streams, both directions. */
  get streamCount(): number {
    return this.#streams.size
  }

  /** Bytes allocated for reassembly across all streams (bounded by about twice the connection window). */
  get reassemblyBytes(): number {
    let n = 0
    for (const rec of this.#streams.values()) n += rec.recv?.bufferCapacity ?? 0
    return n
  }

  /** Connection flow-control counters: new bytes sent vs the peer's limit; bytes received vs our limit. */
  get connectionFlow(): { sent: number, sendLimit: number, received: number, receiveLimit: number } {
    return { sent: this.#connSent, sendLimit: this.#connSendMax, received: this.#connReceived, receiveLimit: this.#connRecv.limit }
  }

  /** The next event, or undefined. */
  pollEvent(): QuicStreamEvent | undefined {
    return this.#events.poll()
  }

  #record(id: StreamId): StreamRecord {
    const rec = this.#streams.get(id)
    if (rec === undefined) throw new UsageError('quic/unknown-stream', `no open stream ${id}`)
    return rec
  }

  #part<K extends 'send' | 'recv'>(id: StreamId, k: K): NonNullable<StreamRecord[K]> {
    const p = this.#record(id)[k]
    if (p === undefined) throw new UsageError(k === 'send' ? 'quic/receive-only-stream' : 'quic/send-only-stream', `stream ${id} is unidirectional`)
    return p as NonNullable<StreamRecord[K]>
  }

  /** Hand what `recv` released back to connection flow control, and reopen the connection window. */
  #release(recv: RecvStream): void {
    // `released` only grows; the connection's consumed is the sum over streams, kept incrementally.
    if (recv.released === recv.counted) return
    this.#connConsumed += recv.released - recv.counted
    recv.counted = recv.released
    if (this.#connRecv.update(this.#connConsumed, this.#now, this.#rtt) !== undefined) this.#maxDataPending = true
  }

  // ---- frames from the peer ----

  /**
   * A stream-related frame from the peer (RESET_STREAM, STOP_SENDING, STREAM, MAX_DATA,
   * MAX_STREAM_DATA, MAX_STREAMS, DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED). Returns false
   * for any other frame type (not this layer's). Throws ProtocolError('quic', ...) on a violation.
   */
  handleFrame(frame: Frame): boolean {
    try {
      return this.#handleFrame(frame)
    } catch (e) {
      // Name the frame that broke the rules (CONNECTION_CLOSE's Frame Type field, RFC 9000 §19.19).
      if (e instanceof QuicProtocolError && e.frameType === 0) throw new QuicProtocolError(e.code, e.message.slice(e.code.length + 2), frameTypeOf(frame))
      throw e
    }
  }

  #handleFrame(frame: Frame): boolean {
    switch (frame.type) {
      case 'stream': {
        const rec = this.#lookup(frame.streamId, 'recv')
        if (rec === undefined) return true
        const recv = rec.recv!
        this.#connGrow(Math.max(0, frame.offset + frame.data.length - recv.highest), true) // before reassembly allocates
        this.#connGrow(recv.onStream(frame.offset, frame.data, frame.fin, this.#o.maxStreamFragments))
        this.#release(recv)
        if (recv.hasReadable && !recv.signalled) {
          recv.signalled = true
          this.#events.push({ kind: 'readable', id: rec.id })
        }
        this.#maybeFree(rec)
        return true
      }
      case 'reset_stream': {
        const rec = this.#lookup(frame.streamId, 'recv')
        if (rec === undefined) return true
        const recv = rec.recv!
        const { grown, reset } = recv.onReset(frame.errorCode, frame.finalSize)
        this.#connGrow(grown)
        this.#release(recv)
        if (reset) {
          recv.resetRead()
          this.#events.push({ kind: 'reset', id: rec.id, errorCode: frame.errorCode })
        }
        this.#maybeFree(rec)
        return true
      }
      case 'stop_sending': {
        const rec = this.#lookup(frame.streamId, 'send')
        if (rec === undefined) return true
        if (rec.send!.reset(frame.errorCode)) {
          this.#control.add(rec.id)
          this.#sendable.delete(rec.id)
          this.#events.push({ kind: 'stop-sending', id: rec.id, errorCode: frame.errorCode })
        }
        return true
      }
      case 'max_stream_data': {
        const rec = this.#lookup(frame.streamId, 'send')
        if (rec !== undefined && rec.send!.onMaxStreamData(frame.maximumStreamData) && rec.send!.hasFrame(Number.POSITIVE_INFINITY)) this.#sendable.add(rec.id)
        return true
      }
      case 'stream_data_blocked':
        this.#lookup(frame.streamId, 'recv') // opens a peer's stream; otherwise informational
        return true
      case 'max_data':
        if (frame.maximumData > this.#connSendMax) this.#connSendMax = frame.maximumData
        return true
      case 'max_streams':
        if (frame.maximumStreams > MAX_STREAM_COUNT) throw transportError('FRAME_ENCODING_ERROR', 'MAX_STREAMS above 2^60')
        this.#raiseStreams(dir(frame.bidirectional), frame.maximumStreams)
        return true
      case 'streams_blocked':
        if (frame.maximumStreams > MAX_STREAM_COUNT) throw transportError('FRAME_ENCODING_ERROR', 'STREAMS_BLOCKED above 2^60')
        return true
      case 'data_blocked':
        return true
      default:
        return false
    }
  }

  #raiseStreams(d: Dir, v: number): void {
    if (v <= this.#peerMaxStreams[d]) return // a reordered, lower MAX_STREAMS is ignored (§19.11)
    this.#peerMaxStreams[d] = v
    this.#streamsBlockedPending[d] = false
    if (this.#wantStreams[d]) {
      this.#wantStreams[d] = false
      this.#events.push({ kind: 'streams-available', bidirectional: d === 'bidi' })
    }
  }

  /** Count `grown` bytes of connection credit (or only check them, `dryRun`): past our MAX_DATA is a FLOW_CONTROL_ERROR. */
  #connGrow(grown: number, dryRun = false): void {
    const total = this.#connReceived + grown
    if (total > this.#connRecv.limit) throw transportError('FLOW_CONTROL_ERROR', `connection data ${total} past the limit ${this.#connRecv.limit}`)
    if (!dryRun) this.#connReceived = total
  }

  /**
   * The stream a peer's frame names, checking direction and existence (RFC 9000 §19.4, 19.5, 19.8,
   * 19.10, 19.13, §4.6). `need` is our part the frame acts on. Opens the peer's streams up to `id`
   * (§3.2). Undefined: a stream that existed and is closed (late frames are ignored).
   */
  #lookup(id: StreamId, need: 'send' | 'recv'): StreamRecord | undefined {
    const local = isLocal(id, this.#o.role)
    const bidi = isBidirectional(id)
    if (!bidi && local === (need === 'recv')) {
      throw transportError('STREAM_STATE_ERROR', need === 'recv' ? `stream ${id} is our send-only stream` : `stream ${id} is our receive-only stream`)
    }
    const d = dir(bidi)
    const index = streamIndex(id)
    if (local) {
      if (index >= this.#nextLocal[d]) throw transportError('STREAM_STATE_ERROR', `stream ${id} was not opened by us yet`)
      return this.#streams.get(id)
    }
    if (index < this.#nextRemote[d]) return this.#streams.get(id)
    if (index >= this.#maxRemote[d]) throw transportError('STREAM_LIMIT_ERROR', `stream ${id} is past the ${this.#maxRemote[d]} ${d} streams allowed`)
    for (let i = this.#nextRemote[d]; i <= index; i++) {
      const other = streamIdOf(this.#o.role === 'client' ? 'server' : 'client', bidi, i)
      this.#newRecord(other)
      this.#events.push({ kind: 'incoming', id: other, bidirectional: bidi })
    }
    this.#nextRemote[d] = index + 1
    return this.#streams.get(id)
  }

  /** Forget a stream whose both parts are finished; a peer's stream frees room for another (MAX_STREAMS). */
  #maybeFree(rec: StreamRecord): void {
    if (!(rec.send?.terminal ?? true) || !(rec.recv?.terminal ?? true)) return
    if (!this.#streams.delete(rec.id)) return
    this.#control.delete(rec.id)
    this.#sendable.delete(rec.id)
    this.#events.push({ kind: 'closed', id: rec.id })
    if (isLocal(rec.id, this.#o.role)) return
    const d = dir(isBidirectional(rec.id))
    this.#remoteClosed[d]++
    const allowed = d === 'bidi' ? this.#o.maxIncomingBidiStreams : this.#o.maxIncomingUniStreams
    const next = Math.min(this.#remoteClosed[d] + allowed, MAX_STREAM_COUNT)
    if (next - this.#maxRemote[d] >= Math.max(1, Math.floor(allowed / 2))) {
      this.#maxRemote[d] = next
      this.#maxStreamsPending[d] = true
    }
  }

  // ---- frames to the peer ----

  /** The next frame to send whose encoding fits in `maxBytes`, or undefined (see the file comment for the order). */
  pollFrame(maxBytes: number): Frame | undefined {
    return this.#connControl(maxBytes) ?? this.#streamControl(maxBytes) ?? this.#streamData(maxBytes) ?? this.#connControl(maxBytes) ?? this.#streamControl(maxBytes)
  }

  #connControl(maxBytes: number): Frame | undefined {
    if (this.#maxDataPending && 1 + vl(this.#connRecv.limit) <= maxBytes) {
      this.#maxDataPending = false
      return { type: 'max_data', maximumData: this.#connRecv.limit }
    }
    for (const d of ['bidi', 'uni'] as const) {
      if (this.#maxStreamsPending[d] && 1 + vl(this.#maxRemote[d]) <= maxBytes) {
        this.#maxStreamsPending[d] = false
        return { type: 'max_streams', bidirectional: d === 'bidi', maximumStreams: this.#maxRemote[d] }
      }
      if (this.#streamsBlockedPending[d] && 1 + vl(this.#streamsBlockedAt[d]) <= maxBytes) {
        this.#streamsBlockedPending[d] = false
        return { type: 'streams_blocked', bidirectional: d === 'bidi', maximumStreams: this.#streamsBlockedAt[d] }
      }
    }
    if (this.#dataBlockedPending && 1 + vl(this.#dataBlockedAt) <= maxBytes) {
      this.#dataBlockedPending = false
      return { type: 'data_blocked', maximumData: this.#dataBlockedAt }
    }
    return undefined
  }

  #streamControl(maxBytes: number): Frame | undefined {
    for (const id of this.#control) {
      const rec = this.#streams.get(id)
      const send = rec?.send
      const recv = rec?.recv
      if (send?.resetPending === true && 1 + vl(id) + vl(send.resetCode) + vl(send.sentOffset) <= maxBytes) {
        send.resetPending = false
        return { type: 'reset_stream', streamId: id, errorCode: send.resetCode, finalSize: send.sentOffset }
      }
      if (recv?.stopPending === true && 1 + vl(id) + vl(recv.stopCode) <= maxBytes) {
        recv.stopPending = false
        return { type: 'stop_sending', streamId: id, errorCode: recv.stopCode }
      }
      if (recv?.maxDataPending === true && 1 + vl(id) + vl(recv.credit.limit) <= maxBytes) {
        recv.maxDataPending = false
        return { type: 'max_stream_data', streamId: id, maximumStreamData: recv.credit.limit }
      }
      if (send?.blockedPending === true && 1 + vl(id) + vl(send.blockedAt) <= maxBytes) {
        send.blockedPending = false
        return { type: 'stream_data_blocked', streamId: id, maximumStreamData: send.blockedAt }
      }
      if (send?.resetPending !== true && recv?.stopPending !== true && recv?.maxDataPending !== true && send?.blockedPending !== true) this.#control.delete(id)
    }
    return undefined
  }

  #streamData(maxBytes: number): Frame | undefined {
    const credit = this.#connSendMax - this.#connSent
    for (const id of this.#sendable) {
      const send = this.#streams.get(id)?.send
      if (send !== undefined) this.#checkBlocked(id, send)
      if (send === undefined || !send.hasFrame(Number.POSITIVE_INFINITY)) {
        this.#sendable.delete(id) // MAX_STREAM_DATA, a write, finish or a loss puts it back
        continue
      }
      if (credit === 0 && send.newSendable > 0 && this.#dataBlockedAt !== this.#connSendMax) {
        this.#dataBlockedAt = this.#connSendMax
        this.#dataBlockedPending = true
      }
      if (!send.hasFrame(credit)) continue
      const next = send.nextFrame(id, maxBytes, credit)
      if (next === undefined) continue
      this.#connSent += next.fresh
      this.#sendable.delete(id)
      if (send.hasFrame(Number.POSITIVE_INFINITY)) this.#sendable.add(id) // to the back of the round
      this.#checkBlocked(id, send)
      return next.frame
    }
    return undefined
  }

  /** Queue STREAM_DATA_BLOCKED once per limit when the stream's own credit holds data back (§4.1). */
  #checkBlocked(id: StreamId, send: SendStream): void {
    if (send.streamBlocked && send.blockedAt !== send.maxData) {
      send.blockedAt = send.maxData
      send.blockedPending = true
      this.#control.add(id)
    }
  }

  // ---- the fate of frames we sent (from loss recovery) ----

  /** A frame `pollFrame` returned was acknowledged. */
  onFrameAcked(frame: Frame): void {
    if (frame.type === 'stream') {
      const rec = this.#streams.get(frame.streamId)
      const send = rec?.send
      if (rec === undefined || send === undefined) return
      const wasDone = send.state === 'data-recvd'
      if (send.onAcked(frame.offset, frame.data.length, frame.fin) && send.wantWritable && send.writable) {
        send.wantWritable = false
        this.#events.push({ kind: 'writable', id: rec.id })
      }
      if (!wasDone && send.state === 'data-recvd') this.#events.push({ kind: 'finished', id: rec.id })
      this.#maybeFree(rec)
    } else if (frame.type === 'reset_stream') {
      const rec = this.#streams.get(frame.streamId)
      if (rec?.send?.state !== 'reset-sent') return
      rec.send.state = 'reset-recvd'
      rec.send.resetPending = false
      this.#maybeFree(rec)
    }
  }

  /** A frame `pollFrame` returned was declared lost: its content is sent again if still current (§13.3). */
  onFrameLost(frame: Frame): void {
    switch (frame.type) {
      case 'stream': {
        const send = this.#streams.get(frame.streamId)?.send
        if (send === undefined) return
        send.onLost(frame.offset, frame.data.length, frame.fin)
        if (send.hasFrame(Number.POSITIVE_INFINITY)) this.#sendable.add(frame.streamId)
        return
      }
      case 'reset_stream': {
        const send = this.#streams.get(frame.streamId)?.send
        if (send?.state === 'reset-sent') this.#owe(frame.streamId, () => (send.resetPending = true))
        return
      }
      case 'stop_sending': {
        const recv = this.#streams.get(frame.streamId)?.recv
        if (recv !== undefined && recv.stopped && !recv.terminal) this.#owe(frame.streamId, () => (recv.stopPending = true))
        return
      }
      case 'max_stream_data': {
        const recv = this.#streams.get(frame.streamId)?.recv
        if (recv?.state === 'recv' && !recv.stopped && frame.maximumStreamData === recv.credit.limit) this.#owe(frame.streamId, () => (recv.maxDataPending = true))
        return
      }
      case 'stream_data_blocked': {
        const send = this.#streams.get(frame.streamId)?.send
        if (send !== undefined && send.streamBlocked && send.blockedAt === frame.maximumStreamData) this.#owe(frame.streamId, () => (send.blockedPending = true))
        return
      }
      case 'max_data':
        if (frame.maximumData === this.#connRecv.limit) this.#maxDataPending = true
        return
      case 'max_streams': {
        const d = dir(frame.bidirectional)
        if (frame.maximumStreams === this.#maxRemote[d]) this.#maxStreamsPending[d] = true
        return
      }
      case 'data_blocked':
        if (frame.maximumData === this.#connSendMax && this.#connSent >= this.#connSendMax) this.#dataBlockedPending = true
        return
      case 'streams_blocked': {
        const d = dir(frame.bidirectional)
        if (this.#wantStreams[d] && frame.maximumStreams === this.#peerMaxStreams[d]) this.#streamsBlockedPending[d] = true
        return
      }
      default:
    }
  }

  #owe(id: StreamId, set: () => void): void {
    set()
    this.#control.add(id)
  }
}

function checkCode(code: number): void {
  if (!Number.isSafeInteger(code) || code < 0 || code > MAX_VARINT) throw new RangeError('quic streams: an error code is an integer in [0, 2^62)')
}
