/**
 * Receive-side flow-control credit (RFC 9000 §4.1, §4.2), one instance per stream and one for the
 * connection. The receiver advertises `limit`, the largest offset (stream) or sum of offsets
 * (connection) the peer may send; the peer must stay at or below it (FLOW_CONTROL_ERROR otherwise).
 * As the application consumes data the receiver moves `limit` forward to `consumed + window`, once at
 * least half the window can be granted again (an update per half window, not per read).
 *
 * Auto-tuning (the same rule as yamux's, src/yamux/stream.ts): if an update comes due less than two
 * round trips after the previous one (the epoch start), the peer drained half a window within about
 * one RTT, so the window, not the link or the reader, limits throughput: double it, up to `maxWindow`.
 * A slow reader stretches the epoch and the window stays put, so memory grows only for fast readers.
 */
import type { Millis } from '../../core/byte-machine.js'

export class RecvCredit {
  /** Current window size: how far past `consumed` the peer may send. */
  window: number
  readonly maxWindow: number
  /** The limit advertised (initial parameter or last MAX_DATA / MAX_STREAM_DATA). */
  limit: number
  /** Start of the auto-tuning epoch: the time of the last update (or of creation). */
  #epochStart: Millis

  constructor(window: number, maxWindow: number, now: Millis) {
    this.window = window
    this.maxWindow = maxWindow
    this.limit = window
    this.#epochStart = now
  }

  /**
   * After the application consumed up to `consumed`: the new limit to advertise, or undefined when
   * less than half the window can be granted. `rtt` undefined (no estimate yet) disables growth.
   */
  update(consumed: number, now: Millis, rtt: number | undefined): number | undefined {
    if (consumed + this.window - this.limit < this.window / 2) return undefined
    if (rtt !== undefined && this.window < this.maxWindow && now - this.#epochStart < 2 * Math.max(rtt, 1)) {
      this.window = Math.min(this.window * 2, this.maxWindow)
    }
    this.#epochStart = now
    this.limit = consumed + this.window
    return this.limit
  }

  /** Grow the window to at least `size` (capped at maxWindow), e.g. the connection's beside a tuned stream. */
  ensureWindow(size: number): void {
    this.window = Math.max(this.window, Math.min(size, this.maxWindow))
  }
}

/** The number of bytes a QUIC varint of value `v` takes (RFC 9000 §16). */
export function varintLength(v: number): number {
  return v < 64 ? 1 : v < 16384 ? 2 : v < 1073741824 ? 4 : 8
}
