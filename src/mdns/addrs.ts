/**
 * Address hygiene for mDNS (spec/mdns.md, "Addresses"): which addresses we announce and which we
 * accept. Loopback (127/8, ::1), link-local (169.254/16, fe80::/10, zoned IPv6) and unspecified
 * (0.0.0.0, ::) addresses are useless to a peer on another host: they are neither announced nor
 * accepted, except loopback and link-local ones in packets that came over loopback (the sender is
 * on this host). Unspecified listen addresses are expanded to the interfaces' addresses.
 */
import { CODE, Multiaddr } from '../multiaddr/index.js'

/** A packet's source address text is a loopback one (127/8, ::1, ::ffff:127/104). */
export function isLoopbackHost(address: string): boolean {
  const a = address.toLowerCase()
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.')
}

type Kind = 'public' | 'loopback' | 'link-local' | 'unspecified' | 'other'

function kind(a: Multiaddr): Kind {
  const c = a.components()[0]
  if (c === undefined) return 'other'
  if (c.code === CODE.ip6zone) return 'link-local'
  if (c.code === CODE.ip4) {
    const b = c.bytes
    if (b.every((x) => x === 0)) return 'unspecified'
    if (b[0] === 127) return 'loopback'
    if (b[0] === 169 && b[1] === 254) return 'link-local'
    return 'public'
  }
  if (c.code === CODE.ip6) {
    const b = c.bytes
    if (b.every((x) => x === 0)) return 'unspecified'
    if (a.isLoopback()) return 'loopback'
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local'
    const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
    if (mapped && b[12] === 169 && b[13] === 254) return 'link-local'
    if (mapped && b.slice(12).every((x) => x === 0)) return 'unspecified'
    return 'public'
  }
  return 'other' // /dns, /dnsaddr, ... (go announces `.local` names): kept
}

/** Announce or accept `a`? Unspecified never; loopback and link-local only when `fromLoopback`. */
export function usable(a: Multiaddr, fromLoopback = false): boolean {
  const k = kind(a)
  if (k === 'unspecified') return false
  if (k === 'loopback' || k === 'link-local') return fromLoopback
  return true
}

/** An interface IP as 4 or 16 bytes (for A / AAAA records), or undefined. */
export function ipBytes(ip: string): Uint8Array | undefined {
  try {
    return Multiaddr.fromString(ip.includes(':') ? `/ip6/${ip.split('%')[0]!}` : `/ip4/${ip}`).components()[0]!.bytes
  } catch {
    return undefined
  }
}

/**
 * What we announce: the node's addresses without `/p2p`, `/p2p-circuit` ones left out,
 * `/ip4/0.0.0.0/...` and `/ip6/::/...` expanded to the interface IPs of their family, then filtered
 * by `usable`; unique, in order.
 */
export function ourAddrs(addrs: readonly Multiaddr[], interfaceIps: readonly string[], loopback = false): Multiaddr[] {
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  const push = (a: Multiaddr): void => {
    const k = a.toString()
    if (seen.has(k) || !usable(a, loopback)) return
    seen.add(k)
    out.push(a)
  }
  for (const full of addrs) {
    const a = full.withoutPeerId()
    // a relayed address is no use on the link, and it is long (go leaves circuits out too, #3415)
    if (a.components().some((c) => c.code === CODE.p2pCircuit)) continue
    if (kind(a) !== 'unspecified') {
      push(a)
      continue
    }
    const v6 = a.components()[0]!.code === CODE.ip6
    const text = a.toString()
    const cut = text.indexOf('/', 1 + text.indexOf('/', 1))
    const tail = cut < 0 ? '' : text.slice(cut)
    for (const ip of interfaceIps) {
      if (ip.includes(':') !== v6) continue
      try {
        push(Multiaddr.fromString(`/${v6 ? 'ip6' : 'ip4'}/${ip}${tail}`))
      } catch {
        // an interface address the multiaddr parser refuses (a zone): skipped
      }
    }
  }
  return out
}
