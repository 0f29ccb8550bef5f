/**
 * The receive side's framing, apart from the session's protocol logic (session.ts).
 * `FrameReader` cuts the transport's bytes into 12-byte headers and their payloads, across any
 * split of the input. A header split over reads is assembled in a 12-byte buffer that exists only
 * while the header is incomplete (a Uint8Array with its own ArrayBuffer costs ~370 B of heap: an idle
 * connection keeps none, bench/README.md "Where an idle connection's memory goes"); a payload is
 * never buffered: each piece is handed on as it arrives (a view of the input). Cost per input byte
 * is constant, so a frame sent one byte per read costs no more than a constant factor over one sent
 * whole (issue 11 item 5).
 */
import { HEADER_LENGTH, readHeader, type FrameHeader } from './frame.js'

export class FrameReader {
  #hdr: Uint8Array | undefined = undefined
  #hdrFill = 0
  /** Payload bytes still to come for the current frame (0: a header is next). */
  #remaining = 0

  /** Inside a frame (a partial header or an unfinished payload): EOF here is unexpected. */
  get midFrame(): boolean {
    return this.#remaining > 0 || this.#hdrFill > 0
  }

  /**
   * Read `data` through: `onHeader` for each complete header returns how many payload bytes follow
   * (0 for none: Window Update, Ping, Go Away, empty Data); `onPayload` gets each piece of payload as
   * `data[off, end)` with `done` on the frame's last piece. A callback that throws stops the read.
   */
  read(
    data: Uint8Array,
    onHeader: (h: FrameHeader) => number,
    onPayload: (data: Uint8Array, off: number, end: number, done: boolean) => void,
  ): void {
    const len = data.length
    let off = 0
    while (off < len) {
      if (this.#remaining === 0) {
        let h: FrameHeader
        if (this.#hdrFill === 0 && len - off >= HEADER_LENGTH) {
          h = readHeader(data, off)
          off += HEADER_LENGTH
        } else {
          const take = Math.min(HEADER_LENGTH - this.#hdrFill, len - off)
          const hdr = (this.#hdr ??= new Uint8Array(HEADER_LENGTH))
          hdr.set(data.subarray(off, off + take), this.#hdrFill)
          this.#hdrFill += take
          off += take
          if (this.#hdrFill < HEADER_LENGTH) return
          this.#hdrFill = 0
          this.#hdr = undefined
          h = readHeader(hdr, 0)
        }
        this.#remaining = onHeader(h)
      } else {
        const take = Math.min(this.#remaining, len - off)
        this.#remaining -= take
        off += take
        onPayload(data, off - take, off, this.#remaining === 0)
      }
    }
  }
}
