/**
 * The rendezvous point over `/rendezvous/1.0.0` streams (spec/rendezvous.md, "Point"): a pure
 * behaviour around the registry. Each inbound stream carries requests, one length-prefixed Message
 * at a time (rust-libp2p sends one per stream, then closes its write side); REGISTER and DISCOVER
 * are answered on the same stream, UNREGISTER is not. At the remote's EOF we close our side.
 *
 * Bounded: message size (the codec), streams open at once per peer, requests per stream, and a
 * deadline per stream. A remote's bad bytes reset the stream and surface as an `inbound-failure`
 * event with a ProtocolError('rendezvous', ...).
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/index.js'
import { OutcomeError, ProtocolError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { MessageType, RENDEZVOUS_PROTOCOL, RendezvousDecoder, ResponseStatus, encodeRendezvousFrame, type RendezvousMessageLimits } from './message.js'
import { RendezvousRegistry, type RendezvousRegistryOptions } from './server.js'

/** Per-peer bounds of the rendezvous point (spec/rendezvous.md "Limits"). */
export interface RendezvousServerLimits {
  /** Inbound rendezvous streams open at once per peer. Default 8. Stops one peer pinning many streams and decoders; excess streams are reset. */
  maxStreamsPerPeer?: number
  /** Requests on one stream. Default 16 (rust sends 1). Stops a peer keeping one stream busy forever; past it the stream is reset. */
  maxRequestsPerStream?: number
  /** Milliseconds a stream may stay open. Default 10 000 (rust's request-response timeout). Stops silent peers holding streams. */
  streamTimeout?: number
}

/** Options of the rendezvous point behaviour. */
export interface RendezvousServerOptions extends RendezvousServerLimits {
  crypto: CryptoProvider
  registry?: Partial<RendezvousRegistryOptions>
  messageLimits?: Partial<RendezvousMessageLimits>
}

/** Default `RendezvousServerLimits`. */
export const DEFAULT_RENDEZVOUS_SERVER_LIMITS: Readonly<Required<RendezvousServerLimits>> = Object.freeze({
  maxStreamsPerPeer: 8,
  maxRequestsPerStream: 16,
  streamTimeout: 10_000,
})

/** Events of the rendezvous point: registrations accepted, refused, removed, discoveries served. */
export type RendezvousServerEvent =
  | { type: 'registered'; peer: PeerId; namespace: string; ttl: number }
  | { type: 'register-refused'; peer: PeerId; namespace: string; status: ResponseStatus; statusText?: string }
  | { type: 'unregistered'; peer: PeerId; namespace: string }
  | { type: 'discover-served'; peer: PeerId; namespace?: string; count: number; status: ResponseStatus }
  | { type: 'inbound-failure'; peer: PeerId; error: Error }

interface Inbound {
  readonly stream: StreamRef
  readonly peer: PeerId
  readonly decoder: RendezvousDecoder
  readonly deadline: Millis
  requests: number
}

export class RendezvousServerBehaviour implements Behaviour<RendezvousServerEvent> {
  readonly protocols = [RENDEZVOUS_PROTOCOL]
  readonly registry: RendezvousRegistry
  readonly #l: Required<RendezvousServerLimits>
  readonly #msg: Partial<RendezvousMessageLimits>
  readonly #streams = new Map<string, Inbound>()
  readonly #perPeer = new Map<string, number>()
  readonly #actions: BehaviourAction<RendezvousServerEvent>[] = []

