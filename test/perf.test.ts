import { afterEach, describe, expect, test } from 'vitest'
import { createNode, perf, type WeftNode } from '../src/node.js'
import fc from 'fast-check'
import {
  DEFAULT_MAX_DOWNLOAD_BYTES,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_MAX_UPLOAD_BYTES,
  PerfBehaviour,
  PERF_PROTOCOL,
  decodePerfHeader,
  encodePerfHeader,
} from '../src/perf/index.js'
import type { PerfEvent } from '../src/perf/index.js'
import { concat as concatBytes, fromHex, toHex } from '../src/core/bytes.js'
import { OutcomeError, ProtocolError } from '../src/core/errors.js'
import type { Behaviour, BehaviourAction, BehaviourInput, ConnectionInfo, StreamRef } from '../src/swarm/behaviour.js'
import { Harness, Pair, testIdentity } from './helpers/behaviour-harness.js'
import { vectorFile } from './helpers/vectors.js'

const vectors = vectorFile('perf')
const client = testIdentity(1, '/ip4/10.0.0.1/tcp/4001')
const server = testIdentity(2, '/ip4/10.0.0.2/tcp/4001')
const S: StreamRef = { connection: 1, stream: 1 }
const fromClient: ConnectionInfo = { id: 1, peer: client.peer, remotePublicKey: client.publicKey, remoteAddr: client.addr, localAddr: server.addr, direction: 'inbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
const toServer: ConnectionInfo = { id: 1, peer: server.peer, remotePublicKey: server.publicKey, remoteAddr: server.addr, localAddr: client.addr, direction: 'outbound', opened: 0, established: 0, security: '/noise', muxer: '/yamux/1.0.0', earlyMuxer: true, limited: false }
const MiB = 1024 * 1024

function summarize(a: BehaviourAction<PerfEvent>): unknown {
  if (a.type === 'write') return { type: 'write', hex: toHex(a.data) }
  if (a.type !== 'event') return { type: a.type }
  const e = a.event
  if (e.type === 'perf-served') return { type: 'event', event: { type: e.type, uploadBytes: e.uploadBytes, downloadBytes: e.downloadBytes } }
  if (e.type === 'perf-server-error') return { type: 'event', event: { type: e.type, code: e.error.code } }
  return { type: 'event', event: { type: e.type } }
}

describe('perf vectors', () => {
  for (const v of vectors.where((x) => x.id.startsWith('header-'))) {
    test(v.id, () => {
      const n = BigInt(v.decoded.downloadBytes)
      expect(toHex(encodePerfHeader(n))).toBe(v.hex)
      expect(decodePerfHeader(fromHex(v.hex!))).toBe(n)
    })
  }
  for (const v of vectors.where((x) => x.id.startsWith('server-'))) {
    test(v.id, () => {
      const h = new Harness(new PerfBehaviour(typeof v.chunkSize === 'number' ? { chunkSize: v.chunkSize } : {}))
      for (const step of v.steps!) {
        let out: BehaviourAction<PerfEvent>[]
        if (step.input.type === 'stream-opened') out = h.input({ type: 'stream-opened', stream: S, protocol: PERF_PROTOCOL, direction: 'inbound', connection: fromClient })
        else if (step.input.type === 'stream-data') out = h.input({ type: 'stream-data', stream: S, data: fromHex(step.input.hex) })
        else out = h.input({ type: step.input.type, stream: S })
        expect(out.map(summarize)).toEqual(step.expect)
      }
      expect(h.behaviour.pollTimeout()).toBeUndefined()
    })
  }

  test('header bounds', () => {
    expect(() => encodePerfHeader(-1)).toThrow(RangeError)
    expect(() => encodePerfHeader(1n << 64n)).toThrow(RangeError)
    expect(() => decodePerfHeader(new Uint8Array(7))).toThrow(ProtocolError)
  })
})

function perfPair(options: ConstructorParameters<typeof PerfBehaviour>[0] = {}, latency = 10) {
  const c = new PerfBehaviour()
  const s = new PerfBehaviour(options)
  const pair = new Pair<PerfEvent, PerfEvent>(c, s, { a: client, b: server }, { latency })
  pair.connect()
  pair.run()
  return { c, s, pair }
}

describe('perf between two behaviours', () => {
  for (const [up, down] of [[MiB, MiB], [0, 0], [3 * MiB + 5, 7], [1, 2 * MiB - 1]] as const) {
    test(`upload ${up}, download ${down}: exact counts`, () => {
      const { c, pair } = perfPair()
      const id = pair.a.command((now) => c.perf(now, server.peer, { uploadBytes: up, downloadBytes: down }))
      pair.run()
      const [r] = pair.a.eventsOf('perf-result')
      expect(pair.a.eventsOf('perf-failed')).toEqual([])
      expect(r).toMatchObject({ requestId: id, uploadBytes: up, downloadBytes: down })
      expect(pair.delivered('b', S)).toBe(8 + up)
      expect(pair.delivered('a', S)).toBe(down)
      expect(pair.b.eventsOf('perf-served')).toMatchObject([{ uploadBytes: up, downloadBytes: down }])
      // virtual clock, latency 10: opened at 10, upload written in turns at 10, reaches the server at 20,
      // the response at 30 (all turns run at one virtual instant)
      expect(r!.uploadMillis).toBe(20)
      expect(r!.downloadMillis).toBe(0)
      expect(c.pollTimeout()).toBeUndefined()
    })
  }

  test('client flow control: one chunk outstanding, the next after stream-writable', () => {
    const h = new Harness(new PerfBehaviour({ chunkSize: 1000 }))
    const b = h.behaviour as PerfBehaviour
    b.perf(0, server.peer, { uploadBytes: 2500, downloadBytes: 0 })
    h.drain()
    const opened = h.input({ type: 'stream-opened', stream: S, protocol: PERF_PROTOCOL, direction: 'outbound', connection: toServer, requestId: 1 })
    expect(opened).toEqual([{ type: 'write', stream: S, data: fromHex('0000000000000000') }])
    const writable = () => h.input({ type: 'stream-writable', stream: S }).map((a) => (a.type === 'write' ? a.data.length : a.type))
    expect(writable()).toEqual([1000])
    expect(writable()).toEqual([1000])
    expect(writable()).toEqual([500, 'close-write'])
    expect(writable()).toEqual([])
    expect(b.pollTimeout()).toBeUndefined()
  })

  test('progress events at most once per interval', () => {
    const h = new Harness(new PerfBehaviour({ progressInterval: 100 }))
    const b = h.behaviour as PerfBehaviour
    b.perf(0, server.peer, { uploadBytes: 10, downloadBytes: 300 })
    h.input({ type: 'stream-opened', stream: S, protocol: PERF_PROTOCOL, direction: 'outbound', connection: toServer, requestId: 1 })
    expect(h.input({ type: 'stream-writable', stream: S }).map((a) => a.type)).toEqual(['write', 'close-write'])
    const data = (at: number, n: number) => {
      h.now = at
      return h.input({ type: 'stream-data', stream: S, data: new Uint8Array(n) })
    }
    expect(data(50, 100)).toEqual([])
    const progress = data(150, 100)
    expect(progress).toMatchObject([{ type: 'event', event: { type: 'perf-progress', phase: 'download', bytes: 200, millis: 100 } }])
    expect(data(200, 100)).toEqual([])
    h.now = 260
    expect(h.input({ type: 'stream-eof', stream: S })).toMatchObject([{ type: 'event', event: { type: 'perf-result', uploadMillis: 50, downloadMillis: 210 } }])
  })

  test('the server rejects a download above its limit; the client sees a reset', () => {
    const { c, pair } = perfPair({ maxDownloadBytes: 1000 })
    pair.a.command((now) => c.perf(now, server.peer, { uploadBytes: 5, downloadBytes: 1001 }))
    pair.run()
    expect((pair.b.eventsOf('perf-server-error')[0]!.error).code).toBe('perf/download-too-large')
    expect((pair.a.eventsOf('perf-failed')[0]!.error as ProtocolError).code).toBe('perf/stream-reset')
  })

  test('server limits concurrent inbound streams', () => {
    const h = new Harness(new PerfBehaviour({ maxInboundStreams: 1 }))
    const open = (stream: number): BehaviourInput => ({ type: 'stream-opened', stream: { connection: 1, stream }, protocol: PERF_PROTOCOL, direction: 'inbound', connection: fromClient })
    expect(h.input(open(1))).toEqual([])
    expect(h.input(open(2)).map(summarize)).toEqual([{ type: 'reset' }, { type: 'event', event: { type: 'perf-server-error', code: 'perf/too-many-streams' } }])
  })
})

describe('perf server caps (spec/perf.md, Limits)', () => {
  const open = (stream: number, from: ConnectionInfo = fromClient): BehaviourInput => ({ type: 'stream-opened', stream: { connection: from.id, stream }, protocol: PERF_PROTOCOL, direction: 'inbound', connection: from })
  const other = testIdentity(3, '/ip4/10.0.0.3/tcp/4001')
  const fromOther: ConnectionInfo = { ...fromClient, id: 2, peer: other.peer, remotePublicKey: other.publicKey, remoteAddr: other.addr }

  test('defaults: 64 MiB per request each way, 2 streams per peer, 16 in all', () => {
    expect([DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_MAX_STREAMS_PER_PEER, DEFAULT_MAX_INBOUND_STREAMS]).toEqual([64 * MiB, 64 * MiB, 2, 16])
    // the default download cap holds: 64 MiB is served, one byte more is refused at the header
    const h = new Harness(new PerfBehaviour())
    h.input(open(1))
    expect(h.input({ type: 'stream-data', stream: { connection: 1, stream: 1 }, data: encodePerfHeader(64 * MiB + 1) }).map(summarize))
      .toEqual([{ type: 'reset' }, { type: 'event', event: { type: 'perf-server-error', code: 'perf/download-too-large' } }])
    h.input(open(2))
    expect(h.input({ type: 'stream-data', stream: { connection: 1, stream: 2 }, data: encodePerfHeader(64 * MiB) })).toEqual([])
  })

  test('maxDownloadBytes: a request at the cap is served in full, one past it is reset', () => {
    const at = perfPair({ maxDownloadBytes: 1000 })
    at.pair.a.command((now) => at.c.perf(now, server.peer, { uploadBytes: 5, downloadBytes: 1000 }))
    at.pair.run()
    expect(at.pair.a.eventsOf('perf-result')).toMatchObject([{ downloadBytes: 1000 }])
    const past = perfPair({ maxDownloadBytes: 1000 })
    past.pair.a.command((now) => past.c.perf(now, server.peer, { uploadBytes: 5, downloadBytes: 1001 }))
    past.pair.run()
    expect(past.pair.b.eventsOf('perf-server-error')[0]!.error.code).toBe('perf/download-too-large')
    expect(past.pair.a.eventsOf('perf-result')).toEqual([])
  })

  test('maxUploadBytes: an upload of exactly the cap is served, one byte more resets the stream', () => {
    const at = perfPair({ maxUploadBytes: 3000 })
    at.pair.a.command((now) => at.c.perf(now, server.peer, { uploadBytes: 3000, downloadBytes: 10 }))
    at.pair.run()
    expect(at.pair.a.eventsOf('perf-result')).toMatchObject([{ uploadBytes: 3000, downloadBytes: 10 }])
    expect(at.pair.b.eventsOf('perf-served')).toMatchObject([{ uploadBytes: 3000 }])
    const past = perfPair({ maxUploadBytes: 3000 })
    past.pair.a.command((now) => past.c.perf(now, server.peer, { uploadBytes: 3001, downloadBytes: 10 }))
    past.pair.run()
    expect(past.pair.b.eventsOf('perf-server-error').map((e) => e.error.code)).toEqual(['perf/upload-too-large'])
    expect(past.pair.b.eventsOf('perf-served')).toEqual([])
    expect((past.pair.a.eventsOf('perf-failed')[0]!.error as ProtocolError).code).toBe('perf/stream-reset')
  })

  test('maxUploadBytes counts the bytes that arrive with the header', () => {
    const h = new Harness(new PerfBehaviour({ maxUploadBytes: 4 }))
    h.input(open(1))
    const withHeader = (n: number) => h.input({ type: 'stream-data', stream: { connection: 1, stream: 1 }, data: concatBytes([encodePerfHeader(0), new Uint8Array(n)]) })
    expect(withHeader(4)).toEqual([])
    h.input(open(2))
    expect(h.input({ type: 'stream-data', stream: { connection: 1, stream: 2 }, data: concatBytes([encodePerfHeader(0), new Uint8Array(5)]) }).map(summarize))
      .toEqual([{ type: 'reset' }, { type: 'event', event: { type: 'perf-server-error', code: 'perf/upload-too-large' } }])
  })

  test('maxStreamsPerPeer: the peer\'s streams up to the cap are served, one more is reset; another peer still gets in', () => {
    const h = new Harness(new PerfBehaviour({ maxStreamsPerPeer: 2, maxInboundStreams: 16 }))
    expect(h.input(open(1))).toEqual([])
    expect(h.input(open(2))).toEqual([])
    expect(h.input(open(3)).map(summarize)).toEqual([{ type: 'reset' }, { type: 'event', event: { type: 'perf-server-error', code: 'perf/too-many-streams' } }])
    expect(h.input(open(1, fromOther))).toEqual([])
    // a served stream frees its slot
    const s1 = { connection: 1, stream: 1 }
    h.input({ type: 'stream-data', stream: s1, data: encodePerfHeader(0) })
    h.input({ type: 'stream-eof', stream: s1 })
    expect(h.input(open(4))).toEqual([])
  })

  test('caps are validated', () => {
    expect(() => new PerfBehaviour({ maxUploadBytes: -1 })).toThrow(RangeError)
    expect(() => new PerfBehaviour({ maxStreamsPerPeer: 0 })).toThrow(RangeError)
  })
})

/** A perf server that answers with `reply` bytes after EOF, whatever was asked. */
function fakeServer(reply: number): Behaviour<never> {
  const out: BehaviourAction<never>[] = []
  return {
    protocols: [PERF_PROTOCOL],
    handle(_now, input) {
      const send = (s: StreamRef) => out.push({ type: 'write', stream: s, data: new Uint8Array(reply) }, { type: 'close-write', stream: s })
      if (input.type === 'stream-eof') send(input.stream)
    },
    handleTimeout() {},
    pollAction: () => out.shift(),
    pollTimeout: () => undefined,
  }
}

describe('perf client against a misbehaving server', () => {
  for (const [name, server_, code] of [
    ['too much data', fakeServer(11), 'perf/too-much-data'],
    ['short download', fakeServer(9), 'perf/short-download'],
  ] as const) {
    test(`${name} -> ${code}`, () => {
      const c = new PerfBehaviour()
      const pair = new Pair<PerfEvent, never>(c, server_, { a: client, b: server }, { latency: 1 })
      pair.connect()
      pair.a.command((now) => c.perf(now, server.peer, { uploadBytes: 100, downloadBytes: 10 }))
      pair.run()
      const [f] = pair.a.eventsOf('perf-failed')
      expect((f!.error as ProtocolError).code).toBe(code)
      expect(pair.a.eventsOf('perf-result')).toEqual([])
    })
  }

  test('response before the upload ended -> perf/early-response', () => {
    const h = new Harness(new PerfBehaviour())
    const b = h.behaviour as PerfBehaviour
    b.perf(0, server.peer, { uploadBytes: 100, downloadBytes: 10 })
    h.input({ type: 'stream-opened', stream: S, protocol: PERF_PROTOCOL, direction: 'outbound', connection: toServer, requestId: 1 })
    const out = h.input({ type: 'stream-data', stream: S, data: new Uint8Array(1) }) // before the upload turn
    expect(out.map(summarize)).toEqual([{ type: 'reset' }, { type: 'event', event: { type: 'perf-failed' } }])
    expect((h.events()[0] as Extract<PerfEvent, { type: 'perf-failed' }>).error).toMatchObject({ code: 'perf/early-response' })
    expect(h.input({ type: 'stream-writable', stream: S })).toEqual([])
  })

  test('garbage into a perf server: events and resets only, bounded state', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.constant('eof' as const)), { maxLength: 6 }), (inputs) => {
      const h = new Harness(new PerfBehaviour({ maxDownloadBytes: 4096 }))
      h.input({ type: 'stream-opened', stream: S, protocol: PERF_PROTOCOL, direction: 'inbound', connection: fromClient })
      let eof = false
      for (const i of inputs) {
        if (eof) break
        if (i === 'eof') {
          eof = true
          h.input({ type: 'stream-eof', stream: S })
        } else {
          h.input({ type: 'stream-data', stream: S, data: i })
        }
      }
      for (let i = 0; i < 10; i++) h.input({ type: 'stream-writable', stream: S })
      const written = h.log.flatMap((a) => (a.type === 'write' ? [a.data.length] : [])).reduce((x, y) => x + y, 0)
      expect(written).toBeLessThanOrEqual(4096)
      for (const e of h.events()) if (e.type === 'perf-server-error') expect(e.error).toBeInstanceOf(ProtocolError)
    }))
  })
})

