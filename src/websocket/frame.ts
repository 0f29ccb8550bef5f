/**
 * RFC 6455 §5 framing, sans IO: the frame header codec, word-wise masking (§5.3) and an incremental
 * decoder that checks every rule of §5.2-§5.5 a receiver must enforce and hands data payloads up as
 * they arrive (libp2p treats a WebSocket as a byte stream: message boundaries mean nothing, so no
 * message is ever reassembled; only its size is counted against the limit).
 *
 * The decoder unmasks IN PLACE: the caller hands it bytes it owns (the driver's read buffer) and gets
 * views of the same memory back. Spec note: spec/websocket.md.
 */
import { ProtocolError } from '../core/errors.js'

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const
export type Opcode = (typeof OPCODE)[keyof typeof OPCODE]

/** §5.5: a control frame's payload is at most 125 bytes (a fixed protocol limit, not an option). */
export const MAX_CONTROL_PAYLOAD = 125
/** §5.2: the longest frame header: 2 bytes, an 8-byte extended length, a 4-byte masking key. */
export const MAX_HEADER_BYTES = 14

export type WebSocketErrorCode =
  | 'websocket/reserved-bits' | 'websocket/bad-opcode' | 'websocket/fragmented-control' | 'websocket/control-too-large'
  | 'websocket/unmasked-frame' | 'websocket/masked-frame' | 'websocket/bad-length' | 'websocket/message-too-large'
  | 'websocket/unexpected-continuation' | 'websocket/expected-continuation' | 'websocket/text-message'
  | 'websocket/bad-close' | 'websocket/header-too-large' | 'websocket/bad-handshake'

export function wsError(code: WebSocketErrorCode, message?: string): ProtocolError<WebSocketErrorCode> {
  return new ProtocolError('websocket', code, message)
}

/** The status code (§7.4.1) a decoding error closes the connection with. */
export function closeCodeOf(code: string): number {
  if (code === 'websocket/message-too-large') return 1009
  if (code === 'websocket/text-message') return 1003
  return 1002
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1
/** Below this many whole words a Uint32Array view costs more than it saves. */
const WORD_THRESHOLD = 8

/**
 * XOR `data` in place with the 4-byte masking `key`, `data[0]` being byte number `phase` of the
 * payload (§5.3: payload byte i is XORed with key[i mod 4]). Word-wise: the unaligned head byte by
 * byte, then whole 32-bit words with the key rotated to that alignment and laid out in host byte
 * order, then the tail. Masking and unmasking are the same operation.
 */
export function mask(data: Uint8Array, key: Uint8Array, phase = 0): void {
  const n = data.length
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!
  const k = [k0, k1, k2, k3]
  let i = 0
  const head = Math.min(n, (4 - (data.byteOffset & 3)) & 3)
  for (; i < head; i++) data[i]! ^= k[(phase + i) & 3]!
  const words = (n - i) >>> 2
  if (words >= WORD_THRESHOLD) {
    const p = phase + i
    const b0 = k[p & 3]!, b1 = k[(p + 1) & 3]!, b2 = k[(p + 2) & 3]!, b3 = k[(p + 3) & 3]!
    const w = LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    const u32 = new Uint32Array(data.buffer, data.byteOffset + i, words)
    for (let j = 0; j < words; j++) u32[j]! ^= w
    i += words << 2
  }
  for (; i < n; i++) data[i]! ^= k[(phase + i) & 3]!
}

/** The bytes of a frame header (§5.2) for a payload of `length` bytes; `key` set = masked. */
export function frameHeaderLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0)
}

/** Writes a frame header into `out` at `at`; returns its length. `length` < 2^53 (a safe integer). */
export function writeFrameHeader(out: Uint8Array, at: number, fin: boolean, opcode: Opcode, length: number, key?: Uint8Array): number {
  let p = at
  out[p++] = (fin ? 0x80 : 0) | opcode
  const m = key === undefined ? 0 : 0x80
  if (length < 126) out[p++] = m | length
  else if (length < 0x10000) {
    out[p++] = m | 126
    out[p++] = length >>> 8
    out[p++] = length & 0xff
  } else {
    out[p++] = m | 127
    const hi = Math.floor(length / 2 ** 32), lo = length >>> 0
    out[p++] = 0; out[p++] = 0; out[p++] = hi >>> 8; out[p++] = hi & 0xff
    out[p++] = lo >>> 24; out[p++] = (lo >>> 16) & 0xff; out[p++] = (lo >>> 8) & 0xff; out[p++] = lo & 0xff
  }
  if (key !== undefined) {
    out.set(key.subarray(0, 4), p)
    p += 4
  }
  return p - at
}

