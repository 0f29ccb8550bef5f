/**
 * Generic request-response as a behaviour (spec/request-response.md), in rust-libp2p's stream
 * format: one stream per request; the requester writes the request and half-closes, the responder
 * reads to EOF, answers, and closes; the requester reads the response to EOF. With a
 * `lengthPrefixed(codec)` each message carries a uvarint length instead and is complete when its
 * bytes are in (src/request-response/framing.ts).
 *
 * Outbound (`request(now, peer, req)`): encode (UsageError 'reqresp/request-too-large' past
 * maxRequestBytes) -> `open-stream` -> write in chunks -> `close-write` -> gather the response
 * (capped at maxResponseBytes) -> at EOF decode -> event `response`; or `outbound-failure`.
 * Inbound (`serve: true`): gather the request (capped) -> at EOF decode -> event `request` with an
 * inboundId -> the user calls `respond(now, inboundId, res)` (write, close) or `omit(now, inboundId)`
 * (close with no bytes, rust's ResponseOmission); or `inbound-failure`.
 * `timeout` covers each whole exchange: an outbound one from `request()` (dial and negotiation
 * included), an inbound one from its stream opening (reading, the handler, writing).
 * Events that end an exchange carry its `duration` (ms, on the behaviour's clock) for metrics.
 */
import type { Millis } from '../core/byte-machine.js'
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import type { Codec } from './codec.js'
import { frame, MessageReader, type Framing } from './framing.js'

/** A remote broke the exchange (ProtocolError 'request-response'). */
export type ReqRespProtocolCode =
  | 'reqresp/request-too-large'
  | 'reqresp/response-too-large'
  | 'reqresp/decode'

/** An exchange ended without its result and nobody broke the protocol (OutcomeError). */
export type ReqRespOutcomeCode =
  | 'reqresp/dial-failed'
  | 'reqresp/timeout'
  | 'reqresp/connection-closed'
  | 'reqresp/unsupported-protocol'
  | 'reqresp/no-response'
  | 'reqresp/reset'
  | 'reqresp/too-many-streams'
  | 'reqresp/stream-open-failed'
  | 'reqresp/cancelled'

/** Default largest request accepted, 1 MiB (rust-libp2p's). */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
/** Default largest response accepted, 10 MiB (rust-libp2p's). */
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
/** Default time for one exchange, in ms (10 s, rust-libp2p's). */
export const DEFAULT_REQUEST_TIMEOUT = 10_000
/** Default most exchanges at once: inbound per connection, outbound per peer (rust-libp2p's `max_concurrent_streams`). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100
/** Bytes per write action; the next waits for `stream-writable` (the swarm queues at most 4 MiB). */
const CHUNK = 64 * 1024

/** Bounds of request-response exchanges (spec/request-response.md "Limits"). */
export interface RequestResponseLimits {
  /**
   * Largest request, in bytes. Default 1 MiB (rust's). Stops: a requester making us buffer an
   * endless request; past it the stream is reset (inbound-failure 'reqresp/request-too-large').
   */
  maxRequestBytes?: number
  /**
   * Largest response, in bytes. Default 10 MiB (rust's). Stops: a responder streaming without end
   * into our buffer; past it the stream is reset ('reqresp/response-too-large').
   */
  maxResponseBytes?: number
  /** Milliseconds for a whole exchange, either side. Default 10 000 (rust's). Stops: a silent peer or one that never half-closes pinning a stream and its buffer. */
  timeout?: number
  /**
   * Inbound exchanges at once per connection, and outbound ones per peer. Default 100 (rust's
   * max_concurrent_streams). Stops: one peer opening streams without end; excess inbound streams
   * are reset, excess outbound requests fail with 'reqresp/too-many-streams'.
   */
  maxConcurrentStreams?: number
}

/** Which way a protocol id is used (rust's ProtocolSupport): `full` (default) both; `inbound` served
 * only (an old version still answered, never asked); `outbound` asked only. */
