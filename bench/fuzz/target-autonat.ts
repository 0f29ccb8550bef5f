/**
 * AutoNAT target (src/autonat): the v1 and v2 codecs, their framing, the dial-back messages, and the
 * behaviour fed hostile streams (server: a v2 dial-request and a v1 request; client: the answer to a
 * probe). The first input byte picks the mode and the chunking; the rest is a schema-generated
 * message (valid multiaddrs most of the time), or several framed ones, mutated.
 * Checks: only ProtocolError('autonat', 'autonat/...') escapes a codec; decoded messages re-encode to
 * a fixed point; frame decoders stay bounded; the behaviour never throws; the server dials at most
 * one address per v2 request and never an IP other than the observed one unless it received at
 * least minDialDataBytes of dial data; v1 dials only the observed IP; the client never pays more
 * than maxDialDataBytes.
 */
import { ProtocolError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import type { BehaviourAction, ConnectionInfo } from '../../src/swarm/behaviour.js'
import {
  AUTONAT_V1_PROTOCOL, AutoNATBehaviour, DEFAULT_CLIENT_OPTIONS, DEFAULT_SERVER_OPTIONS, DEFAULT_V1_LIMITS, DEFAULT_V2_LIMITS, DIAL_REQUEST_PROTOCOL,
  decodeDialBack, decodeV1Message, decodeV2Message, encodeDialBack, encodeV1Message, encodeV2Message, v1FrameDecoder, v2FrameDecoder,
  type AutoNATEvent,
} from '../../src/autonat/index.js'
import { bounded, check, count, type Target } from './engine.js'
import { concatBytes, deliver, mutate } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const keys = [31, 32].map((i) => privateKeyFromSeed(new Uint8Array(32).fill(i), crypto))
const SERVER = keys[0]!.publicKey.toPeerId(crypto)
const CLIENT = keys[1]!.publicKey.toPeerId(crypto)
const ADDRS = [
  '/ip4/11.0.0.30/tcp/4001', '/ip4/11.0.0.99/tcp/4001', `/ip4/11.0.0.30/tcp/4002/p2p/${CLIENT.toString()}`, '/ip6/2001:db8::2/tcp/4001', '/ip4/10.0.0.2/tcp/4001',
  '/ip4/11.0.0.10/tcp/4001/p2p-circuit', '/dns4/c.example/tcp/443/wss', '/ip4/11.0.0.30/udp/4001/quic-v1',
].map((s) => Multiaddr.fromString(s).bytes)
const addr = { gen: (r: Rand) => (r.chance(0.9) ? r.pick(ADDRS) : r.bytes(r.size(40))) }
const data = { gen: (r: Rand) => new Uint8Array(r.chance(0.7) ? r.pick([100, 4096, 1, 99, 4097, 30_000]) : r.size(5000)) }
const V2: Schema = {
  1: { msg: { 1: addr, 2: 'fixed64' } },
  2: { msg: { 1: { oneOf: [0, 100, 101, 200] }, 2: { oneOf: [0, 1, 2] }, 3: { oneOf: [0, 100, 101, 200] } } },
  3: { msg: { 1: { oneOf: [0, 1] }, 2: { oneOf: [30_000, 100_000, 100_001, 1] } } },
  4: { msg: { 1: data } },
}
const PEER_ID = { gen: (r: Rand) => (r.chance(0.9) ? (r.chance(0.8) ? CLIENT : SERVER).multihash : r.bytes(r.size(40))) }
const V1: Schema = {
  1: { oneOf: [0, 1] },
  2: { msg: { 1: { msg: { 1: PEER_ID, 2: addr } } } },
  3: { msg: { 1: { oneOf: [0, 100, 101, 200, 300] }, 2: 'string', 3: addr } },
}

const dialRequest = (r: Rand): Uint8Array =>
  encodeV2Message({ type: 'dial-request', addrs: r.chance(0.5) ? [ADDRS[1]!] : Array.from({ length: 1 + r.int(3) }, () => addr.gen(r)), nonce: r.chance(0.5) ? 0n : 12345n })
const dataChunk = (r: Rand): Uint8Array => encodeV2Message({ type: 'dial-data-response', data: new Uint8Array((r.chance(0.9) ? 4096 : r.pick([100, 2000, 99, 1, 4097]))) })
const clientAnswer = (r: Rand): Uint8Array =>
  r.chance(0.5)
    ? encodeV2Message({ type: 'dial-data-request', addrIdx: r.pick([0, 0, 1]), numBytes: BigInt(r.pick([30_000, 100_000, 100_001, 0, 1])) })
    : encodeV2Message({ type: 'dial-response', status: r.pick([200, 200, 100, 101, 0, 7]), addrIdx: r.pick([0, 0, 1]), dialStatus: r.pick([200, 100, 101, 0, 9]) })

const OBSERVED = '/ip4/11.0.0.30/tcp/50000'
const conn = (peer: typeof CLIENT, key: (typeof keys)[0], remote: string, direction: 'inbound' | 'outbound'): ConnectionInfo => ({
  id: 1, peer, remotePublicKey: key.publicKey, remoteAddr: Multiaddr.fromString(remote), localAddr: Multiaddr.fromString('/ip4/11.0.0.23/tcp/4001'),
  direction, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
})
const FROM_CLIENT = conn(CLIENT, keys[1]!, OBSERVED, 'inbound')
const TO_SERVER = conn(SERVER, keys[0]!, '/ip4/11.0.0.23/tcp/4001', 'outbound')

const stats: Record<string, number> = {}
const MODES = 7

export const autonatTarget: Target = {
  name: 'autonat',
  stats,
  generate(r) {
    const mode = r.int(256)
    const m = mode % MODES
    const one = (): Uint8Array => (m === 1 || m === 5 ? genMessage(r, V1) : genMessage(r, V2))
    let body: Uint8Array
    if (m === 0 || m === 1) body = one()
    else if (m === 3) body = r.chance(0.8) ? encodeDialBack(r.chance(0.5) ? 0n : 0xfedcba9876543210n) : r.bytes(r.size(20))
    else if (m === 4) body = concatBytes([encodeLp(dialRequest(r)), ...Array.from({ length: r.int(30) }, () => encodeLp(r.chance(0.9) ? dataChunk(r) : one()))])
    else if (m === 5 && r.chance(0.6)) body = encodeLp(encodeV1Message({ type: 'dial', peer: { id: r.chance(0.9) ? CLIENT : SERVER, addrs: Array.from({ length: r.int(20) }, () => addr.gen(r)) } }))
    else if (m === 6) body = concatBytes(Array.from({ length: 1 + r.int(3) }, () => encodeLp(r.chance(0.6) ? clientAnswer(r) : one())))
    else body = concatBytes(Array.from({ length: 1 + r.int(3) }, () => encodeLp(one())))
    return concatBytes([Uint8Array.of(mode), r.chance(0.5) && m >= 4 ? body : mutate(r, body)])
  },
  run(input) {
    try {
      runAutonat(input)
    } catch (e) {
      if (e instanceof ProtocolError) check(e.protocol === 'autonat' && e.code.startsWith('autonat/'), `ProtocolError(${e.protocol}, ${e.code}) escaped the autonat codec`)
      throw e
    }
  },
}

function runAutonat(input: Uint8Array): void {
  const mode = input[0] ?? 0
  const b = input.subarray(1)
  switch (mode % MODES) {
    case 0: {
      const once = encodeV2Message(decodeV2Message(b))
      check(equals(encodeV2Message(decodeV2Message(once)), once), 'v2 Message: encode(decode(x)) is not a fixed point')
      return
    }
    case 1: {
      const once = encodeV1Message(decodeV1Message(b))
      check(equals(encodeV1Message(decodeV1Message(once)), once), 'v1 Message: encode(decode(x)) is not a fixed point')
      return
    }
    case 2: {
      const v2 = v2FrameDecoder()
      const v1 = v1FrameDecoder()
      deliver(b, mode >> 3, new Rand(mode), (piece) => {
        v2.push(piece)
        v1.push(piece)
        try { while (v2.next() !== undefined); } catch (e) { if (!(e instanceof ProtocolError)) throw e }
        while (v1.next() !== undefined);
        check(v2.buffered <= DEFAULT_V2_LIMITS.maxMessageSize + 9 && v1.buffered <= DEFAULT_V1_LIMITS.maxMessageSize + 9, 'autonat frame decoder over its bound')
      })
      return
    }
    case 3:
      decodeDialBack(b)
      return
    default:
      return runBehaviour(mode, b)
  }
}

/** The behaviour contains every remote error; nothing may throw, and the dial rules hold. */
function runBehaviour(mode: number, b: Uint8Array): void {
  const m = mode % MODES
  const bh = new AutoNATBehaviour({ peerId: SERVER, random: (n) => new Uint8Array(n).fill(mode), client: m === 6 ? { serverThrottle: 0 } : false, server: m === 6 ? false : { amplificationJitter: 0 } })
  const step = bounded(100_000, 'autonat behaviour')
  const acts: BehaviourAction<AutoNATEvent>[] = []
  const drain = (): void => {
    for (let a = bh.pollAction(); a !== undefined; a = bh.pollAction()) {
      step()
      acts.push(a)
    }
  }
  const stream = { connection: 1, stream: 1 }
  if (m === 6) {
    bh.handle(0, { type: 'local-info', listenAddrs: [Multiaddr.fromString('/ip4/0.0.0.0/tcp/4001')], protocols: [] })
    bh.handle(0, { type: 'connection-established', connection: TO_SERVER })
    bh.handle(0, { type: 'peer-info', peer: SERVER, info: { protocols: [DIAL_REQUEST_PROTOCOL] }, from: 'identify' })
    bh.handle(0, { type: 'observed-addr', connection: TO_SERVER, addr: Multiaddr.fromString('/ip4/11.0.0.30/tcp/50000') })
    drain()
    const open = acts.find((a) => a.type === 'open-stream')
    check(open !== undefined && open.type === 'open-stream', 'the client did not probe')
    bh.handle(0, { type: 'stream-opened', stream, protocol: DIAL_REQUEST_PROTOCOL, direction: 'outbound', connection: TO_SERVER, requestId: open.requestId })
  } else {
    bh.handle(0, { type: 'local-info', listenAddrs: [Multiaddr.fromString('/ip4/11.0.0.23/tcp/4001')], protocols: [] })
    bh.handle(0, { type: 'stream-opened', stream, protocol: m === 5 ? AUTONAT_V1_PROTOCOL : DIAL_REQUEST_PROTOCOL, direction: 'inbound', connection: FROM_CLIENT })
  }
  drain()
  deliver(b, b.length > 8192 ? 0 : mode >> 3, new Rand(mode), (piece) => {
    bh.handle(1, { type: 'stream-data', stream, data: piece })
    drain()
  })
  // every dial fails, so the request ends and reports what it received
  for (const a of [...acts]) if (a.type === 'dial') bh.handle(2, { type: 'dial-failed', requestId: a.requestId, error: new Error('fuzz') })
  bh.handleTimeout(120_000)
  drain()
  const dials = acts.filter((a) => a.type === 'dial')
  const served = acts.flatMap((a) => (a.type === 'event' && a.event.type === 'served' ? [a.event] : []))
  if (m === 4) {
    check(dials.length <= 1, `${dials.length} dials for one v2 request`)
    for (const d of dials) {
      const t = d.addrs![0]!
      check(t.getPeerId() === CLIENT.toString(), `v2 dial without the client's /p2p/: ${t.toString()}`)
      if (!t.toString().startsWith('/ip4/11.0.0.30/')) {
        const paid = served[0]?.dialDataBytes ?? 0
        check(paid >= DEFAULT_SERVER_OPTIONS.minDialDataBytes, `v2 dial of ${t.toString()} after ${paid} bytes of dial data`)
        count(stats, 'v2-paid-dial')
      } else count(stats, 'v2-dial')
    }
  } else if (m === 5) {
    for (const d of dials) check(d.addrs![0]!.toString().startsWith('/ip4/11.0.0.30/'), `v1 dial of another IP: ${d.addrs![0]!.toString()}`)
    count(stats, dials.length > 0 ? 'v1-dial' : 'v1-no-dial')
  } else {
    const paid = acts.filter((a) => a.type === 'write').reduce((n, a) => n + (a.type === 'write' ? a.data.length : 0), 0)
    check(paid <= DEFAULT_CLIENT_OPTIONS.maxDialDataBytes + 4200 + 512, `the client wrote ${paid} bytes`)
    count(stats, paid > 4200 ? 'client-paid' : 'client-no-pay')
  }
}
