/** The gater end to end over TCP: createNode({ gater }), node.gater at runtime, `weft node --deny/--allow`. */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { ConnectionClosedError, DialError } from '../src/core/errors.js'
import { main } from '../src/cli/main.js'
import { createNode, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], ...opts })
  nodes.push(n)
  return n
}

/** Dial and wait until the connection is usable or gone: the error, or undefined when it stays up for a ping. */
async function dialOutcome(from: WeftNode, to: WeftNode): Promise<Error | undefined> {
  try {
    const conn = await from.dial(to.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) })
    await from.ping(conn.peer, { signal: AbortSignal.timeout(5_000) })
    return undefined
  } catch (e) {
    return e as Error
  }
}

describe('createNode({ gater })', () => {
  test('a denied peer is refused after Noise with GoAway 0x1007 (gated): the dialer sees close/gated', async () => {
    const dialer = await node({ listen: [] })
    const server = await node({ gater: { deny: [dialer.peerId.toString()] } })
    const closed = new Promise<Error | undefined>((resolve) => dialer.on('connection:close', ({ error }) => resolve(error)))
    const bugs: unknown[] = []
    server.on('error', (e) => bugs.push(e))
    const err = await dialOutcome(dialer, server)
    expect(err).toBeDefined()
    const why = err instanceof ConnectionClosedError ? err : await closed
    expect(why).toBeInstanceOf(ConnectionClosedError)
    expect(why).toMatchObject({ code: 'close/gated', wireCode: 0x1007, by: 'remote' })
    expect(server.getConnections()).toHaveLength(0)
    expect(bugs).toEqual([]) // streams the dialer opened with its last handshake message are no bug
  })

  test('a denied IP is closed before Noise: the dialer sees unexpected-eof during security', async () => {
    const server = await node({ gater: { deny: ['127.0.0.0/8'] } })
    const dialer = await node({ listen: [] })
    const err = await dialOutcome(dialer, server)
    expect(err).toBeInstanceOf(DialError)
    expect((err as DialError).attempts[0]!.error).toMatchObject({ code: 'connection/unexpected-eof' })
  })

  test('dialing a denied peer or address fails with dial/denied before any connect', async () => {
    const server = await node()
    const dialer = await node({ listen: [], gater: { deny: [server.peerId.toString()] } })
    const err = await dialOutcome(dialer, server)
    expect(err).toBeInstanceOf(DialError)
    expect(err).toMatchObject({ code: 'dial/denied' })
    const byAddr = await node({ listen: [], gater: { deny: [server.getMultiaddrs()[0]!.toString().replace(/\/p2p\/.*/, '')] } })
    expect(await dialOutcome(byAddr, server)).toMatchObject({ code: 'dial/denied' })
  })

  test('node.gater at runtime: deny, then remove', async () => {
    const server = await node()
    const dialer = await node({ listen: [] })
    expect(server.gater.deny('127.0.0.1')).toBe('127.0.0.1')
    expect(await dialOutcome(dialer, server)).toBeInstanceOf(DialError)
    expect(server.gater.remove('127.0.0.1')).toBe(true)
    expect(await dialOutcome(dialer, server)).toBeUndefined()
    expect(server.gater.list()).toEqual({ allow: [], deny: [] })
  })

  test('an allow-listed address is exempt from the per-IP limits (loopback not exempt here)', async () => {
    const strict = { ipLimits: { exemptLoopback: false, maxInboundPerIp4: 1 } }
    const limited = await node(strict)
    const exempt = await node({ ...strict, gater: { allow: ['127.0.0.1'] } })
    for (const [server, ok] of [[limited, false], [exempt, true]] as const) {
      const a = await node({ listen: [] })
      const b = await node({ listen: [] })
      expect(await dialOutcome(a, server)).toBeUndefined()
      const second = await dialOutcome(b, server)
      if (ok) expect(second).toBeUndefined()
      else expect(second).toBeInstanceOf(DialError)
    }
  })

  test('a bad entry is a UsageError from createNode', async () => {
    await expect(createNode({ listen: [], gater: { deny: ['not-an-entry'] } })).rejects.toMatchObject({ name: 'UsageError', code: 'gater/invalid-entry' })
  })
})

describe('weft node --deny / --allow', () => {
  test('--deny applies to the running node and its refusals are logged, rate-limited; a bad entry is one error line and exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-gater-'))
    const out: string[] = []
    const err: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')) })
    const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(a.join(' ')) })
    try {
      const bad = await main(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'a.key'), '--deny', '10.0.0.0/33'])
      expect(bad).toBe(1)
      expect(err).toHaveLength(1)
      expect(err[0]).toMatch(/gater\/invalid-entry/)

      const running = main(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', join(dir, 'b.key'), '--json', '--deny', '127.0.0.1,192.0.2.1', '--allow', '10.0.0.0/8'])
      await expect.poll(() => out.some((l) => l.includes('"event":"started"')), { timeout: 10_000 }).toBe(true)
      const started = JSON.parse(out.find((l) => l.includes('"event":"started"'))!) as { addrs: string[] }
      const dialer = await node({ listen: [] })
      await expect(dialer.dial(started.addrs[0]!, { signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(DialError)
      // the refusal is loud: one line at once...
      const refusedLines = (): Array<{ counts: Record<string, number> }> => out.filter((l) => l.includes('"event":"refused"')).map((l) => JSON.parse(l))
      await expect.poll(() => refusedLines().length, { timeout: 5_000 }).toBe(1)
      expect(refusedLines()[0]!.counts).toEqual({ 'connection inbound gater/denied': 1 })
      // ...but bounded: the next refusals within the summary period are counted, not printed one by one
      const again = await node({ listen: [] })
      await expect(again.dial(started.addrs[0]!, { signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(DialError)
      expect(refusedLines()).toHaveLength(1)
      process.emit('SIGTERM')
      expect(await running).toBe(0)
    } finally {
      log.mockRestore()
      error.mockRestore()
    }
  })
})
