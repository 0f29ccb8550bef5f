// OpenSSL (node:tls) as a black-box libp2p TLS peer: two node:tls endpoints present weft-generated
// libp2p certificates (with their P-256 certificate keys) in a real TLS 1.3 handshake with client
// authentication and ALPN, and each side's verifyCertificateChain yields the other's peer id.
import { createPrivateKey } from 'node:crypto'
import { createServer, connect, type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { afterAll, expect, test } from 'vitest'
import { nodeTlsCrypto as tls } from '../src/io/crypto-tls-node.js'
import { generatePrivateKey } from '../src/peer-id/index.js'
import { alpnFor, generateCertificate, verifyCertificateChain, type HostCertificate } from '../src/tls/index.js'
import { LIBP2P_ALPN } from '../src/tls/index.js'

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url')
const pem = (der: Uint8Array): string => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`
const keyOf = (c: HostCertificate): string => createPrivateKey({
  key: { kty: 'EC', crv: 'P-256', d: b64(c.privateKey), x: b64(c.publicKey.subarray(1, 33)), y: b64(c.publicKey.subarray(33)) }, format: 'jwk',
}).export({ type: 'pkcs8', format: 'pem' }) as string
const NOW = 1_767_225_600_000

const servers: Array<{ close(): void }> = []
afterAll(() => { for (const s of servers) s.close() })

test('node:tls client and server authenticate each other with weft certificates', async () => {
  const serverId = generatePrivateKey(tls.base)
  const clientId = generatePrivateKey(tls.base)
  const sc = generateCertificate(serverId, tls)
  const cc = generateCertificate(clientId, tls)
  const server = createServer({
    cert: pem(sc.der), key: keyOf(sc), minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false, ALPNProtocols: alpnFor([]),
  })
  servers.push(server)
  const serverSaw = new Promise<{ peer: string; alpn: string | false | null }>((resolve) => server.on('secureConnection', (s: TLSSocket) => {
    const raw = new Uint8Array(s.getPeerCertificate(true).raw)
    resolve({ peer: verifyCertificateChain([raw], { crypto: tls, now: NOW }).peerId.toString(), alpn: s.alpnProtocol })
    s.end()
  }))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const client = connect({
    host: '127.0.0.1', port, cert: pem(cc.der), key: keyOf(cc), minVersion: 'TLSv1.3', rejectUnauthorized: false,
    ALPNProtocols: alpnFor(['/yamux/1.0.0']),
  })
  await new Promise<void>((resolve, reject) => { client.once('secureConnect', resolve); client.once('error', reject) })
  const raw = new Uint8Array(client.getPeerCertificate(true).raw)
  expect(verifyCertificateChain([raw], { crypto: tls, now: NOW, expectedPeer: serverId.toPeerId() }).peerId.equals(serverId.toPeerId())).toBe(true)
  expect(client.getProtocol()).toBe('TLSv1.3')
  expect(client.alpnProtocol).toBe(LIBP2P_ALPN)
  expect(await serverSaw).toEqual({ peer: clientId.toPeerId().toString(), alpn: LIBP2P_ALPN })
  client.destroy()
})
