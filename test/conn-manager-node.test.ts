/**
 * The connection manager end to end over TCP (spec/connection-manager.md): a weft node with low 2 /
 * high 4 accepts 6 weft peers and trims the least valuable; the trimmed peers see a GoAway with
 * 0x1005 (GarbageCollected) as a typed ConnectionClosedError; a protected peer and a highly tagged
 * peer survive; kad and gossipsub tags show in getTagInfo.
 *
 * Timing: the 5th connection passes high water while every connection is in its grace period (3 s),
 * so the trim is retried every silence period (2 s): at +2 s all are still new, at +4 s all six are
 * out of their grace period together (as long as they connected within 1 s of each other), and one
 * trim closes 5 - 2 = 3 connections (low water counts trimmable connections: the protected peer is
 * kept on top of it, as in go-libp2p).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { ConnectionClosedError, createNode, type WeftNode } from '../src/node.js'
import { main } from '../src/cli/main.js'
import { cli } from './helpers/cli.js'
import type { ConnectionInfo } from '../src/swarm/index.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function until(f: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('connection manager over TCP', () => {
  test('low 2 / high 4: six peers trimmed to the protected one plus two, the trimmed see close/garbage-collected', async () => {
    const server = await createNode({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      connectionManager: { lowWater: 2, highWater: 4, gracePeriodMs: 3000, silencePeriodMs: 2000 },
      pubsub: { heartbeatInterval: 200 },
    })
    nodes.push(server)
    server.pubsub.subscribe('t')
    const clients: WeftNode[] = []
    for (let i = 0; i < 6; i++) clients.push(await createNode({ listen: [], pubsub: { heartbeatInterval: 200 } }))
    nodes.push(...clients)
    const closes = clients.map(() => [] as { connection: ConnectionInfo; error?: Error }[])
    clients.forEach((c, i) => c.on('connection:close', (d) => closes[i]!.push(d)))
    const [protectedPeer, tagged] = [clients[0]!, clients[1]!]
    server.connectionManager.protect(protectedPeer.peerId, 'test')
    const addr = server.getMultiaddrs()[0]!
    await Promise.all(clients.map((c) => c.dial(addr)))
    for (const c of clients) c.pubsub.subscribe('t')
    await until(() => server.getConnections().length === 6)
    server.connectionManager.tag(tagged.peerId, 'app', 100)

    // kad tags routing-table peers, gossipsub its mesh peers
    await until(() => {
      const info = server.connectionManager.getTagInfo(tagged.peerId)
      return info?.tags.get('kbucket') === 5 && info.tags.get('pubsub:t') === 20
    })
    expect(server.connectionManager.getTagInfo(tagged.peerId)!.value).toBe(125)

    await until(() => server.getConnections().length === 3)
    const kept = server.getConnections().map((c) => c.peer.toString()).sort()
    expect(kept).toContain(protectedPeer.peerId.toString())
    expect(kept).toContain(tagged.peerId.toString())
    expect(server.connectionManager.info()).toMatchObject({ connections: 3, trimmedConnections: 3 })

    const trimmed = clients.filter((c) => !kept.includes(c.peerId.toString()))
    expect(trimmed).toHaveLength(3)
    await until(() => trimmed.every((c) => closes[clients.indexOf(c)]!.length > 0))
    for (const c of trimmed) {
      const error = closes[clients.indexOf(c)]![0]!.error
      expect(error).toBeInstanceOf(ConnectionClosedError)
      expect(error).toMatchObject({ code: 'close/garbage-collected', by: 'remote', wireCode: 0x1005 })
    }
    // the survivors were not closed, and stay connected past another silence period
    expect(closes[0]).toEqual([])
    expect(closes[1]).toEqual([])
  }, 30_000)

  test('a manual trim closes at once, down to low water, with the same code', async () => {
    const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], connectionManager: { lowWater: 1, highWater: 10, gracePeriodMs: 0 } })
    const clients = [await createNode({ listen: [] }), await createNode({ listen: [] }), await createNode({ listen: [] })]
    nodes.push(server, ...clients)
    const addr = server.getMultiaddrs()[0]!
    for (const c of clients) await c.dial(addr)
    await until(() => server.getConnections().length === 3)
    server.connectionManager.tag(clients[2]!.peerId, 'keep', 1)
    const closed: Error[] = []
    for (const c of clients) c.on('connection:close', (d) => { if (d.error !== undefined) closed.push(d.error) })
    expect(server.connectionManager.trim()).toBe(2)
    await until(() => closed.length === 2 && server.getConnections().length === 1)
    expect(server.getConnections()[0]!.peer.equals(clients[2]!.peerId)).toBe(true)
    expect(closed.every((e) => e instanceof ConnectionClosedError && e.wireCode === 0x1005)).toBe(true)
  }, 30_000)
})

describe('weft node --conns-low / --conns-high / --conns-grace', () => {
  test('the running node trims to its low water; bad values are one error line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-connmgr-'))
    for (const [args, msg] of [
      [['--conns-low', '-1'], '--conns-low must be a non-negative integer (not -1)'],
      [['--conns-high', '1.5'], '--conns-high must be a non-negative integer (not 1.5)'],
      [['--conns-high', '100'], '--conns-low (160) must not exceed --conns-high (100)'],
      [['--conns-grace', '10 s'], '--conns-grace must be a duration such as 500ms, 30s, 1m (not 10 s)'],
      [['--conns-silence', 'soon'], '--conns-silence must be a duration such as 500ms, 30s, 1m (not soon)'],
    ] as const) {
      const r = await cli('node', '--identity', join(dir, 'x.key'), ...args)
      expect(r.code).toBe(1)
      expect(r.err).toBe(msg)
    }
    const out: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')) })
    try {
      const running = main(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'n.key'), '--json', '--conns-low', '1', '--conns-high', '2', '--conns-grace', '0ms', '--conns-silence', '100ms'])
      await expect.poll(() => out.some((l) => l.includes('"event":"started"')), { timeout: 10_000 }).toBe(true)
      const started = JSON.parse(out.find((l) => l.includes('"event":"started"'))!) as { addrs: string[] }
      const clients = [await createNode({ listen: [] }), await createNode({ listen: [] }), await createNode({ listen: [] })]
      nodes.push(...clients)
      const closed: Error[] = []
      for (const c of clients) {
        c.on('connection:close', (d) => { if (d.error !== undefined) closed.push(d.error) })
        await c.dial(started.addrs[0]!)
      }
      // the third connection passes high water 2: the node trims to 1 at once (grace 0)
      await until(() => closed.length === 2)
      expect(closed.every((e) => e instanceof ConnectionClosedError && e.code === 'close/garbage-collected')).toBe(true)
      process.emit('SIGTERM')
      expect(await running).toBe(0)
    } finally {
      log.mockRestore()
    }
  }, 30_000)
})
