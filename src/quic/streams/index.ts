/**
 * QUIC streams and flow control (RFC 9000 §2–4): the stream map the connection core drives, the
 * per-part state machines, stream ids, and the transport errors a peer's violation raises.
 */
export { QuicStreams, type QuicStreamEvent, type StreamStates } from './streams.js'
export { QUIC_STREAM_DEFAULTS, type QuicStreamsOptions, type StreamParameters } from './options.js'
export { MAX_STREAM_COUNT, isBidirectional, isLocal, streamIdOf, streamIndex, streamInitiator, type QuicRole, type StreamId } from './ids.js'
export { transportError, type StreamTransportError } from './errors.js'
export type { SendState } from './send.js'
export type { RecvState } from './recv.js'
