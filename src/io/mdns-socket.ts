/**
 * The UDP side of mDNS (spec/mdns.md, "Socket and node"): one `udp4` socket bound to
 * 0.0.0.0:5353 with SO_REUSEADDR (other responders on the host share the port), joined to
 * 224.0.0.251 on every non-loopback IPv4 interface, multicast TTL 255, loopback on (two nodes on
 * one host hear each other). Also the timers the mDNS service needs (cores and services draw no
 * clock). Everything the socket reports reaches the handlers; errors never throw.
 *
 *   import { mdns } from 'weft/mdns'
 *   import { createNode, udpMdnsSocket } from 'weft/node'
 *   const node = await createNode({ services: { mdns: mdns({ socket: udpMdnsSocket() }) } })
 */
import * as dgram from 'node:dgram'
import { networkInterfaces } from 'node:os'

export const MDNS_GROUP = '224.0.0.251'
export const MDNS_PORT = 5353

export interface MdnsSocketHandlers {
  onPacket(data: Uint8Array, from: { address: string; port: number }): void
  onError(error: Error): void
}

export interface OpenMdnsSocket {
  /** Send one datagram to the group (errors go to onError). */
  send(packet: Uint8Array): void
  /** IPv4 addresses of the non-loopback interfaces, dotted. */
  interfaceIps(): string[]
  close(): void
}

export interface MdnsSocketFactory {
  open(handlers: MdnsSocketHandlers): Promise<OpenMdnsSocket>
  /** Call f every ms milliseconds (unref'd: it does not keep the process alive); returns a canceller. */
  every(ms: number, f: () => void): () => void
}

export interface UdpMdnsSocketOptions {
  /** Port (default 5353; tests may use another). */
  port?: number
  group?: string
}

function ipv4Interfaces(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) out.push(i.address)
  }
  return out
}

export function udpMdnsSocket(options: UdpMdnsSocketOptions = {}): MdnsSocketFactory {
  const port = options.port ?? MDNS_PORT
  const group = options.group ?? MDNS_GROUP
  return {
    every(ms, f) {
      const t = setInterval(f, ms)
      t.unref?.()
      return () => clearInterval(t)
    },
    open(h) {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true })
      return new Promise<OpenMdnsSocket>((resolve, reject) => {
        let opened = false
        sock.on('error', (e) => (opened ? h.onError(e) : reject(e)))
        sock.on('message', (msg, rinfo) => {
          try {
            h.onPacket(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), { address: rinfo.address, port: rinfo.port })
          } catch (e) {
            h.onError(e instanceof Error ? e : new Error(String(e)))
          }
        })
        sock.bind(port, () => {
          opened = true
          try {
            sock.setMulticastTTL(255)
            sock.setMulticastLoopback(true)
          } catch (e) {
            h.onError(e as Error)
          }
          const ifaces = ipv4Interfaces()
          let joined = 0
          for (const ip of ifaces) {
            try {
              sock.addMembership(group, ip)
              joined++
            } catch {
              // an interface without multicast: the others still work
            }
          }
          if (joined === 0) {
            try {
              sock.addMembership(group)
            } catch (e) {
              h.onError(e as Error)
            }
          }
          sock.unref()
          let closed = false
          resolve({
            send(packet) {
              if (closed) return
              sock.send(packet, port, group, (e) => {
                if (e) h.onError(e)
              })
            },
            interfaceIps: ipv4Interfaces,
            close() {
              if (closed) return
              closed = true
              try {
                sock.close()
              } catch {
                // already closed
              }
            },
          })
        })
      })
    },
  }
}
