/**
 * Request-response target (src/request-response, spec/request-response.md): the behaviour in both
 * roles at once (it serves inbound requests and makes outbound ones), with the json or cbor codec,
 * 'eof' or length-prefixed framing and small caps, driven through the test Harness (virtual clock)
 * by a program: requests, streams granted / refused / opened by the remote, the remote's bytes
 * (codec-encoded messages, framed, mutated, concatenated, re-chunked), half-closes, resets (plain,
 * with a code, with the connection), stream-closed, writable, connection loss, the clock passing
 * timeouts, and the local user's respond / omit / cancel. A second mode feeds `MessageReader` alone.
 *
 * Checks besides the escape rule: nothing but a documented UsageError (request too large) comes out
 * of a command, nothing out of handle / handleTimeout; every request ends exactly once (`response`
 * or `outbound-failure`, none after `cancel`), every inbound exchange at most once (`response-sent`
 * or `inbound-failure`, after its `request`); failures carry ProtocolError('request-response') /
 * OutcomeError / (our own bad response) UsageError with 'reqresp/' codes; no action on a stream the
 * behaviour does not hold, no write after its close-write, no more bytes written on a stream than the
 * cap allows (framed); after the connection closes and the timeout passes, in-flight counts are
 * zero and no timeout is left; MessageReader never buffers past its cap.
 */
import { OutcomeError, ProtocolError, UsageError } from '../../src/core/errors.js'
import { equals } from '../../src/core/bytes.js'
import { decode as decodeVarint } from '../../src/core/varint.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../../src/swarm/behaviour.js'
import { streamKey } from '../../src/swarm/behaviour.js'
import { RequestResponseBehaviour, MessageReader, cbor, frame, json, lengthPrefixed, type Codec, type RequestResponseEvent } from '../../src/request-response/index.js'
import { Harness } from '../../test/helpers/behaviour-harness.js'
import { bounded, check, count, type Target } from './engine.js'
import { Program, ProgramWriter, concatBytes, deliver, mutate, mutateOnce } from './mutate.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const REMOTE = privateKeyFromSeed(new Uint8Array(32).fill(0x52), crypto)
const REMOTE_ID = REMOTE.publicKey.toPeerId(crypto)
const PROTOCOLS = ['/weft/fuzz/1', '/weft/fuzz/0']
/** The last (256 KiB) lets a request or response span several 64 KiB writes, each waiting for stream-writable. */
const CAPS = [16, 64, 1024, 262144]
const BIG = 'z'.repeat(150_000)
const TIMEOUTS = [100, 1000]
type V = unknown
const VALUES: readonly V[] = [null, 0, 1, -1, 1.5, 'x', 'hello', [1, 2, 3], { a: 1, b: 'c' }, { nested: { deep: [true, false, null] } }, 'x'.repeat(40), 'y'.repeat(3000), { id: 7, data: [0, 255, 16] }]

interface Config {
  codec: Codec<V, V>
  framing: 'eof' | 'length-prefixed'
  maxRequestBytes: number
  maxResponseBytes: number
  timeout: number
  maxConcurrentStreams: number
}

function config(c: number): Config {
  const base = (c & 1) === 0 ? json<V, V>() : (cbor() as Codec<V, V>)
  const lp = (c & 2) !== 0
  return {
    codec: lp ? lengthPrefixed(base) : base,
    framing: lp ? 'length-prefixed' : 'eof',
    maxRequestBytes: CAPS[(c >> 2) % 4]!,
    maxResponseBytes: CAPS[(c >> 4) % 4]!,
    timeout: TIMEOUTS[(c >> 6) & 1]!,
    maxConcurrentStreams: 1 + ((c >> 7) & 1) * 2,
  }
}

const connInfo = (id: number): ConnectionInfo => ({
  id, peer: REMOTE_ID, remotePublicKey: REMOTE.publicKey,
  remoteAddr: Multiaddr.fromString('/ip4/10.0.0.2/tcp/4001'), localAddr: undefined, direction: id % 2 === 0 ? 'outbound' : 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
})

const enum Op { Request, Grant, Inbound, Data, Eof, Reset, Closed, Writable, Advance, Reconnect, Respond, Omit, Cancel }
const OPS = 13

