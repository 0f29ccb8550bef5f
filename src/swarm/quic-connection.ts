/**
 * A libp2p connection over QUIC v1 (libp2p/specs quic/README.md), as the swarm's connection core:
 * the same surface as src/connection's `Connection`, but the bytes in and out are whole UDP
 * datagrams of one QuicConnection (src/quic/connection), and there is no upgrade: TLS 1.3 inside
 * QUIC authenticates the peer with the libp2p certificate (ALPN `libp2p`), and each QUIC
 * bidirectional stream is one libp2p stream whose protocol multistream-select negotiates (no Noise,
 * no yamux). The per-stream negotiation is src/connection's StreamTable, run over the QUIC streams
 * through a small adapter with the muxer surface it expects.
 *
 * Receive flow control: a stream's bytes are read out of QUIC (which returns the credit to the peer)
 * only while less than `STREAM_READ_AHEAD` of them wait for the application's `consume`, so a slow
 * reader slows its sender, as yamux's window does.
 */
import type { Millis } from '../core/byte-machine.js'
import { ConnectionClosedError, InternalError, OutcomeError, ProtocolError, UsageError } from '../core/errors.js'
import { EventQueue } from '../core/event-queue.js'
import { StreamTable, TLS_PROTOCOL, type ConnectionEvent, type ConnectionOptions } from '../connection/index.js'
import type { TlsKeylogLabel, TraceHook } from '../core/trace.js'
import type { PeerId, PublicKey } from '../peer-id/index.js'
import { isQuicSeed, type QuicConnection, type QuicConnectionEvent, type QuicSessionSeed, type QuicStreamEvent } from '../quic/index.js'
import type { YamuxEvent, YamuxSession } from '../yamux/index.js'
import type { SwarmConfig } from './types.js'

/** The muxer name a QUIC connection reports (ConnectionEvent 'established'). */
export const QUIC_V1_MUXER = '/quic-v1'
/** Bytes read ahead of the application per stream (see the file comment). */
const STREAM_READ_AHEAD = 1 << 20
/** Ids of streams ended here whose QUIC 'closed' has not come yet: a bound on that set. */
const MAX_ENDED = 4096

/** What the adapter keeps per stream. */
interface StreamState {
  /** Bytes handed to the application and not consumed yet. */
  unconsumed: number
  /** QUIC holds data we did not read (the read-ahead is full). */
  held: boolean
  /** The peer's FIN was read (EOF given to the table). */
  finRead: boolean
  /** The peer sent STOP_SENDING: our writes are dropped. */
  stopped: boolean
  stopCode: number
  /** The application finished its writing (FIN queued). */
  writeClosed: boolean
  /** A write came up short: the writer waits for 'stream-writable'. */
  blocked: boolean
}
const newStream = (): StreamState => ({ unconsumed: 0, held: false, finRead: false, stopped: false, stopCode: 0, writeClosed: false, blocked: false })

type TableEvent = Exclude<YamuxEvent, { type: 'ping' | 'go-away' | 'closed' | 'stream-opened' }>

/** Options of a QUIC connection core. */
export type QuicCoreOptions = Pick<ConnectionOptions, 'supportsProtocol' | 'listProtocols' | 'streamNegotiationTimeout' | 'maxNegotiatingStreams' | 'upgradeTimeout' | 'identity' | 'trace' | 'tlsKeylog'> & {
  seed: QuicSessionSeed
  expectedRemotePeer?: PeerId | undefined
  now: Millis
}

