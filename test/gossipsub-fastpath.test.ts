// The gossipsub hot paths against their general counterparts: the publish-only RPC decoder
// (rpc-publish.ts) against decodeRpc, the one-allocation frame encoder against encodePubsubMessage +
// frameMessage, signedBytes against stripSignatureFields, frame joining at flush against the frames one
// by one, and the short-input SHA-256 against @noble/hashes.
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { sha256Short } from '../src/core/crypto/sha256-short.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { ProtocolError } from '../src/core/errors.js'
import { concat, toHex } from '../src/core/bytes.js'
import { encodeLp, LpDecoder } from '../src/core/lp.js'
import { DEFAULT_RPC_DECODE_LIMITS, decodeRpc, encodePubsubMessage, encodeRpc, frameMessage, SIGN_PREFIX, stripSignatureFields, type PubsubMessage, type Rpc } from '../src/gossipsub/index.js'
import { decodePublishRpc, encodePublishFrame, signedBytes, TopicNames } from '../src/gossipsub/rpc-publish.js'
import { joinFrames } from '../src/gossipsub/send.js'
import { Slab } from '../src/core/slab.js'

const RUNS = { numRuns: 300, seed: 7 }
const bytes = fc.uint8Array({ maxLength: 70 })
const topic = fc.oneof(fc.constantFrom('t', 'news', 'bench'), fc.string({ minLength: 1, maxLength: 12 }))
const arbMessage: fc.Arbitrary<PubsubMessage> = fc.record(
  { from: bytes, data: bytes, seqno: bytes, topic, signature: bytes, key: bytes },
  { requiredKeys: ['topic'] },
)

const plain = (rpc: Rpc) => ({
  subscriptions: rpc.subscriptions,
  messages: rpc.messages.map(({ msg, raw }) => ({ raw: toHex(raw), msg: Object.fromEntries(Object.entries(msg).map(([k, v]) => [k, typeof v === 'string' ? v : toHex(v as Uint8Array)])) })),
  control: rpc.control,
})

describe('decodePublishRpc', () => {
  test('publish-only RPCs decode exactly as decodeRpc does, fields as views of the frame', () => {
    fc.assert(fc.property(fc.array(arbMessage, { maxLength: 5 }), (msgs) => {
      const frame = encodeRpc({ messages: msgs.map(encodePubsubMessage) })
      const fast = decodePublishRpc(frame, DEFAULT_RPC_DECODE_LIMITS, new TopicNames())
      expect(fast).toBeDefined()
      expect(plain(fast!)).toEqual(plain(decodeRpc(frame)))
      for (const { raw } of fast!.messages) expect(raw.buffer).toBe(frame.buffer)
    }), RUNS)
  })

  test('any bytes: either undefined, or what decodeRpc yields (never an error, never a different result)', () => {
    const base = encodeRpc({ messages: [encodePubsubMessage({ topic: 'news', data: Uint8Array.of(1, 2, 3) }), encodePubsubMessage({ topic: 'x', from: Uint8Array.of(9) })] })
    const mutated = fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(base.length)).map(([i, b, cut]) => {
      const m = base.slice(0, Math.max(cut, 1))
      if (i < m.length) m[i] = b
      return m
    })
    fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 60 })), (frame) => {
      const fast = decodePublishRpc(frame, DEFAULT_RPC_DECODE_LIMITS, new TopicNames())
      if (fast === undefined) return
      expect(plain(fast)).toEqual(plain(decodeRpc(frame)))
    }), { numRuns: 3000, seed: 11 })
  })

  test('other shapes and limits fall back to decodeRpc (which raises the errors)', () => {
    const names = new TopicNames()
    expect(decodePublishRpc(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'a' }] }), DEFAULT_RPC_DECODE_LIMITS, names)).toBeUndefined()
    expect(decodePublishRpc(encodeRpc({ control: { graft: [{ topic: 'a' }] } }), DEFAULT_RPC_DECODE_LIMITS, names)).toBeUndefined()
    const noTopic = Uint8Array.of(0x12, 0x02, 0x12, 0x00) // publish { data: '' }
    expect(decodePublishRpc(noTopic, DEFAULT_RPC_DECODE_LIMITS, names)).toBeUndefined()
    expect(() => decodeRpc(noTopic)).toThrow(ProtocolError)
    const badUtf8 = Uint8Array.of(0x12, 0x03, 0x22, 0x01, 0xff)
    expect(decodePublishRpc(badUtf8, DEFAULT_RPC_DECODE_LIMITS, names)).toBeUndefined()
    expect(() => decodeRpc(badUtf8)).toThrow(ProtocolError)
    const three = encodeRpc({ messages: [1, 2, 3].map((i) => encodePubsubMessage({ topic: 't', data: Uint8Array.of(i) })) })
    const limits = { ...DEFAULT_RPC_DECODE_LIMITS, maxMessages: 2 }
    expect(decodePublishRpc(three, limits, names)).toBeUndefined()
    expect(() => decodeRpc(three, limits)).toThrow(ProtocolError)
  })
})

