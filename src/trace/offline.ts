/**
 * The offline decryptor (spec/trace.md "Decrypting a capture"): a TCP connection rebuilt from a
 * packet capture (pcap.ts) plus the keylog a weft node wrote (`--keylog`) give the same events a
 * live trace prints. Per connection, in capture order:
 *
 * 1. multistream-select on the raw bytes (the dialer's proposals, the listener's answers; a lazy
 *    dialer's Noise message 1 may follow its proposal in the same flight);
 * 2. the Noise XX handshake: message 1 carries the initiator's ephemeral key in clear, which names
 *    the keylog line; messages 2 and 3 are counted (their payloads are encrypted under handshake keys
 *    the keylog does not hold); then every transport message is decrypted with the logged k1
 *    (initiator -> responder) or k2 (responder -> initiator) by the noise module's CipherState;
 * 3. multistream-select for the muxer inside the channel, unless the muxer was agreed in the Noise
 *    payloads (the first plaintext byte is then a yamux header's version 0);
 * 4. yamux frames; on each stream multistream-select, then the protocol's decoder (decode/).
 *
 * `dir` is from the initiator's side by default (the dialer, as `weft trace` is): `out` = initiator ->
 * responder; `local: 'responder'` takes the listener's side.
 * Pure: no clock (times are the capture's), no IO. Never throws on the capture's contents: what
 * cannot be decoded becomes a `state` event (`to: 'undecodable'`, with the reason) and that part stops.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import { UsageError } from '../core/errors.js'
import { CipherState } from '../noise/index.js'
import { Flag, FrameType, HEADER_LENGTH, readHeader } from '../yamux/index.js'
import type { DecoderFactory, Direction, TraceEvent } from '../core/trace.js'
import { KEYLOG_LABEL } from './keylog.js'
import { Bytes, Negotiation, StreamPipeline, type Emit } from './negotiation.js'
import { NSS_LINE, TlsRecordDecoder, type TlsKeys } from './offline-tls.js'
import { decodeQuicFlow, isQuicFlow } from './offline-quic.js'
import type { TcpConnection, UdpFlow } from './pcap.js'

/** One keylog line: `NOISE_XX_25519_CHACHAPOLY_SHA256 <e> <k1> <k2>` (spec/trace.md). */
export interface KeylogEntry {
  /** The initiator's ephemeral public key, lowercase hex (the capture's handshake message 1). */
  ephemeral: string
  /** Initiator -> responder transport key. */
  k1: Uint8Array
  /** Responder -> initiator transport key. */
  k2: Uint8Array
}

/** The keylog line's label (src/trace/keylog.ts). */
export { KEYLOG_LABEL }

const TLS = '/tls/1.0.0'

/** Parse a keylog file's Noise lines. Blank lines, `#` comments and NSS key log lines (TLS, QUIC: parseTlsKeylog) are skipped; anything else malformed is a UsageError. */
export function parseKeylog(text: string): Map<string, KeylogEntry> {
  const out = new Map<string, KeylogEntry>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    const f = line.split(/\s+/)
    if (f[0] !== KEYLOG_LABEL && NSS_LINE.test(line)) continue
    if (f.length !== 4 || f[0] !== KEYLOG_LABEL || !f.slice(1).every((h) => /^[0-9a-fA-F]{64}$/.test(h))) {
      throw new UsageError('keylog/bad-line', `line ${i + 1}: expected "${KEYLOG_LABEL} <e> <k1> <k2>" (three 32-byte hex values)`)
    }
    const e = f[1]!.toLowerCase()
    out.set(e, { ephemeral: e, k1: hexBytes(f[2]!), k2: hexBytes(f[3]!) })
  }
  return out
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16)
  return out
}
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** Limits of the offline decoder (spec/trace.md "Decrypting a capture", Limits). */
export interface OfflineLimits {
  /** yamux streams decoded per connection; later streams are counted, not decoded. Stops a capture with endless streams from growing the decoder state. */
  maxStreams?: number
  /** Bytes one side may send ahead of an unfinished negotiation (waiting for the other side's answer); past it that part stops. Stops a one-sided capture from buffering everything. */
  maxPendingBytes?: number
  /** Length of a yamux Data frame's body; a larger one stops the connection's decoding. Stops a corrupt header from making us buffer gigabytes. */
  maxFrameBytes?: number
}

/** The offline decoder's default limits. */
export const DEFAULT_OFFLINE_LIMITS: Required<OfflineLimits> = {
  maxStreams: 4096,
  maxPendingBytes: 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
}

