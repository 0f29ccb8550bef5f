/**
 * The fuzzer's crypto provider: node:crypto with deterministic randomness and memoised public-key
 * operations.
 *
 * - `randomBytes` comes from a seeded stream reset per input (`reset()`), so Noise ephemeral and
 *   static keys are FIXED: the same input bytes give the same handshake and the same session keys,
 *   and an escaping input replays exactly.
 * - With fixed keys every handshake repeats the same X25519 and Ed25519 operations; caching their
 *   results (keyed by their inputs) takes the public-key cost out of each input, so the `noise` and
 *   `connection` targets spend their time in the code under test. Hashes and ChaCha20-Poly1305 run
 *   for real on every input (they see the mutated bytes).
 */
import type { CryptoProvider } from '../../src/core/crypto/provider.js'
import { toHex } from '../../src/core/bytes.js'
import { nodeCrypto } from '../../src/io/crypto-node.js'
import { mulberry32 } from './rng.js'

const CACHE_LIMIT = 50_000

function memo<A extends Uint8Array[], R>(f: (...a: A) => R): (...a: A) => R {
  let cache = new Map<string, R>()
  return (...a: A): R => {
    let k = ''
    for (const x of a) k += toHex(x) + ':'
    const hit = cache.get(k)
    if (hit !== undefined) return hit instanceof Uint8Array ? (hit.slice() as R) : hit
    const v = f(...a)
    if (cache.size >= CACHE_LIMIT) cache = new Map()
    cache.set(k, v instanceof Uint8Array ? (v.slice() as R) : v)
    return v
  }
}

export interface FuzzCrypto extends CryptoProvider {
  /** Restart the deterministic random stream (call before each input). */
  reset(seed?: number): void
}

export function fuzzCrypto(): FuzzCrypto {
  let next = mulberry32(1)
  const x25519PublicKey = memo((k: Uint8Array) => nodeCrypto.x25519PublicKey(k))
  const x25519SharedSecret = memo((k: Uint8Array, p: Uint8Array) => {
    try {
      return { ok: nodeCrypto.x25519SharedSecret(k, p) } as const
    } catch (e) {
      return { err: e } as const
    }
  })
  const ed25519PublicKey = memo((s: Uint8Array) => nodeCrypto.ed25519PublicKey(s))
  const ed25519Sign = memo((s: Uint8Array, m: Uint8Array) => nodeCrypto.ed25519Sign(s, m))
  const ed25519Verify = memo((p: Uint8Array, m: Uint8Array, s: Uint8Array) => nodeCrypto.ed25519Verify(p, m, s))
  const provider: FuzzCrypto = {
    ...nodeCrypto,
    name: 'fuzz',
    reset(seed = 1) {
      next = mulberry32(seed)
    },
    randomBytes(n: number): Uint8Array {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0
      return out
    },
    x25519PublicKey,
    x25519SharedSecret(k, p) {
      const r = x25519SharedSecret(k, p)
      if ('err' in r) throw r.err
      return r.ok.slice()
    },
    ed25519PublicKey,
    ed25519Sign,
    ed25519Verify,
  }
  return provider
}
