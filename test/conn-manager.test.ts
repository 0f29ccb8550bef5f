/**
 * The connection manager (src/swarm/conn-manager.ts) on a virtual clock: go-libp2p's connmgr_test.go
 * and decay_test.go cases (spec/connection-manager.md, "Tests"), each asserting behaviour, plus the
 * bounds weft adds. TrimBlocks / TrimClosed test goroutine locking in go; the pure core has none, so
 * TrimJoin is kept as "repeated trims close no more than one".
 */
import { ConnCloseCode } from '../src/core/close-codes.js'
import { describe, expect, it } from 'vitest'
import {
  ConnectionManager,
  compareForTrim,
  decayExpireWhenInactive,
  decayFixed,
  decayLinear,
  bumpOverwrite,
  bumpSumBounded,
} from '../src/swarm/conn-manager.js'
import type { ConnectionManagerOptions, TrimCandidate, TrimClose } from '../src/swarm/conn-manager.js'
import { UsageError } from '../src/core/errors.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import type { PeerId } from '../src/peer-id/index.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'

const ids: PeerId[] = []
function peer(i: number): PeerId {
  while (ids.length <= i) {
    const seed = new Uint8Array(32)
    seed[0] = ids.length & 0xff
    seed[1] = ids.length >> 8
    seed[2] = 0xc3
    ids.push(privateKeyFromSeed(seed, nobleCrypto).publicKey.toPeerId(nobleCrypto))
  }
  return ids[i]!
}

/** A manager plus a virtual clock and the connections it was told about (connection id = peer index unless given). */
class Rig {
  now = 0
  readonly cm: ConnectionManager
  readonly closed = new Set<number>()
  readonly closes: TrimClose[] = []
  constructor(options: Partial<ConnectionManagerOptions>) {
    this.cm = new ConnectionManager(options)
  }
  connect(i: number, direction: 'inbound' | 'outbound' = 'inbound', id = i): number {
    this.cm.connected(this.now, { id, peer: peer(i), direction })
    this.drain()
    return id
  }
  /** Apply the manager's closes as a swarm would: report each connection gone. */
  drain(): void {
    for (let c = this.cm.pollClose(); c !== undefined; c = this.cm.pollClose()) {
      this.closes.push(c)
      this.closed.add(c.connection)
      this.cm.disconnected(this.now, c.connection)
    }
  }
  trim(): number {
    const n = this.cm.trim(this.now)
    this.drain()
    return n
  }
  /** Move the clock, firing every deadline on the way. */
  advance(ms: number): void {
    const target = this.now + ms
    for (let t = this.cm.pollTimeout(); t !== undefined && t <= target; t = this.cm.pollTimeout()) {
      this.now = Math.max(this.now, t)
      this.cm.handleTimeout(this.now)
      this.drain()
    }
    this.now = target
  }
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i)

