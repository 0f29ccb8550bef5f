/**
 * QUIC packet-layer targets (src/quic, spec/quic.md).
 *
 * `quic-frame`: decodeFrames on hostile payloads. Inputs are frames of every type written by the
 * encoder (random fields, sometimes at the 2^53 / 2^60 / 2^62 edges, ACKs with many ranges), raw
 * frame-type bytes and lying lengths, then byte mutations. The first byte picks the packet type,
 * the receiver's role and sometimes small limits. Checks: only a QuicProtocolError ('quic', its
 * transportCode matching its RFC name) escapes; a decoded payload holds at most maxFramesPerPacket
 * frames and ACKs at most maxAckRanges ranges; every frame is allowed in the packet type (Table 3);
 * the frames re-encode (frameSize agreeing with writeFrame) and decode again to the same frames.
 * The same bytes also go through decodeTransportParameters (only TRANSPORT_PARAMETER_ERROR, and
 * decoded parameters re-encode to themselves).
 *
 * `quic-packet`: parseDatagram, openPacket and the Retry / Version Negotiation / stateless reset
 * handlers on hostile datagrams. Inputs are datagrams of 1-4 coalesced packets sealed with fixed
 * keys (Initial keys from the DCID, fixed Handshake, 0-RTT and 1-RTT keys, AES-128-GCM or
 * ChaCha20), Retry, Version Negotiation, stateless resets, junk; mutated or not (a flag). Checks:
 * parsing never throws and its packets lie inside the datagram; opening throws at most a
 * QuicProtocolError (PROTOCOL_VIOLATION for reserved bits); an unmutated datagram opens completely
 * with the packet numbers it was sealed with; opened payloads then go through the frame checks.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import {
  DEFAULT_FRAME_LIMITS, QuicProtocolError, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, TransportErrorCode, buildRetry,
  buildStatelessReset, buildVersionNegotiation, decodeFrames, decodeTransportParameters, encodeTransportParameters, derivePacketKeys, detectStatelessReset, encodeFrames, frameAllowedIn,
  frameSize, frameTypeOf, handleVersionNegotiation, initialKeys, openPacket, parseDatagram, sealPacket, verifyRetry, versionNegotiationFor,
  type AckRange, type Frame, type FramePacketType, type PacketKeys, type QuicFrameLimits, type SendHeader,
} from '../../src/quic/index.js'
import { check, count, type Target } from './engine.js'
import { LIES, concatBytes, mutate } from './mutate.js'
import type { Rand } from './rng.js'

const c = nodeTlsCrypto
const PACKET_TYPES: readonly FramePacketType[] = ['initial', 'handshake', '0rtt', '1rtt']
const EDGES = [0, 1, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 53 - 1, ...LIES]

function num(r: Rand): number {
  return r.chance(0.2) ? r.pick(EDGES) : r.chance(0.5) ? r.int(64) : r.int(2 ** 31)
}

function genFrame(r: Rand): Frame {
  switch (r.int(21)) {
    case 0: return { type: 'padding', length: 1 + r.int(8) }
    case 1: return { type: 'ping' }
    case 2: {
      const ranges: AckRange[] = []
      let hi = r.chance(0.2) ? r.pick(EDGES) : r.int(1_000_000)
      const n = r.chance(0.05) ? 200 + r.int(200) : 1 + r.int(6)
      for (let i = 0; i < n && hi >= 0; i++) {
        const lo = Math.max(0, hi - r.int(20))
        ranges.push({ smallest: lo, largest: hi })
        hi = lo - 2 - r.int(20)
      }
      return r.chance(0.3) ? { type: 'ack', ackDelay: num(r), ranges, ecn: { ect0: num(r), ect1: num(r), ce: num(r) } } : { type: 'ack', ackDelay: num(r), ranges }
    }
    case 3: return { type: 'reset_stream', streamId: num(r), errorCode: num(r), finalSize: num(r) }
    case 4: return { type: 'stop_sending', streamId: num(r), errorCode: num(r) }
    case 5: return { type: 'crypto', offset: r.int(100_000), data: r.bytes(r.size(64)) }
    case 6: return { type: 'new_token', token: r.bytes(1 + r.size(40)) }
    case 7: return { type: 'stream', streamId: num(r), offset: r.chance(0.5) ? 0 : r.int(2 ** 40), data: r.bytes(r.size(64)), fin: r.chance(0.3) }
    case 8: return { type: 'max_data', maximumData: num(r) }
    case 9: return { type: 'max_stream_data', streamId: num(r), maximumStreamData: num(r) }
    case 10: return { type: 'max_streams', bidirectional: r.chance(0.5), maximumStreams: num(r) }
    case 11: return { type: 'data_blocked', maximumData: num(r) }
    case 12: return { type: 'stream_data_blocked', streamId: num(r), maximumStreamData: num(r) }
    case 13: return { type: 'streams_blocked', bidirectional: r.chance(0.5), maximumStreams: num(r) }
    case 14: { const s = num(r); return { type: 'new_connection_id', sequenceNumber: s, retirePriorTo: r.int(s + 1), connectionId: r.bytes(1 + r.int(20)), statelessResetToken: r.bytes(16) } }
    case 15: return { type: 'retire_connection_id', sequenceNumber: num(r) }
    case 16: return { type: 'path_challenge', data: r.bytes(8) }
    case 17: return { type: 'path_response', data: r.bytes(8) }
    case 18: return { type: 'connection_close', errorCode: num(r), frameType: r.int(0x1f), reason: r.bytes(r.size(32)) }
    case 19: return { type: 'connection_close', errorCode: num(r), reason: r.bytes(r.size(32)) }
    default: return { type: 'handshake_done' }
  }
}

/** Frames for a packet of type `pt` (mostly ones Table 3 allows there, as a receiver in role `receiver` expects). */
function genPayload(r: Rand, pt: FramePacketType = '1rtt', receiver: 'client' | 'server' = 'client'): Uint8Array {
  const parts: Uint8Array[] = []
  const n = 1 + r.int(6)
  for (let i = 0; i < n; i++) {
    if (r.chance(0.05)) parts.push(Uint8Array.of(r.int(0x40), ...r.bytes(r.int(12)))) // a raw frame type and junk
    else if (r.chance(0.02)) parts.push(new Uint8Array(r.pick([1024, 1025, 1100])).fill(0x01)) // many PINGs
    else {
      let f = genFrame(r)
      for (let k = 0; k < 20 && r.chance(0.95) && !fits(f, pt, receiver); k++) f = genFrame(r)
      parts.push(encodeFrames([f]))
    }
  }
  return concatBytes(parts)
}

