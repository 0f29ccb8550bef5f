import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { vectorFile } from './helpers/vectors.js'
import { Pair, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { ProtocolError } from '../src/core/errors.js'
import { concat, fromHex, toHex, utf8 } from '../src/core/bytes.js'
import { encodeLp, LpDecoder } from '../src/core/lp.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId, privateKeyFromSeed } from '../src/peer-id/index.js'
import {
  ClosestPeersQuery, KadBehaviour, RoutingTable, RecordStore, Validators, createIpnsRecord, decodeIpnsEntry, encodeIpnsEntry,
  commonPrefixLength, compareDistance, decodeKadMessage, encodeKadMessage, ipnsKey, kadKey, randomPeerKeyInBucket, randomPeerKeysInBuckets, xorDistance, MessageType,
} from '../src/kad/index.js'
import type { KadEvent, KadMessage } from '../src/kad/index.js'
import { InternTable, KadInterns } from '../src/kad/intern.js'
import { PeerBook } from '../src/kad/peers.js'

const crypto = nobleCrypto
const vectors = vectorFile('kad')

function fakePeer(n: number): PeerId {
  const mh = new Uint8Array(34)
  mh[0] = 0x12
  mh[1] = 0x20
  new DataView(mh.buffer).setUint32(2, n)
  mh[30] = n & 0xff
  return PeerId.fromMultihash(mh)
}

function seeded(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0
  return (n) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      out[i] = s >>> 24
    }
    return out
  }
}

function jsonOf(m: KadMessage, skipped?: number): unknown {
  const peer = (p: KadMessage['closerPeers'][number]): unknown => ({ id: toHex(p.id.multihash), addrs: p.addrs.map((a) => a.toString()), connection: p.connection })
  const out: Record<string, unknown> = { type: m.type }
  if (m.key !== undefined) out.key = toHex(m.key)
  if (m.record !== undefined) out.record = { key: toHex(m.record.key), value: toHex(m.record.value) }
  out.closerPeers = m.closerPeers.map(peer)
  out.providerPeers = m.providerPeers.map(peer)
  if (skipped !== undefined) out.skipped = skipped
  return out
}

function fromJson(d: any): KadMessage {
  const peer = (p: any): any => ({ id: PeerId.fromMultihash(fromHex(p.id)), addrs: p.addrs.map((a: string) => Multiaddr.fromString(a)), connection: p.connection })
  const m: KadMessage = { type: d.type, closerPeers: d.closerPeers.map(peer), providerPeers: d.providerPeers.map(peer) }
  if (d.key !== undefined) m.key = fromHex(d.key)
  if (d.record !== undefined) m.record = { key: fromHex(d.record.key), value: fromHex(d.record.value) }
  return m
}

describe('vectors', () => {
  for (const v of vectors.where((v) => v.id.startsWith('distance-'))) {
    test(v.id, () => {
      const a = kadKey(fromHex(v.keyA as string), crypto)
      const b = kadKey(fromHex(v.keyB as string), crypto)
      expect(toHex(a)).toBe(v.decoded.kadKeyA)
      expect(toHex(b)).toBe(v.decoded.kadKeyB)
      expect(toHex(xorDistance(a, b))).toBe(v.decoded.distance)
      expect(commonPrefixLength(a, b)).toBe(v.decoded.commonPrefixLength)
    })
  }
  for (const v of vectors.where((v) => !v.id.startsWith('distance-'))) {
    test(v.id, () => {
      const dec = new LpDecoder(1 << 20, 'kad')
      dec.push(fromHex(v.hex!))
      const body = dec.next()!
      if (v.error !== undefined) {
        expect(() => decodeKadMessage(body)).toThrow(expect.objectContaining({ code: v.error }))
        return
      }
      const stats = { skipped: 0 }
      const m = decodeKadMessage(body, undefined, stats)
      expect(jsonOf(m, v.decoded.skipped === undefined ? undefined : stats.skipped)).toEqual(v.decoded)
      if (v.decodeOnly !== true) expect(toHex(encodeLp(encodeKadMessage(fromJson(v.decoded))))).toBe(v.hex)
    })
  }
})

