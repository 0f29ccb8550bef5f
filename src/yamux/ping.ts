/**
 * The Pings a yamux session has in flight (spec "Ping": SYN = request, ACK = response echoing the
 * opaque value): opaque values out, RTTs back. At most MAX_PINGS_IN_FLIGHT are remembered (the
 * oldest is forgotten beyond that; only local misuse sends that many); no table while none.
 */
import type { Millis } from '../core/byte-machine.js'
import { MAX_PINGS_IN_FLIGHT } from './options.js'

/** The Pings in flight of one session (see the file comment). */
export class PingsInFlight {
  #sent: Map<number, Millis> | undefined // opaque value -> time sent
  #next = 0

  /** A Ping leaves at `now`: its opaque value. */
  send(now: Millis): number {
    const opaque = this.#next
    this.#next = (opaque + 1) >>> 0
    const sent = (this.#sent ??= new Map())
    if (sent.size >= MAX_PINGS_IN_FLIGHT) sent.delete(sent.keys().next().value!)
    sent.set(opaque, now)
    return opaque
  }

  /** Is the Ping with this opaque value still unanswered? */
  has(opaque: number): boolean {
    return this.#sent?.has(opaque) === true
  }

  /** A response with `opaque` arrived at `now`: the RTT, or undefined when it answers no Ping of ours. */
  answer(opaque: number, now: Millis): number | undefined {
    const t = this.#sent?.get(opaque)
    if (t === undefined) return undefined
    if (this.#sent!.delete(opaque) && this.#sent!.size === 0) this.#sent = undefined
    return Math.max(0, now - t)
  }

  clear(): void {
    this.#sent = undefined
  }
}
