/**
 * A small, bounded DER (ITU-T X.690 §10, distinguished encoding rules) reader and writer: only what
 * X.509 v3 certificates (RFC 5280) and libp2p's SignedKey extension need.
 *
 * Reading is lazy: a `DerReader` walks the elements of one constructed value's content, and
 * `reader.enter(tag)` opens the next element's content one level deeper. Nothing is copied: every
 * element's `content` and `raw` are views of the input. The reader enforces DER, not BER:
 * - lengths in the definite form only (no indefinite 0x80), in the fewest bytes (short form below
 *   128, long form without leading zero bytes), at most `MAX_DER_LENGTH_BYTES` length bytes;
 * - tags in the low-tag-number form only (one identifier octet; X.509 needs no tag above 30);
 * - INTEGERs in the fewest bytes, OBJECT IDENTIFIER arcs without leading 0x80 bytes, BOOLEAN only
 *   0x00 / 0xFF, BIT STRING padding bits zero, times in RFC 5280's exact forms (§4.1.2.5.1-2).
 * Limits: the whole input (`maxBytes`) and the nesting depth (`maxDepth`); see spec/tls.md.
 *
 * Every malformed input is a `ProtocolError('tls', 'tls/der-...')`: DER here always comes from a peer
 * (its certificate). The writer's input is ours: misuse is a TypeError / RangeError.
 */
import { ProtocolError } from '../core/errors.js'

/** DER decoding failures (remote bytes). */
export type DerErrorCode = 'tls/der-malformed' | 'tls/der-non-canonical' | 'tls/der-too-deep' | 'tls/der-too-large'

/** Universal tags (X.690 §8.4) in their DER identifier octet form; `0x30`/`0x31` have the constructed bit. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const

/** The identifier octet of a context-specific [n] tag: EXPLICIT (constructed) or IMPLICIT primitive. */
export const contextTag = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n

/** Longest length field read: 3 bytes (16 MiB) is far above any limit; more is refused as non-canonical use. */
export const MAX_DER_LENGTH_BYTES = 3

/**
 * Limits of one DER decode. `maxBytes` 16384: a certificate is read whole before it is parsed, and
 * no libp2p certificate comes near it (ours: about 400 bytes; one carrying an 8192-bit RSA host key:
 * about 2 KiB); stops a peer from making us walk a huge structure. `maxDepth` 16: X.509 nests 7 levels
 * (Certificate, TBSCertificate, [3], Extensions, Extension, and Name's SET and SEQUENCE); stops deep
 * nesting from costing stack or time.
 */
export interface DerLimits {
  maxBytes: number
  maxDepth: number
}

export const DER_DEFAULTS: Readonly<DerLimits> = { maxBytes: 16384, maxDepth: 16 }

/** One TLV, as views of the input. */
export interface DerElement {
  /** The identifier octet (class, constructed bit and number). */
  readonly tag: number
  /** The contents octets. */
  readonly content: Uint8Array
  /** The whole encoding: identifier, length and contents (what a signature covers, e.g. the TBSCertificate). */
  readonly raw: Uint8Array
}

const fail = (code: DerErrorCode, message: string): ProtocolError<DerErrorCode> => new ProtocolError<DerErrorCode>('tls', code, message)

/** Reads the elements of one value's content, in order. */
export class DerReader {
  readonly #b: Uint8Array
  readonly #depth: number
  readonly #limits: DerLimits
  #at = 0

  /** @internal use `derReader` */
  constructor(bytes: Uint8Array, depth: number, limits: DerLimits) {
    this.#b = bytes
    this.#depth = depth
    this.#limits = limits
  }

  /** True when every element has been read. */
  get done(): boolean {
    return this.#at >= this.#b.length
  }

