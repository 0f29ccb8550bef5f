// The kad stores are bounded by bytes, not only by count (issue 11 item 4, audit finding 4): key
// lengths, per-key and total bytes, a quota per source network that throwaway peer ids cannot
// multiply, and eviction that never locks a newcomer out of a full store. Each limit is tested at
// the limit and one past it.
import { afterAll, describe, expect, test } from 'vitest'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { concat, utf8 } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId } from '../src/peer-id/index.js'
import { encodeKadMessage, KadBehaviour, MessageType, RecordStore } from '../src/kad/index.js'
import type { KadEvent, KadMessage, RecordValidator } from '../src/kad/index.js'
import { ENTRY_OVERHEAD, providerBytes, recordBytes } from '../src/kad/store.js'
import { sourceOf } from '../src/kad/source.js'
import type { BehaviourAction } from '../src/swarm/index.js'
import { createNode } from '../src/node.js'
import type { WeftNode } from '../src/node.js'

const crypto = nobleCrypto
const random = (n: number): Uint8Array => new Uint8Array(n).fill(3)
const anything: RecordValidator = { validate: () => {}, select: () => 0 }

function fakePeer(n: number): PeerId {
  const mh = new Uint8Array(34)
  mh[0] = 0x12
  mh[1] = 0x20
  new DataView(mh.buffer).setUint32(2, n)
  return PeerId.fromMultihash(mh)
}

/** A provider key (a sha256-shaped multihash) of `len` bytes, distinct per `n`. */
function pkey(n: number, len = 34): Uint8Array {
  const k = new Uint8Array(len)
  k[0] = 0x12
  k[1] = len - 2
  new DataView(k.buffer).setUint32(2, n)
  return k
}

const o = (peer: string, source: string): { peer: string; source: string } => ({ peer, source })

describe('sources', () => {
  test('IPv4 /24, IPv6 /48, mapped IPv4 as IPv4, anything else by its whole address', () => {
    const s = (a: string): string => sourceOf(Multiaddr.fromString(a))
    expect(s('/ip4/203.0.113.7/tcp/4001')).toBe(s('/ip4/203.0.113.250/udp/9/quic-v1'))
    expect(s('/ip4/203.0.113.7/tcp/4001')).not.toBe(s('/ip4/203.0.114.7/tcp/4001'))
    expect(s('/ip6/2001:db8:1:ffff::1/tcp/1')).toBe(s('/ip6/2001:db8:1::2/tcp/2'))
    expect(s('/ip6/2001:db8:1::1/tcp/1')).not.toBe(s('/ip6/2001:db8:2::1/tcp/1'))
    expect(s('/ip6/::ffff:203.0.113.9/tcp/1')).toBe(s('/ip4/203.0.113.7/tcp/4001'))
    expect(s('/memory/1')).not.toBe(s('/memory/2'))
  })
})

