// The QUIC connection core's ends and bounds: close both ways, the idle timeout, a failed
// handshake, stateless reset, Version Negotiation, Retry, the server's anti-amplification limit.
import { describe, expect, test } from 'vitest'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { buildRetry, buildStatelessReset, buildVersionNegotiation, type QuicConnectionEvent } from '../src/quic/index.js'
import { thrown } from './helpers/errors.js'
import { Pair } from './quic-connection-harness.js'

const closed = (evs: QuicConnectionEvent[]) => evs.find((e) => e.kind === 'closed') as Extract<QuicConnectionEvent, { kind: 'closed' }> | undefined
const closing = (evs: QuicConnectionEvent[]) => evs.find((e) => e.kind === 'closing') as Extract<QuicConnectionEvent, { kind: 'closing' }> | undefined

describe('closing', () => {
  for (const side of ['client', 'server'] as const) {
    test(`${side} closes: the peer drains with the application code and reason; both end closed`, () => {
      const p = new Pair()
      expect(p.handshake()).toBe(true)
      p.conn(side).close(42, 'bye')
      const other = side === 'client' ? 'server' : 'client'
      expect(p.run(() => p.client.isClosed && p.server.isClosed)).toBe(true)
      expect(closing(p.events[other])!.info).toMatchObject({ source: 'remote', errorCode: 42, application: true, reason: 'bye' })
      expect(closed(p.events[side])!.info).toMatchObject({ source: 'local', errorCode: 42 })
      expect(thrown(() => p.conn(side).openStream())).toBeInstanceOf(UsageError)
    })
  }

  test('an application close during the handshake travels as a transport APPLICATION_ERROR in Initial/Handshake packets (RFC 9000 §10.2.3)', () => {
    const p = new Pair()
    p.server.handleDatagram(0, p.client.pollTransmit(0)!) // the server has the ClientHello, has sent nothing yet
    p.server.close(7, 'not now')
    expect(p.run(() => p.client.isClosed && p.server.isClosed)).toBe(true)
    expect(closing(p.events.client)!.info).toMatchObject({ source: 'remote', errorCode: 0x0c, application: false, reason: '' })
    expect(p.events.client.some((e) => e.kind === 'handshake-complete')).toBe(false)
  })

  test('idle timeout: the smaller of both max_idle_timeout closes both silently', () => {
    const p = new Pair({ client: { limits: { idleTimeout: 5_000 } }, server: { limits: { idleTimeout: 20_000 } } })
    expect(p.handshake()).toBe(true)
    const start = p.now
    expect(p.run(() => p.client.isClosed && p.server.isClosed, 60_000)).toBe(true)
    expect(closed(p.events.client)!.info.source).toBe('idle')
    expect(closed(p.events.server)!.info.source).toBe('idle')
    expect(p.now - start).toBeLessThan(6_000)
    expect(p.now - start).toBeGreaterThanOrEqual(4_900)
  })

  test('a handshake that never completes ends at the idle timeout', () => {
    const p = new Pair({ filter: (to) => to === 'client', client: { limits: { idleTimeout: 3_000 } } })
    expect(p.run(() => p.client.isClosed, 10_000)).toBe(true)
    expect(closed(p.events.client)!.info.source).toBe('idle')
  })

  test('dialing the wrong peer: the client closes with CRYPTO_ERROR bad_certificate, the server sees it', () => {
    const p = new Pair({ clientExpects: generatePrivateKey(tls.base).toPeerId() })
    expect(p.run(() => p.client.isClosed && p.server.isClosed)).toBe(true)
    const info = closing(p.events.client)!.info
    expect(info).toMatchObject({ source: 'local', errorCode: 0x100 + 42, application: false })
    expect((info.error as ProtocolError).code).toBe('tls/libp2p-peer-id-mismatch')
    expect(closing(p.events.server)!.info).toMatchObject({ source: 'remote', errorCode: 0x100 + 42 })
    expect(p.events.client.some((e) => e.kind === 'handshake-complete')).toBe(false)
  })

  test('a stateless reset from the peer ends the connection', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    const token = p.events.client.find((e) => e.kind === 'peer-reset-token') as { token: Uint8Array }
    expect(token).toBeDefined()
    p.client.handleDatagram(p.now, buildStatelessReset(token.token, 100, p.random)!)
    expect(p.client.isClosed).toBe(true)
    expect(closed(p.events.client) ?? p.client.closeInfo).toBeDefined()
    expect(p.client.closeInfo!.source).toBe('reset')
  })

  test('a datagram of random bytes is dropped, not a reset', () => {
    const p = new Pair()
    expect(p.handshake()).toBe(true)
    const junk = p.random(100)
    junk[0] = 0x40
    p.client.handleDatagram(p.now, junk)
    expect(p.client.state).toBe('established')
  })

  test('Version Negotiation without v1 abandons the attempt; one listing v1 is ignored', () => {
    for (const [versions, state] of [[[0x0a0a0a0a, 0xff00001d], 'closed'], [[1, 0x0a0a0a0a], 'handshaking']] as const) {
      const p = new Pair()
      p.client.pollTransmit(0)
      p.client.handleDatagram(1, buildVersionNegotiation({ dcid: p.client.localConnectionId, scid: p.initialDcid, versions }))
      expect(p.client.state).toBe(state)
      if (state === 'closed') expect(p.client.closeInfo!.source).toBe('version')
    }
  })
})

