/**
 * DCUtR side A's punch attempts (spec/dcutr.md "Roles and state machine", A step 2, and "QUIC"):
 * every SYNC starts one attempt with its own dials and its own outcome. A QUIC dial is bounded by
 * its attempt: it is cancelled when the attempt's punch window (`punchTimeout` from the SYNC, the
 * window B punches in) ends without a connection, or when B starts a new attempt (B moved on; the
 * new attempt dials afresh instead of joining the stale handshake). A TCP dial runs to its own end
 * (the swarm's dial timeout), as B's TCP dials do. Each attempt ends in a `failed` event (attempt
 * number, `dcutr/punch-timeout` or `dcutr/dial-failed`) or, with the peer's direct connection, in
 * `direct`. Pure: time is an input.
 */
import type { Millis } from '../core/byte-machine.js'
import { OutcomeError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { DcutrEvent, DcutrOutcomeCode, PunchAddrs } from './types.js'

interface Attempt {
  readonly peer: PeerId
  readonly key: string
  /** A's attempt number for this peer (1 for the first SYNC). */
  readonly n: number
  readonly punch: PunchAddrs
  /** Every dial of the attempt still in flight. */
  readonly pending: Set<number>
  /** The QUIC dials among them (cancelled at the end of the punch window). */
  readonly quic: Set<number>
  /** The end of the punch window while QUIC dials are in flight. */
  until: Millis | undefined
  /** The punch window ended (or B moved on) with QUIC dials still in flight. */
  timedOut: boolean
  /** Why the QUIC dials ended (the punch window, or B's next attempt). */
  why: string | undefined
}

/** What A's attempts ask of the behaviour: emit an event, cancel a dial. */
export interface APunchHost {
  emit(event: DcutrEvent): void
  cancel(requestId: number): void
}

/** A's punch attempts, one per SYNC. */
export class APunches {
  readonly #host: APunchHost
  readonly #attempts = new Set<Attempt>()
  readonly #byDial = new Map<number, Attempt>()
  /** SYNCs per peer: A's attempt numbers (dropped with the peer's relayed connections or its direct one). */
  readonly #count = new Map<string, number>()

  constructor(host: APunchHost) {
    this.#host = host
  }

  /**
   * B's SYNC: ends the peer's stale QUIC dials, then an attempt with the dials `dial()` makes; `window`
   * ms for its QUIC dials.
   */
  start(now: Millis, peer: PeerId, key: string, punch: PunchAddrs, dial: () => ReadonlyArray<{ id: number; quic: boolean }>, window: number): void {
    for (const x of [...this.#attempts]) if (x.key === key && x.quic.size > 0) this.#endQuic(x, 'the peer started a new attempt')
    const dials = dial()
    const n = (this.#count.get(key) ?? 0) + 1
    this.#count.set(key, n)
    const x: Attempt = { peer, key, n, punch, pending: new Set(), quic: new Set(), until: undefined, timedOut: false, why: undefined }
    for (const d of dials) {
      x.pending.add(d.id)
      if (d.quic) x.quic.add(d.id)
      this.#byDial.set(d.id, x)
    }
    if (x.quic.size > 0) x.until = now + window
    this.#attempts.add(x)
    if (x.pending.size === 0) this.#finish(x, outcome('dcutr/dial-failed', 'no address to dial'))
  }

  /** One of A's dials failed; returns false when it is no (longer a) dial of a live attempt. */
  dialFailed(requestId: number, error: Error): boolean {
    const x = this.#byDial.get(requestId)
    if (x === undefined) return false
    this.#byDial.delete(requestId)
    x.pending.delete(requestId)
    x.quic.delete(requestId)
    if (x.quic.size === 0) x.until = undefined
    if (x.pending.size === 0) this.#finish(x, x.timedOut ? this.#timeoutError(x) : outcome('dcutr/dial-failed', error.message))
    return true
  }

  /** A direct connection to the peer: its attempts end (their dials run on); the latest attempt's number and addresses. */
  direct(key: string): { attempts: number; punch: PunchAddrs } | undefined {
    let last: Attempt | undefined
    for (const x of [...this.#attempts]) {
      if (x.key !== key) continue
      this.#drop(x)
      if (last === undefined || x.n > last.n) last = x
    }
    this.#count.delete(key)
    return last === undefined ? undefined : { attempts: last.n, punch: last.punch }
  }

  /** The peer's last relayed connection closed: the next SYNC from it (on a new one) is attempt 1 again. */
  forget(key: string): void {
    this.#count.delete(key)
  }

  /** The earliest end of a punch window. */
  nextDeadline(): Millis | undefined {
    let min: Millis | undefined
    for (const x of this.#attempts) if (x.until !== undefined && (min === undefined || x.until < min)) min = x.until
    return min
  }

  /** Punch windows that ended: their QUIC dials are cancelled. */
  expire(now: Millis): void {
    for (const x of [...this.#attempts]) if (x.until !== undefined && x.until <= now) this.#endQuic(x, 'no QUIC connection within the punch window')
  }

  #endQuic(x: Attempt, why: string): void {
    for (const id of x.quic) {
      x.pending.delete(id)
      this.#byDial.delete(id)
      this.#host.cancel(id)
    }
    x.quic.clear()
    x.until = undefined
    x.timedOut = true
    x.why = why
    if (x.pending.size === 0) this.#finish(x, this.#timeoutError(x))
  }

  #timeoutError(x: Attempt): OutcomeError<DcutrOutcomeCode> {
    return outcome('dcutr/punch-timeout', `attempt ${x.n}: ${x.why ?? 'no QUIC connection within the punch window'}`)
  }

  #finish(x: Attempt, error: Error): void {
    this.#drop(x)
    this.#host.emit({ type: 'failed', peer: x.peer, role: 'A', attempts: x.n, error, ...x.punch })
  }

  #drop(x: Attempt): void {
    this.#attempts.delete(x)
    for (const id of x.pending) this.#byDial.delete(id)
  }
}

const outcome = (code: DcutrOutcomeCode, message: string): OutcomeError<DcutrOutcomeCode> => new OutcomeError<DcutrOutcomeCode>(code, message)
