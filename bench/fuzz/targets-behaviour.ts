/**
 * Targets for the protocols behind a connection, at the behaviour level: identify, Kademlia and
 * gossipsub. Each input is either one message for the decoder alone, or a program of swarm inputs
 * (inbound streams carrying generated, mutated, re-chunked messages; EOFs, resets, outbound streams
 * granted or refused, connections closing, time passing) for the behaviour itself.
 *
 * Escapes: anything a behaviour throws from `handle`/`handleTimeout` (a behaviour must turn remote
 * garbage into a reset stream, never an exception), an action on a stream the driver never gave it or
 * after it closed its write side, and the step bound (a behaviour that keeps producing actions).
 */
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed, sealPeerRecord } from '../../src/peer-id/index.js'
import type { Behaviour, ConnectionInfo, StreamRef } from '../../src/swarm/behaviour.js'
import { IdentifyBehaviour, decodeIdentify, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL } from '../../src/identify/index.js'
import { KadBehaviour, KAD_PROTOCOL, decodeKadMessage } from '../../src/kad/index.js'
import { GossipsubBehaviour, decodeRpc } from '../../src/gossipsub/index.js'
import { bounded, check, count, type Target } from './engine.js'
import { Program, ProgramWriter, concatBytes, deliver, mutate, mutateOnce } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const LOCAL = privateKeyFromSeed(new Uint8Array(32).fill(0x31), crypto)
const REMOTE = privateKeyFromSeed(new Uint8Array(32).fill(0x32), crypto)
const OTHERS = [0x33, 0x34, 0x35].map((b) => privateKeyFromSeed(new Uint8Array(32).fill(b), crypto))
const ADDRS = ['/ip4/10.0.0.1/tcp/4001', '/ip6/::1/udp/1/quic-v1', '/dns4/example.com/tcp/443/wss', '/ip4/1.2.3.4/tcp/1/p2p/' + REMOTE.publicKey.toPeerId(crypto).toString()]
  .map((a) => Multiaddr.fromString(a))
const SPR = [REMOTE, ...OTHERS].map((k) => sealPeerRecord(k, { peerId: k.publicKey.toPeerId(crypto), seq: 7n, addrs: ADDRS.slice(0, 2) }, crypto).bytes)

const peerIdBytes = (r: Rand): Uint8Array => (r.chance(0.9) ? r.pick([REMOTE, LOCAL, ...OTHERS]).publicKey.toPeerId(crypto).multihash : r.bytes(r.size(40)))
const addrBytes = (r: Rand): Uint8Array => (r.chance(0.9) ? r.pick(ADDRS).bytes : r.bytes(r.size(20)))
const topic = (r: Rand): string => (r.chance(0.9) ? r.pick(['t', 'news', 'blocks']) : r.text(r.size(300), 'abc/'))

export const IDENTIFY_SCHEMA: Schema = {
  1: { gen: (r) => (r.chance(0.8) ? REMOTE.publicKey.bytes : r.bytes(r.size(64))) },
  2: { gen: addrBytes },
  3: { text: (r) => r.pick([IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, KAD_PROTOCOL, '/meshsub/1.1.0', r.text(r.size(40), 'ab/')]) },
  4: { gen: addrBytes },
  5: 'string',
  6: 'string',
  8: { gen: (r) => r.pick(SPR) },
}
const KAD_PEER: Schema = { 1: { gen: peerIdBytes }, 2: { gen: addrBytes }, 3: { oneOf: [0, 1, 2, 3] } }
/** Keys as the DHT uses them: peer ids (FIND_NODE), CIDs/multihashes (providers), /pk/ and /ipns/ record keys. */
const kadKey = (r: Rand): Uint8Array => {
  const mh = peerIdBytes(r)
  switch (r.int(6)) {
    case 0: return mh
    case 1: return concatBytes([Uint8Array.of(0x12, 0x20), r.bytes(32)])
    case 2: return concatBytes([new TextEncoder().encode('/pk/'), mh])
    case 3: return concatBytes([new TextEncoder().encode('/ipns/'), mh])
    case 4: return r.bytes(r.size(200))
    default: return r.bytes(r.chance(0.5) ? 0 : 1 + r.int(2000))
  }
}
export const KAD_SCHEMA: Schema = {
  1: { oneOf: [0, 1, 2, 3, 4, 5] },
  10: 'varint',
  2: { gen: kadKey },
  3: { msg: { 1: { gen: kadKey }, 2: { gen: (r) => (r.chance(0.3) ? r.pick([REMOTE, ...OTHERS]).publicKey.bytes : r.bytes(r.size(300))) }, 5: { text: (r) => r.pick(['2026-12-06T04:00:00Z', '', 'x']) } } },
  8: { msg: KAD_PEER },
  9: { msg: KAD_PEER },
}
const IDS = { gen: (r: Rand) => (r.chance(0.5) ? concatBytes([peerIdBytes(r), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, r.int(4))]) : r.bytes(r.size(64))) }
export const GOSSIP_SCHEMA: Schema = {
  1: { msg: { 1: 'bool', 2: { text: topic } } },
  2: { msg: { 1: { gen: peerIdBytes }, 2: 'bytes', 3: { gen: (r) => r.bytes(r.chance(0.9) ? 8 : r.size(12)) }, 4: { text: topic }, 5: 'bytes', 6: 'bytes' } },
  3: {
    msg: {
      1: { msg: { 1: { text: topic }, 2: IDS } },
      2: { msg: { 1: IDS } },
      3: { msg: { 1: { text: topic } } },
      4: { msg: { 1: { text: topic }, 2: { msg: { 1: { gen: peerIdBytes }, 2: { gen: (r) => r.pick(SPR) } } }, 3: 'varint' } },
      5: { msg: { 1: IDS } },
    },
  },
}

