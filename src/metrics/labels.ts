/**
 * Label values derived from a connection or an address, each from a closed set, as go-libp2p
 * derives them (p2p/metricshelper, p2p/net/swarm/swarm_metrics.go) so its dashboards read weft's
 * series the same way. Never a peer id, never an address.
 */
import type { Multiaddr } from '../multiaddr/index.js'

export const DIRECTIONS = ['inbound', 'outbound'] as const
/** ConnectionState.Transport values: go says `tcp` for TCP and `websocket` for ws and wss. */
export const CONN_TRANSPORTS = ['tcp', 'websocket', 'memory', 'other'] as const
/** metricshelper.GetTransport values weft can dial (the last transport protocol of the address). */
export const ADDR_TRANSPORTS = ['tcp', 'ws', 'wss', 'memory', 'other'] as const
export const IP_VERSIONS = ['ip4', 'ip6', 'unknown'] as const
/** Every connection weft makes is secured by Noise (protocol id, as go reports ConnectionState.Security). */
export const SECURITY = '/noise'
/** ...and multiplexed by yamux (ConnectionState.StreamMultiplexer). */
export const MUXER = '/yamux/1.0.0'
export const KEY_TYPES = ['RSA', 'Ed25519', 'Secp256k1', 'ECDSA'] as const

function protocolNames(addr: Multiaddr | undefined): string[] {
  if (addr === undefined) return []
  return addr.protos().map((p) => p.name)
}

/** The connection's transport as go's ConnectionState.Transport names it. */
export function connTransport(addr: Multiaddr | undefined): string {
  const names = protocolNames(addr)
  if (names.includes('ws') || names.includes('wss')) return 'websocket'
  if (names.includes('memory')) return 'memory'
  if (names.includes('tcp')) return 'tcp'
  return 'other'
}

/** metricshelper.GetTransport: the last of the transports weft knows in the address, else `other`. */
export function addrTransport(addr: Multiaddr | undefined): string {
  const names = protocolNames(addr)
  for (let i = names.length - 1; i >= 0; i--) {
    const n = names[i]!
    if (n === 'wss' || n === 'ws' || n === 'tcp' || n === 'memory') return n
  }
  return 'other'
}

/** metricshelper.GetIPVersion: by the first component only: ip4/dns4 (ip4), ip6/dns6 (ip6), else `unknown`. */
export function ipVersion(addr: Multiaddr | undefined): string {
  const n = protocolNames(addr)[0]
  if (n === 'ip4' || n === 'dns4') return 'ip4'
  if (n === 'ip6' || n === 'dns6') return 'ip6'
  return 'unknown'
}
