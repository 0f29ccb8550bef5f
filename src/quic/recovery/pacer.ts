/**
 * Pacing (RFC 9002 §7.7): a token bucket that spreads a congestion window's worth of packets over a
 * round trip instead of sending them in one burst. Rate = N · congestion_window / smoothed_rtt with
 * N = 1.25 (so pacing never keeps the window from being filled within an RTT); bursts are capped at
 * the initial window (§7.7: "limit bursts to the initial congestion window"). Pure: the caller passes
 * `now`, the rate and the burst; `nextSendTime` says when a packet of `bytes` may go, and the caller
 * arms a timer for it. ACK-only packets and PTO probes are not paced.
 *
 * A wait shorter than MIN_PACING_DELAY is no wait: a timer cannot measure it (Node's fire after
 * >= 1 ms), so waiting would send one burst per millisecond whatever the rate. With 64 KB datagrams
 * on loopback the burst is two datagrams, and every 1 ms timer held weft's QUIC at ~60 MB/s (the
 * "QUIC throughput" section of bench/README.md). The packet goes now and the bucket is empty after
 * it, so at rates where a datagram's wait is ~1 ms or more the pacing is unchanged.
 */
import type { Millis } from '../../core/byte-machine.js'

/** N of RFC 9002 §7.7. */
export const PACING_GAIN = 1.25
/** Waits below this many ms are not waited (see the file comment; quic-go's MinPacingDelay is the same 1 ms). */
export const MIN_PACING_DELAY = 1

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
    const wait = (need - tokens) / rate
    return wait < MIN_PACING_DELAY ? now : now + wait
  }

  /** A paced packet of `bytes` went out at `now`. */
  onPacketSent(now: Millis, bytes: number, rate: number, burst: number): void {
    this.#tokens = Math.max(0, this.#available(now, rate, burst) - bytes)
    this.#last = Math.max(this.#last, now)
  }
}
