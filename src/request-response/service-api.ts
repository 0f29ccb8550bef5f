/**
 * Request-response as a node service (spec/request-response.md):
 *
 *   import { requestResponse, json, type RequestResponse } from 'weft/request-response'
 *   const node = await createNode({ services: {
 *     kv: requestResponse({ protocol: '/app/kv/1.0.0', codec: json<Req, Res>(), handler: async (req, { peer }) => res }),
 *   } })
 *   const res = await node.service<RequestResponse<Req, Res>>('kv').request(peerOrAddr, req, { signal, timeout })
 *   const res2 = await node.request<Res>(peerOrAddr, req, { protocol: '/app/kv/1.0.0' }) // the same, found by protocol
 *
 * `request` rejects with OutcomeError / ProtocolError codes 'reqresp/...' (spec/request-response.md,
 * Outcomes). Without `handler` the node only asks: its protocols are not offered to peers. A handler
 * that throws, or returns `noResponse`, closes the stream without a response (rust's
 * ResponseOmission; the requester gets 'reqresp/no-response').
 */
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo, NodeService, ServiceFactory } from '../swarm/index.js'
import { RequestResponseBehaviour, type ProtocolSpec, type RequestResponseEvent, type RequestResponseLimits } from './behaviour.js'
import type { Codec } from './codec.js'
import { reqRespMetrics, type ReqRespMetrics } from './metrics.js'

/** Returned by a handler: answer nothing (the requester gets 'reqresp/no-response'). */
export const noResponse: unique symbol = Symbol('noResponse')

/** What a request handler learns about the exchange: the peer, the protocol, the connection, and an abort signal. */
export interface HandlerContext {
  readonly peer: PeerId
  readonly protocol: string
  readonly connection: ConnectionInfo
  /** Aborted when the exchange ends before the handler answers (timeout, reset, connection closed). */
  readonly signal: AbortSignal
}

/**
 * Answers one inbound request: the response, or `noResponse` to close the stream without one. A throw also closes it without a response.
 */
export type Handler<Req, Res> = (request: Req, ctx: HandlerContext) => Res | typeof noResponse | Promise<Res | typeof noResponse>

/** Options of `requestResponse()`: the protocol(s), the codec, the handler and limits (spec/request-response.md). */
export interface RequestResponseServiceOptions<Req, Res> extends RequestResponseLimits {
  /**
   * The protocol id, or several, preferred first; each may say its support (rust's ProtocolSupport):
   * `{ id: '/app/kv/1.0.0', support: 'inbound' }` is served but never asked. Default `full`.
   */
  protocol: ProtocolSpec | readonly ProtocolSpec[]
  codec: Codec<Req, Res>
  /** Serves inbound requests when given. */
  handler?: Handler<Req, Res>
  /** The behaviour's name in the swarm (events, metrics, resource scopes). Default `request-response:<first protocol>`. */
  name?: string
  /** Run on limited (relayed) connections too. Default false. */
  allowLimited?: boolean
}

/** Options of `RequestResponse.request`: `signal` aborts the exchange. */
export interface RequestOptions {
  signal?: AbortSignal
  /** This exchange's timeout in ms (default: the service's `timeout`, 10 000), from the stream request on (a dial to an address first has the node's own dial timeout). */
  timeout?: number
}

/** The events of the `RequestResponse` API, with their `detail`. */
export interface RequestResponseEvents {
  /** An inbound exchange failed (timeout, reset, too large, decode, too many streams, the handler threw...). */
  'inbound-failure': { peer: PeerId; protocol?: string; error: Error }
  /** A response was handed to the muxer in full. */
  'response-sent': { peer: PeerId; protocol: string }
}

type RunInRuntime = <T>(f: (now: number) => T) => T
interface Waiter<Res> { resolve(v: Res): void; reject(e: Error): void }
/** The part of the node this service uses (typed loosely: the edge is above us). */
interface NodeLike { dial(target: Multiaddr, options?: { signal?: AbortSignal }): Promise<{ peer: PeerId }> }

/**
 * A request-response service (spec/request-response.md): `request(peer, req)` opens a stream, writes the
 * request, and resolves with the response; inbound requests go to the handler. Rejections are
 * `OutcomeError` or `ProtocolError` with `reqresp/...` codes (timeout, no response, too large, decode).
 */
