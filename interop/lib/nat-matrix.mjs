// The case matrix of `npm run interop:nat` (interop/NAT.md "Matrix") and how one case's outcome is
// judged from the dialer's (or AutoNAT client's) result line and the namespace counters. Pure: no IO,
// unit-tested in test/interop-nat.test.ts.

export const IMPLS = /** @type {const} */ (['weft', 'go', 'rust'])

/** Bytes the `limit` dialer writes (1 KiB pieces) and the relay's data limit in those cases. */
export const LIMIT_WRITE_BYTES = 16 * 1024
export const LIMIT_RELAY_DATA = 4096

/**
 * @typedef {'relay' | 'dcutr' | 'autonat'} Suite
 * @typedef {'tcp' | 'quic-v1'} Transport
 * @typedef {{ id: string, suite: Suite, relay: string | null, dialer: string, listener: string,
 *   transport: Transport, scenario: string, control: boolean, timeout: number }} NatCase
 *   For AutoNAT cases `dialer` is the client (always weft) and `listener` the server.
 *   `control`: no weft in it; a failing control is reported but does not fail the suite.
 *   `transport`: the peers' TRANSPORT (interop/NAT.md); QUIC cases' ids start with `quic/`.
 */

/** (dialer, listener) pairs with weft in them. */
const WEFT_PAIRS = [['weft', 'weft'], ['weft', 'go'], ['go', 'weft'], ['weft', 'rust'], ['rust', 'weft']]

/** Every (dialer, listener) pair over QUIC: go<->rust and the same-implementation controls first (they prove the harness without weft). */
const QUIC_PAIRS = [['go', 'rust'], ['rust', 'go'], ['go', 'go'], ['rust', 'rust'], ...WEFT_PAIRS]

/** @param {Omit<NatCase, 'id' | 'control' | 'transport'> & { transport?: Transport }} c @returns {NatCase} */
function mk(c) {
  const control = c.relay !== 'weft' && c.dialer !== 'weft' && c.listener !== 'weft'
  const id = c.suite === 'autonat'
    ? `autonat/${c.listener}/${c.dialer}/${c.scenario}`
    : `${c.transport === 'quic-v1' ? 'quic/' : ''}${c.suite}/${c.relay}/${c.dialer}-${c.listener}${c.suite === 'relay' || c.scenario !== 'hole-punch' ? `/${c.scenario}` : ''}`
  return { id, control, ...c, transport: c.transport ?? 'tcp' }
}

