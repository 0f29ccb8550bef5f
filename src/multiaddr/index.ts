/**
 * multiaddr: self-describing network addresses (multiformats/multiaddr), binary and text codecs,
 * the protocol table, and the mapping to dial targets. See spec/multiaddr.md.
 *
 * @module weft/multiaddr
 */
export { Multiaddr, multiaddr, type Component } from './multiaddr.js'
export { type DialTarget, type DialTransport } from './dial.js'
export { PROTOCOLS, VARIABLE, CODE, protocolByCode, protocolByName, type Protocol, type ValueKind } from './protocols.js'
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_COMPONENTS, MAX_TEXT_CHARS, type ParseOptions } from './codec.js'
export { MAX_BASEX_CHARS } from './encodings.js'
export type { MultiaddrErrorCode, MultiaddrError, MultiaddrTextError } from './errors.js'
