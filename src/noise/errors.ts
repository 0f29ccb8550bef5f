/**
 * Error codes of weft's Noise secure channel (see spec/noise.md, "Errors").
 *
 * Every failure caused by remote bytes is a `ProtocolError('noise', code)` with one of these codes.
 * `noise/nonce-exhausted` is also used, as a `UsageError`, when WE would have to send a 2^64-1-th
 * transport message.
 */
import { ProtocolError } from '../core/errors.js'

/**
 * The `ProtocolError('noise', code)` codes: each names what the remote got wrong in the handshake or the transport messages.
 */
export type NoiseErrorCode =
  /** AEAD authentication failed: a tampered, truncated, replayed or reordered ciphertext. */
  | 'noise/decrypt-failed'
  /** n reached 2^64-1, which the Noise spec reserves: the session must end. */
  | 'noise/nonce-exhausted'
  /** A handshake message shorter than its tokens require (a truncated `e` or `s`). */
  | 'noise/short-message'
  /** The NoiseHandshakePayload is not valid protobuf, lacks identity_key / identity_sig, or the key is malformed. */
  | 'noise/bad-payload'
  /** identity_sig does not verify over "noise-libp2p-static-key:" || remote static key. */
  | 'noise/invalid-signature'
  /** The authenticated remote peer is not the one we dialled. */
  | 'noise/peer-id-mismatch'
  /** A handshake message's length prefix exceeds maxHandshakeMessage. */
  | 'noise/handshake-too-large'
  /** The transport ended in the middle of the handshake or of a frame. */
  | 'noise/unexpected-eof'
  /** X25519 produced the all-zero output: the remote sent a low-order public key. */
  | 'noise/invalid-key'

export function noiseError(code: NoiseErrorCode, message?: string, cause?: unknown): ProtocolError<NoiseErrorCode> {
  return new ProtocolError<NoiseErrorCode>('noise', code, message, cause === undefined ? undefined : { cause })
}
