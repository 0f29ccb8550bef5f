/**
 * The packets one packet number space has sent and not yet seen acknowledged or declared lost
 * (RFC 9002 Appendix A.1 `sent_packets`, A.2 per-space state), plus the per-space bookkeeping that
 * loss detection needs: largest acknowledged, loss time, time of the last ack-eliciting packet, the
 * ECN-CE count last reported, the acknowledged packet numbers between outstanding ones (for the
 * persistent-congestion rule "no packet sent between them was acknowledged", §7.6.2) and the packet
 * numbers the sender skipped (an acknowledgment of one is an optimistic-ACK attack, RFC 9000 §21.4).
 *
 * Records sit in packet-number order in an array with holes (acknowledged or lost records become
 * holes, compacted when they outnumber the live ones), found by binary search: an ACK frame costs
 * O(ranges · log n + packets it acknowledges), never one step per packet number it names.
 */
import type { Millis } from '../../core/byte-machine.js'
import type { PacketNumberSpace } from '../types.js'
import { RangeSet } from './ranges.js'

/** What the connection tells recovery about a packet it sent (RFC 9002 Appendix A.1.1). */
export interface SentPacketInfo<F> {
  readonly space: PacketNumberSpace
  readonly packetNumber: number
  /** When the packet was sent (ms, the connection's monotonic clock). */
  readonly timeSent: Millis
  /** It holds a frame other than ACK, PADDING and CONNECTION_CLOSE (RFC 9002 §2). */
  readonly ackEliciting: boolean
  /** It counts toward bytes_in_flight: ack-eliciting or PADDING-carrying (RFC 9002 §2). */
  readonly inFlight: boolean
  /** Bytes of the UDP payload this packet took (sent_bytes). */
  readonly size: number
  /** Opaque to recovery: handed back in `acked` / `lost` so the connection can act on their content. */
  readonly frames: readonly F[]
  /** A DPLPMTUD probe (RFC 9000 §14.4): its loss is not a congestion signal. */
  readonly pmtuProbe?: boolean
}

/** A sent packet as recovery hands it back (acknowledged, lost or discarded): the very object given to `onPacketSent`. */
export type SentPacket<F> = SentPacketInfo<F>

export class SentPackets<F> {
  #pns: number[] = []
  #recs: Array<SentPacket<F> | undefined> = []
  #head = 0
  #live = 0
  #ackElicitingInFlight = 0
  #bytesInFlight = 0
  /** The largest packet number sent in this space (RFC 9000 §13.1: an ACK above it is a PROTOCOL_VIOLATION). */
  largestSent: number | undefined
  /** largest_acked_packet[space]. */
  largestAcked: number | undefined
  /** loss_time[space]: when the earliest not-yet-lost packet below largest_acked becomes lost by time. */
  lossTime: Millis | undefined
  /** time_of_last_ack_eliciting_packet[space]. */
  timeOfLastAckEliciting: Millis | undefined
  /** ecn_ce_counters[space] (Appendix B.2). */
  ecnCe = 0
  /** Acknowledged packet numbers at or above the oldest outstanding one (pruned below it). */
  readonly acked = new RangeSet()
  /** Packet numbers the connection skipped (gaps in onPacketSent), the most recent `maxSkipped` ranges. */
  readonly skipped = new RangeSet()

  /** Live records (acknowledged, lost and discarded ones excluded). */
  get size(): number {
    return this.#live
  }

  /** Ack-eliciting packets in flight in this space. */
  get ackElicitingInFlight(): number {
    return this.#ackElicitingInFlight
  }

  /** Bytes of this space's packets in flight. */
  get bytesInFlight(): number {
    return this.#bytesInFlight
  }

  /** The smallest outstanding packet number, or undefined. */
  get smallest(): number | undefined {
    for (let i = this.#head; i < this.#recs.length; i++) if (this.#recs[i] !== undefined) return this.#pns[i]
    return undefined
  }

  /** Record a packet; its number must exceed every number sent before in this space (the caller checks). */
  push(p: SentPacket<F>, maxSkipped: number): void {
    if (this.largestSent !== undefined && p.packetNumber > this.largestSent + 1) {
      this.skipped.addRange(this.largestSent + 1, p.packetNumber - 1)
      while (this.skipped.count > maxSkipped) this.skipped.dropSmallest()
    }
    this.largestSent = p.packetNumber
    this.#pns.push(p.packetNumber)
    this.#recs.push(p)
    this.#live++
    if (p.inFlight) {
      this.#bytesInFlight += p.size
      if (p.ackEliciting) this.#ackElicitingInFlight++
    }
  }

  /** Index of the first slot whose packet number is >= n. */
  #lowerBound(n: number): number {
    let lo = this.#head
    let hi = this.#pns.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#pns[mid]! < n) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #remove(i: number): SentPacket<F> {
    const p = this.#recs[i]!
    this.#recs[i] = undefined
    this.#live--
    if (p.inFlight) {
      this.#bytesInFlight -= p.size
      if (p.ackEliciting) this.#ackElicitingInFlight--
    }
    return p
  }

