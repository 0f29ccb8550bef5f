import { describe, expect, test } from 'vitest'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { TlsHandshake } from '../src/tls/handshake.js'
import { SignatureScheme, type TlsEvent, type TlsHandshakeOptions } from '../src/tls/types.js'
import { TlsError } from '../src/tls/errors.js'
import { ProtocolError, UsageError } from '../src/core/errors.js'
import { decodeHandshake, encodeHandshake, HELLO_RETRY_REQUEST_RANDOM, type HandshakeMessage } from '../src/tls/messages.js'
import { decodeCookie, encodeCookie, encodeKeyShareHrr, encodeSupportedVersionServer, ExtensionType, GROUP_X25519 } from '../src/tls/extensions.js'
import { TLS_CHACHA20_POLY1305_SHA256 } from '../src/tls/key-schedule.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

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
    const { cl, sv, events } = pair({ alpn: ['/yamux/1.0.0', LIBP2P_ALPN] }, { alpn: [LIBP2P_ALPN, '/yamux/1.0.0'] })
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

/** Runs one side's output into the other until `stop` (the receiving side's error is returned). */
function deliver(from: TlsHandshake, to: TlsHandshake, mutate?: (o: { level: string; data: Uint8Array }) => Uint8Array): unknown {
  for (let e = from.pollEvent(); e !== undefined; e = from.pollEvent()) { /* drain */ }
  for (let o = from.pollOutput(); o !== undefined; o = from.pollOutput()) {
    try {
      to.handleMessages(o.level, mutate === undefined ? o.data : mutate(o))
    } catch (e) {
      return e
    }
  }
  return undefined
}

const client = (o: Partial<TlsHandshakeOptions> = {}) => new TlsHandshake({ role: 'client', crypto: c, certificate: ed25519Cert(1), verifyPeer: verifyRaw, ...o })
const server = (o: Partial<TlsHandshakeOptions> = {}) => new TlsHandshake({ role: 'server', crypto: c, certificate: ed25519Cert(2), verifyPeer: verifyRaw, ...o })

describe('TlsHandshake: QUIC mode (RFC 9001 §8)', () => {
  test('transport parameters travel both ways; empty legacy_session_id; no ChangeCipherSpec in the core', () => {
    const tpc = Uint8Array.of(1, 2, 3), tps = Uint8Array.of(4, 5)
    const { cl, sv, events } = pair({ quicTransportParameters: tpc, alpn: [LIBP2P_ALPN] }, { quicTransportParameters: tps, alpn: [LIBP2P_ALPN] })
    expect(cl.isComplete && sv.isComplete).toBe(true)
    expect(events.client.find((e) => e.kind === 'complete')).toMatchObject({ peerTransportParameters: tps, alpn: LIBP2P_ALPN })
    expect(events.server.find((e) => e.kind === 'complete')).toMatchObject({ peerTransportParameters: tpc })
    // the server knows the client's parameters and the ALPN from the ClientHello, before its flight leaves
    const early = server({ quicTransportParameters: tps, alpn: [LIBP2P_ALPN] })
    early.handleMessages('initial', client({ quicTransportParameters: tpc, alpn: [LIBP2P_ALPN] }).pollOutput()!.data)
    expect([early.peerTransportParameters, early.alpn]).toEqual([tpc, LIBP2P_ALPN])
    const ch = decodeHandshake(client({ quicTransportParameters: tpc }).pollOutput()!.data) as Extract<HandshakeMessage, { type: 'client_hello' }>
    expect(ch.sessionId.length).toBe(0)
  })
  test('a peer without quic_transport_parameters: missing_extension (109)', () => {
    const sv = server({ quicTransportParameters: Uint8Array.of(1) })
    expect(deliver(client(), sv)).toMatchObject({ code: 'tls/missing-extension', alert: 109 })
    const cl = client({ quicTransportParameters: Uint8Array.of(1) })
    const sv2 = server()
    deliver(cl, sv2)
    expect(deliver(sv2, cl)).toMatchObject({ code: 'tls/missing-extension', alert: 109 })
  })
  test('secrets come in install order: handshake read/write, then application read, then application write', () => {
    const { events } = pair()
    expect(events.client.filter((e) => e.kind === 'secret').map((e) => e.kind === 'secret' && `${e.level}/${e.direction}`)).toEqual(['handshake/read', 'handshake/write', 'application/read', 'application/write'])
    expect(events.server.filter((e) => e.kind === 'secret').map((e) => e.kind === 'secret' && `${e.level}/${e.direction}`)).toEqual(['handshake/write', 'handshake/read', 'application/write', 'application/read'])
  })
})

