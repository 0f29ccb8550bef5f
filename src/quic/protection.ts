/**
 * QUIC packet protection (RFC 9001 §5): packet keys from a TLS secret ("quic key", "quic iv",
 * "quic hp"), Initial secrets from the client's first Destination Connection ID and the v1 salt,
 * AEAD with nonce = iv XOR packet number, header protection with AES-128 or ChaCha20 masks over a
 * 16-byte sample taken 4 bytes after the start of the Packet Number field, and the key update
 * derivation ("quic ku", §6).
 *
 * Receiving never throws for bytes that fail to authenticate: openPacket returns { ok: false }
 * (RFC 9000 §12.2: such packets are dropped). After a packet authenticates, reserved bits that are
 * not 0 are a PROTOCOL_VIOLATION (RFC 9000 §17.2, §17.3.1).
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import { hkdfExpandLabel, hkdfExtract } from '../tls/index.js'
import { quicError } from './errors.js'
import { varintSize } from './varint.js'
import { buildHeader, decodePacketNumber, packetNumberLength, type ProtectedPacket, type SendHeader } from './packet.js'

/** The cipher suites QUIC packet protection supports here (TLS 1.3 suite numbers). */
export type CipherSuite = 0x1301 | 0x1303
export const TLS_AES_128_GCM_SHA256 = 0x1301
export const TLS_CHACHA20_POLY1305_SHA256 = 0x1303

/** RFC 9001 §5.2: initial_salt for QUIC v1. */
export const INITIAL_SALT_V1 = Uint8Array.of(0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a)

/** The AEAD tag length of both suites. */
export const AEAD_TAG_LENGTH = 16
/** Header protection samples 16 bytes (RFC 9001 §5.4.2). */
export const SAMPLE_LENGTH = 16

/**
 * RFC 9001 §6.6 usage limits: packets protected with one key (confidentiality) and packets that
 * failed authentication across all keys of a connection (integrity). The connection core counts
 * and updates keys (or closes with AEAD_LIMIT_REACHED) before reaching them.
 */
export const AEAD_LIMITS: Readonly<Record<CipherSuite, { confidentiality: number, integrity: number }>> = {
  [TLS_AES_128_GCM_SHA256]: { confidentiality: 2 ** 23, integrity: 2 ** 52 },
  [TLS_CHACHA20_POLY1305_SHA256]: { confidentiality: Number.MAX_SAFE_INTEGER, integrity: 2 ** 36 },
}

/** The keys of one direction of one encryption level (and key phase). */
export interface PacketKeys {
  readonly suite: CipherSuite
  /** The traffic secret the keys come from (kept for the next key update). */
  readonly secret: Uint8Array
  readonly key: Uint8Array
  readonly iv: Uint8Array
  /** The header protection key: it does not change on key update (RFC 9001 §6). */
  readonly hp: Uint8Array
}

const EMPTY = new Uint8Array(0)

function keyLength(suite: CipherSuite): number {
  if (suite === TLS_AES_128_GCM_SHA256) return 16
  if (suite === TLS_CHACHA20_POLY1305_SHA256) return 32
  throw new RangeError(`cipher suite 0x${(suite as number).toString(16)} is not supported`)
}

/** RFC 9001 §5.1: key, iv and hp from a traffic secret. */
export function derivePacketKeys(c: TlsCrypto, suite: CipherSuite, secret: Uint8Array): PacketKeys {
  const n = keyLength(suite)
  return {
    suite,
    secret: secret.slice(),
    key: hkdfExpandLabel(c.base, secret, 'quic key', EMPTY, n),
    iv: hkdfExpandLabel(c.base, secret, 'quic iv', EMPTY, 12),
    hp: hkdfExpandLabel(c.base, secret, 'quic hp', EMPTY, n),
  }
}

/**
 * RFC 9001 §6.1: the next key phase's keys: secret' = HKDF-Expand-Label(secret, "quic ku", "", 32),
 * new key and iv from it, the same header protection key.
 */
