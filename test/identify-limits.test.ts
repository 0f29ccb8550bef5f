// Identify bounded by bytes, not only by count (issue 11 item 4): protocol ids (each and all
// together), listen addresses (all together, and a signed record's), version strings and the signed
// record envelope. Each limit at the limit and one past it.
import { afterAll, describe, expect, test } from 'vitest'
import { decodeIdentify, decodeIdentifyStream, DEFAULT_IDENTIFY_LIMITS, encodeIdentify, encodeIdentifyFrame, IdentifyBehaviour, IDENTIFY_PROTOCOL } from '../src/identify/index.js'
import type { IdentifyEvent, IdentifyMessage } from '../src/identify/index.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { sealPeerRecord } from '../src/peer-id/index.js'
import type { ConnectionInfo } from '../src/swarm/behaviour.js'
import { Harness, testIdentity } from './helpers/behaviour-harness.js'
import { createNode } from '../src/node.js'
import type { WeftNode } from '../src/node.js'

const remote = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const local = testIdentity(2, '/ip4/10.0.0.2/tcp/50000')
const D = DEFAULT_IDENTIFY_LIMITS

const decode = (m: IdentifyMessage, limits = {}): IdentifyMessage => decodeIdentifyStream(encodeIdentifyFrame(m), limits)
const code = (f: () => unknown): string | undefined => {
  try {
    f()
    return undefined
  } catch (e) {
    return (e as { code?: string }).code
  }
}

/** A protocol id of exactly `n` UTF-8 bytes. */
const proto = (n: number, c = 'a'): string => '/' + c.repeat(n - 1)
/** A /dns4 multiaddr of exactly `n` bytes (code 0x36, length varint, name). */
const addrOf = (n: number, c = 'a'): Uint8Array => Multiaddr.fromString(`/dns4/${c.repeat(n - 2)}`).bytes

describe('identify limits by bytes', () => {
  test('the defaults are bounded', () => {
    expect(D).toMatchObject({ maxProtocolBytes: 8192, maxProtocolLength: 1023, maxAddrBytes: 8192, maxVersionLength: 256, maxSignedRecordSize: 8192 })
  })

  test('maxProtocolLength: a protocol id at the limit is kept, one byte past is skipped', () => {
    const m = decode({ listenAddrs: [], protocols: [proto(100), proto(101, 'b'), '/ok'] }, { maxProtocolLength: 100 })
    expect(m.protocols).toEqual([proto(100), '/ok'])
  })

  test('maxProtocolBytes: protocols totalling the limit are accepted, one byte past is a ProtocolError', () => {
    const at = [proto(50), proto(50, 'b')]
    expect(decode({ listenAddrs: [], protocols: at }, { maxProtocolBytes: 100 }).protocols).toEqual(at)
    expect(code(() => decode({ listenAddrs: [], protocols: [proto(50), proto(51, 'b')] }, { maxProtocolBytes: 100 }))).toBe('identify/too-many-protocols')
    // Counted over every frame of a stream, not per frame.
    const split = new Uint8Array([...encodeIdentifyFrame({ listenAddrs: [], protocols: [proto(50)] }), ...encodeIdentifyFrame({ listenAddrs: [], protocols: [proto(51, 'b')] })])
    expect(code(() => decodeIdentifyStream(split, { maxProtocolBytes: 100 }))).toBe('identify/too-many-protocols')
    // Multi-byte characters count by their UTF-8 bytes: 'é' is 2.
    expect(code(() => decode({ listenAddrs: [], protocols: ['/' + 'é'.repeat(50)] }, { maxProtocolBytes: 100 }))).toBe('identify/too-many-protocols')
    expect(decode({ listenAddrs: [], protocols: ['/' + 'é'.repeat(49) + 'a'] }, { maxProtocolBytes: 100 }).protocols).toHaveLength(1)
  })

  test('maxAddrBytes: listenAddrs totalling the limit are accepted, one byte past is a ProtocolError', () => {
    const at = [addrOf(60), addrOf(40, 'b')]
    expect(decode({ listenAddrs: at, protocols: [] }, { maxAddrBytes: 100 }).listenAddrs).toHaveLength(2)
    expect(code(() => decode({ listenAddrs: [addrOf(60), addrOf(41, 'b')], protocols: [] }, { maxAddrBytes: 100 }))).toBe('identify/too-many-addrs')
    // The bare (unframed) form is held to the same limit.
    expect(code(() => decodeIdentify(encodeIdentify({ listenAddrs: [addrOf(60), addrOf(41, 'b')], protocols: [] }), 1000, { maxAddrBytes: 100 }))).toBe('identify/too-many-addrs')
  })

  test('maxVersionLength: a version string at the limit is kept, one byte past is dropped', () => {
    const m = decode({ listenAddrs: [], protocols: [], agentVersion: 'x'.repeat(256), protocolVersion: 'y'.repeat(257) })
    expect(m.agentVersion).toHaveLength(256)
    expect(m.protocolVersion).toBeUndefined()
  })
})