/** How to decode a capture: the crypto provider, the keylog's keys, the protocol decoders, whose view. */
export interface OfflineOptions extends OfflineLimits {
  crypto: CryptoProvider
  keys: Map<string, KeylogEntry>
  /** The protocol decoders (`createDecoder` of src/trace/decode); none: no `message` events. */
  decoders?: DecoderFactory | undefined
  /**
   * Whose view the events take: `initiator` (default; `out` = initiator -> responder, as `weft trace`
   * prints) or `responder` (as the listening node's `weft node --trace` prints).
   */
  local?: 'initiator' | 'responder' | undefined
  /** TLS 1.3 crypto (nodeTlsCrypto): `/tls/1.0.0` and QUIC connections are decrypted with it. */
  tlsCrypto?: TlsCrypto | undefined
  /** The keylog's NSS lines (parseTlsKeylog): the traffic secrets of TLS and QUIC connections. */
  tlsKeys?: TlsKeys | undefined
  /** Connection id prefix (`pcap-<n>`). */
  connPrefix?: string
}

/** A yamux stream: its pipeline and the directions whose FIN was seen (both make it closed). */
interface StreamState {
  p: StreamPipeline
  fin: { in: boolean; out: boolean }
}

const FLAG_NAMES: Array<['SYN' | 'ACK' | 'FIN' | 'RST', number]> = [['SYN', Flag.SYN], ['ACK', Flag.ACK], ['FIN', Flag.FIN], ['RST', Flag.RST]]
const TYPE_NAMES = ['data', 'window-update', 'ping', 'go-away'] as const
const GO_AWAY = ['normal', 'protocol error', 'internal error']

