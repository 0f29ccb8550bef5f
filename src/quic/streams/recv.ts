/**
 * The receiving part of a QUIC stream (RFC 9000 §3.2):
 *
 *   recv --STREAM+FIN--> size-known --all data--> data-recvd --app read all--> data-read
 *   recv | size-known --RESET_STREAM--> reset-recvd --app told--> reset-read
 *
 * Reassembly: bytes are copied into one buffer indexed by stream offset (`#buf[o - #base]`), and a
 * RangeSet records which offsets arrived, so out-of-order, duplicate and overlapping STREAM frames
 * cost one copy of their new bytes and nothing else. The buffer never extends past the limit we
 * advertised (a frame beyond it is a FLOW_CONTROL_ERROR first), so one stream's memory is bounded by
 * its window; the number of disjoint ranges is bounded by `maxFragments`.
 *
 * Final size (§4.5): once known (FIN or RESET_STREAM) it never changes, no data may lie beyond it,
 * and it may not be below the highest offset already received: each is a FINAL_SIZE_ERROR.
 *
 * Connection flow control counts, per stream, the highest offset received (`highest`), and gets back
 * as "consumed" what the application read, or everything up to `highest` (then the final size) once
 * the stream is reset or the application stopped reading: `released` is that amount.
 */
import type { Millis } from '../../core/byte-machine.js'
import { RangeSet } from './ranges.js'
import { RecvCredit } from './flow.js'
import { transportError } from './errors.js'

/** The RFC 9000 §3.2 states of a receiving part. */
export type RecvState = 'recv' | 'size-known' | 'data-recvd' | 'reset-recvd' | 'data-read' | 'reset-read'

const EMPTY = new Uint8Array(0)
/** Largest reassembly buffer a drained stream keeps for its next bytes. */
const IDLE_BUFFER = 64 * 1024

export class RecvStream {
  state: RecvState = 'recv'
  readonly credit: RecvCredit
  /** Highest offset received (offset + length of any frame, or the final size). */
  highest = 0
  finalSize: number | undefined
  /** Bytes handed to the application. */
  readOffset = 0
  /** Bytes this stream has handed back to connection flow control as consumed. */
  released = 0
  /** How much of `released` connection flow control has counted so far. */
  counted = 0
  /** The application stopped reading (STOP_SENDING): data is counted and dropped. */
  stopped = false
  stopCode = 0
  /** STOP_SENDING owed (first transmission or after a loss). */
  stopPending = false
  /** MAX_STREAM_DATA owed (a new limit, or the current one after a loss). */
  maxDataPending = false
  /** The peer's reset code, once RESET_STREAM arrived. */
  resetCode: number | undefined
  /** A 'readable' event was emitted and not yet followed by a read that drained the stream. */
  signalled = false
  readonly #received = new RangeSet()
  #buf: Uint8Array = EMPTY
  #base = 0

  constructor(window: number, maxWindow: number, now: Millis) {
    this.credit = new RecvCredit(window, maxWindow, now)
  }

  /** Contiguous bytes ready for the application. */
  get readable(): number {
    if (this.stopped || this.state === 'reset-recvd' || this.state === 'reset-read') return 0
    return Math.max(0, this.#contiguous() - this.readOffset)
  }

  /** End of the bytes received without a gap from offset 0. */
  #contiguous(): number {
    return this.#received.firstStart === 0 ? this.#received.firstEnd! : 0
  }

  /** Is there something for `read` to report: bytes, or the end of the stream? */
  get hasReadable(): boolean {
    return this.readable > 0 || (this.state === 'data-recvd' && this.readOffset === this.finalSize)
  }

  /** Bytes held by reassembly (the buffer's capacity: what this stream costs in memory). */
  get bufferCapacity(): number {
    return this.#buf.length
  }

  /**
   * A STREAM frame. Returns the growth of `highest` (connection credit consumed). Throws the
   * transport errors of §4.1 and §4.5.
   */
  onStream(offset: number, data: Uint8Array, fin: boolean, maxFragments: number): number {
    const end = offset + data.length
    if (end > this.credit.limit) throw transportError('FLOW_CONTROL_ERROR', `stream data to offset ${end} past the limit ${this.credit.limit}`)
    this.#checkFinal(end, fin)
    const grown = Math.max(0, end - this.highest)
    this.highest += grown
    if (fin && this.finalSize === undefined) {
      this.finalSize = end
      if (this.state === 'recv') this.state = 'size-known'
    }
    if (this.state !== 'recv' && this.state !== 'size-known') return grown
    if (this.stopped) {
      this.released = this.highest
      if (this.finalSize !== undefined) this.#end('data-read')
      return grown
    }
    const start = Math.max(offset, this.readOffset)
    if (start < end) {
      for (const [s, e] of this.#received.gaps(start, end)) {
        this.#reserve(e)
        this.#buf.set(data.subarray(s - offset, e - offset), s - this.#base)
      }
      this.#received.add(start, end)
      if (this.#received.count > maxFragments) {
        throw transportError('PROTOCOL_VIOLATION', `more than ${maxFragments} gaps in one stream's received data`)
      }
    }
    if (this.finalSize !== undefined && this.#contiguous() === this.finalSize) this.state = 'data-recvd'
    return grown
  }

  #checkFinal(end: number, fin: boolean): void {
    if (this.finalSize !== undefined) {
      if (end > this.finalSize) throw transportError('FINAL_SIZE_ERROR', `stream data to offset ${end} past its final size ${this.finalSize}`)
      if (fin && end !== this.finalSize) throw transportError('FINAL_SIZE_ERROR', `final size changed from ${this.finalSize} to ${end}`)
    } else if (fin && end < this.highest) {
      throw transportError('FINAL_SIZE_ERROR', `final size ${end} below data already received to ${this.highest}`)
    }
  }

