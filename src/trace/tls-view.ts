/**
 * TLS 1.3 handshake messages as an auditor reads them (spec/trace.md "TLS and QUIC"): one
 * `tls-handshake` event per message, decoded with the tls module's own codec (RFC 8446 §4): the
 * ClientHello's cipher suites, ALPN, key share groups and versions; the ServerHello's suite and
 * group; the certificate's libp2p peer id (libp2p/specs tls/tls.md, checked as weft checks it) and
 * key scheme; the CertificateVerify's scheme. Shared by the live tracer and the offline decoder,
 * for TLS over TCP (records) and QUIC (CRYPTO frames).
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { toHex } from '../core/bytes.js'
import type { Direction, TraceBody } from '../core/trace.js'
import {
  ExtensionType, decodeAlpn, decodeHandshakeBody, decodeKeyShareClient, decodeKeyShareHrr, decodeKeyShareServer, decodeNamedGroups,
  decodeSignatureSchemes, decodeSupportedVersionServer, decodeSupportedVersionsClient, findExtension, isHelloRetryRequest,
  verifyCertificateChain, type HandshakeMessage,
} from '../tls/index.js'

/**
 * Largest handshake message the trace reassembles (header included). Stops a peer (or a corrupt
 * capture) announcing a 16 MiB message from making the tracer buffer it; weft's own handshake
 * refuses messages over 16 KiB (DEFAULT_TLS_LIMITS.maxHandshakeMessage).
 */
export const MAX_TRACED_TLS_MESSAGE = 64 * 1024

/** The TLS levels (QUIC encryption levels; TLS over TCP: plaintext, handshake keys, application keys). */
export type TraceTlsLevel = 'initial' | 'handshake' | 'application'

const SUITES: Record<number, string> = { 0x1301: 'TLS_AES_128_GCM_SHA256', 0x1302: 'TLS_AES_256_GCM_SHA384', 0x1303: 'TLS_CHACHA20_POLY1305_SHA256' }
const GROUPS: Record<number, string> = { 0x1d: 'x25519', 0x17: 'secp256r1', 0x18: 'secp384r1', 0x19: 'secp521r1', 0x1e: 'x448', 0x11ec: 'X25519MLKEM768', 0x6399: 'X25519Kyber768Draft00' }
const SCHEMES: Record<number, string> = {
  0x0403: 'ecdsa_secp256r1_sha256', 0x0503: 'ecdsa_secp384r1_sha384', 0x0603: 'ecdsa_secp521r1_sha512', 0x0807: 'ed25519', 0x0808: 'ed448',
  0x0804: 'rsa_pss_rsae_sha256', 0x0805: 'rsa_pss_rsae_sha384', 0x0806: 'rsa_pss_rsae_sha512', 0x0809: 'rsa_pss_pss_sha256',
  0x0401: 'rsa_pkcs1_sha256', 0x0501: 'rsa_pkcs1_sha384', 0x0601: 'rsa_pkcs1_sha512', 0x0201: 'rsa_pkcs1_sha1', 0x0203: 'ecdsa_sha1',
}
const EXTENSIONS: Record<number, string> = Object.fromEntries(Object.entries(ExtensionType).map(([k, v]) => [v, k]))

const named = (table: Record<number, string>, v: number): string => table[v] ?? `0x${v.toString(16).padStart(4, '0')}`
/** A cipher suite's name (RFC 8446 §B.4), or its hex value. */
export const suiteName = (v: number): string => named(SUITES, v)

/** Runs `f`; a codec error becomes `{ error }` instead (what a peer sent is shown, never thrown). */
function attempt<T>(f: () => T): T | { error: string } {
  try {
    return f()
  } catch (e) {
    return { error: (e as { code?: string }).code ?? (e as Error).message }
  }
}

function extensionView(exts: readonly { type: number; data: Uint8Array }[], role: 'client' | 'server'): Record<string, unknown> {
  const out: Record<string, unknown> = { extensions: exts.map((e) => EXTENSIONS[e.type] ?? e.type) }
  const get = (t: number): Uint8Array | undefined => findExtension(exts, t)
  const alpn = get(ExtensionType.application_layer_protocol_negotiation)
  if (alpn !== undefined) out.alpn = attempt(() => decodeAlpn(alpn))
  const versions = get(ExtensionType.supported_versions)
  if (versions !== undefined) {
    out.versions = attempt(() => (role === 'client' ? decodeSupportedVersionsClient(versions) : [decodeSupportedVersionServer(versions)]).map((v) => `0x${v.toString(16)}`))
  }
  const groups = get(ExtensionType.supported_groups)
  if (groups !== undefined) out.groups = attempt(() => decodeNamedGroups(groups).map((g) => named(GROUPS, g)))
  const schemes = get(ExtensionType.signature_algorithms)
  if (schemes !== undefined) out.signatureSchemes = attempt(() => decodeSignatureSchemes(schemes).map((s) => named(SCHEMES, s)))
  const params = get(ExtensionType.quic_transport_parameters)
  if (params !== undefined) out.quicTransportParameters = params.length
  return out
}

