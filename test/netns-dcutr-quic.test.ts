/**
 * DCUtR over QUIC v1 end to end, weft <-> weft, through real NATs (spec/dcutr.md "QUIC"): a weft
 * relay on the "WAN" (QUIC only), weft B behind NAT rB reserving on it over QUIC, weft A behind NAT
 * rA dialing B's QUIC circuit address; DCUtR upgrades the relayed connection to a direct QUIC one
 * (B's random punch packets open rB toward A's mapping, A's QUIC Initial from its listening socket
 * gets through), the relayed connection is closed after the grace period, a ping runs over the
 * direct one, and the routers' counters show UDP from the other router forwarded into the LAN.
 *
 * Topology (as test/netns-dcutr.test.ts, QUIC only; unique names per run):
 *   <P>-wan: bridge br0, the "WAN" 11.0.0.0/24
 *   <P>-relay: 11.0.0.10 (weft relay, udp/4001)
 *   <P>-rA: wan0 11.0.0.1, lan0 10.0.1.1, masquerade (port-preserving)   <P>-a: 10.0.1.2 (weft A)
 *   <P>-rB: wan0 11.0.0.2, lan0 10.0.2.1, masquerade (port-preserving)   <P>-b: 10.0.2.2 (weft B)
 *   <P>-rC: wan0 11.0.0.3, lan0 10.0.3.1, masquerade fully-random        <P>-c: 10.0.3.2 (weft C, the control)
 *   <P>-rD: wan0 11.0.0.4, lan0 10.0.4.1, masquerade (port-preserving)   <P>-d: 10.0.4.2 (weft D: sends no punch packets)
 *
 * Skips (with the reason printed) only when not root, or `ip netns` or `nft` do not work; CI is root.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Proc, addNamespaces, buildDriver, deleteNamespaces, ip, natRouter, netnsUnavailable, removeDriver, routerCounter } from './helpers/netns.js'

const P = `dq${process.pid % 100_000}`
const NAMES = ['wan', 'relay', 'rA', 'rB', 'rC', 'rD', 'a', 'b', 'c', 'd'] as const
const NS = Object.fromEntries(NAMES.map((n) => [n, `${P}-${n}`])) as Record<(typeof NAMES)[number], string>

const why = netnsUnavailable(P, { nft: true })
if (why !== undefined) console.warn(`skipped: netns dcutr quic test: ${why}`)

/** UDP from another router (not the relay) forwarded into the LAN: the punched direct path. */
const DIRECT_UDP = ['iifname "wan0" ip saddr != 11.0.0.10 meta l4proto udp counter comment "directudp"']

const procs: Proc[] = []

