/**
 * Test helpers for TLS 1.3 against node:tls as a black-box peer: self-signed certificates made with
 * the openssl CLI (ECDSA P-256 and Ed25519), our CertificateVerify signer and a verifier built on
 * node:crypto's X509Certificate, and a pump that drives a TlsSession over a real TCP socket.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as nc from 'node:crypto'
import type { Socket } from 'node:net'
import { nodeTlsCrypto } from '../../src/io/crypto-tls-node.js'
import { TlsError } from '../../src/tls/errors.js'
import type { TlsSession, TlsSessionEvent } from '../../src/tls/session.js'
import { SignatureScheme, type TlsCertificate, type VerifyPeer } from '../../src/tls/types.js'

export interface TestCert {
  keyPem: string
  certPem: string
  der: Uint8Array
  /** Our TlsCertificate (chain + signer) for the weft side. */
  tls: TlsCertificate
}

/** A self-signed certificate for `kind` (openssl req -x509), with the weft-side signer. */
export function makeCert(kind: 'p256' | 'ed25519', cn: string): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tls13-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  const keyArgs = kind === 'p256' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'ed25519']
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`], { stdio: 'ignore' })
  const keyPem = readFileSync(key, 'utf8')
  const certPem = readFileSync(cert, 'utf8')
  const der = new Uint8Array(new nc.X509Certificate(certPem).raw)
  const jwk = nc.createPrivateKey(keyPem).export({ format: 'jwk' }) as { d: string }
  const d = new Uint8Array(Buffer.from(jwk.d, 'base64url'))
  const tls: TlsCertificate = kind === 'p256'
    ? { chain: [der], scheme: SignatureScheme.ecdsa_secp256r1_sha256, sign: (c) => nodeTlsCrypto.p256Sign(d, c) }
    : { chain: [der], scheme: SignatureScheme.ed25519, sign: (c) => nodeTlsCrypto.base.ed25519Sign(d, c) }
  return { keyPem, certPem, der, tls }
}

/** A verifyPeer that accepts exactly `expected` (DER) and checks the CertificateVerify with node:crypto. */
export function verifyExactly(expected: Uint8Array): VerifyPeer & { calls: number } {
  const f = ((chain: Uint8Array[], scheme: number, content: Uint8Array, signature: Uint8Array): void => {
    f.calls++
    if (chain.length !== 1 || !Buffer.from(chain[0]!).equals(Buffer.from(expected))) throw new TlsError('tls/bad-certificate', 'not the expected certificate')
    const key = new nc.X509Certificate(Buffer.from(chain[0]!)).publicKey
    const ok = scheme === SignatureScheme.ed25519 ? nc.verify(null, content, key, signature)
      : scheme === SignatureScheme.ecdsa_secp256r1_sha256 ? nc.verify('sha256', content, key, signature) : false
    if (!ok) throw new TlsError('tls/bad-certificate', 'CertificateVerify does not verify')
  }) as VerifyPeer & { calls: number }
  f.calls = 0
  return f
}

export interface Pumped {
  events: TlsSessionEvent[]
  error: unknown
  /** Resolves at the first event matching `pred` (or rejects with the session's error). */
  until(pred: (e: TlsSessionEvent) => boolean): Promise<TlsSessionEvent>
  /** Resolves with the session's error. */
  failed(): Promise<unknown>
  flush(): void
}

/** Drives `session` over `socket`: data in, records out, events collected. */
export function pump(session: TlsSession, socket: Socket): Pumped {
  const waiters: Array<() => void> = []
  const p: Pumped = {
    events: [],
    error: undefined,
    flush() {
      for (let b = session.pollTransmit(65536); b !== undefined; b = session.pollTransmit(65536)) socket.write(b)
      for (let e = session.pollEvent(); e !== undefined; e = session.pollEvent()) p.events.push(e)
      for (const w of waiters.splice(0)) w()
    },
    until(pred) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = p.events.find(pred)
          if (hit !== undefined) return resolve(hit)
          if (p.error !== undefined) return reject(p.error)
          waiters.push(check)
        }
        check()
      })
    },
    failed() {
      return new Promise((resolve) => {
        const check = (): void => { if (p.error !== undefined) resolve(p.error); else waiters.push(check) }
        check()
      })
    },
  }
  socket.on('data', (d: Buffer) => {
    if (p.error !== undefined) return
    try {
      session.handleData(0, new Uint8Array(d.buffer, d.byteOffset, d.length))
    } catch (e) {
      p.error = e
    }
    p.flush()
  })
  socket.on('end', () => {
    try {
      session.handleEof(0)
    } catch (e) {
      if (p.error === undefined) p.error = e
    }
    p.flush()
  })
  socket.on('error', () => {})
  p.flush()
  return p
}
