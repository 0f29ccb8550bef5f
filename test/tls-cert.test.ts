// libp2p TLS certificates (src/tls/certificate.ts over x509.ts and der.ts): the spec's vectors and
// ours (spec/vectors/tls.json), the generator's round trip checked by OpenSSL, every refusal with its
// code and alert, and the CertificateVerify glue.
import { X509Certificate, generateKeyPairSync, sign as nodeSign } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { concat, fromHex, utf8 } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { ProtocolError } from '../src/core/errors.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { PeerId, generatePrivateKey, privateKeyFromSeed } from '../src/peer-id/index.js'
import {
  ALERT, DEFAULT_NOT_AFTER, DEFAULT_NOT_BEFORE, LIBP2P_EXTENSION_OID, SIGNATURE_SCHEME, SIGNED_KEY_PREFIX, generateCertificate,
  signCertificateVerify, signedKeyExtension, verifyCertificateChain, verifyCertificateVerify,
} from '../src/tls/certificate.js'
import { derOctetString, derOid, derSequence, derTlv } from '../src/tls/der.js'
import { encodeCertificate, encodeName, encodeSpki, encodeTbs, parseCertificate, type Extension } from '../src/tls/x509.js'
import { thrown } from './helpers/errors.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('tls')
const NOW_2026 = 1_767_225_600_000

/** The libp2p ProtocolError `f` throws (failing on success or anything else). */
function refusal(f: () => unknown): ProtocolError & { alert: number } {
  const e = thrown(f)
  expect(e).toBeInstanceOf(ProtocolError)
  expect((e as ProtocolError).protocol).toBe('tls')
  return e as ProtocolError & { alert: number }
}

describe('spec/vectors/tls.json', () => {
  for (const v of vectors.where((x) => x.kind === 'chain')) {
    test(v.id, () => {
      const opts = {
        crypto: tls,
        now: typeof v.nowMs === 'number' ? v.nowMs : NOW_2026,
        expectedPeer: typeof v.expectedPeer === 'string' ? PeerId.parse(v.expectedPeer) : undefined,
      }
      const chain = [fromHex(v.hex!)]
      if (v.error !== undefined) {
        const e = refusal(() => verifyCertificateChain(chain, opts))
        expect(e.code).toBe(v.error)
        expect(typeof e.alert).toBe('number')
        if (typeof v.cause === 'string') expect((e.cause as ProtocolError).code).toBe(v.cause)
        return
      }
      const r = verifyCertificateChain(chain, opts)
      expect(r.peerId.toString()).toBe(v.decoded.peerId)
      expect(r.publicKey.type).toBe(v.decoded.hostKeyType)
      expect(r.certificate.extensions.find((e) => e.oid === LIBP2P_EXTENSION_OID)!.critical).toBe(v.decoded.critical)
      // the expected peer passes too
      expect(verifyCertificateChain(chain, { ...opts, expectedPeer: r.peerId }).peerId.equals(r.peerId)).toBe(true)
    })
  }
})

const peers = vectorFile('tls-peers')

describe('interop certificates (spec/vectors/tls-peers.json, from go-libp2p and rust-libp2p)', () => {
  test('each certificate yields its peer id', () => {
    for (const v of peers.all()) {
      // nowMs: inside the certificate's validity (go-libp2p's starts an hour before it was made)
      const r = verifyCertificateChain([fromHex(v.hex!)], { crypto: tls, now: (v.nowMs as number | undefined) ?? NOW_2026 })
      expect(r.peerId.toString(), v.id).toBe(v.decoded.peerId)
    }
  })
})

