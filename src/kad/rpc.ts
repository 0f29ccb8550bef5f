/**
 * Outbound kad RPCs (libp2p/specs kad-dht/README.md, "RPC messages"): every request opens a new
 * stream, writes one length-prefixed Message and (except ADD_PROVIDER, which has no response)
 * reads one response, then closes its write side. Each RPC has its own deadline
 * (`requestTimeout`, from asking the swarm for the stream to the response).
 *
 * State per RPC: `opening` (the swarm is dialing / negotiating the stream) -> `awaiting` (request
 * written, response being read) -> gone. The outcome goes to the `RpcHandler` (kad.ts), which
 * routes it by the RPC's purpose: a query's lookup or store step, a record correction, or a check
 * of a full bucket's oldest peer.
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError } from '../core/errors.js'
import { LpDecoder } from '../core/lp.js'
import type { PeerId } from '../peer-id/index.js'
import type { StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { kadError, kadOutcome } from './context.js'
import type { KadContext } from './context.js'
import { peerKey } from './key.js'
import { decodeKadMessage, MessageType } from './message.js'
import type { KadMessage } from './message.js'

export type RpcPurpose =
  | { kind: 'lookup'; query: number }
  | { kind: 'store'; query: number }
  | { kind: 'correction' }
  | { kind: 'check' }

type RpcState =
  | { kind: 'opening' }
  | { kind: 'awaiting'; stream: StreamRef; decoder: LpDecoder }

export interface Rpc {
  readonly id: number
  readonly peer: PeerId
  readonly request: Uint8Array
  readonly requestType: MessageType
  readonly expectsResponse: boolean
  readonly purpose: RpcPurpose
  readonly deadline: Millis
  state: RpcState
}

export interface RpcHandler {
  /** The peer answered (`res` undefined for ADD_PROVIDER, which has no response). */
  succeeded(now: Millis, rpc: Rpc, res: KadMessage | undefined): void
  failed(now: Millis, rpc: Rpc, error: Error): void
}

export class OutboundRpcs {
  readonly #ctx: KadContext
  readonly #handler: RpcHandler
  readonly #rpcs = new Map<number, Rpc>()
  /** streamKey -> RPC id, for RPCs in `awaiting`. */
  readonly #byStream = new Map<string, number>()

  constructor(ctx: KadContext, handler: RpcHandler) {
    this.#ctx = ctx
    this.#handler = handler
  }

  has(id: number): boolean {
    return this.#rpcs.has(id)
  }

  /** Whether `key` (a streamKey) is the stream of one of our RPCs. */
  owns(key: string): boolean {
    return this.#byStream.has(key)
  }

  send(now: Millis, peer: PeerId, request: Uint8Array, purpose: RpcPurpose): void {
    const ctx = this.#ctx
    const id = ctx.nextId++
    const type = requestType(request)
    const rpc: Rpc = { id, peer, request, requestType: type, expectsResponse: type !== MessageType.ADD_PROVIDER, purpose, deadline: now + ctx.config.requestTimeout, state: { kind: 'opening' } }
    this.#rpcs.set(id, rpc)
    const k = peerKey(peer)
    if (!ctx.peers.isConnected(k)) {
      const known = ctx.peers.addrs(k)
      if (known !== undefined && known.length > 0) ctx.actions.push({ type: 'peer-info', peer, info: { addrs: known, addrsAreHints: true } })
    }
    ctx.actions.push({ type: 'open-stream', requestId: id, peer, protocols: [ctx.protocol] })
  }

