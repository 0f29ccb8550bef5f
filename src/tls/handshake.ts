/**
 * A sans-IO TLS 1.3 handshake (RFC 8446), client and server, at the level of handshake messages:
 * the caller feeds the peer's handshake bytes per level (`handleMessages`) and drains our messages
 * (`pollOutput`) and the traffic secrets and completion (`pollEvent`). QUIC carries those bytes in
 * CRYPTO frames (RFC 9001 §4); TLS over TCP wraps them in records (src/tls/session.ts).
 *
 * Scope (spec/tls13.md): X25519; TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256;
 * CertificateVerify with ecdsa_secp256r1_sha256 or ed25519 through caller hooks; mutual
 * authentication; ALPN; HelloRetryRequest both ways (for the key share or a cookie); no PSK, no
 * 0-RTT, no resumption (NewSessionTicket is read and dropped).
 *
 *   client                                 server
 *   ClientHello             initial  ->
 *                           <- initial     ServerHello (or HelloRetryRequest, then ClientHello again)
 *                           <- handshake   EncryptedExtensions, CertificateRequest, Certificate,
 *                                          CertificateVerify, Finished
 *   Certificate, CertificateVerify, Finished   handshake ->
 *
 * A peer's fault throws a TlsError (ProtocolError('tls', code) with the alert to send); after any
 * throw the handshake is failed and every further input is a UsageError.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import { UsageError } from '../core/errors.js'
import { tlsError } from './errors.js'
import { ByteQueue } from './wire.js'
import {
  decodeAlpn, decodeKeyShareClient, decodeKeyShareHrr, decodeKeyShareServer, decodeNamedGroups, decodeSignatureSchemes,
  decodeSupportedVersionServer, decodeSupportedVersionsClient, decodeCookie, encodeAlpn, encodeCookie, encodeKeyShareClient,
  encodeKeyShareHrr, encodeKeyShareServer, encodeNamedGroups, encodeServerName, encodeSignatureSchemes,
  encodeSupportedVersionServer, encodeSupportedVersionsClient, ExtensionType, GROUP_X25519, TLS13,
} from './extensions.js'
import { applicationSecrets, CIPHER_SUITES, equalBytes, finishedVerifyData, handshakeSecrets, keyLength, type HandshakeSecrets } from './key-schedule.js'
import {
  decodeHandshakeBody, encodeHandshake, findExtension, HandshakeType, HELLO_RETRY_REQUEST_RANDOM, isHelloRetryRequest,
  type Extension, type HandshakeMessage, type MessageLimits,
} from './messages.js'
import {
  DEFAULT_SIGNATURE_SCHEMES, DEFAULT_TLS_LIMITS, type TlsCertificate, type TlsEvent, type TlsHandshakeOptions,
  type TlsLevel, type TlsLimits, type TlsOutput, type VerifyPeer,
} from './types.js'

const EMPTY = new Uint8Array(0)
const LEVELS: readonly TlsLevel[] = ['initial', 'handshake', 'application']

/** The content a CertificateVerify signs (RFC 8446 §4.4.3). */
export function certificateVerifyContent(role: 'server' | 'client', transcriptHash: Uint8Array): Uint8Array {
  const label = new TextEncoder().encode(`TLS 1.3, ${role} CertificateVerify`)
  const out = new Uint8Array(64 + label.length + 1 + transcriptHash.length)
  out.fill(0x20, 0, 64)
  out.set(label, 64)
  out.set(transcriptHash, 64 + label.length + 1)
  return out
}

/** The synthetic message_hash message that replaces ClientHello1 in the transcript after a HelloRetryRequest (RFC 8446 §4.4.1). */
export function messageHash(c: CryptoProvider, clientHello1: Uint8Array): Uint8Array {
  const h = c.sha256(clientHello1)
  const mh = new Uint8Array(4 + h.length)
  mh[0] = HandshakeType.message_hash
  mh[3] = h.length
  mh.set(h, 4)
  return mh
}

type State =
  | 'client-wait-sh' | 'client-wait-ee' | 'client-wait-cert-cr' | 'client-wait-cert' | 'client-wait-cv' | 'client-wait-finished'
  | 'server-wait-ch' | 'server-wait-cert' | 'server-wait-cv' | 'server-wait-finished'
  | 'connected' | 'failed'

