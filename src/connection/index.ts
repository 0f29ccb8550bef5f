/**
 * One libp2p connection as a sans-IO core: the upgrade (multistream-select `/noise`, the Noise
 * handshake, `/yamux/1.0.0` or early muxer negotiation) and the streams over it. See spec/connection.md.
 *
 * @module weft/connection
 */
export { Connection, NOISE_PROTOCOL, TLS_PROTOCOL, YAMUX_PROTOCOL } from './connection.js'
export type { ConnectionOptions, ConnectionEvent, ConnectionErrorCode } from './connection.js'
/** @internal Each stream's multistream-select negotiation over a muxer: the swarm runs it over QUIC streams too. */
export { StreamTable } from './streams.js'