  /** The swarm opened the stream for `requestId`: write the request. */
  opened(now: Millis, stream: StreamRef, requestId: number | undefined): void {
    const ctx = this.#ctx
    const rpc = requestId === undefined ? undefined : this.#rpcs.get(requestId)
    if (rpc === undefined || rpc.state.kind !== 'opening') {
      ctx.actions.push({ type: 'reset', stream })
      return
    }
    ctx.actions.push({ type: 'write', stream, data: rpc.request.slice() })
    if (!rpc.expectsResponse) {
      ctx.actions.push({ type: 'close-write', stream })
      this.#rpcs.delete(rpc.id)
      this.#handler.succeeded(now, rpc, undefined)
      return
    }
    rpc.state = { kind: 'awaiting', stream, decoder: new LpDecoder(ctx.config.decodeLimits.maxMessageSize, 'kad') }
    this.#byStream.set(streamKey(stream), rpc.id)
  }

  openFailed(now: Millis, requestId: number, error: Error): void {
    const rpc = this.#rpcs.get(requestId)
    if (rpc !== undefined && rpc.state.kind === 'opening') this.#fail(now, rpc, error)
  }

  /** Bytes on the stream `key`: the response, once complete. */
  data(now: Millis, key: string, data: Uint8Array): void {
    const rpc = this.#byKey(key)
    if (rpc === undefined || rpc.state.kind !== 'awaiting') return
    const { stream, decoder } = rpc.state
    let res: KadMessage | undefined
    try {
      decoder.push(data)
      const body = decoder.next()
      if (body === undefined) return
      res = decodeKadMessage(body, this.#ctx.config.decodeLimits, undefined, this.#ctx.interns)
      if (res.type !== rpc.requestType) throw kadError('kad/unexpected-response', `${res.type} in response to ${rpc.requestType}`)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#ctx.emit({ type: 'protocol-error', peer: rpc.peer, error: e })
      this.#fail(now, rpc, e)
      return
    }
    this.#byStream.delete(streamKey(stream))
    this.#rpcs.delete(rpc.id)
    this.#ctx.actions.push({ type: 'close-write', stream })
    this.#handler.succeeded(now, rpc, res)
  }

  /** The remote closed (`eof`), reset or lost the stream `key` before answering. */
  ended(now: Millis, key: string, how: 'eof' | 'reset' | 'closed'): void {
    const rpc = this.#byKey(key)
    if (rpc === undefined) return
    // EOF without a response breaks the protocol (a request is answered); a reset is how a server
    // refuses (too many streams, rate limit), and a lost connection is nobody's protocol error.
    if (how === 'eof') this.#fail(now, rpc, kadError('kad/closed-early', 'stream closed before the response'))
    else this.#fail(now, rpc, kadOutcome(how === 'reset' ? 'kad/stream-reset' : 'kad/connection-closed'), false)
  }

  /** Fail every RPC past its deadline. */
  timeouts(now: Millis): void {
    for (const rpc of [...this.#rpcs.values()]) if (rpc.deadline <= now) this.#fail(now, rpc, kadOutcome('kad/timeout', `no response within ${this.#ctx.config.requestTimeout} ms`))
  }

  nextDeadline(): Millis | undefined {
    let min: Millis | undefined
    for (const r of this.#rpcs.values()) if (min === undefined || r.deadline < min) min = r.deadline
    return min
  }

  #byKey(key: string): Rpc | undefined {
    const id = this.#byStream.get(key)
    return id === undefined ? undefined : this.#rpcs.get(id)
  }

  #fail(now: Millis, rpc: Rpc, error: Error, reset = true): void {
    this.#rpcs.delete(rpc.id)
    if (rpc.state.kind === 'awaiting') {
      this.#byStream.delete(streamKey(rpc.state.stream))
      if (reset) this.#ctx.actions.push({ type: 'reset', stream: rpc.state.stream })
    }
    this.#handler.failed(now, rpc, error)
  }
}

/** The MessageType of an encoded (length-prefixed) request we built ourselves. */
function requestType(framed: Uint8Array): MessageType {
  // Our encoder writes `type` first when it is not PUT_VALUE (0): skip the length varint.
  let i = 0
  while (framed[i]! & 0x80) i++
  i++
  return framed[i] === 0x08 ? (framed[i + 1]! as MessageType) : MessageType.PUT_VALUE
}