  /** The identifier octet of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.#b[this.#at]
  }

  /** The next element; with `tag`, it must carry that identifier octet. */
  next(tag?: number): DerElement {
    const b = this.#b
    const start = this.#at
    const id = b[start]
    if (id === undefined) throw fail('tls/der-malformed', 'expected an element, found the end of its container')
    if ((id & 0x1f) === 0x1f) throw fail('tls/der-malformed', `high-tag-number form at offset ${start} (not used by X.509)`)
    if (tag !== undefined && id !== tag) throw fail('tls/der-malformed', `expected tag 0x${tag.toString(16)}, found 0x${id.toString(16)} at offset ${start}`)
    const first = b[start + 1]
    if (first === undefined) throw fail('tls/der-malformed', 'truncated length')
    let len: number
    let at = start + 2
    if (first < 0x80) len = first
    else {
      const n = first & 0x7f
      if (n === 0) throw fail('tls/der-non-canonical', 'indefinite length (BER, not DER)')
      if (n > MAX_DER_LENGTH_BYTES) throw fail('tls/der-too-large', `a ${n}-byte length field`)
      if (at + n > b.length) throw fail('tls/der-malformed', 'truncated length')
      if (b[at] === 0) throw fail('tls/der-non-canonical', 'length with a leading zero byte')
      len = 0
      for (let i = 0; i < n; i++) len = len * 256 + b[at + i]!
      if (len < 0x80) throw fail('tls/der-non-canonical', `length ${len} in the long form`)
      at += n
    }
    if (len > b.length - at) throw fail('tls/der-malformed', `length ${len} runs past its container (${b.length - at} bytes left)`)
    this.#at = at + len
    return { tag: id, content: b.subarray(at, at + len), raw: b.subarray(start, at + len) }
  }

  /** The next element when it carries `tag`, else undefined (OPTIONAL and DEFAULT fields). */
  optional(tag: number): DerElement | undefined {
    return this.peekTag() === tag ? this.next(tag) : undefined
  }

  /** Opens the next element (a constructed one, e.g. SEQUENCE) one level deeper. */
  enter(tag: number): DerReader {
    return this.open(this.next(tag))
  }

