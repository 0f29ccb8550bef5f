/**
 * One circuit of the relay server: the initiator's hop stream spliced to the target's stop stream.
 *
 * Bytes from one side are written on to the other as they arrive and counted per direction; when a
 * direction passes `Limit.data`, or the circuit outlives `Limit.duration`, both streams are reset
 * (spec: "the relay should reset the stream to the source and the stream to the destination").
 *
 * Flow control (memory stays bounded whatever the two ends do): once spliced, both streams are put
 * in manual-consume mode, so the swarm no longer credits their bytes back to the muxer by itself.
 * Bytes read from side A and written to side B are credited back to A only when B reports
 * `stream-writable` (everything written to B has been taken by B's muxer, i.e. fits B's window).
 * A reader that stops reading therefore stops its sender: what the relay holds per direction is at
 * most the sender's yamux receive window, not the sender's whole output.
 *
 * A half-close passes through (A's EOF closes B's write side); the circuit ends when both streams
 * have closed, or at the first reset of either, which resets the other.
 */
import type { Millis } from '../core/byte-machine.js'
import type { PeerId } from '../peer-id/index.js'
import type { BehaviourAction, StreamRef } from '../swarm/index.js'
import { sameStream } from '../swarm/index.js'

/** Why a circuit ended (the `circuit-closed` event). */
export type CircuitEndReason =
  /** Both ends closed their write sides and the streams closed. */
  | 'closed'
  /** One end reset its stream (or its connection went): the other was reset. */
  | 'reset'
  /** A direction passed `Limit.data`: both reset. */
  | 'data-limit'
  /** `Limit.duration` passed: both reset. */
  | 'duration-limit'
  /** The relay service stopped. */
  | 'stopped'

/** What a circuit needs from the server: a way to emit stream actions. */
export interface CircuitSink {
  /**
   * Queue an action. `onPoll` runs when the swarm takes it (pollAction): from then on the swarm has
   * applied it, which is what flow accounting needs to know.
   */
  push(action: CircuitAction, onPoll?: () => void): void
}

/** The stream actions a circuit emits (manual-consume / consume: the swarm's flow-control seam). */
export type CircuitAction = Extract<BehaviourAction<never>, { type: 'manual-consume' | 'consume' | 'write' | 'close-write' | 'reset' }>

interface End {
  readonly ref: StreamRef
  readonly peer: PeerId
  /** Bytes received from this end since the splice (this end -> the other). */
  received: number
  /** The swarm applied manual-consume for this stream: bytes received from now on must be credited by us. */
  manual: boolean
  /** Bytes received from this end (while manual) written on to the other end, not credited back yet. */
  owed: number
  /** Of `owed`, the bytes whose writes the swarm has taken: credited at the other end's next `stream-writable`. */
  handedOver: number
  /** This end sent EOF. */
  eof: boolean
  /** The swarm reported this stream closed (or reset). */
  closed: boolean
}

export interface CircuitStats {
  /** Bytes initiator -> target and target -> initiator. */
  readonly srcToDst: number
  readonly dstToSrc: number
}

export class Circuit {
  readonly id: number
  readonly src: End
  readonly dst: End
  readonly openedAt: Millis
  /** Reset both when this passes (undefined: no duration limit). */
  readonly deadline: Millis | undefined
  readonly #limitData: number
  readonly #sink: CircuitSink
  #ended: CircuitEndReason | undefined

  constructor(id: number, sink: CircuitSink, src: { ref: StreamRef; peer: PeerId }, dst: { ref: StreamRef; peer: PeerId }, now: Millis, limits: { durationMs: number; data: number }) {
    this.id = id
    this.#sink = sink
    this.src = { ...src, received: 0, manual: false, owed: 0, handedOver: 0, eof: false, closed: false }
    this.dst = { ...dst, received: 0, manual: false, owed: 0, handedOver: 0, eof: false, closed: false }
    this.openedAt = now
    this.deadline = limits.durationMs > 0 ? now + limits.durationMs : undefined
    this.#limitData = limits.data
  }

  get ended(): CircuitEndReason | undefined {
    return this.#ended
  }

