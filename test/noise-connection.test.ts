/**
 * NoiseConnection, the framed byte-level core: two connections with real identities joined by an
 * in-memory link (whole / byte-by-byte / seeded random chunking), determinism, every remote failure
 * mapped to its ProtocolError code with no 'data' event, garbage in -> ProtocolError only, nonce
 * exhaustion, EOF handling, framing limits and output coalescing. Runs on both crypto providers.
 */
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { concat, equals, toHex, utf8 } from '../src/core/bytes.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { type PrivateKey, privateKeyFromSeed } from '../src/peer-id/index.js'
import { prng } from './helpers/prng.js'
import { thrown } from './helpers/errors.js'
import {
  HandshakeState,
  MAX_PLAINTEXT,
  NoiseConnection,
  STATIC_KEY_SIGNATURE_PREFIX,
  encodeHandshakePayload,
  type NoiseEvent,
  type NoiseOptions,
} from '../src/noise/index.js'

const providers: [string, CryptoProvider][] = [
  ['noble', nobleCrypto],
  ['node', nodeCrypto],
]
const YAMUX = '/yamux/1.0.0'

// ---- harness ----


type Chunker = (b: Uint8Array) => Uint8Array[]
const whole: Chunker = (b) => [b]
const byteByByte: Chunker = (b) => Array.from(b, (_, i) => b.subarray(i, i + 1))
function randomChunks(seed: number, maxPiece = 300): Chunker {
  const r = prng(seed)
  return (b) => {
    const out: Uint8Array[] = []
    for (let off = 0; off < b.length; ) {
      const n = 1 + Math.floor(r() * maxPiece)
      out.push(b.subarray(off, off + n))
      off += n
    }
    return out
  }
}

const seed = (n: number) => new Uint8Array(32).fill(n)
const identities = new Map<string, PrivateKey>()
function identity(n: number, crypto: CryptoProvider): PrivateKey {
  const key = `${n}/${crypto.name}`
  if (!identities.has(key)) identities.set(key, privateKeyFromSeed(seed(n), crypto))
  return identities.get(key)!
}

interface Side {
  conn: NoiseConnection
  events: NoiseEvent[]
  sent: Uint8Array[]
}

function side(options: NoiseOptions): Side {
  return { conn: new NoiseConnection(options), events: [], sent: [] }
}

function pairOf(crypto: CryptoProvider, extra: { i?: Partial<NoiseOptions>; r?: Partial<NoiseOptions> } = {}): [Side, Side] {
  const i = side({ role: 'initiator', crypto, identity: identity(1, crypto), streamMuxers: [YAMUX], ...extra.i })
  const r = side({ role: 'responder', crypto, identity: identity(2, crypto), streamMuxers: [YAMUX], ...extra.r })
  return [i, r]
}

function drainEvents(s: Side): void {
  for (let ev = s.conn.pollEvent(); ev !== undefined; ev = s.conn.pollEvent()) s.events.push(ev)
}

/** Move bytes both ways until neither side has anything to send. */
function pump(a: Side, b: Side, chunker: Chunker = whole, max = 1 << 20): void {
  for (let progress = true; progress; ) {
    progress = false
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (let out = from.conn.pollTransmit(max); out !== undefined; out = from.conn.pollTransmit(max)) {
        progress = true
        from.sent.push(out.slice())
        for (const piece of chunker(out)) to.conn.handleData(0, piece)
      }
      drainEvents(from)
      drainEvents(to)
    }
  }
}

const dataOf = (s: Side) => concat(s.events.flatMap((e) => (e.type === 'data' ? [e.data] : [])))

function expectProtocolError(f: () => unknown, code: string): void {
  const e = thrown(f)
  expect(e, `expected ProtocolError ${code}`).toBeInstanceOf(ProtocolError)
  expect((e as ProtocolError).protocol).toBe('noise')
  expect((e as ProtocolError).code).toBe(code)
}

// ---- the pair ----

