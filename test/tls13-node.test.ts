/**
 * weft's TLS 1.3 (TlsSession over TCP) against node:tls (OpenSSL) as a black-box peer, both
 * directions: both cipher suites, ECDSA P-256 and Ed25519 certificates both ways (mutual
 * authentication), ALPN, data both ways, HelloRetryRequest, and the alerts of a failed handshake.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { nodeTlsCrypto } from '../src/io/crypto-tls-node.js'
import { TlsError } from '../src/tls/errors.js'
import { TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 } from '../src/tls/key-schedule.js'
import { TlsSession } from '../src/tls/session.js'
import { makeCert, pump, verifyExactly, type TestCert } from './helpers/tls-node-peer.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

const SUITES = [
  { id: TLS_AES_128_GCM_SHA256, name: 'TLS_AES_128_GCM_SHA256' },
  { id: TLS_CHACHA20_POLY1305_SHA256, name: 'TLS_CHACHA20_POLY1305_SHA256' },
]

let certs: Record<'serverP256' | 'clientP256' | 'serverEd' | 'clientEd', TestCert>
beforeAll(() => {
  certs = {
    serverP256: makeCert('p256', 'server'),
    clientP256: makeCert('p256', 'client'),
    serverEd: makeCert('ed25519', 'server-ed'),
    clientEd: makeCert('ed25519', 'client-ed'),
  }
})

const servers: net.Server[] = []
afterAll(() => { for (const s of servers) s.close() })

function listen(server: net.Server): Promise<number> {
  servers.push(server)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)))
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

/** Reads from a node TLS socket until `n` bytes arrived. */
function readN(s: tls.TLSSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let got = 0
    const onData = (d: Buffer): void => {
      parts.push(d)
      got += d.length
      if (got >= n) { s.off('data', onData); resolve(Buffer.concat(parts)) }
    }
    s.on('data', onData)
    s.on('error', reject)
  })
}

function collected(events: { type: string; data?: Uint8Array }[]): Buffer {
  return Buffer.concat(events.filter((e) => e.type === 'data').map((e) => e.data!))
}

describe.each(SUITES)('weft client -> node:tls server ($name)', (suite) => {
  test.each(['p256', 'ed25519'] as const)('mutual auth with %s certificates, ALPN, 100 KiB both ways, close_notify', async (kind) => {
    const sc = kind === 'p256' ? certs.serverP256 : certs.serverEd
    const cc = kind === 'p256' ? certs.clientP256 : certs.clientEd
    let serverSide!: tls.TLSSocket
    const accepted = new Promise<tls.TLSSocket>((resolve) => {
      const server = tls.createServer({
        key: sc.keyPem, cert: sc.certPem, minVersion: 'TLSv1.3', ciphers: suite.name, ALPNProtocols: [LIBP2P_ALPN],
        requestCert: true, rejectUnauthorized: false, ecdhCurve: 'X25519',
      }, (s) => { serverSide = s; resolve(s) })
      void listen(server).then((port) => { portP.resolve(port) })
    })
    const portP = deferred<number>()
    const port = await portP.promise
    const socket = net.connect(port, '127.0.0.1')
    const verify = verifyExactly(sc.der)
    const session = new TlsSession({ role: 'client', crypto: nodeTlsCrypto, certificate: cc.tls, verifyPeer: verify, alpn: ['/yamux/1.0.0', LIBP2P_ALPN], cipherSuites: [suite.id] })
    await new Promise<void>((r) => socket.once('connect', () => r()))
    const p = pump(session, socket)
    const done = await p.until((e) => e.type === 'handshake-complete')
    expect(done).toMatchObject({ alpn: LIBP2P_ALPN, cipherSuite: suite.id })
    expect(verify.calls).toBe(1)
    const s = await accepted
    expect(s.getProtocol()).toBe('TLSv1.3')
    expect(s.getCipher().standardName).toBe(suite.name)
    expect(Buffer.from(s.getPeerCertificate().raw).equals(Buffer.from(cc.der))).toBe(true)
    // data both ways, larger than one record
    const up = bytes(100 * 1024, 1)
    const gotUp = readN(serverSide, up.length)
    session.write(up)
    p.flush()
    expect((await gotUp).equals(Buffer.from(up))).toBe(true)
    const down = bytes(100 * 1024, 2)
    serverSide.write(down)
    await p.until(() => collected(p.events).length >= down.length)
    expect(collected(p.events).equals(Buffer.from(down))).toBe(true)
    // KeyUpdate asking the peer to update too: OpenSSL answers with its own, data still flows both ways
    session.updateKeys(true)
    const up2 = bytes(5000, 5)
    const gotUp2 = readN(serverSide, up2.length)
    session.write(up2)
    p.flush()
    expect((await gotUp2).equals(Buffer.from(up2))).toBe(true)
    serverSide.write(bytes(3000, 6))
    await p.until(() => collected(p.events).length >= down.length + 3000)
    expect(collected(p.events).subarray(down.length).equals(Buffer.from(bytes(3000, 6)))).toBe(true)
    // our close_notify ends the server's read side; its own close_notify is our clean eof
    serverSide.on('end', () => serverSide.end())
    session.close()
    p.flush()
    expect(await p.until((e) => e.type === 'eof')).toEqual({ type: 'eof', closeNotify: true })
    socket.destroy()
  })
})

