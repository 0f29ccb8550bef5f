// libp2p close and reset codes end to end (spec/yamux.md "Error codes on GoAway and RST",
// spec/connection.md "Closing"): the code tables, yamux's RST Window Update (a code, never credit),
// the connection core after a remote GoAway, and two nodes over TCP.
import * as net from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent } from '../src/connection/index.js'
import {
  ConnCloseCode, StreamResetCode, closeReason, closeWireCode, resetReason, resetWireCode,
  type CloseReasonCode, type ResetReasonCode,
} from '../src/core/close-codes.js'
import { ConnectionClosedError, OutcomeError } from '../src/core/errors.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { createNode, ConnectionClosedError as NodeConnectionClosedError, StreamResetError, type WeftNode } from '../src/node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { encodeFrame, Flag, FrameType, YamuxSession, type YamuxEvent } from '../src/yamux/index.js'
import { RawPeer, lazyProposal } from './helpers/raw-peer.js'

describe('the code tables (go-libp2p core/network conn.go, mux.go)', () => {
  const conn: Array<[number, CloseReasonCode]> = [
    [0, 'close/normal'], [1, 'close/protocol-error'], [2, 'close/internal-error'],
    [0x1000, 'close/protocol-negotiation-failed'], [0x1001, 'close/resource-limit-exceeded'], [0x1002, 'close/rate-limited'],
    [0x1003, 'close/protocol-violation'], [0x1004, 'close/supplanted'], [0x1005, 'close/garbage-collected'],
    [0x1006, 'close/shutdown'], [0x1007, 'close/gated'],
  ]
  const stream: Array<[number, ResetReasonCode]> = [
    [0, 'reset/no-error'], [0x1001, 'reset/protocol-negotiation-failed'], [0x1002, 'reset/resource-limit-exceeded'],
    [0x1003, 'reset/rate-limited'], [0x1004, 'reset/protocol-violation'], [0x1005, 'reset/supplanted'],
    [0x1006, 'reset/garbage-collected'], [0x1007, 'reset/shutdown'], [0x1008, 'reset/gated'],
  ]

  test('every connection code maps to its reason and back', () => {
    for (const [n, r] of conn) {
      expect(closeReason(n)).toBe(r)
      expect(closeWireCode(r)).toBe(n)
    }
    expect(Object.values(ConnCloseCode).sort()).toEqual(conn.map(([n]) => n).sort())
  })

  test('every stream code maps to its reason and back', () => {
    for (const [n, r] of stream) {
      expect(resetReason(n)).toBe(r)
      expect(resetWireCode(r)).toBe(n)
    }
    expect(Object.values(StreamResetCode).sort()).toEqual(stream.map(([n]) => n).sort())
  })

  test('numbers outside the tables are unknown, and keep their number in the error', () => {
    for (const n of [3, 0x0fff, 0x1008, 0x7777, 0xffff_ffff]) expect(closeReason(n)).toBe('close/unknown')
    for (const n of [1, 2, 0x1000, 0x1009, 0x7777]) expect(resetReason(n)).toBe('reset/unknown')
    expect(closeWireCode('close/unknown')).toBeUndefined()
    expect(resetWireCode('reset/unknown')).toBeUndefined()
    const e = new ConnectionClosedError(0x7777, 'remote')
    expect(e).toBeInstanceOf(OutcomeError)
    expect(e).toMatchObject({ code: 'close/unknown', wireCode: 0x7777, by: 'remote', name: 'ConnectionClosedError' })
    expect(e.message).toContain('0x7777')
    expect(NodeConnectionClosedError).toBe(ConnectionClosedError)
    expect(new StreamResetError(0x7777)).toMatchObject({ code: 'stream/reset', wireCode: 0x7777, reason: 'reset/unknown' })
    expect(new StreamResetError()).toMatchObject({ code: 'stream/reset', wireCode: undefined, reason: undefined })
  })
})

