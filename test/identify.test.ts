import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import {
  IdentifyBehaviour, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, DEFAULT_IDENTIFY_LIMITS,
  decodeIdentify, decodeIdentifyStream, encodeIdentify, encodeIdentifyFrame,
} from '../src/identify/index.js'
import type { IdentifyEvent, IdentifyMessage } from '../src/identify/index.js'
import { PING_PROTOCOL } from '../src/ping/index.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { sealPeerRecord } from '../src/peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { Harness, Pair, testIdentity } from './helpers/behaviour-harness.js'
import type { Chunking } from './helpers/behaviour-harness.js'
import { vectorFile } from './helpers/vectors.js'
import type { Vector } from './helpers/vectors.js'

const vectors = vectorFile('identify')

// The vectors' remote (seed 0x01) and us (seed 0x02).
const remote = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const local = testIdentity(2, '/ip4/10.0.0.2/tcp/50000')

/** A message as the vectors write it: bytes as hex. */
function toJson(m: IdentifyMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { listenAddrs: m.listenAddrs.map(toHex), protocols: m.protocols }
  if (m.publicKey !== undefined) out.publicKey = toHex(m.publicKey)
  if (m.observedAddr !== undefined) out.observedAddr = toHex(m.observedAddr)
  if (m.protocolVersion !== undefined) out.protocolVersion = m.protocolVersion
  if (m.agentVersion !== undefined) out.agentVersion = m.agentVersion
  if (m.signedPeerRecord !== undefined) out.signedPeerRecord = toHex(m.signedPeerRecord)
  return out
}

function fromJson(d: Record<string, any>): IdentifyMessage {
  const m: IdentifyMessage = { listenAddrs: d.listenAddrs.map(fromHex), protocols: d.protocols }
  if (d.publicKey !== undefined) m.publicKey = fromHex(d.publicKey)
  if (d.observedAddr !== undefined) m.observedAddr = fromHex(d.observedAddr)
  if (d.protocolVersion !== undefined) m.protocolVersion = d.protocolVersion
  if (d.agentVersion !== undefined) m.agentVersion = d.agentVersion
  if (d.signedPeerRecord !== undefined) m.signedPeerRecord = fromHex(d.signedPeerRecord)
  return m
}

function decodeVector(v: Vector): IdentifyMessage {
  const limits = (v.limits ?? {}) as Record<string, number>
  const bytes = fromHex(v.hex!)
  return v.kind === 'body'
    ? decodeIdentify(bytes, limits.maxMessageSize ?? DEFAULT_IDENTIFY_LIMITS.maxMessageSize, limits)
    : decodeIdentifyStream(bytes, limits)
}

