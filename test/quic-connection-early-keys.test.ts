// The QUIC connection core's key timing: packets that arrive before their keys are held, a bounded
// few per level, and opened once the keys are installed (RFC 9001 §5.7, pending.ts); the previous
// 1-RTT key phase's receive keys are discarded 3 PTO after the new phase's first packet (RFC 9001
// §6.5, keys.ts).
import { describe, expect, test } from 'vitest'
import { QuicConnection } from '../src/quic/connection/index.js'
import { parseDatagram } from '../src/quic/packet.js'
import { Pair, transfer } from './quic-connection-harness.js'

const all = (c: QuicConnection, now: number): Uint8Array[] => {
  const out: Uint8Array[] = []
  for (let d = c.pollTransmit(now); d !== undefined; d = c.pollTransmit(now)) out.push(d)
  return out
}
const types = (d: Uint8Array): string[] => parseDatagram(d, 8).packets.map((p) => p.type)

/** Splits coalesced packets into datagrams of their own (as a peer sending larger flights, or a network path, would deliver them). */
const split = (ds: Uint8Array[]): Uint8Array[] => ds.flatMap((d) => parseDatagram(d, 8).packets.map((p) => (p as { bytes: Uint8Array }).bytes.slice()))

/** The server's first flight, one packet per datagram: the Initial with the ServerHello, and the Handshake packets. */
function firstFlight(p: Pair): { initial: Uint8Array, handshakeOnly: Uint8Array[] } {
  for (const d of all(p.client, 0)) p.server.handleDatagram(0, d)
  const flight = split(all(p.server, 0))
  const initial = flight.find((d) => types(d).includes('initial'))!
  const handshakeOnly = flight.filter((d) => types(d).every((t) => t === 'handshake'))
  return { initial, handshakeOnly }
}

describe('packets before their keys (RFC 9001 §5.7)', () => {
  test('a Handshake packet that overtakes the Initial carrying the ServerHello is held and opened after it: the handshake completes with no retransmission', () => {
    const p = new Pair()
    const { initial, handshakeOnly } = firstFlight(p)
    expect(handshakeOnly.length).toBeGreaterThan(0)
    for (const d of handshakeOnly) p.client.handleDatagram(1, d) // before the Initial: no Handshake keys yet
    expect(p.client.stats.packetsBuffered).toBe(handshakeOnly.length)
    p.client.handleDatagram(1, initial)
    expect(p.client.isHandshakeComplete).toBe(true) // no timer fired, nothing resent
    expect(p.client.stats.packetsDropped).toBe(0)
    // and the connection goes on
    expect(p.handshake()).toBe(true)
  })

  test('1-RTT packets that reach the server before the client Finished are held and read once the handshake completes', () => {
    const p = new Pair()
    for (const d of all(p.client, 0)) p.server.handleDatagram(0, d)
    for (const d of all(p.server, 0)) p.client.handleDatagram(1, d)
    expect(p.client.isHandshakeComplete).toBe(true)
    const id = p.client.openStream(true)!
    p.client.write(id, new Uint8Array([1, 2, 3]))
    p.client.finish(id)
    const out = split(all(p.client, 1))
    const oneRtt = out.filter((d) => types(d).includes('1rtt'))
    const finished = out.filter((d) => !types(d).includes('1rtt'))
    expect(oneRtt.length).toBeGreaterThan(0)
    for (const d of oneRtt) p.server.handleDatagram(2, d)
    expect(p.server.stats.packetsBuffered).toBe(oneRtt.length)
    for (const d of finished) p.server.handleDatagram(2, d)
    expect(p.server.isHandshakeComplete).toBe(true)
    expect(p.server.read(id)).toEqual({ data: new Uint8Array([1, 2, 3]), fin: true })
  })

  test('maxBufferedPackets: at the limit every copy is held; past it the rest are dropped', () => {
    for (const [copies, limit] of [[3, 3], [5, 3]] as const) {
      const p = new Pair({ client: { limits: { maxBufferedPackets: limit } } })
      const { initial, handshakeOnly } = firstFlight(p)
      for (let i = 0; i < copies; i++) p.client.handleDatagram(1, handshakeOnly[0]!)
      expect(p.client.stats.packetsBuffered).toBe(limit)
      expect(p.client.stats.packetsDropped).toBe(copies - limit)
      p.client.handleDatagram(1, initial)
      for (const d of handshakeOnly.slice(1)) p.client.handleDatagram(1, d)
      expect(p.client.isHandshakeComplete).toBe(true)
    }
  })

  test('held packets of a level that is discarded are dropped, never opened', () => {
    const p = new Pair({ client: { limits: { maxBufferedPackets: 2 } } })
    const { handshakeOnly } = firstFlight(p)
    p.client.handleDatagram(1, handshakeOnly[0]!)
    expect(p.client.stats.packetsBuffered).toBe(1)
    p.client.close(0)
    p.client.handleDatagram(2, handshakeOnly[0]!)
    expect(p.client.stats.packetsReceived).toBe(0)
  })
})

describe('previous key phase discarded after 3 PTO (RFC 9001 §6.5)', () => {
  test('a packet of the old phase delayed across a key update opens within 3 PTO; one delayed past 3 PTO fails to open', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    transfer(p, 10_000)
    // two 1-RTT datagrams of phase 0, held back by the network
    p.client.ping()
    const early = all(p.client, p.now)
    p.client.ping()
    const late = all(p.client, p.now)
    expect(early.length + late.length).toBeGreaterThanOrEqual(2)
    expect(p.client.updateKeys()).toBe(true)
    transfer(p, 20_000) // the server follows the update and receives phase-1 packets
    expect(p.server.keyPhase).toBe(1)
    const received = p.server.stats.packetsReceived
    for (const d of early) p.server.handleDatagram(p.now, d)
    expect(p.server.stats.packetsReceived).toBe(received + early.length) // the previous keys still open it
    const dropped = p.server.stats.packetsDropped
    const t = p.now
    p.run(() => p.now >= t + 5_000, 10_000) // well past 3 PTO (~0.1-0.3 s here)
    const before = p.server.stats.packetsReceived
    for (const d of late) p.server.handleDatagram(p.now, d)
    expect(p.server.stats.packetsReceived).toBe(before)
    expect(p.server.stats.packetsDropped).toBe(dropped + late.length)
    expect(p.server.state).toBe('established')
  })
})
