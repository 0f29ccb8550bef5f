/**
 * One end of an open WebSocket (RFC 6455 §5-§7), sans IO: data frames out, payload bytes in, and
 * the control frames handled here (ping is answered with pong, §5.5.2; a close is echoed, §5.5.1).
 * The driver moves the bytes: it feeds receive(), sends what takeOutput() and frameData() return.
 */
import { UsageError } from '../core/errors.js'
import { FrameDecoder, OPCODE, closeCodeOf, encodeFrame, frameHeaderLength, mask, writeFrameHeader, type ControlFrame } from './frame.js'
import { ProtocolError } from '../core/errors.js'

export interface EndpointOptions {
  /** This end is the server: it receives masked frames and sends unmasked ones (§5.1). */
  server: boolean
  /** Largest data message received (see FrameDecoder). */
  maxMessageBytes: number
  /**
   * Fresh bytes from a CSPRNG (the CryptoProvider's randomBytes), for a client's masking keys: a
   * fresh unpredictable key per frame (§5.3; the masking stops cache poisoning of intermediaries,
   * which only works when a script cannot predict the key). Unused by a server.
   */
  randomBytes?: (n: number) => Uint8Array
  /** Largest data frame sent (default 256 KiB); a larger write is sent as several messages. */
  maxFrameBytes?: number
}

/** Default largest frame sent: one transmit chunk of the runtime, a quarter of the default receive limit. */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024
/** Masking keys drawn from the random source at a time (4 bytes each). */
const KEY_POOL = 64

export class WebSocketEndpoint {
  readonly #server: boolean
  readonly #decoder: FrameDecoder
  readonly #random: ((n: number) => Uint8Array) | undefined
  readonly #maxFrame: number
  #keys: Uint8Array = new Uint8Array(0)
  #keyAt = 0
  #output: Uint8Array[] = []
  #closeSent = false
  #remoteClose: { code: number | undefined; reason: Uint8Array } | undefined

