// QUIC loss detection, RTT, PTO and NewReno (src/quic/recovery): deterministic scenarios taken from
// RFC 9002's text, each checking the numbers the RFC's formulas give.
import { describe, expect, test } from 'vitest'
import { Recovery, type AckFrame, type SentPacketInfo } from '../src/quic/recovery/index.js'
import type { PacketNumberSpace } from '../src/quic/types.js'
import { ProtocolError } from '../src/core/errors.js'
import { QuicProtocolError } from '../src/quic/errors.js'
import { MIN_PACING_DELAY, Pacer } from '../src/quic/recovery/pacer.js'
import { protocolErrorCode, usageErrorCode } from './helpers/errors.js'

type Rec = Recovery<string>

function sent(space: PacketNumberSpace, packetNumber: number, timeSent: number, extra: Partial<SentPacketInfo<string>> = {}): SentPacketInfo<string> {
  return { space, packetNumber, timeSent, ackEliciting: true, inFlight: true, size: 1200, frames: [`${space}:${packetNumber}`], ...extra }
}

/** An ACK frame for the given packet numbers (any order), ranges descending. */
function ack(pns: number[], ackDelay = 0, ecn?: AckFrame['ecn']): AckFrame {
  const sorted = [...new Set(pns)].sort((a, b) => b - a)
  const ranges: { smallest: number, largest: number }[] = []
  for (const pn of sorted) {
    const last = ranges[ranges.length - 1]
    if (last !== undefined && last.smallest === pn + 1) last.smallest = pn
    else ranges.push({ smallest: pn, largest: pn })
  }
  return ecn === undefined ? { ackDelay, ranges } : { ackDelay, ranges, ecn }
}

/** A client or server with the handshake confirmed (application PTO armed, ack delay capped). */
function confirmed(role: 'client' | 'server' = 'server', opts: Partial<ConstructorParameters<typeof Recovery>[0]> = {}): Rec {
  const r = new Recovery<string>({ role, ...opts })
  r.setHandshakeConfirmed(0)
  return r
}

const pns = (ps: readonly { packetNumber: number }[]): number[] => ps.map((p) => p.packetNumber)

describe('RTT estimation (RFC 9002 §5)', () => {
  test('before a sample: smoothed_rtt = kInitialRtt 333 ms, rttvar = 166.5 ms', () => {
    const r = confirmed()
    expect(r.rtt.smoothedRtt).toBe(333)
    expect(r.rtt.rttvar).toBe(166.5)
    expect(r.rtt.firstSampleTime).toBeUndefined()
  })

  test('the first sample seeds smoothed_rtt, rttvar = sample / 2 and min_rtt; the ack delay is not subtracted', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 1000))
    r.onAckReceived('application', ack([0], 10_000 / 8), 1100) // 10 ms ack delay, exponent 3
    expect(r.rtt).toMatchObject({ latestRtt: 100, smoothedRtt: 100, rttvar: 50, minRtt: 100, firstSampleTime: 1100 })
  })

  test('later samples: ack delay subtracted when it leaves at least min_rtt, capped at max_ack_delay once confirmed', () => {
    const r = confirmed('server', { maxAckDelay: 25 })
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 100)
    r.onPacketSent(sent('application', 1, 200))
    // latest 160, ack delay 40 ms capped to 25 -> adjusted 135
    r.onAckReceived('application', ack([0, 1], 40_000 / 8), 360)
    expect(r.rtt.latestRtt).toBe(160)
    expect(r.rtt.minRtt).toBe(100)
    expect(r.rtt.rttvar).toBe(0.75 * 50 + 0.25 * Math.abs(100 - 135))
    expect(r.rtt.smoothedRtt).toBe(0.875 * 100 + 0.125 * 135)
    r.onPacketSent(sent('application', 2, 400))
    // latest 110, ack delay 20: 110 < min_rtt 100 + 20, so the sample is taken whole
    const before = r.rtt.smoothedRtt
    r.onAckReceived('application', ack([0, 1, 2], 20_000 / 8), 510)
    expect(r.rtt.smoothedRtt).toBe(0.875 * before + 0.125 * 110)
  })

  test('before confirmation the ack delay is not capped; in the Initial and Handshake spaces it is ignored', () => {
    const r = new Recovery<string>({ role: 'client', maxAckDelay: 25 })
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 100)
    r.onPacketSent(sent('application', 1, 100))
    r.onAckReceived('application', ack([1], 50_000 / 8), 260) // latest 160, delay 50 uncapped -> 110
    expect(r.rtt.smoothedRtt).toBe(0.875 * 100 + 0.125 * 110)
    for (const space of ['initial', 'handshake'] as const) {
      const i = new Recovery<string>({ role: 'client' })
      i.onPacketSent(sent(space, 0, 0))
      i.onAckReceived(space, ack([0]), 100)
      i.onPacketSent(sent(space, 1, 100))
      i.onAckReceived(space, ack([1], 50_000 / 8), 260)
      expect(i.rtt.smoothedRtt).toBe(0.875 * 100 + 0.125 * 160)
    }
  })

  test('no sample unless the largest acknowledged is newly acknowledged and something ack-eliciting is', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0, { ackEliciting: false, inFlight: false }))
    r.onAckReceived('application', ack([0]), 50)
    expect(r.rtt.firstSampleTime).toBeUndefined()
    r.onPacketSent(sent('application', 1, 60))
    r.onPacketSent(sent('application', 2, 70))
    r.onAckReceived('application', ack([2]), 170)
    expect(r.rtt.latestRtt).toBe(100)
    r.onAckReceived('application', ack([1, 2]), 300) // 1 newly acked, but 2 (the largest) was not new
    expect(r.rtt.latestRtt).toBe(100)
  })
})

