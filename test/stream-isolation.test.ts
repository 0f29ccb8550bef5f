/**
 * A stream's failure is the stream's (issue 11 item 1, audit finding 1): a stream that ends, resets
 * or sends garbage while its protocol is being negotiated fails alone, with a typed error to its
 * opener; the connection and its other streams go on.
 *
 * First against the Connection core in memory (a peer built by hand from weft's cores, so it can
 * send frames a well-behaved peer never would), then against a node over TCP, through the swarm.
 */
import * as net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent } from '../src/connection/index.js'
import { InternalError, ProtocolError } from '../src/core/errors.js'
import { StreamResetCode } from '../src/core/close-codes.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { createNode, readAll, type WeftNode } from '../src/node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { encodeFrame, Flag, FrameType, GoAwayCode, YamuxSession, type YamuxEvent } from '../src/yamux/index.js'
import { RawPeer, lazyProposal } from './helpers/raw-peer.js'

const ECHO = '/echo/1.0.0'

/** A Connection core (role `role`) joined in memory to a RawPeer playing the other role. */
class CorePair {
  readonly conn: Connection
  readonly peer: RawPeer
  readonly events: ConnectionEvent[] = []
  #toConn: Uint8Array[] = []

  constructor(role: 'dialer' | 'listener') {
    this.conn = new Connection({
      role, crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto),
      supportsProtocol: (p) => p === ECHO, listProtocols: () => [ECHO], now: 0,
      yamux: { keepAliveInterval: undefined },
    })
    this.peer = new RawPeer({ role: role === 'dialer' ? 'responder' : 'initiator', send: (b) => this.#toConn.push(b.slice()) })
    this.drive()
  }

  /** Move bytes both ways until quiet; every chunk the peer wrote is one handleData. */
  drive(): void {
    for (let i = 0; i < 10_000; i++) {
      let moved = 0
      for (let b = this.#toConn.shift(); b !== undefined; b = this.#toConn.shift()) {
        this.conn.handleData(0, b)
        moved++
      }
      for (let b = this.conn.pollTransmit(1 << 20); b !== undefined; b = this.conn.pollTransmit(1 << 20)) {
        this.peer.receive(b)
        moved++
      }
      this.peer.flush()
      for (let e = this.conn.pollEvent(); e !== undefined; e = this.conn.pollEvent()) this.events.push(e)
      if (moved === 0 && this.#toConn.length === 0) return
    }
    throw new Error('pair did not settle')
  }

  /** Bytes straight onto the wire to the connection (e.g. a Noise frame that does not authenticate). */
  injectRaw(b: Uint8Array): void {
    this.#toConn.push(b)
  }

  get closed(): boolean {
    return this.events.some((e) => e.type === 'closed')
  }

  /** Application bytes the connection delivered on stream `id`. */
  received(id: number): number {
    let n = 0
    for (const e of this.events) if (e.type === 'stream-data' && e.id === id) n += e.data.length
    return n
  }
}

/** The connection still serves: a fresh stream from the peer negotiates and delivers its bytes. */
function stillServes(p: CorePair): void {
  const id = p.peer.session.openStream(0)
  p.peer.session.write(id, lazyProposal(ECHO))
  p.peer.session.write(id, Uint8Array.of(9, 8, 7))
  p.drive()
  expect(p.closed).toBe(false)
  expect(p.events).toContainEqual(expect.objectContaining({ type: 'stream-opened', id, protocol: ECHO, direction: 'inbound' }))
  expect(p.received(id)).toBe(3)
}

describe('connection core: one stream fails, the connection goes on', () => {
  test('SYN then RST for the same stream in one read right after the handshake', () => {
    const p = new CorePair('listener')
    expect(p.peer.established).toBe(true)
    // 24 bytes: Window Update SYN + Window Update RST for stream 3, in one Noise frame. (Id 3, so
    // that id 1 stays free for the peer's own session: stillServes opens it.)
    p.peer.sendPlain(Uint8Array.from([
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 3, length: 0 }),
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 3, length: 0 }),
    ]))
    p.drive()
    expect(p.closed).toBe(false)
    expect(p.events.filter((e) => e.type === 'stream-opened')).toHaveLength(0)
    stillServes(p)
  })

  test('SYN, a proposal and RST in one read; then a proposal, FIN and RST; then half a header and FIN: only those streams fail', () => {
    const p = new CorePair('listener')
    const rst = (id: number): Uint8Array => encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: id, length: 0 })
    const s = p.peer.session
    const a = s.openStream(0)
    s.write(a, lazyProposal(ECHO))
    p.peer.sendWithSession(rst(a)) // SYN, Data(proposal), RST: one plaintext
    p.drive()
    const b = s.openStream(0)
    s.write(b, lazyProposal(ECHO))
    s.closeWrite(b)
    p.peer.sendWithSession(rst(b)) // SYN, Data(proposal), FIN, RST
    p.drive()
    const c = s.openStream(0)
    s.write(c, lazyProposal(ECHO).subarray(0, 5))
    s.closeWrite(c)
    p.peer.sendWithSession(new Uint8Array(0)) // SYN, Data(5 bytes of the header), FIN
    p.drive()
    expect(p.closed).toBe(false)
    expect(p.peer.events).toContainEqual({ type: 'stream-reset', id: c, code: StreamResetCode.ProtocolNegotiationFailed })
    stillServes(p)
  })

  test('an inbound stream half-closed mid-negotiation fails alone while another stream transfers 1 MiB', () => {
    const p = new CorePair('listener')
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + 3) & 0xff)
    const bulk = p.peer.session.openStream(0)
    p.peer.session.write(bulk, lazyProposal(ECHO))
    p.drive()
    const chunks: Uint8Array[] = []
    const kept: ConnectionEvent[] = []
    let sent = 0
    let halfClosed: number | undefined
    while (sent < big.length) {
      sent += p.peer.session.write(bulk, big.subarray(sent))
      p.peer.flush()
      if (halfClosed === undefined && sent >= 200_000) {
        // Mid-transfer, a second stream sends half of the multistream header and then FIN.
        halfClosed = p.peer.session.openStream(0)
        p.peer.session.write(halfClosed, lazyProposal(ECHO).subarray(0, 7))
        p.peer.session.closeWrite(halfClosed)
        p.peer.flush()
      }
      p.drive()
      for (const e of p.events.splice(0)) {
        if (e.type === 'stream-data') {
          p.conn.consume(0, e.id, e.data.length)
          if (e.id === bulk) chunks.push(e.data.slice())
        } else kept.push(e)
      }
      p.drive()
    }
    p.drive()
    expect(kept.some((e) => e.type === 'closed')).toBe(false)
    expect(halfClosed).toBeDefined()
    expect(kept.some((e) => e.type === 'stream-opened' && e.id === halfClosed)).toBe(false)
    expect(p.peer.events).toContainEqual({ type: 'stream-reset', id: halfClosed, code: StreamResetCode.ProtocolNegotiationFailed })
    const got = Buffer.concat(chunks)
    expect(got.length).toBe(big.length)
    expect(got.equals(Buffer.from(big))).toBe(true)
  })

  test('garbage on a negotiating stream fails that stream alone, in both directions', () => {
    // inbound: a header without its newline, then more bytes
    const p = new CorePair('listener')
    const bad = p.peer.session.openStream(0)
    p.peer.session.write(bad, Uint8Array.from([5, 0x2f, 0x61, 0x62, 0x63, 0x64, 0xff, 0xff]))
    p.drive()
    expect(p.closed).toBe(false)
    expect(p.peer.events).toContainEqual({ type: 'stream-reset', id: bad, code: StreamResetCode.ProtocolNegotiationFailed })
    stillServes(p)
    // outbound: the remote answers our proposal with a message whose length prefix is too long
    const q = new CorePair('dialer')
    q.conn.openStream(0, [ECHO], 7)
    q.drive()
    const inbound = q.peer.events.find((e) => e.type === 'stream-inbound') as { id: number }
    q.peer.session.write(inbound.id, Uint8Array.from([0xff, 0xff, 0xff, 0x7f]))
    q.drive()
    const failed = q.events.find((e) => e.type === 'stream-open-failed') as { requestId: number; error: Error } | undefined
    expect(failed?.requestId).toBe(7)
    expect(failed?.error).toBeInstanceOf(ProtocolError)
    expect((failed?.error as ProtocolError).protocol).toBe('multistream')
    expect(q.closed).toBe(false)
  })

  test('an outbound stream the remote half-closes mid-negotiation fails alone, with a typed error to its opener', () => {
    const p = new CorePair('dialer')
    expect(p.events[0]).toMatchObject({ type: 'established' })
    p.conn.openStream(0, [ECHO], 41)
    p.drive()
    const inbound = p.peer.events.find((e) => e.type === 'stream-inbound')
    expect(inbound).toBeDefined()
    const id = (inbound as { id: number }).id
    p.peer.session.accept(id)
    p.peer.session.closeWrite(id) // FIN before any answer
    p.drive()
    const failed = p.events.find((e) => e.type === 'stream-open-failed')
    expect(failed).toMatchObject({ type: 'stream-open-failed', requestId: 41 })
    const error = (failed as { error: Error }).error
    expect(error).toBeInstanceOf(ProtocolError)
    expect((error as ProtocolError).code).toBe('multistream/unexpected-eof')
    expect(p.closed).toBe(false)
    // The connection still opens and negotiates streams.
    p.conn.openStream(0, [ECHO], 42)
    p.drive()
    const second = p.peer.events.filter((e) => e.type === 'stream-inbound').at(-1) as { id: number }
    expect(second.id).not.toBe(id)
    expect(p.closed).toBe(false)
  })
})

