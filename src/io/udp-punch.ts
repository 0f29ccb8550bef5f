/**
 * DCUtR's QUIC hole punch, B's side (libp2p specs relay/DCUtR.md; spec/dcutr.md "QUIC"): UDP packets
 * filled with random bytes, sent from the listening socket (src/io/udp.ts `sendRawDatagram`) to the
 * peer's address, repeatedly at random intervals between 10 and 200 ms, so our NAT opens a mapping
 * toward the peer and its QUIC Initial gets through to our listener. The first packet leaves at once.
 * Bounded: at most `maxPackets` packets and `timeout` ms, whichever comes first; `stop()` ends it
 * earlier (DCUtR stops it as soon as the direct connection exists).
 *
 * The packets are not QUIC: the first byte has its two high bits clear (neither a long header nor
 * the fixed bit, RFC 9000 §17), so the peer's QUIC endpoint drops them without a Version Negotiation
 * or stateless reset reply.
 */
import { randomFillSync } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { CODE, type Multiaddr } from '../multiaddr/index.js'
import { sendRawDatagram } from './udp.js'

/** Options of `udpHolePunch` (spec/dcutr.md, Limits). */
export interface UdpPunchOptions {
  /**
   * ms to keep sending, default 5000 (DCUtR passes its `punchTimeout`). Stops: a peer's CONNECT
   * keeping us sending packets to an address without end.
   */
  timeout?: number
  /**
   * Packets at most, default 100 (at the spec's mean interval of 105 ms, about 10 s). Stops: a
   * remote naming a victim's address in CONNECT and making us send it more than a few kB.
   */
  maxPackets?: number
  /** Bytes per packet, default 64 (1..1200). */
  packetSize?: number
  /** The shortest and longest interval between packets, ms (default 10 and 200: the spec's). */
  minInterval?: number
  maxInterval?: number
}

/** A running hole punch toward one address. */
export interface UdpPunch {
  /** Packets sent so far. */
  readonly sent: number
  /** Stop sending now (idempotent). */
  stop(): void
  /** Resolves with the number of packets sent once it ended (bound reached, stopped, or nothing to send from). */
  readonly done: Promise<number>
}

const HOSTS: ReadonlySet<number> = new Set([CODE.ip4, CODE.ip6, CODE.dns, CODE.dns4, CODE.dns6])

export const DEFAULT_PUNCH_TIMEOUT = 5_000
export const DEFAULT_MAX_PUNCH_PACKETS = 100

function check(n: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${n}`)
  return n
}

/**
 * Sends random punch packets from `transport`'s listening socket (a transport made by
 * `udpTransport`, e.g. `quic()`) to `addr` (`/ip4|ip6|dns|dns4|dns6/<host>/udp/<port>[/...]`), as
 * the file comment says. Throws `RangeError` for bad options or an address without a UDP port; a
 * host that does not resolve or a missing listening socket of its family end it with 0 packets.
 */
export function udpHolePunch(transport: object, addr: Multiaddr, options: UdpPunchOptions = {}): UdpPunch {
  const timeout = check(options.timeout ?? DEFAULT_PUNCH_TIMEOUT, 'timeout', 1, 2_147_483_647)
  const maxPackets = check(options.maxPackets ?? DEFAULT_MAX_PUNCH_PACKETS, 'maxPackets', 0, 100_000)
  const size = check(options.packetSize ?? 64, 'packetSize', 1, 1200)
  const minI = check(options.minInterval ?? 10, 'minInterval', 1, 60_000)
  const maxI = check(options.maxInterval ?? 200, 'maxInterval', minI, 60_000)
  const cs = addr.components()
  const host = cs[0]
  if (host === undefined || cs[1]?.code !== CODE.udp || !HOSTS.has(host.code)) {
    throw new RangeError(`not a UDP address: ${addr.toString()}`)
  }
  const port = Number(cs[1].value)
  let sent = 0
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let finish: (n: number) => void = () => {}
  const done = new Promise<number>((resolve) => { finish = resolve })
  const end = (): void => {
    if (stopped) return
    stopped = true
    clearTimeout(timer)
    clearTimeout(deadline)
    finish(sent)
  }
  const deadline = setTimeout(end, timeout)
  deadline.unref?.()

  const run = (address: string): void => {
    const tick = (): void => {
      if (stopped) return
      if (sent >= maxPackets) return end()
      const data = new Uint8Array(size)
      randomFillSync(data)
      data[0]! &= 0x3f
      if (!sendRawDatagram(transport, { address, port }, data)) {
        // no listening socket of that family (or it closed): nothing to punch from
        if (sent === 0) return end()
      } else sent++
      if (sent >= maxPackets) return end()
      timer = setTimeout(tick, minI + Math.floor(Math.random() * (maxI - minI + 1)))
      timer.unref?.()
    }
    tick()
  }
  if (host.code === CODE.ip4 || host.code === CODE.ip6) run(host.value!)
  else {
    const family = host.code === CODE.dns4 ? 4 : host.code === CODE.dns6 ? 6 : 0
    lookup(host.value!, { family }).then((r) => run(r.address), () => end())
  }
  return {
    get sent() { return sent },
    stop: end,
    done,
  }
}
