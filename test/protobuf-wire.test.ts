/**
 * The protobuf wire reader/writer (src/core/protobuf-wire.ts) against protobufjs as an oracle: the same
 * operations give byte-identical encodings, and the same bytes read to the same values or fail at the
 * same point.
 */
import fc from 'fast-check'
import pb from 'protobufjs/minimal.js'
import { describe, expect, test } from 'vitest'
import { PbReader, PbWriter } from '../src/core/protobuf-wire.js'

type Op =
  | { op: 'uint32'; v: number }
  | { op: 'int32'; v: number }
  | { op: 'uint64'; v: bigint }
  | { op: 'bool'; v: boolean }
  | { op: 'bytes'; v: Uint8Array }
  | { op: 'string'; v: string }
  | { op: 'nested'; ops: Op[] }

const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.nat({ max: 0xffff_ffff }).map((v) => ({ op: 'uint32' as const, v })),
  fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }).map((v) => ({ op: 'int32' as const, v })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => ({ op: 'uint64' as const, v })),
  fc.boolean().map((v) => ({ op: 'bool' as const, v })),
  fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 120, maxLength: 20_000 })).map((v) => ({ op: 'bytes' as const, v })),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((v) => ({ op: 'string' as const, v })),
)
const ops: fc.Arbitrary<Op[]> = fc.letrec((tie) => ({
  op: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('op'), { maxLength: 6 }).map((ops) => ({ op: 'nested' as const, ops: ops as Op[] }))),
  ops: fc.array(tie('op'), { maxLength: 12 }),
})).ops as fc.Arbitrary<Op[]>

function writeOurs(w: PbWriter, list: Op[]): void {
  for (const o of list) {
    w.uint32(8)
    if (o.op === 'nested') {
      w.fork()
      writeOurs(w, o.ops)
      w.ldelim()
    } else if (o.op === 'uint64') w.uint64(o.v)
    else (w[o.op] as (v: unknown) => PbWriter)(o.v)
  }
}

function writeOracle(w: pb.Writer, list: Op[]): void {
  for (const o of list) {
    w.uint32(8)
    if (o.op === 'nested') {
      w.fork()
      writeOracle(w, o.ops)
      w.ldelim()
    } else if (o.op === 'uint64') w.uint64(o.v.toString())
    else (w[o.op] as (v: unknown) => pb.Writer)(o.v)
  }
}

type Read = 'uint32' | 'int32' | 'uint64' | 'bool' | 'bytes' | 'skip0' | 'skip1' | 'skip2' | 'skip5'

function readAll(make: () => { read: (k: Read) => unknown; pos: () => number }, plan: Read[]): unknown[] {
  const r = make()
  const out: unknown[] = []
  for (const k of plan) {
    try {
      out.push(r.read(k))
    } catch (e) {
      // our reader refuses a 10th varint byte above 1 (a value over 64 bits); protobufjs drops the bits.
      // protobufjs 8 refuses a length prefix longer than 5 bytes or of 2^31 and more ('invalid length
      // encoding'); ours reads an over-long prefix as go's protowire does (up to 10 bytes, the value counts)
      const m = e instanceof Error ? e.message : ''
      out.push(m.includes('64 bits') ? 'over-64-bits' : m.includes('invalid length encoding') ? 'length-encoding' : 'error')
      break
    }
    out.push(r.pos())
  }
  return out
}

describe('protobuf wire format against protobufjs', () => {
  test('writers give identical bytes (nested messages of every size, 64-bit and negative varints)', () => {
    fc.assert(fc.property(ops, (list) => {
      const ours = new PbWriter()
      writeOurs(ours, list)
      const oracle = new pb.Writer()
      writeOracle(oracle, list)
      expect(Buffer.from(ours.finish()).toString('hex')).toBe(Buffer.from(oracle.finish()).toString('hex'))
    }), { numRuns: 300 })
  })

  test('readers agree on arbitrary bytes: same values, same positions, failure at the same read', () => {
    const plan = fc.array(fc.constantFrom<Read>('uint32', 'int32', 'uint64', 'bool', 'bytes', 'skip0', 'skip1', 'skip2', 'skip5'), { maxLength: 12 })
    const input = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.array(fc.constantFrom(0x80, 0xff, 0x01, 0x00, 0x7f), { maxLength: 24 }).map((a) => Uint8Array.from(a)))
    fc.assert(fc.property(input, plan, (buf, steps) => {
      const ours = readAll(() => {
        const r = new PbReader(buf)
        return {
          pos: () => r.pos,
          read: (k) => k === 'uint64' ? r.uint64() : k === 'bytes' ? Array.from(r.bytes()) : k.startsWith("skip") ? void r.skipType(Number(k.slice(4))) : (r[k as 'uint32'] as () => unknown).call(r),
        }
      }, steps)
      const oracle = readAll(() => {
        const r = new pb.Reader(buf)
        return {
          pos: () => r.pos,
          read: (k) => k === 'uint64' ? BigInt(r.uint64().toString()) : k === 'bytes' ? Array.from(r.bytes()) : k.startsWith("skip") ? void r.skipType(Number(k.slice(4))) : (r[k as 'uint32'] as () => unknown).call(r),
        }
      }, steps)
      const over = ours.indexOf('over-64-bits')
      const long = oracle.indexOf('length-encoding')
      const cut = Math.min(...[over, long].filter((i) => i >= 0))
      if (Number.isFinite(cut)) expect(ours.slice(0, cut)).toEqual(oracle.slice(0, cut))
      else expect(ours).toEqual(oracle)
    }), { numRuns: 2000 })
  })

  test('limits: an 11-byte varint, a 65-bit varint, a length past the end, ldelim without fork', () => {
    expect(() => new PbReader(new Uint8Array(11).fill(0x80)).uint32()).toThrow(RangeError)
    expect(() => new PbReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)).uint64()).toThrow(/64 bits/)
    expect(new PbReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)).uint64()).toBe((1n << 64n) - 1n)
    expect(() => new PbReader(Uint8Array.of(0x05, 1, 2)).bytes()).toThrow(RangeError)
    // an over-long length prefix (6 bytes for 0; protobufjs 8 refuses it, go's protowire reads it): read
    const long = new PbReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00))
    long.skipType(2)
    expect(long.pos).toBe(6)
    expect(Array.from(new PbReader(Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 7)).bytes())).toEqual([7])
    expect(() => new PbWriter().ldelim()).toThrow(RangeError)
    expect(() => new PbWriter().fork().finish()).toThrow(RangeError)
    expect(() => new PbWriter().uint64(-1)).toThrow(RangeError)
  })
})
