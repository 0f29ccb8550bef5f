import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { PingBehaviour, PING_PROTOCOL } from '../src/ping/index.js'
import type { PingEvent } from '../src/ping/index.js'
import { fromHex, toHex } from '../src/core/bytes.js'
import { OutcomeError, ProtocolError, UsageError } from '../src/core/errors.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { Harness, Pair, testIdentity } from './helpers/behaviour-harness.js'
import type { Chunking } from './helpers/behaviour-harness.js'
import { vectorFile } from './helpers/vectors.js'

const alice = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const bob = testIdentity(2, '/ip4/10.0.0.2/tcp/4001')
const connToBob: ConnectionInfo = { id: 1, peer: bob.peer, remotePublicKey: bob.publicKey, remoteAddr: bob.addr, localAddr: alice.addr, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
const S: StreamRef = { connection: 1, stream: 1 }

/** A deterministic random source: counter bytes. */
function counterRandom(start = 0): (n: number) => Uint8Array {
  let c = start
  return (n) => Uint8Array.from({ length: n }, () => c++ & 0xff)
}

/** Action summary as written in the vectors. */
function summarize(a: BehaviourAction<PingEvent>): unknown {
  switch (a.type) {
    case 'open-stream': return { type: a.type, requestId: a.requestId, protocols: a.protocols }
    case 'write': return { type: a.type, hex: toHex(a.data) }
    case 'event': {
      const e = a.event
      if (e.type === 'pong') return { type: 'event', event: { type: e.type, requestId: e.requestId, rtt: e.rtt } }
      return { type: 'event', event: { type: e.type, requestId: e.requestId, code: (e.error as ProtocolError).code } }
    }
    default: return { type: a.type }
  }
}

describe('ping vectors', () => {
  const vectors = vectorFile('ping')
  for (const v of vectors.all()) {
    test(v.id, () => {
      const random = typeof v.random === 'string' ? fromHex(v.random) : new Uint8Array(32)
      const h = new Harness(new PingBehaviour({ random: () => random.slice() }))
      for (const step of v.steps!) {
        let out: BehaviourAction<PingEvent>[]
        if (step.timeout === true) {
          out = h.advance(step.at - h.now)
        } else {
          h.now = step.at
          if (step.command === 'ping') {
            h.command((now) => (h.behaviour as PingBehaviour).ping(now, bob.peer))
            out = h.drain()
          } else {
            const i = step.input
            let input: BehaviourInput
            if (i.type === 'stream-opened') {
              input = { type: 'stream-opened', stream: S, protocol: PING_PROTOCOL, direction: i.direction, connection: connToBob, ...(i.requestId !== undefined ? { requestId: i.requestId } : {}) }
            } else if (i.type === 'stream-data') {
              input = { type: 'stream-data', stream: S, data: fromHex(i.hex) }
            } else {
              input = { type: i.type, stream: S }
            }
            out = h.input(input)
          }
        }
        expect(out.map(summarize), `step at ${step.at}`).toEqual(step.expect)
      }
    })
  }
})

/** Answers ping streams with `transform(payload)` instead of an echo, or never (transform undefined). */
class FakeServer implements Behaviour<never> {
  readonly protocols = [PING_PROTOCOL]
  readonly #out: BehaviourAction<never>[] = []
  constructor(readonly transform?: (b: Uint8Array) => Uint8Array) {}
  handle(_now: number, input: BehaviourInput): void {
    if (input.type === 'stream-data' && this.transform !== undefined) this.#out.push({ type: 'write', stream: input.stream, data: this.transform(input.data) })
  }
  handleTimeout(): void {}
  pollAction() { return this.#out.shift() }
  pollTimeout() { return undefined }
}

function pingPair(server: Behaviour<any>, options: { latency?: number; chunking?: Chunking } = {}) {
  const client = new PingBehaviour({ random: counterRandom() })
  const pair = new Pair<PingEvent, any>(client, server, { a: alice, b: bob }, options)
  pair.connect()
  pair.run()
  return { client, pair }
}

describe('ping between two behaviours', () => {
  for (const chunking of ['whole', 'bytes', { seed: 7 }] as Chunking[]) {
    test(`RTT on a virtual clock (chunking ${JSON.stringify(chunking)})`, () => {
      const { client, pair } = pingPair(new PingBehaviour({ random: counterRandom(100) }), { latency: 25, chunking })
      const id = pair.a.command((now) => client.ping(now, bob.peer))
      pair.run()
      // open at +25 (both sides), payload arrives at +50, echo back at +75: rtt = 2 * 25
      expect(pair.a.eventsOf('pong')).toEqual([{ type: 'pong', requestId: id, peer: bob.peer, rtt: 50 }])
      expect(pair.a.eventsOf('ping-failed')).toEqual([])
      // the client closed its side after the echo; the server closed in turn
      expect(pair.a.actions.map((a) => a.type)).toEqual(['open-stream', 'write', 'close-write'])
      expect(pair.b.actions.map((a) => a.type)).toEqual(['write', 'close-write'])
    })
  }

  test('pings to one peer run in order on one reused stream, closed once idle', () => {
    const { client, pair } = pingPair(new PingBehaviour({ random: counterRandom() }), { latency: 5 })
    const ids = pair.a.command((now) => [client.ping(now, bob.peer), client.ping(now, bob.peer), client.ping(now, bob.peer, 77)])
    expect(ids).toEqual([1, 2, 77])
    expect(pair.a.actions.filter((a) => a.type === 'open-stream')).toHaveLength(1)
    pair.run()
    // the first ping pays for the stream's opening latency in its deadline, not its rtt; the next two reuse it
    expect(pair.a.eventsOf('pong').map((e) => [e.requestId, e.rtt])).toEqual([[1, 10], [2, 10], [77, 10]])
    expect(pair.a.actions.map((a) => a.type)).toEqual(['open-stream', 'write', 'write', 'write', 'close-write'])
    // the listener saw one stream and closed it after our close-write
    expect(pair.b.actions.map((a) => a.type)).toEqual(['write', 'write', 'write', 'close-write'])
  })

  test('a ping after the idle timeout opens a new stream; a failed ping never leaves its stream for reuse', () => {
    // failure first: a wrong echo resets the stream, so the next ping opens another
    const bad = pingPair(new FakeServer((b) => b.map((x) => x ^ 1)))
    bad.pair.a.command((now) => [bad.client.ping(now, bob.peer), bad.client.ping(now, bob.peer)])
    bad.pair.run()
    expect(bad.pair.a.eventsOf('ping-failed')).toHaveLength(2)
    expect(bad.pair.a.actions.map((a) => a.type)).toEqual(['open-stream', 'write', 'reset', 'open-stream', 'write', 'reset'])

    const client = new PingBehaviour({ random: counterRandom(), streamIdleTimeout: 1000 })
    const pair = new Pair<PingEvent, PingEvent>(client, new PingBehaviour({ random: counterRandom() }), { a: alice, b: bob }, { latency: 5 })
    pair.connect()
    pair.run()
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.runFor(500)
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.runFor(2000)
    expect(pair.a.actions.filter((a) => a.type === 'open-stream')).toHaveLength(1)
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.run()
    expect(pair.a.eventsOf('pong')).toHaveLength(3)
    expect(pair.a.actions.filter((a) => a.type === 'open-stream')).toHaveLength(2)
    expect(pair.a.actions.filter((a) => a.type === 'close-write')).toHaveLength(2)
  })

  test('wrong echo -> ping-failed ping/wrong-echo, stream reset', () => {
    const { client, pair } = pingPair(new FakeServer((b) => b.map((x) => x ^ 1)))
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.run()
    const [failed] = pair.a.eventsOf('ping-failed')
    expect((failed!.error as ProtocolError).code).toBe('ping/wrong-echo')
    expect(pair.a.actions.map((a) => a.type)).toEqual(['open-stream', 'write', 'reset'])
  })

  test('no echo -> ping-failed ping/timeout after the configured timeout', () => {
    const client = new PingBehaviour({ random: counterRandom(), timeout: 3000 })
    const pair = new Pair<PingEvent, never>(client, new FakeServer(), { a: alice, b: bob }, { latency: 10 })
    pair.connect()
    pair.run()
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.runFor(2999)
    expect(pair.a.events).toEqual([])
    pair.runFor(1)
    const [failed] = pair.a.eventsOf('ping-failed')
    // Silence is not a protocol violation: an OutcomeError (issue 11 item 8).
    expect(failed!.error).toBeInstanceOf(OutcomeError)
    expect(failed!.error).not.toBeInstanceOf(ProtocolError)
    expect((failed!.error as OutcomeError).code).toBe('ping/timeout')
    pair.run()
    expect(client.pollTimeout()).toBeUndefined()
  })

  test('the remote does not support ping -> ping-failed with the open error', () => {
    const { client, pair } = pingPair({ protocols: [], handle() {}, handleTimeout() {}, pollAction: () => undefined, pollTimeout: () => undefined })
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.run()
    const [failed] = pair.a.eventsOf('ping-failed')
    expect(failed!.error.message).toMatch(/not supported/)
    expect(client.pollTimeout()).toBeUndefined()
  })

  test('connection closing fails the ping in flight', () => {
    const { client, pair } = pingPair(new FakeServer())
    pair.a.command((now) => client.ping(now, bob.peer))
    pair.runFor(1)
    pair.disconnect(1)
    pair.run()
    const [failed] = pair.a.eventsOf('ping-failed')
    expect(['ping/stream-reset', 'ping/connection-closed']).toContain((failed!.error as OutcomeError).code)
    expect(failed!.error).toBeInstanceOf(OutcomeError)
  })
})

describe('ping listener', () => {
  const inbound = (stream: number, peer = alice): BehaviourInput => ({
    type: 'stream-opened', stream: { connection: 1, stream }, protocol: PING_PROTOCOL, direction: 'inbound',
    connection: { id: 1, peer: peer.peer, remotePublicKey: peer.publicKey, remoteAddr: peer.addr, localAddr: undefined, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false },
  })

  test('accepts at most two streams per peer (spec); a third is reset until one ends', () => {
    const h = new Harness(new PingBehaviour({ random: counterRandom() }))
    expect(h.input(inbound(1))).toEqual([])
    expect(h.input(inbound(2))).toEqual([])
    expect(h.input(inbound(3))).toEqual([{ type: 'reset', stream: { connection: 1, stream: 3 } }])
    expect(h.input(inbound(4, bob))).toEqual([]) // another peer has its own allowance
    expect(h.input({ type: 'stream-eof', stream: { connection: 1, stream: 1 } })).toEqual([{ type: 'close-write', stream: { connection: 1, stream: 1 } }])
    expect(h.input(inbound(5))).toEqual([])
  })

  test('echo is chunking-invariant and never holds more than 31 bytes (property)', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 12 }), (chunks) => {
      const h = new Harness(new PingBehaviour({ random: counterRandom() }))
      h.input(inbound(1))
      const echoed: number[] = []
      let sent = 0
      for (const c of chunks) {
        for (const a of h.input({ type: 'stream-data', stream: { connection: 1, stream: 1 }, data: c })) {
          expect(a.type).toBe('write')
          if (a.type === 'write') echoed.push(...a.data)
        }
        sent += c.length
        expect(sent - echoed.length).toBeLessThan(32)
      }
      const all = chunks.flatMap((c) => [...c])
      expect(echoed).toEqual(all.slice(0, Math.floor(all.length / 32) * 32))
      expect(h.input({ type: 'stream-eof', stream: { connection: 1, stream: 1 } }).map((a) => a.type)).toEqual(['close-write'])
    }))
  })
})

