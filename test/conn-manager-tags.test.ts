/**
 * What kad and gossipsub tag for the connection manager (spec/connection-manager.md, "What protocols
 * tag"), at the behaviour level: the `tag-peer` / `protect-peer` actions they emit.
 */
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { KadBehaviour, KBUCKET_TAG, RoutingTable } from '../src/kad/index.js'
import type { PeerId } from '../src/peer-id/index.js'
import type { BehaviourAction, ConnectionInfo } from '../src/swarm/index.js'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { PEER, scripted, seeded } from './helpers/gossipsub-scripted.js'

type Tag = { type: 'tag-peer'; peer: PeerId; tag: string; value: number | undefined }
const tags = (acts: readonly BehaviourAction<unknown>[]): { peer: string; tag: string; value: number | undefined }[] =>
  acts.filter((a): a is Tag => a.type === 'tag-peer').map((a) => ({ peer: a.peer.toString(), tag: a.tag, value: a.value }))

describe('kad tags routing-table peers `kbucket` = 5', () => {
  const me = testIdentity(1, '/ip4/10.0.0.1/tcp/1')
  const other = testIdentity(2, '/ip4/10.0.0.2/tcp/1')
  const conn: ConnectionInfo = { id: 1, peer: other.peer, remotePublicKey: other.publicKey, remoteAddr: other.addr, localAddr: undefined, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }

  test('added to the table: tagged; connected again: tagged again; left the table: untagged', () => {
    const h = new Harness(new KadBehaviour({ crypto: nobleCrypto, random: seeded(1), peerId: me.peer }))
    const p = other.peer.toString()
    expect(KBUCKET_TAG).toBe('kbucket')
    expect(tags(h.input({ type: 'peer-info', peer: other.peer, info: { protocols: ['/ipfs/kad/1.0.0'] }, from: 'identify' }))).toEqual([{ peer: p, tag: 'kbucket', value: 5 }])
    // seen again while in the table: no new tag
    expect(tags(h.input({ type: 'peer-info', peer: other.peer, info: { protocols: ['/ipfs/kad/1.0.0'] }, from: 'identify' }))).toEqual([])
    // the connection manager dropped the tags with the last connection; a new connection re-tags
    expect(tags(h.input({ type: 'connection-established', connection: conn }))).toEqual([{ peer: p, tag: 'kbucket', value: 5 }])
    expect(tags(h.input({ type: 'peer-info', peer: other.peer, info: { protocols: ['/ipfs/ping/1.0.0'] }, from: 'identify' }))).toEqual([{ peer: p, tag: 'kbucket', value: undefined }])
    // not in the table: a connection does not tag
    expect(tags(h.input({ type: 'connection-established', connection: { ...conn, id: 2 } }))).toEqual([])
  })

  test('the routing table reports every membership change, a replacement moving in included', () => {
    const changes: string[] = []
    const t = new RoutingTable(new Uint8Array(32), { k: 1, staleAfter: 10, onChange: (peer, change) => changes.push(`${change} ${peer.toString().slice(-4)}`) })
    const a = testIdentity(3, '/memory/3').peer
    const b = testIdentity(4, '/memory/4').peer
    const key = (first: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? first : 0))
    expect(t.update(a, key(0x80), 0).kind).toBe('added')
    expect(t.update(b, key(0xc0), 100).kind).toBe('check') // same bucket (cpl 0), full, its oldest is stale
    t.checked(a, false, 100) // a is dead: evicted, b moves in
    expect(changes).toEqual([`added ${a.toString().slice(-4)}`, `removed ${a.toString().slice(-4)}`, `added ${b.toString().slice(-4)}`])
    expect(t.has(b)).toBe(true)
  })
})

describe('gossipsub tags mesh peers `pubsub:<topic>` = 20 and protects direct peers', () => {
  test('graft tags, prune untags', () => {
    const { h, send } = scripted()
    const p = PEER.peer.toString()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const grafted = send({ control: { graft: [{ topic: 't' }] } })
    expect(tags(grafted)).toEqual([{ peer: p, tag: 'pubsub:t', value: 20 }])
    const pruned = send({ control: { prune: [{ topic: 't', peers: [] }] } })
    expect(tags(pruned)).toEqual([{ peer: p, tag: 'pubsub:t', value: undefined }])
    expect(tags(h.log).length).toBe(2)
  })

  test('a mesh peer that unsubscribes is untagged', () => {
    const { send } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    send({ control: { graft: [{ topic: 't' }] } })
    expect(tags(send({ subscriptions: [{ subscribe: false, topic: 't' }] }))).toEqual([{ peer: PEER.peer.toString(), tag: 'pubsub:t', value: undefined }])
  })

  test('direct peers are protected from the start', () => {
    const { h } = scripted({ directPeers: [PEER.peer] })
    const protects = h.log.filter((a) => a.type === 'protect-peer')
    expect(protects).toEqual([{ type: 'protect-peer', peer: PEER.peer, tag: 'pubsub:<direct>', protect: true }])
  })
})
