/**
 * Ping, `/ipfs/ping/1.0.0`: a liveness check measuring round-trip time. See spec/ping.md.
 *
 * @module weft/ping
 */
export { PingBehaviour, PING_PROTOCOL, PING_LENGTH } from './ping.js'
export type { PingEvent, PingOptions, PingErrorCode, PingOutcomeCode } from './ping.js'
