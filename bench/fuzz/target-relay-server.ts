/**
 * Circuit Relay v2 server target (src/relay/server*.ts): a program of swarm inputs for the relay
 * behaviour with four peers on direct or relayed connections: hop streams carrying generated,
 * mutated, re-chunked RESERVE / CONNECT / STATUS messages; the stop streams the relay asks for,
 * granted or refused, answered with mutated StopMessages; bytes on spliced circuits; EOFs, resets,
 * writability, connections closing, time passing. Tight limits so every cap is reached.
 *
 * Escapes: anything the behaviour throws; an action on a stream the driver never gave it or after
 * it reset it or closed its write side; a `consume` crediting more bytes than arrived on that stream
 * after its `manual-consume` (flow accounting); more circuits or reservations than the caps allow;
 * once every connection has closed, a circuit, a reservation or a connection-manager tag left over;
 * the step bound.
 */
import { encodeHopFrame, encodeStopFrame, CircuitRelayServer, HOP_PROTOCOL, STOP_PROTOCOL } from '../../src/relay/index.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import type { ConnectionInfo, StreamRef } from '../../src/swarm/behaviour.js'
import { bounded, check, count, type Target } from './engine.js'
import { Program, ProgramWriter, concatBytes, deliver, mutate, mutateOnce } from './mutate.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const RELAY = privateKeyFromSeed(new Uint8Array(32).fill(0x51), crypto)
const PEERS = [0x52, 0x53, 0x54, 0x55].map((b) => privateKeyFromSeed(new Uint8Array(32).fill(b), crypto))
const IDS = PEERS.map((k) => k.publicKey.toPeerId(crypto))
const ADDRS = ['/ip4/11.0.0.2/tcp/1', '/ip4/11.0.0.2/tcp/2', '/ip6/2001:4860::1/tcp/1', '/ip4/11.0.0.9/tcp/1'].map((a) => Multiaddr.fromString(a))
const CIRCUIT_ADDR = Multiaddr.fromString(`/ip4/11.0.0.7/tcp/1/p2p/${IDS[3]!.toString()}/p2p-circuit`)
const LIMITS = {
  maxReservations: 3, maxReservationsPerIp: 2, maxCircuits: 3, maxCircuitsPerPeer: 2, limitData: 2000, limitDuration: 5000,
  hopTimeout: 3000, connectTimeout: 2000, reservationRatePerPeer: { burst: 3, intervalMs: 1000 }, reservationRatePerIp: { burst: 4, intervalMs: 1000 },
  maxRateEntries: 3,
}

const enum Op { Connect, Disconnect, HopOpen, Data, Eof, Reset, Closed, Advance, Grant, Writable }
const OPS = 10

function hopMessage(r: Rand): Uint8Array {
  switch (r.int(4)) {
    case 0: return encodeHopFrame({ type: 0 })
    case 1: return encodeHopFrame({ type: 1, peer: { id: r.pick(IDS), addrs: r.chance(0.2) ? [ADDRS[0]!] : [] } })
    case 2: return encodeHopFrame({ type: 2, status: r.pick([100, 200, 400]) })
    default: return r.bytes(r.size(64))
  }
}

function stopMessage(r: Rand): Uint8Array {
  if (r.chance(0.7)) return encodeStopFrame({ type: 1, status: r.chance(0.8) ? 100 : r.pick([203, 201, 0, 999]) })
  if (r.chance(0.5)) return encodeStopFrame({ type: 0, peer: { id: r.pick(IDS), addrs: [] } })
  return r.bytes(r.size(64))
}

interface Held {
  ref: StreamRef
  writeClosed: boolean
  manual: boolean
  /** Bytes delivered after manual-consume, and bytes credited back by the behaviour. */
  manualIn: number
  consumed: number
}

const stats: Record<string, number> = {}

