/**
 * Noise `HandshakeState` (Noise Protocol Framework rev 34, §5.3) for the one protocol libp2p uses:
 * `Noise_XX_25519_ChaChaPoly_SHA256`.
 *
 *   XX:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * This is the message-level core: `writeMessage(payload)` returns a whole Noise handshake message and
 * `readMessage(message)` returns its payload. Framing (the 2-byte length prefix) and the libp2p payload
 * live above it, in connection.ts and payload.ts. Key pairs are given as 32-byte X25519 private keys;
 * the static key `s` and (for tests and vectors) the ephemeral key `e` are injected, so a run is
 * fully determined by its inputs. After the third message, `split()` hands out the two transport
 * CipherStates (c1 encrypts initiator -> responder, c2 the other way).
 */
import type { CryptoProvider } from '../core/crypto/provider.js'
import { UsageError } from '../core/errors.js'
import { utf8 } from '../core/bytes.js'
import { noiseError } from './errors.js'
import type { NoiseKeyPair } from './key-pool.js'
import { type CipherState, DHLEN, MAX_NOISE_MESSAGE, SymmetricState, TAG_LENGTH } from './symmetric-state.js'

/** The Noise protocol name (Noise spec §8), hashed into the initial handshake hash. */
export const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss'

/** The XX message patterns; even indices are sent by the initiator, odd ones by the responder. */
export const XX_MESSAGE_PATTERNS: readonly (readonly Token[])[] = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]

/** Options of `HandshakeState` (Noise spec §5.3 `Initialize`). */
export interface HandshakeStateOptions {
  /** The crypto provider. */
  crypto: CryptoProvider
  /** True for the initiator of the XX pattern (writes messages 1 and 3). */
  initiator: boolean
  /**
   * Our static X25519 private key (32 bytes), or a key pair made ahead (key-pool.ts; its public key
   * is trusted as given, and its private key array is used as is).
   */
  s: Uint8Array | NoiseKeyPair
  /** Our ephemeral X25519 private key, tests and vectors only; otherwise taken from `ephemeral`. */
  e?: Uint8Array
  /**
   * Where our ephemeral key pair comes from, called once when the `e` token is written (a
   * NoiseKeyPool's `takeEphemeral`); default: crypto.randomBytes(32) and its public key.
   */
  ephemeral?: () => NoiseKeyPair
  /** Prologue bytes both sides must agree on; empty for libp2p. */
  prologue?: Uint8Array
}

type KeyPair = NoiseKeyPair

/**
 * The Noise HandshakeState object (Noise spec §5.3) for the XX pattern: `writeMessage` and
 * `readMessage` process the tokens of each message; after message 3, `split()` gives the two
 * CipherStates (initiator → responder, responder → initiator).
 */
export class HandshakeState {
  readonly initiator: boolean
  readonly #crypto: CryptoProvider
  readonly #ss: SymmetricState
  readonly #s: KeyPair
  #e: KeyPair | undefined
  readonly #eInjected: Uint8Array | undefined
  readonly #eSource: (() => NoiseKeyPair) | undefined
  #rs: Uint8Array | undefined
  #re: Uint8Array | undefined
  /** Index of the next message pattern; 3 once the handshake is complete. */
  #next = 0
  #failed = false
  #split: [CipherState, CipherState] | undefined

  /** Initialize(handshake_pattern = XX, initiator, prologue, s, e). XX has no pre-messages. */
  constructor(options: HandshakeStateOptions) {
    const { crypto } = options
    this.#crypto = crypto
    this.initiator = options.initiator
    this.#s = options.s instanceof Uint8Array ? keyPair(crypto, options.s, 's') : checked(options.s, 's')
    if (options.e !== undefined && options.e.length !== 32) throw new RangeError('e must be a 32-byte X25519 private key')
    this.#eInjected = options.e?.slice()
    this.#eSource = options.ephemeral
    this.#ss = new SymmetricState(crypto, utf8(PROTOCOL_NAME))
    this.#ss.mixHash(options.prologue ?? new Uint8Array(0))
  }

