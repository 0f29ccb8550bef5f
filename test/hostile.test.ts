/**
 * Hostile peers against a real weft node over TCP. The attacker is built from weft's own cores
 * (multistream dialer, Noise, hand-made yamux frames), so it can send exactly the bytes it wants.
 * After each attack the node must have closed the attacker's connection with a typed error and
 * still serve a well-behaved peer.
 */
import * as net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { MultistreamDialer } from '../src/multistream/index.js'
import { NoiseConnection } from '../src/noise/index.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { encodeFrame, Flag, FrameType, readHeader } from '../src/yamux/index.js'
import { Multiaddr } from '../src/multiaddr/index.js'

let node: WeftNode
let good: WeftNode
let addr: Multiaddr
const closes: Array<{ error?: Error }> = []

beforeAll(async () => {
  node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  good = await createNode({ listen: [] })
  addr = node.getMultiaddrs()[0]!
  node.on('connection:close', (d) => closes.push(d))
})
afterAll(async () => {
  await good.stop()
  await node.stop()
})

async function stillServes(): Promise<void> {
  const rtt = await good.ping(addr, { signal: AbortSignal.timeout(5000) })
  expect(rtt).toBeGreaterThanOrEqual(0)
}

/** A raw TCP socket to the node, with a helper that resolves when the node closes it. */
function rawSocket(): Promise<{ sock: net.Socket; received: Uint8Array[]; closed: Promise<void> }> {
  const t = addr.toDialTarget()!
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: t.host, port: t.port })
    const received: Uint8Array[] = []
    const closed = new Promise<void>((r) => sock.once('close', () => r()))
    sock.on('data', (b) => received.push(new Uint8Array(b)))
    sock.on('error', () => {})
    sock.once('connect', () => resolve({ sock, received, closed }))
    sock.once('error', reject)
  })
}

/**
 * An attacker that completes multistream + Noise (with early yamux negotiation) honestly and then
 * writes arbitrary plaintext (yamux frames) through the secure channel.
 */
async function secureAttacker(): Promise<{ send(plain: Uint8Array): void; closed: Promise<void>; sock: net.Socket; received: Uint8Array[] }> {
  const { sock, closed } = await rawSocket()
  const ms = new MultistreamDialer({ protocols: ['/noise'] })
  const noise = new NoiseConnection({ role: 'initiator', crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), streamMuxers: ['/yamux/1.0.0'] })
  let phase: 'ms' | 'noise' = 'ms'
  /** The node's plaintext (yamux frames) after the handshake. */
  const received: Uint8Array[] = []
  const flush = (): void => {
    if (phase === 'ms') for (let b = ms.pollTransmit(65536); b !== undefined; b = ms.pollTransmit(65536)) sock.write(b)
    for (let b = noise.pollTransmit(65536); b !== undefined; b = noise.pollTransmit(65536)) sock.write(b)
  }
  const ready = new Promise<void>((resolve, reject) => {
    sock.on('data', (d) => {
      try {
        if (phase === 'ms') {
          ms.handleData(0, new Uint8Array(d))
          for (let e = ms.pollEvent(); e !== undefined; e = ms.pollEvent()) {
            if (e.type === 'negotiated') {
              phase = 'noise'
              const rest = ms.takeRemainder()
              flush()
              if (rest.length > 0) noise.handleData(0, rest)
            }
          }
        } else noise.handleData(0, new Uint8Array(d))
        flush()
        for (let e = noise.pollEvent(); e !== undefined; e = noise.pollEvent()) {
          if (e.type === 'handshake-complete') resolve()
          else if (e.type === 'data') received.push(e.data.slice())
        }
      } catch (e) {
        reject(e)
      }
    })
  })
  flush()
  await ready
  return { send: (plain) => { noise.write(plain); flush() }, closed, sock, received }
}

/** Yamux frame headers in the node's plaintext: stream id and flags of each. */
function frames(received: Uint8Array[]): Array<{ type: number; flags: number; streamId: number }> {
  const all = new Uint8Array(received.reduce((n, b) => n + b.length, 0))
  let o = 0
  for (const b of received) { all.set(b, o); o += b.length }
  const out: Array<{ type: number; flags: number; streamId: number }> = []
  for (let off = 0; off + 12 <= all.length;) {
    const h = readHeader(all, off)
    out.push(h)
    off += 12 + (h.type === FrameType.Data ? h.length : 0)
  }
  return out
}

