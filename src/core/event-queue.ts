/**
 * A FIFO of events with an O(1) poll (a moving head, not Array.shift, which is a memmove on a large
 * array) and a filter, for cores whose one input can queue thousands of events.
 */
export class EventQueue<E> {
  #events: E[] = []
  #head = 0

  push(ev: E): void {
    this.#events.push(ev)
  }

  poll(): E | undefined {
    if (this.#head >= this.#events.length) return undefined
    const ev = this.#events[this.#head]!
    this.#events[this.#head++] = undefined as unknown as E
    if (this.#head === this.#events.length) {
      this.#events = []
      this.#head = 0
    }
    return ev
  }

  /** Forget the queued events for which `drop` is true. */
  drop(drop: (ev: E) => boolean): void {
    const kept: E[] = []
    for (let i = this.#head; i < this.#events.length; i++) {
      const ev = this.#events[i]!
      if (!drop(ev)) kept.push(ev)
    }
    this.#events = kept
    this.#head = 0
  }
}
