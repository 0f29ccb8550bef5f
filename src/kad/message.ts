/**
 * The kad-dht wire message (libp2p/specs kad-dht/README.md, "RPC messages"), hand-written on the
 * protobuf helpers. The .proto text is in spec/proto/kad.proto.
 *
 *   Message { type = 1 (MessageType), clusterLevelRaw = 10, key = 2, record = 3 (Record),
 *             closerPeers = 8 (repeated Peer), providerPeers = 9 (repeated Peer) }
 *   Record  { key = 1, value = 2, timeReceived = 5 (string) }
 *   Peer    { id = 1, addrs = 2 (repeated bytes), connection = 3 (ConnectionType) }
 *
 * Encoding follows proto3 conventions as go-libp2p-kad-dht does: fields holding their default
 * (type PUT_VALUE = 0, empty key, connection NOT_CONNECTED) are omitted. The decoder accepts both
 * forms (a missing type means PUT_VALUE). Every message on a stream is preceded by its unsigned
 * varint length (LpDecoder / encodeLp).
 *
 * Peer entries are decoded leniently: an id that is not a valid peer id, or a multiaddr that does not
 * parse, is dropped and counted (`skipped`), never fatal, since other stacks send addresses we may not
 * know (the issue: "closer-peers with unusable addresses are skipped"). Counts are bounded: peers
 * beyond `maxPeers` and addresses beyond `maxAddrsPerPeer` are ignored.
 */
import { ProtocolError } from '../core/errors.js'
import { decodeMessage, encodeMessage, PbReader, tag, WIRE_LEN, WIRE_VARINT } from '../core/protobuf.js'
import type { Writer } from '../core/protobuf.js'
import { utf8 } from '../core/bytes.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { InternedPeerEntry, KadInterns } from './intern.js'

/** The kad `Message.MessageType` enum (kad-dht "RPC messages"). */
export const MessageType = {
  PUT_VALUE: 0,
  GET_VALUE: 1,
  ADD_PROVIDER: 2,
  GET_PROVIDERS: 3,
  FIND_NODE: 4,
  PING: 5,
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]
/** The names of `MessageType`, indexed by wire value. */
export const MESSAGE_TYPE_NAMES = ['PUT_VALUE', 'GET_VALUE', 'ADD_PROVIDER', 'GET_PROVIDERS', 'FIND_NODE', 'PING'] as const

/** The kad `Message.ConnectionType` enum: what the sender knows of its connection to a listed peer. */
export const ConnectionType = {
  NOT_CONNECTED: 0,
  CONNECTED: 1,
  CAN_CONNECT: 2,
  CANNOT_CONNECT: 3,
} as const
export type ConnectionType = (typeof ConnectionType)[keyof typeof ConnectionType]

/** The `ProtocolError('kad', code)` codes: a malformed or oversized message, an unknown type, an invalid record. */
export type KadErrorCode =
  | 'kad/unknown-message-type'
  | 'kad/bad-connection-type'
  | 'kad/message-too-large'
  | 'kad/missing-key'
  | 'kad/key-mismatch'
  | 'kad/missing-record'
  | 'kad/invalid-record'
  | 'kad/unexpected-response'
  | 'kad/too-many-streams'
  | 'kad/closed-early'
  | 'kad/rate-limited'
  | 'kad/key-too-long'

/**
 * Local outcomes (OutcomeError, never ProtocolError: nobody broke the protocol): a query that found
 * nothing, ran out of time or had nobody to store at; one RPC whose remote did not answer in time,
 * reset the stream (how a busy server refuses) or whose connection went away.
 */
export type KadOutcomeCode =
  | 'kad/not-found'
  | 'kad/timeout'
  | 'kad/no-peers'
  | 'kad/stream-reset'
  | 'kad/connection-closed'

/** The kad `Record` protobuf: key, value and the time it was received (RFC 3339 text). */
export interface KadRecord {
  key: Uint8Array
  value: Uint8Array
  /** RFC 3339, "set by receiver"; empty when absent. */
  timeReceived?: string
}

/** A kad `Message.Peer`: id, addresses and connection type. */
export interface KadPeer {
  id: PeerId
  addrs: Multiaddr[]
  connection: ConnectionType
}

