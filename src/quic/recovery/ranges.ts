/**
 * A set of packet numbers kept as sorted, disjoint, non-adjacent ranges (ascending). The ACK tracker
 * keeps the packet numbers it received in one (RFC 9000 §13.2.3); loss recovery keeps the packet
 * numbers the peer acknowledged and the ones it skipped in others. Every operation is O(log n) in the
 * number of ranges plus the ranges it removes; packet numbers are never enumerated one by one, so a
 * range of 2^53 packet numbers costs what a range of one does. The set itself is unbounded: each owner
 * bounds it with `dropSmallest` and says so in its limits.
 */
import type { AckRange } from '../types.js'

/** A mutable range of the set, both ends included. */
interface Run {
  smallest: number
  largest: number
}

export class RangeSet {
  readonly #runs: Run[] = []

  /** Number of disjoint ranges. */
  get count(): number {
    return this.#runs.length
  }

  /** The smallest number in the set, or undefined when it is empty. */
  get min(): number | undefined {
    return this.#runs[0]?.smallest
  }

  /** The largest number in the set, or undefined when it is empty. */
  get max(): number | undefined {
    return this.#runs[this.#runs.length - 1]?.largest
  }

  /** Index of the first run whose `largest` >= n (runs.length when none). */
  #lowerBound(n: number): number {
    let lo = 0
    let hi = this.#runs.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#runs[mid]!.largest < n) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  has(n: number): boolean {
    const r = this.#runs[this.#lowerBound(n)]
    return r !== undefined && r.smallest <= n
  }

  /** True when some number in [smallest, largest] is in the set. */
  intersects(smallest: number, largest: number): boolean {
    const r = this.#runs[this.#lowerBound(smallest)]
    return r !== undefined && r.smallest <= largest
  }

  /** The range holding `n`, or undefined. */
  rangeOf(n: number): AckRange | undefined {
    const r = this.#runs[this.#lowerBound(n)]
    return r !== undefined && r.smallest <= n ? { smallest: r.smallest, largest: r.largest } : undefined
  }

  /** Add one number; false when it was already present. */
  add(n: number): boolean {
    const runs = this.#runs
    const last = runs[runs.length - 1]
    // the common case: the next packet number in order
    if (last !== undefined && n === last.largest + 1) {
      last.largest = n
      return true
    }
    if (last === undefined || n > last.largest + 1) {
      runs.push({ smallest: n, largest: n })
      return true
    }
    if (this.has(n)) return false
    this.addRange(n, n)
    return true
  }

  /** Add every number of [smallest, largest], merging with the ranges it touches. */
  addRange(smallest: number, largest: number): void {
    if (smallest > largest) return
    const runs = this.#runs
    // first run that touches or follows [smallest, largest]: largest >= smallest - 1
    const i = this.#lowerBound(smallest - 1)
    let j = i
    let lo = smallest
    let hi = largest
    while (j < runs.length && runs[j]!.smallest <= largest + 1) {
      lo = Math.min(lo, runs[j]!.smallest)
      hi = Math.max(hi, runs[j]!.largest)
      j++
    }
    runs.splice(i, j - i, { smallest: lo, largest: hi })
  }

  /** Remove every number below `n`. */
  removeBelow(n: number): void {
    const runs = this.#runs
    const i = this.#lowerBound(n)
    if (i > 0) runs.splice(0, i)
    const first = runs[0]
    if (first !== undefined && first.smallest < n) first.smallest = n
  }

  /** Remove and return the lowest range (undefined when empty). */
  dropSmallest(): AckRange | undefined {
    const r = this.#runs.shift()
    return r === undefined ? undefined : { smallest: r.smallest, largest: r.largest }
  }

  /** The ranges, largest first (the order of an ACK frame), at most `max` of them, at or above `floor`. */
  descending(max = Infinity, floor = -Infinity): AckRange[] {
    const out: AckRange[] = []
    for (let i = this.#runs.length - 1; i >= 0 && out.length < max; i--) {
      const r = this.#runs[i]!
      if (r.largest < floor) break
      out.push({ smallest: Math.max(r.smallest, floor), largest: r.largest })
    }
    return out
  }

  clear(): void {
    this.#runs.length = 0
  }
}
