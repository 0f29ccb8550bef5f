/**
 * A bug is the connection's, not the process's (issue 11 item 2, audit finding 2): an exception from
 * a behaviour, a connection core, the swarm itself or a user's stream handler closes the connection
 * (or resets the stream) it concerned, comes out as the node's `error` event, and every other peer
 * keeps being served. No uncaughtException or unhandledRejection.
 */
import * as net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createNode, nodeCrypto, readAll, type WeftNode } from '../src/node.js'
import type { NodeErrorEvent } from '../src/edge/weft-node.js'
import { DialError, InternalError } from '../src/core/errors.js'
import { nobleCrypto } from '../src/core/crypto/noble.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { Connection } from '../src/connection/index.js'
import { Swarm, type Behaviour, type BehaviourAction, type ServiceFactory } from '../src/swarm/index.js'
import type { PeerId } from '../src/peer-id/index.js'

const escaped: unknown[] = []
const onEscape = (e: unknown): void => { escaped.push(e) }
beforeAll(() => {
  process.on('uncaughtException', onEscape)
  process.on('unhandledRejection', onEscape)
})
afterAll(() => {
  process.off('uncaughtException', onEscape)
  process.off('unhandledRejection', onEscape)
})

const nodes: WeftNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
  expect(escaped).toEqual([])
})

async function node(opts: Parameters<typeof createNode>[0] = {}): Promise<WeftNode> {
  const n = await createNode({ listen: [], services: {}, ...opts })
  nodes.push(n)
  return n
}

