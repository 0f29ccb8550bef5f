// Interop vectors: bytes captured from live go-libp2p and rust-libp2p peers by interop/capture.mjs
// (spec/vectors/interop-transcripts.json). Each one is decoded by weft's own decoder, re-encoded to
// the same bytes, fed to a fresh weft session where that makes sense, and compared with the derived
// vectors (yamux.json, multistream.json) whose meaning it shares (`confirms`).
import { describe, expect, test } from 'vitest'
import { concat, fromHex, toHex } from '../src/core/bytes.js'
import { ReadBuffer } from '../src/core/read-buffer.js'
import { decodeLine, encodeMessage, readMessage } from '../src/multistream/wire.js'
import { YamuxSession, encodeFrame, readHeader, type YamuxEvent } from '../src/yamux/index.js'
import { readVectorFile, vectorFile, type Vector } from './helpers/vectors.js'

const vectors = vectorFile('interop-transcripts')
const derived = { yamux: readVectorFile('yamux'), multistream: readVectorFile('multistream') }

interface Confirm { file: 'yamux' | 'multistream'; id: string; fields?: string[]; step?: number; stepMessages?: [number, number]; captureMessages?: [number, number] }
interface Frame { version: number; type: number; flags: number; streamId: number; length: number; payload: string }

function derivedVector(c: Confirm): Vector {
  const v = derived[c.file].vectors.find((x) => x.id === c.id)
  expect(v, `${c.file}.json has no vector ${c.id}`).toBeDefined()
  // derived, or interop once interop/vectors.mjs had go-libp2p confirm it too (checkedBy)
  expect(['derived', 'interop']).toContain(v!.provenance)
  return v!
}

/** Every whole multistream message in `hex` (weft's reader), as hex, at most `max`. */
function messages(hex: string, max = Infinity): string[] {
  const buf = new ReadBuffer()
  buf.push(fromHex(hex))
  const out: string[] = []
  while (out.length < max) {
    const before = buf.length
    const body = readMessage(buf, 1024)
    if (body === undefined) break
    out.push(hex.slice((hex.length / 2 - before) * 2, (hex.length / 2 - buf.length) * 2))
  }
  return out
}

function drain(s: YamuxSession): { out: string; events: YamuxEvent[] } {
  let out = ''
  for (let b = s.pollTransmit(65519); b !== undefined; b = s.pollTransmit(65519)) out += toHex(b)
  const events: YamuxEvent[] = []
  for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) events.push(ev)
  return { out, events }
}

const all = vectors.all()
for (const v of all) expect(v.provenance, v.id).toBe('interop')
const yamux = all.filter((v) => 'type' in (v.decoded as object))
const multistream = all.filter((v) => (v.decoded as { kind?: string }).kind === 'messages')

test('every interop vector is a yamux frame or a multistream flight, from go or rust', () => {
  expect(yamux.length + multistream.length).toBe(all.length)
  for (const v of all) expect(v.source).toMatch(/^(go-libp2p|rust-libp2p) .* captured \d{4}-\d\d-\d\d by interop\/capture\.mjs: /)
})

