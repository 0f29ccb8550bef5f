// DPLPMTUD (RFC 9000 §14.3, src/quic/connection/pmtu.ts): the search for a larger datagram size,
// lost probes that are not congestion (§14.4), black-hole fallback, and the UDP driver's first-hop
// cap (src/io/udp-mtu.ts).
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { maxUdpPayloadTo } from '../src/io/udp-mtu.js'
import { BASE_PLPMTU, BLACK_HOLE_LOSSES, MAX_SEARCHES, PmtuSearch } from '../src/quic/connection/pmtu.js'
import { Recovery } from '../src/quic/recovery/index.js'
import { Pair, transfer } from './quic-connection-harness.js'

/** Runs a search over a path carrying datagrams up to `mtu` bytes; returns the sizes probed and the result. */
function search(max: number, carries: number, attempts = 3): { probed: number[], current: number } {
  const m = new PmtuSearch(attempts)
  m.start(max)
  const probed: number[] = []
  let pn = 0
  for (let i = 0; i < 200 && m.size > 0; i++) {
    probed.push(m.size)
    m.sent(pn)
    if (m.size <= carries) m.onAcked(pn, m.size, i)
    else m.onLost(pn, m.size, i)
    pn++
  }
  return { probed: [...new Set(probed)], current: m.current }
}

describe('PmtuSearch', () => {
  test('a 1500-byte IPv6 path (1452 bytes of payload): 1452 first, then the maximum and halving, ending at 1452', () => {
    const r = search(65527, 1452)
    expect(r.probed[0]).toBe(1452)
    expect(r.probed[1]).toBe(65527)
    expect(r.current).toBe(1452)
    expect(r.probed.length).toBeLessThanOrEqual(12)
  })

  test('loopback (65507): ends within 1/16 of it; a path carrying everything ends at the maximum', () => {
    const r = search(65527, 65507)
    expect(r.current).toBeGreaterThan(65507 - 65507 / 16)
    expect(r.current).toBeLessThanOrEqual(65507)
    expect(search(65527, 65527).current).toBe(65527)
    expect(search(65527, 65527).probed).toEqual([1452, 65527])
  })

  test('a path below 1452: the search settles between 1200 and the path size; max 1200 probes nothing', () => {
    const r = search(65527, 1300)
    expect(r.current).toBeGreaterThan(1200)
    expect(r.current).toBeLessThanOrEqual(1300)
    expect(search(1200, 65527).probed).toEqual([])
    expect(search(1350, 65527)).toEqual({ probed: [1350], current: 1350 })
  })

  test('a size fails only after `attempts` lost probes of it', () => {
    const m = new PmtuSearch(3)
    m.start(65527)
    expect(m.size).toBe(1452)
    for (let i = 0; i < 2; i++) { m.sent(i); m.onLost(i, 1452, i) }
    expect(m.size).toBe(1452)
    m.sent(2)
    m.onLost(2, 1452, 2)
    expect(m.size).not.toBe(1452)
  })

  test('black hole: BLACK_HOLE_LOSSES large packets lost, each sent after the newest acknowledged one, fall back to 1200 and search again', () => {
    const m = new PmtuSearch(3)
    m.start(1452)
    m.sent(0)
    expect(m.onAcked(0, 1452, 0)).toBe(true)
    expect(m.current).toBe(1452)
    m.onAcked(5, 1452, 50) // a large packet sent at 50 acknowledged
    // a loss burst older than it (a full queue) is not a black hole
    for (let i = 0; i < 20; i++) expect(m.onLost(1 + i, 1452, 10 + i)).toBe(false)
    expect(m.current).toBe(1452)
    for (let i = 0; i < BLACK_HOLE_LOSSES - 1; i++) expect(m.onLost(100 + i, 1452, 60 + i)).toBe(false)
    expect(m.onLost(200, 1452, 70)).toBe(true)
    expect(m.current).toBe(BASE_PLPMTU)
    expect(m.size).toBe(1452) // searching again
  })

  test(`at most ${MAX_SEARCHES} searches per connection`, () => {
    const m = new PmtuSearch(1)
    m.start(1452)
    let pn = 0
    for (let round = 0; round < MAX_SEARCHES + 2; round++) {
      if (m.size === 0) break
      m.sent(pn)
      m.onAcked(pn++, 1452, pn)
      for (let i = 0; i < BLACK_HOLE_LOSSES; i++) m.onLost(pn++, 1452, pn + 1000)
    }
    expect(m.current).toBe(BASE_PLPMTU)
    expect(m.size).toBe(0)
  })
})

