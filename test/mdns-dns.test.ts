// The DNS message codec of mDNS (src/mdns/dns.ts, spec/mdns.md): vectors, every limit at and past,
// compression, and hostile bytes (only ProtocolError('mdns', ...) may escape).
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { ProtocolError } from '../src/core/errors.js'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import {
  DEFAULT_DNS_LIMITS, FLAG_AA, FLAG_QR, TYPE, decodeDnsMessage, encodeDnsMessage, nameToLabels, sameName,
  type DnsMessage, type DnsRecord, type DecodedDnsMessage,
} from '../src/mdns/index.js'
import { parseQuery, parseResponse } from '../src/mdns/index.js'
import { codeOf, protocolErrorCode } from './helpers/errors.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('mdns')

/** The vectors' JSON form of a decoded message: bytes as hex, TXT strings as text (or 'hex:...'). */
function toJson(m: DecodedDnsMessage): unknown {
  const txt = (b: Uint8Array): string => {
    try {
      const s = new TextDecoder('utf-8', { fatal: true }).decode(b)
      return /^[\x20-\x7e]*$/.test(s) ? s : `hex:${toHex(b)}`
    } catch {
      return `hex:${toHex(b)}`
    }
  }
  const rec = (r: DnsRecord): unknown => (r.type === 'TXT' ? { ...r, strings: r.strings.map(txt) } : r.type === 'A' || r.type === 'AAAA' ? { ...r, address: toHex(r.address) } : r)
  return { ...m, answers: m.answers.map(rec), authorities: m.authorities.map(rec), additionals: m.additionals.map(rec) }
}

function fromJson(j: any): DnsMessage {
  const rec = (r: any): DnsRecord => (r.type === 'TXT'
    ? { ...r, strings: r.strings.map((s: string) => (s.startsWith('hex:') ? fromHex(s.slice(4)) : utf8(s))) }
    : r.type === 'A' || r.type === 'AAAA' ? { ...r, address: fromHex(r.address) } : r)
  return { id: j.id, flags: j.flags, questions: j.questions, answers: j.answers.map(rec), authorities: j.authorities.map(rec), additionals: j.additionals.map(rec) }
}

describe('vectors', () => {
  for (const v of vectors.all()) {
    test(v.id, () => {
      const bytes = fromHex(v.hex!)
      if (v.error !== undefined) {
        expect(protocolErrorCode(() => decodeDnsMessage(bytes))).toBe(v.error)
        return
      }
      const m = decodeDnsMessage(bytes)
      expect(toJson(m)).toEqual(v.decoded)
      if (v.reencodes !== false) expect(toHex(encodeDnsMessage(fromJson(v.decoded), { compress: v.reencodes === 'compressed' }))).toBe(v.hex)
      else expect(toHex(encodeDnsMessage(fromJson(v.decoded)))).not.toBe(v.hex)
      expect(parseQuery(m) ?? null).toEqual(v.query)
      expect(parseResponse(m).map((p) => ({ peer: p.peer.toString(), addrs: p.addrs.map(String) }))).toEqual(v.peers)
      if (v.ttls !== undefined) expect(parseResponse(m).map((p) => p.ttl)).toEqual(v.ttls)
    })
  }
})

const header = (qd: number, an: number, ns = 0, ar = 0, flags = 0): number[] => [0, 0, flags >> 8, flags & 0xff, 0, qd, an >> 8, an & 0xff, 0, ns, ar >> 8, ar & 0xff]
const label = (s: string): number[] => [s.length, ...utf8(s)]
const ptrQuestion = (name: number[]): number[] => [...name, 0, 12, 0, 1]

