/**
 * Rendezvous messages (libp2p/specs rendezvous/README.md) and their framing on a `/rendezvous/1.0.0`
 * stream: one proto2 `Message` with a `type` and the sub-message that type names.
 *
 * On the stream each message is varint-length-prefixed. Decoding remote bytes throws
 * `ProtocolError('rendezvous', 'rendezvous/...')` only. Namespace, TTL and signed peer record are
 * checked by the registry (src/rendezvous/server.ts), which answers with a status, not an error.
 */
import { ProtocolError } from '../core/errors.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag, type FieldReader, type Writer } from '../core/protobuf.js'
import { MessageFrameDecoder, encodeLp } from '../core/lp.js'

/** Protocol id of rendezvous (libp2p specs rendezvous/README.md). */
export const RENDEZVOUS_PROTOCOL = '/rendezvous/1.0.0'

/** `Message.MessageType`, verbatim from the spec. */
export const MessageType = { REGISTER: 0, REGISTER_RESPONSE: 1, UNREGISTER: 2, DISCOVER: 3, DISCOVER_RESPONSE: 4 } as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

/** `Message.ResponseStatus`, verbatim from the spec. */
export const ResponseStatus = {
  OK: 0,
  E_INVALID_NAMESPACE: 100,
  E_INVALID_SIGNED_PEER_RECORD: 101,
  E_INVALID_TTL: 102,
  E_INVALID_COOKIE: 103,
  E_NOT_AUTHORIZED: 200,
  E_INTERNAL_ERROR: 300,
  E_UNAVAILABLE: 400,
} as const
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus]
const STATUSES = new Set<number>(Object.values(ResponseStatus))

/** The `ProtocolError('rendezvous', code)` codes: a message over the limit, malformed, or of an unexpected type. */
export type RendezvousErrorCode =
  | 'rendezvous/message-too-large'
  | 'rendezvous/malformed'
  | 'rendezvous/missing-field'
  | 'rendezvous/unknown-type'
  | 'rendezvous/unknown-status'
  | 'rendezvous/too-many-registrations'
  /** A message of the wrong type for the stream's state (a response to a request, a second response). */
  | 'rendezvous/unexpected-message'

/** `Message.Register` (rendezvous spec "Protocol"): namespace, signed peer record, TTL in seconds. */
export interface Register {
  ns?: string
  signedPeerRecord?: Uint8Array
  /** Seconds. */
  ttl?: number
}
/** `Message.RegisterResponse`: status, status text and the TTL granted. */
export interface RegisterResponse {
  status: ResponseStatus
  statusText?: string
  ttl?: number
}
/** `Message.Unregister`: the namespace to leave. */
export interface Unregister {
  ns?: string
}
/** `Message.Discover`: namespace (absent: all), limit and pagination cookie. */
export interface Discover {
  ns?: string
  limit?: number
  cookie?: Uint8Array
}
/** `Message.DiscoverResponse`: registrations, the cookie for the next page, status. */
export interface DiscoverResponse {
  registrations: Register[]
  cookie?: Uint8Array
  status: ResponseStatus
  statusText?: string
}

/** A rendezvous `Message` (`/rendezvous/1.0.0`), by type. */
export type RendezvousMessage =
  | { type: typeof MessageType.REGISTER; register: Register }
  | { type: typeof MessageType.REGISTER_RESPONSE; registerResponse: RegisterResponse }
  | { type: typeof MessageType.UNREGISTER; unregister: Unregister }
  | { type: typeof MessageType.DISCOVER; discover: Discover }
  | { type: typeof MessageType.DISCOVER_RESPONSE; discoverResponse: DiscoverResponse }

/** Bounds of rendezvous messages decoded (spec/rendezvous.md "Limits"). */
export interface RendezvousMessageLimits {
  /**
   * Largest message body (after the length prefix). Default 65536. Stops a remote from making us
   * buffer and parse large messages; 64 KiB holds a full page of registrations (see maxRegistrations).
   */
  maxMessageSize: number
  /** Most registrations in one DiscoverResponse. Default 100. Stops a rendezvous point from flooding a client. */
  maxRegistrations: number
}

