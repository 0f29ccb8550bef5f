/**
 * The libp2p side of one UDP socket's QUIC endpoint (libp2p/specs quic/README.md), pure: a router
 * that the UDP driver (src/io/udp.ts, which knows no protocol) asks where each datagram goes, and the
 * "session seed" each new connection carries to the swarm. The swarm opens the seed with the node's
 * identity (src/swarm/quic-connection.ts): a QuicConnection with ALPN `libp2p` and the libp2p TLS
 * certificate hooks (src/tls/libp2p-auth.ts), whose events the seed passes back to the endpoint
 * (connection ids issued and retired, the peer's reset tokens, handshake confirmation, close).
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import { LIBP2P_ALPN, generateCertificate, libp2pTlsAuth, type HostCertificate, type VerifiedPeer } from '../tls/index.js'
import { QuicConnection, type QuicConnectionEvent, type QuicConnectionOptions, type QuicTlsOptions } from './connection/index.js'
import { QuicEndpoint, type IncomingConnection, type QuicEndpointOptions, type QuicRemote } from './endpoint.js'

/** What a new QUIC connection hands to the swarm (RawConnection.session). */
export interface QuicSessionSeed {
  readonly kind: 'quic-v1'
  readonly role: 'client' | 'server'
  /**
   * Builds the connection at time `now` (the driver's monotonic clock) for our `identity`; a client
   * dialing a known peer passes `expectedPeer` (any other peer fails the handshake).
   */
  open(p: { now: number; identity: PrivateKey; expectedPeer?: PeerId | undefined; keylog?: QuicTlsOptions['keylog'] }): { connection: QuicConnection; remote: () => VerifiedPeer | undefined }
  /** Every event the connection emits, for the endpoint's routing table. */
  notify(event: QuicConnectionEvent): void
}

/** True for a `QuicSessionSeed`. */
export function isQuicSeed(x: unknown): x is QuicSessionSeed {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'quic-v1' && typeof (x as { open?: unknown }).open === 'function'
}

/** Options of `quicRouter`. */
export interface QuicRouterOptions {
  crypto: TlsCrypto
  /** Wall-clock ms since the Unix epoch (the peer certificate's validity window). */
  wallClock: () => number
  /** Whether this socket accepts connections (a listener) or only dials. */
  listening: boolean
  /** The endpoint's options (retry policy, limits, connection id length). */
  endpoint?: Pick<QuicEndpointOptions, 'retry' | 'limits' | 'connectionIdLength'>
  /** The connections' options (limits, stream windows, `keepAliveInterval`: default `DEFAULT_KEEP_ALIVE_INTERVAL`, 0 turns it off). */
  connection?: Pick<QuicConnectionOptions, 'limits' | 'streams' | 'keepAliveInterval'>
  /** The driver sends connection `key`'s datagrams to `to` from now on (the peer's address changed: 'path-changed'). */
  moved?: (key: object, to: QuicRemote) => void
}

/**
 * PING after this long without an ack-eliciting packet (ms): a quiet libp2p connection keeps its
 * NAT bindings (UDP mappings often expire after 30 s) and both idle timers (30 s) alive, as go's
 * libp2p QUIC transport does with the same 15 s period.
 */
export const DEFAULT_KEEP_ALIVE_INTERVAL = 15_000

/** A QuicConnection that learns each datagram's source from the router (the swarm calls `handleDatagram(now, d)` alone). */
class RoutedConnection extends QuicConnection {
  readonly #sourceOf: (d: Uint8Array) => QuicRemote | undefined
  constructor(sourceOf: (d: Uint8Array) => QuicRemote | undefined, o: QuicConnectionOptions) {
    super(o)
    this.#sourceOf = sourceOf
  }

  override handleDatagram(now: number, datagram: Uint8Array, from: QuicRemote | undefined = this.#sourceOf(datagram)): void {
    super.handleDatagram(now, datagram, from)
  }
}

