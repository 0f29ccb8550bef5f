/**
 * DHT operations driven by lookups (libp2p/specs kad-dht/README.md, "Peer routing", "Value
 * storage and retrieval", "Content provider advertisement and discovery"): each query runs the
 * lookup of query.ts with `alpha` requests in flight and completes by its kind.
 *
 * - closest-peers / find-peer: the k closest peers that answered; find-peer stops once a response
 *   names the target with addresses.
 * - get (GET_VALUE): collects valid records, keeps the best by the namespace's selector, stops at
 *   `quorum` records; then "entry correction": the best record is PUT to peers that returned an
 *   outdated one and to the closest peers that had none.
 * - put (PUT_VALUE) and provide (ADD_PROVIDER): a FIND_NODE lookup, then delivery to the k closest
 *   (the query's `store` phase, each delivery with its own request timeout).
 * - find-providers (GET_PROVIDERS): collects providers, stops at `max`.
 * - bootstrap: a lookup of our own id, then one `refresh` lookup per non-empty bucket with
 *   cpl <= refreshMaxCpl towards a random key in it, skipping the buckets the self lookup has
 *   already seen whole (deeper than the farthest of the k closest); done when every refresh is.
 *
 * Each query is bounded by `queryTimeout`; results and progress are events carrying the requestId.
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { encodeLp } from '../core/lp.js'
import type { PeerId } from '../peer-id/index.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { kadError, kadOutcome } from './context.js'
import type { KadContext } from './context.js'
import { commonPrefixLength, peerKey, randomPeerKeysInBuckets } from './key.js'
import { ConnectionType, encodeKadMessage, MessageType } from './message.js'
import type { KadMessage, KadOutcomeCode } from './message.js'
import { ClosestPeersQuery } from './query.js'
import type { OutboundRpcs } from './rpc.js'
import type { KadPeerInfo, KadProgress, KadQueryStats, KadResult } from './types.js'

export type Op =
  | { kind: 'closest-peers' }
  | { kind: 'find-peer'; target: PeerId; found: KadPeerInfo | undefined }
  | { kind: 'get'; key: Uint8Array; best: Uint8Array | undefined; bestFrom: PeerId[]; outdated: PeerId[]; noValue: Set<string>; count: number }
  | { kind: 'put'; key: Uint8Array; value: Uint8Array }
  | { kind: 'provide'; key: Uint8Array }
  | { kind: 'find-providers'; key: Uint8Array; max: number; providers: Map<string, KadPeerInfo> }
  | { kind: 'bootstrap'; phase: 'self' | 'refresh'; pending: number }
  /** A refresh lookup belonging to bootstrap query `parent`. */
  | { kind: 'refresh'; parent: number }

interface Query {
  readonly id: number
  readonly op: Op
  readonly lookup: ClosestPeersQuery
  /** The request sent to every peer of the lookup. */
  readonly request: Uint8Array
  readonly started: Millis
  /** Infinity once the timeout was acted on. */
  deadline: Millis
  /** Whether events are reported (false for internal queries). */
  readonly report: boolean
  /** Second phase of put/provide: deliveries outstanding, and their outcomes. */
  store: { pending: number; stored: PeerId[]; failed: PeerId[] } | undefined
}

export class Queries {
  readonly #ctx: KadContext
  readonly #rpcs: OutboundRpcs
  readonly #queries = new Map<number, Query>()

  constructor(ctx: KadContext, rpcs: OutboundRpcs) {
    this.#ctx = ctx
    this.#rpcs = rpcs
  }

  get size(): number {
    return this.#queries.size
  }

  /** Abandon a query: no further events for it. */
  cancel(id: number): void {
    this.#queries.delete(id)
  }