describe('limits', () => {
  test('maxPacketSize: 9000 bytes decode, 9001 are refused before parsing; an option lowers it', () => {
    const q = [...header(1, 0), ...ptrQuestion([...label('_p2p'), ...label('_udp'), ...label('local'), 0])]
    const at = new Uint8Array(DEFAULT_DNS_LIMITS.maxPacketSize)
    at.set(q)
    expect(decodeDnsMessage(at).questions).toHaveLength(1) // trailing bytes after the counted sections are ignored
    const past = new Uint8Array(DEFAULT_DNS_LIMITS.maxPacketSize + 1)
    past.set(q)
    expect(protocolErrorCode(() => decodeDnsMessage(past))).toBe('mdns/packet-too-large')
    expect(codeOf(() => decodeDnsMessage(Uint8Array.from(q), { maxPacketSize: q.length }))).toBe('no error')
    expect(codeOf(() => decodeDnsMessage(Uint8Array.from(q), { maxPacketSize: q.length - 1 }))).toBe('mdns/packet-too-large')
  })

  test('maxQuestions: 64 at, 65 past', () => {
    const q = ptrQuestion([...label('a'), 0])
    const msg = (n: number): Uint8Array => Uint8Array.from([...header(n, 0), ...Array.from({ length: n }, () => q).flat()])
    expect(decodeDnsMessage(msg(64)).questions).toHaveLength(64)
    expect(protocolErrorCode(() => decodeDnsMessage(msg(65)))).toBe('mdns/too-many-questions')
  })

  test('maxRecords: 256 at, 257 past (counted over all sections, skipped records too)', () => {
    const a = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 1] // pointer to the question's name, A 10.0.0.1
    const other = [0xc0, 0x0c, 0, 99, 0, 1, 0, 0, 0, 120, 0, 1, 7] // an unknown type, skipped
    const msg = (n: number): Uint8Array => Uint8Array.from([...header(1, n - 1, 0, 1), ...ptrQuestion([...label('h'), 0]), ...Array.from({ length: n - 1 }, () => a).flat(), ...other])
    const m = decodeDnsMessage(msg(256))
    expect([m.answers.length, m.skipped]).toEqual([255, 1])
    expect(protocolErrorCode(() => decodeDnsMessage(msg(257)))).toBe('mdns/too-many-records')
  })

  test('maxPointerHops: 16 at, 17 past', () => {
    const ok = decodeDnsMessage(pointerChain(16))
    expect(ok.answers[0]!.name).toBe('a')
    expect(protocolErrorCode(() => decodeDnsMessage(pointerChain(17)))).toBe('mdns/too-many-pointers')
    expect(codeOf(() => decodeDnsMessage(pointerChain(17), { maxPointerHops: 17 }))).toBe('no error')
  })

  test('a name of 255 bytes decodes, 256 is refused; encoding refuses 64-byte labels and 256-byte names', () => {
    const name = (sizes: number[]): number[] => [...sizes.flatMap((n) => label('x'.repeat(n))), 0]
    expect(decodeDnsMessage(Uint8Array.from([...header(1, 0), ...ptrQuestion(name([63, 63, 63, 61]))])).questions[0]!.name).toHaveLength(253)
    expect(protocolErrorCode(() => decodeDnsMessage(Uint8Array.from([...header(1, 0), ...ptrQuestion(name([63, 63, 63, 62]))])))).toBe('mdns/name-too-long')
    expect(nameToLabels('x'.repeat(63))).toHaveLength(1)
    expect(() => nameToLabels('x'.repeat(64))).toThrow(RangeError)
    expect(nameToLabels(['x'.repeat(63), 'x'.repeat(63), 'x'.repeat(63), 'x'.repeat(61)].join('.'))).toHaveLength(4)
    expect(() => nameToLabels(['x'.repeat(63), 'x'.repeat(63), 'x'.repeat(63), 'x'.repeat(62)].join('.'))).toThrow(RangeError)
  })

  test('maxTxtStrings: 512 at, 513 past (over the whole message); a TXT string of 255 bytes encodes, 256 does not', () => {
    const txt = (n: number, records = 1): Uint8Array => {
      const per = Math.ceil(n / records)
      const recs: number[] = []
      for (let r = 0, left = n; r < records; r++, left -= per) {
        const k = Math.min(per, left)
        recs.push(0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 120, k >> 8, k & 0xff, ...new Array<number>(k).fill(0))
      }
      return Uint8Array.from([...header(1, records), ...ptrQuestion([...label('t'), 0]), ...recs])
    }
    expect(decodeDnsMessage(txt(512, 2)).answers.flatMap((r) => (r.type === 'TXT' ? r.strings : []))).toHaveLength(512)
    expect(protocolErrorCode(() => decodeDnsMessage(txt(513, 2)))).toBe('mdns/too-many-txt-strings')
    const rec = (len: number): DnsMessage => ({ id: 0, flags: 0, questions: [], authorities: [], additionals: [], answers: [{ name: 't', class: 1, cacheFlush: false, ttl: 1, type: 'TXT', strings: [new Uint8Array(len).fill(0x61)] }] })
    expect((decodeDnsMessage(encodeDnsMessage(rec(255))).answers[0] as { strings: Uint8Array[] }).strings[0]).toHaveLength(255)
    expect(() => encodeDnsMessage(rec(256))).toThrow(RangeError)
  })

  test('encoding past maxPacketSize is a RangeError (local misuse)', () => {
    const m: DnsMessage = { id: 0, flags: 0, questions: [], authorities: [], additionals: [], answers: Array.from({ length: 40 }, (_, i): DnsRecord => ({ name: `n${i}.local`, class: 1, cacheFlush: false, ttl: 1, type: 'TXT', strings: [new Uint8Array(255)] })) }
    expect(encodeDnsMessage(m, { maxPacketSize: 20_000 }).length).toBeGreaterThan(9000)
    expect(() => encodeDnsMessage(m)).toThrow(RangeError)
  })
})

