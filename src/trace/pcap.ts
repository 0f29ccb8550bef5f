/**
 * A bounded reader of classic pcap files (the format `tcpdump -w` writes) and a TCP reassembler:
 * the input of the offline decryptor (offline.ts, spec/trace.md "Decrypting a capture").
 *
 * Link types: null/loopback (0), Ethernet (1, with up to two 802.1Q tags), raw IP (101), Linux
 * cooked SLL (113) and SLL2 (276); IPv4 (unfragmented) and IPv6 (extension headers skipped, no
 * fragments); TCP. Each TCP connection's two byte streams are rebuilt in sequence order:
 * retransmitted bytes are dropped, segments that arrive early wait (bounded) for the gap before
 * them. A capture file is user input, not a remote peer: a malformed file is a `UsageError` with a
 * `pcap/...` code; a packet the reader cannot parse (other traffic, a fragment) is counted and skipped.
 *
 * Pure: bytes in, connections out (reading the file is src/cli's business).
 */
import { UsageError } from '../core/errors.js'

/** Limits of the reader (spec/trace.md "Decrypting a capture", Limits). */
export interface PcapLimits {
  /** TCP connections tracked; packets of further connections are skipped (counted). Stops a capture of a busy host from exhausting memory. */
  maxConnections?: number
  /** Bytes of early (out-of-order) segments held per direction while waiting for a gap to fill; past it the gap is declared lost and that direction stops. Stops a capture with a hole from buffering the rest of the stream. */
  maxOutOfOrderBytes?: number
  /** Early segments held per direction (as maxOutOfOrderBytes; also bounds the work of putting them in order). */
  maxOutOfOrderSegments?: number
  /** Captured length of one record. Stops a corrupt length field from reading past any sane packet (tcpdump's own maximum snaplen is 262144). */
  maxRecordBytes?: number
}

/** The reader's default limits (spec/trace.md "Decrypting a capture", Limits). */
export const DEFAULT_PCAP_LIMITS: Required<PcapLimits> = {
  maxConnections: 4096,
  maxOutOfOrderBytes: 8 * 1024 * 1024,
  maxOutOfOrderSegments: 8192,
  maxRecordBytes: 1024 * 1024,
}

/** The pcap link types the reader knows: loopback/null, Ethernet, raw IP, Linux SLL, Linux SLL2. */
export type LinkType = 0 | 1 | 101 | 113 | 276
const LINK_TYPES: ReadonlySet<number> = new Set([0, 1, 101, 113, 276])

/** One TCP segment as read from a record. */
export interface TcpSegment {
  /** Capture time, ms since the epoch (fractional). */
  t: number
  src: string
  srcPort: number
  dst: string
  dstPort: number
  seq: number
  flags: { syn: boolean; fin: boolean; rst: boolean; ack: boolean }
  payload: Uint8Array
}

/** The payload bytes of one direction that became contiguous when the packet at time `t` arrived. */
export interface TcpChunk {
  t: number
  /** true: sent by the connection's initiator (the side that sent the SYN, or that sent first). */
  fromInitiator: boolean
  data: Uint8Array
}

/** One TCP connection rebuilt from a capture. */
export interface TcpConnection {
  initiator: { ip: string; port: number }
  responder: { ip: string; port: number }
  /** Whether the SYN was captured (when it was not, the first sender counts as initiator). */
  sawSyn: boolean
  /** Both directions' bytes, in capture order. */
  chunks: TcpChunk[]
  /** Why a direction stopped early: `gap` (bytes missing past the out-of-order bound or at the end of the capture), `snaplen` (a record was cut short). */
  lost: { initiator?: 'gap' | 'snaplen'; responder?: 'gap' | 'snaplen' }
}

/** One UDP datagram of a flow. */
export interface UdpDatagram {
  t: number
  /** true: sent by the flow's client (the side that sent its first datagram). */
  fromClient: boolean
  data: Uint8Array
  /** The snaplen cut it (it cannot be decrypted). */
  cut: boolean
}

