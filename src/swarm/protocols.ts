/**
 * The protocol table: which protocol ids this node serves on inbound streams, and who handles each,
 * a behaviour (by its name in the swarm's record) or the user (`swarm.handle`). multistream-select's
 * listener consults it (`has`), identify advertises it (`list`), and the swarm routes each inbound
 * stream by it (`get`). A behaviour may change its protocols at run time (`set-protocols`, e.g. kad
 * switching between client and server mode).
 */
import { UsageError } from '../core/errors.js'
import type { Owner } from './types.js'

export interface ProtocolHandler {
  owner: Owner
  /** Inbound streams of this protocol allowed open at once per connection. */
  maxInboundStreams: number
  /** Served on limited (relayed) connections too (src/swarm/limited.ts). */
  allowLimited: boolean
}

export class ProtocolTable {
  readonly #handlers = new Map<string, ProtocolHandler>()
  readonly #defaultMaxInbound: number

  constructor(defaultMaxInbound: number) {
    this.#defaultMaxInbound = defaultMaxInbound
  }

  get(protocol: string): ProtocolHandler | undefined {
    return this.#handlers.get(protocol)
  }

  has(protocol: string): boolean {
    return this.#handlers.has(protocol)
  }

  /** Served, and allowed on limited connections. */
  hasLimited(protocol: string): boolean {
    return this.#handlers.get(protocol)?.allowLimited === true
  }

  /** Every protocol served, in registration order. */
  list(): string[] {
    return [...this.#handlers.keys()]
  }

  /** The user serves `protocol`; UsageError when someone already does. */
  handle(protocol: string, maxInboundStreams = this.#defaultMaxInbound, allowLimited = false): void {
    if (this.#handlers.has(protocol)) throw new UsageError('swarm/protocol-taken', protocol)
    this.#handlers.set(protocol, { owner: { kind: 'user' }, maxInboundStreams, allowLimited })
  }

  /** Stop serving a protocol the user handles; false when it was not the user's. */
  unhandle(protocol: string): boolean {
    const h = this.#handlers.get(protocol)
    if (h === undefined || h.owner.kind !== 'user') return false
    this.#handlers.delete(protocol)
    return true
  }

  /**
   * Behaviour `name` now serves exactly `protocols`: what it dropped is removed, what is new is
   * added. UsageError (and no change) when another owner holds one of them. True when anything changed.
   * `limited`: those allowed on limited connections (Behaviour.limitedProtocols); `maxInbound`: its
   * Behaviour.maxInboundStreams.
   */
  setBehaviour(name: string, protocols: readonly string[], limited: readonly string[] = [], maxInbound = this.#defaultMaxInbound): boolean {
    for (const p of protocols) {
      const h = this.#handlers.get(p)
      if (h !== undefined && !(h.owner.kind === 'behaviour' && h.owner.name === name)) throw new UsageError('swarm/protocol-taken', p)
    }
    let changed = false
    for (const [p, h] of [...this.#handlers]) {
      if (h.owner.kind === 'behaviour' && h.owner.name === name && !protocols.includes(p)) {
        this.#handlers.delete(p)
        changed = true
      }
    }
    for (const p of protocols) {
      if (this.#handlers.has(p)) continue
      this.#handlers.set(p, { owner: { kind: 'behaviour', name }, maxInboundStreams: maxInbound, allowLimited: limited.includes(p) })
      changed = true
    }
    return changed
  }
}
