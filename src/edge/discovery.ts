/**
 * Discovery in the node (spec/discovery.md): one behaviour that
 * - turns what other behaviours learn about peers (`peer-info` facts: kad's closer peers and
 *   providers, identify's listen addresses, gossipsub's signed PX records) into `discovered` events,
 *   once per peer per new address set, in bounded memory;
 * - keeps the configured bootstrap peers connected: dialed at start, protected in the connection
 *   manager, redialed after a disconnect or a failed dial with exponential backoff and jitter
 *   (capped, reset on success), reported (`source: 'bootstrap'`) when first connected;
 * - auto-dials discovered peers (any source, mDNS and rendezvous included: the node hands their
 *   events in with `candidate`) while the connection count is below the connection manager's low
 *   watermark: bounded concurrency, per-peer failure backoff, never ourselves, never a connected peer,
 *   through the swarm's ordinary `dial` action (the gater and every limit apply).
 *
 * Pure like every behaviour: time is an input, randomness (jitter) is handed in.
 */
import type { Millis } from '../core/byte-machine.js'
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../swarm/index.js'
import type { AutoDialOptions, DiscoveryOptions, DiscoverySource } from './node-types.js'

export interface DiscoveredEvent {
  type: 'discovered'
  peer: PeerId
  addrs: Multiaddr[]
  source: DiscoverySource
}

export interface BootstrapPeer {
  peer: PeerId
  addrs: Multiaddr[]
}

export interface DiscoveryConfig {
  self: PeerId
  bootstrap: readonly BootstrapPeer[]
  /** Auto-dial discovered peers (spec/discovery.md, "Auto-dial"). */
  autoDial: boolean
  /** The connection manager's low watermark (read when deciding; 0: never auto-dial). */
  lowWater: () => number
  /** Uniform in [0, 1): jitter. */
  random: () => number
  autoDialOptions?: AutoDialOptions
  /** Peers whose emitted addresses are remembered (dedupe), default 1024. Stops: a flood of peer ids growing memory. */
  maxRemembered?: number
  /** First bootstrap redial delay (ms), default 1 s; doubles per failure. */
  bootstrapBackoffBase?: number
  /** Bootstrap redial cap (ms), default 60 s. Stops: hammering a bootstrap peer that is down. */
  bootstrapBackoffMax?: number
}

export const DISCOVERY_DEFAULTS = {
  concurrency: 4,
  maxCandidates: 256,
  backoffBase: 10_000,
  backoffMax: 600_000,
  maxRemembered: 1024,
  maxAddrsRemembered: 32,
  bootstrapBackoffBase: 1_000,
  bootstrapBackoffMax: 60_000,
} as const

/** The behaviour names whose `peer-info` facts are discoveries, and their source. */
const SOURCES: Record<string, DiscoverySource> = { kad: 'kad', identify: 'identify', gossipsub: 'pubsub-px' }

/** `discovery.bootstrap` entries: each must name its peer (`/p2p/<id>`); UsageError otherwise. */
export function parseBootstrap(list: ReadonlyArray<string | Multiaddr>): BootstrapPeer[] {
  const out: BootstrapPeer[] = []
  for (const a of list) {
    let m: Multiaddr
    try {
      m = typeof a === 'string' ? Multiaddr.fromString(a) : a
    } catch (e) {
      throw new UsageError('discovery/bad-bootstrap', `bootstrap address ${String(a)}: ${(e as Error).message}`)
    }
    const id = m.getPeerId()
    if (id === undefined) throw new UsageError('discovery/bootstrap-needs-peer-id', `bootstrap address ${m.toString()} needs a /p2p/<peer id>`)
    const peer = PeerId.parse(id)
    const addr = m.withoutPeerId()
    const known = out.find((b) => b.peer.equals(peer))
    if (known !== undefined) known.addrs.push(addr)
    else out.push({ peer, addrs: [addr] })
  }
  return out
}

/** Exponential backoff with full-range jitter in [d/2, d): `failures` >= 1. */
export function backoffDelay(failures: number, base: number, max: number, random: () => number): number {
  const d = Math.min(max, base * 2 ** Math.min(failures - 1, 30))
  return Math.floor(d / 2 + (d / 2) * random())
}

interface Candidate {
  peer: PeerId
  failures: number
  /** Not before (ms); 0: now. */
  retryAt: number
  dialing: boolean
}

