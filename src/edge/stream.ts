/**
 * A negotiated stream as users see it: an it-pipe compatible duplex `{ source, sink }`.
 *
 * Backpressure runs end to end: bytes are released to the yamux receive window only when the
 * consumer pulls them from `source`, so a stream nobody reads stops the remote by its window; and
 * `sink` writes only what the muxer accepts, waiting for `writable` for the rest.
 */
import type { ConnectionInfo, StreamRef } from '../swarm/index.js'
import type { PeerId } from '../peer-id/index.js'
import { UsageError } from '../core/errors.js'
import { formatWireCode, resetReason, type ResetReasonCode } from '../core/close-codes.js'

export interface StreamControl {
  write(ref: StreamRef, data: Uint8Array): number
  closeWrite(ref: StreamRef): void
  reset(ref: StreamRef): void
  consume(ref: StreamRef, n: number): void
}

/**
 * The stream was reset: by the remote, by this side, or because its connection ended. When the
 * remote's RST carried a libp2p reset code (src/core/close-codes.ts; go-libp2p sends 0x1002 when a
 * protocol's resource limit is full), `wireCode` is that number and `reason` its typed name
 * ('reset/resource-limit-exceeded'; 'reset/unknown' for a number weft does not know).
 */
export class StreamResetError extends Error {
  override readonly name = 'StreamResetError'
  /** Always `'stream/reset'`. */
  readonly code = 'stream/reset'
  /** The libp2p reset code the remote's RST carried, if any. */
  readonly wireCode: number | undefined
  /** The typed name of `wireCode` (`'reset/unknown'` for a number weft does not know). */
  readonly reason: ResetReasonCode | undefined
  constructor(wireCode?: number) {
    super(wireCode === undefined
      ? 'stream/reset: the stream was reset'
      : `stream/reset: the remote reset the stream (code ${formatWireCode(wireCode)} ${resetReason(wireCode)})`)
    this.wireCode = wireCode
    this.reason = wireCode === undefined ? undefined : resetReason(wireCode)
  }
}

const EMPTY = new Uint8Array(0)

/**
 * A negotiated stream of a connection (a yamux stream whose protocol multistream-select agreed).
 * Read it with `for await (const chunk of stream.source)` (the bytes are yours; the loop ends at the
 * remote's FIN), write with `await stream.write(bytes)` (waits while the remote's window is full) or
 * `await stream.sink(iterable)`, half-close with `closeWrite()`, abort with `reset()`. A reset by the
 * remote makes reads and writes reject with `StreamResetError`.
 * @example
 * ```ts
 * const s = await node.newStream(peer, '/echo/1.0.0')
 * await s.write(new TextEncoder().encode('hello'))
 * s.closeWrite()
 * const reply = await readAll(s)
 * ```
 */
export class WeftStream {
  /** The stream's connection id and stream id in the swarm. */
  readonly ref: StreamRef
  /** The protocol negotiated for this stream. */
  readonly protocol: string
  /** `outbound` when we opened it, `inbound` when the remote did. */
  readonly direction: 'inbound' | 'outbound'
  /** The connection carrying this stream. */
  readonly connection: ConnectionInfo
  readonly #ctl: StreamControl
  #chunks: Uint8Array[] = []
  #eof = false
  #reset = false
  /** The remote's reset code, when its RST carried one. */
  #resetCode: number | undefined
  #closed = false
  #wake: (() => void) | undefined
  #writableWake: (() => void) | undefined
  /** A 'writable' came while no write was waiting (during the muxer write itself): do not wait. */
  #writableSeen = false
  #head = 0
  #writeClosed = false
  #sourceTaken = false
  #source: AsyncIterable<Uint8Array> | undefined

  /** @internal Streams are made by the node (`newStream`, `handle`). */
  constructor(ref: StreamRef, protocol: string, direction: 'inbound' | 'outbound', connection: ConnectionInfo, ctl: StreamControl) {
    this.ref = ref
    this.protocol = protocol
    this.direction = direction
    this.connection = connection
    this.#ctl = ctl
  }

  /** The peer at the other end. */
  get remotePeer(): PeerId {
    return this.connection.peer
  }

  /** True once the remote reset the stream or its connection died. */
  get isReset(): boolean {
    return this.#reset
  }

