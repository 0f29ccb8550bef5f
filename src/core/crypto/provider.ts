/**
 * The crypto provider: every cryptographic primitive weft needs, behind one small interface.
 *
 * Cores receive a provider instead of importing a library, so they stay pure and run anywhere.
 * Two implementations: `nobleCrypto` (pure JS, @noble/*; the default and what browsers get) and
 * `nodeCrypto` (`weft/crypto/node`, node:crypto, many times faster for ChaCha20-Poly1305,
 * X25519 and Ed25519). A property test proves they agree on random inputs and on each other's
 * outputs.
 *
 * All keys are raw bytes: X25519 and Ed25519 private keys are 32-byte seeds, public keys 32 bytes.
 *
 * Memory ownership (every method, every implementation, including a user's own provider):
 * - Inputs are borrowed for the duration of the call. A method never writes into its inputs and
 *   keeps no reference to them after it returns. They may be views of shared memory: Noise passes
 *   ciphertexts that are views of the process-wide TCP read buffer (src/io/tcp.ts).
 * - Every returned Uint8Array is fresh: the caller owns it, and the provider never reads or writes
 *   that memory again. It aliases neither an input nor an earlier output. Noise hands `chachaOpen`'s
 *   plaintext up to yamux and to user streams without a copy, so a provider that decrypted in place
 *   or into a reused scratch buffer would let the next read, of any connection, overwrite bytes a
 *   stream has not delivered yet. Noise checks this for `chachaOpen` (an aliasing output is a
 *   `UsageError('crypto/provider-contract')`, see test/crypto-ownership.test.ts).
 * - The `*Into` methods write only into the named output range.
 */
export interface CryptoProvider {
  readonly name: string

  /** `n` bytes from a cryptographically secure random source (fresh memory). */
  randomBytes(n: number): Uint8Array

  /** The SHA-256 digest of `data` (FIPS 180-4), 32 bytes. */
  sha256(data: Uint8Array): Uint8Array
  /** HMAC-SHA256 of `data` under `key` (RFC 2104), 32 bytes. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array
  /** RFC 5869 HKDF-SHA256. Noise's HKDF(ck, ikm, n) is this with salt = ck, empty info, length 32n. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array

  /** The X25519 public key (RFC 7748 §5) of a 32-byte private key, 32 bytes. */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array
  /** Throws when the result is all zero (a low-order public key): callers map that to a ProtocolError. */
  x25519SharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array

  /** The Ed25519 public key (RFC 8032 §5.1.5) of a 32-byte private seed, 32 bytes. */
  ed25519PublicKey(seed: Uint8Array): Uint8Array
  /** The Ed25519 signature (RFC 8032 §5.1.6) of `message` under the 32-byte `seed`, 64 bytes. */
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array
  /** RFC 8032 verification; false (never an exception) for any malformed key or signature. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean

  /** ChaCha20-Poly1305 (RFC 8439, 12-byte nonce); returns ciphertext || 16-byte tag, fresh memory. */
  chachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array
  /** Returns the plaintext, or undefined when authentication fails. The plaintext is fresh memory
   * (see the ownership rules above): never a view of `ciphertext`, never reused by a later call. */
  chachaOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined
  /**
   * Optional fast path of `chachaSeal`: writes ciphertext || tag into
   * `output[offset .. offset + plaintext.length + 16)` instead of allocating (Noise transport frames are
   * encrypted straight into the outgoing buffer, after their length prefix). `plaintext` must not
   * overlap that range.
   */
  chachaSealInto?(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, output: Uint8Array, offset: number): void
  /**
   * Optional, for providers whose cipher allocates its output anyway (node:crypto): `chachaSeal`
   * with the ciphertext and the 16-byte tag returned as two fresh arrays, so a large Noise frame can
   * be sent as they are instead of being copied into an outgoing buffer.
   */
  chachaSealDetached?(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): [ciphertext: Uint8Array, tag: Uint8Array]
  /**
   * Optional fast path of `chachaOpen`: writes the plaintext into
   * `output[offset .. offset + ciphertext.length - 16)`. Returns false when authentication fails; the
   * contents of that output range are then unspecified (they may hold unauthenticated bytes) and must
   * not be used.
   */
  chachaOpenInto?(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array, output: Uint8Array, offset: number): boolean

  /**
   * Optional: signature verification for the non-Ed25519 libp2p key types (peer-ids spec).
   * `key` is the key protobuf's Data field (RSA and ECDSA: DER SPKI; Secp256k1: 33-byte compressed
   * point); signatures are over SHA-256 of the message (RSA PKCS#1 v1.5, ECDSA DER-encoded).
   * Absent or returning undefined = this platform cannot verify that type (an explicit error upstream).
   * Kept off the default browser provider so Ed25519-only bundles pay nothing for these curves.
   */
  verifyOther?(type: OtherKeyType, key: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | undefined
}

/**
 * The libp2p key types other than Ed25519 (peer-ids spec "Keys"); their signatures are verified only by a provider with `verifyOther` (`nobleCryptoFull`).
 */
export type OtherKeyType = 'RSA' | 'Secp256k1' | 'ECDSA'

export const CHACHA_TAG_LENGTH = 16
