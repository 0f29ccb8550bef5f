/**
 * Rendezvous client target (src/rendezvous/client.ts): the client behaviour against a hostile
 * rendezvous point. A program of user commands (register, unregister, discover, cancel, stopAll),
 * streams granted or refused, the point's bytes on them (framed Messages from the schema, biased to
 * REGISTER_RESPONSE and DISCOVER_RESPONSE: any status, wrong types, bad / foreign / our own / legacy
 * records, too many registrations, huge TTLs, big cookies; mutated, concatenated, re-chunked), EOF,
 * resets, connection loss and time (refreshes, retries, periodic discovery, timeouts).
 *
 * Checks besides the escape rule: commands throw only the documented UsageError
 * ('rendezvous/too-many-registrations'); nothing comes out of handle / handleTimeout; failure events
 * carry OutcomeErrors ('rendezvous/...', RendezvousStatusError) or ProtocolError('rendezvous');
 * every operation ends at most once, none after it was cancelled or superseded, and every one the
 * user started ends (or was cancelled / superseded) once the connection is gone and the timeout has
 * passed; no action on a stream the client does not hold, nothing after its close-write; operations
 * in flight <= maxPending, registrations <= maxRegistrations, a `discovered` page <= the message
 * limit; at the end nothing is in flight and no timeout is left.
 */
import { OutcomeError, ProtocolError, UsageError } from '../../src/core/errors.js'
import { encodeLp } from '../../src/core/lp.js'
import { equals } from '../../src/core/bytes.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import type { BehaviourAction, ConnectionInfo, StreamRef } from '../../src/swarm/behaviour.js'
import { streamKey } from '../../src/swarm/behaviour.js'
import { MessageType, RENDEZVOUS_PROTOCOL, RendezvousClientBehaviour, RendezvousDecoder, encodeRendezvousFrame, type RendezvousMessage, sealRendezvousRecord, type RendezvousClientEvent } from '../../src/rendezvous/index.js'
import { Harness } from '../../test/helpers/behaviour-harness.js'
import { bounded, check, count, type Target } from './engine.js'
import { Program, ProgramWriter, concatBytes, deliver, mutate, mutateOnce } from './mutate.js'
import { genMessage, type Schema } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

const crypto = fuzzCrypto()
const key = (b: number) => privateKeyFromSeed(new Uint8Array(32).fill(b), crypto)
const SELF = key(0x61)
const SELF_ID = SELF.publicKey.toPeerId(crypto)
const POINTS = [key(0x62), key(0x63)].map((k) => k.publicKey.toPeerId(crypto))
const OTHERS = [key(0x64), key(0x65), SELF]
const ADDR = Multiaddr.fromString('/ip4/11.0.0.9/tcp/4001')
const RECORDS = OTHERS.flatMap((k) => (['standard', 'rust-legacy'] as const).map((f) =>
  sealRendezvousRecord(k, { peerId: k.publicKey.toPeerId(crypto), seq: 3n, addrs: [ADDR, Multiaddr.fromString('/ip6/::1/udp/1/quic-v1')] }, crypto, f)))
// a record whose signer is not its peer id: a point relaying someone else's envelope under a wrong key
RECORDS.push(sealRendezvousRecord(OTHERS[0]!, { peerId: OTHERS[1]!.publicKey.toPeerId(crypto), seq: 1n, addrs: [ADDR] }, crypto))
const NAMESPACES = ['app', 'other', '']
const MAX_PAGE = 8
const LIMITS = { timeout: 1000, maxPending: 4, maxRegistrations: 2, retryInterval: 500 }

const ns = { text: (r: Rand) => r.pick([...NAMESPACES, 'x'.repeat(300)]) }
const REGISTER: Schema = { 1: ns, 2: { gen: (r: Rand) => (r.chance(0.85) ? r.pick(RECORDS) : r.bytes(r.size(60))) }, 3: { oneOf: [7200, 0, 1, 259200, 2 ** 32 - 1, 2 ** 53 - 1] } }
const STATUS = { oneOf: [0, 0, 0, 100, 101, 102, 103, 200, 300, 400, 7] }
const RESPONSE: Schema = {
  1: { oneOf: [1, 1, 4, 4, 4, 0, 2, 3, 9] },
  2: { msg: REGISTER },
  3: { msg: { 1: STATUS, 2: 'string', 3: { oneOf: [7200, 0, 1, 59, 2 ** 32 - 1, 2 ** 53 - 1] } } },
  6: { msg: { 1: { msg: REGISTER }, 2: { gen: (r: Rand) => r.bytes(r.chance(0.9) ? r.size(40) : 1 + r.int(4000)) }, 3: STATUS, 4: 'string' } },
}