export const relayServerTarget: Target = {
  name: 'relay-server',
  stats,
  generate(r) {
    const w = new ProgramWriter().u8(r.int(256))
    const n = 2 + r.int(30)
    // most programs start with a circuit (peer 0 reserves, peer 1 connects to it, the stop stream is
    // granted and answers OK), so the random part exercises splicing, limits and teardown too
    w.op(Op.Connect).u8(0).op(Op.Connect).u8(1).op(Op.HopOpen).u8(0).op(Op.Data).u8(0).blob(encodeHopFrame({ type: 0 }))
    if (r.chance(0.7)) {
      w.op(Op.HopOpen).u8(1).op(Op.Data).u8(1).blob(encodeHopFrame({ type: 1, peer: { id: IDS[0]!, addrs: [] } }))
      w.op(Op.Grant).u8(1).op(Op.Data).u8(2).blob(encodeStopFrame({ type: 1, status: 100 }))
    }
    for (let i = 0; i < n; i++) {
      const op = r.chance(0.35) ? Op.Data : r.int(OPS)
      w.op(op)
      if (op === Op.Data) {
        const which = r.int(256)
        const body = r.chance(0.5) ? concatBytes([hopMessage(r), r.chance(0.3) ? r.bytes(r.size(3000)) : new Uint8Array(0)]) : stopMessage(r)
        w.u8(which).blob(r.chance(0.4) ? mutate(r, body, [hopMessage(r), stopMessage(r)], 2) : body)
      } else if (op === Op.Advance) w.u16(r.chance(0.5) ? r.int(3000) : r.int(65536))
      else w.u8(r.int(256))
    }
    const prog = w.finish()
    return r.chance(0.1) ? mutateOnce(r, prog) : prog
  },
  run(input) {
    crypto.reset()
    const p = new Program(input)
    const schedule = p.u8()
    const r = new Rand(schedule)
    const b = new CircuitRelayServer({ ...LIMITS, peerId: RELAY.publicKey.toPeerId(crypto), privateKey: RELAY, crypto, epoch: 1_800_000_000_000 })
    let now = 0
    let nextConn = 1
    let nextStream = 1
    const step = bounded(200_000, 'relay-server')
    const conns = new Map<number, ConnectionInfo>()
    const held = new Map<string, Held>()
    const pendingOpens: Array<{ requestId: number; connection: number | undefined }> = []
    /** Connection-manager tags the behaviour set and has not removed. */
    const tags = new Set<string>()
    const key = (s: StreamRef): string => `${s.connection}/${s.stream}`
    const drain = (): void => {
      for (let a = b.pollAction(); a !== undefined; a = b.pollAction()) {
        step()
        count(stats, a.type === 'event' ? `event ${a.event.type}` : a.type)
        if (a.type === 'tag-peer') {
          if (a.value === undefined) tags.delete(`${a.peer.toString()} ${a.tag}`)
          else tags.add(`${a.peer.toString()} ${a.tag}`)
        } else if (a.type === 'open-stream') {
          check(a.protocols.length === 1 && a.protocols[0] === STOP_PROTOCOL, 'relay-server: open-stream for something else than STOP')
          check(a.connection === undefined || conns.get(a.connection)?.limited === false, 'relay-server: STOP over a limited or closed connection')
          pendingOpens.push({ requestId: a.requestId, connection: a.connection })
        } else if (a.type === 'write' || a.type === 'close-write' || a.type === 'reset' || a.type === 'manual-consume' || a.type === 'consume') {
          const s = held.get(key(a.stream))
          check(s !== undefined, `relay-server: ${a.type} on stream ${key(a.stream)} it does not hold`)
          check(a.type !== 'write' || !s.writeClosed, 'relay-server: write after close-write')
          if (a.type === 'close-write') s.writeClosed = true
          else if (a.type === 'reset') held.delete(key(a.stream))
          else if (a.type === 'manual-consume') s.manual = true
          else if (a.type === 'consume') {
            s.consumed += a.bytes
            check(a.bytes > 0 && s.consumed <= s.manualIn, `relay-server: consumed ${s.consumed} of ${s.manualIn} bytes received`)
          }
        }
      }
      check(b.circuitCount <= LIMITS.maxCircuits, `relay-server: ${b.circuitCount} circuits`)
      check(b.reservationCount <= LIMITS.maxReservations, `relay-server: ${b.reservationCount} reservations`)
      const t = b.pollTimeout()
      if (t !== undefined && t <= now) { step(); b.handleTimeout(now); drain() }
    }
    const pick = (i: number): Held | undefined => {
      const xs = [...held.values()]
      return xs.length === 0 ? undefined : xs[i % xs.length]
    }
    const close = (s: Held, reset: boolean): void => {
      held.delete(key(s.ref))
      if (reset) b.handle(now, { type: 'stream-reset', stream: s.ref })
      b.handle(now, { type: 'stream-closed', stream: s.ref })
    }
    b.handle(now, { type: 'local-info', listenAddrs: [Multiaddr.fromString('/ip4/11.0.0.1/tcp/4001')], protocols: [HOP_PROTOCOL] })
    b.handle(now, { type: 'reachability', reachable: false, externalAddrs: [] })
    drain()
    for (let i = 0; !p.done && i < 64; i++) {
      const op = p.u8() % OPS
      switch (op) {
        case Op.Connect: {
          const x = p.u8()
          const peer = x % PEERS.length
          const limited = (x >> 2) % 5 === 4
          const info: ConnectionInfo = {
            id: nextConn++, peer: IDS[peer]!, remotePublicKey: PEERS[peer]!.publicKey, remoteAddr: limited ? CIRCUIT_ADDR : ADDRS[(x >> 4) % ADDRS.length]!,
            localAddr: undefined, direction: 'inbound', opened: now, established: now, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited,
          }
          conns.set(info.id, info)
          b.handle(now, { type: 'connection-established', connection: info })
          break
        }
        case Op.Disconnect: {
          const xs = [...conns.values()]
          if (xs.length === 0) { p.u8(); break }
          const c = xs[p.u8() % xs.length]!
          conns.delete(c.id)
          // as the swarm does: the connection's streams end first, then the connection
          for (const s of [...held.values()]) if (s.ref.connection === c.id) close(s, true)
          b.handle(now, { type: 'connection-closed', connection: c })
          for (let j = pendingOpens.length - 1; j >= 0; j--) {
            if (pendingOpens[j]!.connection === c.id) b.handle(now, { type: 'stream-open-failed', requestId: pendingOpens.splice(j, 1)[0]!.requestId, error: new Error('connection closed') })
          }
          break
        }
        case Op.HopOpen: {
          const xs = [...conns.values()]
          const c = xs.length === 0 ? undefined : xs[p.u8() % xs.length]
          if (c === undefined) break
          const ref = { connection: c.id, stream: nextStream++ }
          held.set(key(ref), { ref, writeClosed: false, manual: false, manualIn: 0, consumed: 0 })
          b.handle(now, { type: 'stream-opened', stream: ref, protocol: HOP_PROTOCOL, direction: 'inbound', connection: c })
          break
        }
        case Op.Data: {
          const s = pick(p.u8())
          const blob = p.blob()
          if (s !== undefined) {
            deliver(blob, schedule, r, (piece) => {
              if (!held.has(key(s.ref))) return false
              if (s.manual) s.manualIn += piece.length
              b.handle(now, { type: 'stream-data', stream: s.ref, data: piece.slice() })
              drain()
              return true
            })
          }
          break
        }
        case Op.Eof: { const s = pick(p.u8()); if (s !== undefined) b.handle(now, { type: 'stream-eof', stream: s.ref }); break }
        case Op.Reset: { const s = pick(p.u8()); if (s !== undefined) close(s, true); break }
        case Op.Closed: { const s = pick(p.u8()); if (s !== undefined) close(s, false); break }
        case Op.Advance: now += p.u16(); break
        case Op.Grant: {
          const g = p.u8()
          const o = pendingOpens.shift()
          if (o === undefined) break
          const c = o.connection === undefined ? undefined : conns.get(o.connection)
          if (c === undefined || g % 5 === 0) b.handle(now, { type: 'stream-open-failed', requestId: o.requestId, error: new Error('refused') })
          else {
            const ref = { connection: c.id, stream: nextStream++ }
            held.set(key(ref), { ref, writeClosed: false, manual: false, manualIn: 0, consumed: 0 })
            b.handle(now, { type: 'stream-opened', stream: ref, protocol: STOP_PROTOCOL, direction: 'outbound', connection: c, requestId: o.requestId })
          }
          break
        }
        default: { const s = pick(p.u8()); if (s !== undefined) b.handle(now, { type: 'stream-writable', stream: s.ref }) }
      }
      drain()
    }
    // every connection goes (as at shutdown): nothing may be left held, counted or tagged
    for (const c of [...conns.values()]) {
      conns.delete(c.id)
      for (const s of [...held.values()]) if (s.ref.connection === c.id) close(s, true)
      b.handle(now, { type: 'connection-closed', connection: c })
      drain()
    }
    for (const o of pendingOpens.splice(0)) b.handle(now, { type: 'stream-open-failed', requestId: o.requestId, error: new Error('connection closed') })
    drain()
    check(b.circuitCount === 0, `relay-server: ${b.circuitCount} circuits left without connections`)
    check(b.reservationCount === 0, `relay-server: ${b.reservationCount} reservations left without connections`)
    check(tags.size === 0, `relay-server: tags left: ${[...tags].join(', ')}`)
  },
}
