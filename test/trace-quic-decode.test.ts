/**
 * The QUIC trace decoder (src/trace/quic.ts, spec/trace.md "TLS and QUIC") on known packets: RFC 9001
 * Appendix A.2 (the client's Initial) and A.3 (the server's Initial) decode to their frames and TLS
 * messages with the Initial keys from the client's Destination Connection ID; 1-RTT packets with a
 * logged secret, across a key update; its limits (maxOutOfOrderBytes per stream, the TLS message
 * bound) at the limit and one past it.
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { fromHex } from '../src/core/bytes.js'
import type { TraceBody } from '../src/core/trace.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { derivePacketKeys, encodeFrames, nextPacketKeys, sealPacket, type Frame } from '../src/quic/index.js'
import { createDecoder } from '../src/trace/decode/index.js'
import { QuicTraceDecoder } from '../src/trace/quic.js'
import { HandshakeReader, MAX_TRACED_TLS_MESSAGE } from '../src/trace/tls-view.js'
import { readVectorFile } from './helpers/vectors.js'

const quic = readVectorFile('quic').vectors
const vec = (id: string) => quic.find((v) => v.id === id)!
const c = nodeTlsCrypto

function decoder(o: Partial<ConstructorParameters<typeof QuicTraceDecoder>[0]> = {}): { d: QuicTraceDecoder; events: TraceBody[] } {
  const events: TraceBody[] = []
  return { d: new QuicTraceDecoder({ crypto: c, emit: (e) => events.push(e), local: 'client', decoders: createDecoder, ...o }), events }
}

test('RFC 9001 A.2 and A.3: the Initial packets decode to their CRYPTO frames and TLS messages', () => {
  const { d, events } = decoder()
  d.datagram('out', fromHex(vec('rfc9001-a2-client-initial').hex!))
  d.datagram('in', fromHex(vec('rfc9001-a3-server-initial').hex!))
  const packets = events.filter((e) => e.kind === 'quic-packet')
  expect(packets).toEqual([
    { kind: 'quic-packet', dir: 'out', packet: 'initial', bytes: 1200, dcid: '8394c8f03e515708', scid: '', pn: 2, frames: [{ type: 'crypto', offset: 0, length: 241 }, { type: 'padding', length: 917 }] },
    { kind: 'quic-packet', dir: 'in', packet: 'initial', bytes: 135, dcid: '', scid: 'f067a5502a4262b5', pn: 1, frames: [{ type: 'ack', ranges: [[0, 0]], delay: 0 }, { type: 'crypto', offset: 0, length: 90 }] },
  ])
  const tls = events.filter((e) => e.kind === 'tls-handshake')
  expect(tls.map((e) => e.kind === 'tls-handshake' && `${e.dir} ${e.level} ${e.type} ${e.bytes}`)).toEqual(['out initial client_hello 241', 'in initial server_hello 90'])
  expect(tls[0]).toMatchObject({ fields: { cipherSuites: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'], alpn: ['alpn'], keyShares: ['x25519'], quicTransportParameters: 50 } })
  expect(tls[1]).toMatchObject({ fields: { cipherSuite: 'TLS_AES_128_GCM_SHA256', keyShare: 'x25519', versions: ['0x304'] } })
})

test('before the client\'s Initial there are no keys; a Handshake packet without its secret is not decrypted', () => {
  const { d, events } = decoder({ local: 'server' })
  d.datagram('out', fromHex(vec('rfc9001-a3-server-initial').hex!))
  expect(events).toEqual([expect.objectContaining({ kind: 'quic-packet', packet: 'initial', undecryptable: 'no-keys', frames: [] })])
})

/** A decoder past both Initials (A.2, A.3: the client's connection id is empty, the server's 8 bytes) with both 1-RTT secrets. */
function established(o: Partial<ConstructorParameters<typeof QuicTraceDecoder>[0]> = {}) {
  const r = decoder(o)
  r.d.datagram('out', fromHex(vec('rfc9001-a2-client-initial').hex!))
  r.d.datagram('in', fromHex(vec('rfc9001-a3-server-initial').hex!))
  r.d.secret('SERVER_TRAFFIC_SECRET_0', new Uint8Array(32).fill(7))
  r.d.secret('CLIENT_TRAFFIC_SECRET_0', new Uint8Array(32).fill(8))
  return { ...r, server: derivePacketKeys(c, 0x1301, new Uint8Array(32).fill(7)), client: derivePacketKeys(c, 0x1301, new Uint8Array(32).fill(8)) }
}

/** A 1-RTT packet: to the client (empty connection id) or to the server (its 8-byte one). */
function oneRtt(keys: ReturnType<typeof derivePacketKeys>, pn: number, frames: Frame[], keyPhase: 0 | 1 = 0, toServer = false): Uint8Array {
  return sealPacket(c, keys, { type: '1rtt', dcid: toServer ? fromHex('f067a5502a4262b5') : new Uint8Array(0), keyPhase }, pn, encodeFrames(frames))
}

