/**
 * TLS 1.3 over a byte stream (RFC 8446 §5): a sans-IO ByteMachine that runs a TlsHandshake through
 * the record layer, then carries application data, so /tls/1.0.0 over TCP sits where Noise sits.
 *
 * - Handshake bytes: plaintext records until the handshake traffic keys, protected records after;
 *   the secrets come from the handshake core's events, installed record by record.
 * - Middlebox compatibility (RFC 8446 Appendix D.4): the client sends a 32-byte legacy_session_id
 *   and one ChangeCipherSpec before its second flight; the server one after its first message. A
 *   peer's ChangeCipherSpec (exactly 0x01, before the handshake completes) is dropped.
 * - Post-handshake: KeyUpdate is answered (RFC 8446 §4.6.3) and our own keys are updated every
 *   `keyUpdateAfter` records; NewSessionTicket is dropped (no resumption).
 * - Alerts: close_notify is the 'eof' event; any other alert from the peer is
 *   TlsError('tls/alert-received'). Our own fault (a TlsError, or the caller's verifyPeer throwing)
 *   queues the matching fatal alert in pollTransmit, then handleData throws.
 */
import type { ByteMachine, Millis } from '../core/byte-machine.js'
import type { TlsCrypto } from '../core/crypto/tls.js'
import { UsageError } from '../core/errors.js'
import { EventQueue } from '../core/event-queue.js'
import { Alert, alertFor, TlsError, tlsError } from './errors.js'
import { TlsHandshake } from './handshake.js'
import { nextTrafficSecret } from './key-schedule.js'
import { decodeHandshakeBody, encodeHandshake, HandshakeType } from './messages.js'
import { ByteQueue } from './wire.js'
import { ContentType, encodeRecord, MAX_CIPHERTEXT, MAX_PLAINTEXT, RECORD_HEADER, RecordProtection } from './record.js'
import type { TlsHandshakeOptions, TlsLevel } from './types.js'

/** Default for `maxBufferedData`: decrypted bytes waiting in pollEvent() before wantsData() turns false (a slow reader must not let a fast sender grow memory). */
export const DEFAULT_MAX_BUFFERED_DATA = 4 * 1024 * 1024
/** Default for `maxEmptyRecords`: consecutive records that deliver nothing (empty, ChangeCipherSpec, tickets, key updates): a CPU flood. */
export const DEFAULT_MAX_EMPTY_RECORDS = 32
/** Default for `keyUpdateAfter`: records sealed under one key before we update it (RFC 8446 §5.5; AES-GCM's limit is 2^24.5 full records). */
export const DEFAULT_KEY_UPDATE_AFTER = 2 ** 24

/** Options of `TlsSession`: the handshake's, minus the QUIC-only ones, plus the record layer's limits. */
export interface TlsSessionOptions extends Omit<TlsHandshakeOptions, 'quicTransportParameters' | 'middleboxCompat'> {
  /** Undelivered decrypted bytes beyond which wantsData() is false (default 4 MiB). */
  maxBufferedData?: number
  /** Consecutive records that carry nothing before 'tls/too-many-empty-records' (default 32). */
  maxEmptyRecords?: number
  /** Records sealed under one application key before we send a KeyUpdate (default 2^24). */
  keyUpdateAfter?: number
  // keylog (TlsHandshakeOptions): each traffic secret with its NSS label and the ClientHello's random (Wireshark decrypts the records with them)
}

/** Events of `TlsSession`. `eof.closeNotify` is false when the transport ended without the peer's close_notify (a truncation the application must judge). */
export type TlsSessionEvent =
  | { type: 'handshake-complete'; alpn: string | undefined; peerChain: Uint8Array[]; cipherSuite: number }
  | { type: 'data'; data: Uint8Array }
  | { type: 'eof'; closeNotify: boolean }

const EMPTY = new Uint8Array(0)

type Phase = 'handshake' | 'established' | 'closed' | 'failed'

/** TLS 1.3 over a byte stream as a sans-IO ByteMachine (see the file header). */
export class TlsSession implements ByteMachine<TlsSessionEvent> {
  readonly #hs: TlsHandshake
  readonly #crypto: TlsCrypto
  readonly #role: 'client' | 'server'
  readonly #maxBufferedData: number
  readonly #maxEmptyRecords: number
  readonly #keyUpdateAfter: number
  #phase: Phase = 'handshake'
  readonly #in = new ByteQueue()
  #out: Uint8Array[] = []
  #outHead = 0
  #outBytes = 0
  /** O(1) poll: one read of tiny records can queue thousands of 'data' events. */
  readonly #events = new EventQueue<TlsSessionEvent>()
  #eventBytes = 0
  #read: RecordProtection | undefined
  readonly #write = new Map<TlsLevel, RecordProtection>()
  #readLevel: TlsLevel = 'initial'
  #ccsSent = false
  #initialSent = 0
  #empty = 0
  /** Post-handshake handshake bytes not yet forming a whole message. */
  readonly #post = new ByteQueue()
  #remoteClosed = false
  #localClosed = false
  #alpn: string | undefined
  #peerChain: Uint8Array[] = []

