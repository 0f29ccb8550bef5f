/**
 * The promise API of the DHT on a node (`node.dht`), a thin adapter over KadBehaviour with no
 * protocol decisions: each call starts a query with a request id, pumps the swarm, and settles on
 * the query's `query-done` / `query-failed` event. Every call takes an AbortSignal (aborting
 * cancels the query) and an `onProgress` callback receiving the query's progress events (which
 * peers were asked, which answered, values and providers as they arrive).
 *
 * Rejections say who is to blame (spec/kad.md, Errors): `OutcomeError` `kad/not-found`,
 * `kad/no-peers`, `kad/timeout` when the network gave no result (nobody broke the protocol);
 * `UsageError` `kad/invalid-record` (a put whose record its namespace refuses), `kad/key-too-long`,
 * `kad/too-many-queries`, `node/aborted`. A misbehaving remote never rejects a call: it fails only
 * its own request (a `failed` progress event) and the query goes on without it.
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { KadBehaviour } from './kad.js'
import type { KadEvent, KadPeerInfo, KadProgress, KadQueryStats, KadResult } from './types.js'

/** Options of every `Dht` call: `signal` aborts the query (the call rejects with `UsageError('node/aborted')`). */
export interface DhtCallOptions {
  /** Aborts the query; the call rejects with `UsageError('node/aborted')`. */
  signal?: AbortSignal
  /**
   * Called with each progress event of the query: a peer asked, a peer answered, a value or provider found, a request failed.
   */
  onProgress?: (progress: KadProgress) => void
}

interface Waiting {
  resolve: (r: { result: KadResult; stats: KadQueryStats }) => void
  reject: (e: Error) => void
  onProgress: ((p: KadProgress) => void) | undefined
}

/**
 * The Kademlia DHT API of a node (`node.dht`; libp2p specs kad-dht/README.md). Each call runs an
 * iterative query (α = 3 requests in flight, k = 20 closest peers) and resolves with its result.
 * Rejections say who is to blame: `OutcomeError` `kad/not-found`, `kad/no-peers`, `kad/timeout`
 * when the network gave no result; `UsageError` `kad/invalid-record`, `kad/key-too-long`,
 * `kad/too-many-queries`, `node/aborted`. A misbehaving remote fails only its own request.
 * @example
 * ```ts
 * const node = await createNode({ services: { dht: kadDht({ mode: 'client' }) }, discovery: { bootstrap: [...] } })
 * const info = await node.dht.findPeer(PeerId.parse('12D3KooW...'))
 * const providers = await node.dht.findProviders(cidMultihashBytes, { max: 5 })
 * ```
 */
export class Dht {
  readonly #kad: KadBehaviour
  readonly #run: <T>(f: (now: Millis) => T) => T
  readonly #waiting = new Map<number, Waiting>()
  readonly #listeners = new Set<(ev: KadEvent) => void>()
  #next = 1

  constructor(kad: KadBehaviour, run: <T>(f: (now: Millis) => T) => T) {
    this.#kad = kad
    this.#run = run
  }

  /** The current mode: 'server' answers DHT requests, 'client' only asks. */
  get mode(): 'server' | 'client' {
    return this.#kad.mode
  }

  /** The configured mode; 'auto' switches with the node's reachability (node.addExternalAddress). */
  get configuredMode(): 'server' | 'client' | 'auto' {
    return this.#kad.configuredMode
  }

  /** Called with the new mode whenever mode 'auto' switches. Returns an unsubscribe function. */
  onModeChange(listener: (mode: 'server' | 'client') => void): () => void {
    return this.onEvent((ev) => {
      if (ev.type === 'mode') listener(ev.mode)
    })
  }

  /** Peers in the routing table. */
  get routingTableSize(): number {
    return this.#kad.table.size
  }

