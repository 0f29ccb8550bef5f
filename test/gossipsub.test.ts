// Gossipsub unit tests: RPC vectors, codec properties, garbage, signing, the behaviour against one
// scripted peer (invalid signatures, IDONTWANT, GRAFT in backoff, IWANT limits, slow peers), config.
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { vectorFile } from './helpers/vectors.js'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { fromHex, toHex, utf8 } from '../src/core/bytes.js'
import { encodeLp } from '../src/core/lp.js'
import {
  Backoff, buildMessage, frameMessage, checkSignaturePolicy, decodeRpc, encodePubsubMessage, encodeRpc, GossipsubBehaviour, MessageCache,
  msgIdContentSha256, msgIdFromSeqno, SeenCache, signatureInput, type GossipsubEvent,
} from '../src/gossipsub/index.js'
import type { ConnectionInfo } from '../src/swarm/index.js'
import type { PeerState } from '../src/gossipsub/types.js'
import { IN, ME, PEER, peerMsg, scripted, seeded } from './helpers/gossipsub-scripted.js'

const vectors = vectorFile('gossipsub')

describe('vectors', () => {
  test.each(vectors.where((v) => v.decoded !== undefined && v.id.startsWith('rpc-')).map((v) => [v.id, v] as const))('%s', (_id, v) => {
    const bytes = fromHex(v.hex!)
    const rpc = decodeRpc(bytes)
    const d = v.decoded
    if (d.subscriptions !== undefined) expect(rpc.subscriptions).toEqual(d.subscriptions)
    if (d.control !== undefined) {
      const c = rpc.control!
      expect({
        ihave: c.ihave.map((x) => ({ topic: x.topic, messageIds: x.messageIds.map(toHex) })),
        iwant: c.iwant.map((x) => ({ messageIds: x.messageIds.map(toHex) })),
        graft: c.graft,
        prune: c.prune.map((x) => ({ topic: x.topic, peers: x.peers.map((p) => toHex(p.peerId!)), backoff: x.backoff })),
        idontwant: c.idontwant.map((x) => ({ messageIds: x.messageIds.map(toHex) })),
      }).toEqual(d.control)
    }
    if (Array.isArray(d.messages)) {
      expect(rpc.messages.map(({ msg }) => Object.fromEntries(Object.entries(msg).map(([k, val]) => [k, typeof val === 'string' ? val : toHex(val as Uint8Array)])))).toEqual(d.messages)
    }
    // re-encoding gives the same bytes
    expect(toHex(encodeRpc({
      subscriptions: rpc.subscriptions,
      messages: rpc.messages.map((m) => encodePubsubMessage(m.msg)),
      ...(rpc.control !== undefined ? { control: rpc.control } : {}),
    }))).toBe(v.hex)
    if (d.contentId !== undefined) expect(toHex(msgIdContentSha256(nobleCrypto)(rpc.messages[0]!.msg))).toBe(d.contentId)
    if (d.msgIdFromSeqno !== undefined) {
      expect(toHex(msgIdFromSeqno(rpc.messages[0]!.msg))).toBe(d.msgIdFromSeqno)
      expect(checkSignaturePolicy('StrictSign', rpc.messages[0]!.msg, rpc.messages[0]!.raw, nobleCrypto)).toBeUndefined()
    }
  })

  test.each([nobleCrypto, nodeCrypto])('signature input and signature (%s)', (crypto) => {
    const v = vectors.get('signature-input-strictsign')
    const key = testIdentity(v.seedByte as number, '/ip4/127.0.0.1/tcp/1').key
    const m = buildMessage('StrictSign', v.topic as string, fromHex(v.data as string), { key, crypto, seqno: BigInt(v.seqno as string) })
    expect(toHex(signatureInput(m))).toBe(v.hex)
    expect(toHex(m.signature!)).toBe(v.decoded.signature)
    expect(m.key).toBeUndefined()
  })

  test.each(vectors.where((v) => v.error !== undefined).map((v) => [v.id, v] as const))('%s', (_id, v) => {
    let err: unknown
    try { decodeRpc(fromHex(v.hex!)) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ProtocolError)
    expect((err as ProtocolError).code).toBe(v.error)
  })
})

