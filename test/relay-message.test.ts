// Circuit Relay v2 wire format (src/relay): every vector of spec/vectors/relay.json, round trips,
// every limit at and one past it, and malformed input giving ProtocolError('relay', 'relay/...') only.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId, privateKeyFromSeed } from '../src/peer-id/index.js'
import {
  DEFAULT_RELAY_MESSAGE_LIMITS, HOP_PROTOCOL, HopType, RelayFrameDecoder, STOP_PROTOCOL, Status, StopType, VOUCHER_DOMAIN,
  VOUCHER_PAYLOAD_TYPE, decodeHopMessage, decodeStopMessage, decodeVoucher, encodeHopFrame, encodeHopMessage, encodeStopFrame,
  encodeStopMessage, encodeVoucher, openVoucher, sealVoucher, statusName,
} from '../src/relay/index.js'
import type { HopMessage, Limit, Peer, Reservation, StopMessage } from '../src/relay/index.js'
import type { Vector } from './helpers/vectors.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('relay')
const D = DEFAULT_RELAY_MESSAGE_LIMITS

/** The relay code `f` throws; fails on success or on anything but a ProtocolError of protocol relay. */
function relayCode(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    expect((e as ProtocolError).protocol).toBe('relay')
    expect((e as ProtocolError).code).toMatch(/^relay\//)
    return (e as ProtocolError).code
  }
  throw new Error('expected a ProtocolError, got a result')
}

// ---- the JSON shape of spec/vectors/relay.json --------------------------------------------------

const HOP_NAMES = ['RESERVE', 'CONNECT', 'STATUS']
const STOP_NAMES = ['CONNECT', 'STATUS']

function shape(m: HopMessage | StopMessage, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { type: names[m.type] }
  if (m.peer !== undefined) out['peer'] = { id: m.peer.id.toString(), addrs: m.peer.addrs.map(String) }
  if ('reservation' in m && m.reservation !== undefined) {
    const r = m.reservation
    out['reservation'] = { expire: r.expire.toString(), addrs: r.addrs.map(String), ...(r.voucher ? { voucherHex: toHex(r.voucher) } : {}) }
  }
  if (m.limit !== undefined) {
    out['limit'] = { ...(m.limit.duration !== undefined ? { duration: m.limit.duration } : {}), ...(m.limit.data !== undefined ? { data: m.limit.data.toString() } : {}) }
  }
  if (m.status !== undefined) out['status'] = m.status
  return out
}

function fromShape(s: any, names: string[]): any {
  const m: any = { type: names.indexOf(s.type) }
  if (s.peer) m.peer = { id: PeerId.parse(s.peer.id), addrs: s.peer.addrs.map((a: string) => Multiaddr.fromString(a)) }
  if (s.reservation) {
    m.reservation = { expire: BigInt(s.reservation.expire), addrs: s.reservation.addrs.map((a: string) => Multiaddr.fromString(a)) }
    if (s.reservation.voucherHex) m.reservation.voucher = fromHex(s.reservation.voucherHex)
  }
  if (s.limit) m.limit = { ...(s.limit.duration !== undefined ? { duration: s.limit.duration } : {}), ...(s.limit.data !== undefined ? { data: BigInt(s.limit.data) } : {}) }
  if (s.status !== undefined) m.status = s.status
  return m
}

/**
 * Feed `bytes` to a hop frame decoder in pieces of `step` bytes, as a client would: after a STATUS
 * the stream is the relayed connection, so what follows is the remainder, not more messages.
 */
function readFrames(bytes: Uint8Array, step: number): { messages: HopMessage[]; remainder: Uint8Array } {
  const dec = RelayFrameDecoder.hop()
  const messages: HopMessage[] = []
  const rest: number[] = []
  for (let i = 0; i < bytes.length; i += step) {
    const piece = bytes.subarray(i, i + step)
    if (messages.at(-1)?.type === HopType.STATUS) {
      rest.push(...piece)
      continue
    }
    dec.push(piece)
    for (let m = dec.next(); m !== undefined; m = m.type === HopType.STATUS ? undefined : dec.next()) messages.push(m)
  }
  return { messages, remainder: Uint8Array.from([...dec.takeRemainder(), ...rest]) }
}

