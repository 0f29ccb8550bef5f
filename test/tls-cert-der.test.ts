// The DER reader/writer (src/tls/der.ts) and X.509 structure rules (src/tls/x509.ts): DER's
// canonical forms, the limits at and past their values, and round trips.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { fromHex, utf8 } from '../src/core/bytes.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { generateCertificate } from '../src/tls/certificate.js'
import {
  DER_DEFAULTS, TAG, derBoolean, derOid, derReader, derSequence, derSmallInteger, derTime, derTlv, derUnsignedInteger,
  readBitStringBytes, readBoolean, readInteger, readOid, readSmallInteger, readTime,
} from '../src/tls/der.js'
import { MAX_EXTENSIONS, encodeCertificate, encodeName, encodeSpki, encodeTbs, parseCertificate, type Extension } from '../src/tls/x509.js'
import { codeOf } from './helpers/errors.js'

const one = (hex: string) => derReader(fromHex(hex)).next()

describe('DER reader', () => {
  test('lengths: short and long forms, minimal only, definite only, within the container', () => {
    expect(one('0403010203').content).toEqual(Uint8Array.of(1, 2, 3))
    const long = derTlv(TAG.OCTET_STRING, new Uint8Array(200))
    expect(Array.from(long.subarray(0, 3))).toEqual([0x04, 0x81, 200])
    expect(derReader(long).next().content.length).toBe(200)
    expect(codeOf(() => one('04810301 0203'.replace(' ', '')))).toBe('tls/der-non-canonical') // 3 in the long form
    expect(codeOf(() => one('0482000401020304'))).toBe('tls/der-non-canonical') // leading zero length byte
    expect(codeOf(() => one('3080'))).toBe('tls/der-non-canonical') // indefinite
    expect(codeOf(() => one('04840000000100'))).toBe('tls/der-too-large') // 4 length bytes
    expect(codeOf(() => one('040301'))).toBe('tls/der-malformed') // runs past
    expect(codeOf(() => one('04'))).toBe('tls/der-malformed')
    expect(codeOf(() => one('1f0100'))).toBe('tls/der-malformed') // high tag number form
  })

  test('maxBytes: at the limit read, one byte past refused', () => {
    const at = derTlv(TAG.OCTET_STRING, new Uint8Array(DER_DEFAULTS.maxBytes - 4))
    expect(at.length).toBe(DER_DEFAULTS.maxBytes)
    expect(derReader(at).next().content.length).toBe(DER_DEFAULTS.maxBytes - 4)
    const past = derTlv(TAG.OCTET_STRING, new Uint8Array(DER_DEFAULTS.maxBytes - 3))
    expect(codeOf(() => derReader(past))).toBe('tls/der-too-large')
  })

  test('maxDepth: nesting to the limit read, one level deeper refused', () => {
    const nest = (n: number): Uint8Array => (n === 0 ? derTlv(TAG.NULL, new Uint8Array(0)) : derSequence(nest(n - 1)))
    const walk = (bytes: Uint8Array, levels: number): void => {
      let r = derReader(bytes)
      for (let i = 0; i < levels; i++) r = r.enter(TAG.SEQUENCE)
      r.next(TAG.NULL)
    }
    walk(nest(DER_DEFAULTS.maxDepth), DER_DEFAULTS.maxDepth)
    expect(codeOf(() => walk(nest(DER_DEFAULTS.maxDepth + 1), DER_DEFAULTS.maxDepth + 1))).toBe('tls/der-too-deep')
  })

  test('INTEGER in its fewest bytes', () => {
    expect(readInteger(one('020100'))).toEqual(Uint8Array.of(0))
    expect(readInteger(one('02020080'))).toEqual(Uint8Array.of(0, 0x80))
    expect(codeOf(() => readInteger(one('0202007f')))).toBe('tls/der-non-canonical')
    expect(codeOf(() => readInteger(one('0202ff80')))).toBe('tls/der-non-canonical')
    expect(codeOf(() => readInteger(one('0200')))).toBe('tls/der-malformed')
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (m) => {
      const el = derReader(derUnsignedInteger(m)).next(TAG.INTEGER)
      const v = readInteger(el)
      expect(v[0]! & 0x80).toBe(0)
      expect(BigInt('0x' + Buffer.from(v).toString('hex'))).toBe(BigInt('0x' + Buffer.from(m).toString('hex')))
    }))
    expect(readSmallInteger(derReader(derSmallInteger(2)).next())).toBe(2)
  })

  test('OBJECT IDENTIFIER: round trip, no leading 0x80 in an arc, no arc left open', () => {
    expect(readOid(one('060a2b0601040183a25a0101'))).toBe('1.3.6.1.4.1.53594.1.1')
    const arc = fc.integer({ min: 0, max: 2 ** 40 })
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(arc, { maxLength: 8 }), (a, b, rest) => {
      const dotted = [a, b, ...rest].join('.')
      expect(readOid(derReader(derOid(dotted)).next(TAG.OID))).toBe(dotted)
    }))
    expect(readOid(derReader(derOid('2.999.3')).next())).toBe('2.999.3')
    expect(codeOf(() => readOid(one('0603 2b8001'.replace(' ', ''))))).toBe('tls/der-non-canonical')
    expect(codeOf(() => readOid(one('06022b86')))).toBe('tls/der-malformed')
  })

  test('BOOLEAN 00 or FF only; BIT STRING of whole bytes', () => {
    expect(readBoolean(derReader(derBoolean(true)).next())).toBe(true)
    expect(readBoolean(one('010100'))).toBe(false)
    expect(codeOf(() => readBoolean(one('010101')))).toBe('tls/der-non-canonical')
    expect(readBitStringBytes(one('030300abcd'))).toEqual(Uint8Array.of(0xab, 0xcd))
    expect(codeOf(() => readBitStringBytes(one('030304abc0')))).toBe('tls/der-malformed')
  })

  test('times: UTCTime to 2049, GeneralizedTime from 2050, exact forms and field ranges', () => {
    fc.assert(fc.property(fc.integer({ min: -2_000_000_000, max: 200_000_000_000 }), (s) => {
      const ms = s * 1000
      const el = derReader(derTime(ms)).next()
      const y = new Date(ms).getUTCFullYear()
      expect(el.tag).toBe(y >= 1950 && y < 2050 ? TAG.UTC_TIME : TAG.GENERALIZED_TIME)
      expect(readTime(el)).toBe(ms)
    }))
    const t = (tag: number, s: string) => readTime(derReader(derTlv(tag, utf8(s))).next())
    expect(t(TAG.UTC_TIME, '500101000000Z')).toBe(Date.UTC(1950, 0, 1))
    expect(t(TAG.UTC_TIME, '491231235959Z')).toBe(Date.UTC(2049, 11, 31, 23, 59, 59))
    expect(t(TAG.UTC_TIME, '240229120000Z')).toBe(Date.UTC(2024, 1, 29, 12))
    for (const bad of ['230229120000Z', '241301000000Z', '240100000000Z', '240101240000Z', '2401011200Z', '240101120000+0100', '24010112000aZ']) {
      expect(codeOf(() => t(TAG.UTC_TIME, bad)), bad).toBe('tls/der-malformed')
    }
    expect(codeOf(() => t(TAG.GENERALIZED_TIME, '20240101120000.5Z'))).toBe('tls/der-malformed')
  })
})

