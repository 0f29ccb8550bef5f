/**
 * weft gossipsub: the libp2p pubsub router (gossipsub v1.0 / v1.1 / v1.2, floodsub peers served).
 * Spec notes in spec/gossipsub.md.
 *
 * @module weft/gossipsub
 */
export { GossipsubBehaviour, idKey } from './gossipsub.js'
export type { GossipsubEvent, GossipsubMessage, GossipsubErrorCode, GossipsubView, PublishResult, ValidationResult } from './gossipsub.js'
export { DEFAULT_MAX_RPC_SIZE, FLOODSUB, GOSSIPSUB_V10, GOSSIPSUB_V11, GOSSIPSUB_V12, PUBSUB_PROTOCOLS, resolveConfig } from './config.js'
export type { GossipsubOptions, GossipsubConfig } from './config.js'
export { buildMessage, checkSignaturePolicy, encodeSeqno, msgIdContentSha256, msgIdFromSeqno, signatureInput, SIGN_PREFIX } from './message.js'
export type { MsgIdFn, SignaturePolicy, SignatureRejectReason } from './message.js'
export { decodePubsubMessage, decodeRpc, encodePubsubMessage, encodeRpc, frameMessage, encodeUnsignedMessage, stripSignatureFields, DEFAULT_RPC_DECODE_LIMITS } from './rpc.js'
export type { ControlMessage, ControlIHave, ControlIWant, ControlGraft, ControlPrune, ControlIDontWant, PubsubMessage, Rpc, RpcDecodeLimits, RpcErrorCode, SubOpts, WireMessage } from './rpc.js'
export { DEFAULT_PEER_SCORE_PARAMS, DEFAULT_SCORE_THRESHOLDS, DEFAULT_TOPIC_SCORE_PARAMS, PeerScore, validateScoreParams } from './score.js'
export type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from './score.js'
export { MessageCache } from './mcache.js'
export { SeenCache } from './seen.js'
export { Backoff } from './backoff.js'
export { Pubsub } from './pubsub-api.js'
export type { PubsubEvents, Validator, RunInRuntime } from './pubsub-api.js'
export { gossipsub } from './service.js'
export type { GossipsubServiceOptions } from './service.js'
export type { Ed25519BatchVerifier, Ed25519Job } from '../core/crypto/batch-verify.js'