describe('yamux: the Length of a RST Window Update is a reset code, not window credit', () => {
  function events(s: YamuxSession): YamuxEvent[] {
    const out: YamuxEvent[] = []
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) out.push(e)
    return out
  }
  const frame = (type: number, flags: number, streamId: number, length: number): Uint8Array => encodeFrame({ type, flags, streamId, length })

  test('a blocked writer is not woken by the code, and the code is reported', () => {
    const s = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
    const id = s.openStream(0)
    s.handleData(0, frame(FrameType.WindowUpdate, Flag.ACK, id, 0))
    expect(s.write(id, new Uint8Array(300 * 1024))).toBe(256 * 1024) // the window is used up
    while (s.pollTransmit(1 << 20) !== undefined) { /* to the wire */ }
    expect(s.streamStats(id)?.sendCredit).toBe(0)
    events(s)
    s.handleData(0, frame(FrameType.WindowUpdate, Flag.RST, id, StreamResetCode.ResourceLimitExceeded))
    // Credited as a window delta, 0x1002 bytes would have woken the writer ('stream-writable') first.
    expect(events(s)).toEqual([{ type: 'stream-reset', id, code: 0x1002 }, { type: 'stream-closed', id }])
  })

  test('a code of 2^32 - 1 is not a window overflow', () => {
    const s = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    s.handleData(0, frame(FrameType.WindowUpdate, Flag.SYN, 1, 0))
    expect(() => s.handleData(0, frame(FrameType.WindowUpdate, Flag.RST, 1, 0xffff_ffff))).not.toThrow()
    expect(events(s)).toEqual([{ type: 'stream-inbound', id: 1 }, { type: 'stream-reset', id: 1, code: 0xffff_ffff }, { type: 'stream-closed', id: 1 }])
    expect(s.isClosed).toBe(false)
  })

  test('a Window Update without RST still credits the window; a Data frame with RST carries no code', () => {
    const s = new YamuxSession({ role: 'server', keepAliveInterval: undefined })
    s.handleData(0, frame(FrameType.WindowUpdate, Flag.SYN, 1, 4096))
    expect(s.streamStats(1)?.sendCredit).toBe(256 * 1024 + 4096)
    s.handleData(0, encodeFrame({ type: FrameType.Data, flags: Flag.RST, streamId: 1, length: 2 }, Uint8Array.of(7, 8)))
    expect(events(s).slice(1)).toEqual([
      { type: 'stream-data', id: 1, data: Uint8Array.of(7, 8) }, { type: 'stream-reset', id: 1 }, { type: 'stream-closed', id: 1 },
    ])
  })

  test('reset(id, code) range-checks the code', () => {
    const s = new YamuxSession({ role: 'client', keepAliveInterval: undefined })
    const id = s.openStream(0)
    expect(() => s.reset(id, -1)).toThrow(RangeError)
    expect(() => s.reset(id, 2 ** 32)).toThrow(RangeError)
  })
})

/** Two connection cores joined in memory (dialer a, listener b). */
function pair(): { a: Connection; b: Connection; evA: ConnectionEvent[]; evB: ConnectionEvent[]; drive: () => void } {
  const supports = (p: string): boolean => p === '/echo/1.0.0'
  const mk = (role: 'dialer' | 'listener'): Connection => new Connection({
    role, crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0,
    yamux: { keepAliveInterval: undefined },
  })
  const a = mk('dialer')
  const b = mk('listener')
  const evA: ConnectionEvent[] = []
  const evB: ConnectionEvent[] = []
  const drive = (): void => {
    for (let i = 0; i < 1000; i++) {
      let moved = 0
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
          moved += out.length
          to.handleData(0, out)
        }
      }
      for (let e = a.pollEvent(); e !== undefined; e = a.pollEvent()) evA.push(e)
      for (let e = b.pollEvent(); e !== undefined; e = b.pollEvent()) evB.push(e)
      if (moved === 0) return
    }
  }
  return { a, b, evA, evB, drive }
}

describe('connection core: GoAway codes', () => {
  test('close(now, 0x1005): the remote ends at once, its stream is reset, closed carries the typed reason', () => {
    const p = pair()
    p.drive()
    p.a.openStream(0, ['/echo/1.0.0'], 1)
    p.drive()
    const inbound = p.evB.find((e) => e.type === 'stream-opened')
    expect(inbound).toBeDefined()
    p.a.close(0, ConnCloseCode.GarbageCollected)
    p.drive()
    const closedB = p.evB.find((e) => e.type === 'closed') as Extract<ConnectionEvent, { type: 'closed' }>
    expect(closedB.error).toBeInstanceOf(ConnectionClosedError)
    expect(closedB.error).toMatchObject({ code: 'close/garbage-collected', by: 'remote', wireCode: 0x1005 })
    expect(p.b.isClosed).toBe(true) // without waiting for the transport's EOF
    expect(p.evB).toContainEqual({ type: 'stream-reset', id: (inbound as { id: number }).id })
    const closedA = p.evA.find((e) => e.type === 'closed') as Extract<ConnectionEvent, { type: 'closed' }>
    expect(closedA.error).toMatchObject({ code: 'close/garbage-collected', by: 'local', wireCode: 0x1005 })
  })

  test('an unknown code 0x7777 is close/unknown; a normal GoAway closes without an error', () => {
    const p = pair()
    p.drive()
    p.b.close(0, 0x7777)
    p.drive()
    expect(p.evA.find((e) => e.type === 'closed')).toMatchObject({ error: { code: 'close/unknown', wireCode: 0x7777, by: 'remote' } })
    const q = pair()
    q.drive()
    q.b.close(0)
    q.drive()
    expect(q.a.isClosed).toBe(true)
    expect(q.evA.find((e) => e.type === 'closed')).toEqual({ type: 'closed' })
    expect(q.evB.find((e) => e.type === 'closed')).toEqual({ type: 'closed' })
  })

  test('an opener still negotiating hears the ConnectionClosedError', () => {
    const p = pair()
    p.drive()
    p.a.openStream(0, ['/echo/1.0.0'], 9) // its proposal is not delivered before the GoAway
    p.b.close(0, ConnCloseCode.Shutdown)
    p.drive()
    const failed = p.evA.find((e) => e.type === 'stream-open-failed') as Extract<ConnectionEvent, { type: 'stream-open-failed' }>
    expect(failed.requestId).toBe(9)
    expect(failed.error).toMatchObject({ code: 'close/shutdown', by: 'remote', wireCode: 0x1006 })
  })
})

