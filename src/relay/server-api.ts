/**
 * The relay server as a node service, its events and its metrics.
 *
 *   import { circuitRelayServer } from 'weft/relay'
 *   const node = await createNode({ services: { relay: circuitRelayServer({ maxReservations: 256 }) } })
 *   const relay = node.service<RelayServer>('relay')
 *   relay.on((ev) => { if (ev.type === 'circuit-closed') console.log(ev.reason, ev.srcToDst, ev.dstToSrc) })
 *
 * Metrics: with `createNode({ metrics: prometheusMetrics() })` the events are counted under
 * go-libp2p's names (`libp2p_relaysvc_*`) by src/metrics/relay.ts.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import type { StatusName } from './message.js'
import type { CircuitEndReason } from './server-circuit.js'
import { resolveRelayServerOptions, type RelayServerOptions } from './server-limits.js'
import { CircuitRelayServer } from './server.js'

/** The behaviour's (and the service's) name: events surface as `{ from: 'relay' }`. */
export const RELAY_SERVER_NAME = 'relay'

/** Events of the relay server: reservations accepted, refused, expired; circuits opened, refused, closed. */
export type RelayServerEvent =
  /** A reservation was granted (`renewed`: the peer already held one, which this replaces). */
  | { type: 'reservation-accepted'; peer: PeerId; expire: bigint; addrs: readonly Multiaddr[]; renewed: boolean }
  | { type: 'reservation-refused'; peer: PeerId; status: StatusName; reason: string }
  | { type: 'reservation-closed'; peer: PeerId; reason: 'expired' | 'disconnected' }
  /** A hop request that was not a valid RESERVE is reported here too (MALFORMED_MESSAGE, UNEXPECTED_MESSAGE). */
  | { type: 'circuit-refused'; src: PeerId; dst: PeerId | undefined; status: StatusName; reason: string }
  | { type: 'circuit-opened'; id: number; src: PeerId; dst: PeerId }
  /** `srcToDst` / `dstToSrc`: bytes relayed each way; `duration` in ms. */
  | { type: 'circuit-closed'; id: number; src: PeerId; dst: PeerId; reason: CircuitEndReason; srcToDst: number; dstToSrc: number; duration: Millis }

/** What `node.service<RelayServer>('relay')` gives. */
export interface RelayServer {
  readonly reservationCount: number
  readonly circuitCount: number
  /** True when `peer` holds an unexpired reservation. */
  hasReservation(peer: PeerId): boolean
  /** The addresses a reservation carries now; empty means RESERVE is refused. */
  reservationAddrs(): Multiaddr[]
  /** Listen to the server's events; returns the function that stops listening. */
  on(listener: (event: RelayServerEvent) => void): () => void
}

/** The relay server as a node service: `createNode({ services: { relay: circuitRelayServer() } })`. */
export function circuitRelayServer(options: RelayServerOptions = {}): ServiceFactory<RelayServer> {
  resolveRelayServerOptions(options) // bad options fail here, at the call site
  return (ctx): NodeService<RelayServer, RelayServerEvent> => {
    const behaviour = new CircuitRelayServer({ ...options, peerId: ctx.peerId, privateKey: ctx.privateKey, crypto: ctx.crypto, epoch: ctx.epoch })
    const listeners = new Set<(event: RelayServerEvent) => void>()
    const api: RelayServer = {
      get reservationCount() { return behaviour.reservationCount },
      get circuitCount() { return behaviour.circuitCount },
      hasReservation: (peer) => behaviour.hasReservation(peer),
      reservationAddrs: () => behaviour.reservationAddrs(),
      on(listener) {
        listeners.add(listener)
        return () => { listeners.delete(listener) }
      },
    }
    return {
      name: RELAY_SERVER_NAME,
      behaviour,
      api,
      onEvent: (event) => { for (const l of [...listeners]) l(event) },
      stop: () => { listeners.clear() },
      memoryBytes: () => behaviour.memoryBytes(),
    }
  }
}
