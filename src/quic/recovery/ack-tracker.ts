/**
 * The receiver half of acknowledgments (RFC 9000 §13.2): which packet numbers each space received
 * (bounded ranges, duplicate detection, §12.3), when an ACK frame is due, and the ACK frame itself
 * (the 'ack' Frame of src/quic/types.ts, ranges largest first). Pure: `now` is an input.
 *
 * When an ACK is due (§13.2.1, §13.2.2):
 * - Initial and Handshake: at once for every ack-eliciting packet;
 * - application: after `ackElicitingThreshold` (2) ack-eliciting packets, or `maxAckDelay` after the
 *   first unacknowledged one, or at once when an ack-eliciting packet arrives out of order (below the
 *   largest ack-eliciting one, or above it with a gap) or marked ECN-CE;
 * - never for non-ack-eliciting packets alone: they ride along with the next ACK.
 *
 * Driving it: call `isDuplicate` before processing a decrypted packet (drop it when true), then
 * `onPacketReceived`; when `wantsAck(space, now)` (or whenever a packet goes out anyway and
 * `ackPending(space)`), put `buildAck(space, now)` in it and call `onAckSent(space)`. When recovery
 * reports a packet carrying one of our ACK frames acknowledged, pass that frame to `onAckFrameAcked`
 * (§13.2.4): its ranges stop being repeated. `pollTimeout()` is the earliest delayed-ACK deadline.
 */
import type { Millis } from '../../core/byte-machine.js'
import type { EcnCounts, Frame, PacketNumberSpace } from '../types.js'
import { RangeSet } from './ranges.js'

/** The 'ack' frame of src/quic/types.ts. */
export type AckFrameObject = Extract<Frame, { type: 'ack' }>

/** The ECN codepoint a packet arrived with (RFC 9000 §13.4), when the IO layer can read it. */
export type EcnCodepoint = 'ect0' | 'ect1' | 'ce'

export interface AckTrackerLimits {
  /**
   * Received packet-number ranges remembered per space (default 256). Attack stopped: a peer sending
   * every other packet number (or skipping numbers at will) growing the receiver's range list without
   * bound. Past the limit the lowest range is forgotten and every packet number at or below it is
   * treated as a duplicate from then on (RFC 9000 §13.2.3: a minimum packet number that only rises).
   */
  readonly maxReceivedRanges: number
  /** Ranges in one ACK frame, newest first (default 32; RFC 9000 §13.2.3 lets older ones be omitted). Bounds the frame's size. */
  readonly maxAckRanges: number
}

export const DEFAULT_ACK_TRACKER_LIMITS: AckTrackerLimits = { maxReceivedRanges: 256, maxAckRanges: 32 }

export interface AckTrackerOptions {
  /** Our max_ack_delay transport parameter, ms (default 25, RFC 9000 §18.2). */
  readonly maxAckDelay?: Millis
  /** Our ack_delay_exponent transport parameter (default 3): scales the ACK Delay field. */
  readonly ackDelayExponent?: number
  /** Ack-eliciting packets that make an application-space ACK due at once (default 2, RFC 9000 §13.2.2). */
  readonly ackElicitingThreshold?: number
  readonly limits?: Partial<AckTrackerLimits>
}

interface SpaceState {
  readonly received: RangeSet
  /** Packet numbers below this are duplicates (their ranges were forgotten). */
  floor: number
  /** ACK frames cover packet numbers from here on (raised when the peer saw an ACK, §13.2.4). */
  ackFrom: number
  largest: number | undefined
  largestTime: Millis
  largestAckEliciting: number | undefined
  unackedAckEliciting: number
  /** A packet arrived since the last ACK frame sent. */
  pending: boolean
  deadline: Millis | undefined
  ecn: { ect0: number, ect1: number, ce: number } | undefined
  discarded: boolean
}

function newSpace(): SpaceState {
  return { received: new RangeSet(), floor: 0, ackFrom: 0, largest: undefined, largestTime: 0, largestAckEliciting: undefined, unackedAckEliciting: 0, pending: false, deadline: undefined, ecn: undefined, discarded: false }
}

export class AckTracker {
  readonly #limits: AckTrackerLimits
  readonly #maxAckDelay: Millis
  readonly #ackDelayExponent: number
  readonly #threshold: number
  readonly #spaces: Record<PacketNumberSpace, SpaceState> = { initial: newSpace(), handshake: newSpace(), application: newSpace() }

