/**
 * libp2p keys (peer-ids spec, "Keys" and "Key Types").
 *
 * A key travels as a tiny protobuf, `PublicKey { required KeyType Type = 1; required bytes Data = 2; }`,
 * whose Data encoding depends on the Type:
 *   RSA       Data = DER-encoded PKIX (SubjectPublicKeyInfo)
 *   Ed25519   Data = the 32-byte public key
 *   Secp256k1 Data = the 33-byte compressed point ("standard Bitcoin EC encoding")
 *   ECDSA     Data = DER-encoded PKIX (SubjectPublicKeyInfo)
 * The spec demands a deterministic encoding (minimal varints, fields in tag order, all fields present,
 * no other fields), because the peer id is a hash of these exact bytes. weft therefore accepts ONLY
 * the deterministic encoding: decoding re-encodes and compares, so `PublicKey.bytes` always equals
 * the bytes that arrived and two parties always derive the same peer id.
 *
 * Private keys: weft generates and signs with Ed25519 only. `PrivateKey { Type = Ed25519, Data = seed
 * || public key }` (64 bytes); the legacy 96-byte form `seed || public key || public key` is accepted
 * when both public key copies agree. Signature verification for the other key types goes through the
 * crypto provider's optional `verifyOther`.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { ProtocolError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import { WIRE_LEN, WIRE_VARINT, decodeMessage, encodeMessage, tag } from '../core/protobuf.js'
import { fail } from './errors.js'
import { PeerId } from './peer-id.js'

/** The libp2p key types (peer-ids spec "Keys", protobuf enum `KeyType`). */
export type KeyType = 'RSA' | 'Ed25519' | 'Secp256k1' | 'ECDSA'

/** The protobuf enum `KeyType`, index = wire value. */
export const KEY_TYPES: readonly KeyType[] = ['RSA', 'Ed25519', 'Secp256k1', 'ECDSA']

/**
 * Largest public key protobuf we decode. An 8192-bit RSA key (go-libp2p's maximum) encodes to about
 * 1,070 bytes. Stops a remote from making us parse (and later hash or verify with) a huge "key".
 */
export const MAX_PUBLIC_KEY_BYTES = 2048
/** Largest private key protobuf we decode (a 4096-bit RSA private key is ~2,350 bytes; we only need
 * the size to report "unsupported" rather than "too large" for such files). Local input, but bounded. */
export const MAX_PRIVATE_KEY_BYTES = 16384

export const ED25519_KEY_LENGTH = 32
export const SECP256K1_KEY_LENGTH = 33

/** The deterministic `PublicKey`/`PrivateKey` protobuf: field 1 Type (varint), then field 2 Data. */
export function encodeKeyMessage(type: KeyType, data: Uint8Array): Uint8Array {
  const typeNumber = KEY_TYPES.indexOf(type)
  if (typeNumber < 0) throw new TypeError(`unknown key type ${String(type)}`)
  return encodeMessage((w) => {
    w.uint32(tag(1, WIRE_VARINT)).uint32(typeNumber)
    w.uint32(tag(2, WIRE_LEN)).bytes(data)
  })
}

/**
 * Decode a key protobuf (public or private) strictly: both fields present, a known type, and exactly
 * the deterministic encoding (anything else re-encodes differently and is rejected).
 */
