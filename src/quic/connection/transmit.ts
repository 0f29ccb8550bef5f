/**
 * Building datagrams (RFC 9000 §12.2, §13, §14; RFC 9002 §6.2.4, §7): per encryption level, an
 * ACK when due, CRYPTO data, then (1-RTT) control frames and stream data, coalesced into one UDP
 * payload; congestion window and pacing gate ack-eliciting packets, the server's anti-amplification
 * limit bounds the datagram, Initial-carrying datagrams are padded to 1200 bytes.
 */
import { quicError } from '../errors.js'
import { countsInFlight, frameSize, isAckEliciting, writeFrame as writeFrameInto } from '../frames.js'
import { MIN_INITIAL_DATAGRAM_SIZE, packetNumberLength, type SendHeader } from '../packet.js'
import { AEAD_TAG_LENGTH, nextPacketKeys, packetLayout, packetSize, sealInPlace, sealPacket, type PacketLayout } from '../protection.js'
import { varintSize } from '../varint.js'
import type { SentPacket } from '../recovery/index.js'
import type { Frame, PacketNumberSpace } from '../types.js'
import type { ConnState, Space } from './state.js'

const SPACES: readonly PacketNumberSpace[] = ['initial', 'handshake', 'application']
/** Below this many bytes of room a packet is not worth starting. */
const MIN_ROOM = 24

/** Drops a space's keys and state (RFC 9001 §4.9). */
export function discardSpace(s: ConnState, name: 'initial' | 'handshake', now: number): void {
  const sp = s.spaces[name]
  if (sp.discarded) return
  sp.discarded = true
  sp.send = undefined
  sp.recv = undefined
  sp.probes = 0
  s.recovery.discardSpace(name, now)
  s.ack.discardSpace(name)
}

/** Re-evaluates the server's three-times limit (RFC 9000 §8.1) and tells recovery when it changes. */
export function amplificationBudget(s: ConnState, now: number): number {
  if (s.role === 'client' || s.addressValidated) return Number.POSITIVE_INFINITY
  const budget = 3 * s.bytesReceived - s.bytesSent
  const limited = budget < s.maxDatagramSize
  if (limited !== s.amplificationLimited) {
    s.amplificationLimited = limited
    s.recovery.setAmplificationLimited(limited, now)
  }
  return Math.max(0, budget)
}

function header(s: ConnState, space: PacketNumberSpace): SendHeader {
  const dcid = s.peerCids.current
  if (space === 'initial') return s.role === 'client' ? { type: 'initial', dcid, scid: s.localCid, token: s.token } : { type: 'initial', dcid, scid: s.localCid }
  if (space === 'handshake') return { type: 'handshake', dcid, scid: s.localCid }
  return { type: '1rtt', dcid, keyPhase: s.keys.phase }
}

/** Bytes of a packet's header with a `pnLength` packet number, the Length field counted as 2 bytes. */
function headerSize(h: SendHeader, pnLength: number): number {
  if (h.type === '1rtt') return 1 + h.dcid.length + pnLength
  const token = h.type === 'initial' ? (h.token?.length ?? 0) : 0
  return 7 + h.dcid.length + h.scid.length + (h.type === 'initial' ? varintSize(token) + token : 0) + 2 + pnLength
}

interface Plan {
  readonly space: Space
  readonly header: SendHeader
  readonly pn: number
  readonly pnLength: 1 | 2 | 3 | 4
  readonly frames: Frame[]
  readonly ackEliciting: boolean
}

const STREAM_FRAMES = new Set(['stream', 'reset_stream', 'stop_sending', 'max_data', 'max_stream_data', 'max_streams', 'data_blocked', 'stream_data_blocked', 'streams_blocked'])
export const isStreamFrame = (f: Frame): boolean => STREAM_FRAMES.has(f.type)

