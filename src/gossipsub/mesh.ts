/**
 * Mesh peer selection (gossipsub-v1.0.md "Mesh Maintenance", gossipsub-v1.1.md "Heartbeat Maintenance",
 * "Outbound Mesh Quotas", "Opportunistic Grafting"), as pure functions over candidate lists.
 *
 * Randomness is injected as `rand()` in [0, 1) (derived from the behaviour's `random`), so a seed fixes
 * every choice.
 */

export type Rand = () => number

/** In-place Fisher-Yates shuffle. */
export function shuffle<T>(xs: T[], rand: Rand): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = xs[i]!
    xs[i] = xs[j]!
    xs[j] = t
  }
  return xs
}

/** Up to `n` random elements of `xs` (not modified). */
export function sample<T>(xs: Iterable<T>, n: number, rand: Rand): T[] {
  const all = shuffle([...xs], rand)
  return n >= all.length ? all : all.slice(0, Math.max(0, n))
}

export interface MeshCandidate {
  readonly peer: string
  readonly score: number
  readonly outbound: boolean
}

/**
 * Oversubscription (|mesh| > D_hi): which peers to keep. The best `dScore` by score (ties broken by a
 * prior shuffle), then random ones up to `d`; then, if fewer than `dOut` kept peers are outbound,
 * replace the lowest-ranked non-outbound survivors (outside the D_score best first) with outbound peers.
 */
export function selectMeshSurvivors(mesh: MeshCandidate[], d: number, dScore: number, dOut: number, rand: Rand): Set<string> {
  const ranked = shuffle([...mesh], rand).sort((a, b) => b.score - a.score)
  const best = ranked.slice(0, dScore)
  const rest = shuffle(ranked.slice(dScore), rand)
  const keep = [...best, ...rest.slice(0, Math.max(0, d - best.length))]
  const spare = rest.slice(Math.max(0, d - best.length))
  let outbound = keep.filter((c) => c.outbound).length
  if (outbound < dOut) {
    const spareOut = spare.filter((c) => c.outbound)
    // replace from the end of `keep` (random picks first, then the lowest scorers of the best)
    for (let i = keep.length - 1; i >= 0 && outbound < dOut && spareOut.length > 0; i--) {
      if (keep[i]!.outbound) continue
      keep[i] = spareOut.shift()!
      outbound++
    }
  }
  return new Set(keep.map((c) => c.peer))
}

/** The median of `xs` (empty: 0). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Gossip targets: max(D_lazy, gossipFactor · |eligible|) random eligible peers. */
export function gossipTargetCount(eligible: number, dLazy: number, gossipFactor: number): number {
  return Math.min(eligible, Math.max(dLazy, Math.floor(gossipFactor * eligible)))
}
