/**
 * DCUtR messages (libp2p/specs relay/DCUtR.md) and their framing on a `/libp2p/dcutr` stream.
 *
 *   message HolePunch {               // proto2
 *     enum Type { CONNECT = 100; SYNC = 300; }
 *     required Type type = 1;
 *     repeated bytes ObsAddrs = 2;    // binary multiaddrs
 *   }
 *
 * On the stream each message is varint-length-prefixed; the spec says to refuse bodies over 4 KiB.
 * Decoding remote bytes throws `ProtocolError('dcutr', 'dcutr/...')` only. An `ObsAddrs` entry that
 * is not a valid multiaddr (or is longer than maxAddrBytes) is skipped, not fatal, as go and rust
 * do; more entries than `maxAddrs` fail the message (go has no cap, rust keeps at most 20 candidates).
 */
import { ProtocolError } from '../core/errors.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { MessageFrameDecoder, encodeLp } from '../core/lp.js'
import { Multiaddr } from '../multiaddr/index.js'

/** Protocol id of DCUtR (relay/DCUtR.md). */
export const DCUTR_PROTOCOL = '/libp2p/dcutr'

/** `HolePunch.Type`, verbatim from the spec. */
export const HolePunchType = { CONNECT: 100, SYNC: 300 } as const
export type HolePunchType = (typeof HolePunchType)[keyof typeof HolePunchType]

/**
 * The `ProtocolError('dcutr', code)` codes: a message over the limit, malformed, unexpected type, or no usable address.
 */
export type DcutrErrorCode =
  | 'dcutr/message-too-large'
  | 'dcutr/malformed'
  | 'dcutr/missing-field'
  | 'dcutr/unknown-type'
  | 'dcutr/too-many-addrs'
  /** Behaviour-level violations (src/dcutr/dcutr.ts). */
  | 'dcutr/unexpected-message'
  | 'dcutr/no-addrs'

/**
 * The DCUtR `HolePunch` protobuf (libp2p specs relay/DCUtR.md): type CONNECT or SYNC and the sender's observed addresses.
 */
export interface HolePunch {
  type: HolePunchType
  /** The sender's observed (and predicted) addresses; invalid entries were skipped by the decoder. */
  obsAddrs: Multiaddr[]
}

/** Bounds of DCUtR messages decoded (spec/dcutr.md "Limits"). */
export interface DcutrMessageLimits {
  /**
   * Largest message body (after the length prefix). Default 4096, the spec's "4 KiB", as go and
   * rust. Stops a remote from making us buffer and parse large messages.
   */
  maxMessageSize: number
  /**
   * Most `ObsAddrs` entries in one message. Default 32. Stops a remote from making us parse, filter
   * and dial hundreds of tiny addresses (every one is a punch dial).
   */
  maxAddrs: number
  /** Largest single address in bytes; longer entries are skipped. Default 1024 (the multiaddr default). */
  maxAddrBytes: number
}

/** Default `DcutrMessageLimits`: 4 KiB messages (the spec's limit), 32 addresses of at most 1 KiB. */
export const DEFAULT_DCUTR_MESSAGE_LIMITS: Readonly<DcutrMessageLimits> = Object.freeze({
  maxMessageSize: 4096,
  maxAddrs: 32,
  maxAddrBytes: 1024,
})

const PROTOCOL = 'dcutr'

const fail = (code: DcutrErrorCode, message?: string, cause?: unknown): ProtocolError<DcutrErrorCode> =>
  new ProtocolError<DcutrErrorCode>(PROTOCOL, code, message, cause === undefined ? undefined : { cause })

/** The HolePunch protobuf (no length prefix). */
export function encodeHolePunch(msg: HolePunch): Uint8Array {
  if (msg.type !== HolePunchType.CONNECT && msg.type !== HolePunchType.SYNC) throw new RangeError(`unknown HolePunch type ${String(msg.type)}`)
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_VARINT)).uint32(msg.type)
    for (const a of msg.obsAddrs) w.uint32(tag(2, WIRE_LEN)).bytes(a.bytes)
  })
}

/** A HolePunch as written on the stream: varint length, then the protobuf. */
export function encodeHolePunchFrame(msg: HolePunch): Uint8Array {
  return encodeLp(encodeHolePunch(msg))
}

function withLimits(limits: Partial<DcutrMessageLimits>): DcutrMessageLimits {
  return { ...DEFAULT_DCUTR_MESSAGE_LIMITS, ...limits }
}

/** Decode one HolePunch body. Throws ProtocolError('dcutr', 'dcutr/...') only. */
export function decodeHolePunch(bytes: Uint8Array, limits: Partial<DcutrMessageLimits> = {}): HolePunch {
  const l = withLimits(limits)
  if (bytes.length > l.maxMessageSize) throw fail('dcutr/message-too-large', `${bytes.length} > ${l.maxMessageSize}`)
  let type: number | undefined
  let entries = 0
  const obsAddrs: Multiaddr[] = []
  try {
    decodeMessage(bytes, PROTOCOL, l.maxMessageSize, (field, r) => {
      if (field === 1) {
        if (type !== undefined) throw fail('dcutr/malformed', 'repeated field HolePunch.type')
        type = r.enum()
      } else if (field === 2) {
        const b = r.bytes()
        if (++entries > l.maxAddrs) throw fail('dcutr/too-many-addrs', `more than ${l.maxAddrs}`)
        if (b.length > l.maxAddrBytes) return
        try {
          obsAddrs.push(Multiaddr.fromBytes(b, { maxBytes: Math.max(1, l.maxAddrBytes) }))
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e
        }
      } else r.skip()
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.code.startsWith('dcutr/')) throw e
    throw fail('dcutr/malformed', e instanceof Error ? e.message : String(e), e)
  }
  if (type === undefined) throw fail('dcutr/missing-field', 'HolePunch.type')
  if (type !== HolePunchType.CONNECT && type !== HolePunchType.SYNC) throw fail('dcutr/unknown-type', `HolePunch.type ${type}`)
  return { type, obsAddrs }
}

/**
 * Reads length-prefixed HolePunch messages from a stream in any chunking. Buffers at most
 * maxMessageSize + 9 bytes beyond whole messages. Throws ProtocolError('dcutr', ...) only.
 */
export class HolePunchDecoder extends MessageFrameDecoder<HolePunch, typeof PROTOCOL> {
  constructor(limits: Partial<DcutrMessageLimits> = {}) {
    const l = withLimits(limits)
    super(PROTOCOL, l.maxMessageSize, (body) => decodeHolePunch(body, l))
  }
}
