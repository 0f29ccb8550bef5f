/** Shared bits of the AutoNAT behaviour tests: identities, connections, frames in and out. */
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../../src/swarm/behaviour.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { AutoNATBehaviour, type AutoNATOptions } from '../../src/autonat/behaviour.js'
import type { AutoNATEvent } from '../../src/autonat/types.js'
import { v1FrameDecoder, type V1Message } from '../../src/autonat/message-v1.js'
import { v2FrameDecoder, dialBackDecoder, type V2Message } from '../../src/autonat/message-v2.js'
import { Harness, testIdentity } from './behaviour-harness.js'
import { prng } from './prng.js'

export const SERVER = testIdentity(1, '/ip4/11.0.0.23/tcp/4001')
export const CLIENT = testIdentity(2, '/ip4/11.0.0.30/tcp/4001')
export const OTHER = testIdentity(3, '/ip4/11.0.0.31/tcp/4001')
export const DIALER = testIdentity(4, '/ip4/11.0.0.24/tcp/4001')

export const ma = (s: string): Multiaddr => Multiaddr.fromString(s)

let nextConn = 100
export function conn(peer: typeof CLIENT, remote: string, local: string, opts: { direction?: 'inbound' | 'outbound'; limited?: boolean; id?: number } = {}): ConnectionInfo {
  return {
    id: opts.id ?? nextConn++, peer: peer.peer, remotePublicKey: peer.publicKey, remoteAddr: ma(remote), localAddr: ma(local),
    direction: opts.direction ?? 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: opts.limited ?? false,
  }
}

/** A seeded random source for the behaviour (nonces, dial-data amounts, jitter). */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  const r = prng(seed)
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

export function harness(opts: AutoNATOptions, self = SERVER, seed = 7): Harness<AutoNATEvent> & { b: AutoNATBehaviour } {
  const b = new AutoNATBehaviour({ ...opts, peerId: self.peer, random: seededRandom(seed) })
  const h = new Harness<AutoNATEvent>(b) as Harness<AutoNATEvent> & { b: AutoNATBehaviour }
  h.b = b
  return h
}

type Act = BehaviourAction<AutoNATEvent>

export const writesTo = (acts: Act[], s: StreamRef): Uint8Array[] =>
  acts.flatMap((a) => (a.type === 'write' && a.stream.connection === s.connection && a.stream.stream === s.stream ? [a.data] : []))

export function v2Sent(acts: Act[], s: StreamRef): V2Message[] {
  const d = v2FrameDecoder()
  const out: V2Message[] = []
  for (const w of writesTo(acts, s)) {
    d.push(w)
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m)
  }
  return out
}

export function v1Sent(acts: Act[], s: StreamRef): V1Message[] {
  const d = v1FrameDecoder()
  const out: V1Message[] = []
  for (const w of writesTo(acts, s)) {
    d.push(w)
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m)
  }
  return out
}

export function dialBackSent(acts: Act[], s: StreamRef): bigint[] {
  const d = dialBackDecoder()
  const out: bigint[] = []
  for (const w of writesTo(acts, s)) {
    d.push(w)
    for (let m = d.next(); m !== undefined; m = d.next()) out.push(m.nonce)
  }
  return out
}

export const ofType = <T extends Act['type']>(acts: Act[], type: T): Extract<Act, { type: T }>[] => acts.filter((a) => a.type === type) as Extract<Act, { type: T }>[]

export const events = (acts: Act[]): AutoNATEvent[] => acts.flatMap((a) => (a.type === 'event' ? [a.event] : []))
