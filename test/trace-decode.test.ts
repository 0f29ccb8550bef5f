/**
 * weft trace's protocol decoders (src/trace/decode, spec/trace.md "Protocol messages"): identify,
 * ping, kad and pubsub, fed the spec vectors' bytes and messages built with each module's own
 * encoder, cut at every byte boundary.
 */
import { describe, expect, test } from 'vitest'
import { encodeLp, fromHex, nobleCrypto } from '../src/core/index.js'
import { encodeRpc, encodePubsubMessage, FLOODSUB, GOSSIPSUB_V10, GOSSIPSUB_V11, GOSSIPSUB_V12 } from '../src/gossipsub/index.js'
import { encodeIdentifyFrame, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL } from '../src/identify/index.js'
import { encodeKadMessage, KAD_PROTOCOL, MessageType } from '../src/kad/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { PeerId, privateKeyFromSeed, sealPeerRecord } from '../src/peer-id/index.js'
import { PING_PROTOCOL } from '../src/ping/index.js'
import { readVectorFile } from './helpers/vectors.js'
import { decode, everySplit, names } from './trace-decode-helpers.js'

const vector = (file: string, id: string): Uint8Array => {
  const v = readVectorFile(file).vectors.find((x) => x.id === id)
  if (v?.hex === undefined) throw new Error(`${file}.json: no ${id}`)
  return fromHex(v.hex)
}

const key1 = privateKeyFromSeed(new Uint8Array(32).fill(1), nobleCrypto)
const peer1 = key1.publicKey.toPeerId().toString()
const key2 = privateKeyFromSeed(new Uint8Array(32).fill(2), nobleCrypto)
const peer2 = key2.publicKey.toPeerId()
const ma = (s: string): Multiaddr => Multiaddr.fromString(s)

