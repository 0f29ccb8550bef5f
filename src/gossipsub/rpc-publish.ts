/**
 * The hot shape of the pubsub RPC (rpc.ts has the general codec): an RPC that carries only published
 * Messages, `RPC { repeated Message publish = 2 }`, each Message holding only length-delimited fields
 * 1 to 6 (from, data, seqno, topic, signature, key). Nearly every RPC of a busy topic has this shape, so
 * it gets a codec that allocates little:
 *
 * - `decodePublishRpc` reads a frame the caller hands over (the LP decoder's own copy) and returns its
 *   Messages as views of that frame: no per-field copies, no reader objects. Anything else (another
 *   field, wire type or multi-byte tag, a truncated length, a Message without topic, malformed UTF-8,
 *   more Messages than the limit) returns undefined and the caller decodes with `decodeRpc`, which
 *   applies every check and raises the proper ProtocolError. The fast path never accepts a frame the
 *   general decoder would reject, and yields the same fields (the last occurrence of a field wins).
 * - `encodePublishFrame` writes the length-prefixed frame of `RPC { publish: [msg] }` in one
 *   allocation; the Message's encoding (`raw`, what the signature covers and the cache keeps) is a
 *   view of it. Field order and bytes are exactly those of `encodePubsubMessage` / `frameMessage`.
 * - `signedBytes` builds "libp2p-pubsub:" || Message-without-signature-and-key in one allocation.
 */
import { ProtocolError } from '../core/errors.js'
import { fromUtf8, utf8 } from '../core/bytes.js'
import { PROTOCOL, type PubsubMessage, type Rpc, type RpcDecodeLimits, type WireMessage } from './rpc.js'
import { encodeInto, encodingLength } from '../core/varint.js'

/** The last topic name decoded, so a stream of Messages on one topic decodes its name once. */
export class TopicNames {
  #bytes: Uint8Array = new Uint8Array(0)
  #name: string | undefined

  /** The topic in `b[start, end)`, or undefined when it is not valid UTF-8. */
  decode(b: Uint8Array, start: number, end: number): string | undefined {
    const len = end - start
    const last = this.#bytes
    if (this.#name !== undefined && last.length === len) {
      let i = 0
      while (i < len && last[i] === b[start + i]) i++
      if (i === len) return this.#name
    }
    let name: string
    try {
      name = fromUtf8(b.subarray(start, end))
    } catch {
      return undefined
    }
    // topic names are short; a long one is decoded but not kept
    if (len <= 256) {
      this.#bytes = b.slice(start, end)
      this.#name = name
    }
    return name
  }
}

/** A varint length at `pos` of at most 4 bytes (< 2^28): value * 8 + bytes used, or -1. */
function readLength(b: Uint8Array, pos: number, end: number): number {
  let v = 0
  for (let i = 0; i < 4; i++) {
    if (pos + i >= end) return -1
    const byte = b[pos + i]!
    v += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return v * 8 + i + 1
  }
  return -1
}

/**
 * Decode `frame` as a publish-only RPC, its Messages as views of `frame` (which the caller gives up).
 * Undefined when the frame has any other shape: decode it with `decodeRpc`.
 */
export function decodePublishRpc(frame: Uint8Array, limits: RpcDecodeLimits, topics: TopicNames): Rpc | undefined {
  const messages: WireMessage[] = []
  const end = frame.length
  let pos = 0
  while (pos < end) {
    if (frame[pos] !== 0x12 || messages.length >= limits.maxMessages) return undefined
    const l = readLength(frame, pos + 1, end)
    if (l < 0) return undefined
    const start = pos + 1 + (l & 7)
    const stop = start + Math.floor(l / 8)
    if (stop > end) return undefined
    const msg = decodeMessageFields(frame, start, stop, topics)
    if (msg === undefined) return undefined
    messages.push({ msg, raw: frame.subarray(start, stop) })
    pos = stop
  }
  return { subscriptions: [], messages }
}

function decodeMessageFields(b: Uint8Array, pos: number, end: number, topics: TopicNames): PubsubMessage | undefined {
  let from: Uint8Array | undefined
  let data: Uint8Array | undefined
  let seqno: Uint8Array | undefined
  let topic: string | undefined
  let signature: Uint8Array | undefined
  let key: Uint8Array | undefined
  while (pos < end) {
    const tag = b[pos]!
    if ((tag & 7) !== 2 || tag < 0x0a || tag > 0x32) return undefined
    const l = readLength(b, pos + 1, end)
    if (l < 0) return undefined
    const start = pos + 1 + (l & 7)
    const stop = start + Math.floor(l / 8)
    if (stop > end) return undefined
    switch (tag >>> 3) {
      case 1: from = b.subarray(start, stop); break
      case 2: data = b.subarray(start, stop); break
      case 3: seqno = b.subarray(start, stop); break
      case 4: topic = topics.decode(b, start, stop); if (topic === undefined) return undefined; break
      case 5: signature = b.subarray(start, stop); break
      default: key = b.subarray(start, stop)
    }
    pos = stop
  }
  if (topic === undefined) return undefined
  const m: PubsubMessage = { topic }
  if (data !== undefined) m.data = data
  if (from !== undefined) m.from = from
  if (seqno !== undefined) m.seqno = seqno
  if (signature !== undefined) m.signature = signature
  if (key !== undefined) m.key = key
  return m
}

