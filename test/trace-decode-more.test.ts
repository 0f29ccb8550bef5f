/**
 * weft trace's protocol decoders (src/trace/decode, spec/trace.md "Protocol messages"): AutoNAT v1
 * and v2, Circuit Relay v2 hop and stop, DCUtR, rendezvous, request-response and perf, fed the spec
 * vectors' bytes and messages built with each module's own encoder, cut at every byte boundary.
 */
import { describe, expect, test } from 'vitest'
import { encodeLp, fromHex, nobleCrypto } from '../src/core/index.js'
import {
  AUTONAT_V1_PROTOCOL, DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL, encodeDialBackResponse, encodeV1Frame, encodeV2Frame,
} from '../src/autonat/index.js'
import { DCUTR_PROTOCOL, encodeHolePunchFrame } from '../src/dcutr/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PERF_PROTOCOL, encodePerfHeader } from '../src/perf/index.js'
import { privateKeyFromSeed, sealPeerRecord } from '../src/peer-id/index.js'
import { encodeHopFrame, encodeStopFrame, HOP_PROTOCOL, STOP_PROTOCOL } from '../src/relay/index.js'
import { encodeRendezvousFrame, RENDEZVOUS_PROTOCOL, sealRendezvousRecord } from '../src/rendezvous/index.js'
import { createDecoder } from '../src/trace/decode/index.js'
import { readVectorFile } from './helpers/vectors.js'
import { decode, everySplit, names } from './trace-decode-helpers.js'

const vec = (file: string, id: string): { bytes: Uint8Array; decoded: any } => {
  const v = readVectorFile(file).vectors.find((x) => x.id === id)
  if (v?.hex === undefined) throw new Error(`${file}.json: no ${id}`)
  return { bytes: fromHex(v.hex), decoded: v.decoded }
}
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(parts.flatMap((p) => [...p]))
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)
const key = privateKeyFromSeed(new Uint8Array(32).fill(3), nobleCrypto)
const peer = key.publicKey.toPeerId()

describe('autonat', () => {
  test('v1: DIAL (autonat.json v1-dial) and DIAL_RESPONSE (v1-frame)', () => {
    const dial = vec('autonat', 'v1-dial')
    expect(everySplit({ protocol: AUTONAT_V1_PROTOCOL }, encodeLp(dial.bytes))).toEqual([{ name: 'DIAL', fields: dial.decoded.peer && { peer: dial.decoded.peer.id, addrs: dial.decoded.peer.addrs } }])
    expect(everySplit({ protocol: AUTONAT_V1_PROTOCOL }, vec('autonat', 'v1-frame').bytes)).toEqual([{ name: 'DIAL_RESPONSE', fields: { status: 'E_INTERNAL_ERROR', statusText: 'internal' } }])
    const ok = encodeV1Frame({ type: 'dial-response', status: 0, addr: ma('/ip4/1.2.3.4/tcp/5') })
    expect(decode({ protocol: AUTONAT_V1_PROTOCOL }, [ok])).toEqual([{ name: 'DIAL_RESPONSE', fields: { status: 'OK', addr: '/ip4/1.2.3.4/tcp/5' } }])
  })

  test('v2: the dial-request stream (v2-frames, and every message from the encoder); dial-back both ways', () => {
    expect(everySplit({ protocol: DIAL_REQUEST_PROTOCOL }, vec('autonat', 'v2-frames').bytes)).toEqual([
      { name: 'DIAL_DATA_REQUEST', fields: { addrIdx: 0, numBytes: 30000 } },
      { name: 'DIAL_RESPONSE', fields: { status: 'OK', addrIdx: 0, dialStatus: 'E_DIAL_ERROR' } },
    ])
    const bytes = cat(
      encodeV2Frame({ type: 'dial-request', addrs: [ma('/ip4/1.2.3.4/tcp/5').bytes], nonce: 2n ** 63n }),
      encodeV2Frame({ type: 'dial-data-response', data: new Uint8Array(100) }),
    )
    expect(everySplit({ protocol: DIAL_REQUEST_PROTOCOL, dir: 'out' }, bytes)).toEqual([
      { name: 'DIAL_REQUEST', fields: { addrs: ['/ip4/1.2.3.4/tcp/5'], nonce: '9223372036854775808' } },
      { name: 'DIAL_DATA_RESPONSE', fields: { dataLength: 100, data: `${'00'.repeat(16)}...(100 bytes)` } },
    ])
    const back = encodeLp(vec('autonat', 'v2-dial-back').bytes)
    for (const hint of [{ opener: true }, {}]) {
      expect(everySplit({ protocol: DIAL_BACK_PROTOCOL, hint }, back)).toEqual([{ name: 'DIAL_BACK', fields: { nonce: '18364758544817573359' } }])
    }
    const response = encodeLp(encodeDialBackResponse())
    for (const hint of [{ opener: false }, {}]) {
      expect(decode({ protocol: DIAL_BACK_PROTOCOL, hint }, [response])).toEqual([{ name: 'DIAL_BACK_RESPONSE', fields: { status: 'OK' } }])
    }
  })

  test('a frame over the limit (v2-frame-too-large) is undecodable', () => {
    expect(names(decode({ protocol: DIAL_REQUEST_PROTOCOL }, [vec('autonat', 'v2-frame-too-large').bytes]))).toEqual(['undecodable'])
    expect(names(decode({ protocol: AUTONAT_V1_PROTOCOL }, [encodeLp(vec('autonat', 'v1-dial-without-dial').bytes)]))).toEqual(['undecodable'])
  })
})

