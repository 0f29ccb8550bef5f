/**
 * The tls module's public surface for the modules above it (quic imports through this file, as
 * test/architecture.test.ts requires). The TLS 1.3 handshake core adds its exports here.
 */
export { HASH_LENGTH, deriveSecret, hkdfExpand, hkdfExpandLabel, hkdfExtract } from './hkdf.js'
