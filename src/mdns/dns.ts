/**
 * A small, bounded DNS message codec for multicast DNS (RFC 1035 §4, RFC 6762). See spec/mdns.md.
 *
 *   header    id(16) flags(16) qdcount(16) ancount(16) nscount(16) arcount(16)
 *   question  name type(16) class(16)           (class top bit: QU, "unicast response", RFC 6762 §5.4)
 *   record    name type(16) class(16) ttl(32) rdlength(16) rdata
 *                                                (class top bit: cache-flush, RFC 6762 §10.2)
 *
 * Record types PTR, SRV, TXT, A and AAAA are decoded; every other type is skipped (its rdata is
 * bounded by rdlength and the packet) and counted in `skipped`. Names are dotted text: labels are
 * UTF-8 (RFC 6762 §16), a '.' or '\' inside a label is written `\.` / `\\`, a label that is not
 * UTF-8 has its bytes outside printable ASCII written `\DDD` (decimal), as in DNS presentation
 * format. The root name is ''.
 *
 * Decoding remote bytes throws `ProtocolError('mdns', 'mdns/...')` only. Encoding throws
 * RangeError / TypeError for values the wire cannot carry (local misuse).
 */
import { ProtocolError } from '../core/errors.js'
import { fromUtf8, utf8 } from '../core/bytes.js'

/** The DNS record types mDNS discovery uses (RFC 1035 §3.2.2, RFC 3596, RFC 2782), and ANY. */
export const TYPE = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, ANY: 255 } as const
/** The Internet class (RFC 1035 §3.2.4). */
export const CLASS_IN = 1
/** Header flag bits (RFC 1035 §4.1.1). */
export const FLAG_QR = 0x8000
/** Header flag AA, authoritative answer (set in mDNS responses, RFC 6762 §18.4). */
export const FLAG_AA = 0x0400
/** Header flag TC, truncated (RFC 6762 §18.5: more known answers follow). */
export const FLAG_TC = 0x0200

/**
 * The `ProtocolError('mdns', code)` codes of a received DNS packet (RFC 1035 §4, RFC 6762): too large, truncated, bad names or pointers.
 */
export type MdnsErrorCode =
  | 'mdns/packet-too-large'
  | 'mdns/truncated'
  | 'mdns/bad-label'
  | 'mdns/name-too-long'
  | 'mdns/bad-pointer'
  | 'mdns/too-many-pointers'
  | 'mdns/too-many-questions'
  | 'mdns/too-many-records'
  | 'mdns/too-many-txt-strings'
  | 'mdns/bad-rdata'

/** A DNS question (RFC 1035 §4.1.2); `unicastResponse` is mDNS's QU bit (RFC 6762 §5.4). */
export interface DnsQuestion {
  name: string
  type: number
  /** Class without the top bit (1 = IN). */
  class: number
  /** The QU bit (class top bit): the asker wants a unicast answer. */
  unicastResponse: boolean
}

interface RecordBase {
  name: string
  /** Class without the top bit (1 = IN). */
  class: number
  /** The cache-flush bit (class top bit). */
  cacheFlush: boolean
  /** Seconds (uint32). */
  ttl: number
}

/**
 * A DNS resource record weft reads and writes (RFC 1035 §4.1.3): PTR, SRV, TXT, A, AAAA; `cacheFlush` is mDNS's bit (RFC 6762 §10.2).
 */
export type DnsRecord =
  | (RecordBase & { type: 'PTR'; target: string })
  | (RecordBase & { type: 'SRV'; priority: number; weight: number; port: number; target: string })
  | (RecordBase & { type: 'TXT'; strings: Uint8Array[] })
  | (RecordBase & { type: 'A'; address: Uint8Array })
  | (RecordBase & { type: 'AAAA'; address: Uint8Array })

