/**
 * Reachability: whether other peers can dial us, as far as the swarm can tell.
 *
 * weft has no AutoNAT yet, so the swarm does not probe. It keeps a set of *confirmed external
 * addresses* (the term rust-libp2p uses) from two honest sources:
 * 1. addresses the user confirms (`swarm.addExternalAddress`, `node.addExternalAddress`): a port
 *    forward, a public VM's address, what an operator knows;
 * 2. listen addresses whose IP is public (global unicast): a socket bound to such an address is
 *    reachable unless a firewall says otherwise, which we cannot see.
 * Observed addresses from identify are NOT confirmations (a NAT maps each outbound connection to
 * its own port; only a dial-back, i.e. AutoNAT, confirms one).
 *
 * The node counts as *reachable* while the set is non-empty. Behaviours learn the set through the
 * `reachability` input (kad in `mode: 'auto'` serves the DHT only while reachable, as go's
 * ModeAuto does when AutoNAT reports public reachability and rust's `Mode` auto does when the swarm
 * has a confirmed external address).
 */
import { UsageError } from '../core/errors.js'
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import { isLimitedAddr } from './limited.js'

/**
 * True when `addr` starts with a public IP: IPv4 outside the special-purpose ranges of RFC 6890
 * (private, loopback, link-local, CGNAT, documentation, multicast, reserved), or an IPv6 global
 * unicast address (2000::/3) outside the documentation prefix. DNS names, unspecified addresses
 * (0.0.0.0, ::) and everything else: false.
 */
export function isPublicAddr(addr: Multiaddr): boolean {
  const first = addr.components()[0]
  if (first === undefined) return false
  const b = first.bytes
  if (first.code === CODE.ip4) return b.length === 4 && isPublicIp4(b)
  if (first.code === CODE.ip6) return b.length === 16 && isPublicIp6(b)
  return false
}

function isPublicIp4(b: Uint8Array): boolean {
  const [a, c] = [b[0]!, b[1]!]
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false // this network, private, loopback, multicast, reserved
  if (a === 100 && c >= 64 && c < 128) return false // 100.64.0.0/10 CGNAT
  if (a === 169 && c === 254) return false // link-local
  if (a === 172 && c >= 16 && c < 32) return false // private
  if (a === 192 && c === 168) return false // private
  if (a === 192 && c === 0 && (b[2] === 0 || b[2] === 2)) return false // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (c === 18 || c === 19)) return false // benchmarking
  if (a === 198 && c === 51 && b[2] === 100) return false // TEST-NET-2
  if (a === 203 && c === 0 && b[2] === 113) return false // TEST-NET-3
  return true
}

function isPublicIp6(b: Uint8Array): boolean {
  if ((b[0]! & 0xe0) !== 0x20) return false // not 2000::/3 global unicast
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return false // 2001:db8::/32 documentation
  return true
}

/**
 * The confirmed external addresses: the user's confirmations (bounded, without /p2p) followed by
 * the public listen addresses, and whether the set changed since it was last reported.
 */
export class ExternalAddresses {
  readonly #max: number
  readonly #byUser: Multiaddr[] = []
  /** The set last reported to behaviours (undefined before the first report). */
  #reported: Multiaddr[] | undefined

  constructor(max: number) {
    this.#max = max
  }

  /** Confirm `addr`; UsageError beyond the limit. */
  add(addr: Multiaddr): void {
    const a = addr.withoutPeerId()
    if (this.#byUser.some((x) => x.equals(a))) return
    if (this.#byUser.length >= this.#max) throw new UsageError('swarm/too-many-external-addrs', `at most ${this.#max}`)
    this.#byUser.push(a)
  }

  /** Withdraw a confirmation. */
  remove(addr: Multiaddr): void {
    const a = addr.withoutPeerId()
    const i = this.#byUser.findIndex((x) => x.equals(a))
    if (i >= 0) this.#byUser.splice(i, 1)
  }

  /** The user's confirmations, then the public listen addresses. */
  current(listenAddrs: readonly Multiaddr[]): Multiaddr[] {
    const out = [...this.#byUser]
    // a relayed (/p2p-circuit) listen address is reachable through its relay only: not a confirmation
    for (const a of listenAddrs) if (isPublicAddr(a) && !isLimitedAddr(a) && !out.some((x) => x.equals(a))) out.push(a)
    return out
  }

  /** The current set when it differs from the last one reported (now reported), else undefined. */
  takeChange(listenAddrs: readonly Multiaddr[]): Multiaddr[] | undefined {
    const addrs = this.current(listenAddrs)
    const last = this.#reported
    if (last !== undefined && last.length === addrs.length && last.every((a, i) => a.equals(addrs[i]!))) return undefined
    this.#reported = [...addrs]
    return addrs
  }
}
