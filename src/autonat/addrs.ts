/**
 * Address rules shared by AutoNAT's client and server: which addresses can be tested, the IP of an
 * address, putting the observed IP in front of our listen port, and the dial-back transport check.
 */
import { concat, equals } from '../core/bytes.js'
import { CODE, Multiaddr } from '../multiaddr/index.js'
import { isPublicAddr } from '../swarm/index.js'

/** The leading /ip4 or /ip6 component's code and value bytes, or undefined. */
export function ipOf(addr: Multiaddr): { code: number; bytes: Uint8Array } | undefined {
  const first = addr.components()[0]
  if (first === undefined || (first.code !== CODE.ip4 && first.code !== CODE.ip6)) return undefined
  return { code: first.code, bytes: first.bytes }
}

/** Both addresses start with the same IP. */
export function sameIp(a: Multiaddr, b: Multiaddr): boolean {
  const x = ipOf(a)
  const y = ipOf(b)
  return x !== undefined && y !== undefined && x.code === y.code && equals(x.bytes, y.bytes)
}

/**
 * An address AutoNAT can test and weft can dial: an IP (not a name), then /tcp, optionally /ws, /wss
 * or /tls/ws, optionally /p2p/<id>; never /p2p-circuit. With `allowPrivate` false the IP must also
 * be public (go refuses non-public addresses; the spec says servers SHOULD NOT dial private ones).
 */
export function isTestable(addr: Multiaddr, allowPrivate: boolean): boolean {
  if (addr.protos().some((p) => p.code === CODE.p2pCircuit)) return false
  let t
  try {
    t = addr.toDialTarget()
  } catch {
    return false
  }
  if (t === undefined || t.family === 'dns' || t.zone !== undefined) return false
  if (t.transport !== 'tcp' && t.transport !== 'ws' && t.transport !== 'wss') return false
  if (t.port === 0) return false
  if (isUnspecified(addr)) return false
  return allowPrivate || isPublicAddr(addr)
}

function isUnspecified(addr: Multiaddr): boolean {
  const ip = ipOf(addr)
  return ip !== undefined && ip.bytes.every((b) => b === 0)
}

/** `addr` with its leading IP replaced by `from`'s (both must start with an IP); undefined otherwise. */
export function withIpOf(addr: Multiaddr, from: Multiaddr): Multiaddr | undefined {
  const ip = ipOf(addr)
  const src = ipOf(from)
  if (ip === undefined || src === undefined) return undefined
  const bytes = addr.bytes
  const head = from.bytes.subarray(0, 1 + src.bytes.length) // /ip4 and /ip6 codes are one-byte varints
  return Multiaddr.fromBytes(concat([head, bytes.subarray(1 + ip.bytes.length)]))
}

/** The protocol codes after the IP, without a trailing /p2p (the "shape" of an address). */
function shape(addr: Multiaddr): number[] | undefined {
  const ip = ipOf(addr)
  if (ip === undefined) return undefined
  const codes = addr.protos().map((p) => p.code)
  if (codes[codes.length - 1] === CODE.p2p) codes.pop()
  return codes
}

/**
 * The addresses a peer's observation `observed` suggests we are reachable at: for each listen address
 * of the same shape (IP family, transport stack), the observed IP with the listen address's port and
 * the rest. A NAT that keeps ports (and a host without one) makes these our public addresses; the
 * observed port itself is an outbound connection's ephemeral port, never a listener (go and rust
 * translate the same way).
 */
export function candidatesFromObserved(observed: Multiaddr, listenAddrs: readonly Multiaddr[]): Multiaddr[] {
  const s = shape(observed)
  if (s === undefined) return []
  const out: Multiaddr[] = []
  for (const l of listenAddrs) {
    const ls = shape(l)
    if (ls === undefined || ls.length !== s.length || ls.some((c, i) => c !== s[i])) continue
    const a = withIpOf(l.withoutPeerId(), observed)
    if (a !== undefined && !out.some((x) => x.equals(a))) out.push(a)
  }
  return out
}

/**
 * The dial-back arrived on a connection of the tested address's transport: the connection's local
 * address has the same IP family and protocol stack as the tested address (the spec's "local
 * address" check; go's areAddrsConsistent). Undefined local address: not checkable, accepted.
 */
export function consistentTransport(local: Multiaddr | undefined, tested: Multiaddr): boolean {
  if (local === undefined) return true
  const a = shape(local)
  const b = shape(tested)
  return a !== undefined && b !== undefined && a.length === b.length && a.every((c, i) => c === b[i])
}
