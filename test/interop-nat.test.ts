/**
 * The NAT suite's pure parts (interop/lib/nat-matrix.mjs, nat-topology.mjs): the case matrix, how a
 * case is judged, the record shape of interop/results/nat.json, and the routers' nftables rulesets.
 * The suite itself runs from `npm run interop:nat` (and `npm test` through interop/run.mjs --suite).
 */
import { describe, expect, test } from 'vitest'

type NatCase = { id: string; suite: string; relay: string | null; dialer: string; listener: string; transport: string; scenario: string; control: boolean; timeout: number }
interface MatrixLib {
  allCases(): NatCase[]
  selectCases(cases: NatCase[], filters: string[]): NatCase[]
  implsOf(c: NatCase): string[]
  parseResult(stdout: string): { result: any; rttLine: number | null; error: string | null }
  judge(c: NatCase, result: unknown, facts?: { directSyn?: number; directUdp?: { rA: number; rB: number }; victimSyns?: number; listenerRouter?: string }): string | null
  record(c: NatCase, r: { ok: boolean; rttMillis: number | null; error: string | null; seconds: number; extra?: Record<string, unknown> }): Record<string, unknown>
  LIMIT_WRITE_BYTES: number
  markdown(results: Record<string, unknown>[]): string
}
interface TopologyLib {
  routerRuleset(r: { net: string; peerRouter?: string; unsolicited: 'drop' | 'reset' }): string
  natRuleset(net: string, flags: '' | 'random' | 'fully-random'): string
  victimRuleset(): string
  parseCounter(text: string, comment: string): number
  ROUTERS: Record<string, { wan: string; peerRouter: string | undefined }>
  HOSTS: Record<string, { ns: string; ip: string }>
}
// Plain ESM without declarations: loaded untyped, given the shape above.
const m = (await import('../interop/lib/nat-matrix.mjs' as string)) as MatrixLib
const topo = (await import('../interop/lib/nat-topology.mjs' as string)) as TopologyLib

const find = (id: string): NatCase => {
  const c = m.allCases().find((x) => x.id === id)
  if (c === undefined) throw new Error(`no case ${id}`)
  return c
}