describe('connection manager (go connmgr_test.go cases)', () => {
  it('TrimJoin: repeated trims at one instant close no more than one trim', () => {
    const r = new Rig({ lowWater: 2, highWater: 100, gracePeriodMs: 0 })
    for (const i of range(0, 10)) r.connect(i)
    const first = r.cm.trim(r.now)
    expect(first).toBe(8)
    expect(r.cm.trim(r.now)).toBe(0) // the first trim's connections are closing, not counted again
    expect(r.cm.trim(r.now)).toBe(0)
    r.drain()
    expect(r.closes).toHaveLength(8)
    expect(new Set(r.closes.map((c) => c.connection)).size).toBe(8)
  })

  it('ConnTrimming: tagged peers survive, a negative tag goes first; nothing closes at high water', () => {
    const r = new Rig({ lowWater: 200, highWater: 300, gracePeriodMs: 0 })
    for (const i of range(0, 300)) r.connect(i)
    expect(r.closed.size).toBe(0) // 300 is not past high water 300
    for (const i of range(0, 100)) r.cm.tag(peer(i), 'foo', 10)
    r.cm.tag(peer(299), 'badfoo', -5)
    expect(r.trim()).toBe(100)
    for (const i of range(0, 100)) expect(r.closed.has(i)).toBe(false)
    expect(r.closed.has(299)).toBe(true)
    expect(r.closes.every((c) => c.code === ConnCloseCode.GarbageCollected && c.code === 0x1005)).toBe(true)
    expect(r.cm.info().connections).toBe(200)
  })

  it('ConnTrimming: passing high water trims automatically', () => {
    const r = new Rig({ lowWater: 200, highWater: 300, gracePeriodMs: 0 })
    for (const i of range(0, 301)) r.connect(i)
    expect(r.closed.size).toBe(101)
    expect(r.cm.info().connections).toBe(200)
    expect(r.cm.info().trims).toBe(1)
  })

  it.each([
    { name: 'disabled (low 0)', o: { lowWater: 0, highWater: 0 }, conns: 10, advance: 0, closes: 0 },
    { name: 'at or below low water', o: { lowWater: 10, highWater: 20 }, conns: 10, advance: 0, closes: 0 },
    { name: 'below high water, manual trim goes to low', o: { lowWater: 3, highWater: 20 }, conns: 8, advance: 0, closes: 5 },
    { name: 'every connection in its grace period', o: { lowWater: 3, highWater: 5, gracePeriodMs: 1000, silencePeriodMs: 1_000_000 }, conns: 8, advance: 999, closes: 0 },
    { name: 'grace period over', o: { lowWater: 3, highWater: 5, gracePeriodMs: 1000, silencePeriodMs: 1_000_000 }, conns: 8, advance: 1000, closes: 5 },
  ])('ConnsToClose: $name', ({ o, conns, advance, closes }) => {
    const r = new Rig({ gracePeriodMs: 0, ...o })
    for (const i of range(0, conns)) r.connect(i)
    r.now += advance
    r.trim()
    expect(r.closed.size).toBe(closes)
  })

  it('GetTagInfo: tags, their sum, connections, first seen; undefined for an unknown peer', () => {
    const r = new Rig({})
    r.now = 5
    r.connect(1, 'outbound', 11)
    r.now = 7
    r.connect(1, 'inbound', 12)
    r.cm.streamOpened(12)
    r.cm.tag(peer(1), 'a', 5)
    r.cm.tag(peer(1), 'b', 7)
    const info = r.cm.getTagInfo(peer(1))!
    expect(info.value).toBe(12)
    expect([...info.tags]).toEqual([['a', 5], ['b', 7]])
    expect(info.firstSeen).toBe(5)
    expect(info.temporary).toBe(false)
    expect(info.conns).toEqual([
      { id: 11, direction: 'outbound', openedAt: 5, streams: 0 },
      { id: 12, direction: 'inbound', openedAt: 7, streams: 1 },
    ])
    r.cm.tag(peer(1), 'a', 1) // replaces, not adds
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(8)
    expect(r.cm.getTagInfo(peer(2))).toBeUndefined()
  })

  it('TagPeerNonExistant: tagging an unknown peer makes a temporary entry that is no connection and expires', () => {
    const r = new Rig({ gracePeriodMs: 1000 })
    r.cm.tag(peer(3), 'early', 1)
    const info = r.cm.getTagInfo(peer(3))!
    expect(info.temporary).toBe(true)
    expect(info.value).toBe(1)
    expect(r.cm.info().connections).toBe(0)
    expect(r.cm.pollTimeout()).toBe(1000) // temporaryEntryTimeoutMs defaults to the grace period
    r.advance(999)
    expect(r.cm.getTagInfo(peer(3))).toBeDefined()
    r.advance(1)
    expect(r.cm.getTagInfo(peer(3))).toBeUndefined()
    expect(r.cm.pollTimeout()).toBeUndefined()
  })

  it('UntagPeer: unknown peer and unknown tag are no-ops; a known tag leaves the sum', () => {
    const r = new Rig({})
    r.connect(1)
    r.cm.untag(peer(9), 'x')
    expect(r.cm.getTagInfo(peer(9))).toBeUndefined() // untag creates nothing
    r.cm.tag(peer(1), 'tag', 5)
    r.cm.tag(peer(1), 'other', 2)
    r.cm.untag(peer(1), 'missing')
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(7)
    r.cm.untag(peer(1), 'tag')
    const info = r.cm.getTagInfo(peer(1))!
    expect(info.value).toBe(2)
    expect(info.tags.has('tag')).toBe(false)
  })

  it('GetInfo: configuration and status', () => {
    const r = new Rig({ lowWater: 1, highWater: 2, gracePeriodMs: 0, silencePeriodMs: 5 })
    expect(r.cm.info()).toMatchObject({ lowWater: 1, highWater: 2, gracePeriodMs: 0, silencePeriodMs: 5, connections: 0, lastTrim: undefined })
    r.now = 42
    for (const i of range(0, 3)) r.connect(i)
    expect(r.cm.info()).toMatchObject({ connections: 1, lastTrim: 42, trims: 1, trimmedConnections: 2 })
  })

  it('DoubleConnection: the same connection reported twice counts once', () => {
    const r = new Rig({})
    r.connect(1, 'inbound', 7)
    r.connect(1, 'inbound', 7)
    expect(r.cm.info().connections).toBe(1)
    expect(r.cm.getTagInfo(peer(1))!.conns).toHaveLength(1)
    r.cm.disconnected(r.now, 7)
    expect(r.cm.info().connections).toBe(0)
  })

  it('Disconnected: unknown ids are ignored; the peer entry and its tags go with the last connection', () => {
    const r = new Rig({})
    r.cm.disconnected(0, 99)
    r.connect(1, 'inbound', 1)
    r.connect(1, 'outbound', 2)
    r.cm.tag(peer(1), 't', 3)
    r.cm.disconnected(0, 1)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(3)
    expect(r.cm.info().connections).toBe(1)
    r.cm.disconnected(0, 2)
    r.cm.disconnected(0, 2)
    expect(r.cm.getTagInfo(peer(1))).toBeUndefined()
    expect(r.cm.info().connections).toBe(0)
    expect(r.cm.trackedPeers).toBe(0)
  })

  it('GracePeriod: nothing is trimmed while too many connections are new; then down to low water', () => {
    const r = new Rig({ lowWater: 10, highWater: 20, gracePeriodMs: 100, silencePeriodMs: 3_600_000 })
    r.connect(0)
    r.advance(200)
    expect(r.closed.size).toBe(0)
    for (const i of range(1, 31)) r.connect(i) // 31 connections, 30 of them in their grace period
    r.trim()
    expect(r.closed.size).toBe(0)
    r.now += 200
    r.trim()
    expect(r.closed.size).toBe(21)
    expect(r.cm.info().connections).toBe(10)
  })

  it('GracePeriod: an automatic trim blocked by the grace period is retried every silence period', () => {
    const r = new Rig({ lowWater: 2, highWater: 4, gracePeriodMs: 1000, silencePeriodMs: 300 })
    for (const i of range(0, 6)) r.connect(i)
    expect(r.closed.size).toBe(0)
    expect(r.cm.pollTimeout()).toBe(300)
    r.advance(900)
    expect(r.closed.size).toBe(0)
    r.advance(300) // 1200: the retry after the grace period ended trims
    expect(r.closed.size).toBe(4)
    expect(r.cm.pollTimeout()).toBeUndefined()
  })

  it('QuickBurstRespectsSilencePeriod: one automatic trim per silence period', () => {
    const r = new Rig({ lowWater: 10, highWater: 20, gracePeriodMs: 0, silencePeriodMs: 10_000 })
    for (const i of range(0, 30)) r.connect(i)
    // the 21st connection trimmed 11 (down to 10); the next 9 leave 19 open, under high water
    expect(r.cm.info().trims).toBe(1)
    expect(r.closed.size).toBe(11)
    expect(r.closed.size + r.cm.info().connections).toBe(30)
    r.now += 3000
    for (const i of range(30, 45)) r.connect(i) // 34 open: past high water inside the silence period
    expect(r.cm.info().trims).toBe(1)
    expect(r.cm.info().connections).toBe(34)
    expect(r.cm.pollTimeout()).toBe(10_000)
    r.advance(7000)
    expect(r.cm.info().trims).toBe(2)
    expect(r.cm.info().connections).toBe(10)
  })

  it('PeerProtectionSingleTag: protected peers are never trimmed, until unprotected', () => {
    const r = new Rig({ lowWater: 10, highWater: 20, gracePeriodMs: 0, silencePeriodMs: 3_600_000 })
    for (const i of range(0, 6)) {
      r.connect(i)
      r.cm.tag(peer(i), 'test', 20)
    }
    for (const i of range(0, 5)) {
      r.cm.protect(peer(i), 'global')
      r.cm.tag(peer(i), 'test', -100) // the lowest value: first in line if not protected
    }
    for (const i of range(6, 33)) r.connect(i)
    r.trim()
    for (const i of range(0, 5)) expect(r.closed.has(i)).toBe(false)
    expect(r.cm.unprotect(peer(0), 'global')).toBe(false)
    for (const i of range(33, 35)) r.connect(i)
    r.trim()
    expect(r.closed.has(0)).toBe(true)
    for (const i of range(1, 5)) expect(r.closed.has(i)).toBe(false)
  })

  it('PeerProtectionMultipleTags: protected while any reason holds', () => {
    const r = new Rig({ lowWater: 1, highWater: 2, gracePeriodMs: 0, silencePeriodMs: 3_600_000 })
    r.connect(0)
    r.cm.tag(peer(0), 't', -100)
    r.cm.protect(peer(0), 'tag1')
    r.cm.protect(peer(0), 'tag2')
    for (const i of range(1, 4)) r.connect(i)
    r.trim()
    expect(r.closed.has(0)).toBe(false)
    expect(r.cm.unprotect(peer(0), 'tag1')).toBe(true)
    expect(r.cm.isProtected(peer(0))).toBe(true)
    expect(r.cm.isProtected(peer(0), 'tag1')).toBe(false)
    expect(r.cm.isProtected(peer(0), 'tag2')).toBe(true)
    r.connect(4)
    r.trim()
    expect(r.closed.has(0)).toBe(false)
    expect(r.cm.unprotect(peer(0), 'tag2')).toBe(false)
    expect(r.cm.isProtected(peer(0))).toBe(false)
    r.connect(5)
    r.trim()
    expect(r.closed.has(0)).toBe(true)
  })

  it('PeerProtectionIdempotent: protecting twice for one reason needs one unprotect', () => {
    const cm = new ConnectionManager({})
    cm.protect(peer(0), 'global')
    cm.protect(peer(0), 'global')
    expect(cm.isProtected(peer(0), 'global')).toBe(true)
    expect(cm.unprotect(peer(0), 'global')).toBe(false)
    expect(cm.isProtected(peer(0))).toBe(false)
    expect(cm.unprotect(peer(0), 'global')).toBe(false)
  })

  it('UpsertTag: the function sees the old value (0 when unset)', () => {
    const r = new Rig({})
    r.connect(1)
    const seen: number[] = []
    const inc = (d: number) => (v: number): number => {
      seen.push(v)
      return v + d
    }
    r.cm.upsertTag(peer(1), 'tag', inc(1))
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(1)
    r.cm.upsertTag(peer(1), 'tag', inc(1))
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(2)
    r.cm.upsertTag(peer(1), 'tag', inc(-1))
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(1)
    expect(seen).toEqual([0, 1, 2])
    expect(() => r.cm.upsertTag(peer(1), 'tag', () => Number.NaN)).toThrow(TypeError)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(1)
  })

  it('TemporaryEntriesClearedFirst: a trim drops temporary entries past their grace period', () => {
    const r = new Rig({ lowWater: 1, highWater: 1, gracePeriodMs: 0, temporaryEntryTimeoutMs: 3_600_000 })
    r.cm.tag(peer(9), 'test', 20)
    expect(r.cm.getTagInfo(peer(9))!.value).toBe(20)
    r.connect(1)
    r.connect(2)
    expect(r.cm.getTagInfo(peer(9))).toBeUndefined()
    expect(r.closed.size).toBe(1)
  })

  it('TemporaryEntryConvertedOnConnection: early tags are kept and the grace period starts at the connection', () => {
    const r = new Rig({ gracePeriodMs: 100 })
    r.cm.tag(peer(1), 'test', 20)
    expect(r.cm.getTagInfo(peer(1))!.temporary).toBe(true)
    r.now = 50
    r.connect(1)
    const info = r.cm.getTagInfo(peer(1))!
    expect(info.temporary).toBe(false)
    expect(info.value).toBe(20)
    expect(info.firstSeen).toBe(50)
    r.advance(1000) // no temporary-entry timeout applies any more
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(20)
  })

  const base: TrimCandidate = { key: 'p', temporary: false, value: 0, streams: 0, inbound: false, firstSeen: 0 }
  it.each([
    { name: 'temporary entries first', a: { temporary: true, value: 100 }, b: { value: 0 } },
    { name: 'then the lowest value', a: { value: 20 }, b: { value: 40 } },
    { name: 'then no streams', a: { streams: 0, inbound: false }, b: { streams: 3, inbound: true } },
    { name: 'then inbound', a: { streams: 5, inbound: true }, b: { streams: 2, inbound: false } },
    { name: 'then fewer streams', a: { streams: 2 }, b: { streams: 5 } },
    { name: 'then the most recently seen', a: { firstSeen: 10 }, b: { firstSeen: 5 } },
    { name: 'then by peer id', a: { key: 'a' }, b: { key: 'b' } },
  ])('PeerInfoSorting: $name', ({ a, b }) => {
    const x = { ...base, ...a }
    const y = { ...base, ...b }
    expect(compareForTrim(x, y)).toBeLessThan(0)
    expect(compareForTrim(y, x)).toBeGreaterThan(0)
    expect([y, x].sort(compareForTrim)).toEqual([x, y])
  })

  it('trim order end to end: equal values close idle inbound, idle outbound, busy inbound, then busy outbound', () => {
    const r = new Rig({ lowWater: 1, highWater: 10, gracePeriodMs: 0 })
    r.connect(1, 'outbound') // busy outbound
    r.connect(2, 'inbound') // busy inbound
    r.connect(3, 'outbound') // idle outbound
    r.connect(4, 'inbound') // idle inbound
    r.connect(5, 'inbound')
    r.cm.tag(peer(5), 'kept', 1)
    r.cm.streamOpened(1)
    r.cm.streamOpened(2)
    r.trim()
    expect(r.closes.map((c) => c.connection)).toEqual([4, 3, 2, 1])
    expect(r.closes[0]!.peer.equals(peer(4))).toBe(true)
  })

  it('a trimmed peer loses every connection, and they all count toward the target', () => {
    const r = new Rig({ lowWater: 2, highWater: 10, gracePeriodMs: 0 })
    r.connect(1, 'inbound', 101)
    r.connect(1, 'outbound', 102)
    r.connect(2, 'inbound', 201)
    r.connect(3, 'inbound', 301)
    r.cm.tag(peer(2), 'v', 1)
    r.cm.tag(peer(3), 'v', 2)
    expect(r.trim()).toBe(2) // 4 connections, target 2: peer 1's two connections
    expect([...r.closed].sort()).toEqual([101, 102])
    expect(r.cm.getTagInfo(peer(1))).toBeUndefined()
    expect(r.cm.info().connections).toBe(2)
  })

  it('checkLimit: high water above a hard connection limit is reported (go #2628)', () => {
    const cm = new ConnectionManager({ lowWater: 100, highWater: 400 })
    expect(cm.checkLimit(512)).toBeUndefined()
    expect(cm.checkLimit(300, 'maxConnections')).toMatch(/high water 400 exceeds the maxConnections of 300/)
  })

  it('options: defaults as go; bad values are RangeErrors', () => {
    expect(new ConnectionManager().info()).toMatchObject({ lowWater: 160, highWater: 192, gracePeriodMs: 60_000, silencePeriodMs: 10_000 })
    expect(() => new ConnectionManager({ lowWater: 5, highWater: 4 })).toThrow(RangeError)
    expect(() => new ConnectionManager({ gracePeriodMs: -1 })).toThrow(RangeError)
    expect(() => new ConnectionManager({ highWater: 1.5 })).toThrow(RangeError)
    expect(() => new ConnectionManager({ maxTemporaryEntries: 0 })).toThrow(RangeError)
  })
})

