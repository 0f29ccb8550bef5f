/**
 * Build classic pcap files in tests: TCP segments over IPv4/IPv6 in any of the link types the
 * reader knows (src/trace/pcap.ts). Checksums are left zero (the reader does not check them, as
 * captures of offloaded traffic carry wrong ones anyway).
 */
export type Link = 0 | 1 | 101 | 113 | 276

export interface Seg {
  t: number // ms
  src: string // dotted IPv4 or full IPv6 (8 groups)
  srcPort: number
  dst: string
  dstPort: number
  seq: number
  ack?: number
  flags?: string // 'S', 'SA', 'A', 'PA', 'F', 'R'
  payload?: Uint8Array
}

function ipBytes(a: string): Uint8Array {
  if (a.includes('.')) return Uint8Array.from(a.split('.').map(Number))
  const out = new Uint8Array(16)
  a.split(':').forEach((g, i) => { out[i * 2] = parseInt(g, 16) >> 8; out[i * 2 + 1] = parseInt(g, 16) & 0xff })
  return out
}

export function tcpPacket(s: Seg): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0)
  const tcp = new Uint8Array(20 + payload.length)
  const dv = new DataView(tcp.buffer)
  dv.setUint16(0, s.srcPort)
  dv.setUint16(2, s.dstPort)
  dv.setUint32(4, s.seq >>> 0)
  dv.setUint32(8, (s.ack ?? 0) >>> 0)
  tcp[12] = 5 << 4
  const f = s.flags ?? 'PA'
  tcp[13] = (f.includes('F') ? 1 : 0) | (f.includes('S') ? 2 : 0) | (f.includes('R') ? 4 : 0) | (f.includes('P') ? 8 : 0) | (f.includes('A') ? 16 : 0)
  dv.setUint16(14, 65535)
  tcp.set(payload, 20)
  const src = ipBytes(s.src)
  const dst = ipBytes(s.dst)
  if (src.length === 4) {
    const ip = new Uint8Array(20 + tcp.length)
    const v = new DataView(ip.buffer)
    ip[0] = 0x45
    v.setUint16(2, ip.length)
    v.setUint16(6, 0x4000) // DF
    ip[8] = 64
    ip[9] = 6
    ip.set(src, 12)
    ip.set(dst, 16)
    ip.set(tcp, 20)
    return ip
  }
  const ip = new Uint8Array(40 + tcp.length)
  const v = new DataView(ip.buffer)
  ip[0] = 0x60
  v.setUint16(4, tcp.length)
  ip[6] = 6
  ip[7] = 64
  ip.set(src, 8)
  ip.set(dst, 24)
  ip.set(tcp, 40)
  return ip
}

export function frame(link: Link, ip: Uint8Array): Uint8Array {
  const v6 = ip[0]! >> 4 === 6
  const et = v6 ? 0x86dd : 0x0800
  let head: Uint8Array
  switch (link) {
    case 101: return ip
    case 0: head = Uint8Array.of(v6 ? 10 : 2, 0, 0, 0); break // little-endian host
    case 1: head = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, et >> 8, et & 0xff); break
    case 113: head = Uint8Array.of(0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, et >> 8, et & 0xff); break
    case 276: head = Uint8Array.of(et >> 8, et & 0xff, 0, 0, 0, 0, 0, 1, 0x30, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0); break
  }
  const out = new Uint8Array(head.length + ip.length)
  out.set(head)
  out.set(ip, head.length)
  return out
}

/** A pcap file: microsecond timestamps, little-endian unless `bigEndian`, nanoseconds when `nanos`. */
export function pcapFile(link: Link, frames: Array<{ t: number; data: Uint8Array; origLen?: number }>, o: { bigEndian?: boolean; nanos?: boolean } = {}): Uint8Array {
  const le = o.bigEndian !== true
  const size = 24 + frames.reduce((n, f) => n + 16 + f.data.length, 0)
  const out = new Uint8Array(size)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, o.nanos === true ? 0xa1b23c4d : 0xa1b2c3d4, le)
  dv.setUint16(4, 2, le)
  dv.setUint16(6, 4, le)
  dv.setUint32(16, 262144, le)
  dv.setUint32(20, link, le)
  let off = 24
  for (const f of frames) {
    const sec = Math.floor(f.t / 1000)
    const frac = o.nanos === true ? Math.round((f.t - sec * 1000) * 1e6) : Math.round((f.t - sec * 1000) * 1e3)
    dv.setUint32(off, sec, le)
    dv.setUint32(off + 4, frac, le)
    dv.setUint32(off + 8, f.data.length, le)
    dv.setUint32(off + 12, f.origLen ?? f.data.length, le)
    out.set(f.data, off + 16)
    off += 16 + f.data.length
  }
  return out
}

/** A pcap of TCP segments in one link type. */
export function tcpPcap(link: Link, segs: Seg[], o?: { bigEndian?: boolean; nanos?: boolean }): Uint8Array {
  return pcapFile(link, segs.map((s) => ({ t: s.t, data: frame(link, tcpPacket(s)) })), o)
}

/**
 * A whole TCP connection carrying `flights` (in order; each from the initiator or not), split into
 * segments of at most `mss` bytes, with a handshake and FINs; `mutate` may reorder/duplicate segments.
 */
export function connectionSegments(
  flights: Array<{ fromInitiator: boolean; data: Uint8Array }>,
  o: { a?: string; b?: string; aPort?: number; bPort?: number; mss?: number; isnA?: number; isnB?: number; t0?: number } = {},
): Seg[] {
  const a = o.a ?? '127.0.0.1'
  const b = o.b ?? '127.0.0.1'
  const aPort = o.aPort ?? 40000
  const bPort = o.bPort ?? 4001
  const mss = o.mss ?? 1000
  let seqA = o.isnA ?? 1000
  let seqB = o.isnB ?? 5000
  let t = o.t0 ?? 1_700_000_000_000
  const segs: Seg[] = []
  segs.push({ t: t++, src: a, srcPort: aPort, dst: b, dstPort: bPort, seq: seqA, flags: 'S' })
  segs.push({ t: t++, src: b, srcPort: bPort, dst: a, dstPort: aPort, seq: seqB, ack: seqA + 1, flags: 'SA' })
  seqA = (seqA + 1) >>> 0
  seqB = (seqB + 1) >>> 0
  segs.push({ t: t++, src: a, srcPort: aPort, dst: b, dstPort: bPort, seq: seqA, ack: seqB, flags: 'A' })
  for (const f of flights) {
    for (let i = 0; i < f.data.length; i += mss) {
      const payload = f.data.subarray(i, i + mss)
      if (f.fromInitiator) {
        segs.push({ t: t++, src: a, srcPort: aPort, dst: b, dstPort: bPort, seq: seqA, ack: seqB, payload })
        seqA = (seqA + payload.length) >>> 0
      } else {
        segs.push({ t: t++, src: b, srcPort: bPort, dst: a, dstPort: aPort, seq: seqB, ack: seqA, payload })
        seqB = (seqB + payload.length) >>> 0
      }
    }
  }
  segs.push({ t: t++, src: a, srcPort: aPort, dst: b, dstPort: bPort, seq: seqA, ack: seqB, flags: 'FA' })
  segs.push({ t: t++, src: b, srcPort: bPort, dst: a, dstPort: aPort, seq: seqB, ack: seqA + 1, flags: 'FA' })
  return segs
}
