/**
 * The byte-level noise-libp2p secure channel (libp2p/specs noise/README.md): a sans-IO ByteMachine
 * that runs the XX handshake with the libp2p payload, then encrypts and decrypts transport messages.
 *
 * Wire format, in both phases: every Noise message is framed as
 *
 *   noise_message_len (2 bytes, big-endian) || noise_message (at most 65535 bytes)
 *
 * Handshake:  initiator -> e                                  (payload empty)
 *             responder <- e, ee, s, es + payload             (identity key, signature, extensions)
 *             initiator -> s, se + payload
 * The remote payload is verified (signature over the remote static key, and the expected peer id
 * when dialling /p2p/<id>) before the handshake is reported complete; on any failure its early data
 * is discarded. After the handshake each transport message is one ChaChaPoly ciphertext (plaintext +
 * 16-byte tag) under its own nonce, so a tampered, replayed or reordered frame fails authentication.
 *
 * Send path: `write()` encrypts straight into an outgoing block after the 2-byte length prefix, and
 * `pollTransmit(max)` hands out large slices of those blocks (coalescing small ones) so a socket gets
 * few big writes. A large frame, when the provider can seal detached (node:crypto, whose cipher
 * allocates its output anyway), is queued as three pieces instead: the prefix and the tag in small
 * blocks, the ciphertext as it came from the cipher (no zero-filled block, no copy); the runtime
 * corks the socket so the pieces still leave in one writev. Receive path: whole frames are decrypted directly out of the caller's chunk
 * (synchronously; no reference is kept), only a trailing partial frame is copied into a scratch
 * buffer, and each frame's plaintext becomes one 'data' event.
 */
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import type { CryptoProvider } from '../core/crypto/provider.js'
import { EventQueue } from '../core/event-queue.js'
import { ReadBuffer } from '../core/read-buffer.js'
import { UsageError } from '../core/errors.js'
import { equals } from '../core/bytes.js'
import type { KeylogHook, TraceHook } from '../core/trace.js'
import type { PeerId, PrivateKey, PublicKey } from '../peer-id/index.js'
import { noiseError } from './errors.js'
import { HandshakeState } from './handshake-state.js'
import type { NoiseKeySource, NoiseStaticKeyPair } from './key-pool.js'
import { createHandshakePayload, verifyHandshakePayload } from './payload.js'
import { type CipherState, MAX_NOISE_MESSAGE, TAG_LENGTH } from './symmetric-state.js'

/** The largest plaintext in one transport message: 65535 - 16. */
export const MAX_PLAINTEXT = MAX_NOISE_MESSAGE - TAG_LENGTH
/** Length prefix + tag added to each transport frame. */
export const FRAME_OVERHEAD = 2 + TAG_LENGTH
/**
 * Default for `maxHandshakeMessage`: the Noise maximum. Real handshake messages are under 1 KiB
 * (an RSA identity key makes them ~700 bytes); the 2-byte prefix already bounds what a remote can
 * make us buffer, and keeping the full range avoids rejecting peers that send large extensions.
 */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE = MAX_NOISE_MESSAGE
/**
 * Default for `maxBufferedData`: decrypted bytes waiting in pollEvent() beyond which wantsData()
 * turns false. Stops a fast sender from growing our event queue when the application reads slowly.
 */
export const DEFAULT_MAX_BUFFERED_DATA = 4 * 1024 * 1024

/**
 * Outgoing blocks: small first, bigger while output is already pending (a burst of writes). A burst
 * block holds exactly four maximum-size frames, so 65519-byte writes pack it without a gap.
 */
const SMALL_BLOCK = 16 * 1024
const BURST_BLOCK = 4 * (2 + MAX_NOISE_MESSAGE)
/**
 * Frames with at least this much plaintext are sealed detached when the provider can
 * (`chachaSealDetached`, node:crypto): its freshly allocated ciphertext goes out as it is, between
 * a 2-byte prefix and the tag in small pieces, instead of being copied into a zero-filled block
 * (~6% of a bulk sender's CPU). Smaller frames are copied: a piece per small frame costs more.
 */