  // -- called by the node when swarm events arrive --
  /** @internal Called by the node: bytes arrived. */
  _data(data: Uint8Array): void {
    this.#chunks.push(data)
    this.#notify()
  }
  /** @internal Called by the node: the remote closed its write side. */
  _eof(): void {
    this.#eof = true
    this.#notify()
  }
  /** @internal Called by the node: the stream was reset. */
  _reset(code?: number): void {
    if (!this.#reset) this.#resetCode = code
    this.#reset = true
    this.#notify()
  }
  /** @internal Called by the node: the send window opened again. */
  _writable(): void {
    const w = this.#writableWake
    this.#writableWake = undefined
    if (w !== undefined) w()
    else this.#writableSeen = true
  }
  /** @internal Called by the node: the stream is fully closed. */
  _closed(): void {
    this.#closed = true
    if (!this.#eof) this.#eof = true
    this.#notify()
  }
  #notify(): void {
    const w = this.#wake
    this.#wake = undefined
    w?.()
    this._writable()
  }

  /**
   * The bytes the remote sends, in order, until it closes its write side. Throws StreamResetError on
   * reset. Reading `source` twice returns the same iterable (it-pipe reads it once to recognise a
   * duplex and again to use it); iterating it a second time is a TypeError.
   *
   * Ownership: each chunk is the caller's to keep; it may be a view of a larger buffer that weft no
   * longer touches (do not transfer its `.buffer`).
   */
  get source(): AsyncIterable<Uint8Array> {
    this.#source ??= { [Symbol.asyncIterator]: () => this.#iterate() }
    return this.#source
  }

  async *#iterate(): AsyncGenerator<Uint8Array> {
    if (this.#sourceTaken) throw new TypeError('stream source can be iterated only once')
    this.#sourceTaken = true
    for (;;) {
      if (this.#head < this.#chunks.length) {
        const c = this.#chunks[this.#head]!
        this.#chunks[this.#head++] = EMPTY
        // O(1) amortised per chunk however many are queued (a peer sending 1-byte frames queues many)
        if (this.#head === this.#chunks.length) {
          this.#chunks.length = 0
          this.#head = 0
        } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
          this.#chunks.splice(0, this.#head)
          this.#head = 0
        }
        this.#ctl.consume(this.ref, c.length)
        yield c
        continue
      }
      if (this.#reset) throw new StreamResetError(this.#resetCode)
      if (this.#eof) return
      await new Promise<void>((r) => { this.#wake = r })
    }
  }

  /** Write every chunk of `source`, then close our write side. */
  sink = async (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> => {
    try {
      for await (const chunk of source) await this.write(chunk)
    } catch (e) {
      // a source that fails mid-way must not look like a complete message to the remote
      this.reset()
      throw e
    }
    this.closeWrite()
  }

  /** Write one chunk, waiting while the remote's window is full. */
  async write(chunk: Uint8Array): Promise<void> {
    let off = 0
    while (off < chunk.length) {
      if (this.#reset) throw new StreamResetError(this.#resetCode)
      if (this.#writeClosed || this.#closed) throw new UsageError('stream/write-closed', 'write after close')
      this.#writableSeen = false
      const n = this.#ctl.write(this.ref, off === 0 ? chunk : chunk.subarray(off))
      off += n
      // the node may flush synchronously inside that write, and the muxer may give this stream its
      // turn right then: a 'writable' that came before we wait must not be lost
      if (off < chunk.length && !this.#writableSeen) await new Promise<void>((r) => { this.#writableWake = r })
    }
  }

  /** Half-close: the remote sees EOF, we can still read. */
  closeWrite(): void {
    if (this.#writeClosed) return
    this.#writeClosed = true
    if (!this.#reset && !this.#closed) this.#ctl.closeWrite(this.ref)
  }

  /** Abort both directions (RST). */
  reset(): void {
    if (this.#reset || this.#closed) return
    this.#reset = true
    this.#ctl.reset(this.ref)
    this.#notify()
  }

  /** Close our side and drain (discard) what the remote still sends. */
  async close(): Promise<void> {
    this.closeWrite()
    if (!this.#sourceTaken) for await (const _ of this.source) { /* drain */ }
  }
}

/**
 * Read a whole stream into one buffer, bounded: throws RangeError past `max` bytes (default 1 MiB).
 * Stops: a remote that streams forever into a handler that reads "the whole message" (with
 * maxInboundStreams 32 the default bounds one connection's handlers to 32 MiB). Pass a larger `max`
 * for protocols whose messages are larger.
 */
export async function readAll(source: AsyncIterable<Uint8Array>, max = 1024 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let n = 0
  for await (const c of source) {
    n += c.length
    if (n > max) throw new RangeError(`stream longer than ${max} bytes`)
    parts.push(c)
  }
  const out = new Uint8Array(n)
  let off = 0
  for (const p of parts) { out.set(p, off); off += p.length }
  return out
}
