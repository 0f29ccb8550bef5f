// Writers sharing a yamux session's send queue take turns (src/yamux/writers.ts): with N writers
// blocked on a full queue, each gets a turn before any gets a second.
import { describe, expect, test } from 'vitest'
import { YamuxSession, type StreamId, type YamuxEvent } from '../src/yamux/index.js'

const KiB = 1024

/** A client session alone (its peer's windows are the spec's 256 KiB); bytes taken are dropped. */
function session(sendQueueLimit: number): YamuxSession {
  return new YamuxSession({ role: 'client', keepAliveInterval: undefined, sendQueueLimit })
}

/**
 * Writers like the perf behaviour's: `chunk` bytes per write, the next written at once after a write
 * placed all of its chunk, else on 'stream-writable'. Returns the log of writes that placed bytes.
 */
function writers(s: YamuxSession, ids: StreamId[], chunk: number, total: number) {
  const left = new Map(ids.map((id) => [id, total]))
  const pending = new Map<StreamId, number>() // bytes of the current chunk still to place
  const placed: StreamId[] = []
  const write = (id: StreamId): void => {
    for (;;) {
      if (!pending.has(id)) {
        const l = left.get(id)!
        if (l === 0) return
        const c = Math.min(chunk, l)
        left.set(id, l - c)
        pending.set(id, c)
      }
      const want = pending.get(id)!
      const n = s.write(id, new Uint8Array(want))
      if (n > 0) placed.push(id)
      if (n < want) {
        pending.set(id, want - n)
        return
      }
      pending.delete(id)
    }
  }
  const events = (): void => {
    for (let ev: YamuxEvent | undefined = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) {
      if (ev.type === 'stream-writable') write(ev.id)
    }
  }
  const done = (): boolean => ids.every((id) => left.get(id) === 0 && !pending.has(id))
  return { write, events, placed, done }
}

/** Runs of the same stream in the placement log: one run = one turn. */
function turns(placed: StreamId[]): StreamId[] {
  return placed.filter((id, i) => i === 0 || placed[i - 1] !== id)
}

describe('yamux writers take turns on a full send queue', () => {
  test('with 3 blocked writers, each gets a turn before any gets a second', () => {
    const s = session(64 * KiB)
    const ids = [s.openStream(0), s.openStream(0), s.openStream(0)]
    const w = writers(s, ids, 8 * KiB, 200 * KiB)
    for (const id of ids) w.write(id)
    for (let i = 0; i < 10_000 && !w.done(); i++) {
      s.pollTransmit(4 * KiB)
      w.events()
    }
    expect(w.done()).toBe(true)
    const t = turns(w.placed)
    expect(t.length).toBeGreaterThan(15)
    // every 3 consecutive turns serve 3 different streams, as long as all 3 have bytes left (the
    // first writer filled the empty queue alone and finishes first)
    const end = Math.min(...ids.map((id) => t.lastIndexOf(id)))
    expect(end).toBeGreaterThan(15)
    for (let i = 0; i + 3 <= end + 1; i++) expect(new Set(t.slice(i, i + 3)).size, `turns ${t.slice(i, i + 3).join(',')} at ${i}`).toBe(3)
  })

  test('a writer without a turn cannot take the room kept for a woken writer', () => {
    const s = session(64 * KiB)
    const a = s.openStream(0)
    const b = s.openStream(0)
    expect(s.write(a, new Uint8Array(40 * KiB))).toBe(40 * KiB)
    expect(s.write(b, new Uint8Array(100 * KiB))).toBeLessThan(30 * KiB) // the queue is full: b joins the line
    let woken: YamuxEvent | undefined
    while (woken === undefined && s.pollTransmit(4 * KiB) !== undefined) woken = s.pollEvent()
    expect(woken).toEqual({ type: 'stream-writable', id: b })
    expect(s.write(a, new Uint8Array(8 * KiB))).toBe(0) // a may not overtake b
    expect(s.write(b, new Uint8Array(100 * KiB))).toBeGreaterThan(30 * KiB)
  })

  test('a woken writer that never writes does not stall the line once the queue runs empty', () => {
    const s = session(64 * KiB)
    const a = s.openStream(0)
    const b = s.openStream(0)
    const c = s.openStream(0)
    expect(s.write(a, new Uint8Array(40 * KiB))).toBe(40 * KiB)
    expect(s.write(b, new Uint8Array(200 * KiB))).toBeLessThan(30 * KiB) // wants more than the whole queue
    expect(s.write(c, new Uint8Array(8 * KiB))).toBe(0) // behind b in the line
    const seen: StreamId[] = []
    for (let i = 0; i < 100; i++) {
      s.pollTransmit(4 * KiB)
      for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) if (ev.type === 'stream-writable') seen.push(ev.id)
      if (seen.includes(c)) break
    }
    // b was woken first and never wrote; c is woken anyway once the queue is empty
    expect(seen).toEqual([b, c])
    expect(s.write(c, new Uint8Array(8 * KiB))).toBe(8 * KiB)
  })
})