/** Ack-eliciting frames of `sp` that fit `room` bytes. */
function elicitingFrames(s: ConnState, sp: Space, room: number, now: number): Frame[] {
  const out: Frame[] = []
  let left = room
  const push = (f: Frame): void => { out.push(f); left -= frameSize(f) }
  for (let f = sp.cryptoSend.poll(left); f !== undefined; f = sp.cryptoSend.poll(left)) push(f)
  if (sp.name === 'application') {
    if (s.handshakeDonePending && left >= 1) { s.handshakeDonePending = false; push({ type: 'handshake_done' }) }
    if (s.pathResponse !== undefined && left >= 9) { push({ type: 'path_response', data: s.pathResponse }); s.pathResponse = undefined }
    if (s.pathChallenge !== undefined && s.handshakeConfirmed && left >= 9) {
      push({ type: 'path_challenge', data: s.pathChallenge })
      s.pathChallengeSent = { data: s.pathChallenge, at: now }
      s.pathChallenge = undefined
    }
    for (let f = s.peerCids.poll(left); f !== undefined; f = s.peerCids.poll(left)) push(f)
    for (let f = s.localCids.poll(left); f !== undefined; f = s.localCids.poll(left)) push(f)
    if (s.handshakeComplete) {
      while (left >= MIN_ROOM) {
        const f = s.streams.pollFrame(left)
        if (f === undefined) break
        push(f)
      }
    }
  }
  if (out.length === 0 && sp.probes > 0 && sp.name !== 'application') {
    sp.cryptoSend.resendAll() // a probe carries the oldest outstanding data (RFC 9002 §6.2.4)
    for (let f = sp.cryptoSend.poll(left); f !== undefined; f = sp.cryptoSend.poll(left)) push(f)
  }
  if ((s.pingPending && sp.name === 'application') || (out.length === 0 && sp.probes > 0)) {
    if (sp.name === 'application') s.pingPending = false
    if (left >= 1) push({ type: 'ping' })
  }
  return out
}

function plan(s: ConnState, sp: Space, now: number, room: number, mayElicit: boolean): Plan | undefined {
  const h = header(s, sp.name)
  const pn = sp.nextPn
  const pnLength = packetNumberLength(pn, s.recovery.largestAcked(sp.name))
  const overhead = headerSize(h, pnLength) + AEAD_TAG_LENGTH
  if (room - overhead < MIN_ROOM) return undefined
  let left = room - overhead
  const wantAck = s.ack.wantsAck(sp.name, now)
  const ack = s.ack.ackPending(sp.name) ? s.ack.buildAck(sp.name, now) : undefined
  if (ack !== undefined) left -= frameSize(ack)
  const frames = mayElicit || sp.probes > 0 ? elicitingFrames(s, sp, left, now) : []
  if (frames.length === 0 && !wantAck) return undefined
  if (ack !== undefined) {
    frames.unshift(ack)
    s.ack.onAckSent(sp.name)
  }
  if (frames.length === 0) return undefined
  return { space: sp, header: h, pn, pnLength, frames, ackEliciting: frames.some(isAckEliciting) }
}

/** A DPLPMTUD probe (RFC 9000 §14.3, pmtu.ts): one 1-RTT packet, PING padded to the size being probed. */
function pmtuProbe(s: ConnState, now: number): Uint8Array | undefined {
  const m = s.pmtu
  const app = s.spaces.application
  if (m.size === 0 || m.pn !== undefined || !s.handshakeConfirmed || app.send === undefined) return undefined
  // a path not yet validated (a server after the peer's address changed) gets no probe beyond its 3x budget (RFC 9000 §8.1, §9.3)
  if (!s.recovery.canSend(m.size) || m.size > amplificationBudget(s, now)) return undefined
  const pn = app.nextPn++
  const h = header(s, 'application')
  const bytes = sealPacket(s.crypto, app.send, h, pn, encode([{ type: 'ping' }]), { pnLength: packetNumberLength(pn, s.recovery.largestAcked('application')), minPacketSize: m.size })
  m.sent(pn)
  s.recovery.onPacketSent({ space: 'application', packetNumber: pn, timeSent: now, ackEliciting: true, inFlight: true, size: bytes.length, frames: [{ type: 'ping' }], pmtuProbe: true })
  s.keys.sentWithKeys++
  s.stats.packetsSent++
  return concat([bytes], bytes.length, s, now)
}

/** A probe waits for room in the congestion window: hold back new data until it fits (else a busy sender never leaves room for it). */
function probeWaiting(s: ConnState): boolean {
  const m = s.pmtu
  return m.size > 0 && m.pn === undefined && s.handshakeConfirmed && m.size <= s.recovery.congestionWindow && (s.role === 'client' || s.addressValidated)
}

/** An acknowledged application packet: a probe's success moves the datagram size up (pmtu.ts). */
export function pmtuAcked(s: ConnState, p: SentPacket<Frame>): void {
  if (p.space === 'application' && s.pmtu.onAcked(p.packetNumber, p.size, p.timeSent)) setDatagramSize(s)
}

/** A lost application packet: a failed probe, or a black hole sends the size back to 1200 (pmtu.ts). */
export function pmtuLost(s: ConnState, p: SentPacket<Frame>): void {
  if (p.space === 'application' && s.pmtu.onLost(p.packetNumber, p.size, p.timeSent)) setDatagramSize(s)
}