/** The kad `Message` protobuf (kad-dht "RPC messages"): type, key, record, closer peers, provider peers. */
export interface KadMessage {
  type: MessageType
  key?: Uint8Array
  record?: KadRecord
  closerPeers: KadPeer[]
  providerPeers: KadPeer[]
  clusterLevelRaw?: number
}

/** Bounds on a kad message we decode (spec/kad.md "Limits"). */
export interface DecodeLimits {
  /** Whole message, bytes. */
  maxMessageSize: number
  /** closerPeers + providerPeers kept; more are ignored. */
  maxPeers: number
  /** Addresses kept per peer; more are ignored. */
  maxAddrsPerPeer: number
}

/** Default `DecodeLimits`: 128 KiB per message, 100 peers, 16 addresses per peer. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxMessageSize: 128 * 1024, maxPeers: 100, maxAddrsPerPeer: 16 }

/** What decoding skipped without failing the message (peers with a bad id, addresses that did not parse). */
export interface DecodeStats {
  /** Peers with an invalid id, and addresses that did not parse. */
  skipped: number
}

// --- encode ----------------------------------------------------------------------------------------

/** Encode a kad `Message` protobuf. */
export function encodeKadMessage(m: KadMessage): Uint8Array {
  return encodeMessage((w) => {
    if (m.type !== 0) w.uint32(tag(1, WIRE_VARINT)).int32(m.type)
    if (m.key !== undefined && m.key.length > 0) w.uint32(tag(2, WIRE_LEN)).bytes(m.key)
    if (m.record !== undefined) {
      w.uint32(tag(3, WIRE_LEN)).fork()
      writeRecord(w, m.record)
      w.ldelim()
    }
    for (const p of m.closerPeers) writePeer(w, 8, p)
    for (const p of m.providerPeers) writePeer(w, 9, p)
    if (m.clusterLevelRaw !== undefined && m.clusterLevelRaw !== 0) w.uint32(tag(10, WIRE_VARINT)).int32(m.clusterLevelRaw)
  })
}

/** A Record message alone (the value of a Message's `record` field). */
export function encodeKadRecord(r: KadRecord): Uint8Array {
  return encodeMessage((w) => writeRecord(w, r))
}

function writeRecord(w: Writer, r: KadRecord): void {
  if (r.key.length > 0) w.uint32(tag(1, WIRE_LEN)).bytes(r.key)
  if (r.value.length > 0) w.uint32(tag(2, WIRE_LEN)).bytes(r.value)
  if (r.timeReceived !== undefined && r.timeReceived !== '') w.uint32(tag(5, WIRE_LEN)).bytes(utf8(r.timeReceived))
}

function writePeer(w: Writer, field: number, p: KadPeer): void {
  w.uint32(tag(field, WIRE_LEN)).fork()
  w.uint32(tag(1, WIRE_LEN)).bytes(p.id.multihash)
  for (const a of p.addrs) w.uint32(tag(2, WIRE_LEN)).bytes(a.bytes)
  if (p.connection !== 0) w.uint32(tag(3, WIRE_VARINT)).int32(p.connection)
  w.ldelim()
}

// --- decode ----------------------------------------------------------------------------------------

/**
 * Decode one Message body (without its length prefix). ProtocolError on anything malformed.
 * `interns`: the decoding node's intern tables (intern.ts); without them nothing is interned.
 */
export function decodeKadMessage(buf: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, stats?: DecodeStats, interns?: KadInterns): KadMessage {
  if (buf.length > limits.maxMessageSize) throw new ProtocolError<KadErrorCode>('kad', 'kad/message-too-large', `${buf.length} > ${limits.maxMessageSize}`)
  const m: KadMessage = { type: MessageType.PUT_VALUE, closerPeers: [], providerPeers: [] }
  const st = stats ?? { skipped: 0 }
  decodeMessage(buf, 'kad', limits.maxMessageSize, (field, r) => {
    switch (field) {
      case 1: {
        const t = r.enum()
        if (t < 0 || t > 5) throw new ProtocolError<KadErrorCode>('kad', 'kad/unknown-message-type', String(t))
        m.type = t as MessageType
        return
      }
      case 2:
        m.key = r.bytes()
        return
      case 3:
        m.record = decodeRecord(r.bytes())
        return
      case 8:
      case 9: {
        const raw = r.bytes()
        if (m.closerPeers.length + m.providerPeers.length >= limits.maxPeers) return
        const p = decodePeerInterned(raw, limits.maxAddrsPerPeer, st, interns)
        if (p !== undefined) (field === 8 ? m.closerPeers : m.providerPeers).push(p)
        return
      }
      case 10:
        m.clusterLevelRaw = r.int32()
        return
      default:
        r.skip()
    }
  })
  return m
}

