/**
 * QUIC v1 (RFC 9000, 9001, 9002): the pure pieces the connection core ties to a UDP socket. The
 * packet layer: varints, packet headers and coalescing, packet and header protection, frames,
 * Retry, Version Negotiation and stateless reset (spec/quic.md); loss recovery, congestion control and
 * ACK generation (recovery/, spec/quic-recovery.md); streams and flow control (streams/,
 * spec/quic-streams.md).
 */
export * from './types.js'
export { QuicProtocolError, quicError, type TransportErrorName } from './errors.js'
export { MAX_VARINT, QuicReader, encodeVarint, peekVarint, readVarintBig, varintSize, writeVarint } from './varint.js'
export {
  DEFAULT_PARSE_LIMITS, MAX_CID_LENGTH, MIN_INITIAL_DATAGRAM_SIZE, QUIC_V1, buildHeader, decodePacketNumber, packetNumberLength, parseDatagram,
  type DropReason, type ParseLimits, type ParsedDatagram, type ParsedPacket, type ProtectedPacket, type ProtectedPacketType, type RetryPacket,
  type SendHeader, type UnsupportedVersionPacket, type VersionNegotiationPacket,
} from './packet.js'
export {
  AEAD_LIMITS, AEAD_TAG_LENGTH, INITIAL_SALT_V1, SAMPLE_LENGTH, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, derivePacketKeys,
  headerProtectionMask, initialKeys, nextPacketKeys, openPacket, packetNonce, removeHeaderProtection, sealPacket,
  type CipherSuite, type OpenFailure, type OpenResult, type PacketKeys, type SealOptions, type UnprotectedHeader,
} from './protection.js'
export {
  DEFAULT_FRAME_LIMITS, FrameTypeNumber, countsInFlight, decodeFrames, encodeFrames, frameAllowedIn, frameSize, frameTypeOf, isAckEliciting,
  streamFrameOverhead, writeFrame, type DecodeFramesOptions, type FramePacketType, type QuicFrameLimits,
} from './frames.js'
export { RETRY_INTEGRITY_KEY_V1, RETRY_INTEGRITY_NONCE_V1, buildRetry, retryIntegrityTag, verifyRetry, type RetryFields } from './retry.js'
export { buildVersionNegotiation, handleVersionNegotiation, isReservedVersion, versionNegotiationFor, type VersionNegotiationFields } from './version.js'
export { MIN_STATELESS_RESET_SIZE, STATELESS_RESET_TOKEN_LENGTH, buildStatelessReset, detectStatelessReset, statelessResetToken } from './reset.js'
export {
  AckTracker, DEFAULT_ACK_TRACKER_LIMITS, DEFAULT_RECOVERY_LIMITS, K_GRANULARITY, K_INITIAL_RTT, K_PACKET_THRESHOLD, K_TIME_THRESHOLD, Recovery,
  type AckFrame, type AckResult, type AckTrackerLimits, type AckTrackerOptions, type EcnCodepoint, type PeerRecoveryParameters, type Probe,
  type RecoveryLimits, type RecoveryOptions, type RttStats, type SentPacket, type SentPacketInfo, type TimeoutResult,
} from './recovery/index.js'
export {
  DEFAULT_TRANSPORT_PARAMETERS, DEFAULT_TRANSPORT_PARAMETER_LIMITS, decodeTransportParameters, encodeTransportParameters,
  type PreferredAddress, type TransportParameterLimits, type TransportParameters,
} from './transport-params.js'
export {
  MAX_STREAM_COUNT, QUIC_STREAM_DEFAULTS, QuicStreams, isBidirectional, isLocal, streamIdOf, streamIndex, streamInitiator,
  type QuicRole, type QuicStreamEvent, type QuicStreamsOptions, type RecvState, type SendState, type StreamId, type StreamParameters,
  type StreamStates,
} from './streams/index.js'
export {
  CryptoRecv, DEFAULT_CONNECTION_LIMITS, QuicConnection, type QuicCloseInfo, type QuicConnectionEvent, type QuicConnectionLimits, type QuicConnectionOptions,
  type QuicConnectionState, type QuicConnectionStats, type QuicTlsOptions,
} from './connection/index.js'
export {
  DEFAULT_ENDPOINT_LIMITS, QuicEndpoint, type EndpointDropReason, type EndpointResult, type IncomingConnection, type QuicEndpointLimits,
  type QuicEndpointOptions, type QuicRemote,
} from './endpoint.js'
export { isQuicSeed, quicRouter, type QuicRoute, type QuicRouter, type QuicRouterOptions, type QuicSessionSeed } from './libp2p.js'
