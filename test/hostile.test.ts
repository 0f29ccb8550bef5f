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
import { generatePrivateKey, PeerId } from '../src/peer-id/index.js'
import { encodeFrame, Flag, FrameType } from '../src/yamux/index.js'
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
async function secureAttacker(): Promise<{ send(plain: Uint8Array): void; closed: Promise<void>; sock: net.Socket }> {
  const { sock, closed } = await rawSocket()
  const ms = new MultistreamDialer({ protocols: ['/noise'] })
  const noise = new NoiseConnection({ role: 'initiator', crypto: nodeCrypto, identity: generatePrivateKey(nodeCrypto), streamMuxers: ['/yamux/1.0.0'] })
  let phase: 'ms' | 'noise' = 'ms'
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
        for (let e = noise.pollEvent(); e !== undefined; e = noise.pollEvent()) if (e.type === 'handshake-complete') resolve()
      } catch (e) {
        reject(e)
      }
    })
  })
  flush()
  await ready
  return { send: (plain) => { noise.write(plain); flush() }, closed, sock }
}

async function closedWith(closed: Promise<void>, code: string): Promise<void> {
  await closed
  await new Promise((r) => setTimeout(r, 20))
  const hit = closes.find((c) => (c.error as { code?: string } | undefined)?.code === code)
  expect(hit, `a connection:close with ${code}; saw ${closes.map((c) => (c.error as { code?: string } | undefined)?.code).join(', ')}`).toBeDefined()
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

  test('a flood of SYNs beyond the ACK backlog is answered with resets, memory stays bounded', async () => {
    const { send, sock, closed } = await secureAttacker()
    let bytesBack = 0
    sock.on('data', (d) => { bytesBack += d.length })
    // SYNs carrying no protocol negotiation: each waits in the node's negotiation/backlog limits.
    for (let id = 1; id < 2 * 2000; id += 2) send(encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id, length: 0 }))
    await new Promise((r) => setTimeout(r, 300))
    expect(bytesBack).toBeGreaterThan(0) // resets / acks came back
    const conns = node.getConnections()
    for (const c of conns) expect(node.swarm.connections(c.peer).length).toBeLessThanOrEqual(2)
    sock.destroy()
    await closed
    await stillServes()
  })

  test('an identify message above the limit is rejected; the node keeps serving', async () => {
    const bloated = await createNode({ listen: [], agentVersion: 'x'.repeat(80 * 1024) })
    try {
      let identified = false
      node.on('peer:identify', ({ peer }) => { if (peer.equals(bloated.peerId)) identified = true })
      await bloated.ping(addr)
      await new Promise((r) => setTimeout(r, 200))
      expect(identified).toBe(false)
      await stillServes()
    } finally {
      await bloated.stop()
    }
  })

  test('the node recognises the attacker ids it met as ordinary peer ids', () => {
    for (const c of node.getConnections()) expect(PeerId.parse(c.peer.toString()).equals(c.peer)).toBe(true)
  })
})
