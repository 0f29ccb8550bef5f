/**
 * Which addresses DCUtR sends and dials (spec/dcutr.md "Addresses"): TCP or QUIC v1 over IPv4 / IPv6
 * / DNS — `<host>/tcp/<port>` or `<host>/udp/<port>/quic-v1` — no relay hop, nothing else on top (a
 * `/ws` address cannot do a TCP simultaneous open, a `/webtransport` one is not a QUIC v1 punch), and
 * no `/p2p/` of any peer but the one expected (rust appends `/p2p/<self>`, go does not).
 */
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'

const HOSTS = new Set<number>([CODE.ip4, CODE.ip6, CODE.dns, CODE.dns4, CODE.dns6])

/** The transports DCUtR punches over: TCP (simultaneous open) and QUIC v1 (punch packets, then a dial). */
export type PunchTransport = 'tcp' | 'quic'

/** `tcp` for `<host>/tcp/<port>`, `quic` for `<host>/udp/<port>/quic-v1` (port not 0), else undefined; a trailing `/p2p/` is ignored. */
export function punchTransport(addr: Multiaddr): PunchTransport | undefined {
  const cs = addr.components()
  const n = cs.length > 0 && cs[cs.length - 1]!.code === CODE.p2p ? cs.length - 1 : cs.length
  if (n < 2 || !HOSTS.has(cs[0]!.code) || cs[1]!.value === '0') return undefined
  if (n === 2 && cs[1]!.code === CODE.tcp) return 'tcp'
  if (n === 3 && cs[1]!.code === CODE.udp && cs[2]!.code === CODE.quicV1) return 'quic'
  return undefined
}

/**
 * `addr` as a punch target for `peer` (without its `/p2p/` suffix), or undefined when DCUtR cannot
 * use it: not `<host>/tcp/<port>[/p2p/<peer>]` or `<host>/udp/<port>/quic-v1[/p2p/<peer>]`, a
 * relayed address, a port 0, or another peer's id.
 */
export function punchTarget(addr: Multiaddr, peer: PeerId | undefined): Multiaddr | undefined {
  if (punchTransport(addr) === undefined) return undefined
  const cs = addr.components()
  if (cs[cs.length - 1]!.code === CODE.p2p) {
    if (peer === undefined || addr.getPeerId() !== peer.toString()) return undefined
    return addr.withoutPeerId()
  }
  return addr
}

/** The usable, distinct punch targets among `addrs`, in order, at most `max`; only over `transports` when given. */
export function punchTargets(addrs: readonly Multiaddr[], peer: PeerId | undefined, max: number, transports?: ReadonlySet<PunchTransport>): Multiaddr[] {
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  for (const a of addrs) {
    if (out.length >= max) break
    const t = punchTarget(a, peer)
    if (t === undefined || (transports !== undefined && !transports.has(punchTransport(t)!))) continue
    const key = t.toString()
    if (seen.has(key)) continue
    seen.add(key)
    out.push(t)
  }
  return out
}

/** `tcp/<port>` or `udp/<port>` of a connection's local address (`<host>/tcp/<port>...`, `<host>/udp/<port>...`), or undefined. */
export function localSocket(addr: Multiaddr | undefined): string | undefined {
  const cs = addr?.components()
  if (cs === undefined || cs.length < 2 || (cs[1]!.code !== CODE.tcp && cs[1]!.code !== CODE.udp)) return undefined
  return `${cs[1]!.code === CODE.tcp ? 'tcp' : 'udp'}/${cs[1]!.value}`
}

/** The `udp/<port>` of each QUIC v1 listen address among `addrs`. */
export function quicListenSockets(addrs: readonly Multiaddr[]): Set<string> {
  const out = new Set<string>()
  for (const a of addrs) if (punchTransport(a) === 'quic') out.add(localSocket(a)!)
  return out
}