/** Default `RendezvousMessageLimits`: 64 KiB messages, 100 registrations per DISCOVER response. */
export const DEFAULT_RENDEZVOUS_MESSAGE_LIMITS: Readonly<RendezvousMessageLimits> = Object.freeze({
  maxMessageSize: 65536,
  maxRegistrations: 100,
})

const PROTOCOL = 'rendezvous'

const fail = (code: RendezvousErrorCode, message?: string, cause?: unknown): ProtocolError<RendezvousErrorCode> =>
  new ProtocolError<RendezvousErrorCode>(PROTOCOL, code, message, cause === undefined ? undefined : { cause })

function writeRegister(w: Writer, r: Register): void {
  if (r.ns !== undefined) w.uint32(tag(1, WIRE_LEN)).string(r.ns)
  if (r.signedPeerRecord !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(r.signedPeerRecord)
  if (r.ttl !== undefined) w.uint32(tag(3, WIRE_VARINT)).uint64(r.ttl)
}

function sub(w: Writer, field: number, build: (w: Writer) => void): void {
  w.uint32(tag(field, WIRE_LEN)).bytes(encodeMessage(build))
}

/** The Message protobuf (no length prefix). */
export function encodeRendezvous(msg: RendezvousMessage): Uint8Array {
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_VARINT)).uint32(msg.type)
    switch (msg.type) {
      case MessageType.REGISTER:
        return sub(w, 2, (s) => writeRegister(s, msg.register))
      case MessageType.REGISTER_RESPONSE:
        return sub(w, 3, (s) => {
          const r = msg.registerResponse
          s.uint32(tag(1, WIRE_VARINT)).uint32(r.status)
          if (r.statusText !== undefined) s.uint32(tag(2, WIRE_LEN)).string(r.statusText)
          if (r.ttl !== undefined) s.uint32(tag(3, WIRE_VARINT)).uint64(r.ttl)
        })
      case MessageType.UNREGISTER:
        return sub(w, 4, (s) => {
          if (msg.unregister.ns !== undefined) s.uint32(tag(1, WIRE_LEN)).string(msg.unregister.ns)
        })
      case MessageType.DISCOVER:
        return sub(w, 5, (s) => {
          const d = msg.discover
          if (d.ns !== undefined) s.uint32(tag(1, WIRE_LEN)).string(d.ns)
          if (d.limit !== undefined) s.uint32(tag(2, WIRE_VARINT)).uint64(d.limit)
          if (d.cookie !== undefined) s.uint32(tag(3, WIRE_LEN)).bytes(d.cookie)
        })
      case MessageType.DISCOVER_RESPONSE:
        return sub(w, 6, (s) => {
          const d = msg.discoverResponse
          for (const r of d.registrations) sub(s, 1, (x) => writeRegister(x, r))
          if (d.cookie !== undefined) s.uint32(tag(2, WIRE_LEN)).bytes(d.cookie)
          s.uint32(tag(3, WIRE_VARINT)).uint32(d.status)
          if (d.statusText !== undefined) s.uint32(tag(4, WIRE_LEN)).string(d.statusText)
        })
      default:
        throw new RangeError(`unknown rendezvous message type ${String((msg as { type: unknown }).type)}`)
    }
  })
}

/** A Message as written on the stream: varint length, then the protobuf. */
export function encodeRendezvousFrame(msg: RendezvousMessage): Uint8Array {
  return encodeLp(encodeRendezvous(msg))
}

function withLimits(limits: Partial<RendezvousMessageLimits>): RendezvousMessageLimits {
  return { ...DEFAULT_RENDEZVOUS_MESSAGE_LIMITS, ...limits }
}

function fields(bytes: Uint8Array, max: number, onField: (field: number, r: FieldReader) => void): void {
  decodeMessage(bytes, PROTOCOL, max, onField)
}

function readStatus(r: FieldReader): ResponseStatus {
  const s = r.enum()
  if (!STATUSES.has(s)) throw fail('rendezvous/unknown-status', `ResponseStatus ${s}`)
  return s as ResponseStatus
}

