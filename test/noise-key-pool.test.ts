/**
 * Noise keys made ahead (src/noise/key-pool.ts, spec/noise.md "Keys made ahead"): the pool's bounds
 * and freshness, handshakes that take their keys from it (same wire bytes as keys made on the spot),
 * and the key-array identity that lets node:crypto reuse an imported key for the DH operations.
 */
import { describe, expect, test } from 'vitest'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { concat, toHex } from '../src/core/bytes.js'
import type { CryptoProvider } from '../src/core/crypto/provider.js'
import { Connection, type ConnectionOptions } from '../src/connection/index.js'
import { type PrivateKey, privateKeyFromSeed } from '../src/peer-id/index.js'
import { Runtime, type SwarmPort } from '../src/io/runtime.js'
import {
  HandshakeState,
  MAX_NOISE_KEY_POOL_SIZE,
  NoiseConnection,
  NoiseKeyPool,
  STATIC_KEY_SIGNATURE_PREFIX,
  type NoiseKeyPair,
  type NoiseKeySource,
  type NoiseOptions,
  type NoiseStaticKeyPair,
} from '../src/noise/index.js'

const seed = (n: number) => new Uint8Array(32).fill(n)
const idOf = (n: number, crypto: CryptoProvider = nodeCrypto): PrivateKey => privateKeyFromSeed(seed(n), crypto)

/** Move bytes between two NoiseConnections until both are quiet; returns what each sent. */
function pump(a: NoiseConnection, b: NoiseConnection): { a: Uint8Array[]; b: Uint8Array[] } {
  const sent = { a: [] as Uint8Array[], b: [] as Uint8Array[] }
  for (let progress = true; progress;) {
    progress = false
    for (const [from, to, log] of [[a, b, sent.a], [b, a, sent.b]] as const) {
      for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
        progress = true
        log.push(out.slice())
        to.handleData(0, out)
      }
    }
  }
  return sent
}

describe('NoiseKeyPool', () => {
  test('size bounds: 0 and 64 accepted, -1, 65 and 1.5 are RangeErrors', () => {
    const identity = idOf(1)
    expect(new NoiseKeyPool({ crypto: nodeCrypto, identity, size: 0 }).size).toBe(0)
    expect(new NoiseKeyPool({ crypto: nodeCrypto, identity, size: MAX_NOISE_KEY_POOL_SIZE }).size).toBe(64)
    for (const size of [-1, MAX_NOISE_KEY_POOL_SIZE + 1, 1.5]) expect(() => new NoiseKeyPool({ crypto: nodeCrypto, identity, size })).toThrow(RangeError)
  })

  test('refill fills each kind up to size and never beyond; a budget limits one call', () => {
    const pool = new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(1), size: 3 })
    expect(pool.ready).toEqual({ ephemeral: 0, static: 0 })
    expect(pool.refill(2)).toBe(2)
    expect(pool.ready).toEqual({ ephemeral: 1, static: 1 })
    expect(pool.refill()).toBe(4)
    expect(pool.ready).toEqual({ ephemeral: 3, static: 3 })
    expect(pool.refill()).toBe(0)
    pool.takeEphemeral()
    expect(pool.refill()).toBe(1)
    expect(pool.ready).toEqual({ ephemeral: 3, static: 3 })
  })

  test('every pair is handed out once: 100 takes of each kind are all distinct, pool or on the spot', () => {
    const pool = new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(1), size: 2 })
    pool.refill()
    const seen = new Set<string>()
    for (let i = 0; i < 100; i++) {
      for (const pair of [pool.takeEphemeral(), pool.takeStatic()]) {
        seen.add(toHex(pair.privateKey))
        expect(toHex(pair.publicKey)).toBe(toHex(nodeCrypto.x25519PublicKey(pair.privateKey)))
      }
      if (i % 3 === 0) pool.refill()
    }
    expect(seen.size).toBe(200)
    expect(pool.misses).toBeGreaterThan(0) // taken faster than refilled: made on the spot
  })

  test('a static pair carries the identity signature over "noise-libp2p-static-key:" || publicKey', () => {
    const identity = idOf(7)
    const pool = new NoiseKeyPool({ crypto: nodeCrypto, identity })
    const s = pool.takeStatic()
    expect(identity.publicKey.verify(concat([STATIC_KEY_SIGNATURE_PREFIX, s.publicKey]), s.signature, nodeCrypto)).toBe(true)
  })

  test('schedule: one refill request per batch of takes, none while one is pending; the refill tops up', () => {
    const queued: (() => void)[] = []
    const pool = new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(1), size: 2, schedule: (f) => queued.push(f) })
    expect(queued.length).toBe(1) // the initial fill
    queued.shift()!()
    expect(pool.ready).toEqual({ ephemeral: 2, static: 2 })
    pool.takeStatic()
    pool.takeEphemeral()
    pool.takeEphemeral()
    expect(queued.length).toBe(1)
    queued.shift()!()
    expect(pool.ready).toEqual({ ephemeral: 2, static: 2 })
    expect(pool.misses).toBe(0)
  })

  test('size 0: nothing is kept or scheduled, every pair is made on demand', () => {
    const queued: (() => void)[] = []
    const pool = new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(1), size: 0, schedule: (f) => queued.push(f) })
    pool.takeStatic()
    expect(pool.refill()).toBe(0)
    expect(queued.length).toBe(0)
    expect(pool.misses).toBe(0)
  })
})

