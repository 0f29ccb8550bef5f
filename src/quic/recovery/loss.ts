/**
 * QUIC loss detection (RFC 9002 §6, Appendix A) with NewReno congestion control (§7, Appendix B): the
 * sender half of recovery. Pure and sans-IO: the connection core tells it what it sent
 * (`onPacketSent`), what the peer acknowledged (`onAckReceived`) and when its timer fired
 * (`onTimeout`); it answers with the packets newly acknowledged and lost, the probes to send, and its
 * next deadline (`pollTimeout`). Time is the connection's monotonic clock in ms.
 *
 * Driving it (the connection core's side of the contract):
 * - Record every packet sent, ACK-only ones included (`inFlight: false`), in packet-number order per
 *   space. A gap in packet numbers is a skipped number: an ACK naming it is an optimistic-ACK attack.
 * - Feed every ACK frame with the space of the packet that carried it. The result's `acked` frames are
 *   done (an acknowledged ACK frame lets the AckTracker forget ranges, `onAckFrameAcked`); the content
 *   of `lost` frames must be sent again in new packets (RFC 9000 §13.3).
 * - When `now >= pollTimeout()`, call `onTimeout(now)`. A `probe` asks for `packets` ack-eliciting
 *   packets in `probe.space` (new data, else the oldest unacknowledged data, else a PING; §6.2.4), and
 *   SHOULD bring ack-eliciting packets of the other spaces with data in flight too. Probes bypass the
 *   congestion window (`canSend`), nothing else does.
 * - Report the handshake's progress (`setHandshakeKeysAvailable`, `setHandshakeConfirmed`,
 *   `discardSpace`), a server's anti-amplification limit (`setAmplificationLimited`), the peer's
 *   transport parameters (`setPeerParameters`) and application-limited periods (`setAppLimited`).
 */
import type { Millis } from '../../core/byte-machine.js'
import { UsageError } from '../../core/errors.js'
import { quicError } from '../errors.js'
import type { AckRange, EcnCounts, Frame, PacketNumberSpace } from '../types.js'
import { DEFAULT_MAX_DATAGRAM_SIZE, DEFAULT_MAX_WINDOW_PACKETS, K_PERSISTENT_CONGESTION_THRESHOLD, NewReno, initialWindow } from './congestion.js'
import { PACING_GAIN, Pacer } from './pacer.js'
import { K_GRANULARITY, K_INITIAL_RTT, RttEstimator } from './rtt.js'
import { SentPackets, type SentPacket, type SentPacketInfo } from './sent.js'

/** kPacketThreshold (§6.1.1): a packet 3 numbers below an acknowledged one is lost. */
export const K_PACKET_THRESHOLD = 3
/** kTimeThreshold (§6.1.2): a packet sent 9/8 RTT before an acknowledged one is lost. */
export const K_TIME_THRESHOLD = 9 / 8
/** max_ack_delay and ack_delay_exponent until the peer's transport parameters say otherwise (RFC 9000 §18.2). */
export const DEFAULT_PEER_MAX_ACK_DELAY: Millis = 25
export const DEFAULT_ACK_DELAY_EXPONENT = 3
/** The PTO probes: up to two ack-eliciting datagrams (§6.2.4); one for an anti-deadlock probe (§6.2.2.1). */
export const PTO_PROBE_PACKETS = 2
/** The PTO backoff stops doubling at 2^30 periods (years): the period stays a finite number whatever pto_count is. */
const MAX_PTO_BACKOFF_EXPONENT = 30

const SPACES: readonly PacketNumberSpace[] = ['initial', 'handshake', 'application']

export interface RecoveryLimits {
  /**
   * Sent-packet records kept across the three spaces (default 32,768). Attack stopped: a peer that
   * never acknowledges (or acknowledges only ACK-only packets) making the sender keep a record of every
   * packet forever. At the limit the oldest ACK-only record is forgotten; an in-flight packet is
   * refused (`canSend` is false) until acknowledgments or losses free records.
   */
  readonly maxSentPackets: number
  /** The congestion window's ceiling in datagrams (default 10,000; congestion.ts says why). */
  readonly maxWindowPackets: number
  /** Skipped packet-number ranges remembered per space (default 16): bounds the optimistic-ACK check's state. */
  readonly maxSkippedRanges: number
}

