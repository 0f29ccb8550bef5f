/**
 * X.509 v3 certificates (RFC 5280 §4.1), as far as libp2p TLS needs them: parse every field of the
 * TBSCertificate (names are kept as raw DER, never interpreted), recognise the two key types libp2p
 * peers put in their certificates (ECDSA P-256, RFC 5480; Ed25519, RFC 8410) and their signature
 * algorithms (ecdsa-with-SHA256, RFC 5758; Ed25519), check a self-signature, and encode a
 * certificate for our own key.
 *
 *   Certificate  ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber INTEGER,
 *       signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
 *       subjectPublicKeyInfo SubjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT OPTIONAL,
 *       subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 *   Extension    ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 *
 * Structure errors are `ProtocolError('tls', 'tls/x509-malformed')` (or the DER reader's
 * `tls/der-...` codes); an algorithm we do not know is not an error here (its kind is 'other'): the
 * libp2p layer (certificate.ts) decides what to refuse.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { equals } from '../core/bytes.js'
import { ProtocolError } from '../core/errors.js'
import {
  TAG, contextTag, derBitString, derBoolean, derExplicit, derOctetString, derOid, derReader, derSequence, derSet,
  derSmallInteger, derTime, derUnsignedInteger, derUtf8String, readBitStringBytes, readBoolean, readInteger,
  readOid, readSmallInteger, readTime, type DerElement, type DerLimits, type DerReader,
} from './der.js'

/** X.509 structure failures (remote bytes). */
export type X509ErrorCode = 'tls/x509-malformed'

/** Object identifiers used here. */
export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
  commonName: '2.5.4.3',
} as const

/** A certificate's subject public key: the kinds libp2p TLS signs with, or another algorithm by OID. */
export type CertificateKey =
  /** ECDSA on P-256: the 65-byte uncompressed point (0x04 || x || y). */
  | { kind: 'p256'; point: Uint8Array }
  /** Ed25519: the 32-byte public key. */
  | { kind: 'ed25519'; key: Uint8Array }
  | { kind: 'other'; algorithm: string }

/** A certificate signature algorithm weft verifies, or another by OID. */
export type SignatureAlgorithm = 'ecdsa-sha256' | 'ed25519' | { other: string }

export interface Extension {
  oid: string
  critical: boolean
  /** The extnValue OCTET STRING's content (a view of the certificate). */
  value: Uint8Array
}

/** A parsed certificate. Byte fields are views of the input. */
export interface Certificate {
  /** The whole DER certificate. */
  raw: Uint8Array
  /** The DER TBSCertificate: the bytes the signature covers. */
  tbs: Uint8Array
  /** 1, 2 or 3. */
  version: number
  serial: Uint8Array
  signatureAlgorithm: SignatureAlgorithm
  /** Raw DER Names (a SEQUENCE each). */
  issuer: Uint8Array
  subject: Uint8Array
  /** Validity, in ms since the Unix epoch. */
  notBefore: number
  notAfter: number
  /** The DER SubjectPublicKeyInfo (what libp2p's SignedKey signature covers). */
  spki: Uint8Array
  publicKey: CertificateKey
  /** issuerUniqueID or subjectUniqueID present (deprecated; libp2p TLS says omit them). */
  hasUniqueIds: boolean
  extensions: Extension[]
  signature: Uint8Array
}

/** Most extensions parsed from one certificate: 64 (ours has 1); stops a list that costs a scan per lookup. */
export const MAX_EXTENSIONS = 64

const bad = (message: string): ProtocolError<X509ErrorCode> => new ProtocolError<X509ErrorCode>('tls', 'tls/x509-malformed', message)

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } */
function readAlgorithm(r: DerReader): { oid: string; params: DerElement | undefined; raw: Uint8Array } {
  const el = r.next(TAG.SEQUENCE)
  const a = r.open(el)
  const oid = readOid(a.next(TAG.OID))
  const params = a.done ? undefined : a.next()
  a.end()
  return { oid, params, raw: el.raw }
}