describe('relay', () => {
  test('hop: STATUS OK with a reservation (its voucher opened) and a limit (relay.json hop-status-ok-reservation)', () => {
    const v = vec('relay', 'hop-status-ok-reservation')
    const [m] = everySplit({ protocol: HOP_PROTOCOL }, encodeLp(v.bytes))
    expect(m!.name).toBe('STATUS')
    expect(m!.fields).toMatchObject({
      status: 'OK',
      reservation: { expire: Number(v.decoded.reservation.expire), addrs: v.decoded.reservation.addrs, voucher: { verified: true } },
    })
    expect((m!.fields.reservation as any).voucher.relay).toBe(v.decoded.reservation.addrs[0].split('/p2p/')[1])
  })

  test('hop: RESERVE, then the STATUS; CONNECT hands the stream over: what follows is counted', () => {
    const client = cat(encodeHopFrame({ type: 0 }), encodeHopFrame({ type: 1, peer: { id: peer, addrs: [] } }), new Uint8Array(10))
    expect(everySplit({ protocol: HOP_PROTOCOL, dir: 'out' }, client).map((m) => m.name)[0]).toBe('RESERVE')
    const whole = decode({ protocol: HOP_PROTOCOL }, [client])
    expect(whole).toEqual([
      { name: 'RESERVE', fields: {} },
      { name: 'CONNECT', fields: { peer: { id: peer.toString() } } },
      { name: 'data', fields: { bytes: 10, total: 10 } },
    ])
    // the glued vector: STATUS OK with a limit, then the relayed connection's multistream header
    const glued = vec('relay', 'hop-frame-glued-remainder')
    expect(decode({ protocol: HOP_PROTOCOL }, [glued.bytes])).toEqual([
      { name: 'STATUS', fields: { status: 'OK', limit: { duration: 120, data: 131072 } } },
      { name: 'data', fields: { bytes: glued.decoded.remainderHex.length / 2, total: glued.decoded.remainderHex.length / 2 } },
    ])
  })

  test('stop: CONNECT (relay.json stop-connect) and STATUS', () => {
    const v = vec('relay', 'stop-connect')
    expect(everySplit({ protocol: STOP_PROTOCOL }, encodeLp(v.bytes))).toEqual([
      { name: 'CONNECT', fields: { peer: { id: v.decoded.peer.id }, limit: { duration: 120, data: 131072 } } },
    ])
    expect(decode({ protocol: STOP_PROTOCOL }, [encodeStopFrame({ type: 1, status: 203 })])).toEqual([{ name: 'STATUS', fields: { status: 'CONNECTION_FAILED' } }])
    expect(names(decode({ protocol: STOP_PROTOCOL }, [encodeLp(vec('relay', 'stop-unknown-type').bytes)]))).toEqual(['undecodable'])
    expect(names(decode({ protocol: HOP_PROTOCOL }, [vec('relay', 'hop-frame-too-large').bytes]))).toEqual(['undecodable'])
  })
})

