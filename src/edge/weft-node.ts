/**
 * The friendly edge: a weft node as users see it, on top of the pure swarm and the IO runtime.
 *
 *   const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
 *   node.handle('/echo/1.0.0', (stream) => pipe(stream.source, stream.sink))
 *   const stream = await node.newStream(addr, '/echo/1.0.0')
 *   const rtt = await node.ping(addr)
 *
 * Events (an EventTarget, `detail` typed in WeftNodeEvents): peer:connect, peer:disconnect,
 * peer:identify, peer:discovery, connection:open, connection:close, connection:refused, stream:refused,
 * reachability, error. Everything that waits
 * takes an AbortSignal; aborting a dial or newStream also cancels the swarm's work for it.
 */
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { NOISE_KEY_REFILL_DELAY, NoiseKeyPool } from '../noise/index.js'
import { PeerId, generatePrivateKey, type PrivateKey } from '../peer-id/index.js'
import { Swarm, streamKey, type Behaviour, type ConnectionInfo, type NodeService, type ServiceContext, type StreamRef, type SwarmEvent } from '../swarm/index.js'
import { PingBehaviour, type PingEvent } from '../ping/index.js'
import { IdentifyBehaviour, type IdentifyEvent } from '../identify/index.js'
import type { PerfEvent } from '../perf/index.js'
import type { PerfResult, PerfService } from './perf-service.js'
import type { Pubsub } from '../gossipsub/index.js'
import type { Dht } from '../kad/index.js'
import type { Gater } from '../swarm/gater.js'
import type { ResourceUsage } from '../swarm/resources.js'
import type { ConnectionManager } from '../swarm/conn-manager.js'
import type { NodeMetrics } from '../metrics/types.js'
import { Runtime } from '../io/runtime.js'
import type { Transport } from '../io/transport.js'
import { WeftStream } from './stream.js'
import { withSecurity } from './security.js'
import type { DialTarget, NewStreamOptions, NodeInternals, NodeOptions, StreamHandler, StreamHandlerOptions, WeftNodeEvents } from './node-types.js'
export type { DialTarget, NewStreamOptions, NodeErrorEvent, NodeInternals, NodeOptions, StreamHandler, StreamHandlerOptions, WeftNodeEvents } from './node-types.js'
import { AGENT_VERSION } from './version.js'
import type { DiscoveryBehaviour, DiscoveredEvent } from './discovery.js'

type Behaviours = { ping: PingBehaviour; identify: IdentifyBehaviour } & Record<string, Behaviour<unknown>>

/** The behaviour name of the perf service (src/edge/perf-service.ts), which runs `node.perf()` and emits the `perf:*` events. */
const PERF = 'perf'

interface Pending<T> {
  resolve: (v: T) => void
  reject: (e: Error) => void
}


/**
 * A libp2p node: transports, the connection upgrade (Noise, yamux), the swarm and its behaviours
 * (ping, identify and the services given to `createNode`), with a promise API. Make one with
 * `createNode` from `weft/node` or `weft/browser`; each method takes a `DialTarget` and dials when
 * no connection exists. Errors are typed (src/core/errors.ts): `DialError` (code in
 * `DialErrorCode`, `attempts` lists each address and its error), `ProtocolError` when the peer broke
 * a protocol, `OutcomeError` for a timeout or a reset, `UsageError` for local misuse.
 * @example
 * ```ts
 * import { createNode } from 'weft/node'
 * const node = await createNode({ listen: ['/ip4/0.0.0.0/tcp/4001'] })
 * const rtt = await node.ping('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...')
 * node.handle('/echo/1.0.0', async (s) => { await s.sink(s.source) })
 * await node.stop()
 * ```
 */
