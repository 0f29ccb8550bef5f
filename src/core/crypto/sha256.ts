/**
 * SHA-256 for code that has no CryptoProvider at hand: `PeerId.fromPublicKey` of a key over 42
 * bytes (RSA, ECDSA) called without a provider (e.g. `publicKey.toPeerId()` in kad's IPNS and
 * record validators). It is @noble/hashes' sha256, re-exported here so that src/core/crypto stays
 * the only place that imports a crypto library (ARCHITECTURE). Not weft's own sha256Short: noble's
 * sha2 is already in every browser bundle through the noble provider, so this costs no bytes there.
 */
export { sha256 } from '@noble/hashes/sha2.js'
