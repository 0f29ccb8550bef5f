/**
 * weft trace over `/tls/1.0.0` (spec/trace.md "TLS and QUIC"): a TLS-over-TCP connection's live
 * trace shows the security negotiation, each TLS 1.3 handshake message decoded (ALPN with the
 * inlined muxer, cipher suite, key share group, the certificate's peer id, the signature scheme),
 * the TLS and upgrade states (the muxer from ALPN) and then yamux and the protocol messages as over Noise.
 */
import { afterEach, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'
import type { TraceEvent } from '../src/trace/index.js'

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

test('a TLS connection: handshake messages, states, yamux frames and messages', { timeout: 30_000 }, async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], security: ['tls'] })
  const live: TraceEvent[] = []
  const keys: string[] = []
  const client = await createNode({ listen: [], security: ['tls'], trace: (e) => live.push(e), keylog: (l) => keys.push(l) })
  nodes.push(server, client)
  await client.ping(server.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
  for (let i = 0; i < 200 && !live.some((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0' && e.dir === 'in'); i++) await new Promise((r) => setTimeout(r, 20))

  expect(keys).toHaveLength(4) // the handshake's key log only (not twice: the record layer logs nothing itself)
  const tls = live.filter((e) => e.kind === 'tls-handshake') as Array<Extract<TraceEvent, { kind: 'tls-handshake' }>>
  expect(tls.map((e) => `${e.dir} ${e.level} ${e.type}`)).toEqual([
    'out initial client_hello', 'in initial server_hello', 'in handshake encrypted_extensions', 'in handshake certificate_request',
    'in handshake certificate', 'in handshake certificate_verify', 'in handshake finished',
    'out handshake certificate', 'out handshake certificate_verify', 'out handshake finished',
  ])
  expect(tls[0]!.fields).toMatchObject({ alpn: ['/yamux/1.0.0', LIBP2P_ALPN], keyShares: ['x25519'] })
  expect(tls[1]!.fields).toMatchObject({ cipherSuite: 'TLS_AES_128_GCM_SHA256', keyShare: 'x25519' })
  expect(tls[2]!.fields).toMatchObject({ alpn: ['/yamux/1.0.0'] })
  expect(tls[4]!.fields).toMatchObject({ peerId: server.peerId.toString(), verified: true })
  const states = live.filter((e) => e.kind === 'state' && e.stream === undefined).map((e) => e.kind === 'state' ? `${e.layer} ${e.to} ${e.protocol ?? ''}`.trim() : '')
  expect(states).toEqual(expect.arrayContaining(['upgrade security /tls/1.0.0', 'upgrade handshake /tls/1.0.0', 'tls established /yamux/1.0.0', 'upgrade muxer /yamux/1.0.0', 'upgrade done', 'connection open']))
  expect(live).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'connection', to: 'open', reason: server.peerId.toString() }))
  expect(live).toContainEqual(expect.objectContaining({ kind: 'multistream', line: '/tls/1.0.0' }))
  expect(live.some((e) => e.kind === 'yamux-frame')).toBe(true)
  expect(live.filter((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0').map((e) => e.kind === 'message' && e.dir)).toEqual(['out', 'in'])
})
