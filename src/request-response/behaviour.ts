/**
 * Generic request-response as a behaviour (spec/request-response.md), in rust-libp2p's stream
 * format: one stream per request; the requester writes the request and half-closes, the responder
 * reads to EOF, answers, and closes; the requester reads the response to EOF. No length prefix.
 *
 * Outbound (`request(now, peer, req)`): encode (UsageError 'reqresp/request-too-large' past
 * maxRequestBytes) -> `open-stream` -> write in chunks -> `close-write` -> gather the response
 * (capped at maxResponseBytes) -> at EOF decode -> event `response`; or `outbound-failure`.
 * Inbound (`serve: true`): gather the request (capped) -> at EOF decode -> event `request` with an
 * inboundId -> the user calls `respond(now, inboundId, res)` (write, close) or `omit(now, inboundId)`
 * (close with no bytes, rust's ResponseOmission); or `inbound-failure`.
 * `timeout` covers each whole exchange: an outbound one from `request()` (dial and negotiation
 * included), an inbound one from its stream opening (reading, the handler, writing).
 */
import type { Millis } from '../core/byte-machine.js'
import { concat } from '../core/bytes.js'
import { OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import type { Codec } from './codec.js'

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

export const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
export const DEFAULT_REQUEST_TIMEOUT = 10_000
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100
/** Bytes per write action; the next waits for `stream-writable` (the swarm queues at most 4 MiB). */
const CHUNK = 64 * 1024

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

export interface RequestResponseOptions<Req, Res> extends RequestResponseLimits {
  /** Protocol ids, preferred first: outbound proposes them in order, inbound serves all of them. */
  protocols: readonly string[]
  codec: Codec<Req, Res>
  /** Serve inbound requests (the node has a handler). Default false: the protocols are not offered. */
  serve?: boolean
  /** Run on limited (relayed) connections too. Default false, as go and rust. */
  allowLimited?: boolean
}

export type RequestResponseEvent<Req, Res> =
  | { type: 'request'; inboundId: number; peer: PeerId; protocol: string; connection: ConnectionInfo; request: Req }
  | { type: 'response'; requestId: number; peer: PeerId; protocol: string; response: Res }
  | { type: 'outbound-failure'; requestId: number; peer: PeerId; error: Error }
  | { type: 'inbound-failure'; inboundId?: number; peer: PeerId; protocol?: string; error: Error }
  | { type: 'response-sent'; inboundId: number; peer: PeerId }

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
  readonly deadline: Millis
  readonly request: Uint8Array
  stream?: StreamRef
  protocol?: string
  send?: Sending
  readonly received: Uint8Array[]
  have: number
}

interface Inbound {
  readonly inboundId: number
  readonly peer: PeerId
  readonly stream: StreamRef
  readonly protocol: string
  readonly connection: ConnectionInfo
  readonly deadline: Millis
  state: 'reading' | 'handler' | 'writing'
  readonly received: Uint8Array[]
  have: number
  send?: Sending
}

export class RequestResponseBehaviour<Req, Res> implements Behaviour<RequestResponseEvent<Req, Res>> {
  readonly protocols: readonly string[]
  readonly limitedProtocols: readonly string[]
  readonly #offered: readonly string[]
  readonly #codec: Codec<Req, Res>
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

  constructor(options: RequestResponseOptions<Req, Res>) {
    if (options.protocols.length === 0) throw new RangeError('at least one protocol is needed')
    for (const p of options.protocols) if (typeof p !== 'string' || !p.startsWith('/')) throw new RangeError(`protocol ids start with '/': ${p}`)
    this.#offered = [...options.protocols]
    this.protocols = options.serve === true ? [...options.protocols] : []
    this.#allowLimited = options.allowLimited === true
    this.limitedProtocols = this.#allowLimited ? this.protocols : []
    this.#codec = options.codec
    this.#maxRequest = positive(options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, 'maxRequestBytes')
    this.#maxResponse = positive(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes')
    this.#timeout = positive(options.timeout ?? DEFAULT_REQUEST_TIMEOUT, 'timeout')
    this.#maxStreams = positive(options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS, 'maxConcurrentStreams')
  }

