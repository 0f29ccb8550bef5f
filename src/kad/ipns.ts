/**
 * IPNS record validation and selection: ipfs/specs `src/ipns/ipns-record.md` (IPNS Record and
 * Protocol, "Record Verification"), checked against the spec's test vectors (spec/vectors/ipns.json,
 * from ipfs/gateway-conformance fixtures/ipns_records).
 *
 *   IpnsEntry { value = 1, signatureV1 = 2, validityType = 3, validity = 4, sequence = 5,
 *               ttl = 6, pubKey = 7, signatureV2 = 8, data = 9 }
 *
 * `data` is a DAG-CBOR map { Value: bytes, Validity: bytes, ValidityType: 0, Sequence: uint,
 * TTL: uint } (other keys are extensions and ignored). Verification, in the spec's order, failing
 * on the first error (each step's IpnsErrorCode in brackets):
 * 1. the serialized IpnsEntry is at most 10 KiB [ipns/record-too-large], then decodes
 *    [ipns/malformed-entry];
 * 2. `signatureV2` and `data` are present and not empty [ipns/missing-signature-v2,
 *    ipns/missing-data]: V1-only records are invalid;
 * 3. the public key is `pubKey` when present (it must parse and its peer id must be the name)
 *    [ipns/invalid-public-key, ipns/public-key-mismatch]; else the name must be an identity
 *    multihash inlining the key [ipns/no-public-key]; a name that is no peer id multihash
 *    [ipns/invalid-name];
 * 4. `data` is DAG-CBOR with the five fields [ipns/malformed-data];
 * 5–6. `signatureV2` verifies over "ipns-signature:" followed by `data` [ipns/signature-v2-invalid;
 *    ipns/unsupported-key-type when the crypto provider cannot verify the key type, e.g. RSA with
 *    nobleCrypto].
 *    `signatureV1` is never verified or used;
 * 7. when `signatureV1` or `value` is present, every V1 field must equal its `data` twin, an
 *    absent field counting as empty / 0 [ipns/v1-v2-mismatch];
 * 8. ValidityType is 0 (EOL) [ipns/unknown-validity-type] and Validity, an RFC 3339 time
 *    [ipns/malformed-validity], is after the current wall time [ipns/expired].
 * Selection: the highest Sequence wins; equal sequences: the later Validity; then the first.
 *
 * `validateIpnsRecord` throws ProtocolError<IpnsErrorCode> ('ipns'); the DHT's `/ipns` validator
 * wraps it as 'kad/invalid-record' with the IPNS error as `cause`.
 */
import { ProtocolError } from '../core/errors.js'
import { concat, equals, utf8, fromUtf8 } from '../core/bytes.js'
import { decodeMessage, encodeMessage, tag, WIRE_LEN, WIRE_VARINT } from '../core/protobuf.js'
import { PeerId, publicKeyFromProtobuf } from '../peer-id/index.js'
import type { PrivateKey, PublicKey } from '../peer-id/index.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { decodeCborMap, encodeCborMap } from './cbor.js'
import type { RecordValidator, ValidationContext } from './validators.js'
import { invalidRecord, splitNamespace } from './namespace.js'
import type { KadErrorCode } from './message.js'

/** Largest IPNS record accepted, 10 KiB (ipns spec "Record Size Limit"). */
export const IPNS_MAX_RECORD_SIZE = 10 * 1024
export const IPNS_SIGNATURE_PREFIX = utf8('ipns-signature:')

/** The `IpnsEntry` protobuf (ipns spec "Record Serialization Format"). */
export interface IpnsEntry {
  value?: Uint8Array
  signatureV1?: Uint8Array
  validityType?: number
  validity?: Uint8Array
  sequence?: bigint
  ttl?: bigint
  pubKey?: Uint8Array
  signatureV2?: Uint8Array
  data?: Uint8Array
}

/** The DAG-CBOR `data` of an IPNS record (ipns spec): value, validity, validity type, sequence, TTL. */
export interface IpnsData {
  value: Uint8Array
  validity: Uint8Array
  validityType: bigint
  sequence: bigint
  ttl: bigint
}

/** Decode an `IpnsEntry` (at most 10 KiB); throws `ProtocolError('kad', code)` when malformed. */
export function decodeIpnsEntry(buf: Uint8Array): IpnsEntry {
  const e: IpnsEntry = {}
  decodeMessage(buf, 'kad', IPNS_MAX_RECORD_SIZE, (field, r) => {
    switch (field) {
      case 1: e.value = r.bytes(); return
      case 2: e.signatureV1 = r.bytes(); return
      case 3: e.validityType = r.enum(); return
      case 4: e.validity = r.bytes(); return
      case 5: e.sequence = r.uint64Big(); return
      case 6: e.ttl = r.uint64Big(); return
      case 7: e.pubKey = r.bytes(); return
      case 8: e.signatureV2 = r.bytes(); return
      case 9: e.data = r.bytes(); return
      default: r.skip()
    }
  })
  return e
}

