/**
 * The sending part of a QUIC stream (RFC 9000 §3.1):
 *
 *   ready --first STREAM--> send --STREAM+FIN--> data-sent --all acked--> data-recvd
 *   ready | send | data-sent --RESET_STREAM--> reset-sent --acked--> reset-recvd
 *
 * Bytes written by the application are copied into chunks and kept until acknowledged, so a lost
 * STREAM frame is retransmitted by range (§13.3: the data, not the packet, is what is resent). Three
 * offsets describe the stream: `ackFloor` (every byte below it acknowledged; chunks below it freed),
 * `sentOffset` (the highest offset ever sent: the credit consumed, and the final size if we reset),
 * `writeOffset` (bytes written). Lost ranges wait in `#lost` and go out before new data; ranges
 * acknowledged out of order wait in `#acked` until the floor reaches them.
 *
 * Returned frame data is a view of one chunk, whose bytes below its fill level are never written
 * again, so the caller may keep it (ByteMachine's rule): a frame ends where its chunk ends (the
 * next frame, often in the same packet, carries on from there), so no byte is copied twice.
 */
import { RangeSet } from './ranges.js'
import { varintLength } from './flow.js'
import type { StreamFrame } from '../types.js'
import type { StreamId } from './ids.js'

/** The RFC 9000 §3.1 states of a sending part. */
export type SendState = 'ready' | 'send' | 'data-sent' | 'data-recvd' | 'reset-sent' | 'reset-recvd'

/**
 * A stream's first chunk holds this many bytes; each next one twice the last, up to MAX_CHUNK_SIZE:
 * many small writes share one allocation, a bulk sender's frames rarely meet a chunk's end, and a
 * stream that writes little never holds a large chunk.
 */
const CHUNK_SIZE = 16 * 1024
const MAX_CHUNK_SIZE = 256 * 1024

interface Chunk {
  readonly offset: number
  readonly buf: Uint8Array
  len: number
}

export class SendStream {
  state: SendState = 'ready'
  writeOffset = 0
  sentOffset = 0
  ackFloor = 0
  /** The peer's limit for this stream (initial parameter, then MAX_STREAM_DATA). */
  maxData: number
  /** The application called finish(). */
  finRequested = false
  /** A frame carrying FIN is in flight or acknowledged (false again if it is lost). */
  finSent = false
  finAcked = false
  /** RESET_STREAM: error code, and whether a (re)transmission is owed. */
  resetCode = 0
  resetPending = false
  /** The limit at which we last queued STREAM_DATA_BLOCKED, and whether it is still to send. */
  blockedAt = -1
  blockedPending = false
  /** A write came up short: the application is owed a 'writable' event. */
  wantWritable = false
  readonly #acked = new RangeSet()
  readonly #lost = new RangeSet()
  #chunks: Chunk[] = []

  constructor(maxData: number) {
    this.maxData = maxData
  }

  /** Bytes held for (re)transmission: written and not yet acknowledged below the floor. */
  get buffered(): number {
    return this.writeOffset - this.ackFloor
  }

  /** Is the stream still accepting writes? */
  get writable(): boolean {
    return (this.state === 'ready' || this.state === 'send') && !this.finRequested
  }

  /** Copy up to `room` bytes of `data` into the send buffer; returns how many were taken. */
  write(data: Uint8Array, limit: number): number {
    const n = Math.min(data.length, Math.max(0, limit - this.buffered))
    if (n < data.length) this.wantWritable = true
    let at = 0
    const last = this.#chunks[this.#chunks.length - 1]
    if (last !== undefined && last.len < last.buf.length) {
      const k = Math.min(n, last.buf.length - last.len)
      last.buf.set(data.subarray(0, k), last.len)
      last.len += k
      at = k
    }
    if (at < n) {
      const grown = last === undefined ? CHUNK_SIZE : Math.min(MAX_CHUNK_SIZE, 2 * last.buf.length)
      const buf = new Uint8Array(Math.max(n - at, grown))
      buf.set(data.subarray(at, n))
      this.#chunks.push({ offset: this.writeOffset + at, buf, len: n - at })
    }
    this.writeOffset += n
    return n
  }

  /** FIN still owed: requested, not in flight, not acknowledged. */
  get finOwed(): boolean {
    return this.finRequested && !this.finSent && !this.finAcked
  }

  /** New bytes the stream could send given its own credit (connection credit aside). */
  get newSendable(): number {
    return Math.max(0, Math.min(this.writeOffset, this.maxData) - this.sentOffset)
  }

  /** Blocked by this stream's credit with bytes waiting (RFC 9000 §4.1 STREAM_DATA_BLOCKED). */
  get streamBlocked(): boolean {
    return this.sentOffset < this.writeOffset && this.sentOffset >= this.maxData
  }

