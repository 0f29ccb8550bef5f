import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { TlsHandshake } from '../src/tls/handshake.js'
import { SignatureScheme, type TlsEvent, type TlsHandshakeOptions } from '../src/tls/types.js'
import { TlsError } from '../src/tls/errors.js'

const c = nodeTlsCrypto

function ed25519Cert(tag: number): { chain: Uint8Array[]; scheme: number; sign(d: Uint8Array): Uint8Array; pub: Uint8Array } {
  const seed = new Uint8Array(32).fill(tag)
  const pub = c.base.ed25519PublicKey(seed)
  // the "certificate" is the raw public key: the core never parses certificates
  return { chain: [pub], scheme: SignatureScheme.ed25519, sign: (d) => c.base.ed25519Sign(seed, d), pub }
}

const verifyRaw = (chain: Uint8Array[], scheme: number, content: Uint8Array, sig: Uint8Array): void => {
  if (scheme !== SignatureScheme.ed25519 || !c.base.ed25519Verify(chain[0]!, content, sig)) throw new TlsError('tls/bad-certificate', 'test verifier')
}

function pair(client: Partial<TlsHandshakeOptions> = {}, server: Partial<TlsHandshakeOptions> = {}) {
  const cl = new TlsHandshake({ role: 'client', crypto: c, certificate: ed25519Cert(1), verifyPeer: verifyRaw, ...client })
  const sv = new TlsHandshake({ role: 'server', crypto: c, certificate: ed25519Cert(2), verifyPeer: verifyRaw, ...server })
  const events: { client: TlsEvent[]; server: TlsEvent[] } = { client: [], server: [] }
  for (let round = 0; round < 10; round++) {
    let moved = false
    for (const [from, to, name] of [[cl, sv, 'client'], [sv, cl, 'server']] as const) {
      for (let e = from.pollEvent(); e !== undefined; e = from.pollEvent()) events[name].push(e)
      for (let o = from.pollOutput(); o !== undefined; o = from.pollOutput()) {
        to.handleMessages(o.level, o.data)
        moved = true
      }
      for (let e = from.pollEvent(); e !== undefined; e = from.pollEvent()) events[name].push(e)
    }
    if (!moved) break
  }
  return { cl, sv, events }
}

describe('TlsHandshake weft <-> weft', () => {
  test('mutual authentication, ALPN, secrets agree', () => {
    const { cl, sv, events } = pair({ alpn: ['/yamux/1.0.0', 'libp2p'] }, { alpn: ['libp2p', '/yamux/1.0.0'] })
    expect(cl.isComplete && sv.isComplete).toBe(true)
    const done = (es: TlsEvent[]) => es.find((e) => e.kind === 'complete')!
    expect(done(events.client)).toMatchObject({ alpn: '/yamux/1.0.0' })
    const sec = (es: TlsEvent[], level: string, dir: string) => (es.find((e) => e.kind === 'secret' && e.level === level && e.direction === dir) as any).secret
    expect(sec(events.client, 'application', 'write')).toEqual(sec(events.server, 'application', 'read'))
    expect(sec(events.server, 'application', 'write')).toEqual(sec(events.client, 'application', 'read'))
    expect(sec(events.client, 'handshake', 'write')).toEqual(sec(events.server, 'handshake', 'read'))
  })
  test('HelloRetryRequest when the first ClientHello has no key share', () => {
    const { cl, sv } = pair({ keyShareInFirstHello: false })
    expect(cl.isComplete && sv.isComplete).toBe(true)
  })
})
