// QUIC ACK generation (src/quic/recovery/ack-tracker.ts, RFC 9000 §13.2): when an ACK is due, what it
// holds, duplicate detection, and the bounds on remembered ranges.
import { describe, expect, test } from 'vitest'
import { AckTracker, Recovery } from '../src/quic/recovery/index.js'

describe('when an ACK is due (RFC 9000 §13.2.1, §13.2.2)', () => {
  test('application: the first ack-eliciting packet waits max_ack_delay, the second makes it due', () => {
    const t = new AckTracker({ maxAckDelay: 25 })
    t.onPacketReceived('application', 0, 100, true)
    expect(t.wantsAck('application', 100)).toBe(false)
    expect(t.pollTimeout()).toBe(125)
    expect(t.wantsAck('application', 125)).toBe(true)
    t.onPacketReceived('application', 1, 110, true)
    expect(t.wantsAck('application', 110)).toBe(true)
    expect(t.pollTimeout()).toBe(110)
    t.onAckSent('application')
    expect(t.pollTimeout()).toBeUndefined()
    expect(t.ackPending('application')).toBe(false)
  })

  test('Initial and Handshake: every ack-eliciting packet is acknowledged at once', () => {
    const t = new AckTracker()
    t.onPacketReceived('initial', 0, 5, true)
    expect(t.wantsAck('initial', 5)).toBe(true)
    t.onPacketReceived('handshake', 0, 6, true)
    expect(t.wantsAck('handshake', 6)).toBe(true)
    expect(t.wantsAck('application', 6)).toBe(false)
  })

  test('non-ack-eliciting packets alone never make an ACK due, but ride along with the next one', () => {
    const t = new AckTracker()
    t.onPacketReceived('application', 0, 0, false)
    t.onPacketReceived('application', 1, 1, false)
    expect(t.pollTimeout()).toBeUndefined()
    expect(t.wantsAck('application', 1000)).toBe(false)
    expect(t.ackPending('application')).toBe(true)
    t.onPacketReceived('application', 2, 2, true)
    t.onPacketReceived('application', 3, 3, true)
    expect(t.buildAck('application', 3)!.ranges).toEqual([{ smallest: 0, largest: 3 }])
  })

  test('out of order: a gap below a new ack-eliciting packet, or a packet below the largest, is acknowledged at once', () => {
    const t = new AckTracker()
    t.onPacketReceived('application', 0, 0, true)
    t.onAckSent('application')
    t.onPacketReceived('application', 2, 1, true) // 1 missing
    expect(t.wantsAck('application', 1)).toBe(true)
    t.onAckSent('application')
    t.onPacketReceived('application', 1, 2, true) // below the largest ack-eliciting
    expect(t.wantsAck('application', 2)).toBe(true)
    t.onAckSent('application')
    t.onPacketReceived('application', 3, 3, true) // in order again
    expect(t.wantsAck('application', 3)).toBe(false)
  })

  test('a gap filled by non-ack-eliciting packets is not a gap', () => {
    const t = new AckTracker()
    t.onPacketReceived('application', 0, 0, true)
    t.onAckSent('application')
    t.onPacketReceived('application', 1, 1, false)
    t.onPacketReceived('application', 2, 2, true)
    expect(t.wantsAck('application', 2)).toBe(false)
  })

  test('an ECN-CE marked packet is acknowledged at once, and ECN counts appear in the frame', () => {
    const t = new AckTracker()
    t.onPacketReceived('application', 0, 0, true, 'ect0')
    expect(t.wantsAck('application', 0)).toBe(false)
    t.onPacketReceived('application', 1, 1, false, 'ect1')
    t.onAckSent('application')
    t.onPacketReceived('application', 2, 2, true, 'ce')
    expect(t.wantsAck('application', 2)).toBe(true)
    expect(t.buildAck('application', 2)!.ecn).toEqual({ ect0: 1, ect1: 1, ce: 1 })
    const plain = new AckTracker()
    plain.onPacketReceived('application', 0, 0, true)
    expect('ecn' in plain.buildAck('application', 0)!).toBe(false)
  })

  test('ackElicitingThreshold: with 1 every ack-eliciting packet is acknowledged at once', () => {
    const t = new AckTracker({ ackElicitingThreshold: 1 })
    t.onPacketReceived('application', 0, 0, true)
    expect(t.wantsAck('application', 0)).toBe(true)
  })
})

