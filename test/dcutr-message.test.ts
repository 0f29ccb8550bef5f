// DCUtR wire format (src/dcutr/message.ts): every vector of spec/vectors/dcutr.json, round trips,
// the limits at and one past them, and hostile input giving ProtocolError('dcutr', 'dcutr/...') only.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { DEFAULT_DCUTR_MESSAGE_LIMITS, HolePunchDecoder, HolePunchType, decodeHolePunch, encodeHolePunch, encodeHolePunchFrame, type HolePunch } from '../src/dcutr/index.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('dcutr')
const NAMES: Record<number, string> = { 100: 'CONNECT', 300: 'SYNC' }

function shape(m: HolePunch): unknown {
  return { type: NAMES[m.type], obsAddrs: m.obsAddrs.map(String) }
}

function fromShape(s: { type: string; obsAddrs: string[] }): HolePunch {
  return { type: s.type === 'CONNECT' ? HolePunchType.CONNECT : HolePunchType.SYNC, obsAddrs: s.obsAddrs.map((a) => Multiaddr.fromString(a)) }
}

function dcutrCode(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    expect((e as ProtocolError).protocol).toBe('dcutr')
    expect((e as ProtocolError).code).toMatch(/^dcutr\//)
    return (e as ProtocolError).code
  }
  throw new Error('expected a ProtocolError, got a result')
}

/** Feed `bytes` to a fresh decoder in chunks of `size` (0: whole), collecting messages. */
function feed(bytes: Uint8Array, size: number): HolePunch[] {
  const d = new HolePunchDecoder()
  const out: HolePunch[] = []
  const step = size === 0 ? Math.max(1, bytes.length) : size
  for (let off = 0; off < bytes.length; off += step) {
    d.push(bytes.subarray(off, off + step))
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m)
  }
  return out
}

describe('spec/vectors/dcutr.json', () => {
  for (const v of vectors.where((x) => x['kind'] === 'message')) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      if (v.error !== undefined) {
        expect(dcutrCode(() => decodeHolePunch(bytes))).toBe(v.error)
        return
      }
      const m = decodeHolePunch(bytes)
      expect(shape(m)).toEqual(v.decoded)
      if (v['reencodes'] !== false) expect(toHex(encodeHolePunch(fromShape(v.decoded)))).toBe(v.hex)
    })
  }
  for (const v of vectors.where((x) => x['kind'] === 'frame')) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      for (const size of [0, 1, 2, 3, 7]) {
        if (v.error !== undefined) expect(dcutrCode(() => feed(bytes, size))).toBe(v.error)
        else expect(feed(bytes, size).map(shape)).toEqual(v.decoded)
      }
    })
  }
})

describe('codec', () => {
  test('the protocol id and the enum are the spec\'s', async () => {
    const { DCUTR_PROTOCOL } = await import('../src/dcutr/index.js')
    expect(DCUTR_PROTOCOL).toBe('/libp2p/dcutr')
    expect(HolePunchType).toEqual({ CONNECT: 100, SYNC: 300 })
    expect(DEFAULT_DCUTR_MESSAGE_LIMITS).toEqual({ maxMessageSize: 4096, maxAddrs: 32, maxAddrBytes: 1024 })
  })

  test('encode refuses an unknown type (RangeError, a local bug)', () => {
    expect(() => encodeHolePunch({ type: 200 as HolePunchType, obsAddrs: [] })).toThrow(RangeError)
  })

  test('frames are the length-prefixed body', () => {
    const m: HolePunch = { type: HolePunchType.CONNECT, obsAddrs: [Multiaddr.fromString('/ip4/11.0.0.2/tcp/4001')] }
    expect(encodeHolePunchFrame(m)).toEqual(encodeLp(encodeHolePunch(m)))
  })

  test('maxAddrs and maxMessageSize are options: at the limit and one past', () => {
    const a = Multiaddr.fromString('/ip4/11.0.0.2/tcp/4001')
    const four = encodeHolePunch({ type: HolePunchType.CONNECT, obsAddrs: [a, a, a, a] })
    expect(decodeHolePunch(four, { maxAddrs: 4 }).obsAddrs).toHaveLength(4)
    expect(dcutrCode(() => decodeHolePunch(four, { maxAddrs: 3 }))).toBe('dcutr/too-many-addrs')
    expect(decodeHolePunch(four, { maxMessageSize: four.length }).obsAddrs).toHaveLength(4)
    expect(dcutrCode(() => decodeHolePunch(four, { maxMessageSize: four.length - 1 }))).toBe('dcutr/message-too-large')
    const d = new HolePunchDecoder({ maxMessageSize: four.length - 1 })
    d.push(encodeLp(four))
    expect(dcutrCode(() => d.next())).toBe('dcutr/message-too-large')
  })

  test('maxAddrBytes: a longer entry is skipped, one at the limit kept', () => {
    const a = Multiaddr.fromString('/ip4/11.0.0.2/tcp/4001') // 8 bytes: 04 + 4, 06 + 2
    const m = encodeHolePunch({ type: HolePunchType.CONNECT, obsAddrs: [a] })
    expect(decodeHolePunch(m, { maxAddrBytes: 8 }).obsAddrs).toHaveLength(1)
    expect(decodeHolePunch(m, { maxAddrBytes: 7 }).obsAddrs).toHaveLength(0)
  })

  test('decoded addresses do not alias the input', () => {
    const bytes = encodeHolePunch({ type: HolePunchType.CONNECT, obsAddrs: [Multiaddr.fromString('/ip4/11.0.0.2/tcp/4001')] })
    const m = decodeHolePunch(bytes)
    bytes.fill(0)
    expect(m.obsAddrs[0]!.toString()).toBe('/ip4/11.0.0.2/tcp/4001')
  })

  test('round trip (property)', () => {
    const addr = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 65535 })).map(([b, p]) => Multiaddr.fromString(`/ip4/11.0.0.${b}/tcp/${p}`))
    fc.assert(fc.property(fc.constantFrom(HolePunchType.CONNECT, HolePunchType.SYNC), fc.array(addr, { maxLength: 32 }), (type, obsAddrs) => {
      const m = decodeHolePunch(encodeHolePunch({ type, obsAddrs }))
      expect(m.type).toBe(type)
      expect(m.obsAddrs.map(String)).toEqual(obsAddrs.map(String))
    }))
  })

  test('hostile bytes: a HolePunch or ProtocolError(dcutr) only, never anything else (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        const m = decodeHolePunch(bytes)
        expect([100, 300]).toContain(m.type)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
        expect((e as ProtocolError).code).toMatch(/^dcutr\//)
      }
      try {
        feed(bytes, 3)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
        expect((e as ProtocolError).code).toMatch(/^dcutr\//)
      }
    }), { numRuns: 2000 })
  })

  test('the decoder buffers at most one message plus its prefix', () => {
    const d = new HolePunchDecoder()
    d.push(fromHex('8020')) // 4096: allowed, waits for the body
    expect(d.next()).toBeUndefined()
    d.push(new Uint8Array(4095))
    expect(d.next()).toBeUndefined()
    expect(d.buffered).toBe(4097)
  })
})
