/**
 * One libp2p connection as a sans-IO core: the upgrade and the stream layer.
 *
 *   raw bytes ── multistream-select (/noise) ── Noise XX ── [multistream-select (/yamux/1.0.0)] ── yamux
 *                                                                  └ skipped when both sides listed
 *                                                                    /yamux/1.0.0 in the Noise
 *                                                                    extensions (early muxer negotiation)
 *
 * Every yamux stream then negotiates its own protocol with multistream-select before application
 * bytes flow: inbound streams through a listener that asks `supportsProtocol`, outbound streams
 * through a dialer that proposes the caller's protocols in turn.
 *
 * The core owns no socket and no timer: the driver feeds raw bytes (`handleData`), drains raw
 * bytes (`pollTransmit`), events (`pollEvent`) and a deadline (`pollTimeout`), exactly like every
 * other ByteMachine. Errors caused by the remote end the connection with a `closed` event carrying
 * the ProtocolError (after any GoAway has been flushed); they are never thrown at the driver.
 */
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { InternalError, ProtocolError, UsageError } from '../core/errors.js'
import { MultistreamDialer, MultistreamListener } from '../multistream/index.js'
import { NoiseConnection } from '../noise/index.js'
import type { PeerId, PrivateKey, PublicKey } from '../peer-id/index.js'
import { YamuxSession, type YamuxOptions } from '../yamux/index.js'

export const NOISE_PROTOCOL = '/noise'
export const YAMUX_PROTOCOL = '/yamux/1.0.0'

/** Largest plaintext one Noise transport frame carries (65535 - 16-byte tag). */
const NOISE_MAX_PLAINTEXT = 65535 - 16

export type ConnectionErrorCode =
  | 'connection/upgrade-timeout'
  | 'connection/security-rejected'
  | 'connection/muxer-rejected'
  | 'connection/stream-negotiation-timeout'
  | 'connection/protocol-rejected'
  | 'connection/too-many-negotiating-streams'
  | 'connection/unexpected-eof'
  | 'connection/no-common-muxer'

export interface ConnectionOptions {
  /** dialer = Noise initiator and yamux client (odd stream ids). */
  role: 'dialer' | 'listener'
  crypto: CryptoProvider
  identity: PrivateKey
  /** Dialing /p2p/<id>: any other remote identity fails the handshake. */
  expectedRemotePeer?: PeerId | undefined
  /** Does a local handler serve this inbound stream protocol? */
  supportsProtocol: (protocol: string) => boolean
  /** Protocols listed to a remote `ls`. */
  listProtocols: () => string[]
  /** Time of creation; the upgrade deadline counts from here. */
  now: Millis
  /** Whole upgrade (security + muxer negotiation), default 10 s: stops a peer that opens and stalls. */
  upgradeTimeout?: number
  /** Per-stream protocol negotiation, default 10 s: stops streams held half-negotiated forever. */
  streamNegotiationTimeout?: number
  /** Streams still negotiating at once, default 64: bounds listener state a remote can create. */
  maxNegotiatingStreams?: number
  /** Advertise and accept early muxer negotiation (Noise extensions), default true. */
  earlyMuxerNegotiation?: boolean
  yamux?: Omit<YamuxOptions, 'role'>
  /** Injected ephemeral/static keys, tests only. */
  noiseStaticKey?: Uint8Array
}

export type ConnectionEvent =
  | { type: 'established'; remotePeer: PeerId; remotePublicKey: PublicKey; muxer: string; earlyMuxerNegotiation: boolean }
  | { type: 'stream-opened'; id: number; protocol: string; direction: 'inbound' | 'outbound'; requestId?: number }
  | { type: 'stream-open-failed'; requestId: number; error: Error }
  | { type: 'stream-data'; id: number; data: Uint8Array }
  | { type: 'stream-eof'; id: number }
  | { type: 'stream-reset'; id: number }
  | { type: 'stream-writable'; id: number }
  | { type: 'stream-closed'; id: number }
  | { type: 'rtt'; rtt: number }
  | { type: 'closed'; error?: Error }

