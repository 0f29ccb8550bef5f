/**
 * The server side of kad: inbound streams (libp2p/specs kad-dht/README.md, "RPC messages").
 * A stream is served until the remote's EOF and may carry several requests (go reuses streams);
 * each request is decoded and answered by server.ts, the response written on the same stream.
 * Any malformed message or invalid record is a ProtocolError: the stream is reset and a
 * `protocol-error` event emitted.
 *
 * Limits: `maxInboundPerPeer` streams open at once per peer, `maxRequestsPerMinute` requests per
 * peer (a fixed one-minute window). Whether to serve at all (server mode) is kad.ts's decision.
 */
import type { Millis } from '../core/byte-machine.js'
import { ProtocolError } from '../core/errors.js'
import { encodeLp, LpDecoder } from '../core/lp.js'
import type { PeerId } from '../peer-id/index.js'
import type { ConnectionInfo, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { kadError } from './context.js'
import type { KadContext } from './context.js'
import { peerKey } from './key.js'
import { ConnectionType, decodeKadMessage, encodeKadMessage } from './message.js'
import type { KadPeer } from './message.js'
import { answer } from './server.js'
import { sourceOf } from './source.js'
import type { ServerContext } from './server.js'

interface Inbound {
  readonly peer: PeerId
  /** The network of the connection (source.ts): what stored entries are charged to. */
  readonly source: string
  readonly decoder: LpDecoder
}

export class InboundStreams {
  readonly #ctx: KadContext
  readonly #streams = new Map<string, Inbound>()
  readonly #perPeer = new Map<string, number>()
  /** Per peer: [window start, requests in window]. Bounded with the address book size. */
  readonly #rate = new Map<string, [Millis, number]>()

  constructor(ctx: KadContext) {
    this.#ctx = ctx
  }

  /** Whether `key` (a streamKey) is an inbound stream we serve. */
  owns(key: string): boolean {
    return this.#streams.has(key)
  }

  /** A new inbound stream from `peer`: accepted (true) or reset when the peer has too many open. */
  opened(stream: StreamRef, connection: ConnectionInfo): boolean {
    const peer = connection.peer
    const k = peerKey(peer)
    const n = this.#perPeer.get(k) ?? 0
    if (n >= this.#ctx.config.maxInboundPerPeer) {
      this.#ctx.actions.push({ type: 'reset', stream })
      return false
    }
    this.#perPeer.set(k, n + 1)
    this.#streams.set(streamKey(stream), { peer, source: sourceOf(connection.remoteAddr), decoder: new LpDecoder(this.#ctx.config.decodeLimits.maxMessageSize, 'kad') })
    return true
  }

  /** Requests on an inbound stream: answer each complete one. */
  data(now: Millis, stream: StreamRef, key: string, data: Uint8Array): void {
    const inb = this.#streams.get(key)
    if (inb === undefined) return
    const ctx = this.#ctx
    try {
      inb.decoder.push(data)
      for (let body = inb.decoder.next(); body !== undefined; body = inb.decoder.next()) {
        if (!this.#allow(now, inb.peer)) throw kadError('kad/rate-limited', `more than ${ctx.config.maxRequestsPerMinute} requests a minute`)
        const req = decodeKadMessage(body, ctx.config.decodeLimits, undefined, ctx.interns)
        const out = answer(this.#serverContext(now), inb.peer, req, now, inb.source)
        if (out.response !== undefined) ctx.actions.push({ type: 'write', stream, data: encodeLp(encodeKadMessage(out.response)) })
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#drop(key, inb)
      ctx.actions.push({ type: 'reset', stream })
      ctx.emit({ type: 'protocol-error', peer: inb.peer, error: e })
    }
  }

  /** The remote closed its side: we are done too. Returns whether the stream was ours. */
  eof(stream: StreamRef, key: string): boolean {
    const inb = this.#streams.get(key)
    if (inb === undefined) return false
    this.#drop(key, inb)
    this.#ctx.actions.push({ type: 'close-write', stream })
    return true
  }

  /** The stream is gone (reset, closed). */
  ended(key: string): void {
    const inb = this.#streams.get(key)
    if (inb !== undefined) this.#drop(key, inb)
  }

  /** Forget every stream of connection `connection`. */
  connectionClosed(connection: number): void {
    const prefix = `${connection}/`
    for (const [key, s] of this.#streams) if (key.startsWith(prefix)) this.#drop(key, s)
  }

  #allow(now: Millis, peer: PeerId): boolean {
    const k = peerKey(peer)
    let w = this.#rate.get(k)
    if (w === undefined || now - w[0] >= 60_000) {
      if (w === undefined && this.#rate.size >= this.#ctx.config.maxAddressBook) this.#rate.delete(this.#rate.keys().next().value!)
      w = [now, 0]
      this.#rate.set(k, w)
    }
    w[1]++
    return w[1] <= this.#ctx.config.maxRequestsPerMinute
  }

  #drop(key: string, s: Inbound): void {
    if (!this.#streams.delete(key)) return
    const k = peerKey(s.peer)
    const n = (this.#perPeer.get(k) ?? 1) - 1
    if (n <= 0) this.#perPeer.delete(k)
    else this.#perPeer.set(k, n)
  }

  #serverContext(now: Millis): ServerContext {
    const ctx = this.#ctx
    return {
      store: ctx.store,
      validators: ctx.validators,
      validation: ctx.validation(now),
      closerPeers: (key, requester) => this.#closerPeers(key, requester),
      filterAddrs: (addrs) => addrs.filter(ctx.config.addressFilter),
      maxProvidersReturned: ctx.config.k,
    }
  }

  /** Up to k peers of our table closest to sha256(key), with addresses, not the requester. */
  #closerPeers(key: Uint8Array, requester: PeerId): KadPeer[] {
    const ctx = this.#ctx
    const k = ctx.config.k
    const target = ctx.crypto.sha256(key)
    // Table peers without a known address are useless to the requester: ask the table for as many
    // more as were skipped (rarely any), until it has no more to give.
    for (let want = k; ; ) {
      const entries = ctx.table.closest(target, want, requester)
      const out: KadPeer[] = []
      for (const e of entries) {
        const addrs = ctx.peers.addrs(e.id)
        if (addrs === undefined || addrs.length === 0) continue
        out.push({ id: e.peer, addrs: [...addrs], connection: ctx.peers.isConnected(e.id) ? ConnectionType.CONNECTED : ConnectionType.NOT_CONNECTED })
        if (out.length >= k) break
      }
      if (out.length >= k || entries.length < want) return out
      want += k - out.length
    }
  }
}
