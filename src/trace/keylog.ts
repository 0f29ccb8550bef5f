/**
 * The keylog (spec/trace.md "Keylog"): one line per connection, after Noise's Split(),
 *
 *   NOISE_XX_25519_CHACHAPOLY_SHA256 <initiator ephemeral public key> <k1> <k2>
 *
 * each value 64 lowercase hex digits; k1 encrypts initiator -> responder, k2 responder -> initiator.
 * A capture is matched to its line by handshake message 1's `e`, which travels in clear. SECRETS:
 * whoever holds the file decrypts those sessions (the CLI writes it with mode 0600).
 */
import { toHex } from '../core/bytes.js'
import type { KeylogHook } from '../core/trace.js'

export const KEYLOG_LABEL = 'NOISE_XX_25519_CHACHAPOLY_SHA256'

/** One keylog line (no trailing newline). */
export function keylogLine(initiatorEphemeral: Uint8Array, k1: Uint8Array, k2: Uint8Array): string {
  return `${KEYLOG_LABEL} ${toHex(initiatorEphemeral)} ${toHex(k1)} ${toHex(k2)}`
}

/** The connections' keylog hook, writing lines to `write` (a throw there is swallowed: the keylog never changes behaviour). */
export function keylogHook(write: (line: string) => void): KeylogHook {
  return (e, k1, k2) => {
    try {
      write(keylogLine(e, k1, k2))
    } catch {
      // a failing sink must not fail the handshake
    }
  }
}
