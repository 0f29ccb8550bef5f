/**
 * A FIFO of received bytes for byte-level cores.
 *
 * Chunks are kept as a list (no per-chunk concatenation, so appending is O(1) and reading is
 * proportional to what is read). `push` copies its input: a core never keeps a reference to a
 * caller's buffer. Reads that span chunks allocate once; reads within one chunk return a view of
 * memory this buffer owns, which stays valid because no byte handed out is ever written again.
 *
 * CPU is bounded per byte, however the input is cut (issue 11 item 5): small pushes are appended to
 * spare room after the last chunk (a "tail" this buffer owns, growing 256 B → 16 KiB), so a peer
 * sending one byte per read makes one chunk per tail, not one per byte; consumed chunks leave
 * through a moving index (Array.shift on a large array is a memmove, which made a 64 KiB message
 * sent byte by byte cost ~5 s), and the list is compacted once half of it is consumed.
 */

/** First tail size, and its ceiling: tails double while small pushes keep coming. */
const TAIL_MIN = 256
const TAIL_MAX = 16 * 1024
/** A push at least this long gets a chunk of its own (a copy of exactly its size). */
const OWN_CHUNK = 4096

/**
 * A FIFO of received bytes for the byte-level cores. `push` copies its input (a core never keeps a
 * caller's buffer); reads within one chunk return views of memory this buffer owns and never writes
 * again, reads across chunks allocate once. CPU stays bounded per byte however the input is split.
 */
export class ReadBuffer {
  #chunks: Uint8Array[] = []
  #first = 0 // index of the first live chunk in #chunks
  #head = 0 // read offset into #chunks[#first]
  #length = 0
  /** Backing memory of the last chunk when small pushes may still be appended to it. */
  #tail: Uint8Array | undefined
  #tailStart = 0 // where the last chunk begins in #tail
  #tailEnd = 0 // bytes of #tail in use
  #tailSize = TAIL_MIN

  /** Bytes buffered and not yet read. */
  get length(): number {
    return this.#length
  }

  /** Append a copy of `data`. */
  push(data: Uint8Array): void {
    const n = data.length
    if (n === 0) return
    this.#length += n
    if (n >= OWN_CHUNK) {
      this.#tail = undefined
      this.#chunks.push(data.slice())
      return
    }
    let t = this.#tail
    if (t !== undefined && t.length - this.#tailEnd >= n) {
      // Room after the last chunk: extend it (bytes before #tailEnd are never written again).
      t.set(data, this.#tailEnd)
      this.#tailEnd += n
      this.#chunks[this.#chunks.length - 1] = t.subarray(this.#tailStart, this.#tailEnd)
      return
    }
    t = new Uint8Array(Math.max(this.#tailSize, n))
    this.#tailSize = Math.min(TAIL_MAX, this.#tailSize * 2)
    t.set(data, 0)
    this.#tail = t
    this.#tailStart = 0
    this.#tailEnd = n
    this.#chunks.push(t.subarray(0, n))
  }

  /** Append `data` without copying: the caller hands over ownership. */
  pushOwned(data: Uint8Array): void {
    if (data.length === 0) return
    this.#tail = undefined
    this.#chunks.push(data)
    this.#length += data.length
  }

  /** Byte at position `i` from the read head, or undefined. */
  byteAt(i: number): number | undefined {
    if (i >= this.#length) return undefined
    let off = this.#head + i
    for (let k = this.#first; k < this.#chunks.length; k++) {
      const c = this.#chunks[k]!
      if (off < c.length) return c[off]
      off -= c.length
    }
    return undefined
  }

  /** The first `n` bytes without consuming them (n <= length). */
  peek(n: number): Uint8Array {
    return this.#take(n, false)
  }

  /** Remove and return the first `n` bytes (n <= length). */
  read(n: number): Uint8Array {
    return this.#take(n, true)
  }

  /** Remove `n` bytes. */
  skip(n: number): void {
    this.#advance(n)
  }

  /** Remove and return everything. */
  readAll(): Uint8Array {
    return this.read(this.#length)
  }

  /** Index of `byte` from the read head, searching at most `limit` bytes; -1 if absent. */
  indexOf(byte: number, limit = Infinity): number {
    let pos = 0
    let start = this.#head
    for (let k = this.#first; k < this.#chunks.length; k++) {
      const c = this.#chunks[k]!
      for (let j = start; j < c.length; j++, pos++) {
        if (pos >= limit) return -1
        if (c[j] === byte) return pos
      }
      start = 0
    }
    return -1
  }

  #take(n: number, consume: boolean): Uint8Array {
    if (n > this.#length || n < 0) throw new RangeError(`cannot take ${n} of ${this.#length} bytes`)
    if (n === 0) return new Uint8Array(0)
    const first = this.#chunks[this.#first]!
    let out: Uint8Array
    if (first.length - this.#head >= n) {
      out = first.subarray(this.#head, this.#head + n)
    } else {
      out = new Uint8Array(n)
      let off = 0
      let start = this.#head
      for (let k = this.#first; off < n; k++) {
        const c = this.#chunks[k]!
        const take = Math.min(c.length - start, n - off)
        out.set(c.subarray(start, start + take), off)
        off += take
        start = 0
      }
    }
    if (consume) this.#advance(n)
    return out
  }

  #advance(n: number): void {
    if (n > this.#length) throw new RangeError(`cannot skip ${n} of ${this.#length} bytes`)
    this.#length -= n
    while (n > 0) {
      const c = this.#chunks[this.#first]!
      const avail = c.length - this.#head
      if (n < avail) {
        this.#head += n
        return
      }
      n -= avail
      this.#chunks[this.#first++] = undefined as unknown as Uint8Array
      this.#head = 0
    }
    if (this.#length === 0) {
      // Empty: start afresh (the tail's bytes may have been handed out as views; never reuse them).
      this.#chunks = []
      this.#first = 0
      this.#tail = undefined
      this.#tailSize = TAIL_MIN
    } else if (this.#first >= 64 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first)
      this.#first = 0
    }
  }
}
