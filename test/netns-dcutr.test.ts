/**
 * DCUtR end to end, weft <-> weft, through real NATs (spec/dcutr.md, spec/hole-punching.md): a weft
 * relay on the "WAN", weft B behind NAT rB reserving on it, weft A behind NAT rA dialing B through
 * the relay; DCUtR upgrades the relayed connection to a direct one (TCP simultaneous open from the
 * punch ports), the relayed connection is closed after the grace period, a ping runs over the direct
 * one, and the routers' counters show the direct SYN.
 *
 * Topology (as test/netns-punch-port.test.ts; created and removed here, unique names per run):
 *   <P>-wan: bridge br0, the "WAN" 11.0.0.0/24 (exists only inside these namespaces)
 *   <P>-relay: 11.0.0.10 (weft relay, :4001)
 *   <P>-rA: wan0 11.0.0.1, lan0 10.0.1.1, masquerade (port-preserving)   <P>-a: 10.0.1.2 (weft A)
 *   <P>-rB: wan0 11.0.0.2, lan0 10.0.2.1, masquerade (port-preserving)   <P>-b: 10.0.2.2 (weft B)
 *   <P>-rC: wan0 11.0.0.3, lan0 10.0.3.1, masquerade fully-random        <P>-c: 10.0.3.2 (weft C, the control)
 *   <P>-d: 11.0.0.20 on the WAN, no NAT (weft D, public: B upgrades by connection reversal)
 * Routers: input from wan0 only for conntrack established/related (research note pitfall 4), forward
 * lan0 -> wan0 and established/related, a counter of SYNs forwarded from wan0 into the LAN.
 *
 * Skips (with the reason printed) only when not root, or `ip netns` or `nft` do not work; CI is root.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Proc, addNamespaces, buildDriver, deleteNamespaces, ip, natRouter, netnsUnavailable, removeDriver, routerCounter } from './helpers/netns.js'
import { parsePrometheus, sumOf } from './helpers/prometheus.js'

const P = `dc${process.pid % 100_000}`
const NAMES = ['wan', 'relay', 'rA', 'rB', 'rC', 'a', 'b', 'c', 'd'] as const
const NS = Object.fromEntries(NAMES.map((n) => [n, `${P}-${n}`])) as Record<(typeof NAMES)[number], string>

const why = netnsUnavailable(P, { nft: true })
if (why !== undefined) console.warn(`skipped: netns dcutr test: ${why}`)

/** A direct SYN from another router (not the relay) reached this one: the punch took the direct path. */
const DIRECT_SYN = ['iifname "wan0" ip saddr != 11.0.0.10 tcp flags & (syn | ack) == syn counter comment "directsyn"']


const procs: Proc[] = []

