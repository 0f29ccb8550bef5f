/**
 * Which addresses DCUtR sends and dials (spec/dcutr.md "Addresses"): TCP over IPv4 / IPv6 / DNS, no
 * relay hop, no protocol above TCP (a `/ws` address cannot do a TCP simultaneous open), and no
 * `/p2p/` of any peer but the one expected (rust appends `/p2p/<self>`, go does not).
 */
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'

const HOSTS = new Set<number>([CODE.ip4, CODE.ip6, CODE.dns, CODE.dns4, CODE.dns6])

/**
 * `addr` as a punch target for `peer` (without its `/p2p/` suffix), or undefined when DCUtR cannot
 * use it: not `<host>/tcp/<port>[/p2p/<peer>]`, a relayed address, a port 0, or another peer's id.
 */
export function punchTarget(addr: Multiaddr, peer: PeerId | undefined): Multiaddr | undefined {
  const cs = addr.components()
  if (cs.length < 2 || cs.length > 3) return undefined
  if (!HOSTS.has(cs[0]!.code) || cs[1]!.code !== CODE.tcp || cs[1]!.value === '0') return undefined
  if (cs.length === 3) {
    if (cs[2]!.code !== CODE.p2p) return undefined
    if (peer === undefined || addr.getPeerId() !== peer.toString()) return undefined
    return addr.withoutPeerId()
  }
  return addr
}

/** The usable, distinct punch targets among `addrs`, in order, at most `max`. */
export function punchTargets(addrs: readonly Multiaddr[], peer: PeerId | undefined, max: number): Multiaddr[] {
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  for (const a of addrs) {
    if (out.length >= max) break
    const t = punchTarget(a, peer)
    if (t === undefined) continue
    const key = t.toString()
    if (seen.has(key)) continue
    seen.add(key)
    out.push(t)
  }
  return out
}

/** The TCP port of `addr` (`<host>/tcp/<port>...`), or undefined. */
export function tcpPort(addr: Multiaddr | undefined): number | undefined {
  const cs = addr?.components()
  if (cs === undefined || cs.length < 2 || cs[1]!.code !== CODE.tcp) return undefined
  return Number(cs[1]!.value)
}