describe('connection manager: decaying tags (go decay_test.go cases)', () => {
  it('DecayFixed: the value drops each interval and the tag goes at 0; the peer value follows', () => {
    const r = new Rig({})
    r.connect(1)
    r.cm.tag(peer(1), 'plain', 1)
    const t = r.cm.registerDecayingTag('pubsub-deliveries', 1000, decayFixed(3))
    t.bump(peer(1), 7)
    expect(r.cm.getTagInfo(peer(1))!.tags.get('pubsub-deliveries')).toBe(7)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(8)
    r.advance(999)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(8)
    r.advance(1)
    expect(r.cm.getTagInfo(peer(1))!.tags.get('pubsub-deliveries')).toBe(4)
    r.advance(1000)
    expect(r.cm.getTagInfo(peer(1))!.tags.get('pubsub-deliveries')).toBe(1)
    r.advance(1000)
    const info = r.cm.getTagInfo(peer(1))!
    expect(info.tags.has('pubsub-deliveries')).toBe(false)
    expect(info.value).toBe(1)
    expect(r.cm.pollTimeout()).toBeUndefined() // a tag with no values sets no deadline
  })

  it('DecayLinear and multiple bumps with a bounded sum', () => {
    const r = new Rig({})
    r.connect(1)
    const t = r.cm.registerDecayingTag('lin', 100, decayLinear(0.5), bumpSumBounded(0, 10))
    t.bump(peer(1), 6)
    t.bump(peer(1), 6)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(10)
    r.advance(100)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(5)
    r.advance(200)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(1)
    r.advance(100)
    expect(r.cm.getTagInfo(peer(1))!.tags.has('lin')).toBe(false)
  })

  it('DecayExpireWhenInactive: kept while bumped, removed after the quiet time; bumpOverwrite', () => {
    const r = new Rig({})
    r.connect(1)
    const t = r.cm.registerDecayingTag('active', 100, decayExpireWhenInactive(250), bumpOverwrite())
    t.bump(peer(1), 5)
    r.advance(200)
    t.bump(peer(1), 3)
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(3)
    r.advance(200) // 400: last bump at 200
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(3)
    r.advance(100) // 500: quiet for 300 >= 250
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(0)
  })

  it('TagRemoval and TagClosure: remove drops one peer; close drops every value and refuses later bumps', () => {
    const r = new Rig({})
    r.connect(1)
    r.connect(2)
    const t = r.cm.registerDecayingTag('x', 100, decayFixed(1))
    t.bump(peer(1), 5)
    t.bump(peer(2), 5)
    t.remove(peer(1))
    expect(r.cm.getTagInfo(peer(1))!.value).toBe(0)
    expect(r.cm.getTagInfo(peer(2))!.value).toBe(5)
    expect(() => r.cm.registerDecayingTag('x', 100, decayFixed(1))).toThrow(UsageError)
    t.close()
    expect(r.cm.getTagInfo(peer(2))!.value).toBe(0)
    expect(() => t.bump(peer(2), 1)).toThrow(/connmgr\/decaying-tag-closed/)
    expect(r.cm.registerDecayingTag('x', 100, decayFixed(1)).name).toBe('x') // the name is free again
  })

  it('a bump on an unknown peer makes a temporary entry', () => {
    const r = new Rig({ gracePeriodMs: 500 })
    r.cm.registerDecayingTag('d', 100, decayFixed(1)).bump(peer(4), 50)
    expect(r.cm.getTagInfo(peer(4))).toMatchObject({ temporary: true, value: 50 })
    r.advance(500)
    expect(r.cm.getTagInfo(peer(4))).toBeUndefined()
  })
})

