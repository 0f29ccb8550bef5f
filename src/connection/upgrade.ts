/**
 * The upgrade of a raw byte stream to a secure, multiplexed connection, up to the point where yamux
 * takes over:
 *
 *   security   multistream-select `/noise` (or `/tls/1.0.0`, options.security) on the raw bytes
 *   handshake  Noise XX (each side lists its stream muxers in the handshake payload), or libp2p TLS
 *              (the muxers in ALPN, src/tls/libp2p-channel.ts): both are a `SecureChannel` here
 *   muxer      multistream-select `/yamux/1.0.0` inside Noise, only when the remote listed no muxer
 *              (with both lists containing yamux, early muxer negotiation skips this round)
 *
 * `handleData` returns the `Upgraded` result once yamux is agreed; from then on the Noise channel is
 * the connection's (connection.ts) and this object is dropped. Every failure is a ProtocolError
 * thrown to the connection, which closes (connection/security-rejected, no-common-muxer,
 * muxer-rejected, unexpected-eof, or Noise's own codes). The upgrade deadline is the connection's.
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError } from '../core/errors.js'
import { MultistreamDialer, MultistreamListener } from '../multistream/index.js'
import { NoiseConnection } from '../noise/index.js'
import type { PeerId, PublicKey } from '../peer-id/index.js'
import { NOISE_PROTOCOL, TLS_PROTOCOL, YAMUX_PROTOCOL, type ConnectionErrorCode, type ConnectionOptions } from './types.js'

export type UpgradeOptions = Pick<ConnectionOptions,
  'role' | 'crypto' | 'identity' | 'expectedRemotePeer' | 'earlyMuxerNegotiation' | 'lazySecurityNegotiation' | 'noiseStaticKey' | 'noiseKeys' | 'trace' | 'keylog' | 'tlsKeylog' | 'security' | 'tls'>

/** The secure channel after the security handshake: a NoiseConnection or a libp2p TLS channel. */
export type SecureChannel = Pick<NoiseConnection, 'handleData' | 'handleEof' | 'wantsData' | 'write' | 'pollTransmit' | 'pollEvent'> & {
  /** TLS only: queue close_notify (RFC 8446 §6.1) when the connection closes; nothing is written after it. */
  close?(): void
}

/** The upgrade's result: the secure channel, who is on the other end, and yamux bytes already read. */
export interface Upgraded {
  noise: SecureChannel
  remotePeer: PeerId
  remotePublicKey: PublicKey
  earlyMuxerNegotiation: boolean
  /** The security protocol agreed: `/noise` or `/tls/1.0.0`. */
  security: string
  /** Bytes the remote sent after its muxer echo: the first yamux bytes (a view, ours to keep). */
  rest: Uint8Array
}

type Negotiator = MultistreamDialer | MultistreamListener

type Stage =
  /** `noise`: the dialer's handshake, already started when its first message went out with the proposal. */
  | { kind: 'security'; ms: Negotiator; noise?: NoiseConnection | undefined }
  | { kind: 'handshake'; noise: SecureChannel }
  /** Noise is done; the remote's identity waits here until yamux is agreed. */
  | { kind: 'muxer'; noise: SecureChannel; ms: Negotiator; remotePeer: PeerId; remotePublicKey: PublicKey }
  | { kind: 'done' }

export class Upgrade {
  readonly #opts: UpgradeOptions
  /** Raw bytes for the transport before Noise carries them (multistream /noise, Noise handshake). */
  readonly #sendRaw: (b: Uint8Array) => void
  #stage: Stage
  /** The security protocol ids offered (dialer, in order) or accepted (listener). */
  readonly #security: string[]
  #agreed = NOISE_PROTOCOL
  /** The multistream negotiators' trace hook (connection level: no stream id). */
  readonly #msTrace: ((dir: 'in' | 'out', line: string) => void) | undefined

