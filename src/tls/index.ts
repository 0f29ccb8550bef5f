/**
 * The tls module's public surface for the modules above it (quic imports through this file, as
 * test/architecture.test.ts requires). The TLS 1.3 handshake core adds its exports here.
 */
export { HASH_LENGTH, deriveSecret, hkdfExpand, hkdfExpandLabel, hkdfExtract } from './hkdf.js'
// TLS 1.3 handshake core (RFC 8446) and its record layer: spec/tls13.md
export { TlsHandshake, certificateVerifyContent } from './handshake.js'
export {
  SignatureScheme, DEFAULT_SIGNATURE_SCHEMES, DEFAULT_TLS_LIMITS,
  type TlsLevel, type TlsCertificate, type VerifyPeer, type TlsLimits, type TlsHandshakeOptions, type TlsEvent, type TlsOutput,
} from './types.js'
// the handshake messages and extensions as decoded (the tracer, src/trace, shows them)
export { HandshakeType, decodeHandshakeBody, findExtension, isHelloRetryRequest, type HandshakeMessage } from './messages.js'
export {
  ExtensionType, decodeAlpn, decodeKeyShareClient, decodeKeyShareHrr, decodeKeyShareServer, decodeNamedGroups, decodeSignatureSchemes,
  decodeSupportedVersionServer, decodeSupportedVersionsClient,
} from './extensions.js'
export { Alert, TlsError, alertFor, type TlsErrorCode } from './errors.js'
export {
  TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, CIPHER_SUITES, IV_LENGTH, keyLength, trafficKeys, nextTrafficSecret,
  type TrafficKeys,
} from './key-schedule.js'
export { ContentType, MAX_PLAINTEXT, MAX_CIPHERTEXT, RecordProtection, encodeRecord, type TlsRecord } from './record.js'
export {
  TlsSession, DEFAULT_MAX_BUFFERED_DATA, DEFAULT_MAX_EMPTY_RECORDS, DEFAULT_KEY_UPDATE_AFTER,
  type TlsSessionOptions, type TlsSessionEvent,
} from './session.js'
// libp2p TLS (certificate with the SignedKey extension, peer verification, ALPN muxers): spec/tls.md
export {
  LIBP2P_EXTENSION_OID, SIGNED_KEY_PREFIX, generateCertificate, verifyCertificateChain, signCertificateVerify, verifyCertificateVerify,
  type HostCertificate, type VerifiedPeer, type VerifyCertificateOptions, type GenerateCertificateOptions, type Libp2pTlsErrorCode, type Libp2pTlsError,
} from './certificate.js'
export { TLS_PROTOCOL, LIBP2P_ALPN, alpnFor, libp2pTlsAuth, type Libp2pTlsAuth, type Libp2pTlsAuthOptions } from './libp2p-auth.js'
export {
  Libp2pTlsChannel, libp2pTls, type ConnectionTlsOptions, type Libp2pTlsChannelOptions, type Libp2pTlsChannelEvent, type TlsChannelFactory, type TlsChannelParams,
} from './libp2p-channel.js'
