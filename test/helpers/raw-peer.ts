/**
 * A peer built by hand from weft's own cores (multistream for /noise, Noise XX with early yamux
 * negotiation, a YamuxSession), for tests that need to send exactly the frames they want after an
 * honest handshake: `session` for well-formed streams, `sendPlain` for hand-made yamux bytes.
 *
 * The transport is abstract: `send` writes ciphertext to the other side, `receive` takes what the
 * other side wrote. It works against a Connection core in memory and against a node over TCP.
 */
import { nodeCrypto } from '../../src/io/crypto-node.js'
import { MultistreamDialer, MultistreamListener, encodeMessage, PROTOCOL_ID } from '../../src/multistream/index.js'
import { NoiseConnection } from '../../src/noise/index.js'
import { generatePrivateKey, type PeerId } from '../../src/peer-id/index.js'
import { YamuxSession, type YamuxEvent } from '../../src/yamux/index.js'

export class RawPeer {
  readonly session: YamuxSession
  readonly events: YamuxEvent[] = []
  remotePeer: PeerId | undefined
  /** Set once the remote ended the secure channel or the yamux session. */
  ended = false
  readonly #send: (b: Uint8Array) => void
  readonly #ms: MultistreamDialer | MultistreamListener
  readonly #noise: NoiseConnection
  #phase: 'ms' | 'noise' = 'ms'
  readonly #onEvent: ((ev: YamuxEvent) => void) | undefined

  constructor(opts: { role: 'initiator' | 'responder'; send: (b: Uint8Array) => void; onEvent?: (ev: YamuxEvent) => void }) {
    this.#send = opts.send
    this.#onEvent = opts.onEvent
    const initiator = opts.role === 'initiator'
    this.#ms = initiator ? new MultistreamDialer({ protocols: ['/noise'] }) : new MultistreamListener({ protocols: ['/noise'] })
    this.#noise = new NoiseConnection({ role: opts.role, crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), streamMuxers: ['/yamux/1.0.0'] })
    // The session's keep-alive is off: the tests drive no timers.
    this.session = new YamuxSession({ role: initiator ? 'client' : 'server', keepAliveInterval: undefined })
    this.flush()
  }

  get established(): boolean {
    return this.remotePeer !== undefined
  }

  receive(data: Uint8Array): void {
    if (this.#phase === 'ms') {
      this.#ms.handleData(0, data)
      for (let e = this.#ms.pollEvent(); e !== undefined; e = this.#ms.pollEvent()) {
        if (e.type === 'negotiated') {
          for (let b = this.#ms.pollTransmit(65536); b !== undefined; b = this.#ms.pollTransmit(65536)) this.#send(b)
          this.#phase = 'noise'
          const rest = this.#ms.takeRemainder()
          this.#flushNoise()
          if (rest.length > 0) this.#noise.handleData(0, rest)
        }
      }
    } else {
      this.#noise.handleData(0, data)
    }
    for (let e = this.#noise.pollEvent(); e !== undefined; e = this.#noise.pollEvent()) {
      if (e.type === 'handshake-complete') this.remotePeer = e.remotePeer
      else if (e.type === 'data') this.session.handleData(0, e.data)
      else if (e.type === 'eof') this.ended = true
    }
    this.#pumpSession()
    this.flush()
  }

  /** Hand-made plaintext (yamux frames) through the secure channel, as one Noise frame. */
  sendPlain(plain: Uint8Array): void {
    this.#noise.write(plain)
    this.flush()
  }

  /** The session's queued frames followed by `extra` (hand-made frames), as one Noise frame. */
  sendWithSession(extra: Uint8Array): void {
    const parts: Uint8Array[] = []
    for (let b = this.session.pollTransmit(60_000); b !== undefined; b = this.session.pollTransmit(60_000)) parts.push(b.slice())
    parts.push(extra)
    const all = new Uint8Array(parts.reduce((n, b) => n + b.length, 0))
    let off = 0
    for (const b of parts) { all.set(b, off); off += b.length }
    this.sendPlain(all)
  }

  /** Move the session's frames and the handshake's messages to the wire. */
  flush(): void {
    if (this.#phase === 'ms') {
      for (let b = this.#ms.pollTransmit(65536); b !== undefined; b = this.#ms.pollTransmit(65536)) this.#send(b)
      return
    }
    if (this.established) {
      for (let b = this.session.pollTransmit(60_000); b !== undefined; b = this.session.pollTransmit(60_000)) this.#noise.write(b)
    }
    this.#flushNoise()
    this.#pumpSession()
  }

  #flushNoise(): void {
    for (let b = this.#noise.pollTransmit(1 << 20); b !== undefined; b = this.#noise.pollTransmit(1 << 20)) this.#send(b)
  }

  #pumpSession(): void {
    for (let e = this.session.pollEvent(); e !== undefined; e = this.session.pollEvent()) {
      if (e.type === 'closed') this.ended = true
      this.events.push(e)
      this.#onEvent?.(e)
    }
  }
}

/** The lazy (0-RTT) multistream prefix that proposes `protocol` on a fresh stream. */
export function lazyProposal(protocol: string): Uint8Array {
  const a = encodeMessage(PROTOCOL_ID)
  const b = encodeMessage(protocol)
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
