/**
 * Targets for the byte-stream cores: multistream-select (dialer and listener), the Noise channel
 * (handshake and transport, with fixed keys), and a yamux session driven by remote frames interleaved
 * with local operations, checked against a small model.
 */
import { UsageError } from '../../src/core/errors.js'
import { MultistreamDialer, MultistreamListener, encodeMessage, PROTOCOL_ID, NA, LS } from '../../src/multistream/index.js'
import { NoiseConnection } from '../../src/noise/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import { YamuxSession, encodeFrame, FrameType, Flag, CONTROL_QUEUE_LIMIT } from '../../src/yamux/index.js'
import { bounded, check, type Target } from './engine.js'
import { LIES, Program, ProgramWriter, concatBytes, deliver, mutate, mutateOnce } from './mutate.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'

// ---- multistream -------------------------------------------------------------------------------

const PROTOS = ['/echo/1.0.0', '/ipfs/id/1.0.0', '/yamux/1.0.0', '/noise', '/x']

export const multistreamTarget: Target = {
  name: 'multistream',
  generate(r) {
    const msgs: Uint8Array[] = []
    if (r.chance(0.9)) msgs.push(encodeMessage(PROTOCOL_ID))
    const n = r.int(8)
    for (let i = 0; i < n; i++) {
      const k = r.int(10)
      if (k < 4) msgs.push(encodeMessage(r.pick(PROTOS)))
      else if (k === 4) msgs.push(encodeMessage(NA))
      else if (k === 5) msgs.push(encodeMessage(LS))
      else if (k === 6) msgs.push(encodeMessage(PROTOCOL_ID))
      else if (k === 7) msgs.push(encodeMessage(r.text(r.size(1100), 'abc/\n.')))
      else if (k === 8) msgs.push(r.bytes(r.size(64)))
      else msgs.push(encodeMessage(concatBytes(PROTOS.slice(0, r.int(5)).map((p) => encodeMessage(p)))))
    }
    return concatBytes([Uint8Array.of(r.int(256), r.int(256)), mutate(r, concatBytes(msgs), msgs)])
  },
  run(input) {
    const mode = input[0] ?? 0
    const schedule = input[1] ?? 0
    const data = input.subarray(2)
    const role = mode & 3
    const proposals = PROTOS.slice(0, 1 + ((mode >> 2) & 3))
    const core = role === 0
      ? new MultistreamListener({ protocols: (p) => PROTOS.includes(p) || p.startsWith('/x'), maxProposals: 4 })
      : new MultistreamDialer({ protocols: role === 3 ? [proposals[0]!] : proposals, optimistic: role === 3, awaitHeader: role === 2 })
    const step = bounded(100_000, 'multistream')
    let handedOver = false
    const drain = (): void => {
      for (let b = core.pollTransmit(1 << 16); b !== undefined; b = core.pollTransmit(1 << 16)) step()
      for (let ev = core.pollEvent(); ev !== undefined; ev = core.pollEvent()) {
        step()
        if (ev.type === 'negotiated') {
          if (role === 0) check(PROTOS.includes(ev.protocol) || ev.protocol.startsWith('/x'), `listener agreed to ${ev.protocol}`)
          else check(proposals.includes(ev.protocol), `dialer agreed to ${ev.protocol} it never proposed`)
          if (role !== 3) { core.takeRemainder(); handedOver = true }
        }
      }
    }
    drain()
    deliver(data, schedule, new Rand(schedule), (piece) => {
      if (handedOver || !core.wantsData()) return false
      core.handleData(0, piece)
      drain()
      return true
    })
    if (!handedOver) { core.handleEof(0); drain() }
  },
}

// ---- noise ---------------------------------------------------------------------------------------

const noiseCrypto = fuzzCrypto()
const VICTIM_ID = privateKeyFromSeed(new Uint8Array(32).fill(0x11), noiseCrypto)
const ATTACKER_ID = privateKeyFromSeed(new Uint8Array(32).fill(0x22), noiseCrypto)
const ATTACKER_PEER = ATTACKER_ID.publicKey.toPeerId(noiseCrypto)

/** The attacker's plaintext stream, byte `offset` on (the victim's oracle: nothing else may come out). */
function pattern(offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = ((offset + i) * 7 + ((offset + i) >>> 8) * 13 + 3) & 0xff
  return out
}

function newNoise(role: 'initiator' | 'responder', victim: boolean): NoiseConnection {
  return new NoiseConnection({
    role, crypto: noiseCrypto, identity: victim ? VICTIM_ID : ATTACKER_ID,
    staticKey: new Uint8Array(32).fill(victim ? 0x33 : 0x44), ephemeralKey: new Uint8Array(32).fill(victim ? 0x55 : 0x66),
    streamMuxers: victim ? ['/yamux/1.0.0'] : [],
    maxBufferedData: 256 * 1024,
  })
}

