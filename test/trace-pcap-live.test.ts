/**
 * The offline decryptor against a real in-memory weft <-> weft connection: the dialer traces
 * (`createNode({ trace, keylog })`), its transport records every byte both ways, the bytes are
 * wrapped into a synthetic pcap (TCP over IPv4, Ethernet, small segments, some retransmitted and
 * reordered), and `decodeCapture` with the keylog and the protocol decoders gives the live trace's
 * multistream lines, handshake ephemeral keys, yamux frames and message events (identify, ping).
 */
import { afterAll, expect, test } from 'vitest'
import { nodeCrypto } from '../src/io/crypto-node.js'
import type { RawConnection, RawHandlers, Transport } from '../src/io/transport.js'
import { createNode, memory, type WeftNode } from '../src/node.js'
import type { TraceEvent } from '../src/trace/index.js'
import { createDecoder } from '../src/trace/decode/index.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { decodeCapture, parseKeylog } from '../src/trace/offline.js'
import { parseTlsKeylog } from '../src/trace/offline-tls.js'
import { readPcap } from '../src/trace/pcap.js'
import { connectionSegments, tcpPcap, type Seg } from './trace-pcap-helpers.js'

const nodes: WeftNode[] = []
afterAll(async () => { await Promise.all(nodes.map((n) => n.stop())) })

/** A transport whose dialed connections record every byte both ways, in the order they passed. */
function recording(inner: Transport, flights: Array<{ fromInitiator: boolean; data: Uint8Array }>): Transport {
  const wrap = (c: RawConnection): RawConnection => ({
    get remoteAddr() { return c.remoteAddr },
    get localAddr() { return c.localAddr },
    start: (h: RawHandlers) => c.start({ ...h, onData: (d) => { flights.push({ fromInitiator: false, data: d.slice() }); h.onData(d) } }),
    write: (d) => { flights.push({ fromInitiator: true, data: d.slice() }); return c.write(d) },
    pause: () => c.pause(),
    resume: () => c.resume(),
    close: () => c.close(),
    destroy: (e) => c.destroy(e),
  })
  return {
    name: inner.name,
    canDial: (a) => inner.canDial(a),
    canListen: (a) => inner.canListen(a),
    dial: async (a, o) => wrap(await inner.dial(a, o)),
    listen: (a, on) => inner.listen(a, on),
  }
}

const pick = (evs: TraceEvent[], kind: TraceEvent['kind']) => evs.filter((e) => e.kind === kind)
const strip = (e: TraceEvent) => { const { t: _t, conn: _c, ...rest } = e; return JSON.stringify(rest) }

