/**
 * The two multiaddr representations (multiformats/multiaddr README, "Specification"):
 *
 *   human-readable:   (/<protoName string>/<value string>)+    e.g. /ip4/127.0.0.1/udp/1234
 *   machine-readable: (<protoCode uvarint><value []byte>)+     e.g. 04 7f000001 91 02 04d2
 *
 * A value is absent (size 0), fixed (size N bits, N/8 bytes), or length-prefixed with an unsigned
 * varint (size V). Both decoders here produce the same list of `Part`s (offsets into one owned
 * byte array), validated by the value codecs, within the limits below.
 */
import { decode as decodeVarint, encode as encodeVarint } from '../core/varint.js'
import { ProtocolError } from '../core/errors.js'
import { fail } from './errors.js'
import { protocolByCode, protocolByName, VARIABLE, type Protocol } from './protocols.js'
import { VALUE_CODECS } from './values.js'

/** Bounds for parsing a multiaddr from bytes or text (spec/multiaddr.md "Limits"). */
export interface ParseOptions {
  /**
   * Largest binary multiaddr accepted, in bytes. Default 1 KiB. Stops a remote from making us
   * hold and re-encode megabyte "addresses" (identify and kad carry many of them per message).
   */
  maxBytes?: number
  /**
   * Most components accepted. Default 64. Stops quadratic work in encapsulate/decapsulate and
   * per-component allocations from a remote sending thousands of zero-size components.
   */
  maxComponents?: number
}

/** Default `ParseOptions.maxBytes`: the largest binary multiaddr accepted, 1 KiB. */
export const DEFAULT_MAX_BYTES = 1024
/** Default `ParseOptions.maxComponents`: the most components (protocol/value pairs) in one multiaddr. */
export const DEFAULT_MAX_COMPONENTS = 64
/**
 * Longest text accepted before parsing, in characters: 8 KiB. A value byte prints as at most
 * three characters (`%2F`) and each component adds its name, so this admits every multiaddr within
 * the default byte limit, while bounding the work a user-supplied or dnsaddr string can cause.
 */
export const MAX_TEXT_CHARS = 8192

/** One component: its protocol and where its value lies in the multiaddr's bytes. */
export interface Part {
  readonly proto: Protocol
  /** Offset of the component's code varint. */
  readonly start: number
  /** Offset of the value (after code and any length prefix). */
  readonly valueStart: number
  /** Offset one past the value. */
  readonly end: number
}

function limits(options: ParseOptions | undefined): { maxBytes: number; maxComponents: number } {
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES
  const maxComponents = options?.maxComponents ?? DEFAULT_MAX_COMPONENTS
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer')
  if (!Number.isSafeInteger(maxComponents) || maxComponents < 1) throw new RangeError('maxComponents must be a positive integer')
  return { maxBytes, maxComponents }
}

/** Read a varint inside a multiaddr, turning varint errors into multiaddr errors. */
function readVarint(bytes: Uint8Array, offset: number): { value: number; bytes: number } {
  try {
    return decodeVarint(bytes, offset)!
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'varint/truncated') return fail('multiaddr/truncated', 'varint cut short', e)
    return fail('multiaddr/invalid-varint', e instanceof ProtocolError ? e.code : undefined, e)
  }
}

/** Validate machine-readable bytes (already an owned copy) and split them into parts. */
export function decodeBytes(bytes: Uint8Array, options?: ParseOptions): Part[] {
  const { maxBytes, maxComponents } = limits(options)
  if (bytes.length === 0) fail('multiaddr/empty')
  if (bytes.length > maxBytes) fail('multiaddr/too-large', `${bytes.length} bytes, limit ${maxBytes}`)
  const parts: Part[] = []
  let offset = 0
  while (offset < bytes.length) {
    if (parts.length === maxComponents) fail('multiaddr/too-large', `more than ${maxComponents} components`)
    const start = offset
    const code = readVarint(bytes, offset)
    offset += code.bytes
    const proto = protocolByCode(code.value) ?? fail('multiaddr/unknown-code', `protocol code ${code.value}`)
    let length: number
    if (proto.size === VARIABLE) {
      const len = readVarint(bytes, offset)
      offset += len.bytes
      length = len.value
    } else {
      length = proto.size / 8
    }
    if (length > bytes.length - offset) fail('multiaddr/truncated', `${proto.name} value needs ${length} bytes, ${bytes.length - offset} left`)
    const end = offset + length
    VALUE_CODECS[proto.kind].check(bytes.subarray(offset, end))
    if (parts[parts.length - 1]?.proto.path) fail('multiaddr/component-after-path')
    parts.push({ proto, start, valueStart: offset, end })
    offset = end
  }
  return parts
}