describe('codec properties', () => {
  const bytes = fc.uint8Array({ maxLength: 40 })
  const topic = fc.string({ minLength: 1, maxLength: 12 })
  const arbRpc = fc.record({
    subscriptions: fc.array(fc.record({ subscribe: fc.boolean(), topic }), { maxLength: 4 }),
    messages: fc.array(fc.record({ data: bytes, topic }), { maxLength: 3 }),
    control: fc.record({
      ihave: fc.array(fc.record({ topic, messageIds: fc.array(bytes, { maxLength: 3 }) }), { maxLength: 2 }),
      iwant: fc.array(fc.record({ messageIds: fc.array(bytes, { maxLength: 3 }) }), { maxLength: 2 }),
      graft: fc.array(fc.record({ topic }), { maxLength: 2 }),
      prune: fc.array(fc.record({ topic, peers: fc.array(fc.record({ peerId: bytes }), { maxLength: 2 }), backoff: fc.nat(100000) }), { maxLength: 2 }),
      idontwant: fc.array(fc.record({ messageIds: fc.array(bytes, { maxLength: 3 }) }), { maxLength: 2 }),
    }),
  })
  test('round trip', () => {
    fc.assert(fc.property(arbRpc, (r) => {
      const enc = encodeRpc({ subscriptions: r.subscriptions, messages: r.messages.map((m) => encodePubsubMessage(m)), control: r.control })
      const d = decodeRpc(enc)
      expect(d.subscriptions).toEqual(r.subscriptions)
      expect(d.messages.map((m) => m.msg)).toEqual(r.messages)
      const empty = Object.values(r.control).every((a) => a.length === 0)
      if (empty) expect(d.control).toBeUndefined()
      else expect(d.control).toEqual(r.control)
    }))
  })
  test('frameMessage is encodeLp(encodeRpc({ messages: [raw] }))', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20000 }), (raw) => {
      expect(toHex(frameMessage(raw))).toBe(toHex(encodeLp(encodeRpc({ messages: [raw] }))))
    }), { numRuns: 50 })
  })
  test('garbage yields ProtocolError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try { decodeRpc(b) } catch (e) { expect(e).toBeInstanceOf(ProtocolError) }
    }), { numRuns: 2000 })
  })
  test('limits: too many message ids in one IHAVE', () => {
    const ids = Array.from({ length: 11 }, () => Uint8Array.of(1))
    const enc = encodeRpc({ control: { ihave: [{ topic: 't', messageIds: ids }] } })
    expect(() => decodeRpc(enc, { maxSubscriptions: 10, maxMessages: 10, maxControl: 10, maxIdsPerControl: 10, maxPxPeers: 10 })).toThrow(expect.objectContaining({ code: 'gossipsub/too-many-message-ids' }))
  })
})

describe('signature policy', () => {
  const key = testIdentity(3, '/ip4/127.0.0.1/tcp/1').key
  const signed = buildMessage('StrictSign', 't', utf8('x'), { key, crypto: nobleCrypto, seqno: 5n })
  test('a valid signature passes; a flipped data bit fails', () => {
    expect(checkSignaturePolicy('StrictSign', signed, encodePubsubMessage(signed), nobleCrypto)).toBeUndefined()
    const bad = { ...signed, data: utf8('y') }
    expect(checkSignaturePolicy('StrictSign', bad, encodePubsubMessage(bad), nobleCrypto)).toBe('gossipsub/invalid-signature')
  })
  test('missing fields, a mismatched key, and StrictNoSign with signature fields', () => {
    const { signature: _s, ...noSig } = signed
    expect(checkSignaturePolicy('StrictSign', noSig, encodePubsubMessage(noSig), nobleCrypto)).toBe('gossipsub/missing-signature')
    const other = testIdentity(4, '/ip4/127.0.0.1/tcp/1').key.publicKey.bytes
    const wrongKey = { ...signed, key: other }
    expect(checkSignaturePolicy('StrictSign', wrongKey, encodePubsubMessage(wrongKey), nobleCrypto)).toBe('gossipsub/key-mismatch')
    expect(checkSignaturePolicy('StrictNoSign', signed, encodePubsubMessage(signed), nobleCrypto)).toBe('gossipsub/unexpected-signature-fields')
  })
  test('invalid option combinations are rejected', () => {
    expect(() => new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, signaturePolicy: 'StrictNoSign' })).toThrow(TypeError)
    expect(() => new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto })).toThrow(TypeError)
    expect(() => new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, privateKey: key, D: 6, Dlo: 7 })).toThrow(RangeError)
    expect(() => new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, privateKey: key, Dout: 5 })).toThrow(RangeError)
    expect(() => new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, privateKey: key, scoreThresholds: { graylistThreshold: 0 } })).toThrow(RangeError)
  })
})

