import fc from 'fast-check'
import { expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, required, tag } from '../src/core/protobuf.js'

interface Msg { id?: number; name?: string; blobs: Uint8Array[]; big?: bigint }

function encode(m: Msg): Uint8Array {
  return encodeMessage((w) => {
    if (m.id !== undefined) w.uint32(tag(1, WIRE_VARINT)).uint64(m.id)
    if (m.name !== undefined) w.uint32(tag(2, WIRE_LEN)).string(m.name)
    for (const b of m.blobs) w.uint32(tag(3, WIRE_LEN)).bytes(b)
  })
}

function decode(buf: Uint8Array, max = 1024): Msg {
  const m: Msg = { blobs: [] }
  decodeMessage(buf, 'test', max, (field, r) => {
    if (field === 1) m.id = r.uint64()
    else if (field === 2) m.name = r.string()
    else if (field === 3) m.blobs.push(r.bytes())
    else r.skip()
  })
  return m
}

test('round trip', () => {
  fc.assert(fc.property(fc.record({ id: fc.option(fc.maxSafeNat(), { nil: undefined }), name: fc.option(fc.string(), { nil: undefined }), blobs: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 }) }), (m) => {
    const clean: Msg = { blobs: m.blobs }
    if (m.id !== undefined) clean.id = m.id
    if (m.name !== undefined) clean.name = m.name
    expect(decode(encode(clean), 1 << 20)).toEqual(clean)
  }))
})

test('a field with the wrong wire type is rejected', () => {
  // field 1 sent as length-delimited instead of varint
  const bad = encodeMessage((w) => { w.uint32(tag(1, WIRE_LEN)).bytes(Uint8Array.of(1)) })
  expect(() => decode(bad)).toThrow(expect.objectContaining({ code: 'protobuf/wrong-wire-type' }))
})

test('the size limit is checked before parsing', () => {
  const big = encode({ blobs: [new Uint8Array(2000)] })
  expect(() => decode(big, 1024)).toThrow(expect.objectContaining({ code: 'protobuf/too-large' }))
})

test('unknown fields are skipped; groups and field 0 are rejected', () => {
  const withUnknown = encodeMessage((w) => { w.uint32(tag(9, WIRE_VARINT)).uint32(5); w.uint32(tag(1, WIRE_VARINT)).uint32(7) })
  expect(decode(withUnknown).id).toBe(7)
  expect(() => decode(Uint8Array.of(0x0b))).toThrow(expect.objectContaining({ code: 'protobuf/malformed' })) // field 1, wire type 3
  expect(() => decode(Uint8Array.of(0x00, 0x01))).toThrow(expect.objectContaining({ code: 'protobuf/malformed' }))
})

test('invalid UTF-8 in a string field is a ProtocolError', () => {
  const bad = encodeMessage((w) => { w.uint32(tag(2, WIRE_LEN)).bytes(Uint8Array.of(0xff, 0xfe)) })
  expect(() => decode(bad)).toThrow(expect.objectContaining({ code: 'protobuf/malformed' }))
})

test('bytes fields are copies, never views of the input', () => {
  const buf = encode({ blobs: [Uint8Array.of(1, 2, 3)] })
  const m = decode(buf)
  buf.fill(0)
  expect([...m.blobs[0]!]).toEqual([1, 2, 3])
})

test('required() names the missing field', () => {
  expect(() => required(undefined, 'test', 'id')).toThrow(expect.objectContaining({ code: 'protobuf/missing-field' }))
})

test('garbage yields a message or a ProtocolError, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    try {
      decode(b)
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
    }
  }), { numRuns: 2000 })
})