/** Every case, in run order (relay suite, then hole punching, then AutoNAT). @returns {NatCase[]} */
export function allCases() {
  /** @type {NatCase[]} */
  const cases = []
  // Circuit Relay v2: relay x (dialer, listener). Every pair with weft, for every relay; go<->go and
  // rust<->rust through each relay too (through a weft relay they are weft cases: weft's relay server
  // between two foreign peers; through go/rust relays they are the controls showing the peers work).
  for (const scenario of ['relay', 'limit']) {
    for (const relay of IMPLS) {
      for (const [dialer, listener] of [...WEFT_PAIRS, ['go', 'go'], ['rust', 'rust']]) {
        if (relay !== 'weft' && dialer !== 'weft' && listener !== 'weft' && dialer !== relay) continue
        cases.push(mk({ suite: 'relay', relay, dialer, listener, scenario, timeout: 30 }))
      }
    }
  }
  // no-reservation: no listener takes part (the target never reserved); the listener column names the
  // dialer's implementation again so the record still says who was on each side.
  for (const relay of IMPLS) {
    for (const dialer of IMPLS) {
      if (relay !== 'weft' && dialer !== 'weft' && dialer !== relay) continue
      cases.push(mk({ suite: 'relay', relay, dialer, listener: 'none', scenario: 'no-reservation', timeout: 30 }))
    }
  }
  // DCUtR (the test-plans hole-punch scenario): a rust relay as upstream uses, dialer behind rA, listener
  // behind rB; weft<->weft also through weft's own relay; go<->rust is the control.
  for (const [dialer, listener] of [...WEFT_PAIRS, ['go', 'rust']]) {
    cases.push(mk({ suite: 'dcutr', relay: 'rust', dialer, listener, scenario: 'hole-punch', timeout: 45 }))
  }
  cases.push(mk({ suite: 'dcutr', relay: 'weft', dialer: 'weft', listener: 'weft', scenario: 'hole-punch', timeout: 45 }))
  // Negative control (research note §2.7, 6): both routers map every connection to a random port
  // (masquerade fully-random, a symmetric NAT): the punch must fail after DCUtR's attempts, the relayed
  // connection must keep working, and no direct SYN may reach a peer. Shows the hole-punch verdicts
  // can fail.
  cases.push(mk({ suite: 'dcutr', relay: 'rust', dialer: 'weft', listener: 'weft', scenario: 'symmetric-nat', timeout: 75 }))
  // QUIC v1 (TRANSPORT=quic-v1, interop/NAT.md "QUIC cases"): every (dialer, listener) pair of go, rust
  // and weft through one relay, rust's (the upstream hole-punch relay; one relay keeps the suite short),
  // relayed (identify + ping over a circuit on QUIC connections) and hole-punched (a direct QUIC
  // connection); every pair relayed through weft's relay too, and weft<->weft hole-punched through it.
  const quic = /** @type {const} */ ('quic-v1')
  for (const [dialer, listener] of QUIC_PAIRS) cases.push(mk({ suite: 'relay', relay: 'rust', dialer, listener, scenario: 'relay', transport: quic, timeout: 30 }))
  // weft's relay serving every pair over QUIC too (go's and rust's reservations and circuits on weft's QUIC listener)
  for (const [dialer, listener] of QUIC_PAIRS) cases.push(mk({ suite: 'relay', relay: 'weft', dialer, listener, scenario: 'relay', transport: quic, timeout: 30 }))
  for (const [dialer, listener] of QUIC_PAIRS) cases.push(mk({ suite: 'dcutr', relay: 'rust', dialer, listener, scenario: 'hole-punch', transport: quic, timeout: 45 }))
  cases.push(mk({ suite: 'dcutr', relay: 'weft', dialer: 'weft', listener: 'weft', scenario: 'hole-punch', transport: quic, timeout: 45 }))
  // The QUIC negative controls: both NATs symmetric, so neither side's datagrams find a mapping; weft is
  // B (it punches and retries) against go's A (it dials and reports the 3 failed attempts), and weft is
  // both (weft's A reports each attempt's failure, its QUIC dial bounded by the attempt).
  cases.push(mk({ suite: 'dcutr', relay: 'rust', dialer: 'go', listener: 'weft', scenario: 'symmetric-nat', transport: quic, timeout: 75 }))
  cases.push(mk({ suite: 'dcutr', relay: 'rust', dialer: 'weft', listener: 'weft', scenario: 'symmetric-nat', transport: quic, timeout: 75 }))
  // AutoNAT: weft's client on the WAN (public) and behind rC (private) against each server, and go's and
  // rust's clients against each (theirs against weft's server are weft cases: weft's server must give
  // them the verdict go's and rust's servers give; against go and rust servers they are the controls that
  // tell a topology fault from a client bug); then the amplification check, weft's client asking each
  // server to dial the victim (its SYN counter stays 0).
  for (const scenario of ['public', 'private']) {
    for (const client of IMPLS) {
      // go's v1 server answers E_DIAL_ERROR only when its dial-back timed out (15 s: its SYN from the
      // reused listen port matches the client's own NAT mapping, so rC forwards it instead of resetting);
      // weft's client needs two results: ~31 s.
      for (const server of IMPLS) cases.push(mk({ suite: 'autonat', relay: null, dialer: client, listener: server, scenario, timeout: scenario === 'private' ? 60 : 45 }))
    }
  }
  for (const server of IMPLS) cases.push(mk({ suite: 'autonat', relay: null, dialer: 'weft', listener: server, scenario: 'amplification', timeout: 30 }))
  return cases
}

