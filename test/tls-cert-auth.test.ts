// The libp2p TLS hooks (src/tls/libp2p-auth.ts) in weft's TLS 1.3 handshake: both peers learn each
// other's peer id from the certificates, and a certificate of the wrong peer fails the handshake.
import { describe, expect, test } from 'vitest'
import { ProtocolError } from '../src/core/errors.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey, type PeerId } from '../src/peer-id/index.js'
import { TlsHandshake, alertFor, alpnFor, generateCertificate, libp2pTlsAuth, type Libp2pTlsAuth, type TlsEvent } from '../src/tls/index.js'
import { thrown } from './helpers/errors.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

const wallClock = (): number => 1_767_225_600_000

function run(client: Libp2pTlsAuth, server: Libp2pTlsAuth, alpn = { client: alpnFor(['/yamux/1.0.0']), server: alpnFor(['/yamux/1.0.0']) }) {
  const cl = new TlsHandshake({ role: 'client', crypto: tls, certificate: client.certificate, verifyPeer: client.verifyPeer, alpn: alpn.client })
  const sv = new TlsHandshake({ role: 'server', crypto: tls, certificate: server.certificate, verifyPeer: server.verifyPeer, alpn: alpn.server })
  const events: TlsEvent[] = []
  for (let moved = true; moved;) {
    moved = false
    for (const [from, to] of [[cl, sv], [sv, cl]] as const) {
      for (let o = from.pollOutput(); o !== undefined; o = from.pollOutput()) {
        to.handleMessages(o.level, o.data)
        moved = true
      }
    }
  }
  for (const h of [cl, sv]) for (let e = h.pollEvent(); e !== undefined; e = h.pollEvent()) events.push(e)
  return { cl, sv, events }
}

describe('libp2pTlsAuth in TlsHandshake', () => {
  const a = generatePrivateKey(tls.base)
  const b = generatePrivateKey(tls.base)
  const auth = (id = a, expectedPeer?: PeerId) => libp2pTlsAuth({ identity: id, crypto: tls, wallClock, expectedPeer })

  test('mutual authentication: each side verifies the other peer id; ALPN picks yamux', () => {
    const client = auth(a, b.toPeerId())
    const server = auth(b)
    const { cl, sv, events } = run(client, server)
    expect(cl.isComplete && sv.isComplete).toBe(true)
    expect(client.remote!.peerId.equals(b.toPeerId())).toBe(true)
    expect(server.remote!.peerId.equals(a.toPeerId())).toBe(true)
    expect(events.filter((e) => e.kind === 'complete').map((e) => (e as { alpn: string }).alpn)).toEqual(['/yamux/1.0.0', '/yamux/1.0.0'])
  })

  test('a listener without inlined muxer negotiation: ALPN LIBP2P_ALPN', () => {
    const { events } = run(auth(a), auth(b), { client: alpnFor(['/yamux/1.0.0']), server: alpnFor([]) })
    expect(events.filter((e) => e.kind === 'complete').map((e) => (e as { alpn: string }).alpn)).toEqual([LIBP2P_ALPN, LIBP2P_ALPN])
  })

  test('dialing the wrong peer: the client refuses the server certificate (tls/libp2p-peer-id-mismatch, bad_certificate)', () => {
    const c = generatePrivateKey(tls.base)
    const e = thrown(() => run(auth(a, c.toPeerId()), auth(b))) as ProtocolError
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.code).toBe('tls/libp2p-peer-id-mismatch')
    expect(alertFor(e)).toBe(42)
  })

  test('a reused certificate (made once per node) serves several handshakes', () => {
    const cert = generateCertificate(b, tls)
    for (let i = 0; i < 2; i++) {
      const client = auth(a)
      run(client, libp2pTlsAuth({ identity: b, crypto: tls, wallClock, certificate: cert }))
      expect(client.remote!.peerId.equals(b.toPeerId())).toBe(true)
    }
  })

  test('alpnFor puts LIBP2P_ALPN last, once', () => {
    expect(alpnFor(['/yamux/1.0.0', LIBP2P_ALPN])).toEqual(['/yamux/1.0.0', LIBP2P_ALPN])
    expect(alpnFor([])).toEqual([LIBP2P_ALPN])
  })
})
