/**
 * QUIC loss recovery (RFC 9002) and ACK generation (RFC 9000 §13.2), pure and sans-IO: `Recovery`
 * (sender: sent packets, RTT, loss detection, PTO, NewReno) and `AckTracker` (receiver: received
 * packet numbers, duplicate detection, when and what to acknowledge). spec/quic-recovery.md.
 */
export { Recovery, DEFAULT_RECOVERY_LIMITS, K_PACKET_THRESHOLD, K_TIME_THRESHOLD, PTO_PROBE_PACKETS, DEFAULT_PEER_MAX_ACK_DELAY, DEFAULT_ACK_DELAY_EXPONENT } from './loss.js'
export type { RecoveryOptions, RecoveryLimits, PeerRecoveryParameters, AckFrame, AckResult, Probe, TimeoutResult, RttStats } from './loss.js'
export type { SentPacket, SentPacketInfo } from './sent.js'
export { AckTracker, DEFAULT_ACK_TRACKER_LIMITS } from './ack-tracker.js'
export type { AckTrackerOptions, AckTrackerLimits, AckFrameObject, EcnCodepoint } from './ack-tracker.js'
export { NewReno, initialWindow, minimumWindow, K_LOSS_REDUCTION_FACTOR, K_PERSISTENT_CONGESTION_THRESHOLD, DEFAULT_MAX_DATAGRAM_SIZE, DEFAULT_MAX_WINDOW_PACKETS } from './congestion.js'
export { RttEstimator, K_GRANULARITY, K_INITIAL_RTT } from './rtt.js'
export { Pacer, PACING_GAIN } from './pacer.js'
export { RangeSet } from './ranges.js'
