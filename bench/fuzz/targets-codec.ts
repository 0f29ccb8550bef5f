/**
 * Targets for the stateless decoders: varint and length-prefixed framing, the protobuf wire reader,
 * multiaddr (bytes and text), peer ids, keys, signed envelopes and peer records.
 */
import * as varint from '../../src/core/varint.js'
import { LpDecoder, decodeLpExact, encodeLp } from '../../src/core/lp.js'
import { decodeMessage } from '../../src/core/protobuf.js'
import { UsageError } from '../../src/core/errors.js'
import { equals, toHex, utf8 } from '../../src/core/bytes.js'
import { Multiaddr, PROTOCOLS } from '../../src/multiaddr/index.js'
import {
  PeerId, decodePeerRecord, encodeKeyMessage, openEnvelope, openPeerRecord, privateKeyFromProtobuf, privateKeyFromSeed,
  publicKeyFromProtobuf, sealEnvelope, sealPeerRecord,
} from '../../src/peer-id/index.js'
import { check, type Target } from './engine.js'
import { deliver, mutate, concatBytes, LIES } from './mutate.js'
import { genMessage } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()

// ---- varint / LP -------------------------------------------------------------------------------

const LP_MAX = 1024

export const varintTarget: Target = {
  name: 'varint',
  generate(r) {
    const parts: Uint8Array[] = []
    const n = 1 + r.int(6)
    for (let i = 0; i < n; i++) {
      if (r.chance(0.3)) parts.push(varint.encode(r.pick(LIES)))
      else parts.push(encodeLp(r.bytes(r.size(LP_MAX + 2))))
    }
    return concatBytes([Uint8Array.of(r.int(256)), mutate(r, concatBytes(parts), parts)])
  },
  run(input) {
    const schedule = input[0] ?? 0
    const buf = input.subarray(1)
    // decode: a successful decode re-encodes to exactly the bytes it consumed (minimal encoding)
    const d = varint.decode(buf, 0, true)
    if (d !== undefined) {
      check(Number.isSafeInteger(d.value) && d.value >= 0, `varint value ${d.value}`)
      check(equals(varint.encode(d.value), buf.subarray(0, d.bytes)), 'varint decode/encode mismatch')
    }
    try { varint.decodeExact(buf) } catch (e) { if (!(e instanceof Error && e.name === 'ProtocolError')) throw e }
    try { decodeLpExact(buf, LP_MAX) } catch (e) { if (!(e instanceof Error && e.name === 'ProtocolError')) throw e }
    // streaming: the same messages whatever the chunking, and the documented buffer bound
    const whole = lpMessages(buf, 0, new Rand(1))
    const pieces = lpMessages(buf, schedule, new Rand(schedule))
    check(whole.msgs.length === pieces.msgs.length || whole.error !== pieces.error || whole.error !== undefined || pieces.error !== undefined,
      'LpDecoder: chunking changed the messages')
    const n = Math.min(whole.msgs.length, pieces.msgs.length)
    for (let i = 0; i < n; i++) check(equals(whole.msgs[i]!, pieces.msgs[i]!), 'LpDecoder: chunking changed a message')
  },
}

function lpMessages(buf: Uint8Array, schedule: number, r: Rand): { msgs: Uint8Array[]; error: string | undefined } {
  const dec = new LpDecoder(LP_MAX)
  const msgs: Uint8Array[] = []
  let error: string | undefined
  deliver(buf, schedule, r, (piece) => {
    dec.push(piece)
    try {
      for (let m = dec.next(); m !== undefined; m = dec.next()) msgs.push(m)
    } catch (e) {
      if (!(e instanceof Error && e.name === 'ProtocolError')) throw e
      error = (e as { code?: string }).code
      return false
    }
    check(dec.buffered <= LP_MAX + varint.VARINT_MAX_BYTES, `LpDecoder buffers ${dec.buffered} > max ${LP_MAX} + 9`)
    return true
  })
  return { msgs, error }
}

// ---- protobuf wire -----------------------------------------------------------------------------

const GENERIC = { 1: 'varint', 2: 'bytes', 3: 'string', 4: { msg: { 1: 'varint', 2: 'bytes', 3: 'fixed64' } }, 5: 'fixed32', 6: 'fixed64', 7: 'bool' } as const