/**
 * The cases whose id contains one of `filters` (all when empty).
 * @param {NatCase[]} cases @param {string[]} filters
 */
export function selectCases(cases, filters) {
  if (filters.length === 0) return cases
  return cases.filter((c) => filters.some((f) => c.id.includes(f)))
}

/** The implementations a case starts (for builds). @param {NatCase} c */
export function implsOf(c) {
  return [c.relay, c.dialer, c.listener].filter((x) => x !== null && x !== 'none')
}

/**
 * The last non-empty stdout line parsed as JSON, and the test-plans rtt line before it when there is one.
 * @param {string} stdout
 * @returns {{ result: any, rttLine: number | null, error: string | null }}
 */
export function parseResult(stdout) {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  if (lines.length === 0) return { result: null, rttLine: null, error: 'no result line on stdout' }
  /** @type {any} */ let result
  try {
    result = JSON.parse(/** @type {string} */ (lines[lines.length - 1]))
  } catch {
    return { result: null, rttLine: null, error: `the last stdout line is not JSON: ${lines[lines.length - 1]?.slice(0, 200)}` }
  }
  if (result === null || typeof result !== 'object') return { result: null, rttLine: null, error: 'the result line is not a JSON object' }
  /** @type {number | null} */ let rttLine = null
  for (const l of lines.slice(0, -1)) {
    try {
      const j = JSON.parse(l)
      if (typeof j?.rtt_to_holepunched_peer_millis === 'number') rttLine = j.rtt_to_holepunched_peer_millis
    } catch { /* a log line */ }
  }
  return { result, rttLine, error: null }
}

/**
 * Judge a case: the error (null = pass). `result` is the parsed result line (or null), `facts` what the
 * orchestrator measured itself: `directSyn` (rA + rB counter increase during a hole-punch case),
 * `directUdp` (rA's and rB's direct-UDP counter increase during a QUIC hole-punch case), `victimSyns`
 * (the victim's counter increase during an amplification case), `listenerRouter` (the listener's router
 * WAN address, for the direct address check).
 * @param {NatCase} c @param {any} result
 * @param {{ directSyn?: number, directUdp?: { rA: number, rB: number }, victimSyns?: number, listenerRouter?: string }} facts
 * @returns {string | null}
 */
