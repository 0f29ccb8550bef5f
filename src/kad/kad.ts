/**
 * The Kademlia DHT behaviour (libp2p/specs kad-dht/README.md): routing table, iterative queries,
 * value and provider records, served to the swarm as a pure state machine (src/swarm/behaviour.ts).
 *
 * Protocol id `/ipfs/kad/1.0.0` (prefix configurable). In server mode the protocol is registered for
 * inbound streams (the swarm advertises it through identify) and requests are answered
 * (inbound.ts, server.ts); in client mode it is not, and we only ask. A peer enters our routing
 * table only as a server: a `peer-info` fact (identify) lists the protocol, or it answered one of
 * our requests; a `peer-info` without it (an identify push after the peer became a client) removes it.
 *
 * Mode 'auto' starts as a client and follows the swarm's `reachability` input: server while the
 * node has a confirmed external address, client otherwise (src/swarm/reachability.ts). A switch
 * sends `set-protocols` (the swarm then serves or refuses the protocol, and identify pushes the
 * change to connected peers) and emits a `mode` event. Streams already open are served to the end.
 *
 * This file composes the parts and routes swarm inputs to them:
 * - rpc.ts: outbound requests, one stream each, with per-request timeouts;
 * - inbound.ts: inbound streams, served until the remote's EOF;
 * - operations.ts: queries (`getClosestPeers`, `findPeer`, `get`, `put`, `provide`,
 *   `findProviders`, `bootstrap`) driving the lookup of query.ts, bounded by `queryTimeout`;
 * - peers.ts: the address book, connection counts and kad keys of peers.
 * Any malformed message or invalid record is a ProtocolError: the stream is reset and a
 * `protocol-error` event emitted; nothing else escapes `handle`.
 */
import type { Millis } from '../core/byte-machine.js'
import { toHex } from '../core/bytes.js'
import { UsageError } from '../core/errors.js'
import { encodeLp } from '../core/lp.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'
import { KadContext } from './context.js'
import type { KadConfig } from './context.js'
import { InboundStreams } from './inbound.js'
import { peerKey } from './key.js'
import { DEFAULT_DECODE_LIMITS, encodeKadMessage, MessageType } from './message.js'
import type { KadMessage } from './message.js'
import { Queries } from './operations.js'
import type { Op } from './operations.js'
import { PeerBook } from './peers.js'
import { RoutingTable } from './routing-table.js'
import { OutboundRpcs } from './rpc.js'
import type { Rpc } from './rpc.js'
import { RecordStore } from './store.js'
import type { KadEvent, KadOptions, KadPeerInfo } from './types.js'
import { Validators } from './validators.js'

/** Protocol id of the Kademlia DHT (kad-dht/README.md; the IPFS DHT's id). */
export const KAD_PROTOCOL = '/ipfs/kad/1.0.0'

const PRUNE_INTERVAL = 3600_000
/** The connection manager tag of routing-table peers and its value (go-libp2p-kad-dht's kbucketTag, baseConnMgrScore). */
export const KBUCKET_TAG = 'kbucket'
/** The connection manager value of the `kbucket` tag (routing table peers), as go-libp2p's. */
export const KBUCKET_TAG_VALUE = 5

export class KadBehaviour implements Behaviour<KadEvent> {
  readonly protocol: string
  /** The configured mode ('auto' follows reachability); `mode` is the current one. */
  readonly configuredMode: 'server' | 'client' | 'auto'
  readonly peerId: PeerId
  readonly table: RoutingTable
  readonly store: RecordStore
  readonly validators: Validators

  readonly #ctx: KadContext
  readonly #rpcs: OutboundRpcs
  readonly #inbound: InboundStreams
  readonly #queries: Queries
  readonly #bootstrapPeers: readonly KadPeerInfo[]
  readonly #refreshInterval: number
  readonly #republishInterval: number
  /** Keys we provide, re-announced every `providerRepublishInterval`. */
  readonly #provided = new Map<string, Uint8Array>()
  #nextRefresh: Millis | undefined
  #nextRepublish: Millis | undefined
  #nextPrune: Millis | undefined
  #mode: 'server' | 'client'

