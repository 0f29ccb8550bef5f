/**
 * `/tls/1.0.0` in the connection core (src/connection/upgrade.ts with src/tls/libp2p-channel.ts): two
 * Connection cores on an in-memory link negotiate libp2p TLS, the muxer through ALPN (or
 * multistream-select inside TLS when ALPN says `libp2p`), and carry yamux streams; a dialer offering
 * TLS then Noise falls back to Noise; a listener without TLS refuses it.
 */
import { describe, expect, test } from 'vitest'
import { Connection, type ConnectionEvent, type ConnectionOptions } from '../src/connection/index.js'
import { ProtocolError } from '../src/core/errors.js'
import { nodeCrypto } from '../src/io/crypto-node.js'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { privateKeyFromSeed } from '../src/peer-id/index.js'
import { generateCertificate, libp2pTls } from '../src/tls/index.js'

const keyA = privateKeyFromSeed(new Uint8Array(32).fill(1), nodeCrypto)
const keyB = privateKeyFromSeed(new Uint8Array(32).fill(2), nodeCrypto)
const keyC = privateKeyFromSeed(new Uint8Array(32).fill(3), nodeCrypto)
const wallClock = (): number => 1_767_225_600_000
const TLS: Partial<ConnectionOptions> = { security: ['tls'], tls: libp2pTls({ crypto: nodeTlsCrypto, wallClock }) }

class Pair {
  readonly a: Connection
  readonly b: Connection
  readonly ea: ConnectionEvent[] = []
  readonly eb: ConnectionEvent[] = []
  constructor(a: Partial<ConnectionOptions>, b: Partial<ConnectionOptions>, readonly chunk = 1 << 20) {
    const supports = (p: string): boolean => p === '/echo/1.0.0'
    this.a = new Connection({ role: 'dialer', crypto: nodeCrypto, identity: keyA, supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0, ...a })
    this.b = new Connection({ role: 'listener', crypto: nodeCrypto, identity: keyB, supportsProtocol: supports, listProtocols: () => ['/echo/1.0.0'], now: 0, ...b })
  }

  drive(): void {
    for (let i = 0; i < 10_000; i++) {
      let moved = 0
      for (const [from, to] of [[this.a, this.b], [this.b, this.a]] as const) {
        for (let out = from.pollTransmit(1 << 20); out !== undefined; out = from.pollTransmit(1 << 20)) {
          for (let o = 0; o < out.length; o += this.chunk) to.handleData(0, out.subarray(o, Math.min(out.length, o + this.chunk)))
          moved += out.length
        }
      }
      for (let e = this.a.pollEvent(); e !== undefined; e = this.a.pollEvent()) this.ea.push(e)
      for (let e = this.b.pollEvent(); e !== undefined; e = this.b.pollEvent()) this.eb.push(e)
      if (moved === 0) return
    }
    throw new Error('did not settle')
  }
}

const established = (es: ConnectionEvent[]) => es.find((e) => e.type === 'established') as Extract<ConnectionEvent, { type: 'established' }> | undefined
const closed = (es: ConnectionEvent[]) => es.find((e) => e.type === 'closed') as { error?: Error } | undefined

/** a opens /echo, sends `payload` and FIN; b sends back 3 bytes; returns what b received. */
function exchange(p: Pair, payload: Uint8Array): Uint8Array {
  p.a.openStream(0, ['/echo/1.0.0'], 1)
  p.drive()
  const out = p.ea.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
  const inb = p.eb.find((e) => e.type === 'stream-opened') as Extract<ConnectionEvent, { type: 'stream-opened' }>
  const got: Uint8Array[] = []
  for (let off = 0; off < payload.length;) {
    off += p.a.write(out.id, payload.subarray(off))
    p.drive()
    for (const e of p.eb.splice(0)) if (e.type === 'stream-data') { got.push(e.data); p.b.consume(0, e.id, e.data.length) }
    p.drive()
  }
  p.a.closeWrite(out.id)
  p.b.write(inb.id, Uint8Array.of(1, 2, 3))
  p.drive()
  const back = p.ea.filter((e) => e.type === 'stream-data').map((e) => (e as { data: Uint8Array }).data)
  expect(Buffer.concat(back)).toEqual(Buffer.from([1, 2, 3]))
  return new Uint8Array(Buffer.concat(got))
}