describe('loss detection (RFC 9002 §6.1)', () => {
  test('packet threshold: an ACK of 4 makes 0 and 1 lost (kPacketThreshold 3); 2 and 3 wait for the time threshold', () => {
    const r = confirmed()
    for (let pn = 0; pn <= 4; pn++) r.onPacketSent(sent('application', pn, pn))
    const res = r.onAckReceived('application', ack([4]), 104)
    expect(pns(res.acked)).toEqual([4])
    expect(pns(res.lost)).toEqual([0, 1])
    expect(res.lost.map((p) => p.frames[0])).toEqual(['application:0', 'application:1'])
    // loss_delay = 9/8 * max(latest_rtt 100, smoothed 100) = 112.5; the timer is packet 2's loss time
    expect(r.pollTimeout()).toBe(2 + 112.5)
    expect(r.bytesInFlight).toBe(2 * 1200)
  })

  test('time threshold: the unacknowledged packet is lost 9/8 RTT after it was sent, by the timer', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0))
    r.onPacketSent(sent('application', 1, 10))
    expect(pns(r.onAckReceived('application', ack([1]), 110).lost)).toEqual([])
    expect(r.pollTimeout()).toBe(112.5)
    expect(r.onTimeout(112)).toEqual({ lost: [], probe: undefined }) // early: nothing
    const res = r.onTimeout(112.5)
    expect(pns(res.lost)).toEqual([0])
    expect(res.probe).toBeUndefined()
    expect(r.bytesInFlight).toBe(0)
    expect(r.pollTimeout()).toBeUndefined()
  })

  test('a loss timer fires exactly at time_sent + loss_delay and declares the packet lost (no rounding loop)', () => {
    // (255.069 + 51.1875) - 51.1875 > 255.069 in binary floating point: written as now - loss_delay,
    // the check missed the packet and re-armed the same deadline forever
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 255.069))
    r.onPacketSent(sent('application', 1, 257.546))
    r.onAckReceived('application', ack([1]), 303.046) // loss_delay 9/8 * 45.5 = 51.1875
    const at = r.pollTimeout()!
    expect(at).toBe(255.069 + 51.1875)
    expect(pns(r.onTimeout(at).lost)).toEqual([0])
  })

  test('the loss delay is at least kGranularity (1 ms)', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0))
    r.onPacketSent(sent('application', 1, 0))
    r.onAckReceived('application', ack([1]), 0.1) // rtt 0.1 ms
    expect(r.pollTimeout()).toBe(1)
  })

  test('ACK-only packets are recorded, reported when acknowledged, never counted in flight', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0, { ackEliciting: false, inFlight: false, size: 50 }))
    expect(r.bytesInFlight).toBe(0)
    expect(r.pollTimeout()).toBeUndefined()
    expect(pns(r.onAckReceived('application', ack([0]), 20).acked)).toEqual([0])
  })
})