describe('two nodes over TCP', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  })

  async function until(cond: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 10_000
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  async function twoNodes(): Promise<{ a: WeftNode; b: WeftNode; closesA: Array<{ error?: Error }>; closesB: Array<{ error?: Error }> }> {
    const a = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const b = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(a, b)
    const closesA: Array<{ error?: Error }> = []
    const closesB: Array<{ error?: Error }> = []
    a.on('connection:close', (d) => closesA.push(d))
    b.on('connection:close', (d) => closesB.push(d))
    await connect(a, b)
    return { a, b, closesA, closesB }
  }

  /** b dials a; resolves once both sides list the connection (the listener finishes Noise last). */
  async function connect(a: WeftNode, b: WeftNode): Promise<void> {
    await b.dial(a.getMultiaddrs()[0]!)
    await until(() => a.getConnections(b.peerId).length === 1 && b.getConnections(a.peerId).length === 1, 'the connection on both sides')
  }

  test('GoAway 0x1005 in both directions: the trimmed side sees close/garbage-collected by remote', async () => {
    const { a, b, closesA, closesB } = await twoNodes()
    await a.hangUp(b.peerId, { code: ConnCloseCode.GarbageCollected })
    await until(() => closesA.length === 1 && closesB.length === 1, 'both sides closed')
    expect(closesB[0]!.error).toBeInstanceOf(ConnectionClosedError)
    expect(closesB[0]!.error).toMatchObject({ code: 'close/garbage-collected', by: 'remote', wireCode: 0x1005 })
    expect(closesA[0]!.error).toMatchObject({ code: 'close/garbage-collected', by: 'local', wireCode: 0x1005 })

    await connect(a, b)
    await b.hangUp(a.peerId, { code: ConnCloseCode.GarbageCollected })
    await until(() => closesA.length === 2 && closesB.length === 2, 'both sides closed again')
    expect(closesA[1]!.error).toMatchObject({ code: 'close/garbage-collected', by: 'remote', wireCode: 0x1005 })
    expect(closesB[1]!.error).toMatchObject({ code: 'close/garbage-collected', by: 'local', wireCode: 0x1005 })
  })

  test('an unknown code 0x7777 arrives as close/unknown; a plain hangUp stays error-less', async () => {
    const { a, b, closesA, closesB } = await twoNodes()
    await a.hangUp(b.peerId, { code: 0x7777 })
    await until(() => closesB.length === 1, 'the remote side closed')
    expect(closesB[0]!.error).toMatchObject({ code: 'close/unknown', by: 'remote', wireCode: 0x7777 })
    await until(() => closesA.length === 1, 'the local side closed')
    await connect(a, b)
    await a.hangUp(b.peerId)
    await until(() => closesA.length === 2 && closesB.length === 2, 'both sides closed again')
    expect(closesA[1]!.error).toBeUndefined()
    expect(closesB[1]!.error).toBeUndefined()
  })

  test("a remote RST carrying 0x1002 surfaces on the node's stream as StreamResetError", async () => {
    const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(node)
    let started = false
    const result = new Promise<unknown>((resolve) => {
      node.handle('/sink/1.0.0', async (s) => {
        started = true
        try {
          for await (const _ of s.source) { /* read until the reset */ }
          resolve('eof')
        } catch (e) {
          resolve(e)
        }
      })
    })
    const t = node.getMultiaddrs()[0]!.toDialTarget()!
    const sock = net.connect({ host: t.host, port: t.port })
    sock.on('error', () => {})
    await new Promise<void>((r) => sock.once('connect', () => r()))
    const peer = new RawPeer({ role: 'initiator', send: (b) => sock.write(b) })
    sock.on('data', (d) => peer.receive(new Uint8Array(d)))
    await until(() => peer.established, 'the handshake')
    const id = peer.session.openStream(0)
    peer.session.write(id, lazyProposal('/sink/1.0.0'))
    peer.flush()
    await until(() => started, 'the handler')
    peer.sendPlain(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: id, length: StreamResetCode.ResourceLimitExceeded }))
    const e = await result
    expect(e).toBeInstanceOf(StreamResetError)
    expect(e).toMatchObject({ code: 'stream/reset', wireCode: 0x1002, reason: 'reset/resource-limit-exceeded' })
    sock.destroy()
  })
})