/** The datagrams between two addresses, in capture order (a QUIC connection, offline-quic.ts). */
export interface UdpFlow {
  client: { ip: string; port: number }
  server: { ip: string; port: number }
  datagrams: UdpDatagram[]
}

/** What `readPcap` found in a capture. */
export interface PcapCapture {
  linkType: LinkType
  /** Every record count. */
  records: number
  /** Records that were not a parseable TCP segment or UDP datagram of IPv4/IPv6, or belonged to a connection or flow past `maxConnections`. */
  skipped: number
  connections: TcpConnection[]
  /** UDP flows by address pair (QUIC connections), in order of their first datagram. */
  udp: UdpFlow[]
}

/** One pcap record: its time (ms since the epoch) and captured bytes (a view into the file). */
export interface PcapRecord {
  t: number
  data: Uint8Array
  /** The length on the wire; larger than data.length when the snaplen cut the packet. */
  origLen: number
}

/** Parse the file header and every record. Throws UsageError `pcap/...` on a malformed file. */
export function readPcapRecords(file: Uint8Array, limits: PcapLimits = {}): { linkType: LinkType; records: PcapRecord[] } {
  const maxRecord = limits.maxRecordBytes ?? DEFAULT_PCAP_LIMITS.maxRecordBytes
  if (file.length < 24) throw new UsageError('pcap/truncated-header', `a pcap file starts with a 24-byte header; this one has ${file.length} bytes`)
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const magicBE = dv.getUint32(0, false)
  let le: boolean
  let nanos: boolean
  if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) [le, nanos] = [false, magicBE === 0xa1b23c4d]
  else if (magicBE === 0xd4c3b2a1 || magicBE === 0x4d3cb2a1) [le, nanos] = [true, magicBE === 0x4d3cb2a1]
  else if (magicBE === 0x0a0d0d0a) throw new UsageError('pcap/pcapng', 'this is a pcapng file; write classic pcap (tcpdump -w does by default; or `editcap -F pcap in.pcapng out.pcap`)')
  else throw new UsageError('pcap/bad-magic', `not a pcap file (magic 0x${magicBE.toString(16).padStart(8, '0')})`)
  const major = dv.getUint16(4, le)
  if (major !== 2) throw new UsageError('pcap/version', `pcap version ${major}.${dv.getUint16(6, le)}; expected 2.4`)
  // The low 28 bits are the link type (the top bits may carry an FCS length).
  const linkType = dv.getUint32(20, le) & 0x0fffffff
  if (!LINK_TYPES.has(linkType)) throw new UsageError('pcap/link-type', `link type ${linkType}; supported: 0 (loopback), 1 (Ethernet), 101 (raw IP), 113 (Linux SLL), 276 (Linux SLL2)`)
  const records: PcapRecord[] = []
  let off = 24
  while (off < file.length) {
    if (file.length - off < 16) throw new UsageError('pcap/truncated-record', `a record header at byte ${off} is cut short (the capture ended mid-write?)`)
    const sec = dv.getUint32(off, le)
    const frac = dv.getUint32(off + 4, le)
    const incl = dv.getUint32(off + 8, le)
    const orig = dv.getUint32(off + 12, le)
    if (incl > maxRecord) throw new UsageError('pcap/record-too-large', `a record at byte ${off} claims ${incl} bytes; at most ${maxRecord} (maxRecordBytes)`)
    if (off + 16 + incl > file.length) throw new UsageError('pcap/truncated-record', `the record at byte ${off} needs ${incl} bytes, the file has ${file.length - off - 16} left`)
    records.push({ t: sec * 1000 + (nanos ? frac / 1e6 : frac / 1e3), data: file.subarray(off + 16, off + 16 + incl), origLen: Math.max(orig, incl) })
    off += 16 + incl
  }
  return { linkType: linkType as LinkType, records }
}