describe('connection manager: bounds', () => {
  it('maxTagsPerPeer: at the limit, then one more is a UsageError (existing tags still update)', () => {
    const cm = new ConnectionManager({ maxTagsPerPeer: 3 })
    cm.connected(0, { id: 1, peer: peer(1), direction: 'inbound' })
    cm.tag(peer(1), 'a', 1)
    cm.tag(peer(1), 'b', 1)
    cm.registerDecayingTag('d', 10, decayFixed(1)).bump(peer(1), 1)
    expect(() => cm.tag(peer(1), 'c', 1)).toThrow(/connmgr\/too-many-tags/)
    expect(() => cm.upsertTag(peer(1), 'c', () => 1)).toThrow(UsageError)
    cm.tag(peer(1), 'a', 10)
    expect(cm.getTagInfo(peer(1))!.value).toBe(12)
  })

  it('maxTemporaryEntries: at the limit all stay; past it the oldest is evicted', () => {
    const cm = new ConnectionManager({ maxTemporaryEntries: 3 })
    for (const i of range(0, 3)) cm.tag(peer(i), 't', 1)
    expect(range(0, 3).every((i) => cm.getTagInfo(peer(i)) !== undefined)).toBe(true)
    expect(cm.info().evictedTemporaryEntries).toBe(0)
    cm.tag(peer(3), 't', 1)
    expect(cm.getTagInfo(peer(0))).toBeUndefined()
    expect(cm.getTagInfo(peer(3))).toBeDefined()
    expect(cm.trackedPeers).toBe(3)
    expect(cm.info().evictedTemporaryEntries).toBe(1)
    // connected peers are not temporary entries and do not count
    cm.connected(0, { id: 9, peer: peer(9), direction: 'outbound' })
    cm.tag(peer(9), 't', 1)
    expect(cm.getTagInfo(peer(1))).toBeDefined()
  })

  it('maxProtectedPeers and maxProtectReasonsPerPeer: at the limit, then one more is a UsageError', () => {
    const cm = new ConnectionManager({ maxProtectedPeers: 2, maxProtectReasonsPerPeer: 2 })
    cm.protect(peer(0), 'a')
    cm.protect(peer(1), 'a')
    expect(() => cm.protect(peer(2), 'a')).toThrow(/connmgr\/too-many-protected/)
    cm.protect(peer(0), 'b')
    cm.protect(peer(0), 'b')
    expect(() => cm.protect(peer(0), 'c')).toThrow(/connmgr\/too-many-protect-reasons/)
    cm.unprotect(peer(1), 'a')
    cm.protect(peer(2), 'a')
    expect(cm.isProtected(peer(2))).toBe(true)
  })

  it('maxDecayingTags: at the limit, then one more is a UsageError', () => {
    const cm = new ConnectionManager({ maxDecayingTags: 2 })
    cm.registerDecayingTag('a', 10, decayFixed(1))
    const b = cm.registerDecayingTag('b', 10, decayFixed(1))
    expect(() => cm.registerDecayingTag('c', 10, decayFixed(1))).toThrow(/connmgr\/too-many-decaying-tags/)
    b.close()
    expect(cm.registerDecayingTag('c', 10, decayFixed(1)).name).toBe('c')
  })
})

