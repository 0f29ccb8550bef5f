// One gossipsub behaviour against one scripted peer (PEER): the connection, our outbound stream OUT and
// the peer's inbound stream IN are open; `send` feeds the peer's RPCs, `sent` decodes what we wrote.
// Shared by test/gossipsub.test.ts and test/gossipsub-limits.test.ts.
import { expect } from 'vitest'
import { nobleCrypto } from '../../src/core/crypto/noble.js'
import { utf8 } from '../../src/core/bytes.js'
import { encodeLp } from '../../src/core/lp.js'
import { buildMessage, decodeRpc, encodePubsubMessage, encodeRpc, GossipsubBehaviour, type GossipsubEvent, type GossipsubOptions, type Rpc } from '../../src/gossipsub/index.js'
import type { BehaviourAction, ConnectionInfo } from '../../src/swarm/index.js'
import { Harness, mulberry32, testIdentity } from './behaviour-harness.js'

export const seeded = (seed: number) => {
  const r = mulberry32(seed)
  return (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

export const ME = testIdentity(1, '/ip4/10.0.0.1/tcp/1')
export const PEER = testIdentity(2, '/ip4/10.0.0.2/tcp/1')
export const OUT = { connection: 1, stream: 1 }
export const IN = { connection: 1, stream: 2 }

export function scripted(opts: Partial<GossipsubOptions> = {}, protocol = '/meshsub/1.2.0') {
  const b = new GossipsubBehaviour({ random: seeded(7), crypto: nobleCrypto, privateKey: ME.key, heartbeatInitialDelay: 1000, ...opts })
  const h = new Harness<GossipsubEvent>(b)
  b.subscribe(0, 't')
  const conn: ConnectionInfo = { id: 1, peer: PEER.peer, remotePublicKey: PEER.publicKey, remoteAddr: PEER.addr, localAddr: undefined, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
  const acts = h.input({ type: 'connection-established', connection: conn })
  const open = acts.find((a) => a.type === 'open-stream') as Extract<BehaviourAction<GossipsubEvent>, { type: 'open-stream' }>
  expect(open.protocols).toEqual(['/meshsub/1.2.0', '/meshsub/1.1.0', '/meshsub/1.0.0', '/floodsub/1.0.0'])
  h.input({ type: 'stream-opened', stream: OUT, protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
  h.input({ type: 'stream-opened', stream: IN, protocol, direction: 'inbound', connection: conn })
  // play the muxer: every write is taken at once (stream-writable), as the swarm does
  const ack = (acts: BehaviourAction<GossipsubEvent>[]): BehaviourAction<GossipsubEvent>[] => {
    let last = acts
    while (last.some((a) => a.type === 'write' && a.stream.stream === OUT.stream)) last = h.input({ type: 'stream-writable', stream: OUT })
    return acts
  }
  const send = (rpc: Parameters<typeof encodeRpc>[0]): BehaviourAction<GossipsubEvent>[] => ack(h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc(rpc)) }))
  let cursor = 0
  const sent = (): Rpc[] => {
    ack(h.input({ type: 'stream-writable', stream: OUT }))
    const out: Rpc[] = []
    const fresh = h.log.slice(cursor)
    cursor = h.log.length
    for (const a of fresh) {
      if (a.type !== 'write') continue
      let pos = 0
      while (pos < a.data.length) {
        let len = 0, mul = 1
        for (;;) { const x = a.data[pos++]!; len += (x & 0x7f) * mul; if ((x & 0x80) === 0) break; mul *= 128 }
        out.push(decodeRpc(a.data.subarray(pos, pos + len)))
        pos += len
      }
    }
    return out
  }
  return { b, h, send, sent, conn }
}

export const peerMsg = (data: string, seqno = 1n, key = PEER.key) => {
  const m = buildMessage('StrictSign', 't', utf8(data), { key, crypto: nobleCrypto, seqno })
  return { m, raw: encodePubsubMessage(m) }
}

