/**
 * The `/quic-v1` transport of weft/node (spec/quic-endpoint.md): UDP sockets (src/io/udp.ts), one
 * QUIC endpoint per socket (src/quic/endpoint.ts through src/quic/libp2p.ts), node:crypto's TLS
 * primitives. Each accepted or dialed connection reaches the swarm as a QUIC session: TLS 1.3 with
 * the libp2p certificate authenticates the peer, and every QUIC stream is one libp2p stream.
 */
import { nodeTlsCrypto } from '../io/crypto-tls-node.js'
import { wallClock } from '../io/clock.js'
import type { Transport } from '../io/transport.js'
import { udpTransport } from '../io/udp.js'
import { udpHolePunch, type UdpPunch, type UdpPunchOptions } from '../io/udp-punch.js'
import type { Multiaddr } from '../multiaddr/index.js'
import { quicRouter, type QuicRouterOptions } from '../quic/index.js'

export type { UdpPunch, UdpPunchOptions } from '../io/udp-punch.js'

/** The QUIC transport `quic()` returns: a Transport, plus DCUtR's hole punch packets. */
export interface QuicTransport extends Transport {
  /**
   * Sends UDP packets of random bytes from the listening socket to `addr`, at random intervals of
   * 10-200 ms, bounded by `options.timeout` (default 5 s) and `options.maxPackets` (default 100),
   * until `stop()`: DCUtR's B opens its NAT toward A, whose QUIC dial then gets through (spec/dcutr.md).
   */
  holePunch(addr: Multiaddr, options?: UdpPunchOptions): UdpPunch
}

/** Options of `quic()`. */
export interface QuicTransportOptions {
  /** The endpoint's address validation ('always' | 'under-load' (default) | 'never') and limits (spec/quic-endpoint.md, Limits). */
  endpoint?: QuicRouterOptions['endpoint']
  /** Each connection's limits, stream windows and `keepAliveInterval` (default 15,000 ms; 0: off) (spec/quic-connection.md). */
  connection?: QuicRouterOptions['connection']
  /** Datagrams queued to a socket and not yet sent before new ones are dropped (default 4096). */
  maxPendingSends?: number
  /** Kernel receive/send buffer per UDP socket, bytes (default 0: the OS default; at most 64 MiB). */
  socketBufferSize?: number
}

/** The QUIC v1 transport: listens on and dials `/ip4|ip6/<host>/udp/<port>/quic-v1`. */
export function quic(options: QuicTransportOptions = {}): QuicTransport {
  const t = udpTransport({
    protocol: 'quic-v1',
    ...(options.maxPendingSends !== undefined ? { maxPendingSends: options.maxPendingSends } : {}),
    ...(options.socketBufferSize !== undefined ? { socketBufferSize: options.socketBufferSize } : {}),
    router: (listening, moved) => quicRouter({
      crypto: nodeTlsCrypto, wallClock, listening, moved,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.connection !== undefined ? { connection: options.connection } : {}),
    }),
  })
  return Object.assign(t, { holePunch: (addr: Multiaddr, o?: UdpPunchOptions): UdpPunch => udpHolePunch(t, addr, o) })
}
