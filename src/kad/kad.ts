/**
 * The Kademlia DHT behaviour (libp2p/specs kad-dht/README.md): routing table, iterative queries,
 * value and provider records, served to the swarm as a pure state machine (src/swarm/behaviour.ts).
 *
 * Protocol id `/ipfs/kad/1.0.0` (prefix configurable). In server mode the protocol is registered for
 * inbound streams (the swarm advertises it through identify) and requests are answered by
 * server.ts; in client mode it is not, and we only ask. A peer enters our routing table only as a
 * server: a `peer-info` fact (identify) lists the protocol, or it answered one of our requests.
 *
 * RPCs: every request opens a new stream, writes one length-prefixed Message and (except
 * ADD_PROVIDER, which has no response) reads one response, then closes its write side. Inbound
 * streams are served until the remote's EOF: a stream may carry several requests (go reuses them).
 * Any malformed message or invalid record is a ProtocolError: the stream is reset and a
 * `protocol-error` event emitted; nothing else escapes `handle`.
 *
 * Queries (`getClosestPeers`, `findPeer`, `get`, `put`, `provide`, `findProviders`, `bootstrap`)
 * run the lookup of query.ts with `alpha` requests in flight, each with its own timeout, and the
 * whole query bounded by `queryTimeout`. Results and progress are events carrying the requestId.
 */
import type { Millis, RandomBytes } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError, UsageError } from '../core/errors.js'
import { equals, toHex } from '../core/bytes.js'
import { encodeLp, LpDecoder } from '../core/lp.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { peerKey, randomPeerKeyInBucket } from './key.js'
import { ConnectionType, decodeKadMessage, DEFAULT_DECODE_LIMITS, encodeKadMessage, MessageType } from './message.js'
import type { DecodeLimits, KadErrorCode, KadMessage, KadPeer } from './message.js'
import { ClosestPeersQuery } from './query.js'
import { RoutingTable } from './routing-table.js'
import { answer } from './server.js'
import type { ServerContext } from './server.js'
import { RecordStore } from './store.js'
import type { KadEvent, KadOptions, KadPeerInfo, KadProgress, KadQueryStats, KadResult } from './types.js'
import { Validators } from './validators.js'
import type { ValidationContext } from './validators.js'

export const KAD_PROTOCOL = '/ipfs/kad/1.0.0'

const PRUNE_INTERVAL = 3600_000

type Op =
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

type RpcPurpose =
  | { kind: 'lookup'; query: number }
  | { kind: 'store'; query: number }
  | { kind: 'correction' }
  | { kind: 'check' }

type RpcState =
  | { kind: 'opening' }
  | { kind: 'awaiting'; stream: StreamRef; decoder: LpDecoder }

interface Rpc {
  readonly id: number
  readonly peer: PeerId
  readonly request: Uint8Array
  readonly requestType: MessageType
  readonly expectsResponse: boolean
  readonly purpose: RpcPurpose
  readonly deadline: Millis
  state: RpcState
}

interface Inbound {
  readonly peer: PeerId
  readonly decoder: LpDecoder
}

export class KadBehaviour implements Behaviour<KadEvent> {
  readonly protocol: string
  readonly protocols: readonly string[]
  readonly mode: 'server' | 'client'
  readonly peerId: PeerId
  readonly table: RoutingTable
  readonly store: RecordStore
  readonly validators: Validators

  readonly #crypto: CryptoProvider
  readonly #random: RandomBytes
  readonly #k: number
  readonly #alpha: number
  readonly #requestTimeout: number
  readonly #queryTimeout: number
  readonly #quorum: number
  readonly #decodeLimits: DecodeLimits
  readonly #maxInboundPerPeer: number
  readonly #maxRequestsPerMinute: number
  readonly #maxQueries: number
  readonly #maxAddressBook: number
  readonly #bootstrapPeers: readonly KadPeerInfo[]
  readonly #refreshInterval: number
  readonly #refreshMaxCpl: number
  readonly #republishInterval: number
  readonly #epoch: number
  readonly #addressFilter: (a: Multiaddr) => boolean
  readonly #progress: boolean
  readonly #localKey: Uint8Array
  readonly #selfK: string