/** A remote's message for this config: a codec encoding of a value, framed, or raw bytes. */
function remoteMessage(r: Rand, cfg: Config): Uint8Array {
  if (r.chance(0.15)) return r.bytes(r.size(80))
  const v = r.pick(VALUES)
  const body = r.chance(0.5) ? cfg.codec.encodeRequest(v) : cfg.codec.encodeResponse(v)
  return frame(cfg.framing, body)
}

const stats: Record<string, number> = {}
const readerStats = stats

export const reqrespTarget: Target = {
  name: 'reqresp',
  stats,
  generate(r) {
    if (r.chance(0.1)) { // MessageReader alone: mode 0, framing/cap byte, chunking byte, bytes
      const cfg = config(r.int(256))
      const msgs = Array.from({ length: 1 + r.int(3) }, () => remoteMessage(r, cfg))
      return concatBytes([Uint8Array.of(0, r.int(256), r.int(256)), mutate(r, concatBytes(msgs), msgs)])
    }
    const c = r.int(256)
    const cfg = config(c)
    const w = new ProgramWriter().u8(1 + r.int(255)).u8(c)
    const n = 1 + r.int(24)
    // coherent exchanges (a request granted and answered, an inbound request read and answered) mixed with random ops
    const ops: number[] = []
    for (let i = 0; i < n; i++) {
      if (r.chance(0.25)) ops.push(Op.Request, Op.Grant, ...(r.chance(0.3) ? [Op.Writable, Op.Writable] : []), Op.Data, Op.Eof)
      else if (r.chance(0.25)) ops.push(Op.Inbound, Op.Data, Op.Eof, Op.Respond, ...(r.chance(0.3) ? [Op.Writable, Op.Writable] : []))
      else ops.push(r.chance(0.3) ? Op.Data : r.int(OPS))
    }
    for (const op of ops) {
      w.op(op)
      if (op === Op.Data) {
        const msgs = Array.from({ length: 1 + r.int(2) }, () => remoteMessage(r, cfg))
        const blob = concatBytes(msgs)
        w.u8(r.chance(0.6) ? 255 : r.int(8)).blob(r.chance(0.4) ? blob : mutate(r, blob, msgs, 2))
      } else if (op === Op.Advance) w.u16(r.chance(0.7) ? r.int(Math.min(2000, cfg.timeout * 2)) : r.int(65536))
      else if (op === Op.Respond) w.u8(r.chance(0.6) ? 255 : r.int(8)).u8(r.chance(0.05) ? 255 : r.int(VALUES.length + 1))
      else if (op === Op.Request) w.u8(r.chance(0.05) ? 255 : r.int(256))
      else if (op === Op.Grant) w.u8(1 + 4 * r.int(60))
      else w.u8(r.chance(0.6) ? 255 : r.int(256))
    }
    const prog = w.finish()
    return r.chance(0.1) ? mutateOnce(r, prog) : prog
  },
  run(input) {
    if ((input[0] ?? 0) === 0) { runReader(input); return }
    runBehaviour(input)
  },
}

function runReader(input: Uint8Array): void {
  const cfg = config(input[1] ?? 0)
  const sched = input[2] ?? 0
  const max = cfg.maxResponseBytes
  const reader = new MessageReader(cfg.framing, max)
  let ended = false
  deliver(input.subarray(3), sched, new Rand(sched), (piece) => {
    if (ended) return false
    const res = reader.push(piece)
    check(reader.buffered <= max, `MessageReader buffers ${reader.buffered}, cap ${max}`)
    const a = reader.announced
    check(a === undefined || a <= max, `MessageReader accepted a prefix announcing ${a}, cap ${max}`)
    if (res !== 'more') { count(readerStats, `reader ${res}`); ended = true }
    return true
  })
  const m = reader.message()
  if (m !== undefined) check(m.length <= max, `MessageReader message of ${m.length} bytes, cap ${max}`)
}

interface SimStream {
  ref: StreamRef
  dir: 'in' | 'out'
  writeClosed: boolean
  written: number
  remoteEof: boolean
}

type Ev = RequestResponseEvent<V, V>