type Negotiator = MultistreamDialer | MultistreamListener

interface StreamState {
  id: number
  direction: 'inbound' | 'outbound'
  /** Present while negotiating. */
  negotiator: Negotiator | undefined
  protocol: string | undefined
  requestId: number | undefined
  deadline: Millis | undefined
  /** Negotiation bytes waiting for yamux send credit (tiny, bounded by the negotiation messages). */
  pendingOut: Uint8Array[]
  /** Bytes we already returned to the yamux window on the app's behalf (the negotiation remainder). */
  preConsumed: number
}

type Phase =
  | { kind: 'security'; ms: Negotiator }
  | { kind: 'handshake'; noise: NoiseConnection }
  /** Noise is done; the remote's identity waits here until yamux is agreed. */
  | { kind: 'muxer'; noise: NoiseConnection; ms: Negotiator; remotePeer: PeerId; remotePublicKey: PublicKey }
  | { kind: 'open'; noise: NoiseConnection; yamux: YamuxSession }
  | { kind: 'closed' }

export class Connection implements ByteMachine<ConnectionEvent> {
  readonly #opts: ConnectionOptions
  #phase: Phase
  /** Raw bytes queued for the transport before the Noise layer exists (multistream /noise). */
  #rawOut: Uint8Array[] = []
  #events: ConnectionEvent[] = []
  #streams = new Map<number, StreamState>()
  #negotiating = 0
  #upgradeDeadline: Millis | undefined
  #closedEmitted = false
  #closeError: Error | undefined
  #remotePeer: PeerId | undefined
  /** Time of the latest input, for work triggered by pollTransmit. */
  #now: Millis
  /** Streams freed here whose 'stream-closed' the driver has not polled yet: to the driver they are
   * still live, so its commands on them are quiet no-ops (their bytes are dropped, as on any reset). */
  readonly #unseenClosed = new Set<number>()

  constructor(opts: ConnectionOptions) {
    this.#opts = opts
    this.#now = opts.now
    this.#upgradeDeadline = opts.now + (opts.upgradeTimeout ?? 10_000)
    const ms = opts.role === 'dialer'
      ? new MultistreamDialer({ protocols: [NOISE_PROTOCOL] })
      : new MultistreamListener({ protocols: [NOISE_PROTOCOL] })
    this.#phase = { kind: 'security', ms }
    this.#drainSecurity()
  }

  get remotePeer(): PeerId | undefined {
    return this.#remotePeer
  }

  get isOpen(): boolean {
    return this.#phase.kind === 'open'
  }

  get isClosed(): boolean {
    return this.#phase.kind === 'closed'
  }

  // ---- ByteMachine inputs ---------------------------------------------------------------------