describe('probe timeout (RFC 9002 §6.2)', () => {
  test('PTO = smoothed_rtt + max(4 rttvar, 1) + max_ack_delay, doubled per expiry, reset by an ACK', () => {
    const r = confirmed('server', { maxAckDelay: 25 })
    r.onPacketSent(sent('application', 0, 0))
    expect(r.pollTimeout()).toBe(333 + 4 * 166.5 + 25)
    const res = r.onTimeout(1024)
    expect(res).toEqual({ lost: [], probe: { space: 'application', packets: 2 } })
    expect(r.ptoCount).toBe(1)
    expect(r.pollTimeout()).toBe(0 + 2 * (333 + 666) + 2 * 25) // from the last ack-eliciting send
    // probes go past the congestion window
    for (let pn = 1; pn <= 20; pn++) r.onPacketSent(sent('application', pn, 1024, { ackEliciting: false, inFlight: true }))
    expect(r.canSend(1200)).toBe(true)
    r.onPacketSent(sent('application', 21, 1024))
    r.onPacketSent(sent('application', 22, 1024))
    expect(r.probesPending).toBe(0)
    expect(r.canSend(1200)).toBe(false)
    expect(r.pollTimeout()).toBe(1024 + 2 * 1024)
    r.onTimeout(3072)
    expect(r.ptoCount).toBe(2)
    expect(r.pollTimeout()).toBe(1024 + 4 * 1024)
    r.onAckReceived('application', ack([22]), 3100)
    expect(r.ptoCount).toBe(0)
  })

  test('the backoff stops doubling at 2^30: after any number of PTOs the deadline is a finite number', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0))
    for (let i = 0; i < 40; i++) r.onTimeout(r.pollTimeout()!)
    expect(r.ptoCount).toBe(40)
    expect(r.pollTimeout()).toBe(0 + 2 ** 30 * (333 + 666 + 25))
    for (let i = 0; i < 1100; i++) r.onTimeout(r.pollTimeout()!)
    expect(Number.isFinite(r.pollTimeout())).toBe(true)
  })

  test('a PTO never declares packets lost', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0))
    r.onTimeout(5000)
    expect(r.bytesInFlight).toBe(1200)
    expect([...r.outstanding('application')].map((p) => p.packetNumber)).toEqual([0])
  })

  test('Initial and Handshake PTOs leave out max_ack_delay and the earlier space wins', () => {
    const r = new Recovery<string>({ role: 'server', maxAckDelay: 25 })
    r.onPacketSent(sent('initial', 0, 0))
    r.onPacketSent(sent('handshake', 0, 10))
    expect(r.pollTimeout()).toBe(999)
    expect(r.onTimeout(999).probe).toEqual({ space: 'initial', packets: 2 })
  })

  test('no application PTO before the handshake is confirmed (§6.2.1)', () => {
    const r = new Recovery<string>({ role: 'server' })
    r.onPacketSent(sent('application', 0, 0))
    expect(r.pollTimeout()).toBeUndefined()
    r.setHandshakeConfirmed(50)
    expect(r.pollTimeout()).toBe(1024)
  })

  test('client anti-deadlock probe (§6.2.2.1): padded Initial, then Handshake once it has the keys; none after a Handshake ACK', () => {
    const c = new Recovery<string>({ role: 'client' })
    c.onPacketSent(sent('initial', 0, 0))
    c.onAckReceived('initial', ack([0]), 100) // the server's Initial: nothing ack-eliciting in flight
    expect(c.pollTimeout()).toBe(100 + 100 + 4 * 50)
    expect(c.onTimeout(400).probe).toEqual({ space: 'initial', packets: 1 })
    expect(c.ptoCount).toBe(1)
    expect(c.pollTimeout()).toBe(400 + 2 * 300)
    c.setHandshakeKeysAvailable(400)
    expect(c.onTimeout(1000).probe).toEqual({ space: 'handshake', packets: 1 })
    c.onPacketSent(sent('handshake', 0, 1000))
    c.onAckReceived('handshake', ack([0]), 1100)
    expect(c.ptoCount).toBe(0)
    expect(c.pollTimeout()).toBeUndefined()
  })

  test('a server at its anti-amplification limit arms no PTO', () => {
    const s = new Recovery<string>({ role: 'server' })
    s.onPacketSent(sent('initial', 0, 0))
    expect(s.pollTimeout()).toBe(999)
    s.setAmplificationLimited(true, 5)
    expect(s.pollTimeout()).toBeUndefined()
    s.setAmplificationLimited(false, 6)
    expect(s.pollTimeout()).toBe(999)
  })

  test('discarding a space drops its packets from flight, restarts the backoff and re-arms the timer (§6.4)', () => {
    const r = new Recovery<string>({ role: 'client' })
    r.onPacketSent(sent('initial', 0, 0))
    r.onPacketSent(sent('handshake', 0, 5))
    r.onTimeout(999)
    expect(r.ptoCount).toBe(1)
    const cwnd = r.congestionWindow
    expect(pns(r.discardSpace('initial', 1000))).toEqual([0])
    expect(r.bytesInFlight).toBe(1200)
    expect(r.ptoCount).toBe(0)
    expect(r.congestionWindow).toBe(cwnd)
    expect(r.pollTimeout()).toBe(5 + 999)
    expect(usageErrorCode(() => r.onPacketSent(sent('initial', 1, 1000)))).toBe('quic/recovery-space-discarded')
    expect(r.onAckReceived('initial', ack([0]), 1001)).toEqual({ acked: [], lost: [] })
    expect(usageErrorCode(() => r.discardSpace('application' as 'initial', 1000))).toBe('quic/recovery-space-discarded')
  })
})

