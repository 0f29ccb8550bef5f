/**
 * The pubsub RPC (libp2p/specs pubsub/README.md "The RPC", gossipsub-v1.0.md, -v1.1.md, -v1.2.md).
 *
 * Every exchange between two pubsub peers is a length-prefixed protobuf `RPC` (spec/proto/rpc.proto):
 *
 *   RPC            { repeated SubOpts subscriptions = 1; repeated Message publish = 2; optional ControlMessage control = 3 }
 *   SubOpts        { optional bool subscribe = 1; optional string topicid = 2 }
 *   Message        { optional bytes from = 1; optional bytes data = 2; optional bytes seqno = 3;
 *                    required string topic = 4; optional bytes signature = 5; optional bytes key = 6 }
 *   ControlMessage { repeated ControlIHave ihave = 1; repeated ControlIWant iwant = 2;
 *                    repeated ControlGraft graft = 3; repeated ControlPrune prune = 4;
 *                    repeated ControlIDontWant idontwant = 5 }           (idontwant: v1.2)
 *   ControlIHave   { optional string topicID = 1; repeated bytes messageIDs = 2 }
 *   ControlIWant   { repeated bytes messageIDs = 1 }
 *   ControlGraft   { optional string topicID = 1 }
 *   ControlPrune   { optional string topicID = 1; repeated PeerInfo peers = 2; optional uint64 backoff = 3 }  (v1.1)
 *   PeerInfo       { optional bytes peerID = 1; optional bytes signedPeerRecord = 2 }
 *   ControlIDontWant { repeated bytes messageIDs = 1 }
 *
 * `from` is `bytes` here (the peer id's binary form) as go and rust put it on the wire; the README's
 * `string` has the same wire type. A Message is kept with its exact encoded bytes (`raw`): the
 * signature is verified over them and forwarding re-sends them untouched (unknown fields included).
 *
 * Decoding bounds every repeated field (GossipsubLimits) so an RPC below the size limit cannot make
 * us build huge arrays; every failure is a ProtocolError.
 */
import { ProtocolError } from '../core/errors.js'
import { decodeMessage, encodeMessage, tag, WIRE_LEN, WIRE_VARINT, type FieldReader, type Writer } from '../core/protobuf.js'
import { encodeInto, encodingLength } from '../core/varint.js'

export const PROTOCOL = 'gossipsub'

/**
 * The `ProtocolError('gossipsub', code)` codes of a received RPC: a missing or too long field, too many entries of a kind.
 */
export type RpcErrorCode =
  | 'gossipsub/missing-topic'
  | 'gossipsub/too-many-subscriptions'
  | 'gossipsub/too-many-messages'
  | 'gossipsub/too-many-control'
  | 'gossipsub/too-many-message-ids'
  | 'gossipsub/too-many-px-peers'

/**
 * The pubsub `Message` protobuf (pubsub/README.md "The Message"): `from`, `data`, `seqno`, `topic`, `signature`, `key`.
 */
export interface PubsubMessage {
  from?: Uint8Array
  data?: Uint8Array
  seqno?: Uint8Array
  topic: string
  signature?: Uint8Array
  key?: Uint8Array
}

/** A decoded Message together with its exact wire bytes. */
export interface WireMessage {
  readonly msg: PubsubMessage
  readonly raw: Uint8Array
}

/** `SubOpts`: a subscription announcement (subscribe or unsubscribe to a topic). */
export interface SubOpts { subscribe: boolean; topic: string }
/** `ControlIHave` (gossipsub v1.0): ids of messages we have in a topic. */
export interface ControlIHave { topic: string; messageIds: Uint8Array[] }
/** `ControlIWant` (gossipsub v1.0): ids of messages we want. */
export interface ControlIWant { messageIds: Uint8Array[] }
/** `ControlGraft` (gossipsub v1.0): add me to your mesh of `topic`. */
export interface ControlGraft { topic: string }
export interface PxPeerInfo { peerId?: Uint8Array; signedPeerRecord?: Uint8Array }
/** `ControlPrune`: remove me from your mesh of `topic`; v1.1 adds peer exchange (`peers`) and `backoff` in seconds. */
export interface ControlPrune { topic: string; peers: PxPeerInfo[]; backoff?: number }
/** `ControlIDontWant` (gossipsub v1.2): do not send me these messages. */
export interface ControlIDontWant { messageIds: Uint8Array[] }

/** The control part of an RPC: IHAVE, IWANT, GRAFT, PRUNE and IDONTWANT lists. */
export interface ControlMessage {
  ihave: ControlIHave[]
  iwant: ControlIWant[]
  graft: ControlGraft[]
  prune: ControlPrune[]
  idontwant: ControlIDontWant[]
}

