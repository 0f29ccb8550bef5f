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
 * Without one the node cannot punch: `status()` says so, `unavailable` events follow, the relayed
 * connections stay. Connection reversal (B dialing A's public addresses) works without one.
 */
import type { Multiaddr } from '../multiaddr/index.js'
import type { NodeService, ServiceFactory } from '../swarm/index.js'
import { DcutrBehaviour, type DcutrEvent, type DcutrOptions, type DcutrStatus } from './dcutr.js'

/** Options of `dcutr()`. */
export interface DcutrServiceOptions extends Omit<DcutrOptions, 'punchPort'> {
  /** The TCP transport made with `tcp({ punchPort })`, or the port number. Default none: hole punching unavailable. */
  punchPort?: number | { readonly punchPort: number | undefined }
}

type EventsOf<T extends DcutrEvent['type']> = Extract<DcutrEvent, { type: T }>

/** The events of the `Dcutr` API, with their `detail`. */
export interface DcutrEvents {
  direct: EventsOf<'direct'>
  attempt: EventsOf<'attempt'>
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
  const { punchPort: source, ...rest } = options
  if (typeof source === 'number' && (!Number.isInteger(source) || source < 1 || source > 65535)) throw new RangeError('punchPort must be an integer in [1, 65535] or the TCP transport')
  const punchPort = (): number | undefined => (source === undefined ? undefined : typeof source === 'number' ? source : source.punchPort)
  return (ctx): NodeService<Dcutr> => {
    const behaviour = new DcutrBehaviour({ ...rest, punchPort })
    const api = new Dcutr(behaviour, ctx.run)
    return {
      name: 'dcutr',
      behaviour: behaviour as NodeService['behaviour'],
      api,
      onEvent: (ev) => api._onEvent(ev as DcutrEvent),
      stop: () => {},
    }
  }
}
