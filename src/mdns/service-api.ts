/**
 * mDNS discovery as a node service (spec/mdns.md, "Socket and node"): query `_p2p._udp.local`
 * at start and every `interval`, answer queries with our addresses, turn responses into
 * `peer:discovery` events and peer-store addresses, and optionally dial what it finds.
 *
 * The socket and the timers are handed in (this module draws no IO): `udpMdnsSocket()` from
 * 'weft/node' is the UDP one.
 *
 *   const node = await createNode({ services: { mdns: mdns({ socket: udpMdnsSocket(), autoDial: true }) } })
 *   node.on('peer:discovery', ({ peer, addrs }) => console.log(peer.toString(), addrs.length))
 */
import { ProtocolError } from '../core/errors.js'
import { Multiaddr } from '../multiaddr/index.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, NodeService, ServiceFactory } from '../swarm/index.js'
import { decodeDnsMessage, type DnsLimits } from './dns.js'
import { buildQuery, buildResponse, parseQuery, parseResponse, peerNameFromBytes } from './message.js'

/** What the service needs of a socket (src/io/mdns-socket.ts has it). */
export interface MdnsSocket {
  send(packet: Uint8Array): void
  /** IPv4 addresses of the non-loopback interfaces, dotted. */
  interfaceIps(): string[]
  close(): void
}

export interface MdnsSocketFactory {
  open(handlers: { onPacket(data: Uint8Array, from: { address: string; port: number }): void; onError(error: Error): void }): Promise<MdnsSocket>
  every(ms: number, f: () => void): () => void
}

export interface MdnsOptions {
  /** The UDP socket and timers (`udpMdnsSocket()` from 'weft/node'). */
  socket: MdnsSocketFactory
  /** Milliseconds between queries. Default 10 000 (go-libp2p's zeroconf re-queries within seconds; rust backs off to 5 min). */
  interval?: number
  /** TTL of our records, seconds. Default 360 (rust's). */
  ttl?: number
  /** Dial every discovered peer we are not connected to. Default false. */
  autoDial?: boolean
  /** Codec limits (spec/mdns.md Limits). */
  limits?: Partial<DnsLimits>
}

export const DEFAULT_MDNS_INTERVAL = 10_000
export const DEFAULT_MDNS_TTL = 360

export interface PeerDiscoveryEvent {
  peer: PeerId
  addrs: Multiaddr[]
  source: 'mdns'
}

export interface MdnsStats {
  /** Datagrams received. */
  received: number
  /** Datagrams dropped because they did not decode (ProtocolError from the codec). */
  malformed: number
  /** Queries answered. */
  answered: number
  /** Peer discoveries surfaced (one per peer per response). */
  discovered: number
  /** Socket errors (send failures and the like). */
  socketErrors: number
  /** Auto-dials that failed. */
  dialFailures: number
}

/** `node.service<Mdns>('mdns')`. */
export interface Mdns {
  stats(): MdnsStats
  /** Send a query now. */
  query(): void
}

/** What the service needs of the node (WeftNode has it). */
interface MdnsNode {
  readonly peerId: PeerId
  getMultiaddrs(): Multiaddr[]
  getConnections(peer?: PeerId): unknown[]
  dial(target: PeerId): Promise<unknown>
  readonly peerStore: { addAddrs(peer: PeerId, addrs: readonly Multiaddr[]): void }
  dispatchEvent(event: Event): boolean
}

const idle: Behaviour<never> = {
  protocols: [],
  handle() {},
  handleTimeout() {},
  pollAction: () => undefined,
  pollTimeout: () => undefined,
}

/** Loopback, link-local and unspecified addresses: useless to a peer on another host. */
function usable(a: Multiaddr): boolean {
  const s = a.toString()
  const m = /^\/(ip4|ip6)\/([^/]+)/.exec(s)
  if (m === null) return true
  const host = m[2]!.toLowerCase()
  if (m[1] === 'ip4') return !host.startsWith('127.') && !host.startsWith('169.254.') && host !== '0.0.0.0'
  return host !== '::1' && host !== '::' && !host.startsWith('fe80')
}