  /** Remove the records the ranges acknowledge (DetectAndRemoveAckedPackets); ascending by packet number. */
  removeAcked(ranges: readonly { smallest: number, largest: number }[]): SentPacket<F>[] {
    const oldest = this.smallest
    if (oldest === undefined) this.acked.clear()
    else this.acked.removeBelow(oldest)
    const out: SentPacket<F>[] = []
    for (let k = ranges.length - 1; k >= 0; k--) {
      const r = ranges[k]!
      if (oldest !== undefined && r.largest >= oldest) this.acked.addRange(Math.max(r.smallest, oldest), r.largest)
      for (let i = this.#lowerBound(r.smallest); i < this.#pns.length && this.#pns[i]! <= r.largest; i++) {
        if (this.#recs[i] !== undefined) out.push(this.#remove(i))
      }
    }
    this.#compact()
    return out
  }

  /**
   * DetectAndRemoveLostPackets (Appendix A.10) for this space: every outstanding packet at or below
   * largest_acked sent `packetThreshold` packets before it, or at least `lossDelay` ago, is lost; the
   * others set loss_time. Ascending by packet number.
   */
  detectLost(now: Millis, lossDelay: Millis, packetThreshold: number): SentPacket<F>[] {
    this.lossTime = undefined
    const out: SentPacket<F>[] = []
    const largest = this.largestAcked
    if (largest === undefined) return out
    for (let i = this.#head; i < this.#pns.length && this.#pns[i]! <= largest; i++) {
      const p = this.#recs[i]
      if (p === undefined) continue
      // time_sent + loss_delay <= now, the pseudocode's time_sent <= now - loss_delay written the way
      // loss_time is computed: (t + d) - d can round above t, and a timer armed at t + d would then fire
      // without declaring the packet lost, again and again
      const lossAt = p.timeSent + lossDelay
      if (lossAt <= now || largest >= p.packetNumber + packetThreshold) out.push(this.#remove(i))
      else if (this.lossTime === undefined || lossAt < this.lossTime) this.lossTime = lossAt
    }
    this.#compact()
    return out
  }

  /** Remove and return the oldest record that is not in flight (an ACK-only packet), if any. */
  evictOldestNotInFlight(): SentPacket<F> | undefined {
    for (let i = this.#head; i < this.#recs.length; i++) {
      const p = this.#recs[i]
      if (p !== undefined && !p.inFlight) {
        this.#remove(i)
        this.#compact()
        return p
      }
    }
    return undefined
  }

  /** Outstanding records, ascending by packet number. */
  * values(): IterableIterator<SentPacket<F>> {
    for (let i = this.#head; i < this.#recs.length; i++) {
      const p = this.#recs[i]
      if (p !== undefined) yield p
    }
  }

  /** Remove every record (the space is discarded, RFC 9002 §6.4) and reset the per-space state. */
  clear(): SentPacket<F>[] {
    const out = [...this.values()]
    this.#pns = []
    this.#recs = []
    this.#head = 0
    this.#live = 0
    this.#ackElicitingInFlight = 0
    this.#bytesInFlight = 0
    this.lossTime = undefined
    this.timeOfLastAckEliciting = undefined
    this.acked.clear()
    return out
  }

  /** Advance past leading holes; rebuild when holes outnumber live records. */
  #compact(): void {
    while (this.#head < this.#recs.length && this.#recs[this.#head] === undefined) this.#head++
    const span = this.#recs.length - this.#head
    if (this.#head > 1024 || span > 2 * this.#live + 64) {
      const pns: number[] = []
      const recs: Array<SentPacket<F> | undefined> = []
      for (let i = this.#head; i < this.#recs.length; i++) {
        const p = this.#recs[i]
        if (p !== undefined) {
          pns.push(this.#pns[i]!)
          recs.push(p)
        }
      }
      this.#pns = pns
      this.#recs = recs
      this.#head = 0
    }
  }
}