function fits(f: Frame, pt: FramePacketType, receiver: 'client' | 'server'): boolean {
  const t = frameTypeOf(f)
  return frameAllowedIn(t, pt) && !(receiver === 'server' && (t === 0x07 || t === 0x1e))
}

/** Decodes a payload and checks the frame invariants; returns the frames, or undefined on a QuicProtocolError. */
function checkFrames(stats: Record<string, number>, payload: Uint8Array, pt: FramePacketType, receiver: 'client' | 'server', limits: QuicFrameLimits): Frame[] | undefined {
  let frames: Frame[]
  try {
    frames = decodeFrames(payload, pt, { receiver, limits })
  } catch (e) {
    if (e instanceof ProtocolError) {
      check(e instanceof QuicProtocolError && e.protocol === 'quic' && e.transportCode === TransportErrorCode[e.code], `ProtocolError(${e.protocol}, ${e.code}) is not a QuicProtocolError`)
      count(stats, e.code)
      return undefined
    }
    throw e
  }
  count(stats, 'decoded')
  check(frames.length <= limits.maxFramesPerPacket, `${frames.length} frames, limit ${limits.maxFramesPerPacket}`)
  for (const f of frames) {
    if (f.type === 'ack') check(f.ranges.length <= limits.maxAckRanges, `${f.ranges.length} ACK ranges, limit ${limits.maxAckRanges}`)
    check(frameAllowedIn(frameTypeOf(f) & (f.type === 'stream' ? 0x08 : 0xff), pt), `${f.type} decoded in a ${pt} packet`)
  }
  const again = encodeFrames(frames)
  check(again.length === frames.reduce((n, f) => n + frameSize(f), 0), 'frameSize disagrees with writeFrame')
  const back = decodeFrames(again, pt, { receiver, limits })
  check(back.length === frames.length && equals(encodeFrames(back), again), 're-encoded frames decode to other frames')
  return frames
}

/** Half the inputs are 1-RTT payloads, the rest Initial, Handshake and 0-RTT. */
const packetTypeOf = (mode: number): FramePacketType => (mode & 4) !== 0 ? '1rtt' : PACKET_TYPES[mode & 3]!
const receiverOf = (mode: number): 'client' | 'server' => (mode & 8) !== 0 ? 'server' : 'client'

