// multistream-select 1.0: dialer ⇄ listener pairs (chunking invariance, header orders, lazy mode),
// garbage input, limits, and local misuse.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { utf8 } from '../src/core/bytes.js'
import { MultistreamDialer, MultistreamListener, encodeMessage, PROTOCOL_ID } from '../src/multistream/index.js'
import { byteByByte, prng, randomChunks, runPair, whole } from './multistream-pair.js'
import type { PairOptions, PairResult } from './multistream-pair.js'

const PING = '/ipfs/ping/1.0.0'
const YAMUX = '/yamux/1.0.0'
const NOISE = '/noise'
const TLS = '/tls/1.0.0'
const HEADER = encodeMessage(PROTOCOL_ID)

/** Run the same pair whole, byte by byte and with three random seeds; all must agree. */
function invariant(o: Omit<PairOptions, 'chunker'>): PairResult {
  const reference = runPair({ ...o, chunker: whole })
  expect(runPair({ ...o, chunker: byteByByte })).toEqual(reference)
  for (const seed of [1, 2, 3]) expect(runPair({ ...o, chunker: randomChunks(seed) })).toEqual(reference)
  return reference
}

const protocolId = fc.stringMatching(/^\/[a-z0-9/._-]{1,20}$/)

describe('pair', () => {
  test('agrees on the first dialer protocol the listener supports', () => {
    const r = invariant({
      dialer: { protocols: [TLS, NOISE] },
      listener: { protocols: [NOISE, YAMUX] },
      dialerData: utf8('hello'),
      listenerData: utf8('world'),
    })
    expect(r.dialerEvents).toEqual([{ type: 'negotiated', protocol: NOISE }])
    expect(r.listenerEvents).toEqual([{ type: 'negotiated', protocol: NOISE }])
    expect(r.listenerReceived).toEqual(utf8('hello'))
    expect(r.dialerReceived).toEqual(utf8('world'))
  })

  test('property: outcome matches a model, for any protocol sets and chunking seed', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(protocolId, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(protocolId, { maxLength: 6 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom('simultaneous', 'listener-first', 'dialer-first'),
        (mine, theirs, seed, order) => {
          const o: PairOptions = { dialer: { protocols: mine }, listener: { protocols: theirs }, dialerData: utf8('x'), order }
          const reference = runPair({ ...o, chunker: whole })
          expect(runPair({ ...o, chunker: randomChunks(seed, 1 + (seed % 11)) })).toEqual(reference)
          const chosen = mine.find((p) => theirs.includes(p))
          if (chosen === undefined) {
            expect(reference.dialerEvents).toEqual([{ type: 'failed' }])
            // The dialer gave up and closed; the listener saw every proposal refused.
            expect(reference.listenerEvents).toEqual([])
          } else {
            expect(reference.dialerEvents).toEqual([{ type: 'negotiated', protocol: chosen }])
            expect(reference.listenerEvents).toEqual([{ type: 'negotiated', protocol: chosen }])
            expect(reference.listenerReceived).toEqual(utf8('x'))
          }
          expect(reference.dialerError).toBeUndefined()
          expect(reference.listenerError).toBeUndefined()
        },
      ),
      { seed: 42, numRuns: 200 },
    )
  })

  test('both header orders and simultaneous headers interoperate, with and without awaitHeader', () => {
    const results = []
    for (const order of ['simultaneous', 'listener-first', 'dialer-first'] as const) {
      for (const awaitHeader of [false, true]) {
        results.push(invariant({ dialer: { protocols: [TLS, YAMUX], awaitHeader }, listener: { protocols: [YAMUX] }, order, dialerData: utf8('d') }))
      }
    }
    for (const r of results) expect(r).toEqual(results[0])
    expect(results[0]!.dialerEvents).toEqual([{ type: 'negotiated', protocol: YAMUX }])
  })

  test('ls before the proposal, then negotiation', () => {
    const r = invariant({ dialer: { protocols: [PING] }, listener: { protocols: [YAMUX, PING] }, ls: true })
    expect(r.dialerEvents).toEqual([{ type: 'ls', protocols: [YAMUX, PING] }, { type: 'negotiated', protocol: PING }])
  })

  test('lazy: data rides the first flight, the listener keeps it as remainder, replies come back as data events', () => {
    const r = invariant({
      dialer: { protocols: [PING], optimistic: true },
      listener: { protocols: [PING] },
      dialerData: utf8('ping-payload'),
      listenerData: utf8('pong-payload'),
    })
    expect(r.dialerEvents).toEqual([{ type: 'negotiated', protocol: PING }])
    expect(r.listenerEvents).toEqual([{ type: 'negotiated', protocol: PING }])
    expect(r.listenerReceived).toEqual(utf8('ping-payload'))
    expect(r.dialerReceived).toEqual(utf8('pong-payload'))
  })

  test('lazy + na is multistream/lazy-rejected', () => {
    const r = invariant({ dialer: { protocols: [PING], optimistic: true }, listener: { protocols: [YAMUX] }, dialerData: utf8('early') })
    expect(r.dialerEvents).toEqual([{ type: 'negotiated', protocol: PING }])
    expect(r.dialerError).toBe('multistream/lazy-rejected')
    // The listener reads the early data as the start of a next proposal ('e' = a 101-byte length)
    // and waits for it; the dialer's driver closes the stream.
    expect(r.listenerEvents).toEqual([])
    expect(r.listenerError).toBeUndefined()
  })

  test('the lazy dialer keeps passing bytes through after confirmation, and reports eof', () => {
    const dialer = new MultistreamDialer({ protocols: [PING], optimistic: true })
    expect(dialer.pollEvent()).toEqual({ type: 'negotiated', protocol: PING })
    expect(dialer.protocol).toBe(PING)
    dialer.pollTransmit(1024)
    dialer.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage(PING), 7))
    expect(dialer.pollEvent()).toEqual({ type: 'data', data: Uint8Array.of(7) })
    dialer.handleData(0, Uint8Array.of(8, 9))
    expect(dialer.pollEvent()).toEqual({ type: 'data', data: Uint8Array.of(8, 9) })
    dialer.write(Uint8Array.of(1))
    expect(dialer.pollTransmit(1024)).toEqual(Uint8Array.of(1))
    expect(dialer.wantsData()).toBe(true)
    dialer.handleEof(0)
    expect(dialer.pollEvent()).toEqual({ type: 'eof' })
    expect(dialer.wantsData()).toBe(false)
    expect(() => dialer.handleData(0, Uint8Array.of(1))).toThrow(UsageError)
  })
})