test('a real weft connection, captured, decrypts to the live trace', { timeout: 30_000 }, async () => {
  const serverLive: TraceEvent[] = []
  const server = await createNode({ listen: ['/memory/0'], transports: [memory()], trace: (e) => serverLive.push(e) })
  nodes.push(server)
  const flights: Array<{ fromInitiator: boolean; data: Uint8Array }> = []
  const live: TraceEvent[] = []
  const keylog: string[] = []
  const client = await createNode({ listen: [], transports: [recording(memory(), flights)], trace: (e) => live.push(e), keylog: (l) => keylog.push(l) })
  nodes.push(client)
  await client.ping(server.getMultiaddrs()[0]!)
  // identify ran both ways once its messages are in the trace
  for (let i = 0; i < 100 && pick(live, 'message').filter((e) => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0').length < 2; i++) await new Promise((r) => setTimeout(r, 20))
  await client.stop()
  expect(keylog).toHaveLength(1)

  // TCP segments of at most 100 bytes; every 7th data segment sent twice, every 5th swapped with the next.
  const segs: Seg[] = connectionSegments(flights, { mss: 100 })
  const mangled: Seg[] = segs.slice(0, 3)
  const data = segs.slice(3, -2)
  for (let i = 0; i < data.length; i++) {
    if (i % 5 === 4 && i + 1 < data.length) { mangled.push(data[i + 1]!, data[i]!); i++; continue }
    mangled.push(data[i]!)
    if (i % 7 === 0) mangled.push(data[i]!)
  }
  mangled.push(...segs.slice(-2))
  const capture = readPcap(tcpPcap(1, mangled)).connections
  const keys = parseKeylog(keylog.join('\n'))
  const offline = decodeCapture(capture, { crypto: nodeCrypto, keys, decoders: createDecoder })
  // The listener's view of the same capture (`--local responder`), against the listener's own trace.
  const asServer = decodeCapture(capture, { crypto: nodeCrypto, keys, decoders: createDecoder, local: 'responder' })

  expect(offline.filter((e) => e.kind === 'state' && ['undecodable', 'no-keys', 'capture-incomplete'].includes(e.to))).toEqual([])
  // The same handshake, lines, frames and messages as the live trace, in the same order per kind and direction.
  // (Per direction: live events of the two directions interleave by processing time, offline ones by capture order.)
  for (const kind of ['multistream', 'yamux-frame', 'message'] as const) {
    for (const dir of ['in', 'out']) {
      const of = (evs: TraceEvent[]) => pick(evs, kind).filter((e) => 'dir' in e && e.dir === dir).map(strip)
      expect(of(offline), `${kind} ${dir}`).toEqual(of(live))
      expect(of(asServer), `server ${kind} ${dir}`).toEqual(of(serverLive))
    }
  }
  // Each stream's states in order (negotiating, negotiated, local-/remote-closed, closed or reset).
  const streamStates = (evs: TraceEvent[]) => {
    const by = new Map<number, string[]>()
    for (const e of evs) if (e.kind === 'state' && e.layer === 'stream') by.set(e.stream!, [...(by.get(e.stream!) ?? []), `${e.to} ${e.protocol ?? ''} ${e.reason ?? ''}`])
    return [...by].sort((x, y) => x[0] - y[0])
  }
  expect(streamStates(offline)).toEqual(streamStates(live))
  expect(streamStates(asServer)).toEqual(streamStates(serverLive))
  const hs = (evs: TraceEvent[]) => pick(evs, 'noise-handshake').map((e) => e.kind === 'noise-handshake' && [e.dir, e.message, e.bytes, e.ephemeral])
  expect(hs(offline)).toEqual(hs(live))
  expect(pick(live, 'yamux-frame').length).toBeGreaterThan(10)
  const messages = pick(offline, 'message')
  expect(messages.length).toBeGreaterThanOrEqual(4) // identify both ways, ping and pong
  expect(messages.some((e) => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0' && e.dir === 'in')).toBe(true)
  expect(messages.some((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0')).toBe(true)
})

test('a real weft /tls/1.0.0 connection, captured, decrypts with its NSS key log lines to the live trace', { timeout: 30_000 }, async () => {
  const server = await createNode({ listen: ['/memory/0'], transports: [memory()], security: ['tls'] })
  nodes.push(server)
  const flights: Array<{ fromInitiator: boolean; data: Uint8Array }> = []
  const live: TraceEvent[] = []
  const keylog: string[] = []
  const client = await createNode({ listen: [], transports: [recording(memory(), flights)], security: ['tls'], trace: (e) => live.push(e), keylog: (l) => keylog.push(l) })
  nodes.push(client)
  await client.ping(server.getMultiaddrs()[0]!)
  for (let i = 0; i < 100 && pick(live, 'message').filter((e) => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0').length < 2; i++) await new Promise((r) => setTimeout(r, 20))
  await client.stop()
  expect(keylog).toHaveLength(4)
  const capture = readPcap(tcpPcap(1, connectionSegments(flights, { mss: 200 }))).connections
  const offline = decodeCapture(capture, { crypto: nodeCrypto, tlsCrypto: nodeTlsCrypto, keys: parseKeylog(keylog.join('\n')), tlsKeys: parseTlsKeylog(keylog.join('\n')), decoders: createDecoder })
  expect(offline.filter((e) => e.kind === 'state' && ['undecodable', 'no-keys', 'capture-incomplete'].includes(e.to))).toEqual([])
  for (const kind of ['tls-handshake', 'multistream', 'yamux-frame', 'message'] as const) {
    for (const dir of ['in', 'out']) {
      const of = (evs: TraceEvent[]) => pick(evs, kind).filter((e) => 'dir' in e && e.dir === dir).map(strip)
      expect(of(offline), `${kind} ${dir}`).toEqual(of(live))
    }
  }
  expect(pick(offline, 'tls-handshake')).toHaveLength(10)
  expect(offline).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'tls', to: 'established' }))
  // without the keylog: the clear handshake messages, then no-keys
  const blind = decodeCapture(capture, { crypto: nodeCrypto, tlsCrypto: nodeTlsCrypto, keys: new Map(), tlsKeys: new Map(), decoders: createDecoder })
  expect(pick(blind, 'tls-handshake').map((e) => e.kind === 'tls-handshake' && e.type)).toEqual(['client_hello', 'server_hello'])
  expect(blind).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'tls', to: 'no-keys' }))
})
