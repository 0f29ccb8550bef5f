/**
 * IPNS records against the spec's test vectors (spec/vectors/ipns.json) and the verification steps
 * of ipfs/specs ipns-record.md, each failure with its IpnsErrorCode.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { ProtocolError } from '../src/core/errors.js'
import { concat, fromHex, utf8 } from '../src/core/bytes.js'
import { decodeIpnsEntry, encodeIpnsEntry, ipnsValidator, validateIpnsRecord, IPNS_SIGNATURE_PREFIX, type IpnsEntry } from '../src/kad/ipns.js'
import { encodeCborMap } from '../src/kad/cbor.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { vectorFile } from './helpers/vectors.js'
import { codeOf } from './helpers/errors.js'

const vectors = vectorFile('ipns')
/** 2026-01-01: every fixture is valid until 2123. nodeCrypto verifies RSA too (nobleCrypto does not). */
const ctx = { crypto: nodeCrypto, wallTime: Date.UTC(2026, 0, 1) }
const kadKey = (mh: Uint8Array): Uint8Array => concat([utf8('/ipns/'), mh])

function causeOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError)
    expect((e as ProtocolError).code).toBe('kad/invalid-record')
    return ((e as Error).cause as ProtocolError).code
  }
  return 'no error'
}

describe('spec test vectors', () => {
  for (const v of vectors.all()) {
    test(`${v.id}: ${v.note ?? ''}`, () => {
      const name = fromHex(v.nameMultihash as string)
      const record = fromHex(v.hex!)
      if (v.error !== undefined) {
        expect(codeOf(() => validateIpnsRecord(name, record, ctx))).toBe(v.error)
        // through the DHT's /ipns namespace validator: kad/invalid-record, the IPNS error as cause
        expect(causeOf(() => ipnsValidator.validate(kadKey(name), record, ctx))).toBe(v.error)
        return
      }
      const d = validateIpnsRecord(name, record, ctx)
      expect({
        value: new TextDecoder().decode(d.value),
        sequence: d.sequence.toString(),
        ttl: d.ttl.toString(),
        validity: new TextDecoder().decode(d.validity),
        validityType: Number(d.validityType),
      }).toEqual(v.decoded)
      expect(() => ipnsValidator.validate(kadKey(name), record, ctx)).not.toThrow()
      // valid records expire: one nanosecond-ish past Validity is invalid
      const eol = Date.parse((v.decoded as { validity: string }).validity)
      expect(codeOf(() => validateIpnsRecord(name, record, { ...ctx, wallTime: eol + 1 }))).toBe('ipns/expired')
      expect(codeOf(() => validateIpnsRecord(name, record, { ...ctx, wallTime: eol - 1 }))).toBe('no error')
    })
  }
})

