/**
 * The relay server's limits (spec/relay.md "Relay server", Limits table): options, defaults, and the
 * small pure helpers that enforce them (a token bucket per key, the per-IP key of a connection).
 *
 * Defaults follow go-libp2p v0.48 (`p2p/protocol/circuitv2/relay/resources.go`) except where a
 * comment says why not; the reservation rate limits are rust-libp2p's (go has none).
 */
import type { Millis } from '../core/byte-machine.js'
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import { DEFAULT_RELAY_MESSAGE_LIMITS, type Limit } from './message.js'

/** A token bucket: `burst` requests at once, then one more every `intervalMs`. */
export interface RelayRateLimit {
  burst: number
  intervalMs: number
}

/**
 * Options of the relay server (circuit-v2.md "Reservation", "Connection initiation"; spec/relay.md "Limits"):
 * reservation TTL and count, and the per-circuit duration and byte limits announced to both ends.
 */
export interface RelayServerOptions {
  /** How long a reservation lasts (ms; `expire` = now + this, in whole seconds). Default 1 h (go). */
  reservationTtl?: number
  /** Reservations held at once. Default 128 (go, rust). Stops: one relay's memory and connections
   * (a reservation keeps its peer's connection tagged) growing with the number of peers that ask. */
  maxReservations?: number
  /** Reservations held at once by peers connected from one IP (IPv4 address, IPv6 /56). Default 8
   * (go). Stops: one host minting peer ids to take every reservation slot. */
  maxReservationsPerIp?: number
  /** Circuits (open or being opened) in which one peer is the source or the destination, each counted
   * separately. Default 16 (go). Stops: one peer using the relay's bandwidth for many circuits. */
  maxCircuitsPerPeer?: number
  /** Circuits open or being opened in all. Default 128 (go: none, rust: 16); see spec/relay.md for
   * why. Stops: the relay's bandwidth and memory (each circuit buffers up to a yamux window per
   * direction) growing with the number of reserved peers times maxCircuitsPerPeer. */
  maxCircuits?: number
  /** A circuit's lifetime (ms, sent as `Limit.duration` in whole seconds, rounded up; 0: no limit).
   * Default 2 min (go, rust). Stops: a circuit used as a free permanent tunnel. */
  limitDuration?: number
  /** Bytes a circuit may carry in each direction (sent as `Limit.data`; 0: no limit). Default 128 KiB
   * (go, rust). Stops: bulk transfer through the relay; a circuit is for signalling and hole punching. */
  limitData?: number
  /** An inbound hop stream must deliver its request within this (ms). Default 60 s (go's StreamTimeout,
   * rust's handler timeout). Stops: streams opened and left silent to hold stream slots. */
  hopTimeout?: number
  /** The target must answer the STOP CONNECT within this (ms), stream negotiation included. Default
   * 30 s (go's ConnectTimeout). Stops: a target that never answers holding a circuit slot and the
   * initiator's hop stream. */
  connectTimeout?: number
  /** Reservation requests per peer id. Default burst 30, one more per 2 min (rust). Stops: a peer
   * making the relay sign vouchers in a loop. */
  reservationRatePerPeer?: RelayRateLimit
  /** Reservation requests per IP (IPv4 address, IPv6 /56). Default burst 60, one more per min (rust).
   * Stops: the same from one host with fresh peer ids. */
  reservationRatePerIp?: RelayRateLimit
  /** Addresses put in a reservation (listen and external addresses of the relay). Default 16. Stops:
   * a reservation message over the 4096-byte cap (a client would refuse it) on a multi-homed relay. */
  maxReservationAddrs?: number
  /** Largest hop / stop message read. Default 4096 (go, rust). Stops: buffering large messages. */
  maxMessageSize?: number
  /** Rate limiter entries kept per kind (peer, IP). Default 4096. Stops: the limiter tables growing
   * with every peer id or address that ever asked; beyond it requests are refused until entries refill. */
  maxRateEntries?: number
}

export type ResolvedRelayServerOptions = Required<RelayServerOptions>

