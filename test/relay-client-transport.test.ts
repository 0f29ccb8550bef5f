/**
 * The circuit transport (src/relay/transport-api.ts) and the stream-as-connection adapter
 * (src/relay/stream-conn-api.ts) against scripted streams: the hop CONNECT exchange, the stop
 * handler's answers, timeouts through the armed deadlines, and the RawConnection contract
 * (glued bytes first, pause/resume, write backpressure and drain, close, reset). spec/relay.md
 * "Relay client".
 */
import { describe, expect, test } from 'vitest'
import { CircuitTransport, parseCircuitAddr, type CircuitNode, type CircuitStream, type CircuitTransportDeps } from '../src/relay/transport-api.js'
import { StreamRawConnection, type RawHandlersLike } from '../src/relay/stream-conn-api.js'
import { RelayStatusError } from '../src/relay/client.js'
import { encodeHopFrame, encodeStopFrame, HopType, Status, StopType, RelayFrameDecoder } from '../src/relay/index.js'
import { testIdentity } from './helpers/behaviour-harness.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import { concat } from '../src/core/bytes.js'
import type { ConnectionInfo } from '../src/swarm/behaviour.js'
import type { PeerId } from '../src/peer-id/index.js'

const relay = testIdentity(1, '/ip4/127.0.0.1/tcp/4001')
const target = testIdentity(2, '/ip4/127.0.0.1/tcp/4002')
const me = testIdentity(3, '/ip4/127.0.0.1/tcp/4003')
const R = relay.peer.toString()
const T = target.peer.toString()
const CIRCUIT = Multiaddr.fromString(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${T}`)
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

function info(peer: PeerId, limited = false): ConnectionInfo {
  return {
    id: 1, peer, remotePublicKey: relay.publicKey, remoteAddr: Multiaddr.fromString('/ip4/127.0.0.1/tcp/4001'), localAddr: undefined,
    direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: false, limited,
  }
}

/** A scripted node stream: the test pushes what the remote sends and reads what we wrote. */
class FakeStream implements CircuitStream {
  readonly written: Uint8Array[] = []
  closedWrite = false
  wasReset = false
  /** When set, writes wait for it (the remote's window is closed). */
  gate: Promise<void> | undefined
  readonly connection: ConnectionInfo
  readonly #inbox: Array<Uint8Array | 'end' | Error> = []
  #wake: (() => void) | undefined
  constructor(connection = info(relay.peer)) {
    this.connection = connection
  }
  readonly source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        while (this.#inbox.length === 0) await new Promise<void>((r) => { this.#wake = r })
        const item = this.#inbox.shift()!
        if (item === 'end') return { done: true, value: undefined }
        if (item instanceof Error) throw item
        return { done: false, value: item }
      },
    }),
  }
  push(item: Uint8Array | 'end' | Error): void {
    this.#inbox.push(item)
    const w = this.#wake
    this.#wake = undefined
    w?.()
  }
  async write(chunk: Uint8Array): Promise<void> {
    if (this.wasReset) throw new Error('stream/reset')
    this.written.push(chunk)
    if (this.gate !== undefined) await this.gate
  }
  closeWrite(): void { this.closedWrite = true }
  reset(): void {
    if (this.wasReset) return
    this.wasReset = true
    this.push(new Error('stream/reset'))
  }
  bytes(): Uint8Array { return concat(this.written) }
}

interface Rig {
  transport: CircuitTransport
  streams: FakeStream[]
  expire: Array<() => void>
  newStreamCalls: Array<{ target: Multiaddr | PeerId; protocols: string | string[] }>
}

function rig(over: Partial<CircuitTransportDeps> = {}): Rig {
  const streams: FakeStream[] = []
  const expire: Array<() => void> = []
  const newStreamCalls: Rig['newStreamCalls'] = []
  const node: CircuitNode = {
    peerId: me.peer,
    newStream: async (t, protocols) => {
      newStreamCalls.push({ target: t, protocols })
      const s = new FakeStream()
      streams.push(s)
      return s
    },
  }
  const transport = new CircuitTransport({
    node: () => node,
    arm: (_ms, onExpire) => { expire.push(onExpire); return () => { const i = expire.indexOf(onExpire); if (i >= 0) expire.splice(i, 1) } },
    addRelay: (a) => parseCircuitAddr(a.encapsulate(`/p2p/${T}`)).relay!,
    removeRelay: () => {},
    reserved: () => false,
    stopTimeout: 10_000,
    dialTimeout: 10_000,
    messages: {},
    ...over,
  })
  return { transport, streams, expire, newStreamCalls }
}

function handlers(): RawHandlersLike & { data: Uint8Array[]; ended: boolean; closed: Array<Error | undefined>; drains: number } {
  const h = {
    data: [] as Uint8Array[], ended: false, closed: [] as Array<Error | undefined>, drains: 0,
    onData: (d: Uint8Array) => { h.data.push(d.slice()) },
    onEnd: () => { h.ended = true },
    onClose: (e?: Error) => { h.closed.push(e) },
    onDrain: () => { h.drains++ },
  }
  return h
}

async function until(f: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !f(); i++) await tick()
  expect(f()).toBe(true)
}

describe('addresses', () => {
  test('canDial: <relay>/p2p-circuit/p2p/<target> only', () => {
    const { transport } = rig()
    expect(transport.canDial(CIRCUIT)).toBe(true)
    expect(transport.canDial(Multiaddr.fromString(`/p2p/${R}/p2p-circuit/p2p/${T}`))).toBe(true)
    expect(transport.canDial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`))).toBe(false)
    expect(transport.canDial(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/4001/p2p/${T}`))).toBe(false)
    expect(transport.canDial(Multiaddr.fromString(`/p2p/${R}/p2p-circuit/p2p/${T}/p2p-circuit/p2p/${T}`))).toBe(false)
  })

  test('canListen: <relay>/p2p/<id>/p2p-circuit, or /p2p-circuit alone', () => {
    const { transport } = rig()
    expect(transport.canListen(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`))).toBe(true)
    expect(transport.canListen(Multiaddr.fromString('/p2p-circuit'))).toBe(true)
    expect(transport.canListen(Multiaddr.fromString('/ip4/127.0.0.1/tcp/4001/p2p-circuit'))).toBe(false)
    expect(transport.canListen(CIRCUIT)).toBe(false)
  })

  test('parseCircuitAddr splits relay, its address and the target', () => {
    const p = parseCircuitAddr(CIRCUIT)
    expect(p.relay?.toString()).toBe(R)
    expect(p.target.toString()).toBe(T)
    expect(p.relayAddr.toString()).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${R}`)
  })
})

describe('dial', () => {
  test('CONNECT {peer: target}; OK; the bytes glued behind the STATUS come first on the connection', async () => {
    const { transport, streams, newStreamCalls } = rig()
    const dialing = transport.dial(CIRCUIT)
    await until(() => streams.length === 1 && streams[0]!.written.length === 1)
    const s = streams[0]!
    expect(newStreamCalls[0]!.protocols).toBe('/libp2p/circuit/relay/0.2.0/hop')
    expect(String(newStreamCalls[0]!.target)).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${R}`)
    const dec = RelayFrameDecoder.hop()
    dec.push(s.bytes())
    const msg = dec.next()!
    expect(msg.type).toBe(HopType.CONNECT)
    expect(msg.peer?.id.equals(target.peer)).toBe(true)
    s.push(concat([encodeHopFrame({ type: HopType.STATUS, status: Status.OK, limit: { data: 4096n } }), Uint8Array.of(0x13, 0x2f)]))
    const conn = await dialing
    expect(conn.remoteAddr.equals(CIRCUIT)).toBe(true)
    const h = handlers()
    conn.start(h)
    s.push(Uint8Array.of(0x6d))
    await until(() => h.data.length === 2)
    expect(h.data).toEqual([Uint8Array.of(0x13, 0x2f), Uint8Array.of(0x6d)])
  })

  test('a relay without a transport address is reached by its peer id', async () => {
    const { transport, streams, newStreamCalls } = rig()
    const dialing = transport.dial(Multiaddr.fromString(`/p2p/${R}/p2p-circuit/p2p/${T}`))
    await until(() => streams.length === 1)
    expect(String(newStreamCalls[0]!.target)).toBe(R)
    streams[0]!.push(encodeHopFrame({ type: HopType.STATUS, status: Status.OK }))
    await dialing
  })

  test('NO_RESERVATION: RelayStatusError relay/no-reservation, the stream reset', async () => {
    const { transport, streams } = rig()
    const dialing = transport.dial(CIRCUIT)
    await until(() => streams.length === 1)
    streams[0]!.push(encodeHopFrame({ type: HopType.STATUS, status: Status.NO_RESERVATION }))
    const e = await dialing.catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RelayStatusError)
    expect((e as RelayStatusError).code).toBe('relay/no-reservation')
    expect((e as RelayStatusError).statusName).toBe('NO_RESERVATION')
    expect(streams[0]!.wasReset).toBe(true)
  })

  test('EOF before the STATUS, or a non-STATUS message: ProtocolError', async () => {
    const { transport, streams } = rig()
    const a = transport.dial(CIRCUIT)
    await until(() => streams.length === 1)
    streams[0]!.push('end')
    expect(await a.catch((x: unknown) => (x as ProtocolError).code)).toBe('relay/closed-early')
    const b = transport.dial(CIRCUIT)
    await until(() => streams.length === 2)
    streams[1]!.push(encodeHopFrame({ type: HopType.RESERVE }))
    expect(await b.catch((x: unknown) => (x as ProtocolError).code)).toBe('relay/unexpected-message')
  })

  test('the deadline armed for the dial fires: relay/connect-timeout, the stream reset', async () => {
    const { transport, streams, expire } = rig()
    const dialing = transport.dial(CIRCUIT, { timeout: 5 })
    await until(() => streams.length === 1)
    expect(expire.length).toBe(1)
    expire[0]!()
    const e = await dialing.catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OutcomeError)
    expect((e as OutcomeError).code).toBe('relay/connect-timeout')
    expect(streams[0]!.wasReset).toBe(true)
    expect(expire.length).toBe(0)
  })

  test('an aborted signal: relay/aborted', async () => {
    const { transport, streams } = rig()
    const ac = new AbortController()
    const dialing = transport.dial(CIRCUIT, { signal: ac.signal })
    await until(() => streams.length === 1)
    ac.abort()
    expect(await dialing.catch((x: unknown) => (x as OutcomeError).code)).toBe('relay/aborted')
  })

  test('dialing ourselves is refused before any stream', async () => {
    const { transport, streams } = rig()
    await expect(transport.dial(Multiaddr.fromString(`/p2p/${R}/p2p-circuit/p2p/${me.peer.toString()}`))).rejects.toThrow(/ourselves/)
    expect(streams.length).toBe(0)
  })
})

