/**
 * What the offline decoder (offline.ts) and the QUIC trace decoder (quic.ts) share: multistream-select
 * seen from outside (both sides' bytes, spec/multistream.md), and a stream's pipeline: its
 * negotiation, then the protocol's decoder (src/trace/decode) giving `message` events, whatever
 * carries the stream (a yamux stream, a QUIC stream).
 */
import { varint } from '../core/index.js'
import { DEFAULT_MAX_MESSAGE_LENGTH } from '../multistream/index.js'
import type { DecodedMessage, DecoderFactory, Direction, StreamDecoder, TraceBody } from '../core/trace.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A byte queue: push chunks, take exact lengths. */
export class Bytes {
  #parts: Uint8Array[] = []
  length = 0
  push(b: Uint8Array): void {
    if (b.length === 0) return
    this.#parts.push(b)
    this.length += b.length
  }
  peek(n: number): Uint8Array {
    return this.#copy(n, false)
  }
  take(n: number): Uint8Array {
    return this.#copy(n, true)
  }
  takeAll(): Uint8Array {
    return this.take(this.length)
  }
  #copy(n: number, consume: boolean): Uint8Array {
    const first = this.#parts[0]
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n)
      if (consume) {
        if (first.length === n) this.#parts.shift()
        else this.#parts[0] = first.subarray(n)
        this.length -= n
      }
      return out
    }
    const out = new Uint8Array(n)
    let o = 0
    let i = 0
    while (o < n) {
      const p = this.#parts[i++]!
      const k = Math.min(p.length, n - o)
      out.set(p.subarray(0, k), o)
      o += k
    }
    if (consume) this.#drop(n)
    return out
  }
  #drop(n: number): void {
    this.length -= n
    while (n > 0) {
      const p = this.#parts[0]!
      if (p.length <= n) {
        n -= p.length
        this.#parts.shift()
      } else {
        this.#parts[0] = p.subarray(n)
        n = 0
      }
    }
  }
}

export type Side = 'a' | 'b'
export type Emit = (body: TraceBody) => void

/**
 * One multistream-select negotiation seen from outside: side `a` proposes, side `b` answers.
 * Returns the agreed protocol once both sides' answers are in; the bytes after it stay in the queues.
 */
export class Negotiation {
  readonly a = new Bytes()
  readonly b = new Bytes()
  #proposal: string | undefined
  #aHeader = false
  #bHeader = false
  agreed: string | undefined
  failed: string | undefined

  constructor(readonly stream: number | undefined, readonly dirOf: (s: Side) => Direction, readonly maxPending: number) {}

