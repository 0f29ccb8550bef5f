/**
 * Per-stream state of a yamux session: the opening handshake (SYN / ACK), the two half-closes (FIN)
 * and flow control in both directions (spec "Flow Control": per-stream windows, no session window).
 *
 * The opening handshake and the half-closes are independent (a stream may be half-closed before
 * its ACK arrives), so a stream holds one field for each; `streamState()` names the combination
 * with the state names of spec/yamux.md: syn-sent, syn-received, established, local-close,
 * remote-close. Terminal states (closed, reset) have no record: the session deletes it.
 *
 * Receive-side accounting (all in bytes, per stream):
 *   recvWindow  the window we currently offer (starts at `initialWindow`, auto-tuned up to `maxWindow`)
 *   recvCredit  how much the remote may still send: the window it believes it has
 *   unconsumed  delivered to the application as 'stream-data' but not yet `consume`d
 * Invariant: recvCredit + unconsumed <= recvWindow, so a stream never buffers more than its window.
 *
 * Auto-tuning (receive-window growth, after the BDP estimation of go-yamux / rust yamux / QUIC
 * stacks, in our own formulation): a Window Update is sent once at least half the window can be
 * granted again. If that happens less than 2 RTTs after the previous Window Update (the epoch
 * start), the remote drained half a window within about one round trip, so the window, not the
 * link or the reader, is what limits throughput: double `recvWindow` (up to `maxWindow` and the
 * session budget) before granting. A reader that consumes slowly stretches the epoch and the
 * window stays put.
 */
import type { Millis } from '../core/byte-machine.js'
import { INITIAL_STREAM_WINDOW } from './frame.js'

/** A yamux stream id (32 bits; odd for the client's streams, even for the server's, 0 for the session). */
export type StreamId = number

/**
 * A yamux stream's state: SYN sent, SYN received, established, closed on our side (FIN sent), or closed on the remote's side (FIN received).
 */
export type StreamStateName = 'syn-sent' | 'syn-received' | 'established' | 'local-close' | 'remote-close'

export class Stream {
  readonly id: StreamId
  /** Opening handshake: 'syn-sent' (ours, no ACK yet), 'syn-received' (theirs, not accepted yet), 'established'. */
  handshake: 'syn-sent' | 'syn-received' | 'established'
  /** We sent FIN. */
  localClosed = false
  /** We received FIN. */
  remoteClosed = false

  /** Bytes we may still send (the remote's window as we know it). Starts at the spec's 256 KiB. */
  sendCredit = INITIAL_STREAM_WINDOW
  recvWindow: number
  recvCredit = INITIAL_STREAM_WINDOW
  unconsumed = 0
  /** Time of the last Window Update we sent (or of the stream's creation): auto-tuning epoch. */
  epochStart: Millis
  /** A write() came up short: we owe the application a 'stream-writable' event. */
  blocked = false
  /** Bytes the last short write() could not place: the queue room kept for its turn (writers.ts). */
  wanted = 0

  constructor(id: StreamId, handshake: 'syn-sent' | 'syn-received', recvWindow: number, now: Millis) {
    this.id = id
    this.handshake = handshake
    this.recvWindow = recvWindow
    this.epochStart = now
  }

  /**
   * The remote sent FIN: nothing more can arrive, so the window shrinks to what the application
   * still holds (consume() then releases that too). Returns the bytes given back to the session
   * budget. Before, a half-closed stream kept its grown window until our side closed too, and the
   * streams still receiving could not grow.
   */
  finReceived(): number {
    this.remoteClosed = true
    const released = this.recvWindow - this.unconsumed
    this.recvWindow = this.unconsumed
    this.recvCredit = 0
    return released
  }

  /** Window we can grant right now: what brings recvCredit + unconsumed back up to recvWindow. */
  grantable(): number {
    return this.recvWindow - this.recvCredit - this.unconsumed
  }
}

/** A stream granted window (or opened) this recently, and not closed by the remote, is receiving. */
export const RECEIVING_MS = 1000

/**
 * How many streams share the session's window budget: those receiving now (RECEIVING_MS), at least
 * 1. Dividing by every open stream let idle ones dilute a busy stream's share (40 idle streams held
 * a bulk stream to 1.6 MiB); not dividing let the first streams to grow take the whole budget while
 * the rest stayed at 256 KiB (16 perf streams finished their uploads up to 1.3 s apart). The
 * session counts only when a Window Update is due, once per half window.
 */
export function receivingStreams(streams: Iterable<Stream>, now: Millis): number {
  let n = 0
  for (const t of streams) if (!t.remoteClosed && now - t.epochStart < RECEIVING_MS) n++
  return Math.max(1, n)
}

export function streamState(s: Stream): StreamStateName {
  if (s.localClosed) return 'local-close'
  if (s.remoteClosed) return 'remote-close'
  return s.handshake
}

/**
 * Decide the Window Update to send after the application consumed bytes, growing the window when
 * the epoch was short (see the file comment). Returns the delta to send (0: nothing to send) and
 * updates the stream's accounting as if it were sent.
 *
 * `maxWindow` is this stream's ceiling now (the session passes its fair share of the session
 * budget): a window above it shrinks back toward it, never below what the remote may still send
 * plus what the application holds (credit already granted cannot be taken back).
 * `budget` is how many bytes the session may still add to its total receive window.
 */
export function windowUpdateDelta(s: Stream, now: Millis, rtt: number | undefined, maxWindow: number, budget: number): number {
  if (s.recvWindow > maxWindow) s.recvWindow = Math.max(maxWindow, s.recvCredit + s.unconsumed)
  let delta = s.grantable()
  if (delta < s.recvWindow / 2) return 0
  if (rtt !== undefined && s.recvWindow < maxWindow && now - s.epochStart < 2 * Math.max(rtt, 1)) {
    const grown = Math.min(s.recvWindow * 2, maxWindow, s.recvWindow + Math.max(0, budget))
    delta += grown - s.recvWindow
    s.recvWindow = grown
  }
  s.epochStart = now
  s.recvCredit += delta
  return delta
}