describe('encodePublishFrame', () => {
  test('is frameMessage(encodePubsubMessage(m)), raw a view of the frame', () => {
    fc.assert(fc.property(arbMessage, (m) => {
      const { frame, raw } = encodePublishFrame(m)
      expect(toHex(raw)).toBe(toHex(encodePubsubMessage(m)))
      expect(toHex(frame)).toBe(toHex(frameMessage(encodePubsubMessage(m))))
      expect(raw.buffer).toBe(frame.buffer)
    }), RUNS)
  })
})

describe('signedBytes', () => {
  test('is SIGN_PREFIX || stripSignatureFields(raw)', () => {
    fc.assert(fc.property(arbMessage, (m) => {
      const raw = encodePubsubMessage(m)
      expect(toHex(signedBytes(SIGN_PREFIX, raw))).toBe(toHex(concat([SIGN_PREFIX, stripSignatureFields(raw)])))
    }), RUNS)
  })
  test('a truncated Message is a ProtocolError', () => {
    const raw = encodePubsubMessage({ topic: 'news', data: Uint8Array.of(1, 2, 3, 4) })
    for (let cut = 1; cut < raw.length; cut++) {
      try {
        signedBytes(SIGN_PREFIX, raw.subarray(0, cut))
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }
  })
})

describe('joinFrames', () => {
  const decodeAll = (buf: Uint8Array): Rpc[] => {
    const d = new LpDecoder(1 << 20, 'test')
    d.push(buf)
    const out: Rpc[] = []
    for (let f = d.next(); f !== undefined; f = d.next()) out.push(decodeRpc(f))
    return out
  }
  const flat = (rpcs: Rpc[]) => rpcs.map(plain).flatMap((r) => [...r.subscriptions.map((s) => ({ s })), ...r.messages.map((m) => ({ m })), ...(r.control !== undefined ? [{ c: r.control }] : [])])

  test('joined frames carry the same Messages, subscriptions and control in the same order', () => {
    const frame = fc.oneof(
      arbMessage.map((m) => frameMessage(encodePubsubMessage(m))),
      topic.map((t) => encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: t }] }))),
      topic.map((t) => encodeLp(encodeRpc({ control: { graft: [{ topic: t }] } }))),
    )
    fc.assert(fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 400 }), (frames, maxRpc) => {
      const total = frames.reduce((n, f) => n + f.length, 0)
      const joined = joinFrames(frames.map((f) => ({ frame: f })), total, maxRpc)
      expect(joined.length).toBeLessThanOrEqual(total)
      expect(flat(decodeAll(joined))).toEqual(flat(decodeAll(concat(frames))))
      // a joined RPC stays within maxRpc unless one Message alone is larger
      for (const rpc of decodeAll(joined)) if (rpc.messages.length > 1) expect(rpc.messages.reduce((n, m) => n + m.raw.length + 3, 0)).toBeLessThanOrEqual(maxRpc + 3 * rpc.messages.length)
    }), RUNS)
  })

  test('1,000 queued Messages become two RPCs (512 Messages per RPC at most)', () => {
    const frames = Array.from({ length: 1000 }, (_, i) => ({ frame: frameMessage(encodePubsubMessage({ topic: 'bench', data: Uint8Array.of(i & 255) })) }))
    const total = frames.reduce((n, f) => n + f.frame.length, 0)
    const rpcs = decodeAll(joinFrames(frames, total, 64_000))
    expect(rpcs.map((r) => r.messages.length)).toEqual([512, 488])
  })
})

describe('sha256Short', () => {
  test('equals @noble/hashes for 0..300 bytes, and the node provider uses it below 120', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      expect(toHex(sha256Short(b))).toBe(toHex(nobleCrypto.sha256(b)))
      expect(toHex(nodeCrypto.sha256(b))).toBe(toHex(nobleCrypto.sha256(b)))
    }), { numRuns: 500, seed: 3 })
    for (let n = 0; n < 200; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255)
      expect(toHex(sha256Short(b))).toBe(toHex(nobleCrypto.sha256(b)))
    }
  })
})

describe('Slab', () => {
  test('views never overlap, are zeroed, and large requests get their own buffer', () => {
    const s = new Slab(256)
    const views = Array.from({ length: 40 }, (_, i) => s.alloc(1 + (i % 60)))
    for (const v of views) expect(v.every((x) => x === 0)).toBe(true)
    views.forEach((v, i) => v.fill(i + 1))
    views.forEach((v, i) => expect(v.every((x) => x === i + 1)).toBe(true))
    expect(s.alloc(65).buffer.byteLength).toBe(65)
    const c = s.copy(Uint8Array.of(1, 2, 3))
    expect([...c]).toEqual([1, 2, 3])
    expect(() => new Slab(10)).toThrow(RangeError)
  })
})
