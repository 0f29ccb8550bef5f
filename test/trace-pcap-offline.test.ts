/**
 * The offline decryptor (src/trace/offline.ts) on synthetic connections written byte by byte: the
 * security negotiation (lazy: Noise message 1 in the proposal's flight), Noise messages 1-3 (their
 * contents are not checked offline: only message 1's ephemeral key, which names the keylog line),
 * transport messages encrypted with CipherState under k1/k2, the muxer negotiated inside the channel
 * or early (in the Noise payloads), yamux frames, per-stream negotiation with `na`, the limits, and
 * what happens without keys, with a wrong key and with a capture missing bytes.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { UsageError } from '../src/core/errors.js'
import type { DecoderFactory } from '../src/core/trace.js'
import { encodeMessage } from '../src/multistream/index.js'
import { CipherState } from '../src/noise/index.js'
import { decodeCapture, parseKeylog, KEYLOG_LABEL } from '../src/trace/offline.js'
import { readPcap } from '../src/trace/pcap.js'
import { encodeFrame, Flag, FrameType } from '../src/yamux/index.js'
import { connectionSegments, tcpPcap } from './trace-pcap-helpers.js'

const crypto = nobleCrypto
const fill = (n: number, v: number) => new Uint8Array(n).fill(v)
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
const cat = (...p: Uint8Array[]) => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of p) { out.set(x, o); o += x.length }
  return out
}
const lines = (...l: string[]) => cat(...l.map((x) => encodeMessage(x)))
const noiseFrame = (m: Uint8Array) => cat(Uint8Array.of(m.length >> 8, m.length & 0xff), m)

const E = fill(32, 0xe1)
const K1 = fill(32, 0x11)
const K2 = fill(32, 0x22)
const KEYLOG = `# written by weft\n${KEYLOG_LABEL} ${hex(E)} ${hex(K1)} ${hex(K2)}\n`
const PING = fill(32, 7)

/** The flights of one connection: the initiator pings on stream 1 after an `na` on stream 3 (…in any order). */
function flights(o: { earlyMuxer?: boolean; k1?: Uint8Array } = {}) {
  const c1 = new CipherState(crypto, o.k1 ?? K1)
  const c2 = new CipherState(crypto, K2)
  const enc = (c: CipherState, pt: Uint8Array) => noiseFrame(c.encryptWithAd(new Uint8Array(0), pt))
  const data = (flags: number, stream: number, body: Uint8Array) => encodeFrame({ type: FrameType.Data, flags, streamId: stream, length: body.length }, body)
  const f: Array<{ fromInitiator: boolean; data: Uint8Array }> = []
  const I = (d: Uint8Array) => f.push({ fromInitiator: true, data: d })
  const R = (d: Uint8Array) => f.push({ fromInitiator: false, data: d })
  I(cat(lines('/multistream/1.0.0', '/noise'), noiseFrame(E))) // lazy: message 1 with the proposal
  R(cat(lines('/multistream/1.0.0', '/noise'), noiseFrame(cat(fill(32, 0xe2), fill(48 + 40 + 16, 0x99)))))
  I(noiseFrame(fill(48 + 40 + 16, 0x98)))
  if (o.earlyMuxer !== true) {
    I(enc(c1, lines('/multistream/1.0.0', '/yamux/1.0.0')))
    R(enc(c2, lines('/multistream/1.0.0', '/yamux/1.0.0')))
  }
  // stream 1: an `na` first, then ping; the responder's answers come in separate frames.
  I(enc(c1, data(Flag.SYN, 1, lines('/multistream/1.0.0', '/nope/1.0.0'))))
  R(enc(c2, data(Flag.ACK, 1, lines('/multistream/1.0.0', 'na'))))
  I(enc(c1, data(0, 1, cat(lines('/ipfs/ping/1.0.0'), PING)))) // lazy: data with the proposal
  R(enc(c2, cat(data(0, 1, lines('/ipfs/ping/1.0.0')), data(0, 1, PING))))
  // a window update and a FIN each way
  I(enc(c1, encodeFrame({ type: FrameType.WindowUpdate, flags: 0, streamId: 1, length: 1000 })))
  I(enc(c1, data(Flag.FIN, 1, new Uint8Array(0))))
  R(enc(c2, data(Flag.FIN, 1, new Uint8Array(0))))
  return f
}

/** A stand-in for src/trace/decode's ping decoder: one message per whole 32-byte payload, in any split. */
const decoders: DecoderFactory = (protocol, dir) => {
  if (protocol !== '/ipfs/ping/1.0.0') return undefined
  let have = 0
  return { push: (b) => {
    const out = []
    for (have += b.length; have >= 32; have -= 32) out.push({ name: dir === 'out' ? 'ping' : 'pong', fields: { bytes: 32 } })
    return out
  } }
}

function decode(file: Uint8Array, keylog = KEYLOG, limits = {}) {
  return decodeCapture(readPcap(file).connections, { crypto, keys: parseKeylog(keylog), decoders, ...limits })
}