/** An echo behaviour on /boom/1.0.0 with a latent bug: a message containing "boom" makes it throw. */
function boom(): ServiceFactory {
  return () => {
    const actions: BehaviourAction<unknown>[] = []
    const behaviour: Behaviour<unknown> = {
      protocols: ['/boom/1.0.0'],
      handle(_now, input) {
        if (input.type !== 'stream-data') return
        if (new TextDecoder().decode(input.data).includes('boom')) throw new TypeError('latent bug in a behaviour')
        actions.push({ type: 'write', stream: input.stream, data: input.data.slice() })
      },
      handleTimeout() {},
      pollAction: () => actions.shift(),
      pollTimeout: () => undefined,
    }
    return { name: 'boom', behaviour, api: {}, onEvent() {}, stop() {} }
  }
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const nextError = (n: WeftNode): Promise<NodeErrorEvent> => new Promise((resolve) => { const off = n.on('error', (e) => { off(); resolve(e) }) })
const closedFrom = (n: WeftNode, peer: PeerId): Promise<{ error?: Error }> =>
  new Promise((resolve) => { const off = n.on('connection:close', (d) => { if (d.connection.peer.equals(peer)) { off(); resolve(d) } }) })

/** The connection closed with an InternalError ('<boundary>/internal-error') holding the bug as its cause. */
function expectInternal(e: Error | undefined): void {
  expect(e).toBeInstanceOf(InternalError)
  expect((e as InternalError).code).toMatch(/\/internal-error$/)
  expect((e as InternalError).cause).toBeInstanceOf(Error)
}

async function readSome(source: AsyncIterable<Uint8Array>): Promise<string> {
  for await (const chunk of source) return new TextDecoder().decode(chunk)
  return ''
}

describe('containment', () => {
  test('a behaviour that throws on a message closes that connection only; the node serves other peers and new ones', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { boom: boom() } })
    const addr = a.getMultiaddrs()[0]!
    const c = await node()
    await c.ping(addr)
    const cConn = c.getConnections(a.peerId)[0]!.id
    const b = await node()
    const s = await b.newStream(addr, '/boom/1.0.0')
    await s.write(text('hello'))
    expect(await readSome(s.source)).toBe('hello')

    const errored = nextError(a)
    const aClosed = closedFrom(a, b.peerId)
    const bClosed = closedFrom(b, a.peerId)
    await s.write(text('boom'))
    const ev = await errored
    expect(ev).toMatchObject({ origin: 'behaviour', behaviour: 'boom' })
    expect(ev.error).toBeInstanceOf(TypeError)
    expect(ev.peer?.equals(b.peerId)).toBe(true)
    expectInternal((await aClosed).error)
    await bClosed

    // The peer connected before is served on the same connection; a new peer and B again too.
    expect(await c.ping(addr)).toBeGreaterThanOrEqual(0)
    expect(c.getConnections(a.peerId)[0]!.id).toBe(cConn)
    const d = await node()
    expect(await d.ping(addr)).toBeGreaterThanOrEqual(0)
    const again = await b.newStream(addr, '/boom/1.0.0')
    await again.write(text('again'))
    expect(await readSome(again.source)).toBe('again')
  })

  test('a connection core that throws on input closes that connection with internal-error; others go on', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const addr = a.getMultiaddrs()[0]!
    const c = await node()
    await c.ping(addr)
    const b = await node()
    await b.ping(addr)
    const original = Connection.prototype.handleData
    Connection.prototype.handleData = function (this: Connection, now, data) {
      if (this.remotePeer?.equals(b.peerId) === true) throw new RangeError('latent bug in a core')
      return original.call(this, now, data)
    }
    try {
      const errored = nextError(a)
      const aClosed = closedFrom(a, b.peerId)
      void b.ping(addr).catch(() => undefined)
      const ev = await errored
      expect(ev).toMatchObject({ origin: 'connection' })
      expect(ev.error).toBeInstanceOf(RangeError)
      expect(ev.peer?.equals(b.peerId)).toBe(true)
      expectInternal((await aClosed).error)
    } finally {
      Connection.prototype.handleData = original
    }
    expect(await c.ping(addr)).toBeGreaterThanOrEqual(0)
    expect(await b.ping(addr)).toBeGreaterThanOrEqual(0)
  })

  test('a bug the connection core contains itself (closed with InternalError, nothing thrown) is still the node\'s error event', async () => {
    // a crypto provider with a latent bug: once armed, opening a transport frame throws a TypeError
    // inside Noise; the connection core turns it into closed{InternalError('connection/internal-error')}
    let armed = false
    const buggy = { ...nodeCrypto, chachaOpen: (k: Uint8Array, n: Uint8Array, c: Uint8Array, ad: Uint8Array) => {
      if (armed) throw new TypeError('latent bug in a provider')
      return nodeCrypto.chachaOpen(k, n, c, ad)
    } }
    const { chachaOpenInto: _skip, ...withoutInto } = buggy
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], crypto: withoutInto })
    const addr = a.getMultiaddrs()[0]!
    const b = await node()
    await b.ping(addr)
    const errored = nextError(a)
    const aClosed = closedFrom(a, b.peerId)
    armed = true
    void b.ping(addr).catch(() => undefined)
    const ev = await errored
    armed = false
    expect(ev).toMatchObject({ origin: 'connection' })
    expectInternal(ev.error)
    expect((ev.error as InternalError).cause).toBeInstanceOf(TypeError)
    expectInternal((await aClosed).error)
    const c = await node()
    expect(await c.ping(addr)).toBeGreaterThanOrEqual(0)
  })

  test('an exception escaping the swarm in a socket read callback fails that connection in the runtime; others go on', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const addr = a.getMultiaddrs()[0]!
    const c = await node()
    await c.ping(addr)
    const b = await node()
    await b.ping(addr)
    const victim = a.getConnections(b.peerId)[0]!.id
    const original = Swarm.prototype.handleData
    Swarm.prototype.handleData = function (this: Swarm, now, id, data) {
      if (id === victim) throw new Error('latent bug in the swarm')
      return original.call(this, now, id, data)
    }
    try {
      const errored = nextError(a)
      const aClosed = closedFrom(a, b.peerId)
      void b.ping(addr).catch(() => undefined)
      const ev = await errored
      expect(ev.error.message).toBe('latent bug in the swarm')
      expect(ev.connection?.id).toBe(victim)
      expectInternal((await aClosed).error)
    } finally {
      Swarm.prototype.handleData = original
    }
    expect(await c.ping(addr)).toBeGreaterThanOrEqual(0)
  })

  test('a stream handler that throws or rejects: its stream is reset and the error is reported as the handler\'s', async () => {
    const a = await node({ listen: ['/memory/0'] })
    const addr = a.getMultiaddrs()[0]!
    a.handle('/throws/1.0.0', () => { throw new Error('handler threw') })
    a.handle('/rejects/1.0.0', async () => { throw new Error('handler rejected') })
    const b = await node()
    for (const [protocol, message] of [['/throws/1.0.0', 'handler threw'], ['/rejects/1.0.0', 'handler rejected']] as const) {
      const errored = nextError(a)
      const s = await b.newStream(addr, protocol)
      const ev = await errored
      expect(ev).toMatchObject({ origin: 'handler', protocol })
      expect(ev.error.message).toBe(message)
      expect(ev.peer?.equals(b.peerId)).toBe(true)
      await expect(readAll(s.source)).rejects.toMatchObject({ code: 'stream/reset' })
    }
    expect(await b.ping(addr)).toBeGreaterThanOrEqual(0)
  })

  test('an exception in the dial-completion callback (handleConnected) fails that dial with the cause; no unhandled rejection', async () => {
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const b = await node()
    const original = Swarm.prototype.handleConnected
    Swarm.prototype.handleConnected = function () { throw new Error('latent bug on connect') }
    try {
      const errored = nextError(b)
      const e = await b.dial(a.getMultiaddrs()[0]!).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(DialError)
      expect((e as DialError).attempts[0]!.error).toBeInstanceOf(InternalError)
      expect((await errored).error.message).toBe('latent bug on connect')
    } finally {
      Swarm.prototype.handleConnected = original
    }
    expect(await b.ping(a.getMultiaddrs()[0]!)).toBeGreaterThanOrEqual(0)
  })

  test('an exception in the timer callback is reported, and the node keeps serving', async () => {
    // A socket that never starts the handshake arms the upgrade timeout (50 ms here): the timer fires.
    const a = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], connection: { upgradeTimeout: 50 } })
    const b = await node()
    await b.ping(a.getMultiaddrs()[0]!)
    const original = Swarm.prototype.handleTimeout
    Swarm.prototype.handleTimeout = function () {
      Swarm.prototype.handleTimeout = original
      throw new Error('latent bug in a timer')
    }
    const t = a.getMultiaddrs()[0]!.toDialTarget()!
    const silent = net.connect({ host: t.host, port: t.port })
    silent.on('error', () => {})
    try {
      expect((await nextError(a)).error.message).toBe('latent bug in a timer')
    } finally {
      Swarm.prototype.handleTimeout = original
      silent.destroy()
    }
    expect(await b.ping(a.getMultiaddrs()[0]!)).toBeGreaterThanOrEqual(0)
  })

  test('a behaviour whose pollAction throws is reported by name; the other behaviours\' actions still run', () => {
    const events: BehaviourAction<unknown>[] = [{ type: 'event', event: 'from b' }]
    let thrown = false
    const quiet = { handle() {}, handleTimeout() {}, pollTimeout: () => undefined }
    const s = new Swarm({
      a: { ...quiet, protocols: [], pollAction: () => { if (!thrown) { thrown = true; throw new TypeError('a is broken') } return undefined } },
      b: { ...quiet, protocols: [], pollAction: () => events.shift() },
    }, { crypto: nobleCrypto, identity: privateKeyFromSeed(new Uint8Array(32).fill(3), nobleCrypto) })
    s.start(0)
    const out: unknown[] = []
    for (let ev = s.pollEvent(); ev !== undefined; ev = s.pollEvent()) if (ev.type === 'error' || ev.type === 'behaviour') out.push(ev.type === 'error' ? { error: ev.error.message, behaviour: ev.behaviour } : ev.event)
    expect(out).toEqual([{ error: 'a is broken', behaviour: 'a' }, 'from b'])
  })

  test('aborting a dial cancels the swarm\'s dial, not only the promise', async () => {
    const target = await node({ listen: ['/memory/0'] })
    // One dial at a time: a dial abandoned but still pending in the swarm would refuse the next.
    const b = await node({ limits: { maxPendingDials: 1 } })
    const ac = new AbortController()
    const blackhole = b.dial('/ip4/10.255.255.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', { signal: ac.signal })
    ac.abort()
    await expect(blackhole).rejects.toBeDefined()
    const conn = await b.dial(target.getMultiaddrs()[0]!)
    expect(conn.peer.equals(target.peerId)).toBe(true)
  })
})
