/**
 * The outbound side of a yamux session: two FIFOs of encoded frames and the coalescing that turns
 * them into transport writes.
 *
 * - `control`: frames caused by the remote or by flow control (Ping replies, Window Updates, the RST
 *   that refuses a stream beyond the ACK backlog). They may overtake stream data: none of them is
 *   ordered relative to a Data frame of the same stream.
 * - `ordered`: frames whose order matters (SYN, Data, FIN, RST from a local command, our Go Away).
 *
 * `take(max)` fills up to `max` bytes with the queued frames in order, splitting the last one when
 * it does not fit; the rest of a split frame always goes out next, so frames never interleave on
 * the wire. Frames that lie back to back in memory come out as one view (no copy); otherwise the
 * pieces are concatenated (one copy).
 *
 * Data frames are carved out of slabs (`allocate`, 16 KiB growing to 1 MiB): one allocation serves many frames, and
 * frames written one after another are adjacent, so coalescing them needs no copy either. Returned
 * bytes are views (mind `byteOffset`); a slab region is never written again once handed out by
 * `take(max)`. `take(max, true)` (transient) hands out bytes the caller uses at once and forgets
 * (the connection encrypts them before calling the session again): a slab whose every frame went
 * out that way is reused for later frames instead of becoming garbage. A fresh 1 MiB slab costs
 * ~8 us of zero-filling, page faults and GC per 64 KiB frame, a reused one nothing.
 */
import { concat } from '../core/bytes.js'

const SLAB_SIZE = 1024 * 1024
/**
 * The first slab is small and each next one twice the size, up to SLAB_SIZE: an idle connection
 * (a few window updates, an identify message) holds a few kilobytes, not a megabyte, while a bulk
 * stream reaches full-size slabs after a dozen allocations. 1 KiB, not 16: memory an idle
 * connection once touched stays in the process's RSS even after it is freed (the allocator keeps
 * it), so 16 KiB first slabs cost 16 KiB of RSS per idle connection (bench/README.md "Scale").
 */
const FIRST_SLAB_SIZE = 1024

/** The items of every empty FrameFifo: an idle session's two queues hold no array of their own. */
const NO_FRAMES: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[]

class FrameFifo {
  #items: Uint8Array[] = NO_FRAMES
  #head = 0
  bytes = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(frame: Uint8Array): void {
    if (this.#items === NO_FRAMES) this.#items = [frame]
    else this.#items.push(frame)
    this.bytes += frame.length
  }

  peek(): Uint8Array | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined
  }

  shift(): Uint8Array {
    const f = this.#items[this.#head]!
    this.#items[this.#head] = undefined as unknown as Uint8Array
    this.#head++
    this.bytes -= f.length
    if (this.#head === this.#items.length) {
      this.#items = NO_FRAMES
      this.#head = 0
    } else if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return f
  }

  clear(): void {
    this.#items = NO_FRAMES
    this.#head = 0
    this.bytes = 0
  }
}

/** Free slabs kept for reuse. Two cover a full send queue (1 MiB) plus the slab being filled. */
const MAX_SPARE_SLABS = 2

interface Slab {
  buf: Uint8Array
  /** Bytes carved out so far: [0, allocated). */
  allocated: number
  /** Bytes of it taken transiently; the slab is free again once this reaches `allocated`. */
  taken: number
  /** Some of it was handed out for keeps (a plain `take`): never reuse it. */
  lent: boolean
}

/** The slab of a queue that has none (new, idle or cleared): shared, never written. */
const NO_SLAB: Slab = Object.freeze({ buf: new Uint8Array(0), allocated: 0, taken: 0, lent: true })

export class TransmitQueue {
  readonly control = new FrameFifo()
  readonly ordered = new FrameFifo()
  /** The unsent tail of a frame that was split by a small `max`; always sent first. */
  #partial: Uint8Array | undefined
  #slab: Slab = NO_SLAB
  /** Full slabs with frames not yet taken, by their memory; undefined when none (most connections). */
  #retired: Map<ArrayBufferLike, Slab> | undefined
  /** NO_FRAMES (shared, empty) until a slab is kept for reuse. */
  #spare: Uint8Array[] = NO_FRAMES
  #nextSlabSize = FIRST_SLAB_SIZE
  /** A Data frame was allocated since the last releaseIfIdle(). */
  #busy = false