describe.each(providers)('pair (%s)', (_name, crypto) => {
  const chunkers: [string, Chunker][] = [
    ['whole', whole],
    ['byte-by-byte', byteByByte],
    ['random seed 1', randomChunks(1)],
    ['random seed 2', randomChunks(2, 5000)],
  ]
  test.each(chunkers)('handshake + data with %s chunking', (_c, chunker) => {
    const [i, r] = pairOf(crypto)
    pump(i, r, chunker)
    for (const [s, other] of [
      [i, 2],
      [r, 1],
    ] as const) {
      expect(s.events).toHaveLength(1)
      const ev = s.events[0]!
      expect(ev.type).toBe('handshake-complete')
      if (ev.type !== 'handshake-complete') return
      expect(ev.remotePeer.equals(identity(other, crypto).toPeerId(crypto))).toBe(true)
      expect(ev.remotePublicKey.equals(identity(other, crypto).publicKey)).toBe(true)
      expect(ev.remoteStreamMuxers).toEqual([YAMUX])
      expect(s.conn.remotePeer?.toString()).toBe(ev.remotePeer.toString())
    }
    // bulk both ways, including a write larger than one frame
    const big = crypto.randomBytes(3 * MAX_PLAINTEXT + 123)
    i.conn.write(big)
    i.conn.write(utf8('tail'))
    r.conn.write(utf8('from responder'))
    pump(i, r, chunker)
    expect(equals(dataOf(r), concat([big, utf8('tail')]))).toBe(true)
    expect(dataOf(i)).toEqual(utf8('from responder'))
  })

  test('the same keys give identical bytes; different chunking gives identical events', () => {
    const fixed = (c: CryptoProvider) =>
      pairOf(c, { i: { staticKey: seed(11), ephemeralKey: seed(12) }, r: { staticKey: seed(13), ephemeralKey: seed(14) } })
    const transcript = (chunker: Chunker) => {
      const [i, r] = fixed(crypto)
      pump(i, r, chunker)
      i.conn.write(utf8('ping'))
      r.conn.write(utf8('pong'))
      pump(i, r, chunker)
      return { i: i.sent.map(toHex), r: r.sent.map(toHex), data: [toHex(dataOf(i)), toHex(dataOf(r))] }
    }
    const a = transcript(whole)
    expect(transcript(whole)).toEqual(a)
    expect(transcript(byteByByte)).toEqual(a)
    // and the other provider agrees byte for byte
    const other = crypto === nobleCrypto ? nodeCrypto : nobleCrypto
    const [i2, r2] = fixed(other)
    pump(i2, r2)
    expect(i2.sent.map(toHex)).toEqual(a.i.slice(0, 2))
    expect(r2.sent.map(toHex)).toEqual(a.r.slice(0, 1))
  })

  test('frames never exceed 65535 bytes and carry at most 65519 plaintext bytes', () => {
    const [i, r] = pairOf(crypto)
    pump(i, r)
    i.conn.write(new Uint8Array(5 * MAX_PLAINTEXT + 1))
    const pieces: Uint8Array[] = []
    for (let b = i.conn.pollTransmit(1 << 30); b !== undefined; b = i.conn.pollTransmit(1 << 30)) pieces.push(b)
    const wire = concat(pieces)
    const lengths: number[] = []
    for (let off = 0; off < wire.length; ) {
      const len = (wire[off]! << 8) | wire[off + 1]!
      lengths.push(len)
      off += 2 + len
    }
    expect(lengths).toEqual([65535, 65535, 65535, 65535, 65535, 17])
  })
})

