/**
 * A negotiated stream as users see it: an it-pipe compatible duplex `{ source, sink }`.
 *
 * Backpressure runs end to end: bytes are released to the yamux receive window only when the
 * consumer pulls them from `source`, so a stream nobody reads stops the remote by its window; and
 * `sink` writes only what the muxer accepts, waiting for `writable` for the rest.
 */
import type { ConnectionInfo, StreamRef } from '../swarm/index.js'
import type { PeerId } from '../peer-id/index.js'

export interface StreamControl {
  write(ref: StreamRef, data: Uint8Array): number
  closeWrite(ref: StreamRef): void
  reset(ref: StreamRef): void
  consume(ref: StreamRef, n: number): void
}

export class StreamResetError extends Error {
  override readonly name = 'StreamResetError'
  readonly code = 'stream/reset'
  constructor() {
    super('stream/reset: the stream was reset')
  }
}

export class WeftStream {
  readonly ref: StreamRef
  readonly protocol: string
  readonly direction: 'inbound' | 'outbound'
  readonly connection: ConnectionInfo
  readonly #ctl: StreamControl
  #chunks: Uint8Array[] = []
  #eof = false
  #reset = false
  #closed = false
  #wake: (() => void) | undefined
  #writableWake: (() => void) | undefined
  #writeClosed = false
  #sourceTaken = false

  constructor(ref: StreamRef, protocol: string, direction: 'inbound' | 'outbound', connection: ConnectionInfo, ctl: StreamControl) {
    this.ref = ref
    this.protocol = protocol
    this.direction = direction
    this.connection = connection
    this.#ctl = ctl
  }

  get remotePeer(): PeerId {
    return this.connection.peer
  }

  /** True once the remote reset the stream or its connection died. */
  get isReset(): boolean {
    return this.#reset
  }

  // -- called by the node when swarm events arrive --
  _data(data: Uint8Array): void {
    this.#chunks.push(data)
    this.#notify()
  }
  _eof(): void {
    this.#eof = true
    this.#notify()
  }
  _reset(): void {
    this.#reset = true
    this.#notify()
  }
  _writable(): void {
    const w = this.#writableWake
    this.#writableWake = undefined
    w?.()
  }
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

  /** The bytes the remote sends, in order, until it closes its write side. Throws StreamResetError on reset. */
  get source(): AsyncIterable<Uint8Array> {
    if (this.#sourceTaken) throw new TypeError('stream source can be read only once')
    this.#sourceTaken = true
    const self = this
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const c = self.#chunks.shift()
          if (c !== undefined) {
            self.#ctl.consume(self.ref, c.length)
            yield c
            continue
          }
          if (self.#reset) throw new StreamResetError()
          if (self.#eof) return
          await new Promise<void>((r) => { self.#wake = r })
        }
      },
    }
  }

  /** Write every chunk of `source`, then close our write side. */
  sink = async (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> => {
    for await (const chunk of source) await this.write(chunk)
    this.closeWrite()
  }

  /** Write one chunk, waiting while the remote's window is full. */
  async write(chunk: Uint8Array): Promise<void> {
    let off = 0
    while (off < chunk.length) {
      if (this.#reset) throw new StreamResetError()
      if (this.#writeClosed || this.#closed) throw new TypeError('stream/write-closed: write after close')
      const n = this.#ctl.write(this.ref, off === 0 ? chunk : chunk.subarray(off))
      off += n
      if (off < chunk.length) await new Promise<void>((r) => { this.#writableWake = r })
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

/** Read a whole stream into one buffer (bounded: throws RangeError past `max` bytes). */
export async function readAll(source: AsyncIterable<Uint8Array>, max = 64 * 1024 * 1024): Promise<Uint8Array> {
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