describe('Retry (RFC 9002 §6.3)', () => {
  test('a client that processed a Retry gets its Initials back, a fresh window and no timer; packet numbers go on', () => {
    const c = new Recovery<string>({ role: 'client' })
    c.onPacketSent(sent('initial', 0, 0))
    c.onPacketSent(sent('initial', 1, 1))
    c.onTimeout(1000) // the PTO runs from the last ack-eliciting packet
    expect(c.ptoCount).toBe(1)
    const back = c.onRetry(50)
    expect(back.map((p) => p.frames[0])).toEqual(['initial:0', 'initial:1'])
    expect(c.bytesInFlight).toBe(0)
    expect(c.ptoCount).toBe(0)
    expect(c.probesPending).toBe(0)
    expect(c.congestionWindow).toBe(12_000)
    // nothing ack-eliciting in flight and the address not validated: the anti-deadlock timer, from now
    expect(c.pollTimeout()).toBe(50 + 333 + 666)
    expect(usageErrorCode(() => c.onPacketSent(sent('initial', 1, 60)))).toBe('quic/recovery-packet-number')
    c.onPacketSent(sent('initial', 2, 60))
    expect(c.pollTimeout()).toBe(60 + 999)
  })
})

describe('NewReno (RFC 9002 §7, Appendix B)', () => {
  test('initial window min(10 * 1200, max(14720, 2400)) = 12000; slow start adds every acknowledged byte', () => {
    const r = confirmed()
    expect(r.congestionWindow).toBe(12_000)
    expect(r.ssthresh).toBe(Infinity)
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent('application', pn, 0))
    expect(r.canSend(1200)).toBe(false)
    r.onAckReceived('application', ack([...Array(10).keys()]), 50)
    expect(r.congestionWindow).toBe(24_000)
    expect(r.canSend(1200)).toBe(true)
  })

  test('a loss halves the window once per recovery period; recovery ends when a packet sent in it is acknowledged', () => {
    const r = confirmed()
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent('application', pn, pn))
    const res = r.onAckReceived('application', ack([4, 5, 6, 7, 8, 9]), 100)
    expect(pns(res.lost)).toEqual([0, 1, 2, 3])
    // slow start on the 6 acked packets happened after the event, but they were sent before it: no growth
    expect(r.ssthresh).toBe(6000)
    expect(r.congestionWindow).toBe(6000)
    expect(r.inRecovery).toBe(true)
    // a later loss of a packet sent before the period began does not reduce again
    r.onPacketSent(sent('application', 10, 150))
    r.onPacketSent(sent('application', 11, 151))
    r.onPacketSent(sent('application', 12, 152))
    r.onPacketSent(sent('application', 13, 153))
    expect(r.congestionWindow).toBe(6000)
    // packet 10 (sent after the period began) acknowledged: recovery over, congestion avoidance
    r.onAckReceived('application', ack([10]), 250)
    expect(r.inRecovery).toBe(false)
    expect(r.congestionWindow).toBe(6000 + (1200 * 1200) / 6000)
    // 11..13 lost (sent after the last recovery period began): a new congestion event
    for (let pn = 14; pn <= 16; pn++) r.onPacketSent(sent('application', pn, 140 + pn))
    const res2 = r.onAckReceived('application', ack([10, 16]), 260)
    expect(pns(res2.lost)).toEqual([11, 12, 13])
    expect(r.congestionWindow).toBe((6000 + (1200 * 1200) / 6000) / 2) // 16 was sent before this period: no growth
    expect(r.inRecovery).toBe(true)
  })

  test('the window never drops below kMinimumWindow = 2 * max_datagram_size', () => {
    const r = confirmed()
    let pn = 0
    let now = 0
    for (let round = 0; round < 8; round++) {
      const first = pn
      for (let i = 0; i < 5; i++) r.onPacketSent(sent('application', pn++, now))
      now += 100
      r.onAckReceived('application', ack([pn - 1]), now) // the first four are lost: one event per round
      expect(r.congestionWindow).toBeGreaterThanOrEqual(2400)
      expect(pn - first).toBe(5)
      now += 1
    }
    expect(r.congestionWindow).toBe(2400)
  })

  test('persistent congestion (§7.6): two ack-eliciting losses more than 3 PTO apart collapse the window to 2400', () => {
    const r = confirmed('server', { maxAckDelay: 25 })
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 100) // smoothed 100, rttvar 50: duration (100 + 200 + 25) * 3 = 975
    for (let pn = 1; pn <= 8; pn++) r.onPacketSent(sent('application', pn, 100 + (pn - 1) * 140)) // 100 .. 1080
    r.onPacketSent(sent('application', 9, 1200))
    r.onPacketSent(sent('application', 10, 1210))
    r.onPacketSent(sent('application', 11, 1220))
    r.onPacketSent(sent('application', 12, 1230))
    const res = r.onAckReceived('application', ack([0, 12]), 1330)
    expect(pns(res.lost)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) // 10 by time: sent at 1210 < 1330 - 9/8 * 100
    // Appendix B order: losses first (collapse to 2400, recovery ended), then packet 12's slow-start growth
    expect(r.congestionWindow).toBe(2400 + 1200)
    expect(r.ssthresh).toBe(13_200 / 2)
    expect(r.inRecovery).toBe(false)
    expect(r.rtt.minRtt).toBe(r.rtt.latestRtt) // min_rtt restarts from the newest sample (§5.2)
  })

  test('no persistent congestion when a packet sent between the two was acknowledged, or the span is short', () => {
    const a = confirmed('server', { maxAckDelay: 25 })
    a.onPacketSent(sent('application', 0, 0))
    a.onAckReceived('application', ack([0]), 100)
    for (let pn = 1; pn <= 8; pn++) a.onPacketSent(sent('application', pn, 100 + (pn - 1) * 140))
    for (let pn = 9; pn <= 12; pn++) a.onPacketSent(sent('application', pn, 1200 + pn))
    const res = a.onAckReceived('application', ack([0, 5, 12]), 1330)
    expect(pns(res.lost)).toEqual([1, 2, 3, 4, 6, 7, 8, 9])
    expect(a.congestionWindow).toBe(13_200 / 2) // one halving only (packet 0's ACK grew it to 13200)

    const b = confirmed('server', { maxAckDelay: 25 })
    b.onPacketSent(sent('application', 0, 0))
    b.onAckReceived('application', ack([0]), 100)
    for (let pn = 1; pn <= 8; pn++) b.onPacketSent(sent('application', pn, 100 + (pn - 1) * 100)) // 100 .. 800
    for (let pn = 9; pn <= 12; pn++) b.onPacketSent(sent('application', pn, 810 + pn))
    // sample 178 ms: duration (109.75 + 4 * 57 + 25) * 3 = 1088.25 > 819 - 100
    expect(pns(b.onAckReceived('application', ack([0, 12]), 1000).lost)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(b.congestionWindow).toBe(13_200 / 2)
  })

  test('packets sent before the first RTT sample never establish persistent congestion', () => {
    const r = confirmed('server', { maxAckDelay: 25 })
    for (let pn = 0; pn <= 8; pn++) r.onPacketSent(sent('application', pn, pn * 1000))
    for (let pn = 9; pn <= 12; pn++) r.onPacketSent(sent('application', pn, 9000 + pn))
    r.onAckReceived('application', ack([12]), 9100) // the first sample comes with the losses
    expect(r.congestionWindow).toBe(6000)
  })

  test('an ECN-CE count increase is a congestion event (Appendix B.7); the same count again is not', () => {
    const r = confirmed()
    for (let pn = 0; pn < 4; pn++) r.onPacketSent(sent('application', pn, pn))
    r.onAckReceived('application', ack([0, 1], 0, { ect0: 2, ect1: 0, ce: 1 }), 100)
    expect(r.congestionWindow).toBe(6000)
    expect(r.inRecovery).toBe(true)
    r.onPacketSent(sent('application', 4, 101))
    r.onAckReceived('application', ack([0, 1, 2, 3, 4], 0, { ect0: 4, ect1: 0, ce: 1 }), 200)
    expect(r.congestionWindow).toBe(6000 + (1200 * 1200) / 6000)
  })

  test('application-limited: acknowledgments do not grow the window (§7.8)', () => {
    const r = confirmed()
    r.setAppLimited(true)
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 10)
    expect(r.congestionWindow).toBe(12_000)
    r.setAppLimited(false)
    r.onPacketSent(sent('application', 1, 10))
    r.onAckReceived('application', ack([0, 1]), 20)
    expect(r.congestionWindow).toBe(13_200)
  })

  test('the pacing rate is 1.25 * cwnd / smoothed_rtt (§7.7)', () => {
    const r = confirmed()
    expect(r.pacingRate).toBeCloseTo((1.25 * 12_000) / 333)
  })

  test('pacing (§7.7): a burst of the initial window goes at once, the next packet waits size / rate, tokens refill', () => {
    const r = confirmed('server', { limits: { maxWindowPackets: 100 } })
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 100) // smoothed_rtt 100, window 13200: rate 1.25 * 13200 / 100 = 165 B/ms
    const rate = r.pacingRate
    expect(rate).toBe(165)
    let pn = 1
    for (let i = 0; i < 10; i++) {
      expect(r.nextSendTime(1200, 100)).toBe(100)
      r.onPacketSent(sent('application', pn++, 100))
    }
    expect(r.nextSendTime(1200, 100)).toBeCloseTo(100 + 1200 / rate)
    expect(r.nextSendTime(1200, 100 + 1200 / rate)).toBeCloseTo(100 + 1200 / rate)
    // ACK-only packets are not paced and take no tokens
    r.onPacketSent(sent('application', pn++, 101, { ackEliciting: false, inFlight: false, size: 50 }))
    expect(r.nextSendTime(1200, 101)).toBeCloseTo(100 + 1200 / rate)
    // a PTO's probes are not paced
    r.onTimeout(r.pollTimeout()!)
    expect(r.probesPending).toBe(2)
    expect(r.nextSendTime(1200, 102)).toBe(102)
  })
})

