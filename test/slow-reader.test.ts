/**
 * A slow reader never grows the sender's memory past the stream window (issue 11, "A soak").
 *
 * Two real nodes over TCP. The sender writes an endless source through the node API
 * (`stream.sink`); the receiver reads slowly, or not at all. Every byte the source has yielded is
 * either still in the sender (the chunk `write` is working on, the yamux send queue, Noise, the
 * socket), in flight, or in the receiver's buffers; so `yielded - read by the receiver's app` bounds
 * what the sender holds. The yamux send window (the receiver's receive window) must keep that at
 * most one window plus the one chunk being written, and the source must not be pulled past it.
 */
import { afterEach, expect, test } from 'vitest'
import { createNode, type WeftNode, type WeftStream } from '../src/node.js'

const CHUNK = 16 * 1024
const WINDOW = 256 * 1024 // yamux's initial (and, without auto-tuning, only) stream window

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function pair(receiverOptions: Parameters<typeof createNode>[0] = {}): Promise<{ sender: WeftNode; receiver: WeftNode }> {
  const receiver = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {}, ...receiverOptions })
  const sender = await createNode({ listen: [], services: {} })
  nodes.push(sender, receiver)
  return { sender, receiver }
}

interface Endless {
  source: AsyncIterable<Uint8Array>
  yielded: number
  chunks: number
  onYield: (() => void) | undefined
}

/** An endless source of CHUNK-byte chunks that counts what it yielded. */
function endless(): Endless {
  const chunk = new Uint8Array(CHUNK).fill(7)
  const s: Endless = { yielded: 0, chunks: 0, onYield: undefined, source: { [Symbol.asyncIterator]: () => gen() } }
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (;;) {
      s.yielded += chunk.length
      s.chunks++
      s.onYield?.()
      yield chunk
    }
  }
  return s
}

/** Resolves once `cond()` holds (polled every 5 ms); a positive signal, never a sleep before a negative check. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * A barrier: ping round trips on the same connection. Yamux frames are in order on the one TCP
 * connection, so after a pong every data frame sent before the ping has reached the receiver and
 * any Window Update it sent in answer has reached the sender.
 */
async function barrier(sender: WeftNode, receiver: WeftNode): Promise<void> {
  for (let i = 0; i < 3; i++) await sender.ping(receiver.peerId, { signal: AbortSignal.timeout(5000) })
}

test('a receiver that never reads: the source is pulled for one window (256 KiB) plus the chunk being written, no more', async () => {
  const { sender, receiver } = await pair()
  const held: WeftStream[] = []
  receiver.handle('/slow/1.0.0', (s) => { held.push(s) }) // never reads
  const stream = await sender.newStream(receiver.getMultiaddrs()[0]!, '/slow/1.0.0')
  const src = endless()
  let sinkDone = false
  const sinking = stream.sink(src.source).finally(() => { sinkDone = true })
  sinking.catch(() => {}) // it ends with the reset below
  await until(() => src.yielded >= WINDOW, 'the first window to be written')
  await barrier(sender, receiver)
  await barrier(sender, receiver)
  expect(sinkDone).toBe(false) // still blocked on the window, not failed
  expect(src.yielded).toBeLessThanOrEqual(WINDOW + CHUNK)
  expect(src.chunks).toBeLessThanOrEqual(WINDOW / CHUNK + 1)
  stream.reset()
})

test('a receiver that reads slowly: yielded minus read never exceeds one window plus one chunk', async () => {
  const { sender, receiver } = await pair()
  const TOTAL = 3 * WINDOW
  let read = 0
  let worst = 0
  const readerDone = new Promise<void>((resolve, reject) => {
    receiver.handle('/slow/1.0.0', async (s) => {
      try {
        for await (const c of s.source) {
          read += c.length
          // 40 ms per chunk: half a window takes >= 320 ms, far beyond 2 RTTs on loopback, so the
          // receiver's window never auto-tunes upward and stays at 256 KiB.
          await new Promise((r) => setTimeout(r, 40))
          if (read >= TOTAL) break
        }
        s.reset()
        resolve()
      } catch (e) {
        reject(e as Error)
      }
    })
  })
  const stream = await sender.newStream(receiver.getMultiaddrs()[0]!, '/slow/1.0.0')
  const src = endless()
  src.onYield = () => { worst = Math.max(worst, src.yielded - read) }
  const sinking = stream.sink(src.source)
  sinking.catch(() => {}) // ends with the receiver's reset
  await readerDone
  expect(read).toBeGreaterThanOrEqual(TOTAL)
  expect(worst).toBeGreaterThan(WINDOW / 2) // the window did fill: the bound is not vacuous
  expect(worst).toBeLessThanOrEqual(WINDOW + CHUNK)
})

test('a larger configured window (1 MiB) is the bound instead, and is used', async () => {
  const window = 1024 * 1024
  const { sender, receiver } = await pair({ connection: { yamux: { initialWindow: window } } })
  receiver.handle('/slow/1.0.0', () => {}) // never reads
  const stream = await sender.newStream(receiver.getMultiaddrs()[0]!, '/slow/1.0.0')
  const src = endless()
  const sinking = stream.sink(src.source)
  sinking.catch(() => {})
  await until(() => src.yielded >= window, 'the configured window to be written')
  await barrier(sender, receiver)
  await barrier(sender, receiver)
  expect(src.yielded).toBeLessThanOrEqual(window + CHUNK)
  stream.reset()
})