function setDatagramSize(s: ConnState): void {
  s.maxDatagramSize = s.pmtu.current
  s.recovery.setMaxDatagramSize(s.pmtu.current)
}

/** The next datagram to send, or undefined. */
export function buildDatagram(s: ConnState, now: number): Uint8Array | undefined {
  const probe = pmtuProbe(s, now)
  if (probe !== undefined) return probe
  let budget = Math.min(s.maxDatagramSize, amplificationBudget(s, now))
  const needsInitialPadding = !s.spaces.initial.discarded && s.spaces.initial.send !== undefined
  if (needsInitialPadding && s.role === 'server' && budget < MIN_INITIAL_DATAGRAM_SIZE) return undefined
  if (budget < MIN_ROOM * 2) return undefined
  const cwndOk = s.recovery.canSend(s.maxDatagramSize) && !probeWaiting(s)
  const paceAt = cwndOk ? s.recovery.nextSendTime(s.maxDatagramSize, now) : now
  s.pacingDeadline = cwndOk && paceAt > now ? paceAt : undefined
  const mayElicit = cwndOk && paceAt <= now
  const plans: Plan[] = []
  let used = 0
  for (const name of SPACES) {
    const sp = s.spaces[name]
    if (sp.discarded || sp.send === undefined) continue
    const p = plan(s, sp, now, budget - used, mayElicit)
    if (p === undefined) continue
    plans.push(p)
    let size = headerSize(p.header, p.pnLength) + AEAD_TAG_LENGTH
    for (const f of p.frames) size += frameSize(f)
    used += size
  }
  if (plans.length === 0) {
    s.recovery.setAppLimited(mayElicit)
    return undefined
  }
  // Initial datagrams (RFC 9000 §14.1) and PATH_CHALLENGE / PATH_RESPONSE ones (§8.2.1, §8.2.2: unless the anti-amplification limit of a new path forbids) are expanded to 1200 bytes
  const pad = plans.some((p) => (p.space.name === 'initial' && (s.role === 'client' || p.ackEliciting)) || (budget >= MIN_INITIAL_DATAGRAM_SIZE && p.frames.some((f) => f.type === 'path_challenge' || f.type === 'path_response')))
  // lay the packets out, then write each one's frames straight into the datagram and seal them there
  const layouts: PacketLayout[] = []
  const payloads: number[] = []
  let total = 0
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!
    let payload = 0
    for (const f of p.frames) payload += frameSize(f)
    const minPacketSize = i === plans.length - 1 && pad ? MIN_INITIAL_DATAGRAM_SIZE - total : undefined
    const layout = packetLayout(p.header, p.pn, payload, minPacketSize === undefined ? { pnLength: p.pnLength } : { pnLength: p.pnLength, minPacketSize })
    layouts.push(layout)
    payloads.push(payload)
    total += packetSize(layout)
  }
  const datagram = new Uint8Array(total)
  let at = 0
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!
    const layout = layouts[i]!
    const sp = p.space
    let o = at + layout.header.length
    for (const f of p.frames) o = writeFrameInto(datagram, o, f)
    sealInPlace(s.crypto, sp.send!, layout, p.pn, datagram, at)
    sp.nextPn++
    const size = packetSize(layout)
    at += size
    const padded = layout.plainLength > payloads[i]!
    s.recovery.onPacketSent({
      space: sp.name, packetNumber: p.pn, timeSent: now, ackEliciting: p.ackEliciting,
      inFlight: p.ackEliciting || padded || p.frames.some(countsInFlight), size, frames: p.frames,
    })
    if (p.ackEliciting) {
      s.lastAckElicitingSent = now
      if (sp.probes > 0) sp.probes--
      if (!s.sentAckElicitingSinceRecv) {
        s.sentAckElicitingSinceRecv = true
        if (s.idleTimeout > 0) s.idleDeadline = now + s.idleTimeout
      }
    }
    s.stats.packetsSent++
    if (sp.name === 'application') {
      s.keys.sentWithKeys++
    }
  }
  s.recovery.setAppLimited(false)
  // a client drops its Initial keys once it sends a Handshake packet (RFC 9001 §4.9.1)
  if (s.role === 'client' && plans.some((p) => p.space.name === 'handshake')) discardSpace(s, 'initial', now)
  maybeUpdateKeys(s)
  return concat([datagram], total, s, now)
}