const DETACHED_MIN = 8 * 1024
/** The free end of a drained block of small pieces is kept for the next ones when at least this big (room for 14 frames' prefix and tag). */
const MIN_LEFTOVER = 256

/**
 * Options of `NoiseConnection`: role, crypto, our identity key and the handshake payload's extensions (libp2p noise spec).
 */
export interface NoiseOptions {
  /** Our Noise role: the dialer is the initiator (sends message 1 and 3), the listener the responder. */
  role: 'initiator' | 'responder'
  /** The crypto provider (X25519, ChaChaPoly, SHA-256, Ed25519). */
  crypto: CryptoProvider
  /** Our libp2p identity key; it signs our Noise static key. */
  identity: PrivateKey
  /** X25519 private key; default crypto.randomBytes(32), a fresh static key per connection (as go does). */
  staticKey?: Uint8Array
  /** X25519 ephemeral private key; tests and vectors only (default: random). */
  ephemeralKey?: Uint8Array
  /**
   * Key pairs made ahead (a NoiseKeyPool, key-pool.ts): the static pair with its identity signature
   * and the ephemeral pair come from here instead of being made during the handshake. Its
   * `identity` must be `identity` (RangeError otherwise). `staticKey` / `ephemeralKey` win over it.
   */
  keys?: NoiseKeySource
  /** Dialling /p2p/<id>: any other authenticated remote is 'noise/peer-id-mismatch'. */
  expectedRemotePeer?: PeerId
  /** Our NoiseExtensions.stream_muxers (early muxer negotiation), default []. */
  streamMuxers?: string[]
  /** Largest accepted handshake message (length prefix value), default 65535. */
  maxHandshakeMessage?: number
  /** Undelivered decrypted bytes beyond which wantsData() is false, default 4 MiB. */
  maxBufferedData?: number
  /** Trace hook (src/trace): handshake messages (with their payload's plaintext) and the Split(). */
  trace?: TraceHook | undefined
  /** Keylog hook (spec/trace.md "Keylog"): the transport keys after Split(). Secrets: `--keylog` only. */
  keylog?: KeylogHook | undefined
}

/**
 * Events of `NoiseConnection`: the handshake completed (with the remote peer, its key and its muxer list), decrypted data, or end of stream.
 */
export type NoiseEvent =
  | { type: 'handshake-complete'; remotePeer: PeerId; remotePublicKey: PublicKey; remoteStreamMuxers: string[] }
  | { type: 'data'; data: Uint8Array }
  | { type: 'eof' }

type State =
  | { kind: 'handshake'; hs: HandshakeState }
  | { kind: 'transport'; send: CipherState; receive: CipherState; remoteEof: boolean }
  | { kind: 'failed'; error: unknown }

interface OutBlock {
  buf: Uint8Array
  /** Next byte to hand out. */
  start: number
  /** End of the bytes written so far; [start, end) is pending, [end, buf.length) is free. */
  end: number
  /** Holds the small pieces (length prefix, tag) of detached frames: its free end outlives it (`#shiftHead`). */
  pieces: boolean
}

const EMPTY = new Uint8Array(0)
const PREFIX = new Uint8Array(2) // a length prefix on its way into a block (#appendPrefix copies it)

/**
 * The libp2p Noise secure channel as a sans-IO core (libp2p specs noise/README.md): the
 * `Noise_XX_25519_ChaChaPoly_SHA256` handshake carrying the libp2p handshake payload (identity key,
 * signature over `"noise-libp2p-static-key:" + s`, extensions with the stream muxers), then transport
 * messages, each a 2-byte big-endian length and a ChaChaPoly ciphertext of at most 65535 bytes.
 * A bad signature, a wrong peer or a failed decryption is `ProtocolError('noise', code)`.
 */
