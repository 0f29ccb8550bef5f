/**
 * The seen cache (gossipsub-v1.0.md "seen" / pubsub's time cache): the ids of messages seen in the last
 * `seenTTL` (2 minutes by default), so a duplicate is neither delivered nor forwarded twice.
 *
 * Entries expire in insertion order (first-seen time), so a FIFO of (expiry, key) suffices. The cache is
 * also bounded in entries (`maxEntries`): stops a peer flooding distinct ids from growing it without
 * bound between expiries (the oldest entries go first; a re-delivered ancient message is then a
 * duplicate we may deliver again, which the application must tolerate anyway).
 */
import type { Millis } from '../core/byte-machine.js'

/**
 * The seen-messages cache (pubsub/README.md "Message Identification"): ids of recent messages, so duplicates are neither delivered nor forwarded; entries expire after the TTL.
 */
export class SeenCache {
  readonly #expiry = new Map<string, Millis>()
  readonly #ttl: number
  readonly #max: number

  constructor(ttl: number, maxEntries: number) {
    if (!(ttl > 0)) throw new RangeError('seenTTL must be > 0')
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxSeenEntries must be >= 1')
    this.#ttl = ttl
    this.#max = maxEntries
  }

  /** Message ids remembered. */
  get size(): number {
    return this.#expiry.size
  }

  /** True when the message with this id key was seen and has not expired. */
  has(key: string): boolean {
    return this.#expiry.has(key)
  }

  /** Record `key`; false when it was already there (a duplicate). */
  put(now: Millis, key: string): boolean {
    if (this.#expiry.has(key)) return false
    this.add(now, key)
    return true
  }

  /** Record `key`, which the caller has just found absent (`has`): one map operation less than `put`. */
  add(now: Millis, key: string): void {
    if (this.#expiry.size >= this.#max) {
      const oldest = this.#expiry.keys().next().value
      if (oldest !== undefined) this.#expiry.delete(oldest)
    }
    this.#expiry.set(key, now + this.#ttl)
  }

  /** Drop expired entries (Map iteration is insertion order = expiry order). */
  prune(now: Millis): void {
    for (const [k, exp] of this.#expiry) {
      if (exp > now) break
      this.#expiry.delete(k)
    }
  }
}
