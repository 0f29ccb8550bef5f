/**
 * The tracer (spec/trace.md): turns what the cores emit (`CoreTrace`, src/core/trace.ts) into the
 * printed `TraceEvent`s. The cores emit only what they alone know (bytes, lines, handshake messages,
 * yamux plaintext, a stream's bytes, half-close, failure and the connection's end), so browser
 * bundles carry few emission sites; the tracer derives the rest:
 * - each event gets the node's time and the connection id;
 * - Noise handshake messages: the ephemeral key (in clear at the start of messages 1 and 2) and the
 *   payload decoded (identity key -> peer id, key type, signature, muxer list);
 * - the upgrade's states (connections/README.md "Upgrading Connections"): `/noise` agreed when its
 *   line went both ways, Split() after message 3, the muxer from the Noise extensions (early) or from
 *   `/yamux/1.0.0` going both ways, then the connection is open;
 * - yamux frames, cut from the plaintext by yamux's own FrameReader, and each stream's half-close,
 *   close and reset from their FIN and RST flags (yamux spec.md "Closing a stream"), GoAway;
 * - a stream's negotiation (its first line, then the protocol once it went both ways);
 * - protocol messages: the decoders (src/trace/decode) run over each negotiated stream's bytes.
 *
 * Bounded: per connection, at most `maxStreams` streams are decoded at once (a stream's decoder
 * state is dropped when it closes or resets, all of them when the connection closes). Never changes
 * behaviour: a decoder or the sink that throws stops that connection's tracing, nothing else.
 * Only weft/node loads this module.
 */
import { toHex } from '../core/bytes.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import type {
  CoreTrace, DecodedMessage, DecoderFactory, Direction, NoisePayloadView, StreamDecoder, TraceBody, TraceEvent, TraceHook, YamuxFlag, YamuxFrameType,
} from '../core/trace.js'
import { decodeHandshakePayload } from '../noise/index.js'
import { publicKeyFromProtobuf } from '../peer-id/index.js'
import { QuicConnectionTrace } from './quic-live.js'
import { tlsHandshakeEvent } from './tls-view.js'
import { Flag, FrameReader, FrameType, YAMUX_PROTOCOL_ID, type FrameHeader } from '../yamux/index.js'

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
  /** TLS crypto (nodeTlsCrypto): QUIC connections' packets are decrypted with it; none: QUIC connections show their states only. */
  crypto?: TlsCrypto | undefined
}

const NOISE = '/noise'
const TLS = '/tls/1.0.0'
const TYPES: readonly YamuxFrameType[] = ['data', 'window-update', 'ping', 'go-away']
const FLAGS: ReadonlyArray<[YamuxFlag, number]> = [['SYN', Flag.SYN], ['ACK', Flag.ACK], ['FIN', Flag.FIN], ['RST', Flag.RST]]
const GO_AWAY = ['normal', 'protocol error', 'internal error']
/** multistream-select messages that are not a protocol id (multistream-select README "Protocol"). */
const NOT_A_PROTOCOL = new Set(['/multistream/1.0.0', 'na', 'ls'])

/** One node's tracer: `connection(role)` gives each new connection its hook and id. */
export class Tracer {
  readonly #o: TracerOptions
  readonly #maxStreams: number
  #next = 1

