/**
 * Properties of every protocol decoder of weft trace (src/trace/decode): arbitrary bytes in any
 * chunking never throw; what comes out is JSON-safe, does not depend on the chunking, holds at most
 * one `undecodable` (after which only byte counts); the bytes held never pass the protocol's own
 * limit (+ a length prefix) and drop to 0 once a decoder stops.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { DEFAULT_V1_LIMITS, DEFAULT_V2_LIMITS, DIAL_BACK_PROTOCOL, AUTONAT_V1_PROTOCOL, DIAL_REQUEST_PROTOCOL } from '../src/autonat/index.js'
import { encodeLp, fromHex, varint } from '../src/core/index.js'
import { DCUTR_PROTOCOL, DEFAULT_DCUTR_MESSAGE_LIMITS } from '../src/dcutr/index.js'
import { DEFAULT_MAX_RPC_SIZE, encodeRpc, PUBSUB_PROTOCOLS } from '../src/gossipsub/index.js'
import { DEFAULT_IDENTIFY_LIMITS, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL } from '../src/identify/index.js'
import { DEFAULT_DECODE_LIMITS, KAD_PROTOCOL } from '../src/kad/index.js'
import { PERF_HEADER_LENGTH, PERF_PROTOCOL } from '../src/perf/index.js'
import { PING_LENGTH, PING_PROTOCOL } from '../src/ping/index.js'
import { DEFAULT_RELAY_MESSAGE_LIMITS, HOP_PROTOCOL, STOP_PROTOCOL } from '../src/relay/index.js'
import { DEFAULT_RENDEZVOUS_MESSAGE_LIMITS, RENDEZVOUS_PROTOCOL } from '../src/rendezvous/index.js'
import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES } from '../src/request-response/index.js'
import { createDecoder, createDecoderFactory, DECODED_PROTOCOLS, streamOpener, type ProtocolDecoder } from '../src/trace/decode/index.js'
import type { DecodedMessage } from '../src/core/trace.js'
import { readVectorFile } from './helpers/vectors.js'
import { cut, merged } from './trace-decode-helpers.js'

/** Each protocol's own message limit, from its module. */
const LIMIT: Record<string, number> = {
  [IDENTIFY_PROTOCOL]: DEFAULT_IDENTIFY_LIMITS.maxMessageSize,
  [IDENTIFY_PUSH_PROTOCOL]: DEFAULT_IDENTIFY_LIMITS.maxMessageSize,
  [PING_PROTOCOL]: PING_LENGTH,
  [KAD_PROTOCOL]: DEFAULT_DECODE_LIMITS.maxMessageSize,
  ...Object.fromEntries(PUBSUB_PROTOCOLS.map((p) => [p, DEFAULT_MAX_RPC_SIZE])),
  [AUTONAT_V1_PROTOCOL]: DEFAULT_V1_LIMITS.maxMessageSize,
  [DIAL_REQUEST_PROTOCOL]: DEFAULT_V2_LIMITS.maxMessageSize,
  [DIAL_BACK_PROTOCOL]: DEFAULT_V2_LIMITS.maxDialBackSize,
  [HOP_PROTOCOL]: DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize,
  [STOP_PROTOCOL]: DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize,
  [DCUTR_PROTOCOL]: DEFAULT_DCUTR_MESSAGE_LIMITS.maxMessageSize,
  [RENDEZVOUS_PROTOCOL]: DEFAULT_RENDEZVOUS_MESSAGE_LIMITS.maxMessageSize,
  [PERF_PROTOCOL]: PERF_HEADER_LENGTH,
}
const RR = '/test/rr/1'
const RR_OPTIONS = (codec: string, framing: 'eof' | 'length-prefixed') => ({ requestResponse: new Map([[RR, { codec, framing }]]) })
const ALL = [...DECODED_PROTOCOLS, RR]

function make(protocol: string, variant: number): ProtocolDecoder {
  const hint = [{}, { opener: true }, { opener: false }][variant % 3]!
  if (protocol === RR) {
    const options = RR_OPTIONS(['json', 'cbor', 'raw'][variant % 3]!, variant % 2 === 0 ? 'eof' : 'length-prefixed')
    return createDecoderFactory(options)(RR, variant % 2 === 0 ? 'in' : 'out', hint)!
  }
  return createDecoder(protocol, variant % 2 === 0 ? 'in' : 'out', hint)!
}