export function nextPacketKeys(c: TlsCrypto, keys: PacketKeys): PacketKeys {
  const secret = hkdfExpandLabel(c.base, keys.secret, 'quic ku', EMPTY, keys.secret.length)
  const n = keyLength(keys.suite)
  return {
    suite: keys.suite,
    secret,
    key: hkdfExpandLabel(c.base, secret, 'quic key', EMPTY, n),
    iv: hkdfExpandLabel(c.base, secret, 'quic iv', EMPTY, 12),
    hp: keys.hp,
  }
}

/**
 * RFC 9001 §5.2: the Initial keys of both directions from the Destination Connection ID of the
 * client's first Initial packet (AES-128-GCM, v1 salt).
 */
export function initialKeys(c: TlsCrypto, dcid: Uint8Array): { client: PacketKeys, server: PacketKeys } {
  const initial = hkdfExtract(c.base, INITIAL_SALT_V1, dcid)
  return {
    client: derivePacketKeys(c, TLS_AES_128_GCM_SHA256, hkdfExpandLabel(c.base, initial, 'client in', EMPTY, 32)),
    server: derivePacketKeys(c, TLS_AES_128_GCM_SHA256, hkdfExpandLabel(c.base, initial, 'server in', EMPTY, 32)),
  }
}

/** The AEAD nonce (RFC 9001 §5.3): iv XOR the packet number, left-padded to 12 bytes. */
export function packetNonce(iv: Uint8Array, packetNumber: number): Uint8Array {
  const nonce = iv.slice()
  let pn = packetNumber
  for (let i = 11; i >= 4 && pn > 0; i--) { nonce[i]! ^= pn & 0xff; pn = Math.floor(pn / 256) }
  return nonce
}

/** The 5-byte header protection mask for a 16-byte sample (RFC 9001 §5.4.3, §5.4.4). */
export function headerProtectionMask(c: TlsCrypto, keys: PacketKeys, sample: Uint8Array): Uint8Array {
  if (keys.suite === TLS_CHACHA20_POLY1305_SHA256) return c.chacha20Mask(keys.hp, sample)
  return c.aes128EncryptBlock(keys.hp, sample).subarray(0, 5)
}

function seal(c: TlsCrypto, keys: PacketKeys, pn: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const nonce = packetNonce(keys.iv, pn)
  return keys.suite === TLS_CHACHA20_POLY1305_SHA256 ? c.base.chachaSeal(keys.key, nonce, plaintext, ad) : c.aes128GcmSeal(keys.key, nonce, plaintext, ad)
}

function open(c: TlsCrypto, keys: PacketKeys, pn: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  const nonce = packetNonce(keys.iv, pn)
  return keys.suite === TLS_CHACHA20_POLY1305_SHA256 ? c.base.chachaOpen(keys.key, nonce, ciphertext, ad) : c.aes128GcmOpen(keys.key, nonce, ciphertext, ad)
}

export interface SealOptions {
  /** Largest packet number the peer acknowledged in this space (undefined: none yet). */
  readonly largestAcked?: number
  /** Packet number length to use instead of the fewest bytes that are safe. */
  readonly pnLength?: 1 | 2 | 3 | 4
  /** Pad the payload with PADDING frames until the packet is this long (e.g. 1200 for a client Initial). */
  readonly minPacketSize?: number
}

/** Where a packet's parts go (packetLayout): its unprotected header and its plaintext length. */
export interface PacketLayout {
  /** The header, reserved bits 0, before header protection (the AEAD's associated data). */
  readonly header: Uint8Array
  readonly pnOffset: number
  readonly pnLength: 1 | 2 | 3 | 4
  /** The payload plus its padding: what the AEAD seals. */
  readonly plainLength: number
}