  /** A fresh id, or `requestId` if given and free. */
  claimId(requestId: number | undefined): number {
    if (requestId !== undefined) {
      if (!Number.isSafeInteger(requestId) || requestId < 0) throw new RangeError('requestId must be a non-negative safe integer')
      if (this.#queries.has(requestId)) throw new UsageError('kad/duplicate-request-id', String(requestId))
      return requestId
    }
    const ctx = this.#ctx
    while (this.#queries.has(ctx.nextId) || this.#rpcs.has(ctx.nextId)) ctx.nextId++
    return ctx.nextId++
  }

  start(now: Millis, id: number, op: Op, request: Uint8Array, target: Uint8Array, report: boolean, extraSeeds: { peer: PeerId; key: Uint8Array }[] = []): void {
    const ctx = this.#ctx
    if (this.#queries.size >= ctx.config.maxQueries) throw new UsageError('kad/too-many-queries', `${this.#queries.size} queries running`)
    const seeds = ctx.table.closest(target, ctx.config.k).map((e) => ({ peer: e.peer, key: e.key }))
    for (const s of extraSeeds) if (!seeds.some((x) => x.peer.equals(s.peer))) seeds.push(s)
    const lookup = new ClosestPeersQuery(target, seeds, { k: ctx.config.k, alpha: ctx.config.alpha })
    const q: Query = { id, op, lookup, request, started: now, deadline: now + ctx.config.queryTimeout, report, store: undefined }
    this.#queries.set(id, q)
    this.#advance(now, q)
  }

  /** A lookup request of query `id` was answered by `from`. */
  lookupSucceeded(now: Millis, id: number, from: PeerId, res: KadMessage | undefined): void {
    const q = this.#queries.get(id)
    if (q === undefined) return
    if (res !== undefined) this.#response(now, q, from, res)
    this.#advance(now, q)
  }

  lookupFailed(now: Millis, id: number, peer: PeerId, error: Error): void {
    const q = this.#queries.get(id)
    if (q === undefined) return
    q.lookup.failed(peer)
    this.#report(q, { kind: 'failed', peer, error })
    this.#advance(now, q)
  }

  /** A put/provide delivery of query `id` ended. */
  storeOutcome(now: Millis, id: number, peer: PeerId, ok: boolean): void {
    const q = this.#queries.get(id)
    const s = q?.store
    if (q === undefined || s === undefined) return
    s.pending--
    if (ok) {
      s.stored.push(peer)
      this.#report(q, { kind: 'stored', peer })
    } else s.failed.push(peer)
    if (s.pending > 0) return
    this.#queries.delete(q.id)
    if (!q.report) return
    const stats: KadQueryStats = { ...q.lookup.stats(), duration: now - q.started }
    const kind = q.op.kind === 'put' ? 'put' : 'provide'
    this.#ctx.emit({ type: 'query-done', requestId: q.id, result: { kind, stored: s.stored, failed: s.failed }, stats })
  }

  /** End every query past its deadline with what it has. */
  timeouts(now: Millis): void {
    for (const q of [...this.#queries.values()]) {
      if (q.deadline > now || !this.#queries.has(q.id)) continue
      q.deadline = Infinity
      // put/provide deliveries have their own request timeouts.
      if (q.store !== undefined) continue
      q.lookup.finish()
      this.#complete(now, q, true)
    }
  }

  nextDeadline(): Millis | undefined {
    let min: Millis | undefined
    for (const q of this.#queries.values()) if (q.deadline !== Infinity && (min === undefined || q.deadline < min)) min = q.deadline
    return min
  }

  /** Send requests while the lookup allows; complete it once done. */
  #advance(now: Millis, q: Query): void {
    if (q.store !== undefined || !this.#queries.has(q.id)) return
    for (let p = q.lookup.next(); p !== undefined; p = q.lookup.next()) {
      this.#rpcs.send(now, p, q.request, { kind: 'lookup', query: q.id })
      this.#report(q, { kind: 'asked', peer: p })
    }
    if (q.lookup.done) this.#complete(now, q, false)
  }

  /** A response to a lookup request arrived. */
  #response(now: Millis, q: Query, from: PeerId, res: KadMessage): void {
    const ctx = this.#ctx
    // a peer new to us (or at new addresses) is a discovery: the peer store and discovery get it as a hint
    const learned = (peer: PeerId, addrs: readonly Multiaddr[]): void => { ctx.actions.push({ type: 'peer-info', peer, info: { addrs, addrsAreHints: true } }) }
    const closer = ctx.peers.usable(res.closerPeers, learned)
    q.lookup.succeeded(from, closer.map((p) => ({ peer: p.id, key: ctx.peers.keyOf(p.id) })))
    this.#report(q, { kind: 'answered', peer: from, closerPeers: closer.length })
    const op = q.op
    if (op.kind === 'find-peer') {
      const hit = from.equals(op.target) ? { id: from, addrs: this.#addressesOf(from) } : closer.find((p) => p.id.equals(op.target))
      if (hit !== undefined && hit.addrs.length > 0) {
        op.found = { peer: op.target, addrs: [...hit.addrs] }
        q.lookup.finish()
      }
    } else if (op.kind === 'get' && res.record !== undefined && equals(res.record.key, op.key)) {
      const value = res.record.value
      if (!ctx.valid(op.key, value, now)) {
        ctx.emit({ type: 'protocol-error', peer: from, error: kadError('kad/invalid-record', 'GET_VALUE returned an invalid record') })
      } else {
        op.count++
        this.#report(q, { kind: 'value', peer: from, value })
        if (op.best === undefined) {
          op.best = value
          op.bestFrom = [from]
        } else if (equals(op.best, value)) {
          op.bestFrom.push(from)
        } else if (ctx.validators.select(op.key, [op.best, value], ctx.validation(now)) === 1) {
          op.outdated.push(...op.bestFrom)
          op.best = value
          op.bestFrom = [from]
        } else {
          op.outdated.push(from)
        }
        if (op.count >= ctx.config.quorum) q.lookup.finish()
      }
    } else if (op.kind === 'get') {
      op.noValue.add(peerKey(from))
    }
    if (op.kind === 'find-providers') {
      for (const p of res.providerPeers) {
        const k = peerKey(p.id)
        if (op.providers.size >= op.max) break
        if (op.providers.has(k)) continue
        const info = { peer: p.id, addrs: p.addrs.filter(ctx.config.addressFilter) }
        op.providers.set(k, info)
        const fresh = info.addrs.length > 0 ? ctx.peers.learn(p.id, info.addrs) : undefined
        if (fresh !== undefined) learned(p.id, fresh)
        this.#report(q, { kind: 'provider', provider: info })
      }
      if (op.providers.size >= op.max) q.lookup.finish()
    }
  }

  #complete(now: Millis, q: Query, timedOut: boolean): void {
    const ctx = this.#ctx
    const op = q.op
    const stats = (): KadQueryStats => ({ ...q.lookup.stats(), duration: now - q.started })
    const closest = (): KadPeerInfo[] => q.lookup.closest().map((p) => ({ peer: p.peer, addrs: this.#addressesOf(p.peer) }))
    const done = (result: KadResult): void => {
      this.#queries.delete(q.id)
      if (q.report) ctx.emit({ type: 'query-done', requestId: q.id, result, stats: stats() })
    }
    const failed = (code: KadOutcomeCode, message: string): void => {
      this.#queries.delete(q.id)
      if (q.report) ctx.emit({ type: 'query-failed', requestId: q.id, error: kadOutcome(timedOut ? 'kad/timeout' : code, message), stats: stats() })
    }
    switch (op.kind) {
      case 'closest-peers':
        done({ kind: 'closest-peers', peers: closest() })
        return
      case 'find-peer': {
        const addrs = this.#addressesOf(op.target)
        if (op.found !== undefined) done({ kind: 'find-peer', peer: op.found })
        else if (addrs.length > 0 && q.lookup.closest().some((p) => p.peer.equals(op.target))) done({ kind: 'find-peer', peer: { peer: op.target, addrs } })
        else failed('kad/not-found', `peer ${op.target.toString()} not found`)
        return
      }
      case 'get': {
        if (op.best === undefined) {
          failed('kad/not-found', 'no valid record found')
          return
        }
        // Entry correction: peers with outdated records, and closest peers that had none.
        const value = op.best
        const msg = encodeLp(encodeKadMessage({ type: MessageType.PUT_VALUE, key: op.key, record: { key: op.key, value }, closerPeers: [], providerPeers: [] }))
        const targets = [...op.outdated, ...q.lookup.closest().filter((p) => op.noValue.has(peerKey(p.peer))).map((p) => p.peer)]
        for (const p of targets) this.#rpcs.send(now, p, msg, { kind: 'correction' })
        done({ kind: 'get', key: op.key, value, from: op.bestFrom })
        return
      }
      case 'put':
      case 'provide': {
        const peers = q.lookup.closest().map((p) => p.peer)
        if (peers.length === 0) {
          failed('kad/no-peers', 'no peers to store at')
          return
        }
        const msg = op.kind === 'put'
          ? encodeKadMessage({ type: MessageType.PUT_VALUE, key: op.key, record: { key: op.key, value: op.value }, closerPeers: [], providerPeers: [] })
          : encodeKadMessage({ type: MessageType.ADD_PROVIDER, key: op.key, closerPeers: [], providerPeers: [{ id: ctx.peerId, addrs: ctx.advertisedAddrs(), connection: ConnectionType.CONNECTED }] })
        q.store = { pending: peers.length, stored: [], failed: [] }
        const framed = encodeLp(msg)
        for (const p of peers) this.#rpcs.send(now, p, framed, { kind: 'store', query: q.id })
        return
      }
      case 'find-providers':
        done({ kind: 'find-providers', providers: [...op.providers.values()] })
        return
      case 'bootstrap': {
        if (op.phase === 'self') {
          op.phase = 'refresh'
          // Buckets deeper than the farthest of the k closest peers to us are complete after the
          // self lookup (each of their peers is closer to us than that one, so the lookup met it):
          // refreshing them would only ask the same peers again.
          const near = q.lookup.closest()
          const deepest = near.length >= ctx.config.k ? commonPrefixLength(ctx.localKey, near[near.length - 1]!.key) : 255
          const maxCpl = Math.min(ctx.config.refreshMaxCpl, deepest)
          const cpls = ctx.table.nonEmptyBuckets().filter((cpl) => cpl <= maxCpl)
          const targets = randomPeerKeysInBuckets(ctx.localKey, cpls, ctx.random, ctx.crypto)
          for (const cpl of cpls) {
            const target = targets.get(cpl)
            if (target === undefined || this.#queries.size >= ctx.config.maxQueries) continue
            op.pending++
            this.start(now, this.claimId(undefined), { kind: 'refresh', parent: q.id }, ctx.findNode(target), ctx.crypto.sha256(target), false)
          }
        }
        if (op.pending === 0) {
          // Still registered (the refresh phase may have been empty): finish now.
          this.#queries.delete(q.id)
          if (q.report) ctx.emit({ type: 'query-done', requestId: q.id, result: { kind: 'bootstrap', tableSize: ctx.table.size }, stats: stats() })
        } else {
          q.lookup.finish()
        }
        return
      }
      case 'refresh': {
        this.#queries.delete(q.id)
        const parent = this.#queries.get(op.parent)
        if (parent !== undefined && parent.op.kind === 'bootstrap') {
          parent.op.pending--
          if (parent.op.pending === 0) this.#complete(now, parent, false)
        }
        return
      }
    }
  }

  #addressesOf(peer: PeerId): KadPeerInfo['addrs'] {
    return [...(this.#ctx.peers.addrs(peerKey(peer)) ?? [])]
  }

  #report(q: Query, progress: KadProgress): void {
    if (q.report && this.#ctx.config.progress) this.#ctx.emit({ type: 'progress', requestId: q.id, progress })
  }
}
