/**
 * DeadlineQueue (src/swarm/deadlines.ts): the earliest of one deadline per connection without a
 * scan, against a Map model; and its heap stays bounded however often deadlines move.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DeadlineQueue } from '../src/swarm/deadlines.js'

describe('DeadlineQueue', () => {
  it('peek and popDue agree with a plain map of deadlines', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }), t: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 1000 }) }),
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const q = new DeadlineQueue()
      const model = new Map<number, number>()
      for (const o of ops) {
        if (o.kind === 'set') {
          q.set(o.key, o.t)
          if (o.t === undefined) model.delete(o.key); else model.set(o.key, o.t)
        } else if (o.kind === 'delete') {
          q.delete(o.key)
          model.delete(o.key)
        } else {
          const due = [...model].filter(([, t]) => t <= o.now).sort((a, b) => a[1] - b[1])
          const got = q.popDue(o.now)
          expect(new Set(got)).toEqual(new Set(due.map(([k]) => k)))
          // earliest first
          const times = due.map(([, t]) => t)
          expect(got.map((k) => due.find(([d]) => d === k)![1])).toEqual(times)
          for (const [k] of due) model.delete(k)
        }
        const min = model.size === 0 ? undefined : Math.min(...model.values())
        expect(q.peek()).toBe(min)
        expect(q.size).toBe(model.size)
        expect(q.entries).toBeLessThanOrEqual(2 * q.size + 64)
        for (const [k, t] of model) expect(q.get(k)).toBe(t)
      }
    }), { numRuns: 500 })
  })

  it('moving one deadline a million times keeps the heap small (stale entries are dropped)', () => {
    const q = new DeadlineQueue()
    for (let k = 0; k < 100; k++) q.set(k, 1_000_000 + k)
    // a key whose deadline keeps moving later: every move leaves a stale entry behind
    let most = 0
    for (let i = 0; i < 100_000; i++) {
      q.set(7, 2_000_000 + i)
      most = Math.max(most, q.entries)
    }
    expect(most).toBeLessThanOrEqual(2 * 100 + 64)
    expect(q.peek()).toBe(1_000_000)
    expect(q.popDue(1_000_099)).toHaveLength(99)
    expect(q.peek()).toBe(2_000_000 + 99_999)
    expect(q.popDue(Number.MAX_SAFE_INTEGER)).toEqual([7])
    expect(q.peek()).toBeUndefined()
  })

  it('deleting or popping every key leaves no pile of stale entries', () => {
    const q = new DeadlineQueue()
    for (let k = 0; k < 1000; k++) q.set(k, 5000 - k)
    for (let k = 0; k < 1000; k += 2) q.delete(k)
    expect(q.entries).toBeLessThanOrEqual(2 * 500 + 64)
    expect(q.popDue(4500)).toHaveLength(250)
    expect(q.entries).toBeLessThanOrEqual(2 * 250 + 64)
    for (let k = 1; k < 1000; k += 2) q.delete(k)
    expect(q.entries).toBeLessThanOrEqual(64)
    expect(q.peek()).toBeUndefined()
  })
})

describe('DeadlineQueue with a read function (how the swarm uses it)', () => {
  it('re-reads only touched keys, and keys it returned as due', () => {
    const deadlines = new Map<number, number | undefined>()
    const reads: number[] = []
    const q = new DeadlineQueue((k) => { reads.push(k); return deadlines.get(k) })
    for (let k = 0; k < 1000; k++) { deadlines.set(k, 10_000 + k); q.touch(k) }
    expect(q.peek()).toBe(10_000)
    expect(reads).toHaveLength(1000)
    reads.length = 0
    // one connection had input: its deadline moved earlier
    deadlines.set(500, 50)
    q.touch(500)
    expect(q.peek()).toBe(50)
    expect(reads).toEqual([500])
    reads.length = 0
    expect(q.popDue(60)).toEqual([500])
    // handled: its core now has a later deadline; re-read without a touch from the owner
    deadlines.set(500, 20_000)
    expect(q.peek()).toBe(10_000)
    expect(reads).toEqual([500])
    // a connection that is gone reads as undefined and leaves the queue
    deadlines.set(0, undefined)
    q.touch(0)
    expect(q.peek()).toBe(10_001)
    expect(q.size).toBe(999)
  })
})
