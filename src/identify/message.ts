/**
 * The Identify message (libp2p/specs identify/README.md) and how it travels on a stream.
 *
 * The message is a proto2 protobuf (spec/proto/identify.proto):
 *
 *   publicKey = 1 (bytes), listenAddrs = 2 (repeated bytes), protocols = 3 (repeated string),
 *   observedAddr = 4 (bytes), protocolVersion = 5 (string), agentVersion = 6 (string),
 *   signedPeerRecord = 8 (bytes, a signed envelope holding a peer record).
 *
 * This codec stays at the protobuf level: addresses and keys remain bytes here, and the behaviour
 * parses them (so a malformed address can be skipped without rejecting the whole message).
 *
 * On the stream the responder writes the message length-prefixed (unsigned varint length, then the
 * protobuf) and closes its write side. Two variations exist in the wild and are accepted when the
 * stream ends (`decodeIdentifyStream`):
 * - several length-prefixed messages back to back (a large message split so the signed peer record
 *   travels alone); they are merged as protobuf merges: a later singular field replaces an earlier
 *   one, repeated fields are concatenated;
 * - the bare protobuf with no length prefix, read until EOF (early implementations).
 * Length-prefixed framing is tried first; the bare form only when framing does not account for
 * every byte. See spec/identify.md "Divergences and ambiguities".
 */
import { ProtocolError } from '../core/errors.js'
import { decodeMessage, encodeMessage, tag, WIRE_LEN } from '../core/protobuf.js'
import { encodeLp } from '../core/lp.js'
import * as varint from '../core/varint.js'

/** The `ProtocolError('identify', code)` codes: a message over a limit of `IdentifyLimits`, or a malformed field. */
export type IdentifyErrorCode =
  | 'identify/message-too-large'
  | 'identify/too-many-protocols'
  | 'identify/too-many-addrs'
  | 'identify/too-many-messages'
  | 'identify/malformed'
  | 'identify/public-key-mismatch'
  | 'identify/invalid-public-key'
  | 'identify/too-many-streams'

/** An exchange ended without a message and nobody broke the protocol (OutcomeError). */
export type IdentifyOutcomeCode = 'identify/timeout' | 'identify/stream-reset'

/** The Identify message with every field as it is on the wire. Absent optional fields are undefined. */
export interface IdentifyMessage {
  protocolVersion?: string
  agentVersion?: string
  /** The peer's public key, protobuf-encoded as in the peer-ids spec. */
  publicKey?: Uint8Array
  /** Binary multiaddrs. */
  listenAddrs: Uint8Array[]
  /** Binary multiaddr. */
  observedAddr?: Uint8Array
  protocols: string[]
  /** A signed envelope (record type: libp2p peer record). */
  signedPeerRecord?: Uint8Array
}

/** Bounds on an identify message we accept (spec/identify.md "Limits"). */
export interface IdentifyLimits {
  /**
   * Largest message (or whole identify stream, prefixes included) accepted.
   * Stops: a remote making us buffer and parse an arbitrarily large message.
   */
  maxMessageSize: number
  /** Most entries in `protocols`. Stops: a peer store bloated by millions of tiny strings. */
  maxProtocols: number
  /** UTF-8 bytes of all `protocols` together. Stops: each peer's stored protocol list costing up to maxMessageSize. */
  maxProtocolBytes: number
  /**
   * UTF-8 bytes of one protocol id; longer ones are skipped (multistream cannot negotiate them:
   * its limit is 1023 bytes). Stops: a few huge strings kept in the peer store.
   */
  maxProtocolLength: number
  /** Most entries in `listenAddrs` (and addresses in a signed peer record). Stops: address-book flooding (and dial storms towards them). */
  maxAddrs: number
  /** Bytes of all `listenAddrs` together (and of a signed peer record's addresses). Stops: each peer's stored addresses costing up to maxMessageSize. */
  maxAddrBytes: number
  /** UTF-8 bytes of `agentVersion` / `protocolVersion`; a longer one is dropped. Stops: megabyte agent strings in the peer store. */
  maxVersionLength: number
  /** Bytes of the signed peer record envelope; a larger one is rejected (listenAddrs stand in). Stops: signature checks over huge envelopes. */
  maxSignedRecordSize: number
  /** Most length-prefixed messages on one identify stream. Stops: endless empty frames. */
  maxMessages: number
}