describe('chunking invariance (property)', () => {
  const crypto = nobleCrypto
  test('any split of handshake + transport bytes gives the same events and plaintext', () => {
    const keys = { i: { staticKey: seed(21), ephemeralKey: seed(22) }, r: { staticKey: seed(23), ephemeralKey: seed(24) } }
    // record what the initiator sends: message 1, message 3, then frames of assorted sizes
    const [i0, r0] = pairOf(crypto, keys)
    pump(i0, r0)
    const sizes = [1, 0, 70_000, 15, 65_519, 300]
    const plain = sizes.map((n, k) => new Uint8Array(n).fill(k + 1))
    for (const p of plain) i0.conn.write(p)
    pump(i0, r0)
    const stream = concat(i0.sent.slice(1))
    const expected = concat(plain)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
        const [i, r] = pairOf(crypto, keys)
        r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!) // message 1
        i.conn.handleData(0, r.conn.pollTransmit(1 << 20)!) // message 2 (identical bytes: same keys)
        const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b)
        for (let k = 1; k < points.length; k++) r.conn.handleData(0, stream.subarray(points[k - 1], points[k]))
        drainEvents(r)
        expect(r.events[0]?.type).toBe('handshake-complete')
        expect(equals(dataOf(r), expected)).toBe(true)
      }),
      { numRuns: 40, seed: 7 },
    )
  })
})

// ---- output buffering ----

describe('pollTransmit', () => {
  const crypto = nobleCrypto
  test('many small writes coalesce into one buffer; max is respected; nothing is lost', () => {
    const [i, r] = pairOf(crypto)
    pump(i, r)
    for (let k = 0; k < 100; k++) i.conn.write(utf8(`message ${k};`))
    expect(i.conn.bufferedAmount).toBeGreaterThan(100 * 18)
    const first = i.conn.pollTransmit(1 << 20)!
    expect(i.conn.pollTransmit(1 << 20)).toBeUndefined()
    expect(i.conn.bufferedAmount).toBe(0)
    r.conn.handleData(0, first)
    drainEvents(r)
    expect(new TextDecoder().decode(dataOf(r))).toBe(Array.from({ length: 100 }, (_, k) => `message ${k};`).join(''))
    // a small max slices the output
    for (let k = 0; k < 50; k++) i.conn.write(new Uint8Array(1000).fill(k))
    const pieces: Uint8Array[] = []
    for (let b = i.conn.pollTransmit(777); b !== undefined; b = i.conn.pollTransmit(777)) {
      expect(b.length).toBeLessThanOrEqual(777)
      pieces.push(b)
    }
    r.events.length = 0
    r.conn.handleData(0, concat(pieces))
    drainEvents(r)
    expect(dataOf(r).length).toBe(50_000)
    expect(() => i.conn.pollTransmit(0)).toThrow(RangeError)
  })

  test('a small remainder is not coalesced with a large block behind it (that one stays a view)', () => {
    const [i, r] = pairOf(nobleCrypto) // no chachaSealDetached: frames are sealed into blocks
    pump(i, r)
    // four full frames: the first fills its own block, the next three a burst block
    const plain = new Uint8Array(4 * MAX_PLAINTEXT).fill(7)
    i.conn.write(plain.subarray(0, MAX_PLAINTEXT))
    i.conn.write(plain.subarray(MAX_PLAINTEXT))
    const frame = MAX_PLAINTEXT + 18
    // stop 4 bytes short of the first block's end, then write a fifth frame
    const a = i.conn.pollTransmit(frame - 4)!
    i.conn.write(new Uint8Array(100).fill(8))
    const b = i.conn.pollTransmit(1 << 20)!
    expect(b.length).toBe(4) // the remainder alone, not a copy of the 196 KiB behind it
    const c = i.conn.pollTransmit(1 << 20)!
    expect(c.byteLength).toBe(3 * frame + 118) // the burst block, as one view
    expect(i.conn.pollTransmit(1 << 20)).toBeUndefined()
    r.conn.handleData(0, concat([a, b, c]))
    drainEvents(r)
    expect(dataOf(r)).toEqual(concat([plain, new Uint8Array(100).fill(8)]))
  })

  test('detached sealing (node:crypto): a large frame leaves as prefix, ciphertext view, tag; small frames stay in blocks', () => {
    const [i, r] = pairOf(nodeCrypto)
    pump(i, r)
    const big = new Uint8Array(2 * MAX_PLAINTEXT + 20_000).map((_, k) => k * 13)
    i.conn.write(utf8('small first'))
    i.conn.write(big) // frames of 65519, 65519 and 20000 bytes: all at least DETACHED_MIN
    i.conn.write(utf8('small last'))
    const total = i.conn.bufferedAmount
    expect(total).toBe(11 + 10 + big.length + 5 * 18)
    const pieces: Uint8Array[] = []
    for (let b = i.conn.pollTransmit(1 << 20); b !== undefined; b = i.conn.pollTransmit(1 << 20)) pieces.push(b.slice())
    expect(i.conn.bufferedAmount).toBe(0)
    // small frame + first prefix | ciphertext | tag + prefix | ciphertext | tag + prefix | ciphertext | tag + small frame
    expect(pieces.map((p) => p.length)).toEqual([2 + 11 + 16 + 2, 65535, 18, 65535, 18, 20016, 16 + 2 + 10 + 16].map((n, k) => (k % 2 === 1 ? n - 16 : n)))
    expect(pieces.reduce((n, p) => n + p.length, 0)).toBe(total)
    // any chunking of the pieces decrypts to the same plaintext
    r.events.length = 0
    for (const piece of randomChunks(3, 40_000)(concat(pieces))) r.conn.handleData(0, piece)
    drainEvents(r)
    expect(dataOf(r)).toEqual(concat([utf8('small first'), big, utf8('small last')]))
  })

  test('a sender whose queue empties between large frames keeps writing prefixes and tags into one block', () => {
    const [i, r] = pairOf(nodeCrypto)
    pump(i, r)
    const frame = new Uint8Array(MAX_PLAINTEXT).map((_, k) => k * 7)
    const sent: Uint8Array[] = []
    const smallBuffers = new Set<ArrayBufferLike>()
    for (let n = 0; n < 50; n++) {
      i.conn.write(frame)
      // the runtime writes everything out: the queue is empty before the next frame
      for (let b = i.conn.pollTransmit(1 << 20); b !== undefined; b = i.conn.pollTransmit(1 << 20)) {
        sent.push(b)
        if (b.length < 64) smallBuffers.add(b.buffer)
      }
      expect(i.conn.bufferedAmount).toBe(0)
    }
    // 50 prefixes and 50 tags (18 bytes a frame) fit in one 16 KiB block; before, each frame took a fresh one
    expect(smallBuffers.size).toBe(1)
    // every piece handed out is still intact: the whole stream decrypts
    r.events.length = 0
    r.conn.handleData(0, concat(sent))
    drainEvents(r)
    expect(dataOf(r)).toEqual(concat(Array.from({ length: 50 }, () => frame)))
  })

  test('bytes handed out are never changed by later writes', () => {
    const [i, r] = pairOf(crypto)
    pump(i, r)
    i.conn.write(utf8('a'))
    const out = i.conn.pollTransmit(1 << 20)!
    const snapshot = out.slice()
    for (let k = 0; k < 20; k++) i.conn.write(new Uint8Array(500).fill(0xee))
    expect(out).toEqual(snapshot)
  })
})