/**
 * Wire bytes a real attacker sends to a fresh victim (fixed keys make them valid for any fresh victim),
 * frame by frame: the handshake messages, then transport frames carrying `pattern(k, n)`.
 */
function attackerFrames(victimRole: 'initiator' | 'responder', sizes: number[]): Uint8Array[] {
  const victim = newNoise(victimRole, true)
  const attacker = newNoise(victimRole === 'initiator' ? 'responder' : 'initiator', false)
  const frames: Uint8Array[] = []
  const step = bounded(100, 'noise handshake')
  while (!attacker.isEstablished || !victim.isEstablished) {
    step()
    for (let b = victim.pollTransmit(1 << 20); b !== undefined; b = victim.pollTransmit(1 << 20)) attacker.handleData(0, b)
    for (let b = attacker.pollTransmit(1 << 20); b !== undefined; b = attacker.pollTransmit(1 << 20)) { frames.push(b.slice()); victim.handleData(0, b) }
  }
  let offset = 0
  sizes.forEach((n) => {
    attacker.write(pattern(offset, n))
    offset += n
    const parts: Uint8Array[] = []
    for (let b = attacker.pollTransmit(1 << 20); b !== undefined; b = attacker.pollTransmit(1 << 20)) parts.push(b.slice())
    frames.push(concatBytes(parts))
  })
  return frames
}

export const noiseTarget: Target = {
  name: 'noise',
  generate(r) {
    noiseCrypto.reset()
    const victimRole = r.chance(0.5) ? 'initiator' : 'responder'
    const sizes = Array.from({ length: r.int(5) }, () => r.chance(0.03) ? r.range(65519, 70000) : r.size(2000))
    const frames = attackerFrames(victimRole, sizes)
    const out = frames.map((f) => (r.chance(0.15) ? mutateOnce(r, f, frames) : f))
    if (r.chance(0.1)) out.splice(r.int(out.length + 1), 0, r.bytes(r.size(300))) // a frame out of nowhere
    if (r.chance(0.1) && out.length > 1) { const i = r.int(out.length - 1); [out[i], out[i + 1]] = [out[i + 1]!, out[i]!] } // reordered
    if (r.chance(0.1)) out.length = r.int(out.length + 1) // EOF early
    return concatBytes([Uint8Array.of(victimRole === 'initiator' ? 1 : 0, r.int(256)), ...out])
  },
  run(input) {
    noiseCrypto.reset()
    const victim = newNoise((input[0] ?? 0) & 1 ? 'initiator' : 'responder', true)
    const schedule = input[1] ?? 0
    let offset = 0
    const step = bounded(1_000_000, 'noise')
    const drain = (): void => {
      for (let b = victim.pollTransmit(1 << 20); b !== undefined; b = victim.pollTransmit(1 << 20)) step()
      for (let ev = victim.pollEvent(); ev !== undefined; ev = victim.pollEvent()) {
        step()
        if (ev.type === 'handshake-complete') check(ev.remotePeer.equals(ATTACKER_PEER), `handshake completed with ${ev.remotePeer.toString()}, not the attacker`)
        if (ev.type === 'data') {
          // every delivered plaintext is the attacker's authenticated stream, in order, nothing else
          const want = pattern(offset, ev.data.length)
          for (let i = 0; i < want.length; i++) check(ev.data[i] === want[i], `noise delivered unauthenticated bytes at offset ${offset + i}`)
          offset += ev.data.length
        }
      }
      check(victim.bufferedInput <= 2 + 65535, `noise buffers ${victim.bufferedInput} input bytes`)
    }
    drain()
    deliver(input.subarray(2), schedule, new Rand(schedule), (piece) => {
      if (!victim.wantsData()) return false
      victim.handleData(0, piece)
      drain()
      return true
    })
    victim.handleEof(0)
    drain()
  },
}

// ---- yamux -----------------------------------------------------------------------------------------

const YAMUX_LIMITS = { maxStreams: 8, ackBacklog: 4, sendQueueLimit: 64 * 1024, maxWindow: 1024 * 1024, keepAliveInterval: 1000 }

