/**
 * What the swarm keeps per negotiated stream, and the write queues of behaviour streams.
 *
 * Send side: a behaviour writes whole messages; the muxer takes what its send window allows and the
 * rest waits here, at most `maxBehaviourStreamBuffer` bytes per stream. A write past that resets the
 * stream (the behaviour gets `stream-reset`): a peer that stops reading cannot make a behaviour grow
 * our memory. When a queue drains the behaviour gets `stream-writable`.
 *
 * Receive side: the swarm credits a behaviour stream's bytes back to the muxer as soon as they are
 * handed to the behaviour (see spec/connection.md, "Behaviour streams"), so the bound on receive
 * memory is each behaviour's own message limit, not the yamux window.
 */
import type { ConnectionCore, Owner } from './types.js'

export interface SwarmStream {
  readonly owner: Owner
  readonly protocol: string
  /** Behaviour bytes the muxer has not taken yet (user streams write directly and keep this empty). */
  queue: Uint8Array[]
  queued: number
  /** The behaviour asked to close its write side: do it once the queue is empty. */
  closeAfterQueue: boolean
  /** The behaviour credits received bytes itself (`manual-consume`, then `consume` actions). */
  manualConsume?: boolean
}

export function newStream(owner: Owner, protocol: string): SwarmStream {
  return { owner, protocol, queue: [], queued: 0, closeAfterQueue: false }
}

/** Queue `data`; false when that would pass `max` queued bytes (the caller resets the stream). */
export function enqueue(s: SwarmStream, data: Uint8Array, max: number): boolean {
  if (s.queued + data.length > max) return false
  s.queue.push(data)
  s.queued += data.length
  return true
}

/**
 * Write queued bytes until the muxer pushes back; after the last byte, close the write side when
 * asked. Returns true when a queue that held bytes is now empty (tell the behaviour `stream-writable`).
 */
export function flushQueue(core: ConnectionCore, id: number, s: SwarmStream): boolean {
  const hadQueue = s.queue.length > 0
  while (s.queue.length > 0) {
    const b = s.queue[0]!
    const n = core.write(id, b)
    s.queued -= n
    if (n < b.length) {
      s.queue[0] = b.subarray(n)
      return false
    }
    s.queue.shift()
  }
  if (s.closeAfterQueue) {
    s.closeAfterQueue = false
    core.closeWrite(id)
  }
  return hadQueue
}
