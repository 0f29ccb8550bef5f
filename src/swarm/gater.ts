/**
 * The connection gater: allow and deny lists by peer id, IP, CIDR and multiaddr, checked at the earliest
 * point each entry can be decided (spec/connection-manager.md, "Gater and per-IP limits"):
 *
 * - `allowAccept(remoteAddr)`: a socket was accepted, before Noise (IP, CIDR and address entries);
 * - `allowPeer(peer, remoteAddr)`: after Noise, the peer is known (peer entries, address+peer entries);
 * - `allowDial(peer, addr)`: before each address of a dial is tried (every kind of entry).
 *
 * Semantics: deny wins over allow. The allow list does not restrict who may connect: it exempts what it
 * names from the per-IP connection limits and rate limits (like go-libp2p's resource manager allowlist).
 * An allow-listed IP or CIDR is exempt from the moment the socket is accepted; an allow-listed peer id
 * only once Noise has proven it (the per-IP checks at accept time see no peer yet: allow-list the IP for
 * that).
 *
 * Entries are text (the CLI's `--deny` / `--allow`, `createNode({ gater })`, `node.gater.deny(...)`):
 *
 * | text | kind | matches |
 * |---|---|---|
 * | `12D3KooW...`, `bafz...`, `/p2p/12D3KooW...` | peer | that peer id |
 * | `1.2.3.4`, `2001:db8::1`, `/ip4/1.2.3.4`, `/ip6/2001:db8::1` | cidr (full length) | that IP |
 * | `10.0.0.0/8`, `2001:db8::/32`, `/ip4/10.0.0.0/ipcidr/8` | cidr | every IP in the range (host bits ignored) |
 * | `/ip4/1.2.3.4/tcp/4001`, `/dns4/example.com` | multiaddr | addresses that start with these components |
 * | `/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW...` | multiaddr + peer | that peer at addresses starting so |
 *
 * IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) match IPv4 entries. Malformed text throws
 * `UsageError('gater/invalid-entry')` (its cause is the multiaddr or peer-id error); a list past
 * `maxEntries` throws `UsageError('gater/too-many-entries')`.
 */
import { UsageError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import { PeerId } from '../peer-id/index.js'
import { formatIp, ipOf, maskIp, type Ip } from './ip-limits.js'

/** Options of the connection gater (spec/swarm.md "Admission"): entries are peer ids or CIDR ranges. */
export interface GaterOptions {
  /** Entries exempt from the per-IP and rate limits (deny wins over allow). */
  allow: readonly string[]
  /** Entries refused: sockets closed before Noise, peers refused after Noise (GoAway 0x1007), dials refused. */
  deny: readonly string[]
  /**
   * Entries per list, default 10,000: an application that adds a deny entry for every misbehaving peer
   * or address (a remote can make it add one per identity) cannot grow the lists, and the time each
   * check takes, without end.
   */
  maxEntries: number
}

/** Default `GaterOptions`: nothing allowed or denied, at most 10 000 entries. */
export const DEFAULT_GATER_OPTIONS: GaterOptions = { allow: [], deny: [], maxEntries: 10_000 }

/** The `UsageError` codes of the gater: an entry that is neither a peer id nor a CIDR, or a full list. */
export type GaterErrorCode = 'gater/invalid-entry' | 'gater/too-many-entries'

/** One allow or deny entry: a peer id, or an IP range in CIDR notation. */
export type GaterEntry =
  | { kind: 'peer'; peer: string }
  | { kind: 'cidr'; ip: Ip; bits: number }
  | { kind: 'multiaddr'; addr: Multiaddr; peer: string | undefined }

/** Which list an entry goes to: `allow` (exempt from per-IP and rate limits) or `deny` (refused; wins over allow). */
export type GaterList = 'allow' | 'deny'

const IPCIDR = 43

function invalid(text: string, why: string, cause?: unknown): UsageError {
  return new UsageError('gater/invalid-entry', `${JSON.stringify(text.slice(0, 100))}: ${why}`, cause === undefined ? undefined : { cause })
}

/** The IP of an /ip4 or /ip6 component, not unmapped (an entry keeps the family it was written in until `cidr`). */
function componentIp(c: { code: number; bytes: Uint8Array }): Ip | undefined {
  return c.code === 4 ? { family: 4, bytes: c.bytes } : c.code === 41 ? { family: 6, bytes: c.bytes } : undefined
}

function parseIpText(text: string): Ip | undefined {
  try {
    return componentIp(Multiaddr.fromString(`/ip${text.includes(':') ? 6 : 4}/${text}`).components()[0]!)
  } catch {
    return undefined
  }
}

/** A CIDR entry; an IPv4-mapped IPv6 range of length >= 96 is stored as the IPv4 range it maps (remote IPs are unmapped). */
function cidr(text: string, ip: Ip, bits: number): GaterEntry {
  const full = ip.family === 4 ? 32 : 128
  if (!(bits >= 0 && bits <= full)) throw invalid(text, `prefix length must be 0..${full}`)
  const b = ip.bytes
  if (ip.family === 6 && bits >= 96 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { kind: 'cidr', ip: { family: 4, bytes: maskIp(b.slice(12), bits - 96) }, bits: bits - 96 }
  }
  return { kind: 'cidr', ip: { family: ip.family, bytes: maskIp(b, bits) }, bits }
}

/** Parse one entry (see the header for the forms). Throws UsageError('gater/invalid-entry'). */
export function parseGaterEntry(text: string): GaterEntry {
  if (typeof text !== 'string') throw new TypeError('a gater entry must be a string')
  const t = text.trim()
  if (t === '') throw invalid(text, 'empty')
  if (t.startsWith('/')) {
    let addr: Multiaddr
    try {
      addr = Multiaddr.fromString(t)
    } catch (e) {
      throw invalid(text, 'not a multiaddr', e)
    }
    const peer = addr.getPeerId()
    const rest = addr.withoutPeerId()
    if (rest.isEmpty()) {
      if (peer === undefined) throw invalid(text, 'names no peer and no address')
      return { kind: 'peer', peer }
    }
    const cs = rest.components()
    const ip = componentIp(cs[0]!)
    if (peer === undefined && ip !== undefined) {
      if (cs.length === 1) return cidr(text, ip, ip.family === 4 ? 32 : 128)
      if (cs.length === 2 && cs[1]!.code === IPCIDR) return cidr(text, ip, cs[1]!.bytes[0]!)
    }
    if (cs.some((c) => c.code === IPCIDR)) throw invalid(text, '/ipcidr must directly follow the only /ip4 or /ip6 component')
    return { kind: 'multiaddr', addr: rest, peer }
  }
  const slash = t.indexOf('/')
  const ip = parseIpText(slash < 0 ? t : t.slice(0, slash))
  if (ip !== undefined) {
    if (slash < 0) return cidr(text, ip, ip.family === 4 ? 32 : 128)
    const len = t.slice(slash + 1)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(len)) throw invalid(text, `prefix length ${JSON.stringify(len)} is not a number`)
    return cidr(text, ip, Number(len))
  }
  try {
    return { kind: 'peer', peer: PeerId.parse(t).toString() }
  } catch (e) {
    throw invalid(text, 'neither a peer id, an IP, a CIDR nor a multiaddr', e)
  }
}