/**
 * A name reached through `hops` pointers: question 'a' at 12; a skipped record (type 99) whose rdata
 * is a chain of hops - 1 pointers, the first to 12, each next to the one before; then an A record
 * whose name is a pointer to the chain's last pointer.
 */
function pointerChain(hops: number): Uint8Array {
  const head = [...header(1, 2), ...label('a'), 0, 0, 12, 0, 1]
  const rec = [...label('r'), 0, 0, 99, 0, 1, 0, 0, 0, 1]
  const chainAt = head.length + rec.length + 2
  const chain: number[] = []
  let prev = 12
  for (let i = 0; i < hops - 1; i++) {
    chain.push(0xc0 | (prev >> 8), prev & 0xff)
    prev = chainAt + i * 2
  }
  const a = [0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0, 0, 1]
  return Uint8Array.from([...head, ...rec, chain.length >> 8, chain.length & 0xff, ...chain, ...a])
}

describe('names and compression', () => {
  const rec = (name: string, target: string): DnsRecord => ({ name, class: 1, cacheFlush: false, ttl: 120, type: 'PTR', target })
  const msg = (answers: DnsRecord[]): DnsMessage => ({ id: 0, flags: FLAG_QR | FLAG_AA, questions: [], authorities: [], additionals: [], answers })

  test('compression shortens repeated suffixes and decodes to the same message; plain does not compress', () => {
    const m = msg([rec('_p2p._udp.local', 'abc._p2p._udp.local'), rec('_p2p._udp.local', 'def._p2p._udp.local')])
    const c = encodeDnsMessage(m)
    const p = encodeDnsMessage(m, { compress: false })
    expect(c.length).toBeLessThan(p.length)
    expect(decodeDnsMessage(c)).toEqual({ ...m, skipped: 0 })
    expect(decodeDnsMessage(p)).toEqual({ ...m, skipped: 0 })
    expect(p.includes(0xc0)).toBe(false)
  })

  test('compression matches suffixes case-insensitively (the first spelling is kept)', () => {
    const m = msg([rec('_p2p._udp.local', 'x._P2P._UDP.LOCAL')])
    expect(decodeDnsMessage(encodeDnsMessage(m)).answers[0]).toMatchObject({ target: 'x._p2p._udp.local' })
  })

  test('labels with dots, backslashes and non-UTF-8 bytes round-trip through escapes', () => {
    for (const name of ['My\\.Printer._ipp._tcp.local', 'a\\\\b.local', '\\255\\000x.local', 'café.local']) {
      const m = msg([rec(name, name)])
      expect(decodeDnsMessage(encodeDnsMessage(m, { compress: false })).answers[0]).toMatchObject({ name, target: name })
    }
    expect(nameToLabels('My\\.Printer.local').map((l) => l.length)).toEqual([10, 5])
  })

  test('sameName ignores ASCII case and a trailing root dot', () => {
    expect(sameName('_P2P._udp.local.', '_p2p._UDP.local')).toBe(true)
    expect(sameName('a.local', 'b.local')).toBe(false)
  })

  test('the QU and cache-flush bits are read from the class top bit and written back', () => {
    const m: DnsMessage = {
      id: 7, flags: 0, authorities: [], additionals: [],
      questions: [{ name: '_p2p._udp.local', type: TYPE.PTR, class: 1, unicastResponse: true }],
      answers: [{ name: 'h.local', class: 1, cacheFlush: true, ttl: 120, type: 'AAAA', address: new Uint8Array(16).fill(1) },
        { name: 's._p2p._udp.local', class: 1, cacheFlush: true, ttl: 120, type: 'SRV', priority: 1, weight: 2, port: 4001, target: 'h.local' }],
    }
    const bytes = encodeDnsMessage(m)
    expect(decodeDnsMessage(bytes)).toEqual({ ...m, skipped: 0 })
    expect(toHex(bytes)).toContain('000c8001') // PTR, class IN | QU
  })
})