// ---- failures: each its code, no data ----

/** A hand-driven remote speaking raw HandshakeState, to send what an honest NoiseConnection never would. */
function rawResponder(crypto: CryptoProvider, payload: (sPub: Uint8Array) => Uint8Array) {
  const hs = new HandshakeState({ crypto, initiator: false, s: crypto.randomBytes(32) })
  return {
    hs,
    answer(msg1: Uint8Array): Uint8Array {
      hs.readMessage(msg1.subarray(2))
      const m = hs.writeMessage(payload(hs.localStaticPublicKey))
      return concat([Uint8Array.of(m.length >> 8, m.length & 0xff), m])
    },
  }
}

describe.each(providers)('remote failures (%s)', (_name, crypto) => {
  const signed = (id: PrivateKey, sPub: Uint8Array) => encodeHandshakePayload({ identityKey: id.publicKey.bytes, identitySig: id.sign(concat([STATIC_KEY_SIGNATURE_PREFIX, sPub]), crypto) })

  test('tampered handshake message 2 -> decrypt-failed, nothing sent, no events', () => {
    const [i, r] = pairOf(crypto)
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    const msg2 = r.conn.pollTransmit(1 << 20)!
    msg2[msg2.length - 5]! ^= 0x01
    expectProtocolError(() => i.conn.handleData(0, msg2), 'noise/decrypt-failed')
    expect(i.conn.pollTransmit(1 << 20)).toBeUndefined()
    expect(i.conn.pollEvent()).toBeUndefined()
    expect(() => i.conn.handleData(0, new Uint8Array(1))).toThrow(UsageError)
    expect(() => i.conn.write(utf8('x'))).toThrow(UsageError)
  })

  test('tampered handshake message 3 -> responder decrypt-failed, no events', () => {
    const [i, r] = pairOf(crypto)
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    i.conn.handleData(0, r.conn.pollTransmit(1 << 20)!)
    const msg3 = i.conn.pollTransmit(1 << 20)!
    msg3[10]! ^= 0x80
    expectProtocolError(() => r.conn.handleData(0, msg3), 'noise/decrypt-failed')
    expect(r.conn.pollEvent()).toBeUndefined()
  })

  test('a payload signed over a different static key -> invalid-signature', () => {
    const [i] = pairOf(crypto)
    const evil = rawResponder(crypto, () => signed(identity(2, crypto), crypto.randomBytes(32)))
    expectProtocolError(() => i.conn.handleData(0, evil.answer(i.conn.pollTransmit(1 << 20)!)), 'noise/invalid-signature')
    expect(i.conn.pollTransmit(1 << 20)).toBeUndefined()
    expect(i.conn.pollEvent()).toBeUndefined()
  })

  test('a payload with garbage protobuf or no signature -> bad-payload', () => {
    for (const payload of [Uint8Array.of(0x0a, 0x05, 1), encodeHandshakePayload({ identityKey: identity(2, crypto).publicKey.bytes }), new Uint8Array(0)]) {
      const [i] = pairOf(crypto)
      const evil = rawResponder(crypto, () => payload)
      expectProtocolError(() => i.conn.handleData(0, evil.answer(i.conn.pollTransmit(1 << 20)!)), 'noise/bad-payload')
      expect(i.conn.pollEvent()).toBeUndefined()
    }
  })

  test('a correctly signed payload from the wrong peer -> peer-id-mismatch before message 3', () => {
    const [i, r] = pairOf(crypto, { i: { expectedRemotePeer: identity(3, crypto).toPeerId(crypto) } })
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    expectProtocolError(() => i.conn.handleData(0, r.conn.pollTransmit(1 << 20)!), 'noise/peer-id-mismatch')
    expect(i.conn.pollTransmit(1 << 20)).toBeUndefined() // our identity never leaves
    expect(i.conn.pollEvent()).toBeUndefined()
    // and the right expectation passes
    const [i2, r2] = pairOf(crypto, { i: { expectedRemotePeer: identity(2, crypto).toPeerId(crypto) }, r: { expectedRemotePeer: identity(1, crypto).toPeerId(crypto) } })
    pump(i2, r2)
    expect(i2.events[0]?.type).toBe('handshake-complete')
    expect(r2.events[0]?.type).toBe('handshake-complete')
  })

  test('the responder checks expectedRemotePeer too', () => {
    const [i, r] = pairOf(crypto, { r: { expectedRemotePeer: identity(3, crypto).toPeerId(crypto) } })
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    i.conn.handleData(0, r.conn.pollTransmit(1 << 20)!)
    expectProtocolError(() => r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!), 'noise/peer-id-mismatch')
    expect(r.conn.pollEvent()).toBeUndefined()
  })

  const established = () => {
    const [i, r] = pairOf(crypto)
    pump(i, r)
    i.events.length = 0
    r.events.length = 0
    return [i, r] as const
  }

  test('tampered transport frame -> decrypt-failed, no data', () => {
    const [i, r] = established()
    i.conn.write(utf8('secret'))
    const frame = i.conn.pollTransmit(1 << 20)!
    frame[5]! ^= 0x04
    expectProtocolError(() => r.conn.handleData(0, frame), 'noise/decrypt-failed')
    expect(r.conn.pollEvent()).toBeUndefined()
  })

  test('replayed frame -> decrypt-failed; the authentic frame before it is delivered', () => {
    const [i, r] = established()
    i.conn.write(utf8('once'))
    const frame = i.conn.pollTransmit(1 << 20)!
    r.conn.handleData(0, frame)
    drainEvents(r)
    expect(dataOf(r)).toEqual(utf8('once'))
    expectProtocolError(() => r.conn.handleData(0, frame), 'noise/decrypt-failed')
    expect(r.conn.pollEvent()).toBeUndefined()
  })

  test('reordered frames -> decrypt-failed, no data', () => {
    const [i, r] = established()
    i.conn.write(utf8('first'))
    const f1 = i.conn.pollTransmit(1 << 20)!
    i.conn.write(utf8('second'))
    const f2 = i.conn.pollTransmit(1 << 20)!
    expectProtocolError(() => r.conn.handleData(0, concat([f2, f1])), 'noise/decrypt-failed')
    expect(r.conn.pollEvent()).toBeUndefined()
  })

  test('a frame shorter than the tag -> decrypt-failed', () => {
    const [, r] = established()
    expectProtocolError(() => r.conn.handleData(0, Uint8Array.of(0, 3, 1, 2, 3)), 'noise/decrypt-failed')
  })

  test('nonce exhaustion: the last nonce works, then both directions stop', () => {
    const [i, r] = established()
    i.conn._setNonceForTesting('send', 2n ** 64n - 2n)
    r.conn._setNonceForTesting('receive', 2n ** 64n - 2n)
    i.conn.write(utf8('last'))
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    drainEvents(r)
    expect(dataOf(r)).toEqual(utf8('last'))
    const e = thrown(() => i.conn.write(utf8('one more')))
    expect(e).toBeInstanceOf(UsageError)
    expect((e as UsageError).code).toBe('noise/nonce-exhausted')
    // receive side: a frame arriving when n = 2^64-1
    const [i2, r2] = established()
    i2.conn._setNonceForTesting('send', 2n ** 64n - 3n)
    r2.conn._setNonceForTesting('receive', 2n ** 64n - 1n)
    i2.conn.write(utf8('x'))
    expectProtocolError(() => r2.conn.handleData(0, i2.conn.pollTransmit(1 << 20)!), 'noise/nonce-exhausted')
    expect(r2.conn.pollEvent()).toBeUndefined()
    // a write that needs more nonces than remain is refused whole
    const [i3] = established()
    i3.conn._setNonceForTesting('send', 2n ** 64n - 3n)
    expect(() => i3.conn.write(new Uint8Array(3 * MAX_PLAINTEXT))).toThrow(UsageError)
    expect(i3.conn.bufferedAmount).toBe(0)
  })

  test('EOF: clean after a whole frame, unexpected inside a frame or the handshake', () => {
    const [i, r] = established()
    i.conn.write(utf8('bye'))
    const frame = i.conn.pollTransmit(1 << 20)!
    r.conn.handleData(0, frame)
    r.conn.handleEof(0)
    drainEvents(r)
    expect(r.events.map((e) => e.type)).toEqual(['data', 'eof'])
    expect(r.conn.wantsData()).toBe(false)
    r.conn.write(utf8('half-closed: we can still send'))
    expect(r.conn.pollTransmit(1 << 20)).toBeDefined()

    const [i2, r2] = established()
    i2.conn.write(utf8('cut'))
    r2.conn.handleData(0, i2.conn.pollTransmit(1 << 20)!.subarray(0, 7))
    expectProtocolError(() => r2.conn.handleEof(0), 'noise/unexpected-eof')

    const [i3] = pairOf(crypto)
    expectProtocolError(() => i3.conn.handleEof(0), 'noise/unexpected-eof')
  })
})

