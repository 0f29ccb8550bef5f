/**
 * The QUIC trace decoder (spec/trace.md "TLS and QUIC"): one QUIC v1 connection's UDP datagrams, both
 * ways, and its traffic secrets give every layer's events, live (the tracer, fed by the connection
 * core) and offline (a capture, with the keylog). It uses the quic module's own pure cores
 * (packet.ts parseDatagram, protection.ts openPacket, frames.ts decodeFrames): no second
 * implementation.
 *
 * Per datagram, per packet (RFC 9000 §12.2): the header; the keys of its space and sender: Initial
 * from the client's first Destination Connection ID (RFC 9001 §5.2; again after a Retry),
 * Handshake and 1-RTT from the logged secrets (CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET,
 * CLIENT_/SERVER_TRAFFIC_SECRET_0, RFC 9001 §5.1), key updates followed by the Key Phase bit
 * (§6); header protection removed (§5.4), the payload opened, the frames summarised as a
 * `quic-packet` event. CRYPTO frames are put in order and cut into TLS handshake messages
 * (`tls-handshake` events; the ClientHello's random names the keylog lines, the ServerHello gives
 * the cipher suite); STREAM frames are put in order per stream and run through multistream-select
 * and the protocol decoders (negotiation.ts), as a yamux stream's bytes are.
 *
 * Pure (no clock, no IO); never throws on what it is fed: what cannot be decoded is said in the
 * packet's `undecryptable` or a `state` event. Bounded (QuicTraceLimits).
 */
import { toHex } from '../core/bytes.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { DecoderFactory, Direction, QuicFrameView, QuicPacketKind, TlsKeylogLabel } from '../core/trace.js'
import {
  CryptoRecv, decodeFrames, derivePacketKeys, initialKeys, nextPacketKeys, openPacket, parseDatagram,
  type CipherSuite, type Frame, type PacketKeys, type ProtectedPacket,
} from '../quic/index.js'
import { StreamPipeline, type Emit } from './negotiation.js'
import { HandshakeReader, tlsHandshakeEvent, type TraceTlsLevel } from './tls-view.js'

/** Limits of the QUIC trace decoder (spec/trace.md Limits). */
export interface QuicTraceLimits {
  /** QUIC streams decoded per connection; later streams' frames are shown, their bytes not decoded. Stops endless streams growing the decoder state. */
  maxStreams?: number
  /** How far past the in-order read offset a stream direction's (or a CRYPTO level's) bytes may reach; past it that stream (or the handshake) stops decoding. Stops a gap from buffering the rest of a transfer. */
  maxOutOfOrderBytes?: number
  /** Bytes one side may send ahead of an unfinished multistream negotiation. */
  maxPendingBytes?: number
}

/** The QUIC trace decoder's default limits. */
export const DEFAULT_QUIC_TRACE_LIMITS: Required<QuicTraceLimits> = { maxStreams: 4096, maxOutOfOrderBytes: 4 * 1024 * 1024, maxPendingBytes: 1024 * 1024 }

/** Options of a `QuicTraceDecoder`. */
export interface QuicTraceOptions extends QuicTraceLimits {
  crypto: TlsCrypto
  emit: Emit
  /** Whose view the events take: `out` is what `local` sends. */
  local: 'client' | 'server'
  /** The protocol decoders (src/trace/decode); none: no `message` events. */
  decoders?: DecoderFactory | undefined
  /** Offline: the keylog's secrets of the connection whose ClientHello has this random (hex). */
  keys?: ((clientRandom: string) => ReadonlyMap<TlsKeylogLabel, Uint8Array> | undefined) | undefined
  /** The time a certificate is checked at (ms since the epoch); none: certificates are not checked. */
  now?: (() => number) | undefined
}

type Sender = 'client' | 'server'
type Space = 'initial' | 'handshake' | 'application'
const SPACE: Record<string, Space> = { initial: 'initial', '0rtt': 'application', handshake: 'handshake', '1rtt': 'application' }

