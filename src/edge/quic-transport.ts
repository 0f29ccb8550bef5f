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
  /** Kernel receive/send buffer per UDP socket, bytes (default `DEFAULT_QUIC_SOCKET_BUFFER_SIZE`, 4 MiB; 0: the OS default; at most 64 MiB). */
  socketBufferSize?: number
}

/**
 * quic()'s kernel UDP receive/send buffer per socket when `socketBufferSize` is not given: 4 MiB.
 * The OS caps it (Linux: net.core.rmem_max / wmem_max; a request above the cap gets the cap), so
 * it never exceeds what the administrator allows. With 64 KB datagrams (the path-MTU search's
 * reach on loopback) Linux's ~208 KiB default holds three of them: every burst the reader is late
 * for drops datagrams and halves the congestion window (bench/README.md "QUIC throughput").
 */
export const DEFAULT_QUIC_SOCKET_BUFFER_SIZE = 4 << 20

/** The QUIC v1 transport: listens on and dials `/ip4|ip6/<host>/udp/<port>/quic-v1`. */
export function quic(options: QuicTransportOptions = {}): QuicTransport {
  const t = udpTransport({
    protocol: 'quic-v1',
    ...(options.maxPendingSends !== undefined ? { maxPendingSends: options.maxPendingSends } : {}),
    socketBufferSize: options.socketBufferSize ?? DEFAULT_QUIC_SOCKET_BUFFER_SIZE,
    router: (listening, moved) => quicRouter({
      crypto: nodeTlsCrypto, wallClock, listening, moved,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.connection !== undefined ? { connection: options.connection } : {}),
    }),
  })
  return Object.assign(t, { holePunch: (addr: Multiaddr, o?: UdpPunchOptions): UdpPunch => udpHolePunch(t, addr, o) })
}