/** A key source that hands out fixed pairs (to compare wire bytes with injected keys). */
function fixedSource(crypto: CryptoProvider, identity: PrivateKey, s: Uint8Array, e: Uint8Array): NoiseKeySource & { takes: number } {
  const pub = (k: Uint8Array): NoiseKeyPair => ({ privateKey: k.slice(), publicKey: crypto.x25519PublicKey(k) })
  const src = {
    identity,
    takes: 0,
    takeEphemeral: (): NoiseKeyPair => { src.takes++; return pub(e) },
    takeStatic: (): NoiseStaticKeyPair => {
      src.takes++
      const p = pub(s)
      return { ...p, signature: identity.sign(concat([STATIC_KEY_SIGNATURE_PREFIX, p.publicKey]), crypto) }
    },
  }
  return src
}

describe.each([['noble', nobleCrypto], ['node', nodeCrypto]] as [string, CryptoProvider][])('handshakes with keys made ahead (%s)', (_n, crypto) => {
  const base = (role: 'initiator' | 'responder', n: number): NoiseOptions => ({ role, crypto, identity: idOf(n, crypto), streamMuxers: ['/yamux/1.0.0'] })

  test('the wire bytes are those of the same keys made on the spot', () => {
    const [si, ei, sr, er] = [seed(11), seed(12), seed(13), seed(14)]
    const injected = [
      new NoiseConnection({ ...base('initiator', 1), staticKey: si, ephemeralKey: ei }),
      new NoiseConnection({ ...base('responder', 2), staticKey: sr, ephemeralKey: er }),
    ] as const
    const srcI = fixedSource(crypto, idOf(1, crypto), si, ei)
    const srcR = fixedSource(crypto, idOf(2, crypto), sr, er)
    const pooled = [new NoiseConnection({ ...base('initiator', 1), keys: srcI }), new NoiseConnection({ ...base('responder', 2), keys: srcR })] as const
    const a = pump(...injected)
    const b = pump(...pooled)
    expect(b.a.map(toHex)).toEqual(a.a.map(toHex))
    expect(b.b.map(toHex)).toEqual(a.b.map(toHex))
    expect(pooled[0].isEstablished && pooled[1].isEstablished).toBe(true)
    expect(srcI.takes).toBe(2)
    expect(srcR.takes).toBe(2)
  })

  test('a key source of another identity is a RangeError', () => {
    const pool = new NoiseKeyPool({ crypto, identity: idOf(3, crypto), size: 0 })
    expect(() => new NoiseConnection({ ...base('initiator', 1), keys: pool })).toThrow(RangeError)
  })
})