export type ProtocolSupport = 'full' | 'inbound' | 'outbound'
/** A protocol id, or one with its support. */
export type ProtocolSpec = string | { readonly id: string; readonly support?: ProtocolSupport }

/** Options of the request-response behaviour: protocols, codec and limits. */
export interface RequestResponseOptions<Req, Res> extends RequestResponseLimits {
  /** Protocol ids, preferred first: outbound proposes those it may ask in order, inbound serves those it may serve. */
  protocols: readonly ProtocolSpec[]
  codec: Codec<Req, Res>
  /** Serve inbound requests (the node has a handler). Default false: the protocols are not offered. */
  serve?: boolean
  /** Run on limited (relayed) connections too. Default false, as go and rust. */
  allowLimited?: boolean
}

/** Events of the request-response behaviour: an inbound request, a response, an inbound or outbound failure. */
export type RequestResponseEvent<Req, Res> =
  | { type: 'request'; inboundId: number; peer: PeerId; protocol: string; connection: ConnectionInfo; request: Req }
  | { type: 'response'; requestId: number; peer: PeerId; protocol: string; response: Res; duration: number }
  | { type: 'outbound-failure'; requestId: number; peer: PeerId; protocol?: string; error: Error; duration: number }
  | { type: 'inbound-failure'; inboundId?: number; peer: PeerId; protocol?: string; error: Error; duration?: number }
  | { type: 'response-sent'; inboundId: number; peer: PeerId; protocol: string; duration: number }

interface Sending {
  readonly data: Uint8Array
  sent: number
  blocked: boolean
  /** The last byte was handed over (and the write side closed once). */
  finished: boolean
}

interface Outbound {
  readonly requestId: number
  readonly peer: PeerId
  readonly started: Millis
  readonly deadline: Millis
  readonly timeout: number
  readonly request: Uint8Array
  stream?: StreamRef
  protocol?: string
  send?: Sending
  readonly reader: MessageReader
  /** The responder half-closed. */
  eof: boolean
  /**
   * Length-prefixed: the response came (and was reported) before the responder's EOF; the stream
   * stays ours until that EOF or the deadline (then reset), with no further event.
   */
  draining: boolean
}

interface Inbound {
  readonly inboundId: number
  readonly peer: PeerId
  readonly stream: StreamRef
  readonly protocol: string
  readonly connection: ConnectionInfo
  readonly started: Millis
  readonly deadline: Millis
  /** `draining` (length-prefixed only): answered, waiting for the requester's EOF to free the stream. */
  state: 'reading' | 'handler' | 'writing' | 'draining'
  readonly reader: MessageReader
  /** The requester half-closed. */
  eof: boolean
  send?: Sending
}

export class RequestResponseBehaviour<Req, Res> implements Behaviour<RequestResponseEvent<Req, Res>> {
  readonly protocols: readonly string[]
  readonly limitedProtocols: readonly string[]
  /** Every protocol id (routing, metrics labels). */
  readonly #offered: readonly string[]
  /** Those proposed on outbound streams, preferred first. */
  readonly #asks: readonly string[]
  /**
   * Inbound streams of each protocol the swarm lets open at once per connection (its backstop,
   * Behaviour.maxInboundStreams): twice maxConcurrentStreams, so that our own cap binds first and
   * reports an `inbound-failure`, with room for streams we are done with that are still closing.
   */
  readonly maxInboundStreams: number
  readonly #codec: Codec<Req, Res>
  readonly #framing: Framing
  readonly #maxRequest: number
  readonly #maxResponse: number
  readonly #timeout: number
  readonly #maxStreams: number
  readonly #allowLimited: boolean

  readonly #actions: BehaviourAction<RequestResponseEvent<Req, Res>>[] = []
  readonly #out = new Map<number, Outbound>()
  readonly #outByStream = new Map<string, number>()
  readonly #outPerPeer = new Map<string, number>()
  readonly #in = new Map<number, Inbound>()
  readonly #inByStream = new Map<string, number>()
  readonly #inPerConn = new Map<number, number>()
  /** Streams reset without a code: a connection's death or the remote's RST, told apart at drain time. */
  readonly #resets: Array<{ kind: 'out' | 'in'; id: number; connection: number }> = []
  readonly #closedConns = new Set<number>()
  #nextId = 1
  #nextInbound = 1
  /** The clock at the latest input or command (durations of the exchanges it ends). */
  #now: Millis = 0