  constructor(o: TracerOptions) {
    this.#o = o
    this.#maxStreams = o.maxStreams ?? DEFAULT_MAX_TRACED_STREAMS
    if (!(Number.isInteger(this.#maxStreams) && this.#maxStreams >= 0)) throw new RangeError('maxStreams must be a non-negative integer')
  }

  /** A hook for one new connection in `role`, with the next id ('c1', 'c2', ...); `quic-v1`: a QUIC connection (quic-live.ts). */
  connection(role: 'dialer' | 'listener', transport?: 'quic-v1'): TraceHook {
    if (transport === 'quic-v1') {
      const q = new QuicConnectionTrace(`c${this.#next++}`, role, { ...this.#o, maxStreams: this.#maxStreams })
      return (e) => q.handle(e)
    }
    const c = new ConnectionTrace(`c${this.#next++}`, this.#o, this.#maxStreams, role)
    return (e) => c.handle(e)
  }
}

interface StreamDecoders {
  in?: StreamDecoder | undefined
  out?: StreamDecoder | undefined
  protocol?: string
}

/** Direction bits: which sides sent a line, or a FIN. */
const BIT: Record<Direction, number> = { out: 1, in: 2 }

class ConnectionTrace {
  readonly #id: string
  readonly #o: TracerOptions
  readonly #maxStreams: number
  /** Yamux clients (dialers) open odd stream ids. */
  readonly #dialer: boolean
  readonly #frames = { in: new FrameReader(), out: new FrameReader() }
  /** Decoders of the streams being decoded (at most maxStreams). */
  readonly #streams = new Map<number, StreamDecoders>()
  /** Streams still negotiating: the last protocol id each side sent. */
  readonly #negotiating = new Map<number, { in?: string; out?: string }>()
  /** Open streams' FIN bits. */
  readonly #fins = new Map<number, number>()
  /** Negotiated, open streams' protocols. */
  readonly #protocols = new Map<number, string>()
  #upgrade: 'security' | 'handshake' | 'muxer' | 'done' = 'security'
  /** Which sides sent the line that agrees the upgrade's current protocol. */
  #agreed = 0
  #handshakeMessages = 0
  #ourMuxers: string[] = []
  /** The security protocol agreed (`/noise` or `/tls/1.0.0`). */
  #security = NOISE
  /** The upgrade's `security` state was shown (at the first proposal). */
  #proposed = false
  #tlsAlpn: string | undefined
  #tlsPeer: string | undefined
  #remote: NoisePayloadView | undefined
  #dead = false

  constructor(id: string, o: TracerOptions, maxStreams: number, role: 'dialer' | 'listener') {
    this.#id = id
    this.#o = o
    this.#maxStreams = maxStreams
    this.#dialer = role === 'dialer'
    this.handle({ kind: 'state', layer: 'connection', to: 'upgrading', reason: role })
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

  #state(layer: 'upgrade' | 'noise' | 'tls' | 'connection' | 'stream', to: string, more: Partial<Extract<TraceBody, { kind: 'state' }>> = {}): void {
    const { stream, ...rest } = more
    this.#emit(stream === undefined ? { kind: 'state', layer, to, ...rest } : { kind: 'state', layer, stream, to, ...rest })
  }

  #handle(e: CoreTrace): void {
    switch (e.kind) {
      case 'noise-message':
        this.#noiseMessage(e.dir, e.message, e.payload)
        return
      case 'multistream':
        this.#emit(e)
        if (e.stream === undefined) this.#upgradeLine(e.dir, e.line)
        else this.#streamLine(e.dir, e.stream, e.line)
        return
      case 'yamux-bytes': {
        const dir = e.dir
        this.#frames[dir].read(e.data, (h) => this.#frame(dir, h), () => {})
        return
      }
      case 'stream-data':
        this.#decode(e.dir, e.stream, e.data)
        return
      case 'stream-event': {
        const ev = e.event
        if (ev.type === 'stream-data') this.#decode('in', ev.id!, ev.data!)
        // the remote's half-close, after the last bytes it carried reached the stream
        else if (ev.type === 'stream-eof') this.#handle({ kind: 'state', layer: 'stream', stream: ev.id!, to: 'remote-closed' })
        return
      }
      case 'state':
        this.#emit(e)
        if (e.layer === 'stream' && e.to === 'remote-closed') {
          // the remote's half-close, after the last bytes it carried reached the stream
          this.#end(e.stream!, 'in')
          this.#fin(e.stream!, 'in')
        } else if (e.layer === 'stream' && e.to === 'failed') this.#forget(e.stream!)
        // the final flush (a GoAway) still leaves after 'closed': keep tracing bytes, drop the decoders
        else if (e.layer === 'connection' && e.to === 'closed') {
          this.#streams.clear()
          this.#negotiating.clear()
          this.#fins.clear()
          this.#protocols.clear()
        }
        return
      case 'tls-message':
        this.#tlsMessage(e.dir, e.level, e.message)
        return
      case 'quic-datagram':
      case 'tls-secret':
        return // QUIC connections' (quic-live.ts)
      default:
        this.#emit(e)
    }
  }

  /** A `/tls/1.0.0` handshake message; the client's Finished ends the handshake (RFC 8446 §2). */
  #tlsMessage(dir: Direction, level: 'initial' | 'handshake' | 'application', message: Uint8Array): void {
    const e = tlsHandshakeEvent(dir, level, message, this.#o.crypto, this.#o.crypto === undefined ? undefined : this.#o.now())
    this.#emit(e)
    if (e.type === 'encrypted_extensions' && Array.isArray(e.fields.alpn)) this.#tlsAlpn = String(e.fields.alpn[0])
    if (e.type === 'certificate' && dir === 'in' && typeof e.fields.peerId === 'string') this.#tlsPeer = e.fields.peerId
    // the client is the dialer (TLS over TCP: the connection's initiator, libp2p tls.md)
    if (e.type !== 'finished' || (dir === 'out') !== this.#dialer) return
    this.#state('tls', 'established', { from: 'handshake', ...(this.#tlsAlpn !== undefined ? { protocol: this.#tlsAlpn } : {}) })
    this.#remote = { identityKey: this.#tlsPeer ?? '', keyType: '', signature: '', muxers: [] }
    // early muxer negotiation (libp2p tls.md "Inlined Muxer Negotiation"): the ALPN the server chose
    if (this.#tlsAlpn === YAMUX_PROTOCOL_ID) {
      this.#state('upgrade', 'muxer', { from: 'handshake', protocol: YAMUX_PROTOCOL_ID, early: true })
      this.#done()
    } else {
      this.#upgrade = 'muxer'
      this.#agreed = 0
      this.#state('upgrade', 'muxer', { from: 'handshake', protocol: YAMUX_PROTOCOL_ID })
    }
  }

  // ---- the upgrade --------------------------------------------------------------------------------

  #noiseMessage(dir: Direction, message: Uint8Array, payloadBytes: Uint8Array): void {
    const n = ++this.#handshakeMessages as 1 | 2 | 3
    const payload = payloadBytes.length > 0 ? payloadView(payloadBytes) : undefined
    this.#emit({
      kind: 'noise-handshake', dir, message: n, bytes: message.length,
      // `-> e` and `<- e, ...`: the ephemeral key travels in clear at the start of messages 1 and 2
      ephemeral: n < 3 && message.length >= 32 ? toHex(message.subarray(0, 32)) : '',
      ...(payload !== undefined ? { payload } : {}),
    })
    if (payload !== undefined) {
      if (dir === 'out') this.#ourMuxers = payload.muxers
      else this.#remote = payload
    }
    if (n !== 3) return
    this.#state('noise', 'transport', { from: 'handshake' })
    // early muxer negotiation (connections/inlined-muxer-negotiation.md): both lists non-empty
    const remote = this.#remote?.muxers ?? []
    if (this.#ourMuxers.length > 0 && remote.includes(YAMUX_PROTOCOL_ID)) {
      this.#state('upgrade', 'muxer', { from: 'handshake', protocol: YAMUX_PROTOCOL_ID, early: true })
      this.#done()
    } else if (this.#ourMuxers.length === 0 || remote.length === 0) {
      this.#upgrade = 'muxer'
      this.#agreed = 0
      this.#state('upgrade', 'muxer', { from: 'handshake', protocol: YAMUX_PROTOCOL_ID })
    } // (no common muxer: the connection closes)
  }

  /** A connection-level multistream line: `/noise`, then `/yamux/1.0.0`, agreed once it went both ways. */
  #upgradeLine(dir: Direction, line: string): void {
    if (this.#upgrade === 'security' && (line === NOISE || line === TLS)) {
      // the first proposal names the security protocol being negotiated (`/noise` or `/tls/1.0.0`)
      if (!this.#proposed) {
        this.#proposed = true
        this.#state('upgrade', 'security', { protocol: line })
      }
      // a dialer offering both proposes one then the other: the protocol both sides sent is agreed
      if (line !== this.#security) this.#agreed = 0
      this.#security = line
    } else if (!(this.#upgrade === 'muxer' && line === YAMUX_PROTOCOL_ID)) return
    this.#agreed |= BIT[dir]
    if (this.#agreed !== 3) return
    if (this.#upgrade === 'security') {
      this.#upgrade = 'handshake'
      this.#state('upgrade', 'handshake', { from: 'security', protocol: this.#security })
    } else this.#done()
  }

  #done(): void {
    this.#upgrade = 'done'
    this.#state('upgrade', 'done', { from: 'muxer' })
    this.#state('connection', 'open', { from: 'upgrading', reason: this.#remote?.identityKey })
  }

  // ---- streams ------------------------------------------------------------------------------------

  /** True when `dir` of `stream` is written by the side that opened it. */
  #opener(stream: number, dir: Direction): boolean {
    const ours = (stream % 2 === 1) === this.#dialer
    return ours === (dir === 'out')
  }

  #streamLine(dir: Direction, stream: number, line: string): void {
    let n = this.#negotiating.get(stream)
    if (n === undefined) {
      n = {}
      this.#negotiating.set(stream, n)
      this.#fins.set(stream, 0)
      this.#state('stream', 'negotiating', { stream, reason: this.#opener(stream, 'out') ? 'outbound' : 'inbound' })
    }
    if (NOT_A_PROTOCOL.has(line)) return
    n[dir] = line
    if (n.in === n.out) {
      this.#negotiating.delete(stream)
      this.#protocols.set(stream, line)
      this.#state('stream', 'negotiated', { stream, from: 'negotiating', protocol: line })
    }
  }

  /** A FIN from `dir`: half-closed; closed once both went (yamux spec.md "Closing a stream"). */
  #fin(stream: number, dir: Direction): void {
    const bits = (this.#fins.get(stream) ?? 0) | BIT[dir]
    if (bits !== 3) {
      this.#fins.set(stream, bits)
      return
    }
    this.#forget(stream)
    this.#state('stream', 'closed', { stream })
  }

  #forget(stream: number): void {
    this.#protocols.delete(stream)
    this.#streams.delete(stream)
    this.#negotiating.delete(stream)
    this.#fins.delete(stream)
  }

  /** One yamux header: its event, and the state changes its flags name. Returns the payload length to skip. */
  #frame(dir: Direction, h: FrameHeader): number {
    const flags = FLAGS.filter(([, bit]) => (h.flags & bit) !== 0).map(([n]) => n)
    this.#emit({ kind: 'yamux-frame', dir, type: TYPES[h.type] ?? 'data', flags, stream: h.streamId, length: h.length })
    if (h.type === FrameType.GoAway) {
      this.#emit({ kind: 'state', layer: 'yamux', to: 'go-away', reason: `${dir === 'in' ? 'remote' : 'local'}, code ${h.length} (${GO_AWAY[h.length] ?? 'unknown'})` })
    } else if ((h.type === FrameType.Data || h.type === FrameType.WindowUpdate) && h.streamId !== 0) {
      if ((h.flags & Flag.RST) !== 0) {
        this.#forget(h.streamId)
        this.#state('stream', 'reset', { stream: h.streamId, reason: dir === 'in' ? 'by remote' : 'by us' })
      } else if ((h.flags & Flag.FIN) !== 0 && dir === 'out') {
        // (the remote's FIN is reported by the stream table, after the bytes before it)
        this.#state('stream', 'local-closed', { stream: h.streamId })
        this.#end(h.streamId, 'out')
        this.#fin(h.streamId, 'out')
      }
    }
    return h.type === FrameType.Data ? h.length : 0
  }

  // ---- protocol messages --------------------------------------------------------------------------

  #decode(dir: Direction, stream: number, data: Uint8Array): void {
    const factory = this.#o.decoders
    const protocol = this.#protocols.get(stream)
    if (factory === undefined || protocol === undefined) return
    let s = this.#streams.get(stream)
    if (s === undefined) {
      if (this.#streams.size >= this.#maxStreams) return
      this.#streams.set(stream, (s = { protocol }))
    }
    if (!(dir in s)) s[dir] = factory(protocol, dir, { opener: this.#opener(stream, dir) })
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

/** A handshake payload as an auditor reads it; undefined when it does not decode. */
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
