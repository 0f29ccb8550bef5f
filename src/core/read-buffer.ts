/**
 * A FIFO of received bytes for byte-level cores.
 *
 * Chunks are kept as a list (no per-chunk concatenation, so appending is O(1) and reading is
 * proportional to what is read). `push` copies its input: a core never keeps a reference to a
 * caller's buffer. Reads that span chunks allocate once; reads within one chunk return a view of
 * memory this buffer owns, which stays valid because chunks are never reused.
 */
export class ReadBuffer {
  #chunks: Uint8Array[] = []
  #head = 0 // read offset into #chunks[0]
  #length = 0

  get length(): number {
    return this.#length
  }

  /** Append a copy of `data`. */
  push(data: Uint8Array): void {
    if (data.length === 0) return
    this.#chunks.push(data.slice())
    this.#length += data.length
  }

  /** Append `data` without copying: the caller hands over ownership. */
  pushOwned(data: Uint8Array): void {
    if (data.length === 0) return
    this.#chunks.push(data)
    this.#length += data.length
  }

  /** Byte at position `i` from the read head, or undefined. */
  byteAt(i: number): number | undefined {
    if (i >= this.#length) return undefined
    let off = this.#head + i
    for (const c of this.#chunks) {
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
    for (const c of this.#chunks) {
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
    const first = this.#chunks[0]!
    let out: Uint8Array
    if (first.length - this.#head >= n) {
      out = first.subarray(this.#head, this.#head + n)
    } else {
      out = new Uint8Array(n)
      let off = 0
      let start = this.#head
      for (const c of this.#chunks) {
        const take = Math.min(c.length - start, n - off)
        out.set(c.subarray(start, start + take), off)
        off += take
        start = 0
        if (off === n) break
      }
    }
    if (consume) this.#advance(n)
    return out
  }

  #advance(n: number): void {
    if (n > this.#length) throw new RangeError(`cannot skip ${n} of ${this.#length} bytes`)
    this.#length -= n
    while (n > 0) {
      const c = this.#chunks[0]!
      const avail = c.length - this.#head
      if (n < avail) {
        this.#head += n
        return
      }
      n -= avail
      this.#chunks.shift()
      this.#head = 0
    }
  }
}