  constructor(options: EndpointOptions) {
    this.#server = options.server
    this.#decoder = new FrameDecoder({ server: options.server, maxMessageBytes: options.maxMessageBytes })
    this.#random = options.randomBytes
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!this.#server && this.#random === undefined) throw new TypeError('a client WebSocketEndpoint needs randomBytes for its masking keys')
    if (!Number.isSafeInteger(this.#maxFrame) || this.#maxFrame < 1) throw new RangeError('maxFrameBytes must be a positive integer')
  }

  /** We sent a close frame: no data may follow (§5.5.1). */
  get closeSent(): boolean {
    return this.#closeSent
  }

  /** The remote's close frame, once received: its status code (undefined when it had none). */
  get remoteClose(): { code: number | undefined; reason: Uint8Array } | undefined {
    return this.#remoteClose
  }

  /**
   * Bytes from the remote, in any split. `input` is unmasked IN PLACE (the caller owns it) and data
   * payload bytes go to `onData` as views of it. A protocol violation queues a close frame with the
   * matching status (1002, 1003 or 1009) and throws the ProtocolError; bytes after the remote's close
   * frame are ignored.
   */
  receive(input: Uint8Array, onData: (bytes: Uint8Array) => void): void {
    if (this.#decoder.done) return
    try {
      this.#decoder.push(input, onData, (f) => this.#control(f))
    } catch (e) {
      if (e instanceof ProtocolError) this.close(closeCodeOf(e.code))
      throw e
    }
  }

  #control(f: ControlFrame): void {
    if (f.opcode === OPCODE.ping) {
      if (!this.#closeSent) this.#output.push(this.#controlFrame(OPCODE.pong, f.payload))
    } else if (f.opcode === OPCODE.close) {
      const code = f.payload.length >= 2 ? (f.payload[0]! << 8) | f.payload[1]! : undefined
      this.#remoteClose = { code, reason: f.payload.subarray(2) }
      // §5.5.1: echo the status code received (none when the remote sent none)
      if (!this.#closeSent) {
        this.#closeSent = true
        this.#output.push(this.#controlFrame(OPCODE.close, f.payload.subarray(0, code === undefined ? 0 : 2)))
      }
    }
    // pong: unsolicited or not, nothing to do (§5.5.3)
  }

  /** Queue a close frame with `code` (once; later calls do nothing). */
  close(code = 1000): void {
    if (this.#closeSent) return
    this.#closeSent = true
    this.#output.push(this.#controlFrame(OPCODE.close, Uint8Array.of(code >>> 8, code & 0xff)))
  }

  /** Queue a ping (the driver may use it as a keep-alive). */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (payload.length > 125) throw new RangeError('a ping payload is at most 125 bytes')
    if (!this.#closeSent) this.#output.push(this.#controlFrame(OPCODE.ping, payload))
  }

  /** Control frames waiting to be sent (pong, close), oldest first; empties the queue. */
  takeOutput(): Uint8Array[] {
    if (this.#output.length === 0) return []
    const out = this.#output
    this.#output = []
    return out
  }

  /**
   * `pieces` (`length` bytes in all) as binary frames, each FIN (one message per frame: the bytes are
   * a stream), at most maxFrameBytes each. A server's frames reference the pieces (a small header
   * buffer before each run of them); a client's are fresh buffers, header and masked payload, so
   * the caller's bytes are never written. After a close frame was sent nothing may follow: a
   * UsageError.
   */
  frameData(pieces: readonly Uint8Array[], length = sumLengths(pieces)): Uint8Array[] {
    if (this.#closeSent) throw new UsageError('websocket/closed', 'data after the close frame')
    const out: Uint8Array[] = []
    let piece = 0
    let offset = 0
    for (let left = length; left > 0;) {
      const size = Math.min(left, this.#maxFrame)
      left -= size
      if (this.#server) {
        const header = new Uint8Array(frameHeaderLength(size, false))
        writeFrameHeader(header, 0, true, OPCODE.binary, size)
        out.push(header)
        for (let need = size; need > 0;) {
          const p = pieces[piece]!
          const take = Math.min(need, p.length - offset)
          if (take > 0) out.push(offset === 0 && take === p.length ? p : p.subarray(offset, offset + take))
          need -= take
          offset += take
          if (offset === p.length) { piece++; offset = 0 }
        }
      } else {
        const key = this.#nextKey()
        const h = frameHeaderLength(size, true)
        const frame = new Uint8Array(h + size)
        writeFrameHeader(frame, 0, true, OPCODE.binary, size, key)
        for (let at = h, need = size; need > 0;) {
          const p = pieces[piece]!
          const take = Math.min(need, p.length - offset)
          frame.set(offset === 0 && take === p.length ? p : p.subarray(offset, offset + take), at)
          at += take
          need -= take
          offset += take
          if (offset === p.length) { piece++; offset = 0 }
        }
        mask(frame.subarray(h), key)
        out.push(frame)
      }
      while (piece < pieces.length && pieces[piece]!.length === 0) piece++
    }
    return out
  }

  #controlFrame(opcode: typeof OPCODE.close | typeof OPCODE.ping | typeof OPCODE.pong, payload: Uint8Array): Uint8Array {
    return encodeFrame(opcode, payload, this.#server ? undefined : this.#nextKey())
  }

  /** A fresh 4-byte masking key (a view of a pool drawn from the random source, never reused). */
  #nextKey(): Uint8Array {
    if (this.#keyAt === this.#keys.length) {
      this.#keys = this.#random!(KEY_POOL * 4)
      this.#keyAt = 0
    }
    const key = this.#keys.subarray(this.#keyAt, this.#keyAt + 4)
    this.#keyAt += 4
    return key
  }
}

function sumLengths(pieces: readonly Uint8Array[]): number {
  let n = 0
  for (const p of pieces) n += p.length
  return n
}
