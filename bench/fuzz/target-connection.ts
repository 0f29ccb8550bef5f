/**
 * The `connection` target: a live, upgraded connection into a whole node core (a Swarm serving ping,
 * identify, Kademlia, gossipsub and a user protocol), attacked by a peer that completed the real
 * upgrade (multistream /noise, Noise XX, early or multistream muxer negotiation) with FIXED keys.
 *
 * Fixed keys (the deterministic crypto provider of crypto.ts; the victim's Noise keys come from its
 * seeded randomBytes) make the handshake and the session keys the same for every input, so the
 * attacker encrypts each mutated plaintext with the real session keys: the bytes pass Noise
 * authentication and reach yamux, multistream-select on every stream and every protocol behind it
 * (audit finding 10, smoldot's raw-connection fuzz). Raw (unencrypted) and tampered ciphertext is
 * sent too, and local operations (open, write, close, reset, consume, hang up) are interleaved with
 * the remote frames.
 *
 * Escapes: an exception out of any Swarm method, a swarm `error` event (a bug contained by the
 * runtime boundary is still a bug), a connection closed with an error that is not a ProtocolError
 * (or the ConnectionClosedError { by: 'remote' } of the attacker's own GoAway code) or with a stream's own error (a multistream failure on one stream),
 * the attacker's Noise rejecting what the victim sent, and the step bound.
 */
import { UsageError } from '../../src/core/errors.js'
import { encodeLp } from '../../src/core/lp.js'
import { Multiaddr } from '../../src/multiaddr/index.js'
import { MultistreamDialer, MultistreamListener, encodeMessage, PROTOCOL_ID } from '../../src/multistream/index.js'
import { NoiseConnection } from '../../src/noise/index.js'
import { privateKeyFromSeed } from '../../src/peer-id/index.js'
import { Swarm } from '../../src/swarm/index.js'
import type { StreamRef } from '../../src/swarm/behaviour.js'
import { PingBehaviour } from '../../src/ping/index.js'
import { IdentifyBehaviour, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL } from '../../src/identify/index.js'
import { KadBehaviour, KAD_PROTOCOL } from '../../src/kad/index.js'
import { GossipsubBehaviour } from '../../src/gossipsub/index.js'
import { bounded, check, count, type Target } from './engine.js'
import { Program, ProgramWriter, concatBytes, deliver, mutateOnce } from './mutate.js'
import { genMessage } from './pbgen.js'
import { Rand } from './rng.js'
import { fuzzCrypto } from './crypto.js'
import { genStreamScript, genYamuxFrames } from './targets-stream.js'
import { GOSSIP_SCHEMA, IDENTIFY_SCHEMA, KAD_SCHEMA } from './targets-behaviour.js'

const crypto = fuzzCrypto()
const VICTIM = privateKeyFromSeed(new Uint8Array(32).fill(0x71), crypto)
const ATTACKER = privateKeyFromSeed(new Uint8Array(32).fill(0x72), crypto)
const ATTACKER_PEER = ATTACKER.publicKey.toPeerId(crypto)
const ECHO = '/echo/1.0.0'
const GOSSIP = '/meshsub/1.1.0'
const SERVED = [ECHO, '/ipfs/ping/1.0.0', IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, KAD_PROTOCOL, GOSSIP]
const REMOTE_ADDR = Multiaddr.fromString('/ip4/10.1.2.3/tcp/4001')
const LOCAL_ADDR = Multiaddr.fromString('/ip4/10.0.0.1/tcp/4001')

/** What a stream opened by the attacker carries: negotiation, then protocol bytes. */
function streamPayload(r: Rand): Uint8Array {
  const k = r.int(8)
  const proto = r.pick(SERVED)
  const head = r.chance(0.8) ? concatBytes([encodeMessage(PROTOCOL_ID), encodeMessage(r.chance(0.95) ? proto : '/nope/1.0.0')]) : new Uint8Array(0)
  let body: Uint8Array
  if (proto === KAD_PROTOCOL || k === 0) body = encodeLp(genMessage(r, KAD_SCHEMA))
  else if (proto === GOSSIP || k === 1) body = encodeLp(genMessage(r, GOSSIP_SCHEMA))
  else if (proto === IDENTIFY_PUSH_PROTOCOL || k === 2) body = encodeLp(genMessage(r, IDENTIFY_SCHEMA))
  else body = r.bytes(r.chance(0.5) ? 32 : r.size(4096))
  const out = concatBytes([head, r.chance(0.8) ? body : new Uint8Array(0)])
  return r.chance(0.2) ? mutateOnce(r, out) : out
}

