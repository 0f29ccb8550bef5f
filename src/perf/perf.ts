/**
 * Perf, `/perf/1.0.0` (libp2p/specs perf/perf.md), as a behaviour with both roles.
 *
 * Client: open a stream; write the number of bytes the server should send back as a single
 * big-endian uint64; upload some bytes; close the write side; read until EOF, which should bring
 * exactly the requested number of bytes.
 * Server, on a new perf stream: read the big-endian uint64; read (and discard) until EOF; then send
 * that many bytes (zeros) and close. Sending never overlaps reading ("MUST NOT be run concurrently").
 *
 * Flow control between this behaviour and the swarm: the behaviour never emits one giant write.
 * Each sending stream has at most one write of `chunkSize` (64 KiB) outstanding: the next chunk is
 * written when the swarm reports `stream-writable` (everything written so far was handed to the
 * muxer). While the muxer has window, chunks flow at once; when it has none, the swarm holds at most
 * one chunk per stream and the behaviour waits. Every chunk is a view of one zero-filled buffer
 * allocated once: the swarm only reads write data (see BehaviourAction 'write'), and a fresh 64 KiB
 * allocation per chunk cost ~7% of the sender's CPU (allocation plus the GC it drives).
 *
 * Timing (client): `uploadMillis` runs from the stream being opened to the first byte of the
 * response (or its EOF when nothing was requested); `downloadMillis` from there to the EOF.
 *
 * The spec's security consideration: perf lets clients make a server do significant work, so it
 * SHOULD NOT be enabled by default. This class serves only if the node includes it (no weft entry
 * point includes it unless asked: `services: { perf: perf() }`, `weft node --perf`), and then within
 * per-request byte caps (`maxUploadBytes`, `maxDownloadBytes`) and per-peer and total stream caps.
 */
import type { Millis } from '../core/byte-machine.js'
import { OutcomeError, ProtocolError } from '../core/errors.js'
import type { PeerId } from '../peer-id/index.js'
import type { Behaviour, BehaviourAction, BehaviourInput, StreamRef } from '../swarm/index.js'
import { streamKey } from '../swarm/index.js'

/** Protocol id of perf (libp2p specs perf/perf.md). */
export const PERF_PROTOCOL = '/perf/1.0.0'
/** Length of the request header: the download size the client asks for, a big-endian uint64. */
export const PERF_HEADER_LENGTH = 8
const U64_MAX = (1n << 64n) - 1n

/**
 * The error codes of the perf protocol (libp2p specs perf/perf.md). `perf/stream-reset` and
 * `perf/connection-closed` are `OutcomeError`s (the run ended without its result: the server refused
 * or the connection went away, nobody broke the protocol); every other code is a `ProtocolError('perf', code)`.
 */
export type PerfErrorCode =
  | 'perf/truncated-header'
  | 'perf/download-too-large'
  | 'perf/upload-too-large'
  | 'perf/too-much-data'
  | 'perf/short-download'
  | 'perf/early-response'
  | 'perf/stream-reset'
  | 'perf/connection-closed'
  | 'perf/too-many-streams'

/** Events of the perf behaviour: progress during a run, its result, or its failure. */
export type PerfEvent =
  /** At most once per `progressInterval` per run. `millis` counts from the start of the phase. */
  | { type: 'perf-progress'; requestId: number; peer: PeerId; phase: 'upload' | 'download'; bytes: number; millis: Millis }
  | { type: 'perf-result'; requestId: number; peer: PeerId; uploadBytes: number; downloadBytes: number; uploadMillis: Millis; downloadMillis: Millis }
  | { type: 'perf-failed'; requestId: number; peer: PeerId; error: Error }
  /** Server side: a client's run was served completely. */
  | { type: 'perf-served'; peer: PeerId; uploadBytes: number; downloadBytes: number }
  /** Server side: a client broke the protocol or asked for too much; its stream was reset. */
  | { type: 'perf-server-error'; peer: PeerId; error: ProtocolError }

/** Defaults of the server caps (spec/perf.md, Limits). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
/** Default most bytes a client may upload to us in one run (64 MiB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
/** Default most perf runs one peer may have open with us at once. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 2
/** Default most perf runs served at once, all peers together. */
export const DEFAULT_MAX_INBOUND_STREAMS = 16