describe('Retry', () => {
  const retryCid = Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9)
  function retried(serverKnows: boolean) {
    const p = new Pair({ server: serverKnows ? { retrySourceConnectionId: retryCid, addressValidated: true } : {} })
    expect(p.client.pollTransmit(0)).toBeDefined() // the first Initial: answered by the endpoint with a Retry
    p.client.handleDatagram(1, buildRetry(tls, { dcid: p.client.localConnectionId, scid: retryCid, token: Uint8Array.of(1, 2, 3), odcid: p.initialDcid }))
    return p
  }

  test('the client follows a Retry: new Initial keys and DCID, the token, retry_source_connection_id checked', () => {
    const p = retried(true)
    expect(p.handshake()).toBe(true)
    expect(p.clientAuth.remote!.peerId.equals(p.serverKey.toPeerId())).toBe(true)
  })

  test('a retry_source_connection_id without a Retry fails the client\'s §7.3 check (PROTOCOL_VIOLATION)', () => {
    // Pairs are seeded alike: q's ids are p's. q's server claims a Retry from the original id (so its keys still match)
    const p = new Pair()
    const q = new Pair({ server: { retrySourceConnectionId: p.initialDcid } })
    expect(q.run(() => q.client.isClosed && q.server.isClosed)).toBe(true)
    expect(closing(q.events.client)!.info).toMatchObject({ source: 'local', errorCode: 0x0a })
    expect((closing(q.events.client)!.info.error as ProtocolError).code).toBe('PROTOCOL_VIOLATION')
    expect(closing(q.events.server)!.info).toMatchObject({ source: 'remote', errorCode: 0x0a })
  })

  test('a Retry with a bad integrity tag is dropped', () => {
    const p = new Pair()
    p.client.pollTransmit(0)
    const r = buildRetry(tls, { dcid: p.client.localConnectionId, scid: retryCid, token: Uint8Array.of(1), odcid: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) })
    p.client.handleDatagram(1, r)
    expect(p.client.stats.packetsDropped).toBe(1)
    expect(p.handshake()).toBe(true)
  })
})

describe('anti-amplification (RFC 9000 §8.1)', () => {
  // every client datagram after the first is lost: the server only ever received 1200 bytes
  const firstOnly = () => { let n = 0; return (to: 'client' | 'server') => to === 'server' && n++ > 0 }

  test('an unvalidated server sends at most three times what it received, even across PTOs', () => {
    const p = new Pair({ filter: firstOnly() })
    p.run(() => false, 20_000)
    expect(p.server.stats.bytesReceived).toBe(1200)
    expect(p.server.stats.bytesSent).toBeGreaterThan(1200)
    expect(p.server.stats.bytesSent).toBeLessThanOrEqual(3 * 1200)
  })

  test('past the limit: a server whose client address was validated (Retry token) sends more', () => {
    const p = new Pair({ filter: firstOnly(), server: { addressValidated: true } })
    p.run(() => false, 20_000)
    expect(p.server.stats.bytesSent).toBeGreaterThan(3 * 1200)
  })
})