describe('perf on a node: off unless asked (spec/perf.md, "SHOULD NOT be enabled by default")', () => {
  const nodes: WeftNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

  test('a default weft/node node does not serve /perf/1.0.0: a perf request is refused as not supported', async () => {
    const plain = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const client = await createNode({ listen: [], services: { perf: perf() } })
    nodes.push(plain, client)
    expect(plain.swarm.behaviours['perf']).toBeUndefined()
    const err = await client.perf(plain.getMultiaddrs()[0]!, { uploadBytes: 10, downloadBytes: 10 }).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'connection/protocol-rejected' }) // multistream 'na' for /perf/1.0.0
    // the connection itself is fine: only the perf protocol was refused
    await client.ping(plain.getMultiaddrs()[0]!)
  })

  test('services: { perf: perf() } serves it, with the given caps', async () => {
    const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: { perf: perf({ maxDownloadBytes: 1000 }) } })
    const client = await createNode({ listen: [], services: { perf: perf() } })
    nodes.push(server, client)
    expect(Object.keys(server.swarm.behaviours).filter((k) => k === 'dht' || k === 'pubsub')).toEqual([]) // services replace the defaults
    const served = new Promise<{ uploadBytes: number; downloadBytes: number }>((resolve) => server.on('perf:served', resolve))
    expect(await client.perf(server.getMultiaddrs()[0]!, { uploadBytes: 10, downloadBytes: 1000 })).toMatchObject({ uploadBytes: 10, downloadBytes: 1000 })
    expect(await served).toEqual(expect.objectContaining({ uploadBytes: 10, downloadBytes: 1000 }))
    const refused = new Promise<{ error: Error }>((resolve) => server.on('perf:server-error', resolve))
    const failed = await client.perf(server.getMultiaddrs()[0]!, { uploadBytes: 10, downloadBytes: 1001 }).then(() => undefined, (e: unknown) => e)
    // the server refused (its right): an outcome for the client, the server's side is the ProtocolError
    expect(failed).toBeInstanceOf(OutcomeError)
    expect(failed).toMatchObject({ code: 'perf/stream-reset' })
    expect((await refused).error).toMatchObject({ code: 'perf/download-too-large' })
  })
})