/** A DNS message (RFC 1035 §4.1): header id and flags, questions, answers, authorities, additionals. */
export interface DnsMessage {
  id: number
  /** The 16 header flag bits (QR, opcode, AA, TC, RD, RA, Z, RCODE). */
  flags: number
  questions: DnsQuestion[]
  answers: DnsRecord[]
  authorities: DnsRecord[]
  additionals: DnsRecord[]
}

/** A decoded DNS message, with the count of records of types weft does not read. */
export interface DecodedDnsMessage extends DnsMessage {
  /** Records of other types (NSEC, OPT, HINFO, ...) that were skipped, all sections together. */
  skipped: number
}

/** Bounds of DNS packets decoded or encoded (spec/mdns.md "Limits"). */
export interface DnsLimits {
  /**
   * Largest packet decoded or encoded. Default 9000, the mDNS maximum (RFC 6762 §17). Stops a
   * sender from making us parse (or a caller from sending) jumbo messages.
   */
  maxPacketSize: number
  /** Most questions in one message. Default 64. Stops a query that makes us allocate and answer thousands of questions. */
  maxQuestions: number
  /**
   * Most records (answers + authorities + additionals, skipped ones included). Default 256. Stops a
   * packet of ~800 minimal records each costing an object, a name walk and a lookup.
   */
  maxRecords: number
  /**
   * Compression pointers followed in one name. Default 16. Stops chains of pointers to pointers
   * that make every name cost a walk through the whole packet.
   */
  maxPointerHops: number
  /** Most TXT strings in the whole message. Default 512. Stops 9000 one-byte empty strings, each an allocation. */
  maxTxtStrings: number
}

/** Default `DnsLimits`: 9000-byte packets, 64 questions, 256 records, 16 pointer hops, 512 TXT strings. */
export const DEFAULT_DNS_LIMITS: Readonly<DnsLimits> = Object.freeze({
  maxPacketSize: 9000,
  maxQuestions: 64,
  maxRecords: 256,
  maxPointerHops: 16,
  maxTxtStrings: 512,
})

/** RFC 1035 §2.3.4: a label is at most 63 bytes, a name at most 255 (wire form, with length bytes and root). */
export const MAX_LABEL = 63
/** Longest name on the wire, in bytes (RFC 1035 §2.3.4). */
export const MAX_NAME = 255

const PROTOCOL = 'mdns'
const fail = (code: MdnsErrorCode, message?: string): ProtocolError<MdnsErrorCode> => new ProtocolError<MdnsErrorCode>(PROTOCOL, code, message)

// ---- names as text ------------------------------------------------------------------------------

/** One label's bytes as text (see the header for the escapes). */
function labelText(b: Uint8Array): string {
  let s: string | undefined
  try {
    s = fromUtf8(b)
  } catch {
    s = undefined
  }
  if (s !== undefined) return s.replace(/[\\.]/g, (c) => `\\${c}`)
  let out = ''
  for (const x of b) {
    if (x === 0x2e || x === 0x5c) out += `\\${String.fromCharCode(x)}`
    else if (x > 0x20 && x < 0x7f) out += String.fromCharCode(x)
    else out += `\\${x.toString().padStart(3, '0')}`
  }
  return out
}

/** Dotted text to label bytes; throws RangeError for empty or oversize labels or an oversize name. */
export function nameToLabels(name: string): Uint8Array[] {
  if (typeof name !== 'string') throw new TypeError('a DNS name must be a string')
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name
  if (text === '') return []
  const labels: Uint8Array[] = []
  let cur: number[] = []
  const flush = (): void => {
    if (cur.length === 0) throw new RangeError(`empty label in DNS name ${JSON.stringify(name)}`)
    if (cur.length > MAX_LABEL) throw new RangeError(`label over ${MAX_LABEL} bytes in DNS name ${JSON.stringify(name)}`)
    labels.push(Uint8Array.from(cur))
    cur = []
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '.') flush()
    else if (c === '\\') {
      const d = text.slice(i + 1, i + 4)
      if (/^\d{3}$/.test(d) && Number(d) < 256) {
        cur.push(Number(d))
        i += 3
      } else if (i + 1 < text.length) {
        cur.push(...utf8(text[i + 1]!))
        i += 1
      } else throw new RangeError(`dangling escape in DNS name ${JSON.stringify(name)}`)
    } else {
      const cp = text.codePointAt(i)!
      const ch = String.fromCodePoint(cp)
      cur.push(...utf8(ch))
      i += ch.length - 1
    }
  }
  flush()
  if (labels.reduce((n, l) => n + 1 + l.length, 1) > MAX_NAME) throw new RangeError(`DNS name over ${MAX_NAME} bytes: ${JSON.stringify(name)}`)
  return labels
}

