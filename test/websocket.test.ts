/**
 * The RFC 6455 core (src/websocket): the spec's vectors, masking against the byte loop at every
 * alignment, the decoder at every split point, its limits at the limit and one past, every protocol
 * violation's ProtocolError code and close status, and the endpoint's control frames.
 */
import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import {
  FrameDecoder, OPCODE, WebSocketEndpoint, acceptKey, encodeFrame, frameHeaderLength, mask, writeFrameHeader,
  type ControlFrame, type Opcode,
} from '../src/websocket/index.js'
import { concat, fromHex, toHex } from '../src/core/bytes.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('websocket')
const sha1 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(b).digest())
let seed = 1
const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24)

/** The reference: RFC 6455 §5.3 byte by byte. */
function byteMask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  for (let i = 0; i < data.length; i++) data[i]! ^= key[(phase + i) & 3]!
}

interface Decoded { data: Uint8Array; controls: ControlFrame[] }
function decodeAll(chunks: Uint8Array[], server: boolean, maxMessageBytes = 1 << 20): Decoded {
  const d = new FrameDecoder({ server, maxMessageBytes })
  const data: Uint8Array[] = []
  const controls: ControlFrame[] = []
  for (const c of chunks) d.push(c.slice(), (b) => data.push(b.slice()), (f) => controls.push(f))
  return { data: concat(data), controls }
}

function errorOf(f: () => unknown): { name?: string; code?: string } {
  try {
    f()
  } catch (e) {
    return e as { name: string; code: string }
  }
  return {}
}

const asBinary = (frame: Uint8Array): Uint8Array => {
  const b = frame.slice()
  if ((b[0]! & 0x0f) === OPCODE.text) b[0] = (b[0]! & 0xf0) | OPCODE.binary
  return b
}

describe('RFC 6455 §5.7 vectors', () => {
  for (const v of vectors.where((v) => v.hex !== undefined && v.decoded?.payload !== undefined)) {
    test(v.id, () => {
      const { fin, opcode, key, payload } = v.decoded as { fin: boolean; opcode: Opcode; key?: string; payload: string }
      // the codec produces the spec's bytes
      expect(toHex(encodeFrame(opcode, fromHex(payload), key === undefined ? undefined : fromHex(key), fin))).toBe(v.hex)
      const bytes = fromHex(v.hex!)
      const server = key !== undefined
      if (opcode === OPCODE.text) {
        // weft refuses text messages; the same frame as binary decodes to the payload
        expect(errorOf(() => decodeAll([bytes], server))).toMatchObject({ name: 'ProtocolError', code: 'websocket/text-message' })
        expect(toHex(decodeAll([asBinary(bytes)], server).data)).toBe(payload)
      } else {
        const out = decodeAll([bytes], server)
        expect(out.controls).toEqual([{ opcode, payload: fromHex(payload) }])
      }
    })
  }

  test('hello-fragmented: a continuation frame continues the message', () => {
    const v = vectors.get('hello-fragmented')
    const frames = v.steps!.map((s: { hex: string; decoded: { fin: boolean; opcode: Opcode; payload: string } }) => {
      expect(toHex(encodeFrame(s.decoded.opcode, fromHex(s.decoded.payload), undefined, s.decoded.fin))).toBe(s.hex)
      return fromHex(s.hex)
    })
    expect(toHex(decodeAll(frames.map(asBinary), false).data)).toBe('48656c6c6f')
    expect(errorOf(() => decodeAll(frames, false))).toMatchObject({ code: 'websocket/text-message' })
  })

  for (const id of ['binary-256', 'binary-64k']) {
    test(`${id}: extended payload length`, () => {
      const v = vectors.get(id)
      const { length } = v.decoded as { length: number }
      const header = new Uint8Array(frameHeaderLength(length, false))
      writeFrameHeader(header, 0, true, OPCODE.binary, length)
      expect(toHex(header)).toBe(v.hex)
      const payload = random(length)
      const out = decodeAll([concat([header, payload])], false)
      expect(out.data).toEqual(payload)
    })
  }

  test('ping-unmasked: a client answers with a masked pong of the same body', () => {
    const ep = new WebSocketEndpoint({ server: false, maxMessageBytes: 1000, randomBytes: () => fromHex('37fa213d'.repeat(64)) })
    ep.receive(fromHex(vectors.get('ping-unmasked').hex!), () => {})
    expect(ep.takeOutput().map(toHex)).toEqual([vectors.get('pong-masked').hex])
  })

  test('accept-key: §1.3 example', () => {
    const { key, accept } = vectors.get('accept-key').decoded as { key: string; accept: string }
    expect(acceptKey(key, sha1)).toBe(accept)
  })
})

