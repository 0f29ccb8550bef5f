/**
 * Address labels of the NAT-traversal families, as go-libp2p derives them. Closed sets; never an
 * address.
 */
import type { Multiaddr } from '../multiaddr/index.js'

/**
 * go's metricshelper.GetTransport: the last of these in the address (p2p-circuit first in go's
 * list, so a relayed address is `p2p-circuit`), else `other`.
 */
export const GO_TRANSPORTS = ['p2p-circuit', 'webrtc', 'webrtc-direct', 'webtransport', 'quic', 'quic-v1', 'wss', 'ws', 'tcp', 'other'] as const
const TRANSPORT_NAMES: ReadonlySet<string> = new Set(GO_TRANSPORTS.slice(0, -1))

export function goTransport(addr: Multiaddr | undefined): string {
  if (addr === undefined) return 'other'
  const names = addr.protos().map((p) => p.name)
  for (let i = names.length - 1; i >= 0; i--) if (TRANSPORT_NAMES.has(names[i]!)) return names[i]!
  return 'other'
}

/** go autonatv2's getIPOrDNSVersion: by the first component; `""` without an address. */
export const IP_OR_DNS_VERSIONS = ['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'unknown', ''] as const

export function ipOrDnsVersion(addr: Multiaddr | undefined): string {
  if (addr === undefined) return ''
  switch (addr.protos()[0]?.name) {
    case 'dns': case 'dnsaddr': return 'dns'
    case 'dns4': return 'dns4'
    case 'dns6': return 'dns6'
    case 'ip4': return 'ip4'
    case 'ip6': return 'ip6'
    default: return 'unknown'
  }
}