  /** Anything to put in a STREAM frame, given `connCredit` bytes of connection credit? */
  hasFrame(connCredit: number): boolean {
    if (this.state !== 'ready' && this.state !== 'send' && this.state !== 'data-sent') return false
    if (!this.#lost.empty) return true
    if (this.newSendable > 0 && connCredit > 0) return true
    return this.finOwed && this.sentOffset === this.writeOffset
  }

  /**
   * The next STREAM frame within `maxBytes` of encoded size: retransmissions first, then new bytes
   * within both credits. `fresh` is how many bytes of new credit it consumes (the connection counts them).
   */
  nextFrame(id: StreamId, maxBytes: number, connCredit: number): { frame: StreamFrame, fresh: number } | undefined {
    const fixed = 1 + varintLength(id) + varintLength(maxBytes) // type, id, length (an upper bound)
    if (!this.#lost.empty) {
      const s = this.#lost.firstStart!
      const room = maxBytes - fixed - varintLength(s)
      if (room <= 0) return undefined
      const e = Math.min(this.#lost.firstEnd!, s + room, this.#chunkEnd(s))
      this.#lost.remove(s, e)
      return { frame: this.#frame(id, s, e), fresh: 0 }
    }
    const s = this.sentOffset
    const room = maxBytes - fixed - varintLength(s)
    const n = Math.min(this.newSendable, connCredit, Math.max(0, room), this.#chunkEnd(s) - s)
    if (n === 0 && !(this.finOwed && s === this.writeOffset && room >= 0)) return undefined
    this.sentOffset += n
    return { frame: this.#frame(id, s, s + n), fresh: n }
  }

  #frame(id: StreamId, s: number, e: number): StreamFrame {
    const fin = this.finRequested && !this.finAcked && e === this.writeOffset
    if (fin) this.finSent = true
    if (this.state === 'ready') this.state = 'send'
    if (fin && this.state === 'send') this.state = 'data-sent'
    return { type: 'stream', streamId: id, offset: s, data: this.#bytes(s, e), fin }
  }

  /** The index of the chunk holding offset `s` (written, not yet freed). */
  #chunkAt(s: number): number {
    const cs = this.#chunks
    let lo = 0
    let hi = cs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (cs[mid]!.offset <= s) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** Where the chunk holding offset `s` ends (the write offset when nothing is buffered there). */
  #chunkEnd(s: number): number {
    const c = this.#chunks[this.#chunkAt(s)]
    return c === undefined || s >= c.offset + c.len ? this.writeOffset : c.offset + c.len
  }

  /** The written bytes [s, e), within one chunk (see #chunkEnd): a view. */
  #bytes(s: number, e: number): Uint8Array {
    if (s === e) return new Uint8Array(0)
    const c = this.#chunks[this.#chunkAt(s)]!
    return c.buf.subarray(s - c.offset, e - c.offset)
  }

  /** A STREAM frame of ours was acknowledged. Returns true when buffer room was freed. */
  onAcked(offset: number, length: number, fin: boolean): boolean {
    if (this.state === 'reset-sent' || this.state === 'reset-recvd' || this.state === 'data-recvd') return false
    this.#acked.add(offset, offset + length)
    this.#lost.remove(offset, offset + length)
    if (fin) this.finAcked = true
    const before = this.ackFloor
    if (this.#acked.firstStart === 0) this.ackFloor = this.#acked.firstEnd!
    if (this.ackFloor > before) {
      let drop = 0
      while (drop < this.#chunks.length && this.#chunks[drop]!.offset + this.#chunks[drop]!.buf.length <= this.ackFloor) drop++
      if (drop > 0) this.#chunks = this.#chunks.slice(drop)
    }
    if (this.state === 'data-sent' && this.finAcked && this.ackFloor === this.writeOffset) {
      this.state = 'data-recvd'
      this.#chunks = []
      this.#acked.clear()
    }
    return this.ackFloor > before
  }

  /** A STREAM frame of ours was declared lost: queue the parts not acknowledged since. */
  onLost(offset: number, length: number, fin: boolean): void {
    if (this.state !== 'send' && this.state !== 'data-sent') return
    for (const [s, e] of this.#acked.gaps(offset, offset + length)) this.#lost.add(s, e)
    if (fin && !this.finAcked) this.finSent = false
  }

  /** Abandon the stream (local reset or the peer's STOP_SENDING). False when already past sending. */
  reset(code: number): boolean {
    if (this.state !== 'ready' && this.state !== 'send' && this.state !== 'data-sent') return false
    this.state = 'reset-sent'
    this.resetCode = code
    this.resetPending = true
    this.blockedPending = false
    this.wantWritable = false
    this.#chunks = []
    this.#lost.clear()
    this.#acked.clear()
    return true
  }

  /** The peer raised this stream's limit (lower values are reordered frames and ignored, §19.10). */
  onMaxStreamData(v: number): boolean {
    if (v <= this.maxData) return false
    this.maxData = v
    this.blockedPending = false
    return true
  }

  /** Is the sending part finished (nothing more will ever be sent or acknowledged)? */
  get terminal(): boolean {
    return this.state === 'data-recvd' || this.state === 'reset-recvd'
  }
}