function genTransportParameters(r: Rand, sender: 'client' | 'server'): Uint8Array {
  const p: Record<string, unknown> = { initialSourceConnectionId: r.bytes(r.int(21)) }
  if (sender === 'server') {
    p['originalDestinationConnectionId'] = r.bytes(r.int(21))
    if (r.chance(0.3)) p['statelessResetToken'] = r.bytes(16)
    if (r.chance(0.2)) p['preferredAddress'] = { ipv4: r.bytes(4), ipv4Port: r.int(65536), ipv6: r.bytes(16), ipv6Port: r.int(65536), connectionId: r.bytes(1 + r.int(20)), statelessResetToken: r.bytes(16) }
  }
  for (const k of ['maxIdleTimeout', 'initialMaxData', 'initialMaxStreamDataBidiLocal', 'initialMaxStreamDataBidiRemote', 'initialMaxStreamDataUni', 'initialMaxStreamsBidi', 'initialMaxStreamsUni']) {
    if (r.chance(0.6)) p[k] = num(r)
  }
  if (r.chance(0.3)) p['maxUdpPayloadSize'] = 1200 + r.int(64328)
  if (r.chance(0.3)) p['ackDelayExponent'] = r.int(21)
  if (r.chance(0.3)) p['maxAckDelay'] = r.int(2 ** 14)
  if (r.chance(0.3)) p['activeConnectionIdLimit'] = 2 + r.int(10)
  if (r.chance(0.2)) p['disableActiveMigration'] = true
  const grease = r.chance(0.3) ? Uint8Array.of(0x40, 27 + 31, r.int(4), ...r.bytes(3)) : new Uint8Array(0)
  return concatBytes([grease, encodeTransportParameters(p)])
}

/** The same bytes as transport parameters (RFC 9000 §18): a QuicProtocolError, or parameters that re-encode to themselves. */
function checkTransportParameters(bytes: Uint8Array, sender: 'client' | 'server'): void {
  let p
  try {
    p = decodeTransportParameters(bytes, sender)
  } catch (e) {
    if (e instanceof ProtocolError) {
      check(e instanceof QuicProtocolError && e.code === 'TRANSPORT_PARAMETER_ERROR', `transport parameters: ${e.code}`)
      return
    }
    throw e
  }
  count(frameStats, 'transport-parameters')
  const again = encodeTransportParameters(p)
  check(equals(encodeTransportParameters(decodeTransportParameters(again, sender)), again), 'transport parameters do not re-encode to themselves')
}

function limitsOf(mode: number): QuicFrameLimits {
  return mode % 5 === 0 ? { maxFramesPerPacket: 1 + (mode >> 3) % 8, maxAckRanges: 1 + (mode >> 4) % 4 } : DEFAULT_FRAME_LIMITS
}

const frameStats: Record<string, number> = {}

export const quicFrameTarget: Target = {
  name: 'quic-frame',
  stats: frameStats,
  generate(r) {
    const mode = r.int(256)
    const body = r.chance(0.15) ? genTransportParameters(r, receiverOf(mode) === 'server' ? 'client' : 'server') : genPayload(r, packetTypeOf(mode), receiverOf(mode))
    return concatBytes([Uint8Array.of(mode), r.chance(0.4) ? body : mutate(r, body)])
  },
  run(input) {
    const mode = input[0] ?? 0
    checkFrames(frameStats, input.subarray(1), packetTypeOf(mode), receiverOf(mode), limitsOf(mode))
    checkTransportParameters(input.subarray(1), receiverOf(mode) === 'server' ? 'client' : 'server')
  },
}

// ---- packets ----------------------------------------------------------------------------------

const KEYS = {
  handshake: derivePacketKeys(c, TLS_AES_128_GCM_SHA256, new Uint8Array(32).fill(0x11)),
  '0rtt': derivePacketKeys(c, TLS_AES_128_GCM_SHA256, new Uint8Array(32).fill(0x22)),
  aes: derivePacketKeys(c, TLS_AES_128_GCM_SHA256, new Uint8Array(32).fill(0x33)),
  chacha: derivePacketKeys(c, TLS_CHACHA20_POLY1305_SHA256, new Uint8Array(32).fill(0x44)),
}
const CID_LENGTH = 8
const ODCID = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)
const RESET_TOKEN = new Uint8Array(16).fill(0x5e)
const initialCache = new Map<string, PacketKeys>()

function initialFor(dcid: Uint8Array): PacketKeys {
  const k = Array.from(dcid).join(',')
  let keys = initialCache.get(k)
  if (keys === undefined) {
    if (initialCache.size > 1000) initialCache.clear()
    keys = initialKeys(c, dcid).client
    initialCache.set(k, keys)
  }
  return keys
}

function keysOf(type: string, dcid: Uint8Array, chacha: boolean): PacketKeys {
  if (type === 'initial') return initialFor(dcid)
  if (type === 'handshake' || type === '0rtt') return KEYS[type]
  return chacha ? KEYS.chacha : KEYS.aes
}

const packetStats: Record<string, number> = {}

