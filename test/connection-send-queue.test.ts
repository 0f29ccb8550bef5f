/**
 * The connection core's send path keeps yamux's send-queue limit meaningful: plaintext moves from
 * yamux into Noise only as far as the driver's `pollTransmit(max)` asks, so the bytes a connection
 * holds between `write()` and the transport stay near `sendQueueLimit + max` however many streams
 * have window. (A large Noise frame leaves in three pieces, prefix, ciphertext and tag, one per
 * call; topping Noise up by `max` on every call drained yamux's whole queue into Noise's unbounded
 * one: 37 MiB with 16 perf streams, bench/README.md issue 15 "16 streams vs 1".)
 */
import { describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent } from '../src/connection/index.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'

const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
const PROTO = '/sink/1.0.0'

function pair(sendQueueLimit: number): { a: Connection; b: Connection; eventsA: ConnectionEvent[]; drive: () => void } {
  const opts = { crypto: nodeCrypto, supportsProtocol: (p: string) => p === PROTO, listProtocols: () => [PROTO], now: 0, yamux: { sendQueueLimit } }
  const a = new Connection({ role: 'dialer', identity: keyA, ...opts })
  const b = new Connection({ role: 'listener', identity: keyB, ...opts })
  const eventsA: ConnectionEvent[] = []
  const move = (from: Connection, to: Connection): number => {
    let n = 0
    for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
      to.handleData(0, out)
      n += out.length
    }
    return n
  }
  const drive = (): void => {
    for (let i = 0; i < 1000; i++) {
      const moved = move(a, b) + move(b, a)
      for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) eventsA.push(e)
      while (b.pollEvent() !== undefined);
      if (moved === 0) return
    }
    throw new Error('pair did not settle')
  }
  return { a, b, eventsA, drive }
}

describe('connection send path', () => {
  test.each([16 * 1024, 64 * 1024, 256 * 1024])('with 8 streams of window, bytes held between write() and pollTransmit(%i) stay within sendQueueLimit + max', (max) => {
    const limit = 256 * 1024
    const { a, eventsA, drive } = pair(limit)
    drive()
    for (let i = 0; i < 8; i++) a.openStream(0, [PROTO], i)
    drive()
    const ids = eventsA.filter((e) => e.type === 'stream-opened').map((e) => (e as { id: number }).id)
    expect(ids).toHaveLength(8)
    // 8 streams x 256 KiB of send window = 2 MiB the remote would take; the peer never gets our
    // bytes here (so no window comes back): what a accepted and has not handed out stays inside it.
    const data = new Uint8Array(256 * 1024)
    let accepted = 0
    let out = 0
    let most = 0
    for (let round = 0; round < 400; round++) {
      for (const id of ids) accepted += a.write(id, data)
      const b = a.pollTransmit(max)
      if (b === undefined) break
      out += b.length
      most = Math.max(most, accepted - out)
    }
    expect(accepted).toBeGreaterThan(8 * 256 * 1024 - 4096) // every window was used (less the negotiation's bytes): the bound below is not vacuous
    // yamux's queue (limit), plus what one call moves into Noise (max rounded up to whole frames)
    expect(most).toBeLessThanOrEqual(limit + max + 2 * (65535 + 2))
  })
})
