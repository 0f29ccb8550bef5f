// Gossipsub's byte and CPU bounds (issue 11 item 4, audit §3): each limit at its value and one past it,
// through the behaviour against one scripted peer (test/helpers/gossipsub-scripted.ts), and each
// reachable from the node's `pubsub` options (the gossipsub service).
import { queryObjects } from 'node:v8'
import { describe, expect, test } from 'vitest'
import { utf8 } from '../src/core/bytes.js'
import { emptyMap, emptySet } from '../src/core/empty-map.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { ProtocolError } from '../src/core/errors.js'
import type { NodeOptions } from '../src/edge/weft-node.js'
import { DEFAULT_PEER_SCORE_PARAMS, encodePubsubMessage, encodeRpc, gossipsub, GossipsubBehaviour, PeerScore, idKey, MessageCache, msgIdFromSeqno, type GossipsubServiceOptions } from '../src/gossipsub/index.js'
import { encode as encodeVarint } from '../src/core/varint.js'
import type { ServiceContext } from '../src/swarm/index.js'
import { testIdentity } from './helpers/behaviour-harness.js'
import { IN, ME, PEER, peerMsg, scripted } from './helpers/gossipsub-scripted.js'

const view = (b: GossipsubBehaviour) => b.inspect()
const subscribers = (b: GossipsubBehaviour, topic: string) => b.getSubscribers(topic).map(String)
const errors = (h: ReturnType<typeof scripted>['h']) => h.events().filter((e) => e.type === 'peer-protocol-error')

describe('graylist', () => {
  test('a graylisted peer\'s frames are not decoded: a malformed one neither resets its stream nor raises an error', () => {
    const { b, h, send } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const { m } = peerMsg('hi')
    const forged = encodePubsubMessage({ ...m, data: utf8('forged') })
    for (let i = 0; i < 3; i++) send({ messages: [forged] })
    expect(b.getScore(PEER.peer, h.now)).toBeLessThan(view(b).cfg.scoreThresholds.graylistThreshold)
    // a frame that does not decode (field 1 as a varint): decoding it would reset the stream
    const acts = h.input({ type: 'stream-data', stream: IN, data: Uint8Array.of(5, 0x08, 0x01, 0xff, 0xff, 0xff) })
    expect(acts.filter((a) => a.type === 'reset')).toEqual([])
    expect(errors(h)).toEqual([])
  })
})

describe('topic names', () => {
  test('maxTopicLength: a remote subscription of exactly the limit (UTF-8 bytes) is kept, one byte more is never stored', () => {
    const { b, send } = scripted({ maxTopicLength: 8 })
    const at = 'a'.repeat(8)
    const atUtf8 = 'é'.repeat(4) // 8 bytes, 4 UTF-16 units
    send({ subscriptions: [at, atUtf8, 'b'.repeat(9), `${'é'.repeat(4)}x`].map((topic) => ({ subscribe: true, topic })) })
    expect(subscribers(b, at)).toEqual([PEER.peer.toString()])
    expect(subscribers(b, atUtf8)).toEqual([PEER.peer.toString()])
    expect(subscribers(b, 'b'.repeat(9))).toEqual([])
    expect(subscribers(b, `${'é'.repeat(4)}x`)).toEqual([])
    expect(view(b).peers.get(PEER.peer.toString())!.topicBytes).toBe(16)
  })

  test('maxTopicLength: we subscribe and publish to a topic at the limit, and refuse one past it (RangeError)', () => {
    const { b, h, send } = scripted({ maxTopicLength: 8 })
    const at = 'c'.repeat(8)
    b.subscribe(h.now, at)
    // the peer joins our mesh in it: control messages of that topic are handled
    send({ subscriptions: [{ subscribe: true, topic: at }], control: { graft: [{ topic: at }] } })
    expect(b.getMeshPeers(at).map(String)).toEqual([PEER.peer.toString()])
    expect(b.publish(h.now, at, utf8('x')).recipients).toBe(1)
    expect(() => b.subscribe(h.now, 'c'.repeat(9))).toThrow(RangeError)
    expect(() => b.publish(h.now, 'c'.repeat(9), utf8('x'))).toThrow(RangeError)
    expect(b.getTopics()).not.toContain('c'.repeat(9))
  })

  test('maxTopicBytesPerPeer: subscriptions up to the budget are kept, the byte past it is not; an unsubscribe frees its bytes', () => {
    const { b, send } = scripted({ maxTopicBytesPerPeer: 10 })
    send({ subscriptions: ['aaaaa', 'bbbbb', 'c'].map((topic) => ({ subscribe: true, topic })) })
    expect(subscribers(b, 'aaaaa')).toHaveLength(1)
    expect(subscribers(b, 'bbbbb')).toHaveLength(1)
    expect(subscribers(b, 'c')).toEqual([])
    send({ subscriptions: [{ subscribe: false, topic: 'aaaaa' }, { subscribe: true, topic: 'c' }] })
    expect(subscribers(b, 'c')).toHaveLength(1)
    expect(view(b).peers.get(PEER.peer.toString())!.topicBytes).toBe(6)
  })
})

