/**
 * The TLS 1.3 record layer (RFC 8446 §5) for TLS over a byte stream:
 *
 *   struct { ContentType type; ProtocolVersion legacy_record_version; uint16 length; opaque fragment[length]; } TLSPlaintext;
 *   TLSCiphertext: opaque_type = application_data (23), legacy_record_version = 0x0303,
 *                  encrypted_record = AEAD(key, nonce, TLSInnerPlaintext, additional_data = the 5-byte header)
 *   struct { opaque content[length]; ContentType type; uint8 zeros[length_of_padding]; } TLSInnerPlaintext;
 *   nonce = iv XOR (64-bit record sequence number, left-padded to 12 bytes)
 *
 * Plaintext fragments are at most 2^14 bytes; a TLSCiphertext at most 2^14 + 256.
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { tlsError } from './errors.js'
import { IV_LENGTH, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, trafficKeys } from './key-schedule.js'

/** ContentType (RFC 8446 §5.1). */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const

/** Largest TLSPlaintext.fragment / TLSInnerPlaintext.content: 2^14. */
export const MAX_PLAINTEXT = 16384
/** Largest TLSCiphertext.length: 2^14 + 256. */
export const MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
/** The record header: type, legacy_record_version, length. */
export const RECORD_HEADER = 5
/** The AEAD tag of both suites. */
export const TAG_LENGTH = 16

/** A record header and its fragment. */
export interface TlsRecord {
  type: number
  fragment: Uint8Array
}

/** One record with the given type and fragment (legacy_record_version 0x0303). */
export function encodeRecord(type: number, fragment: Uint8Array): Uint8Array {
  if (fragment.length > MAX_CIPHERTEXT) throw new RangeError(`record fragment of ${fragment.length} bytes`)
  const out = new Uint8Array(RECORD_HEADER + fragment.length)
  out[0] = type
  out[1] = 3
  out[2] = 3
  out[3] = fragment.length >> 8
  out[4] = fragment.length & 0xff
  out.set(fragment, RECORD_HEADER)
  return out
}

/** TLSInnerPlaintext: content, its type, `padding` zeros. */
function innerPlaintext(type: number, content: Uint8Array, padding: number): Uint8Array {
  const inner = new Uint8Array(content.length + 1 + padding)
  inner.set(content)
  inner[content.length] = type
  return inner
}

/**
 * One direction's record protection under a traffic secret: AEAD by suite, per-record nonce, and
 * the sequence number, reset by a key update (`update`).
 */
export class RecordProtection {
  readonly #crypto: TlsCrypto
  readonly suite: number
  #key: Uint8Array
  #iv: Uint8Array
  #secret: Uint8Array
  /** Records protected or opened under the current key. */
  sequence = 0

  constructor(crypto: TlsCrypto, suite: number, secret: Uint8Array) {
    this.#crypto = crypto
    this.suite = suite
    this.#secret = secret
    const k = trafficKeys(crypto.base, suite, secret)
    this.#key = k.key
    this.#iv = k.iv
  }

  /** The traffic secret in use (for a key update). */
  get secret(): Uint8Array {
    return this.#secret
  }

  /** Switches to a new traffic secret (after a KeyUpdate): new key and IV, sequence back to 0. */
  update(secret: Uint8Array): void {
    const k = trafficKeys(this.#crypto.base, this.suite, secret)
    this.#secret = secret
    this.#key = k.key
    this.#iv = k.iv
    this.sequence = 0
  }

  #nonce(): Uint8Array {
    const n = this.#iv.slice()
    let seq = this.sequence
    for (let i = IV_LENGTH - 1; i >= IV_LENGTH - 8 && seq > 0; i--) {
      n[i]! ^= seq % 256
      seq = Math.floor(seq / 256)
    }
    return n
  }

  /** A whole TLSCiphertext record carrying `content` of the given type, padded with `padding` zeros. */
  seal(type: number, content: Uint8Array, padding = 0): Uint8Array {
    if (content.length > MAX_PLAINTEXT) throw new RangeError(`record content of ${content.length} bytes > 2^14`)
    const innerLength = content.length + 1 + padding
    const len = innerLength + TAG_LENGTH
    const nonce = this.#nonce()
    // Fast paths (the provider seals into a buffer): the record in one allocation; AES-GCM in place
    const gcmInto = this.suite === TLS_AES_128_GCM_SHA256 ? this.#crypto.aes128GcmSealInto : undefined
    const chachaInto = this.suite === TLS_CHACHA20_POLY1305_SHA256 ? this.#crypto.base.chachaSealInto : undefined
    if (gcmInto !== undefined || chachaInto !== undefined) {
      const out = new Uint8Array(RECORD_HEADER + len)
      out[0] = ContentType.application_data
      out[1] = 3
      out[2] = 3
      out[3] = len >> 8
      out[4] = len & 0xff
      const header = out.subarray(0, RECORD_HEADER)
      if (gcmInto !== undefined) {
        out.set(content, RECORD_HEADER)
        out[RECORD_HEADER + content.length] = type
        gcmInto.call(this.#crypto, this.#key, nonce, out.subarray(RECORD_HEADER, RECORD_HEADER + innerLength), header, out, RECORD_HEADER)
      } else {
        chachaInto!.call(this.#crypto.base, this.#key, nonce, innerPlaintext(type, content, padding), header, out, RECORD_HEADER)
      }
      this.sequence++
      return out
    }
    const inner = innerPlaintext(type, content, padding)
    const header = Uint8Array.of(ContentType.application_data, 3, 3, len >> 8, len & 0xff)
    const sealed = this.suite === TLS_AES_128_GCM_SHA256
      ? this.#crypto.aes128GcmSeal(this.#key, nonce, inner, header)
      : this.#crypto.base.chachaSeal(this.#key, nonce, inner, header)
    this.sequence++
    const out = new Uint8Array(RECORD_HEADER + sealed.length)
    out.set(header)
    out.set(sealed, RECORD_HEADER)
    return out
  }

  /**
   * Opens a TLSCiphertext (header = the record's 5 bytes, fragment = encrypted_record): its content
   * type and content. A failed authentication is 'tls/bad-record-mac'; an inner plaintext of only
   * zeros 'tls/unexpected-message'; content over 2^14 'tls/record-overflow'.
   */
  open(header: Uint8Array, fragment: Uint8Array): TlsRecord {
    if (fragment.length < TAG_LENGTH + 1) throw tlsError('tls/bad-record-mac', `protected record of ${fragment.length} bytes`)
    const nonce = this.#nonce()
    const inner = this.suite === TLS_CHACHA20_POLY1305_SHA256
      ? this.#crypto.base.chachaOpen(this.#key, nonce, fragment, header)
      : this.#crypto.aes128GcmOpen(this.#key, nonce, fragment, header)
    if (inner === undefined) throw tlsError('tls/bad-record-mac', `record ${this.sequence} failed authentication`)
    this.sequence++
    let end = inner.length - 1
    while (end >= 0 && inner[end] === 0) end--
    if (end < 0) throw tlsError('tls/unexpected-message', 'a protected record with no content type')
    if (end > MAX_PLAINTEXT) throw tlsError('tls/record-overflow', `record content of ${end} bytes`)
    return { type: inner[end]!, fragment: inner.subarray(0, end) }
  }
}