describe('/tls/1.0.0 upgrade', () => {
  test('both sides TLS: peers authenticated by certificate, yamux chosen in ALPN, data both ways', () => {
    // the listener reuses a certificate made ahead (as weft/node does), the dialer makes one per connection
    const p = new Pair({ ...TLS, expectedRemotePeer: keyB.toPeerId() }, { ...TLS, tls: libp2pTls({ crypto: nodeTlsCrypto, wallClock, certificate: generateCertificate(keyB, nodeTlsCrypto) }) })
    p.drive()
    const ea = established(p.ea)!, eb = established(p.eb)!
    expect(ea.remotePeer.equals(keyB.toPeerId())).toBe(true)
    expect(eb.remotePeer.equals(keyA.toPeerId())).toBe(true)
    expect([ea.security, ea.earlyMuxerNegotiation, ea.muxer]).toEqual(['/tls/1.0.0', true, '/yamux/1.0.0'])
    expect([eb.security, eb.earlyMuxerNegotiation]).toEqual(['/tls/1.0.0', true])
    const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff)
    expect(Buffer.from(exchange(p, payload)).equals(payload)).toBe(true) // (toEqual on 300 kB is slow)
  })

  test('byte-by-byte delivery gives the same result', () => {
    const p = new Pair(TLS, TLS, 1)
    p.drive()
    expect(established(p.ea)?.security).toBe('/tls/1.0.0')
    expect(exchange(p, Uint8Array.of(5, 6, 7))).toEqual(Uint8Array.of(5, 6, 7))
  })

  test('ALPN LIBP2P_ALPN (a listener without inlined muxer negotiation): yamux is negotiated inside TLS', () => {
    const p = new Pair(TLS, { ...TLS, earlyMuxerNegotiation: false })
    p.drive()
    expect(established(p.ea)).toMatchObject({ security: '/tls/1.0.0', earlyMuxerNegotiation: false, muxer: '/yamux/1.0.0' })
    expect(established(p.eb)).toMatchObject({ security: '/tls/1.0.0', earlyMuxerNegotiation: false })
    expect(exchange(p, Uint8Array.of(9))).toEqual(Uint8Array.of(9))
  })

  test('a dialer offering TLS then Noise falls back to Noise with a Noise-only listener', () => {
    const p = new Pair({ ...TLS, security: ['tls', 'noise'] }, {})
    p.drive()
    expect(established(p.ea)?.security).toBe('/noise')
    expect(established(p.eb)?.security).toBe('/noise')
    expect(exchange(p, Uint8Array.of(4))).toEqual(Uint8Array.of(4))
  })

  test('a listener accepting both takes the dialer\'s choice', () => {
    const both = { ...TLS, security: ['noise', 'tls'] as const }
    const p1 = new Pair(TLS, both)
    p1.drive()
    expect(established(p1.eb)?.security).toBe('/tls/1.0.0')
    const p2 = new Pair({}, both)
    p2.drive()
    expect(established(p2.eb)?.security).toBe('/noise')
  })

  test('a TLS-only dialer and a Noise-only listener: connection/security-rejected', () => {
    const p = new Pair(TLS, {})
    p.drive()
    const e = closed(p.ea)?.error as ProtocolError
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.code).toBe('connection/security-rejected')
  })

  test('dialing the wrong peer over TLS: the dialer closes with tls/libp2p-peer-id-mismatch', () => {
    const p = new Pair({ ...TLS, expectedRemotePeer: keyC.toPeerId() }, TLS)
    p.drive()
    expect(established(p.ea)).toBeUndefined()
    const e = closed(p.ea)?.error as ProtocolError
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.code).toBe('tls/libp2p-peer-id-mismatch')
  })

  test('a refused certificate reaches the peer as a TLS alert (bad_certificate) before the close', () => {
    const p = new Pair({ ...TLS, expectedRemotePeer: keyC.toPeerId() }, TLS)
    p.drive()
    const e = closed(p.eb)?.error as ProtocolError & { peerAlert?: number }
    expect(e).toBeInstanceOf(ProtocolError)
    expect([e.code, e.peerAlert]).toEqual(['tls/alert-received', 42])
  })

  test("security 'tls' without the tls option is a TypeError", () => {
    expect(() => new Pair({ security: ['tls'] }, {})).toThrow(TypeError)
  })
})
