/**
 * Value codecs: how each kind of component value moves between its text form (one `/`-free
 * segment of the human-readable multiaddr) and its bytes (the machine-readable value, without
 * the protocol code or length prefix).
 *
 * Every codec keeps one rule: bytes it accepts print as text that parses back to the same bytes.
 * So `check` (bytes from a remote) is exactly as strict as `parse` (text), and `format` always
 * writes the canonical text (see spec/multiaddr.md for each choice).
 */
import { decode as decodeVarint } from '../core/varint.js'
import { ProtocolError } from '../core/errors.js'
import { utf8 } from '../core/bytes.js'
import { fail, type MultiaddrErrorCode } from './errors.js'
import { formatIp4, formatIp6, parseIp4, parseIp6 } from './ip.js'
import {
  checkMultihash,
  checkUtf8,
  decodeBase32,
  decodeBase58,
  decodeGarlic32,
  decodeI2pBase64,
  decodeMultibase,
  encodeBase32,
  encodeBase32Multibase,
  encodeBase58,
  encodeBase64url,
  encodeI2pBase64,
  percentDecode,
  percentEncode,
} from './encodings.js'
import type { ValueKind } from './protocols.js'

export interface ValueCodec {
  /** Text (one segment, never containing `/`) to bytes. */
  parse(text: string): Uint8Array
  /** Validate bytes from the wire. The length of fixed-size values is checked before this. */
  check(bytes: Uint8Array): void
  /** Bytes (already checked) to canonical text. */
  format(bytes: Uint8Array): string
}

/** The multicodec of libp2p public keys, the only CID codec a peer id may carry. */
export const LIBP2P_KEY_CODEC = 0x72

const nothing = (): void => {}

function decimal(text: string, maxDigits: number, max: number | bigint, code: MultiaddrErrorCode): bigint {
  // Canonical decimal only: no sign, no leading zero, no whitespace.
  if (!new RegExp(`^(0|[1-9][0-9]{0,${maxDigits - 1}})$`).test(text)) fail(code, `not a decimal number: ${JSON.stringify(text)}`)
  const n = BigInt(text)
  if (n > BigInt(max)) fail(code, `${text} is out of range`)
  return n
}

const port: ValueCodec = {
  parse(text) {
    const n = Number(decimal(text, 5, 65535, 'multiaddr/invalid-port'))
    return Uint8Array.of(n >> 8, n & 0xff)
  },
  check: nothing,
  format: (b) => String((b[0]! << 8) | b[1]!),
}

const ip4: ValueCodec = {
  parse: (text) => parseIp4(text) ?? fail('multiaddr/invalid-ip4', JSON.stringify(text)),
  check: nothing,
  format: (b) => formatIp4(b),
}

const ip6: ValueCodec = {
  parse: (text) => parseIp6(text) ?? fail('multiaddr/invalid-ip6', JSON.stringify(text)),
  check: nothing,
  format: formatIp6,
}

const ipcidr: ValueCodec = {
  parse: (text) => Uint8Array.of(Number(decimal(text, 3, 255, 'multiaddr/invalid-value'))),
  check: nothing,
  format: (b) => String(b[0]),
}

/** Non-empty UTF-8 without `/`: domain names (dns*, sni) and IPv6 zones, written verbatim. */
const verbatim: ValueCodec = {
  parse(text) {
    if (text.length === 0) fail('multiaddr/invalid-value', 'empty value')
    return utf8(text)
  },
  check(b) {
    if (b.length === 0) fail('multiaddr/invalid-value', 'empty value')
    if (checkUtf8(b).includes('/')) fail('multiaddr/invalid-value', "value contains '/'")
  },
  format: (b) => checkUtf8(b),
}

/** Non-empty UTF-8, percent-encoded as one RFC 3986 path segment: http-path. */
const percentEncoded: ValueCodec = {
  parse(text) {
    const b = percentDecode(text)
    if (b.length === 0) fail('multiaddr/invalid-value', 'empty value')
    return b
  },
  check(b) {
    if (b.length === 0) fail('multiaddr/invalid-value', 'empty value')
    checkUtf8(b)
  },
  format: percentEncode,
}

/**
 * unix: a filesystem path, written raw (go-multiaddr): the text parser hands over `/` plus the
 * rest of the text. The bytes must be UTF-8, at least 2 bytes, start with `/` and not end with
 * `/` (go's unixValidate), which is exactly what lets every accepted value print as text that
 * reads back to the same bytes.
 */
const unixPath: ValueCodec = {
  parse(text) {
    const b = utf8(text)
    unixPath.check(b)
    return b
  },
  check(b) {
    if (b.length < 2 || b[0] !== 0x2f || b[b.length - 1] === 0x2f) fail('multiaddr/invalid-value', "a unix path starts with '/' and does not end with it")
    checkUtf8(b)
  },
  format: (b) => checkUtf8(b),
}

/**
 * p2p: a peer id. Bytes are its multihash. Text per libp2p peer-ids spec: starting with `1` or
 * `Qm`, a bare base58btc multihash; otherwise a multibase CIDv1 with the libp2p-key codec.
 */