describe('caches', () => {
  test('mcache: gossip over 3 of 5 windows, IWANT count per peer', () => {
    const mc = new MessageCache(5, 3)
    mc.put('a', Uint8Array.of(1), 't', Uint8Array.of(0))
    for (let i = 0; i < 3; i++) mc.shift()
    expect(mc.getGossipIds('t')).toEqual([])
    expect(mc.get('a')).toBeDefined()
    mc.shift()
    mc.shift()
    expect(mc.get('a')).toBeUndefined()
    mc.put('b', Uint8Array.of(2), 't', Uint8Array.of(0))
    expect(mc.getForPeer('b', 'p')!.count).toBe(1)
    expect(mc.getForPeer('b', 'p')!.count).toBe(2)
  })
  test('seen cache: TTL and entry bound', () => {
    const s = new SeenCache(1000, 2)
    expect(s.put(0, 'a')).toBe(true)
    expect(s.put(1, 'a')).toBe(false)
    s.put(2, 'b')
    s.put(3, 'c')
    expect(s.size).toBe(2)
    expect(s.has('a')).toBe(false)
    s.prune(1002)
    expect(s.has('b')).toBe(false)
    expect(s.has('c')).toBe(true)
  })
  test('backoff: extended, never shortened', () => {
    const b = new Backoff(10)
    b.add(0, 't', 'p', 1000)
    b.add(0, 't', 'p', 10)
    expect(b.active(999, 't', 'p')).toBe(true)
    expect(b.active(1000, 't', 'p')).toBe(false)
  })
})

// --- the behaviour against one scripted peer (test/helpers/gossipsub-scripted.ts) ---------------------