const connInfo = (id: number): ConnectionInfo => ({
  id, peer: POINTS[id % 2]!, remotePublicKey: undefined as never,
  remoteAddr: ADDR, localAddr: undefined, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false,
})

const enum Op { Register, Unregister, Discover, Grant, Data, Eof, Reset, Closed, Advance, Reconnect, Cancel, StopAll }
const OPS = 12

const stats: Record<string, number> = {}

/** The point's answer: one framed Message (sometimes two, or raw bytes). */
function answer(r: Rand): Uint8Array {
  if (r.chance(0.05)) return r.bytes(r.size(60))
  if (r.chance(0.5)) { // a well-formed answer (status OK mostly): what a real point sends
    const status = r.chance(0.8) ? 0 : r.pick([100, 101, 102, 103, 200, 300, 400])
    if (r.chance(0.4)) return encodeRendezvousFrame({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status, ...(r.chance(0.7) ? { ttl: r.pick([7200, 0, 1, 2 ** 32 - 1]) } : {}) } } as never)
    const regs = Array.from({ length: r.chance(0.1) ? MAX_PAGE + 1 : r.int(4) }, () => ({ ns: r.pick(NAMESPACES), ...(r.chance(0.95) ? { signedPeerRecord: r.chance(0.9) ? r.pick(RECORDS) : r.bytes(r.size(40)) } : {}), ttl: r.pick([7200, 0, 2 ** 32 - 1]) }))
    return encodeRendezvousFrame({ type: MessageType.DISCOVER_RESPONSE, discoverResponse: { status, registrations: regs, ...(r.chance(0.7) ? { cookie: r.bytes(r.chance(0.9) ? r.size(40) : 1 + r.int(3000)) } : {}) } } as never)
  }
  const m = genMessage(r, RESPONSE)
  return r.chance(0.1) ? concatBytes([encodeLp(m), encodeLp(genMessage(r, RESPONSE))]) : encodeLp(m)
}

export const rendezvousClientTarget: Target = {
  name: 'rendezvous-client',
  stats,
  generate(r) {
    const w = new ProgramWriter().u8(1 + r.int(255)).u8(r.int(256))
    const ops: number[] = []
    const n = 1 + r.int(16)
    for (let i = 0; i < n; i++) {
      if (r.chance(0.3)) ops.push(Op.Register, Op.Grant, Op.Data)
      else if (r.chance(0.3)) ops.push(Op.Discover, Op.Grant, Op.Data)
      else ops.push(r.chance(0.25) ? Op.Data : r.int(OPS))
      if (r.chance(0.2)) ops.push(Op.Advance)
    }
    for (const op of ops) {
      w.op(op)
      if (op === Op.Data) {
        const a = answer(r)
        w.u8(r.chance(0.6) ? 255 : r.int(8)).blob(r.chance(0.4) ? a : mutate(r, a, [answer(r)], 2))
      } else if (op === Op.Advance) w.u16(r.chance(0.8) ? r.int(1500) : r.int(65536))
      else if (op === Op.Grant) w.u8(r.chance(0.85) ? 1 : r.int(256))
      else w.u8(r.int(256)).u8(r.int(256))
    }
    const prog = w.finish()
    return r.chance(0.1) ? mutateOnce(r, prog) : prog
  },
  run(input) {
    runClient(input)
  },
}

/** gone: cancelled (no event may follow); optional: superseded or started by the client itself (ends at most once, maybe never). */
interface Tracked { ended: number; gone: boolean; optional: boolean; kind: 'register' | 'unregister' | 'discover'; key: string }

function errorOk(e: Error): boolean {
  if (e instanceof ProtocolError) return e.protocol === 'rendezvous' && e.code.startsWith('rendezvous/')
  if (e instanceof OutcomeError) return e.code.startsWith('rendezvous/')
  return e instanceof UsageError && e.code === 'rendezvous/no-addresses'
}

