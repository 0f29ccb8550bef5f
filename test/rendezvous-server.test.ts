import { describe, expect, test } from 'vitest'
import { vectorFile } from './helpers/vectors.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { privateKeyFromSeed, sealPeerRecord, type PeerId } from '../src/peer-id/index.js'
import {
  DEFAULT_RENDEZVOUS_REGISTRY_OPTIONS as D, MessageType, openRendezvousRecord, sealRendezvousRecord, RendezvousRegistry, ResponseStatus, decodeRendezvous, encodeRendezvous, type Register,
} from '../src/rendezvous/index.js'

const crypto = nobleCrypto
const keys = Array.from({ length: 6 }, (_, i) => privateKeyFromSeed(new Uint8Array(32).fill(i + 1), crypto))
const ids: PeerId[] = keys.map((k) => k.publicKey.toPeerId(crypto))
const record = (i: number): Uint8Array =>
  sealPeerRecord(keys[i]!, { peerId: ids[i]!, seq: 1n, addrs: [Multiaddr.fromString(`/ip4/10.0.0.${i + 1}/tcp/4001`)] }, crypto).bytes
const reg = (i: number, ns = 'my-app', ttl?: number): Register => ({ ns, signedPeerRecord: record(i), ...(ttl === undefined ? {} : { ttl }) })
const HOUR = 3600_000