const MS = new TextEncoder().encode('\x13/multistream/1.0.0\n\x11/ipfs/ping/1.0.0\n')
const stream = (offset: number, data: Uint8Array, fin = false): Frame => ({ type: 'stream', streamId: 1, offset, data, fin })

test('1-RTT packets with the logged secrets, a key update followed by the Key Phase bit, stream bytes to messages', () => {
  const { d, events, server, client } = established()
  const k1 = nextPacketKeys(c, server)
  const ping = new Uint8Array(32).fill(9)
  d.datagram('in', oneRtt(server, 0, [stream(0, MS)]))
  d.datagram('out', oneRtt(client, 0, [stream(0, MS)], 0, true))
  d.datagram('in', oneRtt(k1, 1, [stream(MS.length, ping, true)], 1))
  d.datagram('in', oneRtt(k1, 2, [{ type: 'ping' }], 1))
  const packets = events.filter((e) => e.kind === 'quic-packet' && e.packet === '1rtt')
  expect(packets.map((e) => e.kind === 'quic-packet' && [e.dir, e.pn, e.keyPhase, e.undecryptable])).toEqual([['in', 0, 0, undefined], ['out', 0, 0, undefined], ['in', 1, 1, undefined], ['in', 2, 1, undefined]])
  expect(events).toContainEqual({ kind: 'state', layer: 'quic', to: 'key-phase-1', reason: 'server key update (RFC 9001 §6)' })
  expect(events).toContainEqual({ kind: 'state', layer: 'stream', stream: 1, from: 'negotiating', to: 'negotiated', protocol: '/ipfs/ping/1.0.0' })
  expect(events).toContainEqual(expect.objectContaining({ kind: 'message', dir: 'in', stream: 1, protocol: '/ipfs/ping/1.0.0', name: 'Ping' }))
  expect(events).toContainEqual({ kind: 'state', layer: 'stream', stream: 1, to: 'remote-closed' })
})

test('maxOutOfOrderBytes: bytes reaching the limit past the read offset wait for the gap; one byte further stops that stream only', () => {
  const bytes = new Uint8Array([...MS, ...new Uint8Array(300).fill(1)])
  const run = (held: number): TraceBody[] => {
    const { d, events, server } = established({ maxOutOfOrderBytes: 300 })
    d.datagram('in', oneRtt(server, 0, [stream(0, bytes.subarray(0, 1))]))
    d.datagram('in', oneRtt(server, 1, [stream(2, bytes.subarray(2, 2 + held))]))
    d.datagram('in', oneRtt(server, 2, [stream(1, bytes.subarray(1, 2))]))
    return events
  }
  // the read offset is 1 while the bytes [2, 2 + held) wait: they reach 1 + held past it
  expect(run(299).filter((e) => e.kind === 'state' && e.to === 'undecodable')).toEqual([])
  expect(run(299).filter((e) => e.kind === 'multistream').length).toBe(2)
  expect(run(300).filter((e) => e.kind === 'state' && e.to === 'undecodable')).toEqual([{ kind: 'state', layer: 'stream', stream: 1, to: 'undecodable', reason: 'more than 300 bytes out of order (maxOutOfOrderBytes)' }])
})

test('MAX_TRACED_TLS_MESSAGE: a handshake message of the bound is cut out, one byte more stops the reader', () => {
  const msg = (total: number) => {
    const m = new Uint8Array(total)
    const len = total - 4
    m.set([20, len >> 16, (len >> 8) & 0xff, len & 0xff])
    return m
  }
  const ok = new HandshakeReader()
  expect(ok.push(msg(MAX_TRACED_TLS_MESSAGE)).map((m) => m.length)).toEqual([MAX_TRACED_TLS_MESSAGE])
  const past = new HandshakeReader()
  expect(past.push(msg(MAX_TRACED_TLS_MESSAGE + 1).subarray(0, 4))).toEqual([])
  expect(past.failed).toBe(`a handshake message of ${MAX_TRACED_TLS_MESSAGE - 3} bytes (MAX_TRACED_TLS_MESSAGE ${MAX_TRACED_TLS_MESSAGE})`)
})

test('mutated datagrams never make the decoder throw (what cannot be decoded is said in the events)', () => {
  const a2 = fromHex(vec('rfc9001-a2-client-initial').hex!)
  const a3 = fromHex(vec('rfc9001-a3-server-initial').hex!)
  fc.assert(fc.property(
    fc.array(fc.record({ which: fc.integer({ min: 0, max: 2 }), flips: fc.array(fc.tuple(fc.nat(1300), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }), cut: fc.nat(1300), raw: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 6 }),
    (steps) => {
      const { d, events } = established()
      for (const s of steps) {
        const base = s.which === 0 ? a2.slice() : s.which === 1 ? a3.slice() : s.raw
        for (const [at, x] of s.flips) if (base.length > 0) base[at % base.length]! ^= x
        d.datagram(s.which === 0 ? 'out' : 'in', base.subarray(0, Math.max(1, s.cut % (base.length + 1))))
      }
      for (const e of events) JSON.stringify(e)
    },
  ), { numRuns: 300 })
})