/** 1-RTT keys of one sender across key updates (RFC 9001 §6). */
interface AppKeys { phase: 0 | 1; current: PacketKeys; previous?: PacketKeys | undefined }

/** Pieces held out of order per stream direction: bounds the work of putting tiny frames in order. */
const MAX_HELD_PIECES = 8192

/** Bytes at offsets handed out in order, with the quic module's own bounded reassembly (CryptoRecv); `next` is the read offset. */
class Ordered {
  next = 0
  readonly #recv: CryptoRecv
  constructor(max: number) { this.#recv = new CryptoRecv(max, MAX_HELD_PIECES) }

  /** The contiguous bytes `data` at `offset` makes available, or 'overflow' (past the bounds). */
  push(offset: number, data: Uint8Array): Uint8Array[] | 'overflow' {
    let out: Uint8Array
    try {
      out = this.#recv.insert(offset, data)
    } catch {
      return 'overflow'
    }
    this.next += out.length
    return out.length === 0 ? [] : [out]
  }
}

/** A QUIC stream being decoded. */
interface QStream {
  p: StreamPipeline | undefined
  recv: Record<Direction, Ordered>
  finAt: Partial<Record<Direction, number>>
  ended: Record<Direction, boolean>
}

/** One QUIC connection's trace decoder (see the file comment). */
export class QuicTraceDecoder {
  readonly #o: QuicTraceOptions
  readonly #lim: Required<QuicTraceLimits>
  readonly #secrets = new Map<TlsKeylogLabel, Uint8Array>()
  #suite: CipherSuite = 0x1301
  #initial: { client: PacketKeys; server: PacketKeys } | undefined
  readonly #handshake: Partial<Record<Sender, PacketKeys>> = {}
  readonly #app: Partial<Record<Sender, AppKeys>> = {}
  readonly #largest = new Map<string, number>()
  readonly #cidLength: Partial<Record<Sender, number>> = {}
  readonly #crypto = new Map<string, { order: Ordered; reader: HandshakeReader }>()
  readonly #streams = new Map<number, QStream>()
  #streamsSeen = 0
  #clientRandom: string | undefined
  #remotePeer: string | undefined
  #alpn: string | undefined
  #open = false
  #confirmed = false

  constructor(o: QuicTraceOptions) {
    this.#o = o
    this.#lim = {
      maxStreams: o.maxStreams ?? DEFAULT_QUIC_TRACE_LIMITS.maxStreams,
      maxOutOfOrderBytes: o.maxOutOfOrderBytes ?? DEFAULT_QUIC_TRACE_LIMITS.maxOutOfOrderBytes,
      maxPendingBytes: o.maxPendingBytes ?? DEFAULT_QUIC_TRACE_LIMITS.maxPendingBytes,
    }
  }

  /** True once the decoder holds keys for 1-RTT packets of both senders. */
  get hasApplicationKeys(): boolean {
    return this.#secrets.has('CLIENT_TRAFFIC_SECRET_0') && this.#secrets.has('SERVER_TRAFFIC_SECRET_0')
  }

