/**
 * Noise `CipherState` and `SymmetricState` (Noise Protocol Framework rev 34, §5.1 and §5.2), for the
 * cipher suite `25519_ChaChaPoly_SHA256` (HASHLEN = 32).
 *
 * CipherState holds `k` (a 32-byte key, or empty) and `n` (a 64-bit nonce). The ChaChaPoly nonce is
 * 32 bits of zeros followed by n as a little-endian 64-bit integer (§12.3). `n = 2^64-1` is reserved:
 * once incrementing n reaches it, EncryptWithAd / DecryptWithAd signal an error (here:
 * 'noise/nonce-exhausted') and the session must end.
 *
 * SymmetricState holds a CipherState plus `ck` (chaining key) and `h` (handshake hash), and provides
 * MixKey, MixHash, EncryptAndHash, DecryptAndHash and Split. Noise's HKDF(ck, ikm, n) is RFC 5869
 * HKDF-SHA256 with salt = ck, empty info and 32n output bytes (which is exactly what §4.3 defines).
 * MixKeyAndHash (pre-shared keys) is not needed by XX and is left out.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { CHACHA_TAG_LENGTH } from '../core/crypto/provider.js'
import { UsageError } from '../core/errors.js'
import { noiseError } from './errors.js'

/** Noise HASHLEN for SHA-256 (Noise spec §4.3), in bytes. */
export const HASHLEN = 32
/** Noise DHLEN for X25519 (Noise spec §4.1), in bytes. */
export const DHLEN = 32
/** The ChaChaPoly authentication tag length (Noise spec §4.2), 16 bytes. */
export const TAG_LENGTH = CHACHA_TAG_LENGTH
/** The largest Noise message (§3): both handshake and transport messages. */
export const MAX_NOISE_MESSAGE = 65535

const EMPTY = new Uint8Array(0)
const U32_MAX = 0xffffffff

/** True when the two views share memory. */
function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

/**
 * The CryptoProvider contract for `chachaOpen` (src/core/crypto/provider.ts): the plaintext is fresh
 * memory, aliasing neither the ciphertext (which may be a view of the process-wide TCP read buffer)
 * nor an earlier output. A provider that decrypts in place or into a reused scratch buffer would let
 * the next read, of any connection, overwrite data a stream has not delivered yet; it is a local
 * misconfiguration, so a UsageError (never blamed on the remote), caught at the first handshake.
 */
function checkFresh(out: Uint8Array, ciphertext: Uint8Array, previous: Uint8Array | undefined): void {
  if (out.byteLength === 0) return
  if (overlaps(out, ciphertext) || (previous !== undefined && overlaps(out, previous))) {
    throw new UsageError('crypto/provider-contract', 'chachaOpen returned memory that aliases its input or an earlier output (it must be fresh)')
  }
}

/**
 * The Noise CipherState object (Noise spec §5.1): a key `k` and a 64-bit nonce `n`;
 * `encryptWithAd` / `decryptWithAd` use ChaCha20-Poly1305 with the nonce as 32 zero bits then
 * 64-bit little-endian `n`. A failed decryption is `ProtocolError('noise', 'noise/decrypt-failed')`.
 */
export class CipherState {
  readonly #crypto: CryptoProvider
  #k: Uint8Array | undefined
  /** The last plaintext chachaOpen returned, to check the next one does not reuse its memory. */
  #lastOpened: Uint8Array | undefined
  // n is kept as two 32-bit halves and mirrored into the 12-byte ChaChaPoly nonce, which is reused
  // for every call (the providers read it synchronously and never keep it).
  #nLo = 0
  #nHi = 0
  // (written byte by byte: a DataView would give each of the two per connection its own ArrayBuffer)
  readonly #nonce = new Uint8Array(12)

  constructor(crypto: CryptoProvider, k?: Uint8Array) {
    this.#crypto = crypto
    this.initializeKey(k)
  }

  /** InitializeKey(key): k = key (undefined = empty), n = 0. */
  initializeKey(key: Uint8Array | undefined): void {
    if (key !== undefined && key.length !== 32) throw new RangeError('a CipherState key is 32 bytes')
    this.#k = key?.slice()
    this.#setN(0, 0)
  }

