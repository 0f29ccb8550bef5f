/**
 * Rendezvous, `/rendezvous/1.0.0` (libp2p/specs rendezvous/README.md): the wire format and the
 * rendezvous point's registry, both pure. See spec/rendezvous.md.
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