describe('a synthetic connection decrypts and decodes', () => {
  for (const earlyMuxer of [false, true]) {
    test(`every layer, in order (${earlyMuxer ? 'muxer in the Noise payloads' : 'muxer negotiated inside the channel'})`, () => {
      const ev = decode(tcpPcap(1, connectionSegments(flights({ earlyMuxer }), { mss: 37 })))
      const kinds = new Set(ev.map((e) => e.kind))
      for (const k of ['transport', 'multistream', 'noise-handshake', 'yamux-frame', 'message', 'state']) expect(kinds, k).toContain(k)
      expect(ev.every((e) => e.conn === 'pcap-1')).toBe(true)
      const hs = ev.filter((e) => e.kind === 'noise-handshake')
      expect(hs.map((e) => [e.dir, (e as { message: number }).message])).toEqual([['out', 1], ['in', 2], ['out', 3]])
      expect((hs[0] as { ephemeral: string }).ephemeral).toBe(hex(E))
      const ms = ev.filter((e) => e.kind === 'multistream').map((e) => [e.dir, (e as { stream?: number }).stream, (e as { line: string }).line])
      expect(ms.slice(0, 4)).toEqual([['out', undefined, '/multistream/1.0.0'], ['out', undefined, '/noise'], ['in', undefined, '/multistream/1.0.0'], ['in', undefined, '/noise']])
      expect(ms.filter((m) => m[1] === 1).map((m) => `${m[0]} ${m[2]}`)).toEqual([
        'out /multistream/1.0.0', 'out /nope/1.0.0', 'in /multistream/1.0.0', 'in na', 'out /ipfs/ping/1.0.0', 'in /ipfs/ping/1.0.0',
      ])
      expect(ms.some((m) => m[2] === '/yamux/1.0.0')).toBe(!earlyMuxer)
      const frames = ev.filter((e) => e.kind === 'yamux-frame') as Array<{ dir: string; type: string; flags: string[]; stream: number; length: number }>
      expect(frames[0]).toMatchObject({ dir: 'out', type: 'data', flags: ['SYN'], stream: 1 })
      expect(frames.some((f) => f.type === 'window-update' && f.length === 1000)).toBe(true)
      expect(frames.filter((f) => f.flags.includes('FIN')).map((f) => f.dir)).toEqual(['out', 'in'])
      const msgs = ev.filter((e) => e.kind === 'message') as Array<{ dir: string; stream: number; protocol: string }>
      expect(msgs.map((m) => [m.dir, m.stream, m.protocol])).toEqual([['out', 1, '/ipfs/ping/1.0.0'], ['in', 1, '/ipfs/ping/1.0.0']])
      expect(ev.some((e) => e.kind === 'state' && (e as { to: string }).to === 'undecodable')).toBe(false)
      // event times are the packets' times, non-decreasing
      for (let i = 1; i < ev.length; i++) expect(ev[i]!.t).toBeGreaterThanOrEqual(ev[i - 1]!.t)
    })
  }

  test('the same events whatever the segmentation and link type', () => {
    const a = decode(tcpPcap(1, connectionSegments(flights(), { mss: 1000 }))).filter((e) => e.kind !== 'transport')
    const b = decode(tcpPcap(113, connectionSegments(flights(), { mss: 5 }))).filter((e) => e.kind !== 'transport')
    const strip = (e: object) => { const { t: _t, ...rest } = e as { t: number }; return rest }
    expect(b.map(strip)).toEqual(a.map(strip))
  })
})