describe('garbage input yields ProtocolError and nothing else', () => {
  const feed = (core: MultistreamDialer | MultistreamListener, input: Uint8Array, seed: number): void => {
    for (const c of randomChunks(seed, 16)(input)) {
      try {
        core.handleData(0, c)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
        expect((e as ProtocolError).protocol).toBe('multistream')
        return
      }
      while (core.pollEvent() !== undefined);
      if (!core.wantsData()) return
    }
  }

  test('random bytes, raw and after a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), fc.integer(), (junk, afterHeader, seed) => {
        const input = afterHeader ? Uint8Array.of(...HEADER, ...junk) : junk
        const maxProposals = 4
        const listener = new MultistreamListener({ protocols: ['/a', '/b'], maxProposals })
        feed(listener, input, seed)
        // Output stays bounded: the header plus one reply per allowed proposal (the longest reply
        // is an echo or the 2-entry ls answer).
        let out = 0
        for (let b = listener.pollTransmit(1 << 16); b !== undefined; b = listener.pollTransmit(1 << 16)) out += b.length
        expect(out).toBeLessThanOrEqual(HEADER.length + maxProposals * 16)
        for (const optimistic of [false, true]) feed(new MultistreamDialer({ protocols: ['/a'], optimistic }), input, seed)
      }),
      { seed: 7, numRuns: 300 },
    )
  })

  test('structured garbage: valid framing, arbitrary lines', () => {
    const line = fc.oneof(fc.constantFrom('na', 'ls', '', PROTOCOL_ID, '/a', '/b', 'a\nb'), fc.string({ maxLength: 30 }))
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), fc.integer(), (lines, seed) => {
        const input = Uint8Array.of(...HEADER, ...lines.flatMap((l) => [...encodeMessage(l)]))
        feed(new MultistreamListener({ protocols: ['/b'] }), input, seed)
        feed(new MultistreamDialer({ protocols: ['/a', '/b'] }), input, seed)
        feed(new MultistreamDialer({ protocols: ['/b'], optimistic: true }), input, seed)
      }),
      { seed: 9, numRuns: 300 },
    )
  })
})