export const protobufTarget: Target = {
  name: 'protobuf',
  generate(r) {
    const a = genMessage(r, GENERIC as never)
    const b = genMessage(r, GENERIC as never)
    return concatBytes([Uint8Array.of(r.int(256)), mutate(r, a, [b])])
  },
  run(input) {
    const how = input[0] ?? 0
    const buf = input.subarray(1)
    // read each field with a typed method chosen from (field, how): right and wrong wire types both
    decodeMessage(buf, 'fuzz', 4096, (field, f) => {
      switch ((field + how) % 9) {
        case 0: f.uint32(); break
        case 1: f.uint64(); break
        case 2: f.uint64Big(); break
        case 3: f.int32(); break
        case 4: f.bool(); break
        case 5: f.enum(); break
        case 6: f.bytes(); break
        case 7: f.string(); break
        default: f.skip()
      }
    })
  },
}

// ---- multiaddr ---------------------------------------------------------------------------------

function genComponentBytes(r: Rand): Uint8Array {
  const p = r.pick(PROTOCOLS)
  const code = varint.encode(r.chance(0.02) ? r.int(1 << 20) : p.code)
  if (p.size === 0) return code
  if (p.size > 0) return concatBytes([code, genValue(r, p.kind, p.size / 8)])
  const value = genValue(r, p.kind, -1)
  return concatBytes([code, varint.encode(value.length), value])
}

function genValue(r: Rand, kind: string, size: number): Uint8Array {
  if (kind === 'p2p' && r.chance(0.7)) return PEER_IDS[r.int(PEER_IDS.length)]!.multihash
  if ((kind === 'domain' || kind === 'unix' || kind === 'ip6zone' || kind === 'http-path') && r.chance(0.8)) {
    return utf8(r.text(r.size(64), 'abcdefghijklmnopqrstuvwxyz0123456789.-/%'))
  }
  if (size >= 0) return r.bytes(r.chance(0.9) ? size : r.int(size + 3))
  return r.bytes(r.size(128))
}

const TEXT_VALUES: Record<string, () => string[]> = {
  ip4: () => ['127.0.0.1', '0.0.0.0', '255.255.255.255', '1.2.3', '01.2.3.4', '256.1.1.1'],
  ip6: () => ['::1', '::', 'fe80::1', '2001:db8::ff00:42:8329', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8:9', ':::'],
  port: () => ['0', '1', '65535', '65536', '-1', '080', ''],
  domain: () => ['example.com', 'a', 'xn--bcher-kva.example', '', 'a'.repeat(300)],
  p2p: () => PEER_IDS.map((p) => p.toString()).concat(PEER_IDS.map((p) => p.toCID()), ['Qm', '12D3KooW']),
  unix: () => ['tmp/sock', 'a/b/c', '%2Ftmp'],
  certhash: () => ['uEiD', 'mEiA', 'z2', 'b'],
  onion: () => ['aaimaq4ygg2iegci:80', 'aaimaq4ygg2iegci:0'],
  onion3: () => ['vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234'],
  ipcidr: () => ['24', '0', '255', '256'],
  memory: () => ['1', '18446744073709551615', '18446744073709551616'],
}

function genText(r: Rand): string {
  let s = ''
  const n = 1 + r.int(5)
  for (let i = 0; i < n; i++) {
    const p = r.pick(PROTOCOLS)
    s += '/' + (r.chance(0.1) && p.aliases.length > 0 ? r.pick(p.aliases) : p.name)
    if (p.size !== 0) {
      const vs = TEXT_VALUES[p.kind]?.() ?? ['x']
      s += '/' + (r.chance(0.8) ? r.pick(vs) : r.text(r.size(24), 'abcdef0123456789:./%'))
    }
  }
  // text mutations
  const k = r.chance(0.4) ? 0 : 1 + r.int(3)
  for (let i = 0; i < k; i++) {
    const at = r.int(s.length + 1)
    switch (r.int(4)) {
      case 0: s = s.slice(0, at) + s.slice(at + 1 + r.int(4)); break
      case 1: s = s.slice(0, at) + r.pick(['/', '//', '%', ':', '\u0000', '\ud800', '\u00e9', ' ']) + s.slice(at); break
      case 2: s = s.slice(0, at); break
      default: s = s.slice(0, at) + s.slice(r.int(s.length + 1))
    }
  }
  return s
}

const PEER_IDS = [1, 2, 3].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), crypto).publicKey.toPeerId())
  .concat([PeerId.fromBytes(Uint8Array.of(0x12, 0x20, ...new Uint8Array(32).fill(7)))])

