/**
 * One QUIC v1 connection (RFC 9000, 9001, 9002), client or server, as a pure sans-IO core: the
 * driver feeds UDP payloads (`handleDatagram`) and timer expiries (`handleTimeout`), sends what
 * `pollTransmit` returns, arms one timer at `pollTimeout`, and reads `pollEvent`. The application
 * drives streams through `openStream`/`write`/`finish`/`resetStream`/`stopSending`/`read`.
 * Time and randomness are inputs. See spec/quic-connection.md for the state machine and limits.
 *
 * It ties together the packet layer (packet.ts, protection.ts, frames.ts), TLS 1.3 (src/tls:
 * TlsHandshake with the caller's certificate and verifyPeer hooks, the transport parameters
 * extension), loss recovery and ACK generation (recovery/) and streams (streams/).
 */
import { ProtocolError, UsageError } from '../../core/errors.js'
import { EventQueue } from '../../core/event-queue.js'
import { TlsHandshake, alertFor, type TlsEvent } from '../../tls/index.js'
import { QuicProtocolError, quicError } from '../errors.js'
import { decodeFrames, isAckEliciting } from '../frames.js'
import { MAX_CID_LENGTH, parseDatagram, type ProtectedPacket } from '../packet.js'
import { derivePacketKeys, initialKeys, nextPacketKeys, openPacket, type CipherSuite, type PacketKeys } from '../protection.js'
import { AckTracker, Recovery, type SentPacket } from '../recovery/index.js'
import { QuicStreams, type StreamId } from '../streams/index.js'
import { encodeTransportParameters, type TransportParameters } from '../transport-params.js'
import type { Frame, PacketNumberSpace } from '../types.js'
import { LocalCids, PeerCids } from './cids.js'
import { isStatelessReset, retryReceived, versionNegotiationVerdict } from './handshake-packets.js'
import { armKeyDiscard, discardOldKeys, keyDiscardTimeout } from './keys.js'
import { newPathState, pathOnDatagram, pathOnPacket, pathOnResponse, pathOnTimeout, pathPoll, pathTimeout, type QuicPath } from './path.js'
import { PendingPackets } from './pending.js'
import { CryptoRecv, CryptoSend } from './crypto-stream.js'
import {
  DEFAULT_CONNECTION_LIMITS, type QuicCloseInfo, type QuicConnectionEvent, type QuicConnectionLimits, type QuicConnectionOptions,
  type QuicConnectionState, type QuicConnectionStats,
} from './options.js'
import { equal, peerParameters } from './params.js'
import type { ConnState, Space } from './state.js'
import { PmtuSearch } from './pmtu.js'
import { amplificationBudget, buildCloseDatagram, buildDatagram, discardSpace, followKeyUpdate, isStreamFrame, maybeUpdateKeys, pmtuAcked, pmtuLost } from './transmit.js'

