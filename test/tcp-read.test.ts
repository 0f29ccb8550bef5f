/**
 * The TCP transport's read path: both the dialled and the accepted socket read into one shared
 * buffer (Node's `onread`), so a read can carry more than Node's default 64 KiB, consecutive reads
 * are views of the same memory (valid only during onData), pause() stops delivery, and every byte
 * arrives once, in order, on several connections at once.
 */
import { describe, expect, test } from 'vitest'
import { Multiaddr } from '../src/multiaddr/index.js'
import { NODE_MAJORS_TESTED, READ_BUFFER_SIZE, tcp } from '../src/io/tcp.js'
import type { RawConnection } from '../src/io/transport.js'

interface Received {
  bytes: number
  ok: boolean
  largest: number
  buffers: Set<ArrayBufferLike>
  ended: Promise<void>
}

/** Attach to `c`, checking that byte i of the stream is (i * 7 + seed) & 0xff. */
function receive(c: RawConnection, seed: number): Received {
  let end!: () => void
  const r: Received = { bytes: 0, ok: true, largest: 0, buffers: new Set(), ended: new Promise((res) => { end = res }) }
  c.start({
    onData: (d) => {
      for (let i = 0; i < d.length; i++) if (d[i] !== (((r.bytes + i) * 7 + seed) & 0xff)) r.ok = false
      r.bytes += d.length
      r.largest = Math.max(r.largest, d.length)
      r.buffers.add(d.buffer)
    },
    onEnd: () => end(),
    onDrain: () => {},
    onClose: () => {},
  })
  return r
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff
  return b
}

describe('tcp read path', () => {
  test('dialled and accepted sockets read through the shared buffer, in order, pause honoured', async () => {
    const t = tcp()
    const accepted: RawConnection[] = []
    let onAccept!: () => void
    const two = new Promise<void>((res) => { onAccept = res })
    const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'), (c) => {
      accepted.push(c)
      if (accepted.length === 2) onAccept()
    })
    try {
      const dialled = [await t.dial(l.addrs[0]!), await t.dial(l.addrs[0]!)]
      await two
      const N = 3 * 1024 * 1024
      // each side of each connection sends its own pattern; both connections run at once
      const rx = [...dialled, ...accepted].map((c, k) => receive(c, k))
      const paused = dialled[0]!
      paused.pause()
      accepted.forEach((c, k) => { c.write(pattern(N, k)); c.close() })
      dialled.forEach((c, k) => { c.write(pattern(N, 2 + k)); c.close() })
      await new Promise((r) => setTimeout(r, 100))
      // paused: at most the one read Node may start after pause() (see TcpConnection.deliver)
      const whilePaused = rx[0]!.bytes
      expect(whilePaused).toBeLessThanOrEqual(READ_BUFFER_SIZE)
      await new Promise((r) => setTimeout(r, 50))
      expect(rx[0]!.bytes).toBe(whilePaused)
      paused.resume()
      await Promise.all(rx.map((r) => r.ended))
      // dialled k received accepted k's pattern (seed k), accepted k received dialled k's (seed 2 + k)
      const seeds = [0, 1, 2, 3]
      rx.forEach((r, k) => {
        expect(r.bytes).toBe(N)
        expect(r.ok, `connection side ${k} (seed ${seeds[k]})`).toBe(true)
        expect(r.largest).toBeLessThanOrEqual(READ_BUFFER_SIZE)
      })
      // more than Node's default 64 KiB per read on some connection, and one buffer for all reads
      expect(Math.max(...rx.map((r) => r.largest))).toBeGreaterThan(64 * 1024)
      const all = new Set(rx.flatMap((r) => [...r.buffers]))
      expect(all.size).toBe(1)
    } finally {
      await l.close()
    }
  })

  test('a read delivered before start() is kept (copied out of the shared buffer) and handed over first', async () => {
    const t = tcp()
    let accepted!: RawConnection
    let l0!: () => void
    const got = new Promise<void>((res) => { l0 = res })
    const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'), (c) => { accepted = c; l0() })
    try {
      const dialled = await t.dial(l.addrs[0]!)
      await got
      const shared = new Uint8Array(8).fill(9)
      shared.set([1, 2, 3])
      ;(dialled as unknown as { deliver(n: number, b: Uint8Array): boolean }).deliver(3, shared)
      shared.fill(0) // the next read overwrites the shared buffer
      const chunks: number[][] = []
      let end!: () => void
      const ended = new Promise<void>((res) => { end = res })
      dialled.start({ onData: (d) => chunks.push([...d]), onEnd: () => end(), onDrain: () => {}, onClose: () => {} })
      accepted.start({ onData: () => {}, onEnd: () => {}, onDrain: () => {}, onClose: () => {} })
      accepted.write(Uint8Array.of(4, 5))
      accepted.close()
      await ended
      expect(chunks.flat()).toEqual([1, 2, 3, 4, 5])
    } finally {
      await l.close()
    }
  })

  test('tcp({ sharedReadBuffer: false }): every read is a fresh buffer, bytes intact, on both sides', async () => {
    const t = tcp({ sharedReadBuffer: false })
    let accepted!: RawConnection
    let got!: () => void
    const acceptedP = new Promise<void>((res) => { got = res })
    const l = await t.listen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/0'), (c) => { accepted = c; got() })
    try {
      const dialled = await t.dial(l.addrs[0]!)
      await acceptedP
      const rx = [receive(dialled, 0), receive(accepted, 1)]
      const N = 1024 * 1024
      accepted.write(pattern(N, 0)); accepted.close()
      dialled.write(pattern(N, 1)); dialled.close()
      await Promise.all(rx.map((r) => r.ended))
      for (const r of rx) {
        expect(r.bytes).toBe(N)
        expect(r.ok).toBe(true)
        expect(r.buffers.size).toBeGreaterThan(1)
      }
    } finally {
      await l.close()
    }
  })

  test('the Node major running this test is one the accepted-socket fast path was tested on', () => {
    // bump NODE_MAJORS_TESTED in src/io/tcp.ts only after this file passes on the new major
    expect(NODE_MAJORS_TESTED).toContain(Number(process.versions.node.split('.')[0]))
  })
})
