/**
 * Per-IP limits on inbound connections (spec/connection-manager.md, "Gater and per-IP limits").
 *
 * Pure: time comes in as `now`; nothing here reads a clock or sets a timer. Three checks, made when a
 * socket is accepted, before Noise (so a refused socket costs no handshake):
 *
 * 1. Concurrency: inbound connections per IPv4 /32 (8), per IPv6 /56 (8) and per IPv6 /48 (64), counted
 *    from accept until close, so handshakes still pending count too (go-libp2p's rcmgr defaults).
 * 2. Rate: a token bucket per prefix, one token per accepted connection (IPv4 /32 0.2/s burst 16; IPv6 /56
 *    0.2/s burst 16; /48 0.5/s burst 80). A connection must pass every bucket of its address; tokens are
 *    taken only when it is admitted.
 * 3. Pending-inbound fairness: the swarm allows `maxPendingInbound` handshakes at once. When they are all
 *    taken and a connection arrives from an address (IPv4 /32, IPv6 /56), it takes the slot of a pending
 *    connection from an address holding more slots than its own (`pollEvict` names the one to close)
 *    instead of being refused: an idle one (no byte received yet) before one whose handshake has started,
 *    then one of the heaviest address, then the oldest. So idle sockets, from one address or from many,
 *    can never lock an honest peer out; this applies to loopback too, which is exempt only from checks 1
 *    and 2. The swarm reports a pending connection's first bytes with `progress(id)`.
 *
 * Exempt connections (loopback when `exemptLoopback`, and whatever the gater's allow list names) skip
 * checks 1 and 2, and are never evicted by check 3.
 */
import type { Millis } from '../core/byte-machine.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { isLimitedAddr } from './limited.js'

/** A token bucket's refill rate (tokens per second) and size. `perSecond: Infinity` disables it. */
export interface RateLimit {
  perSecond: number
  burst: number
}

/** Per-IP admission limits of inbound connections (spec/swarm.md "Limits"). */
export interface IpLimitOptions {
  /** Concurrent inbound connections per IPv4 /32, default 8: one host holding many sockets (or many peer ids) to exhaust slots. */
  maxInboundPerIp4: number
  /** Concurrent inbound connections per IPv6 /56, default 8: one host (a /56 is a typical home delegation) doing the same. */
  maxInboundPerIp6Net56: number
  /** Concurrent inbound connections per IPv6 /48, default 64: one site or ISP customer rotating through its /56s. */
  maxInboundPerIp6Net48: number
  /** New inbound connections per IPv4 /32, default 0.2/s burst 16: connection churn floods (connect, close, repeat). */
  inboundRatePerIp4: RateLimit
  /** New inbound connections per IPv6 /56, default 0.2/s burst 16: the same churn from one IPv6 host. */
  inboundRatePerIp6Net56: RateLimit
  /** New inbound connections per IPv6 /48, default 0.5/s burst 80: churn spread over the /56s of one site. */
  inboundRatePerIp6Net48: RateLimit
  /** Loopback addresses skip the per-IP and rate limits, default true (local tools, tests, sidecars). */
  exemptLoopback: boolean
  /**
   * Rate buckets kept, default 16,384 (least recently used dropped first): an attacker with a large IPv6
   * allocation making one connection from each of millions of /56s cannot grow the table without end.
   * Dropping a bucket only forgets a prefix's history (it starts again with a full burst), which the
   * attacker could have had anyway by using the prefixes that pushed it out.
   */
  maxTrackedPrefixes: number
  /** How often buckets that have refilled to full (equal to no bucket at all) are dropped, default 60 s. */
  bucketSweepMs: number
}

/** Default `IpLimitOptions`. */
export const DEFAULT_IP_LIMITS: IpLimitOptions = {
  maxInboundPerIp4: 8,
  maxInboundPerIp6Net56: 8,
  maxInboundPerIp6Net48: 64,
  inboundRatePerIp4: { perSecond: 0.2, burst: 16 },
  inboundRatePerIp6Net56: { perSecond: 0.2, burst: 16 },
  inboundRatePerIp6Net48: { perSecond: 0.5, burst: 80 },
  exemptLoopback: true,
  maxTrackedPrefixes: 16_384,
  bucketSweepMs: 60_000,
}