describe('connection manager: behaviour actions', () => {
  it('tag and protect actions past a bound are dropped and counted, not thrown; a bad value is the behaviour bug it is', () => {
    const cm = new ConnectionManager({ maxTagsPerPeer: 1, maxProtectedPeers: 1 })
    cm.connected(0, { id: 1, peer: peer(1), direction: 'inbound' })
    expect(cm.tagFromBehaviour(0, peer(1), 'kbucket', 5)).toBe(true)
    expect(cm.tagFromBehaviour(0, peer(1), 'pubsub:t', 20)).toBe(false)
    expect(cm.protectFromBehaviour(0, peer(1), 'pubsub:<direct>', true)).toBe(true)
    expect(cm.protectFromBehaviour(0, peer(2), 'pubsub:<direct>', true)).toBe(false)
    expect(cm.info().droppedActions).toBe(2)
    expect(cm.getTagInfo(peer(1))!.value).toBe(5)
    expect(cm.tagFromBehaviour(0, peer(1), 'kbucket', undefined)).toBe(true)
    expect(cm.getTagInfo(peer(1))!.value).toBe(0)
    expect(cm.protectFromBehaviour(0, peer(1), 'pubsub:<direct>', false)).toBe(true)
    expect(cm.isProtected(peer(1))).toBe(false)
    expect(() => cm.tagFromBehaviour(0, peer(1), 'x', Number.NaN)).toThrow(TypeError)
  })
})