// ---------------------------------------------------------------------------------------------

const fieldLength = (b: Uint8Array | undefined): number => (b === undefined ? 0 : 1 + encodingLength(b.length) + b.length)

function writeField(out: Uint8Array, o: number, tag: number, b: Uint8Array): number {
  out[o++] = tag
  o = encodeInto(b.length, out, o)
  out.set(b, o)
  return o + b.length
}

/**
 * UTF-8 of the topic names a router publishes to, one cache per router (not process-wide: one node's
 * topics never evict or reach another's). Bounded: cleared when full (stops a stream of distinct topics
 * growing it). The arrays are only ever read (copied into frames).
 */
export class TopicBytes {
  readonly #bytes = new Map<string, Uint8Array>()
  get(topic: string): Uint8Array {
    let b = this.#bytes.get(topic)
    if (b === undefined) {
      if (this.#bytes.size >= 256) this.#bytes.clear()
      b = utf8(topic)
      this.#bytes.set(topic, b)
    }
    return b
  }
}

/**
 * The LP frame of `RPC { publish: [msg] }` (in zeroed memory from `alloc`) and, as a view of it, the
 * Message's encoding. `topics` caches the topic's UTF-8 (without it, encoded per call).
 */
export function encodePublishFrame(m: PubsubMessage, alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n), topics?: TopicBytes): { frame: Uint8Array; raw: Uint8Array } {
  const topic = topics === undefined ? utf8(m.topic) : topics.get(m.topic)
  const rawLength = fieldLength(m.from) + fieldLength(m.data) + fieldLength(m.seqno) + fieldLength(topic) + fieldLength(m.signature) + fieldLength(m.key)
  const body = 1 + encodingLength(rawLength) + rawLength
  const frame = alloc(encodingLength(body) + body)
  let o = encodeInto(body, frame, 0)
  frame[o++] = 0x12 // RPC field 2 (publish), length-delimited
  o = encodeInto(rawLength, frame, o)
  const start = o
  if (m.from !== undefined) o = writeField(frame, o, 0x0a, m.from)
  if (m.data !== undefined) o = writeField(frame, o, 0x12, m.data)
  if (m.seqno !== undefined) o = writeField(frame, o, 0x1a, m.seqno)
  o = writeField(frame, o, 0x22, topic)
  if (m.signature !== undefined) o = writeField(frame, o, 0x2a, m.signature)
  if (m.key !== undefined) o = writeField(frame, o, 0x32, m.key)
  return { frame, raw: frame.subarray(start, o) }
}

/**
 * `prefix` || `raw` without its `signature` (5) and `key` (6) fields, everything else (unknown fields
 * included) in wire order. `raw` was decoded as a Message before; a malformed one is a ProtocolError.
 */
export function signedBytes(prefix: Uint8Array, raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + raw.length)
  out.set(prefix)
  let o = prefix.length
  let pos = 0
  const end = raw.length
  while (pos < end) {
    const start = pos
    let t = 0
    let mul = 1
    for (;;) {
      if (pos >= end || mul > 2 ** 63) throw malformed()
      const byte = raw[pos++]!
      t += (byte & 0x7f) * mul
      if (byte < 0x80) break
      mul *= 128
    }
    const wt = t % 8
    if (wt === 0) {
      while (pos < end && raw[pos]! >= 0x80) pos++
      pos++
    } else if (wt === 2) {
      let len = 0
      mul = 1
      for (;;) {
        if (pos >= end || mul > 2 ** 35) throw malformed()
        const byte = raw[pos++]!
        len += (byte & 0x7f) * mul
        if (byte < 0x80) break
        mul *= 128
      }
      pos += len
    } else if (wt === 1) pos += 8
    else if (wt === 5) pos += 4
    else throw malformed()
    if (pos > end) throw malformed()
    const field = Math.floor(t / 8)
    if (field !== 5 && field !== 6) {
      out.set(raw.subarray(start, pos), o)
      o += pos - start
    }
  }
  return out.subarray(0, o)
}

const malformed = (): ProtocolError => new ProtocolError(PROTOCOL, 'protobuf/malformed', 'Message')
