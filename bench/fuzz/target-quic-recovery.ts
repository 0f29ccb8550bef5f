/**
 * QUIC recovery target (src/quic/recovery): a script of sends, honest ACKs (an AckTracker as the
 * peer), hostile ACK frames (ranges above what was sent, over skipped numbers, overlapping, ascending,
 * 2^53-wide, huge ACK Delay, ECN counts going up and down), clock jumps, timer expiries, handshake
 * events, space discards and peer parameters, decoded from the input bytes (any bytes are a script).
 * Checks after every step: bytes_in_flight equals the sum of the outstanding in-flight records; the
 * window stays in [kMinimumWindow, its ceiling]; the sent-packet records stay within their limit; no
 * packet is reported (acknowledged, lost, discarded) twice or while still outstanding; the RTT
 * estimate and the timer stay finite; the PTO is armed while ack-eliciting packets it may probe are in
 * flight; an expired timer declares a loss or asks for a probe (the float rounding bug fixed in
 * sent.ts made it fire forever); a refused ACK is a QuicProtocolError (PROTOCOL_VIOLATION or
 * FRAME_ENCODING_ERROR) and leaves the state as it was. Remote input never throws anything else.
 */
import { QuicProtocolError } from '../../src/quic/errors.js'
import { AckTracker, Recovery, type AckFrame, type SentPacket } from '../../src/quic/recovery/index.js'
import type { PacketNumberSpace } from '../../src/quic/types.js'
import { check, count, type Target } from './engine.js'
import { mutate } from './mutate.js'
import type { Rand } from './rng.js'
import { Script } from './script.js'

const SPACES: readonly PacketNumberSpace[] = ['initial', 'handshake', 'application']
const MAX_SENT = 512
const MAX_WINDOW_PACKETS = 64
const OPS = 8

const stats: Record<string, number> = {}

function generate(r: Rand): Uint8Array {
  const out: number[] = []
  const n = r.range(1, 120)
  for (let i = 0; i < n; i++) {
    const op = r.pick([0, 0, 0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 6, 7])
    out.push(op)
    switch (op) {
      case 0: out.push(r.int(3), r.int(256), r.int(6), r.int(256), r.int(64)); break // space, flags, size hi, size lo, dt
      case 1: out.push(r.int(3), r.int(40)); break // honest ACK: space, max ranges
      case 2: { // hostile ACK
        out.push(r.int(3), r.int(256))
        const ranges = r.range(0, 9)
        out.push(ranges)
        for (let k = 0; k < ranges * 4; k++) out.push(r.int(256))
        for (let k = 0; k < 8; k++) out.push(r.int(256))
        break
      }
      case 3: out.push(r.int(256), r.int(256)); break // clock jump
      case 4: break // timer expiry
      case 5: out.push(r.int(9), r.int(256), r.int(256)); break // handshake event / parameters / Retry
      case 6: out.push(r.int(3), r.int(256)); break // peer receives or loses the last packets
      default: out.push(r.int(256), r.int(256)); break
    }
  }
  const bytes = Uint8Array.from(out)
  return r.chance(0.3) ? mutate(r, bytes) : bytes
}