  /**
   * A copy of k, for the keylog only (spec/trace.md "Keylog", written when `--keylog` is given):
   * whoever holds it decrypts this direction of the session. Nothing else may read a key.
   */
  keyForKeylog(): Uint8Array | undefined {
    return this.#k?.slice()
  }

  /** HasKey() */
  hasKey(): boolean {
    return this.#k !== undefined
  }

  /** The current nonce n. */
  get n(): bigint {
    return (BigInt(this.#nHi) << 32n) | BigInt(this.#nLo)
  }

  /** SetNonce(nonce). weft uses it only in tests (to reach the reserved maximum quickly). */
  setNonce(n: bigint): void {
    if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new RangeError('nonce out of range')
    this.#setN(Number(n & 0xffffffffn), Number(n >> 32n))
  }

  /** How many more messages this CipherState may encrypt or decrypt before n reaches 2^64-1. */
  remaining(): bigint {
    return 0xffff_ffff_ffff_ffffn - this.n
  }

  /** Whether `count` more messages fit before n reaches 2^64-1 (cheap: no bigint unless near the end). */
  canProcess(count: number): boolean {
    if (this.#nHi < U32_MAX) return true
    return U32_MAX - this.#nLo >= count
  }

  /** EncryptWithAd(ad, plaintext): ENCRYPT(k, n++, ad, plaintext), or plaintext when k is empty. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return plaintext.slice()
    const out = new Uint8Array(plaintext.length + TAG_LENGTH)
    this.encryptInto(ad, plaintext, out, 0)
    return out
  }

  /**
   * EncryptWithAd writing ciphertext || tag into `out` at `offset` (the transport fast path).
   * Nonce exhaustion here is local: we are the ones who sent 2^64-1 messages, so it is a UsageError.
   */
  encryptInto(ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
    const k = this.#k
    if (k === undefined) throw new UsageError('noise/no-key', 'encryptInto needs a key')
    if (this.#exhausted()) throw new UsageError('noise/nonce-exhausted', 'n reached 2^64-1: the session must end')
    const c = this.#crypto
    if (c.chachaSealInto !== undefined) c.chachaSealInto(k, this.#nonce, plaintext, ad, out, offset)
    else out.set(c.chachaSeal(k, this.#nonce, plaintext, ad), offset)
    this.#increment()
  }

  /**
   * EncryptWithAd returning ciphertext and tag as two fresh arrays, or undefined (nothing done)
   * when the provider has no `chachaSealDetached`: the caller then uses encryptInto.
   */
  encryptDetached(ad: Uint8Array, plaintext: Uint8Array): [Uint8Array, Uint8Array] | undefined {
    const k = this.#k
    const seal = this.#crypto.chachaSealDetached
    if (seal === undefined) return undefined
    if (k === undefined) throw new UsageError('noise/no-key', 'encryptDetached needs a key')
    if (this.#exhausted()) throw new UsageError('noise/nonce-exhausted', 'n reached 2^64-1: the session must end')
    const out = seal(k, this.#nonce, plaintext, ad)
    this.#increment()
    return out
  }

  /**
   * DecryptWithAd(ad, ciphertext): DECRYPT(k, n++, ad, ciphertext), or ciphertext when k is empty.
   * On authentication failure n is not incremented and 'noise/decrypt-failed' is thrown.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const k = this.#k
    if (k === undefined) return ciphertext.slice()
    if (this.#exhausted()) throw noiseError('noise/nonce-exhausted', 'the remote sent 2^64-1 messages')
    if (ciphertext.length < TAG_LENGTH) throw noiseError('noise/decrypt-failed', 'ciphertext shorter than the tag')
    // The provider's own output is fresh memory: no second buffer and copy (node:crypto allocates
    // its output whatever we do). The callers hand it on as owned, so the contract is checked.
    const out = this.#crypto.chachaOpen(k, this.#nonce, ciphertext, ad)
    if (out === undefined) throw noiseError('noise/decrypt-failed', `authentication failed at n=${this.n}`)
    checkFresh(out, ciphertext, this.#lastOpened)
    this.#lastOpened = out
    this.#increment()
    return out
  }

  /** DecryptWithAd writing the plaintext into `out` at `offset` (the transport fast path). */
  decryptInto(ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array, offset: number): void {
    const k = this.#k
    if (k === undefined) throw new UsageError('noise/no-key', 'decryptInto needs a key')
    if (this.#exhausted()) throw noiseError('noise/nonce-exhausted', 'the remote sent 2^64-1 messages')
    if (ciphertext.length < TAG_LENGTH) throw noiseError('noise/decrypt-failed', 'ciphertext shorter than the tag')
    const c = this.#crypto
    let ok: boolean
    if (c.chachaOpenInto !== undefined) {
      ok = c.chachaOpenInto(k, this.#nonce, ciphertext, ad, out, offset)
    } else {
      const pt = c.chachaOpen(k, this.#nonce, ciphertext, ad)
      ok = pt !== undefined
      if (pt !== undefined) out.set(pt, offset)
    }
    if (!ok) throw noiseError('noise/decrypt-failed', `authentication failed at n=${this.n}`)
    this.#increment()
  }

  #exhausted(): boolean {
    return this.#nLo === U32_MAX && this.#nHi === U32_MAX
  }

  #increment(): void {
    if (this.#nLo === U32_MAX) this.#setN(0, this.#nHi + 1)
    else this.#setN(this.#nLo + 1, this.#nHi)
  }

  #setN(lo: number, hi: number): void {
    this.#nLo = lo
    this.#nHi = hi
    const n = this.#nonce
    for (let i = 0; i < 4; i++) {
      n[4 + i] = (lo >>> (8 * i)) & 0xff
      n[8 + i] = (hi >>> (8 * i)) & 0xff
    }
  }
}

/**
 * The Noise SymmetricState object (Noise spec §5.2): the chaining key `ck`, the handshake hash `h`
 * and a CipherState; `mixKey`, `mixHash`, `encryptAndHash`, `decryptAndHash` and `split`.
 */
export class SymmetricState {
  readonly #crypto: CryptoProvider
  readonly cipherState: CipherState
  /** The chaining key. */
  #ck: Uint8Array
  /** The handshake hash. */
  #h: Uint8Array

  /** InitializeSymmetric(protocol_name). */
  constructor(crypto: CryptoProvider, protocolName: Uint8Array) {
    this.#crypto = crypto
    if (protocolName.length <= HASHLEN) {
      this.#h = new Uint8Array(HASHLEN)
      this.#h.set(protocolName)
    } else {
      this.#h = crypto.sha256(protocolName)
    }
    this.#ck = this.#h.slice()
    this.cipherState = new CipherState(crypto)
  }

  /** A copy of the chaining key `ck` (Noise spec §5.2), for tests and vectors. Secret. */
  get ck(): Uint8Array {
    return this.#ck.slice()
  }

  /**
   * A copy of the handshake hash `h` (Noise spec §5.2): after the handshake, a value unique to the session (channel binding).
   */
  get h(): Uint8Array {
    return this.#h.slice()
  }

  /** MixKey(input_key_material): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.#hkdf(inputKeyMaterial, 2)
    this.#ck = ck!
    this.cipherState.initializeKey(tempK)
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    const buf = new Uint8Array(HASHLEN + data.length)
    buf.set(this.#h)
    buf.set(data, HASHLEN)
    this.#h = this.#crypto.sha256(buf)
  }

  /** EncryptAndHash(plaintext): ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.#h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  /** DecryptAndHash(ciphertext): plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.#h, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }

  /** Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); returns (c1, c2). */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.#hkdf(EMPTY, 2)
    return [new CipherState(this.#crypto, k1), new CipherState(this.#crypto, k2)]
  }

  /** HKDF(chaining_key, input_key_material, num_outputs) of §4.3, via the provider's RFC 5869 HKDF. */
  #hkdf(inputKeyMaterial: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
    const okm = this.#crypto.hkdfSha256(inputKeyMaterial, this.#ck, EMPTY, HASHLEN * numOutputs)
    const outs: Uint8Array[] = []
    for (let i = 0; i < numOutputs; i++) outs.push(okm.slice(i * HASHLEN, (i + 1) * HASHLEN))
    return outs
  }
}