describe('yamux frames from go and rust', () => {
  for (const v of yamux) {
    const d = v.decoded as Frame
    test(`${v.id}: weft decodes and re-encodes the captured bytes`, () => {
      const raw = fromHex(v.hex!)
      expect(readHeader(raw, 0)).toEqual({ version: d.version, type: d.type, flags: d.flags, streamId: d.streamId, length: d.length })
      expect(toHex(raw.subarray(12))).toBe(d.payload)
      expect(toHex(encodeFrame(d, fromHex(d.payload)))).toBe(v.hex)
    })
    for (const c of (v.confirms ?? []) as Confirm[]) {
      test(`${v.id} confirms ${c.file}:${c.id} (${c.fields!.join(', ')})`, () => {
        const dv = derivedVector(c).decoded as Record<string, unknown>
        for (const f of c.fields!) expect((d as unknown as Record<string, unknown>)[f], f).toEqual(dv[f])
      })
    }
    test(`${v.id}: a fresh weft session takes it`, () => {
      const remoteIsListener = !v.id.includes('-dialer-')
      const s = new YamuxSession({ role: remoteIsListener ? 'client' : 'server', keepAliveInterval: undefined })
      const ours = d.streamId !== 0 && d.streamId % 2 === (remoteIsListener ? 1 : 0)
      if (ours) while (s.openStream(0) < d.streamId) { /* open every stream up to this id */ }
      else if (d.streamId !== 0 && (d.flags & 1) === 0) {
        // a later frame of a stream the remote opened: its SYN came first
        s.handleData(0, encodeFrame({ type: 1, flags: 1, streamId: d.streamId, length: 0 }))
        s.accept(d.streamId)
      }
      drain(s)
      s.handleData(0, fromHex(v.hex!))
      const { out, events } = drain(s)
      expect(events.filter((e) => e.type === 'closed')).toEqual([])
      const SYN = 1, FIN = 4, RST = 8
      if (d.type === 2 && d.flags === SYN) {
        // weft answers the remote's Ping exactly as that remote answered weft's Ping with the same opaque value
        expect(out).toBe(toHex(encodeFrame({ type: 2, flags: 2, streamId: 0, length: d.length })))
        const theirs = all.find((x) => x.id === v.id.replace('ping-syn', 'ping-ack'))
        if (theirs !== undefined && (theirs.decoded as Frame).length === d.length) expect(out).toBe(theirs.hex)
      } else if ((d.flags & SYN) !== 0) {
        expect(events[0]).toEqual({ type: 'stream-inbound', id: d.streamId })
        if (d.payload !== '') expect(events[1]).toEqual({ type: 'stream-data', id: d.streamId, data: fromHex(d.payload) })
      } else if (d.streamId !== 0 && (d.flags & RST) !== 0) {
        expect(events).toContainEqual({ type: 'stream-reset', id: d.streamId })
      } else if (d.streamId !== 0 && (d.flags & FIN) !== 0) {
        expect(events).toContainEqual({ type: 'stream-eof', id: d.streamId })
      } else if (d.streamId !== 0 && d.payload !== '') {
        expect(events).toContainEqual({ type: 'stream-data', id: d.streamId, data: fromHex(d.payload) })
      }
    })
  }
})

describe('multistream-select flights from go and rust', () => {
  for (const v of multistream) {
    const lines = (v.decoded as { lines: string[] }).lines
    test(`${v.id}: weft reads exactly these messages and writes the same bytes`, () => {
      const buf = new ReadBuffer()
      buf.push(fromHex(v.hex!))
      const read: string[] = []
      for (let body = readMessage(buf, 1024); body !== undefined; body = readMessage(buf, 1024)) read.push(decodeLine(body))
      expect(read).toEqual(lines)
      expect(buf.length).toBe(0)
      expect(toHex(concat(lines.map((l) => encodeMessage(l))))).toBe(v.hex)
    })
    for (const c of (v.confirms ?? []) as Confirm[]) {
      test(`${v.id} confirms ${c.file}:${c.id} ${c.step === undefined ? 'hex' : `step ${c.step}`} messages [${c.stepMessages!.join(', ')})`, () => {
        const dv = derivedVector(c)
        const step = (c.step === undefined ? dv : dv.steps![c.step]) as { hex: string }
        const [s0, s1] = c.stepMessages!
        const [c0, c1] = c.captureMessages!
        expect(s1 - s0).toBe(c1 - c0)
        expect(messages(step.hex, s1).slice(s0)).toEqual(messages(v.hex!).slice(c0, c1))
      })
    }
  }
})

test('the notes of the derived vectors name exactly the interop vectors that confirm them', () => {
  const targets = new Map<string, string[]>()
  for (const v of all) {
    for (const c of (v.confirms ?? []) as Confirm[]) targets.set(`${c.file}:${c.id}`, [...(targets.get(`${c.file}:${c.id}`) ?? []), v.id])
  }
  const noted: string[] = []
  for (const file of ['yamux', 'multistream'] as const) {
    for (const d of derived[file].vectors) {
      if (!(d.note ?? '').includes('Confirmed by interop vectors')) continue
      noted.push(`${file}:${d.id}`)
      for (const id of targets.get(`${file}:${d.id}`) ?? []) expect(d.note, `${file}:${d.id}`).toContain(id)
    }
  }
  expect(noted.sort()).toEqual([...targets.keys()].sort())
})