describe('behaviour', () => {
  test('hello: our subscriptions go first on the outbound stream', () => {
    const { sent } = scripted()
    const rpcs = sent()
    expect(rpcs[0]!.subscriptions).toEqual([{ subscribe: true, topic: 't' }])
  })

  test('a valid message is delivered once and a duplicate is dropped', () => {
    const { h, send } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const { raw } = peerMsg('hi')
    send({ messages: [raw] })
    send({ messages: [raw] })
    const msgs = h.events().filter((e) => e.type === 'message')
    expect(msgs).toHaveLength(1)
  })

  test('an invalid signature is dropped, not forwarded, and penalised', () => {
    const { b, h, send } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const { m } = peerMsg('hi')
    const forged = encodePubsubMessage({ ...m, data: utf8('forged') })
    for (let i = 0; i < 3; i++) send({ messages: [forged] })
    expect(h.events().filter((e) => e.type === 'message')).toHaveLength(0)
    const inv = h.events().filter((e) => e.type === 'invalid-message')
    expect(inv.map((e) => (e as { reason: string }).reason)).toEqual(['gossipsub/invalid-signature', 'gossipsub/invalid-signature', 'gossipsub/invalid-signature'])
    expect(b.getScore(PEER.peer, h.now)).toBeLessThan(b.inspect().cfg.scoreThresholds.graylistThreshold)
    // graylisted: even a valid message is now ignored
    send({ messages: [peerMsg('later', 2n).raw] })
    expect(h.events().filter((e) => e.type === 'message')).toHaveLength(0)
  })

  test('garbage on the inbound stream resets it with a ProtocolError event, nothing thrown', () => {
    const { h } = scripted()
    const acts = h.input({ type: 'stream-data', stream: IN, data: Uint8Array.of(5, 0x08, 0x01, 0xff, 0xff, 0xff) })
    expect(acts.some((a) => a.type === 'reset')).toBe(true)
    const ev = h.events().find((e) => e.type === 'peer-protocol-error') as { error: ProtocolError }
    expect(ev.error).toBeInstanceOf(ProtocolError)
  })

  test('garbage property: any bytes cause only ProtocolError-driven resets, buffers bounded', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const { b, h } = scripted({ maxRpcSize: 1024, maxOutboundBytes: 4096 })
      for (const c of chunks) h.input({ type: 'stream-data', stream: IN, data: c })
      expect(b.inspect().peers.get(PEER.peer.toString())!.inbound.get(IN.connection)?.decoder.buffered ?? 0).toBeLessThanOrEqual(1024 + 10)
    }), { numRuns: 200 })
  })

  test('IDONTWANT: a queued copy of a message the peer does not want is dropped before it is written', () => {
    const { b, h, send, sent } = scripted({ idontwantMessageSizeThreshold: 100 })
    send({ subscriptions: [{ subscribe: true, topic: 't' }], control: { graft: [{ topic: 't' }] } })
    expect(b.getMeshPeers('t').map(String)).toEqual([PEER.peer.toString()])
    sent()
    const p = b.inspect().peers.get(PEER.peer.toString()) as PeerState // test-only write: plays a muxer
    p.inFlight = 1 // an earlier write is still in the muxer: messages wait in our queue
    const { messageId } = b.publish(h.now, 't', new Uint8Array(300).fill(2))
    h.drain()
    expect(p.outbox.length).toBe(1)
    send({ control: { idontwant: [{ messageIds: [messageId] }] } })
    expect(p.outbox.length).toBe(0)
    expect(p.outboxBytes).toBe(0)
    p.inFlight = 0
    expect(sent().flatMap((r) => r.messages)).toHaveLength(0)
  })

  test('IDONTWANT goes to other v1.2 mesh peers, before validation', () => {
    const b = new GossipsubBehaviour({ random: seeded(3), crypto: nobleCrypto, privateKey: ME.key, idontwantMessageSizeThreshold: 100 })
    const h = new Harness<GossipsubEvent>(b)
    b.subscribe(0, 't')
    b.setTopicValidator('t', true)
    const peers = [PEER, testIdentity(6, '/ip4/10.0.0.6/tcp/1')]
    peers.forEach((p, i) => {
      const conn: ConnectionInfo = { id: i + 1, peer: p.peer, remotePublicKey: p.publicKey, remoteAddr: p.addr, localAddr: undefined, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
      const open = h.input({ type: 'connection-established', connection: conn }).find((a) => a.type === 'open-stream') as { requestId: number }
      h.input({ type: 'stream-opened', stream: { connection: i + 1, stream: 1 }, protocol: '/meshsub/1.2.0', direction: 'outbound', connection: conn, requestId: open.requestId })
      h.input({ type: 'stream-opened', stream: { connection: i + 1, stream: 2 }, protocol: '/meshsub/1.2.0', direction: 'inbound', connection: conn })
      h.input({ type: 'stream-data', stream: { connection: i + 1, stream: 2 }, data: encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 't' }], control: { graft: [{ topic: 't' }] } })) })
    })
    h.log.splice(0)
    const { raw, m } = peerMsg('z'.repeat(150))
    h.input({ type: 'stream-data', stream: IN, data: encodeLp(encodeRpc({ messages: [raw] })) })
    const writes = h.log.filter((a) => a.type === 'write') as Array<{ stream: { connection: number }; data: Uint8Array }>
    expect(writes).toHaveLength(1)
    expect(writes[0]!.stream.connection).toBe(2)
    const rpc = decodeRpc(writes[0]!.data.subarray(1))
    expect(toHex(rpc.control!.idontwant[0]!.messageIds[0]!)).toBe(toHex(msgIdFromSeqno(m)))
    expect(h.events().some((e) => e.type === 'validate')).toBe(true)
  })

  test('GRAFT during backoff is answered with PRUNE and penalised', () => {
    const { b, h, send, sent } = scripted()
    send({ subscriptions: [{ subscribe: true, topic: 't' }], control: { graft: [{ topic: 't' }] } })
    send({ control: { prune: [{ topic: 't', peers: [], backoff: 60 }] } })
    expect(b.getMeshPeers('t')).toHaveLength(0)
    sent()
    send({ control: { graft: [{ topic: 't' }] } })
    const prunes = sent().flatMap((r) => r.control?.prune ?? [])
    expect(prunes.map((p) => p.topic)).toEqual(['t'])
    expect(prunes[0]!.backoff).toBe(60)
    expect(b.getMeshPeers('t')).toHaveLength(0)
    for (let i = 0; i < 3; i++) send({ control: { graft: [{ topic: 't' }] } })
    expect(b.getScore(PEER.peer, h.now)).toBeLessThan(0)
  })

  test('IWANT: served from the cache at most gossipRetransmission times; broken IHAVE promise penalised', () => {
    const { b, h, send, sent } = scripted({ gossipRetransmission: 2 })
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    const { messageId } = b.publish(h.now, 't', utf8('cached'))
    sent()
    for (let i = 0; i < 4; i++) send({ control: { iwant: [{ messageIds: [messageId] }] } })
    expect(sent().flatMap((r) => r.messages)).toHaveLength(2)
    // the peer advertises an id it never delivers
    send({ control: { ihave: [{ topic: 't', messageIds: [Uint8Array.of(1, 2, 3)] }] } })
    expect(sent().flatMap((r) => r.control?.iwant ?? []).length).toBe(1)
    const before = b.getScore(PEER.peer, h.now)
    for (let i = 0; i < 5; i++) {
      send({ control: { ihave: [{ topic: 't', messageIds: [Uint8Array.of(9, i)] }] } })
      h.advance(b.inspect().cfg.heartbeatInterval)
    }
    h.advance(5000)
    expect(b.getScore(PEER.peer, h.now)).toBeLessThan(before)
  })

  test('floodsub peer: messages only, never control', () => {
    const { b, h, send, sent } = scripted({}, '/floodsub/1.0.0')
    send({ subscriptions: [{ subscribe: true, topic: 't' }] })
    h.advance(3000)
    expect(b.getMeshPeers('t')).toHaveLength(0)
    b.publish(h.now, 't', utf8('to floodsub'))
    const rpcs = sent()
    expect(rpcs.some((r) => r.control !== undefined)).toBe(false)
    expect(rpcs.flatMap((r) => r.messages)).toHaveLength(1)
  })

  test('slow peer: over maxOutboundBytes it leaves the mesh and messages are dropped', () => {
    const { b, h, send, sent } = scripted({ maxOutboundBytes: 4096, maxRpcSize: 2048, floodPublish: false })
    send({ subscriptions: [{ subscribe: true, topic: 't' }], control: { graft: [{ topic: 't' }] } })
    const p = b.inspect().peers.get(PEER.peer.toString()) as PeerState // test-only write: plays a muxer
    p.inFlight = 1 // the muxer never takes our bytes
    let threw = 0
    for (let i = 0; i < 10; i++) {
      try { b.publish(h.now, 't', new Uint8Array(1000).fill(i)) } catch (e) { if (e instanceof UsageError) threw++ }
      h.drain()
    }
    expect(p.outboxBytes).toBeLessThanOrEqual(4096)
    expect(h.events().some((e) => e.type === 'slow-peer')).toBe(true)
    expect(b.getMeshPeers('t')).toHaveLength(0)
    expect(threw).toBeGreaterThan(0)
    // the next heartbeat tells the peer (a control RPC may pass the message budget), with backoff
    sent()
    h.advance(1000)
    const prunes = sent().flatMap((r) => r.control?.prune ?? [])
    expect(prunes.map((pr) => [pr.topic, pr.backoff])).toEqual([['t', 60]])
  })

  test('publish with nobody to send to throws the typed error; allowPublishToZeroPeers resolves', () => {
    const b = new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, privateKey: ME.key })
    expect(() => b.publish(0, 't', utf8('x'))).toThrow(expect.objectContaining({ code: 'gossipsub/no-peers' }))
    const c = new GossipsubBehaviour({ random: seeded(1), crypto: nobleCrypto, privateKey: ME.key, allowPublishToZeroPeers: true })
    expect(c.publish(0, 't', utf8('x')).recipients).toBe(0)
  })
})