  constructor(options: RendezvousServerOptions) {
    this.#l = { ...DEFAULT_RENDEZVOUS_SERVER_LIMITS }
    for (const k of Object.keys(DEFAULT_RENDEZVOUS_SERVER_LIMITS) as Array<keyof RendezvousServerLimits>) {
      const v = options[k]
      if (v === undefined) continue
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`)
      this.#l[k] = v
    }
    this.registry = new RendezvousRegistry(options.crypto, options.registry)
    this.#msg = options.messageLimits ?? {}
  }

  /** Streams open now (for tests and leak checks). */
  get openStreams(): number {
    return this.#streams.size
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'stream-opened': {
        if (input.protocol !== RENDEZVOUS_PROTOCOL || input.direction !== 'inbound') return
        const peer = input.connection.peer
        const key = peer.toString()
        const n = this.#perPeer.get(key) ?? 0
        if (n >= this.#l.maxStreamsPerPeer) {
          this.#actions.push({ type: 'reset', stream: input.stream })
          this.#event({ type: 'inbound-failure', peer, error: new OutcomeError('rendezvous/too-many-streams', `${n} streams of ${key} open`) })
          return
        }
        this.#perPeer.set(key, n + 1)
        this.#streams.set(streamKey(input.stream), { stream: input.stream, peer, decoder: new RendezvousDecoder(this.#msg), deadline: now + this.#l.streamTimeout, requests: 0 })
        return
      }
      case 'stream-data': {
        const s = this.#streams.get(streamKey(input.stream))
        if (s !== undefined) this.#data(now, s, input.data)
        return
      }
      case 'stream-eof': {
        const s = this.#streams.get(streamKey(input.stream))
        if (s === undefined) return
        this.#actions.push({ type: 'close-write', stream: s.stream })
        this.#drop(s)
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const s = this.#streams.get(streamKey(input.stream))
        if (s !== undefined) this.#drop(s)
        return
      }
      case 'connection-closed':
        for (const s of [...this.#streams.values()]) if (s.stream.connection === input.connection.id) this.#drop(s)
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    for (const s of [...this.#streams.values()]) {
      if (s.deadline > now) continue
      this.#fail(s, new OutcomeError('rendezvous/timeout', `stream open longer than ${this.#l.streamTimeout} ms`))
    }
  }

  pollAction(): BehaviourAction<RendezvousServerEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    for (const s of this.#streams.values()) if (min === undefined || s.deadline < min) min = s.deadline
    return min
  }

  #data(now: Millis, s: Inbound, data: Uint8Array): void {
    s.decoder.push(data)
    for (;;) {
      let msg
      try {
        msg = s.decoder.next()
      } catch (e) {
        this.#fail(s, e as Error)
        return
      }
      if (msg === undefined) return
      if (++s.requests > this.#l.maxRequestsPerStream) {
        this.#fail(s, new OutcomeError('rendezvous/too-many-requests', `more than ${this.#l.maxRequestsPerStream} requests on one stream`))
        return
      }
      if (msg.type === MessageType.REGISTER_RESPONSE || msg.type === MessageType.DISCOVER_RESPONSE) {
        this.#fail(s, new ProtocolError('rendezvous', 'rendezvous/unexpected-message', `a response (type ${msg.type}) sent to the point`))
        return
      }
      const res = this.registry.handle(now, s.peer, msg)
      if (msg.type === MessageType.REGISTER) {
        const r = (res as { registerResponse: { status: ResponseStatus; statusText?: string; ttl?: number } }).registerResponse
        const namespace = msg.register.ns ?? ''
        this.#event(r.status === ResponseStatus.OK
          ? { type: 'registered', peer: s.peer, namespace, ttl: r.ttl ?? 0 }
          : { type: 'register-refused', peer: s.peer, namespace, status: r.status, ...(r.statusText === undefined ? {} : { statusText: r.statusText }) })
      } else if (msg.type === MessageType.UNREGISTER) {
        this.#event({ type: 'unregistered', peer: s.peer, namespace: msg.unregister.ns ?? '' })
      } else if (res !== undefined && res.type === MessageType.DISCOVER_RESPONSE) {
        const ns = msg.discover.ns
        this.#event({ type: 'discover-served', peer: s.peer, ...(ns === undefined ? {} : { namespace: ns }), count: res.discoverResponse.registrations.length, status: res.discoverResponse.status })
      }
      if (res !== undefined) this.#actions.push({ type: 'write', stream: s.stream, data: encodeRendezvousFrame(res) })
    }
  }

  #fail(s: Inbound, error: Error): void {
    this.#actions.push({ type: 'reset', stream: s.stream })
    this.#drop(s)
    this.#event({ type: 'inbound-failure', peer: s.peer, error })
  }

  #drop(s: Inbound): void {
    if (!this.#streams.delete(streamKey(s.stream))) return
    const key = s.peer.toString()
    const n = (this.#perPeer.get(key) ?? 1) - 1
    if (n <= 0) this.#perPeer.delete(key)
    else this.#perPeer.set(key, n)
  }

  #event(event: RendezvousServerEvent): void {
    this.#actions.push({ type: 'event', event })
  }
}
