/**
 * Rendezvous as node services (spec/rendezvous.md, "Node services"): two factories, because a
 * point and a client are different roles (a node may run both, as two services).
 *
 *   import { rendezvousServer, rendezvousClient, type RendezvousClient } from 'weft/rendezvous'
 *   const point = await createNode({ services: { rendezvous: rendezvousServer() } })
 *   const node = await createNode({ services: { rendezvous: rendezvousClient() } })
 *   const rz = node.service<RendezvousClient>('rendezvous')
 *   await rz.register(pointAddr, 'my-app', { ttl: 7200 })          // refreshed until unregister/stop
 *   const { registrations, cookie } = await rz.discover(pointAddr, { namespace: 'my-app' })
 *   await rz.unregister(pointAddr, 'my-app')
 *
 * Discovered peers (other than us) go to the peer store and fire the node's `peer:discovery` with
 * `source: 'rendezvous'`. Errors: RendezvousStatusError (an OutcomeError 'rendezvous/<status>') for
 * a point's refusal, OutcomeError 'rendezvous/timeout' | 'no-response' | ..., ProtocolError for a
 * point's bad bytes, UsageError 'rendezvous/no-addresses' when there is nothing to announce.
 */
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { RendezvousClientBehaviour, type DiscoveredRegistration, type RendezvousClientEvent, type RendezvousClientLimits } from './client.js'
import type { RendezvousMessageLimits } from './message.js'
import type { RecordFormat } from './record.js'
import { RendezvousServerBehaviour, type RendezvousServerEvent, type RendezvousServerLimits } from './server-behaviour.js'
import type { RendezvousRegistryOptions } from './server.js'

type RunInRuntime = <T>(f: (now: number) => T) => T
interface NodeLike {
  dial(target: Multiaddr, options?: { signal?: AbortSignal }): Promise<{ peer: PeerId }>
  dispatchEvent(event: Event): boolean
}
type Target = PeerId | Multiaddr | string

/** Options of `rendezvousServer()`. */
export interface RendezvousServerServiceOptions extends RendezvousServerLimits {
  /** Registry limits (spec/rendezvous.md, Limits): TTL bounds, caps, namespace length. */
  registry?: Partial<RendezvousRegistryOptions>
  messageLimits?: Partial<RendezvousMessageLimits>
  /** The service's name in the swarm. Default 'rendezvous-server'. */
  name?: string
}

/** The events of the `RendezvousServer` API, with their `detail`. */
export interface RendezvousServerEvents {
  registered: { peer: PeerId; namespace: string; ttl: number }
  'register-refused': { peer: PeerId; namespace: string; status: number; statusText?: string }
  unregistered: { peer: PeerId; namespace: string }
  'discover-served': { peer: PeerId; namespace?: string; count: number; status: number }
  'inbound-failure': { peer: PeerId; error: Error }
}