describe('a lost probe is not congestion (RFC 9000 §14.4)', () => {
  const run = (pmtuProbe: boolean): number => {
    const r = new Recovery<string>({ role: 'client' })
    r.setHandshakeConfirmed(0)
    const base = { space: 'application' as const, ackEliciting: true, inFlight: true, frames: [] }
    r.onPacketSent({ ...base, packetNumber: 0, timeSent: 0, size: 1200 })
    r.onPacketSent({ ...base, packetNumber: 1, timeSent: 1, size: 9000, pmtuProbe })
    for (let pn = 2; pn < 6; pn++) r.onPacketSent({ ...base, packetNumber: pn, timeSent: pn, size: 1200 })
    const before = r.congestionWindow
    const res = r.onAckReceived('application', { ackDelay: 0, ranges: [{ smallest: 2, largest: 5 }, { smallest: 0, largest: 0 }] }, 20)
    expect(res.lost.map((p) => p.packetNumber)).toEqual([1])
    return r.congestionWindow - before
  }
  test('the window does not shrink when only a probe was lost; it does for an ordinary packet', () => {
    expect(run(true)).toBeGreaterThanOrEqual(0)
    expect(run(false)).toBeLessThan(0)
  })
})

describe('two connections', () => {
  const big = { limits: { maxDatagramSize: 65527 } }
  test('maxDatagramSize 1452 (go\'s and rust\'s size): the search stops there, even where the path carries more', () => {
    const small = { limits: { maxDatagramSize: 1452 } }
    const p = new Pair({ client: small, server: small })
    expect(p.handshake()).toBe(true)
    transfer(p, 200_000)
    expect(p.client.pathStats.maxDatagramSize).toBe(1452)
    expect(p.server.pathStats.maxDatagramSize).toBe(1452)
  })

  test('by default (65527) with no MTU limit the search reaches 65527 and the data arrives', () => {
    const sizes: number[] = []
    const p = new Pair({ filter: (_to, d) => { sizes.push(d.length); return false } })
    expect(p.handshake()).toBe(true)
    transfer(p, 200_000)
    expect(Math.max(...sizes)).toBe(65527)
  })

  test('maxDatagramSize 65527 with no MTU limit: both sides reach 65527 and the data arrives', () => {
    const sizes: number[] = []
    const p = new Pair({ filter: (_to, d) => { sizes.push(d.length); return false }, client: big, server: big })
    expect(p.handshake()).toBe(true)
    const { sent, got } = transfer(p, 1_000_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    expect(p.client.pathStats.maxDatagramSize).toBe(65527)
    expect(p.server.pathStats.maxDatagramSize).toBe(65527)
    expect(Math.max(...sizes)).toBe(65527)
  })

  test('a path that stops carrying large datagrams (a route change): the black hole falls back to 1200 and the transfer completes', () => {
    let limit = 65527
    let dropped = 0
    const p = new Pair({ filter: (_to, d) => d.length > limit && ++dropped > 0, client: big, server: big })
    expect(p.handshake()).toBe(true)
    transfer(p, 1_000_000)
    expect(p.client.pathStats.maxDatagramSize).toBe(65527)
    limit = 1300
    const { sent, got } = transfer(p, 1_000_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    for (const c of [p.client, p.server]) expect(c.pathStats.maxDatagramSize).toBeLessThanOrEqual(1300)
    expect(dropped).toBeGreaterThan(0)
  })
})

describe('the UDP driver caps datagrams at the first hop (udp-mtu.ts)', () => {
  const lo = (() => { try { return Number(readFileSync('/sys/class/net/lo/mtu', 'utf8')) } catch { return undefined } })()
  test.skipIf(lo === undefined)('loopback: lo\'s MTU less the IPv4 / IPv6 and UDP headers', () => {
    expect(maxUdpPayloadTo('127.0.0.1')).toBe(Math.min(65535, lo!) - 28)
    expect(maxUdpPayloadTo('::ffff:127.0.0.1')).toBe(Math.min(65535, lo!) - 28)
    expect(maxUdpPayloadTo('::1')).toBe(Math.min(65535, lo!) - 48)
  })
  test('never below 1200; an address no route or interface file describes gets a 1500-byte MTU at most', () => {
    for (const a of ['192.0.2.1', '2001:db8::1', 'fe80::1%nonexistent0', 'not-an-ip']) {
      expect(maxUdpPayloadTo(a)).toBeGreaterThanOrEqual(1200)
    }
    expect(maxUdpPayloadTo('not-an-ip')).toBe(1452)
  })
})