  /** True when the next message is ours to write. */
  get isMyTurn(): boolean {
    return !this.complete && (this.#next % 2 === 0) === this.initiator
  }

  /** True once the last handshake message was written or read (then call `split()`). */
  get complete(): boolean {
    return this.#next === XX_MESSAGE_PATTERNS.length
  }

  /** Index (0, 1, 2) of the next handshake message. */
  get messageIndex(): number {
    return this.#next
  }

  /** Our static public key. */
  get localStaticPublicKey(): Uint8Array {
    return this.#s.publicKey.slice()
  }

  /** rs: the remote static public key, once received. */
  get rs(): Uint8Array | undefined {
    return this.#rs?.slice()
  }

  /** e: our ephemeral public key, once written (trace and keylog). */
  get e(): Uint8Array | undefined {
    return this.#e?.publicKey.slice()
  }

  /** re: the remote ephemeral public key, once received. */
  get re(): Uint8Array | undefined {
    return this.#re?.slice()
  }

  /** h: the handshake hash (GetHandshakeHash() once complete). */
  get h(): Uint8Array {
    return this.#ss.h
  }

  /** WriteMessage(payload): the next handshake message, payload encrypted once a key exists. */
  writeMessage(payload: Uint8Array): Uint8Array {
    this.#checkTurn(true)
    try {
      return this.#write(payload)
    } catch (e) {
      throw this.#fail(e)
    }
  }

  #write(payload: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = []
    for (const token of XX_MESSAGE_PATTERNS[this.#next]!) {
      switch (token) {
        case 'e': {
          this.#e = this.#eInjected === undefined && this.#eSource !== undefined
            ? checked(this.#eSource(), 'e')
            : keyPair(this.#crypto, this.#eInjected ?? this.#crypto.randomBytes(32), 'e')
          parts.push(this.#e.publicKey)
          this.#ss.mixHash(this.#e.publicKey)
          break
        }
        case 's':
          parts.push(this.#ss.encryptAndHash(this.#s.publicKey))
          break
        default:
          this.#mixDh(token)
      }
    }
    parts.push(this.#ss.encryptAndHash(payload))
    const length = parts.reduce((n, p) => n + p.length, 0)
    if (length > MAX_NOISE_MESSAGE) throw new RangeError(`handshake message of ${length} bytes exceeds ${MAX_NOISE_MESSAGE}`)
    const message = new Uint8Array(length)
    let off = 0
    for (const p of parts) {
      message.set(p, off)
      off += p.length
    }
    this.#advance()
    return message
  }

  /** ReadMessage(message): processes the next handshake message and returns its payload. */
  readMessage(message: Uint8Array): Uint8Array {
    this.#checkTurn(false)
    if (message.length > MAX_NOISE_MESSAGE) throw this.#fail(noiseError('noise/handshake-too-large', `${message.length} bytes`))
    try {
      let off = 0
      const take = (n: number, what: string): Uint8Array => {
        if (message.length - off < n) throw noiseError('noise/short-message', `message ${this.#next} ends before ${what}`)
        const out = message.slice(off, off + n)
        off += n
        return out
      }
      for (const token of XX_MESSAGE_PATTERNS[this.#next]!) {
        switch (token) {
          case 'e':
            this.#re = take(DHLEN, 're')
            this.#ss.mixHash(this.#re)
            break
          case 's': {
            const temp = take(this.#ss.cipherState.hasKey() ? DHLEN + TAG_LENGTH : DHLEN, 'rs')
            this.#rs = this.#ss.decryptAndHash(temp)
            break
          }
          default:
            this.#mixDh(token)
        }
      }
      const payload = this.#ss.decryptAndHash(message.subarray(off))
      this.#advance()
      return payload
    } catch (e) {
      throw this.#fail(e)
    }
  }

  /**
   * The transport CipherStates from Split(), by direction for this party: the initiator sends with c1
   * and receives with c2; the responder the other way round.
   */
  split(): { send: CipherState; receive: CipherState } {
    if (this.#split === undefined) throw new UsageError('noise/handshake-incomplete', 'split() before the last handshake message')
    const [c1, c2] = this.#split
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 }
  }

  /** "ee", "es", "se", "ss": MixKey(DH(...)) with the keys the spec assigns to each role. */
  #mixDh(token: Exclude<Token, 'e' | 's'>): void {
    const e = this.#e
    const s = this.#s
    const re = this.#re
    const rs = this.#rs
    let local: KeyPair | undefined
    let remote: Uint8Array | undefined
    switch (token) {
      case 'ee':
        ;[local, remote] = [e, re]
        break
      case 'es':
        ;[local, remote] = this.initiator ? [e, rs] : [s, re]
        break
      case 'se':
        ;[local, remote] = this.initiator ? [s, re] : [e, rs]
        break
      case 'ss':
        ;[local, remote] = [s, rs]
        break
    }
    if (local === undefined || remote === undefined) throw new Error(`internal: keys missing for ${token}`)
    let shared: Uint8Array
    try {
      shared = this.#crypto.x25519SharedSecret(local.privateKey, remote)
    } catch (cause) {
      // Both providers reject the all-zero output (a low-order remote point), which §12.1 allows.
      throw noiseError('noise/invalid-key', `DH for ${token} produced the all-zero output`, cause)
    }
    this.#ss.mixKey(shared)
  }

  #advance(): void {
    this.#next++
    if (this.complete) this.#split = this.#ss.split()
  }

  #checkTurn(writing: boolean): void {
    if (this.#failed) throw new UsageError('noise/handshake-failed', 'the handshake already failed')
    if (this.complete) throw new UsageError('noise/handshake-complete', 'the handshake is complete')
    if (this.isMyTurn !== writing) throw new UsageError('noise/wrong-turn', writing ? 'it is the remote turn to write' : 'it is our turn to write')
  }

  /** A failed handshake is deleted (§5): further calls are UsageErrors. */
  #fail(e: unknown): unknown {
    this.#failed = true
    return e
  }
}

/**
 * Our copy of a private key, and its public key computed from that same array: a provider may cache
 * per-key state by the array (node:crypto keeps the imported KeyObject in a WeakMap keyed by it), so
 * the DH operations that follow find it instead of importing the key again (~50 us each on node).
 */
function keyPair(crypto: CryptoProvider, privateKey: Uint8Array, name: string): KeyPair {
  if (privateKey.length !== 32) throw new RangeError(`${name} must be a 32-byte X25519 private key`)
  const copy = privateKey.slice()
  return { privateKey: copy, publicKey: crypto.x25519PublicKey(copy) }
}

/** A key pair made elsewhere (a key pool): used as given, after a size check. */
function checked(pair: NoiseKeyPair, name: string): KeyPair {
  if (pair.privateKey.length !== 32 || pair.publicKey.length !== 32) throw new RangeError(`${name} must be a 32-byte X25519 key pair`)
  return pair
}