describe('dcutr', () => {
  test('CONNECT with its addresses, then SYNC (dcutr.json frame-connect-then-sync); over 4 KiB is undecodable', () => {
    expect(everySplit({ protocol: DCUTR_PROTOCOL }, vec('dcutr', 'frame-connect-then-sync').bytes)).toEqual([
      { name: 'CONNECT', fields: { obsAddrs: ['/ip4/11.0.0.2/tcp/4001'] } },
      { name: 'SYNC', fields: { obsAddrs: [] } },
    ])
    const own = encodeHolePunchFrame({ type: 100, obsAddrs: [ma('/ip6/2001:db8::1/tcp/1234'), ma('/ip4/1.1.1.1/udp/1/quic-v1')] })
    expect(decode({ protocol: DCUTR_PROTOCOL }, [own])[0]!.fields).toEqual({ obsAddrs: ['/ip6/2001:db8::1/tcp/1234', '/ip4/1.1.1.1/udp/1/quic-v1'] })
    expect(decode({ protocol: DCUTR_PROTOCOL }, [vec('dcutr', 'frame-length-4097').bytes])).toEqual([
      { name: 'undecodable', fields: { reason: expect.stringContaining('lp/too-large'), bytes: 2 } },
    ])
  })
})

describe('rendezvous', () => {
  test('the spec vectors and messages from the encoder, records opened in both layouts', () => {
    expect(everySplit({ protocol: RENDEZVOUS_PROTOCOL }, encodeLp(vec('rendezvous', 'discover-ns-limit').bytes))).toEqual([{ name: 'DISCOVER', fields: { ns: 'a', limit: 10 } }])
    expect(decode({ protocol: RENDEZVOUS_PROTOCOL }, [encodeLp(vec('rendezvous', 'register-response-ok-2h').bytes)])).toEqual([{ name: 'REGISTER_RESPONSE', fields: { status: 'OK', ttl: 7200 } }])
    const record = { peerId: peer, seq: 5n, addrs: [ma('/ip4/9.9.9.9/tcp/9')] }
    const standard = sealPeerRecord(key, record, nobleCrypto).bytes
    const legacy = sealRendezvousRecord(key, record, nobleCrypto, 'rust-legacy')
    const seen = { peerId: peer.toString(), seq: 5, addrs: ['/ip4/9.9.9.9/tcp/9'], verified: true }
    const bytes = cat(
      encodeRendezvousFrame({ type: 0, register: { ns: 'chat', ttl: 60, signedPeerRecord: standard } }),
      encodeRendezvousFrame({ type: 4, discoverResponse: { status: 0, registrations: [{ ns: 'chat', ttl: 30, signedPeerRecord: legacy }], cookie: Uint8Array.of(1, 2) } }),
      encodeRendezvousFrame({ type: 2, unregister: { ns: 'chat' } }),
    )
    const out = decode({ protocol: RENDEZVOUS_PROTOCOL }, [bytes])
    expect(out).toEqual([
      { name: 'REGISTER', fields: { ns: 'chat', ttl: 60, signedPeerRecord: { ...seen, bytes: standard.length } } },
      { name: 'DISCOVER_RESPONSE', fields: { status: 'OK', registrations: [{ ns: 'chat', ttl: 30, signedPeerRecord: { ...seen, bytes: legacy.length } }], cookie: '0102' } },
      { name: 'UNREGISTER', fields: { ns: 'chat' } },
    ])
    expect(names(decode({ protocol: RENDEZVOUS_PROTOCOL }, [encodeLp(vec('rendezvous', 'unknown-status').bytes)]))).toEqual(['undecodable'])
  })
})

