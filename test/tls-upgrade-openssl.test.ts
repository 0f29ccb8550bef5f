/**
 * The whole `/tls/1.0.0` upgrade of a weft node against OpenSSL (node:tls) as a black-box peer over
 * TCP: multistream-select on the raw socket, then TLS 1.3 with weft-format libp2p certificates on
 * both sides and the muxer in ALPN. Both directions: weft listens and node:tls dials; weft dials and
 * node:tls listens. Each side authenticates the other's peer id.
 */
import { createPrivateKey } from 'node:crypto'
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net'
import { TLSSocket, connect as tlsConnect } from 'node:tls'
import { afterEach, expect, test } from 'vitest'
import { DialError, type ProtocolError } from '../src/core/errors.js'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { createNode } from '../src/node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { generateCertificate, verifyCertificateChain, type HostCertificate } from '../src/tls/index.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url')
const pem = (der: Uint8Array): string => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`
const keyPem = (c: HostCertificate): string => createPrivateKey({
  key: { kty: 'EC', crv: 'P-256', d: b64(c.privateKey), x: b64(c.publicKey.subarray(1, 33)), y: b64(c.publicKey.subarray(33)) }, format: 'jwk',
}).export({ type: 'pkcs8', format: 'pem' }) as string
/** multistream-select 1.0.0 messages: varint length, the line, '\n' */
const ms = (line: string): Buffer => Buffer.concat([Buffer.from([line.length + 1]), Buffer.from(`${line}\n`)])
const HELLO = Buffer.concat([ms('/multistream/1.0.0'), ms('/tls/1.0.0')])

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f()
})

/** Read exactly n bytes from a socket (the multistream exchange), leaving the rest unread. */
function readExactly(sock: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onReadable = (): void => {
      const b = sock.read(n) as Buffer | null
      if (b !== null) {
        sock.off('readable', onReadable)
        resolve(b)
      }
    }
    sock.on('readable', onReadable)
    sock.once('error', reject)
    onReadable()
  })
}

test('node:tls dials a weft node: multistream /tls/1.0.0, TLS 1.3 with client auth, ALPN /yamux/1.0.0', async () => {
  const weft = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], services: {}, security: ['tls'] })
  cleanup.push(() => weft.stop())
  const opened = new Promise<string>((resolve) => weft.on('connection:open', (c) => resolve(c.peer.toString())))
  const port = Number(weft.getMultiaddrs()[0]!.toString().split('/')[4])
  const id = generatePrivateKey(tls.base)
  const cert = generateCertificate(id, tls)
  const raw = tcpConnect(port, '127.0.0.1')
  cleanup.push(() => raw.destroy())
  raw.write(HELLO)
  expect(await readExactly(raw, HELLO.length)).toEqual(HELLO) // the listener echoes both lines
  const t = tlsConnect({ socket: raw, cert: pem(cert.der), key: keyPem(cert), minVersion: 'TLSv1.3', rejectUnauthorized: false, ALPNProtocols: ['/yamux/1.0.0', LIBP2P_ALPN] })
  await new Promise<void>((resolve, reject) => { t.once('secureConnect', resolve); t.once('error', reject) })
  expect(t.alpnProtocol).toBe('/yamux/1.0.0')
  const peer = verifyCertificateChain([new Uint8Array(t.getPeerCertificate(true).raw)], { crypto: tls, now: Date.now(), expectedPeer: weft.peerId })
  expect(peer.peerId.equals(weft.peerId)).toBe(true)
  // weft accepted our certificate: the connection opens with our peer id
  expect(await opened).toBe(id.toPeerId().toString())
})

test('a weft node dials node:tls: the node:tls server authenticates weft, weft authenticates it', async () => {
  const id = generatePrivateKey(tls.base)
  const cert = generateCertificate(id, tls)
  let clientPeer!: (p: string) => void
  const sawClient = new Promise<string>((r) => { clientPeer = r })
  const server = createTcpServer(async (sock) => {
    cleanup.push(() => sock.destroy())
    expect(await readExactly(sock, HELLO.length)).toEqual(HELLO) // weft proposes /tls/1.0.0 (no lazy TLS)
    sock.write(HELLO)
    const t = new TLSSocket(sock, { isServer: true, cert: pem(cert.der), key: keyPem(cert), requestCert: true, rejectUnauthorized: false, ALPNProtocols: [LIBP2P_ALPN], minVersion: 'TLSv1.3' } as never)
    t.once('secure', () => {
      const raw = new Uint8Array(t.getPeerCertificate(true).raw)
      clientPeer(verifyCertificateChain([raw], { crypto: tls, now: Date.now() }).peerId.toString())
    })
    t.on('error', () => {})
    // ALPN `libp2p`: weft proposes yamux with multistream-select inside TLS; agree (and say nothing more)
    const yamuxHello = Buffer.concat([ms('/multistream/1.0.0'), ms('/yamux/1.0.0')])
    let got = Buffer.alloc(0)
    t.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (got.length >= yamuxHello.length && got.length - d.length < yamuxHello.length) {
        expect(got.subarray(0, yamuxHello.length)).toEqual(yamuxHello)
        t.write(yamuxHello)
      }
    })
  })
  cleanup.push(() => server.close())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const weft = await createNode({ listen: [], services: {}, security: ['tls'] })
  cleanup.push(() => weft.stop())
  // dialing /p2p/<id>: weft's connection opens only if the server's certificate is that peer's
  const conn = await weft.dial(`/ip4/127.0.0.1/tcp/${port}/p2p/${id.toPeerId().toString()}`, { signal: AbortSignal.timeout(5_000) })
  expect(conn.peer.equals(id.toPeerId())).toBe(true)
  expect(await sawClient).toBe(weft.peerId.toString())
})

test('a TLS server that selects no ALPN protocol is refused: tls/no-application-protocol', async () => {
  const id = generatePrivateKey(tls.base)
  const cert = generateCertificate(id, tls)
  const server = createTcpServer(async (sock) => {
    cleanup.push(() => sock.destroy())
    await readExactly(sock, HELLO.length)
    sock.write(HELLO)
    const t = new TLSSocket(sock, { isServer: true, cert: pem(cert.der), key: keyPem(cert), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' } as never)
    t.on('error', () => {})
  })
  cleanup.push(() => server.close())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const weft = await createNode({ listen: [], services: {}, security: ['tls'] })
  cleanup.push(() => weft.stop())
  const err = await weft.dial(`/ip4/127.0.0.1/tcp/${(server.address() as AddressInfo).port}`, { signal: AbortSignal.timeout(5_000) }).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(DialError)
  expect(((err as DialError).attempts[0]!.error as ProtocolError).code).toBe('tls/no-application-protocol')
})