describe.each(SUITES)('node:tls client -> weft server ($name)', (suite) => {
  test.each(['p256', 'ed25519'] as const)('mutual auth with %s certificates, ALPN, data both ways', async (kind) => {
    const sc = kind === 'p256' ? certs.serverP256 : certs.serverEd
    const cc = kind === 'p256' ? certs.clientP256 : certs.clientEd
    const verify = verifyExactly(cc.der)
    const pumped = deferred<ReturnType<typeof pump>>()
    let session!: TlsSession
    const port = await listen(net.createServer((sock) => {
      session = new TlsSession({ role: 'server', crypto: nodeTlsCrypto, certificate: sc.tls, verifyPeer: verify, alpn: [LIBP2P_ALPN], cipherSuites: [suite.id] })
      pumped.resolve(pump(session, sock))
    }))
    const client = tls.connect({ port, host: '127.0.0.1', key: cc.keyPem, cert: cc.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3', ciphers: suite.name, ALPNProtocols: ['/yamux/1.0.0', LIBP2P_ALPN] })
    await new Promise<void>((resolve, reject) => { client.once('secureConnect', () => resolve()); client.once('error', reject) })
    expect(client.alpnProtocol).toBe(LIBP2P_ALPN)
    expect(client.getCipher().standardName).toBe(suite.name)
    expect(Buffer.from(client.getPeerCertificate().raw).equals(Buffer.from(sc.der))).toBe(true)
    const p = await pumped.promise
    // the server completes on the client's Finished; data from the client follows it
    const up = bytes(40_000, 3)
    client.write(up)
    await p.until(() => collected(p.events).length >= up.length)
    expect(p.events[0]).toMatchObject({ type: 'handshake-complete', alpn: LIBP2P_ALPN, cipherSuite: suite.id })
    expect(collected(p.events).equals(Buffer.from(up))).toBe(true)
    expect(verify.calls).toBe(1)
    const down = bytes(70_000, 4)
    const got = readN(client, down.length)
    session.write(down)
    p.flush()
    expect((await got).equals(Buffer.from(down))).toBe(true)
    client.end()
    expect(await p.until((e) => e.type === 'eof')).toEqual({ type: 'eof', closeNotify: true })
  })
})

describe('negotiation and alerts against node:tls', () => {
  test('node client offering only a P-256 key share first: weft server sends a HelloRetryRequest for X25519', async () => {
    const sc = certs.serverP256
    const pumped = deferred<ReturnType<typeof pump>>()
    const port = await listen(net.createServer((sock) => {
      pumped.resolve(pump(new TlsSession({ role: 'server', crypto: nodeTlsCrypto, certificate: sc.tls, verifyPeer: () => {}, requireClientCertificate: false }), sock))
    }))
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3', ecdhCurve: 'P-256:X25519' })
    await new Promise<void>((resolve, reject) => { client.once('secureConnect', () => resolve()); client.once('error', reject) })
    expect(client.getEphemeralKeyInfo()).toMatchObject({ name: 'X25519' })
    const p = await pumped.promise
    client.write('hello')
    await p.until((e) => e.type === 'data')
    expect(p.events[0]).toMatchObject({ type: 'handshake-complete', peerChain: [] })
    client.destroy()
  })

  test('no ALPN protocol in common: weft server sends no_application_protocol (120), node client fails with it', async () => {
    const pumped = deferred<ReturnType<typeof pump>>()
    const port = await listen(net.createServer((sock) => {
      pumped.resolve(pump(new TlsSession({ role: 'server', crypto: nodeTlsCrypto, certificate: certs.serverP256.tls, verifyPeer: () => {}, alpn: [LIBP2P_ALPN] }), sock))
    }))
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], key: certs.clientP256.keyPem, cert: certs.clientP256.certPem })
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => client.once('error', resolve))
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL')
    const e = await (await pumped.promise).failed()
    expect(e).toBeInstanceOf(TlsError)
    expect(e).toMatchObject({ code: 'tls/no-application-protocol', alert: 120 })
  })

  test('node server answering with no common ALPN: weft client reads the fatal alert as tls/alert-received', async () => {
    const server = tls.createServer({ key: certs.serverP256.keyPem, cert: certs.serverP256.certPem, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] })
    server.on('tlsClientError', () => {})
    const port = await listen(server)
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((r) => socket.once('connect', () => r()))
    const p = pump(new TlsSession({ role: 'client', crypto: nodeTlsCrypto, verifyPeer: () => {}, alpn: [LIBP2P_ALPN] }), socket)
    const e = await p.failed()
    expect(e).toMatchObject({ code: 'tls/alert-received', peerAlert: 120 })
    socket.destroy()
  })

  test('a TLS 1.2 client: weft server answers protocol_version (70)', async () => {
    const pumped = deferred<ReturnType<typeof pump>>()
    const port = await listen(net.createServer((sock) => {
      pumped.resolve(pump(new TlsSession({ role: 'server', crypto: nodeTlsCrypto, certificate: certs.serverP256.tls, verifyPeer: () => {} }), sock))
    }))
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' })
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => client.once('error', resolve))
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION')
    expect(await (await pumped.promise).failed()).toMatchObject({ code: 'tls/protocol-version', alert: 70 })
  })

  test('a client without a certificate: weft server requires one (certificate_required, 116)', async () => {
    const pumped = deferred<ReturnType<typeof pump>>()
    const port = await listen(net.createServer((sock) => {
      pumped.resolve(pump(new TlsSession({ role: 'server', crypto: nodeTlsCrypto, certificate: certs.serverP256.tls, verifyPeer: () => {} }), sock))
    }))
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' })
    client.on('error', () => {})
    const e = await (await pumped.promise).failed()
    expect(e).toMatchObject({ code: 'tls/certificate-required', alert: 116 })
    client.destroy()
  })

  test('weft client rejecting the server certificate sends bad_certificate (42); node server sees the alert', async () => {
    const serverErr = deferred<NodeJS.ErrnoException>()
    const server = tls.createServer({ key: certs.serverP256.keyPem, cert: certs.serverP256.certPem, minVersion: 'TLSv1.3' })
    server.on('tlsClientError', (err) => serverErr.resolve(err))
    const port = await listen(server)
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((r) => socket.once('connect', () => r()))
    const p = pump(new TlsSession({ role: 'client', crypto: nodeTlsCrypto, verifyPeer: verifyExactly(certs.serverEd.der) }), socket)
    expect(await p.failed()).toMatchObject({ code: 'tls/bad-certificate', alert: 42 })
    expect((await serverErr.promise).code).toBe('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') // OpenSSL names alert 42 after SSLv3
    socket.destroy()
  })
})

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}
