// DPLPMTUD (src/quic/connection/pmtu.ts, transmit.ts `pmtuProbe`) on a path not yet validated: a
// server whose path-MTU search is still going when the client moves to a new IP address sends no
// probe beyond the 3x anti-amplification budget of the new address (RFC 9000 §8.1, §9.3), and a
// pending probe does not hold data back there (the PATH_CHALLENGE and the data still go out).
import { describe, expect, test } from 'vitest'
import { Pair, pattern } from './quic-connection-harness.js'

type Addr = { address: string, port: number }
const A: Addr = { address: '192.0.2.10', port: 40000 }
const C: Addr = { address: '198.51.100.3', port: 50000 } // the client's new IP address
/** The path carries 1200-byte datagrams only: every probe (1452 first) is lost, so the search never ends (maxPmtuProbes is large). */
const PATH_MTU = 1200

/** An echo of `size` bytes over a client whose address changes to C `offset` steps after a quarter went up; the server's sends to C before validation are checked step by step. */
function run(offset: number): { up: number, down: number, probesBefore: number, probesAfter: number, validated: boolean } {
  const p = new Pair({ server: { limits: { maxPmtuProbes: 1_000_000 } }, client: { limits: { maxPmtuProbes: 1_000_000 } } })
  expect(p.handshake()).toBe(true) // the Pair's network carries everything: the search may have moved, but it goes on
  const c = p.client
  const s = p.server
  let now = p.now
  let nat = A
  let sendsTo = A
  let validated = false
  let unvalidated = false
  let fromC = 0 // bytes received from C before it was validated
  let toC = 0 // bytes sent to C before it was validated
  let probesBefore = 0
  let probesAfter = 0
  const step = (): void => {
    for (let d = c.pollTransmit(now); d !== undefined; d = c.pollTransmit(now)) {
      if (nat === C && !validated) fromC += d.length
      s.handleDatagram(now, d, nat)
    }
    const drain = (): void => {
      for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) {
        if (e.kind !== 'path-changed') continue
        sendsTo = e.remote
        unvalidated = !e.validated && e.remote.address === C.address
        if (e.validated && e.remote.address === C.address) validated = true
      }
      while (c.pollEvent() !== undefined) { /* drained */ }
    }
    drain()
    let sent = 0
    for (let d = s.pollTransmit(now); d !== undefined; d = s.pollTransmit(now)) {
      drain()
      sent += d.length
      if (d.length > PATH_MTU) { if (nat === A) probesBefore++; else if (validated) probesAfter++ }
      if (d.length <= PATH_MTU && sendsTo.address === nat.address && sendsTo.port === nat.port) c.handleDatagram(now, d, { address: '203.0.113.1', port: 4001 })
    }
    drain()
    if (unvalidated) {
      toC += sent
      expect(toC, `at ${now}: ${toC} bytes to the new address, ${fromC} from it`).toBeLessThanOrEqual(3 * fromC)
    }
    now += 5
    for (const x of [c, s]) { const t = x.pollTimeout(); if (t !== undefined && t <= now) x.handleTimeout(now) }
  }
  c.ping()
  step() // the first datagram with an address sets the path (A)
  const size = 200_000
  const id = c.openStream(true)!
  const data = pattern(size, 7)
  let off = 0
  let up = 0
  let down = 0
  let after = -1
  for (let i = 0; i < 20_000 && down < size; i++) {
    while (off < size) { const n = c.write(id, data.subarray(off, Math.min(size, off + 16384))); if (n === 0) break; off += n }
    if (off === size) c.finish(id)
    if (after < 0 && up > size / 4) after = 0
    if (after >= 0 && after++ === offset) { nat = C; c.ping() }
    step()
    for (let r = s.read(id); r.data.length > 0; r = s.read(id)) { up += r.data.length; s.write(id, r.data) }
    for (let r = c.read(id); r.data.length > 0; r = c.read(id)) down += r.data.length
  }
  return { up, down, probesBefore, probesAfter, validated }
}

describe('a path-MTU search still going when the client moves to a new IP address', () => {
  test('the server sends at most 3x the bytes received from the new address before it is validated (no probe beyond it), validates it, and every byte arrives', () => {
    for (let offset = 0; offset < 8; offset++) {
      const r = run(offset)
      expect(r).toMatchObject({ up: 200_000, down: 200_000, validated: true })
      expect(r.probesBefore).toBeGreaterThan(0) // the server was probing when the address changed
      expect(r.probesAfter).toBeGreaterThan(0) // and goes on probing on the validated new path
    }
  })
})
