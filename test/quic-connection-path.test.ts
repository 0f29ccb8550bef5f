// A peer address change (RFC 9000 §9.3, §8.2, §9.4; src/quic/connection/path.ts), pure: a NAT in
// front of the client that rebinds it to a new port (or a new IP) mid-connection. Datagrams the
// server sends to an address the NAT no longer maps are lost.
import { describe, expect, test } from 'vitest'
import type { QuicConnection, QuicConnectionEvent } from '../src/quic/connection/index.js'
import { Pair, pattern } from './quic-connection-harness.js'

type Addr = { address: string, port: number }
const A: Addr = { address: '192.0.2.10', port: 40000 }
const B: Addr = { address: '192.0.2.10', port: 40001 } // a NAT rebinding: same IP, new port
const C: Addr = { address: '198.51.100.3', port: 50000 } // a new IP

/** Client and server over a NAT whose public address for the client is `nat`; the server sends where its events say. */
class Net {
  now = 0
  nat: Addr = A
  serverSendsTo: Addr = A
  readonly events: QuicConnectionEvent[] = []
  bytesToNewPath = 0
  lost = 0
  constructor(readonly client: QuicConnection, readonly server: QuicConnection, start: number) { this.now = start }

  /** One round trip's worth of exchange; `deliverToClient` may drop the server's datagrams. */
  step(deliverToClient: (to: Addr) => boolean = (to) => to.address === this.nat.address && to.port === this.nat.port): void {
    for (let d = this.client.pollTransmit(this.now); d !== undefined; d = this.client.pollTransmit(this.now)) this.server.handleDatagram(this.now, d, this.nat)
    this.drain()
    for (let d = this.server.pollTransmit(this.now); d !== undefined; d = this.server.pollTransmit(this.now)) {
      this.drain()
      if (this.events.at(-1)?.kind === 'path-changed' && !(this.events.at(-1) as { validated: boolean }).validated) this.bytesToNewPath += d.length
      if (deliverToClient(this.serverSendsTo)) this.client.handleDatagram(this.now, d, { address: '203.0.113.1', port: 4001 })
      else this.lost++
    }
    this.drain()
    this.now += 5
    for (const c of [this.client, this.server]) { const t = c.pollTimeout(); if (t !== undefined && t <= this.now) c.handleTimeout(this.now) }
  }

  drain(): void {
    for (let e = this.server.pollEvent(); e !== undefined; e = this.server.pollEvent()) {
      if (e.kind === 'path-changed') { this.events.push(e); this.serverSendsTo = e.remote }
    }
    while (this.client.pollEvent() !== undefined) { /* drained */ }
  }
}

/** A handshake, then `size` bytes each way on one stream while `during` runs after `at` bytes (the NAT's change). */
function setup(o: { maxPathValidations?: number } = {}): { p: Pair, net: Net } {
  const p = new Pair({ server: { limits: { ...(o.maxPathValidations !== undefined ? { maxPathValidations: o.maxPathValidations } : {}) } } })
  expect(p.handshake()).toBe(true)
  const net = new Net(p.client, p.server, p.now)
  net.client.ping()
  net.step() // the first datagram with an address sets the path
  expect(p.server.peerAddress).toEqual(A)
  return { p, net }
}

function echoAcross(net: Net, size: number, change: () => void): { up: number, down: number } {
  const c = net.client
  const s = net.server
  const id = c.openStream(true)!
  const data = pattern(size, 3)
  let off = 0
  let up = 0
  let down = 0
  let changed = false
  for (let i = 0; i < 20_000 && down < size; i++) {
    while (off < size) { const n = c.write(id, data.subarray(off, Math.min(size, off + 16384))); if (n === 0) break; off += n }
    if (off === size) c.finish(id)
    if (!changed && up > size / 4) { change(); changed = true }
    net.step()
    for (let r = s.read(id); r.data.length > 0; r = s.read(id)) { up += r.data.length; s.write(id, r.data) }
    for (let r = c.read(id); r.data.length > 0; r = c.read(id)) down += r.data.length
  }
  return { up, down }
}