  constructor(options: KadOptions) {
    if (typeof options.random !== 'function') throw new TypeError('random must be a function')
    this.peerId = options.peerId
    this.configuredMode = options.mode ?? 'server'
    if (this.configuredMode !== 'server' && this.configuredMode !== 'client' && this.configuredMode !== 'auto') throw new RangeError("mode must be 'server', 'client' or 'auto'")
    this.#mode = this.configuredMode === 'server' ? 'server' : 'client'
    const prefix = options.protocolPrefix ?? '/ipfs'
    if (!prefix.startsWith('/') || prefix.endsWith('/')) throw new RangeError('protocolPrefix must start with / and not end with /')
    this.protocol = `${prefix}/kad/1.0.0`
    const config: KadConfig = {
      k: positive(options.k ?? 20, 'k'),
      alpha: positive(options.alpha ?? 3, 'alpha'),
      requestTimeout: positive(options.requestTimeout ?? 10_000, 'requestTimeout'),
      queryTimeout: positive(options.queryTimeout ?? 60_000, 'queryTimeout'),
      quorum: positive(options.quorum ?? 16, 'quorum'),
      decodeLimits: { ...DEFAULT_DECODE_LIMITS, ...options.decode },
      maxInboundPerPeer: positive(options.maxInboundStreamsPerPeer ?? 8, 'maxInboundStreamsPerPeer'),
      maxRequestsPerMinute: positive(options.maxInboundRequestsPerMinute ?? 600, 'maxInboundRequestsPerMinute'),
      maxQueries: positive(options.maxQueries ?? 256, 'maxQueries'),
      maxAddressBook: positive(options.maxAddressBook ?? 10_000, 'maxAddressBook'),
      refreshMaxCpl: Math.min(options.refreshMaxCpl ?? 15, 255),
      epoch: options.epoch ?? 0,
      addressFilter: options.addressFilter ?? (() => true),
      progress: options.progressEvents ?? true,
    }
    this.#bootstrapPeers = options.bootstrapPeers ?? []
    this.#refreshInterval = options.refreshInterval ?? 600_000
    this.#republishInterval = positive(options.providerRepublishInterval ?? 22 * 3600_000, 'providerRepublishInterval')
    const peers = new PeerBook({ crypto: options.crypto, self: this.peerId, maxAddressBook: config.maxAddressBook, maxAddrsPerPeer: config.decodeLimits.maxAddrsPerPeer, addressFilter: config.addressFilter })
    const localKey = peers.keyOf(this.peerId)
    // connection manager tag (spec/connection-manager.md): routing-table peers carry `kbucket` = 5, as in go-libp2p-kad-dht
    this.table = new RoutingTable(localKey, { k: config.k, onChange: (peer, change) => this.#tagPeer(peer, change === 'added') })
    this.store = new RecordStore(options.store)
    this.validators = new Validators(options.validators)
    this.#ctx = new KadContext(this.protocol, config, options.crypto, options.random, this.peerId, localKey, this.table, this.store, this.validators, peers)
    this.#rpcs = new OutboundRpcs(this.#ctx, { succeeded: (now, rpc, res) => this.#rpcSucceeded(now, rpc, res), failed: (now, rpc, error) => this.#rpcFailed(now, rpc, error) })
    this.#inbound = new InboundStreams(this.#ctx)
    this.#queries = new Queries(this.#ctx, this.#rpcs)
  }

  /** Current mode: 'server' answers and advertises the protocol, 'client' only asks. */
  get mode(): 'server' | 'client' {
    return this.#mode
  }

  /** The inbound protocols for the current mode (the swarm reads them at start; `set-protocols` after). */
  get protocols(): readonly string[] {
    return this.#mode === 'server' ? [this.protocol] : []
  }

  // --- commands ------------------------------------------------------------------------------------

  /** Fill the routing table: a lookup of our own id (seeded with the bootstrap peers), then a refresh of each bucket. */
  bootstrap(now: Millis, requestId?: number): number {
    const ctx = this.#ctx
    const id = this.#queries.claimId(requestId)
    for (const b of this.#bootstrapPeers) ctx.peers.learn(b.peer, b.addrs)
    const extra = this.#bootstrapPeers.filter((b) => !b.peer.equals(this.peerId)).map((b) => ({ peer: b.peer, key: ctx.peers.keyOf(b.peer) }))
    this.#start(now, id, { kind: 'bootstrap', phase: 'self', pending: 0 }, ctx.findNode(this.peerId.multihash), ctx.localKey, requestId !== undefined, extra)
    this.#armPeriodic(now)
    return id
  }

  /** The k closest peers to `key` (raw bytes; a peer's multihash to look up a peer's neighbours). */
  getClosestPeers(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#queries.claimId(requestId)
    this.#start(now, id, { kind: 'closest-peers' }, this.#ctx.findNode(key), this.#ctx.crypto.sha256(key), true)
    return id
  }

  /**
   * Start a FIND_NODE query for `peer`'s addresses; the result arrives as a `query-done` event with this request id.
   */
  findPeer(now: Millis, peer: PeerId, requestId?: number): number {
    const id = this.#queries.claimId(requestId)
    this.#start(now, id, { kind: 'find-peer', target: peer, found: undefined }, this.#ctx.findNode(peer.multihash), this.#ctx.peers.keyOf(peer), true)
    return id
  }

  /** GET_VALUE: the best valid record for `key` (local store counts as one answer); stale peers corrected. */
  get(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#queries.claimId(requestId)
    if (this.#keyTooLong(id, key, this.store.limits.maxRecordKeyLength)) return id
    const op: Op = { kind: 'get', key: key.slice(), best: undefined, bestFrom: [], outdated: [], noValue: new Set(), count: 0 }
    const local = this.store.getRecord(key, now)
    if (local !== undefined && this.#ctx.valid(key, local.value, now)) {
      op.best = local.value
      op.count = 1
    }
    const req = encodeLp(encodeKadMessage({ type: MessageType.GET_VALUE, key, closerPeers: [], providerPeers: [] }))
    this.#start(now, id, op, req, this.#ctx.crypto.sha256(key), true)
    return id
  }

  /** PUT_VALUE: validate, store locally, then store at the k closest peers. */
  put(now: Millis, key: Uint8Array, value: Uint8Array, requestId?: number): number {
    const id = this.#queries.claimId(requestId)
    if (this.#keyTooLong(id, key, this.store.limits.maxRecordKeyLength)) return id
    try {
      this.validators.validate(key, value, this.#ctx.validation(now))
    } catch (e) {
      // Our own caller's record: local misuse, not a remote's protocol error.
      const error = new UsageError('kad/invalid-record', (e as Error).message.replace(/^kad\/invalid-record: /, ''), { cause: e })
      this.#ctx.emit({ type: 'query-failed', requestId: id, error, stats: { hops: 0, requests: 0, duration: 0 } })
      return id
    }
    this.store.putRecord(key, value, now, undefined)
    this.#start(now, id, { kind: 'put', key: key.slice(), value: value.slice() }, this.#ctx.findNode(key), this.#ctx.crypto.sha256(key), true)
    return id
  }

  /** ADD_PROVIDER at the k closest peers to `key` (a multihash); re-announced every 22 h. */
  provide(now: Millis, key: Uint8Array, requestId?: number): number {
    const id = this.#queries.claimId(requestId)
    if (this.#keyTooLong(id, key, this.store.limits.maxProviderKeyLength)) return id
    this.#provided.set(toHex(key), key.slice())
    this.store.addProvider(key, this.peerId, [], now, undefined)
    this.#start(now, id, { kind: 'provide', key: key.slice() }, this.#ctx.findNode(key), this.#ctx.crypto.sha256(key), true)
    this.#armPeriodic(now)
    return id
  }

  /** Stop re-announcing `key`. */
  stopProviding(key: Uint8Array): void {
    this.#provided.delete(toHex(key))
  }

  /** GET_PROVIDERS: up to `max` providers (default k), each also streamed as a progress event. */
  findProviders(now: Millis, key: Uint8Array, requestId?: number, max = this.#ctx.config.k): number {
    const id = this.#queries.claimId(requestId)
    if (this.#keyTooLong(id, key, this.store.limits.maxProviderKeyLength)) return id
    const op: Op = { kind: 'find-providers', key: key.slice(), max, providers: new Map() }
    for (const p of this.store.getProviders(key, now, max)) op.providers.set(peerKey(p.peer), { peer: p.peer, addrs: [...p.addrs] })
    const req = encodeLp(encodeKadMessage({ type: MessageType.GET_PROVIDERS, key, closerPeers: [], providerPeers: [] }))
    this.#start(now, id, op, req, this.#ctx.crypto.sha256(key), true)
    return id
  }

  /** Abandon a query: no further events for it. */
  cancel(requestId: number): void {
    this.#queries.cancel(requestId)
  }

  /** Known addresses of `peer` (address book). */
  addressesOf(peer: PeerId): Multiaddr[] {
    return [...(this.#ctx.peers.addrs(peerKey(peer)) ?? [])]
  }

  // --- Behaviour -----------------------------------------------------------------------------------

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        this.#ctx.listenAddrs = [...input.listenAddrs]
        return
      case 'reachability':
        this.#ctx.externalAddrs = [...input.externalAddrs]
        if (this.configuredMode === 'auto') this.#setMode(input.reachable ? 'server' : 'client')
        return
      case 'connection-established':
        this.#ctx.peers.connectionOpened(input.connection.peer)
        // the connection manager drops a peer's tags with its last connection: tag it again
        if (this.table.has(input.connection.peer)) this.#tagPeer(input.connection.peer, true)
        return
      case 'connection-closed':
        this.#ctx.peers.connectionClosed(input.connection.peer)
        this.#inbound.connectionClosed(input.connection.id)
        return
      case 'peer-info': {
        if (input.peer.equals(this.peerId)) return
        if (input.info.addrs !== undefined) this.#ctx.peers.learn(input.peer, input.info.addrs)
        if (input.info.protocols !== undefined) {
          if (input.info.protocols.includes(this.protocol)) this.#seen(now, input.peer)
          else if (this.table.remove(input.peer)) this.#ctx.emit({ type: 'routing-table', peer: input.peer, change: 'removed' })
        }
        return
      }
      case 'stream-opened':
        if (input.protocol !== this.protocol) return
        if (input.direction === 'outbound') this.#rpcs.opened(now, input.stream, input.requestId)
        else if (this.mode !== 'server') this.#ctx.actions.push({ type: 'reset', stream: input.stream })
        else if (this.#inbound.opened(input.stream, input.connection) && this.table.has(input.connection.peer)) this.#seen(now, input.connection.peer)
        return
      case 'stream-open-failed':
        this.#rpcs.openFailed(now, input.requestId, input.error)
        return
      case 'stream-data': {
        const key = streamKey(input.stream)
        if (this.#inbound.owns(key)) this.#inbound.data(now, input.stream, key, input.data)
        else this.#rpcs.data(now, key, input.data)
        return
      }
      case 'stream-eof': {
        const key = streamKey(input.stream)
        if (!this.#inbound.eof(input.stream, key)) this.#rpcs.ended(now, key, 'eof')
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        this.#inbound.ended(key)
        this.#rpcs.ended(now, key, input.type === 'stream-reset' ? 'reset' : 'closed')
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#rpcs.timeouts(now)
    this.#queries.timeouts(now)
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
        this.#start(now, this.#queries.claimId(undefined), { kind: 'provide', key }, this.#ctx.findNode(key), this.#ctx.crypto.sha256(key), false)
      }
    }
  }

  pollAction(): BehaviourAction<KadEvent> | undefined {
    return this.#ctx.actions.shift()
  }

  pollTimeout(): Millis | undefined {
    const min = minOf(minOf(this.#nextRefresh, this.#nextRepublish), this.#nextPrune)
    return minOf(min, minOf(this.#rpcs.nextDeadline(), this.#queries.nextDeadline()))
  }

  // --- internals -----------------------------------------------------------------------------------

  /** A local query for a key servers would refuse (kad/key-too-long): fail it at once, as a UsageError. */
  #keyTooLong(id: number, key: Uint8Array, max: number): boolean {
    if (key.length <= max) return false
    const error = new UsageError('kad/key-too-long', `${key.length} > ${max} bytes`)
    this.#ctx.emit({ type: 'query-failed', requestId: id, error, stats: { hops: 0, requests: 0, duration: 0 } })
    return true
  }

  #start(now: Millis, id: number, op: Op, request: Uint8Array, target: Uint8Array, report: boolean, extraSeeds: { peer: PeerId; key: Uint8Array }[] = []): void {
    if (this.#queries.size < this.#ctx.config.maxQueries) this.#nextPrune ??= now + PRUNE_INTERVAL
    this.#queries.start(now, id, op, request, target, report, extraSeeds)
  }

  #rpcSucceeded(now: Millis, rpc: Rpc, res: KadMessage | undefined): void {
    // It answered on the kad protocol: it is a DHT server.
    this.#seen(now, rpc.peer)
    const p = rpc.purpose
    if (p.kind === 'check') this.table.checked(rpc.peer, true, now)
    else if (p.kind === 'store') this.#queries.storeOutcome(now, p.query, rpc.peer, true)
    else if (p.kind === 'lookup') this.#queries.lookupSucceeded(now, p.query, rpc.peer, res)
  }

  #rpcFailed(now: Millis, rpc: Rpc, error: Error): void {
    const p = rpc.purpose
    if (p.kind === 'check') {
      this.table.checked(rpc.peer, false, now)
      return
    }
    // An unresponsive peer leaves the routing table (its bucket's replacement, if any, moves in).
    if (this.table.remove(rpc.peer)) this.#ctx.emit({ type: 'routing-table', peer: rpc.peer, change: 'removed' })
    if (p.kind === 'store') this.#queries.storeOutcome(now, p.query, rpc.peer, false)
    else if (p.kind === 'lookup') this.#queries.lookupFailed(now, p.query, rpc.peer, error)
  }

  /** Contact with a DHT server: update the routing table (checking a full bucket's oldest peer). */
  #seen(now: Millis, peer: PeerId): void {
    if (peer.equals(this.peerId)) return
    const r = this.table.update(peer, this.#ctx.peers.keyOf(peer), now)
    if (r.kind === 'added') this.#ctx.emit({ type: 'routing-table', peer, change: 'added' })
    else if (r.kind === 'check') this.#rpcs.send(now, r.oldest, this.#ctx.findNode(this.peerId.multihash), { kind: 'check' })
  }

  #tagPeer(peer: PeerId, inTable: boolean): void {
    this.#ctx.actions.push({ type: 'tag-peer', peer, tag: KBUCKET_TAG, value: inTable ? KBUCKET_TAG_VALUE : undefined })
  }

  /** Switch mode (auto): serve or stop serving the protocol; identify tells our peers. */
  #setMode(mode: 'server' | 'client'): void {
    if (mode === this.#mode) return
    this.#mode = mode
    this.#ctx.actions.push({ type: 'set-protocols', protocols: this.protocols })
    this.#ctx.emit({ type: 'mode', mode })
  }

  #armPeriodic(now: Millis): void {
    if (this.#refreshInterval > 0) this.#nextRefresh ??= now + this.#refreshInterval
    if (this.#provided.size > 0) this.#nextRepublish ??= now + this.#republishInterval
  }
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
