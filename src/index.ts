/**
 * weft: the platform-neutral surface (no transports, no node:crypto). For a running node import
 * `weft/node` (Node: TCP, WebSocket, native crypto) or `weft/browser` (WebSocket, pure-JS crypto).
 * Each module also has its own entry point (`weft/multiaddr`, `weft/peer-id`, `weft/noise`, ...), so
 * a bundle pays only for what it imports.
 *
 * @module weft
 */
export { ProtocolError, UsageError, OutcomeError, DialError, InternalError, ConnectionClosedError, ResourceLimitError, isProtocolError } from './core/errors.js'
export type { DialErrorCode, DialAttempt, ResourceScope, ResourceKind } from './core/errors.js'
export { ConnCloseCode, StreamResetCode, closeReason, resetReason } from './core/close-codes.js'
export type { CloseReasonCode, ResetReasonCode } from './core/close-codes.js'
export type { CryptoProvider } from './core/crypto/provider.js'
export { nobleCrypto } from './core/crypto/noble.js'
export { Multiaddr, multiaddr } from './multiaddr/index.js'
export { PeerId, PublicKey, PrivateKey, generatePrivateKey, privateKeyFromSeed, privateKeyFromProtobuf, publicKeyFromProtobuf } from './peer-id/index.js'