/** The IP packet inside one link-layer frame, or undefined (not IP). */
function ipPayload(linkType: LinkType, f: Uint8Array): Uint8Array | undefined {
  const u16 = (o: number) => (f[o]! << 8) | f[o + 1]!
  let etherType: number
  let off: number
  switch (linkType) {
    case 0: {
      if (f.length < 4) return undefined
      // The address family in the capturing host's byte order: 2 = IPv4; 10, 24, 28, 30 = IPv6.
      const a = f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)
      const fam = (a & 0xffff0000) !== 0 ? ((a >>> 24) | ((a >>> 8) & 0xff00)) : a
      if (fam === 2) return f.subarray(4)
      if (fam === 10 || fam === 24 || fam === 28 || fam === 30) return f.subarray(4)
      return undefined
    }
    case 101: return f
    case 1: {
      if (f.length < 14) return undefined
      etherType = u16(12)
      off = 14
      for (let tags = 0; (etherType === 0x8100 || etherType === 0x88a8) && tags < 2; tags++) {
        if (f.length < off + 4) return undefined
        etherType = u16(off + 2)
        off += 4
      }
      break
    }
    case 113:
      if (f.length < 16) return undefined
      etherType = u16(14)
      off = 16
      break
    case 276:
      if (f.length < 20) return undefined
      etherType = u16(0)
      off = 20
      break
  }
  return etherType === 0x0800 || etherType === 0x86dd ? f.subarray(off) : undefined
}

function ipv6Text(b: Uint8Array): string {
  const parts: string[] = []
  for (let i = 0; i < 16; i += 2) parts.push(((b[i]! << 8) | b[i + 1]!).toString(16))
  return parts.join(':')
}

/** An IP packet's addresses and its transport payload (`proto`: 6 TCP, 17 UDP); undefined for a fragment or a malformed packet. */
function parseIp(ip: Uint8Array): { src: string; dst: string; proto: number; l4: Uint8Array; cut: boolean } | undefined {
  if (ip.length < 1) return undefined
  const version = ip[0]! >> 4
  let src: string
  let dst: string
  let l4: Uint8Array
  let cut = false
  let proto: number
  if (version === 4) {
    const ihl = (ip[0]! & 0x0f) * 4
    if (ihl < 20 || ip.length < ihl) return undefined
    const total = (ip[2]! << 8) | ip[3]!
    const fragment = ((ip[6]! << 8) | ip[7]!) & 0x3fff // MF flag + offset
    if (fragment !== 0 || total < ihl) return undefined
    proto = ip[9]!
    src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`
    dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`
    // total may be 0 with TCP segmentation offload on the capturing host: take what was captured.
    if (total !== 0 && total < ip.length) l4 = ip.subarray(ihl, total)
    else {
      l4 = ip.subarray(ihl)
      cut = total > ip.length
    }
  } else if (version === 6) {
    if (ip.length < 40) return undefined
    let next = ip[6]!
    const payloadLen = (ip[4]! << 8) | ip[5]!
    src = ipv6Text(ip.subarray(8, 24))
    dst = ipv6Text(ip.subarray(24, 40))
    let off = 40
    const end = payloadLen === 0 ? ip.length : Math.min(ip.length, 40 + payloadLen)
    cut = payloadLen !== 0 && 40 + payloadLen > ip.length
    // Hop-by-hop (0), routing (43), destination options (60): skip. Fragments (44): not read.
    for (let n = 0; (next === 0 || next === 43 || next === 60) && n < 8; n++) {
      if (end < off + 8) return undefined
      const len = (ip[off + 1]! + 1) * 8
      next = ip[off]!
      off += len
    }
    if (next === 44 || off > end) return undefined
    proto = next
    l4 = ip.subarray(off, end)
  } else return undefined
  return { src, dst, proto, l4, cut }
}

/** Parse one IP packet carrying TCP; undefined when it is not one (or is a fragment, or is malformed). */
export function parseTcpSegment(t: number, ip: Uint8Array): (TcpSegment & { cut: boolean }) | undefined {
  const p = parseIp(ip)
  if (p === undefined || p.proto !== 6) return undefined
  const { src, dst, l4, cut } = p
  if (l4.length < 20) return undefined
  const dataOff = (l4[12]! >> 4) * 4
  if (dataOff < 20 || dataOff > l4.length) return undefined
  const fl = l4[13]!
  return {
    t, src, dst, cut,
    srcPort: (l4[0]! << 8) | l4[1]!,
    dstPort: (l4[2]! << 8) | l4[3]!,
    seq: ((l4[4]! << 24) | (l4[5]! << 16) | (l4[6]! << 8) | l4[7]!) >>> 0,
    flags: { fin: (fl & 0x01) !== 0, syn: (fl & 0x02) !== 0, rst: (fl & 0x04) !== 0, ack: (fl & 0x10) !== 0 },
    payload: l4.subarray(dataOff),
  }
}