describe.skipIf(why !== undefined)('DCUtR over QUIC, weft <-> weft through two NATs', () => {
  let script = ''
  let a: Proc
  let b: Proc
  let c: Proc
  let d: Proc
  let bPeer = ''
  let cPeer = ''
  let dPeer = ''

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    ip('-n', NS.wan, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', NS.wan, 'link', 'set', 'br0', 'up')
    for (const [port, ns, dev] of [['p-relay', NS.relay, 'r0'], ['p-rA', NS.rA, 'wan0'], ['p-rB', NS.rB, 'wan0'], ['p-rC', NS.rC, 'wan0'], ['p-rD', NS.rD, 'wan0']] as const) {
      ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', NS.wan)
      ip('-n', NS.wan, 'link', 'set', port, 'master', 'br0', 'up')
    }
    ip('-n', NS.relay, 'addr', 'add', '11.0.0.10/24', 'dev', 'r0')
    ip('-n', NS.relay, 'link', 'set', 'r0', 'up')
    for (const [r, host, i, flags] of [[NS.rA, NS.a, 1, ''], [NS.rB, NS.b, 2, ''], [NS.rC, NS.c, 3, 'fully-random'], [NS.rD, NS.d, 4, '']] as const) {
      ip('link', 'add', 'lan0', 'netns', r, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      natRouter(r, { wan: `11.0.0.${i}`, lan: `10.0.${i}.1`, lanNet: `10.0.${i}.0/24`, natFlags: flags, counters: DIRECT_UDP })
      ip('-n', host, 'addr', 'add', `10.0.${i}.2/24`, 'dev', 'eth0')
      ip('-n', host, 'link', 'set', 'eth0', 'up')
      ip('-n', host, 'route', 'add', 'default', 'via', `10.0.${i}.1`)
    }
    script = await buildDriver('netns-dcutr-driver')
    const relay = new Proc(NS.relay, script, ['quic', 'relay', '11.0.0.10'])
    procs.push(relay)
    const started = await relay.next()
    expect(started.event).toBe('started')
    const relayAddr = String(started.addr)
    expect(relayAddr).toMatch(/^\/ip4\/11\.0\.0\.10\/udp\/4001\/quic-v1\/p2p\//)
    b = new Proc(NS.b, script, ['quic', 'peer', '10.0.2.2', relayAddr, 'listen'])
    c = new Proc(NS.c, script, ['quic', 'peer', '10.0.3.2', relayAddr, 'listen'])
    d = new Proc(NS.d, script, ['quic', 'peer', '10.0.4.2', relayAddr, 'listen-nopunch'])
    a = new Proc(NS.a, script, ['quic', 'peer', '10.0.1.2', relayAddr, 'dial'])
    procs.push(a, b, c, d)
    const reserved = await b.next()
    expect(reserved.event).toBe('reserved')
    bPeer = String(reserved.peer)
    const reservedC = await c.next()
    expect(reservedC.event).toBe('reserved')
    cPeer = String(reservedC.peer)
    const reservedD = await d.next()
    expect(reservedD.event).toBe('reserved')
    dPeer = String(reservedD.peer)
    expect((await a.next()).event).toBe('started')
  }, 60_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.kill()
    removeDriver(script)
    deleteNamespaces(Object.values(NS))
  })

  test('A dials B\'s QUIC circuit address; DCUtR punches a direct QUIC connection; the relayed one is closed; a ping runs over the direct one', async () => {
    const udpBefore = routerCounter(NS.rA, 'directudp') + routerCounter(NS.rB, 'directudp')
    const r = await a.ask(`dial ${bPeer}`)
    if (r.ok !== true) console.error('dcutr A:', JSON.stringify(r), '\nB:', JSON.stringify(await b.ask('events')))
    expect(r.ok).toBe(true)
    expect(r.relayed).toMatchObject({ limited: true, direction: 'outbound' })
    expect(String((r.relayed as { remoteAddr: string }).remoteAddr)).toMatch(/^\/ip4\/11\.0\.0\.10\/udp\/4001\/quic-v1\/p2p\/.*\/p2p-circuit/)
    const direct = r.direct as { connection: { remoteAddr: string; localAddr: string; limited: boolean; muxer: string }; role: string; via: string }
    expect(direct).toMatchObject({ type: 'direct', role: 'A', via: 'hole-punch' })
    // A dialed B's router at B's listening port (port-preserving NAT), from its own listening socket
    expect(direct.connection).toMatchObject({ remoteAddr: '/ip4/11.0.0.2/udp/4001/quic-v1', limited: false, muxer: '/quic-v1' })
    expect(direct.connection.localAddr).toBe('/ip4/10.0.1.2/udp/4001/quic-v1')
    const conns = r.connections as Array<{ limited: boolean }>
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((x) => !x.limited)).toBe(true)
    expect(Number(r.rtt)).toBeGreaterThanOrEqual(0)
    // B punched (packets to A's mapping) and accepted A's connection: inbound, from A's router
    const events = (await b.ask('events')).events as Array<Record<string, unknown>>
    expect(events.find((e) => e.type === 'punch')).toMatchObject({ addrs: ['/ip4/11.0.0.1/udp/4001/quic-v1'] })
    const db = events.find((e) => e.type === 'direct') as { role: string; via: string; connection: { direction: string; remoteAddr: string } }
    expect(db).toMatchObject({ role: 'B', via: 'hole-punch', connection: { direction: 'inbound', remoteAddr: '/ip4/11.0.0.1/udp/4001/quic-v1' } })
    // UDP from the other router crossed into a LAN: the direct path was punched
    expect(routerCounter(NS.rA, 'directudp') + routerCounter(NS.rB, 'directudp') - udpBefore).toBeGreaterThanOrEqual(1)
    console.info('dcutr quic netns:', JSON.stringify({ direct: r.direct, events }))
  }, 60_000)

  test('control: C behind a fully-random NAT; DCUtR over QUIC fails after 3 attempts (punch-timeout) and the relayed connection stays usable', async () => {
    const r = await a.ask(`dial ${cPeer}`)
    expect(r.ok).toBe(false)
    let events: Array<Record<string, unknown>> = []
    for (let i = 0; !events.some((e) => e.type === 'failed' || e.type === 'direct'); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250))
      if (i > 160) throw new Error(`no verdict from C: ${JSON.stringify(events)}`)
      events = (await c.ask('events')).events as Array<Record<string, unknown>>
    }
    expect(events.filter((e) => e.type === 'punch').map((e) => e.attempt)).toEqual([1, 2, 3])
    expect(events.find((e) => e.type === 'failed')).toMatchObject({ role: 'B', attempts: 3 })
    expect(String(events.find((e) => e.type === 'failed')!.error)).toMatch(/QUIC connection/)
    expect(events.some((e) => e.type === 'direct')).toBe(false)
    const conns = (await a.ask(`conns ${cPeer}`)).connections as Array<{ limited: boolean }>
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((x) => x.limited)).toBe(true)
    expect(await a.ask(`ping ${cPeer}`)).toMatchObject({ ok: true })
  }, 90_000)

  test('control: D behind the same kind of NAT as B but sending no punch packets; A\'s QUIC dial never gets through: 3 punch-timeout attempts', async () => {
    const r = await a.ask(`dial ${dPeer}`)
    expect(r.ok).toBe(false)
    let events: Array<Record<string, unknown>> = []
    for (let i = 0; !events.some((e) => e.type === 'failed' || e.type === 'direct'); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250))
      if (i > 160) throw new Error(`no verdict from D: ${JSON.stringify(events)}`)
      events = (await d.ask('events')).events as Array<Record<string, unknown>>
    }
    expect(events.filter((e) => e.type === 'punch').map((e) => e.attempt)).toEqual([1, 2, 3])
    expect(events.find((e) => e.type === 'failed')).toMatchObject({ role: 'B', attempts: 3 })
    expect(events.some((e) => e.type === 'direct')).toBe(false)
    expect((await a.ask(`conns ${dPeer}`)).connections as Array<{ limited: boolean }>).toSatisfy((cs: Array<{ limited: boolean }>) => cs.length > 0 && cs.every((x) => x.limited))
  }, 90_000)
})
