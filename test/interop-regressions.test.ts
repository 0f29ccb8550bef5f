/**
 * Regressions found by the interop suite (interop/run.mjs), reproduced weft to weft over real
 * sockets so they run in every `npm run test:unit`. Each test names the interop case that found it.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, perf, type WeftNode } from '../src/node.js'
import { ProtocolError } from '../src/core/errors.js'
import { YamuxSession, encodeFrame, type YamuxEvent } from '../src/yamux/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

describe('interop regressions', () => {
  // interop weft->weft tcp perf (64 MiB) hung: a behaviour woken by 'stream-writable' while the
  // runtime drained bytes (swarm.pollTransmit) queued its next write, but nothing acted on it
  // until some unrelated input arrived. A transfer with no other traffic stalled at ~4-8 MiB.
  test('perf: 8 MiB up and down over TCP with no other traffic completes, and the server reports it', async () => {
    const a = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { perf: perf() } })
    const b = await createNode({ listen: [], services: { perf: perf() } })
    nodes.push(a, b)
    const served = new Promise<{ uploadBytes: number; downloadBytes: number }>((resolve) => a.on('perf:served', resolve))
    const n = 8 * 1024 * 1024
    const r = await b.perf(a.getMultiaddrs()[0]!, { uploadBytes: n, downloadBytes: n }, { signal: AbortSignal.timeout(10_000) })
    expect(r.uploadBytes).toBe(n)
    expect(r.downloadBytes).toBe(n)
    const s = await served
    expect([s.uploadBytes, s.downloadBytes]).toEqual([n, n])
  }, 15_000)
})

describe('yamux: SYNs out of order (interop go->weft streams)', () => {
  // go-yamux takes stream ids from an atomic counter and sends each SYN from the opening goroutine,
  // so 64 concurrent OpenStream calls put SYNs on the wire out of id order. We required increasing
  // ids and closed the connection with yamux/stream-id-reused.
  const syn = (id: number): Uint8Array => encodeFrame({ type: 1, flags: 1, streamId: id, length: 0 })
  const opened = (s: YamuxSession): number[] => {
    const ids: number[] = []
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) if ((e as YamuxEvent).type === 'stream-inbound') ids.push((e as { id: number }).id)
    return ids
  }
  test('late SYNs for skipped ids open streams; a repeated SYN is still refused', () => {
    const s = new YamuxSession({ role: 'server' })
    for (const id of [5, 1, 9, 3, 7]) s.handleData(0, syn(id))
    expect(opened(s)).toEqual([5, 1, 9, 3, 7])
    let err: unknown
    try { s.handleData(0, syn(3)) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ProtocolError)
    expect((err as ProtocolError).code).toBe('yamux/stream-id-reused')
  })
  test('a frame without SYN for a skipped id is still an unknown stream', () => {
    const s = new YamuxSession({ role: 'server' })
    s.handleData(0, syn(5))
    let err: unknown
    try { s.handleData(0, encodeFrame({ type: 1, flags: 0, streamId: 3, length: 1 })) } catch (e) { err = e }
    expect((err as ProtocolError).code).toBe('yamux/unknown-stream')
  })
})