// ---- local misuse ----

describe('usage', () => {
  const crypto = nobleCrypto
  test('write before the handshake completes is a UsageError; bad options are RangeError/TypeError', () => {
    const [i, r] = pairOf(crypto)
    expect(() => i.conn.write(utf8('early'))).toThrow(UsageError)
    expect(() => r.conn.write(utf8('early'))).toThrow(UsageError)
    expect(() => i.conn._setNonceForTesting('send', 0n)).toThrow(UsageError)
    expect(() => new NoiseConnection({ role: 'initiator', crypto, identity: identity(1, crypto), maxHandshakeMessage: 70000 })).toThrow(RangeError)
    expect(() => new NoiseConnection({ role: 'x' as 'initiator', crypto, identity: identity(1, crypto) })).toThrow(TypeError)
    expect(i.conn.pollTimeout()).toBeUndefined()
    // the responder sends nothing first; the initiator's -> e is ready at once
    expect(r.conn.pollTransmit(100)).toBeUndefined()
    expect(i.conn.pollTransmit(1 << 20)!.length).toBe(2 + 32)
  })

  test('an empty write sends nothing; wantsData turns false when undelivered data passes the limit', () => {
    const [i, r] = pairOf(crypto, { r: { maxBufferedData: 1000 } })
    pump(i, r)
    i.conn.write(new Uint8Array(0))
    expect(i.conn.pollTransmit(100)).toBeUndefined()
    i.conn.write(new Uint8Array(1500))
    r.conn.handleData(0, i.conn.pollTransmit(1 << 20)!)
    expect(r.conn.wantsData()).toBe(false)
    drainEvents(r)
    expect(r.conn.wantsData()).toBe(true)
  })
})

