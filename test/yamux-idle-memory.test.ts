/**
 * An idle yamux session lets its send slabs go at a keep-alive tick (src/yamux/transmit.ts
 * releaseIfIdle): 10,000 idle connections each held a 16 KiB slab (bench/README.md "Scale"); and the
 * first slab is 1 KiB, so a small message never touches 16 KiB.
 * A session that sent anything during the interval, or still has frames queued, keeps its slabs.
 */
import { queryObjects } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { FrameReader } from '../src/yamux/receive.js'
import { TransmitQueue } from '../src/yamux/transmit.js'

function send(q: TransmitQueue, size: number): void {
  const f = q.allocate(size)
  f.fill(7)
  q.ordered.push(f)
}

describe('yamux send slabs of an idle session', () => {
  it('a small message leaves a 1 KiB slab, released after one idle interval', () => {
    const q = new TransmitQueue()
    send(q, 300)
    expect(q.take(65536, true)).toHaveLength(300)
    expect(q.slabBytes).toBe(1024)
    q.releaseIfIdle() // the interval in which it sent: not idle
    expect(q.slabBytes).toBe(1024)
    q.releaseIfIdle() // a whole interval without sending: idle
    expect(q.slabBytes).toBe(0)
  })

  it('frames still queued keep their slab', () => {
    const q = new TransmitQueue()
    send(q, 300)
    q.releaseIfIdle()
    q.releaseIfIdle()
    expect(q.slabBytes).toBe(1024)
    const out = q.take(65536)!
    expect(out.every((b) => b === 7)).toBe(true)
  })

  it('after a transfer, the grown slabs and spares go too; sending again starts from 1 KiB', () => {
    const q = new TransmitQueue()
    for (let i = 0; i < 64; i++) {
      send(q, 65536)
      q.take(1 << 20, true)
    }
    expect(q.slabBytes).toBeGreaterThanOrEqual(1024 * 1024)
    q.releaseIfIdle()
    q.releaseIfIdle()
    expect(q.slabBytes).toBe(0)
    send(q, 100)
    expect(q.slabBytes).toBe(1024)
    expect(q.take(65536)!.every((b) => b === 7)).toBe(true)
  })

  it('bytes handed out before the release stay intact (nothing is reused under them)', () => {
    const q = new TransmitQueue()
    send(q, 1000)
    const kept = q.take(65536)!
    q.releaseIfIdle()
    q.releaseIfIdle()
    for (let i = 0; i < 20; i++) { const f = q.allocate(1000); f.fill(9); q.ordered.push(f); q.take(65536, true) }
    expect(kept.every((b) => b === 7)).toBe(true)
  })
})

describe('yamux frame reader of an idle session', () => {
  it('holds no header buffer between frames, and still assembles a header split over reads', () => {
    const u8 = (): number => queryObjects(Uint8Array as never, { format: 'count' }) as number
    const before = u8()
    const readers = Array.from({ length: 500 }, () => new FrameReader())
    expect(u8() - before).toBeLessThan(50) // 0 (was 500: a 12-byte header buffer each)
    // a ping header (type 2, flags SYN, stream 0, value 7) one byte per read, then a whole one
    const ping = new Uint8Array([0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7])
    const seen: Array<[number, number]> = []
    const r = readers[0]!
    for (const b of ping) r.read(new Uint8Array([b]), (h) => { seen.push([h.type, h.length]); return 0 }, () => {})
    expect(r.midFrame).toBe(false)
    r.read(ping, (h) => { seen.push([h.type, h.length]); return 0 }, () => {})
    expect(seen).toEqual([[2, 7], [2, 7]])
    expect(u8() - before).toBeLessThan(50)
  })
})

describe('yamux send queue of an idle session', () => {
  it('holds no array of its own until frames are queued or a slab is kept, and none after release', () => {
    const arrays = (): number => queryObjects(Array as never, { format: 'count' }) as number
    const before = arrays()
    const queues = Array.from({ length: 300 }, () => new TransmitQueue())
    expect(arrays() - before).toBeLessThan(30) // 1 (the list); was 901: control, ordered and spares
    const q = queues[0]!
    for (let i = 0; i < 40; i++) {
      send(q, 700) // slabs outgrown and kept as spares
      expect(q.take(65536, true)).toHaveLength(700)
    }
    expect(q.slabBytes).toBeGreaterThan(1024)
    q.releaseIfIdle() // busy since the last tick: kept
    q.releaseIfIdle()
    expect(q.slabBytes).toBe(0)
    expect(arrays() - before).toBeLessThan(30)
  })
})