/** Decode one captured connection into trace events. */
export function decodeConnection(conn: TcpConnection, connId: string, o: OfflineOptions): TraceEvent[] {
  const lim: Required<OfflineLimits> = {
    maxStreams: o.maxStreams ?? DEFAULT_OFFLINE_LIMITS.maxStreams,
    maxPendingBytes: o.maxPendingBytes ?? DEFAULT_OFFLINE_LIMITS.maxPendingBytes,
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_OFFLINE_LIMITS.maxFrameBytes,
  }
  const events: TraceEvent[] = []
  let now = conn.chunks[0]?.t ?? 0
  const emit: Emit = (body) => { events.push({ ...body, t: now, conn: connId } as TraceEvent) }
  const local = o.local ?? 'initiator'
  const dirOfInit = (fromInitiator: boolean): Direction => (fromInitiator === (local === 'initiator') ? 'out' : 'in')
  let stopped: string | undefined
  const stop = (layer: 'connection' | 'upgrade' | 'noise' | 'tls' | 'yamux', reason: string) => {
    if (stopped !== undefined) return
    stopped = reason
    emit({ kind: 'state', layer, to: 'undecodable', reason })
  }

  // The state changes a live trace of the initiator shows (src/connection, src/noise), where the capture shows them.
  emit({ kind: 'state', layer: 'connection', to: 'upgrading', reason: local === 'initiator' ? 'dialer' : 'listener' })
  // 1. security negotiation
  const security = new Negotiation(undefined, (s) => dirOfInit(s === 'a'), lim.maxPendingBytes)
  // 2. Noise
  const noiseIn = { init: new Bytes(), resp: new Bytes() }
  const noiseCount = { init: 0, resp: 0 }
  let keys: KeylogEntry | undefined
  let noKeys = false
  const cipher: { init?: CipherState; resp?: CipherState } = {}
  // 2'. or TLS 1.3 records (offline-tls.ts)
  let tls: TlsRecordDecoder | undefined
  // 3. muxer negotiation / yamux
  let muxer: 'unknown' | 'multistream' | 'yamux' = 'unknown'
  const muxNeg = new Negotiation(undefined, (s) => dirOfInit(s === 'a'), lim.maxPendingBytes)
  const plain = { init: new Bytes(), resp: new Bytes() }
  const streams = new Map<number, StreamState>()
  let streamsSeen = 0

  for (const chunk of conn.chunks) {
    if (stopped !== undefined) break
    now = chunk.t
    const side = chunk.fromInitiator ? 'init' : 'resp'
    emit({ kind: 'transport', dir: dirOfInit(chunk.fromInitiator), bytes: chunk.data.length })
    if (security.agreed === undefined) {
      security[chunk.fromInitiator ? 'a' : 'b'].push(chunk.data)
      security.run(emit)
      if (security.failed !== undefined) stop('upgrade', security.failed)
      if (security.agreed === undefined) continue
      if (security.agreed !== '/noise' && security.agreed !== TLS) {
        stop('upgrade', `security protocol ${security.agreed} (only /noise and ${TLS} are decrypted)`)
        break
      }
      emit({ kind: 'state', layer: 'upgrade', to: 'security', protocol: security.agreed })
      emit({ kind: 'state', layer: 'upgrade', from: 'security', to: 'handshake', protocol: security.agreed })
      if (security.agreed === TLS) {
        if (o.tlsCrypto === undefined) {
          stop('tls', 'no TLS crypto given (OfflineOptions.tlsCrypto)')
          break
        }
        tls = new TlsRecordDecoder({ crypto: o.tlsCrypto, keys: o.tlsKeys ?? new Map(), emit, dirOf: dirOfInit, now: () => now })
      }
      noiseIn.init.push(security.a.takeAll())
      noiseIn.resp.push(security.b.takeAll())
    } else noiseIn[side].push(chunk.data)
    if (tls !== undefined) {
      // the dialer is the TLS client (libp2p tls.md)
      for (const s of ['init', 'resp'] as const) for (const pt of tls.push(s === 'init', noiseIn[s].takeAll())) plain[s].push(pt)
      if (tls.failed !== undefined) stop('tls', tls.failed)
      noKeys = tls.noKeys
    }
    // Noise messages of both sides (the other side's may have been queued behind the negotiation).
    for (const s of ['init', 'resp'] as const) {
      const q = noiseIn[s]
      while (tls === undefined && stopped === undefined && q.length >= 2) {
        const hdr = q.peek(2)
        const len = (hdr[0]! << 8) | hdr[1]!
        if (q.length < 2 + len) break
        const msg = q.take(2 + len).subarray(2)
        const dir = dirOfInit(s === 'init')
        const index = noiseCount[s]++
        if (s === 'init' && index === 0) {
          if (len < 32) {
            stop('noise', `handshake message 1 of ${len} bytes`)
            break
          }
          const e = hex(msg.subarray(0, 32))
          emit({ kind: 'noise-handshake', dir, message: 1, bytes: len, ephemeral: e })
          keys = o.keys.get(e)
          if (keys === undefined) {
            noKeys = true
            emit({ kind: 'state', layer: 'noise', to: 'no-keys', reason: `no keylog line for ephemeral ${e}` })
          } else {
            cipher.init = new CipherState(o.crypto, keys.k1)
            cipher.resp = new CipherState(o.crypto, keys.k2)
          }
        } else if (s === 'resp' && index === 0) {
          emit({ kind: 'noise-handshake', dir, message: 2, bytes: len, ephemeral: len >= 32 ? hex(msg.subarray(0, 32)) : '' })
        } else if (s === 'init' && index === 1) {
          emit({ kind: 'noise-handshake', dir, message: 3, bytes: len, ephemeral: '' })
          emit({ kind: 'state', layer: 'noise', from: 'handshake', to: 'transport' })
        } else if (noKeys) {
          continue // counted by the transport events only
        } else {
          const c = cipher[s]
          if (c === undefined) { // the responder's transport messages with no message 1 before them (a capture missing segments)
            stop('noise', `a transport message ${dir} before handshake message 1`)
            break
          }
          let pt: Uint8Array
          try {
            pt = c.decryptWithAd(new Uint8Array(0), msg)
          } catch {
            stop('noise', `a transport message ${dir} does not decrypt with the logged key (n=${c.n})`)
            break
          }
          plain[s].push(pt)
        }
      }
    }
    if (stopped !== undefined || noKeys) continue
    // The muxer: early negotiation in the Noise payloads starts yamux at once (a header's version 0).
    if (muxer === 'unknown') {
      const first = plain.init.length > 0 ? plain.init.peek(1)[0] : plain.resp.length > 0 ? plain.resp.peek(1)[0] : undefined
      if (first === undefined) continue
      muxer = first === 0 ? 'yamux' : 'multistream'
      if (muxer === 'yamux') muxerAgreed(true)
    }
    if (muxer === 'multistream') {
      muxNeg.a.push(plain.init.takeAll())
      muxNeg.b.push(plain.resp.takeAll())
      muxNeg.run(emit)
      if (muxNeg.failed !== undefined) stop('upgrade', muxNeg.failed)
      if (muxNeg.agreed === undefined) continue
      if (muxNeg.agreed !== '/yamux/1.0.0') {
        stop('upgrade', `muxer ${muxNeg.agreed} (only /yamux/1.0.0 is decoded)`)
        continue
      }
      muxerAgreed(false)
      plain.init.push(muxNeg.a.takeAll())
      plain.resp.push(muxNeg.b.takeAll())
      muxer = 'yamux'
    }
    // yamux frames of both sides.
    for (const s of ['init', 'resp'] as const) {
      const q = plain[s]
      const dir = dirOfInit(s === 'init')
      while (stopped === undefined && q.length >= HEADER_LENGTH) {
        const h = readHeader(q.peek(HEADER_LENGTH), 0)
        if (h.version !== 0 || h.type > 3) {
          stop('yamux', `a yamux header with version ${h.version}, type ${h.type}`)
          break
        }
        const bodyLen = h.type === FrameType.Data ? h.length : 0
        if (bodyLen > lim.maxFrameBytes) {
          stop('yamux', `a Data frame of ${bodyLen} bytes (maxFrameBytes ${lim.maxFrameBytes})`)
          break
        }
        if (q.length < HEADER_LENGTH + bodyLen) break
        q.take(HEADER_LENGTH)
        const body = q.take(bodyLen)
        emit({
          kind: 'yamux-frame', dir, type: TYPE_NAMES[h.type]!,
          flags: FLAG_NAMES.filter(([, bit]) => (h.flags & bit) !== 0).map(([n]) => n),
          stream: h.streamId, length: h.length,
        })
        if (h.type === FrameType.GoAway) emit({ kind: 'state', layer: 'yamux', to: 'go-away', reason: `${dir === 'in' ? 'remote' : 'local'}, code ${h.length} (${GO_AWAY[h.length] ?? 'unknown'})` })
        if (h.type !== FrameType.Data && h.type !== FrameType.WindowUpdate) continue
        if (h.streamId === 0) continue
        let st = streams.get(h.streamId)
        if (st === undefined && (h.flags & Flag.SYN) !== 0) {
          if (streamsSeen++ >= lim.maxStreams) continue
          st = { p: new StreamPipeline(h.streamId, dir, o.decoders, lim.maxPendingBytes, emit), fin: { in: false, out: false } }
          streams.set(h.streamId, st)
          emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: 'negotiating', reason: dir === 'out' ? 'outbound' : 'inbound' })
        }
        if (st === undefined) continue
        if (body.length > 0) st.p.data(dir, body)
        if ((h.flags & Flag.RST) !== 0) {
          emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: 'reset', reason: dir === 'in' ? 'by remote' : 'by us' })
          streams.delete(h.streamId)
        } else if ((h.flags & Flag.FIN) !== 0) {
          // A half-close, after the bytes before it; the decoder of that direction completes what only EOF delimits.
          emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: `${dir === 'out' ? 'local' : 'remote'}-closed` })
          st.p.end(dir)
          st.fin[dir] = true
          if (st.fin.in && st.fin.out) {
            emit({ kind: 'state', layer: 'stream', stream: h.streamId, to: 'closed' })
            streams.delete(h.streamId)
          }
        }
      }
    }
  }
  for (const side of ['initiator', 'responder'] as const) {
    const why = conn.lost[side]
    if (why !== undefined) emit({ kind: 'state', layer: 'connection', to: 'capture-incomplete', reason: `${side} -> ${side === 'initiator' ? 'responder' : 'initiator'}: ${why === 'gap' ? 'bytes missing from the capture' : 'packets cut by the snaplen'}` })
  }
  emit({ kind: 'state', layer: 'connection', to: 'closed', reason: stopped === undefined ? 'end of capture' : 'undecodable' })
  return events

  function muxerAgreed(early: boolean): void {
    emit({ kind: 'state', layer: 'upgrade', from: 'handshake', to: 'muxer', protocol: '/yamux/1.0.0', ...(early ? { early: true } : {}) })
    emit({ kind: 'state', layer: 'upgrade', from: 'muxer', to: 'done' })
    emit({ kind: 'state', layer: 'connection', from: 'upgrading', to: 'open' })
  }
}

/** Decode every connection of a capture: its TCP connections, then (given) its QUIC flows (offline-quic.ts), numbered in that order. */
export function decodeCapture(connections: readonly TcpConnection[], o: OfflineOptions, udp: readonly UdpFlow[] = []): TraceEvent[] {
  const prefix = o.connPrefix ?? 'pcap-'
  const quic = udp.filter(isQuicFlow)
  return [
    ...connections.flatMap((c, i) => decodeConnection(c, `${prefix}${i + 1}`, o)),
    ...quic.flatMap((f, i) => decodeQuicFlow(f, `${prefix}${connections.length + i + 1}`, o)),
  ]
}
