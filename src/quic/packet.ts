/**
 * QUIC packet headers (RFC 9000 §17, RFC 8999 invariants): parse a received UDP datagram into its
 * coalesced packets (§12.2) without keys, build the headers we send, and packet-number encoding and
 * decoding (§17.1, Appendix A.2, A.3). Protection (keys, header protection, AEAD) is protection.ts.
 *
 * A datagram that cannot be parsed is never an exception: RFC 9000 discards such packets (§5.2,
 * §12.2, §17.2), so parseDatagram returns the packets it could read and says why it stopped.
 */
import { peekVarint, varintSize, writeVarint } from './varint.js'

/** QUIC version 1 (RFC 9000). */
export const QUIC_V1 = 0x0000_0001
/** The longest connection id QUIC v1 allows (§17.2). */
export const MAX_CID_LENGTH = 20
/** The smallest datagram that may carry a client Initial (§14.1); servers drop smaller ones. */
export const MIN_INITIAL_DATAGRAM_SIZE = 1200

/** Long header packet types of v1 (§17.2, Table 5) plus the short header 1-RTT packet. */
export type ProtectedPacketType = 'initial' | '0rtt' | 'handshake' | '1rtt'
const LONG_TYPES = ['initial', '0rtt', 'handshake', 'retry'] as const

/** A packet with header and packet protection, as parsed before its keys are applied. */
export interface ProtectedPacket {
  readonly type: ProtectedPacketType
  /** QUIC_V1 (short headers carry no version: the connection's is v1). */
  readonly version: number
  readonly dcid: Uint8Array
  /** Empty for 1-RTT packets. */
  readonly scid: Uint8Array
  /** Initial packets' token (empty when absent or for other types). */
  readonly token: Uint8Array
  /** The whole packet: a view into the datagram. */
  readonly bytes: Uint8Array
  /** Offset of the Packet Number field in `bytes`. */
  readonly pnOffset: number
}

/** A Retry packet (§17.2.5): `token` and the 16-byte `integrityTag` are views into the datagram. */
export interface RetryPacket {
  readonly type: 'retry'
  readonly version: number
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly token: Uint8Array
  readonly integrityTag: Uint8Array
  readonly bytes: Uint8Array
}

/** A Version Negotiation packet (§17.2.1). */
export interface VersionNegotiationPacket {
  readonly type: 'version_negotiation'
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly versions: readonly number[]
  readonly bytes: Uint8Array
}

/**
 * A long header packet of a version other than 1 (RFC 8999): only the invariant fields are known.
 * A server answers it with a Version Negotiation packet (version.ts) when the datagram is large enough.
 */
export interface UnsupportedVersionPacket {
  readonly type: 'unsupported_version'
  readonly version: number
  readonly dcid: Uint8Array
  readonly scid: Uint8Array
  readonly bytes: Uint8Array
}

export type ParsedPacket = ProtectedPacket | RetryPacket | VersionNegotiationPacket | UnsupportedVersionPacket

/** Why parseDatagram stopped before the end of the datagram (the rest of it is dropped). */
export type DropReason =
  | 'empty'
  | 'truncated' // a length or field runs past the datagram
  | 'fixed-bit' // the Fixed Bit is 0 (§17.2, §17.3.1): not QUIC v1, or trailing junk
  | 'cid-too-long' // a v1 connection id above 20 bytes (§17.2)
  | 'different-dcid' // a coalesced packet with another Destination Connection ID (§12.2)
  | 'too-many-packets' // more coalesced packets than maxCoalescedPackets
  | 'bad-version-list' // a Version Negotiation packet whose version list is empty or not 4-byte aligned, or too long
  | 'short-dcid' // a short header packet shorter than the local connection id length

export interface ParseLimits {
  /**
   * Coalesced packets read from one datagram; the rest is dropped. A sender needs at most one per
   * encryption level (4); stops a datagram of hundreds of tiny long-header packets from costing a
   * trial decryption each.
   */
  readonly maxCoalescedPackets: number
  /** Versions read from one Version Negotiation packet (the client only looks for its own). */
  readonly maxVersions: number
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxCoalescedPackets: 8, maxVersions: 64 }

export interface ParsedDatagram {
  readonly packets: ParsedPacket[]
  /** Set when bytes were left unparsed: why. */
  readonly dropped?: DropReason
}

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0