/** Poll `cond` until it holds (a positive signal), failing after `ms`. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function closedWith(closed: Promise<void>, code: string): Promise<void> {
  await closed
  // The socket closing and the node's connection:close event are not ordered: wait for the event.
  const hit = (): boolean => closes.some((c) => (c.error as { code?: string } | undefined)?.code === code)
  await until(hit, `a connection:close with ${code}`).catch(() => undefined)
  expect(hit(), `a connection:close with ${code}; saw ${closes.map((c) => (c.error as { code?: string } | undefined)?.code).join(', ')}`).toBe(true)
}

describe('hostile peers', () => {
  test('dialing /p2p/<wrong id> fails with a typed error before any application byte', async () => {
    const wrong = generatePrivateKey(nodeCrypto).publicKey.toPeerId()
    const target = addr.withoutPeerId().encapsulate(`/p2p/${wrong.toString()}`)
    const e = await good.dial(target).catch((x: unknown) => x)
    // A DialError whose one attempt names the Noise failure.
    expect(e).toMatchObject({ code: 'dial/all-failed', attempts: [{ addr: target.toString(), error: { code: 'noise/peer-id-mismatch' } }] })
    await stillServes()
  })

  test('an oversized multistream message is a ProtocolError and the node moves on', async () => {
    const { sock, closed } = await rawSocket()
    const header = Uint8Array.from([19, ...new TextEncoder().encode('/multistream/1.0.0\n')])
    sock.write(header)
    sock.write(Uint8Array.from([0x90, 0x10])) // declares 2064 bytes > 1024
    await closed
    await stillServes()
  })

  test('tampered ciphertext kills the connection', async () => {
    const { send, sock, closed } = await secureAttacker()
    void send
    // A well-formed Noise frame header with bytes that cannot authenticate.
    sock.write(Uint8Array.from([0, 40, ...new Uint8Array(40).fill(0xab)]))
    await closedWith(closed, 'noise/decrypt-failed')
    await stillServes()
  })

  test('sending more than the window is credits-exceeded and a GoAway', async () => {
    const { send, closed } = await secureAttacker()
    send(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: 1, length: 0 }))
    // 256 KiB initial window: one Data frame of 300 KB exceeds it whatever window updates are in
    // flight (smaller frames would not: the node reads a negotiating stream at once and credits it back).
    const chunk = new Uint8Array(300_000)
    send(encodeFrame({ type: FrameType.Data, flags: 0, streamId: 1, length: chunk.length }, chunk))
    await closedWith(closed, 'yamux/credits-exceeded')
    await stillServes()
  })

  test('a flood of 2000 SYNs: every one is answered, and at most maxNegotiatingStreams (64) are accepted, the rest reset', async () => {
    const { send, sock, closed, received } = await secureAttacker()
    // SYNs carrying no protocol negotiation: each would wait in the node's negotiation state.
    const ids: number[] = []
    for (let id = 1; id < 2 * 2000; id += 2) ids.push(id)
    for (const id of ids) send(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id, length: 0 }))
    const acked = new Set<number>()
    const reset = new Set<number>()
    await until(() => {
      acked.clear()
      reset.clear()
      for (const f of frames(received)) {
        if ((f.flags & Flag.ACK) !== 0) acked.add(f.streamId)
        if ((f.flags & Flag.RST) !== 0) reset.add(f.streamId)
      }
      return ids.every((id) => acked.has(id) || reset.has(id))
    }, 'an answer to every SYN')
    const held = ids.filter((id) => acked.has(id) && !reset.has(id))
    // The bound on what a SYN flood holds per connection: the negotiation limit, not the flood size.
    expect(held.length).toBeGreaterThan(0)
    expect(held.length).toBeLessThanOrEqual(64)
    expect(reset.size).toBeGreaterThanOrEqual(ids.length - 64)
    sock.destroy()
    await closed
    await stillServes()
  })

  test('an identify message above the limit is rejected; the node keeps serving', async () => {
    const bloated = await createNode({ listen: [], agentVersion: 'x'.repeat(80 * 1024) })
    // Watch the node's identify behaviour for its verdict on this peer (the positive signal).
    const idb = node.swarm.behaviours.identify
    const poll = idb.pollAction.bind(idb)
    const failed: Error[] = []
    idb.pollAction = () => {
      const a = poll()
      if (a?.type === 'event' && a.event.type === 'identify-failed' && a.event.peer.equals(bloated.peerId)) failed.push(a.event.error)
      return a
    }
    try {
      let identified = false
      node.on('peer:identify', ({ peer }) => { if (peer.equals(bloated.peerId)) identified = true })
      await bloated.ping(addr)
      await until(() => failed.length > 0, 'identify-failed for the bloated peer')
      expect(failed[0]).toMatchObject({ code: 'identify/message-too-large' })
      expect(identified).toBe(false)
      await stillServes()
    } finally {
      idb.pollAction = poll
      await bloated.stop()
    }
  })
})