/** One whole frame, payload copied (and masked when `key` is given): for control frames and tests. */
export function encodeFrame(opcode: Opcode, payload: Uint8Array, key?: Uint8Array, fin = true): Uint8Array {
  const h = frameHeaderLength(payload.length, key !== undefined)
  const out = new Uint8Array(h + payload.length)
  writeFrameHeader(out, 0, fin, opcode, payload.length, key)
  out.set(payload, h)
  if (key !== undefined) mask(out.subarray(h), key)
  return out
}

/** A decoded frame header. */
export interface FrameHeader {
  fin: boolean
  opcode: Opcode
  length: number
  key: Uint8Array | undefined
}

/** What the decoder reports besides data: a complete control frame (payload unmasked, a copy). */
export interface ControlFrame {
  opcode: typeof OPCODE.close | typeof OPCODE.ping | typeof OPCODE.pong
  payload: Uint8Array
}

export interface DecoderOptions {
  /** true: this end is the server, so every frame must be masked (§5.1); false: none may be. */
  server: boolean
  /** Largest data message (the sum of its frames' payloads); more is 'websocket/message-too-large'. */
  maxMessageBytes: number
}

const HEADER = 0
const PAYLOAD = 1

/**
 * Incremental frame decoder. push() accepts bytes in any split; data payload bytes go to `onData`
 * as views of the input (unmasked in place), control frames to `onControl` once whole. Every
 * violation throws ProtocolError('websocket', ...) before any byte of the offending frame's payload
 * is delivered; after a throw or a close frame the decoder accepts nothing more.
 */
export class FrameDecoder {
  readonly #server: boolean
  readonly #max: number
  readonly #hdr = new Uint8Array(MAX_HEADER_BYTES)
  #hdrLen = 0
  #state = HEADER
  #frame: FrameHeader | undefined
  /** Payload bytes of the current frame not yet seen, and how many were (the masking phase). */
  #remaining = 0
  #seen = 0
  /** The current control frame's payload, filled as it arrives. */
  #control: Uint8Array | undefined
  /** A data message is in progress (its last frame had FIN clear); its size so far. */
  #inMessage = false
  #messageBytes = 0
  #done = false

  constructor(options: DecoderOptions) {
    this.#server = options.server
    this.#max = options.maxMessageBytes
  }

  /** true once a close frame or an error ended decoding. */
  get done(): boolean {
    return this.#done
  }