describe('TlsHandshake: negotiation', () => {
  test('ChaCha20-Poly1305 when the server prefers it', () => {
    const { events } = pair({}, { cipherSuites: [TLS_CHACHA20_POLY1305_SHA256, 0x1301] })
    expect(events.client.find((e) => e.kind === 'complete')).toMatchObject({ cipherSuite: TLS_CHACHA20_POLY1305_SHA256 })
  })
  test('no suite in common: handshake_failure (40)', () => {
    expect(deliver(client({ cipherSuites: [0x1301] }), server({ cipherSuites: [0x1303] }))).toMatchObject({ code: 'tls/handshake-failure', alert: 40 })
  })
  test('ALPN follows the client preference; no overlap is no_application_protocol (120)', () => {
    expect(pair({ alpn: ['a', 'b'] }, { alpn: ['b', 'a'] }).events.server.find((e) => e.kind === 'complete')).toMatchObject({ alpn: 'a' })
    expect(deliver(client({ alpn: ['a'] }), server({ alpn: ['b'] }))).toMatchObject({ code: 'tls/no-application-protocol', alert: 120 })
  })
  test('server without requireClientCertificate: no CertificateRequest, empty peer chain', () => {
    const { sv, events } = pair({ certificate: undefined }, { requireClientCertificate: false })
    expect(sv.isComplete).toBe(true)
    expect(events.server.find((e) => e.kind === 'complete')).toMatchObject({ peerChain: [] })
  })
  test('a client without a certificate answers the CertificateRequest with an empty Certificate: certificate_required (116)', () => {
    const cl = client({ certificate: undefined })
    const sv = server()
    deliver(cl, sv)
    deliver(sv, cl)
    expect(cl.isComplete).toBe(true)
    expect(deliver(cl, sv)).toMatchObject({ code: 'tls/certificate-required', alert: 116 })
  })
  test('HelloRetryRequest with a cookie: the second ClientHello echoes it, same random', () => {
    const cl = client()
    const ch1 = decodeHandshake(cl.pollOutput()!.data) as Extract<HandshakeMessage, { type: 'client_hello' }>
    const cookie = Uint8Array.of(9, 9, 9)
    const hrr = encodeHandshake({ type: 'server_hello', random: HELLO_RETRY_REQUEST_RANDOM, sessionId: ch1.sessionId, cipherSuite: 0x1301, compressionMethod: 0,
      extensions: [{ type: ExtensionType.supported_versions, data: encodeSupportedVersionServer(0x0304) }, { type: ExtensionType.cookie, data: encodeCookie(cookie) }] })
    cl.handleMessages('initial', hrr)
    const ch2 = decodeHandshake(cl.pollOutput()!.data) as Extract<HandshakeMessage, { type: 'client_hello' }>
    expect(ch2.random).toEqual(ch1.random)
    expect(decodeCookie(ch2.extensions.find((e) => e.type === ExtensionType.cookie)!.data)).toEqual(cookie)
    // a second HelloRetryRequest is unexpected_message
    expect(() => cl.handleMessages('initial', hrr)).toThrow(expect.objectContaining({ code: 'tls/unexpected-message', alert: 10 }))
  })
  test('HelloRetryRequest for the group the client already sent: illegal_parameter (47)', () => {
    const cl = client()
    cl.pollOutput()
    const hrr = encodeHandshake({ type: 'server_hello', random: HELLO_RETRY_REQUEST_RANDOM, sessionId: new Uint8Array(0), cipherSuite: 0x1301, compressionMethod: 0,
      extensions: [{ type: ExtensionType.supported_versions, data: encodeSupportedVersionServer(0x0304) }, { type: ExtensionType.key_share, data: encodeKeyShareHrr(GROUP_X25519) }] })
    expect(() => cl.handleMessages('initial', hrr)).toThrow(expect.objectContaining({ code: 'tls/illegal-parameter', alert: 47 }))
  })
  test('a low-order X25519 share (all zero): tls/invalid-key-share (47)', () => {
    const sv = server()
    const err = deliver(client(), sv, (o) => {
      const d = o.data.slice()
      // the X25519 KeyShareEntry: group 0x001d, length 0x0020, then the 32-byte public key
      for (let i = 0; i + 36 <= d.length; i++) if (d[i] === 0x00 && d[i + 1] === 0x1d && d[i + 2] === 0x00 && d[i + 3] === 0x20) { d.fill(0, i + 4, i + 36); break }
      return d
    })
    expect(err).toMatchObject({ code: 'tls/invalid-key-share', alert: 47 })
  })
})