/** A gossipsub/floodsub `RPC` (pubsub/README.md "The RPC"): subscriptions, messages and control. */
export interface Rpc {
  subscriptions: SubOpts[]
  messages: WireMessage[]
  control?: ControlMessage
}

/** Per-RPC decoding bounds (the RPC's byte size is bounded by the frame decoder before this). */
export interface RpcDecodeLimits {
  /** SubOpts per RPC. Stops: an RPC of 100 k tiny subscriptions, each a map entry. */
  maxSubscriptions: number
  /** Messages per RPC. Stops: one RPC fanning out into thousands of validations. */
  maxMessages: number
  /** Control entries (ihave + iwant + graft + prune + idontwant) per RPC. */
  maxControl: number
  /** Message ids in one IHAVE / IWANT / IDONTWANT (go's MaxIHaveLength, 5000). */
  maxIdsPerControl: number
  /** PX peers in one PRUNE. */
  maxPxPeers: number
}

/** Defaults (frozen: shared by every router in the process); a router's own are its `rpcDecodeLimits` option. */
export const DEFAULT_RPC_DECODE_LIMITS: Readonly<RpcDecodeLimits> = Object.freeze({
  maxSubscriptions: 1024,
  maxMessages: 1024,
  maxControl: 1024,
  maxIdsPerControl: 5000,
  maxPxPeers: 64,
})

const fail = (code: RpcErrorCode, message: string): ProtocolError<RpcErrorCode> => new ProtocolError<RpcErrorCode>(PROTOCOL, code, message)

// ---------------------------------------------------------------------------------------------
// Message

/** Encode a `Message` protobuf. */
export function encodePubsubMessage(m: PubsubMessage): Uint8Array {
  return encodeMessage((w) => writeMessageFields(w, m, true))
}

/** The bytes a signature covers (pubsub README "Message Signing"): the Message without `signature` and `key`. */
export function encodeUnsignedMessage(m: PubsubMessage): Uint8Array {
  return encodeMessage((w) => writeMessageFields(w, m, false))
}

