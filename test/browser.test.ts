/**
 * The browser entry point (`weft/browser`: native WebSocket dial, compactCrypto) against a Node weft
 * node. Node 20 has no global WebSocket, so the `ws` package's client, which follows the browser
 * API (onopen/onmessage/onclose, binaryType 'arraybuffer', bufferedAmount), stands in for it.
 */
import { WebSocket as WsClient } from 'ws'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { createNode as createBrowserNode, perf as browserPerf, WeftNode as WeftNodeClass, nobleCrypto } from '../src/browser.js'
import { createNode, readAll, type WeftNode } from '../src/node.js'

let server: WeftNode
const g = globalThis as { WebSocket?: unknown }
const had = g.WebSocket

beforeAll(async () => {
  if (g.WebSocket === undefined) g.WebSocket = WsClient
  server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], services: { perf: browserPerf() } }) // perf is opt-in in weft/node too
  server.handle('/echo/1.0.0', async (s) => { await s.sink([await readAll(s.source)]) })
})
afterAll(async () => {
  await server.stop()
  g.WebSocket = had
})

test('a browser node dials over WebSocket, pings, identifies and echoes', async () => {
  const browser = await createBrowserNode()
  try {
    expect(browser.getMultiaddrs()).toEqual([])
    const addr = server.getMultiaddrs()[0]!
    const identified = new Promise<string>((resolve) => browser.on('peer:identify', ({ info }) => resolve(info.agentVersion ?? '')))
    const rtt = await browser.ping(addr)
    expect(rtt).toBeGreaterThanOrEqual(0)
    expect(await identified).toMatch(/^weft\//)
    const s = await browser.newStream(addr, '/echo/1.0.0')
    const payload = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251)
    const [, back] = await Promise.all([s.sink([payload]), readAll(s.source)])
    expect(back).toEqual(payload)
  } finally {
    await browser.stop()
  }
})

test('a browser node cannot listen, and says so', async () => {
  await expect(createBrowserNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })).rejects.toMatchObject({ code: 'transport/unsupported' })
})

test('perf is opt-in in browsers: absent by default (UsageError), present with services: { perf: perf() }', async () => {
  const addr = server.getMultiaddrs()[0]!
  const plain = await createBrowserNode()
  try {
    await expect(plain.perf(addr, { uploadBytes: 10, downloadBytes: 10 })).rejects.toMatchObject({ code: 'node/no-such-service' })
    expect(plain.getConnections()).toEqual([]) // refused before dialing
  } finally {
    await plain.stop()
  }
  const withPerf = await createBrowserNode({ services: { perf: browserPerf() } })
  try {
    const served = new Promise<{ uploadBytes: number; downloadBytes: number }>((resolve) => server.on('perf:served', resolve))
    const r = await withPerf.perf(addr, { uploadBytes: 3000, downloadBytes: 5000 })
    expect([r.uploadBytes, r.downloadBytes]).toEqual([3000, 5000])
    expect(await served).toMatchObject({ uploadBytes: 3000, downloadBytes: 5000 })
  } finally {
    await withPerf.stop()
  }
})

test('weft/node: perf only when asked (services replace the defaults fully), and a second perf service is refused', async () => {
  for (const [options, hasPerf] of [[{}, false], [{ services: {} }, false], [{ services: { perf: browserPerf() } }, true]] as const) {
    const node = await createNode({ ...options, start: false })
    try {
      expect(node.swarm.behaviours['perf'] !== undefined).toBe(hasPerf)
    } finally {
      await node.stop()
    }
  }
  expect(() => new WeftNodeClass({ services: { a: browserPerf(), b: browserPerf() } }, { crypto: nobleCrypto, wallClock: () => 0, transports: [] }))
    .toThrow(expect.objectContaining({ code: 'node/service-name-taken' }))
})

test('perf runs in its service: progress, an abort mid-run and a stop each settle the run (src/edge/perf-service.ts)', async () => {
  const addr = server.getMultiaddrs()[0]!
  const node = await createBrowserNode({ services: { perf: browserPerf({ progressInterval: 0 }) } })
  const withProgress = await createBrowserNode({ services: { perf: browserPerf({ progressInterval: 1 }) } })
  try {
    // progress events reach onProgress; the run resolves with its result
    const seen: string[] = []
    const r = await withProgress.perf(addr, { uploadBytes: 1 << 20, downloadBytes: 1 << 20 }, { onProgress: (ev) => seen.push(ev.type) })
    expect(r.downloadBytes).toBe(1 << 20)
    expect(seen.length).toBeGreaterThan(0)
    expect(new Set(seen)).toEqual(new Set(['perf-progress']))
    // an already-aborted signal rejects at once with its reason
    const pre = new AbortController()
    pre.abort(new Error('pre'))
    await expect(node.perf(addr, { uploadBytes: 10, downloadBytes: 10 }, { signal: pre.signal })).rejects.toThrow('pre')
    // an abort while the run is on (its first progress event seen) rejects it with the reason
    const ac = new AbortController()
    await expect(withProgress.perf(addr, { uploadBytes: 0, downloadBytes: 64 << 20 }, { signal: ac.signal, onProgress: () => ac.abort(new Error('mid-run')) })).rejects.toThrow('mid-run')
    // stopping the node settles a run in flight: the swarm's stop resets its stream first (perf's
    // own 'perf/connection-closed', an OutcomeError), else the service's stop rejects it with node/stopped
    let stopped: Promise<void> | undefined
    await expect(withProgress.perf(addr, { uploadBytes: 0, downloadBytes: 64 << 20 }, { onProgress: () => { stopped ??= withProgress.stop() } }))
      .rejects.toMatchObject({ code: expect.stringMatching(/^(perf\/connection-closed|node\/stopped)$/) })
    await stopped
  } finally {
    await node.stop()
    await withProgress.stop()
  }
})
