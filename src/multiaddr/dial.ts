/**
 * From a multiaddr to what a transport needs to open a connection: host, port and transport.
 *
 * Recognised shapes (libp2p specs, addressing/README.md "Transport multiaddrs"; webtransport,
 * webrtc-direct and http/transport-component.md), read left to right:
 *
 *   <host> /tcp/<port>                                    tcp
 *   <host> /tcp/<port> /ws                                ws
 *   <host> /tcp/<port> (/wss | /tls [/sni/<name>] /ws)    wss   (/wss is the deprecated alias of /tls/ws)
 *   <host> /tcp/<port> /http                              http
 *   <host> /tcp/<port> (/https | /tls [/sni/<name>] /http) https (/https is the deprecated alias)
 *   <host> /tcp/<port> (/tls | /noise)                    tcp, with `security` set
 *   <host> /udp/<port>                                    udp
 *   <host> /udp/<port> /quic | /quic-v1                   quic | quic-v1
 *   <host> /udp/<port> /quic-v1 /webtransport (/certhash/<h>)*   webtransport
 *   <host> /udp/<port> /webrtc-direct (/certhash/<h>)*    webrtc-direct
 *
 * where <host> is [/ip6zone/<zone>] /ip6/<a> | /ip4/<a> | /dns|dns4|dns6/<name>, and the whole may
 * end with /p2p/<peer-id> and, for ws/wss/http/https, /http-path/<path>, in either order. Anything
 * else (dnsaddr, which must be resolved first; p2p-circuit; unix; memory) gives `undefined`.
 */
import { CODE } from './protocols.js'

/** The transport a dialable multiaddr names (libp2p specs addressing/README.md "Transport multiaddrs"). */
export type DialTransport = 'tcp' | 'udp' | 'ws' | 'wss' | 'http' | 'https' | 'quic' | 'quic-v1' | 'webtransport' | 'webrtc-direct'

/** What a transport needs to open a connection, read from a multiaddr by `Multiaddr.toDialTarget()`. */
export interface DialTarget {
  /** An IP address in canonical text, or a DNS name when `family` is 'dns'. */
  host: string
  /** The host's kind: an IPv4 or IPv6 address, or a DNS name. */
  family: 4 | 6 | 'dns'
  /** The TCP or UDP port. */
  port: number
  /** The transport the multiaddr names. */
  transport: DialTransport
  /** /dns4 (4) or /dns6 (6): the address family the name must resolve to. Absent for /dns. */
  resolve?: 4 | 6
  /** The IPv6 zone from /ip6zone. */
  zone?: string
  /** The decoded /http-path with a leading '/', for ws, wss, http and https. */
  path?: string
  /** The TLS server name from /sni. */
  sni?: string
  /** A security protocol named after tcp (/tls or /noise) for the libp2p upgrade. */
  security?: 'tls' | 'noise'
  /** The multihashes from /certhash, for webtransport and webrtc-direct. */
  certhashes?: Uint8Array[]
  /** The base58btc peer id from a trailing /p2p. */
  peerId?: string
}

/** What the dial mapping reads of each component. */
export interface DialComponent {
  readonly code: number
  readonly value?: string
  readonly bytes: Uint8Array
  /** The decoded value for http-path (UTF-8 text), as the mapping needs it. */
  readonly text?: string
}

export function toDialTarget(cs: readonly DialComponent[]): DialTarget | undefined {
  let i = 0
  const at = (code: number): DialComponent | undefined => (cs[i]?.code === code ? cs[i++] : undefined)

  // <host>
  let zone: string | undefined
  const z = at(CODE.ip6zone)
  if (z !== undefined) zone = z.value
  let family: DialTarget['family']
  let resolve: 4 | 6 | undefined
  const h = cs[i++]
  if (h === undefined) return undefined
  if (h.code === CODE.ip6) {
    family = 6
  } else if (zone !== undefined) {
    return undefined // a zone only qualifies an IPv6 address
  } else if (h.code === CODE.ip4) {
    family = 4
  } else if (h.code === CODE.dns || h.code === CODE.dns4 || h.code === CODE.dns6) {
    family = 'dns'
    if (h.code === CODE.dns4) resolve = 4
    if (h.code === CODE.dns6) resolve = 6
  } else {
    return undefined
  }
  const host = h.value!

  // /tcp or /udp with its port
  const l4 = cs[i++]
  if (l4 === undefined || (l4.code !== CODE.tcp && l4.code !== CODE.udp)) return undefined
  const port = Number(l4.value)

  let transport: DialTransport
  let sni: string | undefined
  let security: 'tls' | 'noise' | undefined
  let certhashes: Uint8Array[] | undefined
  if (l4.code === CODE.tcp) {
    transport = 'tcp'
    if (at(CODE.ws) !== undefined) transport = 'ws'
    else if (at(CODE.wss) !== undefined) transport = 'wss'
    else if (at(CODE.http) !== undefined) transport = 'http'
    else if (at(CODE.https) !== undefined) transport = 'https'
    else if (at(CODE.noise) !== undefined) security = 'noise'
    else if (at(CODE.tls) !== undefined) {
      sni = at(CODE.sni)?.value
      if (at(CODE.ws) !== undefined) transport = 'wss'
      else if (at(CODE.http) !== undefined) transport = 'https'
      else if (sni === undefined) security = 'tls'
      else return undefined // /tls/sni/<name> must name what runs over TLS
    }
  } else {
    transport = 'udp'
    if (at(CODE.quic) !== undefined) transport = 'quic'
    else if (at(CODE.quicV1) !== undefined) {
      transport = 'quic-v1'
      if (at(CODE.webtransport) !== undefined) {
        transport = 'webtransport'
        certhashes = certs()
      }
    } else if (at(CODE.webrtcDirect) !== undefined) {
      transport = 'webrtc-direct'
      certhashes = certs()
    }
  }

  // Optional trailing /p2p and /http-path, in either order, each at most once.
  let peerId: string | undefined
  let path: string | undefined
  const httpish = transport === 'ws' || transport === 'wss' || transport === 'http' || transport === 'https'
  for (let k = 0; k < 2 && i < cs.length; k++) {
    const p = at(CODE.p2p)
    if (p !== undefined && peerId === undefined) {
      peerId = p.value
      continue
    }
    const hp = httpish && path === undefined ? at(CODE.httpPath) : undefined
    if (hp !== undefined) {
      path = `/${hp.text}`
      continue
    }
    return undefined
  }
  if (i !== cs.length) return undefined

  const target: DialTarget = { host, family, port, transport }
  if (resolve !== undefined) target.resolve = resolve
  if (zone !== undefined) target.zone = zone
  if (path !== undefined) target.path = path
  if (sni !== undefined) target.sni = sni
  if (security !== undefined) target.security = security
  if (certhashes !== undefined) target.certhashes = certhashes
  if (peerId !== undefined) target.peerId = peerId
  return target

  function certs(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let c = at(CODE.certhash); c !== undefined; c = at(CODE.certhash)) out.push(c.bytes)
    return out
  }
}