describe('register', () => {
  test('accepts a record of the sender with the default TTL (2 h) and expires it then', () => {
    const r = new RendezvousRegistry(crypto)
    expect(r.register(0, ids[0]!, reg(0))).toEqual({ status: ResponseStatus.OK, ttl: 7200 })
    expect(r.discover(2 * HOUR - 1, { ns: 'my-app' }).registrations).toHaveLength(1)
    expect(r.discover(2 * HOUR, { ns: 'my-app' }).registrations).toHaveLength(0)
    expect(r.size).toBe(0)
  })
  test('refuses a record of another peer (E_NOT_AUTHORIZED) and a bad record (E_INVALID_SIGNED_PEER_RECORD)', () => {
    const r = new RendezvousRegistry(crypto)
    expect(r.register(0, ids[1]!, reg(0)).status).toBe(ResponseStatus.E_NOT_AUTHORIZED)
    const bad = record(0).slice()
    bad[bad.length - 1]! ^= 1
    expect(r.register(0, ids[0]!, { ns: 'a', signedPeerRecord: bad }).status).toBe(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
    expect(r.register(0, ids[0]!, { ns: 'a' }).status).toBe(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
    expect(r.register(0, ids[0]!, reg(0, 'a')).status).toBe(ResponseStatus.OK)
    expect(new RendezvousRegistry(crypto, { maxRecordBytes: record(0).length - 1 }).register(0, ids[0]!, reg(0)).status).toBe(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
  })
  test('TTL: min and max accepted, one outside refused (E_INVALID_TTL)', () => {
    const r = new RendezvousRegistry(crypto)
    expect(r.register(0, ids[0]!, reg(0, 'a', D.minTtl)).status).toBe(ResponseStatus.OK)
    expect(r.register(0, ids[0]!, reg(0, 'a', D.maxTtl))).toEqual({ status: ResponseStatus.OK, ttl: 72 * 3600 })
    expect(r.register(0, ids[0]!, reg(0, 'a', D.minTtl - 1)).status).toBe(ResponseStatus.E_INVALID_TTL)
    expect(r.register(0, ids[0]!, reg(0, 'a', D.maxTtl + 1)).status).toBe(ResponseStatus.E_INVALID_TTL)
  })
  test('namespace: 255 characters accepted, 256 and empty refused (E_INVALID_NAMESPACE)', () => {
    const r = new RendezvousRegistry(crypto)
    expect(r.register(0, ids[0]!, reg(0, 'n'.repeat(255))).status).toBe(ResponseStatus.OK)
    expect(r.register(0, ids[0]!, reg(0, 'n'.repeat(256))).status).toBe(ResponseStatus.E_INVALID_NAMESPACE)
    expect(r.register(0, ids[0]!, reg(0, '')).status).toBe(ResponseStatus.E_INVALID_NAMESPACE)
    expect(r.discover(0, { ns: 'n'.repeat(256) }).status).toBe(ResponseStatus.E_INVALID_NAMESPACE)
  })
  test('a refresh replaces the registration (new TTL) without counting twice', () => {
    const r = new RendezvousRegistry(crypto)
    r.register(0, ids[0]!, reg(0))
    r.register(HOUR, ids[0]!, reg(0))
    expect(r.size).toBe(1)
    expect(r.discover(2 * HOUR + 1, { ns: 'my-app' }).registrations).toHaveLength(1)
  })
})

describe('caps', () => {
  test('maxRegistrationsPerPeer: at the cap accepted, past it refused', () => {
    const r = new RendezvousRegistry(crypto, { maxRegistrationsPerPeer: 2 })
    expect(r.register(0, ids[0]!, reg(0, 'a')).status).toBe(ResponseStatus.OK)
    expect(r.register(0, ids[0]!, reg(0, 'b')).status).toBe(ResponseStatus.OK)
    expect(r.register(0, ids[0]!, reg(0, 'c')).status).toBe(ResponseStatus.E_NOT_AUTHORIZED)
    expect(r.register(0, ids[0]!, reg(0, 'a')).status).toBe(ResponseStatus.OK) // a refresh is not a new one
  })
  test('maxRegistrationsPerNamespace and maxRegistrations: at the cap accepted, past it E_UNAVAILABLE', () => {
    const ns = new RendezvousRegistry(crypto, { maxRegistrationsPerNamespace: 2 })
    expect(ns.register(0, ids[0]!, reg(0)).status).toBe(ResponseStatus.OK)
    expect(ns.register(0, ids[1]!, reg(1)).status).toBe(ResponseStatus.OK)
    expect(ns.register(0, ids[2]!, reg(2)).status).toBe(ResponseStatus.E_UNAVAILABLE)
    expect(ns.register(0, ids[2]!, reg(2, 'other')).status).toBe(ResponseStatus.OK)
    const all = new RendezvousRegistry(crypto, { maxRegistrations: 2 })
    expect(all.register(0, ids[0]!, reg(0, 'a')).status).toBe(ResponseStatus.OK)
    expect(all.register(0, ids[1]!, reg(1, 'b')).status).toBe(ResponseStatus.OK)
    expect(all.register(0, ids[2]!, reg(2, 'c')).status).toBe(ResponseStatus.E_UNAVAILABLE)
    all.unregister(0, ids[0]!, 'a')
    expect(all.register(0, ids[2]!, reg(2, 'c')).status).toBe(ResponseStatus.OK)
  })
})

describe('discover', () => {
  test('the spec interaction: by namespace, all, then only new ones with the cookie', () => {
    const r = new RendezvousRegistry(crypto)
    r.register(0, ids[0]!, reg(0, 'my-app'))
    r.register(0, ids[1]!, reg(1, 'my-app'))
    r.register(0, ids[2]!, reg(2, 'another-app'))
    const c1 = r.discover(1, { ns: 'my-app' })
    expect(c1.registrations.map((x) => x.signedPeerRecord)).toEqual([record(0), record(1)])
    expect(r.discover(1, {}).registrations).toHaveLength(3)
    r.register(2, ids[4]!, reg(4, 'my-app'))
    const c3 = r.discover(3, { ns: 'my-app', cookie: c1.cookie! })
    expect(c3.registrations.map((x) => x.signedPeerRecord)).toEqual([record(4)])
    expect(r.discover(3, { ns: 'my-app', cookie: c3.cookie! }).registrations).toEqual([])
  })
  test('limit pages through the namespace; maxDiscoverLimit caps it', () => {
    const r = new RendezvousRegistry(crypto, { maxDiscoverLimit: 2 })
    for (let i = 0; i < 5; i++) r.register(0, ids[i]!, reg(i))
    const p1 = r.discover(0, { ns: 'my-app', limit: 1 })
    expect(p1.registrations).toHaveLength(1)
    const p2 = r.discover(0, { ns: 'my-app', limit: 10, cookie: p1.cookie! })
    expect(p2.registrations.map((x) => x.signedPeerRecord)).toEqual([record(1), record(2)])
  })
  test('maxDiscoverBytes: a page holds what fits (at the limit two, one byte less one; never zero), the cookie pages on', () => {
    const one = record(0).length + 'my-app'.length * 4 + 32 // the registry's size estimate of one registration
    const fit = new RendezvousRegistry(crypto, { maxDiscoverBytes: 2 * one })
    const less = new RendezvousRegistry(crypto, { maxDiscoverBytes: 2 * one - 1 })
    const tiny = new RendezvousRegistry(crypto, { maxDiscoverBytes: 1 })
    for (const r of [fit, less, tiny]) for (let i = 0; i < 3; i++) r.register(0, ids[i]!, reg(i))
    expect(fit.discover(0, { ns: 'my-app' }).registrations).toHaveLength(2)
    const p1 = less.discover(0, { ns: 'my-app' })
    expect(p1.registrations).toHaveLength(1)
    expect(less.discover(0, { ns: 'my-app', cookie: p1.cookie! }).registrations).toHaveLength(1)
    expect(tiny.discover(0, { ns: 'my-app' }).registrations).toHaveLength(1)
  })
  test('a foreign or forged cookie is E_INVALID_COOKIE', () => {
    const r = new RendezvousRegistry(crypto)
    r.register(0, ids[0]!, reg(0, 'a'))
    const c = r.discover(0, { ns: 'a' }).cookie!
    expect(r.discover(0, { ns: 'b', cookie: c }).status).toBe(ResponseStatus.E_INVALID_COOKIE)
    expect(r.discover(0, { ns: 'a', cookie: Uint8Array.of(0xff) }).status).toBe(ResponseStatus.E_INVALID_COOKIE)
    expect(r.discover(0, { ns: 'a', cookie: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 99, 0x61) }).status).toBe(ResponseStatus.E_INVALID_COOKIE) // seq 99 never issued
    expect(r.discover(0, { ns: 'a', cookie: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 0xff) }).status).toBe(ResponseStatus.E_INVALID_COOKIE) // not UTF-8
  })
  test("the cookie is rust-libp2p's layout: 8 big-endian bytes of sequence number, then the namespace", () => {
    const r = new RendezvousRegistry(crypto)
    r.register(0, ids[0]!, reg(0, 'a'))
    expect(r.discover(0, { ns: 'a' }).cookie).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 0x61))
    expect(r.discover(0, {}).cookie).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1))
    expect(r.discover(0, { ns: 'a', cookie: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0x61) }).registrations).toHaveLength(1)
  })
  test("accepts rust-libp2p's legacy record layout (domain libp2p-routing-state) and returns it as sent", () => {
    const r = new RendezvousRegistry(crypto)
    const legacy = sealRendezvousRecord(keys[0]!, { peerId: ids[0]!, seq: 1n, addrs: [Multiaddr.fromString('/ip4/10.0.0.1/tcp/1')] }, crypto, 'rust-legacy')
    expect(r.register(0, ids[0]!, { ns: 'a', signedPeerRecord: legacy }).status).toBe(ResponseStatus.OK)
    expect(r.discover(0, { ns: 'a' }).registrations[0]!.signedPeerRecord).toEqual(legacy)
    expect(openRendezvousRecord(legacy, crypto).format).toBe('rust-legacy')
    expect(openRendezvousRecord(record(0), crypto).format).toBe('standard')
  })
  test('remaining TTL is reported; unregister removes, and is a no-op when absent', () => {
    const r = new RendezvousRegistry(crypto)
    r.register(0, ids[0]!, reg(0))
    expect(r.discover(HOUR, { ns: 'my-app' }).registrations[0]!.ttl).toBe(3600)
    r.unregister(HOUR, ids[1]!, 'my-app')
    expect(r.size).toBe(1)
    r.unregister(HOUR, ids[0]!, 'my-app')
    expect(r.size).toBe(0)
  })
})