export const multiaddrTarget: Target = {
  name: 'multiaddr',
  generate(r) {
    if (r.chance(0.5)) return concatBytes([Uint8Array.of(1), utf8(genText(r))])
    const parts: Uint8Array[] = []
    const n = 1 + r.int(5)
    for (let i = 0; i < n; i++) parts.push(genComponentBytes(r))
    return concatBytes([Uint8Array.of(0), mutate(r, concatBytes(parts), parts, 3)])
  },
  // spec/multiaddr.md: text from users may raise UsageError (a mistyped multiaddr, finding 9)
  allowed: (e) => e instanceof UsageError,
  run(input) {
    const body = input.subarray(1)
    let m: Multiaddr
    if ((input[0] ?? 0) & 1) {
      let text: string
      try { text = new TextDecoder('utf-8', { fatal: true }).decode(body) } catch { return }
      m = Multiaddr.fromString(text)
    } else {
      m = Multiaddr.fromBytes(body)
    }
    // a decoded multiaddr prints, re-parses to the same bytes, and answers every accessor
    const text = m.toString()
    const again = Multiaddr.fromString(text)
    check(again.equals(m), `multiaddr round trip: ${toHex(m.bytes)} -> ${text} -> ${toHex(again.bytes)}`)
    check(equals(Multiaddr.fromBytes(m.bytes).bytes, m.bytes), 'multiaddr bytes round trip')
    m.components(); m.protos(); m.getPeerId(); m.toDialTarget(); m.isLoopback(); m.isThinWaist()
  },
}

// ---- peer ids, keys, envelopes, peer records ----------------------------------------------------

const KEY = privateKeyFromSeed(new Uint8Array(32).fill(9), crypto)
const RECORD = sealPeerRecord(KEY, { peerId: KEY.publicKey.toPeerId(), seq: 5n, addrs: [Multiaddr.fromString('/ip4/1.2.3.4/tcp/4001'), Multiaddr.fromString('/dns4/a.example/udp/1/quic-v1')] }, crypto).bytes
const ENVELOPE = sealEnvelope(KEY, 'fuzz-domain', Uint8Array.of(1, 2), utf8('payload'), crypto).bytes

export const peerIdTarget: Target = {
  name: 'peer-id',
  generate(r) {
    const mode = r.int(7)
    let seed: Uint8Array
    switch (mode) {
      case 0: seed = r.pick(PEER_IDS).multihash; break
      case 1: seed = utf8(r.chance(0.5) ? r.pick(PEER_IDS).toString() : r.pick(PEER_IDS).toCID()); break
      case 2: seed = encodeKeyMessage(r.pick(['Ed25519', 'Secp256k1', 'RSA', 'ECDSA'] as const), r.bytes(r.pick([32, 33, 65, 91, 270, r.size(2100)]))); break
      case 3: seed = KEY.bytes; break
      case 4: seed = ENVELOPE; break
      case 5: seed = RECORD; break
      default: seed = genMessage(r, { 1: { gen: (q) => q.pick(PEER_IDS).multihash }, 2: 'varint', 3: { gen: (q) => genComponentBytes(q) } })
    }
    if (mode === 1) {
      // text: character edits
      let s = new TextDecoder().decode(seed)
      if (r.chance(0.7)) { const at = r.int(s.length); s = s.slice(0, at) + r.text(r.int(3), '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0') + s.slice(at + r.int(3)) }
      return concatBytes([Uint8Array.of(mode), utf8(s)])
    }
    return concatBytes([Uint8Array.of(mode), mutate(r, seed, [RECORD, ENVELOPE, KEY.bytes])])
  },
  run(input) {
    const body = input.subarray(1)
    switch ((input[0] ?? 0) % 7) {
      case 0: roundTrip(PeerId.fromBytes(body)); break
      case 1: {
        let text: string
        try { text = new TextDecoder('utf-8', { fatal: true }).decode(body) } catch { return }
        let id: PeerId
        // spec/peer-id.md: peer id TEXT comes from users, and a mistyped one is a UsageError (finding 9)
        try { id = PeerId.parse(text) } catch (e) { if (e instanceof UsageError) return; throw e }
        roundTrip(id)
        break
      }
      case 2: {
        const k = publicKeyFromProtobuf(body)
        check(equals(publicKeyFromProtobuf(k.bytes).bytes, k.bytes), 'public key round trip')
        roundTrip(k.toPeerId(crypto))
        k.verify(utf8('m'), new Uint8Array(64), crypto)
        break
      }
      case 3: privateKeyFromProtobuf(body, crypto); break
      case 4: openEnvelope(body, 'fuzz-domain', crypto); break
      case 5: openPeerRecord(body, crypto); break
      default: decodePeerRecord(body)
    }
  },
}

function roundTrip(id: PeerId): void {
  check(PeerId.parse(id.toString()).equals(id), `peer id text round trip ${id.toString()}`)
  check(PeerId.parse(id.toCID()).equals(id), 'peer id CID round trip')
  check(PeerId.fromBytes(id.multihash).equals(id), 'peer id bytes round trip')
}