describe('vectors', () => {
  const decoders: Record<string, (b: Uint8Array) => unknown> = {
    hop: (b) => decodeHopMessage(b),
    stop: (b) => decodeStopMessage(b),
    'hop-frame': (b) => readFrames(b, b.length || 1),
    voucher: (b) => openVoucher(b, nobleCrypto),
  }

  for (const v of vectors.where((x) => x.error !== undefined)) {
    test(`${v.id} -> ${v.error}`, () => {
      expect(relayCode(() => decoders[v['kind'] as string]!(fromHex(v.hex!)))).toBe(v.error)
    })
  }

  for (const v of vectors.where((x) => x.decoded !== undefined && (x['kind'] === 'hop' || x['kind'] === 'stop'))) {
    test(`${v.id} decodes${v['reencodes'] === false ? '' : ' and re-encodes to the same bytes'}`, () => {
      const bytes = fromHex(v.hex!)
      const hop = v['kind'] === 'hop'
      const names = hop ? HOP_NAMES : STOP_NAMES
      const m = hop ? decodeHopMessage(bytes) : decodeStopMessage(bytes)
      expect(shape(m, names)).toEqual(v.decoded)
      const built = fromShape(v.decoded, names)
      const again = hop ? encodeHopMessage(built) : encodeStopMessage(built)
      if (v['reencodes'] !== false) {
        expect(toHex(again)).toBe(v.hex)
        expect(toHex(hop ? encodeHopFrame(built) : encodeStopFrame(built))).toBe(toHex(encodeLp(bytes)))
      } else expect(shape(hop ? decodeHopMessage(again) : decodeStopMessage(again), names)).toEqual(v.decoded)
    })
  }

  test('hop-frame-glued-remainder: the same messages and remainder in any chunking', () => {
    const v = vectors.get('hop-frame-glued-remainder')
    const bytes = fromHex(v.hex!)
    for (const step of [1, 2, 3, 7, bytes.length]) {
      const { messages, remainder } = readFrames(bytes, step)
      expect(messages.map((m) => shape(m, HOP_NAMES))).toEqual(v.decoded.messages)
      expect(toHex(remainder)).toBe(v.decoded.remainderHex)
    }
  })

  test('voucher-sealed: opens with both providers, and sealing reproduces it byte for byte', () => {
    const v = vectors.get('voucher-sealed')
    const d = v.decoded
    for (const crypto of [nobleCrypto, nodeCrypto]) {
      const { envelope, voucher } = openVoucher(fromHex(v.hex!), crypto, { relay: PeerId.parse(d.relay), peer: PeerId.parse(d.peer) })
      expect([voucher.relay.toString(), voucher.peer.toString(), voucher.expiration.toString()]).toEqual([d.relay, d.peer, d.expiration])
      expect(toHex(envelope.payload)).toBe(d.payloadHex)
      expect(toHex(envelope.signature)).toBe(d.signatureHex)
      expect(toHex(encodeVoucher(voucher))).toBe(d.payloadHex)
    }
    const key = privateKeyFromSeed(fromHex(d.relaySeedHex), nobleCrypto)
    const sealed = sealVoucher(key, { relay: PeerId.parse(d.relay), peer: PeerId.parse(d.peer), expiration: BigInt(d.expiration) }, nobleCrypto)
    expect(toHex(sealed.bytes)).toBe(v.hex)
    // the reservation vector carries this voucher
    expect(vectors.get('hop-status-ok-reservation').decoded.reservation.voucherHex).toBe(v.hex)
  })

  test('voucher-sealed: the expected relay and peer are checked', () => {
    const v = vectors.get('voucher-sealed')
    const other = PeerId.parse(vectors.get('stop-connect').decoded.peer.id)
    expect(relayCode(() => openVoucher(fromHex(v.hex!), nobleCrypto, { relay: other }))).toBe('relay/voucher-relay-mismatch')
    expect(relayCode(() => openVoucher(fromHex(v.hex!), nobleCrypto, { peer: other }))).toBe('relay/voucher-peer-mismatch')
  })
})

// ---- constants and small rules ------------------------------------------------------------------