/** Errors that belong to one stream (spec/connection.md): seeing one close the connection is an escape. */
const STREAM_ONLY = ['connection/protocol-rejected', 'connection/stream-negotiation-timeout', 'connection/too-many-negotiating-streams']

/** Mode bit: the victim dials the attacker (outbound connection) instead of accepting it. */
const OUTBOUND = 0x10
const DIAL_ADDR = Multiaddr.fromString(`/ip4/10.1.2.3/tcp/4001/p2p/${ATTACKER_PEER.toString()}`)

/** The victim dials the attacker's address; the transport connects at once. */
function dialAttacker(swarm: Swarm, now: number): number | undefined {
  swarm.dial(now, DIAL_ADDR, 1)
  let id: number | undefined
  for (let io = swarm.pollIo(); io !== undefined; io = swarm.pollIo()) if (io.type === 'connect') id = io.connection
  if (id !== undefined) swarm.handleConnected(now, id, LOCAL_ADDR)
  return id
}

const enum COp { Frames, Tamper, Raw, Open, Write, CloseWrite, Reset, Consume, Advance, Eof, HangUp }
const OPS = 11

const stats: Record<string, number> = {}

export const connectionTarget: Target = {
  name: 'connection',
  stats,
  generate(r) {
    const mode = r.int(256)
    const w = new ProgramWriter().u8(mode).u8(r.int(256))
    const n = 1 + r.int(10)
    for (let i = 0; i < n; i++) {
      const op = r.chance(0.6) ? COp.Frames : r.int(OPS)
      w.op(op)
      if (op === COp.Frames) w.blob(r.chance(0.6) ? genStreamScript(r, mode & OUTBOUND ? 2 : 1, streamPayload) : genYamuxFrames(r, streamPayload))
      else if (op === COp.Tamper || op === COp.Raw) w.blob(r.bytes(r.size(200)))
      else if (op === COp.Write) w.u8(r.int(8)).u16(r.int(70_000))
      else if (op === COp.Consume) w.u8(r.int(8)).u16(r.int(65536))
      else if (op === COp.Advance) w.u16(r.chance(0.7) ? r.int(3000) : r.int(65536))
      else w.u8(r.int(8))
    }
    const prog = w.finish()
    return r.chance(0.1) ? mutateOnce(r, prog) : prog
  },
  run(input) {
    crypto.reset()
    const p = new Program(input)
    const mode = p.u8()
    const schedule = p.u8()
    const r = new Rand(schedule)
    const early = (mode & 1) === 0
    const outbound = (mode & OUTBOUND) !== 0
    const random = (n: number): Uint8Array => crypto.randomBytes(n)
    const peerId = VICTIM.publicKey.toPeerId(crypto)
    const swarm = new Swarm({
      ping: new PingBehaviour({ random }),
      identify: new IdentifyBehaviour({ crypto, identity: VICTIM, agentVersion: 'fuzz/1' }),
      kad: new KadBehaviour({ crypto, random, peerId, mode: 'server' }),
      gossipsub: new GossipsubBehaviour({ random, crypto, privateKey: VICTIM }),
    }, { crypto, identity: VICTIM, connection: { maxNegotiatingStreams: 8, yamux: { maxStreams: 16, ackBacklog: 8 } } })
    let now = 0
    swarm.start(now)
    swarm.handle(now, ECHO)
    swarm.behaviours.gossipsub.subscribe(now, 't')
    swarm.setListenAddrs(now, [LOCAL_ADDR])
    const id = outbound ? dialAttacker(swarm, now) : swarm.handleInbound(now, REMOTE_ADDR, LOCAL_ADDR)
    check(id !== undefined, 'connection refused')

    // the attacker: multistream /noise (as dialer, or as listener when the victim dialed), Noise XX
    // (initiator / responder), then without early muxer negotiation /multistream/1.0.0 and
    // /yamux/1.0.0 as its first plaintext (a lazy proposal, or the listener's answer: the same bytes)
    const ms = outbound ? new MultistreamListener({ protocols: ['/noise'] }) : new MultistreamDialer({ protocols: ['/noise'] })
    const noise = new NoiseConnection({
      role: outbound ? 'responder' : 'initiator', crypto, identity: ATTACKER, staticKey: new Uint8Array(32).fill(0x73), ephemeralKey: new Uint8Array(32).fill(0x74),
      streamMuxers: early ? ['/yamux/1.0.0'] : [],
    })
    let secure = false
    let gone = false
    const step = bounded(5_000_000, 'connection')
    const userStreams: StreamRef[] = []
    const unconsumed = new Map<string, number>()
    const key = (s: StreamRef): string => `${s.connection}/${s.stream}`

    const toVictim = (bytes: Uint8Array, sched = 0): void => {
      // byte by byte through the whole node for small writes; large ones in random pieces (the
      // per-decoder byte-by-byte cost is the other targets' job)
      deliver(bytes, sched % 3 === 1 && bytes.length > 4096 ? 2 : sched, r, (piece) => {
        if (gone) return false
        swarm.handleData(now, id, piece)
        pump()
        return true
      })
    }
    const fromVictim = (b: Uint8Array): void => {
      if (!secure) {
        try { ms.handleData(now, b) } catch (e) { throw new Error(`the victim's multistream reply is invalid: ${String(e)}`, { cause: e }) }
        for (let ev = ms.pollEvent(); ev !== undefined; ev = ms.pollEvent()) {
          if (ev.type === 'negotiated') {
            secure = true
            const rest = ms.takeRemainder()
            if (rest.length > 0) noise.handleData(now, rest)
          }
        }
      } else {
        // what the victim sends must always be valid Noise for the attacker
        try { noise.handleData(now, b) } catch (e) { throw new Error(`the victim sent bytes its peer's Noise rejects: ${String(e)}`, { cause: e }) }
      }
      for (let ev = noise.pollEvent(); ev !== undefined; ev = noise.pollEvent()) step()
    }
    const pump = (): void => {
      for (;;) {
        step()
        let moved = false
        let closeIo = false
        for (let io = swarm.pollIo(); io !== undefined; io = swarm.pollIo()) {
          if (io.type === 'close' && io.connection === id) closeIo = true
        }
        for (let d = swarm.pollDirty(); d !== undefined; d = swarm.pollDirty()) {
          for (let b = swarm.pollTransmit(d, 1 << 20); b !== undefined; b = swarm.pollTransmit(d, 1 << 20)) {
            step()
            moved = true
            if (d === id && !gone) fromVictim(b)
          }
        }
        for (let ev = swarm.pollEvent(); ev !== undefined; ev = swarm.pollEvent()) {
          step()
          count(stats, ev.type === 'stream-opened' ? `stream-opened ${ev.protocol}` : ev.type === 'connection-closed' ? `closed ${ev.error === undefined ? 'cleanly' : (ev.error as { code?: string }).code}`
            : ev.type === 'behaviour' ? `behaviour ${(ev as { from?: string }).from} ${((ev as { event?: { type?: string } }).event?.type) ?? ''}` : ev.type)
          if (ev.type === 'error') throw new Error(`swarm error event (${ev.origin}${ev.behaviour !== undefined ? ` ${ev.behaviour}` : ''}): ${ev.error.stack ?? ev.error.message}`, { cause: ev.error })
          if (ev.type === 'connection-closed') {
            gone = true
            // a remote GoAway with a code (any 32-bit number) is the remote's own close, reported typed
            const remoteGoAway = ev.error?.name === 'ConnectionClosedError' && (ev.error as { by?: string }).by === 'remote'
            check(ev.error === undefined || ev.error.name === 'ProtocolError' || remoteGoAway, `connection closed with ${ev.error?.name}: ${ev.error?.message}`)
            // a stream's negotiation failure is the stream's (issue 11 item 1): never the connection's
            const code = (ev.error as { code?: string } | undefined)?.code ?? ''
            check(!code.startsWith('multistream/') && !STREAM_ONLY.includes(code), `a stream failure closed the connection: ${code}`)
          }
          if (ev.type === 'stream-opened' && ev.protocol === ECHO) userStreams.push(ev.stream)
          if (ev.type === 'stream-data') unconsumed.set(key(ev.stream), (unconsumed.get(key(ev.stream)) ?? 0) + ev.data.length)
        }
        // as the runtime does: write what is pending, then end the transport and tell the swarm
        if (closeIo && !gone) { gone = true; swarm.handleTransportClosed(now, id); moved = true }
        const t = swarm.pollTimeout()
        if (t !== undefined && t <= now) { swarm.handleTimeout(now); moved = true }
        if (!moved) return
      }
    }
    const local = (f: () => void): void => {
      try { f() } catch (e) { if (!(e instanceof UsageError)) throw e }
      pump()
    }
    const secureSend = (plain: Uint8Array): Uint8Array => {
      noise.write(plain)
      const parts: Uint8Array[] = []
      for (let b = noise.pollTransmit(1 << 20); b !== undefined; b = noise.pollTransmit(1 << 20)) parts.push(b.slice())
      return concatBytes(parts)
    }

    // the upgrade, for real
    pump()
    /** Send what the attacker has: multistream first, then Noise (pipelined after a dialer's proposal). */
    const flushAttacker = (): number => {
      const out: Uint8Array[] = []
      for (let b = ms.pollTransmit(1 << 16); b !== undefined; b = ms.pollTransmit(1 << 16)) out.push(b.slice())
      if (secure || !outbound) for (let b = noise.pollTransmit(1 << 20); b !== undefined; b = noise.pollTransmit(1 << 20)) out.push(b.slice())
      if (out.length > 0) toVictim(concatBytes(out))
      return out.length
    }
    const hs = bounded(100, 'handshake')
    while (!noise.isEstablished && !gone) {
      hs()
      if (flushAttacker() === 0) break
    }
    check(noise.isEstablished, 'handshake with fixed keys did not complete')
    flushAttacker()
    count(stats, outbound ? 'outbound' : 'inbound')
    count(stats, 'handshake-complete')
    if (!early) toVictim(secureSend(concatBytes([encodeMessage(PROTOCOL_ID), encodeMessage('/yamux/1.0.0')])))
    let reqId = 1
    for (let i = 0; !p.done && i < 48 && !gone; i++) {
      const op = p.u8() % OPS
      const pick = (): StreamRef | undefined => (userStreams.length === 0 ? undefined : userStreams[p.u8() % userStreams.length])
      switch (op) {
        case COp.Frames: toVictim(secureSend(p.blob()), schedule); break
        case COp.Tamper: {
          const c = secureSend(p.blob())
          if (c.length > 0) c[r.int(c.length)] ^= 1 << r.int(8)
          toVictim(c, schedule)
          break
        }
        case COp.Raw: toVictim(p.blob(), schedule); break
        case COp.Open: local(() => swarm.openStream(now, ATTACKER_PEER, [ECHO], reqId++)); p.u8(); break
        case COp.Write: { const s = pick(); const n = p.u16(); if (s !== undefined) local(() => { swarm.write(now, s, new Uint8Array(n)) }); break }
        case COp.CloseWrite: { const s = pick(); if (s !== undefined) local(() => swarm.closeWrite(now, s)); break }
        case COp.Reset: { const s = pick(); if (s !== undefined) local(() => swarm.reset(now, s)); break }
        case COp.Consume: {
          const s = pick(); const n = p.u16()
          if (s !== undefined) {
            const c = Math.min(n, unconsumed.get(key(s)) ?? 0)
            if (c > 0) { unconsumed.set(key(s), (unconsumed.get(key(s)) ?? 0) - c); local(() => swarm.consume(now, s, c)) }
          }
          break
        }
        case COp.Advance: now += p.u16(); pump(); break
        case COp.Eof: p.u8(); local(() => swarm.handleEof(now, id)); break
        default: p.u8(); local(() => swarm.closeConnection(now, id))
      }
    }
    // the transport goes away: everything must wind down without an exception
    if (!gone) { swarm.handleTransportClosed(now, id); pump() }
  },
}
