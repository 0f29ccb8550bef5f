/**
 * The swarm seams of issue 13 (spec/relay.md "Limited connections", spec/swarm.md): limited
 * connections and the protocols that opt in, forced dials, the responder role on an outbound
 * socket, observed addresses and external addresses from behaviours, manual consume.
 *
 * A limited connection is any connection whose remote address contains /p2p-circuit; here a test
 * transport carries memory connections under such addresses, so the seams are tested without a relay.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createNode, memory, readAll, type WeftNode } from '../src/node.js'
import { OutcomeError } from '../src/core/errors.js'
import { Multiaddr } from '../src/multiaddr/index.js'
import type { RawConnection, Transport } from '../src/io/transport.js'
import type { Behaviour, BehaviourAction, BehaviourInput } from '../src/swarm/behaviour.js'
import type { ServiceFactory } from '../src/swarm/service.js'
import { isLimitedAddr } from '../src/swarm/limited.js'
import { Swarm } from '../src/swarm/index.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'

const CIRCUIT = '/p2p-circuit'
const strip = (a: Multiaddr): Multiaddr => Multiaddr.fromString(a.toString().split(CIRCUIT)[0]!)

function relabel(raw: RawConnection, remoteAddr: Multiaddr): RawConnection {
  return {
    remoteAddr,
    localAddr: raw.localAddr,
    start: (h) => raw.start(h),
    write: (d) => raw.write(d),
    pause: () => raw.pause(),
    resume: () => raw.resume(),
    close: () => raw.close(),
    destroy: (e) => raw.destroy(e),
  }
}

/** Memory connections labelled as relayed: `/memory/N/p2p-circuit` on both ends. */
function fakeCircuit(): Transport {
  const mem = memory()
  return {
    name: 'fake-circuit',
    canDial: (a) => isLimitedAddr(a),
    canListen: (a) => isLimitedAddr(a),
    dial: async (a, o) => relabel(await mem.dial(strip(a), o), Multiaddr.fromString(a.toString().replace(/\/p2p\/[^/]+$/, ''))),
    listen: async (a, onConn) => {
      const l = await mem.listen(strip(a), (raw) => onConn(relabel(raw, raw.remoteAddr.encapsulate(CIRCUIT))))
      return { addrs: l.addrs.map((x) => x.encapsulate(CIRCUIT)), close: () => l.close() }
    },
  }
}

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

async function node(listen: string[], opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen, transports: [fakeCircuit(), memory()], services: {}, ...opts })
  nodes.push(n)
  return n
}

async function limitedPair(): Promise<{ a: WeftNode; b: WeftNode; addr: Multiaddr }> {
  const a = await node(['/memory/0/p2p-circuit', '/memory/0'])
  const b = await node([])
  return { a, b, addr: a.getMultiaddrs()[0]! }
}

describe('limited connections', () => {
  test('a relayed connection is limited on both sides; identify and ping run on it', async () => {
    const { a, b, addr } = await limitedPair()
    const identified = new Promise<void>((r) => b.on('peer:identify', () => r()))
    const c = await b.dial(addr)
    expect(c.limited).toBe(true)
    expect(a.getConnections(b.peerId)[0]?.limited).toBe(true)
    await identified
    expect(await b.ping(a.peerId)).toBeGreaterThanOrEqual(0)
  })

  test('a protocol runs on a limited connection only when both sides opt in', async () => {
    const { a, b, addr } = await limitedPair()
    a.handle('/open/1.0.0', async (s) => { await s.sink(s.source) }, { allowLimited: true })
    a.handle('/closed/1.0.0', async (s) => { await s.sink(s.source) })
    await b.dial(addr)
    // the opener did not opt in: a typed local error, nothing sent
    const e = await b.newStream(a.peerId, '/open/1.0.0').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(OutcomeError)
    expect(e).toMatchObject({ code: 'swarm/limited-connection' })
    // both opted in: it works
    const s = await b.newStream(a.peerId, '/open/1.0.0', { allowLimited: true })
    await s.sink([new Uint8Array([1, 2, 3])])
    expect([...(await readAll(s.source))]).toEqual([1, 2, 3])
    // the listener did not opt in: refused in negotiation
    await expect(b.newStream(a.peerId, '/closed/1.0.0', { allowLimited: true })).rejects.toMatchObject({ code: 'connection/protocol-rejected' })
  })

  test('a direct connection is preferred; dialing a direct address does not settle for the limited one', async () => {
    const { a, b, addr } = await limitedPair()
    a.handle('/closed/1.0.0', async (s) => { await s.sink(s.source) })
    const relayed = await b.dial(addr)
    const direct = await b.dial(a.getMultiaddrs()[1]!)
    expect(direct.limited).toBe(false)
    expect(direct.id).not.toBe(relayed.id)
    const s = await b.newStream(a.peerId, '/closed/1.0.0')
    expect(s.connection.id).toBe(direct.id)
    s.reset()
  })

  test('a relayed listen address is not a confirmed external address', async () => {
    const a = await node(['/memory/0/p2p-circuit'])
    expect(a.swarm.externalAddrs).toHaveLength(0)
  })
})