function signatureAlgorithm(alg: { oid: string; params: DerElement | undefined }): SignatureAlgorithm {
  // RFC 5758 §3.2 and RFC 8410 §3: the parameters field is absent for both.
  if (alg.oid === OID.ecdsaWithSha256 && alg.params === undefined) return 'ecdsa-sha256'
  if (alg.oid === OID.ed25519 && alg.params === undefined) return 'ed25519'
  return { other: alg.oid }
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING } */
function readPublicKey(spki: DerReader): CertificateKey {
  const alg = readAlgorithm(spki)
  const bits = readBitStringBytes(spki.next(TAG.BIT_STRING))
  spki.end()
  if (alg.oid === OID.ecPublicKey) {
    if (alg.params === undefined || alg.params.tag !== TAG.OID) throw bad('id-ecPublicKey without a named curve')
    const curve = readOid(alg.params)
    if (curve !== OID.prime256v1) return { kind: 'other', algorithm: `${alg.oid}/${curve}` }
    // RFC 5480 §2.2: uncompressed points MUST be supported; libp2p peers send those.
    if (bits.length !== 65 || bits[0] !== 4) return { kind: 'other', algorithm: `${alg.oid}/${curve}/compressed` }
    return { kind: 'p256', point: bits }
  }
  if (alg.oid === OID.ed25519) {
    if (alg.params !== undefined) throw bad('Ed25519 key with parameters')
    if (bits.length !== 32) throw bad(`Ed25519 key of ${bits.length} bytes`)
    return { kind: 'ed25519', key: bits }
  }
  return { kind: 'other', algorithm: alg.oid }
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }: checked for shape, kept raw. */
function checkName(name: DerReader): void {
  while (!name.done) {
    const rdn = name.enter(TAG.SET)
    if (rdn.done) throw bad('empty RelativeDistinguishedName')
    while (!rdn.done) {
      const atv = rdn.enter(TAG.SEQUENCE)
      readOid(atv.next(TAG.OID))
      atv.next()
      atv.end()
    }
  }
}

function readExtensions(exts: DerReader): Extension[] {
  const out: Extension[] = []
  if (exts.done) throw bad('empty Extensions') // SIZE (1..MAX)
  while (!exts.done) {
    if (out.length >= MAX_EXTENSIONS) throw bad(`more than ${MAX_EXTENSIONS} extensions`)
    const e = exts.enter(TAG.SEQUENCE)
    const oid = readOid(e.next(TAG.OID))
    // DER omits a DEFAULT value, so an explicit FALSE is not DER; it is accepted (Go's parser does too).
    const crit = e.optional(TAG.BOOLEAN)
    const value = e.next(TAG.OCTET_STRING).content
    e.end()
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (out.some((x) => x.oid === oid)) throw bad(`extension ${oid} twice`)
    out.push({ oid, critical: crit !== undefined && readBoolean(crit), value })
  }
  return out
}

/** Parse a DER certificate. ProtocolError('tls', 'tls/x509-malformed' | 'tls/der-...') on any structural fault. */
export function parseCertificate(der: Uint8Array, limits?: Partial<DerLimits>): Certificate {
  const top = derReader(der, limits)
  const certEl = top.next(TAG.SEQUENCE)
  top.end()
  const cert = top.open(certEl)
  const tbsEl = cert.next(TAG.SEQUENCE)
  const outerAlg = readAlgorithm(cert)
  const signature = readBitStringBytes(cert.next(TAG.BIT_STRING))
  cert.end()

  const t = cert.open(tbsEl)
  let version = 1
  const v = t.optional(contextTag(0, true))
  if (v !== undefined) {
    const vr = t.open(v)
    version = readSmallInteger(vr.next(TAG.INTEGER)) + 1
    vr.end()
    if (version === 1) throw bad('explicit version v1 (DER omits the DEFAULT)')
    if (version > 3) throw bad(`version ${version}`)
  }
  const serial = readInteger(t.next(TAG.INTEGER))
  const innerAlg = readAlgorithm(t)
  const issuerEl = t.next(TAG.SEQUENCE)
  checkName(t.open(issuerEl))
  const validity = t.enter(TAG.SEQUENCE)
  const notBefore = readTime(validity.next())
  const notAfter = readTime(validity.next())
  validity.end()
  const subjectEl = t.next(TAG.SEQUENCE)
  checkName(t.open(subjectEl))
  const spkiEl = t.next(TAG.SEQUENCE)
  const publicKey = readPublicKey(t.open(spkiEl))
  let hasUniqueIds = false
  for (const n of [1, 2]) {
    // [1]/[2] IMPLICIT BIT STRING: primitive in DER
    if (t.optional(contextTag(n, false)) !== undefined) {
      if (version < 2) throw bad('a unique identifier in a v1 certificate')
      hasUniqueIds = true
    }
  }
  let extensions: Extension[] = []
  const x = t.optional(contextTag(3, true))
  if (x !== undefined) {
    if (version !== 3) throw bad('extensions in a certificate before v3')
    const xr = t.open(x)
    extensions = readExtensions(xr.enter(TAG.SEQUENCE))
    xr.end()
  }
  t.end()

  const inner = signatureAlgorithm(innerAlg)
  // RFC 5280 §4.1.1.2: the signatureAlgorithm MUST be the TBSCertificate's `signature` field.
  if (!equals(innerAlg.raw, outerAlg.raw)) throw bad('signatureAlgorithm differs from the TBSCertificate signature field')
  return {
    raw: certEl.raw, tbs: tbsEl.raw, version, serial, signatureAlgorithm: inner,
    issuer: issuerEl.raw, subject: subjectEl.raw, notBefore, notAfter, spki: spkiEl.raw, publicKey, hasUniqueIds, extensions, signature,
  }
}