describe('the connection ends under negotiating streams', () => {
  test('a Noise failure right after the handshake fails an outbound stream still negotiating (its opener hears it; the soak found it waiting forever)', () => {
    const p = new CorePair('dialer')
    expect(p.events[0]).toMatchObject({ type: 'established' })
    p.conn.openStream(0, [ECHO], 43)
    p.drive()
    // the remote never answers; its next transport frame does not authenticate
    p.injectRaw(Uint8Array.of(0x00, 0x20, ...new Uint8Array(32).fill(0xab)))
    p.drive()
    expect(p.closed).toBe(true)
    const failed = p.events.filter((e) => e.type === 'stream-open-failed')
    expect(failed).toEqual([expect.objectContaining({ type: 'stream-open-failed', requestId: 43 })])
  })
})

describe('a node over TCP: one stream fails, the connection and the node go on', () => {
  let node: WeftNode
  const received: Array<Promise<Uint8Array>> = []
  const closes: Array<{ error?: Error }> = []

  beforeAll(async () => {
    node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    node.handle(ECHO, (s) => { received.push(readAll(s.source, 4 << 20)) })
    node.on('connection:close', (d) => closes.push(d))
  })
  afterAll(async () => {
    await node.stop()
  })

  /** A RawPeer dialing the node over TCP, with the handshake done. */
  async function attacker(): Promise<{ peer: RawPeer; sock: net.Socket; closed: Promise<void> }> {
    const t = node.getMultiaddrs()[0]!.toDialTarget()!
    const sock = net.connect({ host: t.host, port: t.port })
    sock.on('error', () => {})
    const closed = new Promise<void>((r) => sock.once('close', () => r()))
    await new Promise<void>((r) => sock.once('connect', () => r()))
    const peer = new RawPeer({ role: 'initiator', send: (b) => sock.write(b) })
    sock.on('data', (d) => peer.receive(new Uint8Array(d)))
    while (!peer.established) await new Promise((r) => setTimeout(r, 5))
    return { peer, sock, closed }
  }

  /** Resolves when `cond` holds (polled after each event-loop turn); fails with `what` after 10 s. */
  async function until(cond: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 10_000
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  test('a stream opened and reset in the same read (24 bytes after the handshake) fails alone', async () => {
    const { peer, sock } = await attacker()
    peer.sendPlain(Uint8Array.from([
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 3, length: 0 }),
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 3, length: 0 }),
    ]))
    // The same connection then opens a stream (id 1, a gap below 3) that must still be served.
    const before = received.length
    const id = peer.session.openStream(0)
    peer.session.write(id, lazyProposal(ECHO))
    peer.session.write(id, Uint8Array.of(1, 2, 3))
    peer.session.closeWrite(id)
    peer.flush()
    await until(() => received.length > before, 'the echo handler')
    expect([...await received[before]!]).toEqual([1, 2, 3])
    expect(peer.ended).toBe(false)
    sock.destroy()
  })

  test('a stream that proposes identify and resets in the same read: the node answers into a reset stream and goes on', async () => {
    const { peer, sock } = await attacker()
    // The node's identify behaviour writes its answer as soon as the stream is negotiated, while the
    // stream's reset is still queued behind that event.
    const body = lazyProposal('/ipfs/id/1.0.0')
    peer.sendPlain(Uint8Array.from([
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 3, length: 0 }),
      ...encodeFrame({ type: FrameType.Data, flags: 0, streamId: 3, length: body.length }, body),
      ...encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 3, length: 0 }),
    ]))
    const before = received.length
    const id = peer.session.openStream(0)
    peer.session.write(id, lazyProposal(ECHO))
    peer.session.write(id, Uint8Array.of(4, 5))
    peer.session.closeWrite(id)
    peer.flush()
    await until(() => received.length > before, 'the echo handler')
    expect([...await received[before]!]).toEqual([4, 5])
    expect(peer.ended).toBe(false)
    sock.destroy()
  })

  test('a peer half-closes a stream mid-negotiation while another stream on the connection transfers 1 MiB', async () => {
    const { peer, sock } = await attacker()
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 13 + 5) & 0xff)
    const before = received.length
    const bulk = peer.session.openStream(0)
    peer.session.write(bulk, lazyProposal(ECHO))
    let sent = 0
    let halfClosed = false
    // Write as the window allows; 'stream-writable' (or any window update) lets the loop go on.
    while (sent < big.length) {
      sent += peer.session.write(bulk, big.subarray(sent))
      peer.flush()
      if (!halfClosed && sent >= 300_000) {
        halfClosed = true
        const id = peer.session.openStream(0)
        peer.session.write(id, lazyProposal(ECHO).subarray(0, 7)) // half the multistream header
        peer.session.closeWrite(id)
        peer.flush()
      }
      if (sent < big.length) {
        const stats = (): number => peer.session.streamStats(bulk)?.sendCredit ?? 0
        await until(() => stats() > 0 || peer.ended, 'send window')
        expect(peer.ended).toBe(false)
      }
    }
    peer.session.closeWrite(bulk)
    peer.flush()
    await until(() => received.length > before, 'the echo handler')
    const got = await received[before]!
    expect(got.length).toBe(big.length)
    expect(Buffer.from(got).equals(Buffer.from(big))).toBe(true)
    expect(peer.ended).toBe(false)
    expect(peer.events.some((e) => e.type === 'stream-reset')).toBe(true) // the half-closed stream, alone
    sock.destroy()
  })
})

