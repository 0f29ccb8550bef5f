/**
 * Peer ids (peer-ids spec, "Peer Ids" and "String representation").
 *
 * A peer id is a multihash of the public key's deterministic protobuf encoding:
 *   - protobuf of at most 42 bytes: the "identity" multihash (code 0x00), i.e. the key itself inlined
 *     (Ed25519 keys: `00 24 08 01 12 20 <32 bytes>`, text `12D3KooW...`; Secp256k1: `16Uiu2...`);
 *   - otherwise: the sha2-256 multihash (code 0x12, 32-byte digest; RSA and ECDSA keys, text `Qm...`).
 *
 * Two text forms: the legacy bare base58btc multihash (displayed by default, as the spec says), and a
 * CIDv1 with the `libp2p-key` multicodec (0x72), by default in base32 (`bafz...`). Decoding follows the
 * spec: text starting with `1` or `Qm` is bare base58btc; text starting with a multibase prefix is a
 * CID; anything else is not a peer id.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { sha256 } from '../core/crypto/sha256.js'
import { ProtocolError } from '../core/errors.js'
import { concat, equals } from '../core/bytes.js'
import { BASE32, BASE58BTC, baseXDecode, baseXEncode, decodeBase, rfc4648Encode } from '../core/base.js'
import * as varint from '../core/varint.js'
import { fail, fromUserText } from './errors.js'
import { publicKeyFromProtobuf } from './keys.js'
import type { PublicKey } from './keys.js'

/** Multihash codes used by peer ids. */
export const MULTIHASH_IDENTITY = 0x00
/** The sha2-256 multihash code, used for peer ids of keys whose protobuf exceeds 42 bytes (RSA, ECDSA). */
export const MULTIHASH_SHA2_256 = 0x12
/** Keys whose protobuf is at most this long are inlined with the identity multihash. */
export const MAX_INLINE_KEY_LENGTH = 42
/** The `libp2p-key` multicodec for peer ids as CIDs. */
export const LIBP2P_KEY_CODEC = 0x72
export const CID_VERSION_1 = 0x01

/**
 * Longest peer id text we try to decode. The longest valid text is a CID of an inlined 42-byte key in
 * base16 (about 95 characters). Stops quadratic base58 decoding of megabyte strings.
 */
export const MAX_PEER_ID_TEXT_LENGTH = 128

/**
 * Multibase prefixes accepted for CID text: base32 `b`, base58btc `z`, base36 `k`, base16 `f` (the
 * case-insensitive bases in either case, as the multibase spec allows).
 */
const MULTIBASES = 'bzkf'


/**
 * A peer id (peer-ids spec "Peer Ids"): the multihash of the peer's public key protobuf, the identity
 * multihash when it is at most 42 bytes (Ed25519: `12D3KooW...`), sha2-256 otherwise (RSA: `Qm...`).
 * Printed as bare base58btc (`toString`) or as a CIDv1 `libp2p-key` (`toCID`). `PeerId.parse`
 * accepts both and throws `UsageError` with a `PeerIdErrorCode`; `PeerId.fromMultihash` throws
 * `ProtocolError('peer-id', code)` for bytes from the network.
 * @example
 * ```ts
 * const id = PeerId.parse('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
 * id.toCID() // 'bafzaa...'
 * ```
 */
export class PeerId {
  /** The multihash: identity (0x00) of the key protobuf when <= 42 bytes, sha2-256 (0x12) otherwise. */
  readonly multihash: Uint8Array
  /** The public key, when inlined in the multihash (identity); undefined for sha2-256 peer ids. */
  readonly publicKey: PublicKey | undefined
  #text: string | undefined

  private constructor(multihash: Uint8Array, publicKey: PublicKey | undefined) {
    this.multihash = multihash
    this.publicKey = publicKey
  }

  /**
   * The peer id of a public key. Keys of more than 42 bytes (RSA, ECDSA) are hashed with sha2-256:
   * by `crypto` when given, else by src/core/crypto/sha256.ts (no direct crypto-library import
   * here: src/core/crypto is the one place that imports one), so `toPeerId()` works without a
   * provider.
   */
  static fromPublicKey(key: PublicKey, crypto?: CryptoProvider): PeerId {
    const pb = key.bytes
    if (pb.length <= MAX_INLINE_KEY_LENGTH) {
      return new PeerId(concat([Uint8Array.of(MULTIHASH_IDENTITY, pb.length), pb]), key)
    }
    const digest = crypto !== undefined ? crypto.sha256(pb) : sha256(pb)
    return new PeerId(concat([Uint8Array.of(MULTIHASH_SHA2_256, digest.length), digest]), undefined)
  }

