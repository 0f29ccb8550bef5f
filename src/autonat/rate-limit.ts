/**
 * Sliding-window rate limits for AutoNAT servers: at most `global` requests per window from everyone
 * and `perPeer` from one peer (go's v2 server: 60 and 12 per minute; v1: 30 and 3). A request counts
 * only when both allow it, so the per-peer table never holds more than `global` timestamps.
 */
import type { Millis } from '../core/byte-machine.js'

export class RateLimiter {
  readonly #global: number
  readonly #perPeer: number
  readonly #window: number
  #all: Millis[] = []
  readonly #byPeer = new Map<string, Millis[]>()

  constructor(global: number, perPeer: number, window: number) {
    this.#global = global
    this.#perPeer = perPeer
    this.#window = window
  }

  /** Count one request from `peer` at `now` if both limits allow it; false (nothing counted) otherwise. */
  take(now: Millis, peer: string): boolean {
    this.#prune(now)
    if (this.#all.length >= this.#global) return false
    const mine = this.#byPeer.get(peer) ?? []
    if (mine.length >= this.#perPeer) return false
    mine.push(now)
    this.#byPeer.set(peer, mine)
    this.#all.push(now)
    return true
  }

  /** Timestamps held (for tests: bounded by `global`). */
  get size(): number {
    let n = 0
    for (const v of this.#byPeer.values()) n += v.length
    return n
  }

  #prune(now: Millis): void {
    const cutoff = now - this.#window
    if (this.#all.length === 0 || this.#all[0]! > cutoff) return
    this.#all = this.#all.filter((t) => t > cutoff)
    for (const [k, v] of this.#byPeer) {
      const kept = v.filter((t) => t > cutoff)
      if (kept.length === 0) this.#byPeer.delete(k)
      else this.#byPeer.set(k, kept)
    }
  }
}
