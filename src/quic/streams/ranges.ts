/**
 * A set of byte offsets as sorted, disjoint, non-adjacent half-open ranges [start, end). The stream
 * layer keeps three of them per stream: bytes received (reassembly), bytes acknowledged and bytes to
 * retransmit (send side). Adjacent and overlapping ranges merge, so the count of ranges is the count
 * of gaps plus one: that count is what the reassembly limit bounds (`maxStreamFragments`).
 */
export class RangeSet {
  /** Flattened pairs: [start0, end0, start1, end1, ...], ascending. */
  #r: number[] = []

  /** Number of disjoint ranges. */
  get count(): number {
    return this.#r.length / 2
  }

  get empty(): boolean {
    return this.#r.length === 0
  }

  /** Start of the lowest range (undefined when empty). */
  get firstStart(): number | undefined {
    return this.#r[0]
  }

  /** End of the lowest range (undefined when empty). */
  get firstEnd(): number | undefined {
    return this.#r[1]
  }

  /** End of the highest range, 0 when empty. */
  get max(): number {
    return this.#r.length === 0 ? 0 : this.#r[this.#r.length - 1]!
  }

  /** Index (pair number) of the first range whose end is >= `offset`. */
  #search(offset: number): number {
    let lo = 0
    let hi = this.#r.length / 2
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#r[mid * 2 + 1]! < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Add [start, end), merging with every range it overlaps or touches. */
  add(start: number, end: number): void {
    if (end <= start) return
    const r = this.#r
    const i = this.#search(start) // first range with end >= start
    let j = i
    let s = start
    let e = end
    while (j * 2 < r.length && r[j * 2]! <= end) {
      s = Math.min(s, r[j * 2]!)
      e = Math.max(e, r[j * 2 + 1]!)
      j++
    }
    r.splice(i * 2, (j - i) * 2, s, e)
  }

  /** Remove [start, end). */
  remove(start: number, end: number): void {
    if (end <= start) return
    const r = this.#r
    const i = this.#search(start + 1) // first range with end > start
    const out: number[] = []
    let j = i
    while (j * 2 < r.length && r[j * 2]! < end) {
      const s = r[j * 2]!
      const e = r[j * 2 + 1]!
      if (s < start) out.push(s, start)
      if (e > end) out.push(end, e)
      j++
    }
    if (j > i || out.length > 0) r.splice(i * 2, (j - i) * 2, ...out)
  }

  /** Is every offset of [start, end) in the set? */
  covers(start: number, end: number): boolean {
    if (end <= start) return true
    const i = this.#search(start + 1)
    return i * 2 < this.#r.length && this.#r[i * 2]! <= start && this.#r[i * 2 + 1]! >= end
  }

  /** The parts of [start, end) that are NOT in the set, ascending. */
  gaps(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = []
    let at = start
    const r = this.#r
    for (let i = this.#search(start + 1); i * 2 < r.length && at < end; i++) {
      const s = r[i * 2]!
      const e = r[i * 2 + 1]!
      if (s > at) out.push([at, Math.min(s, end)])
      at = Math.max(at, e)
    }
    if (at < end) out.push([at, end])
    return out
  }

  clear(): void {
    this.#r = []
  }
}