describe('the ACK frame', () => {
  test('ranges largest first; ACK Delay in units of 2^ack_delay_exponent microseconds since the largest arrived', () => {
    const t = new AckTracker({ ackDelayExponent: 3 })
    for (const pn of [0, 1, 2, 5, 6, 9]) t.onPacketReceived('application', pn, pn, true)
    const f = t.buildAck('application', 19)!
    expect(f.type).toBe('ack')
    expect(f.ranges).toEqual([{ smallest: 9, largest: 9 }, { smallest: 5, largest: 6 }, { smallest: 0, largest: 2 }])
    expect(f.ackDelay).toBe((10 * 1000) / 8)
    expect(new AckTracker({ ackDelayExponent: 0 }).buildAck('application', 0)).toBeUndefined()
  })

  test('Initial and Handshake ACKs carry an ACK Delay of 0 (RFC 9000 §19.3)', () => {
    const t = new AckTracker()
    t.onPacketReceived('initial', 0, 0, true)
    t.onPacketReceived('handshake', 0, 0, true)
    expect(t.buildAck('initial', 40)!.ackDelay).toBe(0)
    expect(t.buildAck('handshake', 40)!.ackDelay).toBe(0)
  })

  test('a late packet does not move the ACK Delay origin (the largest packet number does)', () => {
    const t = new AckTracker({ ackDelayExponent: 0 })
    t.onPacketReceived('application', 5, 10, true)
    t.onPacketReceived('application', 3, 12, true)
    expect(t.buildAck('application', 20)!.ackDelay).toBe(10_000)
  })

  test('once the peer acknowledged an ACK frame, its ranges are not repeated (§13.2.4)', () => {
    const t = new AckTracker()
    for (const pn of [0, 1, 3, 4]) t.onPacketReceived('application', pn, pn, true)
    const f = t.buildAck('application', 4)!
    t.onAckSent('application')
    t.onAckFrameAcked('application', f)
    expect(t.buildAck('application', 5)).toBeUndefined()
    t.onPacketReceived('application', 6, 6, true)
    expect(t.buildAck('application', 6)!.ranges).toEqual([{ smallest: 6, largest: 6 }])
    // an older acknowledged frame does not lower the floor again
    t.onAckFrameAcked('application', { ranges: [{ smallest: 0, largest: 1 }] })
    expect(t.buildAck('application', 6)!.ranges).toEqual([{ smallest: 6, largest: 6 }])
    // duplicates stay duplicates
    expect(t.isDuplicate('application', 3)).toBe(true)
    expect(t.onPacketReceived('application', 3, 7, true)).toBe(false)
  })

  test('the frame round-trips through Recovery: what the tracker acknowledges is what recovery sees acknowledged', () => {
    const t = new AckTracker()
    const r = new Recovery<number>({ role: 'client' })
    for (let pn = 0; pn < 20; pn++) r.onPacketSent({ space: 'handshake', packetNumber: pn, timeSent: pn, ackEliciting: true, inFlight: true, size: 100, frames: [pn] })
    const delivered = [0, 1, 2, 4, 5, 8, 13, 14, 15, 19]
    for (const pn of delivered) t.onPacketReceived('handshake', pn, 30, true)
    const res = r.onAckReceived('handshake', t.buildAck('handshake', 30)!, 40)
    expect(res.acked.map((p) => p.packetNumber)).toEqual(delivered)
    expect(res.lost.map((p) => p.packetNumber)).toEqual([3, 6, 7, 9, 10, 11, 12, 16]) // 17, 18: within 3 of 19 and 9/8 RTT
  })
})

describe('duplicates, spaces and limits', () => {
  test('duplicates are detected per space and not recorded twice', () => {
    const t = new AckTracker()
    expect(t.onPacketReceived('application', 7, 0, true)).toBe(true)
    expect(t.isDuplicate('application', 7)).toBe(true)
    expect(t.isDuplicate('handshake', 7)).toBe(false)
    expect(t.onPacketReceived('application', 7, 1, true)).toBe(false)
    expect(t.largestReceived('application')).toBe(7)
    expect(t.largestReceived('initial')).toBeUndefined()
  })

  test('a discarded space forgets its state and treats every packet as a duplicate', () => {
    const t = new AckTracker()
    t.onPacketReceived('initial', 0, 0, true)
    t.discardSpace('initial')
    expect(t.pollTimeout()).toBeUndefined()
    expect(t.isDuplicate('initial', 1)).toBe(true)
    expect(t.onPacketReceived('initial', 1, 1, true)).toBe(false)
    expect(t.buildAck('initial', 1)).toBeUndefined()
  })

  test('maxAckRanges: at the limit every range fits; past it the oldest are left out; a smaller budget per call', () => {
    const t = new AckTracker({ limits: { maxAckRanges: 4 } })
    for (let i = 0; i < 4; i++) t.onPacketReceived('application', i * 2, i, true)
    expect(t.buildAck('application', 4)!.ranges.map((r) => r.largest)).toEqual([6, 4, 2, 0])
    t.onPacketReceived('application', 8, 5, true)
    expect(t.buildAck('application', 5)!.ranges.map((r) => r.largest)).toEqual([8, 6, 4, 2])
    expect(t.buildAck('application', 5, 2)!.ranges.map((r) => r.largest)).toEqual([8, 6])
    expect(t.buildAck('application', 5, 100)!.ranges).toHaveLength(4)
  })

  test('maxReceivedRanges: at the limit nothing is forgotten; past it the lowest range goes and its numbers become duplicates', () => {
    const t = new AckTracker({ limits: { maxReceivedRanges: 3, maxAckRanges: 8 } })
    for (const pn of [0, 2, 4]) t.onPacketReceived('application', pn, pn, true)
    expect(t.rangeCount('application')).toBe(3)
    expect(t.isDuplicate('application', 1)).toBe(false)
    t.onPacketReceived('application', 6, 6, true)
    expect(t.rangeCount('application')).toBe(3)
    expect(t.isDuplicate('application', 0)).toBe(true)
    expect(t.isDuplicate('application', 1)).toBe(false) // above the forgotten range
    expect(t.buildAck('application', 6)!.ranges.map((r) => r.smallest)).toEqual([6, 4, 2])
    // filling a gap merges ranges: nothing more is forgotten
    t.onPacketReceived('application', 5, 7, true)
    expect(t.rangeCount('application')).toBe(2)
  })

  test('option and argument checks', () => {
    expect(() => new AckTracker({ ackDelayExponent: 21 })).toThrow(RangeError)
    expect(() => new AckTracker({ maxAckDelay: 2 ** 14 })).toThrow(RangeError)
    expect(() => new AckTracker({ limits: { maxAckRanges: 0 } })).toThrow(RangeError)
    expect(() => new AckTracker({ ackElicitingThreshold: 0 })).toThrow(RangeError)
    expect(() => new AckTracker().onPacketReceived('application', -1, 0, true)).toThrow(RangeError)
  })
})
