// Hostile peers for the soak, ported from test/hostile.test.ts (raw sockets; the attacker is built
// from weft's own cores so it can send exactly the bytes it wants), plus the negotiation attacks of
// issue 11 item 1. Each attack connects, misbehaves, waits until the target closes the connection
// (or a few seconds), and leaves. The target must answer with a typed error at most.
import * as net from 'node:net'
// dist/ by default; WEFT_SOAK_DIST (a file: URL ending in '/') points at another build (test/soak.test.ts
// builds the current src/ into node_modules/.cache so the test never runs a stale dist/).
const DIST = process.env.WEFT_SOAK_DIST ?? new URL('../../dist/', import.meta.url).href
const load = (p) => import(new URL(p, DIST).href)
const { nodeCrypto } = await load('io/crypto-node.js')
const { MultistreamDialer } = await load('multistream/index.js')
const { NoiseConnection } = await load('noise/index.js')
const { generatePrivateKey } = await load('peer-id/index.js')
const { encodeFrame, Flag, FrameType } = await load('yamux/index.js')

const enc = new TextEncoder()
const delay = (ms) => new Promise((r) => setTimeout(r, ms))
/** A multistream message: varint length (all ours are < 128 bytes), the text, '\n'. */
const ms = (s) => Uint8Array.from([s.length + 1, ...enc.encode(s + '\n')])
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}
const dataFrame = (id, flags, payload) => encodeFrame({ type: FrameType.Data, flags, streamId: id, length: payload.length }, payload)
const syn = (id) => encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id, length: 0 })

function target(addr) {
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(addr)
  return { host: m[1], port: Number(m[2]) }
}

function rawSocket(addr) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(target(addr))
    const closed = new Promise((r) => sock.once('close', () => r()))
    let bytesBack = 0
    const got = { get bytes() { return bytesBack } }
    sock.on('data', (b) => { bytesBack += b.length })
    sock.on('error', () => {})
    sock.once('connect', () => resolve({ sock, closed, got }))
    sock.once('error', reject)
  })
}

/** Until the target closes the socket or `ms` pass; then we leave for sure. */
async function leave(sock, closed, ms = 4000) {
  await Promise.race([closed, delay(ms)])
  sock.destroy()
  await closed
}

/** multistream + Noise XX (early yamux negotiation) done honestly; then arbitrary plaintext. */
async function secureAttacker(addr, identity = generatePrivateKey(nodeCrypto)) {
  const { sock, closed } = await rawSocket(addr)
  const dialer = new MultistreamDialer({ protocols: ['/noise'] })
  const noise = new NoiseConnection({ role: 'initiator', crypto: nodeCrypto, identity, streamMuxers: ['/yamux/1.0.0'] })
  let phase = 'ms'
  let plainBack = 0
  const flush = () => {
    if (sock.destroyed) return
    if (phase === 'ms') for (let b = dialer.pollTransmit(65536); b !== undefined; b = dialer.pollTransmit(65536)) sock.write(b)
    for (let b = noise.pollTransmit(65536); b !== undefined; b = noise.pollTransmit(65536)) sock.write(b)
  }
  const ready = new Promise((resolve, reject) => {
    sock.on('data', (d) => {
      try {
        if (phase === 'ms') {
          dialer.handleData(0, new Uint8Array(d))
          for (let e = dialer.pollEvent(); e !== undefined; e = dialer.pollEvent()) {
            if (e.type === 'negotiated') {
              phase = 'noise'
              const rest = dialer.takeRemainder()
              flush()
              if (rest.length > 0) noise.handleData(0, rest)
            }
          }
        } else noise.handleData(0, new Uint8Array(d))
        flush()
        for (let e = noise.pollEvent(); e !== undefined; e = noise.pollEvent()) {
          if (e.type === 'handshake-complete') resolve()
          else if (e.type === 'data') plainBack += e.data.length
        }
      } catch (e) {
        reject(e)
      }
    })
    closed.then(() => reject(Object.assign(new Error('closed during handshake'), { name: 'TransportError', code: 'soak/closed-early' })))
  })
  flush()
  await Promise.race([ready, delay(10_000).then(() => { throw Object.assign(new Error('handshake timeout'), { name: 'TransportError', code: 'soak/handshake-timeout' }) })])
  return { send: (plain) => { if (!sock.destroyed) { noise.write(plain); flush() } }, closed, sock, get plainBack() { return plainBack } }
}

/** [name, attack(addr, identity)]: `identity` is the private key an attacker that completes Noise uses. */
export const ATTACKS = [
  ['oversized-multistream', async (addr) => {
    const { sock, closed } = await rawSocket(addr)
    sock.write(ms('/multistream/1.0.0'))
    sock.write(Uint8Array.from([0x90, 0x10])) // declares 2064 bytes > 1024
    await leave(sock, closed)
  }],
  ['garbage', async (addr) => {
    const { sock, closed } = await rawSocket(addr)
    sock.write(nodeCrypto.randomBytes(1 + Math.floor(Math.random() * 4096)))
    await leave(sock, closed)
  }],
  ['stall-mid-handshake', async (addr) => {
    const { sock, closed } = await rawSocket(addr)
    sock.write(ms('/multistream/1.0.0').subarray(0, 7))
    await leave(sock, closed, 500 + Math.floor(Math.random() * 3000))
  }],
  ['tampered-ciphertext', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    a.sock.write(Uint8Array.from([0, 40, ...new Uint8Array(40).fill(0xab)]))
    await leave(a.sock, a.closed)
  }],
  ['credits-exceeded', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    a.send(syn(1))
    const chunk = new Uint8Array(300_000)
    a.send(dataFrame(1, 0, chunk))
    await leave(a.sock, a.closed)
  }],
  ['syn-flood', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    for (let id = 1; id < 2 * 2000; id += 2) a.send(syn(id))
    await leave(a.sock, a.closed, 300)
  }],
  ['bad-yamux-frame', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    const f = syn(1)
    f[0] = 7 // unknown version
    a.send(f)
    await leave(a.sock, a.closed)
  }],
  // issue 11 item 1: open a stream and reset it in the same read, mid-negotiation
  ['reset-in-same-read', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    const proposal = cat(ms('/multistream/1.0.0'), ms('/soak/echo/1.0.0'))
    a.send(cat(syn(1), dataFrame(1, 0, proposal), encodeFrame({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId: 1, length: 0 })))
    await leave(a.sock, a.closed, 300)
  }],
  // issue 11 item 1: half-close a stream mid-negotiation
  ['half-close-mid-negotiation', async (addr, id) => {
    const a = await secureAttacker(addr, id)
    a.send(cat(syn(1), dataFrame(1, Flag.FIN, ms('/multistream/1.0.0').subarray(0, 5))))
    a.send(cat(syn(3), dataFrame(3, Flag.FIN, cat(ms('/multistream/1.0.0'), ms('/soak/echo/1.0.0')))))
    await leave(a.sock, a.closed, 300)
  }],
]
