/**
 * Byte accounting of a store by source (source.ts): the total, each source's share, and the age
 * order of each source's entries. It decides who makes room when the store is full:
 *
 * **Eviction** (max-min fairness): the victim is the oldest entry of the source holding the most
 * bytes, and only if that source holds more than the claimant would after the new entry. So a full
 * store never locks out a newcomer for a record lifetime (audit finding 4): anyone holding less
 * than the biggest source displaces it; a source that already holds the biggest share is refused
 * instead. Our own entries (source undefined) count in the total but are never evicted, and our own
 * claims may evict any remote source.
 */
export class SourceLedger {
  #total = 0
  /** Per source: its bytes, and its entries (id -> bytes) oldest first. */
  readonly #bySource = new Map<string, { bytes: number; entries: Map<string, number> }>()

  /** Accounted bytes of every entry, ours included. */
  get total(): number {
    return this.#total
  }

  /** Sources holding at least one entry. */
  get sources(): number {
    return this.#bySource.size
  }

  bytesOf(source: string): number {
    return this.#bySource.get(source)?.bytes ?? 0
  }

  /** Account a new entry `id` (the newest of its source). */
  add(id: string, source: string | undefined, bytes: number): void {
    this.#total += bytes
    if (source === undefined) return
    let s = this.#bySource.get(source)
    if (s === undefined) {
      s = { bytes: 0, entries: new Map() }
      this.#bySource.set(source, s)
    }
    s.bytes += bytes
    s.entries.set(id, bytes)
  }

  /** Forget entry `id` (accounted with `bytes` to `source`). */
  remove(id: string, source: string | undefined, bytes: number): void {
    this.#total -= bytes
    if (source === undefined) return
    const s = this.#bySource.get(source)
    if (s === undefined || !s.entries.delete(id)) return
    s.bytes -= bytes
    if (s.entries.size === 0) this.#bySource.delete(source)
  }

  /**
   * The entry to evict so that `claimant` (undefined: ourselves) can add `incoming` bytes, or
   * undefined when no source holds more than the claimant would (the claim is then refused).
   * Linear in the number of sources, run only when the store is full.
   */
  victim(claimant: string | undefined, incoming: number): string | undefined {
    let biggest: { bytes: number; entries: Map<string, number> } | undefined
    let name: string | undefined
    for (const [n, s] of this.#bySource) if (n !== claimant && (biggest === undefined || s.bytes > biggest.bytes)) { biggest = s; name = n }
    if (biggest === undefined || name === undefined) return undefined
    if (claimant !== undefined && biggest.bytes <= this.bytesOf(claimant) + incoming) return undefined
    return biggest.entries.keys().next().value
  }
}