  /** Parse what can be parsed; emits multistream events. */
  run(emit: Emit): void {
    for (let progress = true; progress && this.agreed === undefined && this.failed === undefined;) {
      progress = false
      // a: its header, then a proposal, then wait for b's answer.
      if (this.#proposal === undefined) {
        const line = this.#line('a', emit)
        if (line !== undefined) {
          progress = true
          if (!this.#aHeader && line === '/multistream/1.0.0') this.#aHeader = true
          else if (line !== 'ls') this.#proposal = line
        }
      }
      // b: its header, then answers (an echo agrees, `na` refuses).
      if (!this.#bHeader || this.#proposal !== undefined) {
        const line = this.#line('b', emit)
        if (line !== undefined) {
          progress = true
          if (!this.#bHeader && line === '/multistream/1.0.0') this.#bHeader = true
          else if (line === this.#proposal) this.agreed = line
          else this.#proposal = undefined // na (or anything else): a tries its next protocol
        }
      }
    }
    if (this.agreed === undefined && this.failed === undefined && (this.a.length > this.maxPending || this.b.length > this.maxPending)) {
      this.failed = `more than ${this.maxPending} bytes before the negotiation finished (maxPendingBytes)`
    }
  }

  #line(s: Side, emit: Emit): string | undefined {
    const q = this[s]
    if (q.length === 0) return undefined
    const head = q.peek(Math.min(q.length, 2))
    let len: number
    let n: number
    try {
      const v = varint.decode(head, 0, true)
      if (v === undefined) return undefined
      len = v.value
      n = v.bytes
    } catch {
      this.failed = 'invalid multistream length prefix'
      return undefined
    }
    if (len === 0 || len > DEFAULT_MAX_MESSAGE_LENGTH) {
      this.failed = `multistream message of ${len} bytes`
      return undefined
    }
    if (q.length < n + len) return undefined
    const msg = q.take(n + len).subarray(n)
    let line: string
    try {
      if (msg[len - 1] !== 0x0a) throw new Error('no newline')
      line = utf8.decode(msg.subarray(0, len - 1))
    } catch {
      this.failed = 'a multistream message without its newline or not UTF-8'
      return undefined
    }
    emit(this.stream === undefined ? { kind: 'multistream', dir: this.dirOf(s), line } : { kind: 'multistream', dir: this.dirOf(s), stream: this.stream, line })
    return line
  }
}


/**
 * One stream's bytes to events: multistream-select (side `a` is the opener, writing `openerDir`),
 * `negotiated`, then each direction's decoder. What cannot be decoded stops this stream only.
 */
export class StreamPipeline {
  readonly neg: Negotiation
  readonly #decoders: { out?: StreamDecoder | undefined; in?: StreamDecoder | undefined } = {}
  stopped = false

  constructor(readonly id: number, readonly openerDir: Direction, readonly factory: DecoderFactory | undefined, maxPending: number, readonly emit: Emit) {
    const other: Direction = openerDir === 'out' ? 'in' : 'out'
    this.neg = new Negotiation(id, (x) => (x === 'a' ? openerDir : other), maxPending)
  }

  /** Bytes of direction `dir`, in order. */
  data(dir: Direction, body: Uint8Array): void {
    if (this.stopped) return
    const neg = this.neg
    if (neg.agreed !== undefined) {
      this.#feed(dir, body)
      return
    }
    neg[dir === this.openerDir ? 'a' : 'b'].push(body)
    neg.run(this.emit)
    if (neg.failed !== undefined) {
      this.stopped = true
      this.emit({ kind: 'state', layer: 'stream', stream: this.id, to: 'undecodable', reason: neg.failed })
      return
    }
    if (neg.agreed === undefined) return
    this.emit({ kind: 'state', layer: 'stream', stream: this.id, from: 'negotiating', to: 'negotiated', protocol: neg.agreed })
    // The opener's and the acceptor's bytes after the negotiation, in that order.
    this.#feed(this.openerDir, neg.a.takeAll())
    this.#feed(this.openerDir === 'out' ? 'in' : 'out', neg.b.takeAll())
  }

  /** Direction `dir` ended (a FIN): its decoder completes what only EOF delimits. */
  end(dir: Direction): void {
    const d = this.#decoders[dir]
    if (d === undefined || this.neg.agreed === undefined) return
    this.#decoders[dir] = undefined
    this.#messages(dir, () => d.end?.() ?? [])
  }

  #feed(dir: Direction, bytes: Uint8Array): void {
    if (bytes.length === 0 || this.stopped) return
    if (!(dir in this.#decoders)) this.#decoders[dir] = this.factory?.(this.neg.agreed!, dir, { opener: dir === this.openerDir })
    const d = this.#decoders[dir]
    if (d !== undefined) this.#messages(dir, () => d.push(bytes))
  }

  /** A decoder's messages; one that throws (they should not) ends this stream's decoding, nothing else. */
  #messages(dir: Direction, run: () => DecodedMessage[]): void {
    let ms: DecodedMessage[]
    try {
      ms = run()
    } catch (e) {
      this.stopped = true
      this.emit({ kind: 'state', layer: 'stream', stream: this.id, to: 'undecodable', reason: `the ${this.neg.agreed} decoder failed: ${(e as Error).message}` })
      return
    }
    for (const m of ms) this.emit({ kind: 'message', dir, stream: this.id, protocol: this.neg.agreed!, name: m.name, fields: m.fields })
  }
}
