/**
 * Issue 13, DCUtR step 0: can Node 20 hole-punch TCP from a *punch port* (a fixed local port with no
 * listener that also carries the relay connection)? Proven here with plain node:net in network
 * namespaces behind real nftables NATs, before any DCUtR code builds on it. spec/hole-punching.md
 * explains the technique and the consequences.
 *
 * Topology (created and removed here; unique names per run):
 *
 *   <P>-wan: bridge br0 (no address), the "WAN" 11.0.0.0/24 (exists only inside these namespaces)
 *   <P>-relay: 11.0.0.10, the relay (listens on :4000 and :4001, tells each socket its observed address)
 *   <P>-rA: wan0 11.0.0.1, lan0 10.0.1.1, masquerade (port-preserving)   <P>-a: 10.0.1.2
 *   <P>-rB: wan0 11.0.0.2, lan0 10.0.2.1, masquerade (port-preserving)   <P>-b: 10.0.2.2
 *   <P>-rC: wan0 11.0.0.3, lan0 10.0.3.1, masquerade fully-random        <P>-c: 10.0.3.2
 *
 * Each router: input from wan0 only when conntrack says established/related (else counted and
 * dropped), forward lan0 -> wan0 and established/related only, and a counter of SYNs forwarded from
 * wan0 to the LAN (a direct SYN from the other peer's router reached the peer).
 *
 * Skips (with the reason printed) only when not root, or `ip netns` or `nft` do not work.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Proc, addNamespaces, buildDriver, deleteNamespaces, ip, natRouter, netnsUnavailable, removeDriver, routerCounter } from './helpers/netns.js'

const P = `hp${process.pid % 100_000}`
const NAMES = ['wan', 'relay', 'rA', 'rB', 'rC', 'a', 'b', 'c'] as const
const NS = Object.fromEntries(NAMES.map((n) => [n, `${P}-${n}`])) as Record<(typeof NAMES)[number], string>

const why = netnsUnavailable(P, { nft: true })
if (why !== undefined) console.warn(`skipped: netns punch-port test: ${why}`)

/** RSTs leaving the LAN, invalid LAN packets, and SYNs arriving from the WAN (direct SYNs). */
const PUNCH_COUNTERS = [
  'iifname "lan0" tcp flags rst counter comment "lanrst"',
  'ct state invalid iifname "lan0" counter comment "invalidlan"',
  'iifname "wan0" tcp flags & (syn | ack) == syn counter comment "directsyn"',
]


const split = (hostPort: unknown): [string, string] => {
  const s = String(hostPort)
  const i = s.lastIndexOf(':')
  return [s.slice(0, i), s.slice(i + 1)]
}