describe('identify', () => {
  const expected = {
    protocolVersion: 'ipfs/0.1.0',
    agentVersion: 'weft/0.1.0',
    publicKey: { type: 'Ed25519', peerId: peer1, hex: '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c' },
    listenAddrs: ['/ip4/10.0.0.1/tcp/4001', '/ip4/127.0.0.1/udp/4001/quic-v1'],
    observedAddr: '/ip4/10.0.0.2/tcp/50000',
    protocols: ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0'],
  }
  const record = { peerId: peer1, seq: 1000, addrs: ['/ip4/10.0.0.1/tcp/4001', '/ip4/127.0.0.1/udp/4001/quic-v1'], verified: true }

  test('the spec vector stream (identify.json stream-length-prefixed): one Identify, signed peer record opened', () => {
    const out = everySplit({ protocol: IDENTIFY_PROTOCOL }, vector('identify', 'stream-length-prefixed'))
    expect(out).toHaveLength(1)
    expect(out[0]!.name).toBe('Identify')
    expect(out[0]!.fields).toMatchObject({ ...expected, signedPeerRecord: record })
  })

  test('a message split in two frames (stream-split): two Identify messages, the second carrying the record', () => {
    const out = everySplit({ protocol: IDENTIFY_PROTOCOL }, vector('identify', 'stream-split'))
    expect(names(out)).toEqual(['Identify', 'Identify'])
    expect(out[0]!.fields).toMatchObject(expected)
    expect(out[1]!.fields).toMatchObject({ signedPeerRecord: record, listenAddrs: [], protocols: [] })
  })

  test('a bare protobuf (stream-bare) is decoded at EOF', () => {
    const bytes = vector('identify', 'stream-bare')
    expect(decode({ protocol: IDENTIFY_PROTOCOL }, [bytes])).toEqual([])
    const out = decode({ protocol: IDENTIFY_PROTOCOL, end: true }, [bytes.subarray(0, 100), bytes.subarray(100)])
    expect(out).toEqual([{ name: 'Identify', fields: { ...expected, signedPeerRecord: { ...record, bytes: 180 }, framing: 'bare protobuf' } }])
    expect((out[0]!.fields.signedPeerRecord as { bytes: number }).bytes).toBe(180)
  })

  test('identify push, encoded by identify; a record signed by another key is shown as not verified', () => {
    const env = sealPeerRecord(key2, { peerId: peer2, seq: 7n, addrs: [ma('/ip4/1.2.3.4/tcp/1')] }, nobleCrypto)
    const forged = env.bytes.slice()
    forged[forged.length - 1]! ^= 1
    const frames = [
      encodeIdentifyFrame({ listenAddrs: [ma('/ip6/::1/tcp/2').bytes], protocols: ['/x/1'], signedPeerRecord: env.bytes }),
      encodeIdentifyFrame({ listenAddrs: [Uint8Array.of(0xff, 0xff)], protocols: [], signedPeerRecord: forged }),
    ]
    const out = everySplit({ protocol: IDENTIFY_PUSH_PROTOCOL, dir: 'out' }, new Uint8Array([...frames[0]!, ...frames[1]!]))
    expect(names(out)).toEqual(['IdentifyPush', 'IdentifyPush'])
    expect(out[0]!.fields).toEqual({
      listenAddrs: ['/ip6/::1/tcp/2'], protocols: ['/x/1'],
      signedPeerRecord: { peerId: peer2.toString(), seq: 7, addrs: ['/ip4/1.2.3.4/tcp/1'], verified: true, bytes: env.bytes.length },
    })
    expect(out[1]!.fields.listenAddrs).toEqual(['invalid multiaddr ffff'])
    expect(out[1]!.fields.signedPeerRecord).toMatchObject({ verified: false, error: expect.stringContaining('envelope/invalid-signature') })
  })

  test('over the limit, garbage, and too many frames: one undecodable, then byte counts', () => {
    const tooLarge = decode({ protocol: IDENTIFY_PROTOCOL }, [vector('identify', 'oversized-stream'), new Uint8Array(5)])
    expect(names(tooLarge)).toEqual(['undecodable', 'data'])
    expect(tooLarge[0]!.fields.reason).toContain('identify/message-too-large')
    expect(tooLarge[1]!.fields).toEqual({ bytes: 5, total: 5 })
    const many = decode({ protocol: IDENTIFY_PROTOCOL }, [vector('identify', 'too-many-messages')])
    expect(names(many)).toEqual([...Array(10).fill('Identify'), 'undecodable'])
    expect(many[10]!.fields.reason).toContain('identify/too-many-messages')
    const garbage = decode({ protocol: IDENTIFY_PROTOCOL, end: true }, [vector('identify', 'wrong-wire-type-stream')])
    expect(names(garbage)).toEqual(['undecodable'])
    // more than the whole-stream limit without a frame boundary: refused as it arrives, not at EOF
    // a bare-looking stream (no frame fits) that never ends: held up to the 64 KiB limit, then refused
    const chunk = new Uint8Array(4096).fill(0x0a)
    chunk[1] = 0xff
    const endless = decode({ protocol: IDENTIFY_PROTOCOL }, Array.from({ length: 18 }, () => chunk))
    expect(names(endless)).toEqual(['undecodable', 'data'])
    expect(endless[0]!.fields.reason).toContain('identify/message-too-large')
  })
})

