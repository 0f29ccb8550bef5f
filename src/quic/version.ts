/**
 * Version negotiation (RFC 9000 §6, §17.2.1): the server's Version Negotiation packet for a client
 * packet of a version it does not support, and the client's handling of one.
 */
import { MIN_INITIAL_DATAGRAM_SIZE, QUIC_V1, type ParsedPacket, type VersionNegotiationPacket } from './packet.js'

/** Versions of the form 0x?a?a?a?a are reserved for greasing (RFC 9000 §15). */
export function isReservedVersion(version: number): boolean {
  return (version & 0x0f0f_0f0f) === 0x0a0a_0a0a
}

export interface VersionNegotiationFields {
  /** The client's Source Connection ID (echoed as the Destination Connection ID). */
  readonly dcid: Uint8Array
  /** The client's Destination Connection ID (echoed as the Source Connection ID). */
  readonly scid: Uint8Array
  /** The versions the server supports (default [QUIC_V1]). */
  readonly versions?: readonly number[]
  /** The 7 Unused bits of the first byte (arbitrary; 0x40 is always set, §17.2.1). */
  readonly unused?: number
}

/** A Version Negotiation packet (fresh memory). Connection ids up to 255 bytes (RFC 8999). */
export function buildVersionNegotiation(f: VersionNegotiationFields): Uint8Array {
  const versions = f.versions ?? [QUIC_V1]
  if (versions.length === 0) throw new RangeError('a Version Negotiation packet lists at least one version')
  if (f.dcid.length > 255 || f.scid.length > 255) throw new RangeError('a connection id is at most 255 bytes')
  const out = new Uint8Array(7 + f.dcid.length + f.scid.length + 4 * versions.length)
  out[0] = 0xc0 | ((f.unused ?? 0) & 0x3f)
  out[5] = f.dcid.length
  out.set(f.dcid, 6)
  let o = 6 + f.dcid.length
  out[o++] = f.scid.length
  out.set(f.scid, o)
  o += f.scid.length
  for (const v of versions) {
    out[o] = v >>> 24; out[o + 1] = (v >>> 16) & 0xff; out[o + 2] = (v >>> 8) & 0xff; out[o + 3] = v & 0xff
    o += 4
  }
  return out
}

/**
 * The server's answer to the first packet of a received datagram (RFC 9000 §6.1, §5.2.2): a Version
 * Negotiation packet when it is a long header of an unsupported version in a datagram large enough
 * to open a connection (>= 1200 bytes; smaller ones are dropped), else undefined. Never in answer to
 * a Version Negotiation packet.
 */
export function versionNegotiationFor(packet: ParsedPacket, datagramLength: number, opts: { versions?: readonly number[], unused?: number } = {}): Uint8Array | undefined {
  if (packet.type !== 'unsupported_version' || datagramLength < MIN_INITIAL_DATAGRAM_SIZE) return undefined
  return buildVersionNegotiation({ dcid: packet.scid, scid: packet.dcid, ...opts })
}

/**
 * What a v1-only client does with a Version Negotiation packet (RFC 9000 §6.2): 'discard' when it
 * lists the version the client chose, does not echo the client's connection ids, or arrives after
 * the client processed another packet; otherwise 'abandon' the connection attempt.
 */
export function handleVersionNegotiation(vn: VersionNegotiationPacket, client: { scid: Uint8Array, dcid: Uint8Array, version?: number, receivedOther: boolean }): 'discard' | 'abandon' {
  if (client.receivedOther) return 'discard'
  if (vn.versions.includes(client.version ?? QUIC_V1)) return 'discard'
  if (!same(vn.dcid, client.scid) || !same(vn.scid, client.dcid)) return 'discard'
  return 'abandon'
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