/** A plausible sequence of yamux frames: valid frames, in any order, some with lying fields. */
export function genYamuxFrames(r: Rand, payload?: (r: Rand) => Uint8Array): Uint8Array {
  const frames: Uint8Array[] = []
  const n = 1 + r.int(8)
  const ids = [1, 2, 3, 4, 5, 0, 2 ** 31, 2 ** 32 - 1]
  for (let i = 0; i < n; i++) {
    const type = r.chance(0.9) ? r.pick([0, 0, 0, 1, 1, 2, 3]) : r.int(256)
    const flags = r.chance(0.9) ? r.pick([0, Flag.SYN, Flag.ACK, Flag.FIN, Flag.RST, Flag.SYN | Flag.FIN, Flag.SYN | Flag.RST, Flag.ACK | Flag.FIN]) : r.int(0x10000)
    const streamId = type === FrameType.Ping || type === FrameType.GoAway ? (r.chance(0.9) ? 0 : r.pick(ids)) : r.pick(ids.slice(0, r.chance(0.9) ? 5 : 8))
    if (type === FrameType.Data) {
      const body = payload !== undefined && r.chance(0.7) ? payload(r) : r.bytes(r.size(r.chance(0.05) ? 300_000 : 2048))
      const length = r.chance(0.9) ? body.length : r.pick(LIES)
      frames.push(concatBytes([encodeFrame({ type, flags, streamId, length: length >>> 0 }), body]))
    } else {
      frames.push(encodeFrame({ type: type & 0xff, flags, streamId, length: r.chance(0.5) ? r.pick(LIES) >>> 0 : r.int(2 ** 32) }, undefined))
    }
    if (r.chance(0.02)) frames[frames.length - 1]![0] = r.int(3) // version
  }
  return mutate(r, concatBytes(frames), frames, 2)
}

/**
 * Streams as a well-behaved remote would open them (SYN with the first bytes, more data, window
 * updates, FIN or RST), several interleaved, then sometimes reordered or cut: valid frames in valid
 * and invalid orders (a RST in the same read as its SYN, data after FIN, a second SYN).
 */
export function genStreamScript(r: Rand, firstId: number, payload: (r: Rand) => Uint8Array): Uint8Array {
  const frames: Uint8Array[] = []
  const n = 1 + r.int(3)
  for (let k = 0; k < n; k++) {
    const id = firstId + 2 * r.int(6)
    const body = payload(r)
    frames.push(concatBytes([encodeFrame({ type: FrameType.Data, flags: Flag.SYN, streamId: id, length: body.length }), body]))
    for (let j = r.int(3); j > 0; j--) {
      const more = payload(r)
      frames.push(concatBytes([encodeFrame({ type: FrameType.Data, flags: 0, streamId: id, length: more.length }), more]))
    }
    if (r.chance(0.3)) frames.push(encodeFrame({ type: FrameType.WindowUpdate, flags: 0, streamId: id, length: r.pick([0, 1, 65536, 2 ** 31]) }))
    const end = r.int(4)
    if (end === 0) frames.push(encodeFrame({ type: FrameType.Data, flags: Flag.FIN, streamId: id, length: 0 }))
    else if (end === 1) frames.push(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: id, length: 0 }))
    else if (end === 2) frames.push(encodeFrame({ type: FrameType.Data, flags: Flag.FIN | Flag.RST, streamId: id, length: 0 }))
  }
  if (r.chance(0.2)) { const i = r.int(frames.length); const j = r.int(frames.length); [frames[i], frames[j]] = [frames[j]!, frames[i]!] }
  if (r.chance(0.1)) frames.push(frames[r.int(frames.length)]!)
  const out = concatBytes(frames)
  return r.chance(0.2) ? mutateOnce(r, out, frames) : out
}

const enum YOp { Frames, Open, Write, CloseWrite, Reset, Consume, Advance, Eof, Ping, Close, Stall }