function writeMessageFields(w: Writer, m: PubsubMessage, withSig: boolean): void {
  if (m.from !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(m.from)
  if (m.data !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(m.data)
  if (m.seqno !== undefined) w.uint32(tag(3, WIRE_LEN)).bytes(m.seqno)
  w.uint32(tag(4, WIRE_LEN)).string(m.topic)
  if (withSig && m.signature !== undefined) w.uint32(tag(5, WIRE_LEN)).bytes(m.signature)
  if (withSig && m.key !== undefined) w.uint32(tag(6, WIRE_LEN)).bytes(m.key)
}

/** Decode a `Message` protobuf of at most `maxSize` bytes; throws `ProtocolError('gossipsub', code)` when malformed. */
export function decodePubsubMessage(buf: Uint8Array, maxSize = buf.length): PubsubMessage {
  let topic: string | undefined
  const m: Partial<PubsubMessage> = {}
  decodeMessage(buf, PROTOCOL, maxSize, (f, r) => {
    switch (f) {
      case 1: m.from = r.bytes(); break
      case 2: m.data = r.bytes(); break
      case 3: m.seqno = r.bytes(); break
      case 4: topic = r.string(); break
      case 5: m.signature = r.bytes(); break
      case 6: m.key = r.bytes(); break
      default: r.skip()
    }
  })
  if (topic === undefined) throw fail('gossipsub/missing-topic', 'Message without topic')
  return { ...m, topic }
}

/**
 * The signed bytes of a received Message: its wire bytes with every `signature` (5) and `key` (6)
 * field removed, everything else (unknown fields included) kept in wire order.
 */
export function stripSignatureFields(raw: Uint8Array): Uint8Array {
  // decodeMessage validates the structure first, so the position-aware walk below stays in bounds.
  decodeMessage(raw, PROTOCOL, raw.length, (_f, r) => r.skip())
  const keep: Array<[number, number]> = []
  let total = 0
  let pos = 0
  while (pos < raw.length) {
    const start = pos
    const [t, p1] = readVarint(raw, pos)
    pos = p1
    const wt = t & 7
    if (wt === WIRE_VARINT) pos = readVarint(raw, pos)[1]
    else if (wt === WIRE_LEN) { const [len, p2] = readVarint(raw, pos); pos = p2 + len }
    else if (wt === 1) pos += 8
    else pos += 4
    const field = Math.floor(t / 8)
    if (field !== 5 && field !== 6) { keep.push([start, pos]); total += pos - start }
  }
  const out = new Uint8Array(total)
  let o = 0
  for (const [a, b] of keep) { out.set(raw.subarray(a, b), o); o += b - a }
  return out
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0
  let mul = 1
  for (;;) {
    const byte = b[pos++]!
    v += (byte & 0x7f) * mul
    if ((byte & 0x80) === 0) return [v, pos]
    mul *= 128
  }
}

// ---------------------------------------------------------------------------------------------
// RPC

/** The length-prefixed frame of an RPC holding just one encoded Message, built in one allocation. */
export function frameMessage(raw: Uint8Array): Uint8Array {
  const inner = encodingLength(raw.length)
  const body = 1 + inner + raw.length
  const outer = encodingLength(body)
  const out = new Uint8Array(outer + body)
  let o = encodeInto(body, out, 0)
  out[o++] = 0x12 // field 2 (publish), wire type 2
  o = encodeInto(raw.length, out, o)
  out.set(raw, o)
  return out
}

/** Encode an RPC; messages are given as their encoded Message bytes (`raw`). */
export function encodeRpc(rpc: { subscriptions?: readonly SubOpts[]; messages?: readonly Uint8Array[]; control?: Partial<ControlMessage> }): Uint8Array {
  return encodeMessage((w) => {
    for (const s of rpc.subscriptions ?? []) {
      w.uint32(tag(1, WIRE_LEN)).fork()
      w.uint32(tag(1, WIRE_VARINT)).bool(s.subscribe)
      w.uint32(tag(2, WIRE_LEN)).string(s.topic)
      w.ldelim()
    }
    for (const m of rpc.messages ?? []) w.uint32(tag(2, WIRE_LEN)).bytes(m)
    const c = rpc.control
    if (c !== undefined && !isEmptyControl(c)) {
      w.uint32(tag(3, WIRE_LEN)).fork()
      writeControl(w, c)
      w.ldelim()
    }
  })
}

export function isEmptyControl(c: Partial<ControlMessage>): boolean {
  return (c.ihave?.length ?? 0) + (c.iwant?.length ?? 0) + (c.graft?.length ?? 0) + (c.prune?.length ?? 0) + (c.idontwant?.length ?? 0) === 0
}

function writeControl(w: Writer, c: Partial<ControlMessage>): void {
  for (const ih of c.ihave ?? []) {
    w.uint32(tag(1, WIRE_LEN)).fork()
    w.uint32(tag(1, WIRE_LEN)).string(ih.topic)
    for (const id of ih.messageIds) w.uint32(tag(2, WIRE_LEN)).bytes(id)
    w.ldelim()
  }
  for (const iw of c.iwant ?? []) {
    w.uint32(tag(2, WIRE_LEN)).fork()
    for (const id of iw.messageIds) w.uint32(tag(1, WIRE_LEN)).bytes(id)
    w.ldelim()
  }
  for (const g of c.graft ?? []) {
    w.uint32(tag(3, WIRE_LEN)).fork()
    w.uint32(tag(1, WIRE_LEN)).string(g.topic)
    w.ldelim()
  }
  for (const p of c.prune ?? []) {
    w.uint32(tag(4, WIRE_LEN)).fork()
    w.uint32(tag(1, WIRE_LEN)).string(p.topic)
    for (const px of p.peers) {
      w.uint32(tag(2, WIRE_LEN)).fork()
      if (px.peerId !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(px.peerId)
      if (px.signedPeerRecord !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(px.signedPeerRecord)
      w.ldelim()
    }
    if (p.backoff !== undefined) w.uint32(tag(3, WIRE_VARINT)).uint64(p.backoff)
    w.ldelim()
  }
  for (const d of c.idontwant ?? []) {
    w.uint32(tag(5, WIRE_LEN)).fork()
    for (const id of d.messageIds) w.uint32(tag(1, WIRE_LEN)).bytes(id)
    w.ldelim()
  }
}

/** Decode one RPC (the frame decoder bounded its size). ProtocolError on anything malformed or over a limit. */
export function decodeRpc(buf: Uint8Array, limits: RpcDecodeLimits = DEFAULT_RPC_DECODE_LIMITS): Rpc {
  const rpc: Rpc = { subscriptions: [], messages: [] }
  decodeMessage(buf, PROTOCOL, buf.length, (f, r) => {
    switch (f) {
      case 1: {
        if (rpc.subscriptions.length >= limits.maxSubscriptions) throw fail('gossipsub/too-many-subscriptions', `> ${limits.maxSubscriptions}`)
        rpc.subscriptions.push(decodeSubOpts(r.bytes()))
        break
      }
      case 2: {
        if (rpc.messages.length >= limits.maxMessages) throw fail('gossipsub/too-many-messages', `> ${limits.maxMessages}`)
        const raw = r.bytes()
        rpc.messages.push({ msg: decodePubsubMessage(raw), raw })
        break
      }
      case 3: {
        // protobuf merges a repeated singular embedded message: concatenate
        const c = decodeControl(r.bytes(), limits)
        if (rpc.control === undefined) rpc.control = c
        else {
          rpc.control.ihave.push(...c.ihave)
          rpc.control.iwant.push(...c.iwant)
          rpc.control.graft.push(...c.graft)
          rpc.control.prune.push(...c.prune)
          rpc.control.idontwant.push(...c.idontwant)
          if (controlCount(rpc.control) > limits.maxControl) throw fail('gossipsub/too-many-control', `> ${limits.maxControl}`)
        }
        break
      }
      default: r.skip()
    }
  })
  return rpc
}

function controlCount(c: ControlMessage): number {
  return c.ihave.length + c.iwant.length + c.graft.length + c.prune.length + c.idontwant.length
}

function decodeSubOpts(buf: Uint8Array): SubOpts {
  let subscribe = false
  let topic: string | undefined
  decodeMessage(buf, PROTOCOL, buf.length, (f, r) => {
    if (f === 1) subscribe = r.bool()
    else if (f === 2) topic = r.string()
    else r.skip()
  })
  if (topic === undefined) throw fail('gossipsub/missing-topic', 'SubOpts without topicid')
  return { subscribe, topic }
}

function decodeIds(buf: Uint8Array, idField: number, limits: RpcDecodeLimits, onOther?: (f: number, r: FieldReader) => void): Uint8Array[] {
  const ids: Uint8Array[] = []
  decodeMessage(buf, PROTOCOL, buf.length, (f, r) => {
    if (f === idField) {
      if (ids.length >= limits.maxIdsPerControl) throw fail('gossipsub/too-many-message-ids', `> ${limits.maxIdsPerControl}`)
      ids.push(r.bytes())
    } else if (onOther !== undefined) onOther(f, r)
    else r.skip()
  })
  return ids
}

function decodeControl(buf: Uint8Array, limits: RpcDecodeLimits): ControlMessage {
  const c: ControlMessage = { ihave: [], iwant: [], graft: [], prune: [], idontwant: [] }
  let n = 0
  decodeMessage(buf, PROTOCOL, buf.length, (f, r) => {
    if (f >= 1 && f <= 5 && ++n > limits.maxControl) throw fail('gossipsub/too-many-control', `> ${limits.maxControl}`)
    switch (f) {
      case 1: {
        let topic = ''
        const messageIds = decodeIds(r.bytes(), 2, limits, (g, rr) => { if (g === 1) topic = rr.string(); else rr.skip() })
        c.ihave.push({ topic, messageIds })
        break
      }
      case 2: c.iwant.push({ messageIds: decodeIds(r.bytes(), 1, limits) }); break
      case 3: {
        let topic = ''
        decodeMessage(r.bytes(), PROTOCOL, Infinity, (g, rr) => { if (g === 1) topic = rr.string(); else rr.skip() })
        c.graft.push({ topic })
        break
      }
      case 4: c.prune.push(decodePrune(r.bytes(), limits)); break
      case 5: c.idontwant.push({ messageIds: decodeIds(r.bytes(), 1, limits) }); break
      default: r.skip()
    }
  })
  return c
}

function decodePrune(buf: Uint8Array, limits: RpcDecodeLimits): ControlPrune {
  const p: ControlPrune = { topic: '', peers: [] }
  decodeMessage(buf, PROTOCOL, buf.length, (f, r) => {
    switch (f) {
      case 1: p.topic = r.string(); break
      case 2: {
        if (p.peers.length >= limits.maxPxPeers) throw fail('gossipsub/too-many-px-peers', `> ${limits.maxPxPeers}`)
        const px: PxPeerInfo = {}
        decodeMessage(r.bytes(), PROTOCOL, Infinity, (g, rr) => {
          if (g === 1) px.peerId = rr.bytes()
          else if (g === 2) px.signedPeerRecord = rr.bytes()
          else rr.skip()
        })
        p.peers.push(px)
        break
      }
      case 3: p.backoff = r.uint64(); break
      default: r.skip()
    }
  })
  return p
}