describe("pacing below a timer's resolution", () => {
  test('a wait shorter than MIN_PACING_DELAY (1 ms) is no wait: the packet goes now, the bucket is empty after it', () => {
    const p = new Pacer()
    // 64 KB datagrams, a 131 KB burst, 200 MB/s (200,000 B/ms): a datagram's wait is 0.33 ms
    const rate = 200_000
    const burst = 131_016
    let now = 10
    for (let i = 0; i < 2; i++) { expect(p.nextSendTime(now, 65_508, rate, burst)).toBe(now); p.onPacketSent(now, 65_508, rate, burst) }
    expect(p.nextSendTime(now, 65_508, rate, burst)).toBe(now) // 0.33 ms: sent now
    p.onPacketSent(now, 65_508, rate, burst)
    now += 0.1
    expect(p.nextSendTime(now, 65_508, rate, burst)).toBe(now)
    // at 20 MB/s the same datagram waits 3.3 ms, as before
    const slow = 20_000
    const q = new Pacer()
    for (let i = 0; i < 2; i++) q.onPacketSent(now, 65_508, slow, burst)
    expect(q.nextSendTime(now, 65_508, slow, burst)).toBeCloseTo(now + 65_508 / slow)
    expect(MIN_PACING_DELAY).toBe(1)
  })
})