interface Boot {
  peer: PeerId
  addrs: Multiaddr[]
  failures: number
  /** When to dial next; undefined while connected or dialing. */
  retryAt: number | undefined
  dialing: boolean
  announced: boolean
}

export class DiscoveryBehaviour implements Behaviour<DiscoveredEvent> {
  readonly protocols: readonly string[] = []
  readonly #cfg: DiscoveryConfig
  readonly #o: Required<AutoDialOptions>
  readonly #maxRemembered: number
  readonly #actions: BehaviourAction<DiscoveredEvent>[] = []
  /** Connections per peer (key), and in total. */
  readonly #conns = new Map<string, number>()
  #total = 0
  /** Addresses already reported per peer, least recently touched first. */
  readonly #seen = new Map<string, Set<string>>()
  /** Auto-dial candidates, oldest first. */
  readonly #candidates = new Map<string, Candidate>()
  readonly #boot = new Map<string, Boot>()
  /** Our dials in flight: requestId -> peer key, and whether it is a bootstrap dial. */
  readonly #dials = new Map<number, { k: string; boot: boolean }>()
  #autoInFlight = 0
  #nextId = 1
  #started = false
  #stopped = false
  /** Counters for tests and `stats()`. */
  readonly stats = { discovered: 0, autoDials: 0, autoDialFailures: 0, bootstrapDials: 0 }