/** Input: [flags][largestPn: 4 bytes][datagram]. flags: 1 = pristine (unmutated sealed packets), 2 = ChaCha20 1-RTT keys. */
export const quicPacketTarget: Target = {
  name: 'quic-packet',
  stats: packetStats,
  generate(r) {
    const chacha = r.chance(0.5)
    const largest = r.chance(0.3) ? r.pick([0, 1, 255, 65535, 2 ** 24, 2 ** 31 - 1]) : r.int(100_000)
    const dcid = r.chance(0.9) ? r.bytes(CID_LENGTH) : r.bytes(r.int(21))
    let datagram: Uint8Array
    let sealed = false
    const kind = r.int(10)
    if (kind < 6) {
      const parts: Uint8Array[] = []
      const types = (['initial', '0rtt', 'handshake', '1rtt'] as const).filter(() => r.chance(0.5))
      if (types.length === 0) types.push('1rtt')
      for (const type of types) {
        const header: SendHeader = type === '1rtt' ? { type, dcid, keyPhase: r.chance(0.5) ? 1 : 0, spin: r.chance(0.5) }
          : type === 'initial' ? { type, dcid, scid: r.bytes(r.int(21)), token: r.bytes(r.size(40)) } : { type, dcid, scid: r.bytes(r.int(21)) }
        const pn = largest + 1 + r.int(200)
        const payload = r.chance(0.8) ? genPayload(r, type, 'server') : r.bytes(1 + r.size(100))
        parts.push(sealPacket(c, keysOf(type, dcid, chacha), header, pn, payload, { largestAcked: largest, ...(type === 'initial' && r.chance(0.5) ? { minPacketSize: 1200 } : {}) }))
      }
      datagram = concatBytes(parts)
      sealed = dcid.length === CID_LENGTH
    } else if (kind === 6) {
      datagram = buildRetry(c, { dcid, scid: r.bytes(r.int(21)), token: r.bytes(1 + r.size(60)), odcid: r.chance(0.8) ? ODCID : r.bytes(8) })
    } else if (kind === 7) {
      datagram = buildVersionNegotiation({ dcid, scid: r.bytes(r.int(21)), versions: Array.from({ length: 1 + r.int(5) }, () => r.int(2 ** 32)), unused: r.int(64) })
    } else if (kind === 8) {
      datagram = buildStatelessReset(RESET_TOKEN, 22 + r.int(100), (n) => r.bytes(n))!
    } else {
      datagram = r.bytes(r.size(1300))
      if (datagram.length > 0 && r.chance(0.5)) datagram[0] = r.pick([0xc0, 0xd0, 0xe0, 0xf0, 0x40, 0x80])
    }
    const pristine = sealed && r.chance(0.3)
    const body = pristine ? datagram : mutate(r, datagram)
    const head = Uint8Array.of((pristine ? 1 : 0) | (chacha ? 2 : 0), largest >>> 24, (largest >>> 16) & 0xff, (largest >>> 8) & 0xff, largest & 0xff)
    return concatBytes([head, body])
  },
  run(input) {
    if (input.length < 5) return
    const pristine = (input[0]! & 1) !== 0
    const chacha = (input[0]! & 2) !== 0
    const largest = ((input[1]! << 24) | (input[2]! << 16) | (input[3]! << 8) | input[4]!) >>> 0
    const datagram = input.subarray(5)
    let parsed
    try {
      parsed = parseDatagram(datagram, CID_LENGTH)
    } catch (e) {
      check(false, `parseDatagram threw ${String(e)}`)
      return
    }
    count(packetStats, parsed.dropped ?? 'parsed')
    let total = 0
    for (const p of parsed.packets) {
      check(p.bytes.buffer === datagram.buffer && p.bytes.byteOffset >= datagram.byteOffset && p.bytes.byteOffset + p.bytes.length <= datagram.byteOffset + datagram.length, 'a packet outside its datagram')
      total += p.bytes.length
      count(packetStats, p.type)
      if (p.type === 'retry') { verifyRetry(c, p, ODCID); continue }
      if (p.type === 'version_negotiation') { handleVersionNegotiation(p, { scid: p.dcid, dcid: p.scid, receivedOther: false }); continue }
      if (p.type === 'unsupported_version') { versionNegotiationFor(p, datagram.length); continue }
      const r = openPacket(c, keysOf(p.type, p.dcid, chacha), p, largest)
      if (pristine) check(r.ok && r.packetNumber > largest && r.packetNumber <= largest + 200, `a pristine ${p.type} packet did not open: ${r.ok ? r.packetNumber : r.reason}`)
      if (!r.ok) { count(packetStats, r.reason); continue }
      count(packetStats, 'opened')
      checkFrames(packetStats, r.payload, p.type, 'server', DEFAULT_FRAME_LIMITS)
    }
    check(total <= datagram.length, 'packets longer than their datagram')
    if (pristine) check(parsed.dropped === undefined, `a pristine datagram was cut: ${parsed.dropped}`)
    detectStatelessReset(datagram, [RESET_TOKEN])
  },
}