/** The canonical text of an entry: its identity in a list (`1.2.3.4`, `10.0.0.0/8`, a base58 peer id, a multiaddr). */
export function formatGaterEntry(e: GaterEntry): string {
  switch (e.kind) {
    case 'peer': return e.peer
    case 'cidr': return e.bits === (e.ip.family === 4 ? 32 : 128) ? formatIp(e.ip) : `${formatIp(e.ip)}/${e.bits}`
    case 'multiaddr': return e.peer === undefined ? e.addr.toString() : `${e.addr.toString()}/p2p/${e.peer}`
  }
}

/** One list: peers in a set, CIDRs indexed by family and length, multiaddr entries scanned in order. */
class EntryList {
  readonly #entries = new Map<string, GaterEntry>()
  readonly #peers = new Set<string>()
  /** `${family}/${bits}` -> that family and length, and the masked IP texts of its entries. */
  readonly #cidrs = new Map<string, { family: 4 | 6; bits: number; ips: Set<string> }>()
  readonly #addrs = new Map<string, { addr: Multiaddr; peer: string | undefined }>()

  get size(): number {
    return this.#entries.size
  }

  has(key: string): boolean {
    return this.#entries.has(key)
  }

  add(key: string, e: GaterEntry): void {
    this.#entries.set(key, e)
    if (e.kind === 'peer') this.#peers.add(e.peer)
    else if (e.kind === 'cidr') {
      const k = `${e.ip.family}/${e.bits}`
      let s = this.#cidrs.get(k)
      if (s === undefined) this.#cidrs.set(k, (s = { family: e.ip.family, bits: e.bits, ips: new Set() }))
      s.ips.add(formatIp(e.ip))
    } else this.#addrs.set(key, { addr: e.addr, peer: e.peer })
  }

  delete(key: string): boolean {
    const e = this.#entries.get(key)
    if (e === undefined) return false
    this.#entries.delete(key)
    if (e.kind === 'peer') this.#peers.delete(e.peer)
    else if (e.kind === 'cidr') {
      const k = `${e.ip.family}/${e.bits}`
      const s = this.#cidrs.get(k)
      s?.ips.delete(formatIp(e.ip))
      if (s?.ips.size === 0) this.#cidrs.delete(k)
    } else this.#addrs.delete(key)
    return true
  }

