/**
 * Rendezvous on the command line: `weft node --rendezvous-server` (the built CLI, bin/weft.js; run
 * `npm run build` first) and `weft rendezvous register|discover|unregister` against it (in-process):
 * register two identities, discover them (text and JSON), page with the cookie, unregister, and one
 * stderr line naming the code for a refusal and for usage errors.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cli } from './helpers/cli.js'
import { failure, startCliNode, stopCliNodes } from './helpers/cli-node.js'

afterAll(stopCliNodes)
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-rendezvous-'))

describe('weft rendezvous against weft node --rendezvous-server', () => {
  let point = ''
  beforeAll(async () => { point = (await startCliNode(join(dir, 'point.key'), ['--rendezvous-server'])).addr }, 30_000)

  test('register two identities, discover, cookie, unregister', async () => {
    const a = await cli('rendezvous', 'register', point, 'cli-app', '--addr', '/ip4/10.1.1.1/tcp/4001', '--identity', join(dir, 'a.key'), '--ttl', '7200', '--json')
    expect(a.code).toBe(0)
    const ra = JSON.parse(a.out) as { registered: string; peer: string; ttl: number }
    expect(ra).toMatchObject({ registered: 'cli-app', ttl: 7200 })
    const b = await cli('rendezvous', 'register', point, 'cli-app', '--addr', '/ip4/10.1.1.2/tcp/4001', '--addr', '/ip4/10.1.1.2/udp/4001/quic-v1', '--identity', join(dir, 'b.key'))
    expect(b.code).toBe(0)
    expect(b.out).toMatch(/^registered 12D3Koo\w+ in cli-app at 12D3Koo\w+, ttl 7200 s$/)

    const text = await cli('rendezvous', 'discover', point, 'cli-app')
    expect(text.code).toBe(0)
    const lines = text.out.split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(new RegExp(`^${ra.peer} cli-app ttl=7(199|200) /ip4/10\\.1\\.1\\.1/tcp/4001$`))
    expect(lines[1]).toMatch(/ cli-app ttl=\d+ \/ip4\/10\.1\.1\.2\/tcp\/4001 \/ip4\/10\.1\.1\.2\/udp\/4001\/quic-v1$/)
    const cookie = /^cookie ([0-9a-f]+)$/.exec(lines[2]!)![1]!
    const page = await cli('rendezvous', 'discover', point, 'cli-app', '--limit', '1', '--json')
    const p1 = JSON.parse(page.out) as { registrations: Array<{ peer: string }>; cookie: string }
    expect(p1.registrations.map((r) => r.peer)).toEqual([ra.peer])
    const p2 = JSON.parse((await cli('rendezvous', 'discover', point, 'cli-app', '--cookie', p1.cookie, '--json')).out) as { registrations: unknown[] }
    expect(p2.registrations).toHaveLength(1)
    expect(JSON.parse((await cli('rendezvous', 'discover', point, 'cli-app', '--cookie', cookie, '--json')).out)).toMatchObject({ registrations: [] })

    const u = await cli('rendezvous', 'unregister', point, 'cli-app', '--identity', join(dir, 'a.key'), '--json')
    expect(u.code).toBe(0)
    expect(JSON.parse(u.out)).toMatchObject({ unregistered: 'cli-app', peer: ra.peer })
    const after = JSON.parse((await cli('rendezvous', 'discover', point, 'cli-app', '--json')).out) as { registrations: Array<{ peer: string }> }
    expect(after.registrations.map((r) => r.peer)).not.toContain(ra.peer)
    expect(after.registrations).toHaveLength(1)
  }, 30_000)

  test("the point's refusal is one stderr line naming its code", async () => {
    expect(failure(await cli('rendezvous', 'register', point, 'x'.repeat(256), '--addr', '/ip4/10.1.1.1/tcp/1', '--identity', join(dir, 'a.key')))).toMatch(/rendezvous\/invalid-namespace/)
    expect(failure(await cli('rendezvous', 'register', point, 'short', '--ttl', '60', '--addr', '/ip4/10.1.1.1/tcp/1', '--identity', join(dir, 'a.key')))).toMatch(/rendezvous\/invalid-ttl/)
    expect(failure(await cli('rendezvous', 'discover', point, 'cli-app', '--cookie', '00'))).toMatch(/rendezvous\/invalid-cookie/)
  }, 30_000)

  test('usage errors', async () => {
    expect(failure(await cli('rendezvous', 'register', point, 'ns'))).toMatch(/--addr/)
    expect(failure(await cli('rendezvous', 'frobnicate', point, 'ns'))).toMatch(/usage: weft rendezvous/)
    expect(failure(await cli('rendezvous', 'discover', point, '--ttl', '5'))).toMatch(/--ttl and --addr are for register/)
    expect(failure(await cli('rendezvous', 'discover', point, '--cookie', 'zz'))).toMatch(/--cookie must be hex/)
    expect(failure(await cli('rendezvous', 'unregister', point))).toMatch(/usage: weft rendezvous/)
  })
})