/** Case-insensitive (ASCII) comparison of two names, ignoring a trailing root dot. */
export function sameName(a: string, b: string): boolean {
  const strip = (s: string): string => (s.endsWith('.') && !s.endsWith('\\.') ? s.slice(0, -1) : s)
  return asciiLower(strip(a)) === asciiLower(strip(b))
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))
}

// ---- decoding -----------------------------------------------------------------------------------

class Reader {
  pos = 0
  constructor(readonly b: Uint8Array, readonly limits: DnsLimits) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.b.length) throw fail('mdns/truncated', `${what} at offset ${this.pos}`)
  }
  u8(what: string): number {
    this.need(1, what)
    return this.b[this.pos++]!
  }
  u16(what: string): number {
    this.need(2, what)
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!
    this.pos += 2
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const v = ((this.b[this.pos]! << 24) >>> 0) + (this.b[this.pos + 1]! << 16) + (this.b[this.pos + 2]! << 8) + this.b[this.pos + 3]!
    this.pos += 4
    return v
  }

  /**
   * A name at the current position. A compression pointer must point strictly before the start of
   * the run of labels it ends (so every hop goes backwards and no loop is possible), at most
   * maxPointerHops of them; labels ≤ 63 bytes, the name ≤ 255 bytes.
   */
  name(): string {
    const b = this.b
    let p = this.pos
    let segmentStart = p
    let jumped = false
    let hops = 0
    let wireLen = 1
    const labels: string[] = []
    for (;;) {
      if (p >= b.length) throw fail('mdns/truncated', `name at offset ${p}`)
      const len = b[p]!
      if (len === 0) {
        if (!jumped) this.pos = p + 1
        return labels.join('.')
      }
      const kind = len & 0xc0
      if (kind === 0xc0) {
        if (p + 1 >= b.length) throw fail('mdns/truncated', `pointer at offset ${p}`)
        const target = ((len & 0x3f) << 8) | b[p + 1]!
        if (target >= segmentStart) throw fail('mdns/bad-pointer', `pointer at ${p} to ${target}, not before ${segmentStart}`)
        if (++hops > this.limits.maxPointerHops) throw fail('mdns/too-many-pointers', `more than ${this.limits.maxPointerHops} in one name`)
        if (!jumped) this.pos = p + 2
        jumped = true
        p = segmentStart = target
        continue
      }
      // A length byte of 64..191 has a reserved label type (0x40, 0x80): a label over 63 bytes cannot be written.
      if (kind !== 0) throw fail('mdns/bad-label', `label type 0x${kind.toString(16)} at offset ${p}`)
      wireLen += 1 + len
      if (wireLen > MAX_NAME) throw fail('mdns/name-too-long', `over ${MAX_NAME} bytes at offset ${p}`)
      if (p + 1 + len > b.length) throw fail('mdns/truncated', `label at offset ${p}`)
      labels.push(labelText(b.subarray(p + 1, p + 1 + len)))
      p += 1 + len
    }
  }
}