/** The swarm's core for a connection whose transport handed over `session`: a QUIC one, or undefined for any other. */
export function quicCore(now: Millis, session: unknown, config: SwarmConfig, expected: PeerId | undefined, supportsProtocol: (p: string) => boolean, listProtocols: () => string[]): QuicConnectionCore | undefined {
  if (!isQuicSeed(session)) return undefined
  const c = config.connection
  // spec/trace.md: a QUIC connection's trace (the tracer decrypts its datagrams) and key log
  const hooks = config.connectionTrace?.(session.role === 'client' ? 'dialer' : 'listener', 'quic-v1')
  return new QuicConnectionCore({
    seed: session, identity: config.identity, expectedRemotePeer: expected, now, supportsProtocol, listProtocols,
    ...(hooks?.trace !== undefined ? { trace: hooks.trace } : {}), ...(hooks?.tlsKeylog !== undefined ? { tlsKeylog: hooks.tlsKeylog } : {}),
    ...(c?.upgradeTimeout !== undefined ? { upgradeTimeout: c.upgradeTimeout } : {}),
    ...(c?.streamNegotiationTimeout !== undefined ? { streamNegotiationTimeout: c.streamNegotiationTimeout } : {}),
    ...(c?.maxNegotiatingStreams !== undefined ? { maxNegotiatingStreams: c.maxNegotiatingStreams } : {}),
  })
}

/** One libp2p connection over QUIC (see the file comment). */
export class QuicConnectionCore {
  readonly #quic: QuicConnection
  readonly #seed: QuicSessionSeed
  readonly #remote: () => { peerId: PeerId; publicKey: PublicKey } | undefined
  readonly #table: StreamTable
  readonly #events = new EventQueue<ConnectionEvent>()
  /** spec/trace.md; undefined (the default): no trace event is built. */
  readonly #trace: TraceHook | undefined
  #now: Millis
  #handshakeDeadline: Millis | undefined
  #phase: 'handshaking' | 'open' | 'closed' = 'handshaking'
  #remotePeer: PeerId | undefined
  /** Streams written to after the peer's STOP_SENDING: reset at the next event poll. */
  readonly #stoppedWrites = new Set<number>()
  /** The libp2p streams, by QUIC stream id. */
  readonly #streams = new Map<number, StreamState>()
  /** Streams ended here (reset) before QUIC forgot them: their later QUIC events are ignored. */
  readonly #ended = new Set<number>()

  constructor(o: QuicCoreOptions) {
    this.#now = o.now
    this.#seed = o.seed
    const t = this.#trace = o.trace
    const k = o.tlsKeylog
    // the key log's lines, and the secrets the tracer decrypts the datagrams with (never printed)
    const keylog = t === undefined && k === undefined ? undefined : (label: TlsKeylogLabel, random: Uint8Array, secret: Uint8Array): void => {
      k?.(label, random, secret)
      t?.({ kind: 'tls-secret', label, secret })
    }
    const { connection, remote } = o.seed.open({ now: o.now, identity: o.identity, expectedPeer: o.expectedRemotePeer, ...(keylog !== undefined ? { keylog } : {}) })
    this.#quic = connection
    this.#remote = remote
    this.#handshakeDeadline = o.now + (o.upgradeTimeout ?? 10_000)
    this.#table = new StreamTable({ ...o, trace: undefined }, this.#muxer() as unknown as YamuxSession, (ev) => this.#events.push(ev))
    this.#pump()
  }