  /** A reader of an element's content, one level deeper. */
  open(el: DerElement): DerReader {
    if ((el.tag & 0x20) === 0) throw fail('tls/der-malformed', `tag 0x${el.tag.toString(16)} is not constructed`)
    if (this.#depth + 1 > this.#limits.maxDepth) throw fail('tls/der-too-deep', `nesting deeper than ${this.#limits.maxDepth}`)
    return new DerReader(el.content, this.#depth + 1, this.#limits)
  }

  /** Throws unless every element of this container has been read. */
  end(): void {
    if (!this.done) throw fail('tls/der-malformed', `${this.#b.length - this.#at} unexpected bytes after the last expected element`)
  }
}

/** A reader over a whole DER input (one or more top-level elements; callers usually read one, then `end()`). */
export function derReader(bytes: Uint8Array, limits: Partial<DerLimits> = {}): DerReader {
  const l = { ...DER_DEFAULTS, ...limits }
  if (bytes.length > l.maxBytes) throw fail('tls/der-too-large', `${bytes.length} bytes exceed ${l.maxBytes}`)
  return new DerReader(bytes, 0, l)
}

// ---- primitive values ---------------------------------------------------------------------------

/** An INTEGER's two's-complement bytes, checked minimal (X.690 §8.3.2). */
export function readInteger(el: DerElement): Uint8Array {
  const c = el.content
  if (c.length === 0) throw fail('tls/der-malformed', 'empty INTEGER')
  if (c.length > 1 && ((c[0] === 0 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) throw fail('tls/der-non-canonical', 'INTEGER not in its fewest bytes')
  return c
}

/** A small non-negative INTEGER (a version number) as a number. */
export function readSmallInteger(el: DerElement): number {
  const c = readInteger(el)
  if (c[0]! >= 0x80 || c.length > 4) throw fail('tls/der-malformed', 'INTEGER out of range')
  let v = 0
  for (const x of c) v = v * 256 + x
  return v
}

/** An OBJECT IDENTIFIER in dotted form ("1.3.6.1.4.1.53594.1.1"). */
export function readOid(el: DerElement): string {
  const c = el.content
  if (c.length === 0) throw fail('tls/der-malformed', 'empty OBJECT IDENTIFIER')
  const arcs: number[] = []
  let v = 0
  let fresh = true
  for (const x of c) {
    if (fresh && x === 0x80) throw fail('tls/der-non-canonical', 'OBJECT IDENTIFIER arc with a leading 0x80 byte')
    if (v > 2 ** 45) throw fail('tls/der-malformed', 'OBJECT IDENTIFIER arc too large')
    v = v * 128 + (x & 0x7f)
    fresh = (x & 0x80) === 0
    if (fresh) {
      if (arcs.length === 0) arcs.push(v < 40 ? 0 : v < 80 ? 1 : 2, v < 80 ? v % 40 : v - 80)
      else arcs.push(v)
      v = 0
    }
  }
  if (!fresh) throw fail('tls/der-malformed', 'OBJECT IDENTIFIER ends inside an arc')
  return arcs.join('.')
}

/** A BIT STRING whose length is a whole number of bytes (keys, signatures): its bytes. */
export function readBitStringBytes(el: DerElement): Uint8Array {
  const c = el.content
  if (c.length === 0) throw fail('tls/der-malformed', 'empty BIT STRING')
  if (c[0] !== 0) throw fail('tls/der-malformed', `BIT STRING with ${c[0]} unused bits where whole bytes are expected`)
  return c.subarray(1)
}

/** A BOOLEAN: DER allows only 0x00 and 0xFF. */
export function readBoolean(el: DerElement): boolean {
  const c = el.content
  if (c.length !== 1) throw fail('tls/der-malformed', 'BOOLEAN of a length other than 1')
  if (c[0] !== 0 && c[0] !== 0xff) throw fail('tls/der-non-canonical', `BOOLEAN 0x${c[0]!.toString(16)}`)
  return c[0] === 0xff
}

/** NULL: empty content. */
export function readNull(el: DerElement): void {
  if (el.content.length !== 0) throw fail('tls/der-malformed', 'NULL with content')
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp + (mp < 10 ? 3 : -9)
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

const leap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * A UTCTime (YYMMDDHHMMSSZ; YY >= 50 is 19YY, else 20YY) or GeneralizedTime (YYYYMMDDHHMMSSZ) as
 * milliseconds since the Unix epoch: exactly RFC 5280 §4.1.2.5's forms (seconds present, "Z", no
 * fractions), each field in range.
 */
export function readTime(el: DerElement): number {
  const utc = el.tag === TAG.UTC_TIME
  if (!utc && el.tag !== TAG.GENERALIZED_TIME) throw fail('tls/der-malformed', `tag 0x${el.tag.toString(16)} is not a time`)
  const c = el.content
  const n = utc ? 13 : 15
  if (c.length !== n || c[n - 1] !== 0x5a) throw fail('tls/der-malformed', `${utc ? 'UTCTime' : 'GeneralizedTime'} not in the form ${utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'}`)
  const digits: number[] = []
  for (let i = 0; i < n - 1; i++) {
    const d = c[i]! - 0x30
    if (d < 0 || d > 9) throw fail('tls/der-malformed', 'a time with a non-digit')
    digits.push(d)
  }
  const num = (i: number, k: number): number => digits.slice(i, i + k).reduce((a, d) => a * 10 + d, 0)
  let y: number
  let i: number
  if (utc) {
    y = num(0, 2)
    y += y >= 50 ? 1900 : 2000
    i = 2
  } else {
    y = num(0, 4)
    i = 4
  }
  const mo = num(i, 2), d = num(i + 2, 2), h = num(i + 4, 2), mi = num(i + 6, 2), s = num(i + 8, 2)
  const dim = mo === 2 && leap(y) ? 29 : MONTH_DAYS[mo - 1]
  if (dim === undefined || d < 1 || d > dim || h > 23 || mi > 59 || s > 59) throw fail('tls/der-malformed', 'a time field out of range')
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000
}

// ---- the writer ---------------------------------------------------------------------------------

/** One TLV: identifier `tag`, the minimal length, `content`. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError(`DER tag ${tag}`)
  const n = content.length
  if (n >= 1 << 24) throw new RangeError('DER content too long')
  const lenBytes = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
  const out = new Uint8Array(1 + lenBytes.length + n)
  out[0] = tag
  out.set(lenBytes, 1)
  out.set(content, 1 + lenBytes.length)
  return out
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** SEQUENCE of already-encoded elements. */
export const derSequence = (...items: Uint8Array[]): Uint8Array => derTlv(TAG.SEQUENCE, join(items))
/** SET of already-encoded elements (the caller orders them; X.509 Names here hold one each). */
export const derSet = (...items: Uint8Array[]): Uint8Array => derTlv(TAG.SET, join(items))
/** [n] EXPLICIT around one encoded element. */
export const derExplicit = (n: number, inner: Uint8Array): Uint8Array => derTlv(contextTag(n, true), inner)
export const derOctetString = (b: Uint8Array): Uint8Array => derTlv(TAG.OCTET_STRING, b)
export const derNull = (): Uint8Array => derTlv(TAG.NULL, new Uint8Array(0))
export const derBoolean = (v: boolean): Uint8Array => derTlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0))
export const derUtf8String = (s: string): Uint8Array => derTlv(TAG.UTF8_STRING, new TextEncoder().encode(s))

/** A BIT STRING of whole bytes (no unused bits). */
export function derBitString(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length + 1)
  c.set(b, 1)
  return derTlv(TAG.BIT_STRING, c)
}

/** A non-negative INTEGER from its big-endian magnitude (leading zeros dropped, a 0x00 added when the top bit is set). */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++
  const m = magnitude.subarray(i)
  if (m.length === 0) return derTlv(TAG.INTEGER, Uint8Array.of(0))
  if (m[0]! < 0x80) return derTlv(TAG.INTEGER, m)
  const c = new Uint8Array(m.length + 1)
  c.set(m, 1)
  return derTlv(TAG.INTEGER, c)
}

