/**
 * The swarm: connections, dials, admission (gater, per-IP limits, resource manager), the connection
 * manager, the peer store, and the `Behaviour` contract protocols plug into. See spec/swarm.md,
 * spec/resource-manager.md and spec/connection-manager.md.
 *
 * @module weft/swarm
 */
export { Swarm } from './swarm.js'
export { DEFAULT_SWARM_LIMITS } from './types.js'
export type { SwarmConfig, SwarmLimits, SwarmIo, SwarmEvent, DialErrorCode } from './types.js'
export { PeerStore, DEFAULT_PEER_STORE_LIMITS } from './peer-store.js'
export type { PeerRecordView, PeerStoreLimits } from './peer-store.js'
export { sameStream, streamKey } from './behaviour.js'
export { isPublicAddr } from './reachability.js'
export type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef, PeerInfoUpdate, DialOptions } from './behaviour.js'
export { isLimitedAddr } from './limited.js'
export type { NodeService, ServiceContext, ServiceFactory } from './service.js'
export { createGuards } from './guards.js'
export { quicCore } from './quic-connection.js'
export { Gater, parseGaterEntry, formatGaterEntry, DEFAULT_GATER_OPTIONS } from './gater.js'
export type { GaterOptions, GaterEntry, GaterErrorCode, GaterList } from './gater.js'
export { DEFAULT_IP_LIMITS } from './ip-limits.js'
export type { IpLimitOptions, RateLimit, IpRefusalCode } from './ip-limits.js'
