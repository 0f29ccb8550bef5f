/**
 * Noise key pairs made ahead of the handshake (spec/noise.md, "Keys made ahead").
 *
 * Every libp2p Noise handshake needs two fresh X25519 key pairs per side, the static one signed by
 * the identity key ("noise-libp2p-static-key:" || s, the libp2p handshake payload). With node:crypto
 * each key pair costs ~50 us (the scalar multiplication behind the public key) and the signature
 * ~35 us: ~135 us on each side of a dial's critical path (bench/README.md, "Warm dial"). The pool
 * makes them while nothing waits for them: a handshake takes a ready pair (or makes one on the spot
 * when the pool is empty: a burst of connections is never slower than without a pool), and the
 * driver refills the pool later through `schedule`, i.e. after the bytes that the taking handshake
 * wrote are on their way.
 *
 * Keys are taken, never shared: each pair leaves the pool once and the pool keeps no reference to
 * it, so no two handshakes use one key (the Noise spec requires fresh ephemeral keys; libp2p peers
 * also expect a fresh static key per connection, as go-libp2p does). Bounded: at most `size` pairs
 * of each kind wait here, whatever the number of connections; refilling never makes more than that.
 *
 * Pure: the pool neither reads a clock nor schedules anything itself; `schedule` is the driver's
 * (weft/node and weft/browser: a microtask for the first fill, then the runtime's `defer`, 3 ms).
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { concat } from '../core/bytes.js'
import type { PrivateKey } from '../peer-id/index.js'
import { STATIC_KEY_SIGNATURE_PREFIX } from './payload.js'

/** An X25519 key pair: the 32-byte private key and its public key. */
export interface NoiseKeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

/** A static key pair and the identity key's signature over "noise-libp2p-static-key:" || publicKey. */
export interface NoiseStaticKeyPair extends NoiseKeyPair {
  readonly signature: Uint8Array
}

/**
 * Where a Noise handshake takes its key pairs from: each call returns a pair no one had before.
 * `identity` is the key that signed the static pairs (a handshake under another identity cannot use them).
 */
export interface NoiseKeySource {
  readonly identity: PrivateKey
  /** A fresh ephemeral key pair. */
  takeEphemeral(): NoiseKeyPair
  /** A fresh static key pair with its identity signature. */
  takeStatic(): NoiseStaticKeyPair
}

/**
 * Default `size` of a NoiseKeyPool: pairs of each kind kept ready. Sequential dials need one; a few
 * more absorb small bursts. Bounds the pool's memory (~1 KiB of key material and OpenSSL key objects
 * per pair) however many connections come and go.
 */
export const DEFAULT_NOISE_KEY_POOL_SIZE = 2
/** The largest accepted `size`: a pool is a latency aid, not a key store. */
export const MAX_NOISE_KEY_POOL_SIZE = 64
/**
 * How long a node's driver waits before refilling the pool after a handshake took a pair, in ms. A
 * refill in the microtasks right after that flush ran while the peer answered, on the same cores:
 * on loopback under load it ate most of the gain (interleaved dials, median of block medians against
 * no pool: microtask -0.04 ms, setImmediate -0.05, 3 ms -0.35, 20 ms -0.29 as the pool ran dry
 * between refills). 3 ms is after a loopback handshake and inside a real network's round trip.
 */
export const NOISE_KEY_REFILL_DELAY = 3

/** Options of `NoiseKeyPool`. */
export interface NoiseKeyPoolOptions {
  crypto: CryptoProvider
  /** The identity key that signs the static pairs. */
  identity: PrivateKey
  /** Pairs of each kind kept ready, default 2, at most 64; 0 turns the pool off (every pair made on demand). */
  size?: number
  /**
   * The driver's deferral: run `refill` later, once the current work is done (weft/node: a few ms
   * later, off the handshake that took the pair: src/edge/weft-node.ts). Absent: the pool fills
   * only when `refill()` is called.
   */
  schedule?: (refill: () => void) => void
}

/** X25519 key pairs (static ones signed by the identity key) made ahead of Noise handshakes. */
export class NoiseKeyPool implements NoiseKeySource {
  readonly identity: PrivateKey
  readonly size: number
  readonly #crypto: CryptoProvider
  readonly #schedule: ((refill: () => void) => void) | undefined
  readonly #ephemeral: NoiseKeyPair[] = []
  readonly #static: NoiseStaticKeyPair[] = []
  #scheduled = false
  /** Pairs made on demand because the pool was empty (a burst outran the refills). */
  #misses = 0

  constructor(options: NoiseKeyPoolOptions) {
    const size = options.size ?? DEFAULT_NOISE_KEY_POOL_SIZE
    if (!Number.isInteger(size) || size < 0 || size > MAX_NOISE_KEY_POOL_SIZE) throw new RangeError(`size must be an integer in [0, ${MAX_NOISE_KEY_POOL_SIZE}]`)
    this.size = size
    this.identity = options.identity
    this.#crypto = options.crypto
    this.#schedule = options.schedule
    this.#wantRefill()
  }

  /** Pairs ready now, by kind. */
  get ready(): { ephemeral: number; static: number } {
    return { ephemeral: this.#ephemeral.length, static: this.#static.length }
  }

  /** Pairs handed out that the pool had to make on the spot (it was empty). */
  get misses(): number {
    return this.#misses
  }

  takeEphemeral(): NoiseKeyPair {
    const pair = this.#ephemeral.shift() ?? this.#miss(() => this.#makePair())
    this.#wantRefill()
    return pair
  }

  takeStatic(): NoiseStaticKeyPair {
    const pair = this.#static.shift() ?? this.#miss(() => this.#makeStatic())
    this.#wantRefill()
    return pair
  }

  /**
   * Make pairs until each kind has `size` ready, at most `budget` pairs in this call (default: no
   * limit). Returns how many were made.
   */
  refill(budget = Infinity): number {
    let made = 0
    while (made < budget && (this.#static.length < this.size || this.#ephemeral.length < this.size)) {
      // alternate, so a limited budget fills both kinds
      if (this.#static.length < this.size && (this.#static.length <= this.#ephemeral.length || this.#ephemeral.length >= this.size)) this.#static.push(this.#makeStatic())
      else this.#ephemeral.push(this.#makePair())
      made++
    }
    return made
  }

  #miss<T>(make: () => T): T {
    if (this.size > 0) this.#misses++
    return make()
  }

  #wantRefill(): void {
    if (this.#schedule === undefined || this.#scheduled || this.size === 0) return
    this.#scheduled = true
    this.#schedule(() => {
      this.#scheduled = false
      this.refill()
    })
  }

  #makePair(): NoiseKeyPair {
    // The provider sees the very array the handshake will pass to its DH operations (node:crypto
    // caches the imported key by that array: src/io/crypto-node.ts).
    const privateKey = this.#crypto.randomBytes(32)
    return { privateKey, publicKey: this.#crypto.x25519PublicKey(privateKey) }
  }

  #makeStatic(): NoiseStaticKeyPair {
    const pair = this.#makePair()
    return { ...pair, signature: this.identity.sign(concat([STATIC_KEY_SIGNATURE_PREFIX, pair.publicKey]), this.#crypto) }
  }
}
