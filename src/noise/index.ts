/**
 * The Noise secure channel of libp2p (noise-libp2p): Noise_XX_25519_ChaChaPoly_SHA256 with the
 * libp2p handshake payload. See spec/noise.md.
 *
 * - symmetric-state.ts: CipherState, SymmetricState (Noise spec §5.1, §5.2)
 * - handshake-state.ts: HandshakeState for XX, message level (Noise spec §5.3)
 * - payload.ts: NoiseHandshakePayload codec, static-key signature
 * - connection.ts: NoiseConnection, the framed byte-level ByteMachine
 * - key-pool.ts: NoiseKeyPool, key pairs (static ones signed) made ahead of handshakes
 *
 * @module weft/noise
 */
export type { NoiseErrorCode } from './errors.js'
export { CipherState, SymmetricState, DHLEN, HASHLEN, MAX_NOISE_MESSAGE, TAG_LENGTH } from './symmetric-state.js'
export { HandshakeState, PROTOCOL_NAME, XX_MESSAGE_PATTERNS, type HandshakeStateOptions } from './handshake-state.js'
export {
  STATIC_KEY_SIGNATURE_PREFIX,
  MAX_EXTENSION_ENTRIES,
  encodeHandshakePayload,
  decodeHandshakePayload,
  createHandshakePayload,
  verifyHandshakePayload,
  type NoiseExtensions,
  type NoiseHandshakePayload,
  type VerifiedPayload,
} from './payload.js'
export {
  NoiseKeyPool,
  DEFAULT_NOISE_KEY_POOL_SIZE,
  MAX_NOISE_KEY_POOL_SIZE,
  NOISE_KEY_REFILL_DELAY,
  type NoiseKeyPair,
  type NoiseStaticKeyPair,
  type NoiseKeySource,
  type NoiseKeyPoolOptions,
} from './key-pool.js'
export {
  NoiseConnection,
  MAX_PLAINTEXT,
  FRAME_OVERHEAD,
  DEFAULT_MAX_HANDSHAKE_MESSAGE,
  DEFAULT_MAX_BUFFERED_DATA,
  type NoiseOptions,
  type NoiseEvent,
} from './connection.js'