/** The level the peer's next handshake message must arrive at, per state. */
const READ_LEVEL: Record<State, TlsLevel | undefined> = {
  'client-wait-sh': 'initial',
  'client-wait-ee': 'handshake',
  'client-wait-cert-cr': 'handshake',
  'client-wait-cert': 'handshake',
  'client-wait-cv': 'handshake',
  'client-wait-finished': 'handshake',
  'server-wait-ch': 'initial',
  'server-wait-cert': 'handshake',
  'server-wait-cv': 'handshake',
  'server-wait-finished': 'handshake',
  connected: 'application',
  failed: undefined,
}

/** The TLS 1.3 handshake of one connection, as a client or a server (see the file header). */
export class TlsHandshake {
  readonly #role: 'client' | 'server'
  readonly #crypto: TlsCrypto
  readonly #certificate: TlsCertificate | undefined
  readonly #verifyPeer: VerifyPeer
  readonly #alpn: readonly string[]
  readonly #requireClientCertificate: boolean
  readonly #serverName: string | undefined
  readonly #quicParams: Uint8Array | undefined
  readonly #suites: readonly number[]
  readonly #schemes: readonly number[]
  readonly #limits: TlsLimits
  readonly #messageLimits: MessageLimits
  readonly #random: Uint8Array
  readonly #keylog: TlsHandshakeOptions['keylog']
  readonly #trace: TlsHandshakeOptions['trace']
  readonly #keyShare: Uint8Array
  #state: State
  readonly #in = new Map<TlsLevel, ByteQueue>()
  readonly #out: TlsOutput[] = []
  readonly #events: TlsEvent[] = []
  /** The transcript: every handshake message so far (ClientHello1 replaced by message_hash after a HelloRetryRequest). */
  #transcript: Uint8Array[] = []
  #suite = 0
  #secrets: HandshakeSecrets | undefined
  #clientHello: Extract<HandshakeMessage, { type: 'client_hello' }> | undefined
  #retried = false
  #sentShare = false
  #peerChain: Uint8Array[] = []
  #peerSchemes: readonly number[] = []
  #certRequested = false
  #negotiatedAlpn: string | undefined
  #peerQuicParams: Uint8Array | undefined
  #serverFinishedHash: Uint8Array | undefined