/** One direction of a connection being rebuilt. */
class Direction {
  /** Sequence number of the next byte we expect (undefined until the first segment). */
  next: number | undefined
  /** Bytes delivered so far: the stream offset of `next`. */
  pos = 0
  /** Early segments by their stream offset. */
  readonly early = new Map<number, Uint8Array>()
  earlyBytes = 0
  lost: 'gap' | 'snaplen' | undefined

  /** Accept one segment; returns the bytes that became contiguous. */
  push(seg: TcpSegment, maxEarlyBytes: number, maxEarlySegments: number): Uint8Array[] {
    if (this.lost !== undefined) return []
    if (this.next === undefined) this.next = (seg.seq + (seg.flags.syn ? 1 : 0)) >>> 0
    else if (seg.flags.syn) return [] // a retransmitted SYN
    const out: Uint8Array[] = []
    if (seg.payload.length === 0) return out
    // The segment's stream offset: its distance from `next` modulo 2^32, as a signed 32-bit number.
    const start = (seg.seq + (seg.flags.syn ? 1 : 0)) >>> 0
    const off = this.pos + ((start - this.next) | 0)
    if (off > this.pos) {
      const had = this.early.get(off)
      if (had === undefined || had.length < seg.payload.length) {
        this.earlyBytes += seg.payload.length - (had?.length ?? 0)
        this.early.set(off, seg.payload)
      }
      if (this.earlyBytes > maxEarlyBytes || this.early.size > maxEarlySegments) {
        this.lost = 'gap'
        this.early.clear()
        this.earlyBytes = 0
      }
      return out
    }
    // Starts at or before `next`: the first pos - off bytes were seen already (a retransmission).
    this.#deliver(seg.payload, off, out)
    // Early segments that are now contiguous (or overlap what we have), lowest offset first.
    while (this.early.size > 0) {
      let min = Infinity
      for (const k of this.early.keys()) if (k < min) min = k
      if (min > this.pos) break
      const data = this.early.get(min)!
      this.early.delete(min)
      this.earlyBytes -= data.length
      this.#deliver(data, min, out)
    }
    return out
  }

  #deliver(data: Uint8Array, off: number, out: Uint8Array[]): void {
    const skip = this.pos - off
    if (skip >= data.length) return
    const fresh = skip > 0 ? data.subarray(skip) : data
    out.push(fresh)
    this.pos += fresh.length
    this.next = (this.next! + fresh.length) >>> 0
  }
}

interface ConnState {
  conn: TcpConnection
  fromInit: Direction
  fromResp: Direction
}

/**
 * Read a capture and rebuild every TCP connection in it. Connections are keyed by their address
 * pair; a new SYN on a pair whose connection had ended (FIN or RST) starts a new connection.
 */