describe('messages', () => {
  test('garbage yields ProtocolError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeKadMessage(bytes)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }), { numRuns: 3000, seed: 7 })
  })
  test('oversized message is refused before parsing', () => {
    expect(() => decodeKadMessage(new Uint8Array(200_000))).toThrow(expect.objectContaining({ code: 'kad/message-too-large' }))
  })
  test('round trip', () => {
    const m: KadMessage = { type: MessageType.GET_VALUE, key: utf8('/pk/x'), record: { key: utf8('/pk/x'), value: utf8('v') }, closerPeers: [{ id: fakePeer(3), addrs: [Multiaddr.fromString('/memory/3')], connection: 1 }], providerPeers: [] }
    expect(jsonOf(decodeKadMessage(encodeKadMessage(m)))).toEqual(jsonOf(m))
  })
})

describe('keys and distance', () => {
  test('compareDistance agrees with xorDistance byte order', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (t, a, b) => {
      const da = toHex(xorDistance(t, a))
      const db = toHex(xorDistance(t, b))
      const c = compareDistance(t, a, b)
      expect(Math.sign(c)).toBe(da < db ? -1 : da > db ? 1 : 0)
    }), { seed: 3 })
  })
  test('bucket refresh target lands in the bucket', () => {
    const self = kadKey(utf8('me'), crypto)
    for (const cpl of [0, 1, 5, 9]) {
      const t = randomPeerKeyInBucket(self, cpl, seeded(cpl), crypto)!
      expect(commonPrefixLength(self, crypto.sha256(t))).toBe(cpl)
      expect(() => PeerId.fromMultihash(t)).not.toThrow()
    }
  })
  test('refresh targets for several buckets in one pass land in their buckets', () => {
    const self = kadKey(utf8('me'), crypto)
    const got = randomPeerKeysInBuckets(self, [0, 2, 3, 8], seeded(7), crypto)
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([0, 2, 3, 8])
    for (const [cpl, t] of got) {
      expect(commonPrefixLength(self, crypto.sha256(t))).toBe(cpl)
      expect(() => PeerId.fromMultihash(t)).not.toThrow()
    }
    // Too few tries for cpl 20: it is simply missing.
    expect(randomPeerKeysInBuckets(self, [0, 20], seeded(7), crypto, 64).has(20)).toBe(false)
    expect(() => randomPeerKeysInBuckets(self, [256], seeded(7), crypto)).toThrow(RangeError)
  })
  test('InternTable: one decode per distinct bytes, bounded, failures not cached', () => {
    const t = new InternTable<string>(3)
    let decodes = 0
    const dec = (b: Uint8Array): string => {
      decodes++
      if (b[0] === 0xff) throw new ProtocolError('kad', 'kad/test')
      return toHex(b)
    }
    expect(t.intern(Uint8Array.of(1, 2), dec)).toBe('0102')
    expect(t.intern(Uint8Array.of(1, 2), dec)).toBe('0102')
    expect(decodes).toBe(1)
    for (let i = 0; i < 10; i++) expect(t.intern(Uint8Array.of(i, 9), dec)).toBe(toHex(Uint8Array.of(i, 9)))
    expect(t.size).toBeLessThanOrEqual(3)
    expect(() => t.intern(Uint8Array.of(0xff), dec)).toThrow(ProtocolError)
    expect(() => t.intern(Uint8Array.of(0xff), dec)).toThrow(ProtocolError)
    expect(decodes).toBe(13)
    // The table keeps its own copy: changing the caller's bytes afterwards changes nothing.
    const b = Uint8Array.of(7, 7)
    t.intern(b, dec)
    b[0] = 8
    expect(t.intern(Uint8Array.of(7, 7), dec)).toBe('0707')
    expect(t.intern(b, dec)).toBe('0807')
  })
  test('decoded peers are interned: the same bytes give the same PeerId and Multiaddr objects', () => {
    const peer = fakePeer(77)
    const addr = Multiaddr.fromString('/ip4/10.0.0.1/tcp/4001')
    const bytes = encodeKadMessage({ type: MessageType.FIND_NODE, key: utf8('k'), closerPeers: [{ id: peer, addrs: [addr], connection: 0 }], providerPeers: [] })
    const interns = new KadInterns()
    const a = decodeKadMessage(bytes, undefined, undefined, interns).closerPeers[0]!
    const b = decodeKadMessage(bytes, undefined, undefined, interns).closerPeers[0]!
    expect(a.id).toBe(b.id)
    expect(a.addrs[0]).toBe(b.addrs[0])
    expect(a.addrs).not.toBe(b.addrs)
    expect(a.id.equals(peer) && a.addrs[0]!.equals(addr)).toBe(true)
    // Other tables (another node), or none: other objects, equal values.
    const c = decodeKadMessage(bytes, undefined, undefined, new KadInterns()).closerPeers[0]!
    const d = decodeKadMessage(bytes).closerPeers[0]!
    expect(c.id).not.toBe(a.id)
    expect(c.addrs[0]).not.toBe(a.addrs[0])
    expect(d.id).not.toBe(a.id)
    expect(c.id.equals(peer) && d.id.equals(peer) && d.addrs[0]!.equals(addr)).toBe(true)
  })
  test('intern tables are per node: two behaviours in one process never share a decoded object (finding 14)', () => {
    const peer = fakePeer(88)
    const addr = Multiaddr.fromString('/ip4/10.0.0.8/tcp/4001')
    const ib = testIdentity(2, '/memory/2')
    const found = (seed: number): { peer: PeerId; addrs: Multiaddr[] } => {
      const ia = testIdentity(seed, `/memory/${seed}`)
      const kad = new KadBehaviour({ crypto, random: seeded(seed), peerId: ia.peer })
      kad.handle(0, { type: 'peer-info', peer: ib.peer, info: { protocols: [kad.protocol], addrs: [ib.addr] }, from: 'identify' })
      kad.getClosestPeers(0, utf8('x'), 1)
      let open: any
      for (let x = kad.pollAction(); x !== undefined; x = kad.pollAction()) if (x.type === 'open-stream') open = x
      const stream = { connection: 1, stream: 1 }
      const conn = { id: 1, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'outbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
      kad.handle(1, { type: 'stream-opened', stream, protocol: kad.protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
      kad.handle(2, { type: 'stream-data', stream, data: encodeLp(encodeKadMessage({ type: MessageType.FIND_NODE, key: utf8('x'), closerPeers: [{ id: peer, addrs: [addr], connection: 0 }], providerPeers: [] })) })
      // The closer peer is now asked in turn: its open-stream action carries the decoded PeerId.
      for (let x = kad.pollAction(); x !== undefined; x = kad.pollAction()) if (x.type === 'open-stream' && x.peer.equals(peer)) return { peer: x.peer, addrs: kad.addressesOf(peer) }
      throw new Error('the closer peer was not asked')
    }
    const one = found(3)
    const two = found(4)
    expect(one.peer.equals(two.peer)).toBe(true)
    expect(one.peer).not.toBe(two.peer)
    expect(one.addrs[0]).not.toBe(two.addrs[0])
  })
  test('kad keys are cached per node even for a PeerId object both nodes were handed (finding 14)', () => {
    const shared = testIdentity(9, '/memory/9').peer
    const book = (seed: number): PeerBook => new PeerBook({ crypto, self: testIdentity(seed, '/memory/1').peer, maxAddressBook: 10, maxAddrsPerPeer: 4, addressFilter: () => true })
    const one = book(3)
    const two = book(4)
    expect(one.keyOf(shared)).toBe(one.keyOf(shared))
    expect(two.keyOf(shared)).toEqual(one.keyOf(shared))
    expect(two.keyOf(shared)).not.toBe(one.keyOf(shared))
  })
})

describe('routing table', () => {
  const self = kadKey(utf8('self'), crypto)
  test('buckets never exceed k; closest() is sorted and exact', () => {
    const t = new RoutingTable(self, { k: 4 })
    const all: { peer: PeerId; key: Uint8Array }[] = []
    for (let i = 0; i < 300; i++) {
      const peer = fakePeer(i)
      const key = crypto.sha256(peer.multihash)
      const r = t.update(peer, key, 0)
      if (r.kind === 'added') all.push({ peer, key })
    }
    for (let c = 0; c < 256; c++) expect(t.bucket(c).length).toBeLessThanOrEqual(4)
    const target = kadKey(utf8('target'), crypto)
    const got = t.closest(target, 6)
    const want = [...all].sort((a, b) => compareDistance(target, a.key, b.key)).slice(0, 6)
    expect(got.map((e) => e.peer.toString())).toEqual(want.map((e) => e.peer.toString()))
  })
  test('closest() equals the brute-force order for any target and count (keys sharing long prefixes too)', () => {
    const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
    // Copy `shared` leading bits of our own key, so that deep buckets, targets near us and equal
    // 48-bit prefixes occur.
    const near = ([k, shared]: [Uint8Array, number]): Uint8Array => {
      const key = k.slice()
      for (let b = 0; b < shared; b++) {
        const m = 0x80 >> (b % 8)
        key[b >> 3] = (key[b >> 3]! & ~m) | (self[b >> 3]! & m)
      }
      return key
    }
    fc.assert(fc.property(fc.array(fc.tuple(key32, fc.nat(40)), { minLength: 1, maxLength: 120 }), fc.tuple(key32, fc.nat(12)), fc.integer({ min: 1, max: 30 }), (raw, rawTarget, count) => {
      const t = new RoutingTable(self, { k: 5 })
      raw.forEach((r, i) => t.update(fakePeer(5000 + i), near(r), 0))
      const target = near(rawTarget)
      const sorted = t.all().sort((a, b) => compareDistance(target, a.key, b.key))
      expect(t.closest(target, count).map((e) => e.id)).toEqual(sorted.slice(0, count).map((e) => e.id))
      // Leaving one peer out (the requester of a FIND_NODE).
      const ex = sorted[count % sorted.length]!
      expect(t.closest(target, count, ex.peer).map((e) => e.id)).toEqual(sorted.filter((e) => e !== ex).slice(0, count).map((e) => e.id))
    }), { seed: 11, numRuns: 300 })
  })
  test('a full bucket checks its least recently seen peer; dead ones are replaced, live ones kept', () => {
    const t = new RoutingTable(self, { k: 2, staleAfter: 100 })
    // Fill bucket 0 (peers whose first bit differs from ours).
    const inBucket0: PeerId[] = []
    for (let i = 0; inBucket0.length < 4; i++) {
      const p = fakePeer(1000 + i)
      if (commonPrefixLength(self, crypto.sha256(p.multihash)) === 0) inBucket0.push(p)
    }
    const [a, b, c, d] = inBucket0 as [PeerId, PeerId, PeerId, PeerId]
    const key = (p: PeerId): Uint8Array => crypto.sha256(p.multihash)
    expect(t.update(a, key(a), 0).kind).toBe('added')
    expect(t.update(b, key(b), 10).kind).toBe('added')
    // a was seen recently: the newcomer is dropped without a check.
    expect(t.update(c, key(c), 50).kind).toBe('dropped')
    // a is stale now: check it.
    const r = t.update(c, key(c), 200)
    expect(r).toEqual({ kind: 'check', oldest: a })
    expect(t.update(d, key(d), 201).kind).toBe('pending')
    t.checked(a, true, 210)
    expect(t.bucket(0).map((e) => e.peer.toString())).toEqual([b.toString(), a.toString()])
    // b stale, dead: replaced by the newcomer.
    expect(t.update(c, key(c), 400)).toEqual({ kind: 'check', oldest: b })
    t.checked(b, false, 410)
    expect(t.bucket(0).map((e) => e.peer.toString())).toEqual([a.toString(), c.toString()])
    expect(t.has(b)).toBe(false)
  })
})

describe('query engine model check', () => {
  test('never more than alpha in flight, terminates, result sorted and the true closest of reachable peers', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1 << 30 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (alpha, k, seed, failRate) => {
      const rnd = seeded(seed)
      const N = 60
      const peers = Array.from({ length: N }, (_, i) => fakePeer(seed + i))
      const keys = peers.map((p) => crypto.sha256(p.multihash))
      const dead = new Set(peers.filter(() => rnd(1)[0]! / 256 < failRate).map((p) => p.toString()))
      const target = crypto.sha256(rnd(8))
      // Every live peer returns the k closest live peers it knows (perfect tables; dead seeds still fail).
      const knows = (i: number): number[] => {
        const cand = Array.from({ length: N }, (_, j) => j).filter((j) => j !== i && !dead.has(peers[j]!.toString()))
        return cand.sort((x, y) => compareDistance(target, keys[x]!, keys[y]!)).slice(0, k)
      }
      const q = new ClosestPeersQuery(target, [0, 1, 2].map((i) => ({ peer: peers[i]!, key: keys[i]! })), { alpha, k })
      const inflight: PeerId[] = []
      for (let steps = 0; steps < 10_000; steps++) {
        for (let p = q.next(); p !== undefined; p = q.next()) inflight.push(p)
        expect(q.inFlight).toBeLessThanOrEqual(alpha)
        expect(inflight.length).toBe(q.inFlight)
        if (q.done || inflight.length === 0) break
        const idx = rnd(1)[0]! % inflight.length
        const p = inflight.splice(idx, 1)[0]!
        const i = peers.findIndex((x) => x.equals(p))
        if (dead.has(p.toString())) q.failed(p)
        else q.succeeded(p, knows(i).map((j) => ({ peer: peers[j]!, key: keys[j]! })))
      }
      expect(q.done).toBe(true)
      const res = q.closest()
      for (let i = 1; i < res.length; i++) expect(compareDistance(target, res[i - 1]!.key, res[i]!.key)).toBeLessThan(0)
      // With full knowledge everywhere, the result is the k closest live peers (when some seed lived).
      const live = peers.map((p, i) => ({ p, key: keys[i]! })).filter((x) => !dead.has(x.p.toString()))
      if (res.length === k) {
        const want = live.sort((a, b) => compareDistance(target, a.key, b.key)).slice(0, k).map((x) => x.p.toString())
        expect(res.map((r) => r.peer.toString())).toEqual(want)
      }
    }), { numRuns: 150, seed: 11 })
  })
})