/** `node.service<RendezvousServer>('rendezvous-server')`. */
export class RendezvousServer extends EventTarget {
  readonly #b: RendezvousServerBehaviour
  constructor(b: RendezvousServerBehaviour) {
    super()
    this.#b = b
  }
  /** Live registrations (as of the last request; expiry is lazy). */
  get size(): number {
    return this.#b.registry.size
  }
  /** Typed `addEventListener`; returns the unsubscribe function. */
  on<K extends keyof RendezvousServerEvents>(type: K, listener: (detail: RendezvousServerEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<RendezvousServerEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }
}

/**
 * The rendezvous point service (libp2p specs rendezvous/README.md, `/rendezvous/1.0.0`), for
 * `createNode({ services: { rendezvous: rendezvousServer() } })`: peers register in namespaces and discover each other.
 */
export function rendezvousServer(options: RendezvousServerServiceOptions = {}): ServiceFactory<RendezvousServer> {
  return (ctx): NodeService<RendezvousServer> => {
    const b = new RendezvousServerBehaviour({ ...options, crypto: ctx.crypto })
    const api = new RendezvousServer(b)
    return {
      name: options.name ?? 'rendezvous-server',
      behaviour: b as NodeService['behaviour'],
      api,
      onEvent: (ev) => {
        const { type, ...detail } = ev as RendezvousServerEvent
        api.dispatchEvent(new CustomEvent(type, { detail }))
      },
      stop() {},
    }
  }
}

/** Options of `rendezvousClient()`. */
export interface RendezvousClientServiceOptions extends RendezvousClientLimits {
  /** Envelope layout of our records: 'standard' (default) or 'rust-legacy' for rust-libp2p points (spec/rendezvous.md). */
  recordFormat?: RecordFormat
  /** Addresses to register instead of the node's listen and confirmed external addresses. */
  addresses?: ReadonlyArray<Multiaddr | string>
  /** Fraction of the granted TTL after which a registration is refreshed. Default 0.8. */
  refreshRatio?: number
  messageLimits?: Partial<RendezvousMessageLimits>
  /** The service's name in the swarm. Default 'rendezvous'. */
  name?: string
  /**
   * Register at these points (multiaddrs ending in /p2p/<peer id>) and discover `namespace` from
   * them every `interval` ms (default 60 000), on its own: `createNode({ discovery: { rendezvous } })`.
   */
  discovery?: RendezvousDiscoveryOptions
}

/** Automatic rendezvous discovery: register at `points` in `namespace` and discover it every `interval` ms. */
export interface RendezvousDiscoveryOptions {
  points: ReadonlyArray<string | Multiaddr>
  namespace: string
  /** Seconds; absent: the point's default (2 h). */
  ttl?: number
  interval?: number
}

/** Points as peer ids and addresses; UsageError 'rendezvous/point-needs-peer-id' without /p2p. */
function parsePoints(points: ReadonlyArray<string | Multiaddr>): Array<{ peer: PeerId; addrs: Multiaddr[] }> {
  const out: Array<{ peer: PeerId; addrs: Multiaddr[] }> = []
  for (const p of points) {
    const m = typeof p === 'string' ? Multiaddr.fromString(p) : p
    const id = m.getPeerId()
    if (id === undefined) throw new UsageError('rendezvous/point-needs-peer-id', `rendezvous point ${m.toString()} needs a /p2p/<peer id>`)
    const peer = PeerId.parse(id)
    const known = out.find((x) => x.peer.equals(peer))
    if (known !== undefined) known.addrs.push(m.withoutPeerId())
    else out.push({ peer, addrs: [m.withoutPeerId()] })
  }
  return out
}

/** Options of every rendezvous client call: `signal` aborts it. */
export interface OperationOptions {
  signal?: AbortSignal
}
/** Options of `RendezvousClient.register`. */
export interface RegisterOptions extends OperationOptions {
  /** Seconds; absent: the point's default (2 h). */
  ttl?: number
  /** Envelope layout of the record, for this point (default: the service's recordFormat). */
  recordFormat?: RecordFormat
}
/** Options of `RendezvousClient.discover`. */
export interface DiscoverOptions extends OperationOptions {
  /** Absent: every namespace. */
  namespace?: string
  limit?: number
  /** From the previous discover's result: only registrations made since. */
  cookie?: Uint8Array
}
/** What `discover` resolves with. */
export interface DiscoverResult {
  /** Verified registrations (our own included, if we are registered). */
  registrations: DiscoveredRegistration[]
  /** For the next call. */
  cookie: Uint8Array | undefined
  /** Registrations whose signed record did not verify (dropped). */
  invalid: number
}

/** The events of the `RendezvousClient` API, with their `detail`. */
export interface RendezvousClientEvents {
  /** A registration was made or refreshed. */
  registered: { point: PeerId; namespace: string; ttl: number; refresh: boolean }
  /** A refresh failed (it is retried after retryInterval). */
  'refresh-failed': { point: PeerId; namespace: string; error: Error }
}

interface Waiter { resolve(v: RendezvousClientEvent): void; reject(e: Error): void }

/** `node.service<RendezvousClient>('rendezvous')`. */
export class RendezvousClient extends EventTarget {
  readonly #b: RendezvousClientBehaviour
  readonly #run: RunInRuntime
  readonly #waiting = new Map<number, Waiter>()
  #node: NodeLike | undefined
  #nextId = 1_000_000
  #stopped: Error | undefined

