/**
 * DCUtR, `/libp2p/dcutr` (libp2p/specs relay/DCUtR.md): upgrade a relayed connection to a direct
 * one by hole punching, over TCP (simultaneous open from the punch port) or QUIC v1 (punch packets,
 * then a QUIC dial). The wire format, the behaviour and the `dcutr()` service. See spec/dcutr.md and
 * spec/hole-punching.md (the TCP punch port).
 *
 * @module weft/dcutr
 */
export { DCUTR_PROTOCOL, HolePunchType, DEFAULT_DCUTR_MESSAGE_LIMITS, encodeHolePunch, encodeHolePunchFrame, decodeHolePunch, HolePunchDecoder } from './message.js'
export type { HolePunch, DcutrErrorCode, DcutrMessageLimits } from './message.js'
export { DcutrBehaviour } from './dcutr.js'
export type { DcutrEvent, DcutrOptions, DcutrOutcomeCode, DcutrRole, DcutrStatus, PunchAddrs } from './dcutr.js'
export { Dcutr, dcutr } from './service.js'
export type { DcutrEvents, DcutrServiceOptions, QuicHolePuncher, PunchHandle } from './service.js'
export { punchTarget, punchTargets, punchTransport } from './addrs.js'
export type { PunchTransport } from './addrs.js'
