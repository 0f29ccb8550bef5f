/**
 * The protocol decoders of `weft trace` (spec/trace.md "Protocol messages"): for a stream's
 * negotiated protocol and one direction, an incremental decoder that turns the bytes after
 * multistream-select into the protocol's messages, each decoded by the protocol module's own codec.
 *
 * Every decoder: takes bytes in any split and returns the messages they complete; holds at most
 * the protocol's own message limit; on a message over the limit or bytes that do not decode returns
 * one `undecodable` message ({ reason, bytes }) and from then on only byte counts (`data`); never
 * throws. `end()` (the direction's EOF, a yamux FIN) completes what only EOF delimits.
 *
 * An unknown protocol has no decoder (undefined): the tracer shows its frames' byte counts.
 */
import type { DecodedMessage, DecoderFactory, Direction, StreamDecoder } from '../../core/trace.js'
import { AUTONAT_V1_PROTOCOL, DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL } from '../../autonat/index.js'
import { DCUTR_PROTOCOL } from '../../dcutr/index.js'
import { PUBSUB_PROTOCOLS } from '../../gossipsub/index.js'
import { IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL } from '../../identify/index.js'
import { KAD_PROTOCOL } from '../../kad/index.js'
import { PERF_PROTOCOL } from '../../perf/index.js'
import { PING_PROTOCOL } from '../../ping/index.js'
import { HOP_PROTOCOL, STOP_PROTOCOL } from '../../relay/index.js'
import { RENDEZVOUS_PROTOCOL } from '../../rendezvous/index.js'
import { autonatDialBackDecoder, autonatV1Decoder, autonatV2Decoder } from './autonat.js'
import { IdentifyDecoder } from './identify.js'
import { kadDecoder } from './kad.js'
import { pubsubDecoder } from './pubsub.js'
import { PerfDecoder, PingDecoder } from './raw.js'
import { dcutrDecoder, hopDecoder, stopDecoder } from './relay.js'
import { rendezvousDecoder } from './rendezvous.js'
import { RequestResponseDecoder, type RequestResponseHint } from './request-response.js'

export type { RequestResponseHint } from './request-response.js'
export { MAX_SHOWN_BYTES, MAX_SHOWN_CHARS, MAX_SHOWN_ITEMS } from './common.js'

/** A protocol decoder: `push` as StreamDecoder; `end` at the direction's EOF. Never throws. */
export interface ProtocolDecoder extends StreamDecoder {
  /** The direction ended (the writer's half-close): what only EOF completes, then nothing more is decoded. */
  end(): DecodedMessage[]
  /** Bytes held for the message being decoded: at most the protocol's limit (+ a length prefix); 0 once only counting. */
  readonly buffered: number
}

/** What the tracer may know of a stream direction beyond its protocol. */
export interface DecoderHint {
  /**
   * True when this direction's bytes are written by the side that opened the stream (yamux: the
   * stream id's parity against the connection's role), false when by the side that accepted it.
   * Names ping echoes and request/response, and tells perf's client from its server. Unknown: perf
   * takes 'out' for the client's side (`weft trace` opens the streams it traces).
   */
  opener?: boolean | undefined
}

/** What `createDecoderFactory` knows beyond the built-in protocols. */
export interface DecoderOptions {
  /**
   * Request-response protocols (by protocol id) and their codec and framing: only these get a
   * request-response decoder (any other unknown protocol has none).
   */
  requestResponse?: Readonly<Record<string, RequestResponseHint>> | ReadonlyMap<string, RequestResponseHint> | undefined
}

type Make = (opener: boolean | undefined, dir: Direction) => ProtocolDecoder

const KNOWN = new Map<string, Make>([
  [IDENTIFY_PROTOCOL, () => new IdentifyDecoder('Identify')],
  [IDENTIFY_PUSH_PROTOCOL, () => new IdentifyDecoder('IdentifyPush')],
  [PING_PROTOCOL, (opener) => new PingDecoder(opener === undefined ? undefined : !opener)],
  [KAD_PROTOCOL, () => kadDecoder()],
  ...PUBSUB_PROTOCOLS.map((p): [string, Make] => [p, () => pubsubDecoder()]),
  [AUTONAT_V1_PROTOCOL, () => autonatV1Decoder()],
  [DIAL_REQUEST_PROTOCOL, () => autonatV2Decoder()],
  [DIAL_BACK_PROTOCOL, (opener) => autonatDialBackDecoder(opener)],
  [HOP_PROTOCOL, () => hopDecoder()],
  [STOP_PROTOCOL, () => stopDecoder()],
  [DCUTR_PROTOCOL, () => dcutrDecoder()],
  [RENDEZVOUS_PROTOCOL, () => rendezvousDecoder()],
  [PERF_PROTOCOL, (opener, dir) => new PerfDecoder(opener ?? dir === 'out')],
])

/** The protocols with a built-in decoder (request-response ones come from DecoderOptions). */
export const DECODED_PROTOCOLS: readonly string[] = [...KNOWN.keys()]

function hintFor(options: DecoderOptions, protocol: string): RequestResponseHint | undefined {
  const rr = options.requestResponse
  if (rr === undefined) return undefined
  if (rr instanceof Map) return rr.get(protocol)
  const r = rr as Readonly<Record<string, RequestResponseHint>>
  return Object.prototype.hasOwnProperty.call(r, protocol) ? r[protocol] : undefined
}

/**
 * Whether direction `dir` of yamux stream `stream` is written by the side that opened the stream
 * (DecoderHint.opener), `initiator` telling whether the local node dialed the connection: the yamux
 * client (the dialer) opens odd stream ids, the server even ones (yamux spec.md "StreamID" field; spec/yamux.md).
 */
export function streamOpener(stream: number, dir: Direction, initiator: boolean): boolean {
  const openedLocally = (stream % 2 === 1) === initiator
  return openedLocally === (dir === 'out')
}

/** A decoder factory knowing the node's request-response protocols; the tracer's `decoders` option. */
export function createDecoderFactory(options: DecoderOptions = {}): (protocol: string, dir: Direction, hint?: DecoderHint) => ProtocolDecoder | undefined {
  return (protocol, dir, hint = {}) => {
    if (typeof protocol !== 'string') return undefined
    const make = KNOWN.get(protocol)
    if (make !== undefined) return make(hint.opener, dir)
    const rr = hintFor(options, protocol)
    return rr === undefined ? undefined : new RequestResponseDecoder(rr, hint.opener)
  }
}

const builtIn = createDecoderFactory()

/**
 * A decoder for one direction (`dir`, as the tracer sees it) of a stream that negotiated
 * `protocol`, or undefined when weft has no decoder for it.
 */
export function createDecoder(protocol: string, dir: Direction, hint?: DecoderHint): ProtocolDecoder | undefined {
  return builtIn(protocol, dir, hint)
}

/** `createDecoder` as the tracer's DecoderFactory type names it. */
export const decoderFactory: DecoderFactory = createDecoder