  handleData(now: Millis, data: Uint8Array): void {
    this.#now = now
    this.#guard(now, () => {
      const p = this.#phase
      if (p.kind === 'security') {
        p.ms.handleData(now, data)
        this.#drainSecurity()
      } else if (p.kind !== 'closed') {
        p.noise.handleData(now, data)
        this.#drainNoise(now)
      }
    })
  }

  handleEof(now: Millis): void {
    this.#now = now
    this.#guard(now, () => {
      const p = this.#phase
      if (p.kind === 'security' || p.kind === 'handshake' || p.kind === 'muxer') {
        throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/unexpected-eof', `during ${p.kind}`)
      }
      if (p.kind === 'open') {
        p.noise.handleEof(now)
        this.#drainNoise(now)
        if (this.#phase.kind === 'open') {
          p.yamux.handleEof(now)
          this.#drainYamux(now)
        }
      }
    })
  }

  handleTimeout(now: Millis): void {
    this.#now = now
    this.#guard(now, () => {
      if (this.#upgradeDeadline !== undefined && now >= this.#upgradeDeadline) {
        throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/upgrade-timeout')
      }
      const p = this.#phase
      if (p.kind !== 'open') return
      for (const s of this.#streams.values()) {
        if (s.deadline !== undefined && now >= s.deadline) {
          this.#failStream(s, new ProtocolError<ConnectionErrorCode>('connection', 'connection/stream-negotiation-timeout'))
        }
      }
      p.yamux.handleTimeout(now)
      this.#drainYamux(now)
    })
  }

  wantsData(): boolean {
    const p = this.#phase
    if (p.kind === 'closed') return false
    if (p.kind === 'open') return p.noise.wantsData() && p.yamux.wantsData()
    return true
  }

  pollTransmit(max: number): Uint8Array | undefined {
    if (this.#rawOut.length > 0) return this.#rawOut.shift()
    return this.#fromNoise(max)
  }

  /** Ciphertext from Noise, after moving the layer above's plaintext into it. */
  #fromNoise(max: number): Uint8Array | undefined {
    const p = this.#phase
    if (p.kind === 'security' || p.kind === 'closed') return undefined
    // Move plaintext from the layer above into Noise, one frame's worth at a time, only as far as
    // needed to fill `max`: Noise's own queue never grows beyond what the socket asked for.
    const upper = p.kind === 'muxer' ? p.ms : p.kind === 'open' ? p.yamux : undefined
    if (upper !== undefined) {
      let budget = max
      while (budget > 0) {
        // noise.write encrypts at once and keeps nothing: yamux may reuse the memory afterwards
        const want = Math.min(NOISE_MAX_PLAINTEXT, budget)
        const plain = p.kind === 'open' ? p.yamux.pollTransmitTransient(want) : upper.pollTransmit(want)
        if (plain === undefined) break
        p.noise.write(plain)
        budget -= plain.length + 18
      }
    }
    const out = p.noise.pollTransmit(max)
    // Taking bytes can complete yamux's graceful close ('closed' once its GoAway is taken).
    if (p.kind === 'open') this.#guard(this.#now, () => this.#drainYamux(this.#now))
    return out
  }

  pollEvent(): ConnectionEvent | undefined {
    const ev = this.#events.shift()
    if (ev?.type === 'stream-closed') this.#unseenClosed.delete(ev.id)
    return ev
  }

  pollTimeout(): Millis | undefined {
    let t = this.#upgradeDeadline
    const p = this.#phase
    if (p.kind === 'open') {
      const y = p.yamux.pollTimeout()
      if (y !== undefined && (t === undefined || y < t)) t = y
      for (const s of this.#streams.values()) if (s.deadline !== undefined && (t === undefined || s.deadline < t)) t = s.deadline
    }
    return t
  }

  // ---- commands --------------------------------------------------------------------------------

  /** Open a stream and negotiate the first protocol of `protocols` the remote supports. */
  openStream(now: Millis, protocols: readonly string[], requestId: number): number {
    const y = this.#yamux('openStream')
    if (protocols.length === 0) throw new TypeError('openStream needs at least one protocol')
    const id = y.openStream(now)
    const negotiator = new MultistreamDialer({ protocols: [...protocols] })
    const s: StreamState = {
      id, direction: 'outbound', negotiator, protocol: undefined, requestId,
      deadline: now + (this.#opts.streamNegotiationTimeout ?? 10_000), pendingOut: [], preConsumed: 0,
    }
    this.#streams.set(id, s)
    this.#negotiating++
    this.#guard(now, () => {
      this.#flushNegotiator(s)
      this.#drainYamux(now)
    })
    return id
  }

  /** Write application bytes; returns how many were accepted (0 = wait for 'stream-writable'). */
  write(id: number, data: Uint8Array): number {
    const y = this.#yamux('write')
    if (this.#unseenClosed.has(id)) return data.length
    const s = this.#openStream(id)
    if (s.pendingOut.length > 0) return 0
    return y.write(id, data)
  }

  /** The application has read `n` bytes of stream `id`: reopen that much receive window. */
  consume(now: Millis, id: number, n: number): void {
    this.#now = now
    const y = this.#yamux('consume')
    const s = this.#streams.get(id)
    if (s === undefined) return
    const pre = Math.min(s.preConsumed, n)
    s.preConsumed -= pre
    if (n - pre > 0) y.consume(id, n - pre, now)
  }

  closeWrite(id: number): void {
    const y = this.#yamux('closeWrite')
    if (this.#unseenClosed.has(id)) return
    this.#openStream(id)
    y.closeWrite(id)
  }

  reset(id: number): void {
    const y = this.#yamux('reset')
    const s = this.#streams.get(id)
    if (s === undefined) return
    if (s.negotiator !== undefined) this.#negotiating--
    s.negotiator = undefined
    s.deadline = undefined
    y.reset(id)
  }

  /** Graceful close: GoAway, then `closed` once yamux has flushed. Before the upgrade: immediate. */
  close(now: Millis): void {
    const p = this.#phase
    if (p.kind === 'closed') return
    if (p.kind === 'open') {
      this.#guard(now, () => {
        p.yamux.close(now)
        this.#drainYamux(now)
      })
    } else {
      this.#enterClosed(undefined)
    }
  }

  ping(now: Millis): void {
    const y = this.#yamux('ping')
    y.ping(now)
  }

  get rtt(): number | undefined {
    return this.#phase.kind === 'open' ? this.#phase.yamux.rtt : undefined
  }

  get streamCount(): number {
    return this.#streams.size
  }

  // ---- internals ---------------------------------------------------------------------------------

  #yamux(what: string): YamuxSession {
    const p = this.#phase
    if (p.kind !== 'open') throw new UsageError('connection/not-open', `${what} before the connection is established or after it closed`)
    return p.yamux
  }

  #openStream(id: number): StreamState {
    const s = this.#streams.get(id)
    if (s === undefined || s.negotiator !== undefined) throw new UsageError('connection/stream-not-open', `stream ${id}`)
    return s
  }

  /**
   * Run `fn`; whatever it throws ends this connection and never escapes to the driver. A
   * ProtocolError (the remote broke a protocol) closes with GoAway 1 and is the 'closed' error; any
   * other exception is a bug in weft: GoAway 2 and an InternalError whose cause is the original.
   */
  #guard(now: Millis, fn: () => void): void {
    if (this.#phase.kind === 'closed') return
    try {
      fn()
    } catch (e) {
      this.#fatal(now, e)
    }
  }

  #fatal(now: Millis, e: unknown): void {
    const error = e instanceof ProtocolError || e instanceof InternalError ? e : new InternalError('connection/internal-error', e)
    const p = this.#phase
    if (p.kind === 'open') {
      // Tell the remote why (GoAway 1 protocol error, 2 internal error) if yamux is still able to.
      try {
        p.yamux.close(now, error instanceof ProtocolError ? 1 : 2)
        this.#drainYamux(now)
      } catch { /* yamux already terminal */ }
    }
    this.#enterClosed(error)
  }

  #enterClosed(error: Error | undefined): void {
    // First cause wins, also over the error-less 'closed' yamux emits while its GoAway is flushed below.
    this.#closeError ??= error
    error = this.#closeError
    const p = this.#phase
    // Flush what the layers still have (a GoAway), so the driver can write it before closing.
    if (p.kind === 'open') {
      try {
        const flushed: Uint8Array[] = []
        for (let b = this.#fromNoise(1 << 20); b !== undefined; b = this.#fromNoise(1 << 20)) flushed.push(b)
        this.#rawOut.push(...flushed)
      } catch {
        // The secure channel itself failed (tampered frame, or a bug): nothing more can be sent on it.
      }
    }
    for (const s of this.#streams.values()) {
      if (s.negotiator !== undefined && s.direction === 'outbound' && s.requestId !== undefined) {
        this.#events.push({ type: 'stream-open-failed', requestId: s.requestId, error: error ?? new UsageError('connection/closed') })
      } else if (s.protocol !== undefined) {
        this.#events.push({ type: 'stream-reset', id: s.id }, { type: 'stream-closed', id: s.id })
      }
    }
    this.#streams.clear()
    this.#negotiating = 0
    this.#phase = { kind: 'closed' }
    this.#upgradeDeadline = undefined
    if (!this.#closedEmitted) {
      this.#closedEmitted = true
      this.#events.push(error === undefined ? { type: 'closed' } : { type: 'closed', error })
    }
  }

  #drainSecurity(): void {
    const p = this.#phase
    if (p.kind !== 'security') return
    for (let b = p.ms.pollTransmit(1 << 16); b !== undefined; b = p.ms.pollTransmit(1 << 16)) this.#rawOut.push(b)
    for (let ev = p.ms.pollEvent(); ev !== undefined; ev = p.ms.pollEvent()) {
      if (ev.type === 'failed') throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/security-rejected', 'remote does not speak /noise')
      if (ev.type === 'negotiated') {
        const rest = p.ms.takeRemainder()
        const early = this.#opts.earlyMuxerNegotiation ?? true
        const noise = new NoiseConnection({
          role: this.#opts.role === 'dialer' ? 'initiator' : 'responder',
          crypto: this.#opts.crypto,
          identity: this.#opts.identity,
          streamMuxers: early ? [YAMUX_PROTOCOL] : [],
          ...(this.#opts.expectedRemotePeer !== undefined ? { expectedRemotePeer: this.#opts.expectedRemotePeer } : {}),
          ...(this.#opts.noiseStaticKey !== undefined ? { staticKey: this.#opts.noiseStaticKey } : {}),
        })
        this.#phase = { kind: 'handshake', noise }
        // The Noise initiator's first message is ready at once.
        for (let b = noise.pollTransmit(1 << 16); b !== undefined; b = noise.pollTransmit(1 << 16)) this.#rawOut.push(b)
        if (rest.length > 0) {
          noise.handleData(this.#now, rest)
        }
        this.#drainNoise(this.#now)
        return
      }
    }
  }

  /** Route Noise's events: handshake completion, then plaintext to the muxer negotiation or yamux. */
  #drainNoise(now: Millis): void {
    for (;;) {
      const p = this.#phase
      if (p.kind !== 'handshake' && p.kind !== 'muxer' && p.kind !== 'open') return
      const ev = p.noise.pollEvent()
      if (ev === undefined) break
      if (ev.type === 'handshake-complete') {
        this.#remotePeer = ev.remotePeer
        // Noise spec, "Early muxer negotiation": with both lists non-empty the first muxer of the
        // initiator's list that the responder supports wins, and no overlap fails the handshake.
        // An empty remote list (rust-libp2p sends none) means: negotiate with multistream as usual.
        const offered = this.#opts.earlyMuxerNegotiation ?? true
        const remote = ev.remoteStreamMuxers
        if (offered && remote.length > 0 && !remote.includes(YAMUX_PROTOCOL)) {
          throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/no-common-muxer', `remote offers ${remote.join(', ')}`)
        }
        const early = offered && remote.includes(YAMUX_PROTOCOL)
        if (early) {
          this.#openYamux(now, p.noise, ev.remotePeer, ev.remotePublicKey, true)
        } else {
          const ms = this.#opts.role === 'dialer'
            ? new MultistreamDialer({ protocols: [YAMUX_PROTOCOL] })
            : new MultistreamListener({ protocols: [YAMUX_PROTOCOL] })
          this.#phase = { kind: 'muxer', noise: p.noise, ms, remotePeer: ev.remotePeer, remotePublicKey: ev.remotePublicKey }
          this.#drainMuxerNegotiation(now)
        }
      } else if (ev.type === 'data') {
        if (p.kind === 'muxer') {
          p.ms.handleData(now, ev.data)
          this.#drainMuxerNegotiation(now)
        } else if (p.kind === 'open') {
          // Noise's plaintext is ours alone: yamux may hand out views of it instead of copies.
          p.yamux.handleOwnedData(now, ev.data)
          this.#drainYamux(now)
        }
      } else if (ev.type === 'eof') {
        if (p.kind === 'open') {
          p.yamux.handleEof(now)
          this.#drainYamux(now)
        } else {
          throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/unexpected-eof', `during ${p.kind}`)
        }
      }
    }
  }

  #drainMuxerNegotiation(now: Millis): void {
    const p = this.#phase
    if (p.kind !== 'muxer') return
    for (let ev = p.ms.pollEvent(); ev !== undefined; ev = p.ms.pollEvent()) {
      if (ev.type === 'failed') throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/muxer-rejected', 'remote does not speak /yamux/1.0.0')
      if (ev.type === 'negotiated') {
        // Anything the negotiator still has to send (the listener's echo) goes out before yamux frames.
        for (let b = p.ms.pollTransmit(1 << 16); b !== undefined; b = p.ms.pollTransmit(1 << 16)) p.noise.write(b)
        const rest = p.ms.takeRemainder()
        this.#openYamux(now, p.noise, p.remotePeer, p.remotePublicKey, false)
        if (rest.length > 0 && this.#phase.kind === 'open') {
          this.#phase.yamux.handleData(now, rest)
          this.#drainYamux(now)
        }
        return
      }
    }
  }

  #openYamux(now: Millis, noise: NoiseConnection, peer: PeerId, key: PublicKey, early: boolean): void {
    const yamux = new YamuxSession({ ...this.#opts.yamux, role: this.#opts.role === 'dialer' ? 'client' : 'server' })
    this.#phase = { kind: 'open', noise, yamux }
    this.#upgradeDeadline = undefined
    this.#events.push({ type: 'established', remotePeer: peer, remotePublicKey: key, muxer: YAMUX_PROTOCOL, earlyMuxerNegotiation: early })
    this.#drainYamux(now)
  }

  /** Route yamux events, negotiating each new stream's protocol before exposing it. */
  #drainYamux(now: Millis): void {
    const p = this.#phase
    if (p.kind !== 'open') return
    const y = p.yamux
    for (let ev = y.pollEvent(); ev !== undefined; ev = y.pollEvent()) {
      switch (ev.type) {
        case 'stream-inbound': {
          if (this.#negotiating >= (this.#opts.maxNegotiatingStreams ?? 64)) {
            y.reset(ev.id)
            break
          }
          y.accept(ev.id)
          const negotiator = new MultistreamListener({ protocols: this.#opts.supportsProtocol, list: this.#opts.listProtocols })
          const s: StreamState = {
            id: ev.id, direction: 'inbound', negotiator, protocol: undefined, requestId: undefined,
            deadline: now + (this.#opts.streamNegotiationTimeout ?? 10_000), pendingOut: [], preConsumed: 0,
          }
          this.#streams.set(ev.id, s)
          this.#negotiating++
          this.#flushNegotiator(s)
          break
        }
        case 'stream-data': {
          const s = this.#streams.get(ev.id)
          if (s === undefined) break
          if (s.negotiator !== undefined) {
            y.consume(ev.id, ev.data.length, now)
            this.#negotiate(now, s, ev.data)
          } else if (s.protocol !== undefined) {
            this.#events.push({ type: 'stream-data', id: ev.id, data: ev.data })
          } else {
            y.consume(ev.id, ev.data.length, now) // a failed negotiation: drop until the reset lands
          }
          break
        }
        case 'stream-eof': {
          const s = this.#streams.get(ev.id)
          if (s === undefined) break
          if (s.negotiator !== undefined) {
            // The remote half-closed before agreement: that stream fails, alone (spec/connection.md).
            this.#failStream(s, new ProtocolError('multistream', 'multistream/unexpected-eof', `stream ${s.id} ended during negotiation`))
          } else if (s.protocol !== undefined) this.#events.push({ type: 'stream-eof', id: ev.id })
          break
        }
        case 'stream-reset': {
          const s = this.#streams.get(ev.id)
          if (s === undefined) break
          if (s.negotiator !== undefined) {
            this.#negotiating--
            s.negotiator = undefined
            s.deadline = undefined
            if (s.direction === 'outbound' && s.requestId !== undefined) {
              this.#events.push({ type: 'stream-open-failed', requestId: s.requestId, error: new ProtocolError<ConnectionErrorCode>('connection', 'connection/protocol-rejected', 'stream reset during negotiation') })
            }
            s.requestId = undefined
          } else if (s.protocol !== undefined) this.#events.push({ type: 'stream-reset', id: ev.id })
          break
        }
        case 'stream-writable': {
          const s = this.#streams.get(ev.id)
          if (s === undefined) break
          this.#flushPending(s)
          if (s.negotiator === undefined && s.pendingOut.length === 0) this.#events.push({ type: 'stream-writable', id: ev.id })
          break
        }
        case 'stream-closed': {
          const s = this.#streams.get(ev.id)
          if (s === undefined) break
          this.#streams.delete(ev.id)
          if (s.negotiator !== undefined) this.#negotiating--
          if (s.protocol !== undefined) {
            this.#events.push({ type: 'stream-closed', id: ev.id })
            this.#unseenClosed.add(ev.id)
          }
          break
        }
        case 'ping':
          this.#events.push({ type: 'rtt', rtt: ev.rtt })
          break
        case 'closed':
          this.#enterClosed(ev.error)
          return
        default:
          break
      }
    }
  }

  /** Per-stream boundary: a ProtocolError from the stream's negotiation fails that stream alone. */
  #negotiate(now: Millis, s: StreamState, data: Uint8Array): void {
    const n = s.negotiator!
    try {
      n.handleData(now, data)
      this.#flushNegotiator(s)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e // a bug: the connection's boundary (#guard) takes it
      this.#failStream(s, e)
    }
  }

  /** Send the negotiator's bytes and act on its events. */
  #flushNegotiator(s: StreamState): void {
    const n = s.negotiator
    if (n === undefined) return
    for (let b = n.pollTransmit(1 << 16); b !== undefined; b = n.pollTransmit(1 << 16)) s.pendingOut.push(b)
    this.#flushPending(s)
    for (let ev = n.pollEvent(); ev !== undefined; ev = n.pollEvent()) {
      if (ev.type === 'negotiated') {
        const rest = n.takeRemainder()
        s.negotiator = undefined
        s.deadline = undefined
        s.protocol = ev.protocol
        this.#negotiating--
        this.#events.push(s.requestId === undefined
          ? { type: 'stream-opened', id: s.id, protocol: ev.protocol, direction: s.direction }
          : { type: 'stream-opened', id: s.id, protocol: ev.protocol, direction: s.direction, requestId: s.requestId })
        if (rest.length > 0) {
          s.preConsumed += rest.length
          this.#events.push({ type: 'stream-data', id: s.id, data: rest })
        }
        return
      }
      if (ev.type === 'failed') {
        this.#failStream(s, new ProtocolError<ConnectionErrorCode>('connection', 'connection/protocol-rejected', 'remote supports none of the proposed protocols'))
        return
      }
    }
  }

  #flushPending(s: StreamState): void {
    const p = this.#phase
    if (p.kind !== 'open') return
    if (!p.yamux.hasStream(s.id)) {
      // Yamux freed the stream already (a RST in the same read as its SYN): its 'stream-closed' is
      // queued behind this event. Nothing can be sent on it any more.
      s.pendingOut = []
      return
    }
    while (s.pendingOut.length > 0) {
      const b = s.pendingOut[0]!
      const n = p.yamux.write(s.id, b)
      if (n === b.length) s.pendingOut.shift()
      else {
        s.pendingOut[0] = b.subarray(n)
        return
      }
    }
  }

  #failStream(s: StreamState, error: Error): void {
    const p = this.#phase
    if (s.negotiator !== undefined) this.#negotiating--
    s.negotiator = undefined
    s.deadline = undefined
    if (s.direction === 'outbound' && s.requestId !== undefined) {
      this.#events.push({ type: 'stream-open-failed', requestId: s.requestId, error })
      s.requestId = undefined
    }
    if (p.kind === 'open') p.yamux.reset(s.id)
  }
}