/**
 * Why an inbound connection was refused by an IP limit: too many from one address, too fast, or too many still upgrading.
 */
export type IpRefusalCode = 'limits/per-ip' | 'limits/rate' | 'limits/pending-inbound'

export interface IpRefusal {
  code: IpRefusalCode
  message: string
  /** The prefix that was full (`1.2.3.4/32`, `2001:db8::/56`), when the refusal concerns one. */
  prefix?: string
}

/** The IP of an address: its first /ip4 or /ip6 component (after an /ip6zone); IPv4-mapped IPv6 is IPv4. */
export interface Ip {
  family: 4 | 6
  bytes: Uint8Array
}

const IP4 = 4
const IP6 = 41
const IP6ZONE = 42

export function ipOf(addr: Multiaddr): Ip | undefined {
  const cs = addr.components()
  const c = cs[0]?.code === IP6ZONE ? cs[1] : cs[0]
  if (c === undefined) return undefined
  if (c.code === IP4) return { family: 4, bytes: c.bytes }
  if (c.code !== IP6) return undefined
  const b = c.bytes
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  return mapped ? { family: 4, bytes: b.slice(12) } : { family: 6, bytes: b }
}

export function isLoopbackIp(ip: Ip): boolean {
  if (ip.family === 4) return ip.bytes[0] === 127
  return ip.bytes.every((x, i) => x === (i === 15 ? 1 : 0))
}

/** `ip` with every bit after the first `bits` cleared. */
export function maskIp(bytes: Uint8Array, bits: number): Uint8Array {
  const out = bytes.slice()
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    out[i] = out[i]! & ((0xff00 >> keep) & 0xff)
  }
  return out
}

/** Text of an IP (IPv6 as eight hex groups with the longest zero run shortened; for keys and messages). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return ip.bytes.join('.')
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!)
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j === i ? i + 1 : j
  }
  const hex = g.map((x) => x.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** The prefix `ip/bits` as text: the key of its counters and buckets. */
export function prefixText(ip: Ip, bits: number): string {
  return `${formatIp({ family: ip.family, bytes: maskIp(ip.bytes, bits) })}/${bits}`
}

interface Bucket {
  tokens: number
  last: Millis
  limit: RateLimit
}

interface Pending {
  /** The fairness key: IPv4 /32, IPv6 /56, or the whole address when it has no IP. */
  key: string
  seq: number
  /** A byte has arrived: the remote is speaking (an idle socket is evicted first). */
  active: boolean
}

interface Tracked {
  /** Concurrency keys this connection counts against (empty when exempt or without an IP). */
  counted: string[]
  exempt: boolean
  pending: Pending | undefined
}

/** What `IpLimits` wants closed: an evicted pending connection. */
export interface IpEviction {
  connection: number
  message: string
}

export class IpLimits {
  readonly options: IpLimitOptions
  readonly maxPendingInbound: number
  readonly #conns = new Map<number, Tracked>()
  /** Prefix -> concurrent inbound connections (entries only while > 0: bounded by the connection count). */
  readonly #counts = new Map<string, number>()
  /** Prefix -> bucket, in least-recently-used order (a touched bucket moves to the end). */
  readonly #buckets = new Map<string, Bucket>()
  /** Fairness key -> its pending connection ids, oldest first (bounded by maxPendingInbound). */
  readonly #pending = new Map<string, Map<number, Pending>>()
  #pendingCount = 0
  #seq = 0
  readonly #evictions: IpEviction[] = []
  #nextSweep: Millis | undefined

  constructor(options: Partial<IpLimitOptions> = {}, maxPendingInbound = 64) {
    const o = { ...DEFAULT_IP_LIMITS, ...options }
    for (const k of ['maxInboundPerIp4', 'maxInboundPerIp6Net56', 'maxInboundPerIp6Net48', 'maxTrackedPrefixes', 'bucketSweepMs'] as const) {
      if (!(o[k] >= 1)) throw new RangeError(`ipLimits.${k} must be at least 1 (Infinity for no limit), got ${o[k]}`)
    }
    for (const k of ['inboundRatePerIp4', 'inboundRatePerIp6Net56', 'inboundRatePerIp6Net48'] as const) {
      const r = o[k]
      if (!(r.perSecond > 0) || !(r.burst >= 1)) throw new RangeError(`ipLimits.${k} needs perSecond > 0 and burst >= 1`)
    }
    if (!(maxPendingInbound >= 1)) throw new RangeError(`maxPendingInbound must be at least 1, got ${maxPendingInbound}`)
    this.options = o
    this.maxPendingInbound = maxPendingInbound
  }