/**
 * The layout of a packet carrying `payloadLength` bytes of frames: the payload is padded with
 * PADDING frames (0x00 bytes) when the sample needs it (pnLength + payload >= 4, RFC 9001 §5.4.2)
 * or `minPacketSize` asks. The packet is `packetSize(layout)` bytes.
 */
export function packetLayout(header: SendHeader, packetNumber: number, payloadLength: number, opts: SealOptions = {}): PacketLayout {
  if (!Number.isSafeInteger(packetNumber) || packetNumber < 0) throw new RangeError(`packet number ${packetNumber}`)
  const pnLength = opts.pnLength ?? packetNumberLength(packetNumber, opts.largestAcked)
  let plainLength = Math.max(payloadLength, 4 - pnLength)
  let built = buildHeader(header, packetNumber, pnLength, plainLength + AEAD_TAG_LENGTH)
  const min = opts.minPacketSize ?? 0
  if (built.header.length + plainLength + AEAD_TAG_LENGTH < min) {
    // padding grows the Length field's value: size the field for the padded packet first (the
    // header then no longer depends on the padding), so the packet is exactly `min` bytes
    const lengthSize = header.type === '1rtt' ? undefined : varintSize(pnLength + min + AEAD_TAG_LENGTH)
    built = buildHeader(header, packetNumber, pnLength, 0, lengthSize)
    plainLength = Math.max(plainLength, min - built.header.length - AEAD_TAG_LENGTH)
    built = buildHeader(header, packetNumber, pnLength, plainLength + AEAD_TAG_LENGTH, lengthSize)
  }
  return { header: built.header, pnOffset: built.pnOffset, pnLength, plainLength }
}

/** The protected packet's length in bytes. */
export const packetSize = (l: PacketLayout): number => l.header.length + l.plainLength + AEAD_TAG_LENGTH

/**
 * Protects a packet in place (RFC 9001 §5): the caller wrote the payload at `offset +
 * layout.header.length` of `out`, followed by zero bytes up to `plainLength` (a fresh buffer is
 * zeroed). This writes the header, seals the plaintext where it lies (ciphertext and tag), then
 * applies header protection: one buffer for a whole datagram, no payload copy of our own.
 */
export function sealInPlace(c: TlsCrypto, keys: PacketKeys, layout: PacketLayout, packetNumber: number, out: Uint8Array, offset: number): void {
  const { header: h, pnOffset, pnLength, plainLength } = layout
  out.set(h, offset)
  const body = offset + h.length
  const plaintext = out.subarray(body, body + plainLength)
  if (keys.suite !== TLS_CHACHA20_POLY1305_SHA256 && c.aes128GcmSealInto !== undefined) {
    c.aes128GcmSealInto(keys.key, packetNonce(keys.iv, packetNumber), plaintext, h, out, body)
  } else {
    out.set(seal(c, keys, packetNumber, h, plaintext), body)
  }
  const at = offset + pnOffset
  const mask = headerProtectionMask(c, keys, out.subarray(at + 4, at + 4 + SAMPLE_LENGTH))
  out[offset]! ^= mask[0]! & ((out[offset]! & 0x80) !== 0 ? 0x0f : 0x1f)
  for (let i = 0; i < pnLength; i++) out[at + i]! ^= mask[1 + i]!
}

/**
 * A protected packet (RFC 9001 §5): header (reserved bits 0), AEAD-sealed payload, header
 * protection, padded as packetLayout says. Returns fresh memory.
 */
export function sealPacket(c: TlsCrypto, keys: PacketKeys, header: SendHeader, packetNumber: number, payload: Uint8Array, opts: SealOptions = {}): Uint8Array {
  const layout = packetLayout(header, packetNumber, payload.length, opts)
  const out = new Uint8Array(packetSize(layout))
  out.set(payload, layout.header.length)
  sealInPlace(c, keys, layout, packetNumber, out, 0)
  return out
}

