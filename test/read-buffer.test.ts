/**
 * ReadBuffer against a plain byte-array model, for any sequence of pushes (copied or owned, tiny or
 * large, so the tail-append path and the own-chunk path interleave) and reads. Every view it handed
 * out must keep its bytes afterwards: the tail is appended to, never rewritten.
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { ReadBuffer } from '../src/core/read-buffer.js'

type Op =
  | { op: 'push' | 'pushOwned'; data: Uint8Array }
  | { op: 'read' | 'peek' | 'skip' | 'byteAt' | 'indexOf'; n: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('push' as const, 'pushOwned' as const), data: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ minLength: 4000, maxLength: 5000 })) }),
  fc.record({ op: fc.constantFrom('read' as const, 'peek' as const, 'skip' as const, 'byteAt' as const, 'indexOf' as const), n: fc.nat(6000) }),
)

test('ReadBuffer matches a byte-array model and never rewrites bytes it handed out', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
    const b = new ReadBuffer()
    let model: number[] = []
    const handed: Array<{ view: Uint8Array; bytes: number[] }> = []
    for (const o of ops) {
      if (o.op === 'push' || o.op === 'pushOwned') {
        const copy = o.data.slice()
        if (o.op === 'push') b.push(copy)
        else b.pushOwned(copy)
        model.push(...o.data)
      } else if (o.op === 'byteAt') {
        expect(b.byteAt(o.n)).toBe(model[o.n])
      } else if (o.op === 'indexOf') {
        const v = o.n & 0xff
        expect(b.indexOf(v)).toBe(model.indexOf(v))
      } else {
        const n = Math.min('n' in o ? o.n : 0, model.length)
        if (o.op === 'skip') b.skip(n)
        else {
          const view = o.op === 'read' ? b.read(n) : b.peek(n)
          expect([...view]).toEqual(model.slice(0, n))
          handed.push({ view, bytes: [...view] })
        }
        if (o.op !== 'peek') model = model.slice(n)
      }
      expect(b.length).toBe(model.length)
    }
    for (const h of handed) expect([...h.view]).toEqual(h.bytes)
  }), { numRuns: 300 })
})
