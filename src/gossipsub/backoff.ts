/**
 * PRUNE backoff (gossipsub-v1.1.md "PRUNE Backoff and Peer Exchange"): after a PRUNE, in either
 * direction, neither side grafts the other in that topic until the backoff expires. A GRAFT received
 * inside the backoff is answered with a PRUNE (extending it) and penalised through P₇.
 *
 * Keys are (topic, peer). Bounded by `maxEntries`: entries exist only for peers we meshed with in
 * topics we joined, but a peer could PRUNE for many topics; stops that from growing the map.
 */
import type { Millis } from '../core/byte-machine.js'

/**
 * The PRUNE backoff table (gossipsub v1.1 "Prune Backoff and Peer Exchange"): after a PRUNE, neither side re-GRAFTs the peer into the topic's mesh before the backoff ends. Bounded.
 */
export class Backoff {
  readonly #until = new Map<string, Millis>()
  readonly #max: number

  constructor(maxEntries: number) {
    this.#max = maxEntries
  }

  /** The table key of a (topic, peer) pair. */
  static key(topic: string, peer: string): string {
    return `${peer}\u0000${topic}`
  }

  /** (topic, peer) pairs backing off. */
  get size(): number {
    return this.#until.size
  }

  /** Set (or extend, never shorten) the backoff of `peer` in `topic` to `now + ms`. */
  add(now: Millis, topic: string, peer: string, ms: number): void {
    const k = Backoff.key(topic, peer)
    const until = now + ms
    const cur = this.#until.get(k)
    if (cur !== undefined && cur >= until) return
    if (cur === undefined && this.#until.size >= this.#max) return
    this.#until.set(k, until)
  }

  /** True while `peer` is backed off in `topic`. */
  active(now: Millis, topic: string, peer: string, slack = 0): boolean {
    const until = this.#until.get(Backoff.key(topic, peer))
    return until !== undefined && now + slack < until
  }

  /** Remaining backoff in ms (0 when none). */
  remaining(now: Millis, topic: string, peer: string): number {
    const until = this.#until.get(Backoff.key(topic, peer))
    return until === undefined ? 0 : Math.max(0, until - now)
  }

  /** Heartbeat: forget expired entries. */
  prune(now: Millis): void {
    for (const [k, until] of this.#until) if (until <= now) this.#until.delete(k)
  }
}
