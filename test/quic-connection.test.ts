// The QUIC connection core: two QuicConnections wired in memory on a virtual clock.
import { describe, expect, test } from 'vitest'
import { Pair, transfer } from './quic-connection-harness.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

describe('QuicConnection handshake', () => {
  test('client and server complete the handshake with the libp2p TLS hooks: peer ids both ways, ALPN libp2p', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    expect(p.clientAuth.remote!.peerId.equals(p.serverKey.toPeerId())).toBe(true)
    expect(p.serverAuth.remote!.peerId.equals(p.clientKey.toPeerId())).toBe(true)
    const done = (side: 'client' | 'server') => p.events[side].find((e) => e.kind === 'handshake-complete')
    expect(done('client')).toMatchObject({ alpn: LIBP2P_ALPN })
    expect(done('server')).toMatchObject({ alpn: LIBP2P_ALPN })
    expect(p.client.state).toBe('established')
    expect(p.server.state).toBe('established')
  })
})

describe('QuicConnection streams', () => {
  test('a stream each way carries 16 MiB in order', () => {
    const p = new Pair({ net: { latency: 5 } })
    expect(p.handshake()).toBe(true)
    const { sent, got } = transfer(p, 16 * 1024 * 1024)
    expect(got.client!.length).toBe(sent.server!.length)
    expect(Buffer.compare(got.client!, sent.server!)).toBe(0)
    expect(Buffer.compare(got.server!, sent.client!)).toBe(0)
  }, 120_000)
})
