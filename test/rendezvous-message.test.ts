import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import {
  DEFAULT_RENDEZVOUS_MESSAGE_LIMITS, MessageType, RendezvousDecoder, ResponseStatus, decodeRendezvous, encodeRendezvous, encodeRendezvousFrame,
  type RendezvousMessage,
} from '../src/rendezvous/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('rendezvous')

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    expect((e as ProtocolError<string>).protocol).toBe('rendezvous')
    return (e as ProtocolError<string>).code
  }
  return undefined
}

describe('rendezvous vectors', () => {
  for (const v of vectors.all()) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      if (v.error !== undefined) {
        expect(codeOf(() => decodeRendezvous(bytes))).toBe(v.error)
        return
      }
      const msg = decodeRendezvous(bytes)
      expect(msg).toEqual(v.decoded)
      expect(toHex(encodeRendezvous(msg))).toBe(v.hex)
    })
  }
})

const bytesArb = fc.uint8Array({ maxLength: 40 })
const ns = fc.option(fc.string({ maxLength: 20 }), { nil: undefined })
const u = fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined })
const status = fc.constantFrom(...Object.values(ResponseStatus))
const register = fc.record({ ns, signedPeerRecord: fc.option(bytesArb, { nil: undefined }), ttl: u }, { requiredKeys: [] })
// fast-check's optional keys are `T | undefined`; the encoder skips undefined fields alike.
const message = fc.oneof(
  register.map((r) => ({ type: MessageType.REGISTER, register: r })),
  fc.record({ status, statusText: fc.option(fc.string(), { nil: undefined }), ttl: u }, { requiredKeys: ['status'] }).map((r) => ({ type: MessageType.REGISTER_RESPONSE, registerResponse: r })),
  fc.record({ ns }, { requiredKeys: [] }).map((r) => ({ type: MessageType.UNREGISTER, unregister: r })),
  fc.record({ ns, limit: u, cookie: fc.option(bytesArb, { nil: undefined }) }, { requiredKeys: [] }).map((r) => ({ type: MessageType.DISCOVER, discover: r })),
  fc.record({ registrations: fc.array(register, { maxLength: 5 }), cookie: fc.option(bytesArb, { nil: undefined }), status }, { requiredKeys: ['registrations', 'status'] })
    .map((r) => ({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: r })),
) as unknown as fc.Arbitrary<RendezvousMessage>
const strip = (m: unknown): unknown => JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)))

test('encode/decode round-trips every message', () => {
  fc.assert(fc.property(message, (m) => {
    expect(strip(decodeRendezvous(encodeRendezvous(m)))).toEqual(strip(m))
  }))
})

test('only ProtocolError(rendezvous) escapes the decoder', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    try {
      decodeRendezvous(b)
    } catch (e) {
      expect(e instanceof ProtocolError && e.protocol === 'rendezvous' && e.code.startsWith('rendezvous/')).toBe(true)
    }
  }))
})

describe('limits', () => {
  const reg = { ns: 'a', signedPeerRecord: new Uint8Array(4), ttl: 7200 }
  const resp = (n: number): Uint8Array => encodeRendezvous({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: Array(n).fill(reg), status: ResponseStatus.OK } })
  test('maxRegistrations: at the limit decodes, one past fails', () => {
    const max = DEFAULT_RENDEZVOUS_MESSAGE_LIMITS.maxRegistrations
    expect(decodeRendezvous(resp(max)).type).toBe(MessageType.DISCOVER_RESPONSE)
    expect(codeOf(() => decodeRendezvous(resp(max + 1)))).toBe('rendezvous/too-many-registrations')
  })
  test('maxMessageSize: at the limit decodes, one past fails', () => {
    const body = (n: number): Uint8Array => encodeRendezvous({ type: MessageType.DISCOVER, discover: { cookie: new Uint8Array(n) } })
    const base = body(0).length
    const at = body(1000)
    const limit = at.length
    expect(decodeRendezvous(at, { maxMessageSize: limit }).type).toBe(MessageType.DISCOVER)
    expect(base).toBeLessThan(limit)
    expect(codeOf(() => decodeRendezvous(body(1001), { maxMessageSize: limit }))).toBe('rendezvous/message-too-large')
  })
  test('the frame decoder reads messages in any chunking and refuses an oversized frame', () => {
    const m: RendezvousMessage = { type: MessageType.UNREGISTER, unregister: { ns: 'x' } }
    const stream = new Uint8Array([...encodeRendezvousFrame(m), ...encodeRendezvousFrame(m)])
    const dec = new RendezvousDecoder()
    const out: RendezvousMessage[] = []
    for (const b of stream) {
      dec.push(Uint8Array.of(b))
      for (let x = dec.next(); x !== undefined; x = dec.next()) out.push(x)
    }
    expect(out).toEqual([m, m])
    const small = new RendezvousDecoder({ maxMessageSize: 10 })
    small.push(encodeLp(new Uint8Array(11)))
    expect(codeOf(() => small.next())).toMatch(/^rendezvous\//)
  })
})