describe('message ids', () => {
  const idLength = msgIdFromSeqno(peerMsg('x').m).length // from (38) + seqno (8)

  test('maxMessageIdLength: a received message whose id is at the limit is delivered; one byte under the id, it is invalid', () => {
    for (const [max, delivered] of [[idLength, 1], [idLength - 1, 0]] as const) {
      const { h, send } = scripted({ maxMessageIdLength: max })
      send({ subscriptions: [{ subscribe: true, topic: 't' }] })
      send({ messages: [peerMsg('hi').raw] })
      expect(h.events().filter((e) => e.type === 'message')).toHaveLength(delivered)
      const invalid = h.events().filter((e) => e.type === 'invalid-message').map((e) => (e as { reason: string }).reason)
      expect(invalid).toEqual(delivered === 1 ? [] : ['gossipsub/message-id-too-long'])
    }
  })

  test('maxMessageIdLength: IDONTWANT and IHAVE ids at the limit are kept, longer ones are not', () => {
    const { b, send, sent } = scripted({ maxMessageIdLength: 16 })
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    sent()
    send({ control: { idontwant: [{ messageIds: [new Uint8Array(16).fill(1), new Uint8Array(17).fill(2)] }] } })
    expect(view(b).peers.get(PEER.peer.toString())!.dontSend.size).toBe(1)
    send({ control: { ihave: [{ topic: 't', messageIds: [new Uint8Array(16).fill(3), new Uint8Array(17).fill(4)] }] } })
    const iwant = sent().flatMap((r) => r.control?.iwant ?? []).flatMap((w) => w.messageIds)
    expect(iwant).toEqual([new Uint8Array(16).fill(3)])
  })
})

describe('memory of an idle peer', () => {
  test('dontSend is the shared empty map until an IDONTWANT arrives, and again once its ids expired', () => {
    const { b, h, send, sent } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    sent()
    const state = () => view(b).peers.get(PEER.peer.toString())!
    expect(state().dontSend).toBe(emptyMap())
    send({ control: { idontwant: [{ messageIds: [new Uint8Array(8).fill(1)] }] } })
    expect(state().dontSend).not.toBe(emptyMap())
    expect(state().dontSend.size).toBe(1)
    h.advance(5_000) // three heartbeats (1 s each by default) and more: the id expired
    expect(state().dontSend).toBe(emptyMap())
  })

  test('topics is the shared empty set while the peer is in none: after its last unsubscribe too', () => {
    const { b, send } = scripted()
    const state = () => view(b).peers.get(PEER.peer.toString())!
    expect(state().topics).toBe(emptySet())
    send({ subscriptions: [{ subscribe: true, topic: 't' }, { subscribe: true, topic: 'u' }] })
    expect([...state().topics]).toEqual(['t', 'u'])
    send({ subscriptions: [{ subscribe: false, topic: 't' }] })
    expect([...state().topics]).toEqual(['u'])
    send({ subscriptions: [{ subscribe: false, topic: 'u' }] })
    expect(state().topics).toBe(emptySet())
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    expect([...state().topics]).toEqual(['t'])
  })
})