/** Default `IdentifyLimits`: 64 KiB message, 1024 protocols, and the per-field bounds below. */
export const DEFAULT_IDENTIFY_LIMITS: Readonly<IdentifyLimits> = Object.freeze({
  maxMessageSize: 64 * 1024,
  maxProtocols: 1024,
  maxProtocolBytes: 8 * 1024,
  maxProtocolLength: 1023,
  maxAddrs: 256,
  maxAddrBytes: 8 * 1024,
  maxVersionLength: 256,
  maxSignedRecordSize: 8 * 1024,
  maxMessages: 10,
})

const PROTOCOL = 'identify'

/** Encode the protobuf body (no length prefix), fields in field-number order. */
export function encodeIdentify(msg: IdentifyMessage): Uint8Array {
  return encodeMessage((w) => {
    if (msg.publicKey !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(msg.publicKey)
    for (const a of msg.listenAddrs) w.uint32(tag(2, WIRE_LEN)).bytes(a)
    for (const p of msg.protocols) w.uint32(tag(3, WIRE_LEN)).string(p)
    if (msg.observedAddr !== undefined) w.uint32(tag(4, WIRE_LEN)).bytes(msg.observedAddr)
    if (msg.protocolVersion !== undefined) w.uint32(tag(5, WIRE_LEN)).string(msg.protocolVersion)
    if (msg.agentVersion !== undefined) w.uint32(tag(6, WIRE_LEN)).string(msg.agentVersion)
    if (msg.signedPeerRecord !== undefined) w.uint32(tag(8, WIRE_LEN)).bytes(msg.signedPeerRecord)
  })
}

/** The message as written on an identify stream: varint length + protobuf. */
export function encodeIdentifyFrame(msg: IdentifyMessage): Uint8Array {
  return encodeLp(encodeIdentify(msg))
}

/**
 * Decode one protobuf body. `maxSize` bounds the body; the other limits default to
 * DEFAULT_IDENTIFY_LIMITS. Throws ProtocolError only.
 */
export function decodeIdentify(bytes: Uint8Array, maxSize: number, limits: Partial<IdentifyLimits> = {}): IdentifyMessage {
  const msg: IdentifyMessage = { listenAddrs: [], protocols: [] }
  mergeInto(msg, bytes, { ...DEFAULT_IDENTIFY_LIMITS, ...limits, maxMessageSize: maxSize })
  return msg
}

/** Bytes counted so far in a message being merged from one or more frames. */
interface Tally {
  addrBytes: number
  protocolBytes: number
}

const newTally = (): Tally => ({ addrBytes: 0, protocolBytes: 0 })

function mergeInto(msg: IdentifyMessage, bytes: Uint8Array, limits: IdentifyLimits, tally: Tally = newTally()): void {
  if (bytes.length > limits.maxMessageSize) {
    throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/message-too-large', `${bytes.length} > ${limits.maxMessageSize}`)
  }
  decodeMessage(bytes, PROTOCOL, limits.maxMessageSize, (field, r) => {
    switch (field) {
      case 1: msg.publicKey = r.bytes(); break
      case 2: {
        if (msg.listenAddrs.length >= limits.maxAddrs) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/too-many-addrs', `> ${limits.maxAddrs}`)
        const a = r.bytes()
        tally.addrBytes += a.length
        if (tally.addrBytes > limits.maxAddrBytes) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/too-many-addrs', `listenAddrs > ${limits.maxAddrBytes} bytes`)
        msg.listenAddrs.push(a)
        break
      }
      case 3: {
        if (msg.protocols.length >= limits.maxProtocols) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/too-many-protocols', `> ${limits.maxProtocols}`)
        const p = r.string()
        const n = utf8Length(p)
        tally.protocolBytes += n
        if (tally.protocolBytes > limits.maxProtocolBytes) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/too-many-protocols', `protocols > ${limits.maxProtocolBytes} bytes`)
        if (n <= limits.maxProtocolLength) msg.protocols.push(p)
        break
      }
      case 4: msg.observedAddr = r.bytes(); break
      case 5: {
        const v = r.string()
        if (utf8Length(v) <= limits.maxVersionLength) msg.protocolVersion = v
        break
      }
      case 6: {
        const v = r.string()
        if (utf8Length(v) <= limits.maxVersionLength) msg.agentVersion = v
        break
      }
      case 8: msg.signedPeerRecord = r.bytes(); break
      default: r.skip()
    }
  })
}

/** UTF-8 length of a (well-formed) string without encoding it. */
function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++ } else n += 3
  }
  return n
}

