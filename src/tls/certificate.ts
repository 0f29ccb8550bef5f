/**
 * The libp2p TLS certificate (libp2p/specs tls/tls.md, "Peer Authentication"): a self-signed X.509
 * certificate whose key is NOT the host key; the host key travels in the libp2p Public Key Extension
 * (OID 1.3.6.1.4.1.53594.1.1) with a host-key signature binding it to the certificate's key:
 *
 *   SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }
 *   publicKey = the libp2p PublicKey protobuf of the host key (peer-ids spec)
 *   signature = host-key signature over "libp2p-tls-handshake:" || DER SubjectPublicKeyInfo of the certificate
 *
 * `generateCertificate` makes one for a weft host key (an ECDSA P-256 certificate key, signature
 * scheme ecdsa_secp256r1_sha256); `verifyCertificateChain` checks a peer's chain and yields its peer
 * id. Every failure is a `ProtocolError('tls', 'tls/libp2p-...')` carrying the TLS alert to send
 * (`alert`, RFC 8446 §6.2). The caller supplies the time (wall clock, ms) and the crypto.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { concat, utf8 } from '../core/bytes.js'
import { ProtocolError } from '../core/errors.js'
import { publicKeyFromProtobuf, type PeerId, type PrivateKey, type PublicKey } from '../peer-id/index.js'
import { TAG, derOctetString, derReader, derSequence, type DerLimits } from './der.js'
import { checkSelfSignature, encodeCertificate, encodeName, encodeSpki, encodeTbs, parseCertificate, type Certificate } from './x509.js'

/** The libp2p Public Key Extension's OID (IANA enterprise number 53594, libp2p). */
export const LIBP2P_EXTENSION_OID = '1.3.6.1.4.1.53594.1.1'
/** What the host key signs, before the certificate's SubjectPublicKeyInfo. */
export const SIGNED_KEY_PREFIX = 'libp2p-tls-handshake:'

/** TLS 1.3 SignatureScheme values (RFC 8446 §4.2.3) of the certificate keys weft signs or verifies with. */
export const SIGNATURE_SCHEME = { ecdsa_secp256r1_sha256: 0x0403, ed25519: 0x0807 } as const

/** TLS alerts (RFC 8446 §6.2) the codes below map to. */
export const ALERT = { bad_certificate: 42, unsupported_certificate: 43, certificate_expired: 45, illegal_parameter: 47, decrypt_error: 51 } as const

/** Why a peer's libp2p TLS certificate (or its CertificateVerify) was refused. See spec/tls.md, "Errors". */
export type Libp2pTlsErrorCode =
  | 'tls/libp2p-certificate-count'
  | 'tls/libp2p-malformed-certificate'
  | 'tls/libp2p-not-yet-valid'
  | 'tls/libp2p-expired'
  | 'tls/libp2p-unsupported-certificate-key'
  | 'tls/libp2p-bad-self-signature'
  | 'tls/libp2p-unique-id'
  | 'tls/libp2p-missing-extension'
  | 'tls/libp2p-unknown-critical-extension'
  | 'tls/libp2p-malformed-extension'
  | 'tls/libp2p-unsupported-host-key'
  | 'tls/libp2p-bad-host-signature'
  | 'tls/libp2p-peer-id-mismatch'
  | 'tls/libp2p-scheme-mismatch'
  | 'tls/libp2p-bad-certificate-verify'

/** A ProtocolError('tls', code) with the TLS alert (RFC 8446 §6.2) that reports it to the peer. */
export type Libp2pTlsError = ProtocolError<Libp2pTlsErrorCode> & { readonly alert: number }

function fail(code: Libp2pTlsErrorCode, message: string, alert: number = ALERT.bad_certificate, cause?: unknown): Libp2pTlsError {
  return Object.assign(new ProtocolError<Libp2pTlsErrorCode>('tls', code, message, cause === undefined ? undefined : { cause }), { alert })
}

/** Our certificate and the key that signs with it (CertificateVerify). The private key is secret. */
export interface HostCertificate {
  /** The DER certificate: the whole chain we send. */
  readonly der: Uint8Array
  /** The certificate's P-256 private scalar (32 bytes). */
  readonly privateKey: Uint8Array
  /** The certificate's P-256 public point (65 bytes). */
  readonly publicKey: Uint8Array
  /** The TLS SignatureScheme this key signs with: ecdsa_secp256r1_sha256. */
  readonly scheme: number
}