describe('X.509 structure', () => {
  const k = tls.p256Generate()
  const spki = encodeSpki({ kind: 'p256', point: k.publicKey })
  const cert = (extensions: Extension[]): Uint8Array => {
    const tbs = encodeTbs({ serial: Uint8Array.of(1), signatureAlgorithm: 'ecdsa-sha256', issuer: encodeName('a'), subject: encodeName('a'), notBefore: 0, notAfter: 1e12, spki, extensions })
    return encodeCertificate(tbs, 'ecdsa-sha256', tls.p256Sign(k.privateKey, tbs))
  }
  const ext = (i: number): Extension => ({ oid: `1.2.3.${i}`, critical: false, value: new Uint8Array(0) })

  test(`MAX_EXTENSIONS (${MAX_EXTENSIONS}): at the limit parsed, one more refused`, () => {
    expect(parseCertificate(cert(Array.from({ length: MAX_EXTENSIONS }, (_, i) => ext(i)))).extensions.length).toBe(MAX_EXTENSIONS)
    expect(codeOf(() => parseCertificate(cert(Array.from({ length: MAX_EXTENSIONS + 1 }, (_, i) => ext(i)))))).toBe('tls/x509-malformed')
  })

  test('an extension twice is refused (RFC 5280 §4.2)', () => {
    expect(codeOf(() => parseCertificate(cert([ext(1), ext(1)])))).toBe('tls/x509-malformed')
  })

  test('the outer signatureAlgorithm must be the TBSCertificate signature field', () => {
    const good = parseCertificate(generateCertificate(generatePrivateKey(tls.base), tls).der)
    const ed = derSequence(derOid('1.3.101.112'))
    const swapped = derSequence(good.tbs, ed, derTlv(TAG.BIT_STRING, Uint8Array.of(0, ...good.signature)))
    expect(codeOf(() => parseCertificate(swapped))).toBe('tls/x509-malformed')
  })

  test('the parser reads OpenSSL-made certificates (RSA key: kind other)', () => {
    // made by `openssl req -x509 -newkey rsa:1024 -nodes -subj /CN=o -days 1 -outform DER` (OpenSSL 3)
    const der = fromHex(OPENSSL_RSA_CERT)
    const c = parseCertificate(der)
    expect(c.version).toBe(3)
    expect(c.publicKey).toEqual({ kind: 'other', algorithm: '1.2.840.113549.1.1.1' })
    expect(c.signatureAlgorithm).toEqual({ other: '1.2.840.113549.1.1.11' })
  })
})

const OPENSSL_RSA_CERT = '308201f43082015da0030201020214450c18d78249af8a0a8402f88d6a83fd02c6cae8300d06092a864886f70d01010b0500300c310a300806035504030c016f301e170d3236313230363137353834305a170d3236313230373137353834305a300c310a300806035504030c016f30819f300d06092a864886f70d010101050003818d0030818902818100aadb16de0e1c889d438797c373814650771229c2bb9e8ad9f85f0ee17f906e075fa501343ce1c2d15b738971ce7aec5cea21c789a9ae02830b55da07bd07a046a761632a6dec803f8abadb5a1308831db2a0c0d1d8a1d3155a3a67766ba336ca035d7e3bc8d4b1bed0916ae9b290bc5b844a142e9855d96944e6fc4ecf4b3fab0203010001a3533051301d0603551d0e04160414eb0ab9ad4caacf80d169eddcdc765a942c7cb498301f0603551d23041830168014eb0ab9ad4caacf80d169eddcdc765a942c7cb498300f0603551d130101ff040530030101ff300d06092a864886f70d01010b0500038181006255de7963e5ad98b6e75e9fc51f4878578e4f169d22541cb45ffb8055b8ba32e27dec927898653765a8870796c2a5e575cd7227c00b7c23e7a4194907acbed065819997db68d55ab81cd5185af8401bfd58de04858ca1b060d32a744f4c6061ff3fc67879b08af3dfb2e1b98f553174b0b8624ea2ce1244bd207a486adb417d'
