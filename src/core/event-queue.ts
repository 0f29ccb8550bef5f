/**
 * A FIFO of events with an O(1) poll (a moving head, not Array.shift, which is a memmove on a large
 * array) and a filter, for cores whose one input can queue thousands of events.
 * An empty queue holds no array (each idle connection has three queues: connection, Noise, yamux;
 * ~100 B of array each, bench/README.md "Where an idle connection's memory goes").
 */
export class EventQueue<E> {
  #events: E[] | undefined = undefined
  #head = 0

  push(ev: E): void {
    if (this.#events === undefined) this.#events = [ev]
    else this.#events.push(ev)
  }

  poll(): E | undefined {
    const events = this.#events
    if (events === undefined || this.#head >= events.length) return undefined
    const ev = events[this.#head]!
    events[this.#head++] = undefined as unknown as E
    if (this.#head === events.length) {
      this.#events = undefined
      this.#head = 0
    }
    return ev
  }

  /** Forget the queued events for which `drop` is true. */
  drop(drop: (ev: E) => boolean): void {
    const events = this.#events
    if (events === undefined) return
    const kept: E[] = []
    for (let i = this.#head; i < events.length; i++) {
      const ev = events[i]!
      if (!drop(ev)) kept.push(ev)
    }
    this.#events = kept.length === 0 ? undefined : kept
    this.#head = 0
  }
}