/** Options of `generateCertificate` (tests pin them; defaults are what weft sends). */
export interface GenerateCertificateOptions {
  /** Default 1975-01-01T00:00:00Z. */
  notBefore?: number
  /** Default 4096-01-01T00:00:00Z. */
  notAfter?: number
  /** Big-endian serial number; default 8 random bytes (positive, non-zero). */
  serial?: Uint8Array
  /** Mark the libp2p extension critical; default true (the spec allows either). Tests only. */
  critical?: boolean
}

/**
 * The validity window weft writes: 1975-01-01 to 4096-01-01, the window of the spec's own test
 * vectors. A libp2p certificate's validity protects nothing (the key is per process, identity is the
 * extension's host-key signature), and a wide window cannot fail on a peer whose clock is wrong.
 */
export const DEFAULT_NOT_BEFORE = 157_766_400_000
export const DEFAULT_NOT_AFTER = 67_090_118_400_000

/** The SignedKey extension value for a certificate key's SPKI, signed by `identity`. */
export function signedKeyExtension(identity: PrivateKey, spki: Uint8Array, tls: TlsCrypto): Uint8Array {
  const signature = identity.sign(concat([utf8(SIGNED_KEY_PREFIX), spki]), tls.base)
  return derSequence(derOctetString(identity.publicKey.bytes), derOctetString(signature))
}

/** A fresh self-signed libp2p certificate for `identity` (a new P-256 certificate key each call). */
export function generateCertificate(identity: PrivateKey, tls: TlsCrypto, opts: GenerateCertificateOptions = {}): HostCertificate {
  const { privateKey, publicKey } = tls.p256Generate()
  const spki = encodeSpki({ kind: 'p256', point: publicKey })
  let serial = opts.serial
  if (serial === undefined) {
    serial = tls.base.randomBytes(8)
    serial[0] = (serial[0]! & 0x7f) | 0x01 // positive and never zero
  }
  const name = encodeName('weft')
  const tbs = encodeTbs({
    serial,
    signatureAlgorithm: 'ecdsa-sha256',
    issuer: name,
    subject: name,
    notBefore: opts.notBefore ?? DEFAULT_NOT_BEFORE,
    notAfter: opts.notAfter ?? DEFAULT_NOT_AFTER,
    spki,
    extensions: [{ oid: LIBP2P_EXTENSION_OID, critical: opts.critical ?? true, value: signedKeyExtension(identity, spki, tls) }],
  })
  const der = encodeCertificate(tbs, 'ecdsa-sha256', tls.p256Sign(privateKey, tbs))
  return { der, privateKey, publicKey, scheme: SIGNATURE_SCHEME.ecdsa_secp256r1_sha256 }
}

/** A verified peer: who it is and the certificate that said so. */
export interface VerifiedPeer {
  readonly peerId: PeerId
  readonly publicKey: PublicKey
  readonly certificate: Certificate
}

/** Options of `verifyCertificateChain`. */
export interface VerifyCertificateOptions {
  crypto: TlsCrypto
  /** The wall-clock time, ms since the Unix epoch, checked against the validity window. */
  now: number
  /** Dialing a known peer: any other peer id fails with tls/libp2p-peer-id-mismatch. */
  expectedPeer?: PeerId | undefined
  /** DER limits for the certificate (default DER_DEFAULTS: 16 KiB, depth 16). */
  limits?: Partial<DerLimits>
}

/** SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING } */
function parseSignedKey(value: Uint8Array): { publicKey: Uint8Array; signature: Uint8Array } {
  const top = derReader(value)
  const s = top.enter(TAG.SEQUENCE)
  top.end()
  const publicKey = s.next(TAG.OCTET_STRING).content
  const signature = s.next(TAG.OCTET_STRING).content
  s.end()
  return { publicKey, signature }
}

/**
 * Check a peer's certificate chain (libp2p TLS "Peer Authentication") and return its peer id: exactly
 * one certificate; valid at `now`; its self-signature good (ECDSA P-256/SHA-256 or Ed25519); no
 * unique ids; the libp2p extension present (critical or not), no other critical extension; the host
 * key's signature over the certificate's SPKI good; the peer id the expected one, if any.
 */
