/**
 * The TLS 1.3 key schedule without PSK (RFC 8446 §7.1), the traffic keys (§7.3), Finished (§4.4.4),
 * key updates (§7.2), for the two SHA-256 suites weft offers:
 *
 *   early     = HKDF-Extract(0, 0)
 *   handshake = HKDF-Extract(Derive-Secret(early, "derived", ""), ECDHE)
 *     c/s hs traffic = Derive-Secret(handshake, "c hs traffic" / "s hs traffic", ClientHello..ServerHello)
 *   master    = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0)
 *     c/s ap traffic = Derive-Secret(master, "c ap traffic" / "s ap traffic", ClientHello..server Finished)
 *   [sender]_write_key = HKDF-Expand-Label(secret, "key", "", key_length); iv = ... "iv" ..., 12
 *   finished_key = HKDF-Expand-Label(BaseKey, "finished", "", 32); verify_data = HMAC(finished_key, transcript hash)
 *   application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", 32)
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { deriveSecret, HASH_LENGTH, hkdfExpandLabel, hkdfExtract } from './hkdf.js'

/** TLS_AES_128_GCM_SHA256 (RFC 8446 §B.4). */
export const TLS_AES_128_GCM_SHA256 = 0x1301
/** TLS_CHACHA20_POLY1305_SHA256 (RFC 8446 §B.4). */
export const TLS_CHACHA20_POLY1305_SHA256 = 0x1303
/** The cipher suites weft implements, in its default order of preference. */
export const CIPHER_SUITES: readonly number[] = [TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256]

/** The AEAD key length of a suite weft implements (16 for AES-128-GCM, 32 for ChaCha20-Poly1305). */
export function keyLength(suite: number): number {
  if (suite === TLS_AES_128_GCM_SHA256) return 16
  if (suite === TLS_CHACHA20_POLY1305_SHA256) return 32
  throw new RangeError(`cipher suite 0x${suite.toString(16)} is not implemented`)
}

/** The AEAD nonce / IV length of both suites. */
export const IV_LENGTH = 12

const EMPTY = new Uint8Array(0)

/** A traffic secret's record key and IV (RFC 8446 §7.3). */
export interface TrafficKeys {
  key: Uint8Array
  iv: Uint8Array
}

export function trafficKeys(c: CryptoProvider, suite: number, secret: Uint8Array): TrafficKeys {
  return { key: hkdfExpandLabel(c, secret, 'key', EMPTY, keyLength(suite)), iv: hkdfExpandLabel(c, secret, 'iv', EMPTY, IV_LENGTH) }
}

/** verify_data = HMAC(HKDF-Expand-Label(baseKey, "finished", "", 32), transcriptHash). */
export function finishedVerifyData(c: CryptoProvider, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return c.hmacSha256(hkdfExpandLabel(c, baseKey, 'finished', EMPTY, HASH_LENGTH), transcriptHash)
}

/** The next application traffic secret after a KeyUpdate. */
export function nextTrafficSecret(c: CryptoProvider, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(c, secret, 'traffic upd', EMPTY, HASH_LENGTH)
}

/** The secrets of one handshake, derived in order (no PSK: the early secret is fixed). */
export interface HandshakeSecrets {
  handshakeSecret: Uint8Array
  clientHandshakeTraffic: Uint8Array
  serverHandshakeTraffic: Uint8Array
}

export interface ApplicationSecrets {
  masterSecret: Uint8Array
  clientApplicationTraffic: Uint8Array
  serverApplicationTraffic: Uint8Array
  exporterMaster: Uint8Array
}

/** From the (EC)DHE shared secret and Transcript-Hash(ClientHello..ServerHello). */
export function handshakeSecrets(c: CryptoProvider, sharedSecret: Uint8Array, helloHash: Uint8Array): HandshakeSecrets {
  const early = hkdfExtract(c, EMPTY, new Uint8Array(HASH_LENGTH))
  const handshakeSecret = hkdfExtract(c, deriveSecret(c, early, 'derived', c.sha256(EMPTY)), sharedSecret)
  return {
    handshakeSecret,
    clientHandshakeTraffic: deriveSecret(c, handshakeSecret, 'c hs traffic', helloHash),
    serverHandshakeTraffic: deriveSecret(c, handshakeSecret, 's hs traffic', helloHash),
  }
}

/** From the handshake secret and Transcript-Hash(ClientHello..server Finished). */
export function applicationSecrets(c: CryptoProvider, handshakeSecret: Uint8Array, serverFinishedHash: Uint8Array): ApplicationSecrets {
  const masterSecret = hkdfExtract(c, deriveSecret(c, handshakeSecret, 'derived', c.sha256(EMPTY)), new Uint8Array(HASH_LENGTH))
  return {
    masterSecret,
    clientApplicationTraffic: deriveSecret(c, masterSecret, 'c ap traffic', serverFinishedHash),
    serverApplicationTraffic: deriveSecret(c, masterSecret, 's ap traffic', serverFinishedHash),
    exporterMaster: deriveSecret(c, masterSecret, 'exp master', serverFinishedHash),
  }
}

/** Constant-time comparison of two byte strings of public length. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!
  return d === 0
}