describe('validators', () => {
  const key = privateKeyFromSeed(new Uint8Array(32).fill(9), crypto)
  const peer = key.publicKey.toPeerId(crypto)
  const ctx = { crypto, wallTime: Date.UTC(2025, 0, 1) }
  const v = new Validators()
  test('/pk: the key must hash to the name', () => {
    const k = concat([utf8('/pk/'), peer.multihash])
    expect(() => v.validate(k, key.publicKey.bytes, ctx)).not.toThrow()
    const other = privateKeyFromSeed(new Uint8Array(32).fill(8), crypto).publicKey.bytes
    expect(() => v.validate(k, other, ctx)).toThrow(expect.objectContaining({ code: 'kad/invalid-record' }))
    expect(() => v.validate(utf8('/unknown/x'), other, ctx)).toThrow(expect.objectContaining({ code: 'kad/invalid-record' }))
  })
  test('/ipns: signature, data consistency, expiry, selection by sequence', () => {
    const k = ipnsKey(peer)
    const r1 = createIpnsRecord(key, utf8('/ipfs/a'), 1n, '2030-01-01T00:00:00.000000000Z', 3600n * 10n ** 9n, crypto)
    const r2 = createIpnsRecord(key, utf8('/ipfs/b'), 2n, '2029-01-01T00:00:00Z', 1n, crypto)
    expect(() => v.validate(k, r1, ctx)).not.toThrow()
    expect(() => v.validate(k, r2, ctx)).not.toThrow()
    expect(v.select(k, [r1, r2], ctx)).toBe(1)
    expect(() => v.validate(k, r1, { crypto, wallTime: Date.UTC(2031, 0, 1) })).toThrow(/expired/)
    // Tampered V1 value: differs from data.
    const e = decodeIpnsEntry(r1)
    expect(() => v.validate(k, encodeIpnsEntry({ ...e, value: utf8('/ipfs/evil') }), ctx)).toThrow(/differs/)
    // Wrong key: someone else's name.
    const other = privateKeyFromSeed(new Uint8Array(32).fill(7), crypto).publicKey.toPeerId(crypto)
    expect(() => v.validate(ipnsKey(other), r1, ctx)).toThrow(/signature/)
    // Bad signature.
    const sig = e.signatureV2!.slice()
    sig[0]! ^= 1
    expect(() => v.validate(k, encodeIpnsEntry({ ...e, signatureV2: sig }), ctx)).toThrow(/signature/)
    // Garbage never escapes as anything but ProtocolError.
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      try { v.validate(k, bytes, ctx) } catch (err) { expect(err).toBeInstanceOf(ProtocolError) }
    }), { seed: 5, numRuns: 500 })
  })
})