describe('generateCertificate', () => {
  test('our certificate verifies to our peer id, and OpenSSL parses it and checks its signature', () => {
    const id = generatePrivateKey(tls.base)
    const cert = generateCertificate(id, tls)
    const r = verifyCertificateChain([cert.der], { crypto: tls, now: NOW_2026, expectedPeer: id.toPeerId() })
    expect(r.peerId.equals(id.toPeerId())).toBe(true)
    expect(r.certificate.notBefore).toBe(DEFAULT_NOT_BEFORE)
    expect(r.certificate.notAfter).toBe(DEFAULT_NOT_AFTER)
    const x = new X509Certificate(cert.der)
    expect(x.verify(x.publicKey)).toBe(true)
    expect(x.validFrom).toBe('Jan  1 00:00:00 1975 GMT')
    expect(x.validTo).toBe('Jan  1 00:00:00 4096 GMT')
    expect(cert.scheme).toBe(SIGNATURE_SCHEME.ecdsa_secp256r1_sha256)
    // the certificate key is not the host key, and fresh per call
    expect(generateCertificate(id, tls).publicKey).not.toEqual(cert.publicKey)
  })

  test('the SignedKey signature is the host key over the prefix and the SPKI', () => {
    const id = privateKeyFromSeed(new Uint8Array(32).fill(3), tls.base)
    const cert = generateCertificate(id, tls)
    const parsed = parseCertificate(cert.der)
    const spkiFromNode = new Uint8Array(new X509Certificate(cert.der).publicKey.export({ type: 'spki', format: 'der' }))
    expect(parsed.spki).toEqual(spkiFromNode)
    const expected = derSequence(derOctetString(id.publicKey.bytes), derOctetString(id.sign(concat([utf8(SIGNED_KEY_PREFIX), parsed.spki]), tls.base)))
    expect(parsed.extensions).toEqual([{ oid: LIBP2P_EXTENSION_OID, critical: true, value: expected }])
  })

  test('serial numbers are positive and random', () => {
    const id = generatePrivateKey(tls.base)
    const serials = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const s = parseCertificate(generateCertificate(id, tls).der).serial
      expect(s[0]! & 0x80).toBe(0)
      serials.add(Buffer.from(s).toString('hex'))
    }
    expect(serials.size).toBe(20)
  })
})

/** A certificate with a P-256 key, signed, with these extensions and validity. */
function p256Cert(o: { extensions: (spki: Uint8Array) => Extension[]; notBefore?: number; notAfter?: number }): Uint8Array {
  const k = tls.p256Generate()
  const spki = encodeSpki({ kind: 'p256', point: k.publicKey })
  const tbs = encodeTbs({
    serial: Uint8Array.of(1), signatureAlgorithm: 'ecdsa-sha256', issuer: encodeName('t'), subject: encodeName('t'),
    notBefore: o.notBefore ?? DEFAULT_NOT_BEFORE, notAfter: o.notAfter ?? DEFAULT_NOT_AFTER, spki, extensions: o.extensions(spki),
  })
  return encodeCertificate(tbs, 'ecdsa-sha256', tls.p256Sign(k.privateKey, tbs))
}

