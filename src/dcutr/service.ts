/**
 * `dcutr(options)`: DCUtR hole punching as a node service (spec/dcutr.md).
 *
 *   import { createNode, tcp } from 'weft/node'
 *   import { dcutr } from 'weft/dcutr'
 *   const t = tcp({ punchPort: 'auto' })
 *   const node = await createNode({ transports: [t], services: { dcutr: dcutr({ punchPort: t }) } })
 *   node.service<Dcutr>('dcutr').on('direct', ({ peer, connection }) => { ... })
 *
 * `punchPort` says where dials leave from (the TCP transport's punch port, src/io/tcp.ts): the
 * transport itself (its `punchPort` getter is read at each use, so `'auto'` works) or a number.
 * `quic`: the QUIC transport (`quic()` of weft/node) for hole punching over QUIC v1: B sends the
 * spec's random UDP packets from its QUIC listening socket to A's QUIC addresses while A dials it;
 * the node must listen on a `/udp/<port>/quic-v1` address. Without either the node cannot punch:
 * `status()` says so, `unavailable` events follow, the relayed connections stay. Connection
 * reversal (B dialing A's public addresses) works without them.
 */
import type { Multiaddr } from '../multiaddr/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import type { PeerId } from '../peer-id/index.js'
import { DcutrBehaviour, type DcutrEvent, type DcutrOptions, type DcutrStatus } from './dcutr.js'

/** What `dcutr()` needs of a QUIC transport (weft/node's `quic()` has it): punch packets from the listening socket. */
export interface QuicHolePuncher {
  /** Start sending punch packets to `addr` (bounded by `timeout` ms and `maxPackets`); the handle stops them. */
  holePunch(addr: Multiaddr, options?: { timeout?: number; maxPackets?: number }): PunchHandle
}

/** A running hole punch toward one address. */
export interface PunchHandle {
  /** Stop sending now. */
  stop(): void
}

/** Options of `dcutr()`. */
export interface DcutrServiceOptions extends Omit<DcutrOptions, 'punchPort' | 'quicPunch'> {
  /** The TCP transport made with `tcp({ punchPort })`, or the port number. Default none: no TCP hole punching. */
  punchPort?: number | { readonly punchPort: number | undefined }
  /** The QUIC transport (`quic()`), for hole punching over QUIC v1. Default none: no QUIC hole punching. */
  quic?: QuicHolePuncher
  /**
   * Punch packets B sends per address and attempt, at most (also bounded by `punchTimeout`).
   * Default 100. Stops: a peer's CONNECT naming a victim's address making us send it packets.
   */
  maxPunchPackets?: number
}

type EventsOf<T extends DcutrEvent['type']> = Extract<DcutrEvent, { type: T }>

/** The events of the `Dcutr` API, with their `detail`. */
export interface DcutrEvents {
  direct: EventsOf<'direct'>
  attempt: EventsOf<'attempt'>
  punch: EventsOf<'punch'>
  failed: EventsOf<'failed'>
  unavailable: EventsOf<'unavailable'>
  'reversal-failed': EventsOf<'reversal-failed'>
}

/** `node.service<Dcutr>('dcutr')`: the status and the upgrade events. */
export class Dcutr extends EventTarget {
  readonly #b: DcutrBehaviour
  readonly #run: <T>(f: (now: number) => T) => T

  constructor(behaviour: DcutrBehaviour, run: <T>(f: (now: number) => T) => T) {
    super()
    this.#b = behaviour
    this.#run = run
  }

  /** Whether this node can hole punch (a punch port is known). */
  status(): DcutrStatus {
    return this.#b.status()
  }

  /** The addresses this node would send in a CONNECT now. */
  localAddrs(): Multiaddr[] {
    return this.#run(() => this.#b.localAddrs())
  }

  /** Typed addEventListener; returns a function that removes the listener. */
  on<K extends keyof DcutrEvents>(type: K, listener: (detail: DcutrEvents[K]) => void): () => void {
    const l = (e: Event): void => listener((e as CustomEvent<DcutrEvents[K]>).detail)
    this.addEventListener(type, l)
    return () => this.removeEventListener(type, l)
  }

  /** @internal the node routes the behaviour's events here. */
  _onEvent(ev: DcutrEvent): void {
    this.dispatchEvent(new CustomEvent(ev.type, { detail: ev }))
  }
}

/**
 * The DCUtR service (libp2p specs relay/DCUtR.md, `/libp2p/dcutr`): upgrades a relayed connection to a
 * direct one by synchronised TCP hole punching from the punch port, for `createNode({ services: { dcutr: dcutr({ punchPort: tcpTransport }) } })`.
 * Throws `RangeError` for a punch port outside [1, 65535].
 */
export function dcutr(options: DcutrServiceOptions = {}): ServiceFactory<Dcutr> {
  const { punchPort: source, quic, maxPunchPackets = 100, ...rest } = options
  if (typeof source === 'number' && (!Number.isInteger(source) || source < 1 || source > 65535)) throw new RangeError('punchPort must be an integer in [1, 65535] or the TCP transport')
  if (quic !== undefined && typeof quic.holePunch !== 'function') throw new TypeError('quic must be the QUIC transport (quic())')
  if (!Number.isSafeInteger(maxPunchPackets) || maxPunchPackets < 1) throw new RangeError('maxPunchPackets must be a positive integer')
  const punchPort = (): number | undefined => (source === undefined ? undefined : typeof source === 'number' ? source : source.punchPort)
  return (ctx): NodeService<Dcutr> => {
    const behaviour = new DcutrBehaviour({ ...rest, punchPort, quicPunch: quic !== undefined })
    const api = new Dcutr(behaviour, ctx.run)
    // B's punch packets in flight, by peer: stopped by the next attempt, a direct connection, the end.
    const punches = new Map<string, PunchHandle[]>()
    const stopPunch = (peer: PeerId): void => {
      for (const p of punches.get(peer.toString()) ?? []) p.stop()
      punches.delete(peer.toString())
    }
    const onEvent = (ev: DcutrEvent): void => {
      if (ev.type === 'punch' || ev.type === 'direct' || ev.type === 'failed') stopPunch(ev.peer)
      if (ev.type === 'punch' && quic !== undefined) {
        punches.set(ev.peer.toString(), ev.addrs.map((a) => quic.holePunch(a, { timeout: ev.timeout, maxPackets: maxPunchPackets })))
      }
      api._onEvent(ev)
    }
    return {
      name: 'dcutr',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => onEvent(ev as DcutrEvent),
      stop: () => { for (const p of [...punches.values()].flat()) p.stop(); punches.clear() },
    }
  }
}