describe('what cannot be decoded is said, not thrown', () => {
  test('no keylog line for the ephemeral: handshake events, then no-keys', () => {
    const ev = decode(tcpPcap(1, connectionSegments(flights())), '')
    expect(ev.filter((e) => e.kind === 'noise-handshake')).toHaveLength(3)
    expect(ev.some((e) => e.kind === 'state' && (e as { to: string }).to === 'no-keys')).toBe(true)
    expect(ev.some((e) => e.kind === 'yamux-frame')).toBe(false)
  })

  test('a wrong key: undecodable at the first transport message', () => {
    const ev = decode(tcpPcap(1, connectionSegments(flights({ k1: fill(32, 0x33) }))))
    const bad = ev.filter((e) => e.kind === 'state' && (e as { to: string }).to === 'undecodable')
    expect(bad).toHaveLength(1)
    expect(String((bad[0] as { reason?: string }).reason)).toMatch(/does not decrypt/)
  })

  test('bytes missing from the capture are reported', () => {
    const segs = connectionSegments(flights(), { mss: 20 })
    segs.splice(10, 1)
    const ev = decode(tcpPcap(1, segs))
    expect(ev.some((e) => e.kind === 'state' && (e as { to: string }).to === 'capture-incomplete')).toBe(true)
  })

  test('maxPendingBytes: at the limit the negotiation finishes, one past it stops', () => {
    // The initiator's first flight (proposal + message 1) waits for the responder's answer: 8 + 34 bytes … counted per side.
    const f = flights()
    const waiting = f[0]!.data.length - lines('/multistream/1.0.0', '/noise').length
    const file = tcpPcap(1, connectionSegments(f, { mss: 10_000 }))
    const ok = decode(file, KEYLOG, { maxPendingBytes: waiting })
    expect(ok.some((e) => (e as { to?: string }).to === 'undecodable')).toBe(false)
    const past = decode(file, KEYLOG, { maxPendingBytes: waiting - 1 })
    expect(past.filter((e) => (e as { to?: string }).to === 'undecodable')).toHaveLength(1)
  })

  test('maxStreams: streams past it are framed but not decoded', () => {
    const file = tcpPcap(1, connectionSegments(flights()))
    expect(decode(file, KEYLOG, { maxStreams: 1 }).some((e) => e.kind === 'message')).toBe(true)
    const past = decode(file, KEYLOG, { maxStreams: 0 })
    expect(past.some((e) => e.kind === 'message')).toBe(false)
    expect(past.some((e) => e.kind === 'yamux-frame')).toBe(true)
  })

  test('maxFrameBytes: a Data frame at the limit is decoded, one byte past it stops', () => {
    const file = tcpPcap(1, connectionSegments(flights()))
    const biggest = Math.max(...decode(file).filter((e) => e.kind === 'yamux-frame' && (e as { type: string }).type === 'data').map((e) => (e as { length: number }).length))
    expect(decode(file, KEYLOG, { maxFrameBytes: biggest }).some((e) => (e as { to?: string }).to === 'undecodable')).toBe(false)
    expect(decode(file, KEYLOG, { maxFrameBytes: biggest - 1 }).some((e) => (e as { to?: string }).to === 'undecodable')).toBe(true)
  })
})

describe('never throws on a capture\'s contents', () => {
  /** A connection up to the transport phase, then arbitrary plaintext from both sides, encrypted. */
  function withPlaintext(parts: Array<[boolean, Uint8Array]>) {
    const f = flights().slice(0, 3)
    const c = { true: new CipherState(crypto, K1), false: new CipherState(crypto, K2) }
    for (const [fromInitiator, pt] of parts) f.push({ fromInitiator, data: noiseFrame(c[`${fromInitiator}`].encryptWithAd(new Uint8Array(0), pt)) })
    return tcpPcap(101, connectionSegments(f, { mss: 64 }))
  }
  test('arbitrary plaintext after the handshake (property)', () => {
    const yamuxish = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // a plausible yamux header followed by anything
      fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 300 }), fc.uint8Array({ maxLength: 200 }))
        .map(([type, flags, id, len, rest]) => cat(encodeFrame({ type: Math.min(type, 3), flags, streamId: id, length: len }), rest)),
    )
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), yamuxish), { maxLength: 12 }), (parts) => {
      const ev = decode(withPlaintext(parts))
      expect(ev[ev.length - 1]).toMatchObject({ kind: 'state', layer: 'connection', to: 'closed' })
    }), { numRuns: 300 })
  })
  test('arbitrary bytes before Noise (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 100 })), { maxLength: 8 }), (parts) => {
      const ev = decode(tcpPcap(1, connectionSegments(parts.map(([fromInitiator, data]) => ({ fromInitiator, data })), { mss: 30 })))
      expect(ev[ev.length - 1]).toMatchObject({ kind: 'state', to: 'closed' })
    }), { numRuns: 300 })
  })
  test('a decoder that throws ends its stream\'s decoding only', () => {
    const ev = decodeCapture(readPcap(tcpPcap(1, connectionSegments(flights()))).connections, {
      crypto, keys: parseKeylog(KEYLOG), decoders: () => ({ push: () => { throw new Error('boom') } }),
    })
    const bad = ev.filter((e) => e.kind === 'state' && e.to === 'undecodable')
    expect(bad).toHaveLength(1)
    expect(bad[0]).toMatchObject({ layer: 'stream', stream: 1 })
    expect(ev.some((e) => e.kind === 'yamux-frame' && e.flags.includes('FIN'))).toBe(true)
  })
})

describe('keylog', () => {
  test('lines, comments, blank lines; a malformed line is UsageError keylog/bad-line', () => {
    expect(parseKeylog(KEYLOG).get(hex(E))?.k2).toEqual(K2)
    expect(parseKeylog(KEYLOG.toUpperCase().replace(KEYLOG_LABEL.toUpperCase(), KEYLOG_LABEL).replace('# WRITTEN BY WEFT', '')).size).toBe(1)
    for (const bad of [`${KEYLOG_LABEL} ${hex(E)} ${hex(K1)}`, `CLIENT_RANDOM ${hex(E)} ${hex(K1)} ${hex(K2)}`, `${KEYLOG_LABEL} ${hex(E)} ${hex(K1)} zz`]) {
      expect(() => parseKeylog(bad)).toThrow(UsageError)
      try { parseKeylog(bad) } catch (e) { expect((e as UsageError).code).toBe('keylog/bad-line') }
    }
  })
})
