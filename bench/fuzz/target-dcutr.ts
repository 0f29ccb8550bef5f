/**
 * DCUtR target (src/dcutr): the HolePunch codec, its framing on a stream, and the behaviour on side A
 * (a remote B writing hostile bytes on a dcutr stream over our outbound relayed connection). The
 * first input byte picks the mode and the chunking; the rest is a schema-generated HolePunch
 * (valid multiaddrs most of the time) or two framed ones, mutated.
 * Checks: only ProtocolError('dcutr', 'dcutr/...') escapes the codec; a decoded message re-encodes
 * to a fixed point; the frame decoder's buffer stays bounded; the behaviour never throws, dials at
 * most maxAddrs addresses, and only TCP ones with the remote's /p2p/.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import { DCUTR_PROTOCOL, DEFAULT_DCUTR_MESSAGE_LIMITS, DcutrBehaviour, HolePunchDecoder, decodeHolePunch, encodeHolePunch } from '../../src/dcutr/index.js'
import type { ConnectionInfo } from '../../src/swarm/behaviour.js'
import { bounded, check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const B_KEY = privateKeyFromSeed(new Uint8Array(32).fill(21), crypto)
const B = B_KEY.publicKey.toPeerId(crypto)
const ADDRS = [
  '/ip4/11.0.0.2/tcp/50002', `/ip4/11.0.0.2/tcp/50002/p2p/${B.toString()}`, '/ip6/2001:db8::2/tcp/4001', '/ip4/11.0.0.2/udp/4001/quic-v1',
  '/ip4/11.0.0.10/tcp/4001/p2p-circuit', '/dns4/b.example/tcp/443/wss',
].map((s) => Multiaddr.fromString(s).bytes)
const addr = { gen: (r: Rand) => (r.chance(0.9) ? r.pick(ADDRS) : r.bytes(r.size(40))) }
const HOLE_PUNCH: Schema = { 1: { oneOf: [100, 300, 0, 200] }, 2: addr }

/** A CONNECT built field by field (type 100, then 0..40 address entries, some of them garbage). */
function connect(r: Rand): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x08, 0x64)]
  for (let i = r.int(41); i > 0; i--) {
    const a = addr.gen(r)
    parts.push(encodeLp(a).length < 128 ? concatBytes([Uint8Array.of(0x12), encodeLp(a)]) : Uint8Array.of(0x12, 0x00))
  }
  return concatBytes(parts)
}
const RELAYED: ConnectionInfo = {
  id: 1, peer: B, remotePublicKey: B_KEY.publicKey, remoteAddr: Multiaddr.fromString('/ip4/11.0.0.10/tcp/4001/p2p-circuit'),
  localAddr: undefined, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: true,
}

const stats: Record<string, number> = {}

export const dcutrTarget: Target = {
  name: 'dcutr',
  stats,
  generate(r) {
    const mode = r.int(256)
    const body = mode % 3 === 0
      ? genMessage(r, HOLE_PUNCH)
      : mode % 3 === 1
        ? concatBytes([encodeLp(genMessage(r, HOLE_PUNCH)), encodeLp(genMessage(r, HOLE_PUNCH))])
        : concatBytes([encodeLp(connect(r)), encodeLp(r.chance(0.8) ? Uint8Array.of(0x08, 0xac, 0x02) : genMessage(r, HOLE_PUNCH))]) // A: CONNECT then SYNC
    // side A's inputs reach the dials only when the two frames survive: mutate half of them
    return concatBytes([Uint8Array.of(mode), mode % 3 === 2 && r.chance(0.5) ? body : mutate(r, body)])
  },
  run(input) {
    try {
      runDcutr(input)
    } catch (e) {
      if (e instanceof ProtocolError) check(e.protocol === 'dcutr' && e.code.startsWith('dcutr/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the dcutr codec`)
      throw e
    }
  },
}

function runDcutr(input: Uint8Array): void {
  const mode = input[0] ?? 0
  const b = input.subarray(1)
  if (mode % 3 === 0) {
    const once = encodeHolePunch(decodeHolePunch(b))
    check(equals(encodeHolePunch(decodeHolePunch(once)), once), 'HolePunch: encode(decode(x)) is not a fixed point')
    return
  }
  if (mode % 3 === 1) {
    const dec = new HolePunchDecoder()
    deliver(b, mode >> 2, new Rand(mode), (piece) => {
      dec.push(piece)
      while (dec.next() !== undefined);
      check(dec.buffered <= DEFAULT_DCUTR_MESSAGE_LIMITS.maxMessageSize + 9, `HolePunchDecoder buffers ${dec.buffered}`)
    })
    return
  }
  // A: the behaviour contains every remote error (reset + event); nothing may throw.
  const a = new DcutrBehaviour({ punchPort: () => 50001, quicPunch: true })
  a.handle(0, { type: 'local-info', listenAddrs: [Multiaddr.fromString('/ip4/10.0.1.2/udp/4001/quic-v1')], protocols: [DCUTR_PROTOCOL] })
  a.handle(0, { type: 'reachability', reachable: true, externalAddrs: [Multiaddr.fromString('/ip4/11.0.0.1/tcp/50001')] })
  a.handle(0, { type: 'connection-established', connection: RELAYED })
  const stream = { connection: 1, stream: 1 }
  a.handle(0, { type: 'stream-opened', stream, protocol: DCUTR_PROTOCOL, direction: 'inbound', connection: RELAYED })
  const step = bounded(100_000, 'dcutr behaviour')
  let dials = 0
  const drain = (): void => {
    for (let act = a.pollAction(); act !== undefined; act = a.pollAction()) {
      step()
      if (act.type === 'event' && act.event.type === 'failed') count(stats, `a-failed ${(act.event.error as { code?: string }).code ?? '?'}`)
      if (act.type !== 'dial') continue
      dials++
      const target = act.addrs?.[0]
      check(target !== undefined && target.getPeerId() === B.toString(), `dial without the remote's /p2p/: ${String(target)}`)
      const names = target.protos().map((p) => p.name).join('/')
      check(/^(ip4|ip6|dns|dns4|dns6)\/(tcp\/p2p|udp\/quic-v1\/p2p)$/.test(names), `dial of an address that is neither TCP nor QUIC v1: ${target.toString()}`)
    }
  }
  deliver(b, mode >> 2, new Rand(mode), (piece) => {
    a.handle(1, { type: 'stream-data', stream, data: piece })
    drain()
  })
  a.handleTimeout(60_000)
  drain()
  check(dials <= DEFAULT_DCUTR_MESSAGE_LIMITS.maxAddrs, `${dials} dials for one CONNECT`)
  count(stats, dials > 0 ? 'a-dialed' : 'a-no-dial')
}
