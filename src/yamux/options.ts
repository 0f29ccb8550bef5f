/**
 * Yamux session options, their defaults and the limits they enforce (spec/yamux.md "Limits").
 */
import { INITIAL_STREAM_WINDOW, MAX_U32 } from './frame.js'

/** Options of `YamuxSession`; defaults in `YAMUX_DEFAULTS`, limits in spec/yamux.md "Limits". */
export interface YamuxOptions {
  /** 'client' = the dialer: opens odd stream ids. 'server' = the listener: even ids. */
  role: 'client' | 'server'
  /** Receive window offered to each new stream. At least the spec's 256 KiB (the remote assumes that
   * much from the start); anything above is announced with the SYN / ACK as an additive Window Update. */
  initialWindow?: number
  /** Ceiling for receive-window auto-tuning, per stream. */
  maxWindow?: number
  /** Open streams, both directions. Stops a remote from making us hold unbounded stream state. */
  maxStreams?: number
  /** Streams opened and not yet acknowledged, per direction (libp2p yamux "ACK backlog"). */
  ackBacklog?: number
  /** Keep-alive ping period in ms; `undefined` disables keep-alive (and the start-up RTT ping). */
  keepAliveInterval?: number | undefined
  /** Largest Data payload we put in one frame. */
  maxFrameSize?: number
  /** Bytes of stream frames we queue for the transport before write() accepts less (a remote that
   * grants huge windows but never reads cannot make us buffer an application's whole output). */
  sendQueueLimit?: number
  /** Ceiling for the sum of all streams' receive windows that auto-tuning may grow into; one stream grows to at most this divided by the streams receiving in the last second. */
  maxSessionWindow?: number
}

export interface ResolvedOptions {
  role: 'client' | 'server'
  initialWindow: number
  maxWindow: number
  maxStreams: number
  ackBacklog: number
  keepAliveInterval: number | undefined
  maxFrameSize: number
  sendQueueLimit: number
  maxSessionWindow: number
}

/**
 * Defaults of `YamuxOptions` (exported as `YAMUX_DEFAULTS`): 256 KiB initial stream window, 16 MiB
 * largest window, 1024 streams, 256 streams opened and not yet acknowledged per direction, keep-alive ping every 30 s,
 * frames of at most 65507 payload bytes, 1 MiB send queue, 64 MiB of receive windows per session.
 */
export const DEFAULTS = {
  initialWindow: INITIAL_STREAM_WINDOW,
  maxWindow: 16 * 1024 * 1024,
  maxStreams: 1024,
  ackBacklog: 256,
  keepAliveInterval: 30_000,
  /** One yamux frame (12-byte header + payload) fills one Noise transport message (65535 - 16 = 65519
   * plaintext bytes), so a full frame crosses the Noise layer without being split or copied. */
  maxFrameSize: 65519 - 12,
  sendQueueLimit: 1024 * 1024,
  maxSessionWindow: 64 * 1024 * 1024,
} as const

/**
 * Control frames caused by remote input (Ping replies, RSTs refusing streams, Window Updates) are
 * queued ahead of data; above this many queued control bytes `wantsData()` turns false, so a remote
 * that floods us with Pings or SYNs while not reading our replies stops being read. Each input
 * frame causes at most one 12-byte reply, so the queue never exceeds this plus one input chunk.
 */
export const CONTROL_QUEUE_LIMIT = 64 * 1024

/** Explicit pings in flight at once; the oldest is forgotten beyond this (local misuse only). */
export const MAX_PINGS_IN_FLIGHT = 64

function int(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`yamux: ${name} must be an integer in [${min}, ${max}]`)
  return v
}

export function resolveOptions(o: YamuxOptions): ResolvedOptions {
  if (o.role !== 'client' && o.role !== 'server') throw new TypeError("yamux: role must be 'client' or 'server'")
  const maxWindow = int('maxWindow', o.maxWindow ?? DEFAULTS.maxWindow, INITIAL_STREAM_WINDOW, MAX_U32)
  const keepAlive = 'keepAliveInterval' in o ? o.keepAliveInterval : DEFAULTS.keepAliveInterval
  return {
    role: o.role,
    initialWindow: int('initialWindow', o.initialWindow ?? DEFAULTS.initialWindow, INITIAL_STREAM_WINDOW, maxWindow),
    maxWindow,
    maxStreams: int('maxStreams', o.maxStreams ?? DEFAULTS.maxStreams, 1, 2 ** 31),
    ackBacklog: int('ackBacklog', o.ackBacklog ?? DEFAULTS.ackBacklog, 1, 2 ** 31),
    keepAliveInterval: keepAlive === undefined ? undefined : int('keepAliveInterval', keepAlive, 1, 2 ** 31),
    maxFrameSize: int('maxFrameSize', o.maxFrameSize ?? DEFAULTS.maxFrameSize, 1, MAX_U32),
    sendQueueLimit: int('sendQueueLimit', o.sendQueueLimit ?? DEFAULTS.sendQueueLimit, 1, 2 ** 40),
    maxSessionWindow: int('maxSessionWindow', o.maxSessionWindow ?? DEFAULTS.maxSessionWindow, 1, 2 ** 40),
  }
}
