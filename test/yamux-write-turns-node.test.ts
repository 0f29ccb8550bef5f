// Many user streams writing at once over one TCP connection (the interop `streams` scenario's
// shape): every write completes. With write turns (src/yamux/writers.ts) a stream can be given its
// turn while its own write() is still running (the node flushes synchronously and the muxer wakes
// the head of the line); WeftStream must not lose that 'writable' (src/edge/stream.ts).
import { afterEach, expect, test } from 'vitest'
import { createNode, readAll, type WeftNode } from '../src/node.js'

const ECHO = '/weft/echo/1.0.0'
const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

test('32 streams echo 1 MiB each concurrently on one connection', async () => {
  const a = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  const b = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(a, b)
  a.handle(ECHO, async (s) => {
    const all = await readAll(s.source)
    await s.write(all)
    s.closeWrite()
  }, { maxInboundStreams: 64 })
  const addr = a.getMultiaddrs()[0]!
  const MIB = 1 << 20
  const done = await Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const s = await b.newStream(addr, ECHO)
    const reading = readAll(s.source, 2 * MIB)
    await s.write(new Uint8Array(MIB).fill(i))
    s.closeWrite()
    const back = await reading
    return back.length === MIB && back.every((x) => x === i)
  }))
  expect(done.every((ok) => ok)).toBe(true)
}, 30_000)
