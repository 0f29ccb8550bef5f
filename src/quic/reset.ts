/**
 * Stateless reset (RFC 9000 §10.3): the token an endpoint derives for each connection id it issues
 * (HMAC-SHA256(static key, connection id) truncated to 16 bytes, §10.3.2), the reset datagram it
 * sends when it has lost a connection's state, and detection of one by its last 16 bytes.
 */
import type { CryptoProvider } from '../core/crypto/provider.js'

export const STATELESS_RESET_TOKEN_LENGTH = 16
/** The smallest Stateless Reset: 5 bytes that look like a short header, then the token (§10.3). */
export const MIN_STATELESS_RESET_SIZE = 21
/** Resets are at most this long when the trigger was longer (looks like a short packet, §10.3). */
const TYPICAL_RESET_SIZE = 43

/** The stateless reset token of `connectionId` under `staticKey` (keep the key secret, at least 32 bytes). */
export function statelessResetToken(c: CryptoProvider, staticKey: Uint8Array, connectionId: Uint8Array): Uint8Array {
  return c.hmacSha256(staticKey, connectionId).slice(0, STATELESS_RESET_TOKEN_LENGTH)
}

/**
 * A Stateless Reset answering a packet of `triggerLength` bytes, or undefined when that packet is too
 * small to answer: every reset is shorter than its trigger (no loops between two endpoints, §10.3.3)
 * and at least 21 bytes. First byte 0b01xxxxxx, then unpredictable bytes, then the token.
 */
export function buildStatelessReset(token: Uint8Array, triggerLength: number, randomBytes: (n: number) => Uint8Array): Uint8Array | undefined {
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH) throw new RangeError('a stateless reset token is 16 bytes')
  if (triggerLength - 1 < MIN_STATELESS_RESET_SIZE) return undefined
  const extra = triggerLength - 1 > TYPICAL_RESET_SIZE ? randomBytes(1)[0]! % Math.min(triggerLength - TYPICAL_RESET_SIZE, 64) : 0
  const size = Math.min(triggerLength - 1, TYPICAL_RESET_SIZE + extra)
  const out = new Uint8Array(size)
  out.set(randomBytes(size - STATELESS_RESET_TOKEN_LENGTH))
  out[0] = 0x40 | (out[0]! & 0x3f)
  out.set(token, size - STATELESS_RESET_TOKEN_LENGTH)
  return out
}

/**
 * Whether `datagram` ends in one of `tokens` (the tokens of connection ids this endpoint used and has
 * not retired, §10.3.1): the token that matched, or undefined. Every token is compared in full,
 * without an early exit, so the timing leaks nothing about a token's value.
 */
export function detectStatelessReset(datagram: Uint8Array, tokens: Iterable<Uint8Array>): Uint8Array | undefined {
  if (datagram.length < MIN_STATELESS_RESET_SIZE) return undefined
  const tail = datagram.subarray(datagram.length - STATELESS_RESET_TOKEN_LENGTH)
  let found: Uint8Array | undefined
  for (const t of tokens) {
    if (t.length !== STATELESS_RESET_TOKEN_LENGTH) continue
    let diff = 0
    for (let i = 0; i < STATELESS_RESET_TOKEN_LENGTH; i++) diff |= tail[i]! ^ t[i]!
    if (diff === 0) found = t
  }
  return found
}