describe('record store by bytes', () => {
  test('maxRecordKeyLength: at the limit stored, one past refused', () => {
    const s = new RecordStore({ maxRecordKeyLength: 40 })
    expect(s.putRecord(new Uint8Array(40).fill(1), utf8('v'), 0, o('p', 'a'))).toBeUndefined()
    expect(s.putRecord(new Uint8Array(41).fill(1), utf8('v'), 0, o('p', 'a'))).toBe('key-too-long')
  })

  test('maxRecordBytesPerSource: throwaway peer ids from one network share one quota', () => {
    const value = new Uint8Array(100)
    const one = recordBytes(utf8('/v/00'), value)
    const s = new RecordStore({ maxRecordBytesPerSource: 4 * one })
    // Four different peer ids from one /24: at the limit.
    for (let i = 0; i < 4; i++) expect(s.putRecord(utf8(`/v/0${i}`), value, 0, o(`sybil${i}`, 'ip4/203.0.113'))).toBeUndefined()
    expect(s.bytesOfSource('ip4/203.0.113').records).toBe(4 * one)
    // A fifth id from the same network: one past.
    expect(s.putRecord(utf8('/v/04'), value, 0, o('sybil4', 'ip4/203.0.113'))).toBe('source-quota')
    // Replacing one of its own records does not count twice.
    expect(s.putRecord(utf8('/v/00'), value, 0, o('sybil0', 'ip4/203.0.113'))).toBeUndefined()
    // Another network is unaffected.
    expect(s.putRecord(utf8('/v/05'), value, 0, o('honest', 'ip4/198.51.100'))).toBeUndefined()
  })

  test('maxRecordBytes: at the limit stored; one past evicts the biggest source, or refuses the biggest itself', () => {
    const value = new Uint8Array(100)
    const one = recordBytes(utf8('/v/00'), value)
    const s = new RecordStore({ maxRecordBytes: 4 * one })
    for (let i = 0; i < 3; i++) expect(s.putRecord(utf8(`/v/0${i}`), value, 0, o(`a${i}`, 'A'))).toBeUndefined()
    expect(s.putRecord(utf8('/v/03'), value, 0, o('b0', 'B'))).toBeUndefined()
    expect(s.recordBytes).toBe(4 * one)
    // One past, by the biggest source (A holds 3): refused, nothing evicted.
    expect(s.putRecord(utf8('/v/04'), value, 0, o('a3', 'A'))).toBe('store-full')
    // One past, by B (holds 1 < 3): A's oldest record goes.
    expect(s.putRecord(utf8('/v/05'), value, 0, o('b1', 'B'))).toBeUndefined()
    expect(s.getRecord(utf8('/v/00'), 0)).toBeUndefined()
    expect(s.getRecord(utf8('/v/01'), 0)).toBeDefined()
    expect(s.recordBytes).toBe(4 * one)
    // Now A and B hold 2 each: neither displaces the other.
    expect(s.putRecord(utf8('/v/06'), value, 0, o('b2', 'B'))).toBe('store-full')
    // Our own put may displace any remote source.
    expect(s.putRecord(utf8('/v/07'), value, 0, undefined)).toBeUndefined()
    expect(s.recordCount).toBe(4)
  })
})