function errorOk(e: Error, inbound: boolean): boolean {
  if (e instanceof ProtocolError) return e.protocol === 'request-response' && e.code.startsWith('reqresp/')
  if (e instanceof OutcomeError) return e.code.startsWith('reqresp/')
  if (inbound && e instanceof UsageError) return e.code === 'reqresp/encode' || e.code === 'reqresp/response-too-large'
  return false
}

function runBehaviour(input: Uint8Array): void {
  crypto.reset()
  const p = new Program(input)
  p.u8()
  const cfg = config(p.u8())
  const sched = (input[0] ?? 1)
  const r = new Rand(sched)
  const b = new RequestResponseBehaviour<V, V>({
    protocols: [PROTOCOLS[0]!, { id: PROTOCOLS[1]!, support: 'inbound' }], codec: cfg.codec, serve: true,
    maxRequestBytes: cfg.maxRequestBytes, maxResponseBytes: cfg.maxResponseBytes, timeout: cfg.timeout, maxConcurrentStreams: cfg.maxConcurrentStreams,
  })
  const h = new Harness<Ev>(b)
  const step = bounded(100_000, 'reqresp')
  let conn = 1
  let nextStream = 1
  const streams = new Map<string, SimStream>()
  const pendingOpens: number[] = []
  /** requestId -> outcome events seen; cancelled ones leave. */
  const outcomes = new Map<number, number>()
  const cancelled = new Set<number>()
  const inbound = new Map<number, { request: number; end: number; omitted: boolean }>()
  const handler: number[] = []
  /** Out streams: stream key -> request id; bytes the remote sent for each request. */
  const outStream = new Map<string, number>()
  const got = new Map<number, Uint8Array[]>()
  /** What the remote sent for `id`, as the message the behaviour should have decoded. */
  const expected = (id: number): Uint8Array | undefined => {
    const all = concatBytes(got.get(id) ?? [])
    if (cfg.framing === 'eof') return all
    try {
      const v = decodeVarint(all)
      if (v === undefined) return undefined
      return all.subarray(v.bytes, v.bytes + v.value)
    } catch { return undefined }
  }
  const framedCap = (dir: 'in' | 'out'): number => (dir === 'out' ? cfg.maxRequestBytes : cfg.maxResponseBytes) + 10

  const take = (actions: readonly BehaviourAction<Ev>[]): void => {
    for (const a of actions) {
      step()
      count(stats, a.type === 'event' ? `event ${a.event.type}` : a.type)
      if (a.type === 'open-stream') { pendingOpens.push(a.requestId); continue }
      if (a.type === 'write' || a.type === 'close-write' || a.type === 'reset') {
        const s = streams.get(streamKey(a.stream))
        check(s !== undefined, `${a.type} on stream ${streamKey(a.stream)} the behaviour does not hold`)
        check(a.type === 'reset' || !s.writeClosed, `${a.type} after close-write`)
        if (a.type === 'write') {
          s.written += a.data.length
          check(s.written <= framedCap(s.dir), `${s.written} bytes written on a ${s.dir} stream, cap ${framedCap(s.dir)}`)
        } else if (a.type === 'close-write') {
          s.writeClosed = true
          if (s.remoteEof) endStream(s)
        } else streams.delete(streamKey(a.stream))
        continue
      }
      if (a.type !== 'event') continue
      const e = a.event
      check(e.type === 'request' || e.type === 'response-sent' || e.duration === undefined || e.duration >= 0, `negative duration in ${e.type}`)
      switch (e.type) {
        case 'response':
        case 'outbound-failure': {
          if (e.type === 'response') {
            const want = expected(e.requestId)
            check(want !== undefined && want.length <= cfg.maxResponseBytes, `response event for request ${e.requestId} without a whole response under the cap`)
            let ok = false
            try { ok = equals(cfg.codec.encodeResponse(cfg.codec.decodeResponse(want)), cfg.codec.encodeResponse(e.response)) } catch { ok = false }
            check(ok, `response event for request ${e.requestId} differs from what the remote sent`)
          }
          if (e.type === 'outbound-failure') count(stats, `out ${(e.error as { code?: string }).code}`)
          if (e.type === 'outbound-failure') check(errorOk(e.error, false), `outbound-failure with ${e.error.name} ${(e.error as { code?: string }).code}: ${e.error.message}`)
          check(!cancelled.has(e.requestId), `${e.type} for cancelled request ${e.requestId}`)
          const n = outcomes.get(e.requestId)
          check(n !== undefined, `${e.type} for unknown request ${e.requestId}`)
          check(n === 0, `request ${e.requestId} ended twice (${e.type})`)
          outcomes.set(e.requestId, 1)
          break
        }
        case 'request': {
          const x = inbound.get(e.inboundId) ?? { request: 0, end: 0, omitted: false }
          check(x.request === 0 && x.end === 0, `request event for inbound ${e.inboundId} after its request or end`)
          x.request = 1
          inbound.set(e.inboundId, x)
          handler.push(e.inboundId)
          break
        }
        case 'response-sent':
        case 'inbound-failure': {
          if (e.type === 'inbound-failure') count(stats, `in ${(e.error as { code?: string }).code}`)
          if (e.type === 'inbound-failure') check(errorOk(e.error, true), `inbound-failure with ${e.error.name} ${(e.error as { code?: string }).code}: ${e.error.message}`)
          if (e.inboundId === undefined) { check(e.type === 'inbound-failure' && (e.error as OutcomeError).code === 'reqresp/too-many-streams', 'inbound-failure without an id'); break }
          const x = inbound.get(e.inboundId) ?? { request: 0, end: 0, omitted: false }
          check(x.end === 0 && !x.omitted, `inbound ${e.inboundId} ended twice (${e.type})`)
          check(e.type === 'inbound-failure' || x.request === 1, `response-sent for inbound ${e.inboundId} before its request`)
          x.end = 1
          inbound.set(e.inboundId, x)
          break
        }
      }
    }
  }
  const endStream = (s: SimStream): void => {
    streams.delete(streamKey(s.ref))
    take(h.input({ type: 'stream-closed', stream: s.ref }))
  }
  const pick = (i: number): SimStream | undefined => {
    const xs = [...streams.values()]
    return xs.length === 0 ? undefined : i === 255 ? xs[xs.length - 1] : xs[i % xs.length]
  }
  const command = (f: () => void): void => { f(); take(h.drain()) }

  take(h.input({ type: 'local-info', listenAddrs: [], protocols: [...b.protocols] }))
  take(h.input({ type: 'connection-established', connection: connInfo(conn) }))
  for (let i = 0; !p.done && i < 64; i++) {
    const op = p.u8() % OPS
    switch (op) {
      case Op.Request: {
        const vi = p.u8()
        const v = vi === 255 ? BIG : VALUES[vi % VALUES.length]
        command(() => {
          try {
            const id = b.request(h.now, REMOTE_ID, v)
            if (!outcomes.has(id)) outcomes.set(id, 0)
          } catch (e) {
            if (!(e instanceof UsageError && e.code === 'reqresp/request-too-large')) throw e
            count(stats, 'request too large')
          }
        })
        break
      }
      case Op.Grant: {
        const g = p.u8()
        const req = pendingOpens.shift()
        if (req === undefined) break
        if (g % 4 === 0) take(h.input({ type: 'stream-open-failed', requestId: req, error: new Error('refused') }))
        else {
          const ref = { connection: conn, stream: nextStream++ }
          streams.set(streamKey(ref), { ref, dir: 'out', writeClosed: false, written: 0, remoteEof: false })
          outStream.set(streamKey(ref), req)
          take(h.input({ type: 'stream-opened', stream: ref, protocol: PROTOCOLS[g % 5 === 0 ? 1 : 0]!, direction: 'outbound', connection: connInfo(conn), requestId: req }))
        }
        break
      }
      case Op.Inbound: {
        const ref = { connection: conn, stream: nextStream++ }
        streams.set(streamKey(ref), { ref, dir: 'in', writeClosed: false, written: 0, remoteEof: false })
        take(h.input({ type: 'stream-opened', stream: ref, protocol: PROTOCOLS[p.u8() % 2]!, direction: 'inbound', connection: connInfo(conn) }))
        break
      }
      case Op.Data: {
        const s = pick(p.u8())
        const blob = p.blob()
        if (s === undefined || s.remoteEof) break
        deliver(blob, sched, r, (piece) => {
          if (!streams.has(streamKey(s.ref))) return false
          const id = outStream.get(streamKey(s.ref))
          if (id !== undefined) { const xs = got.get(id) ?? []; xs.push(piece.slice()); got.set(id, xs) }
          take(h.input({ type: 'stream-data', stream: s.ref, data: piece.slice() }))
          return true
        })
        break
      }
      case Op.Eof: {
        const s = pick(p.u8())
        if (s === undefined || s.remoteEof) break
        s.remoteEof = true
        take(h.input({ type: 'stream-eof', stream: s.ref }))
        if (s.writeClosed && streams.has(streamKey(s.ref))) endStream(s)
        break
      }
      case Op.Reset: {
        const v = p.u8()
        const s = pick(v)
        if (s === undefined) break
        streams.delete(streamKey(s.ref))
        const variant = v % 3
        take(h.input({ type: 'stream-reset', stream: s.ref, ...(variant === 1 ? { code: v } : variant === 2 ? { connectionClosed: true as const } : {}) }))
        if (v & 8) take(h.input({ type: 'stream-closed', stream: s.ref }))
        break
      }
      case Op.Closed: {
        const s = pick(p.u8())
        if (s !== undefined) endStream(s)
        break
      }
      case Op.Writable: {
        const s = pick(p.u8())
        if (s !== undefined && !s.writeClosed) {
          if (s.written > 65536) count(stats, 'writable after a 64 KiB write')
          take(h.input({ type: 'stream-writable', stream: s.ref }))
        }
        break
      }
      case Op.Advance: take(h.advance(p.u16())); break
      case Op.Reconnect: closeConnection(p.u8()); conn++; take(h.input({ type: 'connection-established', connection: connInfo(conn) })); break
      case Op.Respond: {
        const k = p.u8()
        const vi = p.u8()
        if (handler.length === 0) break
        const id = k === 255 ? handler[handler.length - 1]! : handler[k % handler.length]!
        command(() => {
          const ok = vi === VALUES.length ? b.omit(h.now, id) : b.respond(h.now, id, vi === 255 ? BIG : VALUES[vi % VALUES.length])
          if (ok && vi === VALUES.length) inbound.get(id)!.omitted = true
        })
        break
      }
      case Op.Omit: {
        const k = p.u8()
        if (handler.length === 0) break
        const id = handler[k % handler.length]!
        command(() => { if (b.omit(h.now, id)) inbound.get(id)!.omitted = true })
        break
      }
      default: { // Cancel
        const ids = [...outcomes.entries()].filter(([, n]) => n === 0).map(([id]) => id)
        const k = p.u8()
        if (ids.length === 0) break
        const id = ids[k % ids.length]!
        command(() => b.cancel(h.now, id))
        outcomes.delete(id)
        cancelled.add(id)
      }
    }
  }

  function closeConnection(how: number): void {
    // a swarm ends each stream with the connection (reset connectionClosed), or just says connection-closed
    for (const s of [...streams.values()]) {
      if (s.ref.connection !== conn) continue
      streams.delete(streamKey(s.ref))
      if (how & 1) take(h.input({ type: 'stream-reset', stream: s.ref, ...(how & 2 ? { connectionClosed: true as const } : {}) }))
    }
    take(h.input({ type: 'connection-closed', connection: connInfo(conn) }))
    for (const req of pendingOpens.splice(0)) take(h.input({ type: 'stream-open-failed', requestId: req, error: Object.assign(new Error('closed'), { code: 'swarm/connection-closed' }) }))
  }

  // The end: the connection goes, the clock passes every deadline. Everything must be over.
  closeConnection(input[input.length - 1] ?? 0)
  take(h.advance(cfg.timeout + 1))
  check(b.inFlight.outbound === 0 && b.inFlight.inbound === 0, `in flight at the end: ${JSON.stringify(b.inFlight)}`)
  check(b.pollTimeout() === undefined, `a timeout is left at the end: ${b.pollTimeout()}`)
  for (const [id, n] of outcomes) check(n === 1, `request ${id} never ended`)
  for (const [id, x] of inbound) check(x.request === 0 || x.end === 1 || x.omitted, `inbound ${id} got its request but never ended`)
}
