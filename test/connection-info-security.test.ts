/**
 * `connection:open` says which secure channel and muxer a connection uses (ConnectionInfo
 * `security`, `muxer`): Noise + yamux, TLS + yamux (muxer in ALPN), and QUIC (TLS inside QUIC,
 * QUIC's own streams), on both the dialing and the listening side.
 */
import { afterEach, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

async function pair(listen: string, security?: Array<'noise' | 'tls'>): Promise<Array<{ security: string, muxer: string, direction: string }>> {
  const a = await createNode({ listen: [listen], services: {}, ...(security ? { security } : {}) })
  const b = await createNode({ listen: [], services: {}, ...(security ? { security } : {}) })
  nodes.push(a, b)
  const seen = [a, b].map((n) => new Promise<{ security: string, muxer: string, direction: string }>((resolve) =>
    n.on('connection:open', (c) => resolve({ security: c.security, muxer: c.muxer, direction: c.direction }))))
  await b.ping(a.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
  return Promise.all(seen)
}

test('Noise over TCP: /noise and /yamux/1.0.0 on both sides', async () => {
  expect(await pair('/ip4/127.0.0.1/tcp/0')).toEqual([
    { security: '/noise', muxer: '/yamux/1.0.0', direction: 'inbound' },
    { security: '/noise', muxer: '/yamux/1.0.0', direction: 'outbound' },
  ])
})

test('TLS over TCP: /tls/1.0.0 and /yamux/1.0.0 on both sides', async () => {
  expect(await pair('/ip4/127.0.0.1/tcp/0', ['tls'])).toEqual([
    { security: '/tls/1.0.0', muxer: '/yamux/1.0.0', direction: 'inbound' },
    { security: '/tls/1.0.0', muxer: '/yamux/1.0.0', direction: 'outbound' },
  ])
})

test('QUIC: /tls/1.0.0 inside QUIC, /quic-v1 streams', async () => {
  expect(await pair('/ip4/127.0.0.1/udp/0/quic-v1')).toEqual([
    { security: '/tls/1.0.0', muxer: '/quic-v1', direction: 'inbound' },
    { security: '/tls/1.0.0', muxer: '/quic-v1', direction: 'outbound' },
  ])
})
