/**
 * Ping, `/ipfs/ping/1.0.0` (libp2p/specs ping/ping.md), as a behaviour.
 *
 * The dialing peer sends a 32-byte payload of random binary data on a stream; the listening peer
 * echoes the same 32 bytes back; the dialing peer measures the RTT from when it wrote the bytes to
 * when it received them. The listening peer loops, echoing every payload, until the dialing peer
 * closes its write side; then it closes the stream too.
 *
 * Outbound (the dialing peer): `ping(now, peer)` writes the payload on the peer's ping stream and
 * waits for the echo. The spec says "the dialing peer MAY repeat the process by sending another
 * payload with the same stream" and "MUST NOT keep more than one outbound stream for the ping
 * protocol per peer", so each peer has at most one outbound ping stream, opened by the first ping,
 * reused by the pings that follow (a per-peer FIFO, one payload in flight), and closed (write side)
 * once it has been idle for `streamIdleTimeout`. The timeout covers the whole ping, from the
 * `ping()` call (including waiting in the queue and negotiating the stream) to the echo; a failed
 * ping resets its stream, and the next ping opens a fresh one.
 *
 * Inbound (the listening peer): every full 32-byte payload is echoed as soon as it is complete; a
 * partial payload is buffered (at most 31 bytes); at EOF we close our write side. The spec says the
 * listening peer "SHOULD accept at most two streams per peer": further streams are reset.
 */
import type { Millis, RandomBytes } from '../core/byte-machine.js'
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import { concat, equals } from '../core/bytes.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'

/** Protocol id of ping (libp2p specs ping/ping.md). */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
/** The payload size fixed by the spec. */
export const PING_LENGTH = 32

/** A remote broke the protocol (ProtocolError): a wrong echo, or EOF before the echo. */
export type PingErrorCode =
  | 'ping/wrong-echo'
  | 'ping/closed-early'

/** A ping ended without its echo and nobody broke the protocol (OutcomeError): silence, a reset, a lost connection. */
export type PingOutcomeCode =
  | 'ping/timeout'
  | 'ping/stream-reset'
  | 'ping/connection-closed'

/** Events of the ping behaviour: an echo came back (`rtt` in ms) or a ping failed. */
export type PingEvent =
  | { type: 'pong'; requestId: number; peer: PeerId; rtt: Millis }
  /**
   * `error`: a ProtocolError with a PingErrorCode (the remote broke the protocol), an OutcomeError
   * with a PingOutcomeCode, or the swarm's error when the stream could not be opened.
   */
  | { type: 'ping-failed'; requestId: number; peer: PeerId; error: Error }

/** Options of the ping behaviour (libp2p specs ping/ping.md: 32 random bytes echoed on `/ipfs/ping/1.0.0`). */
export interface PingOptions {
  /** Randomness for the 32-byte payloads. */
  random: RandomBytes
  /** Milliseconds from `ping()` to the echo. Default 10 000. */
  timeout?: number
  /**
   * Inbound ping streams open at once per peer. Default 2 (the spec's "at most two streams per
   * peer"). Stops: a peer opening thousands of ping streams, each holding a buffer and an entry.
   */
  maxInboundStreams?: number
  /** Pings waiting per peer (local bound; exceeding it is a UsageError). Default 16. */
  maxQueuedPings?: number
  /** Milliseconds an outbound ping stream stays open after its last echo, for the next ping to reuse. Default 5 000. */
  streamIdleTimeout?: number
}

type OutboundState =
  /** Behind another ping to the same peer. */
  | { kind: 'queued' }
  /** `open-stream` emitted, waiting for `stream-opened`. */
  | { kind: 'opening' }
  /** Payload written at `sentAt`; `received` fills up with the echo. */
  | { kind: 'awaiting-echo'; stream: StreamRef; payload: Uint8Array; sentAt: Millis; received: Uint8Array; have: number }

interface OutboundPing {
  readonly requestId: number
  readonly peer: PeerId
  readonly deadline: Millis
  state: OutboundState
}

/** An outbound ping stream between pings: reused by the peer's next ping, closed at `deadline`. */
interface IdleStream {
  readonly stream: StreamRef
  readonly peerKey: string
  readonly deadline: Millis
}

