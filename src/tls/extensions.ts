/**
 * The TLS 1.3 extensions weft reads and writes (RFC 8446 §4.2, RFC 7301 ALPN, RFC 6066 SNI,
 * RFC 9001 §8.2 quic_transport_parameters): codecs of their extension_data.
 */
import { tlsError } from './errors.js'
import { Reader, Writer } from './wire.js'

/** ExtensionType values weft names. */
export const ExtensionType = {
  server_name: 0,
  supported_groups: 10,
  signature_algorithms: 13,
  application_layer_protocol_negotiation: 16,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
  quic_transport_parameters: 0x39,
} as const

/** NamedGroup x25519 (RFC 8446 §4.2.7): the only key exchange group weft offers. */
export const GROUP_X25519 = 0x001d
/** ProtocolVersion of TLS 1.3. */
export const TLS13 = 0x0304

/** Bound on entries of one list inside an extension (groups, schemes, versions, key shares, ALPN names, server names): stops a 64 KiB list of tiny entries costing a linear scan per lookup. */
export const MAX_LIST_ENTRIES = 128

function u16List(r: Reader, prefix: 1 | 2, min: number, what: string): number[] {
  const l = r.sub(prefix, min, prefix === 1 ? 254 : 0xfffe)
  if (l.remaining % 2 !== 0) throw tlsError('tls/decode-error', `odd ${what} length`)
  if (l.remaining / 2 > MAX_LIST_ENTRIES) throw tlsError('tls/too-many-items', `${l.remaining / 2} ${what}`)
  const out: number[] = []
  while (l.remaining > 0) out.push(l.u16())
  r.end(what)
  return out
}

const u16ListBytes = (prefix: 1 | 2, values: readonly number[]): Uint8Array =>
  new Writer().nested(prefix, (l) => { for (const v of values) l.u16(v) }).finish()

/** supported_versions in a ClientHello: `ProtocolVersion versions<2..254>`. */
export const decodeSupportedVersionsClient = (d: Uint8Array): number[] => u16List(new Reader(d), 1, 2, 'supported_versions')
export const encodeSupportedVersionsClient = (v: readonly number[]): Uint8Array => u16ListBytes(1, v)

/** supported_versions in a ServerHello / HelloRetryRequest: one `ProtocolVersion selected_version`. */
export function decodeSupportedVersionServer(d: Uint8Array): number {
  const r = new Reader(d)
  const v = r.u16()
  r.end('supported_versions')
  return v
}
export const encodeSupportedVersionServer = (v: number): Uint8Array => new Writer().u16(v).finish()

/** supported_groups: `NamedGroup named_group_list<2..2^16-1>`. */
export const decodeNamedGroups = (d: Uint8Array): number[] => u16List(new Reader(d), 2, 2, 'supported_groups')
export const encodeNamedGroups = (g: readonly number[]): Uint8Array => u16ListBytes(2, g)

/** signature_algorithms(_cert): `SignatureScheme supported_signature_algorithms<2..2^16-2>`. */
export const decodeSignatureSchemes = (d: Uint8Array): number[] => u16List(new Reader(d), 2, 2, 'signature_algorithms')
export const encodeSignatureSchemes = (s: readonly number[]): Uint8Array => u16ListBytes(2, s)

/** One KeyShareEntry: `NamedGroup group; opaque key_exchange<1..2^16-1>`. */
export interface KeyShareEntry {
  group: number
  keyExchange: Uint8Array
}

/** key_share in a ClientHello: `KeyShareEntry client_shares<0..2^16-1>`; a group twice is illegal_parameter. */
export function decodeKeyShareClient(d: Uint8Array): KeyShareEntry[] {
  const r = new Reader(d)
  const l = r.sub(2)
  const out: KeyShareEntry[] = []
  while (l.remaining > 0) {
    if (out.length >= MAX_LIST_ENTRIES) throw tlsError('tls/too-many-items', 'too many key shares')
    const group = l.u16()
    if (out.some((e) => e.group === group)) throw tlsError('tls/illegal-parameter', `key share for group ${group} twice`)
    out.push({ group, keyExchange: l.vector(2, 1) })
  }
  r.end('key_share')
  return out
}
export const encodeKeyShareClient = (shares: readonly KeyShareEntry[]): Uint8Array =>
  new Writer().nested(2, (l) => { for (const s of shares) l.u16(s.group).vector(2, s.keyExchange) }).finish()

/** key_share in a ServerHello: one KeyShareEntry. */
export function decodeKeyShareServer(d: Uint8Array): KeyShareEntry {
  const r = new Reader(d)
  const e = { group: r.u16(), keyExchange: r.vector(2, 1) }
  r.end('key_share')
  return e
}
export const encodeKeyShareServer = (s: KeyShareEntry): Uint8Array => new Writer().u16(s.group).vector(2, s.keyExchange).finish()

/** key_share in a HelloRetryRequest: `NamedGroup selected_group`. */
export function decodeKeyShareHrr(d: Uint8Array): number {
  const r = new Reader(d)
  const g = r.u16()
  r.end('key_share')
  return g
}
export const encodeKeyShareHrr = (group: number): Uint8Array => new Writer().u16(group).finish()

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: false })

/** application_layer_protocol_negotiation: `ProtocolName protocol_name_list<2..2^16-1>`, each `opaque ProtocolName<1..2^8-1>`. */
export function decodeAlpn(d: Uint8Array): string[] {
  const r = new Reader(d)
  const l = r.sub(2, 2)
  const out: string[] = []
  while (l.remaining > 0) {
    if (out.length >= MAX_LIST_ENTRIES) throw tlsError('tls/too-many-items', 'too many ALPN protocol names')
    out.push(fromUtf8.decode(l.vector(1, 1)))
  }
  r.end('application_layer_protocol_negotiation')
  return out
}
export function encodeAlpn(names: readonly string[]): Uint8Array {
  return new Writer().nested(2, (l) => {
    for (const n of names) {
      const b = utf8.encode(n)
      if (b.length < 1 || b.length > 255) throw new RangeError(`ALPN protocol name of ${b.length} bytes`)
      l.vector(1, b)
    }
  }).finish()
}

/** server_name (RFC 6066 §3): one host_name entry. Decoding returns the first host_name, if any. */
export function decodeServerName(d: Uint8Array): string | undefined {
  const r = new Reader(d)
  const l = r.sub(2, 1)
  let name: string | undefined
  let n = 0
  while (l.remaining > 0) {
    if (++n > MAX_LIST_ENTRIES) throw tlsError('tls/too-many-items', 'too many server names')
    const type = l.u8()
    const v = l.vector(2, 1)
    if (type === 0 && name === undefined) name = fromUtf8.decode(v)
  }
  r.end('server_name')
  return name
}
export const encodeServerName = (host: string): Uint8Array =>
  new Writer().nested(2, (l) => l.u8(0).vector(2, utf8.encode(host))).finish()

/** cookie: `opaque cookie<1..2^16-1>`. */
export function decodeCookie(d: Uint8Array): Uint8Array {
  const r = new Reader(d)
  const c = r.vector(2, 1)
  r.end('cookie')
  return c
}
export const encodeCookie = (c: Uint8Array): Uint8Array => new Writer().vector(2, c).finish()
