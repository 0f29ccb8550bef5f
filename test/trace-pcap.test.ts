/**
 * The pcap reader and TCP reassembler of the offline decryptor (src/trace/pcap.ts): every link type,
 * IPv4 and IPv6, retransmissions and reordering, sequence wrap-around, the limits at and past their
 * value, and the typed errors of malformed files.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { UsageError } from '../src/core/errors.js'
import { DEFAULT_PCAP_LIMITS, readPcap, type TcpConnection } from '../src/trace/pcap.js'
import { usageErrorCode } from './helpers/errors.js'
import { connectionSegments, frame, pcapFile, tcpPacket, tcpPcap, type Link, type Seg } from './trace-pcap-helpers.js'

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const FLIGHTS = [
  { fromInitiator: true, data: bytes(2500, 1) },
  { fromInitiator: false, data: bytes(700, 2) },
  { fromInitiator: true, data: bytes(10, 3) },
  { fromInitiator: false, data: bytes(4096, 4) },
]
const want = (fromInitiator: boolean) => concat(FLIGHTS.filter((f) => f.fromInitiator === fromInitiator).map((f) => f.data))

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const stream = (c: TcpConnection, fromInitiator: boolean) => concat(c.chunks.filter((k) => k.fromInitiator === fromInitiator).map((k) => k.data))


describe('link types and IP versions', () => {
  const V6A = '2001:db8:0:0:0:0:0:1'
  const V6B = '2001:db8:0:0:0:0:0:2'
  for (const link of [0, 1, 101, 113, 276] as Link[]) {
    for (const [a, b] of [['10.0.0.1', '10.0.0.2'], [V6A, V6B]]) {
      test(`link ${link}, ${a.includes(':') ? 'IPv6' : 'IPv4'}: both streams rebuilt, endpoints named`, () => {
        const cap = readPcap(tcpPcap(link, connectionSegments(FLIGHTS, { a, b })))
        expect(cap.linkType).toBe(link)
        expect(cap.skipped).toBe(0)
        expect(cap.connections).toHaveLength(1)
        const c = cap.connections[0]!
        expect(c.sawSyn).toBe(true)
        expect(c.initiator).toEqual({ ip: a.includes(':') ? '2001:db8:0:0:0:0:0:1' : a, port: 40000 })
        expect(c.responder.port).toBe(4001)
        expect(stream(c, true)).toEqual(want(true))
        expect(stream(c, false)).toEqual(want(false))
        expect(c.lost).toEqual({})
      })
    }
  }

  test('big-endian files and nanosecond timestamps', () => {
    const segs = connectionSegments(FLIGHTS, { t0: 1_700_000_000_123.5 })
    for (const o of [{ bigEndian: true }, { nanos: true }, { bigEndian: true, nanos: true }]) {
      const c = readPcap(tcpPcap(1, segs, o)).connections[0]!
      expect(stream(c, false)).toEqual(want(false))
      expect(c.chunks[0]!.t).toBeCloseTo(segs[3]!.t, 2)
    }
  })

  test('a loopback (null) header written big-endian, and Ethernet with a VLAN tag', () => {
    const segs = connectionSegments(FLIGHTS)
    const nullBE = pcapFile(0, segs.map((s) => ({ t: s.t, data: Uint8Array.of(0, 0, 0, 2, ...tcpPacket(s)) })))
    expect(stream(readPcap(nullBE).connections[0]!, true)).toEqual(want(true))
    const vlan = pcapFile(1, segs.map((s) => ({ t: s.t, data: Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0, 0, 5, 0x08, 0, ...tcpPacket(s)) })))
    expect(stream(readPcap(vlan).connections[0]!, false)).toEqual(want(false))
  })
})

describe('reassembly', () => {
  test('retransmissions and reordering within the bound give the same bytes (property)', () => {
    const base = connectionSegments(FLIGHTS, { mss: 300 })
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 6 }), fc.boolean()), { maxLength: 20 }),
      (moves) => {
        const segs: Seg[] = [...base]
        // Keep the three handshake segments first; move data segments a few places later, or duplicate them.
        for (const [i, by, dup] of moves) {
          const from = 3 + (i % (segs.length - 5))
          const s = segs[from]!
          if (dup) segs.splice(Math.min(segs.length - 2, from + by), 0, s)
          else {
            segs.splice(from, 1)
            segs.splice(Math.min(segs.length - 2, from + by), 0, s)
          }
        }
        const c = readPcap(tcpPcap(101, segs)).connections[0]!
        expect(stream(c, true)).toEqual(want(true))
        expect(stream(c, false)).toEqual(want(false))
        expect(c.lost).toEqual({})
      },
    ), { numRuns: 100 })
  })

  test('overlapping retransmissions (a resent segment covering old and new bytes)', () => {
    const data = bytes(3000, 9)
    const segs = connectionSegments([{ fromInitiator: true, data }], { mss: 1000 })
    // Resend bytes 500..1999 as one segment after the first segment.
    const extra: Seg = { ...segs[3]!, seq: segs[3]!.seq + 500, payload: data.subarray(500, 2000) }
    segs.splice(4, 0, extra)
    expect(stream(readPcap(tcpPcap(1, segs)).connections[0]!, true)).toEqual(data)
  })

  test('sequence numbers wrap around 2^32', () => {
    const c = readPcap(tcpPcap(1, connectionSegments(FLIGHTS, { isnA: 0xffffff00, isnB: 0xfffffffe, mss: 100 }))).connections[0]!
    expect(stream(c, true)).toEqual(want(true))
    expect(stream(c, false)).toEqual(want(false))
  })

  test('a capture that starts mid-connection: the first sender counts as initiator', () => {
    const segs = connectionSegments(FLIGHTS).slice(3)
    const c = readPcap(tcpPcap(1, segs)).connections[0]!
    expect(c.sawSyn).toBe(false)
    expect(stream(c, true)).toEqual(want(true))
  })

  test('two connections, other traffic (a UDP flow, an IPv4 fragment skipped), a new SYN after FIN is a new connection', () => {
    const one = connectionSegments(FLIGHTS, { aPort: 40000 })
    const two = connectionSegments(FLIGHTS.slice(0, 2), { aPort: 40000, t0: 1_800_000_000_000 }) // same ports, later
    const udp = tcpPacket(one[0]!)
    udp[9] = 17
    const frag = tcpPacket(one[4]!)
    frag[6] = 0x20 // MF
    const file = pcapFile(101, [...one, ...two].map((s) => ({ t: s.t, data: tcpPacket(s) })).concat([{ t: 1, data: udp }, { t: 2, data: frag }]))
    const cap = readPcap(file)
    // the UDP packet is a UDP flow (QUIC is decoded from those), the fragment is skipped
    expect(cap.skipped).toBe(1)
    expect(cap.udp).toHaveLength(1)
    expect(cap.udp[0]!.datagrams).toHaveLength(1)
    expect(cap.connections).toHaveLength(2)
    expect(stream(cap.connections[1]!, false)).toEqual(FLIGHTS[1]!.data)
  })
})

describe('limits', () => {
  /** Data segments of one direction, the first held back to the end: all others are early. */
  function holdFirst(mss: number, total: number): Uint8Array {
    const data = bytes(total, 5)
    const segs = connectionSegments([{ fromInitiator: true, data }], { mss })
    const [first] = segs.splice(3, 1)
    segs.splice(segs.length - 2, 0, first!)
    return tcpPcap(101, segs)
  }

  test('maxOutOfOrderBytes: at the limit the gap fills, one byte past it the direction is lost', () => {
    // 11 segments of 100 bytes: the first is held back, 1000 bytes wait.
    const file = holdFirst(100, 1100)
    const at = readPcap(file, { maxOutOfOrderBytes: 1000 }).connections[0]!
    expect(at.lost).toEqual({})
    expect(stream(at, true)).toEqual(bytes(1100, 5))
    const past = readPcap(file, { maxOutOfOrderBytes: 999 }).connections[0]!
    expect(past.lost).toEqual({ initiator: 'gap' })
    expect(stream(past, true).length).toBe(0)
  })

  test('maxOutOfOrderSegments: at the limit and one past', () => {
    const file = holdFirst(100, 1100) // 10 early segments
    expect(readPcap(file, { maxOutOfOrderSegments: 10 }).connections[0]!.lost).toEqual({})
    expect(readPcap(file, { maxOutOfOrderSegments: 9 }).connections[0]!.lost).toEqual({ initiator: 'gap' })
  })

  test('a gap never filled is reported at the end of the capture', () => {
    const segs = connectionSegments(FLIGHTS)
    segs.splice(3, 1)
    expect(readPcap(tcpPcap(1, segs)).connections[0]!.lost.initiator).toBe('gap')
  })

  test('maxConnections: at the limit all are rebuilt, past it the rest are skipped', () => {
    const segs = [40001, 40002, 40003].flatMap((aPort) => connectionSegments(FLIGHTS.slice(0, 1), { aPort }))
    const file = tcpPcap(1, segs)
    expect(readPcap(file, { maxConnections: 3 }).connections).toHaveLength(3)
    const past = readPcap(file, { maxConnections: 2 })
    expect(past.connections).toHaveLength(2)
    expect(past.skipped).toBe(segs.length / 3)
    expect(DEFAULT_PCAP_LIMITS.maxConnections).toBe(4096)
  })

  test('maxRecordBytes: a record at the limit is read, one past it is a typed error', () => {
    const f = pcapFile(101, [{ t: 0, data: new Uint8Array(100) }])
    expect(readPcap(f, { maxRecordBytes: 100 }).records).toBe(1)
    expect(usageErrorCode(() => readPcap(f, { maxRecordBytes: 99 }))).toBe('pcap/record-too-large')
  })

  test('a record cut by the snaplen stops its direction (snaplen)', () => {
    const segs = connectionSegments([{ fromInitiator: false, data: bytes(2000, 1) }])
    const frames: Array<{ t: number; data: Uint8Array; origLen?: number }> = segs.map((s) => ({ t: s.t, data: frame(1, tcpPacket(s)) }))
    const cut = frames[4]!
    frames[4] = { t: cut.t, data: cut.data.subarray(0, 200), origLen: cut.data.length }
    const c = readPcap(pcapFile(1, frames)).connections[0]!
    expect(c.lost).toEqual({ responder: 'snaplen' })
  })
})