  /** The concurrency limits and buckets an IP is subject to, as [prefix text, max concurrent, rate]. */
  #rules(ip: Ip): Array<[string, number, RateLimit]> {
    const o = this.options
    if (ip.family === 4) return [[prefixText(ip, 32), o.maxInboundPerIp4, o.inboundRatePerIp4]]
    return [
      [prefixText(ip, 56), o.maxInboundPerIp6Net56, o.inboundRatePerIp6Net56],
      [prefixText(ip, 48), o.maxInboundPerIp6Net48, o.inboundRatePerIp6Net48],
    ]
  }

  /**
   * A socket was accepted from `remoteAddr` (connection `id`). Returns why it must be closed, or
   * undefined when it is admitted (it then counts until `removed(id)`; an eviction it caused comes out
   * of `pollEvict`). `exempt`: allow-listed (skips the per-IP and rate limits, never evicted).
   */
  admitInbound(now: Millis, id: number, remoteAddr: Multiaddr, exempt = false): IpRefusal | undefined {
    if (this.#conns.has(id)) throw new RangeError(`connection ${id} is already admitted`)
    // A relayed connection's address names its relay, not the peer: the per-IP and rate limits do
    // not apply (the relay's own limits do), or one relay would stand for all its circuits.
    const ip = isLimitedAddr(remoteAddr) ? undefined : ipOf(remoteAddr)
    const skip = exempt || ip === undefined || (this.options.exemptLoopback && isLoopbackIp(ip))
    const rules = skip ? [] : this.#rules(ip)
    for (const [prefix, max] of rules) {
      if ((this.#counts.get(prefix) ?? 0) >= max) return { code: 'limits/per-ip', prefix, message: `${max} inbound connections from ${prefix} already` }
    }
    const buckets = rules.map(([prefix, , limit]) => [prefix, this.#refill(now, prefix, limit)] as const)
    for (const [prefix, b] of buckets) {
      if (b !== undefined && b.tokens < 1) return { code: 'limits/rate', prefix, message: `inbound connection rate from ${prefix} over ${b.limit.perSecond}/s (burst ${b.limit.burst})` }
    }
    const key = ip === undefined ? remoteAddr.toString() : ip.family === 4 ? prefixText(ip, 32) : prefixText(ip, 56)
    if (this.#pendingCount >= this.maxPendingInbound) {
      const victim = this.#victim(key, exempt)
      if (victim === undefined) return { code: 'limits/pending-inbound', message: `${this.maxPendingInbound} inbound handshakes pending already` }
      this.#unpend(victim)
      this.#evictions.push({ connection: victim, message: `evicted: its address holds the most of the ${this.maxPendingInbound} pending inbound handshakes` })
    }
    for (const [prefix, b] of buckets) {
      if (b === undefined) continue
      b.tokens -= 1
      this.#touch(now, prefix, b)
    }
    for (const [prefix] of rules) this.#counts.set(prefix, (this.#counts.get(prefix) ?? 0) + 1)
    const pending: Pending = { key, seq: this.#seq++, active: false }
    let set = this.#pending.get(key)
    if (set === undefined) this.#pending.set(key, (set = new Map()))
    set.set(id, pending)
    this.#pendingCount++
    this.#conns.set(id, { counted: rules.map(([p]) => p), exempt, pending })
    return undefined
  }

  /**
   * The pending connection to evict for a newcomer whose fairness key is `key`: among those of addresses
   * holding more pending slots than the newcomer's (any non-exempt one for an exempt newcomer), an idle
   * one first, then one of the heaviest address, then the oldest (a slot held longest is the likeliest
   * idle attacker; an honest handshake takes a few round trips). Exempt connections are never evicted.
   */
  #victim(key: string, exempt: boolean): number | undefined {
    const mine = exempt ? 0 : this.#pending.get(key)?.size ?? 0
    let best: { id: number; active: boolean; n: number; seq: number } | undefined
    for (const set of this.#pending.values()) {
      let n = 0
      for (const id of set.keys()) if (this.#conns.get(id)?.exempt !== true) n++
      if (n <= mine) continue
      for (const [id, p] of set) {
        if (this.#conns.get(id)?.exempt === true) continue
        const better = best === undefined ||
          (p.active !== best.active ? !p.active : n !== best.n ? n > best.n : p.seq < best.seq)
        if (better) best = { id, active: p.active, n, seq: p.seq }
      }
    }
    return best?.id
  }

  /** Pending connection `id` received bytes: it is no longer idle. */
  progress(id: number): void {
    const p = this.#conns.get(id)?.pending
    if (p !== undefined) p.active = true
  }

  #unpend(id: number): void {
    const t = this.#conns.get(id)
    if (t?.pending === undefined) return
    const set = this.#pending.get(t.pending.key)
    set?.delete(id)
    if (set?.size === 0) this.#pending.delete(t.pending.key)
    t.pending = undefined
    this.#pendingCount--
  }

  /** The handshake of `id` finished (Noise done, peer known): it leaves the pending pool, still counts per IP. */
  established(id: number): void {
    this.#unpend(id)
  }

  /** An allow-listed peer proved itself on `id` (after Noise): it stops counting against its prefixes. */
  exempt(id: number): void {
    const t = this.#conns.get(id)
    if (t === undefined) return
    this.#uncount(t)
    t.exempt = true
  }

  /** Connection `id` is gone (closed, refused later, evicted): every admitted id exactly once. */
  removed(id: number): void {
    const t = this.#conns.get(id)
    if (t === undefined) return
    this.#unpend(id)
    this.#uncount(t)
    this.#conns.delete(id)
  }

  #uncount(t: Tracked): void {
    for (const prefix of t.counted) {
      const n = (this.#counts.get(prefix) ?? 1) - 1
      if (n <= 0) this.#counts.delete(prefix)
      else this.#counts.set(prefix, n)
    }
    t.counted = []
  }

  /** A pending connection evicted to make room (close it with the rate-limited code), or undefined. */
  pollEvict(): IpEviction | undefined {
    return this.#evictions.shift()
  }

  /** Bring `prefix`'s bucket up to date; undefined when the limit is off (perSecond Infinity). */
  #refill(now: Millis, prefix: string, limit: RateLimit): Bucket | undefined {
    if (limit.perSecond === Infinity) return undefined
    const b = this.#buckets.get(prefix)
    if (b === undefined) return { tokens: limit.burst, last: now, limit }
    b.tokens = Math.min(limit.burst, b.tokens + (Math.max(0, now - b.last) * limit.perSecond) / 1000)
    b.last = now
    return b
  }

  /** Store `b` as the most recently used bucket, dropping the least recently used one past the bound. */
  #touch(now: Millis, prefix: string, b: Bucket): void {
    this.#buckets.delete(prefix)
    this.#buckets.set(prefix, b)
    while (this.#buckets.size > this.options.maxTrackedPrefixes) this.#buckets.delete(this.#buckets.keys().next().value!)
    this.#nextSweep ??= now + this.options.bucketSweepMs
  }

  pollTimeout(): Millis | undefined {
    return this.#nextSweep
  }

  /** Drop the buckets that have refilled to full (a full bucket is the same as none). */
  handleTimeout(now: Millis): void {
    if (this.#nextSweep === undefined || now < this.#nextSweep) return
    for (const [prefix, b] of this.#buckets) {
      const tokens = b.tokens + (Math.max(0, now - b.last) * b.limit.perSecond) / 1000
      if (tokens >= b.limit.burst) this.#buckets.delete(prefix)
    }
    this.#nextSweep = this.#buckets.size > 0 ? now + this.options.bucketSweepMs : undefined
  }

  /** Counters for tests and `node.resources()`-style reporting. */
  stats(): { connections: number; pending: number; prefixes: number; buckets: number } {
    return { connections: this.#conns.size, pending: this.#pendingCount, prefixes: this.#counts.size, buckets: this.#buckets.size }
  }

  /** Concurrent inbound connections counted against `prefix` (`1.2.3.4/32`, `2001:db8::/56`). */
  count(prefix: string): number {
    return this.#counts.get(prefix) ?? 0
  }

  /** Whether `id` is still pending (admitted, handshake not finished). */
  isPending(id: number): boolean {
    return this.#conns.get(id)?.pending !== undefined
  }
}
