/**
 * The keylog (spec/trace.md "Keylog"): one line per connection, after Noise's Split(),
 *
 *   NOISE_XX_25519_CHACHAPOLY_SHA256 <initiator ephemeral public key> <k1> <k2>
 *
 * each value 64 lowercase hex digits; k1 encrypts initiator -> responder, k2 responder -> initiator.
 * A capture is matched to its line by handshake message 1's `e`, which travels in clear.
 *
 * `/tls/1.0.0` connections write the NSS key log format that Wireshark reads (one line per traffic
 * secret, named by the ClientHello's random, which travels in clear):
 *
 *   CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>   (and SERVER_HANDSHAKE_TRAFFIC_SECRET,
 *   CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0)
 *
 * SECRETS:
 * whoever holds the file decrypts those sessions (the CLI writes it with mode 0600).
 */
import { toHex } from '../core/bytes.js'
import type { KeylogHook, TlsKeylogHook, TlsKeylogLabel } from '../core/trace.js'

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

/** One NSS key log line of a TLS 1.3 connection (no trailing newline): `<label> <client random> <secret>`, lowercase hex. */
export function tlsKeylogLine(label: TlsKeylogLabel, clientRandom: Uint8Array, secret: Uint8Array): string {
  return `${label} ${toHex(clientRandom)} ${toHex(secret)}`
}

/** The `/tls/1.0.0` connections' keylog hook, writing NSS key log lines to `write` (a throw there is swallowed). */
export function tlsKeylogHook(write: (line: string) => void): TlsKeylogHook {
  return (label, clientRandom, secret) => {
    try {
      write(tlsKeylogLine(label, clientRandom, secret))
    } catch {
      // a failing sink must not fail the handshake
    }
  }
}