export interface Proto {
  protocols: readonly string[]
  schema: Schema
  make(): Behaviour<unknown>
  decode(b: Uint8Array): void
  /** Identify is one message then EOF; the others are length-prefixed message streams. */
  message(r: Rand): Uint8Array
  /** Bounded-state checks after every drain (throw an Escape through `check`). */
  invariant?(b: Behaviour<unknown>): void
}

function rand32(): (n: number) => Uint8Array {
  return (n) => crypto.randomBytes(n)
}

const connInfo = (id: number): ConnectionInfo => ({
  id, peer: REMOTE.publicKey.toPeerId(crypto), remotePublicKey: REMOTE.publicKey,
  remoteAddr: ADDRS[0]!, localAddr: undefined, direction: id % 2 === 0 ? 'outbound' : 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
})

const enum BOp { Inbound, Data, Eof, Reset, Advance, Reconnect, Outbound, Writable, Closed }

export function behaviourTarget(name: string, proto: Proto): Target {
  const stats: Record<string, number> = {}
  return {
    name,
    stats,
    generate(r) {
      if (r.chance(0.15)) {
        const a = genMessage(r, proto.schema)
        return concatBytes([Uint8Array.of(0), mutate(r, a, [genMessage(r, proto.schema)])])
      }
      const w = new ProgramWriter().u8(1 + r.int(255)).u8(r.int(256))
      const n = 1 + r.int(14)
      for (let i = 0; i < n; i++) {
        const op = r.chance(0.4) ? BOp.Data : r.int(9)
        w.op(op)
        if (op === BOp.Inbound) w.u8(r.int(8))
        else if (op === BOp.Data) {
          const msgs = Array.from({ length: 1 + r.int(3) }, () => proto.message(r))
          w.u8(r.int(8)).blob(mutate(r, concatBytes(msgs), msgs, 2))
        } else if (op === BOp.Advance) w.u16(r.chance(0.5) ? r.int(2000) : r.int(65536))
        else w.u8(r.int(8))
      }
      const prog = w.finish()
      return r.chance(0.1) ? mutateOnce(r, prog) : prog
    },
    run(input) {
      if ((input[0] ?? 0) === 0) { proto.decode(input.subarray(1)); count(stats, 'decoded'); return }
      crypto.reset()
      const p = new Program(input)
      p.u8()
      const schedule = p.u8()
      const r = new Rand(schedule)
      const b = proto.make()
      let now = 0
      let conn = 1
      let nextStream = 1
      const step = bounded(200_000, name)
      // streams the behaviour holds: key -> write side closed?
      const open = new Map<string, { ref: StreamRef; writeClosed: boolean }>()
      const pendingOpens: number[] = []
      const key = (s: StreamRef): string => `${s.connection}/${s.stream}`
      const drain = (): void => {
        for (let a = b.pollAction(); a !== undefined; a = b.pollAction()) {
          step()
          count(stats, a.type === 'event' ? `event ${(a.event as { type?: string }).type}` : a.type)
          if (a.type === 'open-stream') pendingOpens.push(a.requestId)
          else if (a.type === 'write' || a.type === 'close-write' || a.type === 'reset') {
            const s = open.get(key(a.stream))
            check(s !== undefined, `${name}: ${a.type} on stream ${key(a.stream)} it does not hold`)
            check(a.type !== 'write' || !s.writeClosed, `${name}: write after close-write`)
            if (a.type === 'close-write') s.writeClosed = true
            if (a.type === 'reset') open.delete(key(a.stream))
          }
        }
        const t = b.pollTimeout()
        if (t !== undefined && t <= now) { step(); b.handleTimeout(now); drain() }
        proto.invariant?.(b)
      }
      const pick = (i: number): StreamRef | undefined => {
        const xs = [...open.values()]
        return xs.length === 0 ? undefined : xs[i % xs.length]!.ref
      }
      b.handle(now, { type: 'local-info', listenAddrs: ADDRS.slice(0, 2), protocols: [...proto.protocols] })
      b.handle(now, { type: 'connection-established', connection: connInfo(conn) })
      drain()
      for (let i = 0; !p.done && i < 64; i++) {
        const op = p.u8() % 9
        switch (op) {
          case BOp.Inbound: {
            const stream = { connection: conn, stream: nextStream++ }
            open.set(key(stream), { ref: stream, writeClosed: false })
            b.handle(now, { type: 'stream-opened', stream, protocol: proto.protocols[p.u8() % proto.protocols.length]!, direction: 'inbound', connection: connInfo(conn) })
            break
          }
          case BOp.Data: {
            const s = pick(p.u8())
            const blob = p.blob()
            if (s !== undefined) deliver(blob, schedule, r, (piece) => { if (!open.has(key(s))) return false; b.handle(now, { type: 'stream-data', stream: s, data: piece.slice() }); drain(); return true })
            break
          }
          case BOp.Eof: { const s = pick(p.u8()); if (s !== undefined) b.handle(now, { type: 'stream-eof', stream: s }); break }
          case BOp.Reset: {
            const s = pick(p.u8())
            if (s !== undefined) { open.delete(key(s)); b.handle(now, { type: 'stream-reset', stream: s }); b.handle(now, { type: 'stream-closed', stream: s }) }
            break
          }
          case BOp.Advance: now += p.u16(); break
          case BOp.Reconnect: {
            p.u8()
            for (const s of open.values()) if (s.ref.connection === conn) open.delete(key(s.ref))
            b.handle(now, { type: 'connection-closed', connection: connInfo(conn) })
            conn++
            b.handle(now, { type: 'connection-established', connection: connInfo(conn) })
            break
          }
          case BOp.Outbound: {
            const grant = p.u8()
            const req = pendingOpens.shift()
            if (req === undefined) break
            if (grant % 4 === 0) b.handle(now, { type: 'stream-open-failed', requestId: req, error: new Error('refused') })
            else {
              const stream = { connection: conn, stream: nextStream++ }
              open.set(key(stream), { ref: stream, writeClosed: false })
              b.handle(now, { type: 'stream-opened', stream, protocol: proto.protocols[grant % proto.protocols.length]!, direction: 'outbound', connection: connInfo(conn), requestId: req })
            }
            break
          }
          case BOp.Writable: { const s = pick(p.u8()); if (s !== undefined) b.handle(now, { type: 'stream-writable', stream: s }); break }
          default: {
            const s = pick(p.u8())
            if (s !== undefined) { open.delete(key(s)); b.handle(now, { type: 'stream-closed', stream: s }) }
          }
        }
        drain()
      }
    },
  }
}