  push(input: Uint8Array, onData: (bytes: Uint8Array) => void, onControl: (frame: ControlFrame) => void): void {
    let at = 0
    const n = input.length
    while (at < n && !this.#done) {
      if (this.#state === HEADER) {
        const need = this.#headerNeed()
        const take = Math.min(need - this.#hdrLen, n - at)
        this.#hdr.set(input.subarray(at, at + take), this.#hdrLen)
        this.#hdrLen += take
        at += take
        if (this.#hdrLen < this.#headerNeed()) continue
        this.#startFrame()
        if (this.#remaining === 0) this.#endFrame(onControl)
        continue
      }
      const take = Math.min(this.#remaining, n - at)
      const chunk = input.subarray(at, at + take)
      at += take
      const f = this.#frame!
      if (f.key !== undefined) mask(chunk, f.key, this.#seen & 3)
      if (this.#control !== undefined) this.#control.set(chunk, this.#seen)
      else if (take > 0) onData(chunk)
      this.#seen += take
      this.#remaining -= take
      if (this.#remaining === 0) this.#endFrame(onControl)
    }
  }

  /** Header bytes needed given what is known so far (2, then the extended length and the key). */
  #headerNeed(): number {
    if (this.#hdrLen < 2) return 2
    const b1 = this.#hdr[1]!
    const len7 = b1 & 0x7f
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0)
  }

  #fail(code: WebSocketErrorCode, message: string): never {
    this.#done = true
    throw wsError(code, message)
  }

  #startFrame(): void {
    const h = this.#hdr
    const b0 = h[0]!, b1 = h[1]!
    const fin = (b0 & 0x80) !== 0
    const opcode = b0 & 0x0f
    if ((b0 & 0x70) !== 0) this.#fail('websocket/reserved-bits', `reserved bits ${(b0 >> 4) & 7} set without an extension`)
    const masked = (b1 & 0x80) !== 0
    if (this.#server && !masked) this.#fail('websocket/unmasked-frame', 'a client sent an unmasked frame')
    if (!this.#server && masked) this.#fail('websocket/masked-frame', 'a server sent a masked frame')
    let p = 2
    let length = b1 & 0x7f
    if (length === 126) {
      length = (h[2]! << 8) | h[3]!
      p = 4
    } else if (length === 127) {
      if (h[2]! & 0x80) this.#fail('websocket/bad-length', 'the most significant bit of a 64-bit length is set')
      const hi = ((h[2]! << 24) | (h[3]! << 16) | (h[4]! << 8) | h[5]!) >>> 0
      const lo = ((h[6]! << 24) | (h[7]! << 16) | (h[8]! << 8) | h[9]!) >>> 0
      length = hi * 2 ** 32 + lo // beyond 2^53 it is imprecise, but far past any limit: rejected below
      p = 10
    }
    const key = masked ? h.slice(p, p + 4) : undefined
    if (opcode >= 0x8) {
      if (opcode !== OPCODE.close && opcode !== OPCODE.ping && opcode !== OPCODE.pong) this.#fail('websocket/bad-opcode', `reserved control opcode ${opcode}`)
      if (!fin) this.#fail('websocket/fragmented-control', `control frame ${opcode} without FIN`)
      if (length > MAX_CONTROL_PAYLOAD) this.#fail('websocket/control-too-large', `control frame of ${length} bytes`)
      this.#control = new Uint8Array(length)
    } else {
      if (opcode === OPCODE.text) this.#fail('websocket/text-message', 'a text message: libp2p carries binary messages only')
      if (opcode !== OPCODE.binary && opcode !== OPCODE.continuation) this.#fail('websocket/bad-opcode', `reserved data opcode ${opcode}`)
      if (opcode === OPCODE.continuation && !this.#inMessage) this.#fail('websocket/unexpected-continuation', 'a continuation frame outside a message')
      if (opcode !== OPCODE.continuation && this.#inMessage) this.#fail('websocket/expected-continuation', 'a new message before the last one ended')
      if (opcode === OPCODE.binary) this.#messageBytes = 0
      if (length > this.#max - this.#messageBytes) this.#fail('websocket/message-too-large', `a message of more than ${this.#max} bytes`)
      this.#messageBytes += length
      this.#inMessage = !fin
      this.#control = undefined
    }
    this.#frame = { fin, opcode: opcode as Opcode, length, key }
    this.#remaining = length
    this.#seen = 0
    this.#state = PAYLOAD
  }

  #endFrame(onControl: (frame: ControlFrame) => void): void {
    const f = this.#frame!
    const control = this.#control
    this.#state = HEADER
    this.#hdrLen = 0
    this.#frame = undefined
    this.#control = undefined
    if (control === undefined) return
    if (f.opcode === OPCODE.close) {
      this.#done = true
      if (control.length === 1) throw wsError('websocket/bad-close', 'a close frame with a 1-byte payload')
      if (control.length >= 2 && !validCloseCode((control[0]! << 8) | control[1]!)) throw wsError('websocket/bad-close', `close status ${(control[0]! << 8) | control[1]!}`)
      if (control.length > 2 && !validUtf8(control.subarray(2))) throw wsError('websocket/bad-close', 'a close reason that is not UTF-8')
    }
    onControl({ opcode: f.opcode as ControlFrame['opcode'], payload: control })
  }
}

/** §7.4: the status codes a close frame may carry (1005, 1006, 1015 and unassigned ones may not). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })
function validUtf8(b: Uint8Array): boolean {
  try {
    strictUtf8.decode(b)
    return true
  } catch {
    return false
  }
}