/**
 * Decode everything a responder wrote on an identify (or push) stream, once it has ended:
 * one or more length-prefixed messages (merged), or else one bare protobuf.
 * Throws ProtocolError only; when neither form fits, the length-prefixed error is reported.
 */
export function decodeIdentifyStream(bytes: Uint8Array, limits: Partial<IdentifyLimits> = {}): IdentifyMessage {
  const l: IdentifyLimits = { ...DEFAULT_IDENTIFY_LIMITS, ...limits }
  if (bytes.length > l.maxMessageSize) {
    throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/message-too-large', `stream carried ${bytes.length} > ${l.maxMessageSize} bytes`)
  }
  if (bytes.length === 0) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/malformed', 'the stream ended without a message')
  let framedError: ProtocolError
  try {
    return decodeFramed(bytes, l)
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    // Limits are limits whatever the framing: never retry past them.
    if (e.code !== 'identify/malformed' && !e.code.startsWith('protobuf/') && !e.code.startsWith('varint/')) throw e
    framedError = e
  }
  try {
    const msg: IdentifyMessage = { listenAddrs: [], protocols: [] }
    mergeInto(msg, bytes, l)
    return msg
  } catch (e) {
    if (e instanceof ProtocolError && (e.code === 'identify/too-many-addrs' || e.code === 'identify/too-many-protocols')) throw e
    throw framedError
  }
}

function decodeFramed(bytes: Uint8Array, l: IdentifyLimits): IdentifyMessage {
  const msg: IdentifyMessage = { listenAddrs: [], protocols: [] }
  const tally = newTally()
  let off = 0
  let count = 0
  while (off < bytes.length) {
    const d = varint.decode(bytes, off)!
    off += d.bytes
    if (d.value > l.maxMessageSize) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/message-too-large', `frame of ${d.value} > ${l.maxMessageSize} bytes`)
    if (d.value > bytes.length - off) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/malformed', `frame of ${d.value} bytes, ${bytes.length - off} left`)
    if (++count > l.maxMessages) throw new ProtocolError<IdentifyErrorCode>(PROTOCOL, 'identify/too-many-messages', `> ${l.maxMessages}`)
    mergeInto(msg, bytes.subarray(off, off + d.value), l, tally)
    off += d.value
  }
  return msg
}

/**
 * The longest prefix of a still-open identify stream worth examining: if the first varint already
 * announces a frame larger than the limit, the stream can be rejected without waiting for EOF.
 * Returns true when the announced length is too large.
 */
export function announcesTooLarge(head: Uint8Array, maxMessageSize: number): boolean {
  try {
    const d = varint.decode(head, 0, true)
    return d !== undefined && d.value > maxMessageSize
  } catch {
    return false // not a valid varint: maybe a bare protobuf; judged at EOF
  }
}