describe('stop handler', () => {
  const stopConnect = (initiator = target.peer): Uint8Array => encodeStopFrame({ type: StopType.CONNECT, peer: { id: initiator, addrs: [] }, limit: { duration: 120 } })
  const answerOf = (s: FakeStream): number | undefined => {
    const dec = RelayFrameDecoder.stop()
    dec.push(s.bytes())
    return dec.next()?.status
  }

  test('a listener for the relay: STATUS OK, an inbound connection from <relay>/p2p-circuit/p2p/<initiator>', async () => {
    const { transport } = rig()
    const accepted: Array<{ remoteAddr: Multiaddr; localAddr: Multiaddr | undefined; start(h: RawHandlersLike): void }> = []
    await transport.listen(Multiaddr.fromString(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`), (c) => accepted.push(c))
    const s = new FakeStream()
    const handled = transport.handleStop(s)
    s.push(concat([stopConnect(), Uint8Array.of(0x13)]))
    await handled
    expect(answerOf(s)).toBe(Status.OK)
    expect(accepted.length).toBe(1)
    expect(accepted[0]!.remoteAddr.toString()).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${T}`)
    expect(accepted[0]!.localAddr?.toString()).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`)
    const h = handlers()
    accepted[0]!.start(h)
    await until(() => h.data.length === 1)
    expect(h.data[0]).toEqual(Uint8Array.of(0x13))
  })

  test('no listener: CONNECTION_FAILED; a /p2p-circuit listener takes circuits only from relays we reserved on', async () => {
    let reserved = false
    const { transport } = rig({ reserved: () => reserved })
    const s1 = new FakeStream()
    const h1 = transport.handleStop(s1)
    s1.push(stopConnect())
    await h1
    expect(answerOf(s1)).toBe(Status.CONNECTION_FAILED)
    expect(s1.closedWrite).toBe(true)
    const accepted: unknown[] = []
    await transport.listen(Multiaddr.fromString('/p2p-circuit'), (c) => accepted.push(c))
    const s2 = new FakeStream()
    const h2 = transport.handleStop(s2)
    s2.push(stopConnect())
    await h2
    expect(answerOf(s2)).toBe(Status.CONNECTION_FAILED)
    reserved = true
    const s3 = new FakeStream()
    const h3 = transport.handleStop(s3)
    s3.push(stopConnect())
    await h3
    expect(answerOf(s3)).toBe(Status.OK)
    expect(accepted.length).toBe(1)
  })

  test('garbage: MALFORMED_MESSAGE; a STATUS: UNEXPECTED_MESSAGE; a limited connection: CONNECTION_FAILED', async () => {
    const { transport } = rig({ reserved: () => true })
    await transport.listen(Multiaddr.fromString('/p2p-circuit'), () => {})
    const s1 = new FakeStream()
    const h1 = transport.handleStop(s1)
    s1.push(Uint8Array.of(0x02, 0xff, 0xff))
    await h1
    expect(answerOf(s1)).toBe(Status.MALFORMED_MESSAGE)
    const s2 = new FakeStream()
    const h2 = transport.handleStop(s2)
    s2.push(encodeStopFrame({ type: StopType.STATUS, status: Status.OK }))
    await h2
    expect(answerOf(s2)).toBe(Status.UNEXPECTED_MESSAGE)
    const s3 = new FakeStream(info(relay.peer, true))
    const h3 = transport.handleStop(s3)
    s3.push(stopConnect())
    await h3
    expect(answerOf(s3)).toBe(Status.CONNECTION_FAILED)
  })

  test('a silent relay: the stop deadline resets the stream', async () => {
    const { transport, expire } = rig()
    const s = new FakeStream()
    const handled = transport.handleStop(s)
    await until(() => expire.length === 1)
    expire[0]!()
    await handled
    expect(s.wasReset).toBe(true)
    expect(s.written).toEqual([])
  })
})

describe('StreamRawConnection', () => {
  const addr = Multiaddr.fromString(`/p2p/${R}/p2p-circuit/p2p/${T}`)
  const make = (s: FakeStream, remainder = new Uint8Array(0)): StreamRawConnection => new StreamRawConnection(s, s.source[Symbol.asyncIterator](), remainder, addr, undefined)

  test('pause holds what arrives; resume delivers it in order', async () => {
    const s = new FakeStream()
    const c = make(s)
    const h = handlers()
    c.start(h)
    s.push(Uint8Array.of(1))
    await until(() => h.data.length === 1)
    c.pause()
    s.push(Uint8Array.of(2))
    s.push(Uint8Array.of(3))
    for (let i = 0; i < 20; i++) await tick()
    expect(h.data.length).toBeLessThanOrEqual(2) // at most the read already in flight, held
    expect(h.data.length).toBe(1)
    c.resume()
    await until(() => h.data.length === 3)
    expect(h.data.map((d) => d[0])).toEqual([1, 2, 3])
  })

  test('write: false at the high-water mark (256 KiB), drain once the stream took the bytes', async () => {
    const s = new FakeStream()
    let open!: () => void
    s.gate = new Promise<void>((r) => { open = r })
    const c = make(s)
    const h = handlers()
    c.start(h)
    expect(c.write(new Uint8Array(256 * 1024 - 1))).toBe(true)
    expect(c.write(new Uint8Array(1))).toBe(false)
    await tick()
    expect(h.drains).toBe(0)
    s.gate = undefined
    open()
    await until(() => h.drains === 1)
    expect(s.bytes().length).toBe(256 * 1024)
  })

  test('close half-closes after the queued writes; EOF from the far side then ends it once', async () => {
    const s = new FakeStream()
    const c = make(s)
    const h = handlers()
    c.start(h)
    c.write(Uint8Array.of(9))
    c.close()
    await until(() => s.closedWrite)
    expect(s.bytes()).toEqual(Uint8Array.of(9))
    expect(h.closed).toEqual([])
    s.push('end')
    await until(() => h.closed.length === 1)
    expect(h.ended).toBe(true)
    expect(h.closed).toEqual([undefined])
  })

  test('a reset (the relay hit a limit) closes it with the error; destroy resets the stream', async () => {
    const s = new FakeStream()
    const c = make(s)
    const h = handlers()
    c.start(h)
    s.push(new Error('stream/reset'))
    await until(() => h.closed.length === 1)
    expect(h.closed[0]?.message).toBe('stream/reset')
    const s2 = new FakeStream()
    const c2 = make(s2)
    const h2 = handlers()
    c2.start(h2)
    c2.destroy()
    c2.destroy()
    await until(() => h2.closed.length === 1)
    expect(s2.wasReset).toBe(true)
    for (let i = 0; i < 5; i++) await tick()
    expect(h2.closed.length).toBe(1)
  })
})