function checkLimits(l: QuicConnectionLimits): void {
  for (const [k, v] of Object.entries(l)) if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limits.${k} must be a non-negative integer`)
  if (l.maxCryptoBuffer < 4096) throw new RangeError('limits.maxCryptoBuffer must be at least 4096 (RFC 9000 §7.5)')
  if (l.activeConnectionIdLimit < 2) throw new RangeError('limits.activeConnectionIdLimit must be at least 2')
  if (l.maxDatagramSize < 1200 || l.maxUdpPayloadSize < 1200) throw new RangeError('datagram sizes must be at least 1200')
  if (l.maxIssuedConnectionIds < 1) throw new RangeError('limits.maxIssuedConnectionIds must be at least 1')
}

/** One QUIC connection (see the file comment and spec/quic-connection.md). */
export class QuicConnection {
  readonly #s: ConnState
  readonly #remoteInitialScid: Uint8Array | undefined // server: the client's Source Connection ID
  #peerInitialScid: Uint8Array | undefined // the Source Connection ID of the peer's first packet

  constructor(o: QuicConnectionOptions) {
    if (o.role !== 'client' && o.role !== 'server') throw new TypeError("role must be 'client' or 'server'")
    const limits = { ...DEFAULT_CONNECTION_LIMITS, ...o.limits }
    checkLimits(limits)
    if (o.localConnectionId.length > MAX_CID_LENGTH || o.remoteConnectionId.length > MAX_CID_LENGTH) throw new RangeError('a connection id is at most 20 bytes')
    if (o.role === 'client' && o.remoteConnectionId.length < 8) throw new RangeError('a client\'s first Destination Connection ID is at least 8 bytes (RFC 9000 §7.2)')
    if (o.role === 'server' && o.originalDestinationConnectionId === undefined) throw new TypeError('a server needs originalDestinationConnectionId')
    if (o.tls.alpn.length === 0) throw new TypeError('QUIC needs at least one ALPN protocol (RFC 9001 §8.1)')
    const c = o.crypto
    const resetToken = o.statelessResetToken ?? (() => o.random(16))
    const localCid = o.localConnectionId.slice()
    const token0 = resetToken(localCid)
    const streams = new QuicStreams({ ...o.streams, role: o.role })
    const ours: Partial<TransportParameters> = {
      ...streams.localParameters(),
      maxIdleTimeout: limits.idleTimeout,
      maxUdpPayloadSize: limits.maxUdpPayloadSize,
      activeConnectionIdLimit: limits.activeConnectionIdLimit,
      initialSourceConnectionId: localCid,
      disableActiveMigration: true,
      ...(o.role === 'server'
        ? { originalDestinationConnectionId: o.originalDestinationConnectionId, statelessResetToken: token0, ...(o.retrySourceConnectionId !== undefined ? { retrySourceConnectionId: o.retrySourceConnectionId } : {}) }
        : {}),
    }
    const tls = new TlsHandshake({
      role: o.role, crypto: c, alpn: o.tls.alpn, certificate: o.tls.certificate, verifyPeer: o.tls.verifyPeer,
      quicTransportParameters: encodeTransportParameters(ours),
      ...(o.tls.serverName !== undefined ? { serverName: o.tls.serverName } : {}),
      ...(o.tls.cipherSuites !== undefined ? { cipherSuites: o.tls.cipherSuites } : {}),
      ...(o.tls.limits !== undefined ? { limits: o.tls.limits } : {}), ...(o.tls.keylog !== undefined ? { keylog: o.tls.keylog } : {}),
    })
    const space = (name: PacketNumberSpace): Space => ({
      name, nextPn: 0, send: undefined, recv: undefined, cryptoSend: new CryptoSend(),
      cryptoRecv: new CryptoRecv(limits.maxCryptoBuffer, limits.maxCryptoFragments), discarded: false, probes: 0,
    })
    const keysFrom = o.role === 'client' ? o.remoteConnectionId : o.retrySourceConnectionId ?? o.originalDestinationConnectionId!
    const ik = initialKeys(c, keysFrom)
    const spaces = { initial: space('initial'), handshake: space('handshake'), application: space('application') }
    spaces.initial.send = o.role === 'client' ? ik.client : ik.server
    spaces.initial.recv = o.role === 'client' ? ik.server : ik.client
    this.#s = {
      role: o.role, crypto: c, limits, random: o.random, tls, streams,
      recovery: new Recovery<Frame>({ role: o.role, maxDatagramSize: 1200 }),
      ack: new AckTracker({}),
      spaces,
      keys: { phase: 0, prevRecv: undefined, nextRecv: undefined, firstSentPn: 0, firstRecvPn: undefined, sentWithKeys: 0, discard: undefined },
      localCids: new LocalCids(localCid, token0, (seq) => {
        const cid = o.random(localCid.length)
        return { cid, token: resetToken(cid), sequenceNumber: seq }
      }),
      peerCids: new PeerCids(o.remoteConnectionId.slice(), limits.activeConnectionIdLimit, limits.maxPendingRetirements),
      localCid,
      events: new EventQueue<QuicConnectionEvent>(),
      stats: { datagramsReceived: 0, datagramsSent: 0, bytesReceived: 0, bytesSent: 0, packetsReceived: 0, packetsSent: 0, packetsDropped: 0, packetsLost: 0, keyUpdates: 0, retries: 0, packetsBuffered: 0, pathChanges: 0, pathChangesRefused: 0, pathValidationsFailed: 0 },
      path: newPathState(), pending: new PendingPackets(limits.maxBufferedPackets),
      state: 'handshaking',
      token: o.token?.slice() ?? new Uint8Array(0),
      peerParams: undefined,
      handshakeComplete: false,
      handshakeConfirmed: false,
      handshakeDonePending: false,
      addressValidated: o.role === 'client' || o.addressValidated === true,
      bytesReceived: 0,
      bytesSent: 0,
      amplificationLimited: false,
      pathResponse: undefined,
      pathChallenge: undefined,
      pathChallengeSent: undefined,
      keepAlive: o.keepAliveInterval ?? 0,
      lastAckElicitingSent: o.now,
      pingPending: false,
      maxDatagramSize: 1200,
      pmtu: new PmtuSearch(limits.maxPmtuProbes),
      idleTimeout: limits.idleTimeout,
      idleDeadline: limits.idleTimeout > 0 ? o.now + limits.idleTimeout : undefined,
      sentAckElicitingSinceRecv: false,
      closeDeadline: undefined,
      closeInfo: undefined,
      closeFrame: undefined,
      closeSendPending: false,
      closeRetransmits: 0,
      pacingDeadline: undefined,
      receivedFromPeer: o.role === 'server',
      originalDcid: o.role === 'client' ? o.remoteConnectionId.slice() : o.originalDestinationConnectionId!.slice(),
      retryScid: o.retrySourceConnectionId?.slice(),
      undecryptable: 0,
    }
    this.#remoteInitialScid = o.role === 'server' ? o.remoteConnectionId.slice() : undefined
    this.#peerInitialScid = this.#remoteInitialScid
    this.#pumpTls(o.now)
  }

  // ---- state ----

  get state(): QuicConnectionState { return this.#s.state }
  get isClosed(): boolean { return this.#s.state === 'closed' }
  get isHandshakeComplete(): boolean { return this.#s.handshakeComplete }
  get isHandshakeConfirmed(): boolean { return this.#s.handshakeConfirmed }
  get role(): 'client' | 'server' { return this.#s.role }
  /** The negotiated ALPN protocol (known on the server at the ClientHello, on the client at EncryptedExtensions). */
  get alpn(): string | undefined { return this.#s.tls.alpn }
  /** The peer's transport parameters, once the handshake completed. */
  get peerTransportParameters(): TransportParameters | undefined { return this.#s.peerParams }
  /** Our first connection id (sequence 0). */
  get localConnectionId(): Uint8Array { return this.#s.localCid }
  /** The Destination Connection ID we send to now. */
  get remoteConnectionId(): Uint8Array { return this.#s.peerCids.current }
  /** Why the connection closed (or is closing). */
  get closeInfo(): QuicCloseInfo | undefined { return this.#s.closeInfo }
  get stats(): Readonly<QuicConnectionStats> { return this.#s.stats }
  /** RTT estimates (ms) and the congestion window (bytes). */
  get pathStats(): { smoothedRtt: number, minRtt: number, congestionWindow: number, bytesInFlight: number, maxDatagramSize: number } {
    const r = this.#s.recovery
    return { smoothedRtt: r.rtt.smoothedRtt, minRtt: r.rtt.minRtt, congestionWindow: r.congestionWindow, bytesInFlight: r.bytesInFlight, maxDatagramSize: this.#s.maxDatagramSize }
  }
  /** The 1-RTT key phase (flips on every key update). */
  get keyPhase(): 0 | 1 { return this.#s.keys.phase }
  /** The peer's address we send to, as the driver reported it (`handleDatagram`'s `from`; spec "Peer address change"). */
  get peerAddress(): QuicPath | undefined { return this.#s.path.current }

  // ---- driver ----

  /** One UDP payload from the peer (coalesced packets; some arriving before their keys are held, RFC 9001 §5.7), and where it came from when the driver knows (path.ts). */
  handleDatagram(now: number, datagram: Uint8Array, from?: QuicPath): void {
    const s = this.#s
    if (s.state === 'closed' || s.state === 'draining') return
    s.stats.datagramsReceived++
    s.stats.bytesReceived += datagram.length
    if (pathOnDatagram(s, from, datagram.length)) s.bytesReceived += datagram.length // a new address's bytes count for its own path (path.ts)
    if (s.state === 'closing') {
      if (s.closeRetransmits < s.limits.maxCloseRetransmits) { s.closeRetransmits++; s.closeSendPending = true }
      return
    }
    s.streams.setClock(now, s.recovery.rtt.firstSampleTime === undefined ? undefined : s.recovery.rtt.smoothedRtt)
    const parsed = parseDatagram(datagram, s.localCid.length)
    if (parsed.dropped !== undefined) s.stats.packetsDropped++
    let processed = false
    try {
      for (const p of parsed.packets) {
        if (s.state !== 'handshaking' && s.state !== 'established') break
        if (p.type === 'version_negotiation') { const why = versionNegotiationVerdict(s, p); if (why !== undefined) this.#terminate({ source: 'version', errorCode: 0, application: false, reason: why }) }
        else if (p.type === 'retry') retryReceived(s, p, now)
        else if (p.type === 'unsupported_version' || p.type === '0rtt') s.stats.packetsDropped++
        else if (this.#packet(p, now)) processed = true
      }
      // packets held for keys that are installed now (pending.ts), in arrival order, each with its own source
      for (let h = s.pending.take(s); h !== undefined && (s.state === 'handshaking' || s.state === 'established'); h = s.pending.take(s)) {
        pathOnDatagram(s, h.from, h.length)
        if (this.#packet(h.packet, now)) processed = true
      }
      if (!processed && (s.state as QuicConnectionState) !== 'closed' && isStatelessReset(s, datagram)) {
        this.#terminate({ source: 'reset', errorCode: 0, application: false, reason: 'stateless reset' })
        return
      }
      armKeyDiscard(s, now, this.#pto())
      pathPoll(s, now, this.#pto())
      amplificationBudget(s, now)
    } catch (e) {
      this.#fail(e, now)
    }
  }

  /** The next UDP payload to send, or undefined when nothing is due now. */
  pollTransmit(now: number): Uint8Array | undefined {
    const s = this.#s
    if (s.state === 'closed' || s.state === 'draining') return undefined
    if (s.state === 'closing') {
      if (s.closeDeadline === undefined) s.closeDeadline = now + 3 * this.#pto()
      return buildCloseDatagram(s, now)
    }
    try {
      return buildDatagram(s, now)
    } catch (e) {
      this.#fail(e, now)
      return buildCloseDatagram(s, now)
    }
  }

  /** The next event, or undefined. */
  pollEvent(): QuicConnectionEvent | undefined {
    const e = this.#s.events.poll()
    if (e !== undefined) return e
    const se = this.#s.streams.pollEvent()
    return se === undefined ? undefined : { kind: 'stream', event: se }
  }

  /** When `handleTimeout` must be called next (the driver's monotonic ms), or undefined. */
  pollTimeout(): number | undefined {
    const s = this.#s
    if (s.state === 'closed') return undefined
    if (s.state === 'closing' || s.state === 'draining') return s.closeDeadline
    let t = s.idleDeadline
    const min = (x: number | undefined): void => { if (x !== undefined && (t === undefined || x < t)) t = x }
    min(s.recovery.pollTimeout())
    if (!s.amplificationLimited) min(s.ack.pollTimeout())
    min(s.pacingDeadline)
    if (s.keepAlive > 0 && s.handshakeComplete && !s.pingPending) min(s.lastAckElicitingSent + s.keepAlive)
    min(keyDiscardTimeout(s))
    min(pathTimeout(s))
    return t
  }

  /** The timer fired (call at or after `pollTimeout()`; earlier calls do nothing harmful). */
  handleTimeout(now: number): void {
    const s = this.#s
    if (s.state === 'closed') return
    if (s.state === 'closing' || s.state === 'draining') {
      if (s.closeDeadline !== undefined && now >= s.closeDeadline) this.#terminate(s.closeInfo!)
      return
    }
    if (s.idleDeadline !== undefined && now >= s.idleDeadline) {
      this.#terminate({ source: 'idle', errorCode: 0, application: false, reason: 'idle timeout' })
      return
    }
    if (s.pacingDeadline !== undefined && now >= s.pacingDeadline) s.pacingDeadline = undefined
    if (s.keepAlive > 0 && s.handshakeComplete && now >= s.lastAckElicitingSent + s.keepAlive) s.pingPending = true
    discardOldKeys(s, now)
    pathOnTimeout(s, now, this.#pto())
    const t = s.recovery.pollTimeout()
    if (t !== undefined && now >= t) {
      const r = s.recovery.onTimeout(now)
      for (const p of r.lost) this.#lost(p)
      if (r.probe !== undefined) {
        const sp = s.spaces[r.probe.space]
        if (!sp.discarded && sp.send !== undefined) sp.probes = r.probe.packets
        else s.spaces.application.probes = r.probe.packets
      }
    }
  }

  // ---- commands ----

  /** Opens a stream; undefined at the peer's stream limit (a 'streams-available' stream event follows). */
  openStream(bidirectional = true): StreamId | undefined {
    this.#checkOpen()
    return this.#s.streams.open(bidirectional)
  }

  /** Queues bytes on a stream; returns how many were taken (a short write waits for a 'writable' stream event). */
  write(id: StreamId, data: Uint8Array): number {
    this.#checkOpen()
    return this.#s.streams.write(id, data)
  }

  /** Ends our sending part (FIN). */
  finish(id: StreamId): void {
    this.#checkOpen()
    this.#s.streams.finish(id)
  }

  /** Abandons our sending part (RESET_STREAM). */
  resetStream(id: StreamId, errorCode: number): void {
    this.#checkOpen()
    this.#s.streams.reset(id, errorCode)
  }

  /** Asks the peer to stop sending (STOP_SENDING). */
  stopSending(id: StreamId, errorCode: number): void {
    this.#checkOpen()
    this.#s.streams.stopSending(id, errorCode)
  }

  /** Reads up to `max` bytes; `fin` once the stream's end was read. */
  read(id: StreamId, max?: number): { data: Uint8Array, fin: boolean } {
    return this.#s.streams.read(id, max)
  }

  /** Sends a PING (keep-alive, or to elicit an ACK). */
  ping(): void {
    this.#checkOpen()
    this.#s.pingPending = true
  }

  /** Sends a PATH_CHALLENGE (RFC 9000 §8.2) once the handshake is confirmed; 'path-validated' follows the matching PATH_RESPONSE. */
  probePath(): void {
    this.#checkOpen()
    this.#s.pathChallenge = this.#s.random(8)
  }

  /** Starts a 1-RTT key update (RFC 9001 §6); false when not allowed yet (before confirmation, or the last update not yet acknowledged). */
  updateKeys(): boolean {
    this.#checkOpen()
    return maybeUpdateKeys(this.#s, true)
  }

  /** Moves to a spare connection id of the peer and retires the current one (RFC 9000 §5.1.2); false without a spare. */
  rotateConnectionId(): boolean {
    this.#checkOpen()
    return this.#s.handshakeConfirmed && this.#s.peerCids.rotate()
  }

  /**
   * Closes the connection (RFC 9000 §10.2): CONNECTION_CLOSE with `errorCode` (an application code
   * by default), then the closing state for three PTOs; 'closing' then 'closed' events.
   */
  close(errorCode = 0, reason = '', application = true): void {
    const s = this.#s
    if (s.state !== 'handshaking' && s.state !== 'established') return
    const r = new TextEncoder().encode(reason).subarray(0, 256)
    this.#enterClosing({ source: 'local', errorCode, application, reason }, application
      ? { type: 'connection_close', errorCode, reason: r }
      : { type: 'connection_close', errorCode, frameType: 0, reason: r })
  }

  #checkOpen(): void {
    const st = this.#s.state
    if (st !== 'handshaking' && st !== 'established') throw new UsageError('quic/connection-closed', `the connection is ${st}`)
  }

  // ---- receiving ----

  /** Opens and processes one packet; true when it authenticated. */
  #packet(p: ProtectedPacket, now: number): boolean {
    const s = this.#s
    const name: PacketNumberSpace = p.type === 'initial' ? 'initial' : p.type === 'handshake' ? 'handshake' : 'application'
    const sp = s.spaces[name]
    // RFC 9001 §5.7: no 1-RTT packet is processed before the handshake completes (the peer is not yet authenticated)
    if (sp.discarded || sp.recv === undefined || (name === 'application' && !s.handshakeComplete)) {
      if (name !== 'initial' && !sp.discarded && s.pending.hold(name, p, s.path.from, s.path.fromLength)) s.stats.packetsBuffered++
      else s.stats.packetsDropped++
      return false
    }
    const k = s.keys
    let used: PacketKeys | undefined
    const res = openPacket(s.crypto, sp.recv, p, s.ack.largestReceived(name) ?? -1, (phase, pn) => {
      used = phase === k.phase ? sp.recv : k.prevRecv !== undefined && (k.firstRecvPn === undefined || pn < k.firstRecvPn) ? k.prevRecv : k.nextRecv
      return used
    })
    if (!res.ok) {
      s.stats.packetsDropped++
      if (res.reason === 'undecryptable' && ++s.undecryptable > s.limits.maxUndecryptablePackets) throw quicError('AEAD_LIMIT_REACHED', 'too many packets failed authentication')
      return false
    }
    const pn = res.packetNumber
    if (s.ack.isDuplicate(name, pn)) { s.stats.packetsDropped++; return true }
    if (name === 'application') {
      if (used === k.nextRecv && res.keyPhase !== k.phase) followKeyUpdate(s, pn)
      else if (res.keyPhase === k.phase && k.firstRecvPn === undefined) k.firstRecvPn = pn
    }
    if (s.role === 'client' && !s.receivedFromPeer && name !== 'application') {
      s.receivedFromPeer = true
      s.peerCids.setInitial(p.scid.slice())
      this.#peerInitialScid = p.scid.slice()
    }
    const frames = decodeFrames(res.payload, p.type, { receiver: s.role })
    const ackEliciting = frames.some(isAckEliciting)
    // RFC 9000 §8.1: a Handshake packet proves the client got ours; before its frames, whose Finished may discard the space
    if (s.role === 'server' && name === 'handshake') s.addressValidated = true
    pathOnPacket(s, name, pn, s.ack.largestReceived(name), frames, now, this.#pto()) // the peer's address, and its changes (path.ts)
    this.#frames(sp, frames, now, p.dcid)
    if (sp.discarded) return true
    s.ack.onPacketReceived(name, pn, now, ackEliciting)
    s.stats.packetsReceived++
    if (s.role === 'server' && name === 'handshake') discardSpace(s, 'initial', now) // RFC 9001 §4.9.1
    s.sentAckElicitingSinceRecv = false
    if (s.idleTimeout > 0) s.idleDeadline = now + Math.max(s.idleTimeout, 3 * this.#pto())
    return true
  }

  #frames(sp: Space, frames: readonly Frame[], now: number, dcid: Uint8Array): void {
    const s = this.#s
    for (const f of frames) {
      switch (f.type) {
        case 'padding': case 'ping': case 'new_token': break
        case 'path_response': {
          pathOnResponse(s, f.data)
          const c = s.pathChallengeSent
          if (c !== undefined && equal(c.data, f.data)) {
            s.pathChallengeSent = undefined
            s.events.push({ kind: 'path-validated', rtt: now - c.at })
          }
          break
        }
        case 'ack': {
          const r = s.recovery.onAckReceived(sp.name, f, now)
          for (const p of r.acked) {
            pmtuAcked(s, p)
            for (const fr of p.frames) this.#acked(p.space, fr)
          }
          for (const p of r.lost) this.#lost(p)
          break
        }
        case 'crypto': {
          const bytes = sp.cryptoRecv.insert(f.offset, f.data)
          if (bytes.length > 0) {
            s.tls.handleMessages(sp.name, bytes)
            this.#pumpTls(now)
          }
          break
        }
        case 'new_connection_id': {
          const token = s.peerCids.onNewConnectionId(f)
          if (token !== undefined) s.events.push({ kind: 'peer-reset-token', token })
          break
        }
        case 'retire_connection_id': {
          const r = s.localCids.onRetire(f.sequenceNumber, dcid)
          if (r.retired !== undefined) s.events.push({ kind: 'connection-id-retired', connectionId: r.retired.cid, sequenceNumber: r.retired.sequenceNumber })
          this.#issued(r.issued)
          break
        }
        case 'path_challenge': s.pathResponse = f.data.slice(); break
        case 'connection_close': {
          const info: QuicCloseInfo = {
            source: 'remote', errorCode: f.errorCode, application: f.frameType === undefined, reason: new TextDecoder().decode(f.reason),
          }
          s.closeInfo = info
          s.state = 'draining'
          s.closeDeadline = now + 3 * this.#pto()
          s.events.push({ kind: 'closing', info })
          return
        }
        case 'handshake_done': this.#confirm(now); break
        default:
          if (!s.streams.handleFrame(f)) throw quicError('PROTOCOL_VIOLATION', `unexpected ${f.type} frame`)
      }
    }
  }

  #acked(space: PacketNumberSpace, f: Frame): void {
    if (f.type === 'ack') this.#s.ack.onAckFrameAcked(space, f)
    else if (isStreamFrame(f)) this.#s.streams.onFrameAcked(f)
  }

  #lost(p: SentPacket<Frame>): void {
    const s = this.#s
    pmtuLost(s, p) // a lost probe is not congestion (recovery skips it); a black hole falls back to 1200
    s.stats.packetsLost++
    const sp = s.spaces[p.space]
    for (const f of p.frames) {
      switch (f.type) {
        case 'crypto': if (!sp.discarded) sp.cryptoSend.onLost(f.offset, f.data.length); break
        case 'handshake_done': if (s.role === 'server') s.handshakeDonePending = true; break
        case 'new_connection_id': s.localCids.onLost(f); break
        case 'retire_connection_id': s.peerCids.onLost(f.sequenceNumber); break
        default: if (isStreamFrame(f)) s.streams.onFrameLost(f)
      }
    }
  }

  #pumpTls(now: number): void {
    const s = this.#s
    for (let e: TlsEvent | undefined = s.tls.pollEvent(); e !== undefined; e = s.tls.pollEvent()) {
      if (e.kind === 'secret') {
        const keys = derivePacketKeys(s.crypto, e.suite as CipherSuite, e.secret)
        const sp = s.spaces[e.level]
        if (e.direction === 'write') sp.send = keys
        else {
          sp.recv = keys
          if (e.level === 'application') s.keys.nextRecv = nextPacketKeys(s.crypto, keys)
        }
        if (e.level === 'handshake' && e.direction === 'read') s.recovery.setHandshakeKeysAvailable(now)
      } else {
        this.#complete(e, now)
      }
    }
    for (let out = s.tls.pollOutput(); out !== undefined; out = s.tls.pollOutput()) s.spaces[out.level].cryptoSend.write(out.data)
  }

  #complete(e: Extract<TlsEvent, { kind: 'complete' }>, now: number): void {
    const s = this.#s
    const p = peerParameters(s, e.peerTransportParameters, this.#peerInitialScid)
    s.peerParams = p
    s.streams.setPeerParameters(p)
    s.recovery.setPeerParameters({ maxAckDelay: p.maxAckDelay, ackDelayExponent: p.ackDelayExponent })
    if (p.maxIdleTimeout > 0 && (s.idleTimeout === 0 || p.maxIdleTimeout < s.idleTimeout)) s.idleTimeout = p.maxIdleTimeout
    if (s.idleTimeout > 0) s.idleDeadline = now + s.idleTimeout
    s.pmtu.start(Math.min(s.limits.maxDatagramSize, p.maxUdpPayloadSize)) // DPLPMTUD search (pmtu.ts)
    s.handshakeComplete = true
    s.state = 'established'
    s.events.push({ kind: 'handshake-complete', alpn: e.alpn, peerChain: e.peerChain, cipherSuite: e.cipherSuite })
    this.#issued(s.localCids.setLimit(Math.min(p.activeConnectionIdLimit, s.limits.maxIssuedConnectionIds)))
    if (s.role === 'server') {
      s.handshakeDonePending = true
      this.#confirm(now) // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes
    }
  }

  #issued(list: readonly { cid: Uint8Array, token: Uint8Array, sequenceNumber: number }[]): void {
    for (const c of list) this.#s.events.push({ kind: 'connection-id-issued', connectionId: c.cid, sequenceNumber: c.sequenceNumber, statelessResetToken: c.token })
  }

  #confirm(now: number): void {
    const s = this.#s
    if (s.handshakeConfirmed) return
    if (!s.handshakeComplete) throw quicError('PROTOCOL_VIOLATION', 'HANDSHAKE_DONE before the handshake completed')
    s.handshakeConfirmed = true
    s.recovery.setHandshakeConfirmed(now)
    discardSpace(s, 'initial', now)
    discardSpace(s, 'handshake', now) // RFC 9001 §4.9.2
    s.events.push({ kind: 'handshake-confirmed' })
  }

  // ---- closing ----

  #pto(): number {
    const r = this.#s.recovery.rtt
    return r.smoothedRtt + Math.max(4 * r.rttvar, 1) + (this.#s.peerParams?.maxAckDelay ?? 25)
  }

  #fail(e: unknown, now: number): void {
    const s = this.#s
    if (s.state !== 'handshaking' && s.state !== 'established') return
    let code = 0x01 // INTERNAL_ERROR
    let frameType = 0
    if (e instanceof QuicProtocolError) { code = e.transportCode; frameType = e.frameType }
    else if (e instanceof ProtocolError && (e as ProtocolError<string>).protocol === 'tls') code = 0x100 + (alertFor(e) ?? 80)
    const error = e instanceof Error ? e : new Error(String(e))
    const reason = new TextEncoder().encode(error.message).subarray(0, 128)
    this.#enterClosing({ source: 'local', errorCode: code, application: false, reason: error.message, error }, { type: 'connection_close', errorCode: code, frameType, reason })
    s.closeDeadline = now + 3 * this.#pto()
  }

  #enterClosing(info: QuicCloseInfo, frame: Extract<Frame, { type: 'connection_close' }>): void {
    const s = this.#s
    s.closeInfo = info
    s.closeFrame = frame
    s.closeSendPending = true
    s.state = 'closing'
    s.events.push({ kind: 'closing', info })
  }

  #terminate(info: QuicCloseInfo): void {
    const s = this.#s
    if (s.state === 'closed') return
    s.closeInfo ??= info
    s.state = 'closed'
    s.events.push({ kind: 'closed', info: s.closeInfo })
  }
}