  constructor(opts: UpgradeOptions, sendRaw: (b: Uint8Array) => void, now: Millis) {
    this.#opts = opts
    this.#sendRaw = sendRaw
    const t = opts.trace
    this.#msTrace = t && ((dir, line) => t({ kind: 'multistream', dir, line }))
    const security = this.#security = (opts.security ?? ['noise']).map((s) => (s === 'tls' ? TLS_PROTOCOL : NOISE_PROTOCOL))
    if (security.length === 0) throw new RangeError('security: at least one protocol')
    if (security.includes(TLS_PROTOCOL) && opts.tls === undefined) throw new TypeError("security 'tls' needs the tls option")
    const ms = this.#negotiator(...security)
    this.#stage = { kind: 'security', ms }
    this.#drainSecurity(now) // the dialer's proposal; nothing can complete before any input
    // (lazy only when Noise is the one protocol offered: a fallback to a second one needs the echo first)
    if (opts.role === 'dialer' && (opts.lazySecurityNegotiation ?? true) && security.length === 1 && security[0] === NOISE_PROTOCOL) {
      // Lazy negotiation (rust-libp2p's V1Lazy): Noise's first message leaves in the proposal's
      // flight instead of one round trip later. A listener reads the proposal, echoes it and finds
      // message 1 behind it; one that answers `na` fails the upgrade as before (security-rejected).
      const noise = this.#newNoise()
      this.#stage = { kind: 'security', ms, noise }
      for (let b = noise.pollTransmit(1 << 16); b !== undefined; b = noise.pollTransmit(1 << 16)) this.#sendRaw(b)
    }
  }

