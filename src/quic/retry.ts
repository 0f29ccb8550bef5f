/**
 * Retry packets (RFC 9000 §17.2.5, §8.1) and their integrity tag (RFC 9001 §5.8): AES-128-GCM with
 * a fixed v1 key and nonce over the Retry pseudo-packet (the client's Original Destination
 * Connection ID, then the Retry packet without its tag), empty plaintext.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { MAX_CID_LENGTH, QUIC_V1, type RetryPacket } from './packet.js'

/** RFC 9001 §5.8: K = 0xbe0c690b9f66575a1d766b54e368c84e (v1). */
export const RETRY_INTEGRITY_KEY_V1 = Uint8Array.of(0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e)
/** RFC 9001 §5.8: N = 0x461599d35d632bf2239825bb (v1). */
export const RETRY_INTEGRITY_NONCE_V1 = Uint8Array.of(0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb)

const EMPTY = new Uint8Array(0)

/** The Retry Integrity Tag of `retryWithoutTag` for the client's original DCID `odcid`. */
export function retryIntegrityTag(c: TlsCrypto, odcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array {
  if (odcid.length > 255) throw new RangeError('ODCID longer than 255 bytes')
  const pseudo = new Uint8Array(1 + odcid.length + retryWithoutTag.length)
  pseudo[0] = odcid.length
  pseudo.set(odcid, 1)
  pseudo.set(retryWithoutTag, 1 + odcid.length)
  return c.aes128GcmSeal(RETRY_INTEGRITY_KEY_V1, RETRY_INTEGRITY_NONCE_V1, EMPTY, pseudo)
}

export interface RetryFields {
  /** The client's SCID (the Retry's Destination Connection ID). */
  readonly dcid: Uint8Array
  /** The server's new connection id: the client's next Initial goes to it. */
  readonly scid: Uint8Array
  /** The address validation token (non-empty, §17.2.5.2). */
  readonly token: Uint8Array
  /** The Destination Connection ID of the client's Initial this Retry answers. */
  readonly odcid: Uint8Array
  readonly version?: number
  /** The 4 Unused bits of the first byte (arbitrary, §17.2.5; default 0xf as in RFC 9001 A.4). */
  readonly unused?: number
}

/** A Retry packet with its integrity tag (fresh memory). */
export function buildRetry(c: TlsCrypto, f: RetryFields): Uint8Array {
  if (f.dcid.length > MAX_CID_LENGTH || f.scid.length > MAX_CID_LENGTH) throw new RangeError('a connection id is at most 20 bytes')
  if (f.token.length === 0) throw new RangeError('a Retry needs a token')
  const version = f.version ?? QUIC_V1
  const n = 7 + f.dcid.length + f.scid.length + f.token.length
  const out = new Uint8Array(n + 16)
  out[0] = 0xf0 | ((f.unused ?? 0xf) & 0x0f)
  out[1] = version >>> 24; out[2] = (version >>> 16) & 0xff; out[3] = (version >>> 8) & 0xff; out[4] = version & 0xff
  out[5] = f.dcid.length
  out.set(f.dcid, 6)
  out[6 + f.dcid.length] = f.scid.length
  out.set(f.scid, 7 + f.dcid.length)
  out.set(f.token, 7 + f.dcid.length + f.scid.length)
  out.set(retryIntegrityTag(c, f.odcid, out.subarray(0, n)), n)
  return out
}

/**
 * Whether a client may process this Retry (RFC 9000 §17.2.5.2): its tag verifies for the DCID the
 * client first sent (`odcid`) and its token is not empty. A Retry that fails is discarded.
 */
export function verifyRetry(c: TlsCrypto, retry: RetryPacket, odcid: Uint8Array): boolean {
  if (retry.token.length === 0 || retry.version !== QUIC_V1) return false
  const expected = retryIntegrityTag(c, odcid, retry.bytes.subarray(0, retry.bytes.length - 16))
  let diff = 0
  for (let i = 0; i < 16; i++) diff |= expected[i]! ^ retry.integrityTag[i]!
  return diff === 0
}