export const identifyTarget = behaviourTarget('identify', {
  protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL],
  schema: IDENTIFY_SCHEMA,
  make: () => new IdentifyBehaviour({ crypto, identity: LOCAL, agentVersion: 'fuzz/1', maxPushStreams: 2 }),
  decode: (b) => { decodeIdentify(b, 8192) },
  message: (r) => (r.chance(0.7) ? encodeLp(genMessage(r, IDENTIFY_SCHEMA)) : genMessage(r, IDENTIFY_SCHEMA)),
})

export const kadTarget = behaviourTarget('kad', {
  protocols: [KAD_PROTOCOL],
  schema: KAD_SCHEMA,
  make: () => new KadBehaviour({ crypto, random: rand32(), peerId: LOCAL.publicKey.toPeerId(crypto), mode: 'server' }),
  decode: (b) => { decodeKadMessage(b) },
  message: (r) => encodeLp(genMessage(r, KAD_SCHEMA)),
})

export const gossipsubTarget = behaviourTarget('gossipsub', {
  protocols: ['/meshsub/1.2.0', '/meshsub/1.1.0', '/meshsub/1.0.0', '/floodsub/1.0.0'],
  schema: GOSSIP_SCHEMA,
  make: () => {
    const g = new GossipsubBehaviour({ random: rand32(), crypto, privateKey: LOCAL })
    g.subscribe(0, 't')
    return g as unknown as Behaviour<unknown>
  },
  decode: (b) => { decodeRpc(b) },
  message: (r) => encodeLp(genMessage(r, GOSSIP_SCHEMA)),
})