/**
 * Options of the perf behaviour (`/perf/1.0.0`); the limits stop a peer from making us send or receive unbounded bytes.
 */
export interface PerfOptions {
  /**
   * Largest download one request may ask of us, in bytes. Default 64 MiB
   * (DEFAULT_MAX_DOWNLOAD_BYTES), at most 2^53 - 1. Stops: a request for 2^64 - 1 bytes tying up the
   * server (CPU and bandwidth) for as long as the client likes; a request above it is reset
   * (`perf/download-too-large`). Raise it explicitly for benchmark servers (`weft perf --run-server`).
   */
  maxDownloadBytes?: number
  /**
   * Largest upload one request may send us, in bytes. Default 64 MiB (DEFAULT_MAX_UPLOAD_BYTES).
   * Uploads are counted, never buffered. Stops: a client streaming into the server without end
   * (bandwidth and CPU for decryption); the stream is reset past it (`perf/upload-too-large`).
   */
  maxUploadBytes?: number
  /**
   * Perf streams one peer may have served at once. Default 2 (DEFAULT_MAX_STREAMS_PER_PEER). With
   * the byte caps this bounds one peer to maxStreamsPerPeer x (maxUploadBytes + maxDownloadBytes)
   * in flight. Stops: one peer taking every slot of `maxInboundStreams` from the others.
   */
  maxStreamsPerPeer?: number
  /** Bytes per write action; one write is outstanding per stream. Default 64 KiB. */
  chunkSize?: number
  /** Minimum milliseconds between two progress events of one run. Default 1000. */
  progressInterval?: number
  /** Inbound perf streams served at once, all peers together. Default 16. Stops: many cheap requests pinning server work. */
  maxInboundStreams?: number
}

/** The header: a big-endian uint64. */
export function encodePerfHeader(downloadBytes: bigint | number): Uint8Array {
  const n = BigInt(downloadBytes)
  if (n < 0n || n > U64_MAX) throw new RangeError('perf header must be a uint64')
  const out = new Uint8Array(PERF_HEADER_LENGTH)
  new DataView(out.buffer).setBigUint64(0, n, false)
  return out
}

/**
 * The download size of a request header (big-endian uint64). Throws `ProtocolError('perf', 'perf/truncated-header')` unless it is 8 bytes.
 */
export function decodePerfHeader(bytes: Uint8Array): bigint {
  if (bytes.length !== PERF_HEADER_LENGTH) throw new ProtocolError<PerfErrorCode>('perf', 'perf/truncated-header', `${bytes.length} of ${PERF_HEADER_LENGTH} bytes`)
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false)
}

type ClientState =
  | { kind: 'opening' }
  /** `blocked`: a write is outstanding, the next waits for `stream-writable`. */
  | { kind: 'uploading'; stream: StreamRef; openedAt: Millis; uploaded: number; blocked: boolean }
  | { kind: 'downloading'; stream: StreamRef; openedAt: Millis; responseAt: Millis | undefined; received: number }

interface ClientRun {
  readonly requestId: number
  readonly peer: PeerId
  readonly uploadBytes: number
  readonly downloadBytes: number
  lastProgress: Millis
  state: ClientState
}

type ServerState =
  | { kind: 'header'; header: Uint8Array; have: number }
  | { kind: 'upload'; toSend: number; uploaded: number }
  | { kind: 'sending'; toSend: number; sent: number; uploaded: number; blocked: boolean }

interface ServerStream {
  readonly stream: StreamRef
  readonly peer: PeerId
  state: ServerState
}

export class PerfBehaviour implements Behaviour<PerfEvent> {
  readonly protocols: readonly string[] = [PERF_PROTOCOL]

  readonly #maxDownload: number
  readonly #maxUpload: number
  readonly #maxPerPeer: number
  readonly #chunkSize: number
  /** The payload of every upload and download chunk: zeros, never written after allocation. */
  #zeros: Uint8Array | undefined
  readonly #progressInterval: number
  readonly #maxInbound: number

  readonly #actions: BehaviourAction<PerfEvent>[] = []
  readonly #runs = new Map<number, ClientRun>()
  readonly #clientStreams = new Map<string, number>()
  readonly #serverStreams = new Map<string, ServerStream>()
  #nextId = 1

