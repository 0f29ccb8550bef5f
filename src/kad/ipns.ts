/**
 * IPNS record validation and selection (ipfs/specs "IPNS Record and Protocol", record format V2),
 * written from our reading of that spec; the specs repo is not mirrored here, see spec/kad.md.
 *
 *   IpnsEntry { value = 1, signatureV1 = 2, validityType = 3, validity = 4, sequence = 5,
 *               ttl = 6, pubKey = 7, signatureV2 = 8, data = 9 }
 *
 * `data` is a DAG-CBOR map { Value: bytes, Validity: bytes, ValidityType: 0, Sequence: uint,
 * TTL: uint }. A record is valid when:
 * 1. it is at most 10 KiB;
 * 2. `signatureV2` and `data` are present (V1-only records are rejected);
 * 3. `data` decodes and holds the five fields; any V1 protobuf field that is present equals the
 *    one in `data`;
 * 4. the public key is `pubKey` when present (its peer id must be the name), else the one inlined
 *    in the name (an identity-multihash peer id); no key: invalid;
 * 5. `signatureV2` verifies over the bytes "ipns-signature:" followed by `data`;
 * 6. ValidityType is 0 (EOL) and Validity, an RFC 3339 time, is after the current wall time.
 * Selection: the highest Sequence wins; equal sequences: the later Validity; then the first.
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

export const IPNS_MAX_RECORD_SIZE = 10 * 1024
export const IPNS_SIGNATURE_PREFIX = utf8('ipns-signature:')

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

export interface IpnsData {
  value: Uint8Array
  validity: Uint8Array
  validityType: bigint
  sequence: bigint
  ttl: bigint
}

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

export function encodeIpnsEntry(e: IpnsEntry): Uint8Array {
  return encodeMessage((w) => {
    if (e.value !== undefined) w.uint32(tag(1, WIRE_LEN)).bytes(e.value)
    if (e.signatureV1 !== undefined) w.uint32(tag(2, WIRE_LEN)).bytes(e.signatureV1)
    if (e.validityType !== undefined) w.uint32(tag(3, WIRE_VARINT)).int32(e.validityType)
    if (e.validity !== undefined) w.uint32(tag(4, WIRE_LEN)).bytes(e.validity)
    if (e.sequence !== undefined) w.uint32(tag(5, WIRE_VARINT)).uint64(e.sequence.toString())
    if (e.ttl !== undefined) w.uint32(tag(6, WIRE_VARINT)).uint64(e.ttl.toString())
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

/** Parse and check the data field (steps 2–3). */
export function ipnsData(entry: IpnsEntry): IpnsData {
  if (entry.signatureV2 === undefined) throw invalidRecord('ipns: no signatureV2 (V1-only records are not accepted)')
  if (entry.data === undefined) throw invalidRecord('ipns: no data')
  const m = decodeCborMap(entry.data)
  const bytes = (k: string): Uint8Array => {
    const v = m.get(k)
    if (!(v instanceof Uint8Array)) throw invalidRecord(`ipns data: ${k} missing or not bytes`)
    return v
  }
  const uint = (k: string): bigint => {
    const v = m.get(k)
    if (typeof v !== 'bigint') throw invalidRecord(`ipns data: ${k} missing or not an unsigned integer`)
    return v
  }
  const d: IpnsData = { value: bytes('Value'), validity: bytes('Validity'), validityType: uint('ValidityType'), sequence: uint('Sequence'), ttl: uint('TTL') }
  if (entry.value !== undefined && !equals(entry.value, d.value)) throw invalidRecord('ipns: value differs from data')
  if (entry.validity !== undefined && !equals(entry.validity, d.validity)) throw invalidRecord('ipns: validity differs from data')
  if (entry.validityType !== undefined && BigInt(entry.validityType) !== d.validityType) throw invalidRecord('ipns: validityType differs from data')
  if (entry.sequence !== undefined && entry.sequence !== d.sequence) throw invalidRecord('ipns: sequence differs from data')
  if (entry.ttl !== undefined && entry.ttl !== d.ttl) throw invalidRecord('ipns: ttl differs from data')
  return d
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

function validityMs(d: IpnsData): number {
  let text: string
  try {
    text = fromUtf8(d.validity)
  } catch {
    throw invalidRecord('ipns: validity is not UTF-8')
  }
  const t = parseRfc3339(text)
  if (t === undefined) throw invalidRecord(`ipns: validity ${JSON.stringify(text.slice(0, 40))} is not RFC 3339`)
  return t
}

function publicKeyFor(name: Uint8Array, entry: IpnsEntry): PublicKey {
  let peer: PeerId
  try {
    peer = PeerId.fromMultihash(name)
  } catch {
    throw invalidRecord('ipns: the name is not a peer id multihash')
  }
  if (entry.pubKey !== undefined) {
    let k: PublicKey
    try {
      k = publicKeyFromProtobuf(entry.pubKey)
    } catch {
      throw invalidRecord('ipns: pubKey is not a public key')
    }
    if (!equals(k.toPeerId().multihash, name)) throw invalidRecord('ipns: pubKey does not match the name')
    return k
  }
  if (peer.publicKey === undefined) throw invalidRecord('ipns: no pubKey and the name does not inline one')
  return peer.publicKey
}

export const ipnsValidator: RecordValidator = {
  validate(key: Uint8Array, value: Uint8Array, ctx: ValidationContext): void {
    if (value.length > IPNS_MAX_RECORD_SIZE) throw invalidRecord(`ipns: record of ${value.length} bytes > ${IPNS_MAX_RECORD_SIZE}`)
    const ns = splitNamespace(key)
    if (ns === undefined || ns.namespace !== 'ipns') throw invalidRecord('not an /ipns key')
    let entry: IpnsEntry
    try {
      entry = decodeIpnsEntry(value)
    } catch (e) {
      throw invalidRecord(`ipns: malformed IpnsEntry (${e instanceof ProtocolError ? e.code : 'error'})`)
    }
    const d = ipnsData(entry)
    const pub = publicKeyFor(ns.rest, entry)
    let ok: boolean
    try {
      ok = pub.verify(concat([IPNS_SIGNATURE_PREFIX, entry.data!]), entry.signatureV2!, ctx.crypto)
    } catch {
      ok = false
    }
    if (!ok) throw invalidRecord('ipns: bad signatureV2')
    if (d.validityType !== 0n) throw invalidRecord(`ipns: unknown validityType ${d.validityType}`)
    if (validityMs(d) <= ctx.wallTime) throw invalidRecord('ipns: record expired')
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
        eol = validityMs(d)
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