describe('ping', () => {
  test('each 32-byte payload is one Ping, in hex; echo named when the opener is known', () => {
    const payload = Uint8Array.from({ length: 64 }, (_, i) => i)
    const out = everySplit({ protocol: PING_PROTOCOL, dir: 'out', hint: { opener: true } }, payload)
    expect(out).toEqual([
      { name: 'Ping', fields: { payload: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', echo: false } },
      { name: 'Ping', fields: { payload: '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f', echo: false } },
    ])
    expect(decode({ protocol: PING_PROTOCOL, hint: { opener: false } }, [payload.subarray(0, 32)])[0]!.fields.echo).toBe(true)
    expect(decode({ protocol: PING_PROTOCOL }, [payload.subarray(0, 32)])[0]!.fields).not.toHaveProperty('echo')
  })

  test('a stream ending inside a payload is undecodable', () => {
    const out = decode({ protocol: PING_PROTOCOL, end: true }, [new Uint8Array(40)])
    expect(names(out)).toEqual(['Ping', 'undecodable'])
    expect(out[1]!.fields).toMatchObject({ bytes: 8 })
  })
})

describe('kad', () => {
  test('the spec vectors: FIND_NODE, PING, PUT_VALUE, GET_PROVIDERS with closer and provider peers', () => {
    const frame = (id: string): Uint8Array => vector('kad', id) // framed: varint length + Message
    expect(everySplit({ protocol: KAD_PROTOCOL }, frame('ping'))).toEqual([{ name: 'PING', fields: {} }])
    const [gp] = everySplit({ protocol: KAD_PROTOCOL }, frame('get-providers-response'))
    expect(gp!.name).toBe('GET_PROVIDERS')
    const id = pid
    expect(gp!.fields).toEqual({
      key: { hex: '12203333333333333333333333333333333333333333333333333333333333333333', peerId: pid(0x33) },
      closerPeers: [{ id: id(0x22), addrs: ['/ip4/127.0.0.1/tcp/4001'], connection: 'NOT_CONNECTED' }],
      providerPeers: [{ id: id(0x11), addrs: ['/ip4/127.0.0.1/tcp/4001'], connection: 'CONNECTED' }],
    })
    const [put] = everySplit({ protocol: KAD_PROTOCOL }, frame('put-value-request'))
    expect(put!.name).toBe('PUT_VALUE')
    expect(put!.fields).toHaveProperty('record')
    expect(names(everySplit({ protocol: KAD_PROTOCOL }, frame('find-node-request')))).toEqual(['FIND_NODE'])
  })

  test('messages encoded by kad: a namespaced key, a record with its value, ADD_PROVIDER and GET_VALUE', () => {
    const key = new Uint8Array([...new TextEncoder().encode('/pk/'), ...peer2.multihash])
    const value = new Uint8Array(100).fill(0xab)
    const bytes = new Uint8Array([
      ...encodeLp(encodeKadMessage({ type: MessageType.GET_VALUE, key, closerPeers: [], providerPeers: [] })),
      ...encodeLp(encodeKadMessage({ type: MessageType.PUT_VALUE, key, record: { key, value, timeReceived: '2026-01-01T00:00:00Z' }, closerPeers: [], providerPeers: [] })),
      ...encodeLp(encodeKadMessage({ type: MessageType.ADD_PROVIDER, key: new TextEncoder().encode('hello'), closerPeers: [], providerPeers: [{ id: peer2, addrs: [ma('/dns4/a.b/tcp/1')], connection: 2 }] })),
    ])
    const out = everySplit({ protocol: KAD_PROTOCOL }, bytes)
    expect(names(out)).toEqual(['GET_VALUE', 'PUT_VALUE', 'ADD_PROVIDER'])
    expect(out[0]!.fields.key).toMatchObject({ namespace: '/pk/' })
    expect(out[1]!.fields.record).toEqual({
      key: out[0]!.fields.key, value: `${'ab'.repeat(64)}...(100 bytes)`, valueLength: 100, timeReceived: '2026-01-01T00:00:00Z',
    })
    expect(out[2]!.fields).toEqual({
      key: { hex: '68656c6c6f', text: 'hello' },
      providerPeers: [{ id: peer2.toString(), addrs: ['/dns4/a.b/tcp/1'], connection: 'CAN_CONNECT' }],
    })
  })

  test('a stream ending inside a message is undecodable at EOF', () => {
    const frame = vector('kad', 'find-node-request')
    expect(decode({ protocol: KAD_PROTOCOL, end: true }, [frame, frame.subarray(0, 3)])).toEqual([
      { name: 'FIND_NODE', fields: expect.any(Object) },
      { name: 'undecodable', fields: { reason: 'lp/truncated: the stream ended 3 bytes into a message', bytes: 3 } },
    ])
  })

  test('an unknown type and a frame over 128 KiB are undecodable', () => {
    expect(names(decode({ protocol: KAD_PROTOCOL }, [vector('kad', 'unknown-type')]))).toEqual(['undecodable'])
    const big = decode({ protocol: KAD_PROTOCOL }, [Uint8Array.of(0x81, 0x80, 0x08)]) // 128 KiB + 1
    expect(big).toEqual([{ name: 'undecodable', fields: { reason: expect.stringContaining('lp/too-large'), bytes: 3 } }])
  })
})

/** The peer id whose sha2-256 multihash digest is 32 x `byte` (the kad vectors' peers). */
function pid(byte: number): string {
  const mh = new Uint8Array(34).fill(byte)
  mh[0] = 0x12
  mh[1] = 0x20
  return PeerId.fromMultihash(mh).toString()
}

describe('pubsub', () => {
  const protocols = [GOSSIPSUB_V12, GOSSIPSUB_V11, GOSSIPSUB_V10, FLOODSUB]

  test('the spec vectors: subscriptions, every control message, a signed message (gossipsub.json)', () => {
    const rpc = (id: string): Uint8Array => encodeLp(vector('gossipsub', id))
    for (const protocol of protocols) {
      expect(everySplit({ protocol }, rpc('rpc-subscribe'))).toEqual([{ name: 'SUBSCRIBE', fields: { topic: expect.any(String) } }])
      expect(names(decode({ protocol }, [rpc('rpc-unsubscribe')]))).toEqual(['UNSUBSCRIBE'])
    }
    const control = everySplit({ protocol: GOSSIPSUB_V12 }, rpc('rpc-control-all'))
    expect(control).toEqual([
      { name: 'IHAVE', fields: { topic: 't', messageIds: ['0102'], count: 1 } },
      { name: 'IWANT', fields: { messageIds: ['03'], count: 1 } },
      { name: 'GRAFT', fields: { topic: 't' } },
      { name: 'PRUNE', fields: { topic: 't', peers: [{ peerId: 'invalid peer id 09' }], backoff: 60 } },
      { name: 'IDONTWANT', fields: { messageIds: ['04'], count: 1 } },
    ])
    const [pub] = everySplit({ protocol: GOSSIPSUB_V11 }, rpc('rpc-message-strictsign'))
    expect(pub).toEqual({
      name: 'PUBLISH',
      fields: { topic: 'test', from: peer1, seqno: '0000000000000001', dataLength: 5, data: '68656c6c6f', signature: true, bytes: 129 },
    })
  })

  test('RPCs encoded by gossipsub: PX peers with signed records, a keep-alive, several RPCs in one push', () => {
    const env = sealPeerRecord(key2, { peerId: peer2, seq: 1n, addrs: [ma('/ip4/5.6.7.8/udp/1/quic-v1')] }, nobleCrypto)
    const msg = encodePubsubMessage({ topic: 'news', data: new Uint8Array(0), key: key2.publicKey.bytes })
    const bytes = new Uint8Array([
      ...encodeLp(encodeRpc({ control: { prune: [{ topic: 'news', peers: [{ peerId: peer2.multihash, signedPeerRecord: env.bytes }], backoff: 120 }] } })),
      ...encodeLp(encodeRpc({})),
      ...encodeLp(encodeRpc({ subscriptions: [{ subscribe: true, topic: 'a' }, { subscribe: false, topic: 'b' }], messages: [msg], control: { graft: [{ topic: 'a' }] } })),
    ])
    const out = everySplit({ protocol: GOSSIPSUB_V11 }, bytes)
    expect(names(out)).toEqual(['PRUNE', 'RPC', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PUBLISH', 'GRAFT'])
    expect(out[0]!.fields).toEqual({
      topic: 'news', backoff: 120,
      peers: [{ peerId: peer2.toString(), signedPeerRecord: { peerId: peer2.toString(), seq: 1, addrs: ['/ip4/5.6.7.8/udp/1/quic-v1'], verified: true, bytes: env.bytes.length } }],
    })
    expect(out[1]!.fields).toEqual({ empty: true })
    expect(out[4]!.fields).toMatchObject({ topic: 'news', dataLength: 0, signature: false, key: { type: 'Ed25519', peerId: peer2.toString() } })
  })

  test('long id lists are cut to 32 with the count; garbage is undecodable', () => {
    const ids = Array.from({ length: 40 }, (_, i) => Uint8Array.of(i))
    const [ih] = decode({ protocol: GOSSIPSUB_V10 }, [encodeLp(encodeRpc({ control: { iwant: [{ messageIds: ids }] } }))])
    expect(ih!.fields.count).toBe(40)
    expect(ih!.fields.messageIds).toHaveLength(33)
    expect((ih!.fields.messageIds as string[])[32]).toBe('... 8 more')
    for (const id of ['garbage-truncated', 'garbage-message-without-topic', 'garbage-wrong-wire-type']) {
      expect(names(decode({ protocol: FLOODSUB }, [encodeLp(vector('gossipsub', id))])), id).toEqual(['undecodable'])
    }
  })
})