export const DEFAULT_RECOVERY_LIMITS: RecoveryLimits = {
  maxSentPackets: 32_768,
  maxWindowPackets: DEFAULT_MAX_WINDOW_PACKETS,
  maxSkippedRanges: 16,
}

export interface RecoveryOptions {
  /** Which end: a client arms the anti-deadlock PTO until the server validated its address (§6.2.2.1). */
  readonly role: 'client' | 'server'
  /** kInitialRtt, ms (default 333, §6.2.2). */
  readonly initialRtt?: Millis
  /** The peer's max_ack_delay, ms, until `setPeerParameters` (default 25). */
  readonly maxAckDelay?: Millis
  /** max_datagram_size, bytes (default 1200). */
  readonly maxDatagramSize?: number
  readonly limits?: Partial<RecoveryLimits>
}

/** The peer's transport parameters that recovery uses (RFC 9000 §18.2). */
export interface PeerRecoveryParameters {
  /** max_ack_delay, ms (< 2^14). */
  readonly maxAckDelay?: Millis
  /** ack_delay_exponent (<= 20). */
  readonly ackDelayExponent?: number
}

/** The content of an ACK frame recovery reads: ranges descending, the raw ACK Delay field, ECN counts. */
export type AckFrame = Pick<Extract<Frame, { type: 'ack' }>, 'ranges' | 'ackDelay' | 'ecn'>

/** What an ACK frame did: packets newly acknowledged and packets it made lost (ascending packet numbers). */
export interface AckResult<F> {
  readonly acked: readonly SentPacket<F>[]
  readonly lost: readonly SentPacket<F>[]
}

/** A PTO's request: send `packets` ack-eliciting packets in `space` (§6.2.4). */
export interface Probe {
  readonly space: PacketNumberSpace
  readonly packets: number
}

/** What a timer expiry did: packets lost by the time threshold, or a probe to send. */
export interface TimeoutResult<F> {
  readonly lost: readonly SentPacket<F>[]
  readonly probe: Probe | undefined
}

/** Read-only view of the RTT estimate. */
export interface RttStats {
  readonly latestRtt: Millis
  readonly smoothedRtt: Millis
  readonly rttvar: Millis
  readonly minRtt: Millis
  readonly firstSampleTime: Millis | undefined
}

/** ACK frame types (RFC 9000 §19.3): the Frame Type of the CONNECTION_CLOSE a bad ACK causes. */
const ACK_FRAME_TYPE = 0x02
const ACK_ECN_FRAME_TYPE = 0x03

/**
 * Loss detection, RTT, PTO and NewReno for one connection's three packet number spaces.
 * @typeParam F - what the connection stores per sent packet (`frames`), handed back untouched.
 */
export class Recovery<F = Frame> {
  readonly #role: 'client' | 'server'
  readonly #limits: RecoveryLimits
  #rtt: RttEstimator
  readonly #initialRtt: Millis
  #cc: NewReno
  readonly #spaces: Record<PacketNumberSpace, SentPackets<F>>
  readonly #discarded = new Set<PacketNumberSpace>()
  #maxAckDelay: Millis
  #ackDelayExponent = DEFAULT_ACK_DELAY_EXPONENT
  readonly #pacer = new Pacer()
  #ptoCount = 0
  #probeCredit = 0
  /** The space of the last #earliestLossTime / #ptoTimeAndSpace answer. */
  #outSpace: PacketNumberSpace = 'initial'
  #timer: Millis | undefined
  #handshakeConfirmed = false
  #hasHandshakeKeys = false
  #receivedHandshakeAck = false
  #amplificationLimited = false
  #appLimited = false

