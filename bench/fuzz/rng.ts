/**
 * Seeded randomness for the fuzzer: mulberry32 (the same algorithm as test/helpers/prng.ts), wrapped
 * with the helpers generators need. Every input is a pure function of (target, seed, iteration).
 */
import { prng } from '../../test/helpers/prng.js'

/** mulberry32, the one copy in test/helpers/prng.ts (shared with the behaviour harness and the sims). */
export const mulberry32: (seed: number) => () => number = prng

/** One 32-bit seed per (run seed, iteration): inputs can be regenerated from these two numbers. */
export function iterationSeed(seed: number, iteration: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0
  h = Math.imul(h ^ iteration, 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

export class Rand {
  readonly next: () => number
  constructor(seed: number) {
    this.next = mulberry32(seed)
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!
  }

  /** A size skewed towards small values, up to `max` (every size up to the limit is reachable). */
  size(max: number): number {
    const r = this.next()
    if (r < 0.5) return this.int(Math.min(max, 16) + 1)
    if (r < 0.8) return this.int(Math.min(max, 256) + 1)
    if (r < 0.95) return this.int(Math.min(max, 4096) + 1)
    return this.int(max + 1)
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = (this.next() * 256) | 0
    return out
  }

  /** Printable-ish text from an alphabet, sometimes with arbitrary code points. */
  text(n: number, alphabet: string): string {
    let s = ''
    for (let i = 0; i < n; i++) {
      s += this.chance(0.95) ? alphabet[this.int(alphabet.length)]! : String.fromCharCode(this.int(0x10000))
    }
    return s
  }
}
