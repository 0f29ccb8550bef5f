/**
 * Options of the QUIC stream layer, their defaults and the limits they enforce (spec/quic-streams.md
 * "Limits"), and the six flow-control transport parameters (RFC 9000 §18.2) it offers and accepts.
 */
import { MAX_STREAM_COUNT, type QuicRole } from './ids.js'
import { transportError } from './errors.js'

/** The flow-control transport parameters of one endpoint (RFC 9000 §18.2), as numbers. */
export interface StreamParameters {
  /** initial_max_data: connection-level credit. */
  readonly initialMaxData: number
  /** initial_max_stream_data_bidi_local: credit on bidirectional streams the sender of the parameter opens. */
  readonly initialMaxStreamDataBidiLocal: number
  /** initial_max_stream_data_bidi_remote: credit on bidirectional streams its peer opens. */
  readonly initialMaxStreamDataBidiRemote: number
  /** initial_max_stream_data_uni: credit on unidirectional streams its peer opens. */
  readonly initialMaxStreamDataUni: number
  /** initial_max_streams_bidi: bidirectional streams its peer may open. */
  readonly initialMaxStreamsBidi: number
  /** initial_max_streams_uni: unidirectional streams its peer may open. */
  readonly initialMaxStreamsUni: number
}

/** Options of `QuicStreams`; defaults in `QUIC_STREAM_DEFAULTS`. */
export interface QuicStreamsOptions {
  /** 'client' opens ids 0, 4, 8... (bidi) and 2, 6... (uni); 'server' 1, 5... and 3, 7... */
  role: QuicRole
  /** Bidirectional streams the peer may have open at once (our initial_max_streams_bidi, raised by
   * MAX_STREAMS as they close). Stops a peer from making us hold unbounded stream state. */
  maxIncomingBidiStreams?: number
  /** The same for unidirectional streams. libp2p uses none, so 0 by default. */
  maxIncomingUniStreams?: number
  /** Receive window offered to each new stream (the initial_max_stream_data_* parameters): how much
   * of one stream the peer can make us buffer before the application reads. */
  initialStreamWindow?: number
  /** Ceiling for per-stream receive-window auto-tuning. */
  maxStreamWindow?: number
  /** Connection receive window offered at first (initial_max_data): bytes buffered across all streams. */
  initialConnectionWindow?: number
  /** Ceiling for connection receive-window auto-tuning. */
  maxConnectionWindow?: number
  /** Bytes written to one stream and not yet acknowledged that `write` accepts; an application writing
   * faster than the peer acknowledges gets short writes and a 'writable' event, never unbounded buffering. */
  streamSendBuffer?: number
  /** Gaps (disjoint received ranges) one stream's reassembly may hold: a peer sending every other byte
   * of its window cannot make us keep millions of ranges. Past it: PROTOCOL_VIOLATION. */
  maxStreamFragments?: number
}

export interface ResolvedStreamOptions {
  role: QuicRole
  maxIncomingBidiStreams: number
  maxIncomingUniStreams: number
  initialStreamWindow: number
  maxStreamWindow: number
  initialConnectionWindow: number
  maxConnectionWindow: number
  streamSendBuffer: number
  maxStreamFragments: number
}

/** Defaults of `QuicStreamsOptions` (see spec/quic-streams.md "Limits"). */
export const QUIC_STREAM_DEFAULTS = {
  maxIncomingBidiStreams: 256,
  maxIncomingUniStreams: 0,
  initialStreamWindow: 256 * 1024,
  maxStreamWindow: 16 * 1024 * 1024,
  initialConnectionWindow: 1024 * 1024,
  maxConnectionWindow: 64 * 1024 * 1024,
  streamSendBuffer: 2 * 1024 * 1024,
  maxStreamFragments: 4096,
} as const

/** Largest value a varint carries (RFC 9000 §16). */
export const MAX_VARINT = 2 ** 62 - 1

function int(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`quic streams: ${name} must be an integer in [${min}, ${max}]`)
  return v
}

export function resolveStreamOptions(o: QuicStreamsOptions): ResolvedStreamOptions {
  if (o.role !== 'client' && o.role !== 'server') throw new TypeError("quic streams: role must be 'client' or 'server'")
  const d = QUIC_STREAM_DEFAULTS
  const maxStreamWindow = int('maxStreamWindow', o.maxStreamWindow ?? d.maxStreamWindow, 1, 2 ** 40)
  const maxConnectionWindow = int('maxConnectionWindow', o.maxConnectionWindow ?? d.maxConnectionWindow, 1, 2 ** 40)
  return {
    role: o.role,
    maxIncomingBidiStreams: int('maxIncomingBidiStreams', o.maxIncomingBidiStreams ?? d.maxIncomingBidiStreams, 0, 2 ** 20),
    maxIncomingUniStreams: int('maxIncomingUniStreams', o.maxIncomingUniStreams ?? d.maxIncomingUniStreams, 0, 2 ** 20),
    initialStreamWindow: int('initialStreamWindow', o.initialStreamWindow ?? Math.min(d.initialStreamWindow, maxStreamWindow), 1, maxStreamWindow),
    maxStreamWindow,
    initialConnectionWindow: int('initialConnectionWindow', o.initialConnectionWindow ?? Math.min(d.initialConnectionWindow, maxConnectionWindow), 1, maxConnectionWindow),
    maxConnectionWindow,
    streamSendBuffer: int('streamSendBuffer', o.streamSendBuffer ?? d.streamSendBuffer, 1, 2 ** 40),
    maxStreamFragments: int('maxStreamFragments', o.maxStreamFragments ?? d.maxStreamFragments, 1, 2 ** 24),
  }
}

const PARAMETER_NAMES = [
  'initialMaxData', 'initialMaxStreamDataBidiLocal', 'initialMaxStreamDataBidiRemote', 'initialMaxStreamDataUni', 'initialMaxStreamsBidi', 'initialMaxStreamsUni',
] as const

/**
 * The six flow-control values of the peer's parameters (any object with them, such as the packet
 * layer's decoded TransportParameters), checked (RFC 9000 §4.6, §18.2): a stream count above 2^60,
 * or a value that is not a non-negative safe integer, is a TRANSPORT_PARAMETER_ERROR.
 */
export function checkPeerParameters(p: StreamParameters): StreamParameters {
  const out: Record<string, number> = {}
  for (const name of PARAMETER_NAMES) {
    const v = p[name]
    if (!Number.isSafeInteger(v) || v < 0) throw transportError('TRANSPORT_PARAMETER_ERROR', `${name} is not a varint weft accepts`)
    out[name] = v
  }
  if (p.initialMaxStreamsBidi > MAX_STREAM_COUNT || p.initialMaxStreamsUni > MAX_STREAM_COUNT) {
    throw transportError('TRANSPORT_PARAMETER_ERROR', 'initial_max_streams above 2^60')
  }
  return out as unknown as StreamParameters
}
