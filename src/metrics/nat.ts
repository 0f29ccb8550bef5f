/**
 * NAT traversal metrics under go-libp2p's names: the relay service and autorelay (relay.ts), hole
 * punching (holepunch.ts), AutoNAT v1 / v2 and host addresses (autonat.ts). Families are registered
 * on every node, as weft's other families are (HELP and TYPE only until a series exists); the values
 * come from the behaviours' events (`{ type: 'behaviour', from, event }`) and, at scrape time, from
 * the behaviours themselves (relay service status, relay addresses, AutoNAT status).
 */
import type { AutoNATEvent } from '../autonat/index.js'
import type { DcutrEvent } from '../dcutr/index.js'
import type { RelayClientEvent, RelayServerEvent } from '../relay/index.js'
import { AUTONAT_BEHAVIOUR, AutonatMetrics } from './autonat.js'
import { DCUTR_BEHAVIOUR, HolepunchMetrics } from './holepunch.js'
import type { Registry } from './registry.js'
import { RELAY_CLIENT_BEHAVIOUR, RELAY_SERVER_BEHAVIOUR, RelayMetrics } from './relay.js'

type Behaviours = Readonly<Record<string, unknown>> | undefined

/** The NAT traversal families: relay (client and server), hole punching and AutoNAT, from those services' events. */
export class NatMetrics {
  readonly relay: RelayMetrics
  readonly holepunch: HolepunchMetrics
  readonly autonat: AutonatMetrics
  #behaviours: () => Behaviours = () => undefined

  constructor(r: Registry) {
    this.relay = new RelayMetrics(r)
    this.holepunch = new HolepunchMetrics(r)
    this.autonat = new AutonatMetrics(r)
    r.onCollect(() => {
      const b = this.#behaviours()
      this.relay.collect(b)
      this.autonat.collect(b)
    })
  }

  /** The node's behaviours by name (the swarm's), read at scrape time and for DCUtR's addresses. */
  attach(behaviours: () => Behaviours): void {
    this.#behaviours = behaviours
    const b = behaviours()
    if (b?.[RELAY_SERVER_BEHAVIOUR] !== undefined) this.relay.touchServer()
    if (b?.[RELAY_CLIENT_BEHAVIOUR] !== undefined) this.relay.touchClient()
    if (b?.[DCUTR_BEHAVIOUR] !== undefined) this.holepunch.touchSeries()
  }

  /** Count one event of the service named `from` (other services' events are ignored). */
  observe(from: string, event: unknown): void {
    if (typeof (event as { type?: unknown } | null)?.type !== 'string') return
    switch (from) {
      case RELAY_SERVER_BEHAVIOUR: return this.relay.observeServer(event as RelayServerEvent)
      case RELAY_CLIENT_BEHAVIOUR: return this.relay.observeClient(event as RelayClientEvent)
      case AUTONAT_BEHAVIOUR: return this.autonat.observe(event as AutoNATEvent)
      case DCUTR_BEHAVIOUR: return this.holepunch.observe(event as DcutrEvent, this.#behaviours()?.[DCUTR_BEHAVIOUR] as Parameters<HolepunchMetrics['observe']>[1])
      default: return
    }
  }
}

export { RelayMetrics } from './relay.js'
export { HolepunchMetrics, holePunchOutcomes } from './holepunch.js'
export { AutonatMetrics } from './autonat.js'
export { goTransport, ipOrDnsVersion } from './nat-labels.js'