  get remotePeer(): PeerId | undefined { return this.#remotePeer }
  get isOpen(): boolean { return this.#phase === 'open' }
  get isClosed(): boolean { return this.#phase === 'closed' }
  /** The smoothed round-trip time of the QUIC path, in ms. */
  get rtt(): number | undefined { return this.#phase === 'open' ? this.#quic.pathStats.smoothedRtt : undefined }
  get streamCount(): number { return this.#table.size }

  // ---- driver inputs: one datagram per handleData ----

  handleData(now: Millis, datagram: Uint8Array): void {
    this.#now = now
    if (this.#phase === 'closed') return
    const copy = this.#trace !== undefined ? datagram.slice() : undefined
    this.#quic.handleDatagram(now, datagram)
    // traced once handled: the secrets it derived decrypt it (coalesced Initial + Handshake packets)
    if (copy !== undefined) this.#trace!({ kind: 'quic-datagram', dir: 'in', data: copy })
    this.#pump()
  }

  /** The UDP side is gone (the socket closed): the connection ends at once. */
  handleEof(now: Millis): void {
    this.#now = now
    if (this.#phase === 'closed') return
    this.#quic.close(0, 'transport closed')
    this.#end(undefined)
  }

  handleTimeout(now: Millis): void {
    this.#now = now
    if (this.#phase === 'closed') return
    if (this.#handshakeDeadline !== undefined && now >= this.#handshakeDeadline) {
      this.#quic.close(0x0100, 'handshake timeout', false)
      this.#end(new ProtocolError('connection', 'connection/upgrade-timeout', 'the QUIC handshake did not complete in time'))
      return
    }
    const t = this.#quic.pollTimeout()
    if (t !== undefined && now >= t) this.#quic.handleTimeout(now)
    this.#table.handleTimeout(now)
    this.#pump()
  }

  wantsData(): boolean { return this.#phase !== 'closed' }

  /** The next datagram to send (whole; `max` does not split datagrams). */
  pollTransmit(_max: number): Uint8Array | undefined {
    const d = this.#quic.pollTransmit(this.#now)
    if (this.#trace && d !== undefined) this.#trace({ kind: 'quic-datagram', dir: 'out', data: d })
    return d
  }

  pollEvent(): ConnectionEvent | undefined {
    this.#pump()
    const ev = this.#events.poll()
    if (ev?.type === 'stream-closed') this.#table.seenClosed(ev.id)
    return ev
  }

  pollTimeout(): Millis | undefined {
    let t = this.#handshakeDeadline
    for (const d of [this.#phase === 'closed' ? undefined : this.#quic.pollTimeout(), this.#table.nextDeadline()]) if (d !== undefined && (t === undefined || d < t)) t = d
    return t
  }

  // ---- commands ----

  openStream(now: Millis, protocols: readonly string[], requestId: number): number {
    this.#open('openStream')
    this.#now = now
    const id = this.#table.open(now, protocols, requestId)
    this.#table.start(id)
    return id
  }

  write(id: number, data: Uint8Array): number {
    return this.#open('write') && this.#table.write(id, data)
  }

  consume(now: Millis, id: number, n: number): void {
    this.#now = now
    if (this.#phase !== 'open') return
    this.#table.consume(now, id, n)
  }

  closeWrite(id: number): void {
    this.#open('closeWrite')
    this.#table.closeWrite(id)
  }

  reset(id: number, code?: number): void {
    if (this.#phase !== 'open') return
    this.#table.reset(id, code)
  }

  /** Closes with CONNECTION_CLOSE (application code `code`, default 0). */
  close(now: Millis, code?: number): void {
    this.#now = now
    if (this.#phase === 'closed') return
    this.#quic.close(code ?? 0, '')
    this.#end(code !== undefined && code !== 0 ? new ConnectionClosedError(code, 'local') : undefined)
  }

  /** A QUIC PING (the RTT estimate is `rtt`). */
  ping(_now: Millis): void {
    this.#open('ping')
    this.#quic.ping()
  }

  // ---- internals ----

  #open(what: string): true {
    if (this.#phase !== 'open') throw new UsageError('connection/not-open', `${what} before the connection is established or after it closed`)
    return true
  }

  /** Route the QUIC connection's events until it has none. */
  #pump(): void {
    for (const id of this.#stoppedWrites) {
      this.#stoppedWrites.delete(id)
      const s = this.#streams.get(id)
      if (s !== undefined) this.#reset(id, s.stopCode)
    }
    for (let e = this.#quic.pollEvent(); e !== undefined; e = this.#quic.pollEvent()) {
      this.#seed.notify(e)
      if (this.#phase !== 'closed') this.#quicEvent(e)
    }
  }

  #quicEvent(e: QuicConnectionEvent): void {
    switch (e.kind) {
      case 'handshake-complete': {
        const r = this.#remote()
        if (r === undefined) {
          this.#quic.close(0x0100 + 42, 'no peer certificate', false)
          this.#end(new InternalError('quic/no-verified-peer', 'the QUIC handshake completed without a verified peer certificate'))
          return
        }
        this.#remotePeer = r.peerId
        this.#phase = 'open'
        this.#handshakeDeadline = undefined
        this.#events.push({ type: 'established', remotePeer: r.peerId, remotePublicKey: r.publicKey, muxer: QUIC_V1_MUXER, earlyMuxerNegotiation: false, security: TLS_PROTOCOL })
        return
      }
      case 'stream':
        if (this.#phase === 'open') this.#streamEvent(e.event)
        return
      case 'closing':
      case 'closed': {
        const i = e.info
        let error: Error | undefined = i.error
        if (error === undefined && i.source === 'remote' && i.errorCode !== 0) error = new ConnectionClosedError(i.errorCode, 'remote', `the remote closed the QUIC connection (${i.application ? 'application' : 'transport'} code ${i.errorCode}${i.reason !== '' ? `: ${i.reason}` : ''})`)
        if (error === undefined && i.source === 'reset') error = new ConnectionClosedError(0, 'remote', 'the remote reset the QUIC connection (stateless reset)')
        if (error === undefined && i.source === 'idle') error = new OutcomeError('quic/idle-timeout', 'no packet from the peer within the idle timeout')
        if (error === undefined && i.source === 'version') error = new OutcomeError('quic/no-common-version', 'the peer does not speak QUIC v1')
        this.#end(error)
        return
      }
      default:
    }
  }

  #streamEvent(ev: QuicStreamEvent): void {
    const q = this.#quic
    const feed = (x: TableEvent): void => this.#table.handleYamuxEvent(this.#now, x)
    const s = 'id' in ev ? this.#streams.get(ev.id) : undefined
    switch (ev.kind) {
      case 'incoming':
        if (!ev.bidirectional) { this.#try(() => q.stopSending(ev.id, 0)); return } // libp2p uses bidirectional streams only
        this.#streams.set(ev.id, newStream())
        feed({ type: 'stream-inbound', id: ev.id })
        return
      case 'readable':
        if (s !== undefined) this.#read(ev.id, s)
        return
      case 'writable':
        if (s !== undefined && !s.stopped) { s.blocked = false; feed({ type: 'stream-writable', id: ev.id }) }
        return
      case 'reset':
        if (s === undefined) return
        // the peer abandoned its sending part: a libp2p reset, ending both directions (go resets both parts)
        this.#reset(ev.id, ev.errorCode)
        return
      case 'stop-sending':
        // The peer stopped reading. go's Close() and rust's drop send it with their FIN, so it is not
        // a reset of the stream: what the peer sent is still read to its end. Our next write finds
        // the stream reset (as a write to a stopped stream fails in go).
        if (s === undefined) return
        s.stopped = true
        s.stopCode = ev.errorCode
        // a writer waiting for send window would wait for ever (a stopped sending part gets no more
        // 'writable'): wake it, and its write takes the stopped path and resets the stream
        if (s.blocked) { s.blocked = false; feed({ type: 'stream-writable', id: ev.id }) }
        return
      case 'closed':
        if (this.#ended.delete(ev.id)) return
        if (s !== undefined) this.#forget(ev.id, true)
        return
      default:
    }
  }

  /** The stream is reset for libp2p: both parts abandoned, 'stream-reset' then 'stream-closed'. */
  #reset(id: number, code: number): void {
    this.#try(() => this.#quic.resetStream(id, code))
    this.#try(() => this.#quic.stopSending(id, code))
    this.#table.handleYamuxEvent(this.#now, code === 0 ? { type: 'stream-reset', id } : { type: 'stream-reset', id, code })
    if (this.#streams.has(id)) this.#forget(id, false)
  }

  /** Read what the read-ahead allows; the end of the stream once everything before it was read. */
  #read(id: number, s: StreamState): void {
    let room = STREAM_READ_AHEAD - s.unconsumed
    while (room > 0 && !s.finRead) {
      const r = this.#quic.read(id, room)
      if (r.data.length > 0) {
        s.unconsumed += r.data.length
        room -= r.data.length
        this.#table.handleYamuxEvent(this.#now, { type: 'stream-data', id, data: r.data })
        if (this.#streams.get(id) !== s) return // the data failed the stream (negotiation)
      }
      if (r.fin) {
        s.held = false
        s.finRead = true
        this.#table.handleYamuxEvent(this.#now, { type: 'stream-eof', id })
        return
      }
      if (r.data.length === 0) { s.held = false; return }
    }
    s.held = !s.finRead
  }

  /** The stream is over for libp2p: 'stream-closed' to the table, its bookkeeping dropped. */
  #forget(id: number, quicForgot: boolean): void {
    this.#streams.delete(id)
    if (!quicForgot && this.#ended.size < MAX_ENDED) this.#ended.add(id)
    this.#table.handleYamuxEvent(this.#now, { type: 'stream-closed', id })
  }

  #try(f: () => void): void {
    try { f() } catch (e) { if (!(e instanceof UsageError)) throw e }
  }

  /** End the connection: every stream ends with it, then 'closed'. */
  #end(error: Error | undefined): void {
    if (this.#phase === 'closed') return
    this.#trace?.({ kind: 'state', layer: 'connection', to: 'closed', reason: (error as { code?: string } | undefined)?.code ?? error?.message })
    this.#phase = 'closed'
    this.#handshakeDeadline = undefined
    this.#table.endAll(error)
    this.#events.push(error === undefined ? { type: 'closed' } : { type: 'closed', error })
  }

  /** The muxer surface StreamTable drives (yamux's), over the QUIC streams. */
  #muxer(): Pick<YamuxSession, 'openStream' | 'accept' | 'write' | 'consume' | 'closeWrite' | 'reset' | 'hasStream'> {
    const q = this.#quic
    return {
      openStream: () => {
        const id = q.openStream(true)
        if (id === undefined) throw new UsageError('connection/stream-limit', 'the peer allows no more streams now (QUIC MAX_STREAMS)')
        this.#streams.set(id, newStream())
        return id
      },
      accept: () => {},
      write: (id, data) => {
        const s = this.#streams.get(id)
        if (s === undefined) return data.length // ended: bytes dropped, as on a reset yamux stream
        if (s.stopped) { // the peer stopped reading: the stream is reset at the next event poll
          this.#stoppedWrites.add(id)
          return data.length
        }
        // A UsageError means QUIC ended our sending part (the peer's STOP_SENDING) or the connection before #pump routed that
        // event: only the table's negotiation bytes, written while #pump routes an earlier event of the same batch, get here;
        // the queued event then sets `stopped` (the next write resets) or ends every stream with the error. Application
        // writes come between pumps and meet `stopped`, an ended stream or #open first (the edge Stream refuses writes after closeWrite).
        try {
          const n = q.write(id, data)
          if (n < data.length) s.blocked = true
          return n
        } catch (e) { if (e instanceof UsageError) return data.length; throw e }
      },
      consume: (id, n) => {
        const s = this.#streams.get(id)
        if (s === undefined) return
        s.unconsumed = Math.max(0, s.unconsumed - n)
        if (s.held) this.#read(id, s)
      },
      closeWrite: (id) => {
        const s = this.#streams.get(id)
        if (s === undefined || s.writeClosed) return
        s.writeClosed = true
        if (!s.stopped) this.#try(() => q.finish(id))
      },
      reset: (id, code = 0) => {
        if (!this.#streams.has(id)) return
        this.#try(() => q.resetStream(id, code))
        this.#try(() => q.stopSending(id, code))
        this.#forget(id, false)
      },
      hasStream: (id) => this.#streams.has(id),
    }
  }
}
