/** AutoNAT v1 / v2 codecs against spec/vectors/autonat.json, plus encoder guards and the frame decoder's bound. */
import { describe, expect, test } from 'vitest'
import { fromHex, toHex } from '../src/core/bytes.js'
import { ProtocolError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId } from '../src/peer-id/index.js'
import {
  DEFAULT_V2_LIMITS, decodeDialBack, decodeDialBackResponse, decodeV2Message, encodeDialBack, encodeDialBackResponse, encodeV2Message, v2FrameDecoder, type V2Message,
} from '../src/autonat/message-v2.js'
import { decodeV1Message, encodeV1Message, v1FrameDecoder, type V1Message } from '../src/autonat/message-v1.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('autonat')

function viewV2(m: V2Message): unknown {
  switch (m.type) {
    case 'dial-request': return { type: m.type, addrs: m.addrs.map((a) => Multiaddr.fromBytes(a).toString()), nonce: m.nonce.toString() }
    case 'dial-data-request': return { type: m.type, addrIdx: m.addrIdx, numBytes: m.numBytes.toString() }
    case 'dial-data-response': return { type: m.type, data: toHex(m.data) }
    default: return m
  }
}

function viewV1(m: V1Message): unknown {
  if (m.type === 'dial') return { type: m.type, peer: { id: m.peer.id.toString(), addrs: m.peer.addrs.map((a) => Multiaddr.fromBytes(a).toString()) } }
  return { ...m, ...(m.addr !== undefined ? { addr: m.addr.toString() } : {}) }
}

function fromViewV2(d: any): V2Message {
  switch (d.type) {
    case 'dial-request': return { type: d.type, addrs: d.addrs.map((a: string) => Multiaddr.fromString(a).bytes), nonce: BigInt(d.nonce) }
    case 'dial-data-request': return { type: d.type, addrIdx: d.addrIdx, numBytes: BigInt(d.numBytes) }
    case 'dial-data-response': return { type: d.type, data: fromHex(d.data) }
    default: return d
  }
}

function fromViewV1(d: any): V1Message {
  if (d.type === 'dial') return { type: 'dial', peer: { id: PeerId.parse(d.peer.id), addrs: d.peer.addrs.map((a: string) => Multiaddr.fromString(a).bytes) } }
  return { ...d, ...(d.addr !== undefined ? { addr: Multiaddr.fromString(d.addr) } : {}) }
}

function decode(kind: string, bytes: Uint8Array): unknown {
  switch (kind) {
    case 'v2': return viewV2(decodeV2Message(bytes))
    case 'v1': return viewV1(decodeV1Message(bytes))
    case 'dial-back': return { nonce: decodeDialBack(bytes).nonce.toString() }
    case 'dial-back-response': return decodeDialBackResponse(bytes)
    case 'v2-frames': case 'v1-frames': {
      const out: unknown[] = []
      if (kind === 'v2-frames') {
        const d = v2FrameDecoder()
        d.push(bytes)
        for (let m = d.next(); m !== undefined; m = d.next()) out.push(viewV2(m))
      } else {
        const d = v1FrameDecoder()
        d.push(bytes)
        for (let m = d.next(); m !== undefined; m = d.next()) out.push(viewV1(m))
      }
      return out
    }
    default: throw new Error(`unknown kind ${kind}`)
  }
}

function encode(kind: string, d: any): string | undefined {
  switch (kind) {
    case 'v2': return toHex(encodeV2Message(fromViewV2(d)))
    case 'v1': return toHex(encodeV1Message(fromViewV1(d)))
    case 'dial-back': return toHex(encodeDialBack(BigInt(d.nonce)))
    case 'dial-back-response': return toHex(encodeDialBackResponse(d.status))
    default: return undefined
  }
}