/** Where a datagram goes (the UDP driver's view: `key` names a connection). */
export type QuicRoute =
  | { kind: 'deliver'; key: object }
  | { kind: 'accept'; key: object; session: QuicSessionSeed }
  | { kind: 'reply'; data: Uint8Array }
  | { kind: 'none' }

/** The router of one socket (src/io/udp.ts `DatagramRouter`). */
export interface QuicRouter {
  route(now: number, from: QuicRemote, data: Uint8Array): QuicRoute
  dial(now: number): { key: object; session: QuicSessionSeed }
  closed(key: object): void
  readonly endpoint: QuicEndpoint<object>
}

/** One socket's router: a QuicEndpoint and the seeds of its connections. */
export function quicRouter(o: QuicRouterOptions): QuicRouter {
  const c = o.crypto
  const random = (n: number): Uint8Array => c.base.randomBytes(n)
  const ep = new QuicEndpoint<object>({ ...o.endpoint, crypto: c, random, staticKey: random(32), server: o.listening })
  // where each datagram came from, by identity: the driver hands the connection the very bytes it routed (a path change needs the source, path.ts)
  const sources = new WeakMap<Uint8Array, QuicRemote>()
  const certs = new Map<string, HostCertificate>() // one certificate per identity (the spec allows reuse)
  const certFor = (identity: PrivateKey): HostCertificate => {
    const k = identity.publicKey.toPeerId().toString()
    let cert = certs.get(k)
    if (cert === undefined) {
      if (certs.size >= 4) certs.clear() // a node has one identity; bound the cache anyway
      certs.set(k, (cert = generateCertificate(identity, c)))
    }
    return cert
  }
  const seed = (key: object, role: 'client' | 'server', ids: { local: Uint8Array; incoming?: IncomingConnection }): QuicSessionSeed => ({
    kind: 'quic-v1',
    role,
    open: ({ now, identity, expectedPeer, keylog }) => {
      const auth = libp2pTlsAuth({ identity, crypto: c, wallClock: o.wallClock, expectedPeer, certificate: certFor(identity) })
      const i = ids.incoming
      const connection = new RoutedConnection((d) => sources.get(d), {
        keepAliveInterval: DEFAULT_KEEP_ALIVE_INTERVAL,
        ...o.connection,
        role, crypto: c, random, now,
        tls: { alpn: [LIBP2P_ALPN], certificate: auth.certificate, verifyPeer: auth.verifyPeer, ...(keylog !== undefined ? { keylog } : {}) },
        localConnectionId: ids.local,
        remoteConnectionId: i !== undefined ? i.remoteConnectionId : random(8),
        statelessResetToken: (cid) => ep.resetToken(cid),
        ...(i !== undefined
          ? {
              originalDestinationConnectionId: i.originalDestinationConnectionId, addressValidated: i.addressValidated,
              ...(i.retrySourceConnectionId !== undefined ? { retrySourceConnectionId: i.retrySourceConnectionId } : {}),
            }
          : {}),
      })
      return { connection, remote: () => auth.remote }
    },
    notify: (event) => {
      if (event.kind === 'path-changed') o.moved?.(key, event.remote)
      ep.handleEvent(key, event)
    },
  })
  return {
    endpoint: ep,
    route(now, from, data) {
      const r = ep.handleDatagram(now, from, data)
      switch (r.kind) {
        case 'connection': sources.set(data, { address: from.address, port: from.port }); return { kind: 'deliver', key: r.handle }
        case 'respond': return { kind: 'reply', data: r.datagram }
        case 'drop': return { kind: 'none' }
        case 'accept': {
          const key = {}
          ep.accept(key, r.incoming)
          return { kind: 'accept', key, session: seed(key, 'server', { local: r.incoming.localConnectionId, incoming: r.incoming }) }
        }
      }
    },
    dial() {
      const key = {}
      const local = ep.newConnectionId()
      ep.connect(key, local)
      return { key, session: seed(key, 'client', { local }) }
    },
    closed(key) {
      ep.remove(key)
    },
  }
}
