/**
 * `weft chat --mdns` on a LAN: three chat processes in network namespaces on one bridge (multicast
 * routed), no bootstrap peer, no rendezvous: they find each other by mDNS, exchange room messages
 * with the right senders and a direct message, and when one leaves the other two go on. Root only
 * (CI is root); skipped elsewhere.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { addNamespaces, deleteNamespaces, multicastLan, netnsUnavailable } from './helpers/netns.js'
import { Chat, buildChatCli, msgFrom, removeChatCli } from './helpers/chat-procs.js'

const P = `ch${process.pid % 100_000}`
const HOSTS = ['a', 'b', 'c'] as const
const NS = { br: `${P}-br`, a: `${P}-a`, b: `${P}-b`, c: `${P}-c` }

const why = netnsUnavailable(P)
if (why !== undefined) console.warn(`skipped: netns chat test: ${why}`)

describe.skipIf(why !== undefined)('weft chat --mdns between three namespaces on one bridge', () => {
  let script = ''
  const procs: Chat[] = []

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    multicastLan(NS.br, HOSTS.map((h) => [h, NS[h]] as const), '10.54.0')
    script = await buildChatCli()
  }, 60_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL')
    removeChatCli(script)
    deleteNamespaces(Object.values(NS))
  })

  test('found by mDNS within 15 s; room messages and a DM; one leaves, the others go on', async () => {
    const [a, b, c] = HOSTS.map((h) => {
      const p = new Chat(script, ['--mdns', '--nick', h, '--listen', '/ip4/0.0.0.0/tcp/4001'], NS[h])
      procs.push(p)
      return p
    }) as [Chat, Chat, Chat]
    for (const p of [a, b, c]) expect((await p.wait((e) => e.event === 'started')).addrs).toContain(`/ip4/10.54.0.${[a, b, c].indexOf(p) + 1}/tcp/4001/p2p/${p.peer}`)
    // each discovers the two others by mDNS and the room's mesh forms among them
    for (const p of [a, b, c]) {
      for (const q of [a, b, c].filter((x) => x !== p)) await p.wait((e) => e.event === 'discovered' && e.source === 'mdns' && e.peer === q.peer, 15_000)
    }
    await Promise.all([a.meshHas(b, c), b.meshHas(a, c), c.meshHas(a, b)])
    for (const p of [a, b, c]) p.send(`hi from ${p.peer.slice(-4)}`)
    for (const p of [a, b, c]) {
      for (const q of [a, b, c].filter((x) => x !== p)) expect((await q.wait(msgFrom(p, `hi from ${p.peer.slice(-4)}`))).nick).toBe(HOSTS[[a, b, c].indexOf(p)])
    }
    c.send('/msg b over the LAN')
    await c.wait((e) => e.event === 'dm:delivered' && e.to === b.peer)
    expect(await b.wait((e) => e.event === 'dm')).toMatchObject({ from: c.peer, text: 'over the LAN' })

    a.send('/quit')
    expect(await a.exit).toBe(0)
    await Promise.all([b.wait((e) => e.event === 'leave' && e.peer === a.peer), c.wait((e) => e.event === 'leave' && e.peer === a.peer)])
    b.send('still here')
    await c.wait(msgFrom(b, 'still here'))
    c.send('me too')
    await b.wait(msgFrom(c, 'me too'))
    for (const p of [b, c]) p.child.stdin!.end()
    expect(await b.exit).toBe(0)
    expect(await c.exit).toBe(0)
    expect(a.events.filter((e) => e.event === 'dm')).toEqual([])
    for (const p of [a, b, c]) expect(p.err).toBe('')
  }, 90_000)
})