export class RequestResponse<Req = unknown, Res = unknown> extends EventTarget {
  readonly #b: RequestResponseBehaviour<Req, Res>
  readonly #run: RunInRuntime
  readonly #handler: Handler<Req, Res> | undefined
  readonly #waiting = new Map<number, Waiter<Res>>()
  readonly #handling = new Map<number, AbortController>()
  #node: NodeLike | undefined
  #metrics: ReqRespMetrics | undefined
  #nextId = 1
  #stopped: Error | undefined

  constructor(behaviour: RequestResponseBehaviour<Req, Res>, run: RunInRuntime, handler: Handler<Req, Res> | undefined) {
    super()
    this.#b = behaviour
    this.#run = run
    this.#handler = handler
  }

  /** The protocol ids this service speaks, preferred first (`node.request` picks a service by them). */
  get protocols(): readonly string[] {
    return this.#b.offered
  }

  /** The behaviour (its `inFlight` counts, for tests and diagnostics). */
  get behaviour(): RequestResponseBehaviour<Req, Res> {
    return this.#b
  }

  /** Send `request` to `peer` (a peer id, or an address to dial first) and wait for its response. */
  async request(peer: PeerId | Multiaddr | string, request: Req, options: RequestOptions = {}): Promise<Res> {
    if (this.#stopped !== undefined) throw this.#stopped
    const signal = options.signal
    const timeout = options.timeout
    if (timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout < 1)) throw new RangeError('timeout must be a positive integer (ms)')
    const aborted = (): Error => (signal?.reason instanceof Error ? signal.reason : new UsageError('node/aborted', 'the operation was aborted'))
    if (signal?.aborted === true) throw aborted()
    let target: PeerId
    if (peer instanceof PeerId) target = peer
    else if (typeof peer === 'string' && !peer.startsWith('/')) target = PeerId.parse(peer)
    else {
      const addr = typeof peer === 'string' ? Multiaddr.fromString(peer) : peer
      if (this.#node === undefined) throw new UsageError('reqresp/not-attached', 'the service is not part of a node')
      target = (await this.#node.dial(addr, signal !== undefined ? { signal } : {})).peer
    }
    return new Promise<Res>((resolve, reject) => {
      // the id is ours, so the waiter is in place before the behaviour runs: a failure it reports at
      // once (no addresses) is routed to us inside `run`
      const id = this.#nextId++
      const onAbort = (): void => {
        this.#waiting.delete(id)
        this.#run((now) => this.#b.cancel(now, id))
        this.#metrics?.ended('outbound', this.#b.offered[0]!, { code: 'reqresp/aborted' }, 0)
        reject(aborted())
      }
      const done = (): void => signal?.removeEventListener('abort', onAbort)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.set(id, { resolve: (v) => { done(); resolve(v) }, reject: (e) => { done(); reject(e) } })
      try {
        this.#run((now) => this.#b.request(now, target, request, id, timeout))
      } catch (e) {
        this.#waiting.delete(id)
        done()
        reject(e as Error)
      }
    })
  }

  /** Typed addEventListener; returns a function that removes the listener. */
  on<K extends keyof RequestResponseEvents>(type: K, listener: (detail: RequestResponseEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<RequestResponseEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  /** @internal */
  _attach(node: NodeLike): void {
    this.#node = node
    this.#metrics = reqRespMetrics(node, () => ({ protocol: this.#b.offered[0]!, ...this.#b.inFlight }))
  }

  /** @internal the node routes the behaviour's events here. */
  _onEvent(ev: RequestResponseEvent<Req, Res>): void {
    switch (ev.type) {
      case 'response':
      case 'outbound-failure': {
        if (this.#waiting.has(ev.requestId)) this.#metrics?.ended('outbound', ev.protocol ?? this.#b.offered[0]!, ev.type === 'response' ? undefined : ev.error, ev.duration)
        const w = this.#waiting.get(ev.requestId)
        if (w === undefined) return
        this.#waiting.delete(ev.requestId)
        if (ev.type === 'response') w.resolve(ev.response)
        else w.reject(ev.error)
        return
      }
      case 'request':
        this.#serve(ev)
        return
      case 'inbound-failure':
        if (ev.inboundId !== undefined) this.#handling.get(ev.inboundId)?.abort(ev.error)
        if (ev.inboundId !== undefined) this.#handling.delete(ev.inboundId)
        this.#metrics?.ended('inbound', ev.protocol ?? this.#b.offered[0]!, ev.error, ev.duration ?? 0)
        this.dispatchEvent(new CustomEvent('inbound-failure', { detail: { peer: ev.peer, protocol: ev.protocol, error: ev.error } }))
        return
      case 'response-sent':
        this.#metrics?.ended('inbound', ev.protocol, undefined, ev.duration)
        this.dispatchEvent(new CustomEvent('response-sent', { detail: { peer: ev.peer, protocol: ev.protocol } }))
    }
  }

  /** @internal */
  _stop(error: Error): void {
    this.#stopped = error
    for (const w of this.#waiting.values()) w.reject(error)
    this.#waiting.clear()
    for (const c of this.#handling.values()) c.abort(error)
    this.#handling.clear()
  }

  async #serve(ev: Extract<RequestResponseEvent<Req, Res>, { type: 'request' }>): Promise<void> {
    const id = ev.inboundId
    const handler = this.#handler
    if (handler === undefined) {
      this.#run((now) => this.#b.omit(now, id))
      return
    }
    const ctl = new AbortController()
    this.#handling.set(id, ctl)
    let res: Res | typeof noResponse
    try {
      res = await handler(ev.request, { peer: ev.peer, protocol: ev.protocol, connection: ev.connection, signal: ctl.signal })
    } catch (e) {
      this.#handling.delete(id)
      if (this.#stopped !== undefined || ctl.signal.aborted) return
      this.#run((now) => this.#b.omit(now, id))
      const error = new UsageError('reqresp/handler-failed', (e as Error)?.message, { cause: e })
      this.#metrics?.ended('inbound', ev.protocol, error, 0)
      this.dispatchEvent(new CustomEvent('inbound-failure', { detail: { peer: ev.peer, protocol: ev.protocol, error } }))
      return
    }
    this.#handling.delete(id)
    if (this.#stopped !== undefined || ctl.signal.aborted) return
    if (res === noResponse) this.#metrics?.ended('inbound', ev.protocol, { code: 'reqresp/omitted' }, 0)
    this.#run((now) => (res === noResponse ? this.#b.omit(now, id) : this.#b.respond(now, id, res)))
  }
}

/**
 * The request-response service (one protocol or several, with a codec), for `createNode({ services })`.
 * Without a `handler` the node only asks. Throws `UsageError`/`RangeError` for invalid options, at once.
 * @example
 * ```ts
 * const node = await createNode({ services: {
 *   kv: requestResponse({ protocol: '/app/kv/1.0.0', codec: json<{ key: string }, { value: string }>(), handler: async (req) => ({ value: lookup(req.key) }) }),
 * } })
 * const res = await node.request<{ value: string }>(peer, { key: 'a' }, { protocol: '/app/kv/1.0.0' })
 * ```
 */
export function requestResponse<Req = unknown, Res = unknown>(options: RequestResponseServiceOptions<Req, Res>): ServiceFactory<RequestResponse<Req, Res>> {
  const protocols: ProtocolSpec[] = Array.isArray(options.protocol) ? [...(options.protocol as readonly ProtocolSpec[])] : [options.protocol as ProtocolSpec]
  // built once here only to check the options: a bad one throws at requestResponse(), before any node
  new RequestResponseBehaviour({ ...options, protocols, serve: options.handler !== undefined })
  return (ctx): NodeService<RequestResponse<Req, Res>> => {
    const behaviour = new RequestResponseBehaviour<Req, Res>({ ...options, protocols, serve: options.handler !== undefined })
    const api = new RequestResponse<Req, Res>(behaviour, ctx.run, options.handler)
    return {
      name: options.name ?? `request-response:${behaviour.offered[0]}`,
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as RequestResponseEvent<Req, Res>),
      stop: (error) => api._stop(error),
      attach: (node) => api._attach(node as NodeLike),
    }
  }
}
