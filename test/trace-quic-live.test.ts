/**
 * weft trace over QUIC (spec/trace.md "TLS and QUIC"): `createNode({ trace, keylog })` on a QUIC
 * connection gives NSS key log lines (the four TLS 1.3 traffic secrets, named by the ClientHello's
 * random, on both sides) and a live trace: every packet decrypted with its frames, the TLS handshake
 * messages from the CRYPTO frames (ALPN, cipher suite, key share group, the certificate's peer id),
 * the libp2p streams' multistream lines and protocol messages.
 */
import { afterEach, expect, test } from 'vitest'
import { createNode, type WeftNode } from '../src/node.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'
import type { TraceEvent } from '../src/trace/index.js'

const nodes: WeftNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())) })

const waitFor = async (f: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 20))
}

test('a QUIC connection: keylog lines on both sides, live packets, TLS handshake and messages', { timeout: 30_000 }, async () => {
  const serverKeys: string[] = []
  const serverLive: TraceEvent[] = []
  const server = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], keylog: (l) => serverKeys.push(l), trace: (e) => serverLive.push(e) })
  const live: TraceEvent[] = []
  const keys: string[] = []
  const client = await createNode({ listen: [], trace: (e) => live.push(e), keylog: (l) => keys.push(l) })
  nodes.push(server, client)
  await client.ping(server.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
  const ids = () => live.filter((e) => e.kind === 'message' && e.protocol === '/ipfs/id/1.0.0')
  await waitFor(() => ids().length >= 2)

  // the key log: four NSS lines per side, one client random, the same secrets on both sides
  expect(keys.map((l) => l.split(' ')[0]).sort()).toEqual(['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0'])
  for (const l of keys) expect(l).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64}$/)
  expect(new Set(keys.map((l) => l.split(' ')[1])).size).toBe(1)
  expect([...serverKeys].sort()).toEqual([...keys].sort())

  const packets = live.filter((e) => e.kind === 'quic-packet')
  expect(packets.filter((e) => e.kind === 'quic-packet' && e.undecryptable !== undefined)).toEqual([])
  const kinds = new Set(packets.map((e) => e.kind === 'quic-packet' ? `${e.dir} ${e.packet}` : ''))
  for (const k of ['out initial', 'in initial', 'in handshake', 'out handshake', 'out 1rtt', 'in 1rtt']) expect(kinds).toContain(k)
  const first = packets[0]!
  expect(first).toMatchObject({ dir: 'out', packet: 'initial', pn: 0 })
  expect(first.kind === 'quic-packet' && first.frames.some((f) => f.type === 'crypto')).toBe(true)
  expect(packets.some((e) => e.kind === 'quic-packet' && e.frames.some((f) => f.type === 'ack' && Array.isArray(f.ranges)))).toBe(true)
  expect(packets.some((e) => e.kind === 'quic-packet' && e.frames.some((f) => f.type === 'stream' && typeof f.id === 'number'))).toBe(true)

  const tls = live.filter((e) => e.kind === 'tls-handshake')
  expect(tls.map((e) => e.kind === 'tls-handshake' ? `${e.dir} ${e.level} ${e.type}` : '')).toEqual([
    'out initial client_hello', 'in initial server_hello', 'in handshake encrypted_extensions', 'in handshake certificate_request',
    'in handshake certificate', 'in handshake certificate_verify', 'in handshake finished',
    'out handshake certificate', 'out handshake certificate_verify', 'out handshake finished',
  ])
  const fields = (type: string, dir: string) => (tls.find((e) => e.kind === 'tls-handshake' && e.type === type && e.dir === dir) as Extract<TraceEvent, { kind: 'tls-handshake' }>).fields
  expect(fields('client_hello', 'out')).toMatchObject({ alpn: [LIBP2P_ALPN], keyShares: ['x25519'], versions: ['0x304'] })
  expect(fields('server_hello', 'in')).toMatchObject({ cipherSuite: 'TLS_AES_128_GCM_SHA256', keyShare: 'x25519' })
  expect(fields('certificate', 'in')).toMatchObject({ peerId: server.peerId.toString(), verified: true })
  expect(fields('certificate', 'out')).toMatchObject({ peerId: client.peerId.toString(), verified: true })
  expect(fields('certificate_verify', 'in').signatureScheme).toMatch(/ecdsa_secp256r1_sha256|ed25519/)

  expect(live).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'connection', to: 'open', reason: server.peerId.toString() }))
  expect(live).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'quic', to: 'confirmed' }))
  expect(live).toContainEqual(expect.objectContaining({ kind: 'multistream', line: '/ipfs/ping/1.0.0' }))
  expect(live).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'stream', to: 'negotiated', protocol: '/ipfs/ping/1.0.0' }))
  const pings = live.filter((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0')
  expect(pings.map((e) => e.kind === 'message' && e.dir)).toEqual(['out', 'in'])
  expect(ids().map((e) => e.kind === 'message' && e.name)).toContain('Identify')
  expect(live.filter((e) => e.kind === 'state' && e.to === 'undecodable')).toEqual([])
  // the listener's own trace of the same connection: its view (`in` = from the client), every packet decrypted
  expect(serverLive.filter((e) => e.kind === 'quic-packet' && e.undecryptable !== undefined)).toEqual([])
  expect(serverLive.find((e) => e.kind === 'quic-packet')).toMatchObject({ dir: 'in', packet: 'initial' })
  expect(serverLive).toContainEqual(expect.objectContaining({ kind: 'tls-handshake', dir: 'in', type: 'client_hello' }))
  expect(serverLive).toContainEqual(expect.objectContaining({ kind: 'state', layer: 'connection', to: 'open', reason: client.peerId.toString() }))
  expect(serverLive.filter((e) => e.kind === 'message' && e.protocol === '/ipfs/ping/1.0.0').map((e) => e.kind === 'message' && e.dir)).toEqual(['in', 'out'])
})

test('a trace sink and a keylog sink that throw change nothing on a QUIC connection', { timeout: 30_000 }, async () => {
  const server = await createNode({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] })
  let calls = 0
  const client = await createNode({ listen: [], trace: () => { calls++; throw new Error('sink') }, keylog: () => { throw new Error('keylog sink') } })
  nodes.push(server, client)
  const rtt = await client.ping(server.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) })
  expect(rtt).toBeGreaterThanOrEqual(0)
  expect(calls).toBe(1) // the first event threw: that connection's trace stopped, the connection did not
})
