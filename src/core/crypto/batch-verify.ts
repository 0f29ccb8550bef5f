/**
 * The seam between a protocol core that has many Ed25519 signatures to check (gossipsub StrictSign)
 * and a verifier that checks them somewhere else: a pool of worker threads on Node
 * (src/io/verify-pool.ts). Browsers have none and keep verifying synchronously through the
 * CryptoProvider. The core never awaits: it hands out batches as events and takes the answers back
 * as a command (spec/gossipsub.md "Validation on workers").
 */

/** One Ed25519 check (RFC 8032 §5.1.7): a 32-byte public key, the signed message, a 64-byte signature. */
export interface Ed25519Job {
  readonly publicKey: Uint8Array
  readonly message: Uint8Array
  readonly signature: Uint8Array
}

/**
 * Checks batches of Ed25519 signatures off the caller's thread. `verify` resolves with one byte per
 * job, in the jobs' order (1 = valid, 0 = invalid or malformed); it never rejects while the verifier
 * is open (a failed worker's batches are retried or checked inline), and rejects once `close` ran.
 */
export interface Ed25519BatchVerifier {
  /** Check `jobs`; one byte per job in order (1 = valid). */
  verify(jobs: readonly Ed25519Job[]): Promise<Uint8Array>
  /** Stop: release the workers; batches still out are rejected. Idempotent. */
  close(): void
}
