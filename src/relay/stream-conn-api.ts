/**
 * A relayed connection's transport: a RawConnection (the contract of src/io/transport.ts, restated
 * structurally here because a protocol module may not import io) over a stream of the node, the
 * hop stream (dialer) or the stop stream (listener) once its STATUS OK has been exchanged. The
 * runtime then runs a whole connection (multistream-select, Noise, yamux) inside that stream.
 *
 * - Reads pull from the stream's source, so `pause()` leaves bytes in the relay connection's yamux
 *   window and the relay (and the far peer) feel the backpressure; a chunk that arrives while
 *   paused waits for `resume()`.
 * - Writes queue and go out in order through the stream (which waits for the yamux window);
 *   `write` returns false past `highWaterMark` queued bytes and `onDrain` follows when they left.
 * - `close()` half-closes the stream after the queued writes; `destroy()` resets it. `onClose`
 *   fires once: after EOF in both directions, on a reset (the relay's limits reset circuits), or
 *   after destroy.
 * Nothing here runs inside the runtime's own call stack: deliveries and writes start from
 * microtasks, so the connection inside never re-enters the swarm while it drives the relay
 * connection that carries it.
 */
import type { Multiaddr } from '../multiaddr/index.js'

/** The RawConnection contract of src/io/transport.ts (structural copy). */
export interface RawHandlersLike {
  onData(data: Uint8Array): void
  onEnd(): void
  onClose(error?: Error): void
  onDrain(): void
}

export interface RawConnectionLike {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  start(handlers: RawHandlersLike): void
  write(data: Uint8Array): boolean
  pause(): void
  resume(): void
  close(): void
  destroy(error?: Error): void
}

/** What the adapter needs of a node stream (WeftStream has it). */
export interface ByteStream {
  write(chunk: Uint8Array): Promise<void>
  closeWrite(): void
  reset(): void
}

/** Queued bytes past which `write` reports the connection full. */
const HIGH_WATER_MARK = 256 * 1024

export class StreamRawConnection implements RawConnectionLike {
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly #stream: ByteStream
  readonly #source: AsyncIterator<Uint8Array>
  #h: RawHandlersLike | undefined
  /** A chunk read while paused (or the bytes that followed the STATUS), delivered on resume. */
  #held: Uint8Array | undefined
  #paused = false
  #reading = false
  #eof = false
  #queue: Uint8Array[] = []
  #queued = 0
  #writing = false
  #full = false
  #closeRequested = false
  #writeClosed = false
  #closed = false

  constructor(stream: ByteStream, source: AsyncIterator<Uint8Array>, remainder: Uint8Array, remoteAddr: Multiaddr, localAddr: Multiaddr | undefined) {
    this.#stream = stream
    this.#source = source
    this.remoteAddr = remoteAddr
    this.localAddr = localAddr
    if (remainder.length > 0) this.#held = remainder
  }

  start(handlers: RawHandlersLike): void {
    if (this.#h !== undefined) return
    this.#h = handlers
    if (this.#closed) queueMicrotask(() => handlers.onClose())
    else queueMicrotask(() => void this.#read())
  }

  async #read(): Promise<void> {
    if (this.#reading) return
    this.#reading = true
    try {
      while (!this.#closed && !this.#paused) {
        if (this.#held !== undefined) {
          const c = this.#held
          this.#held = undefined
          this.#h!.onData(c)
          continue
        }
        if (this.#eof) return
        const r = await this.#source.next()
        if (this.#closed) return
        if (r.done === true) {
          this.#eof = true
          this.#h!.onEnd()
          this.#maybeClosed()
          return
        }
        if (this.#paused) this.#held = r.value
        else this.#h!.onData(r.value)
      }
    } catch (e) {
      this.#finish(e instanceof Error ? e : new Error(String(e)))
    } finally {
      this.#reading = false
    }
  }

  write(data: Uint8Array): boolean {
    if (this.#closed || this.#closeRequested) return true
    this.#queue.push(data)
    this.#queued += data.length
    if (!this.#writing) {
      this.#writing = true
      queueMicrotask(() => void this.#writeLoop())
    }
    if (this.#queued >= HIGH_WATER_MARK) this.#full = true
    return !this.#full
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const c = this.#queue.shift()!
        await this.#stream.write(c)
        this.#queued -= c.length
      }
    } catch (e) {
      this.#stream.reset()
      this.#finish(e instanceof Error ? e : new Error(String(e)))
      return
    } finally {
      this.#writing = false
    }
    if (this.#closed) return
    if (this.#closeRequested) return this.#closeWrite()
    if (this.#full) {
      this.#full = false
      this.#h?.onDrain()
    }
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    if (this.#h !== undefined) void this.#read()
  }

  close(): void {
    if (this.#closed || this.#closeRequested) return
    this.#closeRequested = true
    if (!this.#writing) this.#closeWrite()
  }

  #closeWrite(): void {
    if (this.#writeClosed) return
    this.#writeClosed = true
    this.#stream.closeWrite()
    this.#maybeClosed()
  }

  destroy(error?: Error): void {
    if (this.#closed) return
    this.#stream.reset()
    this.#finish(error)
  }

  #maybeClosed(): void {
    if (this.#eof && this.#writeClosed) this.#finish(undefined)
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#queue = []
    const h = this.#h
    if (h !== undefined) queueMicrotask(() => h.onClose(error))
  }
}