describe('refusals', () => {
  const id = privateKeyFromSeed(new Uint8Array(32).fill(7), tls.base)
  const good = generateCertificate(id, tls).der

  test('exactly one certificate', () => {
    for (const chain of [[], [good, good]]) {
      const e = refusal(() => verifyCertificateChain(chain, { crypto: tls, now: NOW_2026 }))
      expect(e.code).toBe('tls/libp2p-certificate-count')
      expect(e.alert).toBe(ALERT.bad_certificate)
    }
  })

  test('the validity window: at either end valid, one millisecond outside refused', () => {
    const nb = 1_700_000_000_000, na = 1_800_000_000_000
    const der = generateCertificate(id, tls, { notBefore: nb, notAfter: na }).der
    for (const now of [nb, na]) expect(verifyCertificateChain([der], { crypto: tls, now }).peerId.equals(id.toPeerId())).toBe(true)
    expect(refusal(() => verifyCertificateChain([der], { crypto: tls, now: nb - 1 })).code).toBe('tls/libp2p-not-yet-valid')
    const late = refusal(() => verifyCertificateChain([der], { crypto: tls, now: na + 1 }))
    expect(late.code).toBe('tls/libp2p-expired')
    expect(late.alert).toBe(ALERT.certificate_expired)
  })

  test('a SignedKey that is not DER, or a key protobuf that is not one', () => {
    for (const value of [Uint8Array.of(1, 2, 3), derSequence(derOctetString(Uint8Array.of(8, 9)), derOctetString(new Uint8Array(64)))]) {
      const der = p256Cert({ extensions: () => [{ oid: LIBP2P_EXTENSION_OID, critical: true, value }] })
      expect(refusal(() => verifyCertificateChain([der], { crypto: tls, now: NOW_2026 })).code).toBe('tls/libp2p-malformed-extension')
    }
  })

  test('a host key type the crypto provider cannot verify (ECDSA without verifyOther)', () => {
    const ecdsa = vectors.get('spec-ecdsa-peer')
    const e = refusal(() => verifyCertificateChain([fromHex(ecdsa.hex!)], { crypto: { ...tls, base: nobleCrypto }, now: NOW_2026 }))
    expect(e.code).toBe('tls/libp2p-unsupported-host-key')
    expect(e.alert).toBe(ALERT.unsupported_certificate)
  })

  test('a certificate key weft does not verify (P-384, ecdsa-with-SHA384)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
    const alg = derSequence(derOid('1.2.840.10045.4.3.3'))
    const tbs = derSequence(
      derTlv(0xa0, Uint8Array.of(2, 1, 2)), Uint8Array.of(2, 1, 1), alg, encodeName('t'),
      derSequence(derTlv(0x17, utf8('750101000000Z')), derTlv(0x17, utf8('490101000000Z'))), encodeName('t'), spki,
      derTlv(0xa3, derSequence(derSequence(derOid(LIBP2P_EXTENSION_OID), derOctetString(signedKeyExtension(id, spki, tls))))),
    )
    const der = derSequence(tbs, alg, derTlv(3, concat([Uint8Array.of(0), nodeSign('sha384', tbs, privateKey)])))
    expect(new X509Certificate(der).verify(publicKey)).toBe(true) // well-formed, per OpenSSL
    const e = refusal(() => verifyCertificateChain([der], { crypto: tls, now: NOW_2026 }))
    expect(e.code).toBe('tls/libp2p-unsupported-certificate-key')
    expect(e.alert).toBe(ALERT.unsupported_certificate)
  })

  test('garbage and mutated certificates: a ProtocolError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      expect(thrown(() => verifyCertificateChain([b], { crypto: tls, now: NOW_2026 }))).toBeInstanceOf(ProtocolError)
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = good.slice()
      bad[at]! ^= x
      expect(thrown(() => verifyCertificateChain([bad], { crypto: tls, now: NOW_2026 }))).toBeInstanceOf(ProtocolError)
    }), { numRuns: 400 })
  })
})

describe('CertificateVerify glue', () => {
  const id = generatePrivateKey(tls.base)
  const content = concat([new Uint8Array(64).fill(0x20), utf8('TLS 1.3, client CertificateVerify'), Uint8Array.of(0), new Uint8Array(32).fill(9)])

  test('our signature verifies with the certificate key; a wrong scheme or signature is refused', () => {
    const cert = generateCertificate(id, tls)
    const sig = signCertificateVerify(cert, tls, content)
    const parsed = parseCertificate(cert.der)
    verifyCertificateVerify(parsed, tls, SIGNATURE_SCHEME.ecdsa_secp256r1_sha256, content, sig)
    const mismatch = refusal(() => verifyCertificateVerify(parsed, tls, SIGNATURE_SCHEME.ed25519, content, sig))
    expect([mismatch.code, mismatch.alert]).toEqual(['tls/libp2p-scheme-mismatch', ALERT.illegal_parameter])
    const other = content.slice()
    other[100]! ^= 1
    const bad = refusal(() => verifyCertificateVerify(parsed, tls, SIGNATURE_SCHEME.ecdsa_secp256r1_sha256, other, sig))
    expect([bad.code, bad.alert]).toEqual(['tls/libp2p-bad-certificate-verify', ALERT.decrypt_error])
  })

  test('an Ed25519 certificate key signs with scheme ed25519', () => {
    const parsed = parseCertificate(fromHex(vectors.get('ed25519-certificate-key').hex!))
    expect(parsed.publicKey.kind).toBe('ed25519')
    const seed = Uint8Array.from({ length: 32 }, (_, i) => 255 - i) // the vector's certificate key
    verifyCertificateVerify(parsed, tls, SIGNATURE_SCHEME.ed25519, content, tls.base.ed25519Sign(seed, content))
    expect(refusal(() => verifyCertificateVerify(parsed, tls, SIGNATURE_SCHEME.ecdsa_secp256r1_sha256, content, new Uint8Array(64))).code).toBe('tls/libp2p-scheme-mismatch')
  })
})