  constructor(options: RequestResponseOptions<Req, Res>) {
    if (options.protocols.length === 0) throw new RangeError('at least one protocol is needed')
    const specs = options.protocols.map((p) => (typeof p === 'string' ? { id: p, support: 'full' } : { id: p.id, support: p.support ?? 'full' }))
    for (const p of specs) {
      if (typeof p.id !== 'string' || !p.id.startsWith('/')) throw new RangeError(`protocol ids start with '/': ${String(p.id)}`)
      if (p.support !== 'full' && p.support !== 'inbound' && p.support !== 'outbound') throw new RangeError(`support must be full, inbound or outbound: ${String(p.support)}`)
    }
    this.#offered = specs.map((p) => p.id)
    this.#asks = specs.filter((p) => p.support !== 'inbound').map((p) => p.id)
    this.protocols = options.serve === true ? specs.filter((p) => p.support !== 'outbound').map((p) => p.id) : []
    this.#allowLimited = options.allowLimited === true
    this.limitedProtocols = this.#allowLimited ? this.protocols : []
    this.#codec = options.codec
    const framing = options.codec.framing ?? 'eof'
    if (framing !== 'eof' && framing !== 'length-prefixed') throw new RangeError(`unknown framing: ${String(framing)}`)
    this.#framing = framing
    this.#maxRequest = positive(options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, 'maxRequestBytes')
    this.#maxResponse = positive(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes')
    this.#timeout = positive(options.timeout ?? DEFAULT_REQUEST_TIMEOUT, 'timeout')
    this.#maxStreams = positive(options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS, 'maxConcurrentStreams')
    this.maxInboundStreams = 2 * this.#maxStreams
  }

  /** The protocol ids, preferred first (served too when `serve`). */
  get offered(): readonly string[] {
    return this.#offered
  }