/**
 * One handshake message (`raw`: header and body) as a `tls-handshake` event. `crypto` and `now`
 * check a Certificate's libp2p extension (the peer id shown is the one weft would accept);
 * without them the peer id is not shown.
 */
export function tlsHandshakeEvent(dir: Direction, level: TraceTlsLevel, raw: Uint8Array, crypto?: TlsCrypto, now?: number): Extract<TraceBody, { kind: 'tls-handshake' }> {
  const base = { kind: 'tls-handshake' as const, dir, level, bytes: raw.length }
  let m: HandshakeMessage
  try {
    if (raw.length < 4) throw new Error('shorter than a handshake header')
    m = decodeHandshakeBody(raw[0]!, raw.subarray(4))
  } catch (e) {
    return { ...base, type: `type ${raw[0] ?? '?'}`, fields: { error: (e as { code?: string }).code ?? (e as Error).message } }
  }
  return { ...base, type: m.type === 'server_hello' && isHelloRetryRequest(m) ? 'hello_retry_request' : m.type, fields: messageFields(m, crypto, now) }
}

function messageFields(m: HandshakeMessage, crypto: TlsCrypto | undefined, now: number | undefined): Record<string, unknown> {
  switch (m.type) {
    case 'client_hello': {
      const ks = findExtension(m.extensions, ExtensionType.key_share)
      return {
        random: toHex(m.random), cipherSuites: m.cipherSuites.map(suiteName),
        ...extensionView(m.extensions, 'client'),
        ...(ks !== undefined ? { keyShares: attempt(() => decodeKeyShareClient(ks).map((k) => named(GROUPS, k.group))) } : {}),
      }
    }
    case 'server_hello': {
      const ks = findExtension(m.extensions, ExtensionType.key_share)
      const hrr = isHelloRetryRequest(m)
      return {
        ...(hrr ? {} : { random: toHex(m.random) }), cipherSuite: suiteName(m.cipherSuite), ...extensionView(m.extensions, 'server'),
        ...(ks !== undefined ? { keyShare: attempt(() => named(GROUPS, hrr ? decodeKeyShareHrr(ks) : decodeKeyShareServer(ks).group)) } : {}),
      }
    }
    case 'encrypted_extensions': return extensionView(m.extensions, 'server')
    case 'certificate_request': return { context: toHex(m.context), ...extensionView(m.extensions, 'server') }
    case 'certificate': return certificateFields(m, crypto, now)
    case 'certificate_verify': return { signatureScheme: named(SCHEMES, m.scheme), signatureLength: m.signature.length }
    case 'finished': return { verifyDataLength: m.verifyData.length }
    case 'new_session_ticket': return { lifetime: m.lifetime, ticketLength: m.ticket.length }
    case 'key_update': return { updateRequested: m.updateRequested }
  }
}

function certificateFields(m: Extract<HandshakeMessage, { type: 'certificate' }>, crypto: TlsCrypto | undefined, now: number | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { certificates: m.entries.length, certificateBytes: m.entries.map((e) => e.data.length) }
  if (m.entries.length === 0 || crypto === undefined || now === undefined) return out
  try {
    const p = verifyCertificateChain(m.entries.map((e) => e.data), { crypto, now })
    const k = p.certificate.publicKey.kind
    return { ...out, peerId: p.peerId.toString(), hostKeyType: p.publicKey.type, certificateKey: k === 'p256' ? 'ecdsa_secp256r1_sha256' : k === 'ed25519' ? 'ed25519' : k, verified: true }
  } catch (e) {
    return { ...out, verified: false, error: (e as { code?: string }).code ?? (e as Error).message }
  }
}

/**
 * A direction's handshake byte stream cut into messages (RFC 8446 §4: type, 24-bit length, body),
 * whatever the records or CRYPTO frames that carried it. Bounded by `MAX_TRACED_TLS_MESSAGE`: a
 * longer message stops the reader (`failed` says why).
 */
export class HandshakeReader {
  #buf = new Uint8Array(0)
  failed: string | undefined

  push(bytes: Uint8Array): Uint8Array[] {
    if (this.failed !== undefined || bytes.length === 0) return []
    const b = new Uint8Array(this.#buf.length + bytes.length)
    b.set(this.#buf)
    b.set(bytes, this.#buf.length)
    const out: Uint8Array[] = []
    let off = 0
    while (b.length - off >= 4) {
      const len = (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!
      if (len + 4 > MAX_TRACED_TLS_MESSAGE) {
        this.failed = `a handshake message of ${len} bytes (MAX_TRACED_TLS_MESSAGE ${MAX_TRACED_TLS_MESSAGE})`
        this.#buf = new Uint8Array(0)
        return out
      }
      if (b.length - off < 4 + len) break
      out.push(b.slice(off, off + 4 + len))
      off += 4 + len
    }
    this.#buf = b.slice(off)
    return out
  }
}