describe('identify codec vectors', () => {
  for (const v of vectors.where((x) => x.kind === 'body' || x.kind === 'stream')) {
    test(`${v.kind} ${v.id}`, () => {
      if (v.error !== undefined) {
        let err: unknown
        try {
          decodeVector(v)
        } catch (e) {
          err = e
        }
        expect(err).toBeInstanceOf(ProtocolError)
        expect((err as ProtocolError).code).toBe(v.error)
        return
      }
      const m = decodeVector(v)
      expect(toJson(m)).toEqual(v.decoded)
      // exact bytes back for messages in canonical form
      if (v.id.startsWith('message-')) expect(toHex(encodeIdentify(fromJson(v.decoded)))).toBe(v.hex)
      if (v.id === 'stream-length-prefixed') expect(toHex(encodeIdentifyFrame(fromJson(v.decoded)))).toBe(v.hex)
    })
  }

  test('message-full addresses are the multiaddrs the note names', () => {
    const v = vectors.get('message-full')
    expect(v.decoded.listenAddrs.map((h: string) => Multiaddr.fromBytes(fromHex(h)).toString())).toEqual(v.listenAddrsText)
    expect(Multiaddr.fromBytes(fromHex(v.decoded.observedAddr)).toString()).toBe(v.observedAddrText)
    expect(v.decoded.publicKey).toBe(toHex(remote.publicKey.bytes))
  })

  test('IdentifyBehaviour sends exactly message-full (deterministic Ed25519 peer record, seq = seqBase + changes)', () => {
    const v = vectors.get('message-full') as Vector & { seq: string; listenAddrsText: string[]; observedAddrText: string }
    const b = new IdentifyBehaviour({ crypto: nobleCrypto, identity: remote.key, agentVersion: 'weft/0.1.0', seqBase: BigInt(v.seq) - 1n })
    b.handle(0, { type: 'local-info', listenAddrs: v.listenAddrsText.map((t) => Multiaddr.fromString(t)), protocols: v.decoded.protocols })
    const conn: ConnectionInfo = { id: 1, peer: local.peer, remotePublicKey: local.publicKey, remoteAddr: Multiaddr.fromString(v.observedAddrText), localAddr: undefined, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
    expect(toHex(encodeIdentify(b.messageFor(conn)))).toBe(v.hex)
  })
})

describe('identify codec properties', () => {
  const arbMsg = fc.record({
    protocolVersion: fc.option(fc.string(), { nil: undefined }),
    agentVersion: fc.option(fc.string(), { nil: undefined }),
    publicKey: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
    listenAddrs: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }),
    observedAddr: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
    protocols: fc.array(fc.string(), { maxLength: 5 }),
    signedPeerRecord: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
  }).map((r) => {
    const m: IdentifyMessage = { listenAddrs: r.listenAddrs, protocols: r.protocols }
    for (const k of ['protocolVersion', 'agentVersion', 'publicKey', 'observedAddr', 'signedPeerRecord'] as const) {
      if (r[k] !== undefined) (m as any)[k] = r[k]
    }
    return m
  })

  test('round trip: body and length-prefixed stream', () => {
    fc.assert(fc.property(arbMsg, (m) => {
      expect(decodeIdentify(encodeIdentify(m), 1 << 20)).toEqual(m)
      expect(decodeIdentifyStream(encodeIdentifyFrame(m))).toEqual(m)
    }))
  })

  test('garbage into the decoders: ProtocolError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const f of [() => decodeIdentify(bytes, 256), () => decodeIdentifyStream(bytes, { maxMessageSize: 256 })]) {
        try {
          const m = f()
          expect(m.protocols.length).toBeLessThanOrEqual(DEFAULT_IDENTIFY_LIMITS.maxProtocols)
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError)
        }
      }
    }), { numRuns: 2000 })
  })

  test('mutated valid messages: ProtocolError or a message, nothing else', () => {
    const full = fromHex(vectors.get('stream-length-prefixed').hex!)
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(full.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const b = full.slice()
      for (const [i, x] of edits) b[i] = x
      try {
        decodeIdentifyStream(b)
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError)
      }
    }), { numRuns: 1000 })
  })
})

// --- behaviour -----------------------------------------------------------------------------------

const S: StreamRef = { connection: 1, stream: 1 }
const connToRemote: ConnectionInfo = { id: 1, peer: remote.peer, remotePublicKey: remote.publicKey, remoteAddr: remote.addr, localAddr: local.addr, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }

function identifyLocal(options: Partial<ConstructorParameters<typeof IdentifyBehaviour>[0]> = {}) {
  return new IdentifyBehaviour({ crypto: nobleCrypto, identity: local.key, agentVersion: 'weft-test/1', ...options })
}

/** The identify event among a behaviour's actions. */
function ev0(out: BehaviourAction<IdentifyEvent>[]): Extract<IdentifyEvent, { type: 'identified' }> {
  const ev = (out.find((a) => a.type === 'event') as { event: IdentifyEvent }).event
  if (ev.type !== 'identified') throw new Error(ev.type)
  return ev
}

/** Our identify of the remote, answered with `bytes` (in `chunks` pieces) then EOF. Returns the actions of the answer. */
function identifyWith(bytes: Uint8Array, b = identifyLocal()): { h: Harness<IdentifyEvent>; out: BehaviourAction<IdentifyEvent>[] } {
  const h = new Harness<IdentifyEvent>(b)
  const open = h.input({ type: 'connection-established', connection: connToRemote })
  expect(open).toEqual([{ type: 'open-stream', requestId: 1, peer: remote.peer, protocols: [IDENTIFY_PROTOCOL], connection: 1, allowLimited: true }])
  expect(h.input({ type: 'stream-opened', stream: S, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: connToRemote, requestId: 1 })).toEqual([{ type: 'close-write', stream: S }])
  const out = [...h.input({ type: 'stream-data', stream: S, data: bytes })]
  if (out.length === 0) out.push(...h.input({ type: 'stream-eof', stream: S }))
  return { h, out }
}

