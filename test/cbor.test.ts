import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { CborSimple, CborTag, decodeCbor, encodeCbor, type CborValue } from '../src/core/cbor.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { ProtocolError } from '../src/core/errors.js'
import { decodeCborMap, encodeCborMap } from '../src/kad/cbor.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('cbor')

/** The vectors' typed JSON form (see spec/vectors/cbor.json's description) as a decoded value. */
function typed(x: any): CborValue {
  if (Array.isArray(x)) return x.map(typed)
  if (x === null || typeof x !== 'object') return x
  if ('$int' in x) return BigInt(x.$int)
  if ('$float' in x) return x.$float === '-0' ? -0 : Number(x.$float)
  if ('$bytes' in x) return fromHex(x.$bytes)
  if ('$tag' in x) return new CborTag(x.$tag, typed(x.value))
  if ('$simple' in x) return new CborSimple(x.$simple)
  if ('$undefined' in x) return undefined
  if ('$map' in x) return new Map(x.$map.map(([k, v]: [any, any]) => [typed(k), typed(v)]))
  const o: Record<string, CborValue> = Object.create(null)
  for (const [k, v] of Object.entries(x)) o[k] = typed(v)
  return o
}

/** A float with an integral value decodes to a number JS cannot tell from an integer. */
const integralFloat = (hex: string, v: CborValue): boolean => /^f[9ab]/.test(hex) && typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0)

describe('RFC 8949 Appendix A', () => {
  for (const v of vectors.where((x) => x.decoded !== undefined)) {
    test(`${v.id}`, () => {
      const want = typed(v.decoded)
      const got = decodeCbor(fromHex(v.hex!))
      expect(got).toStrictEqual(want)
      if (typeof want === 'number') expect(Object.is(got, want)).toBe(true) // -0, NaN
      const again = encodeCbor(got)
      if (v.roundtrip === true && !integralFloat(v.hex!, got)) expect(toHex(again)).toBe(v.hex)
      else expect(decodeCbor(again)).toStrictEqual(want) // indefinite and long floats: the deterministic form
      if (integralFloat(v.hex!, got)) expect(toHex(again)).toBe(toHex(encodeCbor(BigInt(got as number))))
    })
  }
})

describe('malformed input', () => {
  for (const v of vectors.where((x) => x.error !== undefined)) {
    test(`${v.id}`, () => {
      expect(() => decodeCbor(fromHex(v.hex!))).toThrow(expect.objectContaining({ name: 'ProtocolError', code: v.error }))
    })
  }
})

test('map keys 0 and -0.0 (one JavaScript Map key) are duplicates, not a pair silently dropped (fuzz: cbor, seed 1, iteration 484)', () => {
  // {0: 1, -0.0: 2} in half, single and double precision; and the same inside an array (keys stay distinct there)
  for (const hex of ['a20001f9800002', 'a200f5fa80000000f4', 'a2fb80000000000000000100f6']) {
    expect(() => decodeCbor(fromHex(hex))).toThrow(expect.objectContaining({ name: 'ProtocolError', code: 'cbor/duplicate-key' }))
  }
  expect((decodeCbor(fromHex('a281000181f9800002')) as Map<CborValue, CborValue>).size).toBe(2)
})

describe('limits', () => {
  const nested = (n: number): Uint8Array => fromHex('81'.repeat(n) + '00')
  test('maxDepth: at the limit decodes, one past fails', () => {
    expect(() => decodeCbor(nested(4), { maxDepth: 4 })).not.toThrow()
    expect(() => decodeCbor(nested(5), { maxDepth: 4 })).toThrow(expect.objectContaining({ code: 'cbor/too-deep' }))
    // the default (64) stops deep nesting before the stack does
    expect(() => decodeCbor(nested(100_000))).toThrow(expect.objectContaining({ code: 'cbor/too-deep' }))
  })
  test('maxItems: at the limit decodes, one past fails', () => {
    const arr = (n: number): Uint8Array => fromHex('98' + n.toString(16).padStart(2, '0') + '00'.repeat(n))
    expect(decodeCbor(arr(9), { maxItems: 10 })).toHaveLength(9) // the array and its 9 items
    expect(() => decodeCbor(arr(10), { maxItems: 10 })).toThrow(expect.objectContaining({ code: 'cbor/too-many-items' }))
  })
  test('a huge declared length fails as truncated without allocating', () => {
    expect(() => decodeCbor(fromHex('5b00000000ffffffff00'))).toThrow(expect.objectContaining({ code: 'cbor/truncated' }))
    expect(() => decodeCbor(fromHex('bb00000000ffffffff'))).toThrow(expect.objectContaining({ code: 'cbor/truncated' }))
  })
})

describe('encoding', () => {
  test('deterministic: map keys sorted by their encoded bytes, shortest heads and floats', () => {
    expect(toHex(encodeCbor({ b: 1, a: 2, aa: 3 }))).toBe('a3616102616201626161' + '03')
    expect(toHex(encodeCbor(new Map<CborValue, CborValue>([[10, 1], [-1, 2], ['z', 3]])))).toBe('a30a012002617a03')
    expect(toHex(encodeCbor(0.5))).toBe('f93800')
    expect(toHex(encodeCbor(Math.fround(0.1)))).toBe('fa3dcccccd')
    expect(toHex(encodeCbor(0.1))).toBe('fb3fb999999999999a')
    expect(toHex(encodeCbor(2 ** -24))).toBe('f90001')
  })
  test('what CBOR cannot carry is a TypeError or RangeError', () => {
    expect(() => encodeCbor(1n << 64n)).toThrow(RangeError)
    expect(() => encodeCbor((() => 1) as unknown as CborValue)).toThrow(TypeError)
    expect(() => new CborSimple(24)).toThrow(RangeError)
  })
  test('property: decode(encode(v)) equals v', () => {
    const leaf = fc.oneof(
      fc.integer(), fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }), fc.double(), fc.string(), fc.uint8Array({ maxLength: 40 }),
      fc.boolean(), fc.constant(null), fc.constant(undefined),
    )
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 })),
    })).v
    fc.assert(fc.property(value, (v) => {
      const norm = (x: unknown): unknown => {
        if (typeof x === 'bigint' && x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(x)
        if (Array.isArray(x)) return x.map(norm)
        if (x instanceof Uint8Array || x === null || typeof x !== 'object') return x
        return Object.assign(Object.create(null), Object.fromEntries(Object.entries(x).map(([k, y]) => [k, norm(y)])))
      }
      const bytes = encodeCbor(v as CborValue)
      expect(decodeCbor(bytes)).toStrictEqual(norm(v))
      expect(encodeCbor(decodeCbor(bytes))).toStrictEqual(bytes)
    }), { numRuns: 300 })
  })
  test('property: arbitrary bytes decode or throw a ProtocolError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        decodeCbor(b)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }), { numRuns: 2000 })
  })
})

test('the IPNS codec in src/kad/cbor.ts reads what the general encoder writes', () => {
  const entries = { Value: new Uint8Array([1, 2]), Sequence: 5n, ValidityType: 0n, Validity: 'x' }
  const mine = encodeCbor({ Value: entries.Value, Sequence: 5, ValidityType: 0, Validity: 'x' })
  // same bytes only where the orders agree: DAG-CBOR sorts by length first, RFC 8949 §4.2.1 bytewise
  expect(decodeCborMap(mine).get('Sequence')).toBe(5n)
  expect(decodeCbor(encodeCborMap(entries))).toStrictEqual(Object.assign(Object.create(null), { Value: entries.Value, Sequence: 5, ValidityType: 0, Validity: 'x' }))
})