describe('TlsHandshake: authentication failures', () => {
  test('a tampered server Finished: decrypt_error (51)', () => {
    const cl = client()
    const sv = server()
    deliver(cl, sv)
    const err = deliver(sv, cl, (o) => {
      if (o.data[0] !== 20) return o.data
      const d = o.data.slice()
      d[10]! ^= 1
      return d
    })
    expect(err).toMatchObject({ code: 'tls/decrypt-error', alert: 51 })
  })
  test('verifyPeer rejecting the server: its error propagates (a ProtocolError with its own alert) and the handshake is failed', () => {
    const reject = Object.assign(new ProtocolError('tls', 'tls/libp2p-test'), { alert: 43 })
    const cl = client({ verifyPeer: () => { throw reject } })
    const sv = server()
    deliver(cl, sv)
    expect(deliver(sv, cl)).toBe(reject)
    expect(() => cl.handleMessages('handshake', Uint8Array.of(20, 0, 0, 0))).toThrow(UsageError)
  })
  test('the server checks the client CertificateVerify through verifyPeer', () => {
    let calls = 0
    const { sv } = pair({}, { verifyPeer: (...a) => { calls++; verifyRaw(...a) } })
    expect(sv.isComplete).toBe(true)
    expect(calls).toBe(1)
    const bad = client({ certificate: { ...ed25519Cert(1), sign: () => new Uint8Array(64) } })
    const sv2 = server()
    deliver(bad, sv2)
    deliver(sv2, bad)
    expect(deliver(bad, sv2)).toMatchObject({ code: 'tls/bad-certificate', alert: 42 })
  })
})

describe('TlsHandshake: framing, levels and limits', () => {
  test('bytes at the wrong level: unexpected_message (10)', () => {
    const cl = client()
    const sv = server()
    const ch = cl.pollOutput()!
    expect(() => sv.handleMessages('handshake', ch.data)).toThrow(expect.objectContaining({ code: 'tls/unexpected-message', alert: 10 }))
  })
  test('handshake bytes one at a time complete the same handshake', () => {
    const cl = client()
    const sv = server()
    for (const [from, to] of [[cl, sv], [sv, cl], [cl, sv]] as const) {
      for (let e = from.pollEvent(); e !== undefined; e = from.pollEvent()) { /* drain */ }
      for (let o = from.pollOutput(); o !== undefined; o = from.pollOutput()) for (const b of o.data) to.handleMessages(o.level, Uint8Array.of(b))
    }
    expect(cl.isComplete && sv.isComplete).toBe(true)
  })
  test('maxHandshakeMessage: a message at the limit passes, one byte over is tls/message-too-large', () => {
    const cl = client()
    const ch = cl.pollOutput()!.data
    const limit = ch.length - 4
    const sv = server({ limits: { maxHandshakeMessage: limit } })
    sv.handleMessages('initial', ch)
    const sv2 = server({ limits: { maxHandshakeMessage: limit - 1 } })
    expect(() => sv2.handleMessages('initial', ch.subarray(0, 4))).toThrow(expect.objectContaining({ code: 'tls/message-too-large' }))
  })
  test('maxExtensions: at the limit passes, one over is tls/too-many-items', () => {
    const ch = decodeHandshake(client().pollOutput()!.data) as Extract<HandshakeMessage, { type: 'client_hello' }>
    const n = ch.extensions.length
    server({ limits: { maxExtensions: n } }).handleMessages('initial', encodeHandshake(ch))
    expect(() => server({ limits: { maxExtensions: n - 1 } }).handleMessages('initial', encodeHandshake(ch))).toThrow(expect.objectContaining({ code: 'tls/too-many-items' }))
  })
  test('maxCertificates: a chain at the limit passes, one over is tls/too-many-items', () => {
    for (const [chainLength, limit, ok] of [[2, 2, true], [3, 2, false]] as const) {
      const cert = ed25519Cert(2)
      const sv = server({ certificate: { ...cert, chain: Array.from({ length: chainLength }, () => cert.chain[0]!) } })
      const cl = client({ limits: { maxCertificates: limit } })
      deliver(cl, sv)
      const err = deliver(sv, cl)
      if (ok) expect(err).toBeUndefined()
      else expect(err).toMatchObject({ code: 'tls/too-many-items' })
    }
  })
  test('maxBufferedHandshake: a partial message may not hold more than the limit', () => {
    const sv = server({ limits: { maxHandshakeMessage: 1000, maxBufferedHandshake: 100 } })
    const partial = new Uint8Array(101)
    partial.set([1, 0, 3, 0xe8])
    expect(() => server({ limits: { maxHandshakeMessage: 1000, maxBufferedHandshake: 101 } }).handleMessages('initial', partial)).not.toThrow()
    expect(() => sv.handleMessages('initial', partial)).toThrow(expect.objectContaining({ code: 'tls/message-too-large' }))
  })
  test('after the handshake: the client drops a NewSessionTicket; anything else is unexpected_message', () => {
    const { cl, sv } = pair()
    cl.handleMessages('application', encodeHandshake({ type: 'new_session_ticket', lifetime: 1, ageAdd: 2, nonce: new Uint8Array(0), ticket: Uint8Array.of(1), extensions: [] }))
    expect(() => sv.handleMessages('application', encodeHandshake({ type: 'new_session_ticket', lifetime: 1, ageAdd: 2, nonce: new Uint8Array(0), ticket: Uint8Array.of(1), extensions: [] })))
      .toThrow(expect.objectContaining({ code: 'tls/unexpected-message' }))
  })
})