describe('NAT matrix', () => {
  test('ids are unique; every case has weft in it or is marked a control', () => {
    const cases = m.allCases()
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length)
    for (const c of cases) expect(c.control).toBe(![c.relay, c.dialer, c.listener].includes('weft'))
    // the controls: go<->rust hole punching; go-only and rust-only relay cases
    expect(cases.filter((c) => c.control).map((c) => c.id)).toEqual(expect.arrayContaining(['dcutr/rust/go-rust', 'relay/go/go-go/relay', 'relay/rust/rust-rust/limit', 'autonat/rust/go/private']))
    expect(find('autonat/weft/go/public').control).toBe(false) // weft's server, go's client
  })

  test('covers relay x pairs with weft, the five weft hole-punch pairs and AutoNAT public/private/amplification per server', () => {
    const ids = m.allCases().map((c) => c.id)
    for (const relay of ['weft', 'go', 'rust']) {
      for (const pair of ['weft-weft', 'weft-go', 'go-weft', 'weft-rust', 'rust-weft']) {
        for (const sc of ['relay', 'limit']) expect(ids).toContain(`relay/${relay}/${pair}/${sc}`)
      }
      expect(ids).toContain(`relay/${relay}/weft-none/no-reservation`)
    }
    expect(ids).toContain('relay/weft/go-go/relay') // weft's relay between two foreign peers
    for (const pair of ['weft-go', 'go-weft', 'weft-rust', 'rust-weft', 'weft-weft']) expect(ids).toContain(`dcutr/rust/${pair}`)
    expect(ids).toContain('dcutr/weft/weft-weft')
    for (const s of ['go', 'rust', 'weft']) {
      for (const sc of ['public', 'private']) for (const client of ['weft', 'go', 'rust']) expect(ids).toContain(`autonat/${s}/${client}/${sc}`)
      expect(ids).toContain(`autonat/${s}/weft/amplification`)
    }
    expect(m.selectCases(m.allCases(), ['dcutr/']).every((c) => c.suite === 'dcutr')).toBe(true)
    expect(m.implsOf(find('relay/go/weft-none/no-reservation'))).toEqual(['go', 'weft'])
  })

  test('QUIC v1: relay and hole punching for every (dialer, listener) pair of go, rust and weft, ids under quic/, TCP ids unchanged', () => {
    const quic = m.allCases().filter((c) => c.transport === 'quic-v1')
    expect(quic.every((c) => c.id.startsWith('quic/'))).toBe(true)
    expect(m.allCases().filter((c) => c.transport === 'tcp').every((c) => !c.id.startsWith('quic/'))).toBe(true)
    for (const d of ['go', 'rust', 'weft']) {
      for (const l of ['go', 'rust', 'weft']) {
        if (d === 'go' && l === 'go') continue // listed below with its siblings
        expect(find(`quic/relay/rust/${d}-${l}/relay`)).toMatchObject({ suite: 'relay', transport: 'quic-v1', scenario: 'relay' })
        expect(find(`quic/dcutr/rust/${d}-${l}`)).toMatchObject({ suite: 'dcutr', transport: 'quic-v1', scenario: 'hole-punch' })
      }
    }
    expect(find('quic/dcutr/rust/go-go').control).toBe(true)
    expect(find('quic/dcutr/rust/go-rust').control).toBe(true)
    expect(find('quic/dcutr/weft/weft-weft').control).toBe(false)
    expect(find('dcutr/rust/go-rust').transport).toBe('tcp')
    expect(m.selectCases(m.allCases(), ['quic/']).length).toBe(quic.length)
  })

  test('judge, QUIC hole punch: a direct /udp/…/quic-v1 connection to the listener\'s router and direct UDP through both NATs', () => {
    const hp = find('quic/dcutr/rust/go-rust')
    const good = { ok: true, rttMillis: 0.3, direct: '/ip4/11.0.0.2/udp/4001/quic-v1' }
    const facts = { directSyn: 0, directUdp: { rA: 12, rB: 9 }, listenerRouter: '11.0.0.2' }
    expect(m.judge(hp, good, facts)).toBeNull()
    expect(m.judge(hp, { ...good, direct: '/ip4/11.0.0.2/tcp/4001' }, facts)).toMatch(/not QUIC v1/)
    expect(m.judge(hp, good, { ...facts, directUdp: { rA: 3, rB: 0 } })).toMatch(/did not cross both NATs/)
    expect(m.judge(hp, good, { ...facts, directUdp: { rA: 0, rB: 3 } })).toMatch(/did not cross both NATs/)
    // the QUIC symmetric-NAT control: DCUtR failed, the relay still pings, and no direct UDP got through
    const sym = find('quic/dcutr/rust/go-weft/symmetric-nat')
    expect(sym.control).toBe(false)
    const failed = { ok: false, error: 'DCUtR failed after 3 attempt(s): no direct connection', relayedPingMillis: 2 }
    expect(m.judge(sym, failed, { directSyn: 0, directUdp: { rA: 0, rB: 0 } })).toBeNull()
    expect(m.judge(sym, failed, { directSyn: 0, directUdp: { rA: 0, rB: 2 } })).toMatch(/2 direct UDP datagram/)
    // weft as A too (each of A's attempts reports its own failure): judged the same way
    const symWeft = find('quic/dcutr/rust/weft-weft/symmetric-nat')
    expect(symWeft).toMatchObject({ control: false, transport: 'quic-v1', dialer: 'weft', listener: 'weft' })
    expect(m.judge(symWeft, failed, { directSyn: 0, directUdp: { rA: 0, rB: 0 } })).toBeNull()
    expect(m.judge(symWeft, failed, { directSyn: 0, directUdp: { rA: 1, rB: 0 } })).toMatch(/1 direct UDP datagram/)
    expect(m.judge(find('dcutr/rust/weft-weft/symmetric-nat'), failed, { directSyn: 0, directUdp: { rA: 0, rB: 2 } })).toBeNull() // TCP: UDP is not its business
    // and a TCP case whose direct connection is QUIC is no TCP hole punch
    expect(m.judge(find('dcutr/rust/go-rust'), good, { directSyn: 1, listenerRouter: '11.0.0.2' })).toMatch(/not TCP/)
  })

  test('judge: each scenario passes on its success line and fails on the near miss', () => {
    expect(m.judge(find('relay/go/weft-go/relay'), { ok: true, rttMillis: 1.2, limited: true })).toBeNull()
    expect(m.judge(find('relay/go/weft-go/relay'), { ok: true, rttMillis: 1.2, limited: false })).toMatch(/not limited/)
    expect(m.judge(find('relay/go/weft-go/relay'), { ok: false, error: 'boom' })).toMatch(/boom/)
    const limit = find('relay/rust/weft-rust/limit')
    expect(m.judge(limit, { ok: true, echoed: 4096 })).toBeNull()
    expect(m.judge(limit, { ok: true, echoed: m.LIMIT_WRITE_BYTES })).toMatch(/did not end/)
    const nr = find('relay/weft/go-none/no-reservation')
    expect(m.judge(nr, { ok: true, status: 'NO_RESERVATION' })).toBeNull()
    expect(m.judge(nr, { ok: true, status: 'PERMISSION_DENIED' })).toMatch(/want NO_RESERVATION/)
    const hp = find('dcutr/rust/weft-go')
    const good = { ok: true, rttMillis: 0.3, direct: '/ip4/11.0.0.2/tcp/4001' }
    expect(m.judge(hp, good, { directSyn: 1, listenerRouter: '11.0.0.2' })).toBeNull()
    expect(m.judge(hp, good, { directSyn: 0, listenerRouter: '11.0.0.2' })).toMatch(/no direct SYN/)
    expect(m.judge(hp, { ...good, direct: '/ip4/11.0.0.10/tcp/1/p2p/X/p2p-circuit' }, { directSyn: 1 })).toMatch(/not direct/)
    expect(m.judge(hp, { ...good, direct: '/ip4/11.0.0.10/tcp/1' }, { directSyn: 1, listenerRouter: '11.0.0.2' })).toMatch(/not to the listener's router/)
    const sym = find('dcutr/rust/weft-weft/symmetric-nat')
    const failed = { ok: false, error: 'DCUtR failed after 3 attempt(s): dial/timeout', relayedPingMillis: 2 }
    expect(m.judge(sym, failed, { directSyn: 0 })).toBeNull()
    expect(m.judge(sym, { ...good, ok: true }, { directSyn: 1 })).toMatch(/direct connection through two symmetric NATs/)
    expect(m.judge(sym, { ...failed, relayedPingMillis: null }, { directSyn: 0 })).toMatch(/did not carry a ping/)
    expect(m.judge(sym, { ok: false, error: 'timeout' }, { directSyn: 0 })).toMatch(/did not see DCUtR fail/)
    expect(m.judge(sym, failed, { directSyn: 2 })).toMatch(/2 direct SYN/)
    expect(m.judge(find('autonat/go/weft/public'), { ok: true, reachability: 'public' })).toBeNull()
    expect(m.judge(find('autonat/go/weft/private'), { ok: true, reachability: 'public' })).toMatch(/want private/)
    const amp = find('autonat/weft/weft/amplification')
    expect(m.judge(amp, { ok: true }, { victimSyns: 0 })).toBeNull()
    expect(m.judge(amp, { ok: true }, { victimSyns: 1 })).toMatch(/victim received 1/)
    expect(m.judge(amp, { ok: true }, {})).toMatch(/not read/)
  })

  test('parseResult: the last line is the result; the test-plans rtt line before it is kept', () => {
    const r = m.parseResult('{"rtt_to_holepunched_peer_millis": 3}\n{"ok":true,"scenario":"hole-punch","rttMillis":2.5}\n')
    expect(r).toEqual({ result: { ok: true, scenario: 'hole-punch', rttMillis: 2.5 }, rttLine: 3, error: null })
    expect(m.parseResult('').error).toMatch(/no result line/)
    expect(m.parseResult('{"ok":true}\nnot json').error).toMatch(/not JSON/)
  })

  test("record: the issue's fields first, then id, control, seconds and the extras", () => {
    const rec = m.record(find('dcutr/rust/weft-go'), { ok: true, rttMillis: 0.25, error: null, seconds: 1.234, extra: { directSyn: { rA: 0, rB: 1 } } })
    expect(Object.keys(rec).slice(0, 9)).toEqual(['suite', 'relay', 'dialer', 'listener', 'transport', 'scenario', 'ok', 'rttMillis', 'error'])
    expect(rec).toMatchObject({ suite: 'dcutr', relay: 'rust', dialer: 'weft', listener: 'go', transport: 'tcp', scenario: 'hole-punch', ok: true, rttMillis: 0.25, error: null, control: false, seconds: 1.23, directSyn: { rA: 0, rB: 1 } })
    expect(m.record(find('autonat/rust/weft/private'), { ok: false, rttMillis: null, error: 'x', seconds: 2 })).toMatchObject({ suite: 'autonat', relay: null, dialer: 'weft', listener: 'rust' })
  })

  test('markdown: one table per suite, failures loud, controls marked', () => {
    const recs = [
      m.record(find('relay/go/weft-go/relay'), { ok: true, rttMillis: 1.25, error: null, seconds: 1 }),
      m.record(find('relay/go/weft-go/limit'), { ok: false, rttMillis: null, error: 'x', seconds: 1 }),
      m.record(find('dcutr/rust/go-rust'), { ok: false, rttMillis: null, error: 'y', seconds: 1 }),
      m.record(find('autonat/rust/weft/public'), { ok: true, rttMillis: null, error: null, seconds: 1, extra: { reachability: 'public' } }),
    ]
    const md = m.markdown(recs)
    expect(md).toContain('| go | weft → go | pass 1.3 ms | **FAIL** |')
    expect(md).toContain('| rust | go → rust (control) | fail (control) |')
    expect(md).toContain('| rust | weft | pass public |  |  |')
    const quic = m.markdown([
      m.record(find('quic/relay/rust/weft-go/relay'), { ok: true, rttMillis: 0.5, error: null, seconds: 1 }),
      m.record(find('quic/dcutr/rust/go-rust'), { ok: true, rttMillis: 0.25, error: null, seconds: 1, extra: { direct: '/ip4/11.0.0.2/udp/9/quic-v1', directUdp: { rA: 3, rB: 4 } } }),
    ])
    expect(quic).toContain('| rust | weft → go | pass 0.5 ms |\n')
    expect(quic).toContain('QUIC v1 hole punch')
    expect(quic).toContain('| rust | go → rust (control) | pass 0.3 ms | /ip4/11.0.0.2/udp/9/quic-v1 | 3 / 4 |')
  })
})

