/**
 * Drives the relay server behaviour alone (no IO, virtual clock) for test/relay-server*.test.ts:
 * connections, hop streams from peers, the stop stream the relay opens, and helpers that read the
 * frames the relay wrote on each stream.
 */
import { expect } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import {
  CircuitRelayServer, HOP_PROTOCOL, HopType, RelayFrameDecoder, STOP_PROTOCOL, StopType, encodeHopFrame, encodeStopFrame,
} from '../src/relay/index.js'
import type { HopMessage, RelayServerEvent, RelayServerOptions, StopMessage } from '../src/relay/index.js'
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { streamKey } from '../src/swarm/behaviour.js'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'

export const EPOCH = 1_800_000_000_000
export const relayId = testIdentity(1, '/ip4/11.0.0.1/tcp/4001')
export const alice = testIdentity(2, '/ip4/11.0.0.2/tcp/4001')
export const bob = testIdentity(3, '/ip4/11.0.0.3/tcp/4001')
export const carol = testIdentity(4, '/ip4/11.0.0.4/tcp/4001')

export type Identity = ReturnType<typeof testIdentity>
export type Action = BehaviourAction<RelayServerEvent> | { type: 'manual-consume'; stream: StreamRef } | { type: 'consume'; stream: StreamRef; bytes: number }

export class RelayDriver {
  readonly h: Harness<RelayServerEvent>
  readonly relay: CircuitRelayServer
  #nextConn = 1
  #nextStream = 1

  constructor(options: RelayServerOptions = {}, listen: string[] = ['/ip4/11.0.0.1/tcp/4001']) {
    this.relay = new CircuitRelayServer({ ...options, peerId: relayId.peer, privateKey: relayId.key, crypto: nobleCrypto, epoch: EPOCH })
    this.h = new Harness(this.relay)
    this.h.input({ type: 'local-info', listenAddrs: listen.map((a) => Multiaddr.fromString(a)), protocols: [HOP_PROTOCOL] })
    this.h.input({ type: 'reachability', reachable: false, externalAddrs: [] })
  }

  get now(): number {
    return this.h.now
  }

  /** A connection from `who` (remote address `addr`, default its identity's). */
  connect(who: Identity, opts: { addr?: string; limited?: boolean } = {}): ConnectionInfo {
    const remoteAddr = opts.addr !== undefined ? Multiaddr.fromString(opts.addr) : who.addr
    const info: ConnectionInfo = {
      id: this.#nextConn++, peer: who.peer, remotePublicKey: who.publicKey, remoteAddr, localAddr: relayId.addr,
      direction: 'inbound', opened: this.now, established: this.now, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: opts.limited ?? false,
    }
    this.h.input({ type: 'connection-established', connection: info })
    return info
  }

  disconnect(info: ConnectionInfo): Action[] {
    return this.h.input({ type: 'connection-closed', connection: info }) as Action[]
  }

  /** A new inbound hop stream on `conn`. */
  openHop(conn: ConnectionInfo): StreamRef {
    const ref = { connection: conn.id, stream: this.#nextStream++ }
    this.h.input({ type: 'stream-opened', stream: ref, protocol: HOP_PROTOCOL, direction: 'inbound', connection: conn })
    return ref
  }

  send(ref: StreamRef, data: Uint8Array): Action[] {
    return this.h.input({ type: 'stream-data', stream: ref, data }) as Action[]
  }

  sendHop(ref: StreamRef, msg: HopMessage): Action[] {
    return this.send(ref, encodeHopFrame(msg))
  }

  /** Open a hop stream, send RESERVE; returns the stream and the answer. */
  reserve(conn: ConnectionInfo): { ref: StreamRef; answer: HopMessage; actions: Action[] } {
    const ref = this.openHop(conn)
    const actions = this.sendHop(ref, { type: HopType.RESERVE })
    return { ref, answer: onlyHop(actions, ref), actions }
  }

  /** Open a hop stream and send CONNECT to `target`. */
  connectTo(conn: ConnectionInfo, target: Identity, glued: Uint8Array = new Uint8Array(0)): { ref: StreamRef; actions: Action[] } {
    const ref = this.openHop(conn)
    const frame = encodeHopFrame({ type: HopType.CONNECT, peer: { id: target.peer, addrs: [] } })
    const data = new Uint8Array(frame.length + glued.length)
    data.set(frame)
    data.set(glued, frame.length)
    return { ref, actions: this.send(ref, data) }
  }

  /** Answer the relay's open-stream (STOP) with a stream; returns it and the relay's actions. */
  stopOpened(open: Action, target: ConnectionInfo): { ref: StreamRef; actions: Action[] } {
    if (open.type !== 'open-stream') throw new Error(`expected open-stream, got ${open.type}`)
    expect(open.protocols).toEqual([STOP_PROTOCOL])
    const ref = { connection: open.connection ?? target.id, stream: this.#nextStream++ }
    const actions = this.h.input({ type: 'stream-opened', stream: ref, protocol: STOP_PROTOCOL, direction: 'outbound', connection: target, requestId: open.requestId }) as Action[]
    return { ref, actions }
  }

  /**
   * A whole circuit: `target` reserves (if it has no reservation yet), `initiator` connects, the
   * target answers OK. Returns the two streams and every action from the target's OK on.
   */
  circuit(initiator: ConnectionInfo, target: ConnectionInfo, targetId: Identity): { hop: StreamRef; stop: StreamRef; actions: Action[] } {
    if (!this.relay.hasReservation(target.peer)) expect(this.reserve(target).answer.status).toBe(100)
    const { ref: hop, actions } = this.connectTo(initiator, targetId)
    const open = actions.find((a) => a.type === 'open-stream')!
    const { ref: stop } = this.stopOpened(open, target)
    const ok = this.send(stop, encodeStopFrame({ type: StopType.STATUS, status: 100 }))
    return { hop, stop, actions: ok }
  }

  events(): RelayServerEvent[] {
    return this.h.events()
  }

  advance(ms: number): Action[] {
    return this.h.advance(ms) as Action[]
  }
}

/** The frames written on `ref` among `actions`, decoded as hop messages. */
export function hopMessages(actions: readonly Action[], ref: StreamRef): HopMessage[] {
  const d = RelayFrameDecoder.hop()
  const out: HopMessage[] = []
  for (const a of actions) {
    if (a.type !== 'write' || streamKey(a.stream) !== streamKey(ref)) continue
    d.push(a.data)
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m)
  }
  return out
}

export function stopMessages(actions: readonly Action[], ref: StreamRef): StopMessage[] {
  const d = RelayFrameDecoder.stop()
  const out: StopMessage[] = []
  for (const a of actions) {
    if (a.type !== 'write' || streamKey(a.stream) !== streamKey(ref)) continue
    d.push(a.data)
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m)
  }
  return out
}

/** The one hop answer written on `ref`. */
export function onlyHop(actions: readonly Action[], ref: StreamRef): HopMessage {
  const msgs = hopMessages(actions, ref)
  expect(msgs).toHaveLength(1)
  return msgs[0]!
}

/** Actions of `type` on stream `ref`. */
export function on(actions: readonly Action[], type: Action['type'], ref: StreamRef): Action[] {
  return actions.filter((a) => a.type === type && 'stream' in a && streamKey(a.stream) === streamKey(ref))
}

/** Bytes written on `ref` (raw, concatenated). */
export function written(actions: readonly Action[], ref: StreamRef): number[] {
  return on(actions, 'write', ref).flatMap((a) => [...(a as { data: Uint8Array }).data])
}
