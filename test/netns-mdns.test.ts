/**
 * mDNS on a real LAN (spec/mdns.md, "Socket and node"): three weft nodes in network namespaces on
 * one bridge (multicast routed on eth0), each listening on 0.0.0.0 (expanded to its interface
 * address in its answers), find each other over UDP 224.0.0.251:5353 within 15 s; hostile
 * datagrams on the group are counted and dropped, and a node started after them is still found.
 * Root only (CI is root); skipped elsewhere.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Proc, addNamespaces, buildDriver, deleteNamespaces, ip, multicastLan, netnsUnavailable, removeDriver } from './helpers/netns.js'

const P = `md${process.pid % 100_000}`
const HOSTS = ['a', 'b', 'c'] as const
const NS = { br: `${P}-br`, a: `${P}-a`, b: `${P}-b`, c: `${P}-c`, v: `${P}-v`, w: `${P}-w`, x: `${P}-x` }

const why = netnsUnavailable(P)
if (why !== undefined) console.warn(`skipped: netns mdns test: ${why}`)

const procs: Proc[] = []

describe.skipIf(why !== undefined)('mDNS between weft nodes on one bridge', () => {
  let script = ''
  let cli = ''
  const dir = mkdtempSync(join(tmpdir(), 'weft-mdns-'))
  const peers: Record<string, string> = {}
  const proc: Record<string, Proc> = {}

  const start = async (h: keyof typeof NS, args: string[], name: string = h): Promise<void> => {
    const p = new Proc(NS[h], script, ['node', ...args])
    procs.push(p)
    proc[name] = p
    const ev = await p.next()
    expect(ev.event).toBe('started')
    peers[name] = String(ev.peer)
  }

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    multicastLan(NS.br, HOSTS.map((h) => [h, NS[h]] as const), '10.53.0')
    // x: on the bridge, link up, but no address and no route until its test gives them
    ip('link', 'add', 'eth0', 'netns', NS.x, 'type', 'veth', 'peer', 'name', 'px', 'netns', NS.br)
    ip('-n', NS.br, 'link', 'set', 'px', 'master', 'br0', 'up')
    ip('-n', NS.x, 'link', 'set', 'eth0', 'up')
    // v and w: an IPv6-only link (ULA addresses, no IPv4 at all)
    ip('link', 'add', 'eth0', 'netns', NS.v, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.w)
    ;(['v', 'w'] as const).forEach((h, i) => {
      ip('-n', NS[h], 'addr', 'add', `fd00:53::${i + 1}/64`, 'dev', 'eth0', 'nodad')
      ip('-n', NS[h], 'link', 'set', 'eth0', 'up')
    })
    script = await buildDriver('netns-mdns-driver')
    cli = await buildDriver('netns-mdns-cli')
  }, 60_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.kill()
    removeDriver(script)
    removeDriver(cli)
    rmSync(dir, { recursive: true, force: true })
    deleteNamespaces(Object.values(NS))
  })

  test('a and b find each other; garbage on the group is dropped; c, started after it, is found by both and finds both, within 15 s', async () => {
    await start('a', [])
    await start('b', ['autoDial'])
    const [fa, fb] = await Promise.all([proc.a!.ask('wait 1'), proc.b!.ask('wait 1')])
    expect(fa.peers).toEqual([peers.b])
    expect(fb.peers).toEqual([peers.a])
    // the IPv6 socket (on by default) joined ff02::fb on the link-local-only eth0 without errors
    expect((fa.stats as { socketErrors: number }).socketErrors).toBe(0)
    // 0.0.0.0 was expanded to the interface address; no loopback address is announced
    expect((fa.addrs as Record<string, string[]>)[peers.b!]).toEqual(['/ip4/10.53.0.2/tcp/4001'])
    expect((fb.addrs as Record<string, string[]>)[peers.a!]).toEqual(['/ip4/10.53.0.1/tcp/4001'])

    expect((await proc.a!.ask('garbage')).sent).toBe(3)
    // b counts them as malformed (positive signal before going on)
    for (;;) {
      const s = (await proc.b!.ask('stats')).stats as { malformed: number }
      if (s.malformed >= 3) break
      await new Promise((r) => setTimeout(r, 100))
    }

    await start('c', [])
    const [a2, b2, c2] = await Promise.all([proc.a!.ask('wait 2'), proc.b!.ask('wait 2'), proc.c!.ask('wait 2')])
    expect((a2.peers as string[]).sort()).toEqual([peers.b, peers.c].sort())
    expect((b2.peers as string[]).sort()).toEqual([peers.a, peers.c].sort())
    expect((c2.peers as string[]).sort()).toEqual([peers.a, peers.b].sort())
    expect((c2.stats as { answered: number }).answered).toBeGreaterThan(0)

    // b dials what it discovers (autoDial)
    for (;;) {
      const conns = (await proc.b!.ask('conns')).peers as string[]
      if (conns.includes(peers.a!) && conns.includes(peers.c!)) break
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 15_000)

  test('weft node --mdns prints a discovery line per peer and is found by the others', async () => {
    const p = new Proc(NS.c, cli, ['node', '--mdns', '--json', '--identity', join(dir, 'id.key'), '--listen', '/ip4/0.0.0.0/tcp/4002'])
    procs.push(p)
    proc.cli = p
    const found = new Set<string>()
    let self = ''
    while (found.size < 3 || self === '') {
      let ev: Record<string, unknown>
      try {
        ev = await p.next()
      } catch (e) {
        if (e instanceof SyntaxError) continue // a line that is not JSON
        throw e
      }
      if (ev.event === 'started') self = String(ev.peerId)
      if (ev.event === 'peer:discovery' && ev.source === 'mdns') found.add(String(ev.peer)) // identify reports peers too
    }
    expect([...found].sort()).toEqual([peers.a, peers.b, peers.c].sort())
    const fa = await proc.a!.ask('wait 3')
    expect(fa.peers).toContain(self)
  }, 15_000)

  test('a peer killed without a goodbye expires when its TTL passes; a peer that stops says goodbye and expires at once', async () => {
    await start('c', ['ttl=2', 'port=4003'], 'e')
    await proc.a!.ask(`waitpeer ${peers.e}`)
    proc.e!.kill() // SIGKILL: no goodbye
    const byTtl = await proc.a!.ask(`expired ${peers.e}`)
    expect(byTtl.reason).toBe('ttl')

    await start('c', ['port=4004'], 'f') // TTL 360 s: only the goodbye can expire it within the test
    await Promise.all([proc.a!.ask(`waitpeer ${peers.f}`), proc.b!.ask(`waitpeer ${peers.f}`)])
    const gone = [proc.a!.ask(`expired ${peers.f}`), proc.b!.ask(`expired ${peers.f}`)]
    expect((await proc.f!.ask('stop')).stopped).toBe(true)
    for (const g of await Promise.all(gone)) expect(g.reason).toBe('goodbye')
    // weft node --mdns prints it too
    for (;;) {
      let ev: Record<string, unknown>
      try {
        ev = await proc.cli!.next()
      } catch (e) {
        if (e instanceof SyntaxError) continue
        throw e
      }
      if (ev.event === 'mdns:expired' && ev.peer === peers.f) {
        expect(ev.reason).toBe('goodbye')
        break
      }
    }
  }, 15_000)

  test('IPv6 only (on by default): two nodes on a link without IPv4 find each other over ff02::fb, AAAA and /ip6 addresses', async () => {
    await start('v', ['ip6'])
    await start('w', ['ip6'])
    const [fv, fw] = await Promise.all([proc.v!.ask('wait 1'), proc.w!.ask('wait 1')])
    expect((fv.addrs as Record<string, string[]>)[peers.w!]).toEqual(['/ip6/fd00:53::2/tcp/4001'])
    expect((fw.addrs as Record<string, string[]>)[peers.v!]).toEqual(['/ip6/fd00:53::1/tcp/4001'])
    expect((fv.stats as { socketErrors: number }).socketErrors).toBe(0)
  }, 15_000)

  test('an interface address that appears after start is joined (at the next scheduled query): the node then finds the others', async () => {
    await start('x', ['ipv4only']) // no interface to join the group on yet
    ip('-n', NS.x, 'addr', 'add', '10.53.0.9/24', 'dev', 'eth0')
    ip('-n', NS.x, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    await proc.x!.ask(`waitpeer ${peers.a}`)
  }, 15_000)
})