function readRegister(bytes: Uint8Array, max: number): Register {
  const out: Register = {}
  fields(bytes, max, (f, r) => {
    if (f === 1) out.ns = r.string()
    else if (f === 2) out.signedPeerRecord = r.bytes()
    else if (f === 3) out.ttl = r.uint64()
    else r.skip()
  })
  return out
}

/** Decode one Message body. Throws ProtocolError('rendezvous', 'rendezvous/...') only. */
export function decodeRendezvous(bytes: Uint8Array, limits: Partial<RendezvousMessageLimits> = {}): RendezvousMessage {
  const l = withLimits(limits)
  if (bytes.length > l.maxMessageSize) throw fail('rendezvous/message-too-large', `${bytes.length} > ${l.maxMessageSize}`)
  const max = l.maxMessageSize
  let type: number | undefined
  let register: Register | undefined
  let registerResponse: RegisterResponse | undefined
  let unregister: Unregister | undefined
  let discover: Discover | undefined
  let discoverResponse: DiscoverResponse | undefined
  try {
    decodeMessage(bytes, PROTOCOL, max, (field, r) => {
      if (field === 1) type = r.enum()
      else if (field === 2) register = readRegister(r.bytes(), max)
      else if (field === 3) {
        const rr: RegisterResponse = { status: ResponseStatus.OK }
        fields(r.bytes(), max, (f, s) => {
          if (f === 1) rr.status = readStatus(s)
          else if (f === 2) rr.statusText = s.string()
          else if (f === 3) rr.ttl = s.uint64()
          else s.skip()
        })
        registerResponse = rr
      } else if (field === 4) {
        const u: Unregister = {}
        fields(r.bytes(), max, (f, s) => (f === 1 ? (u.ns = s.string()) : s.skip()))
        unregister = u
      } else if (field === 5) {
        const d: Discover = {}
        fields(r.bytes(), max, (f, s) => {
          if (f === 1) d.ns = s.string()
          else if (f === 2) d.limit = s.uint64()
          else if (f === 3) d.cookie = s.bytes()
          else s.skip()
        })
        discover = d
      } else if (field === 6) {
        const d: DiscoverResponse = { registrations: [], status: ResponseStatus.OK }
        fields(r.bytes(), max, (f, s) => {
          if (f === 1) {
            if (d.registrations.length >= l.maxRegistrations) throw fail('rendezvous/too-many-registrations', `more than ${l.maxRegistrations}`)
            d.registrations.push(readRegister(s.bytes(), max))
          } else if (f === 2) d.cookie = s.bytes()
          else if (f === 3) d.status = readStatus(s)
          else if (f === 4) d.statusText = s.string()
          else s.skip()
        })
        discoverResponse = d
      } else r.skip()
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('rendezvous/')) throw e
    throw fail('rendezvous/malformed', e instanceof Error ? e.message : String(e), e)
  }
  const missing = (name: string): never => {
    throw fail('rendezvous/missing-field', name)
  }
  switch (type) {
    case undefined:
      return missing('Message.type')
    case MessageType.REGISTER:
      return { type, register: register ?? missing('Message.register') }
    case MessageType.REGISTER_RESPONSE:
      return { type, registerResponse: registerResponse ?? missing('Message.registerResponse') }
    case MessageType.UNREGISTER:
      return { type, unregister: unregister ?? missing('Message.unregister') }
    case MessageType.DISCOVER:
      return { type, discover: discover ?? missing('Message.discover') }
    case MessageType.DISCOVER_RESPONSE:
      return { type, discoverResponse: discoverResponse ?? missing('Message.discoverResponse') }
    default:
      throw fail('rendezvous/unknown-type', `Message.type ${type}`)
  }
}

/**
 * Reads length-prefixed rendezvous messages from a stream in any chunking. Buffers at most
 * maxMessageSize + 9 bytes beyond whole messages. Throws ProtocolError('rendezvous', ...) only.
 */
export class RendezvousDecoder extends MessageFrameDecoder<RendezvousMessage, typeof PROTOCOL> {
  constructor(limits: Partial<RendezvousMessageLimits> = {}) {
    const l = withLimits(limits)
    super(PROTOCOL, l.maxMessageSize, (body) => decodeRendezvous(body, l))
  }
}
