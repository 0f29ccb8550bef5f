/**
 * Reachability verdicts from probe results (go-libp2p's address reachability tracker rule): of the
 * last `window` results for one address, `successes - failures >= minConfidence` makes it reachable,
 * `failures - successes >= minConfidence` unreachable, anything else unknown. Inconclusive answers
 * (refusals, rejections, a response without its dial-back) are not results.
 */
export type Reachability = 'reachable' | 'unreachable' | 'unknown'
/**
 * The node's reachability as AutoNAT concludes it: `public` (dialable from outside), `private`, or `unknown` (not enough verdicts yet).
 */
export type NodeReachability = 'public' | 'private' | 'unknown'

export interface ConfidenceOptions {
  /** |successes - failures| that decides. Default 2 (go's minConfidence). */
  minConfidence: number
  /** Confidence after which an address is not probed again until `refreshInterval`. Default 3 (go's targetConfidence). */
  targetConfidence: number
  /** Results remembered per address. Default 5 (go's maxRecentDialsWindow). */
  window: number
}

export const DEFAULT_CONFIDENCE: Readonly<ConfidenceOptions> = Object.freeze({ minConfidence: 2, targetConfidence: 3, window: 5 })

export class Results {
  readonly #opts: ConfidenceOptions
  /** true = success, oldest first. */
  #recent: boolean[] = []
  /** Total over the whole life (for status()). */
  successes = 0
  failures = 0
  lastResultAt: number | undefined

  constructor(opts: ConfidenceOptions) {
    this.#opts = opts
  }

  add(now: number, success: boolean): void {
    this.#recent.push(success)
    if (this.#recent.length > this.#opts.window) this.#recent.shift()
    if (success) this.successes++
    else this.failures++
    this.lastResultAt = now
  }

  /** successes - failures over the window. */
  get balance(): number {
    let b = 0
    for (const r of this.#recent) b += r ? 1 : -1
    return b
  }

  get count(): number {
    return this.#recent.length
  }

  get verdict(): Reachability {
    const b = this.balance
    if (b >= this.#opts.minConfidence) return 'reachable'
    if (-b >= this.#opts.minConfidence) return 'unreachable'
    return 'unknown'
  }

  /** Confident enough to stop probing until the refresh. */
  get settled(): boolean {
    return Math.abs(this.balance) >= this.#opts.targetConfidence
  }
}

/**
 * The node's status: public when an address is reachable (v2, verified by its nonce); private when
 * v2 decided every tested address unreachable; otherwise v1's node-level verdict (public /
 * private / unknown), which servers cannot prove (autonat-v1.md, Security Considerations).
 */
export function nodeReachability(addrs: readonly Reachability[], v1: Reachability): NodeReachability {
  if (addrs.includes('reachable')) return 'public'
  if (addrs.length > 0 && addrs.every((a) => a === 'unreachable')) return 'private'
  if (v1 === 'reachable') return 'public'
  if (v1 === 'unreachable') return 'private'
  return 'unknown'
}