function run(input: Uint8Array): void {
  const s = new Script(input)
  const role = (input[0] ?? 0) & 1 ? 'client' : 'server'
  const rec = new Recovery<number>({ role, limits: { maxSentPackets: MAX_SENT, maxWindowPackets: MAX_WINDOW_PACKETS, maxSkippedRanges: 4 } })
  const peer = new AckTracker({ limits: { maxReceivedRanges: 16, maxAckRanges: 32 } })
  const next: Record<PacketNumberSpace, number> = { initial: 0, handshake: 0, application: 0 }
  const discarded = new Set<PacketNumberSpace>()
  const reported = new Set<string>()
  const pending: Array<{ space: PacketNumberSpace, pn: number, ae: boolean }> = []
  let confirmed = false
  let amplificationLimited = false
  let now = 0
  let minWindow = 2400
  const report = (ps: readonly SentPacket<number>[]): void => {
    for (const p of ps) {
      const key = `${p.space}:${p.packetNumber}`
      check(!reported.has(key), `${key} reported twice`)
      reported.add(key)
    }
  }
  for (let steps = 0; !s.done && steps < 4096; steps++) {
    const op = s.u8() % OPS
    switch (op) {
      case 0: {
        const space = SPACES[s.u8() % 3]!
        const flags = s.u8()
        const size = ((s.u8() << 8) | s.u8()) % 1500
        now += s.u8() / 4
        if (discarded.has(space)) break
        if (flags & 0x30) next[space] += (flags >> 4) & 3 // skipped numbers
        const ae = (flags & 1) === 1
        let inFlight = ae || (flags & 2) === 2
        if (inFlight && !rec.canSend(size)) {
          if (ae) break
          inFlight = false
        }
        const at = rec.nextSendTime(size, now)
        check(Number.isFinite(at) && at >= now, `pacer: next send time ${at} at ${now}`)
        const pn = next[space]++
        rec.onPacketSent({ space, packetNumber: pn, timeSent: now, ackEliciting: ae, inFlight, size, frames: [pn] })
        pending.push({ space, pn, ae })
        count(stats, 'sent')
        break
      }
      case 1: {
        const space = SPACES[s.u8() % 3]!
        const f = peer.buildAck(space, now, (s.u8() % 40) + 1)
        if (f === undefined) break
        peer.onAckSent(space)
        // "honest" unless op 7 made the peer claim packet numbers never sent
        deliverAck(rec, space, f, now, report, 'honest')
        break
      }
      case 2: hostileAck(s, rec, now, report); break
      case 3: now += s.u16() / 8; break
      case 4: {
        const t = rec.pollTimeout()
        if (t === undefined) break
        now = Math.max(now, t)
        const res = rec.onTimeout(now)
        // an expired timer declares a loss, asks for a probe, or (a space's loss_time computed with an RTT
        // that has grown since) moves on; it never stays where it fired without doing anything
        const again = rec.pollTimeout()
        check(res.lost.length > 0 || res.probe !== undefined || again === undefined || again > now, `the timer at ${t} fired without a loss, a probe or moving on`)
        if (res.lost.length === 0 && res.probe === undefined) count(stats, 'stale-loss-timer')
        report(res.lost)
        count(stats, res.probe !== undefined ? 'pto' : 'loss-timer')
        break
      }
      case 5: {
        const kind = s.u8() % 9
        const a = s.u8()
        const b = s.u8()
        if (kind === 0) { confirmed = true; rec.setHandshakeConfirmed(now) }
        if (kind === 1) rec.setHandshakeKeysAvailable(now)
        if (kind === 2 || kind === 3) {
          const space = kind === 2 ? 'initial' : 'handshake'
          report(rec.discardSpace(space, now))
          peer.discardSpace(space)
          discarded.add(space)
        }
        if (kind === 4) { amplificationLimited = (a & 1) === 1; rec.setAmplificationLimited(amplificationLimited, now) }
        if (kind === 5) rec.setAppLimited((a & 1) === 1)
        if (kind === 6) rec.setPeerParameters({ maxAckDelay: ((a << 8) | b) % 16384, ackDelayExponent: a % 21 })
        if (kind === 7) { const m = 1200 + ((a << 8) | b) % 1000; rec.setMaxDatagramSize(m); minWindow = 2 * m }
        if (kind === 8 && role === 'client' && !discarded.has('initial')) report(rec.onRetry(now))
        break
      }
      case 6: {
        // the peer receives (or never sees) the packets sent since the last delivery, in any order
        const space = SPACES[s.u8() % 3]!
        const mask = s.u8()
        const batch = pending.filter((p) => p.space === space)
        for (let i = 0; i < pending.length; i++) if (pending[i]!.space === space) pending.splice(i--, 1)
        batch.forEach((p, i) => {
          if (((mask >> (i % 8)) & 1) === 0) return
          if (!peer.isDuplicate(space, p.pn)) peer.onPacketReceived(space, p.pn, now, p.ae)
        })
        break
      }
      default: {
        // now and then the peer claims a packet number it cannot have received (skipped, or never sent):
        // its ACKs in that space are refused from then on
        const x = s.u8()
        const space = SPACES[(x >> 1) % 3]!
        const pn = s.u8() % (next[space] + 2)
        if ((x & 0x81) === 0x81 && !peer.isDuplicate(space, pn)) peer.onPacketReceived(space, pn, now, true)
        break
      }
    }
    invariants(rec, reported, confirmed && !(role === 'server' && amplificationLimited), minWindow)
  }
}

