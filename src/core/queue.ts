/**
 * A FIFO with a hard capacity. `push` returns false instead of growing past the capacity, so the
 * caller must decide what overflow means (drop, reset the stream, penalise the peer). Every queue
 * fed by remote input in weft is one of these.
 */
export class BoundedQueue<T> {
  #items: T[] = []
  #head = 0
  readonly capacity: number

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
    this.capacity = capacity
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  get full(): boolean {
    return this.length >= this.capacity
  }

  push(item: T): boolean {
    if (this.full) return false
    this.#items.push(item)
    return true
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]!
    this.#items[this.#head] = undefined as T
    this.#head++
    if (this.#head > 32 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!
  }
}