  #negotiator(...protocols: string[]): Negotiator {
    return this.#opts.role === 'dialer'
      ? new MultistreamDialer({ protocols, trace: this.#msTrace })
      : new MultistreamListener({ protocols, trace: this.#msTrace })
  }

  #newTls(): SecureChannel {
    return this.#opts.tls!.open({
      role: this.#opts.role,
      identity: this.#opts.identity,
      expectedRemotePeer: this.#opts.expectedRemotePeer,
      streamMuxers: this.#opts.earlyMuxerNegotiation ?? true ? [YAMUX_PROTOCOL] : [],
      ...(this.#opts.tlsKeylog !== undefined ? { keylog: this.#opts.tlsKeylog } : {}),
      ...(this.#opts.trace !== undefined ? { trace: this.#opts.trace } : {}),
    })
  }

  #newNoise(): NoiseConnection {
    const early = this.#opts.earlyMuxerNegotiation ?? true
    return new NoiseConnection({
      role: this.#opts.role === 'dialer' ? 'initiator' : 'responder',
      crypto: this.#opts.crypto,
      identity: this.#opts.identity,
      streamMuxers: early ? [YAMUX_PROTOCOL] : [],
      ...(this.#opts.expectedRemotePeer !== undefined ? { expectedRemotePeer: this.#opts.expectedRemotePeer } : {}),
      ...(this.#opts.noiseStaticKey !== undefined ? { staticKey: this.#opts.noiseStaticKey } : {}),
      ...(this.#opts.noiseKeys !== undefined ? { keys: this.#opts.noiseKeys } : {}),
      trace: this.#opts.trace,
      keylog: this.#opts.keylog,
    })
  }

  get stage(): 'security' | 'handshake' | 'muxer' | 'done' {
    return this.#stage.kind
  }

  /** The secure channel once the security protocol is agreed (its ciphertext goes to the transport). */
  get noise(): SecureChannel | undefined {
    const s = this.#stage
    return s.kind === 'handshake' || s.kind === 'muxer' ? s.noise : undefined
  }

  /** The authenticated remote, once Noise completed (before yamux is agreed). */
  get remotePeer(): PeerId | undefined {
    return this.#stage.kind === 'muxer' ? this.#stage.remotePeer : undefined
  }

  /** Plaintext to encrypt: the muxer negotiation's messages (muxer stage only). */
  pollPlain(max: number): Uint8Array | undefined {
    const s = this.#stage
    return s.kind === 'muxer' ? s.ms.pollTransmit(max) : undefined
  }

  /** Raw bytes from the transport. Returns the result once yamux is agreed; throws ProtocolError. */
  handleData(now: Millis, data: Uint8Array): Upgraded | undefined {
    const s = this.#stage
    if (s.kind === 'security') {
      s.ms.handleData(now, data)
      return this.#drainSecurity(now)
    }
    if (s.kind === 'handshake' || s.kind === 'muxer') {
      s.noise.handleData(now, data)
      return this.#drainNoise(now)
    }
    return undefined
  }

  handleEof(): never {
    throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/unexpected-eof', `during ${this.#stage.kind}`)
  }

  #drainSecurity(now: Millis): Upgraded | undefined {
    const s = this.#stage
    if (s.kind !== 'security') return undefined
    for (let b = s.ms.pollTransmit(1 << 16); b !== undefined; b = s.ms.pollTransmit(1 << 16)) this.#sendRaw(b)
    for (let ev = s.ms.pollEvent(); ev !== undefined; ev = s.ms.pollEvent()) {
      if (ev.type === 'failed') throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/security-rejected', `remote speaks none of ${this.#security.join(', ')}`)
      if (ev.type === 'negotiated') {
        const rest = s.ms.takeRemainder()
        this.#agreed = ev.protocol
        const noise: SecureChannel = ev.protocol === TLS_PROTOCOL ? this.#newTls() : s.noise ?? this.#newNoise()
        this.#stage = { kind: 'handshake', noise }
        // The Noise initiator's first message is ready at once (sent already when lazy).
        for (let b = noise.pollTransmit(1 << 16); b !== undefined; b = noise.pollTransmit(1 << 16)) this.#sendRaw(b)
        if (rest.length > 0) noise.handleData(now, rest)
        return this.#drainNoise(now)
      }
    }
    return undefined
  }

  /**
   * Noise's events until yamux is agreed. Events behind the one that completes the upgrade stay in
   * Noise's queue: they are yamux bytes, for the connection to route.
   */
  #drainNoise(now: Millis): Upgraded | undefined {
    for (;;) {
      const s = this.#stage
      if (s.kind !== 'handshake' && s.kind !== 'muxer') return undefined
      const ev = s.noise.pollEvent()
      if (ev === undefined) return undefined
      if (ev.type === 'handshake-complete') {
        // Noise spec, "Early muxer negotiation": with both lists non-empty the first muxer of the
        // initiator's list that the responder supports wins, and no overlap fails the handshake.
        // An empty remote list (rust-libp2p sends none) means: negotiate with multistream as usual.
        const offered = this.#opts.earlyMuxerNegotiation ?? true
        const remote = ev.remoteStreamMuxers
        if (offered && remote.length > 0 && !remote.includes(YAMUX_PROTOCOL)) {
          throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/no-common-muxer', `remote offers ${remote.join(', ')}`)
        }
        if (offered && remote.includes(YAMUX_PROTOCOL)) {
          return this.#done({ noise: s.noise, remotePeer: ev.remotePeer, remotePublicKey: ev.remotePublicKey, earlyMuxerNegotiation: true, rest: new Uint8Array(0) })
        }
        const ms = this.#negotiator(YAMUX_PROTOCOL)
        this.#stage = { kind: 'muxer', noise: s.noise, ms, remotePeer: ev.remotePeer, remotePublicKey: ev.remotePublicKey }
        const up = this.#drainMuxerNegotiation()
        if (up !== undefined) return up
      } else if (ev.type === 'data') {
        // Noise delivers plaintext only after the handshake, so the stage is 'muxer' here.
        if (s.kind === 'muxer') {
          s.ms.handleData(now, ev.data)
          const up = this.#drainMuxerNegotiation()
          if (up !== undefined) return up
        }
      } else if (ev.type === 'eof') {
        throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/unexpected-eof', `during ${s.kind}`)
      }
    }
  }

  #drainMuxerNegotiation(): Upgraded | undefined {
    const s = this.#stage
    if (s.kind !== 'muxer') return undefined
    for (let ev = s.ms.pollEvent(); ev !== undefined; ev = s.ms.pollEvent()) {
      if (ev.type === 'failed') throw new ProtocolError<ConnectionErrorCode>('connection', 'connection/muxer-rejected', 'remote does not speak /yamux/1.0.0')
      if (ev.type === 'negotiated') {
        // Anything the negotiator still has to send (the listener's echo) goes out before yamux frames.
        for (let b = s.ms.pollTransmit(1 << 16); b !== undefined; b = s.ms.pollTransmit(1 << 16)) s.noise.write(b)
        return this.#done({ noise: s.noise, remotePeer: s.remotePeer, remotePublicKey: s.remotePublicKey, earlyMuxerNegotiation: false, rest: s.ms.takeRemainder() })
      }
    }
    return undefined
  }

  #done(up: Omit<Upgraded, 'security'>): Upgraded {
    this.#stage = { kind: 'done' }
    return { ...up, security: this.#agreed }
  }
}
