/**
 * libp2p TLS as a connection's secure channel (`/tls/1.0.0`, tls.md): a TlsSession (TLS 1.3 over
 * the byte stream, session.ts) with the libp2p certificate hooks (libp2p-auth.ts) and the muxer
 * carried in ALPN (connections/inlined-muxer-negotiation.md), behind the same small surface as the
 * Noise channel, so the connection upgrade (src/connection/upgrade.ts) runs either:
 *
 *   handleData / handleEof / wantsData / write / pollTransmit   as TlsSession's
 *   pollEvent: 'handshake-complete' { remotePeer, remotePublicKey, remoteStreamMuxers }, 'data', 'eof'
 *
 * `remoteStreamMuxers` is the ALPN result as a list: `[muxer]` when ALPN chose a muxer (the upgrade
 * skips multistream-select for it), `[]` when it chose `libp2p` (negotiate the muxer with
 * multistream-select inside TLS, as Noise does when the remote lists none).
 */
import type { Millis } from '../core/byte-machine.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { TraceHook } from '../core/trace.js'
import type { PeerId, PrivateKey, PublicKey } from '../peer-id/index.js'
import type { HostCertificate } from './certificate.js'
import { tlsError } from './errors.js'
import { LIBP2P_ALPN, alpnFor, libp2pTlsAuth, type Libp2pTlsAuth } from './libp2p-auth.js'
import { TlsSession, type TlsSessionOptions } from './session.js'

/** The configuration of `libp2pTls`: what every connection's `/tls/1.0.0` channel shares. */
export interface ConnectionTlsOptions {
  /** AES-GCM, P-256 and the base provider (src/io/crypto-tls-node.ts on Node). */
  crypto: TlsCrypto
  /** Wall-clock ms since the Unix epoch, for the peer certificate's validity window. */
  wallClock: () => number
  /** Our certificate, made once per node (the spec allows reuse); default: a fresh one per connection. */
  certificate?: HostCertificate | undefined
  /** The record layer's limits (defaults in session.ts). */
  session?: Pick<TlsSessionOptions, 'maxBufferedData' | 'maxEmptyRecords' | 'keyUpdateAfter' | 'limits'>
}

/** What one connection adds to the shared configuration. */
export interface TlsChannelParams {
  /** dialer = TLS client. */
  role: 'dialer' | 'listener'
  identity: PrivateKey
  expectedRemotePeer?: PeerId | undefined
  /** Muxers offered in ALPN before `libp2p`, most preferred first; [] = only `libp2p`. */
  streamMuxers: readonly string[]
  /** The traffic secrets for a key log (spec/trace.md "Keylog"; TlsSessionOptions.keylog). Secrets. */
  keylog?: TlsSessionOptions['keylog']
  /** The connection's trace hook (spec/trace.md): the handshake messages as `tls-message` events. */
  trace?: TraceHook | undefined
}

/** Options of one channel. */
export interface Libp2pTlsChannelOptions extends ConnectionTlsOptions, TlsChannelParams {}

/**
 * Opens a connection's `/tls/1.0.0` channel (ConnectionOptions.tls). A factory rather than the
 * configuration itself so that the connection core does not import the TLS stack: a build that never
 * offers TLS (weft/browser) does not carry it.
 */
export interface TlsChannelFactory {
  open(params: TlsChannelParams): Libp2pTlsChannel
}

/** The factory of channels sharing `config` (weft/node builds one per node, with one certificate). */
export function libp2pTls(config: ConnectionTlsOptions): TlsChannelFactory {
  return { open: (params) => new Libp2pTlsChannel({ ...config, ...params }) }
}

/** The channel's events: the Noise channel's shapes (src/noise/connection.ts NoiseEvent). */
export type Libp2pTlsChannelEvent =
  | { type: 'handshake-complete'; remotePeer: PeerId; remotePublicKey: PublicKey; remoteStreamMuxers: string[] }
  | { type: 'data'; data: Uint8Array }
  | { type: 'eof' }

/** The handshake's trace callback feeding a connection's trace hook. */
const tlsTrace = (t: TraceHook): NonNullable<TlsSessionOptions['trace']> => (dir, level, message) => t({ kind: 'tls-message', dir, level, message })

/** `/tls/1.0.0` over a byte stream (see the file header). */
export class Libp2pTlsChannel {
  readonly #session: TlsSession
  readonly #auth: Libp2pTlsAuth
  #remote: { peer: PeerId; key: PublicKey } | undefined

  constructor(opts: Libp2pTlsChannelOptions) {
    this.#auth = libp2pTlsAuth({ identity: opts.identity, crypto: opts.crypto, wallClock: opts.wallClock, expectedPeer: opts.expectedRemotePeer, certificate: opts.certificate })
    this.#session = new TlsSession({
      ...opts.session,
      role: opts.role === 'dialer' ? 'client' : 'server',
      crypto: opts.crypto,
      certificate: this.#auth.certificate,
      verifyPeer: this.#auth.verifyPeer,
      alpn: alpnFor(opts.streamMuxers),
      ...(opts.keylog !== undefined ? { keylog: opts.keylog } : {}),
      ...(opts.trace !== undefined ? { trace: tlsTrace(opts.trace) } : {}),
    })
  }

  /** The authenticated remote, once the handshake completed. */
  get remotePeer(): PeerId | undefined {
    return this.#remote?.peer
  }

  /** The TLS session underneath (ALPN, cipher suite, close_notify, key updates). */
  get session(): TlsSession {
    return this.#session
  }

  /** Raw bytes from the transport; throws the ProtocolError that fails the connection (its alert is queued in pollTransmit). */
  handleData(now: Millis, data: Uint8Array): void {
    this.#session.handleData(now, data)
  }

  handleEof(now: Millis): void {
    this.#session.handleEof(now)
  }

  wantsData(): boolean {
    return this.#session.wantsData()
  }

  /** Encrypt application bytes at once (the input may be reused after the call). */
  write(plaintext: Uint8Array): void {
    this.#session.write(plaintext)
  }

  pollTransmit(max: number): Uint8Array | undefined {
    return this.#session.pollTransmit(max)
  }

  /** Sends close_notify (RFC 8446 §6.1): the connection closes, we write nothing more. The peer's close_notify is the 'eof' event. */
  close(): void {
    this.#session.close()
  }

  pollEvent(): Libp2pTlsChannelEvent | undefined {
    const ev = this.#session.pollEvent()
    if (ev === undefined) return undefined
    if (ev.type === 'data') return ev
    if (ev.type === 'eof') return { type: 'eof' }
    const remote = this.#auth.remote
    // TlsHandshake completes only after verifyPeer accepted the chain (libp2p requires client certificates)
    if (remote === undefined) throw new Error('bug: the TLS handshake completed without a verified peer')
    this.#remote = { peer: remote.peerId, key: remote.publicKey }
    // tls.md "ALPN": the server MUST abort if it supports none of the client's protocols; a peer that
    // selected none at all did not speak libp2p TLS.
    if (ev.alpn === undefined) throw tlsError('tls/no-application-protocol', 'the peer selected no ALPN protocol')
    return { type: 'handshake-complete', remotePeer: remote.peerId, remotePublicKey: remote.publicKey, remoteStreamMuxers: ev.alpn === LIBP2P_ALPN ? [] : [ev.alpn] }
  }
}