/**
 * Check a certificate's signature with its own public key: 'ok', 'bad', or 'unsupported' when the
 * algorithm or key kind is not one weft verifies (or the two do not belong together).
 */
export function checkSelfSignature(cert: Certificate, crypto: TlsCrypto): 'ok' | 'bad' | 'unsupported' {
  const k = cert.publicKey
  if (cert.signatureAlgorithm === 'ecdsa-sha256' && k.kind === 'p256') return crypto.p256Verify(k.point, cert.tbs, cert.signature) ? 'ok' : 'bad'
  if (cert.signatureAlgorithm === 'ed25519' && k.kind === 'ed25519') return crypto.base.ed25519Verify(k.key, cert.tbs, cert.signature) ? 'ok' : 'bad'
  return 'unsupported'
}

// ---- encoding -----------------------------------------------------------------------------------

/** The DER SubjectPublicKeyInfo of a P-256 or Ed25519 key. */
export function encodeSpki(key: CertificateKey): Uint8Array {
  if (key.kind === 'p256') {
    if (key.point.length !== 65 || key.point[0] !== 4) throw new RangeError('a P-256 key is a 65-byte uncompressed point')
    return derSequence(derSequence(derOid(OID.ecPublicKey), derOid(OID.prime256v1)), derBitString(key.point))
  }
  if (key.kind === 'ed25519') {
    if (key.key.length !== 32) throw new RangeError('an Ed25519 key is 32 bytes')
    return derSequence(derSequence(derOid(OID.ed25519)), derBitString(key.key))
  }
  throw new TypeError(`cannot encode a ${key.algorithm} key`)
}

/** A Name of one commonName attribute (UTF8String). */
export function encodeName(commonName: string): Uint8Array {
  return derSequence(derSet(derSequence(derOid(OID.commonName), derUtf8String(commonName))))
}

/** The fields of a v3 TBSCertificate to encode. */
export interface TbsFields {
  /** Big-endian magnitude of a positive serial number (RFC 5280 §4.1.2.2: at most 20 bytes). */
  serial: Uint8Array
  signatureAlgorithm: 'ecdsa-sha256' | 'ed25519'
  issuer: Uint8Array
  subject: Uint8Array
  notBefore: number
  notAfter: number
  spki: Uint8Array
  extensions: readonly Extension[]
}

function encodeAlgorithm(alg: 'ecdsa-sha256' | 'ed25519'): Uint8Array {
  return derSequence(derOid(alg === 'ecdsa-sha256' ? OID.ecdsaWithSha256 : OID.ed25519))
}

/** The DER TBSCertificate (version 3). */
export function encodeTbs(f: TbsFields): Uint8Array {
  if (f.serial.length === 0 || f.serial.length > 20) throw new RangeError('a serial number is 1 to 20 bytes')
  const exts = f.extensions.map((e) => derSequence(derOid(e.oid), ...(e.critical ? [derBoolean(true)] : []), derOctetString(e.value)))
  return derSequence(
    derExplicit(0, derSmallInteger(2)),
    derUnsignedInteger(f.serial),
    encodeAlgorithm(f.signatureAlgorithm),
    f.issuer,
    derSequence(derTime(f.notBefore), derTime(f.notAfter)),
    f.subject,
    f.spki,
    ...(exts.length > 0 ? [derExplicit(3, derSequence(...exts))] : []),
  )
}

/** The DER Certificate from an encoded TBSCertificate and its signature. */
export function encodeCertificate(tbs: Uint8Array, alg: 'ecdsa-sha256' | 'ed25519', signature: Uint8Array): Uint8Array {
  return derSequence(tbs, encodeAlgorithm(alg), derBitString(signature))
}