/** A small non-negative INTEGER. */
export function derSmallInteger(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`INTEGER ${v}`)
  return derUnsignedInteger(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff))
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => {
    if (!/^(0|[1-9][0-9]*)$/.test(a)) throw new TypeError(`bad OID ${dotted}`)
    return Number(a)
  })
  if (arcs.length < 2 || arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! >= 40) || arcs.some((a) => !Number.isSafeInteger(a))) throw new TypeError(`bad OID ${dotted}`)
  const out: number[] = []
  for (const v of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const groups: number[] = [v % 128]
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) groups.unshift((x % 128) | 0x80)
    out.push(...groups)
  }
  return derTlv(TAG.OID, Uint8Array.from(out))
}

/**
 * A certificate time (RFC 5280 §4.1.2.5): UTCTime for the years 1950-2049, GeneralizedTime otherwise;
 * `ms` since the Unix epoch, whole seconds.
 */
export function derTime(ms: number): Uint8Array {
  if (!Number.isSafeInteger(ms) || ms % 1000 !== 0) throw new RangeError('a certificate time is whole seconds')
  const days = Math.floor(ms / 86_400_000)
  let rest = (ms - days * 86_400_000) / 1000
  const [y, mo, d] = civilFromDays(days)
  if (y < 0 || y > 9999) throw new RangeError(`year ${y} out of range`)
  const h = Math.floor(rest / 3600)
  rest -= h * 3600
  const mi = Math.floor(rest / 60)
  const s = rest - mi * 60
  const two = (v: number): string => String(v).padStart(2, '0')
  const tail = `${two(mo)}${two(d)}${two(h)}${two(mi)}${two(s)}Z`
  const utc = y >= 1950 && y < 2050
  const text = utc ? `${two(y % 100)}${tail}` : `${String(y).padStart(4, '0')}${tail}`
  return derTlv(utc ? TAG.UTC_TIME : TAG.GENERALIZED_TIME, new TextEncoder().encode(text))
}