/** Decode one DNS message. Throws ProtocolError('mdns', 'mdns/...') only. */
export function decodeDnsMessage(bytes: Uint8Array, limits: Partial<DnsLimits> = {}): DecodedDnsMessage {
  const l: DnsLimits = { ...DEFAULT_DNS_LIMITS, ...limits }
  if (bytes.length > l.maxPacketSize) throw fail('mdns/packet-too-large', `${bytes.length} > ${l.maxPacketSize}`)
  const r = new Reader(bytes, l)
  const id = r.u16('header')
  const flags = r.u16('header')
  const qd = r.u16('header')
  const an = r.u16('header')
  const ns = r.u16('header')
  const ar = r.u16('header')
  if (qd > l.maxQuestions) throw fail('mdns/too-many-questions', `${qd} > ${l.maxQuestions}`)
  if (an + ns + ar > l.maxRecords) throw fail('mdns/too-many-records', `${an + ns + ar} > ${l.maxRecords}`)
  const msg: DecodedDnsMessage = { id, flags, questions: [], answers: [], authorities: [], additionals: [], skipped: 0 }
  for (let i = 0; i < qd; i++) {
    const name = r.name()
    const type = r.u16('question')
    const cls = r.u16('question')
    msg.questions.push({ name, type, class: cls & 0x7fff, unicastResponse: (cls & 0x8000) !== 0 })
  }
  const txt = { strings: 0 }
  const sections: Array<[number, DnsRecord[]]> = [[an, msg.answers], [ns, msg.authorities], [ar, msg.additionals]]
  for (const [n, out] of sections) {
    for (let i = 0; i < n; i++) {
      const rec = readRecord(r, txt)
      if (rec === undefined) msg.skipped++
      else out.push(rec)
    }
  }
  return msg
}

function readRecord(r: Reader, txt: { strings: number }): DnsRecord | undefined {
  const name = r.name()
  const type = r.u16('record')
  const cls = r.u16('record')
  const ttl = r.u32('record')
  const rdlength = r.u16('record')
  r.need(rdlength, 'rdata')
  const start = r.pos
  const end = start + rdlength
  const base: RecordBase = { name, class: cls & 0x7fff, cacheFlush: (cls & 0x8000) !== 0, ttl }
  const bad = (why: string): ProtocolError<MdnsErrorCode> => fail('mdns/bad-rdata', `${why} in the record at offset ${start}`)
  let rec: DnsRecord | undefined
  switch (type) {
    case TYPE.A:
    case TYPE.AAAA: {
      const size = type === TYPE.A ? 4 : 16
      if (rdlength !== size) throw bad(`rdlength ${rdlength} for ${type === TYPE.A ? 'A' : 'AAAA'}`)
      rec = { ...base, type: type === TYPE.A ? 'A' : 'AAAA', address: r.b.slice(start, end) }
      r.pos = end
      break
    }
    case TYPE.PTR:
      rec = { ...base, type: 'PTR', target: r.name() }
      break
    case TYPE.SRV: {
      if (rdlength < 7) throw bad(`rdlength ${rdlength} for SRV`)
      const priority = r.u16('SRV')
      const weight = r.u16('SRV')
      const port = r.u16('SRV')
      rec = { ...base, type: 'SRV', priority, weight, port, target: r.name() }
      break
    }
    case TYPE.TXT: {
      const strings: Uint8Array[] = []
      while (r.pos < end) {
        const len = r.b[r.pos]!
        if (r.pos + 1 + len > end) throw bad('a TXT string past rdlength')
        if (++txt.strings > r.limits.maxTxtStrings) throw fail('mdns/too-many-txt-strings', `over ${r.limits.maxTxtStrings}`)
        strings.push(r.b.slice(r.pos + 1, r.pos + 1 + len))
        r.pos += 1 + len
      }
      rec = { ...base, type: 'TXT', strings }
      break
    }
    default:
      r.pos = end
      return undefined
  }
  if (r.pos !== end) throw bad(`rdata of ${r.pos - start} bytes, rdlength ${rdlength}`)
  return rec
}

// ---- encoding -----------------------------------------------------------------------------------

/** Options of DNS message encoding. */
export interface EncodeOptions {
  /** Compress names with pointers to earlier names (RFC 1035 §4.1.4). Default true. */
  compress?: boolean
  /** Largest packet to produce (RangeError past it). Default 9000. */
  maxPacketSize?: number
}

