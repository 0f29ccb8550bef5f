/**
 * The UDP side of mDNS (spec/mdns.md, "Socket and node"): one `udp4` socket bound to
 * 0.0.0.0:5353 with SO_REUSEADDR (other responders on the host share the port: go's zeroconf,
 * rust's libp2p-mdns, Avahi), joined to 224.0.0.251 on every non-loopback IPv4 interface,
 * multicast TTL 255, loopback on (two nodes on one host hear each other); with `ipv6`, a `udp6`
 * socket bound to [::]:5353 joined to ff02::fb on every non-loopback interface with IPv6 (sends go
 * to `ff02::fb%<interface>` on each). Also the clock and timers the mDNS service needs (cores and
 * services draw no clock). Everything the sockets report reaches the handlers; errors never throw.
 *
 *   import { createNode } from 'weft/node'
 *   const node = await createNode({ discovery: { mdns: true } })      // uses udpMdnsSocket()
 */
import * as dgram from 'node:dgram'
import { networkInterfaces } from 'node:os'

/** The IPv4 mDNS multicast group (RFC 6762 §3). */
export const MDNS_GROUP = '224.0.0.251'
export const MDNS_GROUP6 = 'ff02::fb'
/** The mDNS UDP port (RFC 6762 §3). */
export const MDNS_PORT = 5353

export interface MdnsSocketHandlers {
  onPacket(data: Uint8Array, from: { address: string; port: number }): void
  onError(error: Error): void
}

export interface OpenMdnsSocket {
  /** The port the sockets are bound to. */
  readonly port: number
  /**
   * Send one datagram: to the group(s) (IPv4, and IPv6 when open) when `to` is undefined, else
   * unicast to `to` (an IPv6 address may carry its `%scope`). Errors go to onError.
   */
  send(packet: Uint8Array, to?: { address: string; port: number }): void
  /** Addresses of the non-loopback interfaces: IPv4 dotted, and (with ipv6) IPv6 other than link-local. */
  interfaceIps(): string[]
  /** Join the group on interfaces (or addresses) that appeared since the last call. */
  refresh(): void
  /** Close after the datagrams already handed to send() have left (goodbyes), within a second. */
  close(): void
}

export interface MdnsSocketFactory {
  open(handlers: MdnsSocketHandlers, options?: { ipv6?: boolean }): Promise<OpenMdnsSocket>
  /** Milliseconds on a monotonic clock. */
  now(): number
  /** Call f once after ms milliseconds (unref'd: it does not keep the process alive); returns a canceller. */
  after(ms: number, f: () => void): () => void
}

/** Options of `udpMdnsSocket`. */
export interface UdpMdnsSocketOptions {
  /** Port (default 5353; tests may use another). */
  port?: number
  group?: string
  group6?: string
}

interface Iface {
  name: string
  v4: string[]
  /** Every IPv6 address, link-local included (a link-local-only interface still carries ff02::fb). */
  v6: string[]
}

function interfaces(): Iface[] {
  const out: Iface[] = []
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const i: Iface = { name, v4: [], v6: [] }
    for (const a of list ?? []) {
      if (a.internal) continue
      if (a.family === 'IPv4') i.v4.push(a.address)
      else if (a.family === 'IPv6') i.v6.push(a.address)
    }
    if (i.v4.length + i.v6.length > 0) out.push(i)
  }
  return out
}

const QUIET_SEND_ERRORS = new Set(['EADDRNOTAVAIL', 'ENETUNREACH'])

const isLinkLocal6 = (ip: string): boolean => /^fe[89ab]/i.test(ip)

function bind(sock: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject)
    sock.bind({ port, address, exclusive: false }, () => {
      sock.off('error', reject)
      resolve()
    })
  })
}

/**
 * The UDP multicast socket mDNS discovery uses on Node (`node:dgram`, group 224.0.0.251 port 5353,
 * RFC 6762), for `createNode({ discovery: { mdns: { socket: udpMdnsSocket() } } })` and tests.
 */