const p2p: ValueCodec = {
  parse(text) {
    if (text.startsWith('1') || text.startsWith('Qm')) {
      const mh = decodeBase58(text)
      checkMultihash(mh, 'multiaddr/invalid-peer-id')
      return mh
    }
    const cid = decodeMultibase(text)
    try {
      const version = decodeVarint(cid, 0)!
      const codec = decodeVarint(cid, version.bytes)!
      if (version.value !== 1) fail('multiaddr/invalid-peer-id', `CID version ${version.value}, expected 1`)
      if (codec.value !== LIBP2P_KEY_CODEC) fail('multiaddr/invalid-peer-id', `CID codec 0x${codec.value.toString(16)}, expected libp2p-key (0x72)`)
      const mh = cid.slice(version.bytes + codec.bytes)
      checkMultihash(mh, 'multiaddr/invalid-peer-id')
      return mh
    } catch (e) {
      if (e instanceof ProtocolError && e.protocol === 'multiaddr') throw e
      return fail('multiaddr/invalid-peer-id', 'malformed CID', e)
    }
  },
  check: (b) => checkMultihash(b, 'multiaddr/invalid-peer-id'),
  format(b) {
    const text = encodeBase58(b)
    // Only texts starting with `1` or `Qm` read back as base58; any other multihash (not an
    // identity or sha2-256 one) is written as a CIDv1 so the text still round-trips.
    if (text.startsWith('1') || text.startsWith('Qm')) return text
    const cid = new Uint8Array(2 + b.length)
    cid[0] = 1
    cid[1] = LIBP2P_KEY_CODEC
    cid.set(b, 2)
    return encodeBase32Multibase(cid)
  },
}

/** Tor onion services: `<base32 host>:<port>`, the host 10 bytes (v2) or 35 bytes (v3), port 1..65535. */
function onion(hostChars: number): ValueCodec {
  const hostBytes = (hostChars * 5) / 8
  const hostRe = new RegExp(`^[a-zA-Z2-7]{${hostChars}}$`)
  return {
    parse(text) {
      const parts = text.split(':')
      if (parts.length !== 2) fail('multiaddr/invalid-onion', 'expected <host>:<port>')
      const [host, portText] = parts as [string, string]
      if (!hostRe.test(host)) fail('multiaddr/invalid-onion', `host must be ${hostChars} base32 characters`)
      const out = new Uint8Array(hostBytes + 2)
      out.set(decodeBase32(host)!, 0)
      const n = Number(decimal(portText, 5, 65535, 'multiaddr/invalid-onion'))
      if (n === 0) fail('multiaddr/invalid-onion', 'port 0')
      out[hostBytes] = n >> 8
      out[hostBytes + 1] = n & 0xff
      return out
    },
    check(b) {
      if (b[hostBytes] === 0 && b[hostBytes + 1] === 0) fail('multiaddr/invalid-onion', 'port 0')
    },
    format: (b) => `${encodeBase32(b.subarray(0, hostBytes))}:${(b[hostBytes]! << 8) | b[hostBytes + 1]!}`,
  }
}

/** I2P: at least 386 bytes (a destination: keys plus certificate). */
const garlic64: ValueCodec = {
  parse(text) {
    const b = decodeI2pBase64(text)
    garlic64.check(b)
    return b
  },
  check(b) {
    if (b.length < 386) fail('multiaddr/invalid-value', `garlic64 destination of ${b.length} bytes, need >= 386`)
  },
  format: encodeI2pBase64,
}

/**
 * I2P base32: 32 bytes (a destination hash, 52 characters) or >= 35 bytes (encrypted leaseset).
 * Text decodes as go-multiaddr decodes it (decodeGarlic32): lowercase, padding optional, unused
 * trailing bits ignored; printed lowercase and unpadded.
 */
const garlic32: ValueCodec = {
  parse(text) {
    const b = decodeGarlic32(text) ?? fail('multiaddr/invalid-base32', 'garlic32 is lowercase base32 (padding optional) of a valid length')
    garlic32.check(b)
    return b
  },
  check(b) {
    if (b.length !== 32 && b.length < 35) fail('multiaddr/invalid-value', `garlic32 of ${b.length} bytes, need 32 or >= 35`)
  },
  format: encodeBase32,
}

/** certhash: a multibase-encoded multihash of a TLS certificate, written as base64url. */
const certhash: ValueCodec = {
  parse(text) {
    const b = decodeMultibase(text)
    checkMultihash(b, 'multiaddr/invalid-value')
    return b
  },
  check: (b) => checkMultihash(b, 'multiaddr/invalid-value'),
  format: encodeBase64url,
}

/** memory: an unsigned 64-bit integer, 8 bytes big-endian. */
const memory: ValueCodec = {
  parse(text) {
    const n = decimal(text, 20, 0xffffffffffffffffn, 'multiaddr/invalid-value')
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, n)
    return out
  },
  check: nothing,
  format: (b) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0).toString(),
}

const none: ValueCodec = {
  parse: () => new Uint8Array(0),
  check: nothing,
  format: () => '',
}

export const VALUE_CODECS: Readonly<Record<ValueKind, ValueCodec>> = {
  none,
  ip4,
  ip6,
  port,
  ip6zone: verbatim,
  ipcidr,
  domain: verbatim,
  unix: unixPath,
  p2p,
  onion: onion(16),
  onion3: onion(56),
  garlic64,
  garlic32,
  certhash,
  'http-path': percentEncoded,
  memory,
}