export function judge(c, result, facts = {}) {
  if (result === null || typeof result !== 'object') return 'no result'
  if (c.scenario === 'symmetric-nat') {
    if (result.ok === true) return `a direct connection through two symmetric NATs: ${JSON.stringify(result.direct)}`
    if (!/DCUtR failed/.test(String(result.error))) return `the dialer did not see DCUtR fail: ${String(result.error).slice(0, 300)}`
    if (typeof result.relayedPingMillis !== 'number') return 'the relayed connection did not carry a ping after DCUtR failed'
    if (facts.directSyn !== undefined && facts.directSyn !== 0) return `${facts.directSyn} direct SYN(s) crossed the routers`
    const u = facts.directUdp
    if (c.transport === 'quic-v1' && u !== undefined && u.rA + u.rB !== 0) return `${u.rA + u.rB} direct UDP datagram(s) crossed the routers`
    return null
  }
  if (result.ok !== true) return `peer reported failure: ${String(result.error ?? JSON.stringify(result)).slice(0, 800)}`
  switch (c.scenario) {
    case 'relay':
      if (typeof result.rttMillis !== 'number') return `no rttMillis in ${JSON.stringify(result)}`
      if (result.limited === false) return 'the ping ran over a connection the dialer says is not limited (not relayed)'
      return null
    case 'limit':
      if (typeof result.echoed !== 'number') return `no echoed count in ${JSON.stringify(result)}`
      if (result.echoed >= LIMIT_WRITE_BYTES) return `all ${result.echoed} bytes came back: the relay's ${LIMIT_RELAY_DATA}-byte limit did not end the circuit`
      return null
    case 'no-reservation':
      if (result.status !== 'NO_RESERVATION') return `status ${JSON.stringify(result.status)}, want NO_RESERVATION`
      return null
    case 'hole-punch': {
      if (typeof result.rttMillis !== 'number') return `no rttMillis in ${JSON.stringify(result)}`
      const direct = String(result.direct ?? '')
      if (direct === '' || direct.includes('/p2p-circuit')) return `the ping's connection is not direct: ${JSON.stringify(result.direct)}`
      if (facts.listenerRouter !== undefined && !direct.includes(`/ip4/${facts.listenerRouter}/`)) return `the direct connection goes to ${direct}, not to the listener's router ${facts.listenerRouter}`
      if (c.transport === 'quic-v1') {
        if (!/\/udp\/\d+\/quic-v1(\/|$)/.test(direct)) return `the direct connection is not QUIC v1: ${direct}`
        const u = facts.directUdp
        if (u !== undefined && (u.rA < 1 || u.rB < 1)) return `the direct QUIC connection did not cross both NATs (directudp rA ${u.rA}, rB ${u.rB}: each must move)`
        return null
      }
      if (!/\/tcp\/\d+(\/|$)/.test(direct)) return `the direct connection is not TCP: ${direct}`
      if (facts.directSyn !== undefined && facts.directSyn < 1) return 'no direct SYN crossed the routers (rA/rB directsyn counters did not move)'
      return null
    }
    case 'public':
    case 'private':
      if (result.reachability !== c.scenario) return `verdict ${JSON.stringify(result.reachability)}, want ${c.scenario}`
      return null
    case 'amplification':
      if (facts.victimSyns === undefined) return 'the victim counter was not read'
      if (facts.victimSyns !== 0) return `the victim received ${facts.victimSyns} SYN(s)`
      return null
    default:
      return `unknown scenario ${c.scenario}`
  }
}

/**
 * The record nat.json keeps for a case (the issue's fields first, then the extras).
 * @param {NatCase} c
 * @param {{ ok: boolean, rttMillis: number | null, error: string | null, seconds: number, extra?: Record<string, unknown> }} r
 */
export function record(c, r) {
  return {
    suite: c.suite, relay: c.relay, dialer: c.dialer, listener: c.listener, transport: c.transport, scenario: c.scenario,
    ok: r.ok, rttMillis: r.rttMillis, error: r.error,
    id: c.id, control: c.control, seconds: Number(r.seconds.toFixed(2)), ...(r.extra ?? {}),
  }
}

/**
 * nat.json's records as the Markdown tables of interop/NAT.md "Results" (`node interop/nat.mjs --markdown`):
 * the TCP tables, then the QUIC v1 ones.
 * @param {any[]} results
 */
export function markdown(results) {
  const quic = results.filter((r) => r.transport === 'quic-v1')
  const tcp = results.filter((r) => r.transport !== 'quic-v1')
  return [tables(tcp, false), tables(quic, true)].filter((t) => t !== '').join('\n')
}