describe('memory of an idle peer: the score', () => {
  test('a peer without a scored topic costs the score no Map and no array of ips once disconnected', () => {
    const maps = (): number => queryObjects(Map as never, { format: 'count' }) as number
    const score = new PeerScore(DEFAULT_PEER_SCORE_PARAMS, 120_000, 1_000, 1_000)
    const before = maps()
    for (let i = 0; i < 300; i++) { score.addPeer(`p${i}`); score.setIPs(`p${i}`, ['10.0.0.1']) }
    expect(maps() - before).toBeLessThan(30) // 0 (was 300: one topics Map per peer)
    for (let i = 0; i < 300; i++) score.removePeer(`p${i}`, 0)
    expect(score.score('p1', 0)).toBe(0)
  })
})

describe('retained scores of disconnected peers (maxRetainedPeers)', () => {
  test('past the cap, the peer that disconnected longest ago is forgotten, not the one added first', () => {
    const score = new PeerScore(DEFAULT_PEER_SCORE_PARAMS, 120_000, 1_000, 2)
    for (const p of ['a', 'b', 'c']) { score.addPeer(p); score.addPenalty(p, 3) }
    for (const p of ['c', 'a', 'b']) score.removePeer(p, 0) // c left first
    expect(score.score('c', 0)).toBe(0) // forgotten: c disconnected longest ago
    expect(score.score('a', 0)).toBeLessThan(0) // still retained (the old scan forgot a, added first)
    expect(score.score('b', 0)).toBeLessThan(0)
    expect(score.trackedPeers).toBe(2)
  })
  test('a peer that reconnects leaves the retained set; one that leaves again is the newest', () => {
    const score = new PeerScore(DEFAULT_PEER_SCORE_PARAMS, 120_000, 1_000, 2)
    for (const p of ['a', 'b', 'c']) { score.addPeer(p); score.addPenalty(p, 3) }
    score.removePeer('a', 0)
    score.removePeer('b', 0)
    score.addPeer('a') // back: no longer retained
    score.removePeer('c', 0) // retained: b, c (2, at the cap)
    expect(score.trackedPeers).toBe(3)
    score.removePeer('a', 0) // retained: b, c, a -> b forgotten
    expect(score.score('b', 0)).toBe(0)
    expect(score.score('a', 0)).toBeLessThan(0)
    expect(score.score('c', 0)).toBeLessThan(0)
  })
})

describe('message cache', () => {
  test('mcacheMaxBytes: messages up to the budget stay; one byte past it, the oldest goes; a message over the budget alone is not cached', () => {
    const c = new MessageCache(5, 3, 100)
    const raw = (n: number, v: number) => new Uint8Array(n).fill(v)
    c.put('a', raw(1, 1), 't', raw(60, 1))
    c.shift()
    c.put('b', raw(1, 2), 't', raw(40, 2))
    expect([c.size, c.bytes]).toEqual([2, 100])
    c.put('c', raw(1, 3), 't', raw(1, 3))
    expect(c.get('a')).toBeUndefined()
    expect([c.size, c.bytes]).toEqual([2, 41])
    c.put('d', raw(1, 4), 't', raw(101, 4))
    expect(c.get('d')).toBeUndefined()
    expect(c.bytes).toBe(41)
    // the windows still work after early eviction
    for (let i = 0; i < 5; i++) c.shift()
    expect([c.size, c.bytes]).toEqual([0, 0])
  })

  test('mcacheMaxMessages: at the count the cache holds them all; one more evicts the oldest (even from the current window)', () => {
    const c = new MessageCache(5, 3, Infinity, 2)
    const one = new Uint8Array(1)
    c.put('a', one, 't', one)
    c.put('b', one, 't', one)
    expect(c.size).toBe(2)
    c.put('c', one, 't', one)
    expect([c.get('a'), c.size]).toEqual([undefined, 2])
    expect(c.getGossipIds('t')).toHaveLength(2)
  })

  test('the behaviour caches within mcacheMaxBytes / mcacheMaxMessages', () => {
    const { b, h, send } = scripted({ mcacheMaxMessages: 3, mcacheMaxBytes: 100_000 })
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    for (let i = 0; i < 3; i++) b.publish(h.now, 't', utf8(`m${i}`))
    expect(view(b).mcache.size).toBe(3)
    b.publish(h.now, 't', utf8('m3'))
    expect(view(b).mcache.size).toBe(3)
    const bytes = scripted({ mcacheMaxBytes: 300 })
    bytes.send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    for (let i = 0; i < 10; i++) bytes.b.publish(bytes.h.now, 't', new Uint8Array(50).fill(i))
    expect(view(bytes.b).mcache.bytes).toBeLessThanOrEqual(300)
    expect(view(bytes.b).mcache.size).toBeGreaterThan(0)
  })
})