// A lone UTF-16 surrogate has no UTF-8 encoding; TextEncoder would silently replace it.
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Parse human-readable text to bytes and parts. The text starts with `/`; one trailing `/` is
 * allowed (`/ip4/1.2.3.4/`). A protocol with a value takes exactly the next segment, except a path
 * protocol (`unix`), whose value is `/` and the rest of the text, as go-multiaddr reads it:
 * `/unix/tmp/p2p.sock` is the path `/tmp/p2p.sock`.
 */
export function decodeText(text: string, options?: ParseOptions): { bytes: Uint8Array; parts: Part[] } {
  const { maxBytes, maxComponents } = limits(options)
  if (text.length === 0) fail('multiaddr/empty')
  if (text.length > MAX_TEXT_CHARS) fail('multiaddr/too-large', `${text.length} characters, limit ${MAX_TEXT_CHARS}`)
  if (text.charAt(0) !== '/') fail('multiaddr/missing-slash', 'a multiaddr starts with /')
  if (LONE_SURROGATE.test(text)) fail('multiaddr/invalid-value', 'unpaired UTF-16 surrogate')
  const body = text.endsWith('/') ? text.slice(1, -1) : text.slice(1)
  if (body.length === 0) fail('multiaddr/empty')
  const segments = body.split('/')
  const chunks: Uint8Array[] = []
  const parts: Part[] = []
  let size = 0
  for (let i = 0; i < segments.length; ) {
    if (parts.length === maxComponents) fail('multiaddr/too-large', `more than ${maxComponents} components`)
    const name = segments[i++]!
    const proto = protocolByName(name) ?? fail('multiaddr/unknown-protocol', JSON.stringify(name))
    let value: Uint8Array = new Uint8Array(0)
    if (proto.size !== 0) {
      if (i === segments.length) fail('multiaddr/missing-value', `${proto.name} needs a value`)
      if (proto.path) {
        value = VALUE_CODECS[proto.kind].parse(`/${segments.slice(i).join('/')}`)
        i = segments.length
      } else {
        value = VALUE_CODECS[proto.kind].parse(segments[i++]!)
      }
    }
    const code = encodeVarint(proto.code)
    const prefix = proto.size === VARIABLE ? encodeVarint(value.length) : new Uint8Array(0)
    const start = size
    const valueStart = start + code.length + prefix.length
    const end = valueStart + value.length
    if (end > maxBytes) fail('multiaddr/too-large', `more than ${maxBytes} bytes`)
    chunks.push(code, prefix, value)
    parts.push({ proto, start, valueStart, end })
    size = end
  }
  const bytes = new Uint8Array(size)
  let off = 0
  for (const c of chunks) {
    bytes.set(c, off)
    off += c.length
  }
  return { bytes, parts }
}

/** The canonical text of one part's value (a part with a value). A path value starts with `/`. */
export function formatValue(bytes: Uint8Array, part: Part): string {
  return VALUE_CODECS[part.proto.kind].format(bytes.subarray(part.valueStart, part.end))
}

/** The canonical text of one part. A path value brings its own `/` (`/unix/tmp/x.sock`). */
export function formatPart(bytes: Uint8Array, part: Part): string {
  if (part.proto.size === 0) return `/${part.proto.name}`
  const value = formatValue(bytes, part)
  return part.proto.path ? `/${part.proto.name}${value}` : `/${part.proto.name}/${value}`
}

/** Re-split bytes already known valid (a slice or concatenation of valid multiaddrs). */
export function splitTrusted(bytes: Uint8Array): Part[] {
  const parts: Part[] = []
  let offset = 0
  while (offset < bytes.length) {
    const start = offset
    const code = decodeVarint(bytes, offset)!
    offset += code.bytes
    const proto = protocolByCode(code.value)!
    let length = proto.size / 8
    if (proto.size === VARIABLE) {
      const len = decodeVarint(bytes, offset)!
      offset += len.bytes
      length = len.value
    }
    parts.push({ proto, start, valueStart: offset, end: offset + length })
    offset += length
  }
  return parts
}
