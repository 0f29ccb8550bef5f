/**
 * When the previous 1-RTT key phase's receive keys go (RFC 9001 §6.5): they open packets the
 * network delayed across a key update, and are kept for three PTOs after the first packet of the
 * new phase arrived (the new phase is in use both ways), then discarded: a packet still carrying
 * the old phase is then tried with the next phase's keys and fails like any forged packet. Without
 * this bound the old keys stayed until the next update (which may never come).
 */
import type { ConnState } from './state.js'

/** After a datagram: start the discard timer of the previous keys once a packet of the current phase arrived. */
export function armKeyDiscard(s: ConnState, now: number, pto: number): void {
  const k = s.keys
  if (k.prevRecv === undefined || k.firstRecvPn === undefined || k.discard?.keys === k.prevRecv) return
  k.discard = { keys: k.prevRecv, at: now + 3 * pto }
}

/** When the previous keys are discarded (undefined: none held, or not yet armed). */
export function keyDiscardTimeout(s: ConnState): number | undefined {
  const d = s.keys.discard
  return d !== undefined && d.keys === s.keys.prevRecv ? d.at : undefined
}

/** The timer: discard the previous keys when their time came. */
export function discardOldKeys(s: ConnState, now: number): void {
  const k = s.keys
  const d = k.discard
  if (d === undefined) return
  if (d.keys !== k.prevRecv) { k.discard = undefined; return }
  if (now < d.at) return
  k.prevRecv = undefined
  k.discard = undefined
}