describe('provider store by bytes', () => {
  const addr = Multiaddr.fromString('/ip4/203.0.113.7/tcp/4001')

  test('maxProviderKeyLength: at the limit stored, one past refused', () => {
    const s = new RecordStore()
    expect(s.addProvider(pkey(1, 80), fakePeer(1), [], 0, o('p', 'a'))).toBeUndefined()
    expect(s.addProvider(pkey(2, 81), fakePeer(1), [], 0, o('p', 'a'))).toBe('key-too-long')
  })

  test('maxProviderBytesPerKey: an entry at the limit stored, one past too large; a full key is shared fairly by source', () => {
    const key = pkey(1)
    const one = providerBytes(key, fakePeer(1), [addr])
    const s = new RecordStore({ maxProviderBytesPerKey: 3 * one })
    // One entry exactly at the per-key limit fits; one byte more does not.
    const atLimit = new RecordStore({ maxProviderBytesPerKey: one })
    expect(atLimit.addProvider(key, fakePeer(1), [addr], 0, o('x', 'X'))).toBeUndefined()
    expect(new RecordStore({ maxProviderBytesPerKey: one - 1 }).addProvider(key, fakePeer(1), [addr], 0, o('x', 'X'))).toBe('too-large')
    // Sybil ids of network A fill the key (at the limit) ...
    for (let i = 1; i <= 3; i++) expect(s.addProvider(key, fakePeer(i), [addr], i, o(fakePeer(i).toString(), 'A'))).toBeUndefined()
    // ... one past from A itself: refused; from network B: A's entry closest to expiry is replaced.
    expect(s.addProvider(key, fakePeer(4), [addr], 4, o(fakePeer(4).toString(), 'A'))).toBe('store-full')
    expect(s.addProvider(key, fakePeer(5), [addr], 5, o(fakePeer(5).toString(), 'B'))).toBeUndefined()
    expect(s.getProviders(key, 5).map((p) => p.peer.toString())).toEqual([fakePeer(2), fakePeer(3), fakePeer(5)].map(String))
  })

  test('maxProviderBytesPerSource: sixteen Sybil ids from one /24 hold one quota, not sixteen', () => {
    const one = providerBytes(pkey(0), fakePeer(0), [])
    const s = new RecordStore({ maxProviderBytesPerSource: 16 * one })
    let stored = 0
    for (let id = 0; id < 16; id++) {
      for (let k = 0; k < 4; k++) if (s.addProvider(pkey(id * 4 + k), fakePeer(id), [], 0, o(fakePeer(id).toString(), 'ip4/203.0.113')) === undefined) stored++
    }
    expect(stored).toBe(16) // at the limit
    expect(s.addProvider(pkey(999), fakePeer(99), [], 0, o(fakePeer(99).toString(), 'ip4/203.0.113'))).toBe('source-quota') // one past
    expect(s.addProvider(pkey(999), fakePeer(98), [], 0, o(fakePeer(98).toString(), 'ip4/198.51.100'))).toBeUndefined()
  })

  test('a full provider store (by bytes or by keys) does not lock out a legitimate provider for 48 h', () => {
    const one = providerBytes(pkey(0), fakePeer(0), [])
    for (const limits of [{ maxProviderBytes: 8 * one }, { maxProviderKeys: 8 }]) {
      const s = new RecordStore(limits)
      // An attacker from network A fills the store with 8 keys: at the limit.
      for (let i = 0; i < 8; i++) expect(s.addProvider(pkey(i), fakePeer(i), [], i, o(fakePeer(i).toString(), 'A'))).toBeUndefined()
      // One past from A: refused.
      expect(s.addProvider(pkey(8), fakePeer(8), [], 8, o(fakePeer(8).toString(), 'A'))).toBe('store-full')
      // One past from an honest provider in network B: accepted at once, A's oldest evicted.
      const honest = fakePeer(100)
      expect(s.addProvider(pkey(100), honest, [], 9, o(honest.toString(), 'B'))).toBeUndefined()
      expect(s.getProviders(pkey(100), 10).map(String)).toHaveLength(1)
      expect(s.getProviders(pkey(0), 10)).toEqual([])
      // A refresh of an existing record at capacity is accepted (not a new key, no growth).
      expect(s.addProvider(pkey(100), honest, [], 11, o(honest.toString(), 'B'))).toBeUndefined()
      // The attacker cannot displace the honest record back: A still holds more.
      expect(s.addProvider(pkey(9), fakePeer(9), [], 12, o(fakePeer(9).toString(), 'A'))).toBe('store-full')
      expect(s.getProviders(pkey(100), 13)).toHaveLength(1)
      expect(s.providerBytes).toBeLessThanOrEqual(8 * one)
    }
  })

  test('accounted bytes return to zero when everything expires', () => {
    const s = new RecordStore({ providerTtl: 10, recordTtl: 10 })
    s.addProvider(pkey(1), fakePeer(1), [addr], 0, o('p', 'A'))
    s.putRecord(utf8('/v/x'), utf8('v'), 0, o('p', 'A'))
    expect(s.providerBytes).toBeGreaterThan(ENTRY_OVERHEAD)
    s.prune(10)
    expect([s.providerBytes, s.recordBytes, s.providerKeyCount, s.recordCount]).toEqual([0, 0, 0, 0])
    expect(s.bytesOfSource('A')).toEqual({ records: 0, providers: 0 })
  })
})

