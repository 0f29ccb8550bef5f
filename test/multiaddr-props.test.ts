/**
 * Properties of the multiaddr codecs (fast-check, fixed seeds):
 * - any valid component list: bytes -> text -> bytes is the identity, and the text is stable;
 * - garbage (random or mutated) bytes: ProtocolError('multiaddr'); garbage text: UsageError with a
 *   multiaddr/* code; or else a multiaddr that round-trips, nothing else;
 * - encapsulate / decapsulate / decapsulateCode laws.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { concat, toHex, utf8 } from '../src/core/bytes.js'
import { encode as varint } from '../src/core/varint.js'
import { Multiaddr, PROTOCOLS, VARIABLE, type Protocol } from '../src/multiaddr/index.js'

const SEED = { seed: 0x5eed, numRuns: 300 }
const LIMITS = { maxBytes: 8192, maxComponents: 64 }

const noSlash = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/'))
const anyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })
const multihash = fc
  .tuple(fc.constantFrom(0x00, 0x12, 0x13, 0x16, 0x1e, 0xb220), fc.uint8Array({ maxLength: 40 }))
  .map(([code, digest]) => concat([varint(code), varint(digest.length), digest]))
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
const withPort = (host: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(bytes(host), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => concat([h, Uint8Array.of(p >> 8, p & 255)]))

/** A valid value for each kind of protocol. */
function valueOf(p: Protocol): fc.Arbitrary<Uint8Array> {
  switch (p.kind) {
    case 'none': return fc.constant(new Uint8Array(0))
    case 'ip4': case 'ip6': case 'port': case 'ipcidr': case 'memory': return bytes(p.size / 8)
    case 'ip6zone': case 'domain': return noSlash.map(utf8)
    case 'http-path': return anyText.map(utf8)
    case 'unix': return anyText.filter((t) => !t.endsWith('/')).map((t) => utf8(`/${t}`)) // a path: '/' first, not last
    case 'p2p': case 'certhash': return multihash
    case 'onion': return withPort(10)
    case 'onion3': return withPort(35)
    case 'garlic64': return fc.uint8Array({ minLength: 386, maxLength: 400 })
    case 'garlic32': return fc.oneof(bytes(32), fc.uint8Array({ minLength: 35, maxLength: 50 }))
  }
}

const componentOf = (protocols: readonly Protocol[]): fc.Arbitrary<Uint8Array> => fc
  .constantFrom(...protocols)
  .chain((p) => valueOf(p).map((v) => concat([varint(p.code), p.size === VARIABLE ? varint(v.length) : new Uint8Array(0), v])))
/** Valid lists: any components, then at most one path component (unix), which can only come last. */
const validBytesNoPath = fc.array(componentOf(PROTOCOLS.filter((p) => !p.path)), { minLength: 1, maxLength: 8 }).map((cs) => concat(cs))
const validBytes = fc.tuple(validBytesNoPath, fc.option(componentOf(PROTOCOLS.filter((p) => p.path)), { freq: 4 }))
  .map(([b, path]) => (path === null ? b : concat([b, path])))

/**
 * Parse, asserting the only possible failure is a multiaddr error of the class for its source:
 * ProtocolError('multiaddr') for bytes (remote input), UsageError for text (user input).
 */
function tryParse(run: () => Multiaddr, from: 'bytes' | 'text' = 'bytes'): Multiaddr | undefined {
  try {
    return run()
  } catch (e) {
    if (from === 'bytes' && (!(e instanceof ProtocolError) || e.protocol !== 'multiaddr')) throw e
    if (from === 'text' && !(e instanceof UsageError)) throw e
    expect((e as ProtocolError | UsageError).code.startsWith('multiaddr/')).toBe(true)
    return undefined
  }
}

function expectRoundTrip(m: Multiaddr): void {
  const text = m.toString()
  const again = Multiaddr.fromString(text, LIMITS)
  expect(toHex(again.bytes)).toBe(toHex(m.bytes))
  expect(again.toString()).toBe(text)
}

describe('round trip', () => {
  test('valid component lists: bytes -> text -> bytes is the identity', () => {
    fc.assert(
      fc.property(validBytes, (b) => {
        const m = Multiaddr.fromBytes(b, LIMITS)
        expect(toHex(m.bytes)).toBe(toHex(b))
        expectRoundTrip(m)
        // components() agrees with the text: each is `/<name>[/<value>]`.
        expect(m.components().map(text).join('')).toBe(m.toString())
      }),
      SEED,
    )
  })
})

