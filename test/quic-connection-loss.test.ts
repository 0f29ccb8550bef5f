// The QUIC connection core under a hostile network: loss, reordering and duplication injected
// (fast-check picks the network), every byte delivered exactly once and in order, both ways.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { Pair, echoStreams, transfer } from './quic-connection-harness.js'

describe('QuicConnection over a lossy, reordering, duplicating network', () => {
  test('handshake and 200 KiB each way arrive exactly, in order', () => {
    let lost = 0
    let dropped = 0
    fc.assert(fc.property(
      fc.record({
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
        loss: fc.double({ min: 0, max: 0.25, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.2, noNaN: true }),
        jitter: fc.integer({ min: 0, max: 30 }),
        latency: fc.integer({ min: 1, max: 50 }),
      }),
      (net) => {
        const p = new Pair({ net })
        expect(p.handshake()).toBe(true)
        const { sent, got } = transfer(p, 200 * 1024)
        expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
        expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
        lost += p.client.stats.packetsLost + p.server.stats.packetsLost
        dropped += p.client.stats.packetsDropped + p.server.stats.packetsDropped
      },
    ), { numRuns: 20 })
    expect(lost).toBeGreaterThan(0) // the network did lose packets and recovery resent their frames
    expect(dropped).toBeGreaterThan(0) // and duplicates were dropped
  }, 300_000)

  test('many streams echoed under loss, with small windows and a stream limit: every byte back, in order', () => {
    fc.assert(fc.property(
      fc.record({
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
        loss: fc.double({ min: 0, max: 0.2, noNaN: true }),
        duplicate: fc.double({ min: 0, max: 0.1, noNaN: true }),
        jitter: fc.integer({ min: 0, max: 30 }),
        latency: fc.integer({ min: 1, max: 40 }),
        count: fc.integer({ min: 1, max: 12 }),
        size: fc.integer({ min: 0, max: 40_000 }),
        window: fc.integer({ min: 1000, max: 40_000 }),
      }),
      (o) => {
        const streams = { initialStreamWindow: o.window, initialConnectionWindow: o.window * 2, maxIncomingBidiStreams: 4, streamSendBuffer: 5000 }
        const p = new Pair({ net: o, client: { streams }, server: { streams } })
        expect(p.handshake()).toBe(true)
        expect(echoStreams(p, o.count, o.size)).toBe(true)
      },
    ), { numRuns: 10 })
  }, 300_000)
})