describe('signed peer records', () => {
  const conn: ConnectionInfo = { id: 1, peer: remote.peer, remotePublicKey: remote.publicKey, remoteAddr: remote.addr, localAddr: local.addr, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
  const S = { connection: 1, stream: 1 }

  /** Our identify of the remote answered with a record holding `addrs`; the event's info. */
  function identifyWithRecord(addrs: string[], options: Record<string, number>): Extract<IdentifyEvent, { type: 'identified' }>['info'] {
    const b = new IdentifyBehaviour({ crypto: nobleCrypto, identity: local.key, agentVersion: 'weft-test/1', ...options })
    const h = new Harness<IdentifyEvent>(b)
    h.input({ type: 'connection-established', connection: conn })
    h.input({ type: 'stream-opened', stream: S, protocol: IDENTIFY_PROTOCOL, direction: 'outbound', connection: conn, requestId: 1 })
    const record = sealPeerRecord(remote.key, { peerId: remote.peer, seq: 1n, addrs: addrs.map((a) => Multiaddr.fromString(a)) }, nobleCrypto)
    h.input({ type: 'stream-data', stream: S, data: encodeIdentifyFrame({ listenAddrs: [Multiaddr.fromString('/ip4/10.9.9.9/tcp/1').bytes], protocols: [], signedPeerRecord: record.bytes }) })
    h.input({ type: 'stream-eof', stream: S })
    const ev = h.events().find((e) => e.type === 'identified') as Extract<IdentifyEvent, { type: 'identified' }>
    return ev.info
  }
  const two = ['/ip4/10.0.0.1/tcp/1', '/ip4/10.0.0.1/tcp/2'] // 8 bytes each

  test('addresses in a record: at maxAddrs / maxAddrBytes accepted, one past rejected (listenAddrs stand in)', () => {
    expect(identifyWithRecord(two, { maxAddrs: 2 }).signedPeerRecordValid).toBe(true)
    const over = identifyWithRecord([...two, '/ip4/10.0.0.1/tcp/3'], { maxAddrs: 2 })
    expect([over.signedPeerRecordValid, over.signedPeerRecordError]).toEqual([false, 'identify/too-many-addrs'])
    expect(identifyWithRecord(two, { maxAddrBytes: 16 }).signedPeerRecordValid).toBe(true)
    expect(identifyWithRecord(two, { maxAddrBytes: 15 }).signedPeerRecordError).toBe('identify/too-many-addrs')
  })

  test('maxSignedRecordSize: an envelope at the limit is opened, one byte larger is rejected', () => {
    const size = sealPeerRecord(remote.key, { peerId: remote.peer, seq: 1n, addrs: two.map((a) => Multiaddr.fromString(a)) }, nobleCrypto).bytes.length
    expect(identifyWithRecord(two, { maxSignedRecordSize: size }).signedPeerRecordValid).toBe(true)
    expect(identifyWithRecord(two, { maxSignedRecordSize: size - 1 }).signedPeerRecordError).toBe('envelope/too-large')
  })
})

describe('createNode', () => {
  const nodes: WeftNode[] = []
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  })

  test('identify, ping and peer store limits are reachable from createNode', async () => {
    const b = await createNode({ listen: ['/memory/0'], services: {}, ping: { maxInboundStreams: 1 } })
    const a = await createNode({ listen: [], services: {}, identify: { maxProtocolLength: 15 }, peerStore: { maxProtocolsPerPeer: 1 } })
    nodes.push(a, b)
    const identified = new Promise<{ info: { protocols: string[] } }>((resolve) => a.addEventListener('peer:identify', ((e: CustomEvent) => resolve(e.detail)) as never))
    await a.dial(b.getMultiaddrs()[0]!)
    // identify.maxProtocolLength 15: '/ipfs/id/1.0.0' (14 bytes) kept, '/ipfs/ping/1.0.0' (16) skipped.
    const { info } = await identified
    expect(info.protocols).toContain('/ipfs/id/1.0.0')
    expect(info.protocols).not.toContain('/ipfs/ping/1.0.0')
    // peerStore.maxProtocolsPerPeer 1
    expect(a.peerStore.get(b.peerId)!.protocols).toHaveLength(1)
    // ping.maxInboundStreams 1 on b: a first ping stream is echoed, a second one at once is reset.
    const s1 = await a.newStream(b.peerId, '/ipfs/ping/1.0.0')
    const s2 = await a.newStream(b.peerId, '/ipfs/ping/1.0.0')
    await s1.write(new Uint8Array(32).fill(1))
    const it1 = s1.source[Symbol.asyncIterator]()
    expect((await it1.next()).value).toEqual(new Uint8Array(32).fill(1))
    await expect((async () => {
      await s2.write(new Uint8Array(32).fill(2))
      for await (const _ of s2.source) { /* drain */ }
    })()).rejects.toMatchObject({ name: 'StreamResetError' })
  })
})