interface InboundStream {
  readonly peerKey: string
  /** A partial payload: never more than 31 bytes are kept between inputs. */
  readonly partial: Uint8Array
  have: number
}

export class PingBehaviour implements Behaviour<PingEvent> {
  readonly protocols: readonly string[] = [PING_PROTOCOL]
  /** Ping runs on limited (relayed) connections too, as in go and rust. */
  readonly limitedProtocols: readonly string[] = [PING_PROTOCOL]

  readonly #random: RandomBytes
  readonly #timeout: number
  readonly #maxInbound: number
  readonly #maxQueued: number
  readonly #idleTimeout: number

  readonly #actions: BehaviourAction<PingEvent>[] = []
  readonly #pings = new Map<number, OutboundPing>()
  /** Per peer, request ids in FIFO order; the first one is the running ping. */
  readonly #perPeer = new Map<string, number[]>()
  /** Outbound streams awaiting an echo, by stream key. */
  readonly #outStreams = new Map<string, number>()
  /** Idle outbound streams, by peer and by stream key (at most one per peer). */
  readonly #idleByPeer = new Map<string, IdleStream>()
  readonly #idleByStream = new Map<string, IdleStream>()
  readonly #inStreams = new Map<string, InboundStream>()
  readonly #inboundPerPeer = new Map<string, number>()
  #nextId = 1

  constructor(options: PingOptions) {
    if (typeof options.random !== 'function') throw new TypeError('random must be a function')
    this.#random = options.random
    this.#timeout = positive(options.timeout ?? 10_000, 'timeout')
    this.#maxInbound = positive(options.maxInboundStreams ?? 2, 'maxInboundStreams')
    this.#maxQueued = positive(options.maxQueuedPings ?? 16, 'maxQueuedPings')
    this.#idleTimeout = positive(options.streamIdleTimeout ?? 5_000, 'streamIdleTimeout')
  }

