/**
 * AutoNAT (spec/autonat.md) as one behaviour: a client part (client.ts) and a server part
 * (server.ts), either of which may be off. Results of requests (stream-opened with a requestId,
 * stream-open-failed, dial-succeeded, dial-failed) go to the part that made them: the client's
 * request ids are odd, the server's even. Every other input goes to both; each ignores streams it
 * does not own.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../swarm/index.js'
import { AutoNATClient } from './client.js'
import { AutoNATServer, type PartHost } from './server.js'
import { DEFAULT_CLIENT_OPTIONS, DEFAULT_SERVER_OPTIONS, type AutoNATClientOptions, type AutoNATEvent, type AutoNATServerOptions, type AutoNATStatus } from './types.js'

/**
 * Options of the AutoNAT service (libp2p specs autonat/autonat-v1.md and autonat-v2.md): run the client, the server, or both.
 */
export interface AutoNATOptions {
  /** Run the client: probe our addresses with servers. Default true. */
  client?: boolean | Partial<AutoNATClientOptions>
  /** Serve v1 and v2 requests from other peers. Default false (a server dials other peers on request). */
  server?: boolean | Partial<AutoNATServerOptions>
  /** Test and dial private and loopback addresses, for both parts (tests, private networks). Default false. */
  allowPrivateAddrs?: boolean
}

/** What the AutoNAT behaviour needs from its node: our peer id, randomness and the options. */
export interface AutoNATBehaviourInit extends AutoNATOptions {
  peerId: PeerId
  /** `n` cryptographically secure random bytes (v2 nonces, server choice). */
  random: (n: number) => Uint8Array
}

function partOptions<T extends object>(defaults: Readonly<T>, given: boolean | Partial<T> | undefined, on: boolean, shared: Partial<T>): T | undefined {
  const enabled = given === undefined ? on : given !== false
  if (!enabled) return undefined
  const o = { ...defaults, ...shared, ...(typeof given === 'object' ? given : {}) } as T
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number' && (!Number.isFinite(v) || v < 0)) throw new RangeError(`autonat option ${k} must be a non-negative number`)
  }
  return o
}

export class AutoNATBehaviour implements Behaviour<AutoNATEvent> {
  readonly protocols: readonly string[]
  /** None: AutoNAT refuses relayed connections (the observed IP would be the relay's). */
  readonly limitedProtocols: readonly string[] = []
  readonly client: AutoNATClient | undefined
  readonly server: AutoNATServer | undefined
  readonly #actions: BehaviourAction<AutoNATEvent>[] = []
  #nextClientId = 1
  #nextServerId = 2

  constructor(init: AutoNATBehaviourInit) {
    const shared = init.allowPrivateAddrs === undefined ? {} : { allowPrivateAddrs: init.allowPrivateAddrs }
    const co = partOptions(DEFAULT_CLIENT_OPTIONS, init.client, true, shared)
    const so = partOptions(DEFAULT_SERVER_OPTIONS, init.server, false, shared)
    if (so !== undefined && so.minDialDataBytes > so.maxDialDataBytes) throw new RangeError('autonat minDialDataBytes must not exceed maxDialDataBytes')
    const host = (next: () => number): PartHost => ({ actions: this.#actions, nextId: next, random: init.random })
    this.client = co === undefined ? undefined : new AutoNATClient(co, host(() => (this.#nextClientId += 2) - 2), init.peerId)
    this.server = so === undefined ? undefined : new AutoNATServer(so, host(() => (this.#nextServerId += 2) - 2))
    this.protocols = [...(this.client?.protocols ?? []), ...(this.server?.protocols ?? [])]
  }

  /** The node's and each tested address's reachability (client); 'unknown' without a client. */
  status(): AutoNATStatus {
    return this.client?.status() ?? { reachability: 'unknown', addrs: [] }
  }

  /** Ask servers about `addr` (client). False when the client is off or the address cannot be tested. */
  probe(now: Millis, addr: Multiaddr): boolean {
    return this.client?.probe(now, addr) ?? false
  }

  handle(now: Millis, input: BehaviourInput): void {
    // results of our own requests go to the part that made them (client ids odd, server ids even):
    // each part resets an outbound stream it did not ask for (a late one), so it must not see the other's
    const id = input.type === 'stream-opened' || input.type === 'stream-open-failed' || input.type === 'dial-succeeded' || input.type === 'dial-failed' ? input.requestId : undefined
    if (id !== undefined) {
      if (id % 2 === 1) this.client?.handle(now, input)
      else this.server?.handle(now, input)
      return
    }
    this.client?.handle(now, input)
    this.server?.handle(now, input)
  }

  handleTimeout(now: Millis): void {
    const c = this.client?.pollTimeout()
    if (c !== undefined && c <= now) this.client!.handleTimeout(now)
    const s = this.server?.pollTimeout()
    if (s !== undefined && s <= now) this.server!.handleTimeout(now)
  }

  pollAction(): BehaviourAction<AutoNATEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    const c = this.client?.pollTimeout()
    const s = this.server?.pollTimeout()
    if (c === undefined) return s
    if (s === undefined) return c
    return Math.min(c, s)
  }
}