/** Default `RelayServerOptions`: 1 h reservations, at most 128, and go-libp2p's circuit limits. */
export const DEFAULT_RELAY_SERVER_OPTIONS: Readonly<ResolvedRelayServerOptions> = Object.freeze({
  reservationTtl: 60 * 60_000,
  maxReservations: 128,
  maxReservationsPerIp: 8,
  maxCircuitsPerPeer: 16,
  maxCircuits: 128,
  limitDuration: 2 * 60_000,
  limitData: 128 * 1024,
  hopTimeout: 60_000,
  connectTimeout: 30_000,
  reservationRatePerPeer: Object.freeze({ burst: 30, intervalMs: 2 * 60_000 }),
  reservationRatePerIp: Object.freeze({ burst: 60, intervalMs: 60_000 }),
  maxReservationAddrs: 16,
  maxMessageSize: DEFAULT_RELAY_MESSAGE_LIMITS.maxMessageSize,
  maxRateEntries: 4096,
})

function int(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`relay server option ${name} must be an integer >= ${min}, got ${v}`)
  return v
}

function rate(name: string, r: RelayRateLimit): RelayRateLimit {
  if (typeof r !== 'object' || r === null) throw new RangeError(`relay server option ${name} must be { burst, intervalMs }`)
  return { burst: int(`${name}.burst`, r.burst, 1), intervalMs: int(`${name}.intervalMs`, r.intervalMs, 1) }
}

/** Defaults filled in and every value checked (RangeError for a bad one). */
export function resolveRelayServerOptions(o: RelayServerOptions = {}): ResolvedRelayServerOptions {
  const d = DEFAULT_RELAY_SERVER_OPTIONS
  return {
    reservationTtl: int('reservationTtl', o.reservationTtl ?? d.reservationTtl, 1000),
    maxReservations: int('maxReservations', o.maxReservations ?? d.maxReservations, 1),
    maxReservationsPerIp: int('maxReservationsPerIp', o.maxReservationsPerIp ?? d.maxReservationsPerIp, 1),
    maxCircuitsPerPeer: int('maxCircuitsPerPeer', o.maxCircuitsPerPeer ?? d.maxCircuitsPerPeer, 1),
    maxCircuits: int('maxCircuits', o.maxCircuits ?? d.maxCircuits, 1),
    limitDuration: int('limitDuration', o.limitDuration ?? d.limitDuration, 0),
    limitData: int('limitData', o.limitData ?? d.limitData, 0),
    hopTimeout: int('hopTimeout', o.hopTimeout ?? d.hopTimeout, 1),
    connectTimeout: int('connectTimeout', o.connectTimeout ?? d.connectTimeout, 1),
    reservationRatePerPeer: rate('reservationRatePerPeer', o.reservationRatePerPeer ?? d.reservationRatePerPeer),
    reservationRatePerIp: rate('reservationRatePerIp', o.reservationRatePerIp ?? d.reservationRatePerIp),
    maxReservationAddrs: int('maxReservationAddrs', o.maxReservationAddrs ?? d.maxReservationAddrs, 1),
    maxMessageSize: int('maxMessageSize', o.maxMessageSize ?? d.maxMessageSize, 64),
    maxRateEntries: int('maxRateEntries', o.maxRateEntries ?? d.maxRateEntries, 1),
  }
}

/** The `limit` sent in reservations, STOP CONNECT and the hop STATUS OK; undefined when both are 0 (none). */
export function circuitLimit(o: Pick<ResolvedRelayServerOptions, 'limitDuration' | 'limitData'>): Limit | undefined {
  if (o.limitDuration === 0 && o.limitData === 0) return undefined
  return { ...(o.limitDuration > 0 ? { duration: durationSeconds(o.limitDuration) } : {}), ...(o.limitData > 0 ? { data: BigInt(o.limitData) } : {}) }
}

/**
 * The addresses a reservation carries: confirmed external ones, then listen ones, without
 * unspecified (0.0.0.0, ::) or relayed (/p2p-circuit) ones, each ending in /p2p/<relay>, without
 * repeats, at most `max`.
 */