test('handle answers wire messages: REGISTER gets a response, UNREGISTER none', () => {
  const r = new RendezvousRegistry(crypto)
  const wire = (m: Parameters<typeof encodeRendezvous>[0]) => decodeRendezvous(encodeRendezvous(m))
  const res = r.handle(0, ids[0]!, wire({ type: MessageType.REGISTER, register: reg(0) }))
  expect(res).toEqual({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.OK, ttl: 7200 } })
  const d = r.handle(0, ids[1]!, wire({ type: MessageType.DISCOVER, discover: { ns: 'my-app' } }))
  expect(d?.type === MessageType.DISCOVER_RESPONSE && d.discoverResponse.registrations.length).toBe(1)
  expect(r.handle(0, ids[0]!, wire({ type: MessageType.UNREGISTER, unregister: { ns: 'my-app' } }))).toBeUndefined()
  expect(r.size).toBe(0)
})

describe('cookie vectors (spec/vectors/rendezvous-cookie.json)', () => {
  const cookies = vectorFile('rendezvous-cookie')
  for (const v of cookies.all()) {
    test(v.id, () => {
      const r = new RendezvousRegistry(crypto)
      const ns = (v.decoded?.ns as string | undefined) ?? 'weft-interop'
      const n = (v.decoded?.seq as number | undefined) ?? 2
      for (let i = 0; i < n; i++) r.register(0, ids[i]!, reg(i, ns))
      if (v.error !== undefined) {
        expect(r.discover(0, { ns, cookie: fromHex(v.hex!) }).status).toBe(ResponseStatus[v.error as keyof typeof ResponseStatus])
        return
      }
      const res = r.discover(0, v.decoded.ns === undefined ? {} : { ns })
      expect(toHex(res.cookie!)).toBe(v.hex)
      expect(r.discover(0, { ...(v.decoded.ns === undefined ? {} : { ns }), cookie: fromHex(v.hex!) }).registrations).toEqual([])
    })
  }
})
