/**
 * The tracer (spec/trace.md): turns what the cores emit (`CoreTrace`, src/core/trace.ts) into the
 * printed `TraceEvent`s: it stamps each with the node's time and a connection id, decodes the Noise
 * handshake payloads (identity key -> peer id, signature, muxer list), cuts yamux plaintext into
 * frames with yamux's own FrameReader, derives each stream's half-close and reset from the frames'
 * FIN and RST (yamux spec.md "Stream Close"), and runs the protocol decoders (src/trace/decode) over
 * each negotiated stream's bytes, emitting `message` events instead of the raw bytes.
 *
 * Bounded: per connection, at most `maxStreams` streams are decoded at once (a stream's decoder
 * state is dropped when it closes or resets, all of them when the connection closes). Never changes
 * behaviour: a decoder or the sink that throws stops that connection's tracing, nothing else.
 * Only weft/node loads this module.
 */
import { toHex } from '../core/bytes.js'
import type {
  CoreTrace, DecodedMessage, DecoderFactory, Direction, NoisePayloadView, StreamDecoder, TraceBody, TraceEvent, TraceHook, YamuxFlag, YamuxFrameType,
} from '../core/trace.js'
import { decodeHandshakePayload } from '../noise/index.js'
import { publicKeyFromProtobuf } from '../peer-id/index.js'
import { Flag, FrameReader, FrameType, type FrameHeader } from '../yamux/index.js'

/**
 * Default for `maxStreams`: streams decoded at once per connection. Stops a peer that opens many
 * streams from growing the tracer's decoder state (the frames and lines of further streams are
 * still printed; only their protocol messages are not decoded).
 */
export const DEFAULT_MAX_TRACED_STREAMS = 256

export interface TracerOptions {
  /** Where the events go (a throw stops the tracing of that connection). */
  emit: (e: TraceEvent) => void
  /** The node's clock: milliseconds since the epoch (may be fractional). */
  now: () => number
  /** The protocol decoders (`createDecoder` of src/trace/decode); none: no `message` events. */
  decoders?: DecoderFactory | undefined
  /** Streams decoded at once per connection, default 256. */
  maxStreams?: number | undefined
}

const TYPES: readonly YamuxFrameType[] = ['data', 'window-update', 'ping', 'go-away']
const FLAGS: ReadonlyArray<[YamuxFlag, number]> = [['SYN', Flag.SYN], ['ACK', Flag.ACK], ['FIN', Flag.FIN], ['RST', Flag.RST]]
const GO_AWAY = ['normal', 'protocol error', 'internal error']

/** One node's tracer: `connection()` gives each new connection its hook and id. */
export class Tracer {
  readonly #o: TracerOptions
  readonly #maxStreams: number
  #next = 1