/** A scripted behaviour: records inputs, performs queued actions. */
class Scripted implements Behaviour<unknown> {
  readonly protocols: readonly string[]
  readonly inputs: BehaviourInput[] = []
  readonly actions: Array<BehaviourAction<unknown>> = []
  run: ((f: (now: number) => void) => void) | undefined
  /** Queue an action and let the node's runtime perform it. */
  act(a: BehaviourAction<unknown>): void {
    this.actions.push(a)
    this.run!(() => {})
  }
  constructor(protocols: readonly string[] = []) { this.protocols = protocols }
  handle(_now: number, input: BehaviourInput): void { this.inputs.push(input) }
  handleTimeout(): void {}
  pollAction(): BehaviourAction<unknown> | undefined { return this.actions.shift() }
  pollTimeout(): number | undefined { return undefined }
}

function scripted(b: Scripted): ServiceFactory {
  return (ctx) => {
    b.run = ctx.run
    return { name: 'scripted', behaviour: b, api: b, onEvent: () => {}, stop: () => {} }
  }
}

async function until(f: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(f()).toBe(true)
}

describe('behaviour seams', () => {
  test('identify observations reach behaviours as observed-addr; external-addr confirms an address', async () => {
    const sb = new Scripted()
    const a = await createNode({ listen: ['/memory/0'], transports: [memory()], services: { s: scripted(sb) } })
    const b = await node(['/memory/0'])
    nodes.push(a)
    await a.dial(b.getMultiaddrs()[0]!)
    await until(() => sb.inputs.some((i) => i.type === 'observed-addr'))
    const obs = sb.inputs.find((i) => i.type === 'observed-addr') as Extract<BehaviourInput, { type: 'observed-addr' }>
    expect(obs.connection.peer.equals(b.peerId)).toBe(true)
    const reach = new Promise<boolean>((r) => a.on('reachability', (e) => r(e.reachable)))
    sb.act({ type: 'external-addr', addr: Multiaddr.fromString('/ip4/11.0.0.5/tcp/4001'), confirmed: true })
    expect(await reach).toBe(true)
    expect(a.getExternalAddresses().map(String)).toEqual(['/ip4/11.0.0.5/tcp/4001'])
  })

  test('a forced dial opens a second connection to a connected peer', async () => {
    const sb = new Scripted()
    const a = await createNode({ listen: [], transports: [memory()], services: { s: scripted(sb) } })
    nodes.push(a)
    const b = await node(['/memory/0'])
    const first = await a.dial(b.getMultiaddrs()[0]!)
    sb.act({ type: 'dial', requestId: 7, peer: b.peerId, addrs: [b.getMultiaddrs()[0]!], options: { force: true } })
    await until(() => sb.inputs.some((i) => i.type === 'dial-succeeded' && i.requestId === 7))
    const ok = sb.inputs.find((i) => i.type === 'dial-succeeded') as Extract<BehaviourInput, { type: 'dial-succeeded' }>
    expect(ok.connection.id).not.toBe(first.id)
    expect(a.getConnections(b.peerId)).toHaveLength(2)
  })

  test('role responder: two outbound sockets of a TCP simultaneous open complete one handshake', () => {
    // Two swarms dial each other and their transports are joined back to back, as a simultaneous
    // open joins two SYN_SENT sockets: B (role responder) answers A's Noise handshake.
    const key = (n: number): ReturnType<typeof privateKeyFromSeed> => privateKeyFromSeed(new Uint8Array(32).fill(n), nobleCrypto)
    const ka = key(7)
    const kb = key(8)
    const addrA = Multiaddr.fromString(`/ip4/11.0.0.1/tcp/5000/p2p/${ka.publicKey.toPeerId().toString()}`)
    const addrB = Multiaddr.fromString(`/ip4/11.0.0.2/tcp/5000/p2p/${kb.publicKey.toPeerId().toString()}`)
    const sa = new Swarm({}, { crypto: nobleCrypto, identity: ka })
    const sbw = new Swarm({}, { crypto: nobleCrypto, identity: kb })
    sa.start(0)
    sbw.start(0)
    sa.dial(0, addrB, 1)
    sbw.dial(0, addrA, 1, { force: true, role: 'responder' })
    const ca = sa.pollIo()
    const cb = sbw.pollIo()
    expect(ca?.type).toBe('connect')
    expect(cb?.type).toBe('connect')
    sa.handleConnected(0, ca!.connection, undefined)
    sbw.handleConnected(0, cb!.connection, undefined)
    for (let round = 0; round < 20; round++) {
      for (let x = sa.pollTransmit(ca!.connection, 1 << 20); x !== undefined; x = sa.pollTransmit(ca!.connection, 1 << 20)) sbw.handleData(0, cb!.connection, x)
      for (let x = sbw.pollTransmit(cb!.connection, 1 << 20); x !== undefined; x = sbw.pollTransmit(cb!.connection, 1 << 20)) sa.handleData(0, ca!.connection, x)
    }
    const evA: string[] = []
    const evB: string[] = []
    for (let e = sa.pollEvent(); e !== undefined; e = sa.pollEvent()) evA.push(e.type)
    for (let e = sbw.pollEvent(); e !== undefined; e = sbw.pollEvent()) evB.push(e.type)
    expect(evA).toContain('dial-succeeded')
    expect(evB).toContain('dial-succeeded')
    expect(sa.connections()[0]?.direction).toBe('outbound')
    expect(sbw.connections()[0]?.direction).toBe('outbound')
  })

  test('cancel-dial: a behaviour gives up its dial; the attempt\'s connection is closed and no dial result reaches it; another behaviour\'s request id is not its own', () => {
    const mine = new Scripted()
    const other = new Scripted()
    const s = new Swarm({ mine, other }, { crypto: nobleCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(9), nobleCrypto) })
    s.start(0)
    const target = Multiaddr.fromString(`/ip4/11.0.0.2/tcp/5000/p2p/${privateKeyFromSeed(new Uint8Array(32).fill(10), nobleCrypto).publicKey.toPeerId().toString()}`)
    mine.actions.push({ type: 'dial', requestId: 7, addrs: [target], options: { force: true } })
    s.handleTimeout(0)
    const io = s.pollIo()
    expect(io).toMatchObject({ type: 'connect' })
    other.actions.push({ type: 'cancel-dial', requestId: 7 })
    s.handleTimeout(1)
    expect(s.pollIo()).toBeUndefined() // not other's dial
    mine.actions.push({ type: 'cancel-dial', requestId: 7 })
    s.handleTimeout(2)
    expect(s.pollIo()).toEqual({ type: 'close', connection: io!.connection })
    s.handleConnectFailed(3, io!.connection, new Error('closed'))
    expect(mine.inputs.filter((i) => i.type === 'dial-failed' || i.type === 'dial-succeeded')).toEqual([])
  })

  test('manual-consume holds the window until the behaviour consumes', async () => {
    const sb = new Scripted(['/sink/1.0.0'])
    const a = await createNode({ listen: ['/memory/0'], transports: [memory()], services: { s: scripted(sb) } })
    nodes.push(a)
    const b = await node([])
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/sink/1.0.0')
    await until(() => sb.inputs.some((i) => i.type === 'stream-opened'))
    const ref = (sb.inputs.find((i) => i.type === 'stream-opened') as Extract<BehaviourInput, { type: 'stream-opened' }>).stream
    sb.act({ type: 'manual-consume', stream: ref })
    const chunk = new Uint8Array(64 * 1024)
    let sent = 0
    const writer = (async () => { for (let i = 0; i < 16; i++) { await s.write(chunk); sent += chunk.length } })()
    const received = (): number => sb.inputs.filter((i) => i.type === 'stream-data').reduce((n, i) => n + (i as { data: Uint8Array }).data.length, 0)
    // the yamux window (256 KiB) fills and the writer stalls short of 1 MiB
    await until(() => received() >= 200 * 1024)
    await new Promise((r) => setTimeout(r, 50))
    expect(received()).toBeLessThan(1024 * 1024)
    expect(sent).toBeLessThan(1024 * 1024)
    sb.act({ type: 'consume', stream: ref, bytes: received() })
    await until(() => received() >= 400 * 1024)
    const credit = async (): Promise<void> => { while (received() < 1024 * 1024) { await new Promise((r) => setTimeout(r, 5)); sb.act({ type: 'consume', stream: ref, bytes: 64 * 1024 }) } }
    await credit()
    await writer
    expect(sent).toBe(1024 * 1024)
  }, 20_000)

  test('a behaviour write after its stream\'s send side ended is dropped, not reported as a bug', async () => {
    const sb = new Scripted(['/sink/1.0.0'])
    const a = await createNode({ listen: ['/memory/0'], transports: [memory()], services: { s: scripted(sb) } })
    nodes.push(a)
    const errors: unknown[] = []
    a.on('error', (e) => errors.push(e))
    const b = await node([])
    const s = await b.newStream(a.getMultiaddrs()[0]!, '/sink/1.0.0')
    await until(() => sb.inputs.some((i) => i.type === 'stream-opened'))
    const ref = (sb.inputs.find((i) => i.type === 'stream-opened') as Extract<BehaviourInput, { type: 'stream-opened' }>).stream
    sb.act({ type: 'close-write', stream: ref })
    sb.act({ type: 'write', stream: ref, data: new Uint8Array([1, 2, 3]) })
    expect(await readAll(s.source)).toHaveLength(0)
    expect(errors).toEqual([])
    expect(await b.ping(a.peerId)).toBeGreaterThanOrEqual(0)
  })
})