describe('malformed files are UsageError pcap/...', () => {
  const good = tcpPcap(1, connectionSegments(FLIGHTS))
  test.each([
    ['pcap/truncated-header', good.subarray(0, 20)],
    ['pcap/bad-magic', Uint8Array.of(1, 2, 3, 4, ...good.subarray(4))],
    ['pcap/pcapng', Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, ...good.subarray(4))],
    ['pcap/truncated-record', good.subarray(0, good.length - 3)],
    ['pcap/truncated-record', good.subarray(0, 24 + 10)],
  ])('%s', (code, file) => {
    expect(usageErrorCode(() => readPcap(file))).toBe(code)
  })
  test('pcap/link-type and pcap/version', () => {
    const f = good.slice()
    f[20] = 105 // 802.11
    expect(usageErrorCode(() => readPcap(f))).toBe('pcap/link-type')
    const v = good.slice()
    v[4] = 3
    expect(usageErrorCode(() => readPcap(v))).toBe('pcap/version')
  })
  test('random bytes after a valid header never throw anything but UsageError (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom<Link>(0, 1, 101, 113, 276), (junk, link) => {
      const f = new Uint8Array(24 + junk.length)
      f.set(pcapFile(link, []))
      f.set(junk, 24)
      try {
        readPcap(f)
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError)
      }
    }), { numRuns: 300 })
  })
})