  constructor(b: RendezvousClientBehaviour, run: RunInRuntime) {
    super()
    this.#b = b
    this.#run = run
  }

  /** The client behaviour (for tests and diagnostics). */
  get behaviour(): RendezvousClientBehaviour {
    return this.#b
  }

  /** Register at `point` (peer id, or an address to dial) and keep the registration refreshed. The TTL granted. */
  async register(point: Target, namespace: string, options: RegisterOptions = {}): Promise<{ ttl: number }> {
    const peer = await this.#target(point, options.signal)
    const ev = await this.#op(options.signal, (now, id) => this.#b.register(now, peer, namespace, { ...(options.ttl === undefined ? {} : { ttl: options.ttl }), ...(options.recordFormat === undefined ? {} : { recordFormat: options.recordFormat }) }, id))
    return { ttl: (ev as Extract<RendezvousClientEvent, { type: 'registered' }>).ttl }
  }

  /** Stop refreshing and tell `point` (no answer comes: resolved once sent). */
  async unregister(point: Target, namespace: string, options: OperationOptions = {}): Promise<void> {
    const peer = await this.#target(point, options.signal)
    await this.#op(options.signal, (now, id) => this.#b.unregister(now, peer, namespace, id))
  }

  /**
   * Ask `point` for registrations (of `options.namespace`, or all), verifying each signed peer record.
   * Rejects with `OutcomeError` (a `RendezvousOutcomeCode`) or `ProtocolError('rendezvous', code)`.
   */
  async discover(point: Target, options: DiscoverOptions = {}): Promise<DiscoverResult> {
    const peer = await this.#target(point, options.signal)
    const d = {
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
    }
    const ev = (await this.#op(options.signal, (now, id) => this.#b.discover(now, peer, d, id))) as Extract<RendezvousClientEvent, { type: 'discovered' }>
    return { registrations: ev.registrations, cookie: ev.cookie, invalid: ev.invalid }
  }

  /** Typed `addEventListener`; returns the unsubscribe function. */
  on<K extends keyof RendezvousClientEvents>(type: K, listener: (detail: RendezvousClientEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<RendezvousClientEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  async #target(point: Target, signal: AbortSignal | undefined): Promise<PeerId> {
    if (this.#stopped !== undefined) throw this.#stopped
    if (point instanceof PeerId) return point
    if (typeof point === 'string' && !point.startsWith('/')) return PeerId.parse(point)
    const addr = typeof point === 'string' ? Multiaddr.fromString(point) : point
    if (this.#node === undefined) throw new UsageError('rendezvous/not-attached', 'the service is not part of a node')
    return (await this.#node.dial(addr, signal !== undefined ? { signal } : {})).peer
  }

  #op(signal: AbortSignal | undefined, start: (now: number, id: number) => number): Promise<RendezvousClientEvent> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped)
    const aborted = (): Error => (signal?.reason instanceof Error ? signal.reason : new UsageError('node/aborted', 'the operation was aborted'))
    if (signal?.aborted === true) return Promise.reject(aborted())
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      const onAbort = (): void => {
        this.#waiting.delete(id)
        this.#run((now) => this.#b.cancel(now, id))
        reject(aborted())
      }
      const done = (): void => signal?.removeEventListener('abort', onAbort)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.set(id, { resolve: (v) => { done(); resolve(v) }, reject: (e) => { done(); reject(e) } })
      try {
        this.#run((now) => start(now, id))
      } catch (e) {
        this.#waiting.delete(id)
        done()
        reject(e as Error)
      }
    })
  }

  /** @internal */
  _attach(node: NodeLike): void {
    this.#node = node
  }

  /** @internal */
  _onEvent(ev: RendezvousClientEvent): void {
    if (ev.type === 'discovered') {
      for (const r of ev.registrations) {
        if (r.addrs.length === 0 || this.#b.isSelf(r.peer)) continue
        this.#node?.dispatchEvent(new CustomEvent('peer:discovery', { detail: { peer: r.peer, addrs: r.addrs, source: 'rendezvous' } }))
      }
    }
    if (ev.type === 'registered') this.dispatchEvent(new CustomEvent('registered', { detail: { point: ev.point, namespace: ev.namespace, ttl: ev.ttl, refresh: ev.refresh } }))
    if (ev.type === 'register-failed' && ev.refresh) this.dispatchEvent(new CustomEvent('refresh-failed', { detail: { point: ev.point, namespace: ev.namespace, error: ev.error } }))
    const w = this.#waiting.get(ev.requestId)
    if (w === undefined) return
    this.#waiting.delete(ev.requestId)
    if (ev.type === 'registered' || ev.type === 'unregistered' || ev.type === 'discovered') w.resolve(ev)
    else w.reject(ev.error)
  }

  /** @internal */
  _stop(error: Error): void {
    this.#stopped = error
    this.#b.stopAll()
    for (const w of this.#waiting.values()) w.reject(error)
    this.#waiting.clear()
  }
}

/**
 * The rendezvous client service (libp2p specs rendezvous/README.md), for `createNode({ services: { rendezvous: rendezvousClient() } })`.
 * Throws `UsageError` for a point address without `/p2p/<id>`.
 * @example
 * ```ts
 * const node = await createNode({ services: { rendezvous: rendezvousClient() } })
 * const rdv = node.service<RendezvousClient>('rendezvous')
 * await rdv.register('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...', 'my-app')
 * const { registrations } = await rdv.discover('/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...', { namespace: 'my-app' })
 * ```
 */
export function rendezvousClient(options: RendezvousClientServiceOptions = {}): ServiceFactory<RendezvousClient> {
  const addresses = options.addresses?.map((a) => (typeof a === 'string' ? Multiaddr.fromString(a) : a))
  new RendezvousClientBehaviourCheck(options)
  const d = options.discovery
  const discovery = d === undefined ? undefined : { points: parsePoints(d.points), namespace: d.namespace, ...(d.ttl === undefined ? {} : { ttl: d.ttl }), ...(d.interval === undefined ? {} : { interval: d.interval }) }
  return (ctx): NodeService<RendezvousClient> => {
    const { name, addresses: _a, discovery: _d, ...rest } = options
    const b = new RendezvousClientBehaviour({
      ...rest,
      ...(discovery === undefined ? {} : { discovery }),
      ...(addresses === undefined ? {} : { addresses }),
      crypto: ctx.crypto,
      privateKey: ctx.privateKey,
      peerId: ctx.peerId,
      seqBase: BigInt(Math.floor(ctx.epoch)),
    })
    const api = new RendezvousClient(b, ctx.run)
    return {
      name: name ?? 'rendezvous',
      behaviour: b as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as RendezvousClientEvent),
      stop: (error) => api._stop(error),
      attach: (node) => api._attach(node as NodeLike),
    }
  }
}

/** Checks the numeric options at rendezvousClient() time, before any node exists. */
class RendezvousClientBehaviourCheck {
  constructor(o: RendezvousClientServiceOptions) {
    for (const k of ['timeout', 'maxPending', 'maxRegistrations', 'retryInterval'] as const) {
      const v = o[k]
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new RangeError(`${k} must be a positive integer`)
    }
    if (o.refreshRatio !== undefined && !(o.refreshRatio > 0 && o.refreshRatio < 1)) throw new RangeError('refreshRatio must be in (0, 1)')
  }
}