describe('garbage bytes yield ProtocolError, garbage text UsageError, and nothing else', () => {
  test('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const m = tryParse(() => Multiaddr.fromBytes(b))
        if (m !== undefined) expectRoundTrip(m)
      }),
      { seed: 1, numRuns: 2000 },
    )
  })

  test('mutated valid bytes (flip, truncate, extend)', () => {
    const mutated = fc
      .tuple(validBytes, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'append'))
      .map(([b, at, x, how]) => {
        const i = at % b.length
        if (how === 'cut') return b.slice(0, i)
        if (how === 'append') return concat([b, Uint8Array.of(x)])
        const c = b.slice()
        c[i] = x
        return c
      })
    fc.assert(
      fc.property(mutated, (b) => {
        const m = tryParse(() => Multiaddr.fromBytes(b, LIMITS))
        if (m !== undefined) expectRoundTrip(m)
      }),
      { seed: 2, numRuns: 1000 },
    )
  })

  test('random text built from protocol names and plausible values', () => {
    const names = PROTOCOLS.flatMap((p) => [p.name, ...p.aliases])
    const token = fc.oneof(
      fc.constantFrom(...names),
      fc.constantFrom('1.2.3.4', '::1', '::ffff:1.2.3.4', '80', '0', '65535', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
        'uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g', 'timaq4ygg2iegci7:80', '%2F', '%', '', 'example.com'),
      fc.string({ unit: 'binary', maxLength: 6 }),
    )
    const text = fc.tuple(fc.array(token, { maxLength: 10 }), fc.boolean()).map(([ts, slash]) => (slash ? '/' : '') + ts.join('/'))
    fc.assert(
      fc.property(text, (t) => {
        const m = tryParse(() => Multiaddr.fromString(t), 'text')
        if (m !== undefined) expectRoundTrip(m)
      }),
      { seed: 3, numRuns: 3000 },
    )
  })

  test('unpaired surrogates and arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }), (a, b) => {
        for (const t of [a, b, `/dns/${b}`, `/${a}`]) {
          const m = tryParse(() => Multiaddr.fromString(t), 'text')
          if (m !== undefined) expectRoundTrip(m)
        }
      }),
      { seed: 4, numRuns: 1000 },
    )
  })
})

describe('encapsulation laws', () => {
  // nothing can follow a path component, so the outer address never ends with one
  const pair = fc.tuple(validBytesNoPath, validBytes).map(([a, b]) => [Multiaddr.fromBytes(a, LIMITS), Multiaddr.fromBytes(b, LIMITS)] as const)

  test('encapsulate concatenates bytes and text; decapsulate undoes it', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const ab = a.encapsulate(b)
        expect(toHex(ab.bytes)).toBe(toHex(a.bytes) + toHex(b.bytes))
        expect(ab.toString()).toBe(a.toString() + b.toString())
        expect(ab.decapsulate(b).equals(a)).toBe(true)
        expect(ab.decapsulate(ab).isEmpty()).toBe(true)
      }),
      SEED,
    )
  })

  test('decapsulate yields a component prefix without any later occurrence of its argument', () => {
    fc.assert(
      fc.property(pair, fc.nat(), fc.nat(), ([a, b], i, j) => {
        const m = a.encapsulate(b)
        const cs = m.components()
        const from = i % cs.length
        const to = from + 1 + (j % (cs.length - from))
        const sub = Multiaddr.fromBytes(concat(cs.slice(from, to).map((_, k) => componentBytes(m, from + k))), LIMITS)
        const d = m.decapsulate(sub)
        expect(toHex(m.bytes).startsWith(toHex(d.bytes))).toBe(true)
        // What was removed starts with `sub`, and `sub` does not occur again further right.
        const rest = m.components().slice(d.length)
        expect(rest.slice(0, sub.length).map((c) => c.code)).toEqual(sub.components().map((c) => c.code))
        for (let k = d.length + 1; k + sub.length <= m.length; k++) {
          const window = concat(m.components().slice(k, k + sub.length).map((_, n) => componentBytes(m, k + n)))
          expect(toHex(window) === toHex(sub.bytes)).toBe(false)
        }
      }),
      SEED,
    )
  })

  test('decapsulateCode removes the last component with that code and everything after', () => {
    fc.assert(
      fc.property(validBytes, fc.nat(), (b, i) => {
        const m = Multiaddr.fromBytes(b, LIMITS)
        const codes = m.protos().map((p) => p.code)
        const code = codes[i % codes.length]!
        const d = m.decapsulateCode(code)
        expect(d.length).toBe(codes.lastIndexOf(code))
        expect(toHex(m.bytes).startsWith(toHex(d.bytes))).toBe(true)
      }),
      SEED,
    )
  })
})

/** The full bytes (code, length prefix, value) of component `k` of `m`. */
function componentBytes(m: Multiaddr, k: number): Uint8Array {
  const without = m.components().slice(0, k + 1)
  const prefixLen = (n: number): number => (n === 0 ? 0 : Multiaddr.fromString(without.slice(0, n).map(text).join(''), LIMITS).bytes.length)
  return m.bytes.slice(prefixLen(k), prefixLen(k + 1))
}

/** The text of one component: `/<name>`, `/<name>/<value>`, or `/unix<path>` for a path protocol. */
function text(c: { name: string; value?: string }): string {
  if (c.value === undefined) return `/${c.name}`
  return c.name === 'unix' ? `/${c.name}${c.value}` : `/${c.name}/${c.value}`
}