  constructor(o: TracerOptions) {
    this.#o = o
    this.#maxStreams = o.maxStreams ?? DEFAULT_MAX_TRACED_STREAMS
    if (!(Number.isInteger(this.#maxStreams) && this.#maxStreams >= 0)) throw new RangeError('maxStreams must be a non-negative integer')
  }

  /** A hook for one new connection, with the next id ('c1', 'c2', ...). */
  connection(): TraceHook {
    const c = new ConnectionTrace(`c${this.#next++}`, this.#o, this.#maxStreams)
    return (e) => c.handle(e)
  }
}

interface StreamDecoders {
  in?: StreamDecoder | undefined
  out?: StreamDecoder | undefined
  protocol?: string
}

class ConnectionTrace {
  readonly #id: string
  readonly #o: TracerOptions
  readonly #maxStreams: number
  readonly #frames = { in: new FrameReader(), out: new FrameReader() }
  /** Decoders of the streams being decoded (at most maxStreams). */
  readonly #streams = new Map<number, StreamDecoders>()
  #dead = false
  /** Our role (the connection's first state event): yamux clients (dialers) open odd stream ids. */
  #dialer: boolean | undefined

  constructor(id: string, o: TracerOptions, maxStreams: number) {
    this.#id = id
    this.#o = o
    this.#maxStreams = maxStreams
  }

  handle(e: CoreTrace): void {
    if (this.#dead) return
    try {
      this.#handle(e)
    } catch {
      // tracing never changes behaviour: a failing decoder or sink ends this connection's trace only
      this.#dead = true
      this.#streams.clear()
    }
  }

  #emit(body: TraceBody): void {
    this.#o.emit({ t: this.#o.now(), conn: this.#id, ...body } as TraceEvent)
  }

  #handle(e: CoreTrace): void {
    switch (e.kind) {
      case 'noise-message': {
        const payload = e.payload.length > 0 ? payloadView(e.payload) : undefined
        this.#emit({
          kind: 'noise-handshake', dir: e.dir, message: e.message, bytes: e.bytes,
          ephemeral: e.ephemeral === undefined ? '' : toHex(e.ephemeral),
          ...(payload !== undefined ? { payload } : {}),
        })
        return
      }
      case 'yamux-bytes': {
        const dir = e.dir
        this.#frames[dir].read(e.data, (h) => this.#frame(dir, h), () => {})
        return
      }
      case 'stream-bytes':
        this.#decode(e.dir, e.stream, e.protocol, e.data)
        return
      case 'state':
        if (e.layer === 'connection' && e.to === 'upgrading') this.#dialer = e.reason === 'dialer'
        this.#emit(e)
        // the remote's half-close, after the last bytes it carried reached the stream
        if (e.layer === 'stream' && e.to === 'remote-closed') this.#end(e.stream!, 'in')
        if (e.layer === 'stream' && (e.to === 'closed' || e.to === 'failed')) this.#streams.delete(e.stream!)
        // the final flush (a GoAway) still leaves after 'closed': keep tracing bytes, drop the decoders
        if (e.layer === 'connection' && e.to === 'closed') this.#streams.clear()
        return
      default:
        this.#emit(e)
    }
  }

  /** One yamux header: its event, and the state changes its flags name. Returns the payload length to skip. */
  #frame(dir: Direction, h: FrameHeader): number {
    const flags = FLAGS.filter(([, bit]) => (h.flags & bit) !== 0).map(([n]) => n)
    this.#emit({ kind: 'yamux-frame', dir, type: TYPES[h.type] ?? 'data', flags, stream: h.streamId, length: h.length })
    if (h.type === FrameType.GoAway) {
      this.#emit({ kind: 'state', layer: 'yamux', to: 'go-away', reason: `${dir === 'in' ? 'remote' : 'local'}, code ${h.length} (${GO_AWAY[h.length] ?? 'unknown'})` })
    } else if ((h.type === FrameType.Data || h.type === FrameType.WindowUpdate) && h.streamId !== 0) {
      if ((h.flags & Flag.RST) !== 0) {
        this.#emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: 'reset', reason: dir === 'in' ? 'by remote' : 'by us' })
        this.#streams.delete(h.streamId)
      } else if ((h.flags & Flag.FIN) !== 0 && dir === 'out') {
        // (the remote's FIN is reported by the stream table, after the bytes before it)
        this.#emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: 'local-closed' })
        this.#end(h.streamId, 'out')
      }
    }
    return h.type === FrameType.Data ? h.length : 0
  }

  #decode(dir: Direction, stream: number, protocol: string, data: Uint8Array): void {
    const factory = this.#o.decoders
    if (factory === undefined) return
    let s = this.#streams.get(stream)
    if (s === undefined) {
      if (this.#streams.size >= this.#maxStreams) return
      this.#streams.set(stream, (s = {}))
    }
    if (!(dir in s)) {
      // the side that opened the stream: yamux clients (dialers) use odd ids
      const ours = this.#dialer === undefined ? undefined : (stream % 2 === 1) === this.#dialer
      s[dir] = factory(protocol, dir, { opener: ours === undefined ? undefined : ours === (dir === 'out') })
      s.protocol = protocol
    }
    const d = s[dir]
    if (d !== undefined) this.#messages(dir, stream, protocol, d.push(data))
  }

  /** A direction of a stream ended: its decoder completes what only EOF delimits, then is dropped. */
  #end(stream: number, dir: Direction): void {
    const s = this.#streams.get(stream)
    const d = s?.[dir]
    if (s === undefined || d === undefined) return
    s[dir] = undefined
    if (d.end !== undefined) this.#messages(dir, stream, s.protocol!, d.end())
  }

  #messages(dir: Direction, stream: number, protocol: string, list: DecodedMessage[]): void {
    for (const m of list) this.#emit({ kind: 'message', dir, stream, protocol, name: m.name, fields: m.fields })
  }
}

/** A handshake payload as an auditor reads it; undefined when it does not decode (the core reports why). */
function payloadView(bytes: Uint8Array): NoisePayloadView | undefined {
  try {
    const p = decodeHandshakePayload(bytes)
    if (p.identityKey === undefined) return undefined
    const key = publicKeyFromProtobuf(p.identityKey)
    return {
      identityKey: key.toPeerId().toString(),
      keyType: key.type,
      signature: toHex(p.identitySig ?? new Uint8Array(0)),
      muxers: p.extensions?.streamMuxers ?? [],
    }
  } catch {
    return undefined
  }
}
