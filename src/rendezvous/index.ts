/**
 * Rendezvous, `/rendezvous/1.0.0` (libp2p/specs rendezvous/README.md): the wire format, the
 * rendezvous point's registry, the point and client behaviours over streams, both signed-record
 * layouts, and the node services `rendezvousServer()` / `rendezvousClient()`. See spec/rendezvous.md.
 *
 * @module weft/rendezvous
 */
export {
  RENDEZVOUS_PROTOCOL, MessageType, ResponseStatus, DEFAULT_RENDEZVOUS_MESSAGE_LIMITS,
  encodeRendezvous, encodeRendezvousFrame, decodeRendezvous, RendezvousDecoder,
} from './message.js'
export type {
  RendezvousMessage, Register, RegisterResponse, Unregister, Discover, DiscoverResponse, RendezvousErrorCode, RendezvousMessageLimits,
} from './message.js'
export { RendezvousRegistry, DEFAULT_RENDEZVOUS_REGISTRY_OPTIONS } from './server.js'
export type { RendezvousRegistryOptions } from './server.js'
export { sealRendezvousRecord, openRendezvousRecord, LEGACY_RECORD_DOMAIN, LEGACY_RECORD_PAYLOAD_TYPE } from './record.js'
export type { RecordFormat } from './record.js'
export { RendezvousServerBehaviour, DEFAULT_RENDEZVOUS_SERVER_LIMITS } from './server-behaviour.js'
export type { RendezvousServerEvent, RendezvousServerLimits, RendezvousServerOptions } from './server-behaviour.js'
export { RendezvousClientBehaviour, RendezvousStatusError, DEFAULT_RENDEZVOUS_CLIENT_LIMITS, DEFAULT_RENDEZVOUS_DISCOVERY_INTERVAL } from './client.js'
export type {
  RendezvousClientEvent, RendezvousClientLimits, RendezvousClientOptions, RendezvousOutcomeCode, RendezvousStatusCode, DiscoveredRegistration, RendezvousDiscovery,
} from './client.js'
export { rendezvousServer, rendezvousClient, RendezvousServer, RendezvousClient } from './service-api.js'
export type {
  RendezvousServerServiceOptions, RendezvousServerEvents, RendezvousClientServiceOptions, RendezvousClientEvents, RegisterOptions, DiscoverOptions, DiscoverResult, OperationOptions, RendezvousDiscoveryOptions,
} from './service-api.js'