  constructor(options: TlsSessionOptions) {
    this.#role = options.role
    this.#crypto = options.crypto
    this.#maxBufferedData = options.maxBufferedData ?? DEFAULT_MAX_BUFFERED_DATA
    this.#maxEmptyRecords = options.maxEmptyRecords ?? DEFAULT_MAX_EMPTY_RECORDS
    this.#keyUpdateAfter = options.keyUpdateAfter ?? DEFAULT_KEY_UPDATE_AFTER
    if (!(this.#maxBufferedData > 0) || !(this.#maxEmptyRecords >= 1) || !(this.#keyUpdateAfter >= 1)) throw new RangeError('maxBufferedData, maxEmptyRecords and keyUpdateAfter must be positive')
    this.#hs = new TlsHandshake({ ...options, middleboxCompat: options.role === 'client' })
    this.#drainHandshake()
  }

  /** True once the handshake is complete and the session carries application data. */
  get isEstablished(): boolean {
    return this.#phase === 'established'
  }

  /** The negotiated ALPN protocol, once established. */
  get alpn(): string | undefined {
    return this.#alpn
  }

  /** The peer's certificate chain as verifyPeer accepted it, once established. */
  get peerChain(): Uint8Array[] {
    return this.#peerChain
  }

  /** Bytes waiting in pollTransmit. */
  get bufferedAmount(): number {
    return this.#outBytes
  }

  handleData(_now: Millis, data: Uint8Array): void {
    if (this.#phase === 'failed') throw new UsageError('tls/failed', 'handleData after the session failed')
    if (this.#remoteClosed) throw new UsageError('tls/eof', 'handleData after the peer closed')
    if (this.#localClosed && !this.#hs.isComplete) return // close() during the handshake aborted it: nothing more is read
    try {
      if (this.#in.length === 0) {
        // Fast path: whole records straight from the input; only a record's unfinished tail is copied
        const used = this.#records(data)
        if (used < data.length) {
          if (this.#remoteClosed) throw tlsError('tls/unexpected-message', 'records after close_notify')
          this.#in.push(data.subarray(used))
        }
        return
      }
      this.#in.push(data)
      this.#in.consume(this.#records(this.#in.view()))
      if (this.#remoteClosed && this.#in.length > 0) throw tlsError('tls/unexpected-message', 'records after close_notify')
    } catch (e) {
      this.#fail(e)
      throw e
    }
  }

  /** Handles the whole records at the start of `b` (read during the call only); returns the bytes they took. */
  #records(b: Uint8Array): number {
    let o = 0
    while (b.length - o >= RECORD_HEADER && !this.#remoteClosed) {
      const length = (b[o + 3]! << 8) | b[o + 4]!
      const max = this.#read === undefined ? MAX_PLAINTEXT : MAX_CIPHERTEXT
      if (length > max) throw tlsError('tls/record-overflow', `record of ${length} bytes > ${max}`)
      if (b.length - o < RECORD_HEADER + length) break
      this.#record(b.subarray(o, o + RECORD_HEADER), b.subarray(o + RECORD_HEADER, o + RECORD_HEADER + length))
      o += RECORD_HEADER + length
    }
    return o
  }

  handleEof(_now: Millis): void {
    if (this.#phase === 'failed' || this.#remoteClosed) return
    if (this.#phase === 'handshake' || this.#in.length > 0) {
      const e = tlsError('tls/unexpected-eof', this.#phase === 'handshake' ? 'the transport ended during the handshake' : 'the transport ended inside a record')
      this.#fail(e)
      throw e
    }
    this.#remoteClosed = true
    this.#events.push({ type: 'eof', closeNotify: false })
  }

  handleTimeout(_now: Millis): void {}

  pollTimeout(): Millis | undefined {
    return undefined
  }

  wantsData(): boolean {
    return this.#phase !== 'failed' && !this.#remoteClosed && this.#eventBytes < this.#maxBufferedData
  }

  pollTransmit(max: number): Uint8Array | undefined {
    if (!(max >= 1)) throw new RangeError('max must be at least 1')
    const first = this.#out[this.#outHead]
    if (first === undefined) return undefined
    if (first.length <= max) {
      // a moving head, not Array.shift (a memmove per record on a long queue)
      this.#out[this.#outHead++] = EMPTY
      if (this.#outHead === this.#out.length) {
        this.#out = []
        this.#outHead = 0
      }
      this.#outBytes -= first.length
      return first
    }
    this.#out[this.#outHead] = first.subarray(max)
    this.#outBytes -= max
    return first.subarray(0, max)
  }

  pollEvent(): TlsSessionEvent | undefined {
    const e = this.#events.poll()
    if (e?.type === 'data') this.#eventBytes -= e.data.length
    return e
  }

  /** Encrypts application data (split into records of at most 2^14 bytes). */
  write(data: Uint8Array): void {
    if (this.#phase === 'failed') throw new UsageError('tls/failed', 'write after the session failed')
    if (this.#phase !== 'established') throw new UsageError(this.#phase === 'closed' ? 'tls/closed' : 'tls/handshake-incomplete', 'write before the handshake completed or after close')
    for (let o = 0; o < data.length; o += MAX_PLAINTEXT) this.#sealApp(ContentType.application_data, data.subarray(o, Math.min(data.length, o + MAX_PLAINTEXT)))
  }

  /**
   * Sends close_notify: we write nothing more (the peer may still send until its own close_notify).
   * During the handshake it aborts it: later input is ignored.
   */
  close(): void {
    if (this.#localClosed || this.#phase === 'failed') return
    this.#localClosed = true
    this.#sendAlert(Alert.close_notify, 1)
    if (this.#phase === 'established' || this.#phase === 'handshake') this.#phase = 'closed'
  }

  /** Sends a KeyUpdate and switches our write key; `requestPeer` asks the peer to update theirs too. */
  updateKeys(requestPeer = false): void {
    if (this.#phase !== 'established') throw new UsageError(this.#phase === 'closed' ? 'tls/closed' : 'tls/handshake-incomplete', 'updateKeys before the handshake completed or after close')
    const w = this.#write.get('application')!
    this.#push(w.seal(ContentType.handshake, encodeHandshake({ type: 'key_update', updateRequested: requestPeer })))
    w.update(nextTrafficSecret(this.#crypto.base, w.secret))
  }

  // ---- internals ----------------------------------------------------------------------------------

  #push(bytes: Uint8Array): void {
    this.#out.push(bytes)
    this.#outBytes += bytes.length
  }

  #sealApp(type: number, content: Uint8Array): void {
    const w = this.#write.get('application')!
    if (w.sequence >= this.#keyUpdateAfter) this.updateKeys(false)
    this.#push(w.seal(type, content))
  }

  #record(header: Uint8Array, fragment: Uint8Array): void {
    const type = header[0]!
    if (type === ContentType.change_cipher_spec) {
      // RFC 8446 §5: dropped when it is exactly 0x01 and arrives before the peer's Finished
      if (fragment.length !== 1 || fragment[0] !== 1 || this.#phase !== 'handshake') throw tlsError('tls/unexpected-message', 'ChangeCipherSpec')
      return this.#nothing()
    }
    if (this.#read === undefined || (type === ContentType.alert && this.#phase === 'handshake' && fragment.length === 2)) {
      // plaintext: the ServerHello / ClientHello flight, or an alert from a peer that failed before it had our keys
      if (type === ContentType.alert) return this.#alert(fragment)
      if (type !== ContentType.handshake || this.#read !== undefined) throw tlsError('tls/unexpected-message', `plaintext record of type ${type}`)
      if (fragment.length === 0) throw tlsError('tls/unexpected-message', 'empty handshake record')
      return this.#handshakeBytes(fragment)
    }
    if (type !== ContentType.application_data) throw tlsError('tls/unexpected-message', `protected record with outer type ${type}`)
    const inner = this.#read.open(header, fragment)
    switch (inner.type) {
      case ContentType.handshake:
        if (inner.fragment.length === 0) throw tlsError('tls/unexpected-message', 'empty handshake record')
        return this.#phase === 'handshake' ? this.#handshakeBytes(inner.fragment) : this.#postHandshake(inner.fragment)
      case ContentType.alert:
        return this.#alert(inner.fragment)
      case ContentType.application_data:
        if (this.#phase === 'handshake') throw tlsError('tls/unexpected-message', 'application data before the handshake completed')
        if (inner.fragment.length === 0) return this.#nothing()
        this.#empty = 0
        // the plaintext is fresh memory (TlsCrypto's contract): ours to hand out without a copy
        this.#events.push({ type: 'data', data: inner.fragment })
        this.#eventBytes += inner.fragment.length
        return
      default:
        throw tlsError('tls/unexpected-message', `protected record of inner type ${inner.type}`)
    }
  }

  #nothing(): void {
    if (++this.#empty > this.#maxEmptyRecords) throw tlsError('tls/too-many-empty-records', `${this.#empty} records in a row carried nothing`)
  }

  #alert(fragment: Uint8Array): void {
    if (fragment.length !== 2) throw tlsError('tls/decode-error', `alert of ${fragment.length} bytes`)
    const desc = fragment[1]!
    if (desc === Alert.close_notify) {
      this.#remoteClosed = true
      this.#events.push({ type: 'eof', closeNotify: true })
      return
    }
    if (desc === Alert.user_canceled) return this.#nothing()
    throw new TlsError('tls/alert-received', `the peer sent alert ${desc}`, { peerAlert: desc })
  }

  #handshakeBytes(bytes: Uint8Array): void {
    this.#empty = 0
    this.#hs.handleMessages(this.#readLevel, bytes)
    this.#drainHandshake()
  }

  /** Post-handshake messages: KeyUpdate here; NewSessionTicket to the core (which drops it); anything else is the core's error. */
  #postHandshake(bytes: Uint8Array): void {
    this.#nothing()
    this.#post.push(bytes)
    while (this.#post.length >= 4) {
      const buf = this.#post.view()
      const len = (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!
      if (len > MAX_PLAINTEXT) throw tlsError('tls/message-too-large', `post-handshake message of ${len} bytes`)
      if (buf.length < 4 + len) break
      const raw = buf.slice(0, 4 + len)
      this.#post.consume(4 + len)
      if (raw[0] === HandshakeType.key_update) {
        const m = decodeHandshakeBody(raw[0], raw.subarray(4))
        // RFC 8446 §5.1: a KeyUpdate must end its record (the next record is under the new key)
        if (this.#post.length > 0) throw tlsError('tls/unexpected-message', 'data after a KeyUpdate in the same record')
        this.#read!.update(nextTrafficSecret(this.#crypto.base, this.#read!.secret))
        if (m.type === 'key_update' && m.updateRequested && !this.#localClosed) this.updateKeys(false)
      } else {
        this.#hs.handleMessages('application', raw)
      }
    }
  }

  #drainHandshake(): void {
    for (let e = this.#hs.pollEvent(); e !== undefined; e = this.#hs.pollEvent()) {
      if (e.kind === 'secret') {
        const rp = new RecordProtection(this.#crypto, e.suite, e.secret)
        if (e.direction === 'write') this.#write.set(e.level, rp)
        else {
          this.#read = rp
          this.#readLevel = e.level
        }
      } else {
        this.#phase = this.#localClosed ? 'closed' : 'established'
        this.#alpn = e.alpn
        this.#peerChain = e.peerChain
        this.#events.push({ type: 'handshake-complete', alpn: e.alpn, peerChain: e.peerChain, cipherSuite: e.cipherSuite })
      }
    }
    for (let o = this.#hs.pollOutput(); o !== undefined; o = this.#hs.pollOutput()) {
      if (o.level === 'initial') {
        // the client's second ClientHello (after a HelloRetryRequest) is its second flight: the compatibility CCS goes first
        if (this.#role === 'client' && this.#initialSent > 0) this.#ccs()
        this.#initialSent++
        for (let i = 0; i < o.data.length; i += MAX_PLAINTEXT) this.#push(encodeRecord(ContentType.handshake, o.data.subarray(i, i + MAX_PLAINTEXT)))
        if (this.#role === 'server') this.#ccs()
        continue
      }
      if (this.#role === 'client') this.#ccs()
      const w = this.#write.get(o.level)!
      for (let i = 0; i < o.data.length; i += MAX_PLAINTEXT) this.#push(w.seal(ContentType.handshake, o.data.subarray(i, i + MAX_PLAINTEXT)))
    }
    // our last handshake record is out: the handshake write key has no further use
    if (this.#hs.isComplete) this.#write.delete('handshake')
  }

  /** One ChangeCipherSpec record, at most once per session (RFC 8446 Appendix D.4). */
  #ccs(): void {
    if (this.#ccsSent) return
    this.#ccsSent = true
    this.#push(encodeRecord(ContentType.change_cipher_spec, Uint8Array.of(1)))
  }

  #sendAlert(desc: number, level: 1 | 2): void {
    const fragment = Uint8Array.of(level, desc)
    const w = this.#write.get('application') ?? this.#write.get('handshake')
    this.#push(w === undefined ? encodeRecord(ContentType.alert, fragment) : w.seal(ContentType.alert, fragment))
  }

  #fail(e: unknown): void {
    if (this.#phase === 'failed') return
    const peerAlert = e instanceof TlsError && e.code === 'tls/alert-received'
    const alert = alertFor(e)
    if (!peerAlert && alert !== undefined && !this.#localClosed) this.#sendAlert(alert, 2)
    this.#phase = 'failed'
  }
}
