/**
 * Trace target (src/trace): the protocol decoders a tracing node runs on every remote's stream bytes,
 * and the capture decryptor's pcap reader and offline decoder (a capture file is user input). The
 * first input byte picks the mode: bit 0 a capture instead of a stream, bit 1 the direction, bit 2
 * the opener hint; the second byte picks the protocol among DECODED_PROTOCOLS.
 * Checks, streams: a decoder never throws (nothing is allowed to escape), the same bytes whole and
 * cut into pieces decode to the same messages, and it never holds more than the bytes it was given.
 * Checks, captures: the reader throws nothing but UsageError('pcap/...'), and what it accepts the
 * offline decoder turns into events without throwing (no keylog: the Noise part is `no-keys`).
 */
import { UsageError } from '../../src/core/errors.js'
import type { DecodedMessage } from '../../src/core/trace.js'
import { utf8 } from '../../src/core/bytes.js'
import { varint } from '../../src/core/index.js'
import { nodeCrypto } from '../../src/io/crypto-node.js'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { DECODED_PROTOCOLS, createDecoder } from '../../src/trace/decode/index.js'
import { decodeCapture } from '../../src/trace/offline.js'
import { readPcap } from '../../src/trace/pcap.js'
import { check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { Rand } from './rng.js'

const stats: Record<string, number> = {}

/** A few varint-length-prefixed messages of random bytes (the framing most libp2p protocols use), or raw bytes. */
function streamBytes(r: Rand): Uint8Array {
  if (r.chance(0.2)) return r.bytes(r.size(300))
  const parts: Uint8Array[] = []
  for (let i = 1 + r.int(4); i > 0; i--) {
    const body = r.bytes(r.size(200))
    parts.push(varint.encode(body.length), body)
  }
  return concatBytes(parts)
}

function decodeAll(protocol: string, dir: 'in' | 'out', opener: boolean, input: Uint8Array, schedule: number, r: Rand): { out: string; buffered: number } {
  const d = createDecoder(protocol, dir, { opener })
  if (d === undefined) return { out: '', buffered: 0 }
  const msgs: DecodedMessage[] = []
  let buffered = 0
  deliver(input, schedule, r, (piece) => {
    msgs.push(...d.push(piece.slice()))
    buffered = Math.max(buffered, d.buffered)
  })
  msgs.push(...d.end())
  return { out: JSON.stringify(shape(msgs), (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : typeof v === 'bigint' ? v.toString() : v)), buffered }
}

/**
 * What must not depend on the cuts (spec/trace.md "Protocol messages"): the messages up to and
 * including the first `undecodable` (which says only that it happened), with the byte counts a
 * counting decoder reports per piece summed; after an `undecodable` there are only counts.
 */
function shape(ms: DecodedMessage[]): unknown[] {
  const bad = ms.findIndex((m) => m.name === 'undecodable')
  const out: DecodedMessage[] = []
  for (const m of bad < 0 ? ms : ms.slice(0, bad + 1)) {
    const last = out.at(-1)
    if (m.name === 'data' && last?.name === 'data') out[out.length - 1] = { name: 'data', fields: { bytes: Number(last.fields.bytes) + Number(m.fields.bytes), total: m.fields.total } }
    else out.push(m.name === 'undecodable' ? { name: m.name, fields: {} } : m)
  }
  return out
}

/** A classic pcap file, link type 101 (raw IP): one IPv4 TCP connection, both directions. */
function capture(r: Rand): Uint8Array {
  const records: Uint8Array[] = []
  const seq = [1000, 5000]
  const flows = [utf8('\x13/multistream/1.0.0\n\x07/noise\n'), utf8('\x13/multistream/1.0.0\n\x07/noise\n')]
  flows[0] = concatBytes([flows[0]!, Uint8Array.of(0, 32), r.bytes(32)])
  flows[1] = concatBytes([flows[1]!, r.bytes(r.size(200))])
  for (let i = 0; i < 4; i++) {
    const side = i % 2
    const payload = flows[side]!.subarray(0, 1 + r.int(flows[side]!.length))
    flows[side] = flows[side]!.subarray(payload.length)
    const ip = new Uint8Array(40 + payload.length)
    const dv = new DataView(ip.buffer)
    ip[0] = 0x45
    dv.setUint16(2, ip.length)
    ip[8] = 64
    ip[9] = 6
    ip.set(side === 0 ? [10, 0, 0, 1, 10, 0, 0, 2] : [10, 0, 0, 2, 10, 0, 0, 1], 12)
    dv.setUint16(20, side === 0 ? 40000 : 4001)
    dv.setUint16(22, side === 0 ? 4001 : 40000)
    dv.setUint32(24, seq[side]!)
    seq[side]! += payload.length
    ip[32] = 0x50
    ip[33] = 0x18
    ip.set(payload, 40)
    const rec = new Uint8Array(16 + ip.length)
    const rv = new DataView(rec.buffer)
    rv.setUint32(0, 1_700_000_000 + i, true)
    rv.setUint32(8, ip.length, true)
    rv.setUint32(12, ip.length, true)
    rec.set(ip, 16)
    records.push(rec)
  }
  const head = new Uint8Array(24)
  const hv = new DataView(head.buffer)
  hv.setUint32(0, 0xa1b2c3d4, true)
  hv.setUint16(4, 2, true)
  hv.setUint16(6, 4, true)
  hv.setUint32(16, 65535, true)
  hv.setUint32(20, 101, true)
  return concatBytes([head, ...records])
}

export const traceTarget: Target = {
  name: 'trace',
  stats,
  generate(r) {
    const mode = r.int(8)
    const body = (mode & 1) !== 0 ? capture(r) : streamBytes(r)
    return concatBytes([Uint8Array.of(mode | (r.int(32) << 3), r.int(256)), mutate(r, body)])
  },
  run(input) {
    const mode = input[0] ?? 0
    const body = input.subarray(2)
    if ((mode & 1) !== 0) {
      const cap = readPcap(body) // a UsageError('pcap/...') is this mode's allowed outcome
      // TCP connections and UDP flows (a mutated protocol byte makes one; QUIC ones go through the QUIC decoder)
      const events = decodeCapture(cap.connections, { crypto: nodeCrypto, tlsCrypto: nodeTlsCrypto, keys: new Map(), tlsKeys: new Map(), decoders: createDecoder }, cap.udp)
      count(stats, events.length > 0 ? 'capture-events' : 'capture-empty')
      return
    }
    const protocol = DECODED_PROTOCOLS[(input[1] ?? 0) % DECODED_PROTOCOLS.length]!
    const dir = (mode & 2) !== 0 ? 'in' : 'out'
    const opener = (mode & 4) !== 0
    const whole = decodeAll(protocol, dir, opener, body, 0, new Rand(1))
    const cut = decodeAll(protocol, dir, opener, body, 1 + (mode >> 3) % 2, new Rand(mode))
    check(whole.out === cut.out, `${protocol}: messages differ between whole and pieces`)
    check(Math.max(whole.buffered, cut.buffered) <= body.length, `${protocol}: holds more bytes than it was given`)
    count(stats, protocol)
  },
  allowed: (e) => e instanceof UsageError && e.code.startsWith('pcap/'),
}