  constructor(options: RecoveryOptions) {
    this.#role = options.role
    this.#limits = { ...DEFAULT_RECOVERY_LIMITS, ...options.limits }
    if (!Number.isInteger(this.#limits.maxSentPackets) || this.#limits.maxSentPackets < 1) throw new RangeError('maxSentPackets must be a positive integer')
    this.#initialRtt = options.initialRtt ?? K_INITIAL_RTT
    this.#rtt = new RttEstimator(this.#initialRtt)
    this.#cc = new NewReno({ maxDatagramSize: options.maxDatagramSize ?? DEFAULT_MAX_DATAGRAM_SIZE, maxWindowPackets: this.#limits.maxWindowPackets })
    this.#maxAckDelay = checkMaxAckDelay(options.maxAckDelay ?? DEFAULT_PEER_MAX_ACK_DELAY)
    this.#spaces = { initial: new SentPackets(), handshake: new SentPackets(), application: new SentPackets() }
  }

  /**
   * The peer moved to a new IP address and the new path was validated (RFC 9000 §9.4): the congestion
   * controller and the RTT estimator start over (RFC 9002 Appendices A.3, B.3); packets in flight
   * stay tracked. The connection core's path.ts calls it.
   */
  resetPath(): void {
    this.#rtt = new RttEstimator(this.#initialRtt)
    this.#cc = new NewReno({ maxDatagramSize: this.#cc.maxDatagramSize, maxWindowPackets: this.#limits.maxWindowPackets })
  }

  /** The RTT estimate (§5). */
  get rtt(): RttStats {
    return this.#rtt
  }

  /** congestion_window, bytes. */
  get congestionWindow(): number {
    return this.#cc.congestionWindow
  }

  /** ssthresh, bytes (Infinity until the first congestion event). */
  get ssthresh(): number {
    return this.#cc.ssthresh
  }

  /** bytes_in_flight: the sizes of every in-flight packet neither acknowledged, lost nor discarded. */
  get bytesInFlight(): number {
    return this.#spaces.initial.bytesInFlight + this.#spaces.handshake.bytesInFlight + this.#spaces.application.bytesInFlight
  }

  /** pto_count: PTOs since the last acknowledgment that reset it (the backoff exponent). */
  get ptoCount(): number {
    return this.#ptoCount
  }

  /** True during a recovery period: from a congestion event until a packet sent after it is acknowledged (§7.3.2). */
  get inRecovery(): boolean {
    return this.#cc.inRecoveryPeriod
  }

  /** Probe packets the last PTO still allows past the congestion window. */
  get probesPending(): number {
    return this.#probeCredit
  }

  /** Sent-packet records kept, over the three spaces (bounded by `maxSentPackets`). */
  get sentPacketCount(): number {
    return this.#spaces.initial.size + this.#spaces.handshake.size + this.#spaces.application.size
  }

  /** The pacing rate of §7.7, bytes per ms: 1.25 * congestion_window / max(smoothed_rtt, kGranularity). */
  get pacingRate(): number {
    return (PACING_GAIN * this.#cc.congestionWindow) / Math.max(this.#rtt.smoothedRtt, K_GRANULARITY)
  }

  /**
   * When an ack-eliciting packet of `bytes` may be sent (§7.7 pacing): `now` when the pacer's bucket
   * (bursts up to the initial window) holds enough, else the time it will; arm a timer for it. ACK-only
   * packets and PTO probes need not ask. `canSend` still decides whether the window allows it at all.
   */
  nextSendTime(bytes: number, now: Millis): Millis {
    if (this.#probeCredit > 0) return now
    return this.#pacer.nextSendTime(now, bytes, this.pacingRate, initialWindow(this.#cc.maxDatagramSize))
  }

  /** The largest packet number the peer acknowledged in `space` (for packet-number encoding, RFC 9000 §17.1). */
  largestAcked(space: PacketNumberSpace): number | undefined {
    return this.#spaces[space].largestAcked
  }

  /** The outstanding packets of `space`, oldest first (what a PTO probe may retransmit). */
  outstanding(space: PacketNumberSpace): IterableIterator<SentPacket<F>> {
    return this.#spaces[space].values()
  }

  /**
   * May an ack-eliciting or padded packet of `bytes` be sent now? It fits the congestion window (or a
   * PTO probe is due) and a sent-packet record is free. ACK-only packets are not congestion controlled
   * and need not ask.
   */
  canSend(bytes: number): boolean {
    if (this.sentPacketCount >= this.#limits.maxSentPackets) return false
    return this.#probeCredit > 0 || this.bytesInFlight + bytes <= this.#cc.congestionWindow
  }

  /**
   * OnPacketSent (Appendix A.5). Packet numbers must increase within a space; a gap marks skipped
   * numbers. Recovery keeps `p` itself (no copy) and hands it back in `acked`, `lost` or a discard:
   * the caller must not change it.
   */
  onPacketSent(p: SentPacketInfo<F>): void {
    const s = this.#spaces[p.space]
    if (this.#discarded.has(p.space)) throw new UsageError('quic/recovery-space-discarded', `the ${p.space} space was discarded`)
    if (!Number.isSafeInteger(p.packetNumber) || p.packetNumber < 0 || (s.largestSent !== undefined && p.packetNumber <= s.largestSent)) {
      throw new UsageError('quic/recovery-packet-number', `packet number ${p.packetNumber} does not follow ${s.largestSent ?? 'none'} in ${p.space}`)
    }
    if (!Number.isInteger(p.size) || p.size < 0) throw new RangeError(`size must be a non-negative integer, got ${p.size}`)
    if (this.sentPacketCount >= this.#limits.maxSentPackets) {
      const evicted = s.evictOldestNotInFlight() ?? SPACES.map((o) => this.#spaces[o].evictOldestNotInFlight()).find((x) => x !== undefined)
      if (evicted === undefined) {
        if (p.inFlight) throw new UsageError('quic/recovery-full', `${this.#limits.maxSentPackets} sent packets outstanding (check canSend)`)
        s.largestSent = p.packetNumber // an ACK-only packet nobody keeps a record of: forgotten, never counted
        return
      }
    }
    s.push(p, this.#limits.maxSkippedRanges)
    if (p.inFlight) {
      if (p.ackEliciting) {
        s.timeOfLastAckEliciting = p.timeSent
        if (this.#probeCredit > 0) this.#probeCredit--
        else this.#pacer.onPacketSent(p.timeSent, p.size, this.pacingRate, initialWindow(this.#cc.maxDatagramSize))
      }
      this.#setTimer(p.timeSent)
    }
  }

  /**
   * OnAckReceived (Appendix A.7) for an ACK frame that arrived in a packet of `space` at `now`. Throws
   * QuicProtocolError('PROTOCOL_VIOLATION') (a ProtocolError('quic', ...), src/quic/errors.ts) when it
   * acknowledges a packet number never sent or skipped (RFC 9000 §13.1, §21.4), FRAME_ENCODING_ERROR
   * when its ranges are not descending and disjoint; a refused frame changes nothing.
   */
  onAckReceived(space: PacketNumberSpace, ack: AckFrame, now: Millis): AckResult<F> {
    const s = this.#spaces[space]
    const frameType = ack.ecn === undefined ? ACK_FRAME_TYPE : ACK_ECN_FRAME_TYPE
    checkRanges(ack.ranges, frameType)
    if (this.#discarded.has(space)) return { acked: [], lost: [] }
    const largest = ack.ranges[0]!.largest
    if (s.largestSent === undefined || largest > s.largestSent) {
      throw quicError('PROTOCOL_VIOLATION', `ACK of ${space} packet ${largest}, largest sent ${s.largestSent ?? 'none'}`, frameType)
    }
    for (const r of ack.ranges) {
      if (s.skipped.intersects(r.smallest, r.largest)) throw quicError('PROTOCOL_VIOLATION', `ACK of a skipped ${space} packet number in ${r.smallest}..${r.largest}`, frameType)
    }
    if (space === 'handshake') this.#receivedHandshakeAck = true
    s.largestAcked = s.largestAcked === undefined ? largest : Math.max(s.largestAcked, largest)
    const acked = s.removeAcked(ack.ranges)
    if (acked.length === 0) return { acked, lost: [] }
    const newest = acked[acked.length - 1]!
    if (newest.packetNumber === largest && acked.some((p) => p.ackEliciting)) {
      // Initial and Handshake ACKs are not delayed (RFC 9000 §13.2.1) and their ACK Delay field is not
      // used (RFC 9000 §19.3; RFC 9002 §5.3): only application-space samples subtract an ack delay
      const ackDelay = space === 'application' ? (ack.ackDelay * 2 ** this.#ackDelayExponent) / 1000 : 0
      this.#rtt.update(now - newest.timeSent, ackDelay, now, this.#handshakeConfirmed, this.#maxAckDelay)
    }
    if (ack.ecn !== undefined) this.#processEcn(s, ack.ecn, newest.timeSent, now)
    const lost = s.detectLost(now, this.#rtt.lossDelay(K_TIME_THRESHOLD), K_PACKET_THRESHOLD)
    if (lost.length > 0) this.#onPacketsLost(s, lost, now)
    for (const p of acked) this.#cc.onPacketAcked(p, this.#appLimited)
    if (this.#peerCompletedAddressValidation()) this.#ptoCount = 0
    this.#setTimer(now)
    return { acked, lost }
  }

  /** The loss detection timer's deadline (time-threshold loss or PTO), or undefined when disarmed. */
  pollTimeout(): Millis | undefined {
    return this.#timer
  }

  /**
   * OnLossDetectionTimeout (Appendix A.9). Before the deadline it does nothing. Time-threshold expiry
   * returns the lost packets; a PTO returns the probe to send and doubles the next PTO period.
   */
  onTimeout(now: Millis): TimeoutResult<F> {
    if (this.#timer === undefined || now < this.#timer) return { lost: [], probe: undefined }
    if (this.#earliestLossTime() !== undefined) {
      const s = this.#spaces[this.#outSpace]
      const lost = s.detectLost(now, this.#rtt.lossDelay(K_TIME_THRESHOLD), K_PACKET_THRESHOLD)
      if (lost.length > 0) this.#onPacketsLost(s, lost, now)
      this.#setTimer(now)
      return { lost, probe: undefined }
    }
    let probe: Probe
    if (this.#ackElicitingInFlight() === 0) {
      // anti-deadlock (§6.2.2.1): a padded Initial earns the server more credit; a Handshake packet proves the address
      probe = { space: this.#hasHandshakeKeys || this.#discarded.has('initial') ? 'handshake' : 'initial', packets: 1 }
    } else {
      this.#outSpace = 'application'
      this.#ptoTimeAndSpace(now)
      probe = { space: this.#outSpace, packets: PTO_PROBE_PACKETS }
    }
    this.#ptoCount++
    this.#probeCredit = probe.packets
    this.#setTimer(now)
    return { lost: [], probe }
  }

  /**
   * OnPacketNumberSpaceDiscarded (Appendix A.11): Initial keys dropped (RFC 9001 §4.9.1) or Handshake
   * keys (§4.9.2). Its packets leave bytes_in_flight without a congestion signal and are returned (their
   * frames need no retransmission); PTO backoff restarts. The application space is never discarded.
   */
  discardSpace(space: 'initial' | 'handshake', now: Millis): readonly SentPacket<F>[] {
    if ((space as PacketNumberSpace) === 'application') throw new UsageError('quic/recovery-space-discarded', 'the application space is never discarded')
    if (this.#discarded.has(space)) return []
    this.#discarded.add(space)
    const dropped = this.#spaces[space].clear()
    this.#ptoCount = 0
    this.#setTimer(now)
    return dropped
  }

  /**
   * A client processed a Retry (RFC 9002 §6.3): congestion control and loss recovery restart. The
   * outstanding packets (the Initials the Retry answered) are returned so their CRYPTO data goes out
   * again in new Initial packets; the window, probe credit, backoff and timers reset. Packet numbers
   * keep increasing (RFC 9000 §17.2.5.3). No RTT sample is taken from the Retry (§6.3 makes it a MAY).
   */
  onRetry(now: Millis): readonly SentPacket<F>[] {
    const dropped = SPACES.flatMap((space) => this.#spaces[space].clear())
    this.#cc = new NewReno({ maxDatagramSize: this.#cc.maxDatagramSize, maxWindowPackets: this.#limits.maxWindowPackets })
    this.#ptoCount = 0
    this.#probeCredit = 0
    this.#setTimer(now)
    return dropped
  }

  /** Handshake keys are installed: the anti-deadlock probe becomes a Handshake packet (§6.2.2.1). */
  setHandshakeKeysAvailable(now: Millis): void {
    this.#hasHandshakeKeys = true
    this.#setTimer(now)
  }

  /** The handshake is confirmed (RFC 9001 §4.1.2): the application space's PTO may be armed, ack delays capped. */
  setHandshakeConfirmed(now: Millis): void {
    this.#handshakeConfirmed = true
    this.#setTimer(now)
  }

  /** A server blocked by the anti-amplification limit (RFC 9000 §8.1) does not arm its PTO (§6.2.2.1). */
  setAmplificationLimited(limited: boolean, now: Millis): void {
    this.#amplificationLimited = limited
    this.#setTimer(now)
  }

  /** Application- or flow-control-limited (§7.8): the window does not grow while it is underused. */
  setAppLimited(limited: boolean): void {
    this.#appLimited = limited
  }

  /** The peer's max_ack_delay (ms) and ack_delay_exponent from its transport parameters. */
  setPeerParameters(params: PeerRecoveryParameters): void {
    if (params.maxAckDelay !== undefined) this.#maxAckDelay = checkMaxAckDelay(params.maxAckDelay)
    if (params.ackDelayExponent !== undefined) {
      if (!Number.isInteger(params.ackDelayExponent) || params.ackDelayExponent < 0 || params.ackDelayExponent > 20) throw new RangeError('ackDelayExponent must be an integer in [0, 20]')
      this.#ackDelayExponent = params.ackDelayExponent
    }
  }

  /** A new max_datagram_size (path MTU): the window's bounds follow it (§7.2). */
  setMaxDatagramSize(size: number): void {
    this.#cc.setMaxDatagramSize(size)
  }

  #ackElicitingInFlight(): number {
    return this.#spaces.initial.ackElicitingInFlight + this.#spaces.handshake.ackElicitingInFlight + this.#spaces.application.ackElicitingInFlight
  }

  /** PeerCompletedAddressValidation (Appendix A.6): servers assume it; clients once a Handshake ACK or confirmation arrived. */
  #peerCompletedAddressValidation(): boolean {
    return this.#role === 'server' || this.#receivedHandshakeAck || this.#handshakeConfirmed
  }

  /** ProcessECN (Appendix B.7): an increased ECN-CE count is a congestion event. */
  #processEcn(s: SentPackets<F>, ecn: EcnCounts, largestTimeSent: Millis, now: Millis): void {
    if (ecn.ce > s.ecnCe) {
      s.ecnCe = ecn.ce
      this.#cc.onCongestionEvent(largestTimeSent, now)
    }
  }

  /** OnPacketsLost (Appendix B.8): one congestion event for the newest in-flight loss, then the persistent-congestion check. */
  #onPacketsLost(s: SentPackets<F>, lost: readonly SentPacket<F>[], now: Millis): void {
    let lastLoss: Millis | undefined
    // a lost PMTU probe says the path's MTU is smaller, not that it is congested (RFC 9000 §14.4)
    for (const p of lost) if (p.inFlight && p.pmtuProbe !== true && (lastLoss === undefined || p.timeSent > lastLoss)) lastLoss = p.timeSent
    if (lastLoss !== undefined) this.#cc.onCongestionEvent(lastLoss, now)
    const first = this.#rtt.firstSampleTime
    if (first === undefined) return
    if (this.#inPersistentCongestion(s, lost.filter((p) => p.timeSent > first && p.pmtuProbe !== true))) {
      this.#cc.onPersistentCongestion()
      this.#rtt.resetMinRtt()
    }
  }

  /**
   * §7.6.2: two ack-eliciting packets, both lost, with no packet sent between them acknowledged, sent
   * more than the persistent congestion duration apart. `lost` is ascending and a prefix of what was
   * outstanding, so "nothing between acknowledged" is "no acknowledged number between them".
   */
  #inPersistentCongestion(s: SentPackets<F>, lost: readonly SentPacket<F>[]): boolean {
    const duration = this.#rtt.pto(this.#maxAckDelay) * K_PERSISTENT_CONGESTION_THRESHOLD
    let start: SentPacket<F> | undefined
    let prev: number | undefined
    for (const p of lost) {
      if (prev !== undefined && p.packetNumber > prev + 1 && s.acked.intersects(prev + 1, p.packetNumber - 1)) start = undefined
      prev = p.packetNumber
      if (!p.ackEliciting) continue
      if (start === undefined) start = p
      else if (p.timeSent - start.timeSent > duration) return true
    }
    return false
  }

  /**
   * GetLossTimeAndSpace (Appendix A.8): the earliest loss_time, its space left in `#outSpace` (no
   * object per call: this runs for every packet sent).
   */
  #earliestLossTime(): Millis | undefined {
    let best: Millis | undefined
    for (const space of SPACES) {
      const t = this.#spaces[space].lossTime
      if (t !== undefined && (best === undefined || t < best)) {
        best = t
        this.#outSpace = space
      }
    }
    return best
  }

  /** GetPtoTimeAndSpace (Appendix A.8), its space left in `#outSpace`; undefined is the pseudocode's infinite timeout. */
  #ptoTimeAndSpace(now: Millis): Millis | undefined {
    const backoff = 2 ** Math.min(this.#ptoCount, MAX_PTO_BACKOFF_EXPONENT)
    let duration = (this.#rtt.smoothedRtt + Math.max(4 * this.#rtt.rttvar, K_GRANULARITY)) * backoff
    if (this.#ackElicitingInFlight() === 0) {
      this.#outSpace = this.#hasHandshakeKeys || this.#discarded.has('initial') ? 'handshake' : 'initial'
      return now + duration
    }
    let best: Millis | undefined
    for (const space of SPACES) {
      const s = this.#spaces[space]
      if (s.ackElicitingInFlight === 0 || s.timeOfLastAckEliciting === undefined) continue
      if (space === 'application') {
        if (!this.#handshakeConfirmed) return best
        duration += this.#maxAckDelay * backoff
      }
      const t = s.timeOfLastAckEliciting + duration
      if (best === undefined || t < best) {
        best = t
        this.#outSpace = space
      }
    }
    return best
  }

  /** SetLossDetectionTimer (Appendix A.8). */
  #setTimer(now: Millis): void {
    const loss = this.#earliestLossTime()
    if (loss !== undefined) {
      this.#timer = loss
      return
    }
    if (this.#amplificationLimited && this.#role === 'server') {
      this.#timer = undefined
      return
    }
    if (this.#ackElicitingInFlight() === 0 && this.#peerCompletedAddressValidation()) {
      this.#timer = undefined
      return
    }
    const t = this.#ptoTimeAndSpace(now)
    this.#timer = t !== undefined && Number.isFinite(t) ? t : undefined
  }
}

function checkMaxAckDelay(ms: Millis): Millis {
  if (!(ms >= 0) || ms >= 2 ** 14) throw new RangeError(`maxAckDelay must be in [0, 16384) ms, got ${ms}`)
  return ms
}

/** ACK ranges must be non-empty, descending and disjoint with integer ends (RFC 9000 §19.3.1 makes this so on the wire). */
function checkRanges(ranges: readonly AckRange[], frameType: number): void {
  if (ranges.length === 0) throw quicError('FRAME_ENCODING_ERROR', 'ACK frame without ranges', frameType)
  let below = Infinity
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.smallest) || !Number.isSafeInteger(r.largest) || r.smallest < 0 || r.smallest > r.largest || r.largest >= below - 1) {
      throw quicError('FRAME_ENCODING_ERROR', `ACK ranges not descending and disjoint at ${r.smallest}..${r.largest}`, frameType)
    }
    below = r.smallest
  }
}