describe('verification steps', () => {
  const named = (id: string): { name: Uint8Array; record: Uint8Array; entry: IpnsEntry } => {
    const v = vectors.get(id)
    const record = fromHex(v.hex!)
    return { name: fromHex(v.nameMultihash as string), record, entry: decodeIpnsEntry(record) }
  }

  test('a valid record under another name: the inlined key does not verify; an RSA pubKey does not match', () => {
    const a = named('v2-only')
    const b = named('v1-v2')
    expect(codeOf(() => validateIpnsRecord(b.name, a.record, ctx))).toBe('ipns/signature-v2-invalid')
    const rsa = named('rsa-pubkey-field')
    expect(codeOf(() => validateIpnsRecord(b.name, rsa.record, ctx))).toBe('ipns/public-key-mismatch')
  })

  test('RSA name without pubKey: no key to verify with; a provider without RSA cannot verify', () => {
    const rsa = named('rsa-pubkey-field')
    expect(codeOf(() => validateIpnsRecord(rsa.name, rsa.record, { ...ctx, crypto: nobleCrypto }))).toBe('ipns/unsupported-key-type')
    const { pubKey: _, ...rest } = rsa.entry
    expect(codeOf(() => validateIpnsRecord(rsa.name, encodeIpnsEntry(rest), ctx))).toBe('ipns/no-public-key')
    expect(codeOf(() => validateIpnsRecord(rsa.name, encodeIpnsEntry({ ...rsa.entry, pubKey: utf8('not a key') }), ctx))).toBe('ipns/invalid-public-key')
  })

  test('empty signatureV2 or data count as missing; a name that is no multihash', () => {
    const a = named('v2-only')
    expect(codeOf(() => validateIpnsRecord(a.name, encodeIpnsEntry({ ...a.entry, signatureV2: new Uint8Array(0) }), ctx))).toBe('ipns/missing-signature-v2')
    expect(codeOf(() => validateIpnsRecord(a.name, encodeIpnsEntry({ ...a.entry, data: new Uint8Array(0) }), ctx))).toBe('ipns/missing-data')
    expect(codeOf(() => validateIpnsRecord(utf8('nope'), a.record, ctx))).toBe('ipns/invalid-name')
  })

  test('size limit (10 KiB) before parsing; garbage protobuf is malformed-entry', () => {
    const a = named('v2-only')
    expect(codeOf(() => validateIpnsRecord(a.name, new Uint8Array(10 * 1024 + 1), ctx))).toBe('ipns/record-too-large')
    expect(codeOf(() => validateIpnsRecord(a.name, Uint8Array.of(0x0a, 0x05, 0x01), ctx))).toBe('ipns/malformed-entry')
  })

  test('V1 copies are compared only when signatureV1 or value is present; then every one, absent = empty/0', () => {
    const a = named('v2-only') // sequence 0 in data
    // a V2-only record with a stray sequence copy: not compared (no signatureV1, no value)
    expect(codeOf(() => validateIpnsRecord(a.name, encodeIpnsEntry({ ...a.entry, sequence: 9n }), ctx))).toBe('no error')
    const b = named('v1-v2')
    expect(codeOf(() => validateIpnsRecord(b.name, encodeIpnsEntry({ ...b.entry, ttl: 1n }), ctx))).toBe('ipns/v1-v2-mismatch')
    const { validity: _, ...noValidity } = b.entry
    expect(codeOf(() => validateIpnsRecord(b.name, encodeIpnsEntry(noValidity), ctx))).toBe('ipns/v1-v2-mismatch')
  })

  test('data: unexpected fields of any DAG-CBOR type are ignored; a missing field, another validity type, bad times are not', () => {
    const key = privateKeyFromSeed(new Uint8Array(32).fill(9), nobleCrypto)
    const name = key.publicKey.toPeerId().multihash
    const sign = (data: Uint8Array): Uint8Array => encodeIpnsEntry({ data, signatureV2: key.sign(concat([IPNS_SIGNATURE_PREFIX, data]), nobleCrypto) })
    const base = { Value: utf8('/ipfs/x'), Validity: utf8('2100-01-01T00:00:00Z'), ValidityType: 0n, Sequence: 3n, TTL: 5n }
    const five = encodeCborMap(base)
    // add `_x: { a: [1, -1, true, 1.5, 42("cid")] }` (map head 0xa5 -> 0xa6)
    const ext = Uint8Array.of(0x62, 0x5f, 0x78, 0xa1, 0x61, 0x61, 0x85, 0x01, 0x20, 0xf5, 0xf9, 0x3e, 0x00, 0xd8, 0x2a, 0x43, 0x00, 0x01, 0x02)
    const withExt = concat([Uint8Array.of(0xa6), five.subarray(1), ext])
    expect(validateIpnsRecord(name, sign(withExt), ctx).sequence).toBe(3n)
    const { TTL: _, ...four } = base
    expect(codeOf(() => validateIpnsRecord(name, sign(encodeCborMap(four)), ctx))).toBe('ipns/malformed-data')
    expect(codeOf(() => validateIpnsRecord(name, sign(encodeCborMap({ ...base, Value: 'text' })), ctx))).toBe('ipns/malformed-data')
    expect(codeOf(() => validateIpnsRecord(name, sign(Uint8Array.of(0xa1, 0x61)), ctx))).toBe('ipns/malformed-data')
    expect(codeOf(() => validateIpnsRecord(name, sign(encodeCborMap({ ...base, ValidityType: 1n })), ctx))).toBe('ipns/unknown-validity-type')
    expect(codeOf(() => validateIpnsRecord(name, sign(encodeCborMap({ ...base, Validity: utf8('tomorrow') })), ctx))).toBe('ipns/malformed-validity')
    // nesting beyond the bound is malformed, not a stack overflow
    const deep = concat([Uint8Array.of(0xa6), five.subarray(1), Uint8Array.of(0x62, 0x5f, 0x78), new Uint8Array(40).fill(0x81), Uint8Array.of(0x01)])
    expect(codeOf(() => validateIpnsRecord(name, sign(deep), ctx))).toBe('ipns/malformed-data')
  })

  test('garbage records: ProtocolError and nothing else', () => {
    const a = named('v1-v2')
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(a.record.length - 1), fc.integer({ min: 0, max: 255 }), (junk, at, byte) => {
      for (const input of [junk, Uint8Array.from(a.record, (x, i) => (i === at ? byte : x))]) {
        try {
          validateIpnsRecord(a.name, input, ctx)
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e
          expect(e.code.startsWith('ipns/')).toBe(true)
        }
      }
    }), { seed: 7, numRuns: 300 })
  })
})