describe('identify behaviour vectors', () => {
  for (const v of vectors.where((x) => x.kind === 'behaviour')) {
    test(v.id, () => {
      const { out } = identifyWith(fromHex(v.hex!))
      if (v.error !== undefined) {
        expect(out.map((a) => a.type)).toEqual(['reset', 'event'])
        const ev = (out[1] as { event: IdentifyEvent }).event
        expect(ev.type).toBe('identify-failed')
        if (ev.type === 'identify-failed') expect((ev.error as ProtocolError).code).toBe(v.error)
        return
      }
      // an answer with an observedAddr also passes it on (every behaviour gets `observed-addr`)
      const observed = ev0(out).info.observedAddr !== undefined
      expect(out.map((a) => a.type)).toEqual(observed ? ['peer-info', 'observed-addr', 'event'] : ['peer-info', 'event'])
      const info = out[0]!.type === 'peer-info' ? out[0].info : undefined
      const ev = ev0(out)
      if (ev.type !== 'identified') throw new Error(ev.type)
      expect(ev.info.signedPeerRecordValid).toBe(v.decoded.signedPeerRecordValid)
      // Every behaviour vector carries a record: an invalid one says why (interop: 'sent but invalid' vs 'not sent').
      expect(ev.info.signedPeerRecordError === undefined).toBe(v.decoded.signedPeerRecordValid)
      expect(info!.addrs!.map(String)).toEqual(v.decoded.addrsText)
      if (v.decoded.seq !== undefined) expect(ev.info.signedPeerRecord!.seq).toBe(BigInt(v.decoded.seq))
      else expect(ev.info.signedPeerRecord).toBeUndefined()
      expect(ev.info.agentVersion).toBe('weft/0.1.0')
      expect(ev.info.publicKey.equals(remote.publicKey)).toBe(true)
      expect(ev.info.observedAddr!.toString()).toBe('/ip4/10.0.0.2/tcp/50000')
      expect(info!.protocols).toEqual(['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0'])
    })
  }
})