  constructor(options: PerfOptions = {}) {
    this.#maxDownload = nonNegative(options.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES, 'maxDownloadBytes')
    this.#maxUpload = nonNegative(options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES, 'maxUploadBytes')
    this.#maxPerPeer = positive(options.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER, 'maxStreamsPerPeer')
    this.#chunkSize = positive(options.chunkSize ?? 64 * 1024, 'chunkSize')
    this.#progressInterval = nonNegative(options.progressInterval ?? 1000, 'progressInterval')
    this.#maxInbound = positive(options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS, 'maxInboundStreams')
  }

  /** Start a run against `peer`; returns the request id of its events. */
  perf(now: Millis, peer: PeerId, sizes: { uploadBytes: number; downloadBytes: number }): number {
    const uploadBytes = nonNegative(sizes.uploadBytes, 'uploadBytes')
    const downloadBytes = nonNegative(sizes.downloadBytes, 'downloadBytes')
    const requestId = this.#nextId++
    this.#runs.set(requestId, { requestId, peer, uploadBytes, downloadBytes, lastProgress: now, state: { kind: 'opening' } })
    this.#actions.push({ type: 'open-stream', requestId, peer, protocols: [PERF_PROTOCOL] })
    return requestId
  }

  handle(now: Millis, input: BehaviourInput): void {
    switch (input.type) {
      case 'stream-opened':
        if (input.protocol !== PERF_PROTOCOL) return
        if (input.direction === 'outbound') this.#clientOpened(now, input.stream, input.requestId)
        else this.#serverOpened(input.stream, input.connection.peer)
        return
      case 'stream-open-failed': {
        const run = this.#runs.get(input.requestId)
        if (run !== undefined && run.state.kind === 'opening') this.#fail(run, input.error, false)
        return
      }
      case 'stream-data': {
        const key = streamKey(input.stream)
        const server = this.#serverStreams.get(key)
        if (server !== undefined) this.#serverData(server, input.data)
        const run = this.#runOf(key)
        if (run !== undefined) this.#clientData(now, run, input.data.length)
        return
      }
      case 'stream-writable': {
        const key = streamKey(input.stream)
        const server = this.#serverStreams.get(key)
        if (server !== undefined && server.state.kind === 'sending') {
          server.state.blocked = false
          this.#serverSend(server)
        }
        const run = this.#runOf(key)
        if (run !== undefined && run.state.kind === 'uploading') {
          run.state.blocked = false
          this.#upload(now, run)
        }
        return
      }
      case 'stream-eof': {
        const key = streamKey(input.stream)
        const server = this.#serverStreams.get(key)
        if (server !== undefined) this.#serverEof(server)
        const run = this.#runOf(key)
        if (run !== undefined) this.#clientEof(now, run)
        return
      }
      case 'stream-reset':
      case 'stream-closed': {
        const key = streamKey(input.stream)
        this.#serverStreams.delete(key)
        const run = this.#runOf(key)
        // a reset by the remote (a server refusing a size, a peer giving up) or the stream's end
        // with its connection (our node stopping, the remote's GoAway): an outcome, not a violation
        const closed = input.type === 'stream-closed' || input.connectionClosed === true
        if (run !== undefined) this.#fail(run, new OutcomeError<PerfErrorCode>(closed ? 'perf/connection-closed' : 'perf/stream-reset'), false)
        return
      }
      case 'connection-closed': {
        const conn = input.connection.id
        for (const [key, s] of this.#serverStreams) if (s.stream.connection === conn) this.#serverStreams.delete(key)
        for (const run of [...this.#runs.values()]) {
          if (run.state.kind !== 'opening' && run.state.stream.connection === conn) {
            this.#fail(run, new OutcomeError<PerfErrorCode>('perf/connection-closed'), false)
          }
        }
        return
      }
      default:
        return
    }
  }

  /** Perf keeps no timers: a run lasts as long as the client wants. */
  handleTimeout(_now: Millis): void {}

  pollAction(): BehaviourAction<PerfEvent> | undefined {
    return this.#actions.shift()
  }

  pollTimeout(): Millis | undefined {
    return undefined
  }

  // --- client ---------------------------------------------------------------------------------

  #runOf(key: string): ClientRun | undefined {
    const id = this.#clientStreams.get(key)
    return id === undefined ? undefined : this.#runs.get(id)
  }

  #clientOpened(now: Millis, stream: StreamRef, requestId: number | undefined): void {
    const run = requestId === undefined ? undefined : this.#runs.get(requestId)
    if (run === undefined || run.state.kind !== 'opening') {
      this.#actions.push({ type: 'reset', stream })
      return
    }
    run.state = { kind: 'uploading', stream, openedAt: now, uploaded: 0, blocked: true }
    run.lastProgress = now
    this.#clientStreams.set(streamKey(stream), run.requestId)
    // The header is the first outstanding write; the upload follows on stream-writable.
    this.#actions.push({ type: 'write', stream, data: encodePerfHeader(run.downloadBytes) })
  }

