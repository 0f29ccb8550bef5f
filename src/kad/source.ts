/**
 * Who pays for what a remote stores with us. A peer id costs nothing to make, so quotas per peer id
 * alone are multiplied by throwaway ids (audit finding 4). The store therefore also accounts each
 * remote entry to the **source** of the connection that delivered it: its network, not its id.
 *
 * - IPv4: the /24 (`ip4/203.0.113`); an IPv4-mapped IPv6 address counts as IPv4.
 * - IPv6: the /48 (`ip6/20010db80001`), the smallest prefix commonly routed to one site.
 * - anything else (dns names, `/memory/N` in tests, an address we cannot read): the whole address.
 *
 * A relayed connection is accounted to the relay's network (its address is the one we see): peers
 * behind one relay share a quota, which errs on the side of the store. A /24 or /48 may hold several
 * honest users (a NAT, a campus): they share one fair share, and still displace any source holding
 * more than they do (store.ts, "eviction").
 */
import type { Multiaddr } from '../multiaddr/index.js'

/** The accounting source of a connection whose remote address is `addr`. */
export function sourceOf(addr: Multiaddr): string {
  const first = addr.components()[0]
  if (first !== undefined) {
    const b = first.bytes
    if (first.name === 'ip4' && b.length === 4) return `ip4/${b[0]}.${b[1]}.${b[2]}`
    if (first.name === 'ip6' && b.length === 16) {
      if (isMapped(b)) return `ip4/${b[12]}.${b[13]}.${b[14]}`
      let hex = ''
      for (let i = 0; i < 6; i++) hex += b[i]!.toString(16).padStart(2, '0')
      return `ip6/${hex}`
    }
  }
  return addr.toString()
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false
  return b[10] === 0xff && b[11] === 0xff
}