describe('hostile acknowledgments', () => {
  test('an ACK of a packet never sent is a PROTOCOL_VIOLATION (RFC 9000 §13.1) with its transport code', () => {
    const r = confirmed()
    expect(protocolErrorCode(() => r.onAckReceived('application', ack([0]), 1))).toBe('PROTOCOL_VIOLATION')
    r.onPacketSent(sent('application', 0, 0))
    try {
      r.onAckReceived('application', ack([0, 1]), 1)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect((e as ProtocolError).protocol).toBe('quic')
      expect((e as QuicProtocolError).transportCode).toBe(0x0a)
      expect((e as QuicProtocolError).frameType).toBe(0x02)
    }
  })

  test('an ACK of a skipped packet number is an optimistic ACK: PROTOCOL_VIOLATION (RFC 9000 §21.4)', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 0, 0))
    r.onPacketSent(sent('application', 2, 1)) // 1 skipped
    expect(protocolErrorCode(() => r.onAckReceived('application', { ackDelay: 0, ranges: [{ smallest: 0, largest: 2 }] }, 5))).toBe('PROTOCOL_VIOLATION')
    expect(pns(r.onAckReceived('application', ack([0, 2]), 6).acked)).toEqual([0, 2])
  })

  test('ranges that are empty, ascending, overlapping or adjacent are a FRAME_ENCODING_ERROR', () => {
    const r = confirmed()
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent('application', pn, 0))
    for (const ranges of [[], [{ smallest: 5, largest: 4 }], [{ smallest: 1, largest: 2 }, { smallest: 5, largest: 6 }], [{ smallest: 5, largest: 6 }, { smallest: 3, largest: 4 }], [{ smallest: -1, largest: 2 }]]) {
      expect(protocolErrorCode(() => r.onAckReceived('application', { ackDelay: 0, ranges }, 1))).toBe('FRAME_ENCODING_ERROR')
    }
    expect(r.bytesInFlight).toBe(12_000)
  })

  test('one range of 2^53 packet numbers costs what the packets it covers cost', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 2 ** 52, 0))
    const t0 = performance.now()
    expect(pns(r.onAckReceived('application', { ackDelay: 2 ** 40, ranges: [{ smallest: 0, largest: 2 ** 52 }] }, 10).acked)).toEqual([2 ** 52])
    expect(performance.now() - t0).toBeLessThan(500)
    expect(Number.isFinite(r.rtt.smoothedRtt)).toBe(true)
  })

  test('packet numbers must increase within a space', () => {
    const r = confirmed()
    r.onPacketSent(sent('application', 5, 0))
    expect(usageErrorCode(() => r.onPacketSent(sent('application', 5, 1)))).toBe('quic/recovery-packet-number')
    expect(usageErrorCode(() => r.onPacketSent(sent('application', 4, 1)))).toBe('quic/recovery-packet-number')
    r.onPacketSent(sent('handshake', 0, 1)) // spaces are independent
  })
})