  constructor(options: AckTrackerOptions = {}) {
    this.#limits = { ...DEFAULT_ACK_TRACKER_LIMITS, ...options.limits }
    for (const [k, v] of Object.entries(this.#limits)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`)
    this.#maxAckDelay = options.maxAckDelay ?? 25
    if (!(this.#maxAckDelay >= 0) || this.#maxAckDelay >= 2 ** 14) throw new RangeError('maxAckDelay must be in [0, 16384) ms')
    this.#ackDelayExponent = options.ackDelayExponent ?? 3
    if (!Number.isInteger(this.#ackDelayExponent) || this.#ackDelayExponent < 0 || this.#ackDelayExponent > 20) throw new RangeError('ackDelayExponent must be an integer in [0, 20]')
    this.#threshold = options.ackElicitingThreshold ?? 2
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) throw new RangeError('ackElicitingThreshold must be a positive integer')
  }

  /** True when `packetNumber` was already received in `space`, or is too old to tell (drop the packet, RFC 9000 §12.3). */
  isDuplicate(space: PacketNumberSpace, packetNumber: number): boolean {
    const s = this.#spaces[space]
    return s.discarded || packetNumber < s.floor || s.received.has(packetNumber)
  }

  /** The largest packet number processed in `space` (the base of packet-number decoding, RFC 9000 §17.1). */
  largestReceived(space: PacketNumberSpace): number | undefined {
    return this.#spaces[space].largest
  }

  /** Received ranges kept for `space` (bounded by `maxReceivedRanges`). */
  rangeCount(space: PacketNumberSpace): number {
    return this.#spaces[space].received.count
  }

  /**
   * A packet of `space` was decrypted and processed at `now`. Returns false (and records nothing) for
   * a duplicate. `ecn` is the codepoint it arrived with, when known.
   */
  onPacketReceived(space: PacketNumberSpace, packetNumber: number, now: Millis, ackEliciting: boolean, ecn?: EcnCodepoint): boolean {
    if (!Number.isSafeInteger(packetNumber) || packetNumber < 0) throw new RangeError(`packet number must be a non-negative safe integer, got ${packetNumber}`)
    if (this.isDuplicate(space, packetNumber)) return false
    const s = this.#spaces[space]
    s.received.add(packetNumber)
    while (s.received.count > this.#limits.maxReceivedRanges) s.floor = s.received.dropSmallest()!.largest + 1
    if (s.largest === undefined || packetNumber > s.largest) {
      s.largest = packetNumber
      s.largestTime = now
    }
    s.pending = true
    if (ecn !== undefined) {
      s.ecn ??= { ect0: 0, ect1: 0, ce: 0 }
      s.ecn[ecn]++
    }
    if (!ackEliciting) return true
    s.unackedAckEliciting++
    const prevAe = s.largestAckEliciting
    const reordered = prevAe !== undefined && (packetNumber < prevAe || (packetNumber > prevAe + 1 && (s.received.rangeOf(packetNumber)?.smallest ?? packetNumber) > prevAe + 1))
    if (prevAe === undefined || packetNumber > prevAe) s.largestAckEliciting = packetNumber
    const immediate = space !== 'application' || s.unackedAckEliciting >= this.#threshold || reordered || ecn === 'ce'
    if (immediate) s.deadline = now
    else if (s.deadline === undefined) s.deadline = now + this.#maxAckDelay
    return true
  }

  /** An ACK frame for `space` is due at `now` (send one even in an otherwise empty packet). */
  wantsAck(space: PacketNumberSpace, now: Millis): boolean {
    const d = this.#spaces[space].deadline
    return d !== undefined && now >= d
  }

  /** Packets arrived since the last ACK frame of `space`: worth an ACK in any packet going out anyway. */
  ackPending(space: PacketNumberSpace): boolean {
    const s = this.#spaces[space]
    return s.pending && !s.discarded
  }

  /** The earliest delayed-ACK deadline over the spaces, or undefined. */
  pollTimeout(): Millis | undefined {
    let t: Millis | undefined
    for (const s of Object.values(this.#spaces)) if (s.deadline !== undefined && (t === undefined || s.deadline < t)) t = s.deadline
    return t
  }

  /**
   * The ACK frame for `space` at `now`, or undefined when there is nothing to acknowledge: the newest
   * `maxRanges` ranges (default and ceiling `maxAckRanges`), ACK Delay = time since the largest packet
   * arrived in units of 2^ackDelayExponent µs (0 in Initial and Handshake, RFC 9000 §19.3), ECN counts
   * once any ECN mark arrived in the space.
   */
  buildAck(space: PacketNumberSpace, now: Millis, maxRanges: number = this.#limits.maxAckRanges): AckFrameObject | undefined {
    const s = this.#spaces[space]
    if (s.discarded) return undefined
    const ranges = s.received.descending(Math.max(1, Math.min(maxRanges, this.#limits.maxAckRanges)), s.ackFrom)
    if (ranges.length === 0) return undefined
    // RFC 9000 §19.3: the receiver does not use the ACK Delay of Initial and Handshake ACKs; send 0
    const delayMicros = space === 'application' ? Math.max(0, now - s.largestTime) * 1000 : 0
    const ackDelay = Math.floor(delayMicros / 2 ** this.#ackDelayExponent)
    const ecn: EcnCounts | undefined = s.ecn === undefined ? undefined : { ...s.ecn }
    return ecn === undefined ? { type: 'ack', ackDelay, ranges } : { type: 'ack', ackDelay, ranges, ecn }
  }

  /** An ACK frame of `space` went out: the delayed-ACK timer and counters restart. */
  onAckSent(space: PacketNumberSpace): void {
    const s = this.#spaces[space]
    s.unackedAckEliciting = 0
    s.deadline = undefined
    s.pending = false
  }

  /** The peer acknowledged a packet carrying our ACK `frame` of `space`: stop repeating what it covered (§13.2.4). */
  onAckFrameAcked(space: PacketNumberSpace, frame: Pick<AckFrameObject, 'ranges'>): void {
    const top = frame.ranges[0]
    const s = this.#spaces[space]
    if (top !== undefined && top.largest + 1 > s.ackFrom) s.ackFrom = top.largest + 1
  }

  /** The space's keys are gone (RFC 9001 §4.9): forget it; its packets count as duplicates from now on. */
  discardSpace(space: 'initial' | 'handshake'): void {
    const s = this.#spaces[space]
    s.discarded = true
    s.received.clear()
    s.deadline = undefined
    s.pending = false
  }
}