describe.skipIf(why !== undefined)('DCUtR weft <-> weft through two NATs', () => {
  let script = ''
  let relay: Proc
  let a: Proc
  let b: Proc
  let c: Proc
  let d: Proc
  let relayAddr = ''
  let bPeer = ''
  let cPeer = ''
  let dPeer = ''

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    ip('-n', NS.wan, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', NS.wan, 'link', 'set', 'br0', 'up')
    for (const [port, ns, dev] of [['p-relay', NS.relay, 'r0'], ['p-rA', NS.rA, 'wan0'], ['p-rB', NS.rB, 'wan0'], ['p-rC', NS.rC, 'wan0'], ['p-d', NS.d, 'eth0']] as const) {
      ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', NS.wan)
      ip('-n', NS.wan, 'link', 'set', port, 'master', 'br0', 'up')
    }
    ip('-n', NS.relay, 'addr', 'add', '11.0.0.10/24', 'dev', 'r0')
    ip('-n', NS.relay, 'link', 'set', 'r0', 'up')
    ip('-n', NS.d, 'addr', 'add', '11.0.0.20/24', 'dev', 'eth0')
    ip('-n', NS.d, 'link', 'set', 'eth0', 'up')
    for (const [r, host, i, flags] of [[NS.rA, NS.a, 1, ''], [NS.rB, NS.b, 2, ''], [NS.rC, NS.c, 3, 'fully-random']] as const) {
      ip('link', 'add', 'lan0', 'netns', r, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      natRouter(r, { wan: `11.0.0.${i}`, lan: `10.0.${i}.1`, lanNet: `10.0.${i}.0/24`, natFlags: flags, counters: DIRECT_SYN })
      ip('-n', host, 'addr', 'add', `10.0.${i}.2/24`, 'dev', 'eth0')
      ip('-n', host, 'link', 'set', 'eth0', 'up')
      ip('-n', host, 'route', 'add', 'default', 'via', `10.0.${i}.1`)
    }
    script = await buildDriver('netns-dcutr-driver')
    relay = new Proc(NS.relay, script, ['relay', '11.0.0.10'])
    procs.push(relay)
    const started = await relay.next()
    expect(started.event).toBe('started')
    relayAddr = String(started.addr)
    expect(relayAddr).toMatch(/^\/ip4\/11\.0\.0\.10\/tcp\/4001\/p2p\//)
    b = new Proc(NS.b, script, ['peer', '10.0.2.2', relayAddr, 'listen'])
    c = new Proc(NS.c, script, ['peer', '10.0.3.2', relayAddr, 'listen'])
    a = new Proc(NS.a, script, ['peer', '10.0.1.2', relayAddr, 'dial'])
    d = new Proc(NS.d, script, ['peer', '11.0.0.20', relayAddr, 'dial'])
    procs.push(a, b, c, d)
    const reserved = await b.next()
    expect(reserved.event).toBe('reserved')
    bPeer = String(reserved.peer)
    const reservedC = await c.next()
    expect(reservedC.event).toBe('reserved')
    cPeer = String(reservedC.peer)
    expect((await a.next()).event).toBe('started')
    const startedD = await d.next()
    expect(startedD.event).toBe('started')
    dPeer = String(startedD.peer)
  }, 60_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.kill()
    removeDriver(script)
    deleteNamespaces(Object.values(NS))
  })

  test('A dials B through the relay; DCUtR upgrades to a direct connection; the relayed one is closed; a ping runs over the direct one', async () => {
    const synBefore = routerCounter(NS.rA, 'directsyn') + routerCounter(NS.rB, 'directsyn')
    const r = await a.ask(`dial ${bPeer}`)
    if (r.ok !== true) console.error('dcutr A:', JSON.stringify(r), '\nB:', JSON.stringify(await b.ask('events')))
    expect(r.ok).toBe(true)
    const punchA = Number(r.punchPort)
    // the relayed connection A dialed
    expect(r.relayed).toMatchObject({ limited: true, direction: 'outbound' })
    // A's direct connection: to B's router at B's punch port, from A's punch port, not limited
    const direct = r.direct as { connection: { remoteAddr: string; localAddr: string; limited: boolean }; role: string; via: string }
    expect(direct).toMatchObject({ type: 'direct', role: 'A', via: 'hole-punch' })
    expect(direct.connection.limited).toBe(false)
    expect(direct.connection.remoteAddr).toMatch(/^\/ip4\/11\.0\.0\.2\/tcp\/\d+$/)
    expect(direct.connection.localAddr).toBe(`/ip4/10.0.1.2/tcp/${punchA}`)
    // after the grace period only direct connections are left, and the ping ran on one
    const conns = r.connections as Array<{ limited: boolean }>
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((c) => !c.limited)).toBe(true)
    expect(Number(r.rtt)).toBeGreaterThanOrEqual(0)
    // B saw it too, as the side that opened the stream and dialed as the responder
    const events = (await b.ask('events')).events as Array<Record<string, unknown>>
    expect(events.filter((e) => e.type === 'attempt').length).toBeGreaterThanOrEqual(1)
    expect(events.find((e) => e.type === 'direct')).toMatchObject({ role: 'B', via: 'hole-punch' })
    // the routers forwarded a SYN from the other peer's router into the LAN: the direct path was punched
    expect(routerCounter(NS.rA, 'directsyn') + routerCounter(NS.rB, 'directsyn') - synBefore).toBeGreaterThanOrEqual(1)
    // go's holepunch metrics (spec/metrics.md): B initiated and succeeded over ip4/tcp, A received
    const mb = parsePrometheus(String((await b.ask('metrics')).metrics))
    const attemptsB = String((events.find((e) => e.type === 'direct') as { attempts: number }).attempts)
    expect(sumOf(mb, 'libp2p_holepunch_outcomes_total', { side: 'initiator', num_attempts: attemptsB, outcome: 'success' })).toBe(1)
    expect(sumOf(mb, 'libp2p_holepunch_address_outcomes_total', { side: 'initiator', num_attempts: attemptsB, ipv: 'ip4', transport: 'tcp', outcome: 'success' })).toBe(1)
    const ma = parsePrometheus(String((await a.ask('metrics')).metrics))
    expect(sumOf(ma, 'libp2p_holepunch_outcomes_total', { side: 'receiver', num_attempts: '1', outcome: 'success' })).toBe(1)
    expect(sumOf(ma, 'libp2p_holepunch_address_outcomes_total', { side: 'receiver', num_attempts: '1', ipv: 'ip4', transport: 'tcp', outcome: 'success' })).toBe(1)
    console.info('dcutr netns:', JSON.stringify({ direct: r.direct, events }))
  }, 60_000)

  test('control: C behind a fully-random NAT; DCUtR fails after 3 attempts and the relayed connection stays usable', async () => {
    const r = await a.ask(`dial ${cPeer}`)
    expect(r.ok).toBe(false)
    expect(r.error).toBe('dcutr failed')
    // A failed its first punch (its dials timed out); B (here C) drives the attempts: wait for its verdict
    let events: Array<Record<string, unknown>> = []
    for (let i = 0; !events.some((e) => e.type === 'failed' || e.type === 'direct'); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250))
      if (i > 160) throw new Error(`no verdict from C: ${JSON.stringify(events)}`)
      events = (await c.ask('events')).events as Array<Record<string, unknown>>
    }
    expect(events.filter((e) => e.type === 'attempt').map((e) => e.attempt)).toEqual([1, 2, 3])
    expect(events.find((e) => e.type === 'failed')).toMatchObject({ role: 'B', attempts: 3 })
    expect(events.some((e) => e.type === 'direct')).toBe(false)
    const mc = parsePrometheus(String((await c.ask('metrics')).metrics))
    expect(sumOf(mc, 'libp2p_holepunch_outcomes_total', { side: 'initiator', num_attempts: '3', outcome: 'failed' })).toBe(1)
    expect(sumOf(mc, 'libp2p_holepunch_outcomes_total', { outcome: 'success' })).toBe(0)
    // the relayed (limited) connection is still there and carries a ping
    const conns = (await a.ask(`conns ${cPeer}`)).connections as Array<{ limited: boolean }>
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((x) => x.limited)).toBe(true)
    expect(await a.ask(`ping ${cPeer}`)).toMatchObject({ ok: true })
  }, 60_000)

  test('connection reversal: D on the WAN (public listen address) dials B through the relay; B dials D directly, no hole punch', async () => {
    const r = await d.ask(`dial ${bPeer}`)
    if (r.ok !== true) console.error('dcutr D:', JSON.stringify(r), '\nB:', JSON.stringify(await b.ask('events')))
    expect(r.ok).toBe(true)
    const conns = r.connections as Array<{ limited: boolean; direction: string; remoteAddr: string }>
    // B dialed D's listen address: for D an inbound direct connection from B's router
    expect(conns.some((x) => !x.limited && x.direction === 'inbound' && x.remoteAddr.startsWith('/ip4/11.0.0.2/tcp/'))).toBe(true)
    expect(conns.every((x) => !x.limited)).toBe(true)
    const events = (await b.ask('events')).events as Array<Record<string, unknown>>
    const mine = events.filter((e) => e.peer === dPeer && e.type === 'direct')
    expect(mine).toHaveLength(1)
    expect(mine[0]).toMatchObject({ role: 'B', via: 'reversal', attempts: 0 })
    expect(events.some((e) => e.peer === dPeer && e.type === 'attempt')).toBe(false)
    // go counts B's connection reversal as a direct dial
    const mb = parsePrometheus(String((await b.ask('metrics')).metrics))
    expect(sumOf(mb, 'libp2p_holepunch_direct_dials_total', { outcome: 'success' })).toBe(1)
  }, 60_000)
})