  /** Make `#buf` cover offsets up to `end` (compacting away what was read first). */
  #reserve(end: number): void {
    if (end - this.#base <= this.#buf.length) return
    const keepFrom = this.readOffset
    const needed = end - keepFrom
    if (needed <= this.#buf.length) {
      this.#buf.copyWithin(0, keepFrom - this.#base)
    } else {
      const next = new Uint8Array(Math.min(Math.max(needed, this.#buf.length * 2, 4096), this.credit.limit - keepFrom))
      next.set(this.#buf.subarray(keepFrom - this.#base, Math.min(this.#buf.length, this.highest - this.#base)))
      this.#buf = next
    }
    this.#base = keepFrom
  }

  /** Hand up to `max` contiguous bytes to the application (a fresh copy); `fin` once the end is read. */
  read(max: number): { data: Uint8Array, fin: boolean } {
    const n = Math.min(this.readable, max)
    let data = EMPTY
    if (n > 0) {
      data = this.#buf.slice(this.readOffset - this.#base, this.readOffset - this.#base + n)
      this.readOffset += n
      this.released = this.readOffset
      if (this.readOffset === this.#received.max) {
        // Nothing buffered: start over at the buffer's head, and give a large buffer back, so a stream
        // that once carried a burst does not keep its peak memory while idle.
        this.#base = this.readOffset
        if (this.#buf.length > IDLE_BUFFER) this.#buf = EMPTY
      }
    }
    const fin = this.finalSize !== undefined && this.readOffset === this.finalSize && this.state === 'data-recvd'
    if (fin) this.#end('data-read')
    if (!this.hasReadable) this.signalled = false
    return { data, fin }
  }

  /** RESET_STREAM from the peer. Returns the growth of `highest`; `reset` false when it changes nothing. */
  onReset(code: number, finalSize: number): { grown: number, reset: boolean } {
    if (finalSize > this.credit.limit) throw transportError('FLOW_CONTROL_ERROR', `final size ${finalSize} past the limit ${this.credit.limit}`)
    if (this.finalSize !== undefined && finalSize !== this.finalSize) throw transportError('FINAL_SIZE_ERROR', `final size changed from ${this.finalSize} to ${finalSize}`)
    if (finalSize < this.highest) throw transportError('FINAL_SIZE_ERROR', `final size ${finalSize} below data already received to ${this.highest}`)
    const grown = finalSize - this.highest
    this.highest = finalSize
    this.finalSize = finalSize
    // All data already here (data-recvd): RFC 9000 §3.2 lets us keep delivering it; nothing to do after data-read.
    if (this.state !== 'recv' && this.state !== 'size-known') return { grown, reset: false }
    this.resetCode = code
    this.released = finalSize
    this.#end(this.stopped ? 'reset-read' : 'reset-recvd')
    return { grown, reset: !this.stopped }
  }

  /** The application stopped reading (it sends STOP_SENDING unless everything already arrived). */
  stop(code: number): void {
    if (this.stopped || (this.state !== 'recv' && this.state !== 'size-known' && this.state !== 'data-recvd')) return
    this.stopped = true
    this.stopCode = code
    this.released = this.highest
    if (this.state === 'recv') this.stopPending = true
    else this.#end('data-read') // the final size is known: nothing more can arrive that we need
  }

  /** The application learnt of the reset. */
  resetRead(): void {
    if (this.state === 'reset-recvd') this.state = 'reset-read'
  }

  #end(state: RecvState): void {
    this.state = state
    this.#buf = EMPTY
    this.#received.clear()
    this.stopPending = false
    this.maxDataPending = false
  }

  /** Is the receiving part finished (nothing more to deliver or to send for it)? */
  get terminal(): boolean {
    return this.state === 'data-read' || this.state === 'reset-read'
  }
}