describe('limits', () => {
  test('message length is checked from the prefix, before any body byte arrives', () => {
    const listener = new MultistreamListener({ protocols: ['/a'], maxMessageLength: 100 })
    listener.handleData(0, HEADER)
    expect(() => listener.handleData(0, Uint8Array.of(101))).toThrow(expect.objectContaining({ code: 'multistream/message-too-long' }))
    const ok = new MultistreamListener({ protocols: ['/a'], maxMessageLength: 100 })
    ok.handleData(0, Uint8Array.of(...HEADER, 100)) // announces exactly the limit: waits for the body
    expect(ok.wantsData()).toBe(true)
  })

  test('default limit 1024 (go): a 1023-byte protocol id is accepted, 1024 is refused', () => {
    const p1023 = '/' + 'x'.repeat(1022)
    const listener = new MultistreamListener({ protocols: [p1023] })
    listener.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage(p1023)))
    expect(listener.pollEvent()).toEqual({ type: 'negotiated', protocol: p1023 })
    const l2 = new MultistreamListener({ protocols: ['/a'] })
    expect(() => l2.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage(p1023 + 'x')))).toThrow(
      expect.objectContaining({ code: 'multistream/message-too-long' }),
    )
  })

  test('maxProposals counts ls requests too', () => {
    const listener = new MultistreamListener({ protocols: ['/a'], maxProposals: 3 })
    const ls = encodeMessage('ls')
    listener.handleData(0, Uint8Array.of(...HEADER, ...ls, ...ls, ...ls))
    expect(() => listener.handleData(0, ls)).toThrow(expect.objectContaining({ code: 'multistream/too-many-proposals' }))
  })

  test('wantsData is false once negotiated (the remainder is handed over, not grown)', () => {
    const listener = new MultistreamListener({ protocols: ['/a'] })
    expect(listener.wantsData()).toBe(true)
    listener.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage('/a')))
    expect(listener.wantsData()).toBe(false)
    const dialer = new MultistreamDialer({ protocols: ['/a'] })
    dialer.handleData(0, Uint8Array.of(...HEADER))
    dialer.pollTransmit(100)
    dialer.handleData(0, encodeMessage('/a'))
    expect(dialer.wantsData()).toBe(false)
  })
})

describe('ownership of buffers', () => {
  test('the cores copy their input and return bytes the caller owns', () => {
    const input = Uint8Array.of(...HEADER, ...encodeMessage('/a'), 1, 2, 3)
    const listener = new MultistreamListener({ protocols: ['/a'] })
    listener.handleData(0, input)
    input.fill(0)
    const echo1 = listener.pollTransmit(1 << 16)!
    echo1.fill(0)
    expect(listener.takeRemainder()).toEqual(Uint8Array.of(1, 2, 3))

    const dialer = new MultistreamDialer({ protocols: ['/a'], optimistic: true })
    const data = Uint8Array.of(9, 9)
    dialer.write(data)
    data.fill(0)
    const flight = dialer.pollTransmit(1 << 16)!
    expect(Array.from(flight.subarray(flight.length - 2))).toEqual([9, 9])
  })

  test('pollTransmit honours max and a fixed seed gives identical bytes', () => {
    const run = (seed: number): number[] => {
      const dialer = new MultistreamDialer({ protocols: [TLS, NOISE] })
      const next = prng(seed)
      const out: number[] = []
      for (;;) {
        const max = 1 + Math.floor(next() * 5)
        const b = dialer.pollTransmit(max)
        if (b === undefined) return out
        expect(b.length).toBeLessThanOrEqual(max)
        out.push(...b)
      }
    }
    expect(run(5)).toEqual(run(5))
    expect(run(5)).toEqual([...HEADER, ...encodeMessage(TLS)])
  })
})

