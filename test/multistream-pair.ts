/**
 * A small deterministic harness joining a MultistreamDialer and a MultistreamListener through an
 * in-memory link. Bytes in each direction are cut by a Chunker (whole, byte by byte, or seeded
 * random sizes) so tests can check that chunking never changes the outcome.
 *
 * Each side plays its "next layer" too: once a core says 'negotiated', the harness takes its
 * remainder and from then on routes that side's incoming bytes to `received` (the lazy dialer is
 * the exception: it stays in the byte path and hands application bytes out as 'data' events).
 */
import { ProtocolError } from '../src/core/errors.js'
import { concat } from '../src/core/bytes.js'
import { MultistreamDialer, MultistreamListener } from '../src/multistream/index.js'
import type { DialerOptions, ListenerOptions, MultistreamEvent } from '../src/multistream/index.js'
import { prng } from './helpers/prng.js'
export { prng }

export type Chunker = (bytes: Uint8Array) => Uint8Array[]

export const whole: Chunker = (b) => (b.length > 0 ? [b] : [])

export const byteByByte: Chunker = (b) => Array.from(b, (x) => Uint8Array.of(x))


/** Cut into pieces of 1..maxPiece bytes, sizes drawn from a PRNG seeded with `seed`. */
export function randomChunks(seed: number, maxPiece = 7): Chunker {
  const next = prng(seed)
  return (b) => {
    const out: Uint8Array[] = []
    for (let off = 0; off < b.length; ) {
      const n = 1 + Math.floor(next() * maxPiece)
      out.push(b.slice(off, off + n))
      off += n
    }
    return out
  }
}

export interface PairOptions {
  dialer: DialerOptions
  listener: ListenerOptions
  chunker?: Chunker
  /** Dialer application bytes: lazy mode writes them before the first flight; otherwise sent after 'negotiated'. */
  dialerData?: Uint8Array
  /** Listener application bytes, sent after its 'negotiated'. */
  listenerData?: Uint8Array
  /** Who speaks first: both flush before any delivery (default), or one side's bytes arrive first. */
  order?: 'simultaneous' | 'listener-first' | 'dialer-first'
  /** dialer.ls() before its first pollTransmit. */
  ls?: boolean
}

export interface PairResult {
  /** Events of each side, without 'data' (data goes to `received`). */
  dialerEvents: MultistreamEvent[]
  listenerEvents: MultistreamEvent[]
  /** Application bytes each side's next layer received. */
  dialerReceived: Uint8Array
  listenerReceived: Uint8Array
  dialerError?: string
  listenerError?: string
}

interface Side {
  events: MultistreamEvent[]
  received: Uint8Array[]
  error?: string
  handedOver: boolean
}

export function runPair(o: PairOptions): PairResult {
  const chunker = o.chunker ?? whole
  const dialer = new MultistreamDialer(o.dialer)
  const listener = new MultistreamListener(o.listener)
  const lazy = o.dialer.optimistic === true
  if (o.ls === true) dialer.ls()
  if (lazy && o.dialerData !== undefined) dialer.write(o.dialerData)
  const d: Side = { events: [], received: [], handedOver: false }
  const l: Side = { events: [], received: [], handedOver: false }
  const toListener: Uint8Array[] = []
  const toDialer: Uint8Array[] = []

  const flushDialer = (): void => {
    if (d.error !== undefined) return
    for (let b = dialer.pollTransmit(64); b !== undefined; b = dialer.pollTransmit(64)) toListener.push(...chunker(b))
  }
  const flushListener = (): void => {
    if (l.error !== undefined) return
    for (let b = listener.pollTransmit(64); b !== undefined; b = listener.pollTransmit(64)) toDialer.push(...chunker(b))
  }
  const drainDialer = (): void => {
    flushDialer()
    for (let e = dialer.pollEvent(); e !== undefined; e = dialer.pollEvent()) {
      if (e.type === 'data') {
        d.received.push(e.data)
        continue
      }
      d.events.push(e)
      if (e.type === 'negotiated' && !lazy) {
        d.received.push(dialer.takeRemainder())
        d.handedOver = true
        if (o.dialerData !== undefined) toListener.push(...chunker(o.dialerData))
      }
    }
  }
  const drainListener = (): void => {
    flushListener()
    for (let e = listener.pollEvent(); e !== undefined; e = listener.pollEvent()) {
      l.events.push(e)
      if (e.type === 'negotiated') {
        l.received.push(listener.takeRemainder())
        l.handedOver = true
        if (o.listenerData !== undefined) toDialer.push(...chunker(o.listenerData))
      }
    }
  }
  const feed = (side: Side, core: MultistreamDialer | MultistreamListener, chunk: Uint8Array, drain: () => void): void => {
    if (side.error !== undefined) return
    if (side.handedOver) {
      side.received.push(chunk)
      return
    }
    try {
      core.handleData(0, chunk)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      side.error = e.code
      return
    }
    drain()
  }

  const order = o.order ?? 'simultaneous'
  if (order === 'listener-first') {
    drainListener()
    while (toDialer.length > 0) feed(d, dialer, toDialer.shift()!, drainDialer)
  } else if (order === 'dialer-first') {
    drainDialer()
    while (toListener.length > 0) feed(l, listener, toListener.shift()!, drainListener)
  }
  drainDialer()
  drainListener()
  // Alternate one chunk each way until both links are empty.
  for (let guard = 0; toListener.length > 0 || toDialer.length > 0; guard++) {
    if (guard > 1_000_000) throw new Error('pair did not settle')
    if (toListener.length > 0) feed(l, listener, toListener.shift()!, drainListener)
    if (toDialer.length > 0) feed(d, dialer, toDialer.shift()!, drainDialer)
  }
  const result: PairResult = {
    dialerEvents: d.events,
    listenerEvents: l.events,
    dialerReceived: concat(d.received),
    listenerReceived: concat(l.received),
  }
  if (d.error !== undefined) result.dialerError = d.error
  if (l.error !== undefined) result.listenerError = l.error
  return result
}