// ---- garbage ----

describe('garbage in -> ProtocolError and nothing else', () => {
  const crypto = nobleCrypto
  const feed = (conn: NoiseConnection, chunks: Uint8Array[]) => {
    for (const c of chunks) {
      try {
        conn.handleData(0, c)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
        expect((e as ProtocolError).protocol).toBe('noise')
        return
      }
    }
  }
  const arbChunks = fc.array(fc.uint8Array({ minLength: 0, maxLength: 400 }), { maxLength: 8 })

  test('to a responder awaiting message 1', () => {
    fc.assert(
      fc.property(arbChunks, (chunks) => {
        const r = new NoiseConnection({ role: 'responder', crypto, identity: identity(2, crypto), staticKey: seed(5), ephemeralKey: seed(6) })
        feed(r, chunks)
        expect(r.pollEvent()).toBeUndefined()
        expect(r.bufferedInput).toBeLessThanOrEqual(2 + 65535)
      }),
      { numRuns: 60, seed: 42 },
    )
  })

  test('to an initiator awaiting message 2 (after a valid-looking prefix too)', () => {
    fc.assert(
      fc.property(arbChunks, fc.boolean(), (chunks, prefix) => {
        const i = new NoiseConnection({ role: 'initiator', crypto, identity: identity(1, crypto), staticKey: seed(7), ephemeralKey: seed(8) })
        // a plausible frame header for message 2 followed by garbage
        feed(i, prefix ? [Uint8Array.of(0, 200), ...chunks] : chunks)
        expect(i.pollEvent()).toBeUndefined()
      }),
      { numRuns: 60, seed: 43 },
    )
  })

  test('to an established connection (buffer stays under one frame)', () => {
    const [i0, r0] = pairOf(crypto)
    pump(i0, r0)
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 30000 }), { maxLength: 6 }), (chunks) => {
        const [i, r] = pairOf(crypto, { i: { staticKey: seed(7), ephemeralKey: seed(8) }, r: { staticKey: seed(9), ephemeralKey: seed(10) } })
        pump(i, r)
        r.events.length = 0
        feed(r.conn, chunks)
        drainEvents(r)
        expect(r.events.filter((e) => e.type === 'data')).toEqual([])
        expect(r.conn.bufferedAmount).toBe(0)
        expect(r.conn.bufferedInput).toBeLessThanOrEqual(2 + 65535)
      }),
      { numRuns: 25, seed: 44 },
    )
  })
})