export class NoiseConnection implements ByteMachine<NoiseEvent> {
  readonly #crypto: CryptoProvider
  readonly #identity: PrivateKey
  readonly #expectedRemotePeer: PeerId | undefined
  readonly #streamMuxers: string[]
  readonly #maxHandshakeMessage: number
  readonly #maxBufferedData: number
  #state: State
  /** Handshake phase: received bytes not yet forming a whole handshake message. */
  readonly #in = new ReadBuffer()
  /**
   * Transport phase: a frame being assembled across handleData calls, in `#scratch` (one 65535-byte
   * buffer, allocated on the first split frame and reused: with 64 KiB socket reads nearly every
   * full-size frame is split, and a fresh buffer per frame costs ~15% of throughput).
   * `#partialLength` is -1 when no frame is in progress.
   */
  #scratch: Uint8Array | undefined
  #partialLength = -1
  #partialFill = 0
  /** Transport phase: the first length byte, when only it has arrived (-1: none). */
  #lengthHigh = -1
  #out: OutBlock[] = []
  #outLength = 0
  /** Free room cut from a block that a detached ciphertext followed: where the next small piece goes. */
  #leftover: Uint8Array | undefined
  /** O(1) poll: one read of tiny frames can queue thousands of 'data' events. */
  readonly #events = new EventQueue<NoiseEvent>()
  #eventBytes = 0
  #remotePeer: PeerId | undefined
  #remotePublicKey: PublicKey | undefined
  readonly #trace: TraceHook | undefined
  readonly #keylog: KeylogHook | undefined
  /** Our static pair when it came from `keys`: its identity signature is already made. */
  #staticPair: NoiseStaticKeyPair | undefined