/** Encode an `IpnsEntry` protobuf. */
export function encodeIpnsEntry(e: IpnsEntry): Uint8Array {
  return encodeMessage((w) => {
    if (e.value !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(e.value)
    if (e.signatureV1 !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(e.signatureV1)
    if (e.validityType !== undefined) w.uint32(tag(3, WIRE_VARINT)).int32(e.validityType)
    if (e.validity !== undefined) w.uint32(tag(4, WIRE_LEN)).bytes(e.validity)
    if (e.sequence !== undefined) w.uint32(tag(5, WIRE_VARINT)).uint64(e.sequence)
    if (e.ttl !== undefined) w.uint32(tag(6, WIRE_VARINT)).uint64(e.ttl)
    if (e.pubKey !== undefined) w.uint32(tag(7, WIRE_LEN)).bytes(e.pubKey)
    if (e.signatureV2 !== undefined) w.uint32(tag(8, WIRE_LEN)).bytes(e.signatureV2)
    if (e.data !== undefined) w.uint32(tag(9, WIRE_LEN)).bytes(e.data)
  })
}

/** The `/ipns/<multihash>` routing key of a peer id. */
export function ipnsKey(peer: PeerId): Uint8Array {
  return concat([utf8('/ipns/'), peer.multihash])
}

/**
 * Create a signed V1+V2 IPNS record (for tests, the CLI and users). `validity` is an RFC 3339 time
 * string; `ttlNs` nanoseconds.
 */
export function createIpnsRecord(
  key: PrivateKey,
  value: Uint8Array,
  sequence: bigint,
  validity: string,
  ttlNs: bigint,
  crypto: CryptoProvider,
): Uint8Array {
  const validityBytes = utf8(validity)
  const data = encodeCborMap({ Value: value, Validity: validityBytes, ValidityType: 0n, Sequence: sequence, TTL: ttlNs })
  const signatureV2 = key.sign(concat([IPNS_SIGNATURE_PREFIX, data]), crypto)
  return encodeIpnsEntry({ value, validityType: 0, validity: validityBytes, sequence, ttl: ttlNs, signatureV2, data })
}

/** Why an IPNS record is invalid (ipns spec "Record Verification"): too large, malformed, bad signature, expired... */
export type IpnsErrorCode =
  | 'ipns/record-too-large'
  | 'ipns/malformed-entry'
  | 'ipns/missing-signature-v2'
  | 'ipns/missing-data'
  | 'ipns/invalid-name'
  | 'ipns/invalid-public-key'
  | 'ipns/public-key-mismatch'
  | 'ipns/no-public-key'
  | 'ipns/malformed-data'
  | 'ipns/unsupported-key-type'
  | 'ipns/signature-v2-invalid'
  | 'ipns/v1-v2-mismatch'
  | 'ipns/unknown-validity-type'
  | 'ipns/malformed-validity'
  | 'ipns/expired'

function ipnsError(code: IpnsErrorCode, message?: string): ProtocolError<IpnsErrorCode> {
  return new ProtocolError<IpnsErrorCode>('ipns', code, message)
}

/** Decode `data` (step 4). Throws ProtocolError 'ipns/malformed-data'. */
export function ipnsData(entry: IpnsEntry): IpnsData {
  if (entry.data === undefined || entry.data.length === 0) throw ipnsError('ipns/missing-data')
  let m: Map<string, unknown>
  try {
    m = decodeCborMap(entry.data)
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    throw ipnsError('ipns/malformed-data', e.message)
  }
  const bytes = (k: string): Uint8Array => {
    const v = m.get(k)
    if (!(v instanceof Uint8Array)) throw ipnsError('ipns/malformed-data', `${k} missing or not bytes`)
    return v
  }
  const uint = (k: string): bigint => {
    const v = m.get(k)
    if (typeof v !== 'bigint') throw ipnsError('ipns/malformed-data', `${k} missing or not an unsigned integer`)
    return v
  }
  return { value: bytes('Value'), validity: bytes('Validity'), validityType: uint('ValidityType'), sequence: uint('Sequence'), ttl: uint('TTL') }
}

/** Step 7: the V1 protobuf copies equal `data` (checked when signatureV1 or value is present). */
function checkV1Copies(entry: IpnsEntry, d: IpnsData): void {
  if (entry.signatureV1 === undefined && entry.value === undefined) return
  const empty = new Uint8Array(0)
  const mismatch = (field: string): ProtocolError<IpnsErrorCode> => ipnsError('ipns/v1-v2-mismatch', `${field} differs between the protobuf and data`)
  if (!equals(entry.value ?? empty, d.value)) throw mismatch('value')
  if (!equals(entry.validity ?? empty, d.validity)) throw mismatch('validity')
  if (BigInt(entry.validityType ?? 0) !== d.validityType) throw mismatch('validityType')
  if ((entry.sequence ?? 0n) !== d.sequence) throw mismatch('sequence')
  if ((entry.ttl ?? 0n) !== d.ttl) throw mismatch('ttl')
}
/** RFC 3339 (`2033-05-18T03:33:20.000000000Z`, offsets allowed) to ms since the epoch; undefined if malformed. */
export function parseRfc3339(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]))
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return undefined
  let t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!)
  if (m[7] !== undefined) t += Number(m[7].padEnd(3, '0').slice(0, 3))
  if (m[9] !== undefined) {
    const off = (Number(m[10]) * 60 + Number(m[11])) * 60_000
    t += m[9] === '+' ? -off : off
  }
  return t
}