describe('connections take their Noise keys from the pool', () => {
  test('dialer and listener each take one static and one ephemeral pair; the connection opens', () => {
    const mk = (role: 'dialer' | 'listener', identity: PrivateKey, noiseKeys: NoiseKeyPool): Connection => {
      const opts: ConnectionOptions = { role, crypto: nodeCrypto, identity, now: 0, supportsProtocol: () => false, listProtocols: () => [], noiseKeys }
      return new Connection(opts)
    }
    const pools = [new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(1) }), new NoiseKeyPool({ crypto: nodeCrypto, identity: idOf(2) })]
    for (const p of pools) p.refill()
    const d = mk('dialer', idOf(1), pools[0]!)
    const l = mk('listener', idOf(2), pools[1]!)
    for (let progress = true; progress;) {
      progress = false
      for (const [from, to] of [[d, l], [l, d]] as const) {
        for (let b = from.pollTransmit(1 << 20); b !== undefined; b = from.pollTransmit(1 << 20)) {
          progress = true
          to.handleData(0, b)
        }
      }
    }
    expect(d.isOpen && l.isOpen).toBe(true)
    for (const p of pools) {
      expect(p.ready).toEqual({ ephemeral: 1, static: 1 })
      expect(p.misses).toBe(0)
    }
  })
})

describe('key arrays: the DH operations use the very arrays the public keys were computed from', () => {
  // node:crypto caches an imported private key by its Uint8Array (src/io/crypto-node.ts): a copy made
  // after computing the public key meant a second import (~50 us) for each of the 4 DH operations' keys.
  test.each([['made on the spot', false], ['from a pool', true]] as const)('%s', (_n, pooled) => {
    const seen = new Set<Uint8Array>()
    const imports: boolean[] = []
    const counting: CryptoProvider = {
      ...nodeCrypto,
      x25519PublicKey: (k) => { seen.add(k); return nodeCrypto.x25519PublicKey(k) },
      x25519SharedSecret: (k, p) => { imports.push(!seen.has(k)); return nodeCrypto.x25519SharedSecret(k, p) },
    }
    const opts = (initiator: boolean) => pooled
      ? { s: new NoiseKeyPool({ crypto: counting, identity: idOf(1) }).takeStatic(), ephemeral: () => new NoiseKeyPool({ crypto: counting, identity: idOf(1) }).takeEphemeral(), initiator }
      : { s: counting.randomBytes(32), initiator }
    const i = new HandshakeState({ crypto: counting, ...opts(true) })
    const r = new HandshakeState({ crypto: counting, ...opts(false) })
    r.readMessage(i.writeMessage(new Uint8Array(0)))
    i.readMessage(r.writeMessage(new Uint8Array(0)))
    r.readMessage(i.writeMessage(new Uint8Array(0)))
    expect(imports.length).toBe(6)
    expect(imports.every((fresh) => !fresh)).toBe(true)
  })
})

describe('Runtime.defer (how a node schedules its pool refills)', () => {
  const quietSwarm = (): SwarmPort<never> => ({
    handleInbound: () => undefined, handleConnected: () => {}, handleConnectFailed: () => {}, handleData: () => {},
    handleEof: () => {}, handleTransportClosed: () => {}, handleTimeout: () => {}, wantsData: () => true,
    pollIo: () => undefined, pollDirty: () => undefined, pollTransmit: () => undefined, pollEvent: () => undefined, pollTimeout: () => undefined,
  })

  test('runs later than the microtasks after the call; an exception goes to onError; nothing after stop()', async () => {
    const errors: Error[] = []
    const runtime = new Runtime<never>(quietSwarm(), { transports: [], onEvent: () => {}, onError: (e) => errors.push(e) })
    const order: string[] = []
    runtime.defer(() => order.push('deferred'), 0)
    queueMicrotask(() => order.push('microtask'))
    await Promise.resolve()
    expect(order).toEqual(['microtask'])
    await new Promise<void>((resolve) => runtime.defer(resolve, 1))
    expect(order).toEqual(['microtask', 'deferred'])
    const boom = new Error('boom')
    await new Promise<void>((resolve) => {
      runtime.defer(() => { throw boom }, 0)
      runtime.defer(resolve, 2)
    })
    expect(errors).toEqual([boom])
    let ran = false
    runtime.defer(() => { ran = true }, 0)
    await runtime.stop()
    // a timer of the same delay set after it fires after it: by then the deferred one had its turn
    await new Promise((r) => setTimeout(r, 0))
    expect(ran).toBe(false)
  })
})