export function udpMdnsSocket(options: UdpMdnsSocketOptions = {}): MdnsSocketFactory {
  const port = options.port ?? MDNS_PORT
  const group = options.group ?? MDNS_GROUP
  const group6 = options.group6 ?? MDNS_GROUP6
  return {
    now: () => performance.now(),
    after(ms, f) {
      const t = setTimeout(f, ms)
      t.unref?.()
      return () => clearTimeout(t)
    },
    async open(h, o = {}) {
      const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
        try {
          h.onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { address: rinfo.address, port: rinfo.port })
        } catch (e) {
          h.onError(e instanceof Error ? e : new Error(String(e)))
        }
      }
      const v4 = dgram.createSocket({ type: 'udp4', reuseAddr: true })
      v4.on('message', onMessage)
      await bind(v4, port, '0.0.0.0')
      v4.on('error', (e) => h.onError(e))
      try {
        v4.setMulticastTTL(255)
        v4.setMulticastLoopback(true)
      } catch (e) {
        h.onError(e as Error)
      }
      // Joined per interface address; refresh() joins interfaces that came up later (rust's if-watch).
      const joined4 = new Set<string>()
      const join4 = (): void => {
        for (const i of interfaces()) {
          for (const ip of i.v4) {
            if (joined4.has(ip)) continue
            try {
              v4.addMembership(group, ip)
              joined4.add(ip)
            } catch {
              // an interface without multicast: the others still work
            }
          }
        }
      }
      join4()
      const v4Ifaces = interfaces().some((i) => i.v4.length > 0)
      if (joined4.size === 0) {
        try {
          v4.addMembership(group)
        } catch (e) {
          if (v4Ifaces || o.ipv6 !== true) h.onError(e as Error) // an IPv6-only host: IPv6 carries mDNS
        }
      }
      v4.unref()

      // IPv6: optional; a host without it (or a kernel refusing the group) keeps IPv4 working.
      let v6: dgram.Socket | undefined
      const v6Ifaces: string[] = []
      let join6 = (): void => {}
      if (o.ipv6 === true) {
        const s = dgram.createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true })
        s.on('message', onMessage)
        try {
          await bind(s, port, '::')
          s.on('error', (e) => h.onError(e))
          s.setMulticastTTL(255)
          s.setMulticastLoopback(true)
          join6 = (): void => {
            for (const i of interfaces()) {
              if (i.v6.length === 0 || v6Ifaces.includes(i.name)) continue
              try {
                s.addMembership(group6, `::%${i.name}`)
                v6Ifaces.push(i.name)
              } catch {
                // no IPv6 multicast on this interface
              }
            }
          }
          join6()
          s.unref()
          v6 = s
        } catch (e) {
          h.onError(e as Error)
          try { s.close() } catch { /* never bound */ }
        }
      }

      let closed = false
      let pending = 0
      let closeNow: (() => void) | undefined
      const sendOn = (sock: dgram.Socket, packet: Uint8Array, p: number, address: string, quiet = false): void => {
        pending++
        sock.send(packet, p, address, (e) => {
          pending--
          // IPv6 group sends fail with EADDRNOTAVAIL while the interface's link-local address is
          // still tentative (duplicate address detection, ~1-2 s after the link comes up), IPv4 ones
          // with ENETUNREACH on an IPv6-only host: not errors while the other family carries mDNS
          if (e && !(quiet && QUIET_SEND_ERRORS.has((e as NodeJS.ErrnoException).code ?? ''))) h.onError(e)
          if (pending === 0) closeNow?.()
        })
      }
      return {
        port,
        send(packet, to) {
          if (closed || closeNow !== undefined) return
          try {
            if (to !== undefined) {
              const sock = to.address.includes(':') ? v6 : v4
              if (sock !== undefined) sendOn(sock, packet, to.port, to.address)
              return
            }
            sendOn(v4, packet, port, group, v6 !== undefined && v6Ifaces.length > 0)
            if (v6 !== undefined) for (const name of v6Ifaces) sendOn(v6, packet, port, `${group6}%${name}`, true)
          } catch (e) {
            h.onError(e instanceof Error ? e : new Error(String(e)))
          }
        },
        refresh() {
          if (closed || closeNow !== undefined) return
          join4()
          join6()
        },
        interfaceIps: () => interfaces().flatMap((i) => [...i.v4, ...(o.ipv6 === true ? i.v6.filter((x) => !isLinkLocal6(x)) : [])]),
        close() {
          if (closed || closeNow !== undefined) return
          closeNow = () => {
            if (closed) return
            closed = true
            for (const s of [v4, v6]) {
              try {
                s?.close()
              } catch {
                // already closed
              }
            }
          }
          if (pending === 0) closeNow()
          else setTimeout(closeNow, 1000).unref?.()
        },
      }
    },
  }
}
