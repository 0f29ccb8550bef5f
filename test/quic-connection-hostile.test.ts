// The QUIC connection core against a hostile peer: Initial packets are protected with keys anyone
// can derive from the Destination Connection ID (RFC 9001 §5.2), so a test can forge a client's
// Initial with any frames. Each fault closes the server with its RFC 9000 §20 code, and the client
// learns it from the server's CONNECTION_CLOSE.
import { describe, expect, test } from 'vitest'
import type { ProtocolError } from '../src/core/errors.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { encodeFrames, initialKeys, sealPacket, type Frame, type QuicConnectionEvent } from '../src/quic/index.js'
import { Pair } from './quic-connection-harness.js'

/** A Pair whose client's own datagrams to the server are lost: the server sees only forged Initials. */
function forged(serverLimits: Record<string, number> = {}) {
  const p = new Pair({ filter: (to) => to === 'server', server: { limits: serverLimits } })
  let pn = 0
  const send = (frames: Frame[]) => {
    const keys = initialKeys(tls, p.initialDcid).client
    const h = { type: 'initial' as const, dcid: p.initialDcid, scid: p.client.localConnectionId, token: new Uint8Array(0) }
    p.server.handleDatagram(p.now, sealPacket(tls, keys, h, pn++, encodeFrames(frames), { minPacketSize: 1200 }))
  }
  return { p, send }
}

const closing = (evs: QuicConnectionEvent[]) => (evs.find((e) => e.kind === 'closing') as Extract<QuicConnectionEvent, { kind: 'closing' }> | undefined)?.info

function expectClosed(p: Pair, code: string, transportCode: number) {
  expect(p.server.state).toBe('closing')
  const info = p.server.closeInfo!
  expect((info.error as ProtocolError).code).toBe(code)
  expect(info.errorCode).toBe(transportCode)
  // the server tells the client (in an Initial packet it can read)
  expect(p.run(() => closing(p.events.client) !== undefined, 5_000)).toBe(true)
  expect(closing(p.events.client)).toMatchObject({ source: 'remote', errorCode: transportCode, application: false })
}

const crypto = (offset: number, n = 1): Frame => ({ type: 'crypto', offset, data: new Uint8Array(n).fill(7) })

describe('a hostile client', () => {
  test('CRYPTO data ending exactly maxCryptoBuffer ahead is buffered; one byte more is CRYPTO_BUFFER_EXCEEDED', () => {
    const ok = forged({ maxCryptoBuffer: 4096 })
    ok.send([crypto(4095)])
    expect(ok.p.server.state).toBe('handshaking')
    const bad = forged({ maxCryptoBuffer: 4096 })
    bad.send([crypto(4096)])
    expectClosed(bad.p, 'CRYPTO_BUFFER_EXCEEDED', 0x0d)
  })

  test('maxCryptoFragments out-of-order pieces are kept; one more is CRYPTO_BUFFER_EXCEEDED', () => {
    const ok = forged({ maxCryptoFragments: 4 })
    ok.send([2, 4, 6, 8].map((o) => crypto(o)))
    expect(ok.p.server.state).toBe('handshaking')
    const bad = forged({ maxCryptoFragments: 4 })
    bad.send([2, 4, 6, 8, 10].map((o) => crypto(o)))
    expectClosed(bad.p, 'CRYPTO_BUFFER_EXCEEDED', 0x0d)
  })

  test('a ClientHello that does not parse: CRYPTO_ERROR with the TLS alert (0x100 + decode_error)', () => {
    const { p, send } = forged()
    send([{ type: 'crypto', offset: 0, data: Uint8Array.of(1, 0, 0, 4, 0xff, 0xff, 0xff, 0xff) }])
    expect(p.server.state).toBe('closing')
    const info = p.server.closeInfo!
    expect(info.errorCode).toBeGreaterThan(0x100)
    expect(info.errorCode).toBeLessThan(0x200)
    expect((info.error as ProtocolError).protocol).toBe('tls')
    expect(p.run(() => closing(p.events.client) !== undefined, 5_000)).toBe(true)
    expect(closing(p.events.client)!.errorCode).toBe(info.errorCode)
  })

  test('an ACK of a packet the server never sent: PROTOCOL_VIOLATION', () => {
    const { p, send } = forged()
    send([{ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 50 }] }])
    expectClosed(p, 'PROTOCOL_VIOLATION', 0x0a)
  })

  test('a STREAM frame in an Initial packet: PROTOCOL_VIOLATION (RFC 9000 §12.4)', () => {
    const { p, send } = forged()
    send([{ type: 'stream', streamId: 0, offset: 0, data: Uint8Array.of(1), fin: false }])
    expectClosed(p, 'PROTOCOL_VIOLATION', 0x0a)
  })

  test('the closing server answers further datagrams with CONNECTION_CLOSE at most maxCloseRetransmits times', () => {
    const { p, send } = forged({ maxCloseRetransmits: 3 })
    send([crypto(1_000_000)])
    while (p.server.pollTransmit(p.now) !== undefined) { /* the first CONNECTION_CLOSE */ }
    let answers = 0
    for (let i = 0; i < 10; i++) {
      send([{ type: 'ping' }])
      while (p.server.pollTransmit(p.now) !== undefined) answers++
    }
    expect(answers).toBe(3)
  })
})

describe('authentication before data', () => {
  test('1-RTT packets that overtake the client Finished are not processed before the handshake completes (RFC 9001 §5.7)', () => {
    let n = 0
    // the client's second datagram (its Handshake flight with Finished) is lost once
    const p = new Pair({ filter: (to) => to === 'server' && ++n === 2 })
    p.onEvent = (side, e) => {
      if (side === 'client' && e.kind === 'handshake-complete') {
        const id = p.client.openStream(true)!
        p.client.write(id, Uint8Array.of(1, 2, 3))
        p.client.finish(id)
      }
    }
    expect(p.run(() => p.events.server.some((e) => e.kind === 'stream' && e.event.kind === 'readable'), 10_000)).toBe(true)
    const kinds = p.events.server.map((e) => e.kind)
    expect(kinds.indexOf('handshake-complete')).toBeGreaterThanOrEqual(0)
    expect(kinds.indexOf('handshake-complete')).toBeLessThan(kinds.indexOf('stream'))
    expect(p.server.stats.packetsDropped).toBeGreaterThan(0) // the early 1-RTT packet
  })
})