  /**
   * A peer id from its binary form (a multihash; e.g. from a peer record or a /p2p multiaddr component).
   * Accepts an identity multihash of at most 42 bytes holding a valid public key protobuf, or a sha2-256
   * multihash with a 32-byte digest. ProtocolError 'peer-id/invalid-multihash' otherwise.
   */
  static fromMultihash(bytes: Uint8Array): PeerId {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array')
    // the longest valid multihash is an identity one: 2 header bytes + 42 key bytes
    if (bytes.length > 2 + MAX_INLINE_KEY_LENGTH) throw fail('peer-id/invalid-multihash', `${bytes.length} bytes is too long for a peer id`)
    let code: number
    let length: number
    let offset: number
    try {
      const c = varint.decode(bytes, 0)!
      const l = varint.decode(bytes, c.bytes)!
      code = c.value
      length = l.value
      offset = c.bytes + l.bytes
    } catch (e) {
      throw fail('peer-id/invalid-multihash', 'malformed multihash header', e)
    }
    if (bytes.length - offset !== length) throw fail('peer-id/invalid-multihash', `digest length ${length}, but ${bytes.length - offset} bytes follow`)
    const digest = bytes.subarray(offset)
    if (code === MULTIHASH_SHA2_256) {
      if (length !== 32) throw fail('peer-id/invalid-multihash', `sha2-256 digest of ${length} bytes`)
      return new PeerId(bytes.slice(), undefined)
    }
    if (code === MULTIHASH_IDENTITY) {
      let key: PublicKey
      try {
        key = publicKeyFromProtobuf(digest)
      } catch (e) {
        throw fail('peer-id/invalid-multihash', `identity multihash does not hold a valid public key (${e instanceof Error ? e.message : String(e)})`, e)
      }
      return new PeerId(bytes.slice(), key)
    }
    throw fail('peer-id/invalid-multihash', `multihash code 0x${code.toString(16)} is neither identity nor sha2-256`)
  }

  /** Alias of fromMultihash: the binary form of a peer id is its multihash. */
  static fromBytes = PeerId.fromMultihash

  /**
   * Parse text: a bare base58btc multihash (`12D3KooW...`, `Qm...`, `16Uiu2...`) or a CIDv1 with the
   * libp2p-key codec in a multibase (`bafz...`; also base58btc `z`, base36 `k`, base16 `f`).
   * Text is user input: malformed text throws `UsageError` with a `peer-id/*` code, not
   * ProtocolError (peer ids from remotes arrive as bytes: `fromMultihash`).
   */
  static parse(text: string): PeerId {
    if (typeof text !== 'string') throw new TypeError('peer id text must be a string')
    return fromUserText(() => PeerId.#parseText(text))
  }

  static #parseText(text: string): PeerId {
    if (text.length === 0 || text.length > MAX_PEER_ID_TEXT_LENGTH) throw fail('peer-id/invalid-text', `peer id text of length ${text.length}`)
    if (text.startsWith('1') || text.startsWith('Qm')) {
      const mh = baseXDecode(text, BASE58BTC)
      if (mh === undefined) throw fail('peer-id/invalid-text', 'not valid base58btc')
      return PeerId.fromMultihash(mh)
    }
    if (!MULTIBASES.includes(text[0]!)) throw fail('peer-id/invalid-text', 'neither a base58btc multihash nor a CID in a supported multibase')
    const cid = decodeBase(text[0]!, text.slice(1))
    if (cid === undefined) throw fail('peer-id/invalid-text', 'malformed multibase text')
    let codec: number
    let offset: number
    try {
      const v = varint.decode(cid, 0)!
      if (v.value !== CID_VERSION_1) throw fail('peer-id/invalid-text', `CID version ${v.value}, expected 1`)
      const c = varint.decode(cid, v.bytes)!
      codec = c.value
      offset = v.bytes + c.bytes
    } catch (e) {
      if (e instanceof ProtocolError && e.protocol === 'peer-id') throw e
      throw fail('peer-id/invalid-text', 'malformed CID header', e)
    }
    if (codec !== LIBP2P_KEY_CODEC) throw fail('peer-id/wrong-codec', `CID codec 0x${codec.toString(16)}, expected libp2p-key (0x72)`)
    return PeerId.fromMultihash(cid.subarray(offset))
  }

  /** The legacy text form the spec says to display: the bare base58btc multihash. */
  toString(): string {
    this.#text ??= baseXEncode(this.multihash, BASE58BTC)
    return this.#text
  }

  /** The base58btc text, so `JSON.stringify` prints a peer id as its string. */
  toJSON(): string {
    return this.toString()
  }

  /** The CIDv1 text form (libp2p-key codec 0x72, base32 multibase, "bafz..."). */
  toCID(): string {
    return `b${rfc4648Encode(concat([Uint8Array.of(CID_VERSION_1, LIBP2P_KEY_CODEC), this.multihash]), BASE32, 5)}`
  }

  /** Same multihash. A string is parsed first; a string that is not a peer id is simply not equal. */
  equals(other: PeerId | string): boolean {
    if (typeof other === 'string') {
      try {
        other = PeerId.parse(other)
      } catch {
        return false
      }
    }
    return other instanceof PeerId && equals(this.multihash, other.multihash)
  }
}