const limitOf = (protocol: string): number => LIMIT[protocol] ?? Math.max(DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES)

/** Push every chunk (then end), checking the invariants after each call. */
function run(protocol: string, variant: number, chunks: Uint8Array[], end: boolean): DecodedMessage[] {
  const d = make(protocol, variant)
  const out: DecodedMessage[] = []
  const bound = limitOf(protocol) + varint.VARINT_MAX_BYTES
  const check = (ms: DecodedMessage[]): void => {
    out.push(...ms)
    const stopped = out.some((m) => m.name === 'undecodable')
    if (stopped) expect(d.buffered).toBe(0)
    expect(d.buffered).toBeLessThanOrEqual(bound)
  }
  for (const c of chunks) check(d.push(c))
  if (end) check(d.end())
  expect(JSON.parse(JSON.stringify(out))).toEqual(out)
  const bad = out.findIndex((m) => m.name === 'undecodable')
  if (bad >= 0) {
    expect(out.slice(bad + 1).every((m) => m.name === 'data')).toBe(true)
    expect(typeof out[bad]!.fields.reason).toBe('string')
    expect(typeof out[bad]!.fields.bytes).toBe('number')
  }
  return out
}

/**
 * Names and fields up to an undecodable (inclusive), its `bytes` dropped: it and the byte counts
 * after it tell what each chunk had brought in.
 */
function shape(ms: DecodedMessage[]): unknown {
  const bad = ms.findIndex((m) => m.name === 'undecodable')
  return merged(bad < 0 ? ms : ms.slice(0, bad + 1)).map((m) => (m.name === 'undecodable' ? { name: m.name } : m))
}