export function relayAddrs(external: readonly Multiaddr[], listen: readonly Multiaddr[], self: PeerId, max: number): Multiaddr[] {
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  const suffix = `/p2p/${self.toString()}`
  for (const a of [...external, ...listen]) {
    if (out.length >= max) break
    const cs = a.components()
    const first = cs[0]
    const unspecified = first !== undefined && (first.code === CODE.ip4 || first.code === CODE.ip6) && first.bytes.every((b) => b === 0)
    if (unspecified || cs.some((c) => c.code === CODE.p2pCircuit)) continue
    const full = (a.getPeerId() === undefined ? a : a.withoutPeerId()).encapsulate(suffix)
    const text = full.toString()
    if (seen.has(text)) continue
    seen.add(text)
    out.push(full)
  }
  return out
}

/** The `Limit.duration` we announce (whole seconds, rounded up), and when the circuit must end. */
export function durationSeconds(ms: number): number {
  return Math.min(0xffff_ffff, Math.ceil(ms / 1000))
}

/**
 * The per-IP key of a remote address: the IPv4 address, or the IPv6 /56 (one host's delegation, as
 * the swarm's connection limits count it). Undefined for an address without an IP (a relayed or a
 * DNS-only address): such peers are counted under one shared key by the caller.
 */
export function ipKey(addr: Multiaddr): string | undefined {
  const cs = addr.components()
  const c = cs[0]?.code === CODE.ip6zone ? cs[1] : cs[0]
  if (c === undefined) return undefined
  const b = c.bytes
  if (c.code === CODE.ip4 && b.length === 4) return `${b.join('.')}/32`
  if (c.code !== CODE.ip6 || b.length !== 16) return undefined
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  if (mapped) return `${b.subarray(12).join('.')}/32`
  return `${[...b.subarray(0, 7)].map((x) => x.toString(16).padStart(2, '0')).join('')}::/56`
}

interface Bucket {
  tokens: number
  last: Millis
}

/**
 * Token buckets by key, at most `maxEntries` of them. A bucket that has refilled is the same as no
 * bucket, so refilled ones are dropped when room is needed; when every entry is still draining the
 * request is refused (a table full of hot keys is itself an attack in progress).
 */
export class RateLimiter {
  readonly #limit: RelayRateLimit
  readonly #maxEntries: number
  readonly #buckets = new Map<string, Bucket>()

  constructor(limit: RelayRateLimit, maxEntries: number) {
    this.#limit = limit
    this.#maxEntries = maxEntries
  }

  get size(): number {
    return this.#buckets.size
  }

  #refill(b: Bucket, now: Millis): void {
    const { burst, intervalMs } = this.#limit
    if (now > b.last) {
      b.tokens = Math.min(burst, b.tokens + (now - b.last) / intervalMs)
      b.last = now
    }
  }

  /** Would `key` get a token now? (does not take it) */
  allows(now: Millis, key: string): boolean {
    const b = this.#buckets.get(key)
    if (b === undefined) return this.#buckets.size < this.#maxEntries || this.#sweep(now, 1)
    this.#refill(b, now)
    return b.tokens >= 1
  }

  /** Take a token for `key` (call after `allows` said yes). */
  take(now: Millis, key: string): void {
    let b = this.#buckets.get(key)
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxEntries && !this.#sweep(now, 1)) return
      b = { tokens: this.#limit.burst, last: now }
      this.#buckets.set(key, b)
    }
    this.#refill(b, now)
    b.tokens = Math.max(0, b.tokens - 1)
  }

  /** Drop buckets that have refilled; true when at least `need` slots are free afterwards. */
  #sweep(now: Millis, need: number): boolean {
    for (const [k, b] of this.#buckets) {
      this.#refill(b, now)
      if (b.tokens >= this.#limit.burst) this.#buckets.delete(k)
    }
    return this.#maxEntries - this.#buckets.size >= need
  }

  /** Forget refilled buckets (called from the server's periodic sweep). */
  sweep(now: Millis): void {
    this.#sweep(now, 0)
  }
}