describe('a bug ends its connection, as a typed InternalError, never thrown at the driver', () => {
  test('yamux: an exception that is not a ProtocolError becomes InternalError(yamux/internal-error) and Go Away 2', () => {
    const s = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    // Input whose subarray throws stands in for a bug in the receive path.
    class Faulty extends Uint8Array {
      override subarray(): Uint8Array<ArrayBuffer> { throw new TypeError('boom') }
    }
    const frame = encodeFrame({ type: FrameType.Data, flags: Flag.SYN, streamId: 1, length: 3 }, Uint8Array.of(1, 2, 3))
    const input = new Faulty(frame.length)
    input.set(frame)
    let thrown: unknown
    try { s.handleOwnedData(0, input) } catch (e) { thrown = e }
    expect(thrown).toBeInstanceOf(InternalError)
    expect((thrown as InternalError).code).toBe('yamux/internal-error')
    expect((thrown as Error).cause).toBeInstanceOf(TypeError)
    const goAway = s.pollTransmit(1 << 16)!
    expect(s.pollTransmit(1 << 16)).toBeUndefined()
    expect([...goAway.subarray(0, 2)]).toEqual([0, FrameType.GoAway])
    expect(new DataView(goAway.buffer, goAway.byteOffset).getUint32(8)).toBe(GoAwayCode.InternalError)
    const events: YamuxEvent[] = []
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) events.push(e)
    expect(events.at(-1)).toMatchObject({ type: 'closed', error: thrown })
  })

  test('connection: a throwing protocol callback closes that connection with InternalError (cause kept), not the process', () => {
    const conn = new Connection({
      role: 'listener', crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), now: 0,
      supportsProtocol: () => { throw new TypeError('handler table bug') }, listProtocols: () => [],
      yamux: { keepAliveInterval: undefined },
    })
    const toConn: Uint8Array[] = []
    const peer = new RawPeer({ role: 'initiator', send: (b) => toConn.push(b.slice()) })
    const events: ConnectionEvent[] = []
    const drive = (): void => {
      for (let i = 0; i < 100; i++) {
        let moved = 0
        for (let b = toConn.shift(); b !== undefined; b = toConn.shift(), moved++) conn.handleData(0, b)
        for (let b = conn.pollTransmit(1 << 20); b !== undefined; b = conn.pollTransmit(1 << 20), moved++) peer.receive(b)
        for (let e = conn.pollEvent(); e !== undefined; e = conn.pollEvent()) events.push(e)
        if (moved === 0) return
      }
    }
    drive()
    const id = peer.session.openStream(0)
    peer.session.write(id, lazyProposal(ECHO))
    peer.flush()
    expect(drive).not.toThrow()
    const closed = events.find((e) => e.type === 'closed') as { error?: Error } | undefined
    expect(closed?.error).toBeInstanceOf(InternalError)
    expect((closed!.error as InternalError).code).toBe('connection/internal-error')
    expect((closed!.error as Error).cause).toBeInstanceOf(TypeError)
    // The remote was told: Go Away with code 2 (internal error).
    expect(peer.events).toContainEqual({ type: 'go-away', code: GoAwayCode.InternalError })
  })
})