describe('AutoNAT vectors', () => {
  for (const v of vectors.all()) {
    test(`${v.id}${v.error !== undefined ? ` -> ${v.error}` : ''}`, () => {
      const bytes = fromHex(v.hex!)
      const kind = v.kind as string
      if (v.error !== undefined) {
        let err: unknown
        try {
          decode(kind, bytes)
        } catch (e) {
          err = e
        }
        expect(err).toBeInstanceOf(ProtocolError)
        expect((err as ProtocolError).protocol).toBe('autonat')
        expect((err as ProtocolError).code).toBe(v.error)
        return
      }
      expect(decode(kind, bytes)).toEqual(v.decoded)
      const again = encode(kind, v.decoded)
      if (again !== undefined) expect(again).toBe(v.hex)
    })
  }
})

describe('AutoNAT codec details', () => {
  test('frames arrive in any chunking (byte by byte)', () => {
    const a = encodeV2Message({ type: 'dial-data-request', addrIdx: 0, numBytes: 40_000n })
    const b = encodeV2Message({ type: 'dial-response', status: 200, addrIdx: 0, dialStatus: 200 })
    const d = v2FrameDecoder()
    const stream = new Uint8Array([a.length, ...a, b.length, ...b])
    const got: V2Message[] = []
    for (const x of stream) {
      d.push(Uint8Array.of(x))
      for (let m = d.next(); m !== undefined; m = d.next()) got.push(m)
    }
    expect(got.map((m) => m.type)).toEqual(['dial-data-request', 'dial-response'])
  })

  test('a message of exactly maxMessageSize decodes; one byte more is refused', () => {
    const at = { type: 'dial-request' as const, addrs: [new Uint8Array(0)], nonce: 1n }
    // pad with an unknown field to reach the size exactly
    const base = encodeV2Message(at)
    const pad = DEFAULT_V2_LIMITS.maxMessageSize - base.length - 3 // tag (1) + 2-byte length
    const body = new Uint8Array([...base, 0x2a, (pad & 0x7f) | 0x80, pad >> 7, ...new Uint8Array(pad)])
    expect(body.length).toBe(DEFAULT_V2_LIMITS.maxMessageSize)
    expect(decodeV2Message(body).type).toBe('dial-request')
    const over = new Uint8Array([...base, 0x2a, ((pad + 1) & 0x7f) | 0x80, (pad + 1) >> 7, ...new Uint8Array(pad + 1)])
    expect(() => decodeV2Message(over)).toThrow(expect.objectContaining({ code: 'autonat/message-too-large' }))
  })

  test('maxAddrs: 64 addresses decode, 65 are refused', () => {
    const a = Multiaddr.fromString('/ip4/198.51.100.7/tcp/1').bytes
    expect(decodeV2Message(encodeV2Message({ type: 'dial-request', addrs: Array(64).fill(a), nonce: 0n }))).toMatchObject({ type: 'dial-request' })
    expect(() => decodeV2Message(encodeV2Message({ type: 'dial-request', addrs: Array(65).fill(a), nonce: 0n }))).toThrow(expect.objectContaining({ code: 'autonat/too-many-addrs' }))
    expect(() => decodeV1Message(encodeV1Message({ type: 'dial', peer: { id: PeerId.parse('12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7'), addrs: Array(65).fill(a) } }))).toThrow(expect.objectContaining({ code: 'autonat/too-many-addrs' }))
  })

  test('encoders refuse values the wire cannot carry (RangeError)', () => {
    expect(() => encodeV2Message({ type: 'dial-request', addrs: [], nonce: -1n })).toThrow(RangeError)
    expect(() => encodeV2Message({ type: 'dial-request', addrs: [], nonce: 1n << 64n })).toThrow(RangeError)
    expect(() => encodeV2Message({ type: 'dial-data-request', addrIdx: -1, numBytes: 1n })).toThrow(RangeError)
    expect(() => encodeDialBack(-5n)).toThrow(RangeError)
    expect(() => encodeV1Message({ type: 'dial-response', status: 1.5 })).toThrow(RangeError)
  })

  test('the largest nonce round-trips', () => {
    const n = (1n << 64n) - 1n
    expect(decodeDialBack(encodeDialBack(n)).nonce).toBe(n)
    expect((decodeV2Message(encodeV2Message({ type: 'dial-request', addrs: [], nonce: n })) as { nonce: bigint }).nonce).toBe(n)
  })
})