export const yamuxTarget: Target = {
  name: 'yamux',
  generate(r) {
    const role = r.int(256)
    const w = new ProgramWriter().u8(role).u8(r.int(256))
    const n = 1 + r.int(12)
    for (let i = 0; i < n; i++) {
      const op = r.chance(0.45) ? YOp.Frames : r.int(11)
      w.op(op)
      if (op === YOp.Frames) w.blob(r.chance(0.5) ? genStreamScript(r, role & 1 ? 2 : 1, (q) => q.bytes(q.size(q.chance(0.05) ? 300_000 : 1024))) : genYamuxFrames(r))
      else if (op === YOp.Write) w.u8(r.int(8)).u16(r.chance(0.2) ? 65535 : r.int(3000))
      else if (op === YOp.Consume) w.u8(r.int(8)).u16(r.int(65536))
      else if (op === YOp.Advance) w.u16(r.int(20_000))
      else if (op === YOp.CloseWrite || op === YOp.Reset) w.u8(r.int(8))
    }
    const prog = w.finish()
    return r.chance(0.2) ? mutateOnce(r, prog) : prog
  },
  // local misuse in an operation the program asked for (a write on a stream it already closed)
  allowed: () => false,
  run(input) {
    const p = new Program(input)
    const role = p.u8() & 1 ? 'client' : 'server'
    const schedule = p.u8()
    const y = new YamuxSession({ role, ...YAMUX_LIMITS })
    const r = new Rand(schedule)
    let now = 0
    let stalled = false
    const streams: number[] = []
    const closed = new Set<number>()
    const eof = new Set<number>()
    const unconsumed = new Map<number, number>()
    const step = bounded(1_000_000, 'yamux')
    let sessionClosed = false
    const drain = (): void => {
      if (!stalled) for (let b = y.pollTransmit(1 << 20); b !== undefined; b = y.pollTransmit(1 << 20)) step()
      for (let ev = y.pollEvent(); ev !== undefined; ev = y.pollEvent()) {
        step()
        check(!sessionClosed, `yamux event ${ev.type} after closed`)
        if ('id' in ev) check(!closed.has(ev.id) || ev.type === 'stream-inbound', `yamux ${ev.type} for stream ${ev.id} after stream-closed`)
        switch (ev.type) {
          case 'stream-inbound':
            closed.delete(ev.id)
            if (r.chance(0.8)) { y.accept(ev.id); streams.push(ev.id) } else y.reset(ev.id)
            break
          case 'stream-data': {
            check(!eof.has(ev.id), `yamux data after FIN on stream ${ev.id}`)
            const u = (unconsumed.get(ev.id) ?? 0) + ev.data.length
            unconsumed.set(ev.id, u)
            check(u <= YAMUX_LIMITS.maxWindow, `yamux holds ${u} unconsumed bytes on stream ${ev.id} > maxWindow`)
            break
          }
          case 'stream-eof': eof.add(ev.id); break
          case 'stream-closed': closed.add(ev.id); unconsumed.delete(ev.id); eof.delete(ev.id); break
          case 'closed':
            check(ev.error === undefined || ev.error.name === 'ProtocolError', `yamux closed with ${String(ev.error)}`)
            sessionClosed = true
            break
          default:
        }
      }
      check(y.streamCount() <= YAMUX_LIMITS.maxStreams, `yamux holds ${y.streamCount()} streams > maxStreams`)
      check(y.queuedBytes <= YAMUX_LIMITS.sendQueueLimit + CONTROL_QUEUE_LIMIT + 4 * 65536 + 12, `yamux queues ${y.queuedBytes} bytes`)
    }
    const local = (f: () => void): void => {
      try { f() } catch (e) { if (!(e instanceof UsageError)) throw e }
      drain()
    }
    const pick = (i: number): number | undefined => (streams.length === 0 ? undefined : streams[i % streams.length])
    for (let i = 0; !p.done && i < 64; i++) {
      const op = p.u8() % 11
      if (sessionClosed && op !== YOp.Advance) break
      switch (op) {
        case YOp.Frames: {
          const blob = p.blob()
          let failed = false
          deliver(blob, schedule, r, (piece) => {
            if (!y.wantsData() || sessionClosed) return false
            try { y.handleData(now, piece) } catch (e) { failed = true; throw e }
            drain()
            return true
          })
          if (failed) return
          break
        }
        case YOp.Open: local(() => { streams.push(y.openStream(now)) }); break
        case YOp.Write: { const id = pick(p.u8()); const n = p.u16(); if (id !== undefined) local(() => { y.write(id, new Uint8Array(n)) }); break }
        case YOp.CloseWrite: { const id = pick(p.u8()); if (id !== undefined) local(() => y.closeWrite(id)); break }
        case YOp.Reset: { const id = pick(p.u8()); if (id !== undefined) local(() => y.reset(id)); break }
        case YOp.Consume: {
          const id = pick(p.u8()); const n = p.u16()
          if (id !== undefined) {
            const c = Math.min(n, unconsumed.get(id) ?? 0)
            if (c > 0) { unconsumed.set(id, (unconsumed.get(id) ?? 0) - c); local(() => y.consume(id, c, now)) }
          }
          break
        }
        case YOp.Advance: {
          now += p.u16()
          const t = y.pollTimeout()
          if (t !== undefined && now >= t) local(() => y.handleTimeout(now))
          break
        }
        case YOp.Eof: local(() => y.handleEof(now)); return
        case YOp.Ping: local(() => y.ping(now)); break
        case YOp.Close: local(() => y.close(now)); break
        default: stalled = !stalled; drain()
      }
    }
  },
}