describe('identify behaviour', () => {
  test('an announced frame above the limit is rejected before EOF; other peers are still served', () => {
    const { h, out } = identifyWith(fromHex(vectors.get('oversized-stream').hex!))
    expect(out.map((a) => a.type)).toEqual(['reset', 'event'])
    const ev = (out[1] as { event: IdentifyEvent }).event
    expect(ev.type === 'identify-failed' && (ev.error as ProtocolError).code).toBe('identify/message-too-large')
    // still answers an inbound identify on another connection
    const other: ConnectionInfo = { ...connToRemote, id: 2, direction: 'inbound' }
    h.input({ type: 'connection-established', connection: other })
    const answer = h.input({ type: 'stream-opened', stream: { connection: 2, stream: 9 }, protocol: IDENTIFY_PROTOCOL, direction: 'inbound', connection: other })
    expect(answer.map((a) => a.type)).toEqual(['write', 'close-write', 'event'])
    // the answer is reported (metrics count it as go's IdentifySent)
    expect(answer[2]).toMatchObject({ type: 'event', event: { type: 'identify-sent', push: false, connection: { id: 2 } } })
  })

  test('bytes beyond maxMessageSize without a prefix (bare form) are rejected as they arrive', () => {
    const b = identifyLocal({ maxMessageSize: 100 })
    const { out } = identifyWith(new Uint8Array(0), b)
    expect(out.map((a) => a.type)).toEqual(['reset', 'event']) // empty stream: malformed
    const h = new Harness<IdentifyEvent>(identifyLocal({ maxMessageSize: 100 }))
    h.input({ type: 'connection-established', connection: connToRemote })
    h.input({ type: 'stream-opened', stream: S, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: connToRemote, requestId: 1 })
    const chunk = fromHex('3203' + '616263') // field 6 'abc', bare
    let failed: BehaviourAction<IdentifyEvent>[] = []
    for (let i = 0; i < 30 && failed.length === 0; i++) failed = h.input({ type: 'stream-data', stream: S, data: chunk })
    expect(failed.map((a) => a.type)).toEqual(['reset', 'event'])
  })

  test('no answer within the timeout: identify/timeout, stream reset', () => {
    const h = new Harness<IdentifyEvent>(identifyLocal({ timeout: 500 }))
    h.input({ type: 'connection-established', connection: connToRemote })
    h.input({ type: 'stream-opened', stream: S, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: connToRemote, requestId: 1 })
    expect(h.advance(499)).toEqual([])
    const out = h.advance(1)
    expect(out.map((a) => a.type)).toEqual(['reset', 'event'])
    // Silence is not a protocol violation (issue 11 item 8).
    const ev = (out[1] as { event: IdentifyEvent }).event as Extract<IdentifyEvent, { type: 'identify-failed' }>
    expect(ev.error).toBeInstanceOf(OutcomeError)
    expect(ev.error).toMatchObject({ code: 'identify/timeout' })
    expect(h.behaviour.pollTimeout()).toBeUndefined()
  })

  /** Our identify of `who` on connection `conn`, answered with a signed record (seq, one address). */
  function recordAnswerer(b: IdentifyBehaviour) {
    const h = new Harness<IdentifyEvent>(b)
    return (conn: number, seq: bigint, addr: string, who = remote) => {
      const c: ConnectionInfo = { ...connToRemote, id: conn, peer: who.peer, remotePublicKey: who.publicKey }
      const open = h.input({ type: 'connection-established', connection: c })
      const requestId = (open[0] as { requestId: number }).requestId
      const stream = { connection: conn, stream: 1 }
      h.input({ type: 'stream-opened', stream, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: c, requestId })
      const record = sealPeerRecord(who.key, { peerId: who.peer, seq, addrs: [Multiaddr.fromString(addr)] }, nobleCrypto)
      const msg = encodeIdentifyFrame({ listenAddrs: [Multiaddr.fromString('/ip4/10.9.9.9/tcp/1').bytes], protocols: [], signedPeerRecord: record.bytes })
      const out = [...h.input({ type: 'stream-data', stream, data: msg }), ...h.input({ type: 'stream-eof', stream })]
      const update = out.find((x) => x.type === 'peer-info') as Extract<BehaviourAction<IdentifyEvent>, { type: 'peer-info' }>
      const ev = (out.find((x) => x.type === 'event') as { event: Extract<IdentifyEvent, { type: 'identified' }> }).event
      return { addrs: update.info.addrs?.map(String), valid: ev.info.signedPeerRecordValid, error: ev.info.signedPeerRecordError }
    }
  }

  test('a signed record older than one the peer gave us before is a replay: its addresses are not stored', () => {
    const answer = recordAnswerer(identifyLocal())
    expect(answer(1, 5n, '/ip4/10.0.0.5/tcp/1')).toEqual({ addrs: ['/ip4/10.0.0.5/tcp/1'], valid: true, error: undefined })
    expect(answer(2, 3n, '/ip4/10.0.0.3/tcp/1')).toEqual({ addrs: undefined, valid: false, error: 'identify/stale-peer-record' })
    // the same seq again (a second connection) is fine, a higher one too
    expect(answer(3, 5n, '/ip4/10.0.0.5/tcp/1').valid).toBe(true)
    expect(answer(4, 6n, '/ip4/10.0.0.6/tcp/1').addrs).toEqual(['/ip4/10.0.0.6/tcp/1'])
  })

  test('the highest-seq memory is bounded: the least recently updated peer is forgotten first', () => {
    expect(() => identifyLocal({ maxRecordSeqs: 0 })).toThrow(RangeError)
    const other = testIdentity(3, '/ip4/10.0.0.3/tcp/4001')
    const answer = recordAnswerer(identifyLocal({ maxRecordSeqs: 1 }))
    expect(answer(1, 5n, '/ip4/10.0.0.5/tcp/1').valid).toBe(true)
    expect(answer(2, 3n, '/ip4/10.0.0.3/tcp/1').valid).toBe(false)
    expect(answer(3, 1n, '/ip4/10.0.1.1/tcp/1', other).valid).toBe(true) // pushes `remote` out
    expect(answer(4, 3n, '/ip4/10.0.0.3/tcp/1').valid).toBe(true)
  })

  test('too many inbound push streams on one connection are reset', () => {
    const h = new Harness<IdentifyEvent>(identifyLocal({ maxPushStreams: 1 }))
    h.input({ type: 'connection-established', connection: connToRemote })
    const push = (stream: number): BehaviourInput => ({ type: 'stream-opened', stream: { connection: 1, stream }, protocol: IDENTIFY_PUSH_PROTOCOL, direction: 'inbound', connection: connToRemote })
    expect(h.input(push(10))).toEqual([])
    expect(h.input(push(11)).map((a) => a.type)).toEqual(['reset', 'event'])
    h.input({ type: 'stream-reset', stream: { connection: 1, stream: 10 } })
    expect(h.input(push(12))).toEqual([])
  })

  test('connection-closed forgets its streams; late inputs are ignored', () => {
    const h = new Harness<IdentifyEvent>(identifyLocal())
    h.input({ type: 'connection-established', connection: connToRemote })
    h.input({ type: 'stream-opened', stream: S, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: connToRemote, requestId: 1 })
    h.input({ type: 'connection-closed', connection: connToRemote })
    expect(h.input({ type: 'stream-eof', stream: S })).toEqual([])
    expect(h.behaviour.pollTimeout()).toBeUndefined()
  })
})