export class WeftNode extends EventTarget {
  /** Our peer id (from `privateKey`). */
  readonly peerId: PeerId
  /** Our identity key (keep it secret; `saveKey` writes it to a file). */
  readonly privateKey: PrivateKey
  /** The swarm core underneath (connections, behaviours, peer store), for diagnostics and advanced use. */
  readonly swarm: Swarm<Behaviours>
  /** The metrics given in `createNode({ metrics })` (spec/metrics.md); `node.metrics.exposition()`. */
  readonly metrics: NodeMetrics | undefined
  /** Services by API name (`dht`, `pubsub`, ...), and by behaviour name for routing events. */
  readonly #services = new Map<string, NodeService>()
  readonly #serviceByBehaviour = new Map<string, NodeService>()
  readonly #runtime: Runtime<SwarmEvent>
  readonly #opts: NodeOptions
  readonly #discovery: DiscoveryBehaviour | undefined
  readonly #handlers = new Map<string, StreamHandler>()
  readonly #streams = new Map<string, WeftStream>()
  readonly #pending = new Map<number, Pending<unknown>>()
  #nextRequest = 1
  #listenAddrs: Multiaddr[] = []
  #started = false
  #stopped = false

  /** @internal Use `createNode` from `weft/node` or `weft/browser`. */
  constructor(opts: NodeOptions, internals: NodeInternals) {
    super()
    this.#opts = opts
    const crypto = internals.crypto
    this.privateKey = opts.privateKey ?? generatePrivateKey(crypto)
    this.peerId = this.privateKey.publicKey.toPeerId()
    const random = (n: number): Uint8Array => crypto.randomBytes(n)
    const epoch = internals.wallClock()
    const ctx: ServiceContext = {
      crypto,
      privateKey: this.privateKey,
      peerId: this.peerId,
      random,
      epoch,
      run: (f) => this.#runtime.run((now) => {
        const out = f(now)
        this.swarm.pump(now)
        return out
      }),
    }
    const serviceBehaviours: Record<string, Behaviour<unknown>> = {}
    for (const [apiName, factory] of Object.entries(opts.services ?? {})) {
      const svc = factory(ctx)
      if (svc.name in serviceBehaviours || svc.name === 'ping' || svc.name === 'identify' || svc.name === 'discovery') throw new UsageError('node/service-name-taken', svc.name)
      this.#services.set(apiName, svc)
      this.#serviceByBehaviour.set(svc.name, svc)
      serviceBehaviours[svc.name] = svc.behaviour
    }
    if ((opts.gater !== undefined || opts.ipLimits !== undefined) && internals.guards === undefined) {
      throw new UsageError('node/no-gater', 'gater and ipLimits guard inbound connections, which this build never accepts (weft/browser)')
    }
    // discovery events, bootstrap peers kept connected, auto-dial below the low watermark (src/edge/discovery.ts)
    const d = opts.discovery ?? {}
    const discovery = this.#discovery = internals.discovery?.({ self: this.peerId, options: d, lowWater: () => this.swarm.policy.connectionManager.options.lowWater, random })
    if (discovery === undefined && ((d.bootstrap ?? []).length > 0 || (d.autoDial ?? false) !== false)) throw new UsageError('node/no-discovery', 'this build has no discovery (bootstrap peers, auto-dial): weft/node has it')
    this.swarm = new Swarm<Behaviours>({
      ...(discovery !== undefined ? { discovery } : {}),
      ping: new PingBehaviour({ ...opts.ping, random, ...(opts.pingTimeout !== undefined ? { timeout: opts.pingTimeout } : {}) }),
      identify: new IdentifyBehaviour({
        ...opts.identify,
        crypto,
        identity: this.privateKey,
        agentVersion: opts.agentVersion ?? AGENT_VERSION,
        seqBase: BigInt(epoch),
        ...(opts.identifyTimeout !== undefined ? { timeout: opts.identifyTimeout } : {}),
      }),
      ...serviceBehaviours,
    } as Behaviours, {
      crypto,
      identity: this.privateKey,
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
      ...withSecurity(opts, internals, this.privateKey),
      ...(opts.peerStore !== undefined ? { peerStore: opts.peerStore } : {}),
      policy: opts,
      guards: internals.guards,
      connectionTrace: internals.connectionTrace,
      quicCore: internals.quicCore,
      // Noise keys made ahead (spec/noise.md): first fill in a microtask, refills a few ms after a take
      noiseKeys: new NoiseKeyPool({ crypto, identity: this.privateKey, schedule: (refill) => (this.#runtime === undefined ? queueMicrotask(refill) : this.#runtime.defer(refill, NOISE_KEY_REFILL_DELAY)) }),
    })
    for (const svc of this.#services.values()) {
      const bytes = svc.memoryBytes
      if (bytes !== undefined) this.swarm.policy.resources.reportUsage(svc.name, () => bytes.call(svc))
    }
    if (opts.metrics === true) throw new UsageError('node/metrics', "pass metrics: prometheusMetrics() ('weft/metrics')")
    this.metrics = opts.metrics || undefined
    this.metrics?.attach(this)
    const serviceTransports = [...this.#services.values()].flatMap((svc) => (svc.transports ?? []) as Transport[])
    this.#runtime = new Runtime<SwarmEvent>(this.swarm, {
      transports: [...internals.transports, ...serviceTransports],
      onEvent: (ev) => {
        this.metrics?.observe(this.#runtime.now(), ev)
        this.#onEvent(ev)
      },
      onError: (error, id) => {
        const connection = id === undefined ? undefined : this.swarm.connections().find((c) => c.id === id)
        this.#emit('error', { error, origin: 'connection', ...(connection !== undefined ? { connection, peer: connection.peer } : {}) })
      },
      ...(opts.dialTimeout !== undefined ? { dialTimeout: opts.dialTimeout } : {}),
    })
    // the connection manager's user API runs on the runtime's clock; a manual trim closes at once
    this.swarm.policy.connectionManager.setDriver({ now: () => this.#runtime.now(), wake: () => this.#runtime.run((now) => this.swarm.pump(now)) })
    for (const svc of this.#services.values()) svc.attach?.(this)
    discovery?.attach(this, (f) => this.#runtime.run((now) => { f(now); this.swarm.pump(now) }), () => this.#services.get('dht')?.api as Dht | undefined)
  }

  /** Listen on the configured addresses and start the behaviours. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#runtime.run((now) => this.swarm.start(now))
    const listen = (this.#opts.listen ?? []).map(toMultiaddr)
    for (const svc of this.#services.values()) for (const a of svc.listen ?? []) if (!listen.some((x) => x.equals(a))) listen.push(a)
    for (const a of listen) {
      const addrs = await this.#runtime.listen(a)
      this.#listenAddrs.push(...addrs)
    }
    this.refreshListenAddrs()
  }

  /**
   * Tell the swarm (and through identify, every peer) our listen addresses again: the transports'
   * ones and the services' (the relay client's `/p2p-circuit` addresses). Services call it when
   * theirs change.
   */
  refreshListenAddrs(): void {
    if (!this.#started || this.#stopped) return
    const extra = [...this.#services.values()].flatMap((svc) => svc.listenAddrs?.() ?? [])
    this.#runtime.run((now) => this.swarm.setListenAddrs(now, [...this.#listenAddrs, ...extra]))
  }

  /** Close every connection gracefully and stop listening. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#discovery?.stop()
    this.#runtime.run((now) => this.swarm.stop(now))
    await this.#runtime.stop()
    for (const p of this.#pending.values()) p.reject(new UsageError('node/stopped', 'the node was stopped'))
    for (const svc of this.#services.values()) svc.stop(new UsageError('node/stopped', 'the node was stopped'))
    this.#pending.clear()
  }

  /** The Kademlia DHT (the `dht` service). */
  get dht(): Dht {
    return this.service<Dht>('dht')
  }

  /** Gossipsub (the `pubsub` service). */
  get pubsub(): Pubsub {
    return this.service<Pubsub>('pubsub')
  }

  /** A service's API by name; UsageError when the node was built without it. */
  service<T>(name: string): T {
    const svc = this.#services.get(name)
    if (svc === undefined) {
      throw new UsageError('node/no-such-service', `this node has no '${name}' service: pass it in createNode({ services: { ${name}: ... } })`)
    }
    return svc.api as T
  }

  /** Our listen addresses (the services' too: relayed `/p2p-circuit` ones), each ending in /p2p/<our id>. */
  getMultiaddrs(): Multiaddr[] {
    const self = this.peerId.toString()
    return this.swarm.listenAddrs.map((a) => (a.getPeerId() === self ? a : a.encapsulate(`/p2p/${self}`)))
  }

  /**
   * Confirm that peers can reach us at `addr` (a port forward, a public address you know). While the
   * node has a confirmed external address it counts as reachable: a DHT in `mode: 'auto'` becomes a
   * server, and identify advertises the address. Listen addresses with a public IP count by themselves.
   */
  addExternalAddress(addr: string | Multiaddr): void {
    const a = toMultiaddr(addr)
    this.#runtime.run((now) => this.swarm.addExternalAddress(now, a))
  }

  /** Withdraw a confirmation made with addExternalAddress. */
  removeExternalAddress(addr: string | Multiaddr): void {
    const a = toMultiaddr(addr)
    this.#runtime.run((now) => this.swarm.removeExternalAddress(now, a))
  }

  /** The confirmed external addresses (yours, then public listen addresses). */
  getExternalAddresses(): Multiaddr[] {
    return [...this.swarm.externalAddrs]
  }

  /**
   * Resource usage now (spec/resource-manager.md): system, transient, each protocol and service, the
   * number of peers, refusals per scope, and warnings about incoherent limits; `{ peers: true }` adds
   * each peer's usage. Plain JSON.
   */
  resources(options: { peers?: boolean } = {}): ResourceUsage {
    return this.swarm.policy.resources.usage(options)
  }

  /**
   * The gater's allow and deny lists (spec/connection-manager.md, "Gater and per-IP limits"):
   * `deny(entry)`, `allow(entry)`, `remove(entry, list?)`, `list()`. An entry is a peer id, an IP, a
   * CIDR or a multiaddr; edits apply to new connections and dials (close existing ones with hangUp).
   */
  get gater(): Gater {
    const g = this.swarm.policy.gater
    if (g === undefined) throw new UsageError('node/no-gater', 'this build has no gater (weft/browser never accepts connections; use dial targets you trust)')
    return g
  }

  /**
   * The connection manager (spec/connection-manager.md): `tag`, `untag`, `upsertTag`,
   * `registerDecayingTag`, `protect`, `unprotect`, `isProtected`, `getTagInfo`, `trim`, `info`.
   */
  get connectionManager(): ConnectionManager {
    return this.swarm.policy.connectionManager
  }

  /** The open connections, all or those to `peer`. */
  getConnections(peer?: PeerId): ConnectionInfo[] {
    return this.swarm.connections(peer)
  }

  /** What the node knows of other peers (addresses, protocols, keys), bounded (`PeerStoreLimits`). */
  get peerStore(): Swarm<Behaviours>['peerStore'] {
    return this.swarm.peerStore
  }

  /**
   * Connect to a peer (or reuse an open connection); resolves once the connection is secured (Noise)
   * and multiplexed (yamux), with its `ConnectionInfo`. A multiaddr with `/p2p/<id>` fails unless the
   * remote proves that identity in the handshake; a bare peer id is dialed at its peer-store addresses.
   * @param target - a multiaddr or a peer id, as text or object.
   * @param options - `signal` aborts the dial.
   * @throws `DialError` with a `DialErrorCode` (`dial/no-addresses`, `dial/all-failed` with each
   * address's error in `attempts`, `dial/timeout`, `dial/aborted`, `dial/self`, `dial/denied`, ...).
   * @example
   * ```ts
   * const conn = await node.dial('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
   * console.log(conn.peer.toString(), conn.established - conn.opened, 'ms handshake')
   * ```
   */
  dial(target: DialTarget, options: { signal?: AbortSignal } = {}): Promise<ConnectionInfo> {
    const t = toTarget(target)
    return this.#request<ConnectionInfo>(options.signal, (now, id) => this.swarm.dial(now, t, id), true)
  }

  /**
   * Close every connection to `peer`. `code`: a libp2p connection close code sent in the GoAway
   * (src/core/close-codes.ts, e.g. ConnCloseCode.GarbageCollected); the remote sees it as a
   * ConnectionClosedError, and so does this node's `connection:close` for a code other than 0.
   */
  async hangUp(peer: PeerId | string, options: { code?: number } = {}): Promise<void> {
    const p = typeof peer === 'string' ? PeerId.parse(peer) : peer
    const code = options.code
    this.#runtime.run((now) => {
      if (code === undefined) this.swarm.hangUp(now, p)
      else for (const c of this.swarm.connections(p)) this.swarm.closeConnection(now, c.id, code)
    })
  }

  /**
   * Serve `protocol`: `handler` gets each inbound stream negotiated for it (multistream-select).
   * Inbound streams per connection are capped (`maxInboundStreams`, default 32); excess ones are reset.
   * @throws `UsageError('swarm/protocol-taken')` when `protocol` is already served (by a service or an earlier `handle`).
   * @example
   * ```ts
   * node.handle('/echo/1.0.0', async (stream) => { await stream.sink(stream.source) })
   * ```
   */
  handle(protocol: string, handler: StreamHandler, options: StreamHandlerOptions = {}): void {
    this.#runtime.run((now) => this.swarm.handle(now, protocol, options))
    this.#handlers.set(protocol, handler)
  }

  /** Stop serving `protocol`; streams already open go on. */
  unhandle(protocol: string): void {
    this.#handlers.delete(protocol)
    this.#runtime.run((now) => this.swarm.unhandle(now, protocol))
  }

  /**
   * Open a stream to `target` on the first of `protocols` it supports (dialing if needed), negotiated
   * with multistream-select.
   * @throws `DialError` when the dial fails; `ProtocolError('connection', 'connection/protocol-rejected')`
   * when the peer supports none of `protocols`; `OutcomeError('swarm/limited-connection')` when only a
   * relayed connection exists and `allowLimited` is not set; `UsageError('node/aborted')` on `signal`.
   * @example
   * ```ts
   * const stream = await node.newStream(peer, ['/echo/1.0.0'])
   * ```
   */
  newStream(target: DialTarget, protocols: string | string[], options: NewStreamOptions = {}): Promise<WeftStream> {
    const t = toTarget(target)
    const list = typeof protocols === 'string' ? [protocols] : protocols
    const allowLimited = options.allowLimited === true
    return this.#request<WeftStream>(options.signal, (now, id) => this.swarm.openStream(now, t, list, id, { allowLimited }), true)
  }

  /**
   * Ping (libp2p specs ping/ping.md, `/ipfs/ping/1.0.0`): send 32 random bytes and wait for the echo;
   * resolves with the round-trip time in ms (dialing first if needed).
   * @throws `DialError` when the dial fails; `OutcomeError` `ping/timeout` (no echo within 10 s),
   * `ping/stream-reset`, `ping/connection-closed`; `ProtocolError('ping', 'ping/wrong-echo')` when the
   * peer echoed other bytes.
   * @example
   * ```ts
   * const rtt = await node.ping('/dns4/example.com/tcp/443/wss/p2p/12D3KooW...')
   * ```
   */
  async ping(target: DialTarget, options: { signal?: AbortSignal } = {}): Promise<number> {
    const peer = await this.#peerFor(target, options)
    return this.#request<number>(options.signal, (now, id) => {
      this.swarm.behaviours.ping.ping(now, peer, id)
      this.swarm.pump(now)
    })
  }

  /**
   * `/perf/1.0.0`: upload and download byte counts; resolves with the timings. Needs the perf
   * service, which no node has unless asked: `createNode({ services: { perf: perf() } })`; the
   * service runs it (src/edge/perf-service.ts), so a node without perf carries none of its code.
   */
  async perf(target: DialTarget, sizes: { uploadBytes: number; downloadBytes: number }, options: { signal?: AbortSignal; onProgress?: (ev: PerfEvent) => void } = {}): Promise<PerfResult> {
    const svc = this.#serviceByBehaviour.get(PERF)?.api as PerfService | undefined
    if (svc === undefined) {
      throw new UsageError('node/no-such-service', 'this node has no perf service: pass it in createNode({ services: { perf: perf() } })')
    }
    const peer = await this.#peerFor(target, options)
    return svc.run(peer, sizes, options)
  }

  /**
   * Request-response (spec/request-response.md): send `request` with the `requestResponse` service
   * speaking `options.protocol` (or the only one) and resolve with the response. Rejects with
   * UsageError 'reqresp/no-service' (none speaks it) or 'reqresp/ambiguous' (several, no protocol).
   * @param options - `protocol` picks the service; `timeout` in ms (default: the service's, 10 s); `signal` aborts.
   * @throws besides the two above, the service's outcomes: `OutcomeError` `reqresp/timeout`,
   * `reqresp/dial-failed`, `reqresp/no-response`, `reqresp/unsupported-protocol`...; `ProtocolError`
   * `reqresp/response-too-large`, `reqresp/decode` (spec/request-response.md "Outcomes").
   * @example
   * ```ts
   * const node = await createNode({ services: { kv: requestResponse({ protocol: '/app/kv/1.0.0', codec: json() }) } })
   * const value = await node.request<{ value: string }>(peer, { key: 'a' }, { timeout: 5_000 })
   * ```
   */
  async request<Res = unknown>(peer: DialTarget, request: unknown, options: { protocol?: string; signal?: AbortSignal; timeout?: number } = {}): Promise<Res> {
    // duck-typed, so this file does not pull src/request-response into bundles without it
    const { protocol, ...rest } = options
    const found = [...this.#services.values()].map((s) => s.api as { protocols?: readonly string[]; request(p: DialTarget, r: unknown, o: object): Promise<unknown> })
      .filter((a) => Array.isArray(a?.protocols) && typeof a.request === 'function' && (protocol === undefined || a.protocols.includes(protocol)))
    if (found.length !== 1) throw new UsageError(found.length === 0 ? 'reqresp/no-service' : 'reqresp/ambiguous', protocol ?? 'pass options.protocol')
    return found[0]!.request(peer, request, rest) as Promise<Res>
  }

  /** Typed addEventListener. */
  on<K extends keyof WeftNodeEvents>(type: K, listener: (detail: WeftNodeEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<WeftNodeEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  async #peerFor(target: DialTarget, options: { signal?: AbortSignal }): Promise<PeerId> {
    const t = toTarget(target)
    if (t instanceof PeerId) return t
    const conn = await this.dial(t, options)
    return conn.peer
  }

  /** `cancellable`: an abort also cancels the swarm's work (a dial, a stream negotiation). */
  #request<T>(signal: AbortSignal | undefined, start: (now: number, id: number) => void, cancellable = false): Promise<T> {
    if (this.#stopped) return Promise.reject(new UsageError('node/stopped', 'the node was stopped'))
    const id = this.#nextRequest++
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted === true) return reject(abortError(signal))
      const onAbort = (): void => {
        this.#pending.delete(id)
        reject(abortError(signal!))
        if (cancellable && !this.#stopped) this.#runtime.run((now) => this.swarm.cancel(now, id))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v as T) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) },
      })
      this.#runtime.run((now) => start(now, id))
    })
  }

  #settle(id: number, error: Error | undefined, value?: unknown): boolean {
    const p = this.#pending.get(id)
    if (p === undefined) return false
    this.#pending.delete(id)
    if (error !== undefined) p.reject(error)
    else p.resolve(value)
    return true
  }

  #emit<K extends keyof WeftNodeEvents>(type: K, detail: WeftNodeEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  #control = {
    write: (ref: StreamRef, data: Uint8Array): number => this.#runtime.run((now) => this.swarm.write(now, ref, data)),
    closeWrite: (ref: StreamRef): void => this.#runtime.run((now) => this.swarm.closeWrite(now, ref)),
    reset: (ref: StreamRef): void => this.#runtime.run((now) => this.swarm.reset(now, ref)),
    consume: (ref: StreamRef, n: number): void => this.#runtime.run((now) => this.swarm.consume(now, ref, n)),
  }

  #onEvent(ev: SwarmEvent): void {
    switch (ev.type) {
      case 'connection-open':
        this.#emit('connection:open', ev.connection)
        break
      case 'connection-closed':
        this.#emit('connection:close', ev.error === undefined ? { connection: ev.connection } : { connection: ev.connection, error: ev.error })
        break
      case 'peer-connect':
        this.#emit('peer:connect', ev.peer)
        break
      case 'connection-refused':
        this.#emit('connection:refused', { direction: ev.direction, addr: ev.addr, ...(ev.peer !== undefined ? { peer: ev.peer } : {}), code: ev.refusal.code, error: ev.refusal.error })
        break
      case 'stream-refused':
        this.#emit('stream:refused', { direction: ev.direction, protocol: ev.protocol, connection: ev.connection, code: ev.refusal.code, error: ev.refusal.error })
        break
      case 'peer-disconnect':
        this.#emit('peer:disconnect', ev.peer)
        break
      case 'dial-succeeded':
        this.#settle(ev.requestId, undefined, ev.connection)
        break
      case 'dial-failed':
      case 'stream-open-failed':
        this.#settle(ev.requestId, ev.error)
        break
      case 'stream-opened': {
        const s = new WeftStream(ev.stream, ev.protocol, ev.direction, ev.connection, this.#control)
        this.#streams.set(streamKey(ev.stream), s)
        if (ev.direction === 'outbound') {
          if (!this.#settle(ev.requestId!, undefined, s)) s.reset()
        } else {
          const h = this.#handlers.get(ev.protocol)
          if (h === undefined) s.reset()
          else {
            Promise.resolve().then(() => h(s)).catch((e: unknown) => {
              s.reset()
              const error = e instanceof Error ? e : new Error(String(e))
              this.#emit('error', { error, origin: 'handler', protocol: ev.protocol, peer: ev.connection.peer, connection: ev.connection })
            })
          }
        }
        break
      }
      case 'stream-data':
        this.#streams.get(streamKey(ev.stream))?._data(ev.data)
        break
      case 'stream-eof':
        this.#streams.get(streamKey(ev.stream))?._eof()
        break
      case 'stream-reset':
        this.#streams.get(streamKey(ev.stream))?._reset(ev.code)
        break
      case 'stream-writable':
        this.#streams.get(streamKey(ev.stream))?._writable()
        break
      case 'stream-closed': {
        const k = streamKey(ev.stream)
        this.#streams.get(k)?._closed()
        this.#streams.delete(k)
        break
      }
      case 'reachability':
        this.#emit('reachability', { reachable: ev.reachable, externalAddrs: ev.externalAddrs })
        break
      case 'behaviour':
        this.#onBehaviour(ev.from, ev.event as PingEvent | IdentifyEvent | DiscoveredEvent)
        break
      case 'error': {
        const { type: _, ...detail } = ev
        this.#emit('error', detail)
        break
      }
      default:
        break
    }
  }

  #onBehaviour(from: string, ev: PingEvent | IdentifyEvent | DiscoveredEvent): void {
    const svc = this.#serviceByBehaviour.get(from)
    if (svc !== undefined) {
      svc.onEvent(ev)
      return
    }
    switch (ev.type) {
      case 'pong':
        this.#settle(ev.requestId, undefined, ev.rtt)
        break
      case 'ping-failed':
        this.#settle(ev.requestId, ev.error)
        break
      case 'discovered':
        this.#emit('peer:discovery', { peer: ev.peer, addrs: ev.addrs, source: ev.source })
        break
      case 'identified':
        this.#emit('peer:identify', { peer: ev.peer, info: ev.info, connection: ev.connection })
        break
      default:
        void from
        break
    }
  }
}

function toMultiaddr(a: string | Multiaddr): Multiaddr {
  return typeof a === 'string' ? Multiaddr.fromString(a) : a
}

function toTarget(t: DialTarget): Multiaddr | PeerId {
  if (typeof t !== 'string') return t
  return t.startsWith('/') ? Multiaddr.fromString(t) : PeerId.parse(t)
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason
  return r instanceof Error ? r : new UsageError('node/aborted', 'the operation was aborted')
}