  /** Memory for one frame of `size` bytes: a fresh region of the current slab. */
  allocate(size: number): Uint8Array {
    this.#busy = true
    if (size > SLAB_SIZE / 4) return new Uint8Array(size)
    let slab = this.#slab
    if (slab.buf.length - slab.allocated < size) {
      this.#retire(slab)
      const want = Math.max(this.#nextSlabSize, size)
      const spare = this.#spare.length > 0 && this.#spare[this.#spare.length - 1]!.length >= want ? this.#spare.pop()! : undefined
      slab = this.#slab = { buf: spare ?? new Uint8Array(want), allocated: 0, taken: 0, lent: false }
      this.#nextSlabSize = Math.min(SLAB_SIZE, this.#nextSlabSize * 2)
    }
    const out = slab.buf.subarray(slab.allocated, slab.allocated + size)
    slab.allocated += size
    return out
  }

  #retire(slab: Slab): void {
    if (slab.lent || slab.allocated === 0) return
    if (slab.taken === slab.allocated) this.#free(slab)
    else (this.#retired ??= new Map()).set(slab.buf.buffer, slab)
  }

  #free(slab: Slab): void {
    // the small first slabs are outgrown: keep only slabs of the size allocate() wants now (spares
    // kept earlier and outgrown since go, or two of them would block every later spare)
    if (slab.buf.length < this.#nextSlabSize) return
    for (let i = this.#spare.length - 1; i >= 0; i--) if (this.#spare[i]!.length < this.#nextSlabSize) this.#spare.splice(i, 1)
    if (this.#spare === NO_FRAMES) this.#spare = [slab.buf]
    else if (this.#spare.length < MAX_SPARE_SLABS) this.#spare.push(slab.buf)
  }

  /** Account for `part` leaving the queue: transiently (its memory may come back) or for keeps. */
  #handedOut(part: Uint8Array, transient: boolean): void {
    const current = this.#slab
    const slab = part.buffer === current.buf.buffer ? current : this.#retired?.get(part.buffer)
    if (slab === undefined) return // a header frame or a large frame of its own
    if (!transient) slab.lent = true
    else slab.taken += part.length
    if (slab !== current && (slab.lent || slab.taken === slab.allocated)) {
      this.#retired!.delete(part.buffer)
      if (this.#retired!.size === 0) this.#retired = undefined
      if (!slab.lent) this.#free(slab)
    }
  }

  /**
   * Called once per keep-alive interval (session.ts): when nothing is queued and no Data frame was
   * allocated since the previous call, the connection is idle: let every slab go, and grow from
   * FIRST_SLAB_SIZE again when it sends. An idle connection held 16 KiB (its first slab, for an
   * identify message) or, after a transfer, up to three 1 MiB slabs: 164 MB over 10,000 idle
   * connections that only ever ran identify (bench/README.md "Scale").
   */
  releaseIfIdle(): void {
    const idle = !this.#busy && this.empty
    this.#busy = false
    if (!idle) return
    this.#slab = NO_SLAB
    this.#retired = undefined
    this.#spare = NO_FRAMES
    this.#nextSlabSize = FIRST_SLAB_SIZE
  }

  /** Slab memory held (current, retired and spare slabs), for tests and diagnostics. */
  get slabBytes(): number {
    let n = this.#slab.buf.length
    for (const s of this.#retired?.values() ?? []) n += s.buf.length
    for (const b of this.#spare) n += b.length
    return n
  }

  /** Bytes queued in total. */
  get bytes(): number {
    return this.control.bytes + this.ordered.bytes + (this.#partial?.length ?? 0)
  }

  get empty(): boolean {
    return this.#partial === undefined && this.control.length === 0 && this.ordered.length === 0
  }

  clear(): void {
    this.control.clear()
    this.ordered.clear()
    this.#partial = undefined
    // dropped frames are never taken: their slabs can never be counted free (nor reused)
    this.#slab = NO_SLAB
    this.#retired = undefined
  }

  #next(): FrameFifo | undefined {
    if (this.control.length > 0) return this.control
    if (this.ordered.length > 0) return this.ordered
    return undefined
  }

  /**
   * Up to `max` bytes: whole frames, and a first part of the next frame when it does not fit (its
   * rest goes out first on the next call). Every call but the last of a burst returns exactly `max`
   * bytes, so each transport message (a Noise frame) is full even when frame sizes do not line up
   * with it (64 KiB writes make 65507 + 29 byte payloads: without filling, every other Noise frame
   * would carry only the 41-byte remainder and cost a whole AEAD setup).
   *
   * `transient`: the caller reads the result before its next call into the session and keeps no
   * reference, so the memory may be reused afterwards.
   */
  take(max: number, transient = false): Uint8Array | undefined {
    let first = this.#partial
    let q: FrameFifo | undefined
    if (first === undefined) {
      q = this.#next()
      if (q === undefined) return undefined
      first = q.peek()!
    }
    if (first.length >= max) return this.#consume(first, q, max, transient)
    this.#consume(first, q, first.length, transient)
    let total = first.length
    q = this.#next()
    if (q === undefined) return first
    const parts: Uint8Array[] = [first]
    let adjacent = true // every part directly follows the previous one in the same buffer
    while (q !== undefined && total < max) {
      const f = q.peek()!
      const part = this.#consume(f, q, max - total, transient)
      const prev = parts[parts.length - 1]!
      adjacent &&= part.buffer === prev.buffer && part.byteOffset === prev.byteOffset + prev.length
      parts.push(part)
      total += part.length
      q = this.#next()
    }
    if (adjacent) return new Uint8Array(first.buffer, first.byteOffset, total)
    return concat(parts, total)
  }

  /**
   * Take up to `n` bytes of `frame` (the pending partial frame when `q` is undefined, else the head
   * of `q`): a view, since frame memory is never written again; an unsent rest becomes the partial.
   */
  #consume(frame: Uint8Array, q: FrameFifo | undefined, n: number, transient: boolean): Uint8Array {
    if (q !== undefined) q.shift()
    let part = frame
    if (frame.length <= n) {
      if (q === undefined) this.#partial = undefined
    } else {
      this.#partial = frame.subarray(n)
      part = frame.subarray(0, n)
    }
    this.#handedOut(part, transient)
    return part
  }
}
