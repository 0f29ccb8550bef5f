/**
 * The CRYPTO stream of one encryption level (RFC 9000 §19.6, §7.5): our TLS bytes to send, with
 * retransmission of lost ranges, and the peer's bytes reassembled in order for TLS, bounded.
 */
import { quicError } from '../errors.js'

/** Our side of a level's CRYPTO stream: everything written is kept until the level is discarded (a handshake is a few KiB). */
export class CryptoSend {
  #data = new Uint8Array(0)
  #length = 0
  /** The first byte never sent. */
  #next = 0
  /** Ranges [start, end) to send again (lost, or repeated by a probe). */
  #resend: Array<[number, number]> = []

  write(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#data.length) {
      const grown = new Uint8Array(Math.max(this.#data.length * 2, this.#length + bytes.length, 1024))
      grown.set(this.#data.subarray(0, this.#length))
      this.#data = grown
    }
    this.#data.set(bytes, this.#length)
    this.#length += bytes.length
  }

  get hasData(): boolean {
    return this.#resend.length > 0 || this.#next < this.#length
  }

  /** Bytes written and never sent. */
  get unsent(): number {
    return this.#length - this.#next
  }

  /** The next CRYPTO frame whose encoding fits `room` bytes (retransmissions first), or undefined. */
  poll(room: number): { type: 'crypto', offset: number, data: Uint8Array } | undefined {
    for (;;) {
      let start: number, end: number
      const again = this.#resend[0]
      if (again !== undefined) [start, end] = again
      else if (this.#next < this.#length) [start, end] = [this.#next, this.#length]
      else return undefined
      // type (1) + offset varint (<= 4 at these sizes) + length varint (2)
      const overhead = 1 + (start < 64 ? 1 : start < 16384 ? 2 : 4) + 2
      const n = Math.min(end - start, room - overhead)
      if (n <= 0) return undefined
      if (again !== undefined) {
        if (start + n >= end) this.#resend.shift()
        else again[0] = start + n
      } else {
        this.#next = start + n
      }
      return { type: 'crypto', offset: start, data: this.#data.slice(start, start + n) }
    }
  }

  /** A frame we sent was lost: its range goes out again. */
  onLost(offset: number, length: number): void {
    if (this.#resend.length >= 1024) return // a probe resends everything anyway
    this.#resend.push([offset, offset + length])
  }

  /** Send everything already sent again (a PTO probe or a Retry). */
  resendAll(): void {
    this.#resend = this.#next > 0 ? [[0, this.#next]] : []
  }
}

/** The peer's side of a level's CRYPTO stream: out-of-order data kept within `maxBuffer` bytes of the read offset. */
export class CryptoRecv {
  #offset = 0
  #chunks: Array<{ start: number, data: Uint8Array }> = []
  readonly #maxBuffer: number
  readonly #maxFragments: number

  constructor(maxBuffer: number, maxFragments: number) {
    this.#maxBuffer = maxBuffer
    this.#maxFragments = maxFragments
  }

  /** A CRYPTO frame arrived; returns the bytes now contiguous from the read offset (possibly empty). */
  insert(offset: number, data: Uint8Array): Uint8Array {
    const end = offset + data.length
    if (end <= this.#offset) return EMPTY
    if (end > this.#offset + this.#maxBuffer) throw quicError('CRYPTO_BUFFER_EXCEEDED', `CRYPTO data to offset ${end}, read offset ${this.#offset}`, 0x06)
    if (offset <= this.#offset && this.#chunks.length === 0) {
      const out = data.slice(this.#offset - offset)
      this.#offset = end
      return out
    }
    if (this.#chunks.length >= this.#maxFragments) throw quicError('CRYPTO_BUFFER_EXCEEDED', `more than ${this.#maxFragments} CRYPTO fragments`, 0x06)
    this.#chunks.push({ start: offset, data: data.slice() })
    this.#chunks.sort((a, b) => a.start - b.start)
    const parts: Uint8Array[] = []
    let total = 0
    while (this.#chunks.length > 0 && this.#chunks[0]!.start <= this.#offset) {
      const c = this.#chunks.shift()!
      const cend = c.start + c.data.length
      if (cend <= this.#offset) continue
      const part = c.data.subarray(this.#offset - c.start)
      parts.push(part)
      total += part.length
      this.#offset = cend
    }
    if (parts.length === 1) return parts[0]!
    const out = new Uint8Array(total)
    let o = 0
    for (const p of parts) { out.set(p, o); o += p.length }
    return out
  }
}

const EMPTY = new Uint8Array(0)
