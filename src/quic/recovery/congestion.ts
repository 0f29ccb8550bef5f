/**
 * NewReno congestion control (RFC 9002 §7 and Appendix B): slow start, congestion avoidance, one
 * window reduction per recovery period, persistent congestion collapsing the window to its minimum,
 * and the same reaction to an ECN-CE increase as to a loss. Pure: `now` is an input.
 *
 * bytes_in_flight is NOT kept here: it is the sum over the packet number spaces' outstanding
 * records (src/quic/recovery/sent.ts), so it can never drift from the records it counts; the caller
 * passes it where a decision needs it.
 */
import type { Millis } from '../../core/byte-machine.js'

/** kLossReductionFactor (Appendix B.1): the window is halved on a congestion event. */
export const K_LOSS_REDUCTION_FACTOR = 0.5
/** kPersistentCongestionThreshold (§7.6.1): 3 PTO periods without an acknowledgment. */
export const K_PERSISTENT_CONGESTION_THRESHOLD = 3

/** kInitialWindow (§7.2): min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)). */
export function initialWindow(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize))
}

/** kMinimumWindow (§7.2): 2 * max_datagram_size. */
export function minimumWindow(maxDatagramSize: number): number {
  return 2 * maxDatagramSize
}

/** What NewReno needs to know about an acknowledged packet. */
export interface CongestionPacket {
  readonly timeSent: Millis
  readonly inFlight: boolean
  readonly size: number
}

export interface NewRenoOptions {
  /** max_datagram_size: the largest UDP payload the path carries (default 1200, RFC 9000 §14). */
  readonly maxDatagramSize?: number
  /**
   * The congestion window never grows past this many datagrams (default 10,000). Attack stopped: a
   * peer acknowledging fast (or optimistically) growing the window, and with it the sent-packet
   * records kept for loss detection, without bound.
   */
  readonly maxWindowPackets?: number
}

export const DEFAULT_MAX_DATAGRAM_SIZE = 1200
export const DEFAULT_MAX_WINDOW_PACKETS = 10_000

export class NewReno {
  #maxDatagramSize: number
  readonly #maxWindowPackets: number
  #cwnd: number
  #ssthresh = Infinity
  #recoveryStart: Millis | undefined
  #inRecoveryPeriod = false

  constructor(options: NewRenoOptions = {}) {
    this.#maxDatagramSize = checkDatagramSize(options.maxDatagramSize ?? DEFAULT_MAX_DATAGRAM_SIZE)
    this.#maxWindowPackets = options.maxWindowPackets ?? DEFAULT_MAX_WINDOW_PACKETS
    if (!Number.isInteger(this.#maxWindowPackets) || this.#maxWindowPackets < 2) throw new RangeError('maxWindowPackets must be an integer >= 2')
    this.#cwnd = Math.min(initialWindow(this.#maxDatagramSize), this.#maxWindow)
  }

  get #maxWindow(): number {
    return this.#maxWindowPackets * this.#maxDatagramSize
  }

  /** congestion_window, bytes. */
  get congestionWindow(): number {
    return this.#cwnd
  }

  /** ssthresh, bytes (Infinity until the first congestion event). */
  get ssthresh(): number {
    return this.#ssthresh
  }

  get maxDatagramSize(): number {
    return this.#maxDatagramSize
  }

  /** kMinimumWindow for the current datagram size. */
  get minimumWindow(): number {
    return minimumWindow(this.#maxDatagramSize)
  }

  /** congestion_recovery_start_time, undefined outside a recovery period. */
  get recoveryStartTime(): Millis | undefined {
    return this.#recoveryStart
  }

  /**
   * True from a congestion event until a packet sent after it is acknowledged (§7.3.2: the recovery
   * period ends and congestion avoidance begins) or persistent congestion resets the window.
   */
  get inRecoveryPeriod(): boolean {
    return this.#inRecoveryPeriod
  }

  /** InCongestionRecovery(sent_time): the packet was sent before the current recovery period began. */
  inRecovery(timeSent: Millis): boolean {
    return this.#recoveryStart !== undefined && timeSent <= this.#recoveryStart
  }

  /**
   * OnPacketAcked (Appendix B.5) for one in-flight packet already removed from flight: grow the window
   * unless the sender was application- or flow-control-limited, or the packet predates the recovery
   * period. Slow start adds the packet's bytes; congestion avoidance max_datagram_size per window.
   */
  onPacketAcked(p: CongestionPacket, appLimited: boolean): void {
    if (this.#inRecoveryPeriod && !this.inRecovery(p.timeSent)) this.#inRecoveryPeriod = false
    if (!p.inFlight || appLimited || this.inRecovery(p.timeSent)) return
    if (this.#cwnd < this.#ssthresh) this.#cwnd += p.size
    else this.#cwnd += (this.#maxDatagramSize * p.size) / this.#cwnd
    if (this.#cwnd > this.#maxWindow) this.#cwnd = this.#maxWindow
  }

  /**
   * OnCongestionEvent (Appendix B.6): a loss or ECN-CE signal about a packet sent at `timeSent`. Once per
   * recovery period: enter recovery at `now`, halve the window (never below kMinimumWindow). Returns
   * true when a new recovery period began.
   */
  onCongestionEvent(timeSent: Millis, now: Millis): boolean {
    if (this.inRecovery(timeSent)) return false
    this.#recoveryStart = now
    this.#inRecoveryPeriod = true
    this.#ssthresh = this.#cwnd * K_LOSS_REDUCTION_FACTOR
    this.#cwnd = Math.max(this.#ssthresh, this.minimumWindow)
    return true
  }

  /** Persistent congestion (§7.6.2): the window collapses to kMinimumWindow and recovery ends. */
  onPersistentCongestion(): void {
    this.#cwnd = this.minimumWindow
    this.#recoveryStart = undefined
    this.#inRecoveryPeriod = false
  }

  /**
   * A new max_datagram_size (path MTU, §7.2 and §14): the window keeps its size in bytes, clamped to the
   * new minimum and maximum.
   */
  setMaxDatagramSize(size: number): void {
    this.#maxDatagramSize = checkDatagramSize(size)
    this.#cwnd = Math.min(Math.max(this.#cwnd, this.minimumWindow), this.#maxWindow)
  }
}

function checkDatagramSize(n: number): number {
  // RFC 9000 §14: a QUIC path carries at least 1200-byte UDP payloads; 65527 is the UDP maximum.
  if (!Number.isInteger(n) || n < 1200 || n > 65527) throw new RangeError(`maxDatagramSize must be an integer in [1200, 65527], got ${n}`)
  return n
}