  keys(): string[] {
    return [...this.#entries.keys()]
  }

  hasPeer(peer: string): boolean {
    return this.#peers.has(peer)
  }

  hasIp(ip: Ip): boolean {
    for (const { family, bits, ips } of this.#cidrs.values()) {
      if (family === ip.family && ips.has(formatIp({ family, bytes: maskIp(ip.bytes, bits) }))) return true
    }
    return false
  }

  /**
   * An address entry matches `addr` (and `peer`, when the entry names one). `peer` undefined means
   * not known yet: entries naming a peer do not match.
   */
  hasAddr(addr: Multiaddr, peer: string | undefined): boolean {
    if (this.#addrs.size === 0) return false
    const cs = addr.components()
    for (const { addr: prefix, peer: p } of this.#addrs.values()) {
      if (p !== undefined && p !== peer) continue
      const ps = prefix.components()
      if (ps.length > cs.length) continue
      if (ps.every((c, i) => c.code === cs[i]!.code && c.value === cs[i]!.value)) return true
    }
    return false
  }

  /** Whether anything in this list names (`addr`, `peer`); `peer` undefined = not known yet. */
  matches(addr: Multiaddr | undefined, peer: string | undefined): boolean {
    if (peer !== undefined && this.#peers.has(peer)) return true
    if (addr === undefined) return false
    const ip = ipOf(addr)
    if (ip !== undefined && this.hasIp(ip)) return true
    return this.hasAddr(addr.withoutPeerId(), peer)
  }
}

/**
 * The connection gater (`node.gater`): denies peers and IP ranges before any handshake work, and exempts allowed ones from the per-IP limits. Changes apply at once.
 */
export class Gater {
  readonly maxEntries: number
  readonly #allow = new EntryList()
  readonly #deny = new EntryList()

  constructor(options: Partial<GaterOptions> = {}) {
    const o = { ...DEFAULT_GATER_OPTIONS, ...options }
    if (!(o.maxEntries >= 0)) throw new RangeError(`gater.maxEntries must be >= 0, got ${o.maxEntries}`)
    this.maxEntries = o.maxEntries
    for (const e of o.allow) this.allow(e)
    for (const e of o.deny) this.deny(e)
  }

  /** Deny `entry` (see the header for the forms); returns its canonical text. Idempotent. */
  deny(entry: string): string {
    return this.#add(this.#deny, entry)
  }

  /** Exempt `entry` from the per-IP and rate limits; returns its canonical text. Idempotent. */
  allow(entry: string): string {
    return this.#add(this.#allow, entry)
  }

  /** Remove `entry` from `list` (both when omitted); true when something was removed. */
  remove(entry: string, list?: GaterList): boolean {
    const key = formatGaterEntry(parseGaterEntry(entry))
    const a = list !== 'deny' && this.#allow.delete(key)
    const d = list !== 'allow' && this.#deny.delete(key)
    return a || d
  }

  /** The entries of both lists, in canonical text. */
  list(): { allow: string[]; deny: string[] } {
    return { allow: this.#allow.keys(), deny: this.#deny.keys() }
  }

  #add(to: EntryList, text: string): string {
    const e = parseGaterEntry(text)
    const key = formatGaterEntry(e)
    if (to.has(key)) return key
    if (to.size >= this.maxEntries) throw new UsageError('gater/too-many-entries', `the list holds ${this.maxEntries} entries already (gater.maxEntries)`)
    to.add(key, e)
    return key
  }

  /** An accepted socket from `remoteAddr`, before Noise: false when an IP, CIDR or address entry denies it. */
  allowAccept(remoteAddr: Multiaddr): boolean {
    return !this.#deny.matches(remoteAddr, undefined)
  }

  /** After Noise: false when `peer` (or `peer` at `remoteAddr`) is denied. */
  allowPeer(peer: PeerId | string, remoteAddr?: Multiaddr): boolean {
    return !this.#deny.matches(remoteAddr, peer.toString())
  }

  /** Before dialing `addr` (for `peer`, or the /p2p in `addr`): false when any entry denies it. */
  allowDial(peer: PeerId | string | undefined, addr: Multiaddr): boolean {
    return !this.#deny.matches(addr, peer?.toString() ?? addr.getPeerId())
  }

  /** Exempt from the per-IP and rate limits: allow-listed and not denied. `peer` when known (after Noise). */
  isAllowlisted(remoteAddr: Multiaddr | undefined, peer?: PeerId | string): boolean {
    const p = peer?.toString()
    return this.#allow.matches(remoteAddr, p) && !this.#deny.matches(remoteAddr, p)
  }
}
