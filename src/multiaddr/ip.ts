/**
 * IP address text forms.
 *
 * - IPv4: the strict dotted quad. Each of the four decimal octets is 0..255 and has no leading zero
 *   (`01.2.3.4` is rejected: some parsers read a leading zero as octal, so the text is ambiguous).
 * - IPv6 in: every text form of RFC 4291 §2.2: eight groups of 1-4 hex digits, one `::` standing for
 *   one or more zero groups, and an embedded dotted quad in the last 32 bits. No zone (`%eth0`):
 *   a zone is its own component, `/ip6zone/eth0/ip6/fe80::1`.
 * - IPv6 out: the RFC 5952 canonical form: lowercase, no leading zeros, the longest run (the first
 *   on a tie) of two or more zero groups written `::`, and IPv4-mapped addresses (::ffff:0:0/96)
 *   in mixed notation, `::ffff:192.0.2.1` (RFC 5952 §5).
 */

const OCTET = /^(0|[1-9][0-9]{0,2})$/
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/

/** The 4 bytes of a dotted quad, or undefined when `text` is not one. */
export function parseIp4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!OCTET.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

export function formatIp4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`
}

/** Parse a run of `:`-separated groups; the last may be a dotted quad when `ip4Allowed`. */
function groups(text: string, ip4Allowed: boolean): number[] | undefined {
  if (text === '') return []
  const parts = text.split(':')
  const out: number[] = []
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16))
    } else if (ip4Allowed && i === parts.length - 1) {
      const v4 = parseIp4(p)
      if (v4 === undefined) return undefined
      out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
    } else {
      return undefined
    }
  }
  return out
}

/** The 16 bytes of an IPv6 text address, or undefined when `text` is not one. */
export function parseIp6(text: string): Uint8Array | undefined {
  // 45 = the longest form, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
  if (text.length < 2 || text.length > 45) return undefined
  const gap = text.indexOf('::')
  let all: number[]
  if (gap < 0) {
    const g = groups(text, true)
    if (g === undefined || g.length !== 8) return undefined
    all = g
  } else {
    if (text.indexOf('::', gap + 1) >= 0) return undefined // a second `::` (also catches `:::`)
    const head = groups(text.slice(0, gap), false)
    const tail = groups(text.slice(gap + 2), true)
    if (head === undefined || tail === undefined) return undefined
    if (head.length + tail.length > 7) return undefined // `::` stands for at least one group
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  }
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8
    out[2 * i + 1] = all[i]! & 0xff
  }
  return out
}

/** RFC 5952 canonical text of 16 bytes. */
export function formatIp6(b: Uint8Array): string {
  if (isIp4Mapped(b)) return `::ffff:${formatIp4(b, 12)}`
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!)
  // The longest run of zero groups, at least two long; the first one wins a tie (RFC 5952 §4.2.3).
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':')
  if (bestStart < 0) return hex(g)
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`
}

/** ::ffff:0:0/96, an IPv4 address carried in IPv6 (RFC 4291 §2.5.5.2). */
export function isIp4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false
  return b[10] === 0xff && b[11] === 0xff
}