test('protocol ids, enums and status codes are the spec\'s', () => {
  expect([HOP_PROTOCOL, STOP_PROTOCOL]).toEqual(['/libp2p/circuit/relay/0.2.0/hop', '/libp2p/circuit/relay/0.2.0/stop'])
  expect(HopType).toEqual({ RESERVE: 0, CONNECT: 1, STATUS: 2 })
  expect(StopType).toEqual({ CONNECT: 0, STATUS: 1 })
  expect(Status).toEqual({
    UNUSED: 0, OK: 100, RESERVATION_REFUSED: 200, RESOURCE_LIMIT_EXCEEDED: 201, PERMISSION_DENIED: 202,
    CONNECTION_FAILED: 203, NO_RESERVATION: 204, MALFORMED_MESSAGE: 400, UNEXPECTED_MESSAGE: 401,
  })
  expect([statusName(204), statusName(499)]).toEqual(['NO_RESERVATION', undefined])
  expect([VOUCHER_DOMAIN, toHex(VOUCHER_PAYLOAD_TYPE)]).toEqual(['libp2p-relay-rsvp', '0302'])
})

test('encoders refuse values the wire cannot carry (RangeError, local misuse)', () => {
  expect(() => encodeHopMessage({ type: 3 as HopType })).toThrow(RangeError)
  expect(() => encodeStopMessage({ type: 2 as StopType })).toThrow(RangeError)
  expect(() => encodeHopMessage({ type: HopType.STATUS, status: 100, limit: { duration: 2 ** 32 } })).toThrow(RangeError)
  expect(() => encodeHopMessage({ type: HopType.STATUS, status: 100, limit: { data: 1n << 64n } })).toThrow(RangeError)
  expect(() => encodeHopMessage({ type: HopType.STATUS, status: 100, reservation: { expire: -1n, addrs: [] } })).toThrow(RangeError)
  const relayKey = privateKeyFromSeed(new Uint8Array(32).fill(1), nobleCrypto)
  const other = privateKeyFromSeed(new Uint8Array(32).fill(2), nobleCrypto).publicKey.toPeerId(nobleCrypto)
  expect(() => sealVoucher(relayKey, { relay: other, peer: other, expiration: 1n }, nobleCrypto)).toThrow(RangeError)
})

// ---- limits: at the limit and one past ----------------------------------------------------------

/** A RESERVE padded with an unknown bytes field (15) to exactly `n` bytes (n >= 136). */
function reserveOfSize(n: number): Uint8Array {
  const pad = n - 5 // 08 00, tag 7a, a two-byte length
  const body = encodeHopMessage({ type: HopType.RESERVE })
  const out = new Uint8Array(n)
  out.set(body)
  out.set([0x7a, (pad & 0x7f) | 0x80, pad >> 7], 2)
  return out
}

/** A valid /dns4 chain of exactly `n` bytes (n >= 3). */
function addrOfSize(n: number): Multiaddr {
  const parts: string[] = []
  let left = n
  while (left > 129) {
    parts.push(`/dns4/${'a'.repeat(127)}`)
    left -= 129
  }
  if (left > 0 && left < 3) {
    parts.pop()
    left += 129
    parts.push(`/dns4/${'a'.repeat(left - 3 - 3)}`, `/dns4/a`)
  } else parts.push(`/dns4/${'a'.repeat(left - 2)}`)
  const a = Multiaddr.fromString(parts.join(''), { maxBytes: 4096 })
  expect(a.bytes.length).toBe(n)
  return a
}

const relayPeer = privateKeyFromSeed(new Uint8Array(32).fill(3), nobleCrypto).publicKey.toPeerId(nobleCrypto)
const rsvp = (addrs: Multiaddr[]): Uint8Array => encodeHopMessage({ type: HopType.STATUS, status: Status.OK, reservation: { expire: 1n, addrs } })
const connectWith = (addrs: Multiaddr[]): Uint8Array => encodeStopMessage({ type: StopType.CONNECT, peer: { id: relayPeer, addrs } })

