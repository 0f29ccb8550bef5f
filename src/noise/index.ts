/**
 * The Noise secure channel of libp2p (noise-libp2p): Noise_XX_25519_ChaChaPoly_SHA256 with the
 * libp2p handshake payload. See spec/noise.md.
 *
 * - symmetric-state.ts: CipherState, SymmetricState (spec §5.1, §5.2)
 * - handshake-state.ts: HandshakeState for XX, message level (spec §5.3)
 */
export type { NoiseErrorCode } from './errors.js'
export { CipherState, SymmetricState, DHLEN, HASHLEN, MAX_NOISE_MESSAGE, TAG_LENGTH } from './symmetric-state.js'
export { HandshakeState, PROTOCOL_NAME, XX_MESSAGE_PATTERNS, type HandshakeStateOptions } from './handshake-state.js'