describe('hard-coded caps now options', () => {
  test('maxBackoffEntries: backoffs up to the count are kept, the one past it is not', () => {
    for (const [max, kept] of [[2, 2], [1, 1]] as const) {
      const { b, h, send } = scripted({ maxBackoffEntries: max })
      b.subscribe(h.now, 'u')
      send({ subscriptions: [{ subscribe: true, topic: 't' }, { subscribe: true, topic: 'u' }], control: { graft: [{ topic: 't' }, { topic: 'u' }] } })
      expect(b.getMeshPeers('u')).toHaveLength(1)
      send({ control: { prune: [{ topic: 't', peers: [] }, { topic: 'u', peers: [] }] } })
      expect(view(b).backoff.size).toBe(kept)
    }
  })

  test('maxCachedAuthors: parsed authors up to the count are kept, the oldest goes past it', () => {
    for (const [max, kept] of [[2, 2], [1, 1]] as const) {
      const { b, h, send } = scripted({ maxCachedAuthors: max })
      send({ subscriptions: [{ subscribe: true, topic: 't' }] })
      send({ messages: [peerMsg('a', 1n, testIdentity(3, '/ip4/10.0.0.3/tcp/1').key).raw, peerMsg('b', 1n, testIdentity(4, '/ip4/10.0.0.4/tcp/1').key).raw] })
      expect(h.events().filter((e) => e.type === 'message')).toHaveLength(2)
      expect(view(b).authorIds.size).toBe(kept)
    }
  })

  test('rpcDecodeLimits: an RPC at a limit is handled, one past it resets the stream with a ProtocolError', () => {
    const subs = (n: number) => Array.from({ length: n }, (_, i) => ({ subscribe: true, topic: `s${i}` }))
    const at = scripted({ rpcDecodeLimits: { maxSubscriptions: 2 } })
    at.send({ subscriptions: subs(2) })
    expect(errors(at.h)).toEqual([])
    expect(subscribers(at.b, 's1')).toHaveLength(1)
    const past = scripted({ rpcDecodeLimits: { maxSubscriptions: 2 } })
    const acts = past.send({ subscriptions: subs(3) })
    expect(acts.some((a) => a.type === 'reset')).toBe(true)
    const ev = errors(past.h)[0] as { error: ProtocolError }
    expect(ev.error.code).toBe('gossipsub/too-many-subscriptions')
    expect(() => scripted({ rpcDecodeLimits: { maxPxPeers: 0 } })).toThrow(RangeError)
  })

  test('every new limit is reachable from createNode\'s `pubsub` options (through the gossipsub service)', () => {
    const limits = {
      maxTopicLength: 100, maxTopicBytesPerPeer: 1000, maxMessageIdLength: 64, mcacheMaxBytes: 1 << 20, mcacheMaxMessages: 1000,
      maxBackoffEntries: 500, maxCachedAuthors: 50, maxPendingValidationBytes: 4096, rpcDecodeLimits: { maxSubscriptions: 10, maxMessages: 11, maxControl: 12, maxIdsPerControl: 13, maxPxPeers: 14 },
    } satisfies GossipsubServiceOptions
    const asNodeOption: NodeOptions['pubsub'] = limits
    const ctx = { crypto: nobleCrypto, privateKey: ME.key, peerId: ME.peer, random: (n: number) => new Uint8Array(n), epoch: 0, run: <T>(f: (now: number) => T): T => f(0) } satisfies ServiceContext
    const service = gossipsub(asNodeOption)(ctx)
    const cfg = (service.behaviour as unknown as GossipsubBehaviour).inspect().cfg
    for (const [k, v] of Object.entries(limits)) expect(cfg[k as keyof typeof limits]).toEqual(v)
  })
})