describe('masking', () => {
  test('word-wise equals the byte loop at every alignment, phase and length', () => {
    const key = Uint8Array.of(0x12, 0x34, 0xab, 0xcd)
    const backing = new Uint8Array(400)
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 7) & 0xff
    const bad: string[] = []
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 300; length++) {
        for (let phase = 0; phase < 4; phase++) {
          const a = backing.slice().subarray(offset, offset + length)
          const b = backing.slice().subarray(offset, offset + length)
          mask(a, key, phase)
          byteMask(b, key, phase)
          if (toHex(a) !== toHex(b)) bad.push(`offset ${offset} length ${length} phase ${phase}`)
        }
      }
    }
    expect(bad).toEqual([])
  })

  test('random keys and slices (fast-check); masking twice is the identity', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(7), fc.nat(3), (bytes, key, off, phase) => {
      const buf = new Uint8Array(bytes.length + 8)
      buf.set(bytes, off)
      const a = buf.subarray(off, off + bytes.length)
      const b = a.slice()
      mask(a, key, phase)
      byteMask(b, key, phase)
      expect(a).toEqual(b)
      mask(a, key, phase)
      expect(a).toEqual(bytes)
    }))
  })
})

type Piece = { kind: 'data'; payload: Uint8Array; fragments: number } | { kind: 'ping' | 'pong'; payload: Uint8Array }
const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), payload: fc.uint8Array({ maxLength: 300 }), fragments: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constantFrom('ping' as const, 'pong' as const), payload: fc.uint8Array({ maxLength: 125 }) }),
)
function encodePieces(pieces: Piece[], masked: boolean): Uint8Array {
  const key = masked ? Uint8Array.of(1, 2, 3, 4) : undefined
  const frames: Uint8Array[] = []
  for (const p of pieces) {
    if (p.kind !== 'data') {
      frames.push(encodeFrame(p.kind === 'ping' ? OPCODE.ping : OPCODE.pong, p.payload, key))
      continue
    }
    const cut = Math.floor(p.payload.length / p.fragments)
    for (let i = 0; i < p.fragments; i++) {
      const part = p.payload.subarray(i * cut, i === p.fragments - 1 ? p.payload.length : (i + 1) * cut)
      frames.push(encodeFrame(i === 0 ? OPCODE.binary : OPCODE.continuation, part, key, i === p.fragments - 1))
    }
  }
  return concat(frames)
}

describe('decoder', () => {
  test('every split point gives the same bytes and control frames (fast-check)', () => {
    fc.assert(fc.property(fc.array(piece, { maxLength: 6 }), fc.boolean(), (pieces, server) => {
      const wire = encodePieces(pieces, server)
      const want = concat(pieces.flatMap((p) => (p.kind === 'data' ? [p.payload] : [])))
      const controls = pieces.flatMap((p) => (p.kind === 'data' ? [] : [{ opcode: p.kind === 'ping' ? OPCODE.ping : OPCODE.pong, payload: p.payload }]))
      const step = Math.max(1, Math.floor(wire.length / 40))
      for (let at = 0; at <= wire.length; at += step) {
        const out = decodeAll([wire.subarray(0, at), wire.subarray(at)], server)
        expect(out.data).toEqual(want)
        expect(out.controls).toEqual(controls)
      }
      const bytewise = decodeAll(Array.from(wire, (b) => Uint8Array.of(b)), server)
      expect(bytewise.data).toEqual(want)
    }), { numRuns: 60 })
  })

  test('maxMessageBytes: a message (one frame or fragmented) of exactly the limit passes; one byte more is websocket/message-too-large', () => {
    for (const fragments of [1, 2, 5]) {
      const at = encodePieces([{ kind: 'data', payload: new Uint8Array(1000), fragments }], true)
      expect(decodeAll([at], true, 1000).data.length).toBe(1000)
      const past = encodePieces([{ kind: 'data', payload: new Uint8Array(1001), fragments }], true)
      let got = 0
      const d = new FrameDecoder({ server: true, maxMessageBytes: 1000 })
      expect(errorOf(() => d.push(past, (b) => { got += b.length }, () => {}))).toMatchObject({ name: 'ProtocolError', code: 'websocket/message-too-large' })
      expect(got).toBeLessThanOrEqual(1000)
    }
    // the limit is per message: two messages of the limit pass
    const two = encodePieces([{ kind: 'data', payload: new Uint8Array(1000), fragments: 2 }, { kind: 'data', payload: new Uint8Array(1000), fragments: 1 }], false)
    expect(decodeAll([two], false, 1000).data.length).toBe(2000)
  })

  test('control frames: 125 bytes pass, 126 are websocket/control-too-large', () => {
    expect(decodeAll([encodeFrame(OPCODE.ping, new Uint8Array(125))], false).controls[0]!.payload.length).toBe(125)
    expect(errorOf(() => decodeAll([encodeFrame(OPCODE.ping, new Uint8Array(126))], false))).toMatchObject({ code: 'websocket/control-too-large' })
  })

  const violations: Array<[string, string, boolean, string, number]> = [
    // [what, frame hex, server end?, code, close status]
    ['RSV1 set', 'c100', false, 'websocket/reserved-bits', 1002],
    ['RSV3 set', '9100', false, 'websocket/reserved-bits', 1002],
    ['data opcode 3', '8300', false, 'websocket/bad-opcode', 1002],
    ['control opcode 0xb', '8b00', false, 'websocket/bad-opcode', 1002],
    ['a fragmented ping', '0900', false, 'websocket/fragmented-control', 1002],
    ['an unmasked frame to a server', '820100', true, 'websocket/unmasked-frame', 1002],
    ['a masked frame to a client', '828001020304', false, 'websocket/masked-frame', 1002],
    ['a 64-bit length with its top bit', '827f8000000000000000', false, 'websocket/bad-length', 1002],
    ['a continuation outside a message', '800100', false, 'websocket/unexpected-continuation', 1002],
    ['a new message inside one', '020100820100', false, 'websocket/expected-continuation', 1002],
    ['a text message', '810161', false, 'websocket/text-message', 1003],
    ['a close with a 1-byte body', '880103', false, 'websocket/bad-close', 1002],
    ['close status 1005', '880203ed', false, 'websocket/bad-close', 1002],
    ['close status 999', '880203e7', false, 'websocket/bad-close', 1002],
    ['a close reason that is not UTF-8', '880303e8ff', false, 'websocket/bad-close', 1002],
    ['a 2^53-byte frame', '827f0020000000000000', false, 'websocket/message-too-large', 1009],
  ]
  for (const [what, hex, server, code, status] of violations) {
    test(`${what} -> ${code}, close ${status}`, () => {
      const ep = new WebSocketEndpoint({ server, maxMessageBytes: 1 << 20, randomBytes: random })
      expect(errorOf(() => ep.receive(fromHex(hex), () => {}))).toMatchObject({ name: 'ProtocolError', protocol: 'websocket', code })
      const out = ep.takeOutput()
      expect(out.length).toBe(1)
      const close = decodeAll(out, !server).controls[0]!
      expect(close.opcode).toBe(OPCODE.close)
      expect((close.payload[0]! << 8) | close.payload[1]!).toBe(status)
      // nothing more is decoded or answered
      ep.receive(encodeFrame(OPCODE.ping, new Uint8Array(1), server ? Uint8Array.of(1, 2, 3, 4) : undefined), () => {})
      expect(ep.takeOutput()).toEqual([])
    })
  }
})