  get stats(): CircuitStats {
    return { srcToDst: this.src.received, dstToSrc: this.dst.received }
  }

  /**
   * Start splicing: both streams to manual-consume, then the bytes each side sent ahead of the
   * splice (already consumed by the swarm) on to the other side. Returns an end reason when those
   * early bytes alone break the data limit.
   */
  start(srcEarly: readonly Uint8Array[], dstEarly: readonly Uint8Array[]): CircuitEndReason | undefined {
    for (const end of [this.src, this.dst]) this.#sink.push({ type: 'manual-consume', stream: end.ref }, () => { end.manual = true })
    for (const chunk of srcEarly) if (this.#forward(this.src, this.dst, chunk, false) !== undefined) return this.#ended
    for (const chunk of dstEarly) if (this.#forward(this.dst, this.src, chunk, false) !== undefined) return this.#ended
    return undefined
  }

  /** The end `ref` belongs to, if any. */
  endOf(ref: StreamRef): End | undefined {
    if (sameStream(ref, this.src.ref)) return this.src
    if (sameStream(ref, this.dst.ref)) return this.dst
    return undefined
  }

  #other(end: End): End {
    return end === this.src ? this.dst : this.src
  }

  /** Bytes from one end: on to the other. Returns an end reason when the circuit ended. */
  data(ref: StreamRef, data: Uint8Array): CircuitEndReason | undefined {
    const from = this.endOf(ref)
    if (from === undefined || this.#ended !== undefined) return this.#ended
    return this.#forward(from, this.#other(from), data, from.manual)
  }

  #forward(from: End, to: End, data: Uint8Array, credited: boolean): CircuitEndReason | undefined {
    if (data.length === 0) return undefined
    from.received += data.length
    if (this.#limitData > 0 && from.received > this.#limitData) return this.end('data-limit')
    if (to.closed || from.eof) return undefined // nowhere to go (the remote wrote after its EOF: dropped)
    const n = data.length
    if (credited) from.owed += n
    this.#sink.push({ type: 'write', stream: to.ref, data }, credited ? () => { from.handedOver += n } : undefined)
    return undefined
  }

  /** `stream-writable` on `ref`: what was written to it has been taken; credit the other end. */
  writable(ref: StreamRef): void {
    const to = this.endOf(ref)
    if (to === undefined || this.#ended !== undefined) return
    const from = this.#other(to)
    const n = from.handedOver
    if (n === 0 || from.closed) return
    from.handedOver = 0
    from.owed -= n
    this.#sink.push({ type: 'consume', stream: from.ref, bytes: n })
  }

  /** EOF from one end: close the other end's write side. */
  eof(ref: StreamRef): void {
    const from = this.endOf(ref)
    if (from === undefined || this.#ended !== undefined || from.eof) return
    from.eof = true
    const to = this.#other(from)
    if (!to.closed) this.#sink.push({ type: 'close-write', stream: to.ref })
  }

  /** One stream was reset: reset the other, the circuit is over. */
  reset(ref: StreamRef): CircuitEndReason | undefined {
    const end = this.endOf(ref)
    if (end === undefined || this.#ended !== undefined) return this.#ended
    end.closed = true
    return this.end('reset')
  }

  /** One stream closed (both sides done with it). The circuit is over once both are. */
  closed(ref: StreamRef): CircuitEndReason | undefined {
    const end = this.endOf(ref)
    if (end === undefined || this.#ended !== undefined) return this.#ended
    end.closed = true
    const other = this.#other(end)
    if (other.closed) return this.end('closed')
    // Both directions finished: the other stream closes too once its EOF exchange completes.
    if (end.eof && other.eof) return undefined
    // Closed with a direction still open (a lost connection, a swarm-side reset): end it all.
    return this.end('reset')
  }

  /** End the circuit: reset every stream not closed yet (a clean close resets nothing). */
  end(reason: CircuitEndReason): CircuitEndReason {
    if (this.#ended !== undefined) return this.#ended
    this.#ended = reason
    for (const end of [this.src, this.dst]) {
      if (!end.closed) {
        end.closed = true
        this.#sink.push({ type: 'reset', stream: end.ref })
      }
    }
    return reason
  }
}
