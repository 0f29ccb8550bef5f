/**
 * AutoNAT as a node service:
 *
 *   import { autoNAT } from 'weft/autonat'
 *   const node = await createNode({ services: { autonat: autoNAT({ server: true }) } })
 *   const an = node.service<AutoNAT>('autonat')
 *   an.status()          // { reachability: 'public' | 'private' | 'unknown', addrs: [{ addr, reachability, successes, failures }] }
 *   an.on('status', ({ reachability }) => ...)
 *   an.probe('/ip4/203.0.113.7/tcp/4001')
 *
 * The client runs by default; the server only when asked (`server: true` or its options).
 */
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { AutoNATBehaviour, type AutoNATOptions } from './behaviour.js'
import type { NodeReachability, Reachability } from './tracker.js'
import type { AutoNATEvent, AutoNATStatus, ProbeOutcome, ServedOutcome } from './types.js'

/** The events of the `AutoNAT` API, with their `detail`. */
export interface AutoNATEvents {
  /** The node's reachability changed. */
  status: { reachability: NodeReachability }
  /** One address's verdict changed. */
  'addr-reachability': { addr: Multiaddr; reachability: Reachability }
  /** A probe of ours ended. */
  probe: { server: PeerId; version: 1 | 2; outcome: ProbeOutcome; addr?: Multiaddr; reason?: string }
  /** We served a request (server). */
  served: { peer: PeerId; version: 1 | 2; outcome: ServedOutcome; addr?: Multiaddr; reason?: string; dialDataBytes?: number }
}

type RunInRuntime = <T>(f: (now: number) => T) => T

/**
 * The AutoNAT API of a node (`node.service<AutoNAT>('autonat')`): the node's reachability as the
 * probes concluded it, each address's verdict, and `status` / `addr-reachability` events.
 */
export class AutoNAT extends EventTarget {
  readonly #b: AutoNATBehaviour
  readonly #run: RunInRuntime

  constructor(behaviour: AutoNATBehaviour, run: RunInRuntime) {
    super()
    this.#b = behaviour
    this.#run = run
  }

  /** The node's reachability and every tested address's verdict. */
  status(): AutoNATStatus {
    return this.#b.status()
  }

  /** Have servers test `addr` (e.g. a port forward). False when it cannot be tested (name, circuit, private without allowPrivateAddrs). */
  probe(addr: Multiaddr | string): boolean {
    if (this.#b.client === undefined) throw new UsageError('autonat/no-client', 'this AutoNAT service runs no client')
    const a = typeof addr === 'string' ? Multiaddr.fromString(addr) : addr
    return this.#run((now) => this.#b.probe(now, a))
  }

  /** Typed addEventListener; returns a function that removes the listener. */
  on<K extends keyof AutoNATEvents>(type: K, listener: (detail: AutoNATEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<AutoNATEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  /** @internal the node routes the behaviour's events here. */
  _onEvent(ev: AutoNATEvent): void {
    const { type, ...detail } = ev
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}

/**
 * The AutoNAT service (libp2p specs autonat/autonat-v1.md and autonat-v2.md), for `createNode({ services: { autonat: autoNAT() } })`:
 * the client asks servers to dial our addresses back (v2: per address, with a nonce) and addresses
 * found reachable become confirmed external addresses. The server, off by default (`server: true`), answers other peers' probes within its limits.
 * @example
 * ```ts
 * const node = await createNode({ services: { autonat: autoNAT() } })
 * node.service<AutoNAT>('autonat').on('status', ({ reachability }) => console.log(reachability))
 * ```
 */
export function autoNAT(options: AutoNATOptions = {}): ServiceFactory<AutoNAT> {
  return (ctx): NodeService<AutoNAT> => {
    const behaviour = new AutoNATBehaviour({ ...options, peerId: ctx.peerId, random: ctx.random })
    const api = new AutoNAT(behaviour, ctx.run)
    return {
      name: 'autonat',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as AutoNATEvent),
      stop: () => {},
    }
  }
}