  /** Exchanges in flight (outbound, inbound): for tests and leak checks. */
  get inFlight(): { outbound: number; inbound: number } {
    return { outbound: this.#out.size, inbound: this.#in.size }
  }

  /**
   * Send `request` to `peer`; the result comes as a `response` or `outbound-failure` event with the
   * returned id (`requestId` when given: a caller that must be ready for the event before this returns).
   * `timeout`: this exchange's, instead of the behaviour's.
   */
  request(now: Millis, peer: PeerId, request: Req, requestId?: number, timeout?: number): number {
    this.#now = now
    if (requestId !== undefined && (!Number.isSafeInteger(requestId) || requestId < 0)) throw new RangeError('requestId must be a non-negative safe integer')
    const ms = timeout === undefined ? this.#timeout : positive(timeout, 'timeout')
    if (requestId !== undefined && this.#out.has(requestId)) throw new UsageError('reqresp/duplicate-request-id', String(requestId))
    if (this.#asks.length === 0) throw new UsageError('reqresp/no-outbound-protocol', 'every protocol of this behaviour is inbound only')
    const message = this.#codec.encodeRequest(request)
    if (message.length > this.#maxRequest) throw new UsageError('reqresp/request-too-large', `${message.length} bytes, maxRequestBytes is ${this.#maxRequest}`)
    if (requestId === undefined) while (this.#out.has(this.#nextId)) this.#nextId++
    requestId ??= this.#nextId++
    const key = peer.toString()
    const n = this.#outPerPeer.get(key) ?? 0
    if (n >= this.#maxStreams) {
      this.#event({ type: 'outbound-failure', requestId, peer, protocol: this.#offered[0]!, error: new OutcomeError<ReqRespOutcomeCode>('reqresp/too-many-streams', `${n} requests to ${key} in flight`), duration: 0 })
      return requestId
    }
    this.#outPerPeer.set(key, n + 1)
    this.#out.set(requestId, { requestId, peer, started: now, deadline: now + ms, timeout: ms, request: frame(this.#framing, message), reader: new MessageReader(this.#framing, this.#maxResponse), eof: false, draining: false })
    this.#actions.push({ type: 'open-stream', requestId, peer, protocols: this.#asks, ...(this.#allowLimited ? { allowLimited: true } : {}) })
    return requestId
  }

  /** Give up on an outbound request (an aborted signal): its stream is reset, no event follows. */
  cancel(now: Millis, requestId: number): void {
    this.#now = now
    const o = this.#out.get(requestId)
    if (o === undefined) return
    if (o.stream !== undefined) this.#actions.push({ type: 'reset', stream: o.stream })
    this.#dropOut(o)
  }

  /** Answer inbound request `inboundId`. False when it is gone (timed out, reset, connection closed). */
  respond(now: Millis, inboundId: number, response: Res): boolean {
    this.#now = now
    const i = this.#in.get(inboundId)
    if (i === undefined || i.state !== 'handler') return false
    let bytes: Uint8Array
    try {
      bytes = this.#codec.encodeResponse(response)
    } catch (e) {
      this.#failIn(i, new UsageError('reqresp/encode', 'the handler returned a response the codec cannot encode', { cause: e }))
      return false
    }
    if (bytes.length > this.#maxResponse) {
      this.#failIn(i, new UsageError('reqresp/response-too-large', `the handler's response is ${bytes.length} bytes, maxResponseBytes is ${this.#maxResponse}`))
      return false
    }
    if (bytes.length === 0 && this.#framing === 'eof') return this.omit(now, inboundId) // no bytes is an omission
    i.state = 'writing'
    i.send = { data: frame(this.#framing, bytes), sent: 0, blocked: false, finished: false }
    if (this.#pump(i.stream, i.send)) this.#responseWritten(i)
    return true
  }

  /** Close inbound request `inboundId`'s stream without a response (the requester sees 'reqresp/no-response'). */
  omit(now: Millis, inboundId: number): boolean {
    this.#now = now
    const i = this.#in.get(inboundId)
    if (i === undefined || i.state !== 'handler') return false
    this.#actions.push({ type: 'close-write', stream: i.stream })
    this.#doneIn(i)
    return true
  }

  handle(now: Millis, input: BehaviourInput): void {
    this.#now = now
    switch (input.type) {
      case 'stream-opened':
        if (!this.#offered.includes(input.protocol)) return
        if (input.direction === 'outbound') this.#outOpened(input.stream, input.protocol, input.requestId)
        else this.#inOpened(now, input.stream, input.protocol, input.connection)
        return
      case 'stream-open-failed': {
        const o = this.#out.get(input.requestId)
        if (o !== undefined && o.stream === undefined) this.#failOut(o, openError(input.error), false)
        return
      }
      case 'stream-data':
        this.#data(input.stream, input.data)
        return
      case 'stream-writable': {
        const key = streamKey(input.stream)
        const o = this.#outOf(key)
        if (o?.send !== undefined && o.send.blocked) {
          o.send.blocked = false
          if (this.#pump(o.stream!, o.send)) this.#actions.push({ type: 'close-write', stream: o.stream! })
        }
        const i = this.#inOf(key)
        if (i?.send !== undefined && i.send.blocked) {
          i.send.blocked = false
          if (this.#pump(i.stream, i.send)) this.#responseWritten(i)
        }
        return
      }
      case 'stream-eof':
        this.#eof(input.stream)
        return
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        const o = this.#outOf(key)
        const i = this.#inOf(key)
        if (input.type === 'stream-reset' && input.connectionClosed === true) {
          if (o !== undefined && !this.#resetPending('out', o.requestId)) this.#failOut(o, closed(), false)
          if (i !== undefined && !this.#resetPending('in', i.inboundId)) this.#failIn(i, closed(), false)
          return
        }
        if (input.type === 'stream-reset' && input.code === undefined) {
          // connection death or a plain RST: decided when the swarm drains us (connection-closed comes in between)
          if (o !== undefined) this.#resets.push({ kind: 'out', id: o.requestId, connection: input.stream.connection })
          if (i !== undefined) this.#resets.push({ kind: 'in', id: i.inboundId, connection: input.stream.connection })
          return
        }
        const error = new OutcomeError<ReqRespOutcomeCode>(input.type === 'stream-reset' ? 'reqresp/reset' : 'reqresp/connection-closed', input.type === 'stream-reset' ? `reset code ${input.code}` : undefined)
        if (o !== undefined && !this.#resetPending('out', o.requestId)) this.#failOut(o, error, false)
        if (i !== undefined && !this.#resetPending('in', i.inboundId)) this.#failIn(i, error, false)
        return
      }
      case 'connection-closed':
        if (this.#resets.some((r) => r.connection === input.connection.id)) this.#closedConns.add(input.connection.id)
        for (const o of [...this.#out.values()]) if (o.stream?.connection === input.connection.id && !this.#resetPending('out', o.requestId)) this.#failOut(o, closed(), false)
        for (const i of [...this.#in.values()]) if (i.stream.connection === input.connection.id && !this.#resetPending('in', i.inboundId)) this.#failIn(i, closed(), false)
        return
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#now = now
    for (const o of [...this.#out.values()]) {
      if (o.deadline <= now) this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/timeout', `no response within ${o.timeout} ms`))
    }
    for (const i of [...this.#in.values()]) {
      if (i.deadline <= now) this.#failIn(i, new OutcomeError<ReqRespOutcomeCode>('reqresp/timeout', `exchange not done within ${this.#timeout} ms`))
    }
  }

  pollAction(): BehaviourAction<RequestResponseEvent<Req, Res>> | undefined {
    if (this.#resets.length > 0) this.#settleResets()
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min: Millis | undefined
    for (const o of this.#out.values()) if (min === undefined || o.deadline < min) min = o.deadline
    for (const i of this.#in.values()) if (min === undefined || i.deadline < min) min = i.deadline
    return min
  }

  // --- outbound -------------------------------------------------------------------------------

  #outOf(key: string): Outbound | undefined {
    const id = this.#outByStream.get(key)
    return id === undefined ? undefined : this.#out.get(id)
  }

  #outOpened(stream: StreamRef, protocol: string, requestId: number | undefined): void {
    const o = requestId === undefined ? undefined : this.#out.get(requestId)
    if (o === undefined || o.stream !== undefined) {
      this.#actions.push({ type: 'reset', stream }) // cancelled or timed out meanwhile
      return
    }
    o.stream = stream
    o.protocol = protocol
    this.#outByStream.set(streamKey(stream), o.requestId)
    o.send = { data: o.request, sent: 0, blocked: false, finished: false }
    if (this.#pump(stream, o.send)) this.#actions.push({ type: 'close-write', stream })
  }

  #failOut(o: Outbound, error: Error, reset = true): void {
    if (reset && o.stream !== undefined) this.#actions.push({ type: 'reset', stream: o.stream })
    this.#dropOut(o)
    // a draining exchange was answered: its stream's end is no failure
    if (!o.draining) this.#event({ type: 'outbound-failure', requestId: o.requestId, peer: o.peer, protocol: o.protocol ?? this.#offered[0]!, error, duration: this.#now - o.started })
  }

  /** The whole response is in (at EOF, or its last length-prefixed byte): decode it. */
  #outComplete(o: Outbound): void {
    const bytes = o.reader.message()
    if (bytes === undefined) {
      this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', 'the response ended inside its length-prefixed frame'), false)
      return
    }
    let response: Res
    try {
      response = this.#codec.decodeResponse(bytes)
    } catch (e) {
      this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', `${this.#codec.name} response: ${(e as Error).message}`, { cause: e }), !o.eof)
      return
    }
    if (o.eof) this.#dropOut(o)
    else if (o.send?.finished !== true) {
      // a length-prefixed response complete before our request was sent: the stream is of no more use
      this.#actions.push({ type: 'reset', stream: o.stream! })
      this.#dropOut(o)
    } else o.draining = true // until the responder's EOF (or the deadline) frees the stream
    this.#event({ type: 'response', requestId: o.requestId, peer: o.peer, protocol: o.protocol!, response, duration: this.#now - o.started })
  }

  #dropOut(o: Outbound): void {
    this.#out.delete(o.requestId)
    if (o.stream !== undefined) this.#outByStream.delete(streamKey(o.stream))
    const key = o.peer.toString()
    const n = (this.#outPerPeer.get(key) ?? 1) - 1
    if (n <= 0) this.#outPerPeer.delete(key)
    else this.#outPerPeer.set(key, n)
  }

  // --- inbound --------------------------------------------------------------------------------

  #inOf(key: string): Inbound | undefined {
    const id = this.#inByStream.get(key)
    return id === undefined ? undefined : this.#in.get(id)
  }

  #inOpened(now: Millis, stream: StreamRef, protocol: string, connection: ConnectionInfo): void {
    const n = this.#inPerConn.get(stream.connection) ?? 0
    if (n >= this.#maxStreams || !this.protocols.includes(protocol)) {
      this.#actions.push({ type: 'reset', stream })
      if (n >= this.#maxStreams) this.#event({ type: 'inbound-failure', peer: connection.peer, protocol, error: new OutcomeError<ReqRespOutcomeCode>('reqresp/too-many-streams', `${n} inbound exchanges on connection ${stream.connection}`) })
      return
    }
    this.#inPerConn.set(stream.connection, n + 1)
    const inboundId = this.#nextInbound++
    this.#in.set(inboundId, { inboundId, peer: connection.peer, stream, protocol, connection, started: now, deadline: now + this.#timeout, state: 'reading', reader: new MessageReader(this.#framing, this.#maxRequest), eof: false })
    this.#inByStream.set(streamKey(stream), inboundId)
  }

  #responseWritten(i: Inbound): void {
    this.#actions.push({ type: 'close-write', stream: i.stream })
    this.#doneIn(i)
    this.#event({ type: 'response-sent', inboundId: i.inboundId, peer: i.peer, protocol: i.protocol, duration: this.#now - i.started })
  }

  /** Answered (or omitted) and our side closed: the stream is done once the requester's side is. */
  #doneIn(i: Inbound): void {
    if (i.eof) this.#dropIn(i)
    else i.state = 'draining' // length-prefixed: the request was complete before its EOF; the deadline still holds
  }

  #failIn(i: Inbound, error: Error, reset = true): void {
    if (reset) this.#actions.push({ type: 'reset', stream: i.stream })
    this.#dropIn(i)
    // a draining exchange was answered: its stream's end is no failure
    if (i.state !== 'draining') this.#event({ type: 'inbound-failure', inboundId: i.inboundId, peer: i.peer, protocol: i.protocol, error, duration: this.#now - i.started })
  }

  /** The whole request is in: decode it and hand it to the user. */
  #inComplete(i: Inbound): void {
    const bytes = i.reader.message()
    if (bytes === undefined) {
      this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', 'the request ended inside its length-prefixed frame'))
      return
    }
    let request: Req
    try {
      request = this.#codec.decodeRequest(bytes)
    } catch (e) {
      this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', `${this.#codec.name} request: ${(e as Error).message}`, { cause: e }))
      return
    }
    i.state = 'handler'
    this.#event({ type: 'request', inboundId: i.inboundId, peer: i.peer, protocol: i.protocol, connection: i.connection, request })
  }

  #dropIn(i: Inbound): void {
    this.#in.delete(i.inboundId)
    this.#inByStream.delete(streamKey(i.stream))
    const n = (this.#inPerConn.get(i.stream.connection) ?? 1) - 1
    if (n <= 0) this.#inPerConn.delete(i.stream.connection)
    else this.#inPerConn.set(i.stream.connection, n)
  }

  // --- both -----------------------------------------------------------------------------------

  #data(stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const o = this.#outOf(key)
    if (o !== undefined) {
      if (o.draining) return // bytes after the length-prefixed response: discarded
      const r = o.reader.push(data)
      if (r === 'too-large') this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/response-too-large', `more than maxResponseBytes (${this.#maxResponse})`))
      else if (r === 'bad-prefix') this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', 'invalid length prefix'))
      else if (r === 'complete') this.#outComplete(o)
      return
    }
    const i = this.#inOf(key)
    // bytes after the request (its EOF, or its length-prefixed frame) are not the request: discarded
    if (i === undefined || i.state !== 'reading') return
    const r = i.reader.push(data)
    if (r === 'too-large') this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/request-too-large', `more than maxRequestBytes (${this.#maxRequest})`))
    else if (r === 'bad-prefix') this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', 'invalid length prefix'))
    else if (r === 'complete') this.#inComplete(i)
  }

  #eof(stream: StreamRef): void {
    const key = streamKey(stream)
    const o = this.#outOf(key)
    if (o !== undefined) {
      o.eof = true
      if (o.draining) {
        this.#dropOut(o)
        return
      }
      if (o.send === undefined || o.send.sent < o.request.length) {
        // the responder closed before taking the whole request: it will not answer it
        this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/no-response', 'the responder closed before the request was sent'))
        return
      }
      if (o.reader.empty) {
        this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/no-response', 'the stream ended without a response'), false)
        return
      }
      this.#outComplete(o)
      return
    }
    const i = this.#inOf(key)
    if (i === undefined) return
    i.eof = true
    if (i.state === 'reading') this.#inComplete(i)
    else if (i.state === 'draining') this.#dropIn(i)
  }

  /**
   * Write the next chunk of `s` on `stream`, one outstanding at a time (the next on stream-writable).
   * True exactly once: when the last byte has just been handed over (the caller closes the write side).
   */
  #pump(stream: StreamRef, s: Sending): boolean {
    if (!s.blocked && s.sent < s.data.length) {
      const n = Math.min(CHUNK, s.data.length - s.sent)
      this.#actions.push({ type: 'write', stream, data: s.data.subarray(s.sent, s.sent + n) })
      s.sent += n
      s.blocked = true
    }
    if (s.finished || s.sent < s.data.length) return false
    s.finished = true
    return true
  }

  #resetPending(kind: 'out' | 'in', id: number): boolean {
    return this.#resets.some((r) => r.kind === kind && r.id === id)
  }

  #settleResets(): void {
    for (const r of this.#resets.splice(0)) {
      const error = this.#closedConns.has(r.connection) ? closed() : new OutcomeError<ReqRespOutcomeCode>('reqresp/reset', 'the remote reset the stream')
      if (r.kind === 'out') {
        const o = this.#out.get(r.id)
        if (o !== undefined) this.#failOut(o, error, false)
      } else {
        const i = this.#in.get(r.id)
        if (i !== undefined) this.#failIn(i, error, false)
      }
    }
    this.#closedConns.clear()
  }

  #event(event: RequestResponseEvent<Req, Res>): void {
    this.#actions.push({ type: 'event', event })
  }
}

const closed = (): OutcomeError<ReqRespOutcomeCode> => new OutcomeError<ReqRespOutcomeCode>('reqresp/connection-closed')

/** The swarm's reason a stream could not be opened, as a request-response outcome (cause kept). */
function openError(e: Error): OutcomeError<ReqRespOutcomeCode> {
  const code = (e as { code?: unknown }).code
  const c: ReqRespOutcomeCode =
    e.name === 'DialError' ? 'reqresp/dial-failed'
    : code === 'connection/protocol-rejected' ? 'reqresp/unsupported-protocol'
    : code === 'connection/closed' || code === 'swarm/connection-closed' || e.name === 'ConnectionClosedError' ? 'reqresp/connection-closed'
    : 'reqresp/stream-open-failed'
  return new OutcomeError<ReqRespOutcomeCode>(c, e.message, { cause: e })
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}
