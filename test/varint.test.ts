import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import * as varint from '../src/core/varint.js'
import { LpDecoder, decodeLpExact, encodeLp } from '../src/core/lp.js'
import { ReadBuffer } from '../src/core/read-buffer.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('varint')

describe('varint vectors', () => {
  for (const v of vectors.all()) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      if (v.error !== undefined) {
        expect(() => varint.decodeExact(bytes)).toThrow(expect.objectContaining({ code: v.error }))
      } else {
        expect(varint.decodeExact(bytes)).toBe(v.decoded.value)
        expect(toHex(varint.encode(v.decoded.value))).toBe(v.hex)
      }
    })
  }
})

describe('varint properties', () => {
  test('round trip for every safe integer', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => {
      const enc = varint.encode(n)
      expect(enc.length).toBe(varint.encodingLength(n))
      expect(varint.decodeExact(enc)).toBe(n)
    }))
  })
  test('garbage yields a value or ProtocolError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), (b) => {
      try {
        const d = varint.decode(b, 0)!
        expect(d.bytes).toBeLessThanOrEqual(9)
        expect(toHex(varint.encode(d.value))).toBe(toHex(b.subarray(0, d.bytes)))
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }))
  })
  test('local misuse is a RangeError', () => {
    expect(() => varint.encode(-1)).toThrow(RangeError)
    expect(() => varint.encode(1.5)).toThrow(RangeError)
    expect(() => varint.encode(2 ** 53)).toThrow(RangeError)
  })
})

describe('length-prefixed framing', () => {
  test('any chunking yields the same messages', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), (msgs, cuts) => {
      const wire = msgs.map(encodeLp)
      const all = new Uint8Array(wire.reduce((n, w) => n + w.length, 0))
      let off = 0
      for (const w of wire) { all.set(w, off); off += w.length }
      const dec = new LpDecoder(300)
      const out: string[] = []
      let i = 0
      for (let at = 0; at < all.length; i++) {
        const n = cuts[i % cuts.length]!
        dec.push(all.subarray(at, at + n))
        at += n
        for (let m = dec.next(); m !== undefined; m = dec.next()) out.push(toHex(m))
      }
      expect(out).toEqual(msgs.map(toHex))
      expect(dec.buffered).toBe(0)
    }))
  })
  test('a length above the maximum is rejected before the body arrives', () => {
    const dec = new LpDecoder(10)
    dec.push(fromHex('0b'))
    expect(() => dec.next()).toThrow(expect.objectContaining({ code: 'lp/too-large' }))
    expect(() => decodeLpExact(fromHex('0b' + '00'.repeat(11)), 10)).toThrow(ProtocolError)
    expect(() => decodeLpExact(fromHex('0300'), 10)).toThrow(expect.objectContaining({ code: 'lp/truncated' }))
    expect(toHex(decodeLpExact(fromHex('020102'), 10))).toBe('0102')
  })
  test('garbage yields messages or ProtocolError, with bounded buffering', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      const dec = new LpDecoder(64)
      try {
        dec.push(b)
        while (dec.next() !== undefined) { /* drain */ }
        expect(dec.buffered).toBeLessThanOrEqual(64 + 9)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }))
  })
})

describe('ReadBuffer', () => {
  test('ReadBuffer reads across chunks and copies its input', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 20 })), fc.nat(100), (chunks, n) => {
      const rb = new ReadBuffer()
      const flat: number[] = []
      for (const c of chunks) { rb.push(c); flat.push(...c); c.fill(0xee) }
      const take = Math.min(n, flat.length)
      expect([...rb.peek(take)]).toEqual(flat.slice(0, take))
      expect(rb.byteAt(take)).toBe(flat[take])
      expect(rb.indexOf(flat[take] ?? -1)).toBe(take < flat.length ? flat.indexOf(flat[take]!) : -1)
      expect([...rb.read(take)]).toEqual(flat.slice(0, take))
      expect([...rb.readAll()]).toEqual(flat.slice(take))
      expect(rb.length).toBe(0)
    }))
  })
})