function runClient(input: Uint8Array): void {
  crypto.reset()
  const p = new Program(input)
  const sched = p.u8()
  const flags = p.u8()
  const r = new Rand(sched)
  const auto = (flags & 1) !== 0
  const b = new RendezvousClientBehaviour({
    crypto, privateKey: SELF, peerId: SELF_ID, seqBase: 1n, ...LIMITS,
    recordFormat: (flags & 2) !== 0 ? 'rust-legacy' : 'standard',
    ...((flags & 4) !== 0 ? { addresses: [ADDR] } : {}),
    messageLimits: { maxRegistrations: MAX_PAGE, maxMessageSize: (flags & 8) !== 0 ? 2048 : 65536 },
    ...(auto ? { discovery: { points: POINTS.map((peer) => ({ peer, addrs: [ADDR] })), namespace: 'app', interval: 5000 } } : {}),
  })
  const h = new Harness<RendezvousClientEvent>(b)
  const step = bounded(100_000, 'rendezvous-client')
  let conn = 1
  let nextStream = 1
  const streams = new Map<string, { ref: StreamRef; writeClosed: boolean }>()
  /** Bytes the point sent on each stream the client opened for an operation: op id -> bytes. */
  const sent = new Map<number, Uint8Array[]>()
  const streamOp = new Map<string, number>()
  const msgLimits = { maxRegistrations: MAX_PAGE, maxMessageSize: (flags & 8) !== 0 ? 2048 : 65536 }
  /** The point's first message on an operation's stream, parsed independently of the client. */
  const firstMessage = (id: number): RendezvousMessage | undefined => {
    const d = new RendezvousDecoder(msgLimits)
    d.push(concatBytes(sent.get(id) ?? []))
    try { return d.next() } catch { return undefined }
  }
  const pendingOpens: Array<{ requestId: number; peer: string }> = []
  const ops = new Map<number, Tracked>()
  /** Keys (point/namespace) the point said OK to and the user did not unregister since. */
  const registered = new Set<string>()
  const regKey = (point: number, n: string): string => `${point}/${n}`
  const pointIndex = (s: string): number => POINTS.findIndex((x) => x.toString() === s)

  const take = (actions: readonly BehaviourAction<RendezvousClientEvent>[]): void => {
    for (const a of actions) {
      step()
      count(stats, a.type === 'event' ? `event ${a.event.type}` : a.type)
      if (a.type === 'open-stream') {
        check(a.protocols.length === 1 && a.protocols[0] === RENDEZVOUS_PROTOCOL, 'open-stream for another protocol')
        pendingOpens.push({ requestId: a.requestId, peer: a.peer.toString() })
        // an operation the client started on its own (refresh, periodic discovery): commands are tracked before their drain
        if (!ops.has(a.requestId)) ops.set(a.requestId, { ended: 0, gone: false, optional: true, kind: 'register', key: '?' })
        continue
      }
      if (a.type === 'write' || a.type === 'close-write' || a.type === 'reset') {
        const s = streams.get(streamKey(a.stream))
        check(s !== undefined, `${a.type} on stream ${streamKey(a.stream)} the client does not hold`)
        check(a.type === 'reset' || !s.writeClosed, `${a.type} after close-write`)
        if (a.type === 'close-write') s.writeClosed = true
        if (a.type === 'reset') streams.delete(streamKey(a.stream))
        continue
      }
      if (a.type !== 'event') continue
      const e = a.event
      if (e.type === 'register-failed' || e.type === 'discover-failed' || e.type === 'unregister-failed') {
        count(stats, `${e.type} ${(e.error as { code?: string }).code}`)
        check(errorOk(e.error), `${e.type} with ${e.error.name} ${(e.error as { code?: string }).code}: ${e.error.message}`)
      }
      if (e.type === 'discovered') {
        check(e.registrations.length + e.invalid <= MAX_PAGE, `a discovered page of ${e.registrations.length} + ${e.invalid} invalid`)
        const m = firstMessage(e.requestId)
        {
          check(m?.type === MessageType.DISCOVER_RESPONSE, 'discovered without a DISCOVER_RESPONSE from the point')
          const d = m.discoverResponse
          check(d.status === 0, `discovered from a response with status ${d.status}`)
          check(e.registrations.length + e.invalid === d.registrations.length, `discovered ${e.registrations.length} + ${e.invalid} invalid of ${d.registrations.length}`)
          check((e.cookie === undefined) === (d.cookie === undefined) && (e.cookie === undefined || equals(e.cookie, d.cookie!)), 'discovered cookie differs from the point\'s')
        }
        // only genuine records (seq 3, signed by their peer) are accepted; the mis-signed one (seq 1) never
        for (const x of e.registrations) check(x.seq === 3n, `a discovered record with seq ${x.seq}: a record not signed by its peer was accepted`)
      }
      if (e.type === 'registered') {
        registered.add(regKey(pointIndex(e.point.toString()), e.namespace))
        const m = firstMessage(e.requestId)
        check(m?.type === MessageType.REGISTER_RESPONSE && m.registerResponse.status === 0, 'registered without an OK REGISTER_RESPONSE')
        check(e.ttl === (m.registerResponse.ttl ?? 7200), `registered with ttl ${e.ttl}, the point said ${m.registerResponse.ttl}`)
      }
      if (e.requestId === 0) { check(e.type === 'register-failed' && e.refresh, `${e.type} with request id 0`); continue }
      const t = ops.get(e.requestId)
      if (t === undefined) {
        // an operation the client started on its own (refresh, periodic discovery)
        const kind = e.type.startsWith('register') ? 'register' : e.type.startsWith('discover') ? 'discover' : 'unregister'
        check(kind !== 'unregister', `${e.type} for an operation never started`)
        ops.set(e.requestId, { ended: 1, gone: false, optional: true, kind, key: 'namespace' in e ? regKey(pointIndex(e.point.toString()), e.namespace) : '' })
        continue
      }
      check(!t.gone, `${e.type} for operation ${e.requestId} after it was cancelled or superseded`)
      check(t.ended === 0, `operation ${e.requestId} ended twice (${e.type})`)
      t.ended = 1
    }
    const f = b.inFlight
    check(f.operations <= LIMITS.maxPending, `${f.operations} operations in flight, maxPending ${LIMITS.maxPending}`)
    check(f.registrations <= LIMITS.maxRegistrations, `${f.registrations} registrations, maxRegistrations ${LIMITS.maxRegistrations}`)
  }
  /**
   * A register or unregister supersedes the registration's operation in flight (reset, no event);
   * whether one is in flight depends on state the driver does not model (stopAll, failures), so
   * such an operation may end or not, at most once. Refreshes of the key (key '?') likewise.
   */
  const supersede = (k: string): void => {
    for (const t of ops.values()) if (t.kind === 'register' && (t.key === k || t.key === '?') && t.ended === 0) t.optional = true
  }
  const track = (id: number, kind: Tracked['kind'], k: string): void => {
    // request ids of operations the client started on its own are learned from their open-stream
    ops.set(id, { ended: 0, gone: false, optional: false, kind, key: k })
  }
  const pick = (i: number): { ref: StreamRef; writeClosed: boolean } | undefined => {
    const xs = [...streams.values()]
    return xs.length === 0 ? undefined : i === 255 ? xs[xs.length - 1] : xs[i % xs.length]
  }

  take(h.input({ type: 'local-info', listenAddrs: (flags & 16) !== 0 ? [] : [ADDR, Multiaddr.fromString('/ip4/0.0.0.0/tcp/1')], protocols: [] }))
  take(h.input({ type: 'connection-established', connection: connInfo(conn) }))
  take(h.advance(0))
  for (let i = 0; !p.done && i < 64; i++) {
    const op = p.u8() % OPS
    switch (op) {
      case Op.Register: {
        const a = p.u8()
        const c = p.u8()
        const pt = a % 2
        const n = NAMESPACES[(a >> 1) % 3]!
        const k = regKey(pt, n)
        try {
          const before = new Set(ops.keys())
          supersede(k)
          const full = b.inFlight.operations >= LIMITS.maxPending // fails at once, leaving the registration as it was
          const id = b.register(h.now, POINTS[pt]!, n, c % 3 === 0 ? {} : { ttl: 1 + c })
          check(!before.has(id) || ops.get(id)!.ended === 1, `register returned id ${id} of an operation in flight`)
          track(id, 'register', k)
          // the new REGISTER decides: kept if the point accepts it, dropped if it fails or is cancelled
          if (!full) registered.delete(k)
        } catch (e) {
          if (!(e instanceof UsageError && (e.code === 'rendezvous/too-many-registrations' || e.code === 'rendezvous/no-addresses'))) throw e
          count(stats, `register ${e.code}`)
        }
        take(h.drain())
        break
      }
      case Op.Unregister: {
        const a = p.u8()
        p.u8()
        const pt = a % 2
        const n = NAMESPACES[(a >> 1) % 3]!
        supersede(regKey(pt, n))
        registered.delete(regKey(pt, n))
        track(b.unregister(h.now, POINTS[pt]!, n), 'unregister', regKey(pt, n))
        take(h.drain())
        break
      }
      case Op.Discover: {
        const a = p.u8()
        const c = p.u8()
        const opts = { ...(a % 4 === 0 ? {} : { namespace: NAMESPACES[a % 3]! }), ...(c % 3 === 0 ? { limit: c } : {}), ...(c % 5 === 0 ? { cookie: r.bytes(c % 40) } : {}) }
        track(b.discover(h.now, POINTS[a % 2]!, opts), 'discover', '')
        take(h.drain())
        break
      }
      case Op.Grant: {
        const g = p.u8()
        const req = g % 2 === 1 ? pendingOpens.pop() : pendingOpens.shift()
        if (req === undefined) break
        if (g % 8 === 0) take(h.input({ type: 'stream-open-failed', requestId: req.requestId, error: new Error('refused') }))
        else {
          const ref = { connection: conn, stream: nextStream++ }
          streams.set(streamKey(ref), { ref, writeClosed: false })
          streamOp.set(streamKey(ref), req.requestId)
          take(h.input({ type: 'stream-opened', stream: ref, protocol: g % 16 === 3 ? '/other/1' : RENDEZVOUS_PROTOCOL, direction: 'outbound', connection: connInfo(conn), requestId: req.requestId }))
        }
        break
      }
      case Op.Data: {
        const s = pick(p.u8())
        const blob = p.blob()
        if (s === undefined) break
        deliver(blob, sched, r, (piece) => {
          if (!streams.has(streamKey(s.ref))) return false
          const id = streamOp.get(streamKey(s.ref))
          if (id !== undefined) { const xs = sent.get(id) ?? []; xs.push(piece.slice()); sent.set(id, xs) }
          take(h.input({ type: 'stream-data', stream: s.ref, data: piece.slice() }))
          return true
        })
        break
      }
      case Op.Eof: { const s = pick(p.u8()); p.u8(); if (s !== undefined) take(h.input({ type: 'stream-eof', stream: s.ref })); break }
      case Op.Reset: case Op.Closed: {
        const s = pick(p.u8())
        p.u8()
        if (s === undefined) break
        streams.delete(streamKey(s.ref))
        take(h.input(op === Op.Reset ? { type: 'stream-reset', stream: s.ref } : { type: 'stream-closed', stream: s.ref }))
        break
      }
      case Op.Advance: take(h.advance(p.u16())); break
      case Op.Reconnect: p.u8(); p.u8(); closeConnection(); conn++; take(h.input({ type: 'connection-established', connection: connInfo(conn) })); break
      case Op.Cancel: {
        const k = p.u8()
        p.u8()
        const live = [...ops.entries()].filter(([, t]) => t.ended === 0 && !t.gone)
        if (live.length === 0) break
        const [id, t] = live[k % live.length]!
        b.cancel(h.now, id)
        t.gone = true
        take(h.drain())
        break
      }
      default: p.u8(); p.u8(); b.stopAll(); registered.clear(); take(h.drain())
    }
  }

  function closeConnection(): void {
    for (const s of [...streams.values()]) if (s.ref.connection === conn) streams.delete(streamKey(s.ref))
    take(h.input({ type: 'connection-closed', connection: connInfo(conn) }))
    for (const o of pendingOpens.splice(0)) take(h.input({ type: 'stream-open-failed', requestId: o.requestId, error: Object.assign(new Error('closed'), { code: 'swarm/connection-closed' }) }))
  }

  // The end: the connection goes, every deadline passes: a registration left is one the point accepted
  // (a cancelled, refused or failed first REGISTER is not kept); then stop, and everything must be over.
  closeConnection()
  take(h.advance(LIMITS.timeout + 1))
  if (!auto) check(b.inFlight.registrations <= registered.size, `${b.inFlight.registrations} registrations kept, the point accepted ${registered.size}`)
  b.stopAll()
  take(h.advance(LIMITS.timeout + 1))
  check(b.inFlight.operations === 0 && b.inFlight.registrations === 0, `in flight at the end: ${JSON.stringify(b.inFlight)}`)
  check(b.pollTimeout() === undefined, `a timeout is left at the end: ${b.pollTimeout()}`)
  for (const [id, t] of ops) check(t.ended === 1 || t.gone || t.optional, `operation ${id} (${t.kind}) never ended`)
}
