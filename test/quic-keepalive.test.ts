// Keep-alive of libp2p QUIC connections (src/quic/libp2p.ts DEFAULT_KEEP_ALIVE_INTERVAL): a quiet
// connection sends a PING every 15 s, so NAT bindings (often 30 s for UDP) and both 30 s idle timers
// stay alive; `connection.keepAliveInterval: 0` turns it off and the connection then idles out.
// Two routers (the UDP driver's view of a socket) in memory on a virtual clock.
import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import type { QuicConnection } from '../src/quic/connection/index.js'
import { DEFAULT_KEEP_ALIVE_INTERVAL, quicRouter, type QuicRouterOptions } from '../src/quic/libp2p.js'

const wallClock = (): number => 1_767_225_600_000
const C = { address: '192.0.2.1', port: 1000 }
const S = { address: '192.0.2.2', port: 4001 }

function pair(connection?: QuicRouterOptions['connection']): { run(until: number): void, client: QuicConnection, server: () => QuicConnection | undefined, sent: { client: number[], server: number[] } } {
  const clientKey = generatePrivateKey(tls.base)
  const serverKey = generatePrivateKey(tls.base)
  const cr = quicRouter({ crypto: tls, wallClock, listening: false, ...(connection !== undefined ? { connection } : {}) })
  const sr = quicRouter({ crypto: tls, wallClock, listening: true, ...(connection !== undefined ? { connection } : {}) })
  const d = cr.dial(0)
  const client = d.session.open({ now: 0, identity: clientKey, expectedPeer: serverKey.toPeerId() }).connection
  let server: QuicConnection | undefined
  let now = 0
  const sent = { client: [] as number[], server: [] as number[] }
  const flush = (): void => {
    for (let moved = true, n = 0; moved && n < 1000; n++) {
      moved = false
      for (let x = client.pollTransmit(now); x !== undefined; x = client.pollTransmit(now)) {
        moved = true
        sent.client.push(now)
        const r = sr.route(now, C, x)
        if (r.kind === 'accept') server = r.session.open({ now, identity: serverKey }).connection
        if (r.kind === 'accept' || r.kind === 'deliver') server!.handleDatagram(now, x)
      }
      if (server !== undefined) {
        for (let x = server.pollTransmit(now); x !== undefined; x = server.pollTransmit(now)) {
          moved = true
          sent.server.push(now)
          const r = cr.route(now, S, x)
          if (r.kind === 'deliver') client.handleDatagram(now, x)
        }
      }
      for (const c of [client, server]) while (c !== undefined && c.pollEvent() !== undefined) { /* drained */ }
    }
  }
  return {
    client, server: () => server, sent,
    run(until: number): void {
      flush()
      for (let i = 0; i < 100_000; i++) {
        const ts = [client.pollTimeout(), server?.pollTimeout()].filter((t): t is number => t !== undefined)
        const next = ts.length === 0 ? undefined : Math.max(now, Math.min(...ts))
        if (next === undefined || next > until) { now = until; return }
        now = next
        for (const c of [client, server]) { const t = c?.pollTimeout(); if (c !== undefined && t !== undefined && t <= now) c.handleTimeout(now) }
        flush()
      }
    },
  }
}

describe('QUIC keep-alive (libp2p router default)', () => {
  test(`default ${DEFAULT_KEEP_ALIVE_INTERVAL} ms: a connection with no traffic for two minutes stays open, a PING about every 15 s`, () => {
    expect(DEFAULT_KEEP_ALIVE_INTERVAL).toBe(15_000)
    const p = pair()
    p.run(1_000)
    expect(p.client.isHandshakeConfirmed).toBe(true)
    const before = p.sent.client.length
    p.run(121_000)
    expect(p.client.state).toBe('established')
    expect(p.server()!.state).toBe('established')
    const pings = p.sent.client.slice(before).filter((t, i, a) => i === 0 || t - a[i - 1]! > 1_000) // one send burst per keep-alive
    expect(pings.length).toBeGreaterThanOrEqual(7)
    expect(pings.length).toBeLessThanOrEqual(9)
  })

  test('keepAliveInterval 0 turns it off: the quiet connection idles out at 30 s', () => {
    const p = pair({ keepAliveInterval: 0 })
    p.run(1_000)
    expect(p.client.isHandshakeConfirmed).toBe(true)
    p.run(121_000)
    expect(p.client.state).toBe('closed')
    expect(p.client.closeInfo?.source).toBe('idle')
  })
})