/** @param {any[]} results @param {boolean} quic the QUIC v1 records (headers say so; the hole-punch table shows direct UDP datagrams) */
function tables(results, quic) {
  const q = quic ? 'QUIC v1 ' : ''
  const cell = (/** @type {any} */ r, /** @type {(r: any) => string} */ detail) => (r === undefined ? '' : `${r.ok ? (r.flaky ? 'flaky' : 'pass') : r.control ? 'fail (control)' : '**FAIL**'}${r.ok ? detail(r) : ''}`)
  const ms = (/** @type {number | null} */ n) => (typeof n === 'number' ? ` ${n.toFixed(1)} ms` : '')
  const find = (/** @type {(r: any) => boolean} */ f) => results.find(f)
  const out = []
  const relayRows = [...new Set(results.filter((r) => r.suite === 'relay' && r.scenario !== 'no-reservation').map((r) => `${r.relay}|${r.dialer}|${r.listener}`))]
  if (relayRows.length > 0) {
    if (quic) out.push(`| relay | dialer → listener | ${q}relay: identify + ping over the circuit |`, '|---|---|---|')
    else out.push('| relay | dialer → listener | relay: identify + ping over the circuit | limit (4096 B): bytes echoed before the circuit ended |', '|---|---|---|---|')
    for (const k of relayRows) {
      const [relay, dialer, listener] = k.split('|')
      const get = (/** @type {string} */ sc) => find((r) => r.suite === 'relay' && r.relay === relay && r.dialer === dialer && r.listener === listener && r.scenario === sc)
      const ctl = get('relay')?.control || get('limit')?.control ? ' (control)' : ''
      const limit = quic ? '' : ` ${cell(get('limit'), (r) => ` ${r.echoed} B`)} |`
      out.push(`| ${relay} | ${dialer} → ${listener}${ctl} | ${cell(get('relay'), (r) => ms(r.rttMillis))} |${limit}`)
    }
    out.push('')
  }
  const nr = results.filter((r) => r.scenario === 'no-reservation')
  if (nr.length > 0) {
    out.push('| relay | dialer | no-reservation: circuit to a peer that never reserved |', '|---|---|---|')
    for (const r of nr) out.push(`| ${r.relay} | ${r.dialer}${r.control ? ' (control)' : ''} | ${cell(r, (x) => ` ${x.status}`)} |`)
    out.push('')
  }
  const hp = results.filter((r) => r.suite === 'dcutr')
  if (hp.length > 0) {
    out.push(`| relay | dialer (behind rA) → listener (behind rB) | ${q}hole punch: direct connection + ping over it | direct address | ${quic ? 'direct UDP datagrams' : 'direct SYNs'} rA / rB |`, '|---|---|---|---|---|')
    for (const r of hp) {
      const symmetric = r.scenario === 'symmetric-nat'
      const label = `${r.dialer} → ${r.listener}${r.control ? ' (control)' : ''}${symmetric ? ', both NATs symmetric (fully-random): must fail' : ''}`
      const detail = symmetric ? (/** @type {any} */ x) => `: ${String(x.dcutr ?? '').split(':')[0]}; relayed ping${ms(x.rttMillis)}` : (/** @type {any} */ x) => ms(x.rttMillis)
      const n = quic ? r.directUdp : r.directSyn
      out.push(`| ${r.relay} | ${label} | ${cell(r, detail)} | ${r.direct ?? ''} | ${n ? `${n.rA} / ${n.rB}` : ''} |`)
    }
    out.push('')
  }
  const an = results.filter((r) => r.suite === 'autonat')
  if (an.length > 0) {
    out.push('| server | client | public (on the WAN) | private (behind rC) | amplification: victim SYNs |', '|---|---|---|---|---|')
    for (const k of [...new Set(an.map((r) => `${r.listener}|${r.dialer}`))]) {
      const [server, client] = k.split('|')
      const get = (/** @type {string} */ sc) => find((r) => r.suite === 'autonat' && r.listener === server && r.dialer === client && r.scenario === sc)
      const ctl = get('public')?.control ? ' (control)' : ''
      out.push(`| ${server} | ${client}${ctl} | ${cell(get('public'), (r) => ` ${r.reachability}`)} | ${cell(get('private'), (r) => ` ${r.reachability}`)} | ${cell(get('amplification'), (r) => ` ${r.victimSyns}`)} |`)
    }
    out.push('')
  }
  return out.join('\n')
}
