/**
 * Issue 12's per-IP test in network namespaces: a flood of connections from one IP is held to the
 * limits while a second IP connects normally.
 *
 * Topology (created and removed here; unique names per run):
 *
 *   <P>-srv: bridge br0 11.0.0.1/24, weft node listening on 11.0.0.1 (default limits)
 *   <P>-atk: eth0 11.0.0.50/24, the attacker (raw TCP sockets that never send a byte)
 *   <P>-hon: eth0 11.0.0.51/24, an honest weft node
 *
 * 11.0.0.0/24 is "public-looking" on purpose (research note §0 fact 2, §9): it exists only inside these
 * namespaces (nothing in the root namespace routes to it), and it is neither loopback nor private, so
 * no exemption applies. The attacker makes 40 connections in about a second: 12 at once and held
 * (8 admitted: the /32 concurrency limit; the rest refused before Noise), then 28 one after another,
 * each closed once admitted (8 more admitted: the burst of 16 is spent; the rest refused by the rate
 * limit). The honest node connects while the attacker holds its 8, and again after the churn.
 *
 * Skips (with the reason printed) only when not root or when `ip netns` does not work.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Proc, addNamespaces, buildDriver, deleteNamespaces, ip, netnsUnavailable, removeDriver } from './helpers/netns.js'

const P = `wl${process.pid % 100_000}`
const NS = { srv: `${P}-srv`, atk: `${P}-atk`, hon: `${P}-hon` }

const why = netnsUnavailable(P)
if (why !== undefined) console.warn(`skipped: netns per-IP limits test: ${why}`)

const procs: Proc[] = []

describe.skipIf(why !== undefined)('per-IP limits in network namespaces', () => {
  let script = ''

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    ip('-n', NS.srv, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', NS.srv, 'addr', 'add', '11.0.0.1/24', 'dev', 'br0')
    ip('-n', NS.srv, 'link', 'set', 'br0', 'up')
    for (const [port, ns, addr] of [['pa', NS.atk, '11.0.0.50/24'], ['ph', NS.hon, '11.0.0.51/24']] as const) {
      ip('link', 'add', port, 'netns', NS.srv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('-n', NS.srv, 'link', 'set', port, 'master', 'br0', 'up')
      ip('-n', ns, 'addr', 'add', addr, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
    }
    script = await buildDriver('netns-limits-driver')
  }, 30_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.kill()
    removeDriver(script)
    deleteNamespaces(Object.values(NS))
  })

  test('40 connections in about a second from 11.0.0.50: 8 concurrent, 16 in all, the rest refused before Noise; 11.0.0.51 connects', async () => {
    const server = new Proc(NS.srv, script, ['server', '/ip4/11.0.0.1/tcp/0'])
    const honest = new Proc(NS.hon, script, ['honest'])
    procs.push(server, honest)
    const started = await server.next()
    expect(started.event).toBe('started')
    const addr = (started.addrs as string[])[0]!
    const atk = new Proc(NS.atk, script, ['attacker', '11.0.0.1', addr.split('/')[4]!, '11.0.0.50'])
    procs.push(atk)
    expect(await honest.next()).toMatchObject({ event: 'started' })

    const t0 = performance.now()
    // 12 at once, held: the /32 concurrency limit (8) admits 8; the others are closed unread.
    const hold = await atk.ask('hold 12')
    expect(hold).toEqual({ admitted: 8, refused: 4, bytesOnRefused: 0 })
    expect(await server.ask('stats 11.0.0.50/32')).toMatchObject({ count: 8 })
    // The second IP connects normally while the first holds its limit.
    expect(await honest.ask(`dial ${addr}`)).toMatchObject({ ok: true })

    expect(await atk.ask('release')).toEqual({ released: 8 })
    await expect.poll(async () => (await server.ask('stats 11.0.0.50/32')).count, { timeout: 10_000, interval: 20 }).toBe(0)
    // 28 more, one at a time, each closed once admitted: only the 8 tokens left of the burst of 16 pass.
    const churn = await atk.ask('churn 28')
    const elapsed = performance.now() - t0
    const refill = Math.floor((elapsed / 1000) * 0.2)
    expect(churn.bytesOnRefused).toBe(0)
    expect(churn.admitted).toBeGreaterThanOrEqual(8)
    expect(churn.admitted).toBeLessThanOrEqual(8 + refill)
    const admitted = (hold.admitted as number) + (churn.admitted as number)
    expect(admitted).toBeLessThanOrEqual(16 + refill)
    expect((hold.refused as number) + (churn.refused as number)).toBe(40 - admitted)
    console.log(`netns flood: 40 connections from 11.0.0.50 in ${elapsed.toFixed(0)} ms: ${admitted} admitted (held: ${hold.admitted}), ${40 - admitted} refused before Noise`)

    expect(await honest.ask(`dial ${addr}`)).toMatchObject({ ok: true })
    for (const p of [server, atk, honest]) p.child.stdin!.write('exit\n')
  }, 30_000)
})
