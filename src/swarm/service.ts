/**
 * Optional protocols a node can be built with (the DHT, pubsub): a behaviour for the swarm plus a
 * user-facing API object. A node imports no optional protocol itself; the user (or the Node entry
 * point, by default) passes service factories, so a browser bundle pays only for what it names:
 *
 *   import { kadDht } from 'weft/kad'
 *   const node = await createNode({ services: { dht: kadDht({ mode: 'client' }) } })
 *   await node.dht.get(key)
 */
import type { Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import type { Behaviour } from './behaviour.js'
import type { Multiaddr } from '../multiaddr/index.js'

/** What a service gets from the node that hosts it. */
export interface ServiceContext {
  readonly crypto: CryptoProvider
  readonly privateKey: PrivateKey
  readonly peerId: PeerId
  /** `n` cryptographically secure random bytes (the node's crypto provider). */
  readonly random: (n: number) => Uint8Array
  /** Wall-clock milliseconds at node creation (for record sequence numbers and expiry checks). */
  readonly epoch: number
  /** Run a command on the behaviour inside the node's runtime, then let the swarm act on it. */
  readonly run: <T>(f: (now: Millis) => T) => T
}

/**
 * A service of a node (`createNode({ services })`): a behaviour for the swarm, and the API the node exposes for it (`node.service(name)`).
 */
export interface NodeService<Api = unknown, Ev = unknown> {
  /** The behaviour's name in the swarm's record (its events surface as `{ from: name }`). */
  readonly name: string
  readonly behaviour: Behaviour<Ev>
  /** What the node exposes for this service (`node.dht`, `node.pubsub`). */
  readonly api: Api
  /** Events of the behaviour, as the swarm surfaces them. */
  onEvent(event: Ev): void
  /** The node is stopping: settle whatever is pending with `error`. */
  stop(error: Error): void
  /** Bytes this service's own stores hold now (kad records, gossipsub's message cache): shown in
   * `node.resources().services[name].reported` (spec/resource-manager.md). */
  memoryBytes?(): number
  /**
   * Transports this service brings (the relay client's circuit transport): objects implementing
   * `Transport` (src/io/transport.ts; typed loosely so swarm/ does not import io/); the node adds
   * them to its own.
   */
  readonly transports?: readonly object[]
  /**
   * Addresses the node also listens on at start, besides its `listen` option (the relay client
   * given `relays` listens on `/p2p-circuit`, so circuits from those relays are accepted).
   */
  readonly listen?: readonly Multiaddr[]
  /**
   * Called once, at the end of the node's construction, with the node itself (typed loosely so
   * swarm/ does not import the edge): services that work at the edge (the relay client turns
   * relayed streams into connections) register handlers and listen to events here.
   */
  attach?(node: unknown): void
  /**
   * Addresses this service adds to the node's listen addresses (the relay client's
   * `/p2p-circuit` ones); identify advertises them. The service calls `node.refreshListenAddrs()`
   * when they change.
   */
  listenAddrs?(): readonly Multiaddr[]
}

/** Builds a service from the node's context; `kadDht()`, `gossipsub()`, `perf()`... return one. */
export type ServiceFactory<Api = unknown> = (ctx: ServiceContext) => NodeService<Api>