function hostileAck(s: Script, rec: Recovery<number>, now: number, report: (ps: readonly SentPacket<number>[]) => void): void {
  const space = SPACES[s.u8() % 3]!
  const mode = s.u8()
  const n = s.u8() % 10
  const base = rec.largestAcked(space) ?? 0
  const ranges: Array<{ smallest: number, largest: number }> = []
  for (let i = 0; i < n; i++) {
    const a = s.u16()
    const b = s.u16()
    if (mode & 1) ranges.push({ smallest: a, largest: a + (b % 64) }) // arbitrary order, maybe overlapping
    else {
      const top = i === 0 ? base + (a % 64) : Math.max(-1, ranges[i - 1]!.smallest - 2 - (a % 8))
      ranges.push({ smallest: Math.max(mode & 2 ? -1 : 0, top - (b % 16)), largest: top })
    }
  }
  if (mode & 4) ranges.unshift({ smallest: 0, largest: mode & 8 ? 2 ** 53 - 1 : 2 ** 40 })
  const delay = mode & 16 ? 2 ** 52 + s.u32() : s.u32() % 100_000
  const ecnBase = s.u32()
  const ack: AckFrame = mode & 32 ? { ackDelay: delay, ranges, ecn: { ect0: ecnBase % 1000, ect1: 0, ce: (ecnBase >>> 16) % 50 } } : { ackDelay: delay, ranges }
  deliverAck(rec, space, ack, now, report, 'hostile')
}

/** Feed one ACK frame: accepted, or refused with a QuicProtocolError that leaves the state untouched. */
function deliverAck(rec: Recovery<number>, space: PacketNumberSpace, ack: AckFrame, now: number, report: (ps: readonly SentPacket<number>[]) => void, kind: string): void {
  const before = { inFlight: rec.bytesInFlight, records: rec.sentPacketCount, cwnd: rec.congestionWindow, timer: rec.pollTimeout(), pto: rec.ptoCount }
  try {
    const res = rec.onAckReceived(space, ack, now)
    report(res.acked)
    report(res.lost)
    count(stats, `${kind}-ack-${res.lost.length > 0 ? 'with-loss' : 'accepted'}`)
  } catch (e) {
    check(e instanceof QuicProtocolError && (e.code === 'PROTOCOL_VIOLATION' || e.code === 'FRAME_ENCODING_ERROR'), `unexpected error from an ACK: ${String(e)}`)
    const after = { inFlight: rec.bytesInFlight, records: rec.sentPacketCount, cwnd: rec.congestionWindow, timer: rec.pollTimeout(), pto: rec.ptoCount }
    check(JSON.stringify(before) === JSON.stringify(after), 'a refused ACK changed the state')
    count(stats, `${kind}-ack-${e.code}`)
  }
}

/** `ptoExpected`: the handshake is confirmed and no anti-amplification limit keeps a server from arming its PTO. */
function invariants(rec: Recovery<number>, reported: Set<string>, ptoExpected: boolean, minWindow: number): void {
  let inFlight = 0
  let eligible = 0
  for (const space of SPACES) {
    for (const p of rec.outstanding(space)) {
      check(!reported.has(`${space}:${p.packetNumber}`), `${space}:${p.packetNumber} reported yet outstanding`)
      if (p.inFlight) inFlight += p.size
      if (p.inFlight && p.ackEliciting) eligible++
    }
  }
  check(rec.bytesInFlight === inFlight, `bytes_in_flight ${rec.bytesInFlight} != ${inFlight}`)
  check(rec.congestionWindow >= Math.min(minWindow, 2400) && rec.congestionWindow <= MAX_WINDOW_PACKETS * 3200, `window ${rec.congestionWindow} out of bounds`)
  check(rec.sentPacketCount <= MAX_SENT, `${rec.sentPacketCount} records`)
  const t = rec.pollTimeout()
  check(t === undefined || Number.isFinite(t), `timer ${t}`)
  check(Number.isFinite(rec.rtt.smoothedRtt) && rec.rtt.smoothedRtt >= 0 && Number.isFinite(rec.rtt.rttvar) && rec.rtt.rttvar >= 0, 'RTT not finite')
  check(!ptoExpected || eligible === 0 || t !== undefined, `${eligible} ack-eliciting packets in flight and no timer`)
}

export const quicRecoveryTarget: Target = {
  name: 'quic-recovery',
  stats,
  generate,
  run,
}