describe('ping commands', () => {
  test('a request id in use is a UsageError; bad options are RangeErrors', () => {
    const p = new PingBehaviour({ random: counterRandom() })
    p.ping(0, bob.peer, 5)
    expect(() => p.ping(0, bob.peer, 5)).toThrow(UsageError)
    expect(() => new PingBehaviour({ random: counterRandom(), timeout: 0 })).toThrow(RangeError)
  })

  test('queue per peer is bounded locally', () => {
    const p = new PingBehaviour({ random: counterRandom(), maxQueuedPings: 2 })
    p.ping(0, bob.peer)
    p.ping(0, bob.peer)
    expect(() => p.ping(0, bob.peer)).toThrow(UsageError)
    expect(p.ping(0, alice.peer)).toBe(3)
  })

  test('a queued ping times out in the queue', () => {
    const h = new Harness(new PingBehaviour({ random: counterRandom(), timeout: 100 }))
    const p = h.behaviour as PingBehaviour
    p.ping(0, bob.peer)
    h.now = 50
    p.ping(50, bob.peer)
    expect(h.drain().filter((a) => a.type === 'open-stream')).toHaveLength(1)
    const out = h.advance(200)
    const failed = out.flatMap((a) => (a.type === 'event' && a.event.type === 'ping-failed' ? [a.event.requestId] : []))
    expect(failed).toEqual([1, 2])
    // the first failure started the second ping's stream open before it too timed out
    expect(out.filter((a) => a.type === 'open-stream')).toHaveLength(1)
  })
})