describe('local misuse and bad arguments', () => {
  test('UsageError for commands in the wrong state', () => {
    const dialer = new MultistreamDialer({ protocols: ['/a'] })
    expect(() => dialer.write(Uint8Array.of(1))).toThrow(UsageError)
    expect(() => dialer.takeRemainder()).toThrow(UsageError)
    dialer.pollTransmit(100) // the proposal is now in flight
    expect(() => dialer.ls()).toThrow(UsageError)
    dialer.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage('/a')))
    expect(dialer.protocol).toBe('/a')
    expect(dialer.takeRemainder()).toEqual(new Uint8Array(0))
    expect(() => dialer.takeRemainder()).toThrow(UsageError)
    expect(() => dialer.handleData(0, Uint8Array.of(1))).toThrow(UsageError)

    const lazy = new MultistreamDialer({ protocols: ['/a'], optimistic: true })
    expect(() => lazy.ls()).toThrow(UsageError)
    expect(() => lazy.takeRemainder()).toThrow(UsageError)

    const listener = new MultistreamListener({ protocols: ['/a'] })
    expect(listener.protocol).toBeUndefined()
    expect(() => listener.takeRemainder()).toThrow(UsageError)
    expect(() => listener.handleData(0, encodeMessage('/nope'))).toThrow(ProtocolError)
    expect(() => listener.handleData(0, HEADER)).toThrow(UsageError) // no input after a protocol error
  })

  test('a dialer that failed ignores late bytes and eof', () => {
    const dialer = new MultistreamDialer({ protocols: ['/a'] })
    dialer.pollTransmit(100)
    dialer.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage('na'), 0xff, 0xff))
    expect(dialer.pollEvent()).toEqual({ type: 'failed' })
    expect(dialer.wantsData()).toBe(false)
    dialer.handleData(0, Uint8Array.of(1, 2))
    dialer.handleEof(0)
    expect(dialer.pollEvent()).toBeUndefined()
    expect(dialer.protocol).toBeUndefined()
  })

  test('TypeError / RangeError for bad protocol ids and options', () => {
    const bad: Array<[unknown, ErrorConstructor]> = [
      [42, TypeError],
      ['', RangeError],
      ['/a\nb', RangeError],
      ['na', RangeError],
      ['ls', RangeError],
      [PROTOCOL_ID, RangeError],
      ['/\ud800', RangeError],
      ['/' + 'x'.repeat(1023), RangeError],
    ]
    for (const [p, E] of bad) {
      expect(() => new MultistreamDialer({ protocols: [p as string] })).toThrow(E)
      expect(() => new MultistreamListener({ protocols: [p as string] })).toThrow(E)
    }
    expect(() => new MultistreamDialer({ protocols: ['/' + 'x'.repeat(1022)] })).not.toThrow()
    expect(() => new MultistreamDialer({ protocols: ['/abcdef'], maxMessageLength: 19 })).not.toThrow()
    expect(() => new MultistreamDialer({ protocols: ['/' + 'x'.repeat(18)], maxMessageLength: 19 })).toThrow(RangeError)
    expect(() => new MultistreamDialer({ protocols: ['/a', '/b'], optimistic: true })).toThrow(RangeError)
    expect(() => new MultistreamDialer({ protocols: ['/a'], maxMessageLength: 18 })).toThrow(RangeError)
    expect(() => new MultistreamListener({ protocols: ['/a'], maxProposals: 0 })).toThrow(RangeError)
    expect(() => new MultistreamListener({ protocols: 'x' as never })).toThrow(TypeError)
    expect(() => new MultistreamDialer({ protocols: ['/a'] }).pollTransmit(0)).toThrow(RangeError)
    // A bad list() is local misuse even though ls arrives from the remote.
    const listener = new MultistreamListener({ protocols: () => false, list: () => ['bad\nid'] })
    expect(() => listener.handleData(0, Uint8Array.of(...HEADER, ...encodeMessage('ls')))).toThrow(RangeError)
  })

  test('no timers: pollTimeout is undefined and handleTimeout changes nothing', () => {
    const cores = [new MultistreamDialer({ protocols: ['/a'] }), new MultistreamListener({ protocols: ['/a'] })]
    for (const c of cores) {
      expect(c.pollTimeout()).toBeUndefined()
      c.handleTimeout(1e12)
      expect(c.pollTimeout()).toBeUndefined()
      expect(c.wantsData()).toBe(true)
    }
  })
})