  constructor(cfg: DiscoveryConfig) {
    this.#cfg = cfg
    const a = cfg.autoDialOptions ?? {}
    this.#o = {
      concurrency: positiveInt(a.concurrency ?? DISCOVERY_DEFAULTS.concurrency, 'autoDial.concurrency'),
      maxCandidates: positiveInt(a.maxCandidates ?? DISCOVERY_DEFAULTS.maxCandidates, 'autoDial.maxCandidates'),
      backoffBase: positiveInt(a.backoffBase ?? DISCOVERY_DEFAULTS.backoffBase, 'autoDial.backoffBase'),
      backoffMax: positiveInt(a.backoffMax ?? DISCOVERY_DEFAULTS.backoffMax, 'autoDial.backoffMax'),
    }
    this.#maxRemembered = positiveInt(cfg.maxRemembered ?? DISCOVERY_DEFAULTS.maxRemembered, 'maxRemembered')
    for (const b of cfg.bootstrap) {
      if (b.peer.equals(cfg.self)) continue
      this.#boot.set(b.peer.toString(), { peer: b.peer, addrs: b.addrs, failures: 0, retryAt: 0, dialing: false, announced: false })
    }
  }

  /** Peers waiting to be auto-dialed (bounded by maxCandidates). */
  get candidateCount(): number {
    return this.#candidates.size
  }

  /** Whether the auto-dial policy is on. */
  get autoDial(): boolean {
    return this.#cfg.autoDial
  }

  get hasBootstrap(): boolean {
    return this.#boot.size > 0
  }

  isBootstrap(peer: PeerId): boolean {
    return this.#boot.has(peer.toString())
  }

  /** Auto-dials in flight (at most `concurrency`). */
  get autoDialsInFlight(): number {
    return this.#autoInFlight
  }

  /**
   * A discovery made outside the swarm (mDNS, rendezvous: the node's `peer:discovery` events):
   * an auto-dial candidate. Never re-emitted.
   */
  candidate(now: Millis, peer: PeerId, addrs: readonly Multiaddr[]): void {
    this.#remember(peer.toString(), addrs)
    this.#addCandidate(peer)
    this.#pump(now)
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'local-info':
        if (!this.#started) {
          this.#started = true
          for (const b of this.#boot.values()) {
            this.#actions.push({ type: 'protect-peer', peer: b.peer, tag: 'bootstrap', protect: true })
            this.#actions.push({ type: 'peer-info', peer: b.peer, info: { addrs: b.addrs, addrsAreHints: true } })
          }
          this.#pump(now)
        }
        return
      case 'connection-established': {
        const k = input.connection.peer.toString()
        this.#conns.set(k, (this.#conns.get(k) ?? 0) + 1)
        this.#total++
        this.#candidates.delete(k)
        const b = this.#boot.get(k)
        if (b !== undefined) {
          b.failures = 0
          b.retryAt = undefined
          if (!b.announced) {
            b.announced = true
            this.#emit(b.peer, b.addrs, 'bootstrap')
          }
        }
        return
      }
      case 'connection-closed': {
        const k = input.connection.peer.toString()
        const n = (this.#conns.get(k) ?? 1) - 1
        if (n <= 0) this.#conns.delete(k)
        else this.#conns.set(k, n)
        this.#total = Math.max(0, this.#total - 1)
        const b = this.#boot.get(k)
        // a clean disconnect is retried soon; each failed redial doubles the wait
        if (b !== undefined && n <= 0 && !b.dialing) b.retryAt = now + backoffDelay(b.failures + 1, this.#bootBase(), this.#bootMax(), this.#cfg.random)
        this.#pump(now)
        return
      }
      case 'dial-succeeded':
      case 'dial-failed': {
        const d = this.#dials.get(input.requestId)
        if (d === undefined) return
        this.#dials.delete(input.requestId)
        if (d.boot) {
          const b = this.#boot.get(d.k)
          if (b === undefined) return
          b.dialing = false
          if (input.type === 'dial-failed') {
            b.failures++
            b.retryAt = now + backoffDelay(b.failures, this.#bootBase(), this.#bootMax(), this.#cfg.random)
          } else if (!this.#conns.has(d.k)) {
            // joined a connection that closed already
            b.retryAt = now + backoffDelay(b.failures + 1, this.#bootBase(), this.#bootMax(), this.#cfg.random)
          }
        } else {
          this.#autoInFlight--
          const c = this.#candidates.get(d.k)
          if (input.type === 'dial-failed') {
            this.stats.autoDialFailures++
            if (c !== undefined) {
              c.dialing = false
              c.failures++
              c.retryAt = now + backoffDelay(c.failures, this.#o.backoffBase, this.#o.backoffMax, this.#cfg.random)
            }
          } else this.#candidates.delete(d.k)
        }
        this.#pump(now)
        return
      }
      case 'peer-info': {
        const source = SOURCES[input.from]
        const addrs = input.info.addrs
        if (source === undefined || addrs === undefined || addrs.length === 0) return
        if (input.peer.equals(this.#cfg.self)) return
        const k = input.peer.toString()
        const fresh = this.#remember(k, addrs)
        if (fresh.length > 0) this.#emit(input.peer, [...addrs], source)
        if (!this.#conns.has(k)) {
          this.#addCandidate(input.peer)
          this.#pump(now)
        }
        return
      }
      default:
        return
    }
  }

  handleTimeout(now: Millis): void {
    this.#pump(now)
  }

  pollAction(): BehaviourAction<DiscoveredEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    if (this.#stopped || !this.#started) return undefined
    let t: number | undefined
    for (const b of this.#boot.values()) if (b.retryAt !== undefined && !b.dialing) t = t === undefined ? b.retryAt : Math.min(t, b.retryAt)
    if (this.#wantsAutoDial()) {
      for (const c of this.#candidates.values()) if (!c.dialing) t = t === undefined ? c.retryAt : Math.min(t, c.retryAt)
    }
    return t
  }

  /** The edge's part (wireDiscovery), called once the node is built. */
  attach(node: WiredNode, run: (f: (now: Millis) => void) => void, dht: () => { bootstrap(o?: { signal?: AbortSignal }): Promise<unknown> } | undefined): void {
    wireDiscovery(node, this, run, dht)
  }

  /** Stop dialing (the node is stopping). */
  stop(): void {
    this.#stopped = true
  }

  #bootBase(): number {
    return this.#cfg.bootstrapBackoffBase ?? DISCOVERY_DEFAULTS.bootstrapBackoffBase
  }

  #bootMax(): number {
    return this.#cfg.bootstrapBackoffMax ?? DISCOVERY_DEFAULTS.bootstrapBackoffMax
  }

  #wantsAutoDial(): boolean {
    return this.#cfg.autoDial && this.#total + this.#autoInFlight < this.#cfg.lowWater() && this.#autoInFlight < this.#o.concurrency
  }

  /** Record `addrs` as reported for peer `k`; returns those not reported before. */
  #remember(k: string, addrs: readonly Multiaddr[]): string[] {
    let set = this.#seen.get(k)
    if (set === undefined) {
      set = new Set()
      if (this.#seen.size >= this.#maxRemembered) this.#seen.delete(this.#seen.keys().next().value!)
    } else this.#seen.delete(k)
    this.#seen.set(k, set)
    const fresh: string[] = []
    for (const a of addrs) {
      const s = a.toString()
      if (set.has(s)) continue
      fresh.push(s)
      if (set.size >= DISCOVERY_DEFAULTS.maxAddrsRemembered) set.delete(set.values().next().value!)
      set.add(s)
    }
    return fresh
  }

  #addCandidate(peer: PeerId): void {
    if (!this.#cfg.autoDial || peer.equals(this.#cfg.self)) return
    const k = peer.toString()
    if (this.#conns.has(k) || this.#boot.has(k) || this.#candidates.has(k)) return
    if (this.#candidates.size >= this.#o.maxCandidates) {
      // drop the oldest one not being dialed
      for (const [ok, c] of this.#candidates) {
        if (c.dialing) continue
        this.#candidates.delete(ok)
        break
      }
      if (this.#candidates.size >= this.#o.maxCandidates) return
    }
    this.#candidates.set(k, { peer, failures: 0, retryAt: 0, dialing: false })
  }

  #emit(peer: PeerId, addrs: Multiaddr[], source: DiscoverySource): void {
    this.stats.discovered++
    this.#actions.push({ type: 'event', event: { type: 'discovered', peer, addrs, source } })
  }

  #pump(now: Millis): void {
    if (this.#stopped || !this.#started) return
    for (const [k, b] of this.#boot) {
      if (this.#conns.has(k)) b.retryAt = undefined
      if (b.dialing || b.retryAt === undefined || b.retryAt > now) continue
      const requestId = this.#nextId++
      b.dialing = true
      b.retryAt = undefined
      this.#dials.set(requestId, { k, boot: true })
      this.stats.bootstrapDials++
      this.#actions.push({ type: 'dial', requestId, peer: b.peer, addrs: b.addrs })
    }
    if (!this.#cfg.autoDial) return
    for (const [k, c] of this.#candidates) {
      if (!this.#wantsAutoDial()) break
      if (c.dialing || c.retryAt > now) continue
      if (this.#conns.has(k)) {
        this.#candidates.delete(k)
        continue
      }
      const requestId = this.#nextId++
      c.dialing = true
      this.#autoInFlight++
      this.#dials.set(requestId, { k, boot: false })
      this.stats.autoDials++
      this.#actions.push({ type: 'dial', requestId, peer: c.peer })
    }
  }
}

/** What `wireDiscovery` needs of the node (WeftNode has it). */
interface WiredNode {
  on(type: 'peer:discovery', l: (d: { peer: PeerId; addrs: Multiaddr[]; source: DiscoverySource }) => void): () => void
  on(type: 'peer:identify', l: (d: { peer: PeerId }) => void): () => void
}

/**
 * The edge's part: discoveries made outside the swarm (mDNS, rendezvous) become auto-dial
 * candidates, and the first identified bootstrap peer starts the DHT's bootstrap (a self lookup
 * and then the periodic refresh: random walks) when the node has a `dht` service.
 */
export function wireDiscovery(node: WiredNode, d: DiscoveryBehaviour, run: (f: (now: Millis) => void) => void, dht: (() => { bootstrap(o?: { signal?: AbortSignal }): Promise<unknown> } | undefined)): void {
  node.on('peer:discovery', (ev) => {
    if (ev.source === 'mdns' || ev.source === 'rendezvous') run((now) => d.candidate(now, ev.peer, ev.addrs))
  })
  if (!d.hasBootstrap) return
  let kicked = false
  node.on('peer:identify', ({ peer }) => {
    if (kicked || !d.isBootstrap(peer)) return
    const api = dht()
    if (api === undefined) return
    kicked = true
    api.bootstrap().catch(() => { kicked = false })
  })
}

/** What the node hands `createDiscovery` (NodeInternals.discovery). */
export interface DiscoveryInit {
  self: PeerId
  options: DiscoveryOptions
  lowWater: () => number
  /** Random bytes (the node's crypto provider): the jitter's source. */
  random: (n: number) => Uint8Array
}

/**
 * The discovery behaviour of a node (weft/node passes this as NodeInternals.discovery; weft/browser
 * does not, so a browser bundle does not carry it). A bootstrap address without /p2p: UsageError.
 */
export function createDiscovery(init: DiscoveryInit): DiscoveryBehaviour {
  const a = init.options.autoDial
  return new DiscoveryBehaviour({
    self: init.self,
    bootstrap: parseBootstrap(init.options.bootstrap ?? []),
    autoDial: a !== undefined && a !== false,
    ...(typeof a === 'object' ? { autoDialOptions: a } : {}),
    lowWater: init.lowWater,
    random: () => {
      const b = init.random(4)
      return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 0x1_0000_0000
    },
  })
}

function positiveInt(n: number, name: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`discovery ${name} must be a positive integer`)
  return n
}
