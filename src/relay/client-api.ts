/**
 * `circuitRelayClient(options)`: the Circuit Relay v2 client as a node service (spec/relay.md
 * "Relay client"). It brings the circuit transport (dial and listen on `/p2p-circuit` addresses),
 * the stop handler, and the reservation manager (src/relay/client.ts):
 *
 *   import { circuitRelayClient } from 'weft/relay'
 *   const node = await createNode({
 *     listen: ['/ip4/0.0.0.0/tcp/0', '/ip4/198.51.100.7/tcp/4001/p2p/12D3KooW.../p2p-circuit'],
 *     services: { relayClient: circuitRelayClient() },
 *   })
 *   node.on('relay:reservation', (ev) => console.log(ev.type, ev.relay.toString()))
 *   await node.dial('/ip4/198.51.100.7/tcp/4001/p2p/12D3KooW.../p2p-circuit/p2p/12D3KooW...')
 *
 * `weft/node` runs it by default (dialing circuit addresses just works); listening through a relay
 * is asked for with a `/p2p-circuit` listen address, or `relays` here plus the listen address
 * `/p2p-circuit`.
 */
import type { Millis } from '../core/byte-machine.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { NodeService, ServiceContext, ServiceFactory } from '../swarm/index.js'
import { DEFAULT_RELAY_CLIENT_LIMITS, RelayClientBehaviour, parseRelayAddr, type RelayClientEvent, type RelayClientLimits, type RelayReservation } from './client.js'
import { STOP_PROTOCOL, type RelayMessageLimits } from './message.js'
import type { RelayDiscoveryOptions } from './client-discover.js'
import { CircuitTransport, type CircuitNode, type CircuitStream } from './transport-api.js'

/** Options of `circuitRelayClient()` (spec/relay.md). */
export interface CircuitRelayClientOptions extends Partial<Omit<RelayClientLimits, 'messages'>> {
  /**
   * Relays to reserve on at start (`<addr>/p2p/<relay id>`); the node then also listens on
   * `/p2p-circuit`, so the circuits they bring are accepted. (A `<relay addr>/p2p-circuit` listen
   * address reserves by itself.)
   */
  relays?: Array<string | Multiaddr>
  /**
   * ms from a stop stream's opening to the relay's CONNECT. Default 10 000 (go's AcceptTimeout).
   * Stops: a relay (or any peer) opening stop streams that never speak, each held open.
   */
  stopTimeout?: number
  /** Relay message limits (size, addresses): spec/relay.md "Limits". */
  messages?: Partial<RelayMessageLimits>
  /**
   * Discover relays: while the node has no confirmed external address, reserve on up to
   * `maxRelays` (default 2) connected peers whose identify lists the hop protocol, and drop them
   * once it has one (go-libp2p's autorelay with the connected peers as its source). Off by default,
   * as in go; `true` takes the defaults.
   */
  discover?: boolean | Partial<RelayDiscoveryOptions>
}

/** Default time for an inbound STOP exchange to complete, in ms (10 s). */
export const DEFAULT_STOP_TIMEOUT = 10_000

/** `node.service<RelayClient>('relayClient')`. */
export interface RelayClient {
  /** The reservations held now. */
  reservations(): RelayReservation[]
  /** The advertised relayed addresses: `<relay addr>/p2p/<relay>/p2p-circuit` (getMultiaddrs appends `/p2p/<self>`). */
  listenAddrs(): Multiaddr[]
  /** The relays discovery chose (peer ids; `discover` option). */
  discovered(): readonly string[]
}

/** What the service needs of the node it is attached to (WeftNode has it). */
export interface RelayClientNode extends CircuitNode {
  handle(protocol: string, handler: (stream: CircuitStream) => void | Promise<void>, options?: { maxInboundStreams?: number; allowLimited?: boolean }): void
  refreshListenAddrs?(): void
  dispatchEvent(event: Event): boolean
}

/**
 * The Circuit Relay v2 client service (libp2p specs relay/circuit-v2.md): dial `<relay>/p2p-circuit/p2p/<peer>`
 * addresses, reserve a slot on relays and listen on `<relay>/p2p-circuit`. Connections through a
 * relay are *limited* (duration and bytes): only protocols that allow it run on them.
 * Throws `UsageError` for a relay address without `/p2p/<relay id>`, `RangeError` for a non-positive `stopTimeout`.
 * @example
 * ```ts
 * const node = await createNode({ services: { relayClient: circuitRelayClient({ relays: ['/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...'] }) } })
 * ```
 */
export function circuitRelayClient(options: CircuitRelayClientOptions = {}): ServiceFactory<RelayClient> {
  const relays = (options.relays ?? []).map((a) => (typeof a === 'string' ? Multiaddr.fromString(a) : a))
  for (const a of relays) parseRelayAddr(a)
  const stopTimeout = options.stopTimeout ?? DEFAULT_STOP_TIMEOUT
  if (!Number.isFinite(stopTimeout) || stopTimeout <= 0) throw new RangeError('stopTimeout must be a positive number of ms')
  const { relays: _, stopTimeout: __, messages, discover, ...limits } = options
  const discovery = discover === true ? {} : discover === false ? undefined : discover
  return (ctx: ServiceContext): NodeService<RelayClient, RelayClientEvent> => {
    const behaviour = new RelayClientBehaviour({
      crypto: ctx.crypto,
      self: ctx.peerId,
      epoch: ctx.epoch,
      relays,
      limits: { ...DEFAULT_RELAY_CLIENT_LIMITS, ...limits, messages: messages ?? {} },
      ...(discovery !== undefined ? { discover: discovery } : {}),
    })
    let node: RelayClientNode | undefined
    const expiries = new Map<number, () => void>()
    const run = <T>(f: (now: Millis) => T): T => ctx.run(f)
    const transport = new CircuitTransport({
      node: () => node,
      arm: (ms, onExpire) => {
        const token = run((now) => behaviour.armDeadline(now, ms))
        expiries.set(token, onExpire)
        return () => {
          if (expiries.delete(token)) behaviour.clearDeadline(token)
        }
      },
      addRelay: (addr) => run((now) => behaviour.addRelay(now, addr)),
      removeRelay: (relay: PeerId) => run(() => behaviour.removeRelay(relay)),
      reserved: (relay) => behaviour.hasReservation(relay),
      stopTimeout,
      dialTimeout: 10_000,
      messages: messages ?? {},
    })
    const api: RelayClient = {
      reservations: () => behaviour.reservations(),
      listenAddrs: () => behaviour.listenAddrs(),
      discovered: () => behaviour.discovered(),
    }
    return {
      name: 'relay-client',
      behaviour,
      api,
      transports: [transport],
      // given relays, accept the circuits they bring (a `<relay>/p2p-circuit` listen address needs no help)
      ...(relays.length > 0 || discovery !== undefined ? { listen: [Multiaddr.fromString('/p2p-circuit')] } : {}),
      attach(attached) {
        const n = attached as RelayClientNode
        node = n
        n.handle(STOP_PROTOCOL, (s: CircuitStream) => transport.handleStop(s), { allowLimited: false })
      },
      listenAddrs: () => behaviour.listenAddrs(),
      onEvent(ev) {
        switch (ev.type) {
          case 'deadline': {
            const f = expiries.get(ev.token)
            expiries.delete(ev.token)
            f?.()
            return
          }
          case 'listen-addrs':
            node?.refreshListenAddrs?.()
            return
          case 'reservation':
            node?.dispatchEvent(new CustomEvent('relay:reservation', { detail: ev.event }))
            return
        }
      },
      stop() {
        expiries.clear()
      },
    }
  }
}