  /** Every kad event (routing table changes, protocol errors, query results). Returns an unsubscribe function. */
  onEvent(listener: (ev: KadEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Fill the routing table from the bootstrap peers; resolves with its size. */
  async bootstrap(options: DhtCallOptions = {}): Promise<number> {
    const r = await this.#query(options, (now, id) => this.#kad.bootstrap(now, id))
    return r.result.kind === 'bootstrap' ? r.result.tableSize : this.#kad.table.size
  }

  /**
   * Store a record (kad-dht "Value storage and retrieval", PUT_VALUE) at the k peers closest to `key`, after
   * validating it with its namespace's validator (`/pk/`, `/ipns/`). Resolves with the peers that stored it and those that failed.
   */
  async put(key: Uint8Array, value: Uint8Array, options: DhtCallOptions = {}): Promise<{ stored: PeerId[]; failed: PeerId[] }> {
    const r = await this.#query(options, (now, id) => this.#kad.put(now, key, value, id))
    if (r.result.kind !== 'put') throw new UsageError('kad/internal', 'unexpected result')
    return { stored: r.result.stored, failed: r.result.failed }
  }

  /**
   * Find the best record for `key` (GET_VALUE; the namespace's `select` picks among the values found).
   * Rejects with `OutcomeError('kad/not-found')` when no peer has a valid one.
   */
  async get(key: Uint8Array, options: DhtCallOptions = {}): Promise<Uint8Array> {
    const r = await this.#query(options, (now, id) => this.#kad.get(now, key, id))
    if (r.result.kind !== 'get') throw new UsageError('kad/internal', 'unexpected result')
    return r.result.value
  }

  /** Announce that we provide `key` (ADD_PROVIDER to the k closest peers, kad-dht "Content provider advertisement"). */
  async provide(key: Uint8Array, options: DhtCallOptions = {}): Promise<{ stored: PeerId[]; failed: PeerId[] }> {
    const r = await this.#query(options, (now, id) => this.#kad.provide(now, key, id))
    if (r.result.kind !== 'provide') throw new UsageError('kad/internal', 'unexpected result')
    return { stored: r.result.stored, failed: r.result.failed }
  }

  /** Find providers of `key` (GET_PROVIDERS), up to `options.max` (default 20). */
  async findProviders(key: Uint8Array, options: DhtCallOptions & { max?: number } = {}): Promise<KadPeerInfo[]> {
    const r = await this.#query(options, (now, id) => this.#kad.findProviders(now, key, id, options.max))
    return r.result.kind === 'find-providers' ? r.result.providers : []
  }

  /**
   * Find a peer's addresses (FIND_NODE for its id). Rejects with `OutcomeError('kad/not-found')` when no peer knows it.
   */
  async findPeer(peer: PeerId, options: DhtCallOptions = {}): Promise<KadPeerInfo> {
    const r = await this.#query(options, (now, id) => this.#kad.findPeer(now, peer, id))
    if (r.result.kind !== 'find-peer') throw new UsageError('kad/internal', 'unexpected result')
    return r.result.peer
  }

  /** The k peers closest to `key` by XOR distance of SHA-256 keys (kad-dht "Peer routing"). */
  async getClosestPeers(key: Uint8Array, options: DhtCallOptions = {}): Promise<KadPeerInfo[]> {
    const r = await this.#query(options, (now, id) => this.#kad.getClosestPeers(now, key, id))
    return r.result.kind === 'closest-peers' ? r.result.peers : []
  }

  /** @internal the node routes the behaviour's events here */
  _onEvent(ev: KadEvent): void {
    for (const l of this.#listeners) l(ev)
    if (ev.type === 'progress') {
      this.#waiting.get(ev.requestId)?.onProgress?.(ev.progress)
      return
    }
    if (ev.type !== 'query-done' && ev.type !== 'query-failed') return
    const w = this.#waiting.get(ev.requestId)
    if (w === undefined) return
    this.#waiting.delete(ev.requestId)
    if (ev.type === 'query-done') w.resolve({ result: ev.result, stats: ev.stats })
    else w.reject(ev.error)
  }

  /** @internal the node rejects everything when it stops */
  _stop(error: Error): void {
    for (const w of this.#waiting.values()) w.reject(error)
    this.#waiting.clear()
  }

  #query(options: DhtCallOptions, start: (now: Millis, id: number) => number): Promise<{ result: KadResult; stats: KadQueryStats }> {
    const signal = options.signal
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason instanceof Error ? signal.reason : new UsageError('node/aborted', 'the operation was aborted'))
        return
      }
      const id = this.#next++
      const onAbort = (): void => {
        this.#waiting.delete(id)
        this.#kad.cancel(id)
        reject(signal!.reason instanceof Error ? signal!.reason : new UsageError('node/aborted', 'the operation was aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.set(id, {
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) },
        onProgress: options.onProgress,
      })
      try {
        this.#run((now) => start(now, id))
      } catch (e) {
        this.#waiting.delete(id)
        signal?.removeEventListener('abort', onAbort)
        reject(e as Error)
      }
    })
  }
}