export function verifyCertificateChain(chain: readonly Uint8Array[], opts: VerifyCertificateOptions): VerifiedPeer {
  if (chain.length !== 1) throw fail('tls/libp2p-certificate-count', `${chain.length} certificates, expected exactly 1`)
  let cert: Certificate
  try {
    cert = parseCertificate(chain[0]!, opts.limits)
  } catch (e) {
    if (e instanceof ProtocolError) throw fail('tls/libp2p-malformed-certificate', e.message, ALERT.bad_certificate, e)
    throw e
  }
  if (opts.now < cert.notBefore) throw fail('tls/libp2p-not-yet-valid', `valid from ${cert.notBefore}, now ${opts.now}`, ALERT.bad_certificate)
  if (opts.now > cert.notAfter) throw fail('tls/libp2p-expired', `valid until ${cert.notAfter}, now ${opts.now}`, ALERT.certificate_expired)
  const self = checkSelfSignature(cert, opts.crypto)
  if (self === 'unsupported') {
    const k = cert.publicKey
    const alg = typeof cert.signatureAlgorithm === 'string' ? cert.signatureAlgorithm : cert.signatureAlgorithm.other
    throw fail('tls/libp2p-unsupported-certificate-key', `key ${k.kind === 'other' ? k.algorithm : k.kind}, signature ${alg}`, ALERT.unsupported_certificate)
  }
  if (self === 'bad') throw fail('tls/libp2p-bad-self-signature', 'the certificate signature does not verify with its own key')
  if (cert.hasUniqueIds) throw fail('tls/libp2p-unique-id', 'issuerUniqueID or subjectUniqueID present')
  let ext: Uint8Array | undefined
  for (const e of cert.extensions) {
    if (e.oid === LIBP2P_EXTENSION_OID) ext = e.value
    else if (e.critical) throw fail('tls/libp2p-unknown-critical-extension', `critical extension ${e.oid}`, ALERT.unsupported_certificate)
  }
  if (ext === undefined) throw fail('tls/libp2p-missing-extension', 'no libp2p public key extension')
  let signed: { publicKey: Uint8Array; signature: Uint8Array }
  let hostKey: PublicKey
  try {
    signed = parseSignedKey(ext)
    hostKey = publicKeyFromProtobuf(signed.publicKey)
  } catch (e) {
    if (e instanceof ProtocolError) throw fail('tls/libp2p-malformed-extension', e.message, ALERT.bad_certificate, e)
    throw e
  }
  let ok: boolean
  try {
    ok = hostKey.verify(concat([utf8(SIGNED_KEY_PREFIX), cert.spki]), signed.signature, opts.crypto.base)
  } catch (e) {
    if (e instanceof ProtocolError) throw fail('tls/libp2p-unsupported-host-key', e.message, ALERT.unsupported_certificate, e)
    throw e
  }
  if (!ok) throw fail('tls/libp2p-bad-host-signature', `the ${hostKey.type} host key's signature over the certificate key does not verify`)
  const peerId = hostKey.toPeerId(opts.crypto.base)
  if (opts.expectedPeer !== undefined && !opts.expectedPeer.equals(peerId)) {
    throw fail('tls/libp2p-peer-id-mismatch', `expected ${opts.expectedPeer.toString()}, the certificate is ${peerId.toString()}'s`)
  }
  return { peerId, publicKey: hostKey, certificate: cert }
}

/** The SignatureScheme a certificate key signs CertificateVerify with (RFC 8446 §4.2.3). */
export function schemeOf(cert: Certificate): number | undefined {
  const k = cert.publicKey.kind
  return k === 'p256' ? SIGNATURE_SCHEME.ecdsa_secp256r1_sha256 : k === 'ed25519' ? SIGNATURE_SCHEME.ed25519 : undefined
}

/** Sign a CertificateVerify's content (RFC 8446 §4.4.3) with our certificate key. */
export function signCertificateVerify(cert: HostCertificate, tls: TlsCrypto, content: Uint8Array): Uint8Array {
  return tls.p256Sign(cert.privateKey, content)
}

/**
 * Check the peer's CertificateVerify (RFC 8446 §4.4.3) with its certificate's key: the scheme must be
 * that key's (tls/libp2p-scheme-mismatch, illegal_parameter) and the signature good
 * (tls/libp2p-bad-certificate-verify, decrypt_error).
 */
export function verifyCertificateVerify(cert: Certificate, tls: TlsCrypto, scheme: number, content: Uint8Array, signature: Uint8Array): void {
  const k = cert.publicKey
  if (scheme !== schemeOf(cert)) throw fail('tls/libp2p-scheme-mismatch', `scheme 0x${scheme.toString(16).padStart(4, '0')} for a ${k.kind} certificate key`, ALERT.illegal_parameter)
  const ok = k.kind === 'p256' ? tls.p256Verify(k.point, content, signature) : k.kind === 'ed25519' ? tls.base.ed25519Verify(k.key, content, signature) : false
  if (!ok) throw fail('tls/libp2p-bad-certificate-verify', 'the CertificateVerify signature does not verify', ALERT.decrypt_error)
}
