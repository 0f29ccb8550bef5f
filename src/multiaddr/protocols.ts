/**
 * The multiaddr protocol table, as data.
 *
 * Each row is one line of multiformats/multiaddr `protocols.csv` (code, size, name), with the code
 * cross-checked against multiformats/multicodec `table.csv` (tag `multiaddr`). `size` is in bits as
 * the CSV gives it: 0 (the protocol has no value), a fixed N (the value is exactly N/8 bytes), or
 * `VARIABLE` (-1, the CSV's `V`: the value is preceded by an unsigned-varint byte length).
 *
 * `kind` names the value codec (see values.ts) that turns the value between its text form and its
 * bytes. `aliases` are extra names accepted in text; a multiaddr is always printed with `name`.
 * `path` marks a protocol whose value is a filesystem path (go-multiaddr's `Path`; only `unix`):
 * in text it takes the rest of the string, `/unix/tmp/p2p.sock`, so it can only come last.
 */

/** The CSV's `V`: the value is length-prefixed with an unsigned varint. */
export const VARIABLE = -1

/**
 * The codec of a protocol's value: how the value converts between its text form and its bytes (src/multiaddr/values.ts).
 */
export type ValueKind =
  | 'none'
  | 'ip4'
  | 'ip6'
  | 'port'
  | 'ip6zone'
  | 'ipcidr'
  | 'domain'
  | 'unix'
  | 'p2p'
  | 'onion'
  | 'onion3'
  | 'garlic64'
  | 'garlic32'
  | 'certhash'
  | 'http-path'
  | 'memory'

/** One row of the multiaddr protocol table (multiformats/multiaddr protocols.csv): code, size in bits, name. */
export interface Protocol {
  /** The multicodec code. */
  readonly code: number
  /** The name printed in text form. */
  readonly name: string
  /** Bits: 0, a fixed N, or VARIABLE (-1). */
  readonly size: number
  /** The codec of its value. */
  readonly kind: ValueKind
  /** Other names accepted in text (e.g. `ipfs` for `p2p`). */
  readonly aliases: readonly string[]
  /** The value is a path that takes the rest of the text; nothing may follow it (text or bytes). */
  readonly path: boolean
}

function row(code: number, size: number, name: string, kind: ValueKind, aliases: readonly string[] = []): Protocol {
  return Object.freeze({ code, name, size, kind, aliases: Object.freeze([...aliases]), path: kind === 'unix' })
}

const V = VARIABLE

/** In protocols.csv order; `memory` and `plaintextv2` are discussed in spec/multiaddr.md. */
export const PROTOCOLS: readonly Protocol[] = Object.freeze([
  row(4, 32, 'ip4', 'ip4'),
  row(6, 16, 'tcp', 'port'),
  row(273, 16, 'udp', 'port'),
  row(33, 16, 'dccp', 'port'),
  row(41, 128, 'ip6', 'ip6'),
  row(42, V, 'ip6zone', 'ip6zone'),
  row(43, 8, 'ipcidr', 'ipcidr'),
  row(53, V, 'dns', 'domain'),
  row(54, V, 'dns4', 'domain'),
  row(55, V, 'dns6', 'domain'),
  row(56, V, 'dnsaddr', 'domain'),
  row(132, 16, 'sctp', 'port'),
  row(301, 0, 'udt', 'none'),
  row(302, 0, 'utp', 'none'),
  row(400, V, 'unix', 'unix'),
  row(421, V, 'p2p', 'p2p', ['ipfs']),
  row(444, 96, 'onion', 'onion'),
  row(445, 296, 'onion3', 'onion3'),
  row(446, V, 'garlic64', 'garlic64'),
  row(447, V, 'garlic32', 'garlic32'),
  row(448, 0, 'tls', 'none'),
  row(449, V, 'sni', 'domain'),
  row(454, 0, 'noise', 'none'),
  row(460, 0, 'quic', 'none'),
  row(461, 0, 'quic-v1', 'none'),
  row(465, 0, 'webtransport', 'none'),
  row(466, V, 'certhash', 'certhash'),
  row(480, 0, 'http', 'none'),
  row(481, V, 'http-path', 'http-path'),
  row(443, 0, 'https', 'none'),
  row(477, 0, 'ws', 'none'),
  row(478, 0, 'wss', 'none'),
  row(479, 0, 'p2p-websocket-star', 'none'),
  row(277, 0, 'p2p-stardust', 'none'),
  row(275, 0, 'p2p-webrtc-star', 'none'),
  row(276, 0, 'p2p-webrtc-direct', 'none'),
  row(280, 0, 'webrtc-direct', 'none'),
  row(281, 0, 'webrtc', 'none'),
  row(290, 0, 'p2p-circuit', 'none'),
  // protocols.csv says `V` ("arbitrary"); deployed implementations use a fixed u64 (spec note).
  row(777, 64, 'memory', 'memory'),
  // In multicodec table.csv (0x706c61) but not in protocols.csv.
  row(7367777, 0, 'plaintextv2', 'none'),
])

/** Codes used by name elsewhere in this module. */
export const CODE = Object.freeze({
  ip4: 4,
  tcp: 6,
  udp: 273,
  ip6: 41,
  ip6zone: 42,
  dns: 53,
  dns4: 54,
  dns6: 55,
  dnsaddr: 56,
  p2p: 421,
  tls: 448,
  sni: 449,
  noise: 454,
  quic: 460,
  quicV1: 461,
  webtransport: 465,
  certhash: 466,
  http: 480,
  httpPath: 481,
  https: 443,
  ws: 477,
  wss: 478,
  webrtcDirect: 280,
  p2pCircuit: 290,
})

const BY_CODE = new Map<number, Protocol>()
const BY_NAME = new Map<string, Protocol>()
for (const p of PROTOCOLS) {
  BY_CODE.set(p.code, p)
  BY_NAME.set(p.name, p)
  for (const a of p.aliases) BY_NAME.set(a, p)
}

/** The protocol table row for a multicodec `code`, or undefined for a code weft does not know. */
export function protocolByCode(code: number): Protocol | undefined {
  return BY_CODE.get(code)
}

/** Protocol names are case-sensitive, as in protocols.csv. Accepts aliases (`ipfs`). */
export function protocolByName(name: string): Protocol | undefined {
  return BY_NAME.get(name)
}