function concat(packets: Uint8Array[], total: number, s: ConnState, now: number): Uint8Array {
  let out: Uint8Array
  if (packets.length === 1) out = packets[0]!
  else {
    out = new Uint8Array(total)
    let o = 0
    for (const p of packets) { out.set(p, o); o += p.length }
  }
  s.stats.datagramsSent++
  s.stats.bytesSent += out.length
  s.bytesSent += out.length
  amplificationBudget(s, now)
  return out
}

function encode(frames: readonly Frame[]): Uint8Array {
  let n = 0
  for (const f of frames) n += frameSize(f)
  const out = new Uint8Array(n)
  let o = 0
  for (const f of frames) o = writeFrameInto(out, o, f)
  return out
}

/** The CONNECTION_CLOSE datagram of the closing state (RFC 9000 §10.2.1), at every level with keys. */
export function buildCloseDatagram(s: ConnState, now: number): Uint8Array | undefined {
  const close = s.closeFrame
  if (close === undefined || !s.closeSendPending) return undefined
  const budget = Math.min(s.maxDatagramSize, amplificationBudget(s, now))
  s.closeSendPending = false
  const packets: Uint8Array[] = []
  let total = 0
  const levels = SPACES.filter((n) => !s.spaces[n].discarded && s.spaces[n].send !== undefined)
  // after confirmation only 1-RTT; before it, every level the peer may be able to read (§10.2.3)
  const use = s.handshakeConfirmed ? levels.filter((n) => n === 'application') : levels
  for (let i = 0; i < use.length; i++) {
    const sp = s.spaces[use[i]!]
    // an application close in Initial or Handshake packets is a transport APPLICATION_ERROR without the reason (§10.2.3)
    const f: Frame = sp.name !== 'application' && close.frameType === undefined
      ? { type: 'connection_close', errorCode: 0x0c, frameType: 0, reason: new Uint8Array(0) }
      : close
    const h = header(s, sp.name)
    const pnLength = packetNumberLength(sp.nextPn, s.recovery.largestAcked(sp.name))
    const last = i === use.length - 1
    const pad = s.role === 'client' && use.includes('initial') && last ? MIN_INITIAL_DATAGRAM_SIZE - total : undefined
    const bytes = sealPacket(s.crypto, sp.send!, h, sp.nextPn++, encode([f]), pad === undefined ? { pnLength } : { pnLength, minPacketSize: pad })
    if (total + bytes.length > budget) break
    packets.push(bytes)
    total += bytes.length
  }
  if (packets.length === 0) return undefined
  return concat(packets, total, s, now)
}

/** A local key update (RFC 9001 §6.1) when the current keys protected `keyUpdateInterval` packets; returns whether it happened. */
export function maybeUpdateKeys(s: ConnState, force = false): boolean {
  const k = s.keys
  const app = s.spaces.application
  if (!force && k.sentWithKeys < s.limits.keyUpdateInterval) return false
  // only once confirmed, and once the peer acknowledged a packet of the current phase (§6.1, §6.5)
  if (!s.handshakeConfirmed || app.send === undefined || app.recv === undefined || k.nextRecv === undefined) return false
  const acked = s.recovery.largestAcked('application')
  if (acked === undefined || acked < k.firstSentPn) return false
  if (k.firstRecvPn === undefined) return false // the peer has not yet moved to the current phase
  app.send = nextPacketKeys(s.crypto, app.send)
  k.prevRecv = app.recv
  app.recv = k.nextRecv
  k.nextRecv = nextPacketKeys(s.crypto, app.recv)
  k.phase = k.phase === 0 ? 1 : 0
  k.firstSentPn = app.nextPn
  k.firstRecvPn = undefined
  k.sentWithKeys = 0
  s.stats.keyUpdates++
  return true
}

/** The peer moved to the next key phase (RFC 9001 §6.2; packet `pn` opened with the next keys): follow with our sending keys. */
export function followKeyUpdate(s: ConnState, pn: number): void {
  const k = s.keys
  const app = s.spaces.application
  if (k.firstRecvPn === undefined && k.prevRecv !== undefined) throw quicError('KEY_UPDATE_ERROR', 'a second key update before the first was acknowledged')
  k.prevRecv = app.recv
  app.recv = k.nextRecv
  k.nextRecv = nextPacketKeys(s.crypto, app.recv!)
  app.send = nextPacketKeys(s.crypto, app.send!)
  k.phase = k.phase === 0 ? 1 : 0
  k.firstSentPn = app.nextPn
  k.firstRecvPn = pn
  k.sentWithKeys = 0
  s.stats.keyUpdates++
}