describe('record store', () => {
  test('TTL, per-peer quota, provider expiry (48 h) and address expiry', () => {
    const s = new RecordStore({ maxRecordsPerPeer: 2, recordTtl: 1000 })
    expect(s.putRecord(utf8('/v/1'), utf8('a'), 0, { peer: 'p', source: 'p' })).toBeUndefined()
    expect(s.putRecord(utf8('/v/2'), utf8('a'), 0, { peer: 'p', source: 'p' })).toBeUndefined()
    expect(s.putRecord(utf8('/v/3'), utf8('a'), 0, { peer: 'p', source: 'p' })).toBe('peer-quota')
    expect(s.putRecord(utf8('/v/3'), utf8('a'), 0, { peer: 'q', source: 'q' })).toBeUndefined()
    expect(s.getRecord(utf8('/v/1'), 999)).toBeDefined()
    expect(s.getRecord(utf8('/v/1'), 1000)).toBeUndefined()
    expect(s.putRecord(utf8('/v/4'), new Uint8Array(20_000), 0, { peer: 'r', source: 'r' })).toBe('too-large')
    const p = fakePeer(1)
    s.addProvider(utf8('k'), p, [Multiaddr.fromString('/memory/1')], 0, { peer: p.toString(), source: '/memory/1' })
    expect(s.getProviders(utf8('k'), 29 * 60_000)[0]!.addrs.length).toBe(1)
    expect(s.getProviders(utf8('k'), 31 * 60_000)[0]!.addrs.length).toBe(0)
    expect(s.getProviders(utf8('k'), 48 * 3600_000)).toEqual([])
  })
})