describe('every decoder, arbitrary bytes', () => {
  test('never throws; JSON-safe; chunking does not change the messages; at most one undecodable; bounded', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL),
        fc.nat(5),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.boolean(),
        (protocol, variant, bytes, at, end) => {
          const whole = run(protocol, variant, [bytes], end)
          const pieces = run(protocol, variant, cut(bytes, at), end)
          expect(shape(pieces)).toEqual(shape(whole))
        },
      ),
      { numRuns: 1500, seed: 16 },
    )
  })

  test('framed-looking input: valid prefixes with arbitrary bodies, several per stream', () => {
    const framed = fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 1, maxLength: 4 }).map((bodies) => new Uint8Array(bodies.flatMap((b) => [...encodeLp(b)])))
    fc.assert(
      fc.property(fc.constantFrom(...ALL), fc.nat(5), framed, fc.array(fc.nat(), { maxLength: 6 }), (protocol, variant, bytes, at) => {
        expect(shape(run(protocol, variant, cut(bytes, at), true))).toEqual(shape(run(protocol, variant, [bytes], true)))
      }),
      { numRuns: 1500, seed: 61 },
    )
  })

  test('mutated real messages (every vector of each protocol, framed, with bytes flipped, cut or inserted)', () => {
    const framed = (file: string, bare: boolean): Uint8Array[] =>
      readVectorFile(file).vectors.flatMap((v) => (typeof v.hex === 'string' && v.hex.length > 0 && v.hex.length < 20_000 ? [bare ? encodeLp(fromHex(v.hex)) : fromHex(v.hex)] : []))
    const corpus: Array<[string, Uint8Array[]]> = [
      [IDENTIFY_PROTOCOL, readVectorFile('identify').vectors.flatMap((v) => (v.hex && v.id.startsWith('stream') ? [fromHex(v.hex)] : v.hex ? [encodeLp(fromHex(v.hex))] : []))],
      [KAD_PROTOCOL, framed('kad', false)],
      [PUBSUB_PROTOCOLS[0]!, framed('gossipsub', true)],
      [AUTONAT_V1_PROTOCOL, framed('autonat', true)],
      [DIAL_REQUEST_PROTOCOL, framed('autonat', true)],
      [HOP_PROTOCOL, framed('relay', true)],
      [STOP_PROTOCOL, framed('relay', true)],
      [DCUTR_PROTOCOL, framed('dcutr', true)],
      [RENDEZVOUS_PROTOCOL, framed('rendezvous', true)],
    ]
    const mutation = fc.tuple(fc.constantFrom('flip', 'cut', 'insert'), fc.nat(), fc.integer({ min: 0, max: 255 }))
    fc.assert(
      fc.property(fc.nat(corpus.length - 1), fc.nat(), fc.array(mutation, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (p, pick, muts, at, end) => {
        const [protocol, messages] = corpus[p]!
        let bytes = messages[pick % messages.length]!.slice()
        for (const [kind, where, value] of muts) {
          const i = bytes.length === 0 ? 0 : where % bytes.length
          if (kind === 'flip' && bytes.length > 0) bytes[i] = value
          else if (kind === 'cut') bytes = bytes.subarray(0, i)
          else bytes = new Uint8Array([...bytes.subarray(0, i), value, ...bytes.subarray(i)])
        }
        expect(shape(run(protocol, 0, cut(bytes, at), end))).toEqual(shape(run(protocol, 0, [bytes], end)))
      }),
      { numRuns: 2000, seed: 1616 },
    )
  })

  test('a stream far past every limit: refused by the limit, nothing held after', () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x0a) // 0x0a: a varint of 10, and a protobuf LEN tag
    for (const protocol of ALL) {
      if (protocol === PERF_PROTOCOL || protocol === PING_PROTOCOL) continue // no message limit to pass: fixed sizes, then counts
      for (const variant of protocol === RR ? [1, 3] : [0, 1]) { // request-response: length-prefixed variants (EOF framing below)
        const d = make(protocol, variant)
        // an announced length one past the limit
        const head = varint.encode(limitOf(protocol) + 1)
        const out = [...d.push(head), ...d.push(chunk)]
        expect(out[0], `${protocol} ${variant}`).toMatchObject({ name: 'undecodable' })
        expect(d.buffered).toBe(0)
      }
    }
  })

  test('request-response with EOF framing: refused one byte past its cap', () => {
    const f = createDecoderFactory({ requestResponse: { [RR]: { codec: 'json', maxBytes: 100 } } })
    const at = f(RR, 'in', { opener: true })!
    expect(at.push(new Uint8Array(100))).toEqual([])
    expect(at.buffered).toBe(100)
    const past = f(RR, 'in', { opener: true })!
    expect([...past.push(new Uint8Array(60)), ...past.push(new Uint8Array(41))]).toEqual([{ name: 'undecodable', fields: { reason: expect.stringContaining('cap'), bytes: 101 } }])
    expect(past.buffered).toBe(0)
  })

  test('an RPC with 5000 message ids shows 32 and the count', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => varint.encode(i))
    const d = createDecoder(PUBSUB_PROTOCOLS[0]!, 'in')!
    const [m] = d.push(encodeLp(encodeRpc({ control: { idontwant: [{ messageIds: ids }] } })))
    expect(m!.fields.count).toBe(5000)
    expect(JSON.stringify(m).length).toBeLessThan(1000)
  })

  test('long text is cut: a 1 MB topic, a JSON string of 100 000 characters', () => {
    const [sub] = createDecoder(PUBSUB_PROTOCOLS[0]!, 'in')!.push(encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 't'.repeat(1000) }] })))
    expect(sub!.fields.topic).toBe(`${'t'.repeat(256)}...(1000 chars)`)
    const rr = createDecoderFactory({ requestResponse: { [RR]: { codec: 'json', framing: 'length-prefixed' } } })(RR, 'in', { opener: true })!
    const body = new TextEncoder().encode(JSON.stringify({ s: 'x'.repeat(100_000) }))
    const [req] = rr.push(new Uint8Array([...varint.encode(body.length), ...body]))
    expect(req!.fields.value).toEqual({ s: `${'x'.repeat(256)}...(100000 chars)` })
  })

  test('unknown protocols have no decoder', () => {
    for (const p of ['/unknown/1.0.0', '', '/ipfs/kad/2.0.0', '/meshsub/9.9.9']) expect(createDecoder(p, 'in')).toBeUndefined()
  })
})

test('streamOpener: odd ids are the dialer\'s (yamux spec.md "StreamID" field; spec/yamux.md)', () => {
  // we dialed, stream 1 is ours: our bytes are the opener's
  expect([streamOpener(1, 'out', true), streamOpener(1, 'in', true)]).toEqual([true, false])
  // we dialed, stream 2 is the remote's
  expect([streamOpener(2, 'out', true), streamOpener(2, 'in', true)]).toEqual([false, true])
  // we accepted: odd ids are the remote's
  expect([streamOpener(3, 'in', false), streamOpener(4, 'out', false)]).toEqual([true, true])
})