describe('endpoint', () => {
  test('close handshake: a received close is echoed with its status, once; ours is not answered again', () => {
    const ep = new WebSocketEndpoint({ server: true, maxMessageBytes: 100 })
    ep.receive(encodeFrame(OPCODE.close, Uint8Array.of(0x03, 0xe8, 0x62, 0x79, 0x65), Uint8Array.of(9, 9, 9, 9)), () => {})
    expect(ep.remoteClose?.code).toBe(1000)
    expect(ep.takeOutput().map(toHex)).toEqual(['880203e8'])
    ep.close()
    expect(ep.takeOutput()).toEqual([])

    const us = new WebSocketEndpoint({ server: false, maxMessageBytes: 100, randomBytes: random })
    us.close(1000)
    expect(decodeAll(us.takeOutput(), true).controls).toEqual([{ opcode: OPCODE.close, payload: Uint8Array.of(3, 0xe8) }])
    us.receive(fromHex('8800'), () => {})
    expect(us.remoteClose).toEqual({ code: undefined, reason: new Uint8Array(0) })
    expect(us.takeOutput()).toEqual([])
    expect(errorOf(() => us.frameData([new Uint8Array(1)]))).toMatchObject({ name: 'UsageError', code: 'websocket/closed' })
  })

  test('frameData: pieces become frames of at most maxFrameBytes; a client masks a copy, the caller\'s bytes untouched', () => {
    const pieces = [random(5), new Uint8Array(0), random(700), random(3), random(301)]
    const before = pieces.map((p) => p.slice())
    const all = concat(pieces)
    for (const server of [true, false]) {
      const ep = new WebSocketEndpoint({ server, maxMessageBytes: 1 << 20, randomBytes: random, maxFrameBytes: 256 })
      const frames = ep.frameData(pieces)
      const out = decodeAll(frames, !server)
      expect(out.data).toEqual(all)
      expect(pieces).toEqual(before)
      if (server) expect(frames.some((f) => pieces.includes(f))).toBe(true) // zero-copy pieces
      // 1009 bytes in frames of <= 256: 4 whole + 1 partial, each FIN binary
      let messages = 0
      for (let at = 0, f = concat(frames); at < f.length; messages++) {
        expect(f[at]).toBe(0x82)
        const len = f[at + 1]! & 0x7f
        const n = len === 126 ? (f[at + 2]! << 8) | f[at + 3]! : len
        at += (len === 126 ? 4 : 2) + (server ? 0 : 4) + n
      }
      expect(messages).toBe(4)
    }
  })

  test('a client draws a fresh masking key per frame from its random source', () => {
    let drawn = 0
    const ep = new WebSocketEndpoint({ server: false, maxMessageBytes: 1000, randomBytes: (n) => { drawn += n; return random(n) } })
    const keys = new Set<string>()
    for (let i = 0; i < 100; i++) keys.add(toHex(ep.frameData([new Uint8Array(1)])[0]!.subarray(2, 6)))
    expect(keys.size).toBe(100)
    expect(drawn).toBeGreaterThanOrEqual(400)
    expect(() => new WebSocketEndpoint({ server: false, maxMessageBytes: 1 })).toThrow(TypeError)
  })
})