/** A packet after header protection is removed, before its payload is decrypted. */
export interface UnprotectedHeader {
  /** The unprotected header bytes up to and including the packet number (the AEAD's associated data). */
  readonly header: Uint8Array
  readonly packetNumber: number
  readonly pnLength: number
  /** Short headers: the Key Phase bit (0 for long headers). */
  readonly keyPhase: 0 | 1
  /** Short headers: the Spin bit. */
  readonly spin: boolean
  /** The reserved bits (must be 0; checked only once the payload authenticates). */
  readonly reserved: number
}

/**
 * Removes header protection (RFC 9001 §5.4): undefined when the packet is too short to hold a
 * sample (it is dropped). `largestPn` is the largest packet number received in the space (-1: none).
 */
export function removeHeaderProtection(c: TlsCrypto, hpKeys: PacketKeys, packet: ProtectedPacket, largestPn: number): UnprotectedHeader | undefined {
  const b = packet.bytes
  const pnOffset = packet.pnOffset
  if (pnOffset + 4 + SAMPLE_LENGTH > b.length) return undefined
  const mask = headerProtectionMask(c, hpKeys, b.subarray(pnOffset + 4, pnOffset + 4 + SAMPLE_LENGTH))
  const long = (b[0]! & 0x80) !== 0
  const first = b[0]! ^ (mask[0]! & (long ? 0x0f : 0x1f))
  const pnLength = (first & 0x03) + 1
  const header = b.slice(0, pnOffset + pnLength)
  header[0] = first
  let truncated = 0
  for (let i = 0; i < pnLength; i++) {
    header[pnOffset + i]! ^= mask[1 + i]!
    truncated = truncated * 256 + header[pnOffset + i]!
  }
  return {
    header,
    packetNumber: decodePacketNumber(largestPn, truncated, pnLength),
    pnLength,
    keyPhase: !long && (first & 0x04) !== 0 ? 1 : 0,
    spin: !long && (first & 0x20) !== 0,
    reserved: long ? first & 0x0c : first & 0x18,
  }
}

/** Why a packet could not be opened; it is dropped (never an exception). */
export type OpenFailure = 'too-short' | 'no-keys' | 'undecryptable'

export type OpenResult =
  | { readonly ok: true, readonly packetNumber: number, readonly keyPhase: 0 | 1, readonly spin: boolean, readonly header: Uint8Array, readonly payload: Uint8Array }
  | { readonly ok: false, readonly reason: OpenFailure }

/**
 * Opens a protected packet: header protection with `keys.hp`, then the payload with `keys`, or with
 * what `select(keyPhase, packetNumber)` returns for a 1-RTT packet (key update, RFC 9001 §6;
 * undefined: no such keys, the packet is dropped). A packet that fails to authenticate is
 * { ok: false } and changes nothing; an authenticated packet with reserved bits set throws
 * PROTOCOL_VIOLATION. `payload` is fresh memory (the frames: frames.ts decodeFrames).
 */
export function openPacket(c: TlsCrypto, keys: PacketKeys, packet: ProtectedPacket, largestPn: number, select?: (keyPhase: 0 | 1, packetNumber: number) => PacketKeys | undefined): OpenResult {
  const h = removeHeaderProtection(c, keys, packet, largestPn)
  if (h === undefined) return { ok: false, reason: 'too-short' }
  const aead = select === undefined || packet.type !== '1rtt' ? keys : select(h.keyPhase, h.packetNumber)
  if (aead === undefined) return { ok: false, reason: 'no-keys' }
  const payload = open(c, aead, h.packetNumber, h.header, packet.bytes.subarray(h.header.length))
  if (payload === undefined) return { ok: false, reason: 'undecryptable' }
  if (h.reserved !== 0) throw quicError('PROTOCOL_VIOLATION', `reserved header bits 0x${h.reserved.toString(16)} in an authenticated ${packet.type} packet`)
  return { ok: true, packetNumber: h.packetNumber, keyPhase: h.keyPhase, spin: h.spin, header: h.header, payload }
}