describe('request-response', () => {
  const rr = (codec: string | undefined, framing: 'eof' | 'length-prefixed') => ({ requestResponse: { '/app/1': { codec, framing } } })

  test('no hint: an unknown protocol has no decoder', () => {
    expect(createDecoder('/app/1', 'out')).toBeUndefined()
  })

  test('EOF framing: the message at end(), decoded by the codec (reqresp.json)', () => {
    const cborReq = vec('reqresp', 'eof-cbor-request-weft-deterministic')
    const out = everySplit({ protocol: '/app/1', options: rr('cbor', 'eof'), hint: { opener: true }, end: true }, cborReq.bytes)
    expect(out).toEqual([{ name: 'Request', fields: { length: cborReq.bytes.length, codec: 'cbor', value: { ...cborReq.decoded, payload: 'aa' } } }])
    const jsonRes = vec('reqresp', 'eof-json-response')
    expect(decode({ protocol: '/app/1', options: rr('json', 'eof'), hint: { opener: false }, end: true }, [jsonRes.bytes])).toEqual([
      { name: 'Response', fields: { length: jsonRes.bytes.length, codec: 'json', value: jsonRes.decoded } },
    ])
    // nothing before EOF; a raw codec shows the length only
    expect(decode({ protocol: '/app/1', options: rr('cbor', 'eof') }, [cborReq.bytes])).toEqual([])
    expect(decode({ protocol: '/app/1', options: rr('raw', 'eof'), end: true }, [cborReq.bytes])).toEqual([{ name: 'Message', fields: { length: cborReq.bytes.length, codec: 'raw' } }])
  })

  test('length-prefixed framing: the message as soon as it is in; undecodable values shown as hex', () => {
    const lp = vec('reqresp', 'lp-json-request')
    expect(everySplit({ protocol: '/app/1', options: rr('json', 'length-prefixed'), hint: { opener: true } }, lp.bytes)).toEqual([
      { name: 'Request', fields: { length: lp.bytes.length - 1, codec: 'json', value: lp.decoded } },
    ])
    const lpc = vec('reqresp', 'lp-cbor-response')
    expect(decode({ protocol: '/app/1', options: rr('cbor', 'length-prefixed'), hint: { opener: false } }, [lpc.bytes])[0]!.fields.value).toEqual({ id: 1, payload: '00000000' })
    const bad = decode({ protocol: '/app/1', options: rr('json', 'length-prefixed') }, [Uint8Array.of(2, 0x7b, 0x7b)])
    expect(bad[0]!.fields).toMatchObject({ length: 2, hex: '7b7b', decodeError: expect.any(String) })
    expect(names(decode({ protocol: '/app/1', options: rr('json', 'length-prefixed'), hint: { opener: true } }, [vec('reqresp', 'lp-prefix-one-past-default-request-cap').bytes]))).toEqual(['undecodable'])
  })
})

describe('perf', () => {
  test("the client's size header (perf.json header-1MiB), then byte counts; the server's side: counts only", () => {
    const v = vec('perf', 'header-1MiB')
    const out = everySplit({ protocol: PERF_PROTOCOL, hint: { opener: true } }, cat(v.bytes, new Uint8Array(5)))
    expect(out[0]).toEqual({ name: 'PerfRequest', fields: { downloadBytes: 1048576 } })
    expect(out.slice(1).every((m) => m.name === 'data')).toBe(true)
    expect(out.at(-1)!.fields.total).toBe(5)
    expect(decode({ protocol: PERF_PROTOCOL, dir: 'in', hint: { opener: false } }, [new Uint8Array(8), new Uint8Array(3)])).toEqual([
      { name: 'data', fields: { bytes: 8, total: 8 } },
      { name: 'data', fields: { bytes: 3, total: 11 } },
    ])
    // no hint: 'out' is taken for the client
    expect(decode({ protocol: PERF_PROTOCOL, dir: 'out' }, [encodePerfHeader(2n ** 64n - 1n)])).toEqual([{ name: 'PerfRequest', fields: { downloadBytes: '18446744073709551615' } }])
    expect(names(decode({ protocol: PERF_PROTOCOL, dir: 'out', end: true }, [new Uint8Array(3)]))).toEqual(['undecodable'])
  })
})
