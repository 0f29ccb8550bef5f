/**
 * An idle yamux session lets its send slabs go at a keep-alive tick (src/yamux/transmit.ts
 * releaseIfIdle): 10,000 idle connections each held a 16 KiB slab (bench/README.md "Scale"); and the
 * first slab is 1 KiB, so a small message never touches 16 KiB.
 * A session that sent anything during the interval, or still has frames queued, keeps its slabs.
 */
import { describe, expect, it } from 'vitest'
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