describe('hostile bytes', () => {
  const base = encodeDnsMessage({
    id: 0, flags: FLAG_QR | FLAG_AA, questions: [{ name: '_p2p._udp.local', type: 12, class: 1, unicastResponse: false }], authorities: [],
    answers: [{ name: '_p2p._udp.local', class: 1, cacheFlush: false, ttl: 360, type: 'PTR', target: 'abc._p2p._udp.local' }],
    additionals: [
      { name: 'abc._p2p._udp.local', class: 1, cacheFlush: true, ttl: 360, type: 'TXT', strings: [utf8('dnsaddr=/ip4/10.0.0.1/tcp/1')] },
      { name: 'abc._p2p._udp.local', class: 1, cacheFlush: true, ttl: 360, type: 'SRV', priority: 0, weight: 0, port: 1, target: 'abc.local' },
      { name: 'abc.local', class: 1, cacheFlush: true, ttl: 360, type: 'A', address: Uint8Array.of(10, 0, 0, 1) },
    ],
  })

  const onlyMdnsErrors = (bytes: Uint8Array): void => {
    try {
      const m = decodeDnsMessage(bytes)
      parseResponse(m)
      parseQuery(m)
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect((e as ProtocolError).protocol).toBe('mdns')
    }
  }

  test('random bytes and mutations of a valid packet: only ProtocolError(mdns) escapes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), onlyMdnsErrors), { numRuns: 500 })
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { maxLength: 6 }), fc.nat(base.length), (edits, cut) => {
      const b = base.slice(0, Math.max(cut, 12))
      for (const [i, v] of edits) if (i < b.length) b[i] = v
      onlyMdnsErrors(b)
    }), { numRuns: 1000 })
  })

  test('every truncation of a valid packet is mdns/truncated (or decodes when only trailing records are cut by the counts)', () => {
    for (let n = 0; n < base.length; n++) expect(codeOf(() => decodeDnsMessage(base.subarray(0, n)))).toBe('mdns/truncated')
    expect(codeOf(() => decodeDnsMessage(base))).toBe('no error')
  })
})