  constructor(options: TlsHandshakeOptions) {
    if (options.role !== 'client' && options.role !== 'server') throw new TypeError(`role must be 'client' or 'server'`)
    this.#role = options.role
    this.#crypto = options.crypto
    this.#certificate = options.certificate
    if (this.#role === 'server' && this.#certificate === undefined) throw new TypeError('a TLS server needs a certificate')
    if (this.#certificate !== undefined && this.#certificate.chain.length === 0) throw new TypeError('certificate.chain is empty')
    this.#verifyPeer = options.verifyPeer
    this.#alpn = [...(options.alpn ?? [])]
    if (this.#alpn.length > 0) encodeAlpn(this.#alpn) // RangeError for a bad name now, not mid-handshake
    this.#requireClientCertificate = options.requireClientCertificate ?? true
    this.#serverName = options.serverName
    this.#quicParams = options.quicTransportParameters
    this.#suites = [...(options.cipherSuites ?? CIPHER_SUITES)]
    for (const s of this.#suites) keyLength(s)
    if (this.#suites.length === 0) throw new RangeError('no cipher suites')
    this.#schemes = [...(options.signatureSchemes ?? DEFAULT_SIGNATURE_SCHEMES)]
    this.#limits = { ...DEFAULT_TLS_LIMITS, ...options.limits }
    for (const [k, v] of Object.entries(this.#limits)) if (!Number.isInteger(v) || v < 1) throw new RangeError(`limits.${k} must be a positive integer`)
    this.#messageLimits = { maxExtensions: this.#limits.maxExtensions, maxCertificates: this.#limits.maxCertificates }
    const base = this.#crypto.base
    this.#random = options.random ?? base.randomBytes(32)
    this.#keylog = options.keylog
    this.#trace = options.trace
    this.#keyShare = options.keyShare?.slice() ?? base.randomBytes(32) // ours to wipe when done
    if (this.#random.length !== 32 || this.#keyShare.length !== 32) throw new RangeError('random and keyShare are 32 bytes')
    if (this.#role === 'client') {
      this.#state = 'client-wait-sh'
      this.#sendClientHello(options.keyShareInFirstHello ?? true, options.middleboxCompat === true ? base.randomBytes(32) : EMPTY, undefined)
    } else {
      this.#state = 'server-wait-ch'
    }
  }

  /** True once the handshake completed (the 'complete' event is queued). */
  get isComplete(): boolean {
    return this.#state === 'connected'
  }

  /** The negotiated cipher suite (0 before the ServerHello). */
  get cipherSuite(): number {
    return this.#suite
  }

  /**
   * QUIC: the peer's raw transport parameters as soon as they arrived (server: with the ClientHello,
   * before its first flight; client: with EncryptedExtensions), before the 'complete' event repeats them.
   */
  get peerTransportParameters(): Uint8Array | undefined {
    return this.#peerQuicParams
  }

  /** The negotiated ALPN protocol as soon as it is known (server: on the ClientHello; client: on EncryptedExtensions). */
  get alpn(): string | undefined {
    return this.#negotiatedAlpn
  }

  /** The level the peer's next handshake bytes are expected at (undefined once failed). */
  get readLevel(): TlsLevel | undefined {
    return READ_LEVEL[this.#state]
  }

  /** Our next handshake message to send, with its level. */
  pollOutput(): TlsOutput | undefined {
    return this.#out.shift()
  }

  /** The next event (secrets in the order to install them, then completion). */
  pollEvent(): TlsEvent | undefined {
    return this.#events.shift()
  }

  /**
   * The peer's handshake bytes at `level` (any split; read during the call only). Throws a TlsError
   * for a peer's fault, after which the handshake is failed.
   */
  handleMessages(level: TlsLevel, bytes: Uint8Array): void {
    if (this.#state === 'failed') throw new UsageError('tls/failed', 'handleMessages after the handshake failed')
    if (!LEVELS.includes(level)) throw new TypeError(`unknown level ${String(level)}`)
    try {
      this.#handle(level, bytes)
    } catch (e) {
      this.#state = 'failed'
      this.#forget()
      throw e
    }
  }

  #handle(level: TlsLevel, bytes: Uint8Array): void {
    if (bytes.length === 0) return
    if (level !== READ_LEVEL[this.#state]) throw tlsError('tls/unexpected-message', `handshake bytes at level ${level} while expecting ${READ_LEVEL[this.#state]}`)
    let q = this.#in.get(level)
    if (q === undefined) this.#in.set(level, (q = new ByteQueue()))
    q.push(bytes)
    while (q.length >= 4) {
      const buf = q.view()
      const length = (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!
      if (length > this.#limits.maxHandshakeMessage) throw tlsError('tls/message-too-large', `handshake message of ${length} bytes > ${this.#limits.maxHandshakeMessage}`)
      if (buf.length < 4 + length) break
      const raw = buf.slice(0, 4 + length)
      q.consume(4 + length)
      const before = READ_LEVEL[this.#state]
      if (this.#trace !== undefined) this.#traced('in', level, raw)
      this.#dispatch(decodeHandshakeBody(raw[0]!, raw.subarray(4), this.#messageLimits), raw)
      // RFC 8446 §5.1: handshake messages must not span a key change
      if (READ_LEVEL[this.#state] !== before && q.length > 0) throw tlsError('tls/unexpected-message', 'handshake data after a key change in the same flight')
    }
    if (q.length > this.#limits.maxBufferedHandshake) throw tlsError('tls/message-too-large', `${q.length} unprocessed handshake bytes`)
  }

  #dispatch(m: HandshakeMessage, raw: Uint8Array): void {
    const expect = (...types: HandshakeMessage['type'][]): void => {
      if (!types.includes(m.type)) throw tlsError('tls/unexpected-message', `${m.type} in state ${this.#state}`)
    }
    switch (this.#state) {
      case 'client-wait-sh': expect('server_hello'); return this.#onServerHello(m as ServerHello, raw)
      case 'client-wait-ee': expect('encrypted_extensions'); return this.#onEncryptedExtensions(m as Msg<'encrypted_extensions'>, raw)
      case 'client-wait-cert-cr': expect('certificate_request', 'certificate')
        return m.type === 'certificate_request' ? this.#onCertificateRequest(m, raw) : this.#onCertificate(m as Msg<'certificate'>, raw)
      case 'client-wait-cert':
      case 'server-wait-cert': expect('certificate'); return this.#onCertificate(m as Msg<'certificate'>, raw)
      case 'client-wait-cv':
      case 'server-wait-cv': expect('certificate_verify'); return this.#onCertificateVerify(m as Msg<'certificate_verify'>, raw)
      case 'client-wait-finished':
      case 'server-wait-finished': expect('finished'); return this.#onFinished(m as Msg<'finished'>, raw)
      case 'server-wait-ch': expect('client_hello'); return this.#onClientHello(m as Msg<'client_hello'>, raw)
      case 'connected':
        // post-handshake: a NewSessionTicket is dropped (no resumption); KeyUpdate is the record layer's (and forbidden in QUIC)
        if (m.type === 'new_session_ticket' && this.#role === 'client') return
        throw tlsError('tls/unexpected-message', `${m.type} after the handshake`)
      case 'failed': throw new UsageError('tls/failed')
    }
  }

  // ---- transcript and output ----------------------------------------------------------------------

  #add(raw: Uint8Array): void {
    this.#transcript.push(raw.slice())
  }

  #hash(): Uint8Array {
    return this.#crypto.base.sha256(concat(this.#transcript))
  }

  #send(level: TlsLevel, m: HandshakeMessage): void {
    const data = encodeHandshake(m)
    if (this.#trace !== undefined) this.#traced('out', level, data)
    this.#add(data)
    this.#out.push({ level, data })
  }

  #secret(level: 'handshake' | 'application', direction: 'read' | 'write', secret: Uint8Array): void {
    this.#events.push({ kind: 'secret', level, direction, suite: this.#suite, secret })
    if (this.#keylog !== undefined) this.#logSecret(level, direction, secret)
  }

  #traced(dir: 'in' | 'out', level: TlsLevel, message: Uint8Array): void {
    try {
      this.#trace!(dir, level, message)
    } catch {
      // tracing never changes behaviour
    }
  }

  /** The key log line of a secret (NSS key log format): named by the ClientHello's random, ours or the client's. */
  #logSecret(level: 'handshake' | 'application', direction: 'read' | 'write', secret: Uint8Array): void {
    const random = this.#role === 'client' ? this.#random : this.#clientHello?.random
    if (random === undefined) return
    const client = (direction === 'write') === (this.#role === 'client')
    const label = level === 'handshake'
      ? (client ? 'CLIENT_HANDSHAKE_TRAFFIC_SECRET' : 'SERVER_HANDSHAKE_TRAFFIC_SECRET')
      : (client ? 'CLIENT_TRAFFIC_SECRET_0' : 'SERVER_TRAFFIC_SECRET_0')
    try {
      this.#keylog!(label, random.slice(), secret.slice())
    } catch {
      // the key log never changes behaviour
    }
  }

  /** After a HelloRetryRequest: ClientHello1 becomes message_hash (RFC 8446 §4.4.1). */
  #replaceFirstHello(): void {
    this.#transcript = [messageHash(this.#crypto.base, this.#transcript[0]!)]
  }

  #sharedSecret(peerShare: Uint8Array): Uint8Array {
    if (peerShare.length !== 32) throw tlsError('tls/illegal-parameter', `X25519 key share of ${peerShare.length} bytes`)
    try {
      return this.#crypto.base.x25519SharedSecret(this.#keyShare, peerShare)
    } catch (e) {
      throw tlsError('tls/invalid-key-share', 'X25519 gave the all-zero secret', e)
    }
  }

  // ---- client ----------------------------------------------------------------------------------

  #sendClientHello(withShare: boolean, sessionId: Uint8Array, cookie: Uint8Array | undefined): void {
    const exts: Extension[] = []
    if (this.#serverName !== undefined) exts.push({ type: ExtensionType.server_name, data: encodeServerName(this.#serverName) })
    exts.push({ type: ExtensionType.supported_groups, data: encodeNamedGroups([GROUP_X25519]) })
    exts.push({ type: ExtensionType.signature_algorithms, data: encodeSignatureSchemes(this.#schemes) })
    if (this.#alpn.length > 0) exts.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(this.#alpn) })
    exts.push({ type: ExtensionType.supported_versions, data: encodeSupportedVersionsClient([TLS13]) })
    if (cookie !== undefined) exts.push({ type: ExtensionType.cookie, data: encodeCookie(cookie) })
    const shares = withShare ? [{ group: GROUP_X25519, keyExchange: this.#crypto.base.x25519PublicKey(this.#keyShare) }] : []
    this.#sentShare = withShare
    exts.push({ type: ExtensionType.key_share, data: encodeKeyShareClient(shares) })
    if (this.#quicParams !== undefined) exts.push({ type: ExtensionType.quic_transport_parameters, data: this.#quicParams })
    const ch: Msg<'client_hello'> = { type: 'client_hello', random: this.#random, sessionId, cipherSuites: [...this.#suites], compressionMethods: Uint8Array.of(0), extensions: exts }
    this.#clientHello = ch
    this.#send('initial', ch)
  }

  #offered(type: number): boolean {
    return this.#clientHello!.extensions.some((e) => e.type === type)
  }

  #onServerHello(sh: ServerHello, raw: Uint8Array): void {
    const ch = this.#clientHello!
    if (!equalBytes(sh.sessionId, ch.sessionId)) throw tlsError('tls/illegal-parameter', 'legacy_session_id_echo differs from ours')
    if (!this.#suites.includes(sh.cipherSuite)) throw tlsError('tls/illegal-parameter', `cipher suite 0x${sh.cipherSuite.toString(16)} not offered`)
    if (sh.compressionMethod !== 0) throw tlsError('tls/illegal-parameter', 'legacy_compression_method is not 0')
    const sv = findExtension(sh.extensions, ExtensionType.supported_versions)
    if (sv === undefined) throw tlsError('tls/protocol-version', 'the server does not speak TLS 1.3 (no supported_versions)')
    if (decodeSupportedVersionServer(sv) !== TLS13) throw tlsError('tls/illegal-parameter', 'supported_versions is not TLS 1.3')
    const hrr = isHelloRetryRequest(sh)
    const allowed: number[] = hrr ? [ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.cookie] : [ExtensionType.supported_versions, ExtensionType.key_share]
    for (const e of sh.extensions) {
      if (!allowed.includes(e.type)) throw tlsError(this.#offered(e.type) ? 'tls/illegal-parameter' : 'tls/unsupported-extension', `extension ${e.type} in ${hrr ? 'HelloRetryRequest' : 'ServerHello'}`)
    }
    if (this.#retried && sh.cipherSuite !== this.#suite) throw tlsError('tls/illegal-parameter', 'ServerHello cipher suite differs from the HelloRetryRequest')
    this.#suite = sh.cipherSuite
    if (hrr) return this.#onHelloRetryRequest(sh, raw)
    const ks = findExtension(sh.extensions, ExtensionType.key_share)
    if (ks === undefined) throw tlsError('tls/missing-extension', 'ServerHello without key_share')
    const share = decodeKeyShareServer(ks)
    if (share.group !== GROUP_X25519 || !this.#sentShare) throw tlsError('tls/illegal-parameter', `key share for group ${share.group} we did not offer`)
    const shared = this.#sharedSecret(share.keyExchange)
    this.#add(raw)
    this.#secrets = handshakeSecrets(this.#crypto.base, shared, this.#hash())
    this.#secret('handshake', 'read', this.#secrets.serverHandshakeTraffic)
    this.#secret('handshake', 'write', this.#secrets.clientHandshakeTraffic)
    this.#state = 'client-wait-ee'
  }

  #onHelloRetryRequest(hrr: ServerHello, raw: Uint8Array): void {
    if (this.#retried) throw tlsError('tls/unexpected-message', 'a second HelloRetryRequest')
    this.#retried = true
    const ks = findExtension(hrr.extensions, ExtensionType.key_share)
    const cookieData = findExtension(hrr.extensions, ExtensionType.cookie)
    let withShare = this.#sentShare
    if (ks !== undefined) {
      const group = decodeKeyShareHrr(ks)
      // RFC 8446 §4.1.4: a group we did not offer, or one we already sent a share for, is illegal_parameter
      if (group !== GROUP_X25519 || this.#sentShare) throw tlsError('tls/illegal-parameter', `HelloRetryRequest for group ${group}`)
      withShare = true
    }
    const cookie = cookieData === undefined ? undefined : decodeCookie(cookieData)
    // ... and an HRR that would not change the ClientHello is illegal_parameter too
    if (ks === undefined && cookie === undefined) throw tlsError('tls/illegal-parameter', 'HelloRetryRequest that changes nothing')
    this.#replaceFirstHello()
    this.#add(raw)
    this.#sendClientHello(withShare, this.#clientHello!.sessionId, cookie)
  }

  #onEncryptedExtensions(ee: Msg<'encrypted_extensions'>, raw: Uint8Array): void {
    const misplaced = [ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.signature_algorithms, ExtensionType.cookie,
      ExtensionType.pre_shared_key, ExtensionType.psk_key_exchange_modes, ExtensionType.signature_algorithms_cert]
    for (const e of ee.extensions) {
      if ((misplaced as number[]).includes(e.type)) throw tlsError('tls/illegal-parameter', `extension ${e.type} in EncryptedExtensions`)
      if (!this.#offered(e.type)) throw tlsError('tls/unsupported-extension', `extension ${e.type} we did not offer`)
    }
    const alpn = findExtension(ee.extensions, ExtensionType.application_layer_protocol_negotiation)
    if (alpn !== undefined) {
      const names = decodeAlpn(alpn)
      if (names.length !== 1 || !this.#alpn.includes(names[0]!)) throw tlsError('tls/illegal-parameter', `the server chose ALPN ${JSON.stringify(names)}`)
      this.#negotiatedAlpn = names[0]
    }
    this.#takeQuicParams(ee.extensions)
    this.#add(raw)
    this.#state = 'client-wait-cert-cr'
  }

  #takeQuicParams(exts: Extension[]): void {
    if (this.#quicParams === undefined) return
    const p = findExtension(exts, ExtensionType.quic_transport_parameters)
    if (p === undefined) throw tlsError('tls/missing-extension', 'no quic_transport_parameters')
    this.#peerQuicParams = p
  }

  #onCertificateRequest(cr: Msg<'certificate_request'>, raw: Uint8Array): void {
    if (cr.context.length !== 0) throw tlsError('tls/illegal-parameter', 'certificate_request_context is not empty in the handshake')
    const sa = findExtension(cr.extensions, ExtensionType.signature_algorithms)
    if (sa === undefined) throw tlsError('tls/missing-extension', 'CertificateRequest without signature_algorithms')
    this.#peerSchemes = decodeSignatureSchemes(sa)
    this.#certRequested = true
    this.#add(raw)
    this.#state = 'client-wait-cert'
  }

  // ---- both roles: the peer's Certificate, CertificateVerify, Finished -----------------------------

  #onCertificate(c: Msg<'certificate'>, raw: Uint8Array): void {
    if (c.context.length !== 0) throw tlsError('tls/illegal-parameter', 'certificate_request_context is not empty')
    this.#add(raw)
    this.#peerChain = c.entries.map((e) => e.data)
    if (c.entries.length === 0) {
      if (this.#role === 'client') throw tlsError('tls/decode-error', 'the server sent no certificate')
      if (this.#requireClientCertificate) throw tlsError('tls/certificate-required', 'the client sent no certificate')
      this.#state = 'server-wait-finished'
      return
    }
    this.#state = this.#role === 'client' ? 'client-wait-cv' : 'server-wait-cv'
  }

  #onCertificateVerify(cv: Msg<'certificate_verify'>, raw: Uint8Array): void {
    if (!this.#schemes.includes(cv.scheme)) throw tlsError('tls/illegal-parameter', `CertificateVerify with scheme 0x${cv.scheme.toString(16)} we did not offer`)
    const content = certificateVerifyContent(this.#role === 'client' ? 'server' : 'client', this.#hash())
    this.#verifyPeer(this.#peerChain, cv.scheme, content, cv.signature)
    this.#add(raw)
    this.#state = this.#role === 'client' ? 'client-wait-finished' : 'server-wait-finished'
  }

  #onFinished(f: Msg<'finished'>, raw: Uint8Array): void {
    const c = this.#crypto.base
    const s = this.#secrets!
    const expected = finishedVerifyData(c, this.#role === 'client' ? s.serverHandshakeTraffic : s.clientHandshakeTraffic, this.#hash())
    if (!equalBytes(expected, f.verifyData)) throw tlsError('tls/decrypt-error', 'Finished verify_data does not match')
    this.#add(raw)
    if (this.#role === 'server') {
      const app = applicationSecrets(c, s.handshakeSecret, this.#serverFinishedHash!)
      this.#secret('application', 'read', app.clientApplicationTraffic)
      return this.#complete()
    }
    this.#serverFinishedHash = this.#hash()
    const app = applicationSecrets(c, s.handshakeSecret, this.#serverFinishedHash)
    this.#secret('application', 'read', app.serverApplicationTraffic)
    if (this.#certRequested) {
      const ours = this.#certificate !== undefined && this.#peerSchemes.includes(this.#certificate.scheme) ? this.#certificate : undefined
      this.#sendCertificate(ours, 'client')
    }
    this.#send('handshake', { type: 'finished', verifyData: finishedVerifyData(c, s.clientHandshakeTraffic, this.#hash()) })
    this.#secret('application', 'write', app.clientApplicationTraffic)
    this.#complete()
  }

  #sendCertificate(cert: TlsCertificate | undefined, role: 'client' | 'server'): void {
    this.#send('handshake', { type: 'certificate', context: EMPTY, entries: (cert?.chain ?? []).map((data) => ({ data, extensions: [] })) })
    if (cert === undefined) return
    const signature = cert.sign(certificateVerifyContent(role, this.#hash()))
    this.#send('handshake', { type: 'certificate_verify', scheme: cert.scheme, signature })
  }

  /** Drops the key share, the handshake secrets and the transcript once they can no longer be used. */
  #forget(): void {
    this.#keyShare.fill(0)
    this.#secrets = undefined
    this.#transcript = []
  }

  #complete(): void {
    this.#forget()
    this.#state = 'connected'
    this.#events.push({ kind: 'complete', alpn: this.#negotiatedAlpn, peerChain: this.#peerChain, cipherSuite: this.#suite, peerTransportParameters: this.#peerQuicParams })
  }

  // ---- server ----------------------------------------------------------------------------------

  #onClientHello(ch: Msg<'client_hello'>, raw: Uint8Array): void {
    const sv = findExtension(ch.extensions, ExtensionType.supported_versions)
    if (sv === undefined || !decodeSupportedVersionsClient(sv).includes(TLS13)) throw tlsError('tls/protocol-version', 'the client does not offer TLS 1.3')
    if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0) throw tlsError('tls/illegal-parameter', 'legacy_compression_methods is not [0]')
    const first = this.#clientHello
    if (first !== undefined) {
      // the second ClientHello (after our HelloRetryRequest) must keep the suites and session id
      if (!equalBytes(first.sessionId, ch.sessionId) || first.cipherSuites.join() !== ch.cipherSuites.join()) throw tlsError('tls/illegal-parameter', 'the second ClientHello changed')
    }
    this.#clientHello = ch
    const suite = this.#retried ? this.#suite : this.#suites.find((s) => ch.cipherSuites.includes(s))
    if (suite === undefined) throw tlsError('tls/handshake-failure', 'no cipher suite in common')
    this.#suite = suite
    const sa = findExtension(ch.extensions, ExtensionType.signature_algorithms)
    if (sa === undefined) throw tlsError('tls/missing-extension', 'ClientHello without signature_algorithms')
    const cert = this.#certificate!
    if (!decodeSignatureSchemes(sa).includes(cert.scheme)) throw tlsError('tls/handshake-failure', `the client does not accept scheme 0x${cert.scheme.toString(16)}`)
    const groups = findExtension(ch.extensions, ExtensionType.supported_groups)
    const ks = findExtension(ch.extensions, ExtensionType.key_share)
    if (groups === undefined || ks === undefined) throw tlsError('tls/missing-extension', 'ClientHello without supported_groups or key_share')
    if (!decodeNamedGroups(groups).includes(GROUP_X25519)) throw tlsError('tls/handshake-failure', 'the client does not support X25519')
    const share = decodeKeyShareClient(ks).find((e) => e.group === GROUP_X25519)
    // ALPN: the first of the client's names that we support (libp2p inlined-muxer-negotiation: the client's preference)
    const alpnData = findExtension(ch.extensions, ExtensionType.application_layer_protocol_negotiation)
    if (alpnData !== undefined && this.#alpn.length > 0) {
      this.#negotiatedAlpn = decodeAlpn(alpnData).find((n) => this.#alpn.includes(n))
      if (this.#negotiatedAlpn === undefined) throw tlsError('tls/no-application-protocol', 'no ALPN protocol in common')
    }
    this.#takeQuicParams(ch.extensions)
    this.#add(raw)
    // key_share before supported_versions, as RFC 8448's traces order them (so a server fed §3's ClientHello answers its exact ServerHello)
    const serverExt = (e: Extension[]): Extension[] => [...e, { type: ExtensionType.supported_versions, data: encodeSupportedVersionServer(TLS13) }]
    if (share === undefined) {
      if (this.#retried) throw tlsError('tls/illegal-parameter', 'no X25519 key share after our HelloRetryRequest')
      this.#retried = true
      this.#replaceFirstHello()
      this.#send('initial', { type: 'server_hello', random: HELLO_RETRY_REQUEST_RANDOM, sessionId: ch.sessionId, cipherSuite: suite, compressionMethod: 0, extensions: serverExt([{ type: ExtensionType.key_share, data: encodeKeyShareHrr(GROUP_X25519) }]) })
      return
    }
    const shared = this.#sharedSecret(share.keyExchange)
    const c = this.#crypto.base
    this.#send('initial', { type: 'server_hello', random: this.#random, sessionId: ch.sessionId, cipherSuite: suite, compressionMethod: 0, extensions: serverExt([{ type: ExtensionType.key_share, data: encodeKeyShareServer({ group: GROUP_X25519, keyExchange: c.x25519PublicKey(this.#keyShare) }) }]) })
    const s = handshakeSecrets(c, shared, this.#hash())
    this.#secrets = s
    this.#secret('handshake', 'write', s.serverHandshakeTraffic)
    this.#secret('handshake', 'read', s.clientHandshakeTraffic)
    const ee: Extension[] = []
    if (this.#negotiatedAlpn !== undefined) ee.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([this.#negotiatedAlpn]) })
    if (this.#quicParams !== undefined) ee.push({ type: ExtensionType.quic_transport_parameters, data: this.#quicParams })
    this.#send('handshake', { type: 'encrypted_extensions', extensions: ee })
    if (this.#requireClientCertificate) {
      this.#certRequested = true
      this.#send('handshake', { type: 'certificate_request', context: EMPTY, extensions: [{ type: ExtensionType.signature_algorithms, data: encodeSignatureSchemes(this.#schemes) }] })
    }
    this.#sendCertificate(cert, 'server')
    this.#send('handshake', { type: 'finished', verifyData: finishedVerifyData(c, s.serverHandshakeTraffic, this.#hash()) })
    this.#serverFinishedHash = this.#hash()
    this.#secret('application', 'write', applicationSecrets(c, s.handshakeSecret, this.#serverFinishedHash).serverApplicationTraffic)
    this.#state = this.#certRequested ? 'server-wait-cert' : 'server-wait-finished'
  }
}

type Msg<T extends HandshakeMessage['type']> = Extract<HandshakeMessage, { type: T }>
type ServerHello = Msg<'server_hello'>

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

