/**
 * Pacing (RFC 9002 §7.7): a token bucket that spreads a congestion window's worth of packets over a
 * round trip instead of sending them in one burst. Rate = N · congestion_window / smoothed_rtt with
 * N = 1.25 (so pacing never keeps the window from being filled within an RTT); bursts are capped at
 * the initial window (§7.7: "limit bursts to the initial congestion window"). Pure: the caller passes
 * `now`, the rate and the burst; `nextSendTime` says when a packet of `bytes` may go, and the caller
 * arms a timer for it. ACK-only packets and PTO probes are not paced.
 */
import type { Millis } from '../../core/byte-machine.js'

/** N of RFC 9002 §7.7. */
export const PACING_GAIN = 1.25

export class Pacer {
  /** Tokens (bytes) at `#last`; undefined until the first paced packet (a full bucket). */
  #tokens: number | undefined
  #last: Millis = 0

  /** Tokens at `now` (a query: nothing changes). */
  #available(now: Millis, rate: number, burst: number): number {
    if (this.#tokens === undefined) return burst
    return Math.min(burst, this.#tokens + Math.max(0, now - this.#last) * rate)
  }

  /** When a packet of `bytes` may be sent at `rate` bytes/ms with bursts up to `burst` bytes: `now` or later. */
  nextSendTime(now: Millis, bytes: number, rate: number, burst: number): Millis {
    const tokens = this.#available(now, rate, burst)
    const need = Math.min(bytes, burst)
    if (tokens >= need || !(rate > 0) || !Number.isFinite(rate)) return now
    return now + (need - tokens) / rate
  }

  /** A paced packet of `bytes` went out at `now`. */
  onPacketSent(now: Millis, bytes: number, rate: number, burst: number): void {
    this.#tokens = Math.max(0, this.#available(now, rate, burst) - bytes)
    this.#last = Math.max(this.#last, now)
  }
}