describe('topic names that are Object.prototype keys', () => {
  test('a topic named "constructor" or "__proto__" uses the default topic score parameters (the score stays finite)', () => {
    for (const topic of ['constructor', '__proto__', 'toString']) {
      const { b, h, send } = scripted()
      b.subscribe(h.now, topic)
      send({ subscriptions: [{ subscribe: true, topic }], control: { graft: [{ topic }] } })
      expect(b.getMeshPeers(topic)).toHaveLength(1)
      h.advance(5000)
      expect(Number.isFinite(b.getScore(PEER.peer, h.now))).toBe(true)
      expect(b.getScore(PEER.peer, h.now)).toBeGreaterThan(0)
    }
  })
})

describe('what a kept message pins', () => {
  // the LP payload RPC { publish: [raw, filler] } of exactly `frameLength` bytes, the filler a message on a topic we ignore
  const frameOf = (raw: Uint8Array, frameLength: number): Uint8Array => {
    for (let n = 0; n < frameLength; n++) {
      const filler = encodePubsubMessage({ topic: 'other', data: new Uint8Array(n) })
      const frame = encodeRpc({ messages: [raw, filler] })
      if (frame.length === frameLength) return frame
    }
    throw new Error(`no filler gives ${frameLength} bytes`)
  }

  test('a kept message whose frame is at most twice its size + 64 stays a view; one byte more and the cache keeps a copy', () => {
    for (const [extra, copied] of [[0, false], [1, true]] as const) {
      const { b, h, send } = scripted()
      send({ subscriptions: [{ subscribe: true, topic: 't' }] })
      const { m, raw } = peerMsg('x'.repeat(5000)) // over a quarter slab block: a copy is its own buffer
      const frame = frameOf(raw, 2 * raw.length + 64 + extra)
      h.input({ type: 'stream-data', stream: IN, data: new Uint8Array([...encodeVarint(frame.length), ...frame]) })
      expect(h.events().filter((e) => e.type === 'message')).toHaveLength(1)
      const kept = view(b).mcache.get(idKey(msgIdFromSeqno(m)))!.raw
      expect(kept).toEqual(raw)
      expect(kept.buffer.byteLength).toBe(copied ? raw.length : frame.length)
    }
  })

  test('maxPendingValidationBytes: messages up to the byte budget await validation; one byte less and the next is ignored', () => {
    const a = peerMsg('a', 1n).raw
    const c = peerMsg('c', 2n).raw
    for (const [max, validating] of [[a.length + c.length, 2], [a.length + c.length - 1, 1]] as const) {
      const { b, h, send } = scripted({ maxPendingValidationBytes: max })
      b.setTopicValidator('t', true)
      send({ subscriptions: [{ subscribe: true, topic: 't' }] })
      send({ messages: [a, c] })
      expect(h.events().filter((e) => e.type === 'validate')).toHaveLength(validating)
      expect(view(b).pendingBytes).toBe(validating === 2 ? a.length + c.length : a.length)
      const req = (h.events().find((e) => e.type === 'validate') as { requestId: number }).requestId
      b.reportValidation(h.now, req, 'accept')
      expect(view(b).pendingBytes).toBe(validating === 2 ? c.length : 0)
    }
  })
})