/**
 * Splits a received datagram into its packets (§12.2). `localCidLength` is the length of the
 * connection ids this endpoint issues: short headers do not carry it. Every view points into
 * `datagram`; nothing is copied or modified.
 */
export function parseDatagram(datagram: Uint8Array, localCidLength: number, limits: Partial<ParseLimits> = {}): ParsedDatagram {
  const maxPackets = limits.maxCoalescedPackets ?? DEFAULT_PARSE_LIMITS.maxCoalescedPackets
  const maxVersions = limits.maxVersions ?? DEFAULT_PARSE_LIMITS.maxVersions
  const packets: ParsedPacket[] = []
  let pos = 0
  const stop = (dropped: DropReason): ParsedDatagram => ({ packets, dropped })
  if (datagram.length === 0) return stop('empty')
  while (pos < datagram.length) {
    if (packets.length >= maxPackets) return stop('too-many-packets')
    const b = datagram.subarray(pos)
    const first = b[0]!
    if ((first & 0x80) === 0) { // short header (§17.3): extends to the end of the datagram
      if ((first & 0x40) === 0) return stop('fixed-bit')
      if (b.length < 1 + localCidLength) return stop('short-dcid')
      const dcid = b.subarray(1, 1 + localCidLength)
      if (packets.length > 0 && !sameDcid(packets[0]!, dcid)) return stop('different-dcid')
      packets.push({ type: '1rtt', version: QUIC_V1, dcid, scid: EMPTY, token: EMPTY, bytes: b, pnOffset: 1 + localCidLength })
      return { packets }
    }
    if (b.length < 7) return stop('truncated')
    const version = u32(b, 1)
    const dcidLen = b[5]!
    if (6 + dcidLen + 1 > b.length) return stop('truncated')
    const dcid = b.subarray(6, 6 + dcidLen)
    const scidLen = b[6 + dcidLen]!
    let o = 7 + dcidLen
    if (o + scidLen > b.length) return stop('truncated')
    const scid = b.subarray(o, o + scidLen)
    o += scidLen
    if (packets.length > 0 && !sameDcid(packets[0]!, dcid)) return stop('different-dcid')
    if (version === 0) { // Version Negotiation (§17.2.1): the whole datagram, only as the first packet
      const rest = b.length - o
      if (packets.length > 0 || rest === 0 || rest % 4 !== 0 || rest / 4 > maxVersions) return stop('bad-version-list')
      const versions: number[] = []
      for (; o < b.length; o += 4) versions.push(u32(b, o))
      packets.push({ type: 'version_negotiation', dcid, scid, versions, bytes: b })
      return { packets }
    }
    if (version !== QUIC_V1) { // unknown version: only the invariants are known, and the length is not
      if (packets.length > 0) return stop('different-dcid')
      packets.push({ type: 'unsupported_version', version, dcid, scid, bytes: b })
      return { packets }
    }
    if ((first & 0x40) === 0) return stop('fixed-bit')
    if (dcidLen > MAX_CID_LENGTH || scidLen > MAX_CID_LENGTH) return stop('cid-too-long')
    const type = LONG_TYPES[(first >> 4) & 0x03]!
    if (type === 'retry') { // §17.2.5: the whole datagram
      if (b.length - o < 16) return stop('truncated')
      packets.push({ type, version, dcid, scid, token: b.subarray(o, b.length - 16), integrityTag: b.subarray(b.length - 16), bytes: b })
      return { packets }
    }
    let token = EMPTY
    if (type === 'initial') {
      const n = peekVarint(b, o)
      if (n < 0) return stop('truncated')
      o += 1 << (b[o]! >> 6)
      if (o + n > b.length) return stop('truncated')
      token = b.subarray(o, o + n)
      o += n
    }
    const length = peekVarint(b, o)
    if (length < 0) return stop('truncated')
    o += 1 << (b[o]! >> 6)
    if (o + length > b.length) return stop('truncated')
    packets.push({ type, version, dcid, scid, token, bytes: b.subarray(0, o + length), pnOffset: o })
    pos += o + length
  }
  return { packets }
}

const EMPTY: Uint8Array = new Uint8Array(0)

function sameDcid(p: ParsedPacket, dcid: Uint8Array): boolean {
  const a = p.dcid
  if (a.length !== dcid.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== dcid[i]) return false
  return true
}

