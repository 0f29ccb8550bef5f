// The QUIC connection core after the handshake: key updates (RFC 9001 §6), connection id
// issuance, retirement and rotation (RFC 9000 §5.1), PING.
import { describe, expect, test } from 'vitest'
import { Pair, transfer } from './quic-connection-harness.js'

describe('key update', () => {
  test('a local key update: both sides move to phase 1, data keeps flowing', () => {
    const p = new Pair()
    expect(p.client.updateKeys()).toBe(false) // not before the handshake is confirmed
    expect(p.handshake()).toBe(true)
    transfer(p, 10_000)
    expect(p.client.updateKeys()).toBe(true)
    expect(p.client.updateKeys()).toBe(false) // the peer has not followed yet
    const { sent, got } = transfer(p, 100_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    expect(p.client.keyPhase).toBe(1)
    expect(p.server.keyPhase).toBe(1)
    expect(p.server.stats.keyUpdates).toBe(1)
  })

  test('automatic key updates after keyUpdateInterval packets, under loss and reordering', () => {
    const p = new Pair({ net: { loss: 0.05, jitter: 10, seed: 7 }, client: { limits: { keyUpdateInterval: 40 } }, server: { limits: { keyUpdateInterval: 60 } } })
    expect(p.handshake()).toBe(true)
    const { sent, got } = transfer(p, 1024 * 1024)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    expect(p.client.stats.keyUpdates).toBeGreaterThan(5)
    expect(p.server.stats.keyUpdates).toBeGreaterThan(5)
  })
})

describe('connection ids', () => {
  test('each side issues min(peer limit, ours) - 1 new ids; rotation retires the old one and a replacement is issued', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    const issued = p.events.server.filter((e) => e.kind === 'connection-id-issued')
    expect(issued.map((e) => (e as { sequenceNumber: number }).sequenceNumber)).toEqual([1, 2, 3])
    p.run(() => false, 1000)
    const before = p.client.remoteConnectionId
    expect(p.client.rotateConnectionId()).toBe(true)
    const { sent, got } = transfer(p, 50_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(p.client.remoteConnectionId, before)).not.toBe(0)
    const retired = p.events.server.filter((e) => e.kind === 'connection-id-retired')
    expect(retired).toMatchObject([{ sequenceNumber: 0, connectionId: before }])
    expect(p.events.server.filter((e) => e.kind === 'connection-id-issued').length).toBe(4)
    // the new id is one the server issued
    expect(issued.some((e) => Buffer.compare((e as { connectionId: Uint8Array }).connectionId, p.client.remoteConnectionId) === 0)).toBe(true)
  })

  test('rotating through every spare id keeps the connection working', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    for (let i = 0; i < 10; i++) {
      p.run(() => false, 200)
      expect(p.client.rotateConnectionId()).toBe(true)
      p.client.ping()
    }
    const { sent, got } = transfer(p, 20_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(p.events.server.filter((e) => e.kind === 'connection-id-retired').length).toBe(10)
  })
})

describe('paths and liveness', () => {
  test('PATH_CHALLENGE is answered with PATH_RESPONSE: path-validated after one round trip', () => {
    let record = false
    const sizes: Record<string, number[]> = { client: [], server: [] }
    const p = new Pair({ net: { latency: 20 }, filter: (to, d) => { if (record) sizes[to]!.push(d.length); return false } })
    expect(p.handshake()).toBe(true)
    p.run(() => false, 2_000) // quiet
    record = true
    p.client.probePath()
    expect(p.run(() => p.events.client.some((e) => e.kind === 'path-validated'), 5_000)).toBe(true)
    const v = p.events.client.find((e) => e.kind === 'path-validated') as { rtt: number }
    expect(v.rtt).toBe(40)
    // RFC 9000 §8.2.1, §8.2.2: datagrams carrying PATH_CHALLENGE and PATH_RESPONSE are expanded to 1200 bytes
    expect(sizes.server![0]).toBeGreaterThanOrEqual(1200)
    expect(sizes.client![0]).toBeGreaterThanOrEqual(1200)
  })

  test('keepAliveInterval keeps a quiet connection open past the idle timeout; without it, it closes', () => {
    const p = new Pair({ client: { keepAliveInterval: 1_000, limits: { idleTimeout: 3_000 } } })
    expect(p.handshake()).toBe(true)
    p.run(() => p.client.isClosed || p.server.isClosed, 20_000)
    expect(p.client.state).toBe('established')
    expect(p.server.state).toBe('established')
    const q = new Pair({ client: { limits: { idleTimeout: 3_000 } } })
    expect(q.handshake()).toBe(true)
    expect(q.run(() => q.client.isClosed && q.server.isClosed, 20_000)).toBe(true)
  })
})

describe('datagram size (DPLPMTUD, RFC 9000 §14.3)', () => {
  test('a padded probe of min(maxDatagramSize, peer max_udp_payload_size) is acknowledged: both sides move to 1452', () => {
    const sizes: number[] = []
    const p = new Pair({ filter: (_to, d) => { sizes.push(d.length); return false }, client: { limits: { maxDatagramSize: 1452 } }, server: { limits: { maxDatagramSize: 1452 } } })
    expect(p.handshake()).toBe(true)
    expect(p.client.pathStats.maxDatagramSize).toBe(1200) // nothing larger before the probe
    const { sent, got } = transfer(p, 200_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(p.client.pathStats.maxDatagramSize).toBe(1452)
    expect(p.server.pathStats.maxDatagramSize).toBe(1452)
    expect(Math.max(...sizes)).toBe(1452)
  })

  test('a path that drops datagrams above 1300 bytes: the search ends between 1200 and 1300 after lost probes, and data flows', () => {
    let big = 0
    const p = new Pair({ filter: (_to, d) => d.length > 1300 && ++big > 0, client: { limits: { maxPmtuProbes: 2 } }, server: { limits: { maxPmtuProbes: 2 } } })
    expect(p.handshake()).toBe(true)
    const { sent, got } = transfer(p, 300_000)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    p.run(() => false, 5_000)
    for (const c of [p.client, p.server]) expect(c.pathStats.maxDatagramSize).toBeGreaterThan(1200)
    for (const c of [p.client, p.server]) expect(c.pathStats.maxDatagramSize).toBeLessThanOrEqual(1300)
    expect(big).toBe(8) // per side two probes of 1452 and two of 1326 lost; 1263 acknowledged; then no more
  })

  test('maxDatagramSize 1200 sends no probe', () => {
    const sizes: number[] = []
    const p = new Pair({ filter: (_to, d) => { sizes.push(d.length); return false }, client: { limits: { maxDatagramSize: 1200 } }, server: { limits: { maxDatagramSize: 1200 } } })
    expect(p.handshake()).toBe(true)
    transfer(p, 100_000)
    expect(Math.max(...sizes)).toBe(1200)
  })
})

describe('quiet connections', () => {
  test('an idle established connection sends nothing (no ACK ping-pong, no timer churn) until its idle timeout', () => {
    let sent = 0
    let counting = false
    const p = new Pair({ filter: () => { if (counting) sent++; return false }, client: { limits: { idleTimeout: 60_000 } }, server: { limits: { idleTimeout: 60_000 } } })
    expect(p.handshake()).toBe(true)
    transfer(p, 10_000)
    p.run(() => false, 2_000) // the last ACKs settle
    counting = true
    p.run(() => false, 30_000)
    expect(sent).toBe(0)
    expect(p.client.state).toBe('established')
  })
})