  /** A traffic secret (live: as the handshake derives it; offline: the keylog's). */
  secret(label: TlsKeylogLabel, secret: Uint8Array): void {
    if (!this.#secrets.has(label)) this.#secrets.set(label, secret.slice())
  }

  /** One UDP datagram `dir` (whole, as sent or received). */
  datagram(dir: Direction, data: Uint8Array): void {
    const from: Sender = (dir === 'out') === (this.#o.local === 'client') ? 'client' : 'server'
    const to: Sender = from === 'client' ? 'server' : 'client'
    const parsed = parseDatagram(data, this.#cidLength[to] ?? 8)
    for (const p of parsed.packets) {
      if (p.type !== '1rtt' && p.scid.length <= 20 && (p.type === 'initial' || p.type === 'handshake' || p.type === '0rtt')) this.#cidLength[from] = p.scid.length
      const base = { kind: 'quic-packet' as const, dir, packet: p.type as QuicPacketKind, bytes: p.bytes.length, dcid: toHex(p.dcid) }
      const scid = p.type === '1rtt' ? {} : { scid: toHex(p.scid) }
      if (p.type === 'retry' || p.type === 'version_negotiation' || p.type === 'unsupported_version') {
        const extra = p.type === 'version_negotiation' ? [{ type: 'versions', versions: p.versions.map((v) => `0x${v.toString(16)}`) }] : p.type === 'retry' ? [{ type: 'token', length: p.token.length }] : []
        this.#o.emit({ ...base, ...scid, frames: extra })
        if (p.type === 'retry') this.#initial = undefined // the client's next Initial names the keys (RFC 9001 §5.2)
        continue
      }
      this.#packet(dir, from, p, base, scid)
    }
    if (parsed.dropped !== undefined && parsed.dropped !== 'empty') {
      this.#o.emit({ kind: 'quic-packet', dir, packet: 'unsupported_version', bytes: 0, dcid: '', frames: [], undecryptable: `rest of the datagram not parsed: ${parsed.dropped}` })
    }
  }

  #packet(dir: Direction, from: Sender, p: ProtectedPacket, base: { kind: 'quic-packet'; dir: Direction; packet: QuicPacketKind; bytes: number; dcid: string }, scid: { scid?: string }): void {
    if (p.type === 'initial' && from === 'client' && this.#initial === undefined) this.#initial = initialKeys(this.#o.crypto, p.dcid)
    const space = SPACE[p.type]!
    const key = `${from}/${space}`
    const largest = this.#largest.get(key) ?? -1
    const keys = this.#keys(p.type, from)
    if (keys === undefined) {
      this.#o.emit({ ...base, ...scid, frames: [], undecryptable: 'no-keys' })
      return
    }
    let r: ReturnType<typeof openPacket>
    let frames: Frame[]
    let updated: AppKeys | undefined
    try {
      const app = p.type === '1rtt' ? this.#app[from] : undefined
      let next: PacketKeys | undefined
      r = openPacket(this.#o.crypto, keys, p, largest, app === undefined ? undefined : (phase) => {
        if (phase === app.phase) return app.current
        next = nextPacketKeys(this.#o.crypto, app.current)
        return next
      })
      if (!r.ok && app?.previous !== undefined && next !== undefined) r = openPacket(this.#o.crypto, keys, p, largest, () => app.previous) // a late packet of the previous phase
      else if (r.ok && app !== undefined && next !== undefined) updated = { phase: r.keyPhase, current: next, previous: app.current }
      if (!r.ok) {
        this.#o.emit({ ...base, ...scid, frames: [], undecryptable: r.reason })
        return
      }
      frames = decodeFrames(r.payload, p.type, { receiver: from === 'client' ? 'server' : 'client' })
    } catch (e) {
      this.#o.emit({ ...base, ...scid, frames: [], undecryptable: (e as Error).message })
      return
    }
    if (updated !== undefined) {
      this.#app[from] = updated
      this.#o.emit({ kind: 'state', layer: 'quic', to: `key-phase-${updated.phase}`, reason: `${from} key update (RFC 9001 §6)` })
    }
    if (r.packetNumber > largest) this.#largest.set(key, r.packetNumber)
    this.#o.emit({ ...base, ...scid, pn: r.packetNumber, ...(p.type === '1rtt' ? { keyPhase: r.keyPhase } : {}), frames: frames.map(frameView) })
    for (const f of frames) this.#frame(dir, from, space, f)
  }

  #keys(type: ProtectedPacket['type'], from: Sender): PacketKeys | undefined {
    const c = this.#o.crypto
    if (type === 'initial') return this.#initial?.[from]
    if (type === 'handshake') {
      const s = this.#secrets.get(from === 'client' ? 'CLIENT_HANDSHAKE_TRAFFIC_SECRET' : 'SERVER_HANDSHAKE_TRAFFIC_SECRET')
      if (s !== undefined && this.#handshake[from] === undefined) this.#handshake[from] = derivePacketKeys(c, this.#suite, s)
      return this.#handshake[from]
    }
    if (type !== '1rtt') return undefined // 0-RTT: weft neither sends nor logs it
    const s = this.#secrets.get(from === 'client' ? 'CLIENT_TRAFFIC_SECRET_0' : 'SERVER_TRAFFIC_SECRET_0')
    if (s !== undefined && this.#app[from] === undefined) this.#app[from] = { phase: 0, current: derivePacketKeys(c, this.#suite, s) }
    return this.#app[from]?.current
  }

  #frame(dir: Direction, from: Sender, space: Space, f: Frame): void {
    const emit = this.#o.emit
    switch (f.type) {
      case 'crypto': return this.#cryptoData(dir, from, space, f.offset, f.data)
      case 'stream': return this.#streamData(dir, from, f.streamId, f.offset, f.data, f.fin)
      case 'reset_stream': {
        const s = this.#streams.get(f.streamId)
        if (s === undefined) return
        this.#streams.delete(f.streamId)
        emit({ kind: 'state', layer: 'stream', stream: f.streamId, to: 'reset', reason: `${dir === 'in' ? 'by remote' : 'by us'}, code ${f.errorCode}` })
        return
      }
      case 'handshake_done':
        if (this.#confirmed) return
        this.#confirmed = true
        emit({ kind: 'state', layer: 'quic', from: 'handshake', to: 'confirmed', reason: 'HANDSHAKE_DONE (RFC 9001 §4.1.2)' })
        return
      case 'connection_close':
        emit({ kind: 'state', layer: 'quic', to: 'closing', reason: `by ${dir === 'out' ? 'us' : 'the remote'}: ${f.frameType === undefined ? 'application' : 'transport'} code ${f.errorCode}${f.reason.length > 0 ? ` ${JSON.stringify(new TextDecoder().decode(f.reason))}` : ''}` })
        for (const id of this.#streams.keys()) this.#streams.delete(id)
        return
      default:
    }
  }

  #cryptoData(dir: Direction, from: Sender, level: TraceTlsLevel, offset: number, data: Uint8Array): void {
    const key = `${from}/${level}`
    let c = this.#crypto.get(key)
    if (c === undefined) this.#crypto.set(key, (c = { order: new Ordered(this.#lim.maxOutOfOrderBytes), reader: new HandshakeReader() }))
    if (c.reader.failed !== undefined) return
    const chunks = c.order.push(offset, data)
    if (chunks === 'overflow') {
      c.reader.failed = 'overflow'
      this.#o.emit({ kind: 'state', layer: 'tls', to: 'undecodable', reason: `more than ${this.#lim.maxOutOfOrderBytes} CRYPTO bytes out of order (maxOutOfOrderBytes)` })
      return
    }
    for (const chunk of chunks) {
      for (const raw of c.reader.push(chunk)) this.#handshakeMessage(dir, from, level, raw)
      if (c.reader.failed !== undefined) this.#o.emit({ kind: 'state', layer: 'tls', to: 'undecodable', reason: c.reader.failed })
    }
  }

  #handshakeMessage(dir: Direction, from: Sender, level: TraceTlsLevel, raw: Uint8Array): void {
    const e = tlsHandshakeEvent(dir, level, raw, this.#o.now === undefined ? undefined : this.#o.crypto, this.#o.now?.())
    this.#o.emit(e)
    const f = e.fields
    if (e.type === 'client_hello' && typeof f.random === 'string' && this.#clientRandom === undefined) {
      this.#clientRandom = f.random
      const logged = this.#o.keys?.(f.random)
      if (logged !== undefined) for (const [l, s] of logged) this.secret(l, s)
      else if (this.#o.keys !== undefined) this.#o.emit({ kind: 'state', layer: 'tls', to: 'no-keys', reason: `no keylog line for client random ${f.random}` })
    }
    if (e.type === 'server_hello' && raw.length >= 4 + 2 + 32 + 1) {
      const sidLen = raw[4 + 2 + 32]!
      const at = 4 + 2 + 32 + 1 + sidLen
      if (raw.length >= at + 2) this.#suite = ((raw[at]! << 8) | raw[at + 1]!) as CipherSuite
    }
    if (e.type === 'encrypted_extensions' && Array.isArray(f.alpn)) this.#alpn = String(f.alpn[0])
    if (e.type === 'certificate' && dir === 'in' && typeof f.peerId === 'string') this.#remotePeer = f.peerId
    if (e.type === 'finished' && from === 'client' && !this.#open) {
      this.#open = true
      this.#o.emit({ kind: 'state', layer: 'tls', from: 'handshake', to: 'established', ...(this.#alpn !== undefined ? { protocol: this.#alpn } : {}) })
      this.#o.emit({ kind: 'state', layer: 'connection', from: 'handshaking', to: 'open', reason: this.#remotePeer })
    }
  }

  #streamData(dir: Direction, from: Sender, id: number, offset: number, data: Uint8Array, fin: boolean): void {
    let s = this.#streams.get(id)
    if (s === undefined) {
      if (offset > 0 || (id & 2) !== 0) return // a stream we did not see open, or unidirectional (libp2p uses bidirectional streams)
      const decode = this.#streamsSeen++ < this.#lim.maxStreams
      const openerIsClient = (id & 1) === 0
      const openerDir: Direction = openerIsClient === (this.#o.local === 'client') ? 'out' : 'in'
      s = {
        p: decode ? new StreamPipeline(id, openerDir, this.#o.decoders, this.#lim.maxPendingBytes, this.#o.emit) : undefined,
        recv: { in: new Ordered(this.#lim.maxOutOfOrderBytes), out: new Ordered(this.#lim.maxOutOfOrderBytes) }, finAt: {}, ended: { in: false, out: false },
      }
      this.#streams.set(id, s)
      this.#o.emit({ kind: 'state', layer: 'stream', stream: id, to: 'negotiating', reason: openerDir === 'out' ? 'outbound' : 'inbound' })
    }
    if (s.ended[dir]) return
    if (fin) s.finAt[dir] = offset + data.length
    const chunks = s.recv[dir].push(offset, data)
    if (chunks === 'overflow') {
      if (s.p !== undefined && !s.p.stopped) {
        s.p.stopped = true
        this.#o.emit({ kind: 'state', layer: 'stream', stream: id, to: 'undecodable', reason: `more than ${this.#lim.maxOutOfOrderBytes} bytes out of order (maxOutOfOrderBytes)` })
      }
      return
    }
    for (const c of chunks) s.p?.data(dir, c)
    if (s.finAt[dir] !== undefined && s.recv[dir].next >= s.finAt[dir]!) {
      s.ended[dir] = true
      this.#o.emit({ kind: 'state', layer: 'stream', stream: id, to: `${dir === 'out' ? 'local' : 'remote'}-closed` })
      s.p?.end(dir)
      if (s.ended.in && s.ended.out) {
        this.#streams.delete(id)
        this.#o.emit({ kind: 'state', layer: 'stream', stream: id, to: 'closed' })
      }
    }
    void from
  }
}

/** A frame as a `quic-packet` event shows it (QuicFrameView). */
export function frameView(f: Frame): QuicFrameView {
  switch (f.type) {
    case 'stream': return { type: 'stream', id: f.streamId, offset: f.offset, length: f.data.length, ...(f.fin ? { fin: true } : {}) }
    case 'crypto': return { type: 'crypto', offset: f.offset, length: f.data.length }
    case 'ack': return { type: 'ack', ranges: f.ranges.map((r) => [r.smallest, r.largest]), delay: f.ackDelay, ...(f.ecn !== undefined ? { ecn: f.ecn } : {}) }
    case 'connection_close': return { type: 'connection_close', errorCode: f.errorCode, ...(f.frameType !== undefined ? { frameType: f.frameType } : {}), reason: new TextDecoder().decode(f.reason) }
    case 'new_connection_id': return { type: f.type, sequenceNumber: f.sequenceNumber, retirePriorTo: f.retirePriorTo, connectionId: toHex(f.connectionId) }
    case 'new_token': return { type: f.type, length: f.token.length }
    case 'path_challenge':
    case 'path_response': return { type: f.type, data: toHex(f.data) }
    default: return { ...f }
  }
}