  /** Exchanges in flight (outbound, inbound): for tests and leak checks. */
  get inFlight(): { outbound: number; inbound: number } {
    return { outbound: this.#out.size, inbound: this.#in.size }
  }

  /**
   * Send `request` to `peer`; the result comes as a `response` or `outbound-failure` event with the
   * returned id (`requestId` when given: a caller that must be ready for the event before this returns).
   */
  request(now: Millis, peer: PeerId, request: Req, requestId?: number): number {
    if (requestId !== undefined && (!Number.isSafeInteger(requestId) || requestId < 0)) throw new RangeError('requestId must be a non-negative safe integer')
    if (requestId !== undefined && this.#out.has(requestId)) throw new UsageError('reqresp/duplicate-request-id', String(requestId))
    const bytes = this.#codec.encodeRequest(request)
    if (bytes.length > this.#maxRequest) throw new UsageError('reqresp/request-too-large', `${bytes.length} bytes, maxRequestBytes is ${this.#maxRequest}`)
    if (requestId === undefined) while (this.#out.has(this.#nextId)) this.#nextId++
    requestId ??= this.#nextId++
    const key = peer.toString()
    const n = this.#outPerPeer.get(key) ?? 0
    if (n >= this.#maxStreams) {
      this.#event({ type: 'outbound-failure', requestId, peer, error: new OutcomeError<ReqRespOutcomeCode>('reqresp/too-many-streams', `${n} requests to ${key} in flight`) })
      return requestId
    }
    this.#outPerPeer.set(key, n + 1)
    this.#out.set(requestId, { requestId, peer, deadline: now + this.#timeout, request: bytes, received: [], have: 0 })
    this.#actions.push({ type: 'open-stream', requestId, peer, protocols: this.#offered, ...(this.#allowLimited ? { allowLimited: true } : {}) })
    return requestId
  }

  /** Give up on an outbound request (an aborted signal): its stream is reset, no event follows. */
  cancel(_now: Millis, requestId: number): void {
    const o = this.#out.get(requestId)
    if (o === undefined) return
    if (o.stream !== undefined) this.#actions.push({ type: 'reset', stream: o.stream })
    this.#dropOut(o)
  }

  /** Answer inbound request `inboundId`. False when it is gone (timed out, reset, connection closed). */
  respond(_now: Millis, inboundId: number, response: Res): boolean {
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
    if (bytes.length === 0) return this.omit(_now, inboundId)
    i.state = 'writing'
    i.send = { data: bytes, sent: 0, blocked: false, finished: false }
    if (this.#pump(i.stream, i.send)) this.#responseWritten(i)
    return true
  }

  /** Close inbound request `inboundId`'s stream without a response (the requester sees 'reqresp/no-response'). */
  omit(_now: Millis, inboundId: number): boolean {
    const i = this.#in.get(inboundId)
    if (i === undefined || i.state !== 'handler') return false
    this.#actions.push({ type: 'close-write', stream: i.stream })
    this.#dropIn(i)
    return true
  }

  handle(now: Millis, input: BehaviourInput): void {
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
    for (const o of [...this.#out.values()]) {
      if (o.deadline <= now) this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/timeout', `no response within ${this.#timeout} ms`))
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
    this.#event({ type: 'outbound-failure', requestId: o.requestId, peer: o.peer, error })
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
    this.#in.set(inboundId, { inboundId, peer: connection.peer, stream, protocol, connection, deadline: now + this.#timeout, state: 'reading', received: [], have: 0 })
    this.#inByStream.set(streamKey(stream), inboundId)
  }

  #responseWritten(i: Inbound): void {
    this.#actions.push({ type: 'close-write', stream: i.stream })
    this.#dropIn(i)
    this.#event({ type: 'response-sent', inboundId: i.inboundId, peer: i.peer })
  }

  #failIn(i: Inbound, error: Error, reset = true): void {
    if (reset) this.#actions.push({ type: 'reset', stream: i.stream })
    this.#dropIn(i)
    this.#event({ type: 'inbound-failure', inboundId: i.inboundId, peer: i.peer, protocol: i.protocol, error })
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
      if (o.have + data.length > this.#maxResponse) {
        this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/response-too-large', `more than maxResponseBytes (${this.#maxResponse})`))
        return
      }
      o.received.push(data.slice())
      o.have += data.length
      return
    }
    const i = this.#inOf(key)
    if (i === undefined) return
    if (i.state !== 'reading') {
      // bytes after the request's EOF cannot be; a remote that sends them is ignored (they are not the request)
      return
    }
    if (i.have + data.length > this.#maxRequest) {
      this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/request-too-large', `more than maxRequestBytes (${this.#maxRequest})`))
      return
    }
    i.received.push(data.slice())
    i.have += data.length
  }

  #eof(stream: StreamRef): void {
    const key = streamKey(stream)
    const o = this.#outOf(key)
    if (o !== undefined) {
      if (o.send === undefined || o.send.sent < o.request.length) {
        // the responder closed before taking the whole request: it will not answer it
        this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/no-response', 'the responder closed before the request was sent'))
        return
      }
      if (o.have === 0) {
        this.#failOut(o, new OutcomeError<ReqRespOutcomeCode>('reqresp/no-response', 'the stream ended without a response'), false)
        return
      }
      let response: Res
      try {
        response = this.#codec.decodeResponse(concat(o.received, o.have))
      } catch (e) {
        this.#failOut(o, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', `${this.#codec.name} response: ${(e as Error).message}`, { cause: e }), false)
        return
      }
      this.#dropOut(o)
      this.#event({ type: 'response', requestId: o.requestId, peer: o.peer, protocol: o.protocol!, response })
      return
    }
    const i = this.#inOf(key)
    if (i === undefined || i.state !== 'reading') return
    let request: Req
    try {
      request = this.#codec.decodeRequest(concat(i.received, i.have))
    } catch (e) {
      this.#failIn(i, new ProtocolError<ReqRespProtocolCode>('request-response', 'reqresp/decode', `${this.#codec.name} request: ${(e as Error).message}`, { cause: e }))
      return
    }
    i.received.length = 0
    i.state = 'handler'
    this.#event({ type: 'request', inboundId: i.inboundId, peer: i.peer, protocol: i.protocol, connection: i.connection, request })
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