  readonly #actions: BehaviourAction<KadEvent>[] = []
  readonly #queries = new Map<number, Query>()
  readonly #rpcs = new Map<number, Rpc>()
  readonly #outStreams = new Map<string, number>()
  readonly #inStreams = new Map<string, Inbound>()
  readonly #inboundPerPeer = new Map<string, number>()
  /** Per peer: [window start, requests in window]. Bounded with the address book size. */
  readonly #rate = new Map<string, [Millis, number]>()
  /** Peer -> addresses, least recently updated first. */
  readonly #addrs = new Map<string, KadPeerInfo>()
  readonly #connected = new Map<string, number>()
  /** Kad keys (sha256 of the multihash) of recently seen peers: a cache, cleared when large. */
  readonly #keys = new Map<string, Uint8Array>()
  /** Keys we provide, re-announced every `providerRepublishInterval`. */
  readonly #provided = new Map<string, Uint8Array>()
  #nextId = 1
  #now: Millis = 0
  #nextRefresh: Millis | undefined
  #nextRepublish: Millis | undefined
  #nextPrune: Millis | undefined

  constructor(options: KadOptions) {
    if (typeof options.random !== 'function') throw new TypeError('random must be a function')
    this.#crypto = options.crypto
    this.#random = options.random
    this.peerId = options.peerId
    this.mode = options.mode ?? 'server'
    if (this.mode !== 'server' && this.mode !== 'client') throw new RangeError("mode must be 'server' or 'client'")
    const prefix = options.protocolPrefix ?? '/ipfs'
    if (!prefix.startsWith('/') || prefix.endsWith('/')) throw new RangeError('protocolPrefix must start with / and not end with /')
    this.protocol = `${prefix}/kad/1.0.0`
    this.protocols = this.mode === 'server' ? [this.protocol] : []
    this.#k = positive(options.k ?? 20, 'k')
    this.#alpha = positive(options.alpha ?? 3, 'alpha')
    this.#requestTimeout = positive(options.requestTimeout ?? 10_000, 'requestTimeout')
    this.#queryTimeout = positive(options.queryTimeout ?? 60_000, 'queryTimeout')
    this.#quorum = positive(options.quorum ?? 16, 'quorum')
    this.#decodeLimits = { ...DEFAULT_DECODE_LIMITS, ...options.decode }
    this.#maxInboundPerPeer = positive(options.maxInboundStreamsPerPeer ?? 8, 'maxInboundStreamsPerPeer')
    this.#maxRequestsPerMinute = positive(options.maxInboundRequestsPerMinute ?? 600, 'maxInboundRequestsPerMinute')
    this.#maxQueries = positive(options.maxQueries ?? 256, 'maxQueries')
    this.#maxAddressBook = positive(options.maxAddressBook ?? 10_000, 'maxAddressBook')
    this.#bootstrapPeers = options.bootstrapPeers ?? []
    this.#refreshInterval = options.refreshInterval ?? 600_000
    this.#refreshMaxCpl = Math.min(options.refreshMaxCpl ?? 15, 255)
    this.#republishInterval = positive(options.providerRepublishInterval ?? 22 * 3600_000, 'providerRepublishInterval')
    this.#epoch = options.epoch ?? 0
    this.#addressFilter = options.addressFilter ?? (() => true)
    this.#progress = options.progressEvents ?? true
    this.#selfK = peerKey(this.peerId)
    this.#localKey = this.#keyOf(this.peerId)
    this.table = new RoutingTable(this.#localKey, { k: this.#k })
    this.store = new RecordStore(options.store)
    this.validators = new Validators(options.validators)
  }

  // --- commands ------------------------------------------------------------------------------------

  /** Fill the routing table: a lookup of our own id (seeded with the bootstrap peers), then a refresh of each bucket. */
  bootstrap(now: Millis, requestId?: number): number {
    const id = this.#claimId(requestId)
    this.#now = Math.max(this.#now, now)
    for (const b of this.#bootstrapPeers) this.#learnAddrs(b.peer, b.addrs)
    const extra = this.#bootstrapPeers.filter((b) => !b.peer.equals(this.peerId)).map((b) => ({ peer: b.peer, key: this.#keyOf(b.peer) }))
    this.#startQuery(now, id, { kind: 'bootstrap', phase: 'self', pending: 0 }, this.#findNode(this.peerId.multihash), this.#localKey, requestId !== undefined, extra)
    this.#armPeriodic(now)
    return id
  }

  /** The k closest peers to `key` (raw bytes; a peer's multihash to look up a peer's neighbours). */
  getClosestPeers(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#claimId(requestId)
    this.#startQuery(now, id, { kind: 'closest-peers' }, this.#findNode(key), this.#crypto.sha256(key), true)
    return id
  }

  findPeer(now: Millis, peer: PeerId, requestId?: number): number {
    const id = this.#claimId(requestId)
    this.#startQuery(now, id, { kind: 'find-peer', target: peer, found: undefined }, this.#findNode(peer.multihash), this.#keyOf(peer), true)
    return id
  }

  /** GET_VALUE: the best valid record for `key` (local store counts as one answer); stale peers corrected. */
  get(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#claimId(requestId)
    const op: Op = { kind: 'get', key: key.slice(), best: undefined, bestFrom: [], outdated: [], noValue: new Set(), count: 0 }
    const local = this.store.getRecord(key, now)
    if (local !== undefined && this.#valid(key, local.value, now)) {
      op.best = local.value
      op.count = 1
    }
    const req = encodeLp(encodeKadMessage({ type: MessageType.GET_VALUE, key, closerPeers: [], providerPeers: [] }))
    this.#startQuery(now, id, op, req, this.#crypto.sha256(key), true)
    return id
  }

  /** PUT_VALUE: validate, store locally, then store at the k closest peers. */
  put(now: Millis, key: Uint8Array, value: Uint8Array, requestId?: number): number {
    const id = this.#claimId(requestId)
    try {
      this.validators.validate(key, value, this.#ctx(now))
    } catch (e) {
      this.#emit({ type: 'query-failed', requestId: id, error: e as Error, stats: { hops: 0, requests: 0, duration: 0 } })
      return id
    }
    this.store.putRecord(key, value, now, undefined)
    this.#startQuery(now, id, { kind: 'put', key: key.slice(), value: value.slice() }, this.#findNode(key), this.#crypto.sha256(key), true)
    return id
  }

  /** ADD_PROVIDER at the k closest peers to `key` (a multihash); re-announced every 22 h. */
  provide(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#claimId(requestId)
    this.#provided.set(toHex(key), key.slice())
    this.store.addProvider(key, this.peerId, [], now, undefined)
    this.#startQuery(now, id, { kind: 'provide', key: key.slice() }, this.#findNode(key), this.#crypto.sha256(key), true)
    this.#armPeriodic(now)
    return id
  }

  /** Stop re-announcing `key`. */
  stopProviding(key: Uint8Array): void {
    this.#provided.delete(toHex(key))
  }

  /** GET_PROVIDERS: up to `max` providers (default k), each also streamed as a progress event. */
  findProviders(now: Millis, key: Uint8Array, requestId?: number, max = this.#k): number {
    const id = this.#claimId(requestId)
    const op: Op = { kind: 'find-providers', key: key.slice(), max, providers: new Map() }
    for (const p of this.store.getProviders(key, now, max)) op.providers.set(peerKey(p.peer), { peer: p.peer, addrs: [...p.addrs] })
    const req = encodeLp(encodeKadMessage({ type: MessageType.GET_PROVIDERS, key, closerPeers: [], providerPeers: [] }))
    this.#startQuery(now, id, op, req, this.#crypto.sha256(key), true)
    return id
  }

  /** Abandon a query: no further events for it. */
  cancel(requestId: number): void {
    this.#queries.delete(requestId)
  }

  /** Known addresses of `peer` (address book). */
  addressesOf(peer: PeerId): Multiaddr[] {
    return [...(this.#addrs.get(peerKey(peer))?.addrs ?? [])]
  }

  // --- Behaviour -----------------------------------------------------------------------------------

  handle(now: Millis, input: BehaviourInput): void {
    this.#now = Math.max(this.#now, now)
    switch (input.type) {
      case 'local-info':
        this.#listenAddrs = [...input.listenAddrs]
        return
      case 'connection-established': {
        const k = peerKey(input.connection.peer)
        this.#connected.set(k, (this.#connected.get(k) ?? 0) + 1)
        return
      }
      case 'connection-closed': {
        const k = peerKey(input.connection.peer)
        const n = (this.#connected.get(k) ?? 1) - 1
        if (n <= 0) this.#connected.delete(k)
        else this.#connected.set(k, n)
        for (const [key, s] of this.#inStreams) if (key.startsWith(`${input.connection.id}/`)) this.#dropInbound(key, s)
        return
      }
      case 'peer-info': {
        if (input.peer.equals(this.peerId)) return
        if (input.info.addrs !== undefined) this.#learnAddrs(input.peer, input.info.addrs)
        if (input.info.protocols !== undefined) {
          if (input.info.protocols.includes(this.protocol)) this.#seen(now, input.peer)
          else if (this.table.remove(input.peer)) this.#emit({ type: 'routing-table', peer: input.peer, change: 'removed' })
        }
        return
      }
      case 'stream-opened':
        if (input.protocol !== this.protocol) return
        if (input.direction === 'outbound') this.#outboundOpened(now, input.stream, input.requestId)
        else this.#inboundOpened(now, input.stream, input.connection.peer)
        return
      case 'stream-open-failed': {
        const rpc = this.#rpcs.get(input.requestId)
        if (rpc !== undefined && rpc.state.kind === 'opening') this.#rpcFailed(now, rpc, input.error)
        return
      }
      case 'stream-data':
        this.#data(now, input.stream, input.data)
        return
      case 'stream-eof': {
        const key = streamKey(input.stream)
        const inb = this.#inStreams.get(key)
        if (inb !== undefined) {
          this.#dropInbound(key, inb)
          this.#actions.push({ type: 'close-write', stream: input.stream })
          return
        }
        const rpc = this.#rpcByStream(key)
        if (rpc !== undefined) this.#rpcFailed(now, rpc, kadError('kad/closed-early', 'stream closed before the response'))
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        const inb = this.#inStreams.get(key)
        if (inb !== undefined) this.#dropInbound(key, inb)
        const rpc = this.#rpcByStream(key)
        if (rpc !== undefined) this.#rpcFailed(now, rpc, kadError(input.type === 'stream-reset' ? 'kad/stream-reset' : 'kad/closed-early'), false)
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#now = Math.max(this.#now, now)
    for (const rpc of [...this.#rpcs.values()]) if (rpc.deadline <= now) this.#rpcFailed(now, rpc, kadError('kad/timeout', `no response within ${this.#requestTimeout} ms`))
    for (const q of [...this.#queries.values()]) {
      if (q.deadline > now || !this.#queries.has(q.id)) continue
      q.deadline = Infinity
      // put/provide deliveries have their own request timeouts.
      if (q.store !== undefined) continue
      q.lookup.finish()
      this.#complete(now, q, true)
    }
    if (this.#nextPrune !== undefined && this.#nextPrune <= now) {
      this.store.prune(now)
      this.#nextPrune = now + PRUNE_INTERVAL
    }
    if (this.#nextRefresh !== undefined && this.#nextRefresh <= now) {
      this.#nextRefresh = now + this.#refreshInterval
      this.bootstrap(now)
    }
    if (this.#nextRepublish !== undefined && this.#nextRepublish <= now) {
      this.#nextRepublish = now + this.#republishInterval
      for (const key of this.#provided.values()) {
        this.store.addProvider(key, this.peerId, [], now, undefined)
        this.#startQuery(now, this.#claimId(undefined), { kind: 'provide', key }, this.#findNode(key), this.#crypto.sha256(key), false)
      }
    }
  }

  pollAction(): BehaviourAction<KadEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    let min = minOf(minOf(this.#nextRefresh, this.#nextRepublish), this.#nextPrune)
    for (const r of this.#rpcs.values()) min = minOf(min, r.deadline)
    for (const q of this.#queries.values()) if (q.deadline !== Infinity) min = minOf(min, q.deadline)
    return min
  }

  // --- queries -------------------------------------------------------------------------------------

  #startQuery(now: Millis, id: number, op: Op, request: Uint8Array, target: Uint8Array, report: boolean, extraSeeds: { peer: PeerId; key: Uint8Array }[] = []): void {
    this.#now = Math.max(this.#now, now)
    if (this.#queries.size >= this.#maxQueries) throw new UsageError('kad/too-many-queries', `${this.#queries.size} queries running`)
    this.#nextPrune ??= now + PRUNE_INTERVAL
    const seeds = this.table.closest(target, this.#k).map((e) => ({ peer: e.peer, key: e.key }))
    for (const s of extraSeeds) if (!seeds.some((x) => x.peer.equals(s.peer))) seeds.push(s)
    const lookup = new ClosestPeersQuery(target, seeds, { k: this.#k, alpha: this.#alpha })
    const q: Query = { id, op, lookup, request, started: now, deadline: now + this.#queryTimeout, report, store: undefined }
    this.#queries.set(id, q)
    this.#advance(now, q)
  }

  /** Send requests while the lookup allows; complete it once done. */
  #advance(now: Millis, q: Query): void {
    if (q.store !== undefined || !this.#queries.has(q.id)) return
    for (let p = q.lookup.next(); p !== undefined; p = q.lookup.next()) {
      this.#send(now, p, q.request, { kind: 'lookup', query: q.id })
      this.#report(q, { kind: 'asked', peer: p })
    }
    if (q.lookup.done) this.#complete(now, q, false)
  }

  #complete(now: Millis, q: Query, timedOut: boolean): void {
    const op = q.op
    const stats = (): KadQueryStats => ({ ...q.lookup.stats(), duration: now - q.started })
    const closest = (): KadPeerInfo[] => q.lookup.closest().map((p) => ({ peer: p.peer, addrs: this.addressesOf(p.peer) }))
    const done = (result: KadResult): void => {
      this.#queries.delete(q.id)
      if (q.report) this.#emit({ type: 'query-done', requestId: q.id, result, stats: stats() })
    }
    const failed = (code: KadErrorCode, message: string): void => {
      this.#queries.delete(q.id)
      if (q.report) this.#emit({ type: 'query-failed', requestId: q.id, error: kadError(timedOut ? 'kad/timeout' : code, message), stats: stats() })
    }
    switch (op.kind) {
      case 'closest-peers':
        done({ kind: 'closest-peers', peers: closest() })
        return
      case 'find-peer': {
        const addrs = this.addressesOf(op.target)
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
        for (const p of targets) this.#send(now, p, msg, { kind: 'correction' })
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
          : encodeKadMessage({ type: MessageType.ADD_PROVIDER, key: op.key, closerPeers: [], providerPeers: [{ id: this.peerId, addrs: this.#ownAddrs(), connection: ConnectionType.CONNECTED }] })
        q.store = { pending: peers.length, stored: [], failed: [] }
        const framed = encodeLp(msg)
        for (const p of peers) this.#send(now, p, framed, { kind: 'store', query: q.id })
        return
      }
      case 'find-providers':
        done({ kind: 'find-providers', providers: [...op.providers.values()] })
        return
      case 'bootstrap': {
        if (op.phase === 'self') {
          op.phase = 'refresh'
          for (const cpl of this.table.nonEmptyBuckets()) {
            if (cpl > this.#refreshMaxCpl) break
            const target = randomPeerKeyInBucket(this.#localKey, cpl, this.#random, this.#crypto)
            if (target === undefined || this.#queries.size >= this.#maxQueries) continue
            op.pending++
            this.#startQuery(now, this.#claimId(undefined), { kind: 'refresh', parent: q.id }, this.#findNode(target), this.#crypto.sha256(target), false)
          }
        }
        if (op.pending === 0) {
          // Still registered (the refresh phase may have been empty): finish now.
          this.#queries.delete(q.id)
          if (q.report) this.#emit({ type: 'query-done', requestId: q.id, result: { kind: 'bootstrap', tableSize: this.table.size }, stats: stats() })
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

  /** A response to a lookup request arrived. */
  #lookupResponse(now: Millis, q: Query, from: PeerId, res: KadMessage): void {
    const closer = this.#usablePeers(res.closerPeers)
    q.lookup.succeeded(from, closer.map((p) => ({ peer: p.id, key: this.#keyOf(p.id, p.k) })))
    this.#report(q, { kind: 'answered', peer: from, closerPeers: closer.length })
    const op = q.op
    if (op.kind === 'find-peer') {
      const hit = from.equals(op.target) ? { id: from, addrs: this.addressesOf(from) } : closer.find((p) => p.id.equals(op.target))
      if (hit !== undefined && hit.addrs.length > 0) {
        op.found = { peer: op.target, addrs: [...hit.addrs] }
        q.lookup.finish()
      }
    } else if (op.kind === 'get' && res.record !== undefined && equals(res.record.key, op.key)) {
      const value = res.record.value
      if (!this.#valid(op.key, value, now)) {
        this.#emit({ type: 'protocol-error', peer: from, error: kadError('kad/invalid-record', 'GET_VALUE returned an invalid record') })
      } else {
        op.count++
        this.#report(q, { kind: 'value', peer: from, value })
        if (op.best === undefined) {
          op.best = value
          op.bestFrom = [from]
        } else if (equals(op.best, value)) {
          op.bestFrom.push(from)
        } else if (this.validators.select(op.key, [op.best, value], this.#ctx(now)) === 1) {
          op.outdated.push(...op.bestFrom)
          op.best = value
          op.bestFrom = [from]
        } else {
          op.outdated.push(from)
        }
        if (op.count >= this.#quorum) q.lookup.finish()
      }
    } else if (op.kind === 'get') {
      op.noValue.add(peerKey(from))
    }
    if (op.kind === 'find-providers') {
      for (const p of res.providerPeers) {
        const k = peerKey(p.id)
        if (op.providers.size >= op.max) break
        if (op.providers.has(k)) continue
        const info = { peer: p.id, addrs: p.addrs.filter(this.#addressFilter) }
        op.providers.set(k, info)
        if (info.addrs.length > 0) this.#learnAddrs(p.id, info.addrs)
        this.#report(q, { kind: 'provider', provider: info })
      }
      if (op.providers.size >= op.max) q.lookup.finish()
    }
  }

  /** A put/provide delivery ended. */
  #storeOutcome(now: Millis, q: Query, peer: PeerId, ok: boolean): void {
    const s = q.store
    if (s === undefined) return
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
    this.#emit({ type: 'query-done', requestId: q.id, result: { kind, stored: s.stored, failed: s.failed }, stats })
  }

  // --- outbound RPCs -------------------------------------------------------------------------------

  #send(now: Millis, peer: PeerId, request: Uint8Array, purpose: RpcPurpose): void {
    const id = this.#nextId++
    const type = requestType(request)
    const rpc: Rpc = { id, peer, request, requestType: type, expectsResponse: type !== MessageType.ADD_PROVIDER, purpose, deadline: now + this.#requestTimeout, state: { kind: 'opening' } }
    this.#rpcs.set(id, rpc)
    const k = peerKey(peer)
    if (!this.#connected.has(k)) {
      const known = this.#addrs.get(k)
      if (known !== undefined && known.addrs.length > 0) this.#actions.push({ type: 'peer-info', peer, info: { addrs: known.addrs } })
    }
    this.#actions.push({ type: 'open-stream', requestId: id, peer, protocols: [this.protocol] })
  }

  #outboundOpened(now: Millis, stream: StreamRef, requestId: number | undefined): void {
    const rpc = requestId === undefined ? undefined : this.#rpcs.get(requestId)
    if (rpc === undefined || rpc.state.kind !== 'opening') {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    this.#actions.push({ type: 'write', stream, data: rpc.request.slice() })
    if (!rpc.expectsResponse) {
      this.#actions.push({ type: 'close-write', stream })
      this.#rpcs.delete(rpc.id)
      this.#rpcSucceeded(now, rpc, undefined)
      return
    }
    rpc.state = { kind: 'awaiting', stream, decoder: new LpDecoder(this.#decodeLimits.maxMessageSize, 'kad') }
    this.#outStreams.set(streamKey(stream), rpc.id)
  }

  #rpcByStream(key: string): Rpc | undefined {
    const id = this.#outStreams.get(key)
    return id === undefined ? undefined : this.#rpcs.get(id)
  }

  #response(now: Millis, rpc: Rpc, data: Uint8Array): void {
    if (rpc.state.kind !== 'awaiting') return
    const { stream, decoder } = rpc.state
    let res: KadMessage | undefined
    try {
      decoder.push(data)
      const body = decoder.next()
      if (body === undefined) return
      res = decodeKadMessage(body, this.#decodeLimits)
      if (res.type !== rpc.requestType) throw kadError('kad/unexpected-response', `${res.type} in response to ${rpc.requestType}`)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#emit({ type: 'protocol-error', peer: rpc.peer, error: e })
      this.#rpcFailed(now, rpc, e)
      return
    }
    this.#outStreams.delete(streamKey(stream))
    this.#rpcs.delete(rpc.id)
    this.#actions.push({ type: 'close-write', stream })
    this.#rpcSucceeded(now, rpc, res)
  }

  #rpcSucceeded(now: Millis, rpc: Rpc, res: KadMessage | undefined): void {
    // It answered on the kad protocol: it is a DHT server.
    this.#seen(now, rpc.peer)
    const p = rpc.purpose
    if (p.kind === 'check') {
      this.table.checked(rpc.peer, true, now)
      return
    }
    if (p.kind === 'correction') return
    const q = this.#queries.get(p.query)
    if (q === undefined) return
    if (p.kind === 'store') {
      this.#storeOutcome(now, q, rpc.peer, true)
      return
    }
    if (res !== undefined) this.#lookupResponse(now, q, rpc.peer, res)
    this.#advance(now, q)
  }

  #rpcFailed(now: Millis, rpc: Rpc, error: Error, reset = true): void {
    this.#rpcs.delete(rpc.id)
    if (rpc.state.kind === 'awaiting') {
      this.#outStreams.delete(streamKey(rpc.state.stream))
      if (reset) this.#actions.push({ type: 'reset', stream: rpc.state.stream })
    }
    const p = rpc.purpose
    if (p.kind === 'check') {
      this.table.checked(rpc.peer, false, now)
      return
    }
    // An unresponsive peer leaves the routing table (its bucket's replacement, if any, moves in).
    if (this.table.remove(rpc.peer)) this.#emit({ type: 'routing-table', peer: rpc.peer, change: 'removed' })
    if (p.kind === 'correction') return
    const q = this.#queries.get(p.query)
    if (q === undefined) return
    if (p.kind === 'store') {
      this.#storeOutcome(now, q, rpc.peer, false)
      return
    }
    q.lookup.failed(rpc.peer)
    this.#report(q, { kind: 'failed', peer: rpc.peer, error })
    this.#advance(now, q)
  }

  // --- inbound -------------------------------------------------------------------------------------

  #inboundOpened(now: Millis, stream: StreamRef, peer: PeerId): void {
    const k = peerKey(peer)
    const n = this.#inboundPerPeer.get(k) ?? 0
    if (this.mode !== 'server' || n >= this.#maxInboundPerPeer) {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    this.#inboundPerPeer.set(k, n + 1)
    this.#inStreams.set(streamKey(stream), { peer, decoder: new LpDecoder(this.#decodeLimits.maxMessageSize, 'kad') })
    if (this.table.has(peer)) this.#seen(now, peer)
  }

  #data(now: Millis, stream: StreamRef, data: Uint8Array): void {
    const key = streamKey(stream)
    const inb = this.#inStreams.get(key)
    if (inb === undefined) {
      const rpc = this.#rpcByStream(key)
      if (rpc !== undefined) this.#response(now, rpc, data)
      return
    }
    try {
      inb.decoder.push(data)
      for (let body = inb.decoder.next(); body !== undefined; body = inb.decoder.next()) {
        if (!this.#allow(now, inb.peer)) throw kadError('kad/rate-limited', `more than ${this.#maxRequestsPerMinute} requests a minute`)
        const req = decodeKadMessage(body, this.#decodeLimits)
        const out = answer(this.#serverContext(now), inb.peer, req, now)
        if (out.response !== undefined) this.#actions.push({ type: 'write', stream, data: encodeLp(encodeKadMessage(out.response)) })
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      this.#dropInbound(key, inb)
      this.#actions.push({ type: 'reset', stream })
      this.#emit({ type: 'protocol-error', peer: inb.peer, error: e })
    }
  }

  #allow(now: Millis, peer: PeerId): boolean {
    const k = peerKey(peer)
    let w = this.#rate.get(k)
    if (w === undefined || now - w[0] >= 60_000) {
      if (w === undefined && this.#rate.size >= this.#maxAddressBook) this.#rate.delete(this.#rate.keys().next().value!)
      w = [now, 0]
      this.#rate.set(k, w)
    }
    w[1]++
    return w[1] <= this.#maxRequestsPerMinute
  }

  #dropInbound(key: string, s: Inbound): void {
    if (!this.#inStreams.delete(key)) return
    const k = peerKey(s.peer)
    const n = (this.#inboundPerPeer.get(k) ?? 1) - 1
    if (n <= 0) this.#inboundPerPeer.delete(k)
    else this.#inboundPerPeer.set(k, n)
  }

  #serverContext(now: Millis): ServerContext {
    return {
      store: this.store,
      validators: this.validators,
      validation: this.#ctx(now),
      closerPeers: (key, requester) => this.#closerPeers(key, requester),
      filterAddrs: (addrs) => addrs.filter(this.#addressFilter),
      maxProvidersReturned: this.#k,
    }
  }

  #closerPeers(key: Uint8Array, requester: PeerId): KadPeer[] {
    const out: KadPeer[] = []
    const req = peerKey(requester)
    for (const e of this.table.closest(this.#crypto.sha256(key), this.#k + 1)) {
      const k = e.id
      if (k === req) continue
      const addrs = this.#addrs.get(k)?.addrs ?? []
      if (addrs.length === 0) continue
      out.push({ id: e.peer, addrs: [...addrs], connection: this.#connected.has(k) ? ConnectionType.CONNECTED : ConnectionType.NOT_CONNECTED })
      if (out.length >= this.#k) break
    }
    return out
  }

  // --- peers ---------------------------------------------------------------------------------------

  /** Contact with a DHT server: update the routing table (checking a full bucket's oldest peer). */
  #seen(now: Millis, peer: PeerId): void {
    if (peer.equals(this.peerId)) return
    const r = this.table.update(peer, this.#keyOf(peer), now)
    if (r.kind === 'added') this.#emit({ type: 'routing-table', peer, change: 'added' })
    else if (r.kind === 'check') this.#send(now, r.oldest, this.#findNode(this.peerId.multihash), { kind: 'check' })
  }

  /** Closer peers we can use: not us, with at least one address (after the filter) or a live connection. */
  #usablePeers(peers: readonly KadPeer[]): (KadPeer & { k: string })[] {
    const out: (KadPeer & { k: string })[] = []
    for (const p of peers) {
      const k = peerKey(p.id)
      if (k === this.#selfK) continue
      const addrs = p.addrs.filter(this.#addressFilter)
      if (addrs.length > 0) this.#learnAddrs(p.id, addrs, k)
      else if (!this.#connected.has(k) && !this.#addrs.has(k)) continue
      out.push({ id: p.id, addrs, connection: p.connection, k })
    }
    return out
  }

  #learnAddrs(peer: PeerId, addrs: readonly Multiaddr[], k = peerKey(peer)): void {
    const old = this.#addrs.get(k)
    if (old !== undefined && old.addrs.length === addrs.length && old.addrs.every((a, i) => equals(a.bytes, addrs[i]!.bytes))) return
    const usable = addrs.filter(this.#addressFilter).slice(0, this.#decodeLimits.maxAddrsPerPeer)
    if (usable.length === 0) return
    this.#addrs.delete(k)
    if (this.#addrs.size >= this.#maxAddressBook) this.#addrs.delete(this.#addrs.keys().next().value!)
    this.#addrs.set(k, { peer, addrs: usable })
  }

  #ownAddrs(): Multiaddr[] {
    return [...this.#listenAddrs]
  }

  /** Our listen addresses (from the swarm's `local-info`), sent in ADD_PROVIDER. */
  #listenAddrs: readonly Multiaddr[] = []

  #keyOf(peer: PeerId, k = peerKey(peer)): Uint8Array {
    let key = this.#keys.get(k)
    if (key === undefined) {
      if (this.#keys.size >= 4096) this.#keys.clear()
      key = this.#crypto.sha256(peer.multihash)
      this.#keys.set(k, key)
    }
    return key
  }

  // --- helpers -------------------------------------------------------------------------------------

  #findNode(key: Uint8Array): Uint8Array {
    return encodeLp(encodeKadMessage({ type: MessageType.FIND_NODE, key, closerPeers: [], providerPeers: [] }))
  }

  #ctx(now: Millis): ValidationContext {
    return { crypto: this.#crypto, wallTime: this.#epoch + now }
  }

  #valid(key: Uint8Array, value: Uint8Array, now: Millis): boolean {
    try {
      this.validators.validate(key, value, this.#ctx(now))
      return true
    } catch {
      return false
    }
  }

  #armPeriodic(now: Millis): void {
    if (this.#refreshInterval > 0) this.#nextRefresh ??= now + this.#refreshInterval
    if (this.#provided.size > 0) this.#nextRepublish ??= now + this.#republishInterval
  }

  #report(q: Query, progress: KadProgress): void {
    if (q.report && this.#progress) this.#emit({ type: 'progress', requestId: q.id, progress })
  }

  #emit(event: KadEvent): void {
    this.#actions.push({ type: 'event', event })
  }

  #claimId(requestId: number | undefined): number {
    if (requestId !== undefined) {
      if (!Number.isSafeInteger(requestId) || requestId < 0) throw new RangeError('requestId must be a non-negative safe integer')
      if (this.#queries.has(requestId)) throw new UsageError('kad/duplicate-request-id', String(requestId))
      return requestId
    }
    while (this.#queries.has(this.#nextId) || this.#rpcs.has(this.#nextId)) this.#nextId++
    return this.#nextId++
  }
}

function kadError(code: KadErrorCode, message?: string): ProtocolError<KadErrorCode> {
  return new ProtocolError<KadErrorCode>('kad', code, message)
}

/** The MessageType of an encoded (length-prefixed) request we built ourselves. */
function requestType(framed: Uint8Array): MessageType {
  // Our encoder writes `type` first when it is not PUT_VALUE (0): skip the length varint.
  let i = 0
  while (framed[i]! & 0x80) i++
  i++
  return framed[i] === 0x08 ? (framed[i + 1]! as MessageType) : MessageType.PUT_VALUE
}

function minOf(a: Millis | undefined, b: Millis | undefined): Millis | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}