  constructor(options: NoiseOptions) {
    if (options.role !== 'initiator' && options.role !== 'responder') throw new TypeError(`role must be 'initiator' or 'responder'`)
    this.#crypto = options.crypto
    this.#identity = options.identity
    this.#expectedRemotePeer = options.expectedRemotePeer
    this.#streamMuxers = [...(options.streamMuxers ?? [])]
    this.#maxHandshakeMessage = options.maxHandshakeMessage ?? DEFAULT_MAX_HANDSHAKE_MESSAGE
    if (!Number.isInteger(this.#maxHandshakeMessage) || this.#maxHandshakeMessage < 96 || this.#maxHandshakeMessage > MAX_NOISE_MESSAGE) {
      throw new RangeError('maxHandshakeMessage must be an integer in [96, 65535]')
    }
    this.#maxBufferedData = options.maxBufferedData ?? DEFAULT_MAX_BUFFERED_DATA
    if (!(this.#maxBufferedData > 0)) throw new RangeError('maxBufferedData must be positive')
    const keys = options.keys
    if (keys !== undefined && keys.identity !== options.identity && !equals(keys.identity.publicKey.bytes, options.identity.publicKey.bytes)) {
      throw new RangeError('keys: the key source signs for another identity')
    }
    let s: Uint8Array | NoiseStaticKeyPair
    if (options.staticKey !== undefined || keys === undefined) s = options.staticKey ?? this.#crypto.randomBytes(32)
    else s = this.#staticPair = keys.takeStatic()
    const hs = new HandshakeState({
      crypto: this.#crypto,
      initiator: options.role === 'initiator',
      s,
      ...(options.ephemeralKey !== undefined ? { e: options.ephemeralKey } : {}),
      ...(keys !== undefined ? { ephemeral: () => keys.takeEphemeral() } : {}),
    })
    this.#state = { kind: 'handshake', hs }
    this.#trace = options.trace
    this.#keylog = options.keylog
    // -> e : the initiator's first message (empty payload: it has no secrecy) is ready at once.
    if (hs.isMyTurn) this.#writeHandshake(hs, EMPTY)
  }

  /** The authenticated remote peer, once the handshake is complete. */
  get remotePeer(): PeerId | undefined {
    return this.#remotePeer
  }

  /** The remote's identity key, once the handshake verified it. */
  get remotePublicKey(): PublicKey | undefined {
    return this.#remotePublicKey
  }

  /** True once the handshake is complete and the channel carries application data. */
  get isEstablished(): boolean {
    return this.#state.kind === 'transport'
  }

  /** Encrypted bytes waiting for pollTransmit (for the caller's backpressure). */
  get bufferedAmount(): number {
    return this.#outLength
  }

  /** Received bytes held until they form a whole message: at most 2 + 65535 between calls. */
  get bufferedInput(): number {
    return this.#in.length + (this.#lengthHigh >= 0 ? 1 : 0) + (this.#partialLength >= 0 ? 2 + this.#partialFill : 0)
  }

  // ---- inputs ----

  /**
   * Bytes from the transport, read during the call only (the ByteMachine input rule): handshake
   * bytes are copied into a ReadBuffer, whole transport frames are decrypted straight out of `data`,
   * and a frame cut by the end of `data` is copied into the scratch buffer. Each 'data' event holds
   * the provider's `chachaOpen` output, fresh memory that aliases neither `data` nor the scratch
   * buffer (the CryptoProvider contract), so it is the driver's to keep.
   */
  handleData(_now: Millis, data: Uint8Array): void {
    const st = this.#state
    if (st.kind === 'failed') throw new UsageError('noise/failed', 'handleData after the channel failed')
    if (st.kind === 'transport' && st.remoteEof) throw new UsageError('noise/eof', 'handleData after handleEof')
    try {
      if (st.kind === 'handshake') {
        this.#in.push(data)
        this.#readHandshake()
        // bytes after the last handshake message are transport frames
        if (this.#state.kind === 'transport' && this.#in.length > 0) this.#readTransport(this.#in.readAll())
      } else {
        this.#readTransport(data)
      }
    } catch (e) {
      this.#state = { kind: 'failed', error: e }
      throw e
    }
  }

  handleEof(_now: Millis): void {
    const st = this.#state
    if (st.kind === 'failed' || (st.kind === 'transport' && st.remoteEof)) return
    if (st.kind === 'handshake' || this.#midFrame()) {
      const e = noiseError('noise/unexpected-eof', st.kind === 'handshake' ? 'EOF during the handshake' : 'EOF inside a transport frame')
      this.#state = { kind: 'failed', error: e }
      throw e
    }
    st.remoteEof = true
    this.#events.push({ type: 'eof' })
  }

  handleTimeout(_now: Millis): void {
    // Noise has no timers; the handshake deadline belongs to the connection upgrade.
  }

  wantsData(): boolean {
    const st = this.#state
    if (st.kind === 'failed') return false
    if (st.kind === 'transport' && st.remoteEof) return false
    return this.#eventBytes < this.#maxBufferedData
  }

  // ---- commands ----

  /**
   * Encrypt application bytes into transport frames of at most 65519 plaintext bytes each.
   * `plaintext` is read during the call only (encrypted at once; no reference is kept), so the
   * caller may reuse it as soon as this returns (yamux's `pollTransmitTransient` relies on this).
   */
  write(plaintext: Uint8Array): void {
    const st = this.#state
    if (st.kind === 'failed') throw new UsageError('noise/failed', 'write after the channel failed')
    if (st.kind !== 'transport') throw new UsageError('noise/handshake-incomplete', 'write before the handshake is complete')
    const total = plaintext.length
    if (total === 0) return
    const frames = Math.ceil(total / MAX_PLAINTEXT)
    if (!st.send.canProcess(frames)) {
      const e = new UsageError('noise/nonce-exhausted', 'the send nonce would reach 2^64-1: the session must end')
      this.#state = { kind: 'failed', error: e }
      throw e
    }
    for (let off = 0; off < total; off += MAX_PLAINTEXT) {
      const chunk = plaintext.subarray(off, Math.min(total, off + MAX_PLAINTEXT))
      const len = chunk.length + TAG_LENGTH
      const parts = chunk.length >= DETACHED_MIN ? st.send.encryptDetached(EMPTY, chunk) : undefined
      if (parts !== undefined) {
        // length prefix and tag in the small-piece space, the ciphertext as its own block
        this.#appendPrefix(len)
        this.#appendBody(parts[0])
        this.#appendSmall(parts[1])
        continue
      }
      const block = this.#reserve(2 + len)
      const buf = block.buf
      const end = block.end
      buf[end] = len >>> 8
      buf[end + 1] = len & 0xff
      st.send.encryptInto(EMPTY, chunk, buf, end + 2)
      block.end = end + 2 + len
      this.#outLength += 2 + len
    }
  }

  // ---- outputs ----

  /**
   * Up to `max` bytes of frames for the transport: a view of an outgoing block (or one copy joining
   * several small blocks), or a detached ciphertext as the provider returned it. The bytes are the
   * caller's: a block is only ever appended to, never rewritten, so a view stays valid for good.
   */
  pollTransmit(max: number): Uint8Array | undefined {
    if (!(max >= 1)) throw new RangeError('max must be at least 1')
    while (this.#out.length > 0 && this.#out[0]!.start === this.#out[0]!.end) this.#shiftHead()
    const head = this.#out[0]
    if (head === undefined) return undefined
    const avail = head.end - head.start
    if (avail >= max || avail >= SMALL_BLOCK || this.#out.length === 1) {
      const n = Math.min(avail, max)
      const chunk = head.buf.subarray(head.start, head.start + n)
      head.start += n
      this.#outLength -= n
      if (head.start === head.end) this.#shiftHead()
      return chunk
    }
    // Several small blocks: one copy into a single buffer, up to max. The copy stops before a
    // block holding SMALL_BLOCK or more pending bytes (that one goes out next, as a view): a small
    // head left by a previous call that stopped a few bytes short of a block's end must not drag
    // the next 256 KiB of ciphertext into a copy.
    let size = 0
    let blocks = 0
    for (const b of this.#out) {
      const pending = b.end - b.start
      if (size > 0 && pending >= SMALL_BLOCK) break
      size += pending
      blocks++
      if (size >= max) break
    }
    if (blocks === 1) {
      // only the head: a view, no copy
      const chunk = head.buf.subarray(head.start, head.end)
      head.start = head.end
      this.#outLength -= chunk.length
      this.#shiftHead()
      return chunk
    }
    const out = new Uint8Array(Math.min(max, size))
    let off = 0
    while (off < out.length) {
      const b = this.#out[0]!
      const n = Math.min(b.end - b.start, out.length - off)
      out.set(b.buf.subarray(b.start, b.start + n), off)
      b.start += n
      off += n
      if (b.start === b.end) this.#shiftHead()
    }
    this.#outLength -= out.length
    return out
  }

  pollEvent(): NoiseEvent | undefined {
    const ev = this.#events.poll()
    if (ev?.type === 'data') this.#eventBytes -= ev.data.length
    return ev
  }

  pollTimeout(): Millis | undefined {
    return undefined
  }

  /**
   * @internal Testing hook: SetNonce on a transport CipherState, so nonce exhaustion (n = 2^64-1)
   * can be reached without sending 2^64 messages.
   */
  _setNonceForTesting(direction: 'send' | 'receive', n: bigint): void {
    const st = this.#state
    if (st.kind !== 'transport') throw new UsageError('noise/handshake-incomplete', 'no transport CipherState yet')
    st[direction].setNonce(n)
  }

  // ---- handshake ----

  #readHandshake(): void {
    const buf = this.#in
    for (let st = this.#state; st.kind === 'handshake' && !st.hs.isMyTurn; st = this.#state) {
      if (buf.length < 2) return
      const len = (buf.byteAt(0)! << 8) | buf.byteAt(1)!
      if (len > this.#maxHandshakeMessage) throw noiseError('noise/handshake-too-large', `${len} > ${this.#maxHandshakeMessage}`)
      if (buf.length < 2 + len) return
      buf.skip(2)
      const hs = st.hs
      const message = buf.read(len)
      const payload = hs.readMessage(message)
      // Message 1 (-> e) carries no identity; its payload, if any, has no meaning in libp2p and is ignored.
      if (hs.messageIndex >= 2) this.#acceptRemotePayload(payload, hs)
      this.#trace?.({ kind: 'noise-message', dir: 'in', message, payload })
      if (hs.isMyTurn) this.#writeHandshake(hs, this.#ourPayload(hs))
      if (hs.complete) this.#completeHandshake(hs)
    }
  }

  #writeHandshake(hs: HandshakeState, payload: Uint8Array): void {
    const m = hs.writeMessage(payload)
    this.#queueFrame(m)
    this.#trace?.({ kind: 'noise-message', dir: 'out', message: m, payload })
  }

  #ourPayload(hs: HandshakeState): Uint8Array {
    const signature = this.#staticPair?.signature
    // needed once: the connection keeps neither the pair nor its private key for its lifetime
    this.#staticPair = undefined
    return createHandshakePayload(
      this.#identity,
      hs.localStaticPublicKey,
      { webtransportCerthashes: [], streamMuxers: this.#streamMuxers },
      this.#crypto,
      signature,
    )
  }

  #remoteStreamMuxers: string[] = []

  #acceptRemotePayload(payload: Uint8Array, hs: HandshakeState): void {
    const v = verifyHandshakePayload(payload, hs.rs!, this.#crypto)
    if (this.#expectedRemotePeer !== undefined && !this.#expectedRemotePeer.equals(v.remotePeer)) {
      throw noiseError('noise/peer-id-mismatch', `expected ${this.#expectedRemotePeer.toString()}, authenticated ${v.remotePeer.toString()}`)
    }
    this.#remotePeer = v.remotePeer
    this.#remotePublicKey = v.remotePublicKey
    this.#remoteStreamMuxers = v.extensions.streamMuxers
  }

  #completeHandshake(hs: HandshakeState): void {
    const { send, receive } = hs.split()
    this.#state = { kind: 'transport', send, receive, remoteEof: false }
    // The keylog (spec/trace.md): initiator's ephemeral key, k1 (initiator -> responder), k2.
    if (this.#keylog !== undefined) {
      const [c1, c2] = hs.initiator ? [send, receive] : [receive, send]
      this.#keylog((hs.initiator ? hs.e : hs.re)!, c1.keyForKeylog()!, c2.keyForKeylog()!)
    }
    this.#events.push({
      type: 'handshake-complete',
      remotePeer: this.#remotePeer!,
      remotePublicKey: this.#remotePublicKey!,
      remoteStreamMuxers: this.#remoteStreamMuxers,
    })
  }

  // ---- transport ----

  /**
   * Decrypt every complete frame of (partial frame from earlier calls ++ data). Whole frames inside
   * `data` are decrypted straight out of it (views, used before we return); a frame cut by the end
   * of `data` is copied into the scratch buffer, after the frames before it were decrypted (one of
   * them may be the previous partial frame, living in that same buffer).
   */
  #readTransport(data: Uint8Array): void {
    const st = this.#state
    if (st.kind !== 'transport') return
    const frames: Uint8Array[] = []
    let off = 0
    // 1. complete a frame begun in an earlier call
    if (this.#lengthHigh >= 0 && data.length > 0) {
      this.#partialLength = (this.#lengthHigh << 8) | data[0]!
      this.#partialFill = 0
      this.#lengthHigh = -1
      off = 1
    }
    if (this.#partialLength >= 0) {
      const scratch = (this.#scratch ??= new Uint8Array(MAX_NOISE_MESSAGE))
      const take = Math.min(this.#partialLength - this.#partialFill, data.length - off)
      scratch.set(data.subarray(off, off + take), this.#partialFill)
      this.#partialFill += take
      off += take
      if (this.#partialFill === this.#partialLength) {
        frames.push(scratch.subarray(0, this.#partialLength))
        this.#partialLength = -1
      }
    }
    // 2. whole frames straight out of the caller's chunk
    while (data.length - off >= 2) {
      const len = (data[off]! << 8) | data[off + 1]!
      if (data.length - off - 2 < len) break
      frames.push(data.subarray(off + 2, off + 2 + len))
      off += 2 + len
    }
    if (frames.length > 0) this.#decryptFrames(st.receive, frames)
    // 3. the beginning of the next frame: keep a copy (the scratch buffer is free again)
    const rest = data.length - off
    if (rest === 1) {
      this.#lengthHigh = data[off]!
    } else if (rest >= 2) {
      const scratch = (this.#scratch ??= new Uint8Array(MAX_NOISE_MESSAGE))
      this.#partialLength = (data[off]! << 8) | data[off + 1]!
      scratch.set(data.subarray(off + 2), 0)
      this.#partialFill = rest - 2
    }
  }

  /** True while part of a transport frame is buffered. */
  #midFrame(): boolean {
    return this.#lengthHigh >= 0 || this.#partialLength >= 0
  }

  /**
   * One 'data' event per frame, holding the provider's output (fresh memory, so no copy: node:crypto
   * allocates its output anyway). Frames before a bad one were authentic and are delivered; nothing
   * of the bad one is.
   */
  #decryptFrames(receive: CipherState, frames: Uint8Array[]): void {
    for (const f of frames) {
      const plaintext = receive.decryptWithAd(EMPTY, f)
      if (plaintext.length > 0) this.#pushData(plaintext)
    }
  }

  #pushData(data: Uint8Array): void {
    this.#events.push({ type: 'data', data })
    this.#eventBytes += data.length
  }

  // ---- output blocks ----

  #queueFrame(message: Uint8Array): void {
    const block = this.#reserve(2 + message.length)
    block.buf[block.end] = message.length >>> 8
    block.buf[block.end + 1] = message.length & 0xff
    block.buf.set(message, block.end + 2)
    block.end += 2 + message.length
    this.#outLength += 2 + message.length
  }

  /** The tail block if it has `n` free bytes, else a new one on `#leftover` if that has room, else fresh. `small`:
   * room for a prefix or tag next to a detached ciphertext (a SMALL_BLOCK when fresh, never a burst block). */
  #reserve(n: number, small = false): OutBlock {
    const tail = this.#out[this.#out.length - 1]
    if (tail !== undefined && tail.buf.length - tail.end >= n) return tail
    const leftover = this.#leftover
    this.#leftover = undefined
    const fits = leftover !== undefined && leftover.length >= n
    const buf = fits ? leftover : new Uint8Array(Math.max(n, small || this.#out.length === 0 ? SMALL_BLOCK : BURST_BLOCK))
    const block: OutBlock = { buf, start: 0, end: 0, pieces: small || fits }
    this.#out.push(block)
    return block
  }

  /** Drop the sent head block; the last one's free end, if it held small pieces, becomes `#leftover`: a bulk
   * sender's queue empties every few frames, and a fresh 16 KiB block for each next prefix was ~4,100 allocations
   * (67 MB) per GiB sent (bench/README.md, "16 streams vs 1, session 8"). At most one SMALL_BLOCK's free end is kept. */
  #shiftHead(): void {
    const b = this.#out.shift()!
    const free = b.buf.length - b.end
    if (this.#out.length === 0 && b.pieces && free >= MIN_LEFTOVER && free > (this.#leftover?.length ?? 0)) this.#leftover = b.buf.subarray(b.end)
  }

  #appendPrefix(len: number): void {
    PREFIX[0] = len >>> 8
    PREFIX[1] = len & 0xff
    this.#appendSmall(PREFIX)
  }

  #appendSmall(bytes: Uint8Array): void {
    const block = this.#reserve(bytes.length, true)
    block.buf.set(bytes, block.end)
    block.end += bytes.length
    this.#outLength += bytes.length
  }

  /** A detached ciphertext (fresh memory from the provider) becomes a block of its own, sent as is. */
  #appendBody(body: Uint8Array): void {
    const tail = this.#out[this.#out.length - 1]
    if (tail !== undefined && tail.buf.length > tail.end) {
      // the tail's free room would be lost behind the body: keep it for the next small piece
      this.#leftover = tail.buf.subarray(tail.end)
      tail.buf = tail.buf.subarray(0, tail.end)
    }
    this.#out.push({ buf: body, start: 0, end: body.length, pieces: false })
    this.#outLength += body.length
  }
}