// --- two behaviours --------------------------------------------------------------------------------

const addrsA = [Multiaddr.fromString('/ip4/10.0.0.1/tcp/4001')]
const addrsB = [Multiaddr.fromString('/ip4/10.0.0.2/tcp/4001'), Multiaddr.fromString('/ip4/10.0.0.2/udp/4001/quic-v1')]

function identifyPair(chunking: Chunking = 'whole') {
  const a = new IdentifyBehaviour({ crypto: nobleCrypto, identity: remote.key, agentVersion: 'a/1', seqBase: 100n })
  const b = new IdentifyBehaviour({ crypto: nobleCrypto, identity: local.key, agentVersion: 'b/1', protocolVersion: '/test/1' })
  const pair = new Pair<IdentifyEvent, IdentifyEvent>(a, b, { a: remote, b: local }, { latency: 3, chunking })
  pair.a.input({ type: 'local-info', listenAddrs: addrsA, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL] })
  pair.b.input({ type: 'local-info', listenAddrs: addrsB, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, PING_PROTOCOL] })
  pair.connect()
  pair.run()
  return { a, b, pair }
}

describe('identify between two behaviours', () => {
  for (const chunking of ['whole', 'bytes', { seed: 3 }] as Chunking[]) {
    test(`both sides identify each other with valid signed records (chunking ${JSON.stringify(chunking)})`, () => {
      const { pair } = identifyPair(chunking)
      const [ea] = pair.a.eventsOf('identified')
      const [eb] = pair.b.eventsOf('identified')
      expect(ea!.peer.equals(local.peer)).toBe(true)
      expect(ea!.info.agentVersion).toBe('b/1')
      expect(ea!.info.protocolVersion).toBe('/test/1')
      expect(ea!.info.signedPeerRecordValid).toBe(true)
      expect(ea!.info.signedPeerRecord!.addrs.map(String)).toEqual(addrsB.map(String))
      expect(ea!.info.observedAddr!.toString()).toBe(remote.addr.toString())
      expect(eb!.info.protocolVersion).toBe('ipfs/0.1.0')
      expect(eb!.info.signedPeerRecord!.seq).toBe(101n)
      expect(eb!.info.observedAddr!.toString()).toBe(local.addr.toString())
      expect(pair.a.peerInfos[0]!.info.protocols).toEqual([IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, PING_PROTOCOL])
      expect(pair.b.peerInfos[0]!.info.addrs!.map(String)).toEqual(addrsA.map(String))
      expect(pair.a.eventsOf('identify-failed')).toEqual([])
    })
  }

  test('push after a local-info change reaches the peer; seq increases; unchanged info sends nothing', () => {
    const { pair } = identifyPair()
    const newAddrs = [...addrsA, Multiaddr.fromString('/ip4/1.2.3.4/tcp/4001')]
    pair.a.input({ type: 'local-info', listenAddrs: newAddrs, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL] })
    pair.run()
    const pushes = pair.b.eventsOf('identify-push')
    expect(pushes).toHaveLength(1)
    expect(pushes[0]!.info.signedPeerRecord!.seq).toBe(102n)
    expect(pair.b.peerInfos.at(-1)!.info.addrs!.map(String)).toEqual(newAddrs.map(String))
    const opens = pair.a.actions.filter((x) => x.type === 'open-stream').length
    pair.a.input({ type: 'local-info', listenAddrs: newAddrs, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL] })
    pair.run()
    expect(pair.a.actions.filter((x) => x.type === 'open-stream').length).toBe(opens)
  })

  test('a change before our identify of the peer completed is pushed once it completes', () => {
    const a = new IdentifyBehaviour({ crypto: nobleCrypto, identity: remote.key, agentVersion: 'a/1' })
    const b = new IdentifyBehaviour({ crypto: nobleCrypto, identity: local.key, agentVersion: 'b/1' })
    const pair = new Pair<IdentifyEvent, IdentifyEvent>(a, b, { a: remote, b: local }, { latency: 5 })
    pair.a.input({ type: 'local-info', listenAddrs: addrsA, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL] })
    pair.b.input({ type: 'local-info', listenAddrs: addrsB, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL] })
    pair.connect()
    pair.runFor(6) // b asked (its request reaches a at 10), a's own identify of b is not complete
    pair.a.input({ type: 'local-info', listenAddrs: addrsA, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, '/late'] })
    pair.run()
    expect(pair.b.eventsOf('identify-push').map((e) => e.info.protocols.at(-1))).toEqual(['/late'])
    expect(pair.b.peerInfos.at(-1)!.info.protocols).toContain('/late')
  })

  test('rapid changes: one push stream at a time, the last state wins', () => {
    const { pair } = identifyPair()
    for (let i = 0; i < 5; i++) pair.a.input({ type: 'local-info', listenAddrs: addrsA, protocols: [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, `/p/${i}`] })
    pair.run()
    const pushes = pair.b.eventsOf('identify-push')
    expect(pushes.length).toBeLessThanOrEqual(2)
    expect(pushes.at(-1)!.info.protocols.at(-1)).toBe('/p/4')
  })

  test('no push to a peer that did not list the push protocol', () => {
    const a = new IdentifyBehaviour({ crypto: nobleCrypto, identity: remote.key, agentVersion: 'a/1' })
    const b = new IdentifyBehaviour({ crypto: nobleCrypto, identity: local.key, agentVersion: 'b/1' })
    const pair = new Pair<IdentifyEvent, IdentifyEvent>(a, b, { a: remote, b: local })
    pair.b.input({ type: 'local-info', listenAddrs: addrsB, protocols: [IDENTIFY_PROTOCOL] })
    pair.connect()
    pair.run()
    pair.a.input({ type: 'local-info', listenAddrs: addrsA, protocols: [IDENTIFY_PROTOCOL, '/new'] })
    pair.run()
    expect(pair.a.actions.filter((x) => x.type === 'open-stream')).toHaveLength(1)
    expect(pair.b.eventsOf('identify-push')).toEqual([])
  })

  test('a responder writing an oversized message: identify-failed, stream reset', () => {
    const big: IdentifyMessage = { listenAddrs: [], protocols: Array.from({ length: 900 }, (_, i) => `/protocol/with/a/long/name/${i}/1.0.0`) }
    const responder: Behaviour<never> = fakeResponder(encodeIdentifyFrame(big))
    const a = new IdentifyBehaviour({ crypto: nobleCrypto, identity: remote.key, agentVersion: 'a/1', maxMessageSize: 8 * 1024 })
    const pair = new Pair<IdentifyEvent, never>(a, responder, { a: remote, b: local })
    pair.connect()
    pair.run()
    const [f] = pair.a.eventsOf('identify-failed')
    expect((f!.error as ProtocolError).code).toBe('identify/message-too-large')
    expect(pair.a.actions.map((x) => x.type)).toEqual(['open-stream', 'close-write', 'reset'])
  })
})

/** Answers every identify stream with `bytes`, then closes. */
function fakeResponder(bytes: Uint8Array): Behaviour<never> {
  const out: BehaviourAction<never>[] = []
  return {
    protocols: [IDENTIFY_PROTOCOL],
    handle(_now, input) {
      if (input.type === 'stream-opened') out.push({ type: 'write', stream: input.stream, data: bytes }, { type: 'close-write', stream: input.stream })
    },
    handleTimeout() {},
    pollAction: () => out.shift(),
    pollTimeout: () => undefined,
  }
}