  /** Ping `peer` once; returns the request id carried by the resulting `pong` / `ping-failed` event. */
  ping(now: Millis, peer: PeerId, requestId?: number): number {
    const key = peer.toString()
    const queue = this.#perPeer.get(key) ?? []
    if (queue.length >= this.#maxQueued) throw new UsageError('ping/too-many-pending', `${queue.length} pings pending for ${key}`)
    if (requestId !== undefined && (!Number.isSafeInteger(requestId) || requestId < 0)) throw new RangeError('requestId must be a non-negative safe integer')
    if (requestId !== undefined && this.#pings.has(requestId)) throw new UsageError('ping/duplicate-request-id', String(requestId))
    const id = requestId ?? this.#freshId()
    queue.push(id)
    this.#perPeer.set(key, queue)
    const p: OutboundPing = { requestId: id, peer, deadline: now + this.#timeout, state: { kind: 'queued' } }
    this.#pings.set(id, p)
    if (queue.length === 1) this.#start(now, p)
    return id
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'stream-opened':
        if (input.protocol !== PING_PROTOCOL) return
        if (input.direction === 'outbound') this.#outboundOpened(now, input.stream, input.requestId)
        else this.#inboundOpened(input.stream, input.connection.peer)
        return
      case 'stream-open-failed': {
        const p = this.#pings.get(input.requestId)
        if (p !== undefined && p.state.kind === 'opening') this.#fail(now, p, input.error)
        return
      }
      case 'stream-data':
        this.#data(now, input.stream, input.data)
        return
      case 'stream-eof': {
        const key = streamKey(input.stream)
        const inbound = this.#inStreams.get(key)
        if (inbound !== undefined) {
          // The dialing peer is done: any partial payload is dropped, and we close too.
          this.#dropInbound(key, inbound)
          this.#actions.push({ type: 'close-write', stream: input.stream })
          return
        }
        const idle = this.#idleByStream.get(key)
        if (idle !== undefined) {
          // The listener closed our idle stream: close ours too; the next ping opens a new one.
          this.#dropIdle(idle)
          this.#actions.push({ type: 'close-write', stream: input.stream })
          return
        }
        const p = this.#byStream(key)
        if (p !== undefined) this.#fail(now, p, new ProtocolError<PingErrorCode>('ping', 'ping/closed-early', 'stream closed before the echo was complete'))
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        const inbound = this.#inStreams.get(key)
        if (inbound !== undefined) this.#dropInbound(key, inbound)
        const idle = this.#idleByStream.get(key)
        if (idle !== undefined) this.#dropIdle(idle)
        const p = this.#byStream(key)
        if (p !== undefined) this.#fail(now, p, new OutcomeError<PingOutcomeCode>(input.type === 'stream-reset' ? 'ping/stream-reset' : 'ping/connection-closed'))
        return
      }
      case 'connection-closed': {
        const conn = input.connection.id
        for (const [key, s] of this.#inStreams) if (key.startsWith(`${conn}/`)) this.#dropInbound(key, s)
        for (const idle of [...this.#idleByStream.values()]) if (idle.stream.connection === conn) this.#dropIdle(idle)
        for (const p of [...this.#pings.values()]) {
          if (p.state.kind === 'awaiting-echo' && p.state.stream.connection === conn) {
            this.#fail(now, p, new OutcomeError<PingOutcomeCode>('ping/connection-closed'), false)
          }
        }
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    for (const p of [...this.#pings.values()]) {
      if (p.deadline <= now) this.#fail(now, p, new OutcomeError<PingOutcomeCode>('ping/timeout', `no echo within ${this.#timeout} ms`))
    }
    for (const idle of [...this.#idleByStream.values()]) {
      if (idle.deadline > now) continue
      this.#dropIdle(idle)
      this.#actions.push({ type: 'close-write', stream: idle.stream })
    }
  }

  pollAction(): BehaviourAction<PingEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    for (const p of this.#pings.values()) if (min === undefined || p.deadline < min) min = p.deadline
    for (const s of this.#idleByStream.values()) if (min === undefined || s.deadline < min) min = s.deadline
    return min
  }

  // --- outbound -------------------------------------------------------------------------------

  /** Send on the peer's idle stream when there is one, else open a stream. */
  #start(now: Millis, p: OutboundPing): void {
    const idle = this.#idleByPeer.get(p.peer.toString())
    if (idle !== undefined) {
      this.#dropIdle(idle)
      this.#send(now, p, idle.stream)
      return
    }
    p.state = { kind: 'opening' }
    this.#actions.push({ type: 'open-stream', requestId: p.requestId, peer: p.peer, protocols: [PING_PROTOCOL], allowLimited: true })
  }

  #outboundOpened(now: Millis, stream: StreamRef, requestId: number | undefined): void {
    const p = requestId === undefined ? undefined : this.#pings.get(requestId)
    if (p === undefined || p.state.kind !== 'opening') {
      // The ping already failed (timed out): the stream is of no use.
      this.#actions.push({ type: 'reset', stream })
      return
    }
    this.#send(now, p, stream)
  }

  /** Write a fresh payload on `stream` and wait for its echo. */
  #send(now: Millis, p: OutboundPing, stream: StreamRef): void {
    const random = this.#random(PING_LENGTH)
    if (random.length !== PING_LENGTH) throw new UsageError('ping/bad-random', `random(${PING_LENGTH}) returned ${random.length} bytes`)
    const payload = random.slice()
    p.state = { kind: 'awaiting-echo', stream, payload, sentAt: now, received: new Uint8Array(PING_LENGTH), have: 0 }
    this.#outStreams.set(streamKey(stream), p.requestId)
    this.#actions.push({ type: 'write', stream, data: payload.slice() })
  }

  #byStream(key: string): OutboundPing | undefined {
    const id = this.#outStreams.get(key)
    return id === undefined ? undefined : this.#pings.get(id)
  }

  #echo(now: Millis, p: OutboundPing, data: Uint8Array): void {
    const s = p.state
    if (s.kind !== 'awaiting-echo') return
    if (s.have + data.length > PING_LENGTH) {
      this.#fail(now, p, new ProtocolError<PingErrorCode>('ping', 'ping/wrong-echo', `${s.have + data.length} bytes echoed for a ${PING_LENGTH}-byte payload`))
      return
    }
    s.received.set(data, s.have)
    s.have += data.length
    if (s.have < PING_LENGTH) return
    if (!equals(s.received, s.payload)) {
      this.#fail(now, p, new ProtocolError<PingErrorCode>('ping', 'ping/wrong-echo', 'echo differs from the payload'))
      return
    }
    const key = streamKey(s.stream)
    this.#outStreams.delete(key)
    this.#actions.push({ type: 'event', event: { type: 'pong', requestId: p.requestId, peer: p.peer, rtt: now - s.sentAt } })
    // The stream waits for the peer's next ping (started right away by #finish when one is queued).
    const idle: IdleStream = { stream: s.stream, peerKey: p.peer.toString(), deadline: now + this.#idleTimeout }
    this.#idleByPeer.set(idle.peerKey, idle)
    this.#idleByStream.set(key, idle)
    this.#finish(now, p)
  }

  /** Fail a ping: reset its stream (unless the connection is gone), emit the event, start the next one. */
  #fail(now: Millis, p: OutboundPing, error: Error, reset = true): void {
    if (p.state.kind === 'awaiting-echo') {
      this.#outStreams.delete(streamKey(p.state.stream))
      if (reset) this.#actions.push({ type: 'reset', stream: p.state.stream })
    }
    this.#actions.push({ type: 'event', event: { type: 'ping-failed', requestId: p.requestId, peer: p.peer, error } })
    this.#finish(now, p)
  }

  #finish(now: Millis, p: OutboundPing): void {
    this.#pings.delete(p.requestId)
    const key = p.peer.toString()
    const queue = this.#perPeer.get(key)
    if (queue === undefined) return
    const i = queue.indexOf(p.requestId)
    if (i >= 0) queue.splice(i, 1)
    if (queue.length === 0) {
      this.#perPeer.delete(key)
      return
    }
    const next = this.#pings.get(queue[0]!)
    if (next !== undefined && next.state.kind === 'queued') this.#start(now, next)
  }

  #dropIdle(idle: IdleStream): void {
    this.#idleByPeer.delete(idle.peerKey)
    this.#idleByStream.delete(streamKey(idle.stream))
  }

  #freshId(): number {
    while (this.#pings.has(this.#nextId)) this.#nextId++
    return this.#nextId++
  }

  // --- inbound --------------------------------------------------------------------------------

  #inboundOpened(stream: StreamRef, peer: PeerId): void {
    const peerKey = peer.toString()
    const count = this.#inboundPerPeer.get(peerKey) ?? 0
    if (count >= this.#maxInbound) {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    this.#inboundPerPeer.set(peerKey, count + 1)
    this.#inStreams.set(streamKey(stream), { peerKey, partial: new Uint8Array(PING_LENGTH), have: 0 })
  }

  #data(now: Millis, stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const inbound = this.#inStreams.get(key)
    if (inbound === undefined) {
      const p = this.#byStream(key)
      if (p !== undefined) {
        this.#echo(now, p, data)
        return
      }
      const idle = this.#idleByStream.get(key)
      if (idle !== undefined) {
        // Bytes with no payload outstanding: not an echo of ours, so the stream cannot be trusted.
        this.#dropIdle(idle)
        this.#actions.push({ type: 'reset', stream })
      }
      return
    }
    // Echo every complete payload; keep the incomplete tail (< 32 bytes).
    const parts: Uint8Array[] = []
    let off = 0
    if (inbound.have > 0) {
      const take = Math.min(PING_LENGTH - inbound.have, data.length)
      inbound.partial.set(data.subarray(0, take), inbound.have)
      inbound.have += take
      off = take
      if (inbound.have === PING_LENGTH) {
        parts.push(inbound.partial.slice())
        inbound.have = 0
      }
    }
    if (inbound.have === 0) {
      const whole = Math.floor((data.length - off) / PING_LENGTH) * PING_LENGTH
      if (whole > 0) parts.push(data.subarray(off, off + whole))
      off += whole
      inbound.partial.set(data.subarray(off), 0)
      inbound.have = data.length - off
    }
    if (parts.length > 0) this.#actions.push({ type: 'write', stream, data: concat(parts) })
  }

  #dropInbound(key: string, s: InboundStream): void {
    this.#inStreams.delete(key)
    const n = (this.#inboundPerPeer.get(s.peerKey) ?? 1) - 1
    if (n <= 0) this.#inboundPerPeer.delete(s.peerKey)
    else this.#inboundPerPeer.set(s.peerKey, n)
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}
