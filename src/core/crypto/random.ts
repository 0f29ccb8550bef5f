/** The one randomness source of the pure-JS crypto providers: WebCrypto's getRandomValues (browsers, Node >= 19). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 65536 bytes per call
  for (let off = 0; off < n; off += 65536) globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)))
  return out
}