describe('NAT topology rulesets', () => {
  test('rA: port-preserving masquerade, unsolicited WAN input dropped, the direct-SYN counter names rB', () => {
    const text = topo.routerRuleset({ net: '10.0.1.0/24', peerRouter: '11.0.0.2', unsolicited: 'drop' })
    expect(text).toContain('oifname "wan0" ip saddr 10.0.1.0/24 masquerade\n')
    expect(text).not.toMatch(/random/)
    expect(text).toContain('iifname "wan0" ct state established,related accept\n    iifname "wan0" counter drop comment "unsolicited"')
    // before the established/related accept, or the counter would never see the SYN
    expect(text.indexOf('ip saddr 11.0.0.2 tcp flags & (syn | ack) == syn counter comment "directsyn"')).toBeLessThan(text.indexOf('ct state established,related accept\n    iifname "lan0"'))
    // QUIC: UDP from rB forwarded into the LAN, counted before the established/related accept too
    expect(text.indexOf('iifname "wan0" ip saddr 11.0.0.2 meta l4proto udp counter comment "directudp"')).toBeGreaterThan(-1)
    expect(text.indexOf('comment "directudp"')).toBeLessThan(text.indexOf('ct state established,related accept\n    iifname "lan0"'))
    expect(topo.ROUTERS.rA!.peerRouter).toBe(topo.ROUTERS.rB!.wan)
    expect(topo.ROUTERS.rB!.peerRouter).toBe(topo.ROUTERS.rA!.wan)
  })

  test('the NAT table is flushed and rewritten, port-preserving or fully random (the symmetric-NAT control)', () => {
    expect(topo.natRuleset('10.0.1.0/24', '')).toMatch(/^table ip nat\nflush table ip nat\n[^]*oifname "wan0" ip saddr 10.0.1.0\/24 masquerade\n/)
    expect(topo.natRuleset('10.0.1.0/24', 'fully-random')).toContain('masquerade fully-random\n')
  })

  test('rC answers unsolicited TCP with a reset and has no direct-SYN counter; the victim counts and drops SYNs', () => {
    const text = topo.routerRuleset({ net: '10.0.3.0/24', unsolicited: 'reset' })
    expect(text).toContain('reject with tcp reset comment "unsolicited"')
    expect(text).not.toContain('directsyn')
    expect(text).not.toContain('directudp')
    expect(topo.victimRuleset()).toContain('tcp flags & (syn | ack) == syn counter drop comment "syn"')
  })

  test('parseCounter reads a counter by comment and names the missing one', () => {
    const listing = 'table inet fw {\n\tchain input {\n\t\tiifname "wan0" ip saddr 11.0.0.2 tcp flags & (syn | ack) == syn counter packets 3 bytes 180 comment "directsyn"\n\t}\n}'
    expect(topo.parseCounter(listing, 'directsyn')).toBe(3)
    expect(() => topo.parseCounter(listing, 'syn')).toThrow(/no counter "syn"/)
  })

  test('the WAN is 11.0.0.0/24 (public-looking: go refuses private addresses) and the peers behind NAT are on RFC 1918 LANs', () => {
    for (const h of ['relay', 'sgo', 'srust', 'sweft', 'cpub', 'victim']) expect(topo.HOSTS[h]!.ip).toMatch(/^11\.0\.0\.\d+$/)
    for (const h of ['a', 'b', 'cnat']) expect(topo.HOSTS[h]!.ip).toMatch(/^10\.0\.\d\.2$/)
  })
})