describe('limits', () => {
  test('the defaults', () => {
    expect(D).toEqual({ maxMessageSize: 4096, maxAddrs: 64, maxAddrBytes: 1024 })
  })

  test('maxMessageSize (4096): a body of 4096 bytes decodes, 4097 is relay/message-too-large', () => {
    expect(decodeHopMessage(reserveOfSize(4096)).type).toBe(HopType.RESERVE)
    expect(relayCode(() => decodeHopMessage(reserveOfSize(4097)))).toBe('relay/message-too-large')
    expect(relayCode(() => decodeStopMessage(reserveOfSize(4097)))).toBe('relay/message-too-large')
    expect(decodeHopMessage(reserveOfSize(200), { maxMessageSize: 200 }).type).toBe(HopType.RESERVE)
    expect(relayCode(() => decodeHopMessage(reserveOfSize(201), { maxMessageSize: 200 }))).toBe('relay/message-too-large')
  })

  test('maxMessageSize on a stream: a 4096-byte frame is read, a 4097-byte prefix is refused before its body', () => {
    const ok = readFrames(encodeLp(reserveOfSize(4096)), 1000)
    expect(ok.messages).toHaveLength(1)
    const dec = RelayFrameDecoder.stop()
    dec.push(encodeLp(reserveOfSize(4097)).subarray(0, 2))
    expect(relayCode(() => dec.next())).toBe('relay/message-too-large')
  })

  test('maxAddrs (64) in a Reservation and in a Peer: 64 decode, 65 is relay/too-many-addrs', () => {
    const addrs = Array.from({ length: 65 }, (_, i) => Multiaddr.fromString(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1`))
    expect(decodeHopMessage(rsvp(addrs.slice(0, 64))).reservation!.addrs).toHaveLength(64)
    expect(relayCode(() => decodeHopMessage(rsvp(addrs)))).toBe('relay/too-many-addrs')
    expect(decodeStopMessage(connectWith(addrs.slice(0, 64))).peer!.addrs).toHaveLength(64)
    expect(relayCode(() => decodeStopMessage(connectWith(addrs)))).toBe('relay/too-many-addrs')
    expect(decodeHopMessage(rsvp(addrs.slice(0, 2)), { maxAddrs: 2 }).reservation!.addrs).toHaveLength(2)
    expect(relayCode(() => decodeHopMessage(rsvp(addrs.slice(0, 3)), { maxAddrs: 2 }))).toBe('relay/too-many-addrs')
  })

  test('maxAddrBytes (1024): an address of 1024 bytes decodes, 1025 is relay/addr-too-long', () => {
    expect(decodeHopMessage(rsvp([addrOfSize(1024)])).reservation!.addrs[0]!.bytes.length).toBe(1024)
    expect(relayCode(() => decodeHopMessage(rsvp([addrOfSize(1025)])))).toBe('relay/addr-too-long')
    expect(decodeStopMessage(connectWith([addrOfSize(1024)])).peer!.addrs).toHaveLength(1)
    expect(relayCode(() => decodeStopMessage(connectWith([addrOfSize(1025)])))).toBe('relay/addr-too-long')
    expect(decodeHopMessage(rsvp([addrOfSize(40)]), { maxAddrBytes: 40 }).reservation!.addrs).toHaveLength(1)
    expect(relayCode(() => decodeHopMessage(rsvp([addrOfSize(41)]), { maxAddrBytes: 40 }))).toBe('relay/addr-too-long')
  })
})

// ---- properties ---------------------------------------------------------------------------------

const peers = [1, 2, 3, 4].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), nobleCrypto).publicKey.toPeerId(nobleCrypto))
const addrPool = [
  '/ip4/198.51.100.1/tcp/4001', '/ip6/2001:db8::1/udp/4001/quic-v1', `/ip4/203.0.113.7/tcp/443/wss/p2p/${peers[0]!.toString()}`,
  '/dns4/relay.example/tcp/4001', '/ip4/192.0.2.1/udp/1/quic-v1/webtransport',
].map((s) => Multiaddr.fromString(s))

const arbPeer: fc.Arbitrary<Peer> = fc.record({ id: fc.constantFrom(...peers), addrs: fc.array(fc.constantFrom(...addrPool), { maxLength: 4 }) })
const arbLimit: fc.Arbitrary<Limit> = fc.record({ duration: fc.nat({ max: 0xffff_ffff }), data: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }, { requiredKeys: [] })
const arbReservation: fc.Arbitrary<Reservation> = fc
  .tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(fc.constantFrom(...addrPool), { maxLength: 4 }), fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }))
  .map(([expire, addrs, voucher]) => (voucher === undefined ? { expire, addrs } : { expire, addrs, voucher }))
const arbStatus = fc.oneof(fc.constantFrom(...Object.values(Status)), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))

const arbHop: fc.Arbitrary<HopMessage> = fc
  .record({ type: fc.constantFrom(0, 1, 2) as fc.Arbitrary<HopMessage['type']>, peer: arbPeer, reservation: arbReservation, limit: arbLimit, status: arbStatus }, { requiredKeys: ['type'] })
  .filter((m) => (m.type !== 1 || m.peer !== undefined) && (m.type !== 2 || m.status !== undefined))
const arbStop: fc.Arbitrary<StopMessage> = fc
  .record({ type: fc.constantFrom(0, 1) as fc.Arbitrary<StopMessage['type']>, peer: arbPeer, limit: arbLimit, status: arbStatus }, { requiredKeys: ['type'] })
  .filter((m) => (m.type !== 0 || m.peer !== undefined) && (m.type !== 1 || m.status !== undefined))

/** Comparable form: peer ids and multiaddrs as text. */
const plain = (m: unknown): unknown => JSON.parse(JSON.stringify(m, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof PeerId || x instanceof Multiaddr ? x.toString() : x instanceof Uint8Array ? toHex(x) : x)))

describe('round trips (fast-check)', () => {
  test('HopMessage: decode(encode(m)) = m, and re-encoding is byte-identical', () => {
    fc.assert(fc.property(arbHop, (m) => {
      const bytes = encodeHopMessage(m)
      const back = decodeHopMessage(bytes)
      expect(plain(back)).toEqual(plain(m))
      expect(toHex(encodeHopMessage(back))).toBe(toHex(bytes))
    }), { numRuns: 300 })
  })

  test('StopMessage: decode(encode(m)) = m through the frame decoder in any chunking', () => {
    fc.assert(fc.property(fc.array(arbStop, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 64 }), (ms, step) => {
      const stream = Uint8Array.from(ms.flatMap((m) => [...encodeStopFrame(m)]))
      const dec = RelayFrameDecoder.stop()
      const got: StopMessage[] = []
      for (let i = 0; i < stream.length; i += step) {
        dec.push(stream.subarray(i, i + step))
        for (let m = dec.next(); m !== undefined; m = dec.next()) got.push(m)
      }
      expect(plain(got)).toEqual(plain(ms))
      expect(dec.takeRemainder()).toHaveLength(0)
    }), { numRuns: 200 })
  })

  test('Voucher: open(seal(v)) = v; the payload round-trips canonically', () => {
    const keys = [5, 6].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), nobleCrypto))
    fc.assert(fc.property(fc.constantFrom(...keys), fc.constantFrom(...peers), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (key, peer, expiration) => {
      const relay = key.publicKey.toPeerId(nobleCrypto)
      const sealed = sealVoucher(key, { relay, peer, expiration }, nobleCrypto)
      const { voucher } = openVoucher(sealed.bytes, nobleCrypto, { relay, peer })
      expect(plain(voucher)).toEqual(plain({ relay, peer, expiration }))
      expect(toHex(encodeVoucher(decodeVoucher(sealed.payload)))).toBe(toHex(sealed.payload))
    }), { numRuns: 30 })
  })
})

describe('malformed input gives ProtocolError(relay) only', () => {
  const samples = vectors.where((v: Vector) => v.hex !== undefined && v.hex.length > 0 && v['kind'] !== 'hop-frame').map((v) => fromHex(v.hex!))
  const mutated = fc.tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat())
    .map(([base, edits, cut]) => {
      const b = base.slice(0, base.length - (cut % 3 === 0 ? cut % Math.max(1, base.length) : 0))
      for (const [at, byte] of edits) if (b.length > 0) b[at % b.length] = byte
      return b
    })
  const inputs = fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated)
  const accept = (f: () => unknown): void => {
    try {
      f()
    } catch (e) {
      if (!(e instanceof ProtocolError) || e.protocol !== 'relay' || !e.code.startsWith('relay/')) throw e
    }
  }

  test('decodeHopMessage, decodeStopMessage, decodeVoucher, openVoucher', () => {
    fc.assert(fc.property(inputs, (b) => {
      accept(() => decodeHopMessage(b))
      accept(() => decodeStopMessage(b))
      accept(() => decodeVoucher(b))
      accept(() => openVoucher(b, nobleCrypto))
    }), { numRuns: 1500 })
  })

  test('RelayFrameDecoder in any chunking', () => {
    fc.assert(fc.property(inputs, fc.integer({ min: 1, max: 16 }), (b, step) => {
      const dec = RelayFrameDecoder.hop()
      accept(() => {
        for (let i = 0; i < b.length; i += step) {
          dec.push(b.subarray(i, i + step))
          while (dec.next() !== undefined);
        }
      })
      expect(dec.buffered).toBeLessThanOrEqual(D.maxMessageSize + 9 + step)
    }), { numRuns: 500 })
  })
})
