/**
 * Request-response codecs: how a request and a response become the bytes of one stream direction.
 * Framing (src/request-response/framing.ts) is rust-libp2p's by default: no length prefix, the
 * message is every byte up to the writer's half-close; `lengthPrefixed(codec)` puts an unsigned-varint
 * length before each message instead (protobuf protocols). Either way the behaviour caps a message
 * at maxRequestBytes / maxResponseBytes before a codec sees it. A codec only encodes and decodes one
 * whole message; its decode throws on bad input (any exception: the behaviour reports it as
 * ProtocolError 'reqresp/decode' with it as the cause).
 *
 * - `json()`: UTF-8 JSON (rust's `json::Codec`, serde_json): a `Vec<u8>` field is an array of numbers.
 * - `cbor()`: RFC 8949 through src/core/cbor.ts (rust's `cbor::Codec`, cbor4ii): structs are
 *   text-keyed maps, `serde_bytes` fields byte strings, plain `Vec<u8>` arrays of integers.
 * - `raw()`: the bytes themselves (a go peer hand-rolling the same stream format).
 * - `lengthPrefixed(codec)`: `codec`'s messages, each after its uvarint length (`lengthPrefixed(raw())`
 *   with protobuf bytes encoded by the application).
 */
import { decodeCbor, encodeCbor, type CborDecodeOptions, type CborValue } from '../core/cbor.js'
import { fromUtf8, utf8 } from '../core/bytes.js'
import type { Framing } from './framing.js'

/**
 * How requests and responses turn into bytes (`json()`, `cbor()`, `raw()`, or your own), and how they are framed on the stream.
 * Decoders throw for bytes that are not a valid message (the exchange fails with `ProtocolError('request-response', 'reqresp/decode')`).
 */
export interface Codec<Req, Res> {
  /** For messages and metrics: 'json', 'cbor', 'raw' or the user's. */
  readonly name: string
  /** The bytes of a request. */
  encodeRequest(request: Req): Uint8Array
  /** The request in `bytes`; throws for invalid bytes. */
  decodeRequest(bytes: Uint8Array): Req
  /** The bytes of a response. */
  encodeResponse(response: Res): Uint8Array
  /** The response in `bytes`; throws for invalid bytes. */
  decodeResponse(bytes: Uint8Array): Res
  /** How each message is delimited on the stream; default 'eof' (spec/request-response.md, "Framing"). */
  readonly framing?: Framing
}

/** JSON (RFC 8259) in UTF-8; decode rejects invalid UTF-8 and invalid JSON. */
export function json<Req = unknown, Res = unknown>(): Codec<Req, Res> {
  const enc = (v: unknown): Uint8Array => {
    const s = JSON.stringify(v)
    if (s === undefined) throw new TypeError('value has no JSON form')
    return utf8(s)
  }
  const dec = (b: Uint8Array): any => JSON.parse(fromUtf8(b))
  return { name: 'json', encodeRequest: enc, decodeRequest: dec, encodeResponse: enc, decodeResponse: dec }
}

/** CBOR (RFC 8949, deterministic encoding); `options` bound the decoder (depth, items). */
export function cbor<Req = CborValue, Res = CborValue>(options: CborDecodeOptions = {}): Codec<Req, Res> {
  // unconstrained types: an `interface Req { id: number }` has no index signature, so it would not
  // extend CborValue; values that CBOR cannot carry fail at encode time with a TypeError
  const enc = (v: unknown): Uint8Array => encodeCbor(v as CborValue)
  const dec = (b: Uint8Array): any => decodeCbor(b, options)
  return { name: 'cbor', encodeRequest: enc, decodeRequest: dec, encodeResponse: enc, decodeResponse: dec }
}

/** Bytes as they are. An empty response cannot be told from an omitted one (both: no bytes). */
export function raw(): Codec<Uint8Array, Uint8Array> {
  const id = (b: Uint8Array): Uint8Array => {
    if (!(b instanceof Uint8Array)) throw new TypeError('raw codec: expected a Uint8Array')
    return b
  }
  return { name: 'raw', encodeRequest: id, decodeRequest: id, encodeResponse: id, decodeResponse: id }
}

/**
 * `codec`'s messages with an unsigned-varint length prefix in both directions (protobuf protocols):
 * the behaviour checks the announced length against its cap before reading the message, and does
 * not wait for EOF once the message is in. Its peer must frame the same way.
 */
export function lengthPrefixed<Req, Res>(codec: Codec<Req, Res>): Codec<Req, Res> {
  return {
    name: codec.name,
    encodeRequest: (r) => codec.encodeRequest(r),
    decodeRequest: (b) => codec.decodeRequest(b),
    encodeResponse: (r) => codec.encodeResponse(r),
    decodeResponse: (b) => codec.decodeResponse(b),
    framing: 'length-prefixed',
  }
}