describe('peer address change (server)', () => {
  test('a NAT rebinding mid-transfer: the server moves to the new port, validates it, and every byte still arrives; no congestion reset for a port change', () => {
    const { net, p } = setup()
    let cwndBefore = 0
    const r = echoAcross(net, 300_000, () => { cwndBefore = p.server.pathStats.congestionWindow; net.nat = B })
    expect(r).toEqual({ up: 300_000, down: 300_000 })
    expect(p.server.peerAddress).toEqual(B)
    expect(net.events.map((e) => e.kind === 'path-changed' && [e.remote.port, e.validated])).toEqual([[B.port, false], [B.port, true]])
    expect(p.server.stats.pathChanges).toBe(1)
    expect(p.server.pathStats.congestionWindow).toBeGreaterThanOrEqual(Math.min(cwndBefore, 12_000))
    expect(p.client.state).toBe('established')
  })

  test('a new IP address: validated, then congestion window and RTT start over (RFC 9000 §9.4); before validation at most 3x the bytes received from it are sent there', () => {
    const { net, p } = setup()
    transferSome(net, 200_000)
    const grown = p.server.pathStats.congestionWindow
    expect(grown).toBeGreaterThan(20_000)
    net.nat = C
    net.client.ping()
    const received0 = p.server.stats.bytesReceived
    net.step()
    // the server sent to C at most 3 x what came from C before validating it
    expect(net.bytesToNewPath).toBeLessThanOrEqual(3 * (p.server.stats.bytesReceived - received0))
    for (let i = 0; i < 50 && !net.events.some((e) => e.kind === 'path-changed' && e.validated); i++) { net.client.ping(); net.step() }
    expect(net.events.map((e) => e.kind === 'path-changed' && [e.remote.address, e.validated])).toEqual([[C.address, false], [C.address, true]])
    expect(p.server.pathStats.congestionWindow).toBeLessThan(grown)
    const mds = p.server.pathStats.maxDatagramSize
    expect(p.server.pathStats.congestionWindow).toBe(Math.min(10 * mds, Math.max(14_720, 2 * mds))) // the initial window (RFC 9002 §7.2)
  })

  test('a new IP address sends the datagram size back to 1200 at once and searches the new path again; a new port keeps it', () => {
    const { net, p } = setup()
    transferSome(net, 300_000)
    const searched = p.server.pathStats.maxDatagramSize
    expect(searched).toBeGreaterThan(1200)
    net.nat = B // a new port only: same path MTU
    for (let i = 0; i < 20; i++) { net.client.ping(); net.step() }
    expect(p.server.peerAddress).toEqual(B)
    expect(p.server.pathStats.maxDatagramSize).toBe(searched)
    net.nat = C
    net.client.ping()
    net.step()
    expect(p.server.peerAddress).toEqual(C)
    expect(p.server.pathStats.maxDatagramSize).toBe(1200)
    transferSome(net, 300_000) // the search runs again on the new path
    expect(p.server.pathStats.maxDatagramSize).toBeGreaterThan(1200)
  })

  test('a rebinding in a download (the client sends only ACKs): the challenge goes unpadded within the 3x budget, the path is validated, every byte arrives', () => {
    const { net, p } = setup()
    const id = p.server.openStream(true)!
    const size = 400_000
    const data = pattern(size, 9)
    let off = 0
    let got = 0
    let fromB = 0
    let toB = 0
    for (let i = 0; i < 40_000 && got < size; i++) {
      while (off < size) { const n = p.server.write(id, data.subarray(off, Math.min(size, off + 16384))); if (n === 0) break; off += n }
      if (got > size / 4 && net.nat === A) net.nat = B
      const received = p.server.stats.bytesReceived
      const sent = p.server.stats.bytesSent
      net.step()
      const validated = net.events.some((e) => e.kind === 'path-changed' && e.validated)
      if (net.nat === B && !validated) {
        fromB += p.server.stats.bytesReceived - received
        toB += p.server.stats.bytesSent - sent
        expect(toB).toBeLessThanOrEqual(3 * fromB)
      }
      for (let r = p.client.read(id); r.data.length > 0; r = p.client.read(id)) got += r.data.length
    }
    expect(got).toBe(size)
    expect(net.events.map((e) => e.kind === 'path-changed' && [e.remote.port, e.validated])).toEqual([[B.port, false], [B.port, true]])
  })

  test('no answer to the PATH_CHALLENGE (the new address is not the peer): back to the old address after the validation deadline', () => {
    const { net, p } = setup()
    net.nat = B
    net.client.ping()
    net.step(() => false) // the server's datagrams to B go nowhere
    expect(p.server.peerAddress).toEqual(B)
    for (let i = 0; i < 2000 && p.server.stats.pathValidationsFailed === 0; i++) net.step(() => false)
    expect(p.server.stats.pathValidationsFailed).toBe(1)
    net.drain()
    expect(p.server.peerAddress).toEqual(A)
    expect(net.events).toContainEqual({ kind: 'path-changed', remote: A, validated: true })
  })

  test('a packet from the old, validated address with a higher packet number moves the server back at once (no new validation)', () => {
    const { net, p } = setup()
    net.nat = B
    net.client.ping()
    net.step(() => false)
    net.nat = A
    net.client.ping()
    net.step()
    expect(p.server.peerAddress).toEqual(A)
    expect(net.events.map((e) => e.kind === 'path-changed' && [e.remote.port, e.validated])).toEqual([[B.port, false], [A.port, true]])
    expect(p.server.stats.pathChanges).toBe(1)
  })

  test('an older packet (lower packet number) from another address does not move the connection', () => {
    const { net, p } = setup()
    net.client.ping()
    const old = net.client.pollTransmit(net.now)!
    net.client.ping()
    net.step()
    p.server.handleDatagram(net.now, old, B)
    expect(p.server.peerAddress).toEqual(A)
    expect(p.server.stats.pathChanges).toBe(0)
  })

  test('maxPathValidations: at the limit each new address is validated; past it the connection stays where it is', () => {
    const { net, p } = setup({ maxPathValidations: 2 })
    for (const port of [41000, 41001]) {
      net.nat = { address: A.address, port }
      for (let i = 0; i < 20 && p.server.peerAddress?.port !== port; i++) { net.client.ping(); net.step() }
      for (let i = 0; i < 20; i++) { net.client.ping(); net.step() }
    }
    expect(p.server.stats.pathChanges).toBe(2)
    net.nat = { address: A.address, port: 41002 }
    net.client.ping()
    net.step(() => true)
    expect(p.server.peerAddress?.port).toBe(41001)
    expect(p.server.stats.pathChangesRefused).toBe(1)
  })

  test('a client does not follow a server address change (servers do not migrate, RFC 9000 §9)', () => {
    const { net, p } = setup()
    net.client.ping()
    net.step()
    const first = p.client.peerAddress
    p.server.ping()
    p.client.handleDatagram(net.now, p.server.pollTransmit(net.now)!, { address: '203.0.113.99', port: 1 })
    expect(p.client.peerAddress).toEqual(first)
    expect(p.client.stats.pathChanges).toBe(0)
  })
})

function transferSome(net: Net, size: number): void {
  const c = net.client
  const id = c.openStream(true)!
  const data = pattern(size, 5)
  let off = 0
  let got = 0
  for (let i = 0; i < 20_000 && got < size; i++) {
    while (off < size) { const n = c.write(id, data.subarray(off, Math.min(size, off + 16384))); if (n === 0) break; off += n }
    net.step()
    for (let r = net.server.read(id); r.data.length > 0; r = net.server.read(id)) net.server.write(id, r.data) // echoed: the server's window grows
    for (let r = c.read(id); r.data.length > 0; r = c.read(id)) got += r.data.length
  }
  expect(got).toBe(size)
}
