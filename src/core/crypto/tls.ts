/**
 * The primitives TLS 1.3 (RFC 8446) and QUIC packet protection (RFC 9001 §5) need beyond weft's
 * CryptoProvider (src/core/crypto/provider.ts): AES-128-GCM, the raw AES and ChaCha20 blocks of
 * QUIC header protection, and ECDSA P-256, the key type go-libp2p and rust-libp2p put in their
 * libp2p TLS certificates. SHA-256, HMAC, X25519 and Ed25519 come from the base provider.
 *
 * The cores take a TlsCrypto as an input, as Noise takes a CryptoProvider: the cores stay pure and
 * the native path (node:crypto, src/io/crypto-tls-node.ts) is chosen at the edge. Every output is
 * fresh memory owned by the caller; no method keeps a reference to an input.
 */
import type { CryptoProvider } from './provider.js'

export interface TlsCrypto {
  /** randomBytes, sha256, hmacSha256, hkdfSha256, X25519, Ed25519, ChaCha20-Poly1305. */
  readonly base: CryptoProvider

  /** AES-128-GCM (NIST SP 800-38D): 16-byte key, 12-byte nonce; returns ciphertext || 16-byte tag. */
  aes128GcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array
  /**
   * Optional fast path of `aes128GcmSeal`: writes ciphertext || tag into
   * `output[offset .. offset + plaintext.length + 16)` instead of allocating (the TLS record layer
   * seals each record in place, straight after its header). `plaintext` may be exactly that
   * range's first `plaintext.length` bytes (sealed in place) but must not overlap it otherwise.
   */
  aes128GcmSealInto?(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, output: Uint8Array, offset: number): void
  /** Returns the plaintext, or undefined when authentication fails (never throws for bad input). */
  aes128GcmOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined

  /** AES-128 of one 16-byte block (ECB, no padding): QUIC header protection's mask, RFC 9001 §5.4.3. */
  aes128EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array
  /**
   * The first 5 bytes of the ChaCha20 (RFC 8439) keystream for a 32-byte key and a 16-byte sample
   * (sample[0..4] = block counter, little-endian; sample[4..16] = nonce): RFC 9001 §5.4.4.
   */
  chacha20Mask(key: Uint8Array, sample: Uint8Array): Uint8Array

  /** A fresh ECDSA P-256 key pair: 32-byte private scalar, 65-byte uncompressed public point (0x04 || x || y). */
  p256Generate(): { privateKey: Uint8Array, publicKey: Uint8Array }
  /** ECDSA P-256 with SHA-256 (ecdsa_secp256r1_sha256): the DER-encoded signature (SEQUENCE of r, s). */
  p256Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array
  /** Verifies a DER ECDSA P-256/SHA-256 signature over `message` with a 65-byte uncompressed point; false (never an exception) for any malformed input. */
  p256Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
}