/** Step 8's time: Validity as ms since the epoch. Throws 'ipns/malformed-validity'. */
export function ipnsValidityMs(d: IpnsData): number {
  let text: string
  try {
    text = fromUtf8(d.validity)
  } catch {
    throw ipnsError('ipns/malformed-validity', 'not UTF-8')
  }
  const t = parseRfc3339(text)
  if (t === undefined) throw ipnsError('ipns/malformed-validity', `${JSON.stringify(text.slice(0, 40))} is not RFC 3339`)
  return t
}

/** Step 3. */
function publicKeyFor(name: Uint8Array, entry: IpnsEntry): PublicKey {
  let peer: PeerId
  try {
    peer = PeerId.fromMultihash(name)
  } catch {
    throw ipnsError('ipns/invalid-name', 'the name is not a peer id multihash')
  }
  if (entry.pubKey !== undefined && entry.pubKey.length > 0) {
    let k: PublicKey
    try {
      k = publicKeyFromProtobuf(entry.pubKey)
    } catch {
      throw ipnsError('ipns/invalid-public-key', 'pubKey is not a public key')
    }
    if (!equals(k.toPeerId().multihash, name)) throw ipnsError('ipns/public-key-mismatch', 'pubKey does not match the name')
    return k
  }
  if (peer.publicKey === undefined) throw ipnsError('ipns/no-public-key', 'no pubKey and the name does not inline one')
  return peer.publicKey
}

/**
 * Verify an IPNS record for the name `name` (the peer id multihash after `/ipns/`) at wall time
 * `ctx.wallTime`, steps 1–8 of the header. Returns the record's signed data.
 * Throws ProtocolError<IpnsErrorCode>.
 */
export function validateIpnsRecord(name: Uint8Array, record: Uint8Array, ctx: ValidationContext): IpnsData {
  if (record.length > IPNS_MAX_RECORD_SIZE) throw ipnsError('ipns/record-too-large', `${record.length} bytes > ${IPNS_MAX_RECORD_SIZE}`)
  let entry: IpnsEntry
  try {
    entry = decodeIpnsEntry(record)
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e
    throw ipnsError('ipns/malformed-entry', e.code)
  }
  if (entry.signatureV2 === undefined || entry.signatureV2.length === 0) throw ipnsError('ipns/missing-signature-v2', 'V1-only records are invalid')
  if (entry.data === undefined || entry.data.length === 0) throw ipnsError('ipns/missing-data')
  const pub = publicKeyFor(name, entry)
  const d = ipnsData(entry)
  let ok: boolean
  try {
    ok = pub.verify(concat([IPNS_SIGNATURE_PREFIX, entry.data]), entry.signatureV2, ctx.crypto)
  } catch (e) {
    // The crypto provider cannot verify this key type (nobleCrypto and RSA): not verified, so invalid.
    if (e instanceof ProtocolError && e.code === 'peer-id/unsupported-key-type') throw ipnsError('ipns/unsupported-key-type', e.message)
    ok = false
  }
  if (!ok) throw ipnsError('ipns/signature-v2-invalid')
  checkV1Copies(entry, d)
  if (d.validityType !== 0n) throw ipnsError('ipns/unknown-validity-type', String(d.validityType))
  if (ipnsValidityMs(d) <= ctx.wallTime) throw ipnsError('ipns/expired')
  return d
}

/**
 * The `/ipns/` record validator (ipns spec "Record Verification"): the V2 signature over
 * `"ipns-signature:" + data` by the key the name hashes to, and an unexpired EOL validity;
 * `select` prefers the highest sequence number, then the latest validity.
 */
export const ipnsValidator: RecordValidator = {
  validate(key: Uint8Array, value: Uint8Array, ctx: ValidationContext): void {
    const ns = splitNamespace(key)
    if (ns === undefined || ns.namespace !== 'ipns') throw invalidRecord('not an /ipns key')
    try {
      validateIpnsRecord(ns.rest, value, ctx)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      throw new ProtocolError<KadErrorCode>('kad', 'kad/invalid-record', `ipns: ${e.message}`, { cause: e })
    }
  },
  select(_key, values): number {
    let best = -1
    let bestSeq = -1n
    let bestEol = -Infinity
    values.forEach((v, i) => {
      let d: IpnsData
      let eol: number
      try {
        d = ipnsData(decodeIpnsEntry(v))
        eol = ipnsValidityMs(d)
      } catch {
        return
      }
      if (best < 0 || d.sequence > bestSeq || (d.sequence === bestSeq && eol > bestEol)) {
        best = i
        bestSeq = d.sequence
        bestEol = eol
      }
    })
    return Math.max(best, 0)
  },
}