function decodeRecord(buf: Uint8Array): KadRecord {
  const rec: KadRecord = { key: new Uint8Array(0), value: new Uint8Array(0) }
  decodeMessage(buf, 'kad', buf.length, (field, r) => {
    if (field === 1) rec.key = r.bytes()
    else if (field === 2) rec.value = r.bytes()
    else if (field === 5) rec.timeReceived = r.string()
    else r.skip()
  })
  return rec
}

/**
 * Decoded Peer entries by their exact bytes (and the address limit they were decoded under), in
 * the decoding node's tables: a lookup sees the same entries in response after response (intern.ts
 * explains why that matters). Bounded by MAX_INTERNED, oldest out; malformed entries (a
 * ProtocolError) are never cached. A hit is a fresh KadPeer (its own addrs array) and counts the
 * same skipped entries as a fresh decode.
 */
function decodePeerInterned(buf: Uint8Array, maxAddrs: number, st: DecodeStats, interns: KadInterns | undefined): KadPeer | undefined {
  if (interns === undefined) return decodePeer(buf, maxAddrs, st, undefined)
  let fresh = false
  const decode = (b: Uint8Array): InternedPeerEntry => {
    fresh = true
    const before = st.skipped
    const peer = decodePeer(b, maxAddrs, st, interns)
    return { peer, skipped: st.skipped - before, maxAddrs }
  }
  let hit = interns.entries.intern(buf, decode)
  // Decoded under another address limit (a different DecodeLimits): decode again, uncached.
  if (hit.maxAddrs !== maxAddrs) hit = decode(buf)
  if (!fresh) st.skipped += hit.skipped
  const p = hit.peer
  return p === undefined ? undefined : { id: p.id, addrs: [...p.addrs], connection: p.connection }
}

/**
 * A Peer entry; undefined (and counted) when its id is not a peer id. Read with the wire
 * Reader directly (this is the hot path of every lookup: up to k peers per response), with the
 * same checks as decodeMessage: wire types, truncation, group wire types.
 */
function decodePeer(buf: Uint8Array, maxAddrs: number, st: DecodeStats, interns: KadInterns | undefined): KadPeer | undefined {
  let id: Uint8Array | undefined
  const addrs: Uint8Array[] = []
  let connection = 0
  const r = new PbReader(buf)
  try {
    while (r.pos < r.len) {
      const t = r.uint32()
      const field = t >>> 3
      const wt = t & 7
      if (field === 1 && wt === WIRE_LEN) id = r.bytes()
      else if (field === 2 && wt === WIRE_LEN) {
        const a = r.bytes()
        if (addrs.length < maxAddrs) addrs.push(a)
      } else if (field === 3 && wt === WIRE_VARINT) {
        const c = r.int32()
        // Unknown connection types are treated as NOT_CONNECTED (the field is advisory).
        connection = c >= 0 && c <= 3 ? c : 0
      } else if (field === 1 || field === 2 || field === 3) {
        throw new ProtocolError('kad', 'protobuf/wrong-wire-type', `Peer field ${field}: wire type ${wt}`)
      } else if (field === 0 || wt === 3 || wt === 4 || wt > 5) {
        throw new ProtocolError('kad', 'protobuf/malformed', `Peer: field ${field}, wire type ${wt}`)
      } else r.skipType(wt)
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e
    throw new ProtocolError('kad', 'protobuf/malformed', e instanceof Error ? e.message : String(e))
  }
  if (id === undefined) {
    st.skipped++
    return undefined
  }
  let peer: PeerId
  try {
    peer = interns !== undefined ? interns.peerId(id) : PeerId.fromMultihash(id)
  } catch {
    st.skipped++
    return undefined
  }
  const parsed: Multiaddr[] = []
  for (const a of addrs) {
    try {
      parsed.push(interns !== undefined ? interns.multiaddr(a) : Multiaddr.fromBytes(a))
    } catch {
      st.skipped++
    }
  }
  return { id: peer, addrs: parsed, connection: connection as ConnectionType }
}
