/**
 * Round-trip time estimation (RFC 9002 §5, Appendix A.3 and A.7 `UpdateRtt`). Times are
 * milliseconds (`Millis`, fractional allowed); the estimator never reads a clock.
 *
 * - `latestRtt`: the last sample (ack time minus the send time of the largest newly acknowledged
 *   packet, when that packet and at least one ack-eliciting packet are newly acknowledged).
 * - `minRtt`: the smallest sample, without the peer's ack delay (§5.2).
 * - `smoothedRtt`, `rttvar`: EWMA of the ack-delay-adjusted samples (§5.3), seeded with the first
 *   sample (smoothed = sample, rttvar = sample / 2); `initialRtt` (333 ms, §6.2.2) until then.
 */
import type { Millis } from '../../core/byte-machine.js'

/** kGranularity (RFC 9002 §6.1.2): the timer granularity, 1 ms. */
export const K_GRANULARITY: Millis = 1
/** kInitialRtt (RFC 9002 §6.2.2): the RTT assumed before the first sample, 333 ms. */
export const K_INITIAL_RTT: Millis = 333

export class RttEstimator {
  #latest: Millis = 0
  #smoothed: Millis
  #rttvar: Millis
  #min: Millis = 0
  #firstSampleTime: Millis | undefined

  constructor(initialRtt: Millis = K_INITIAL_RTT) {
    if (!(initialRtt > 0) || !Number.isFinite(initialRtt)) throw new RangeError(`initialRtt must be a positive number of ms, got ${initialRtt}`)
    this.#smoothed = initialRtt
    this.#rttvar = initialRtt / 2
  }

  /** latest_rtt: the most recent sample (0 before the first one). */
  get latestRtt(): Millis {
    return this.#latest
  }

  /** smoothed_rtt (initialRtt before the first sample). */
  get smoothedRtt(): Millis {
    return this.#smoothed
  }

  /** rttvar (initialRtt / 2 before the first sample). */
  get rttvar(): Millis {
    return this.#rttvar
  }

  /** min_rtt (0 before the first sample). */
  get minRtt(): Millis {
    return this.#min
  }

  /** first_rtt_sample (Appendix B.2): when the first sample was taken, undefined before. */
  get firstSampleTime(): Millis | undefined {
    return this.#firstSampleTime
  }

  /**
   * Take one sample (Appendix A.7 `UpdateRtt`). `ackDelay` is the peer's reported delay in ms (0 for
   * the Initial and Handshake spaces, whose ACKs the peer does not delay, §5.3); once the handshake is confirmed it is
   * capped at the peer's `maxAckDelay`; it is subtracted only when that leaves at least min_rtt.
   */
  update(latestRtt: Millis, ackDelay: Millis, now: Millis, handshakeConfirmed: boolean, maxAckDelay: Millis): void {
    const latest = Math.max(0, latestRtt)
    this.#latest = latest
    if (this.#firstSampleTime === undefined) {
      this.#firstSampleTime = now
      this.#min = latest
      this.#smoothed = latest
      this.#rttvar = latest / 2
      return
    }
    this.#min = Math.min(this.#min, latest)
    const delay = handshakeConfirmed ? Math.min(ackDelay, maxAckDelay) : ackDelay
    const adjusted = latest >= this.#min + delay ? latest - delay : latest
    this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#smoothed - adjusted)
    this.#smoothed = 0.875 * this.#smoothed + 0.125 * adjusted
  }

  /** After persistent congestion, min_rtt restarts from the newest sample (§5.2). */
  resetMinRtt(): void {
    if (this.#firstSampleTime !== undefined) this.#min = this.#latest
  }

  /** The PTO period without backoff (§6.2.1): smoothed_rtt + max(4 * rttvar, kGranularity) + maxAckDelay. */
  pto(maxAckDelay: Millis): Millis {
    return this.#smoothed + Math.max(4 * this.#rttvar, K_GRANULARITY) + maxAckDelay
  }

  /** The time-threshold loss delay (§6.1.2): max(9/8 * max(smoothed_rtt, latest_rtt), kGranularity). */
  lossDelay(timeThreshold: number): Millis {
    return Math.max(timeThreshold * Math.max(this.#latest, this.#smoothed), K_GRANULARITY)
  }
}