/** The header fields of a packet we send (its packet number is given separately). */
export type SendHeader =
  | { readonly type: 'initial', readonly version?: number, readonly dcid: Uint8Array, readonly scid: Uint8Array, readonly token?: Uint8Array }
  | { readonly type: 'handshake' | '0rtt', readonly version?: number, readonly dcid: Uint8Array, readonly scid: Uint8Array }
  | { readonly type: '1rtt', readonly dcid: Uint8Array, readonly keyPhase?: 0 | 1, readonly spin?: boolean }

/**
 * The unprotected header of a packet (reserved bits 0), the packet number included, and the offset
 * of the packet number in it. `remainder` is the byte count after the packet number (payload and
 * AEAD tag): long headers write `pnLength + remainder` as their Length field, on `lengthSize` bytes
 * (default: the fewest).
 */
export function buildHeader(h: SendHeader, packetNumber: number, pnLength: 1 | 2 | 3 | 4, remainder: number, lengthSize?: 1 | 2 | 4 | 8): { header: Uint8Array, pnOffset: number } {
  if (h.dcid.length > MAX_CID_LENGTH) throw new RangeError('a connection id is at most 20 bytes')
  const truncated = packetNumber % 2 ** (8 * pnLength)
  if (h.type === '1rtt') {
    const header = new Uint8Array(1 + h.dcid.length + pnLength)
    header[0] = 0x40 | (h.spin === true ? 0x20 : 0) | (h.keyPhase === 1 ? 0x04 : 0) | (pnLength - 1)
    header.set(h.dcid, 1)
    writePn(header, 1 + h.dcid.length, truncated, pnLength)
    return { header, pnOffset: 1 + h.dcid.length }
  }
  if (h.scid.length > MAX_CID_LENGTH) throw new RangeError('a connection id is at most 20 bytes')
  const token = h.type === 'initial' ? h.token ?? EMPTY : EMPTY
  const length = pnLength + remainder
  const lenSize = lengthSize ?? varintSize(length)
  const n = 7 + h.dcid.length + h.scid.length + (h.type === 'initial' ? varintSize(token.length) + token.length : 0) + lenSize
  const header = new Uint8Array(n + pnLength)
  header[0] = 0xc0 | (LONG_TYPES.indexOf(h.type) << 4) | (pnLength - 1)
  const version = h.version ?? QUIC_V1
  header[1] = version >>> 24; header[2] = (version >>> 16) & 0xff; header[3] = (version >>> 8) & 0xff; header[4] = version & 0xff
  header[5] = h.dcid.length
  header.set(h.dcid, 6)
  let o = 6 + h.dcid.length
  header[o++] = h.scid.length
  header.set(h.scid, o)
  o += h.scid.length
  if (h.type === 'initial') { o = writeVarint(header, o, token.length); header.set(token, o); o += token.length }
  o = writeVarint(header, o, length, lenSize)
  writePn(header, o, truncated, pnLength)
  return { header, pnOffset: o }
}

function writePn(b: Uint8Array, o: number, pn: number, len: number): void {
  for (let i = len - 1; i >= 0; i--) { b[o + i] = pn & 0xff; pn = Math.floor(pn / 256) }
}

/**
 * The fewest packet number bytes that let the peer decode `packetNumber` (RFC 9000 §17.1,
 * Appendix A.2): the encoding must represent more than twice the range of unacknowledged packets.
 * `largestAcked` is undefined before any acknowledgment in this space (then the full range counts).
 */
export function packetNumberLength(packetNumber: number, largestAcked: number | undefined): 1 | 2 | 3 | 4 {
  const unacked = largestAcked === undefined ? packetNumber + 1 : packetNumber - largestAcked
  const range = 2 * unacked
  if (range < 2 ** 8) return 1
  if (range < 2 ** 16) return 2
  if (range < 2 ** 24) return 3
  if (range < 2 ** 32) return 4
  throw new RangeError(`packet ${packetNumber} is too far ahead of the largest acknowledged ${largestAcked}`)
}

/**
 * The full packet number from its `pnLength`-byte truncation, closest to the next expected one
 * (RFC 9000 Appendix A.3). `largestPn` is the largest packet number received in this space, -1 when
 * none.
 */
export function decodePacketNumber(largestPn: number, truncated: number, pnLength: number): number {
  const expected = largestPn + 1
  const win = 2 ** (8 * pnLength)
  const hwin = win / 2
  const candidate = expected - (expected % win) + truncated
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win
  if (candidate > expected + hwin && candidate >= win) return candidate - win
  return candidate
}
