/**
 * The earliest of many deadlines, one per key (a connection id), without scanning every key.
 *
 * The swarm asks for its earliest deadline after every input (the runtime arms one timer for it)
 * and, when the timer fires, for the connections that are due. Scanning every connection for both
 * made each input cost O(connections): with 10,000 idle connections an inbound handshake cost ~30 ms
 * of CPU and upgrades timed out (bench/README.md "Scale"). Here a binary min-heap with lazy deletion
 * keeps both O(log n) per changed deadline: `set` pushes an entry only when a key's deadline
 * changes; an entry whose time is no longer its key's current deadline is stale and is dropped when
 * it reaches the top. The heap is rebuilt from the live deadlines when stale entries outnumber them,
 * so its size stays within 2 x keys + 64.
 *
 * With a `read` function (the swarm's: a connection's core `pollTimeout()`, undefined once it is
 * gone), the owner only says which keys it touched (`touch`): their deadlines are re-read before the
 * next `peek` or `popDue`. Keys returned by `popDue` count as touched (they were handled).
 *
 * Pure (no clock): times are the caller's `Millis`.
 */
import type { Millis } from '../core/byte-machine.js'

interface Entry {
  t: Millis
  key: number
}

export class DeadlineQueue {
  /** key -> its current deadline (keys without one are absent). */
  readonly #at = new Map<number, Millis>()
  #heap: Entry[] = []
  readonly #read: ((key: number) => Millis | undefined) | undefined
  readonly #touched = new Set<number>()

  constructor(read?: (key: number) => Millis | undefined) {
    this.#read = read
  }

  /** `key`'s deadline may have changed: read it again (with the constructor's `read`) before the next peek/popDue. */
  touch(key: number): void {
    this.#touched.add(key)
  }

  /** Keys with a deadline. */
  get size(): number {
    return this.#at.size
  }

  /** Entries in the heap, stale ones included (at most 2 x size + 64). */
  get entries(): number {
    return this.#heap.length
  }

  /** The current deadline of `key`, if any. */
  get(key: number): Millis | undefined {
    return this.#at.get(key)
  }

  /** Set (or with `undefined`, clear) the deadline of `key`. */
  set(key: number, t: Millis | undefined): void {
    if (t === undefined) return this.delete(key)
    if (this.#at.get(key) === t) return
    this.#at.set(key, t)
    this.#push({ t, key })
    this.#bound()
  }

  delete(key: number): void {
    if (this.#at.delete(key)) this.#bound()
  }

  /** The earliest deadline, or undefined when no key has one. */
  peek(): Millis | undefined {
    this.#reread()
    this.#dropStale()
    return this.#heap[0]?.t
  }

  /** Remove and return every key whose deadline is <= `now`, earliest first. */
  popDue(now: Millis): number[] {
    this.#reread()
    const due: number[] = []
    for (;;) {
      this.#dropStale()
      const top = this.#heap[0]
      if (top === undefined || top.t > now) break
      this.#pop()
      this.#at.delete(top.key)
      due.push(top.key)
      if (this.#read !== undefined) this.#touched.add(top.key)
    }
    this.#bound()
    return due
  }

  #reread(): void {
    const read = this.#read
    if (read === undefined || this.#touched.size === 0) return
    // (read may touch keys again: they wait for the next call)
    const keys = [...this.#touched]
    this.#touched.clear()
    for (const k of keys) this.set(k, read(k))
  }

  /** Rebuild from the live deadlines once stale entries outnumber them. */
  #bound(): void {
    if (this.#heap.length > 2 * this.#at.size + 64) this.#rebuild()
  }

  #dropStale(): void {
    for (let top = this.#heap[0]; top !== undefined && this.#at.get(top.key) !== top.t; top = this.#heap[0]) this.#pop()
  }

  #rebuild(): void {
    this.#heap = [...this.#at].map(([key, t]) => ({ t, key }))
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i)
  }

  #push(e: Entry): void {
    const h = this.#heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p]!.t <= e.t) break
      h[i] = h[p]!
      i = p
    }
    h[i] = e
  }

  #pop(): void {
    const h = this.#heap
    const last = h.pop()!
    if (h.length === 0) return
    h[0] = last
    this.#down(0)
  }

  #down(i: number): void {
    const h = this.#heap
    const e = h[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const c = r < h.length && h[r]!.t < h[l]!.t ? r : l
      if (h[c]!.t >= e.t) break
      h[i] = h[c]!
      i = c
    }
    h[i] = e
  }
}