// --- behaviours over the Pair harness ------------------------------------------------------------

function kadPair(opts: { chunking?: 'whole' | 'bytes' | { seed: number } } = {}) {
  const ia = testIdentity(1, '/memory/1')
  const ib = testIdentity(2, '/memory/2')
  const a = new KadBehaviour({ crypto, random: seeded(1), peerId: ia.peer })
  const b = new KadBehaviour({ crypto, random: seeded(2), peerId: ib.peer })
  const pair = new Pair<KadEvent, KadEvent>(a, b, { a: ia, b: ib }, { latency: 5, ...(opts.chunking !== undefined ? { chunking: opts.chunking } : {}) })
  pair.connect()
  pair.a.input({ type: 'peer-info', peer: ib.peer, info: { protocols: [b.protocol], addrs: [ib.addr] }, from: 'identify' })
  pair.b.input({ type: 'peer-info', peer: ia.peer, info: { protocols: [a.protocol], addrs: [ia.addr] }, from: 'identify' })
  pair.run()
  return { pair, a, b, ia, ib }
}

describe('behaviour', () => {
  for (const chunking of ['whole', 'bytes', { seed: 4 }] as const) {
    test(`put, get, provide, findProviders, findPeer between two servers (${JSON.stringify(chunking)})`, () => {
      const { pair, a, b, ib } = kadPair({ chunking })
      const key = concat([utf8('/pk/'), ib.peer.multihash])
      pair.a.command((now) => a.put(now, key, ib.publicKey.bytes, 1))
      pair.run()
      const put = pair.a.eventsOf('query-done').find((e) => e.requestId === 1)!
      expect(put.result).toMatchObject({ kind: 'put' })
      expect(b.store.getRecord(key, pair.now)).toBeDefined()
      pair.b.command((now) => b.get(now, key, 2))
      pair.run()
      const got = pair.b.eventsOf('query-done').find((e) => e.requestId === 2)!
      expect(got.result.kind).toBe('get')
      pair.a.command((now) => a.provide(now, utf8('cid'), 3))
      pair.run()
      pair.b.command((now) => b.findProviders(now, utf8('cid'), 4))
      pair.run()
      const fp = pair.b.eventsOf('query-done').find((e) => e.requestId === 4)!
      expect(fp.result.kind === 'find-providers' && fp.result.providers.map((p) => p.peer.toString())).toEqual([pair.a.identity.peer.toString()])
      pair.a.command((now) => a.findPeer(now, ib.peer, 5))
      pair.run()
      const found = pair.a.eventsOf('query-done').find((e) => e.requestId === 5)!
      expect(found.result.kind === 'find-peer' && found.result.peer.addrs.map(String)).toEqual(['/memory/2'])
      expect(pair.a.eventsOf('protocol-error')).toEqual([])
      expect(pair.b.eventsOf('protocol-error')).toEqual([])
    })
  }

  test('ADD_PROVIDER carries our confirmed external addresses before the listen addresses', () => {
    const { pair, a, b } = kadPair()
    const external = Multiaddr.fromString('/ip4/198.51.99.7/tcp/4001')
    pair.a.input({ type: 'local-info', listenAddrs: [Multiaddr.fromString('/memory/1'), external], protocols: [a.protocol] })
    pair.a.input({ type: 'reachability', reachable: true, externalAddrs: [external] })
    pair.a.command((now) => a.provide(now, utf8('cid'), 1))
    // not run(): that runs to the end of the periodic work, past the providers' 30-minute address TTL
    pair.runFor(1000)
    pair.b.command((now) => b.findProviders(now, utf8('cid'), 2))
    pair.runFor(1000)
    const fp = pair.b.eventsOf('query-done').find((e) => e.requestId === 2)!
    expect(fp.result.kind === 'find-providers' && fp.result.providers[0]!.addrs.map(String)).toEqual([external.toString(), '/memory/1'])
  })

  test('an invalid record is rejected locally and never stored remotely', () => {
    const { pair, a, b } = kadPair()
    const key = concat([utf8('/pk/'), fakePeer(5).multihash])
    pair.a.command((now) => a.put(now, key, utf8('not a key'), 1))
    pair.run()
    expect(pair.a.eventsOf('query-failed')[0]!.error).toMatchObject({ code: 'kad/invalid-record' })
    expect(b.store.recordCount).toBe(0)
  })

  test('hostile inbound: garbage, oversized message, invalid PUT_VALUE reset the stream with ProtocolError only', () => {
    const payloads = [
      fromHex('ffffffffffffffffffff01'),
      encodeLp(new Uint8Array([0x08, 0x09])),
      concat([Uint8Array.of(0xff, 0xff, 0x7f)]),
      encodeLp(encodeKadMessage({ type: MessageType.PUT_VALUE, key: utf8('/pk/x'), record: { key: utf8('/pk/x'), value: utf8('bad') }, closerPeers: [], providerPeers: [] })),
      encodeLp(encodeKadMessage({ type: MessageType.PUT_VALUE, key: utf8('/pk/x'), record: { key: utf8('/pk/y'), value: utf8('bad') }, closerPeers: [], providerPeers: [] })),
    ]
    for (const p of payloads) {
      const { b, ia } = kadPair()
      const stream = { connection: 99, stream: 1 }
      const conn = { id: 99, peer: ia.peer, remotePublicKey: ia.publicKey, remoteAddr: ia.addr, localAddr: undefined, direction: 'inbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
      b.handle(0, { type: 'stream-opened', stream, protocol: b.protocol, direction: 'inbound', connection: conn })
      expect(() => b.handle(0, { type: 'stream-data', stream, data: p })).not.toThrow()
      const acts = [] as unknown[]
      for (let x = b.pollAction(); x !== undefined; x = b.pollAction()) acts.push(x)
      expect(acts).toContainEqual({ type: 'reset', stream })
      const err = acts.find((x: any) => x.type === 'event' && x.event.type === 'protocol-error') as any
      expect(err.event.error).toBeInstanceOf(ProtocolError)
      expect(b.store.recordCount).toBe(0)
    }
  })

  test('garbage responses fail only the request (fuzz)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      const ia = testIdentity(1, '/memory/1')
      const ib = testIdentity(2, '/memory/2')
      const a = new KadBehaviour({ crypto, random: seeded(1), peerId: ia.peer })
      a.handle(0, { type: 'peer-info', peer: ib.peer, info: { protocols: [a.protocol], addrs: [ib.addr] }, from: 'identify' })
      a.getClosestPeers(0, utf8('x'), 1)
      let open: any
      for (let x = a.pollAction(); x !== undefined; x = a.pollAction()) if (x.type === 'open-stream') open = x
      const stream = { connection: 1, stream: 1 }
      const conn = { id: 1, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'outbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
      a.handle(1, { type: 'stream-opened', stream, protocol: a.protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
      a.handle(2, { type: 'stream-data', stream, data: junk })
      a.handle(3, { type: 'stream-eof', stream })
      const evs: KadEvent[] = []
      for (let x = a.pollAction(); x !== undefined; x = a.pollAction()) if (x.type === 'event') evs.push(x.event)
      for (const e of evs) if (e.type === 'protocol-error') expect(e.error).toBeInstanceOf(ProtocolError)
      expect(evs.some((e) => e.type === 'query-done' || e.type === 'query-failed')).toBe(true)
    }), { seed: 9, numRuns: 300 })
  })

  test('closer peers with unusable addresses are skipped', () => {
    const { a, ib } = kadPair()
    a.getClosestPeers(0, utf8('x'), 7)
    let open: any
    for (let x = a.pollAction(); x !== undefined; x = a.pollAction()) if (x.type === 'open-stream') open = x
    const stream = { connection: 50, stream: 1 }
    const conn = { id: 50, peer: ib.peer, remotePublicKey: ib.publicKey, remoteAddr: ib.addr, localAddr: undefined, direction: 'outbound' as const, opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    a.handle(1, { type: 'stream-opened', stream, protocol: a.protocol, direction: 'outbound', connection: conn, requestId: open.requestId })
    // One closer peer with only a garbage address (never seen before): unusable, skipped.
    const body = concat([fromHex('0804'), fromHex('42'), Uint8Array.of(0x28), fromHex('0a22'), fakePeer(77).multihash, fromHex('1202ffff')])
    a.handle(2, { type: 'stream-data', stream, data: encodeLp(body) })
    const evs: KadEvent[] = []
    for (let x = a.pollAction(); x !== undefined; x = a.pollAction()) if (x.type === 'event') evs.push(x.event)
    const done = evs.find((e) => e.type === 'query-done') as Extract<KadEvent, { type: 'query-done' }>
    expect(done.result.kind === 'closest-peers' && done.result.peers.map((p) => p.peer.toString())).toEqual([ib.peer.toString()])
  })

  test('client mode: no protocol registered, inbound streams refused', () => {
    const c = new KadBehaviour({ crypto, random: seeded(1), peerId: fakePeer(1), mode: 'client', protocolPrefix: '/weft' })
    expect(c.protocols).toEqual([])
    expect(c.protocol).toBe('/weft/kad/1.0.0')
  })
})
