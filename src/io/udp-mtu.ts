/**
 * The largest UDP payload the first hop toward an address carries without IP fragmentation: the
 * MTU of the interface that routes to it, less the IP and UDP headers. The UDP driver drops larger
 * datagrams (src/io/udp.ts), so QUIC's path MTU search (src/quic/connection/pmtu.ts) sees a probe
 * above it as lost instead of Linux fragmenting it locally (Node 20 cannot set IP_MTU_DISCOVER /
 * don't-fragment on a dgram socket, and the kernel's default for UDP fragments a datagram above the
 * interface MTU; RFC 9000 §14 forbids relying on fragmentation).
 *
 * Linux: loopback addresses use `lo`'s MTU; others the longest-prefix route of /proc/net/route
 * (IPv4) or /proc/net/ipv6_route (IPv6) and /sys/class/net/<interface>/mtu. Elsewhere, or when a
 * file cannot be read: a 1500-byte MTU. Never below 1200 bytes (every QUIC path carries those).
 */
import { isIPv4, isIPv6 } from 'node:net'
import { readFileSync } from 'node:fs'

/** The MTU assumed when the interface's is unknown. */
const DEFAULT_MTU = 1500
/** IPv4 (20) + UDP (8), IPv6 (40) + UDP (8) header bytes. */
const HEADERS = { 4: 28, 6: 48 } as const
/** Routes are read again after this many ms. */
const ROUTE_TTL = 10_000

let cache: { at: number; v4: Route4[]; v6: Route6[] } | undefined
interface Route4 { iface: string; dest: number; mask: number; bits: number; metric: number; mtu: number }
interface Route6 { iface: string; dest: bigint; bits: number; metric: number }

const read = (path: string): string | undefined => { try { return readFileSync(path, 'utf8') } catch { return undefined } }
const popcount = (x: number): number => { let n = 0; for (let v = x >>> 0; v !== 0; v >>>= 1) n += v & 1; return n }
/** /proc/net/route writes addresses as little-endian hex: 0100007F is 127.0.0.1. */
const le32 = (hex: string): number => {
  const v = Number.parseInt(hex, 16) >>> 0
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0
}
const v4 = (ip: string): number => ip.split('.').reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0)

function v6(ip: string): bigint {
  const [head, tail] = ip.split('%')[0]!.split('::') as [string, string | undefined]
  // an embedded IPv4 tail (::ffff:1.2.3.4) is two groups
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':')).flatMap((x) => (x.includes('.') ? [(v4(x) >>> 16).toString(16), (v4(x) & 0xffff).toString(16)] : [x]))
  const h = groups(head)
  const t = tail === undefined ? [] : groups(tail)
  const all = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16) || 0), 0n)
}

function routes(now: number): NonNullable<typeof cache> {
  if (cache !== undefined && now - cache.at < ROUTE_TTL) return cache
  const r4: Route4[] = []
  for (const line of (read('/proc/net/route') ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 9) continue
    const mask = le32(f[7]!)
    r4.push({ iface: f[0]!, dest: le32(f[1]!), mask, bits: popcount(mask), metric: Number.parseInt(f[6]!, 10), mtu: Number.parseInt(f[8]!, 10) })
  }
  const r6: Route6[] = []
  for (const line of (read('/proc/net/ipv6_route') ?? '').split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    r6.push({ iface: f[9]!, dest: BigInt(`0x${f[0]!}`), bits: Number.parseInt(f[1]!, 16), metric: Number.parseInt(f[5]!, 16) })
  }
  cache = { at: now, v4: r4, v6: r6 }
  return cache
}

const ifaceMtu = (iface: string): number | undefined => {
  const n = Number.parseInt(read(`/sys/class/net/${iface}/mtu`) ?? '', 10)
  return Number.isInteger(n) && n >= 1280 ? n : undefined
}

/** The interface MTU toward `ip` (see the file comment), or undefined when unknown. */
function linkMtu(ip: string, family: 4 | 6, now: number): number | undefined {
  if (family === 4 ? ip.startsWith('127.') : ip === '::1') return ifaceMtu('lo') ?? 65536
  const rt = routes(now)
  if (family === 4) {
    const a = v4(ip)
    let best: Route4 | undefined
    for (const r of rt.v4) {
      if (((a & r.mask) >>> 0) !== r.dest) continue
      if (best === undefined || r.bits > best.bits || (r.bits === best.bits && r.metric < best.metric)) best = r
    }
    if (best === undefined) return undefined
    const m = ifaceMtu(best.iface)
    return m !== undefined && best.mtu > 0 ? Math.min(m, best.mtu) : m
  }
  const a = v6(ip)
  let best: Route6 | undefined
  for (const r of rt.v6) {
    const shift = BigInt(128 - r.bits)
    if (r.bits > 0 && (a >> shift) !== (r.dest >> shift)) continue
    if (r.iface === 'lo' && r.bits < 128) continue // unreachable/blackhole routes name lo
    if (best === undefined || r.bits > best.bits || (r.bits === best.bits && r.metric < best.metric)) best = r
  }
  return best === undefined ? undefined : ifaceMtu(best.iface)
}

/** The largest UDP payload toward `address` sent without fragmentation by the first hop (see the file comment). */
export function maxUdpPayloadTo(address: string, now = Date.now()): number {
  let ip = address
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7)
  const family: 4 | 6 = isIPv4(ip) ? 4 : 6
  if (family === 6 && !isIPv6(ip.split('%')[0]!)) return DEFAULT_MTU - HEADERS[6]
  const mtu = linkMtu(ip, family, now) ?? DEFAULT_MTU
  return Math.max(1200, Math.min(65535, mtu) - HEADERS[family])
}
