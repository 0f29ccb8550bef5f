/**
 * Decaying tags for the connection manager (src/swarm/conn-manager.ts): a named tag whose value per
 * peer changes on a fixed interval by a decay function, and grows by a bump function when a protocol
 * sees the peer being useful (a delivered message, an answered query). A value that reaches 0 (or
 * below) is removed. The semantics follow go-libp2p's connmgr decayer (spec/connection-manager.md),
 * minus its global resolution ticker: each tag keeps its own deadline here.
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'

/** One peer's value of one decaying tag. */
export interface DecayingValue {
  readonly tag: string
  readonly peer: PeerId
  /** When the value was first set. */
  readonly added: Millis
  /** When the value was last bumped (or set). */
  readonly lastVisit: Millis
  readonly value: number
}

/** The value after one interval; 0 or less removes the tag from the peer. */
export type DecayFn = (value: DecayingValue, now: Millis) => number
/** The value after a bump by `delta`; 0 or less removes the tag from the peer. */
export type BumpFn = (value: DecayingValue, delta: number) => number

/** A registered decaying tag (ConnectionManager.registerDecayingTag). */
export interface DecayingTag {
  readonly name: string
  readonly intervalMs: number
  /** Add `delta` to the peer's value through the tag's bump function (creates a temporary entry for an unknown peer). */
  bump(peer: PeerId, delta: number): void
  /** Remove the tag from the peer. */
  remove(peer: PeerId): void
  /** Remove the tag from every peer and unregister it; bump and remove throw UsageError afterwards. */
  close(): void
}

/** Never decays. */
export const decayNone = (): DecayFn => (v) => v.value

/** Subtracts `amount` per interval. */
export function decayFixed(amount: number): DecayFn {
  finite(amount, 'amount')
  return (v) => v.value - amount
}

/** Multiplies by `coef` (0 < coef < 1) per interval, rounding down (so it reaches 0). */
export function decayLinear(coef: number): DecayFn {
  if (!(coef > 0 && coef < 1)) throw new RangeError('decayLinear: coef must be in (0, 1)')
  return (v) => Math.floor(v.value * coef)
}

/** Keeps the value until the peer was not bumped for `afterMs`, then removes it. */
export function decayExpireWhenInactive(afterMs: number): DecayFn {
  finite(afterMs, 'afterMs')
  return (v, now) => (now - v.lastVisit >= afterMs ? 0 : v.value)
}

/** Adds the delta (go's BumpSumUnbounded). */
export const bumpSum = (): BumpFn => (v, delta) => v.value + delta

/** Adds the delta, keeping the result within [min, max] (go's BumpSumBounded). */
export function bumpSumBounded(min: number, max: number): BumpFn {
  finite(min, 'min')
  finite(max, 'max')
  if (min > max) throw new RangeError('bumpSumBounded: min > max')
  return (v, delta) => Math.min(max, Math.max(min, v.value + delta))
}

/** Replaces the value with the delta (go's BumpOverwrite). */
export const bumpOverwrite = (): BumpFn => (_v, delta) => delta

function finite(n: number, name: string): void {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new TypeError(`${name} must be a finite number`)
}