export function readPcap(file: Uint8Array, limits: PcapLimits = {}): PcapCapture {
  const maxConnections = limits.maxConnections ?? DEFAULT_PCAP_LIMITS.maxConnections
  const maxEarly = limits.maxOutOfOrderBytes ?? DEFAULT_PCAP_LIMITS.maxOutOfOrderBytes
  const maxEarlySegments = limits.maxOutOfOrderSegments ?? DEFAULT_PCAP_LIMITS.maxOutOfOrderSegments
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new RangeError('maxConnections must be a positive integer')
  if (!(Number.isInteger(maxEarly) && maxEarly >= 0)) throw new RangeError('maxOutOfOrderBytes must be a non-negative integer')
  if (!(Number.isInteger(maxEarlySegments) && maxEarlySegments >= 0)) throw new RangeError('maxOutOfOrderSegments must be a non-negative integer')
  const { linkType, records } = readPcapRecords(file, limits)
  const live = new Map<string, ConnState & { ended: boolean }>()
  const connections: TcpConnection[] = []
  const flows = new Map<string, UdpFlow>()
  let skipped = 0
  for (const rec of records) {
    const ip = ipPayload(linkType, rec.data)
    const seg = ip === undefined ? undefined : parseTcpSegment(rec.t, ip)
    if (seg === undefined) {
      if (ip === undefined || !udpDatagram(rec, ip, flows, maxConnections)) skipped++
      continue
    }
    const a = `${seg.src}|${seg.srcPort}`
    const b = `${seg.dst}|${seg.dstPort}`
    const key = a < b ? `${a}|${b}` : `${b}|${a}`
    let st = live.get(key)
    const isNewSyn = seg.flags.syn && !seg.flags.ack
    if (st === undefined || (st.ended && isNewSyn)) {
      if (connections.length >= maxConnections) {
        skipped++
        continue
      }
      // The initiator sent the SYN (without ACK); with no SYN captured, the first sender counts.
      const initIsSrc = !(seg.flags.syn && seg.flags.ack)
      const conn: TcpConnection = {
        initiator: initIsSrc ? { ip: seg.src, port: seg.srcPort } : { ip: seg.dst, port: seg.dstPort },
        responder: initIsSrc ? { ip: seg.dst, port: seg.dstPort } : { ip: seg.src, port: seg.srcPort },
        sawSyn: seg.flags.syn,
        chunks: [],
        lost: {},
      }
      st = { conn, fromInit: new Direction(), fromResp: new Direction(), ended: false }
      live.set(key, st)
      connections.push(conn)
    }
    const fromInitiator = st.conn.initiator.ip === seg.src && st.conn.initiator.port === seg.srcPort
    const dir = fromInitiator ? st.fromInit : st.fromResp
    for (const data of dir.push(seg, maxEarly, maxEarlySegments)) st.conn.chunks.push({ t: seg.t, fromInitiator, data })
    if (dir.lost === undefined && (seg.cut || rec.origLen > rec.data.length) && seg.payload.length > 0) dir.lost = 'snaplen'
    if (dir.lost !== undefined) st.conn.lost[fromInitiator ? 'initiator' : 'responder'] ??= dir.lost
    if (seg.flags.rst || seg.flags.fin) st.ended = true
  }
  // Segments still waiting at the end of the capture: the bytes before them never came.
  for (const st of live.values()) {
    if (st.fromInit.early.size > 0) st.conn.lost.initiator ??= 'gap'
    if (st.fromResp.early.size > 0) st.conn.lost.responder ??= 'gap'
  }
  return { linkType, records: records.length, skipped, connections, udp: [...flows.values()] }
}

/** A UDP datagram into its flow (keyed by address pair; the first sender is the client). False: not UDP, or past maxConnections. */
function udpDatagram(rec: PcapRecord, ip: Uint8Array, flows: Map<string, UdpFlow>, maxFlows: number): boolean {
  const p = parseIp(ip)
  if (p === undefined || p.proto !== 17 || p.l4.length < 8) return false
  const sport = (p.l4[0]! << 8) | p.l4[1]!
  const dport = (p.l4[2]! << 8) | p.l4[3]!
  const ulen = (p.l4[4]! << 8) | p.l4[5]!
  const a = `${p.src}|${sport}`
  const b = `${p.dst}|${dport}`
  const key = a < b ? `${a}|${b}` : `${b}|${a}`
  let f = flows.get(key)
  if (f === undefined) {
    if (flows.size >= maxFlows) return false
    flows.set(key, (f = { client: { ip: p.src, port: sport }, server: { ip: p.dst, port: dport }, datagrams: [] }))
  }
  const end = ulen >= 8 ? Math.min(ulen, p.l4.length) : p.l4.length
  const fromClient = f.client.ip === p.src && f.client.port === sport
  f.datagrams.push({ t: rec.t, fromClient, data: p.l4.subarray(8, end), cut: p.cut || ulen > p.l4.length || rec.origLen > rec.data.length })
  return true
}