describe('key lengths on the wire', () => {
  const ia = testIdentity(1, '/memory/1')
  const ib = testIdentity(2, '/ip4/203.0.113.7/tcp/4001')

  /** One request on a fresh inbound stream from ib: the actions produced. */
  function ask(kad: KadBehaviour, h: Harness<KadEvent>, n: number, req: KadMessage): BehaviourAction<KadEvent>[] {
    const stream = { connection: n, stream: 1 }
    const conn = { id: n, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'inbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    h.input({ type: 'stream-opened', stream, protocol: kad.protocol, direction: 'inbound', connection: conn })
    return h.input({ type: 'stream-data', stream, data: encodeLp(encodeKadMessage(req)) })
  }
  const refused = (acts: BehaviourAction<KadEvent>[]): boolean =>
    acts.some((a) => a.type === 'event' && a.event.type === 'protocol-error' && a.event.error instanceof ProtocolError && (a.event.error as ProtocolError).code === 'kad/key-too-long')

  test('each request type: a key at its limit is served, one byte past resets the stream with kad/key-too-long', () => {
    const kad = new KadBehaviour({ crypto, random, peerId: ia.peer, validators: { v: anything } })
    const h = new Harness<KadEvent>(kad)
    const rec = (len: number): Uint8Array => concat([utf8('/v/'), new Uint8Array(len - 3).fill(0x61)])
    const provider = { id: ib.peer, addrs: [], connection: 0 as const }
    let n = 0
    const cases: [number, (len: number) => KadMessage][] = [
      [256, (len) => ({ type: MessageType.PUT_VALUE, key: rec(len), record: { key: rec(len), value: utf8('x') }, closerPeers: [], providerPeers: [] })],
      [256, (len) => ({ type: MessageType.GET_VALUE, key: rec(len), closerPeers: [], providerPeers: [] })],
      [256, (len) => ({ type: MessageType.FIND_NODE, key: rec(len), closerPeers: [], providerPeers: [] })],
      [80, (len) => ({ type: MessageType.ADD_PROVIDER, key: pkey(1, len), closerPeers: [], providerPeers: [provider] })],
      [80, (len) => ({ type: MessageType.GET_PROVIDERS, key: pkey(1, len), closerPeers: [], providerPeers: [] })],
    ]
    for (const [limit, make] of cases) {
      expect(refused(ask(kad, h, ++n, make(limit)))).toBe(false)
      expect(refused(ask(kad, h, ++n, make(limit + 1)))).toBe(true)
    }
    expect(kad.store.recordCount).toBe(1)
    expect(kad.store.providerKeyCount).toBe(1)
    // What was stored is charged to ib's /24.
    expect(kad.store.bytesOfSource('ip4/203.0.113').records).toBe(recordBytes(rec(256), utf8('x')))
  })

  test('a local query with a key past the limit fails at once with UsageError kad/key-too-long', () => {
    const kad = new KadBehaviour({ crypto, random, peerId: ia.peer, store: { maxRecordKeyLength: 20, maxProviderKeyLength: 34 } })
    const h = new Harness<KadEvent>(kad)
    h.command((now) => kad.put(now, new Uint8Array(21), utf8('v'), 1))
    h.command((now) => kad.get(now, new Uint8Array(21), 2))
    h.command((now) => kad.provide(now, pkey(1, 35), 3))
    h.command((now) => kad.findProviders(now, pkey(1, 35), 4))
    h.command((now) => kad.provide(now, pkey(1, 34), 5))
    const failed = h.drain().flatMap((a) => (a.type === 'event' && a.event.type === 'query-failed' ? [a.event] : []))
    expect(failed.map((e) => e.requestId)).toEqual([1, 2, 3, 4, 5])
    expect(failed.slice(0, 4).every((e) => e.error instanceof UsageError && (e.error as UsageError).code === 'kad/key-too-long')).toBe(true)
    expect((failed[4]!.error as unknown as { code: string }).code).toBe('kad/no-peers') // at the limit: accepted, nobody to store at
  })
})

describe('createNode', () => {
  const nodes: WeftNode[] = []
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  })
  test('store limits are reachable from createNode({ dht: { store } })', async () => {
    const node = await createNode({ listen: [], dht: { store: { maxRecordKeyLength: 10 } } })
    nodes.push(node)
    await expect(node.dht.put(utf8('/pk/0123456'), utf8('v'))).rejects.toMatchObject({ name: 'UsageError', code: 'kad/key-too-long' })
  })
})