/** Poll a router counter condition (the positive signal a negative check waits for). */
async function until(cond: () => boolean): Promise<void> {
  for (let t = 0; !cond(); t++) {
    if (t > 100) throw new Error('condition not reached in 5 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const procs: Proc[] = []

describe.skipIf(why !== undefined)('TCP punch port on Node 20 in a namespace NAT', () => {
  let script = ''
  let relay: Proc
  let a: Proc
  let b: Proc
  let c: Proc

  beforeAll(async () => {
    addNamespaces(Object.values(NS))
    ip('-n', NS.wan, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', NS.wan, 'link', 'set', 'br0', 'up')
    for (const [port, ns, dev] of [['p-relay', NS.relay, 'r0'], ['p-rA', NS.rA, 'wan0'], ['p-rB', NS.rB, 'wan0'], ['p-rC', NS.rC, 'wan0']] as const) {
      ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', NS.wan)
      ip('-n', NS.wan, 'link', 'set', port, 'master', 'br0', 'up')
    }
    ip('-n', NS.relay, 'addr', 'add', '11.0.0.10/24', 'dev', 'r0')
    ip('-n', NS.relay, 'link', 'set', 'r0', 'up')
    const lans = [[NS.rA, NS.a, 1, ''], [NS.rB, NS.b, 2, ''], [NS.rC, NS.c, 3, 'fully-random']] as const
    for (const [r, host, i, flags] of lans) {
      ip('link', 'add', 'lan0', 'netns', r, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host)
      natRouter(r, { wan: `11.0.0.${i}`, lan: `10.0.${i}.1`, lanNet: `10.0.${i}.0/24`, natFlags: flags, counters: PUNCH_COUNTERS })
      ip('-n', host, 'addr', 'add', `10.0.${i}.2/24`, 'dev', 'eth0')
      ip('-n', host, 'link', 'set', 'eth0', 'up')
      ip('-n', host, 'route', 'add', 'default', 'via', `10.0.${i}.1`)
    }
    script = await buildDriver('netns-punch-driver')
    relay = new Proc(NS.relay, script, ['relay', '11.0.0.10'])
    a = new Proc(NS.a, script, ['peer', '11.0.0.10', '10.0.1.2'])
    b = new Proc(NS.b, script, ['peer', '11.0.0.10', '10.0.2.2'])
    c = new Proc(NS.c, script, ['peer', '11.0.0.10', '10.0.3.2'])
    procs.push(relay, a, b, c)
    for (const p of procs) expect(await p.next()).toEqual({ event: 'started' })
  }, 30_000)

  afterAll(() => {
    for (const p of procs.splice(0)) p.kill()
    removeDriver(script)
    deleteNamespaces(Object.values(NS))
  })

  test('(a) the relay observes routerIP:P; (b) a second socket binds the same P while the relay socket is open; a listening port cannot dial', async () => {
    // (a) port-preserving masquerade: the relay sees A's router and A's own local port.
    expect(await a.ask('open a0 20000')).toEqual({ ok: true, local: '10.0.1.2:20000', observed: '11.0.0.1:20000' })
    // (b) libuv sets SO_REUSEADDR before bind; no listener on P, so Linux lets a second socket bind P
    // and connect to a different destination. The NAT keeps P for it too (the 5-tuple is new).
    expect(await a.ask('second a0')).toEqual({ ok: true, local: '10.0.1.2:20000', observed: '11.0.0.1:20000', relayOpen: true })
    // The same 4-tuple twice: the bind succeeds, connect() fails.
    expect(await a.ask('dup 20000')).toEqual({ ok: false, code: 'EADDRNOTAVAIL' })
    // Fact 3's premise: Node 20 cannot dial from a port it listens on (no SO_REUSEPORT for either side).
    expect(await a.ask('listen-dial 20100')).toEqual({ ok: false, code: 'EADDRINUSE' })
    // Control: a fully-random NAT does not keep P, so what the relay observes is useless for punching.
    const cObs = await c.ask('open c0 20000')
    expect(cObs).toMatchObject({ ok: true, local: '10.0.3.2:20000' })
    expect(split(cObs.observed)[0]).toBe('11.0.0.3')
    expect(split(cObs.observed)[1]).not.toBe('20000')
  })

  test('(c) TCP simultaneous open from the punch ports through both NATs, 10 attempts with DCUtR-like offsets', async () => {
    // [delay of A, delay of B] after the relay's `go` (ms): both at once, then one side late, up to
    // beyond the first SYN retransmission (1 s): the early SYN dies in the other router's input chain.
    const offsets: Array<[number, number]> = [[0, 0], [0, 0], [0, 5], [5, 0], [0, 50], [50, 0], [0, 200], [200, 0], [0, 1200], [1200, 0]]
    const synBefore = routerCounter(NS.rA, 'directsyn') + routerCounter(NS.rB, 'directsyn')
    const results: Array<{ ok: boolean; ms?: number; code?: unknown }> = []
    for (const [i, [dA, dB]] of offsets.entries()) {
      const port = 21000 + i
      const oa = await a.ask(`open a${i} ${port}`)
      const ob = await b.ask(`open b${i} ${port}`)
      // The relay connection carries the punch port's mapping: routerIP:P on both sides.
      expect(oa.observed).toBe(`11.0.0.1:${port}`)
      expect(ob.observed).toBe(`11.0.0.2:${port}`)
      expect(await a.ask(`arm a${i} ${split(ob.observed).join(' ')}`)).toEqual({ armed: `a${i}` })
      expect(await b.ask(`arm b${i} ${split(oa.observed).join(' ')}`)).toEqual({ armed: `b${i}` })
      expect(await relay.ask(`go a${i} ${dA} b${i} ${dB}`)).toEqual({ sent: 2 })
      const [ra, rb] = await Promise.all([a.next(), b.next()])
      if (ra.ok === true && rb.ok === true) {
        // Established, and bytes went both ways: each side read the other's line.
        expect(ra).toMatchObject({ name: `a${i}`, local: `10.0.1.2:${port}`, remote: `11.0.0.2:${port}`, got: `hi b${i}` })
        expect(rb).toMatchObject({ name: `b${i}`, local: `10.0.2.2:${port}`, remote: `11.0.0.1:${port}`, got: `hi a${i}` })
      }
      results.push({ ok: ra.ok === true && rb.ok === true, ms: Math.max(Number(ra.ms), Number(rb.ms)), code: ra.code ?? rb.code })
    }
    const succeeded = results.filter((r) => r.ok).length
    console.info(`punch-port simultaneous open: ${succeeded}/${results.length}`, JSON.stringify(results))
    expect(succeeded).toBe(offsets.length)
    // Each success crossed the NATs directly: at least one SYN per attempt was forwarded from a router's
    // WAN side into its LAN (the other peer's punch SYN, matched to the local side's own conntrack entry).
    expect(routerCounter(NS.rA, 'directsyn') + routerCounter(NS.rB, 'directsyn') - synBefore).toBeGreaterThanOrEqual(offsets.length)
  }, 20_000)

  // After an attempt in which only A's SYN left (B never punched), A's router keeps a SYN_SENT conntrack
  // entry for the 4-tuple, so B's SYN is now let in. If A's punch socket is still pending, that SYN
  // completes a simultaneous open; if A closed it, A's host has no socket and answers RST.
  test('retry: A punched alone; kept pending, B\'s later SYN connects; closed, A\'s host resets B\'s SYN', async () => {
    const lone = async (i: number): Promise<[string, string]> => {
      const port = 23000 + i
      const oa = await a.ask(`open ar${i} ${port}`)
      const ob = await b.ask(`open br${i} ${port}`)
      const dropB = routerCounter(NS.rB, 'unsolicited')
      expect(await a.ask(`arm ar${i} ${split(ob.observed).join(' ')}`)).toEqual({ armed: `ar${i}` })
      expect(await relay.ask(`go ar${i} 0`)).toEqual({ sent: 1 })
      await until(() => routerCounter(NS.rB, 'unsolicited') > dropB) // rB dropped A's lone SYN
      return [split(oa.observed).join(' '), split(ob.observed).join(' ')]
    }
    // 1. A's socket stays pending (SYN_SENT, retransmitting); B punches later: simultaneous open.
    const [a0] = await lone(0)
    expect(await b.ask(`arm br0 ${a0}`)).toEqual({ armed: 'br0' })
    expect(await relay.ask('go br0 0')).toEqual({ sent: 1 })
    expect(await b.next()).toMatchObject({ name: 'br0', ok: true, remote: '11.0.0.1:23000', got: 'hi ar0' })
    expect(await a.next()).toMatchObject({ name: 'ar0', ok: true, remote: '11.0.0.2:23000', got: 'hi br0' })

    // 2. A closes its punch socket and punches again from the same port before B: connects.
    const [a1, b1] = await lone(1)
    expect(await a.ask('abort ar1')).toEqual({ name: 'ar1', connected: false })
    expect(await a.ask(`arm ar1 ${b1}`)).toEqual({ armed: 'ar1' })
    expect(await b.ask(`arm br1 ${a1}`)).toEqual({ armed: 'br1' })
    expect(await relay.ask('go ar1 0 br1 200')).toEqual({ sent: 2 })
    expect(await a.next()).toMatchObject({ name: 'ar1', ok: true, remote: '11.0.0.2:23001', got: 'hi br1' })
    expect(await b.next()).toMatchObject({ name: 'br1', ok: true, remote: '11.0.0.1:23001', got: 'hi ar1' })

    // 3. A closes its punch socket; B's SYN arrives: rA forwards it by the stale entry and A's host
    // answers RST. What the RST does next varies between runs: rA NATs it (B fails ECONNREFUSED) or
    // marks it INVALID (it leaves un-NATed with A's LAN address; B keeps retransmitting). Both recorded.
    const [a2] = await lone(2)
    expect(await a.ask('abort ar2')).toEqual({ name: 'ar2', connected: false })
    expect(await b.ask(`arm br2 ${a2}`)).toEqual({ armed: 'br2' })
    const [rst, invalid] = [routerCounter(NS.rA, 'lanrst'), routerCounter(NS.rA, 'invalidlan')]
    let result: Record<string, unknown> | undefined
    const pending = b.next()
    void pending.then((r) => { result = r })
    expect(await relay.ask('go br2 0')).toEqual({ sent: 1 })
    await until(() => routerCounter(NS.rA, 'lanrst') > rst)
    await until(() => result !== undefined || routerCounter(NS.rA, 'invalidlan') > invalid)
    if (result === undefined) b.send('abort br2')
    const outcome = await pending
    console.info('punch-port, B punches after A closed its socket:', JSON.stringify(outcome))
    expect([
      { name: 'br2', ok: false, code: 'ECONNREFUSED' }, // the RST was NATed back to B
      { name: 'br2', connected: false }, // the RST was INVALID at rA and never reached B
    ]).toContainEqual(outcome)
  })

  test('control: behind a fully-random NAT the punch SYNs are dropped by both routers and nothing connects', async () => {
    const oa = await a.ask('open an 22000')
    const oc = await c.ask('open cn 22000')
    expect(oa.observed).toBe('11.0.0.1:22000')
    expect(split(oc.observed)[1]).not.toBe('22000')
    const dropA = routerCounter(NS.rA, 'unsolicited')
    const dropC = routerCounter(NS.rC, 'unsolicited')
    expect(await a.ask(`arm an ${split(oc.observed).join(' ')}`)).toEqual({ armed: 'an' })
    expect(await c.ask(`arm cn ${split(oa.observed).join(' ')}`)).toEqual({ armed: 'cn' })
    expect(await relay.ask('go an 0 cn 0')).toEqual({ sent: 2 })
    // The positive signal: each router has dropped the other side's punch SYN (C's leaves from a new
    // random port that A's conntrack entry does not expect; A's targets the relay mapping of C).
    await until(() => routerCounter(NS.rA, 'unsolicited') > dropA && routerCounter(NS.rC, 'unsolicited') > dropC)
    expect(await a.ask('abort an')).toEqual({ name: 'an', connected: false })
    expect(await c.ask('abort cn')).toEqual({ name: 'cn', connected: false })
  })
})
