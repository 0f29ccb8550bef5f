/**
 * The QUIC v1 connection core (RFC 9000, 9001, 9002): one connection, client or server, pure and
 * sans-IO, driven datagram by datagram (spec/quic-connection.md).
 */
export { QuicConnection } from './connection.js'
// the bounded in-order reassembly of a CRYPTO stream (the tracer, src/trace/quic.ts, reassembles with it too)
export { CryptoRecv } from './crypto-stream.js'
export {
  DEFAULT_CONNECTION_LIMITS,
  type QuicCloseInfo, type QuicConnectionEvent, type QuicConnectionLimits, type QuicConnectionOptions, type QuicConnectionState,
  type QuicConnectionStats, type QuicTlsOptions,
} from './options.js'