  /** Write the next upload chunk, or close the write side when the upload is complete. */
  #upload(now: Millis, run: ClientRun): void {
    const st = run.state
    if (st.kind !== 'uploading' || st.blocked) return
    const n = Math.min(this.#chunkSize, run.uploadBytes - st.uploaded)
    if (n > 0) {
      this.#actions.push({ type: 'write', stream: st.stream, data: this.#chunk(n) })
      st.uploaded += n
      st.blocked = true
      this.#progress(now, run, 'upload', st.uploaded, st.openedAt)
    }
    if (st.uploaded === run.uploadBytes) {
      this.#actions.push({ type: 'close-write', stream: st.stream })
      run.state = { kind: 'downloading', stream: st.stream, openedAt: st.openedAt, responseAt: undefined, received: 0 }
    }
  }

  #clientData(now: Millis, run: ClientRun, n: number): void {
    const st = run.state
    if (st.kind !== 'downloading') {
      this.#fail(run, new ProtocolError<PerfErrorCode>('perf', 'perf/early-response', 'server sent bytes before our upload ended'))
      return
    }
    if (n === 0) return
    st.responseAt ??= now
    st.received += n
    if (st.received > run.downloadBytes) {
      this.#fail(run, new ProtocolError<PerfErrorCode>('perf', 'perf/too-much-data', `${st.received} > ${run.downloadBytes} requested`))
      return
    }
    this.#progress(now, run, 'download', st.received, st.responseAt)
  }

  #clientEof(now: Millis, run: ClientRun): void {
    const st = run.state
    if (st.kind !== 'downloading') {
      this.#fail(run, new ProtocolError<PerfErrorCode>('perf', 'perf/short-download', 'server closed before our upload ended'))
      return
    }
    if (st.received !== run.downloadBytes) {
      this.#fail(run, new ProtocolError<PerfErrorCode>('perf', 'perf/short-download', `${st.received} of ${run.downloadBytes} bytes`))
      return
    }
    const responseAt = st.responseAt ?? now
    this.#clientStreams.delete(streamKey(st.stream))
    this.#runs.delete(run.requestId)
    this.#actions.push({
      type: 'event',
      event: {
        type: 'perf-result', requestId: run.requestId, peer: run.peer,
        uploadBytes: run.uploadBytes, downloadBytes: run.downloadBytes,
        uploadMillis: responseAt - st.openedAt, downloadMillis: now - responseAt,
      },
    })
  }

  #progress(now: Millis, run: ClientRun, phase: 'upload' | 'download', bytes: number, since: Millis): void {
    if (this.#progressInterval === 0 || now - run.lastProgress < this.#progressInterval) return
    run.lastProgress = now
    this.#actions.push({ type: 'event', event: { type: 'perf-progress', requestId: run.requestId, peer: run.peer, phase, bytes, millis: now - since } })
  }

  #fail(run: ClientRun, error: Error, reset = true): void {
    if (run.state.kind !== 'opening') {
      this.#clientStreams.delete(streamKey(run.state.stream))
      if (reset) this.#actions.push({ type: 'reset', stream: run.state.stream })
    }
    this.#runs.delete(run.requestId)
    this.#actions.push({ type: 'event', event: { type: 'perf-failed', requestId: run.requestId, peer: run.peer, error } })
  }

  // --- server ---------------------------------------------------------------------------------

  #serverOpened(stream: StreamRef, peer: PeerId): void {
    let ofPeer = 0
    for (const s of this.#serverStreams.values()) if (s.peer.equals(peer)) ofPeer++ // at most maxInboundStreams entries
    const full = this.#serverStreams.size >= this.#maxInbound
    if (full || ofPeer >= this.#maxPerPeer) {
      const why = full ? `${this.#maxInbound} perf streams served at once` : `${this.#maxPerPeer} perf streams of this peer served at once`
      this.#actions.push({ type: 'reset', stream })
      this.#actions.push({ type: 'event', event: { type: 'perf-server-error', peer, error: new ProtocolError<PerfErrorCode>('perf', 'perf/too-many-streams', why) } })
      return
    }
    this.#serverStreams.set(streamKey(stream), { stream, peer, state: { kind: 'header', header: new Uint8Array(PERF_HEADER_LENGTH), have: 0 } })
  }

  #serverData(s: ServerStream, data: Uint8Array): void {
    const st = s.state
    if (st.kind === 'header') {
      const take = Math.min(PERF_HEADER_LENGTH - st.have, data.length)
      st.header.set(data.subarray(0, take), st.have)
      st.have += take
      if (st.have < PERF_HEADER_LENGTH) return
      const requested = decodePerfHeader(st.header)
      if (requested > BigInt(this.#maxDownload)) {
        this.#serverError(s, new ProtocolError<PerfErrorCode>('perf', 'perf/download-too-large', `${requested} > ${this.#maxDownload}`))
        return
      }
      s.state = { kind: 'upload', toSend: Number(requested), uploaded: 0 }
      this.#serverUpload(s, data.length - take)
    } else if (st.kind === 'upload') {
      this.#serverUpload(s, data.length)
    }
    // 'sending': the client already closed its write side; the swarm delivers nothing more.
  }

  /** Count `n` uploaded bytes (never kept); reset the stream past maxUploadBytes. */
  #serverUpload(s: ServerStream, n: number): void {
    const st = s.state
    if (st.kind !== 'upload') return
    st.uploaded += n
    if (st.uploaded > this.#maxUpload) this.#serverError(s, new ProtocolError<PerfErrorCode>('perf', 'perf/upload-too-large', `more than ${this.#maxUpload} bytes uploaded`))
  }

  #serverEof(s: ServerStream): void {
    const st = s.state
    if (st.kind === 'header') {
      this.#serverError(s, new ProtocolError<PerfErrorCode>('perf', 'perf/truncated-header', `EOF after ${st.have} header bytes`))
      return
    }
    if (st.kind === 'upload') {
      s.state = { kind: 'sending', toSend: st.toSend, sent: 0, uploaded: st.uploaded, blocked: false }
      this.#serverSend(s)
    }
  }

  /** Write the next chunk of the response, or close and report when it is complete. */
  #serverSend(s: ServerStream): void {
    const st = s.state
    if (st.kind !== 'sending' || st.blocked) return
    const n = Math.min(this.#chunkSize, st.toSend - st.sent)
    if (n > 0) {
      this.#actions.push({ type: 'write', stream: s.stream, data: this.#chunk(n) })
      st.sent += n
      st.blocked = true
    }
    if (st.sent === st.toSend) {
      this.#serverStreams.delete(streamKey(s.stream))
      this.#actions.push({ type: 'close-write', stream: s.stream })
      this.#actions.push({ type: 'event', event: { type: 'perf-served', peer: s.peer, uploadBytes: st.uploaded, downloadBytes: st.toSend } })
    }
  }

  /** `n` (at most chunkSize) zero bytes, shared by every write. */
  #chunk(n: number): Uint8Array {
    const zeros = (this.#zeros ??= new Uint8Array(this.#chunkSize))
    return zeros.subarray(0, n)
  }

  #serverError(s: ServerStream, error: ProtocolError): void {
    this.#serverStreams.delete(streamKey(s.stream))
    this.#actions.push({ type: 'reset', stream: s.stream })
    this.#actions.push({ type: 'event', event: { type: 'perf-server-error', peer: s.peer, error } })
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}

function nonNegative(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative safe integer`)
  return n
}