class Writer {
  buf = new Uint8Array(512)
  len = 0
  readonly offsets = new Map<string, number>()
  constructor(readonly compress: boolean) {}

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.len++] = v
  }
  u16(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} must be a uint16`)
    this.ensure(2)
    this.buf[this.len++] = v >> 8
    this.buf[this.len++] = v & 0xff
  }
  u32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${what} must be a uint32`)
    this.u16(Math.floor(v / 0x10000), what)
    this.u16(v % 0x10000, what)
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }
  name(name: string): void {
    const labels = nameToLabels(name)
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => asciiLower(labelText(l))).join('.')
      const at = this.compress ? this.offsets.get(key) : undefined
      if (at !== undefined) {
        this.u16(0xc000 | at, 'pointer')
        return
      }
      if (this.compress && this.len < 0x3fff) this.offsets.set(key, this.len)
      this.u8(labels[i]!.length)
      this.raw(labels[i]!)
    }
    this.u8(0)
  }
}

function cls(c: number, top: boolean, what: string): number {
  if (!Number.isInteger(c) || c < 0 || c > 0x7fff) throw new RangeError(`${what} class must be in [0, 0x7fff]`)
  return (top ? 0x8000 : 0) | c
}

function writeRecord(w: Writer, rec: DnsRecord): void {
  w.name(rec.name)
  const type = TYPE[rec.type]
  w.u16(type, 'type')
  w.u16(cls(rec.class, rec.cacheFlush, rec.type), 'class')
  w.u32(rec.ttl, 'ttl')
  const lenAt = w.len
  w.u16(0, 'rdlength')
  switch (rec.type) {
    case 'A':
    case 'AAAA':
      if (!(rec.address instanceof Uint8Array) || rec.address.length !== (rec.type === 'A' ? 4 : 16)) throw new RangeError(`${rec.type} address must be ${rec.type === 'A' ? 4 : 16} bytes`)
      w.raw(rec.address)
      break
    case 'PTR':
      w.name(rec.target)
      break
    case 'SRV':
      w.u16(rec.priority, 'SRV priority')
      w.u16(rec.weight, 'SRV weight')
      w.u16(rec.port, 'SRV port')
      w.name(rec.target)
      break
    case 'TXT':
      for (const s of rec.strings) {
        if (s.length > 255) throw new RangeError('a TXT string is at most 255 bytes')
        w.u8(s.length)
        w.raw(s)
      }
      break
    default:
      throw new TypeError(`unknown record type ${(rec as { type: unknown }).type}`)
  }
  const rdlength = w.len - lenAt - 2
  if (rdlength > 0xffff) throw new RangeError('rdata over 65535 bytes')
  w.buf[lenAt] = rdlength >> 8
  w.buf[lenAt + 1] = rdlength & 0xff
}

/** Encode a DNS message; names are compressed unless `compress: false`. RangeError past maxPacketSize. */
export function encodeDnsMessage(msg: DnsMessage, options: EncodeOptions = {}): Uint8Array {
  const w = new Writer(options.compress ?? true)
  const max = options.maxPacketSize ?? DEFAULT_DNS_LIMITS.maxPacketSize
  w.u16(msg.id, 'id')
  w.u16(msg.flags, 'flags')
  w.u16(msg.questions.length, 'qdcount')
  w.u16(msg.answers.length, 'ancount')
  w.u16(msg.authorities.length, 'nscount')
  w.u16(msg.additionals.length, 'arcount')
  for (const q of msg.questions) {
    w.name(q.name)
    w.u16(q.type, 'question type')
    w.u16(cls(q.class, q.unicastResponse, 'question'), 'question class')
  }
  for (const rec of [...msg.answers, ...msg.authorities, ...msg.additionals]) writeRecord(w, rec)
  if (w.len > max) throw new RangeError(`DNS message of ${w.len} bytes is over ${max}`)
  return w.buf.slice(0, w.len)
}