function decodeKeyMessage(bytes: Uint8Array, maxSize: number, what: string): { type: KeyType; data: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`)
  if (bytes.length > maxSize) throw fail('peer-id/invalid-key', `${what} protobuf of ${bytes.length} bytes exceeds ${maxSize}`)
  let typeNumber: number | undefined
  let data: Uint8Array | undefined
  try {
    decodeMessage(bytes, 'peer-id', maxSize, (field, r) => {
      if (field === 1 && typeNumber === undefined) typeNumber = r.enum()
      else if (field === 2 && data === undefined) data = r.bytes()
      else throw fail('peer-id/invalid-key', `${what}: ${field === 1 || field === 2 ? 'repeated' : 'unknown'} field ${field}`)
    })
  } catch (e) {
    if (e instanceof ProtocolError && e.protocol === 'peer-id' && e.code.startsWith('peer-id/')) throw e
    throw fail('peer-id/invalid-key', `${what}: ${e instanceof Error ? e.message : String(e)}`, e)
  }
  if (typeNumber === undefined) throw fail('peer-id/invalid-key', `${what}: missing Type`)
  if (data === undefined) throw fail('peer-id/invalid-key', `${what}: missing Data`)
  const type = KEY_TYPES[typeNumber]
  if (type === undefined) throw fail('peer-id/unsupported-key-type', `${what}: key type ${typeNumber}`)
  if (!equals(encodeKeyMessage(type, data), bytes)) throw fail('peer-id/invalid-key', `${what}: not the deterministic encoding`)
  return { type, data }
}

/** Read one DER length at `at`; returns [length, offset after it] or undefined when malformed. */
function derLength(b: Uint8Array, at: number): [number, number] | undefined {
  const first = b[at]
  if (first === undefined) return undefined
  if (first < 0x80) return [first, at + 1]
  const n = first & 0x7f
  if (n === 0 || n > 3 || at + 1 + n > b.length) return undefined
  let len = 0
  for (let i = 0; i < n; i++) len = len * 256 + b[at + 1 + i]!
  if (len < 0x80 || b[at + 1] === 0) return undefined // DER: minimal length encoding
  return [len, at + 1 + n]
}

/** A structural sanity check of DER SubjectPublicKeyInfo: one SEQUENCE covering exactly the Data. */
function isDerSequence(b: Uint8Array): boolean {
  if (b[0] !== 0x30) return false
  const l = derLength(b, 1)
  return l !== undefined && l[1] + l[0] === b.length
}

/** Why `data` is not a valid Data field for `type`, or undefined when it is. */
function keyDataProblem(type: KeyType, data: Uint8Array): string | undefined {
  switch (type) {
    case 'Ed25519':
      return data.length === ED25519_KEY_LENGTH ? undefined : `Ed25519 public key of ${data.length} bytes, expected 32`
    case 'Secp256k1':
      if (data.length !== SECP256K1_KEY_LENGTH) return `Secp256k1 public key of ${data.length} bytes, expected 33 (compressed)`
      return data[0] === 0x02 || data[0] === 0x03 ? undefined : 'Secp256k1 public key is not a compressed point (02/03 prefix)'
    case 'RSA':
    case 'ECDSA':
      return isDerSequence(data) ? undefined : `${type} public key is not a DER SubjectPublicKeyInfo`
  }
}

/** A libp2p public key. Immutable; `bytes` is the deterministic protobuf hashed into the peer id. */
export class PublicKey {
  readonly type: KeyType
  /** The protobuf Data field (Ed25519: 32 raw bytes). */
  readonly data: Uint8Array
  /** The deterministic protobuf encoding. */
  readonly bytes: Uint8Array
  #peerId: PeerId | undefined

  /** Build a key from its type and Data field (copied); RangeError when Data is malformed for the type. */
  constructor(type: KeyType, data: Uint8Array) {
    if (!KEY_TYPES.includes(type)) throw new TypeError(`unknown key type ${String(type)}`)
    const problem = keyDataProblem(type, data)
    if (problem !== undefined) throw new RangeError(problem)
    if (data.length + 8 > MAX_PUBLIC_KEY_BYTES) throw new RangeError(`public key Data of ${data.length} bytes is too large`)
    this.type = type
    this.data = data.slice()
    // a copy: encodeKeyMessage returns a view of a shared 8 KiB block, which a long-lived key would pin
    this.bytes = encodeKeyMessage(type, this.data).slice()
  }

  /**
   * Verify `signature` over `message` (peer-ids spec: Ed25519 per RFC 8032; the others over SHA-256
   * of the message). False for a bad signature; throws ProtocolError 'peer-id/unsupported-key-type'
   * when `crypto` cannot verify this key type.
   */
  verify(message: Uint8Array, signature: Uint8Array, crypto: CryptoProvider): boolean {
    if (this.type === 'Ed25519') return crypto.ed25519Verify(this.data, message, signature)
    const ok = crypto.verifyOther?.(this.type, this.data, message, signature)
    if (ok === undefined) throw fail('peer-id/unsupported-key-type', `crypto provider '${crypto.name}' cannot verify ${this.type} signatures`)
    return ok
  }

  /** True when `other` is a PublicKey with the same type and key bytes (same protobuf encoding). */
  equals(other: PublicKey): boolean {
    return other instanceof PublicKey && equals(this.bytes, other.bytes)
  }

  /** This key's peer id (identity multihash when the protobuf is at most 42 bytes, else sha2-256). */
  toPeerId(crypto?: CryptoProvider): PeerId {
    this.#peerId ??= PeerId.fromPublicKey(this, crypto)
    return this.#peerId
  }
}

/** Decode a `PublicKey` protobuf from a remote. ProtocolError on anything malformed. */
export function publicKeyFromProtobuf(bytes: Uint8Array): PublicKey {
  const { type, data } = decodeKeyMessage(bytes, MAX_PUBLIC_KEY_BYTES, 'public key')
  const problem = keyDataProblem(type, data)
  if (problem !== undefined) throw fail('peer-id/invalid-key', problem)
  return new PublicKey(type, data)
}

/** An Ed25519 private key (the only type weft generates and signs with). */
export class PrivateKey {
  readonly type = 'Ed25519' as const
  /** The 32-byte RFC 8032 seed. */
  readonly seed: Uint8Array
  readonly publicKey: PublicKey
  /** The protobuf encoding, Data = seed || public key (64 bytes). */
  readonly bytes: Uint8Array

  private constructor(seed: Uint8Array, publicKey: PublicKey) {
    this.seed = seed
    this.publicKey = publicKey
    const data = new Uint8Array(64)
    data.set(seed, 0)
    data.set(publicKey.data, 32)
    this.bytes = encodeKeyMessage('Ed25519', data).slice() // own memory, as PublicKey.bytes
  }

  /** @internal use privateKeyFromSeed */
  static fromSeed(seed: Uint8Array, crypto: CryptoProvider): PrivateKey {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes')
    const s = seed.slice()
    return new PrivateKey(s, new PublicKey('Ed25519', crypto.ed25519PublicKey(s)))
  }

  /** An RFC 8032 Ed25519 signature (deterministic: the same key and message give the same bytes). */
  sign(message: Uint8Array, crypto: CryptoProvider): Uint8Array {
    return crypto.ed25519Sign(this.seed, message)
  }

  /** This key's peer id. */
  toPeerId(crypto?: CryptoProvider): PeerId {
    return this.publicKey.toPeerId(crypto)
  }
}

/** A fresh Ed25519 key from the provider's randomness. */
export function generatePrivateKey(crypto: CryptoProvider): PrivateKey {
  return PrivateKey.fromSeed(crypto.randomBytes(32), crypto)
}

/** The Ed25519 key with this 32-byte seed (RangeError otherwise). */
export function privateKeyFromSeed(seed: Uint8Array, crypto: CryptoProvider): PrivateKey {
  return PrivateKey.fromSeed(seed, crypto)
}

/**
 * Decode a `PrivateKey` protobuf (e.g. a key file written by another libp2p implementation).
 * Accepts Ed25519 Data of 64 bytes (seed || public key) and the legacy 96 bytes (seed || public key ||
 * public key); the embedded public key must be the one the seed derives. ProtocolError otherwise:
 * 'peer-id/unsupported-key-type' for RSA / Secp256k1 / ECDSA private keys, 'peer-id/invalid-key' for
 * anything malformed.
 */
export function privateKeyFromProtobuf(bytes: Uint8Array, crypto: CryptoProvider): PrivateKey {
  const { type, data } = decodeKeyMessage(bytes, MAX_PRIVATE_KEY_BYTES, 'private key')
  if (type !== 'Ed25519') throw fail('peer-id/unsupported-key-type', `weft only loads Ed25519 private keys, not ${type}`)
  if (data.length !== 64 && data.length !== 96) throw fail('peer-id/invalid-key', `Ed25519 private key Data of ${data.length} bytes, expected 64 (or legacy 96)`)
  const embedded = data.subarray(32, 64)
  if (data.length === 96 && !equals(embedded, data.subarray(64, 96))) {
    throw fail('peer-id/invalid-key', 'legacy 96-byte Ed25519 private key: the two public key copies differ')
  }
  const key = PrivateKey.fromSeed(data.subarray(0, 32), crypto)
  if (!equals(key.publicKey.data, embedded)) throw fail('peer-id/invalid-key', 'Ed25519 private key: embedded public key does not match the seed')
  return key
}