function ip4Bytes(ip: string): Uint8Array {
  return Uint8Array.from(ip.split('.').map(Number))
}

export function mdns(options: MdnsOptions): ServiceFactory<Mdns> {
  const interval = options.interval ?? DEFAULT_MDNS_INTERVAL
  if (!Number.isFinite(interval) || interval <= 0) throw new RangeError('interval must be a positive number of ms')
  const ttl = options.ttl ?? DEFAULT_MDNS_TTL
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError('ttl must be a positive whole number of seconds')
  const autoDial = options.autoDial ?? false
  return (ctx): NodeService<Mdns> => {
    const peerName = peerNameFromBytes(ctx.random(32))
    const stats: MdnsStats = { received: 0, malformed: 0, answered: 0, discovered: 0, socketErrors: 0, dialFailures: 0 }
    let node: MdnsNode | undefined
    let sock: MdnsSocket | undefined
    let cancel: (() => void) | undefined
    let stopped = false
    let opening = false
    const query = (): void => sock?.send(buildQuery())

    const ourAddrs = (s: MdnsSocket): Multiaddr[] => {
      const ips = s.interfaceIps()
      const out: Multiaddr[] = []
      for (const a of node?.getMultiaddrs() ?? []) {
        const text = a.withoutPeerId().toString()
        if (text.startsWith('/ip4/0.0.0.0/')) for (const ip of ips) out.push(Multiaddr.fromString(`/ip4/${ip}/${text.slice('/ip4/0.0.0.0/'.length)}`))
        else if (usable(a)) out.push(a.withoutPeerId())
      }
      return out
    }

    const onPacket = (data: Uint8Array): void => {
      stats.received++
      let msg
      try {
        msg = decodeDnsMessage(data, options.limits ?? {})
      } catch (e) {
        if (e instanceof ProtocolError) {
          stats.malformed++
          return
        }
        throw e
      }
      const s = sock
      if (node === undefined || s === undefined) return
      const q = parseQuery(msg, { peerName })
      if (q !== undefined) {
        const ips = s.interfaceIps().map(ip4Bytes)
        for (const p of buildResponse({ peerId: node.peerId, peerName, addrs: ourAddrs(s), ttl, ips, meta: q.meta })) s.send(p)
        stats.answered++
        return
      }
      for (const d of parseResponse(msg)) {
        if (d.peer.equals(node.peerId)) continue // our own response
        const addrs = d.addrs.filter(usable)
        if (addrs.length === 0) continue
        stats.discovered++
        const n = node
        ctx.run(() => n.peerStore.addAddrs(d.peer, addrs))
        n.dispatchEvent(new CustomEvent('peer:discovery', { detail: { peer: d.peer, addrs, source: 'mdns' } satisfies PeerDiscoveryEvent }))
        if (autoDial && n.getConnections(d.peer).length === 0) n.dial(d.peer).catch(() => { stats.dialFailures++ })
      }
    }

    return {
      name: 'mdns',
      behaviour: idle as NodeService['behaviour'],
      api: { stats: () => ({ ...stats }), query },
      attach(attached) {
        node = attached as MdnsNode
      },
      // The node asks the services for their listen addresses once it is listening (end of start()):
      // the socket opens then, so what we announce and dial is never a node that cannot serve yet.
      listenAddrs() {
        if (!opening && !stopped && node !== undefined) open()
        return []
      },
      onEvent() {},
      stop() {
        stopped = true
        cancel?.()
        sock?.close()
        sock = undefined
      },
    }

    function open(): void {
      opening = true
      options.socket
        .open({
          onPacket,
          onError: () => {
            stats.socketErrors++
          },
        })
        .then((s) => {
          if (stopped) return s.close()
          sock = s
          query()
          cancel = options.socket.every(interval, query)
        })
        .catch((e: unknown) => {
          stats.socketErrors++
          node?.dispatchEvent(new CustomEvent('error', { detail: { error: e instanceof Error ? e : new Error(String(e)), origin: 'behaviour', behaviour: 'mdns' } }))
        })
    }
  }
}
