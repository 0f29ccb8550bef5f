/**
 * SHA-256 for code that has no CryptoProvider at hand: `PeerId.fromPublicKey` of a key over 42
 * bytes (RSA, ECDSA) called without a provider (e.g. `publicKey.toPeerId()` in kad's IPNS and
 * record validators). weft's own compact SHA-256 (sha2.ts), also the browser provider's, so it costs
 * no bytes in browser bundles and pulls no crypto library into weft/peer-id.
 */
import { sha256 as sha256Parts } from './sha2.js'

export const sha256 = (data: Uint8Array): Uint8Array => sha256Parts(data)