describe('limits', () => {
  test('maxSentPackets: at the limit canSend is false and an in-flight packet is refused; ACK-only records make room', () => {
    const r = confirmed('server', { limits: { maxSentPackets: 4 } })
    r.onPacketSent(sent('application', 0, 0, { ackEliciting: false, inFlight: false, size: 40 }))
    for (let pn = 1; pn <= 3; pn++) r.onPacketSent(sent('application', pn, 0, { size: 100 }))
    expect(r.sentPacketCount).toBe(4)
    expect(r.canSend(100)).toBe(false)
    // past the limit: the oldest ACK-only record is forgotten to make room
    r.onPacketSent(sent('application', 4, 1, { size: 100 }))
    expect(r.sentPacketCount).toBe(4)
    expect([...r.outstanding('application')].map((p) => p.packetNumber)).toEqual([1, 2, 3, 4])
    expect(usageErrorCode(() => r.onPacketSent(sent('application', 5, 1, { size: 100 })))).toBe('quic/recovery-full')
    // an ACK-only packet past the limit with nothing to evict is simply not recorded
    r.onPacketSent(sent('application', 6, 1, { ackEliciting: false, inFlight: false, size: 40 }))
    expect(r.sentPacketCount).toBe(4)
    r.onAckReceived('application', ack([1, 2, 3, 4]), 10)
    expect(r.canSend(100)).toBe(true)
  })

  test('maxWindowPackets: the window stops growing at the ceiling', () => {
    const r = confirmed('server', { limits: { maxWindowPackets: 12 } })
    let pn = 0
    for (let round = 0; round < 5; round++) {
      const batch: number[] = []
      while (r.canSend(1200)) { r.onPacketSent(sent('application', pn, round * 10)); batch.push(pn++) }
      r.onAckReceived('application', ack(batch), round * 10 + 5)
    }
    expect(r.congestionWindow).toBe(12 * 1200)
  })

  test('maxSkippedRanges: the newest skipped ranges are checked, older ones forgotten', () => {
    const r = confirmed('server', { limits: { maxSkippedRanges: 2 } })
    for (const pn of [0, 2, 4, 6]) r.onPacketSent(sent('application', pn, pn)) // skipped 1, 3, 5
    expect(protocolErrorCode(() => r.onAckReceived('application', { ackDelay: 0, ranges: [{ smallest: 3, largest: 4 }] }, 10))).toBe('PROTOCOL_VIOLATION')
    // 1 fell out of the remembered ranges: not detected
    expect(pns(r.onAckReceived('application', { ackDelay: 0, ranges: [{ smallest: 0, largest: 2 }] }, 10).acked)).toEqual([0, 2])
  })

  test('option checks', () => {
    expect(() => new Recovery({ role: 'client', maxDatagramSize: 1199 })).toThrow(RangeError)
    expect(() => new Recovery({ role: 'client', initialRtt: 0 })).toThrow(RangeError)
    expect(() => new Recovery({ role: 'client', maxAckDelay: 2 ** 14 })).toThrow(RangeError)
    expect(() => new Recovery({ role: 'client', limits: { maxSentPackets: 0 } })).toThrow(RangeError)
    expect(() => confirmed().setPeerParameters({ ackDelayExponent: 21 })).toThrow(RangeError)
  })

  test('setPeerParameters: the ack delay exponent scales the ACK Delay field', () => {
    const r = confirmed('server', { maxAckDelay: 100 })
    r.setPeerParameters({ ackDelayExponent: 0, maxAckDelay: 100 })
    r.onPacketSent(sent('application', 0, 0))
    r.onAckReceived('application', ack([0]), 100)
    r.onPacketSent(sent('application', 1, 100))
    r.onAckReceived('application', ack([1], 40_000), 260) // 40 ms at exponent 0 -> adjusted 120
    expect(r.rtt.smoothedRtt).toBe(0.875 * 100 + 0.125 * 120)
  })

  test('setMaxDatagramSize raises the minimum window', () => {
    const r = confirmed()
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent('application', pn, pn))
    r.onAckReceived('application', ack([9]), 100)
    r.setMaxDatagramSize(1500)
    expect(r.congestionWindow).toBeGreaterThanOrEqual(3000)
    expect(() => r.setMaxDatagramSize(70_000)).toThrow(RangeError)
  })
})
