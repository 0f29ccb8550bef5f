// A peer with two connections to us (both dialed at once; rust-libp2p runs a gossipsub handler per
// connection) may send its RPCs on the inbound stream of either. The older one must stay readable:
// before the fix a newer inbound stream on the other connection reset it, and a SUBSCRIBE still in
// flight on it was lost (seen over QUIC in the gossip-quic interop network: weft never learned that
// a rust node had subscribed).
import { describe, expect, test } from 'vitest'
import { encodeLp } from '../src/core/lp.js'
import { encodeRpc } from '../src/gossipsub/index.js'
import type { ConnectionInfo } from '../src/swarm/index.js'
import { IN, PEER, scripted } from './helpers/gossipsub-scripted.js'

describe('gossipsub: one inbound stream per connection', () => {
  const second = (c: ConnectionInfo): ConnectionInfo => ({ ...c, id: 2, direction: 'inbound' })
  const IN2 = { connection: 2, stream: 7 }

  test('an inbound stream on a second connection leaves the first one open and read', () => {
    const { b, h, conn } = scripted()
    const c2 = second(conn)
    h.input({ type: 'connection-established', connection: c2 })
    const acts = h.input({ type: 'stream-opened', stream: IN2, protocol: '/meshsub/1.2.0', direction: 'inbound', connection: c2 })
    expect(acts.filter((a) => a.type === 'reset')).toEqual([])
    h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'a' }] })) })
    h.input({ type: 'stream-data', stream: IN2, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'b' }] })) })
    expect(b.getSubscribers('a').map(String)).toEqual([PEER.peer.toString()])
    expect(b.getSubscribers('b').map(String)).toEqual([PEER.peer.toString()])
    // the second connection closes: the first connection's stream is still read
    h.input({ type: 'connection-closed', connection: c2 })
    h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'c' }] })) })
    expect(b.getSubscribers('c').map(String)).toEqual([PEER.peer.toString()])
  })

  test('a newer inbound stream on the same connection still replaces the older (reset)', () => {
    const { b, h, conn } = scripted()
    const IN3 = { connection: 1, stream: 9 }
    const acts = h.input({ type: 'stream-opened', stream: IN3, protocol: '/meshsub/1.2.0', direction: 'inbound', connection: conn })
    expect(acts.filter((a) => a.type === 'reset').map((a) => (a as { stream: unknown }).stream)).toEqual([IN])
    h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'a' }] })) })
    expect(b.getSubscribers('a')).toEqual([])
    h.input({ type: 'stream-data', stream: IN3, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'a' }] })) })
    expect(b.getSubscribers('a').map(String)).toEqual([PEER.peer.toString()])
  })
})
