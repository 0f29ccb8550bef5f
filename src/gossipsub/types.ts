/**
 * The router's vocabulary: what the application sees (messages, events, publish results) and the
 * per-peer state the router's parts (peers.ts, receive.ts, send.ts, publish.ts, control.ts,
 * heartbeat.ts) work on. No logic beyond the message-id key and a topic's byte length.
 */
import type { Millis } from '../core/byte-machine.js'
import type { ProtocolError } from '../core/errors.js'
import type { LpDecoder } from '../core/lp.js'
import type { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo, StreamRef } from '../swarm/index.js'
import type { Ed25519Job } from '../core/crypto/batch-verify.js'
import type { WireMessage } from './rpc.js'

/** The result of a topic validator (gossipsub v1.1 "Extended Validators"). */
export type ValidationResult = 'accept' | 'reject' | 'ignore'

/**
 * The `UsageError` codes of `publish`: no peer to send to, a duplicate message, a message over `maxMessageSize`, an unknown validation result.
 */
export type GossipsubErrorCode = 'gossipsub/no-peers' | 'gossipsub/duplicate-message' | 'gossipsub/message-too-large' | 'gossipsub/unknown-validation'

/** A message as delivered to the application. */
export interface GossipsubMessage {
  /** The topic it was published on. */
  topic: string
  /** The application's own copy; like a pooled Node Buffer it may be a view of a shared block (core/slab.ts). */
  data: Uint8Array
  /** The author (StrictSign); undefined under StrictNoSign. */
  from: PeerId | undefined
  /** The author's sequence number (StrictSign); undefined under StrictNoSign. */
  seqno: bigint | undefined
  /** Its message id (by the configured `msgId` function), as used in IHAVE / IWANT. */
  messageId: Uint8Array
  /** The peer that forwarded it to us. */
  propagationSource: PeerId
}

/** Events of the gossipsub behaviour: a message to deliver, a validation request, subscription changes. */
export type GossipsubEvent =
  | { type: 'message'; message: GossipsubMessage }
  /** Answer with `reportValidation(now, requestId, result)` within `validationTimeout`. */
  | { type: 'validate'; requestId: number; message: GossipsubMessage }
  | { type: 'subscription-change'; peer: PeerId; topic: string; subscribed: boolean }
  | { type: 'graft'; peer: PeerId; topic: string }
  | { type: 'prune'; peer: PeerId; topic: string }
  /** A received message failed the signature policy, validation, or size limit. */
  | { type: 'invalid-message'; peer: PeerId; topic: string; reason: string }
  /** The peer sent bytes that are not a valid RPC; its inbound stream was reset. */
  | { type: 'peer-protocol-error'; peer: PeerId; error: ProtocolError }
  /** The peer did not take our bytes fast enough: messages dropped, removed from every mesh. */
  | { type: 'slow-peer'; peer: PeerId; droppedBytes: number }
  /**
   * Ed25519 signatures to check (asyncSignatures only; the gossipsub service hands them to its
   * verifier): answer with `signaturesVerified(now, batch, results)`.
   */
  | { type: 'verify-signatures'; batch: number; jobs: readonly Ed25519Job[] }

/** What `publish` resolves with: the message id and how many peers it was sent to. */
export interface PublishResult {
  /** The id of the published message. */
  messageId: Uint8Array
  /** How many peers it was sent to. */
  recipients: number
}

/** @internal everything the router keeps about one peer */
export interface PeerState {
  readonly key: string
  readonly id: PeerId
  readonly connections: Map<number, ConnectionInfo>
  outbound: boolean
  /** The negotiated protocol of our outbound stream (what the peer understands). */
  protocol: string | undefined
  out: StreamRef | undefined
  opening: number | undefined
  openAttempts: number
  /**
   * The peer's inbound stream on each connection, with its frame decoder: one per connection (a
   * newer one on the same connection replaces the older), since a peer with two connections (rust
   * runs a handler per connection) may send on either.
   */
  readonly inbound: Map<number, { stream: StreamRef, decoder: LpDecoder }>
  /** The shared empty set (src/core/empty-map.ts) while the peer is in no topic: most peers never join one. */
  topics: Set<string>
  /** UTF-8 bytes of `topics` (≤ maxTopicBytesPerPeer). */
  topicBytes: number
  /**
   * LP frames waiting for the outbound stream / the next flush. Control frames go out at the next
   * flush; message frames wait while an earlier write is still in flight (not yet taken by the
   * muxer), so an IDONTWANT can still cancel them (`id`: the message-id key).
   */
  outbox: Array<{ frame: Uint8Array; id: string | undefined }>
  outboxBytes: number
  /** Bytes written and not yet taken by the muxer. */
  inFlight: number
  slow: boolean
  /** Topics whose mesh dropped this peer for being slow: the next heartbeat sends it their PRUNEs. */
  slowPrunes: string[]
  /** Per heartbeat counters (v1.1 spam protection, v1.2 max_idontwant_messages). */
  ihaveMessages: number
  ihaveIds: number
  iwantServed: number
  idontwant: number
  /**
   * IDONTWANT ids (key → expiry), bounded by maxIDontWantMessages * 3 heartbeats. The shared empty
   * map (src/core/empty-map.ts) until the peer sends one, and again once they expire.
   */
  dontSend: Map<string, Millis>
  /**
   * The peer's latest verified signed peer record (identify's `peer-info`, one per peer, at most
   * identify's maxSignedRecordSize bytes, gone with the PeerState): sent with it in PRUNE PX.
   */
  record?: { seq: bigint; envelope: Uint8Array }
}

/** @internal a received message between the seen check and the end of validation */
export interface PendingValidation {
  readonly id: string
  readonly wm: WireMessage
  readonly messageId: Uint8Array
  readonly source: string
  readonly sourceId: PeerId
  readonly deadline: Millis
}

/** Byte string key for a message id (Map keys): one char per byte. */
export function idKey(id: Uint8Array): string {
  // a 32-byte id (sha256, the content-addressed id) through a fixed-arity call: ~2.5x faster than apply
  if (id.length === 32) {
    const b = id
    return String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!, b[11]!, b[12]!, b[13]!, b[14]!, b[15]!,
      b[16]!, b[17]!, b[18]!, b[19]!, b[20]!, b[21]!, b[22]!, b[23]!, b[24]!, b[25]!, b[26]!, b[27]!, b[28]!, b[29]!, b[30]!, b[31]!)
  }
  if (id.length <= 256) return String.fromCharCode.apply(null, id as unknown as number[])
  let s = ''
  for (let i = 0; i < id.length; i += 256) s += String.fromCharCode.apply(null, id.subarray(i, i + 256) as unknown as number[])
  return s
}

/** The UTF-8 length of a topic name (as TextEncoder encodes it: a lone surrogate takes 3 bytes). */
export function topicLength(topic: string): number {
  let n = topic.length
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) { n += 1; continue }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < topic.length) {
      const d = topic.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) { n += 2; i++; continue } // a pair: 2 units, 4 bytes
    }
    n += 2
  }
  return n
}
