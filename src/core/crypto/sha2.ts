/**
 * Compact SHA-256 and SHA-512 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869), for
 * the compact browser crypto provider (compact.ts). Small before fast: the round constants are not
 * stored but computed on first use from their definition (FIPS 180-4 §4.2.2-3, §5.3.3-5: the first
 * 64 bits of the fractional parts of the cube roots of the first 80 primes, and of the square roots
 * of the first 8 for SHA-512's initial value; SHA-256's are the upper 32 bits of the same numbers),
 * and SHA-512 runs on BigInt words. SHA-256 runs on 32-bit integers: it hashes whole messages
 * (multihashes, message ids) where SHA-512 only hashes Ed25519 inputs. Speeds: bench/README.md.
 */

const M64 = (1n << 64n) - 1n

/** floor(x^(1/k)) by Newton's method from above. */
function iroot(x: bigint, k: bigint): bigint {
  let r = 1n << (BigInt(x.toString(2).length) / k + 1n)
  for (;;) {
    const n = ((k - 1n) * r + x / r ** (k - 1n)) / k
    if (n >= r) return r
    r = n
  }
}

let tables: { k512: bigint[]; iv512: bigint[]; k256: Int32Array; iv256: Int32Array } | undefined

function constants(): NonNullable<typeof tables> {
  if (tables !== undefined) return tables
  const primes: number[] = []
  for (let c = 2; primes.length < 80; c++) if (primes.every((p) => c % p !== 0)) primes.push(c)
  // first 64 fractional bits of p^(1/k) = the low 64 bits of floor(p^(1/k) * 2^64)
  const frac = (p: number, k: bigint): bigint => iroot(BigInt(p) << (64n * k), k) & M64
  const k512 = primes.map((p) => frac(p, 3n))
  const iv512 = primes.slice(0, 8).map((p) => frac(p, 2n))
  const hi = (v: bigint[]): Int32Array => Int32Array.from(v, (x) => Number(x >> 32n) | 0)
  return (tables = { k512, iv512, k256: hi(k512.slice(0, 64)), iv256: hi(iv512) })
}

/** The padded message: data, 0x80, zeros, the bit length big-endian in the last `lenBytes` bytes. */
function pad(data: Uint8Array, block: number, lenBytes: number): Uint8Array {
  const n = data.length
  const total = Math.ceil((n + 1 + lenBytes) / block) * block
  const out = new Uint8Array(total)
  out.set(data)
  out[n] = 0x80
  const bits = n * 8
  const view = new DataView(out.buffer)
  view.setUint32(total - 8, Math.floor(bits / 0x1_0000_0000))
  view.setUint32(total - 4, bits >>> 0)
  return out
}

const W256 = new Int32Array(64)

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const { k256, iv256 } = constants()
  const m = pad(parts.length === 1 ? parts[0]! : concatAll(parts), 64, 8)
  const v = new DataView(m.buffer)
  const H = iv256.slice()
  const W = W256
  const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n))
  for (let off = 0; off < m.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = v.getInt32(off + 4 * i)
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15]!
      const b = W[i - 2]!
      W[i] = (W[i - 16]! + (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + W[i - 7]! + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10))) | 0
    }
    let [a, b, c, d, e, f, g, h] = H as unknown as number[]
    for (let i = 0; i < 64; i++) {
      const t1 = (h! + (rotr(e!, 6) ^ rotr(e!, 11) ^ rotr(e!, 25)) + (g! ^ (e! & (f! ^ g!))) + k256[i]! + W[i]!) | 0
      const t2 = ((rotr(a!, 2) ^ rotr(a!, 13) ^ rotr(a!, 22)) + ((a! & b!) | (c! & (a! | b!)))) | 0
      h = g; g = f; f = e; e = (d! + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
    }
    const s = [a, b, c, d, e, f, g, h]
    for (let i = 0; i < 8; i++) H[i] = (H[i]! + s[i]!) | 0
  }
  const out = new Uint8Array(32)
  const ov = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) ov.setInt32(4 * i, H[i]!)
  return out
}

/** SHA-512 of the concatenation of `parts` (BigInt words: meant for Ed25519's short inputs). */
export function sha512(...parts: Uint8Array[]): Uint8Array {
  const { k512, iv512 } = constants()
  const m = pad(concatAll(parts), 128, 16)
  const v = new DataView(m.buffer)
  const H = iv512.slice()
  const W: bigint[] = []
  const rotr = (x: bigint, n: bigint): bigint => ((x >> n) | (x << (64n - n))) & M64
  for (let off = 0; off < m.length; off += 128) {
    for (let i = 0; i < 16; i++) W[i] = v.getBigUint64(off + 8 * i)
    for (let i = 16; i < 80; i++) {
      const a = W[i - 15]!
      const b = W[i - 2]!
      W[i] = (W[i - 16]! + (rotr(a, 1n) ^ rotr(a, 8n) ^ (a >> 7n)) + W[i - 7]! + (rotr(b, 19n) ^ rotr(b, 61n) ^ (b >> 6n))) & M64
    }
    let [a, b, c, d, e, f, g, h] = H as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint]
    for (let i = 0; i < 80; i++) {
      const t1 = h + (rotr(e, 14n) ^ rotr(e, 18n) ^ rotr(e, 41n)) + (g ^ (e & (f ^ g))) + k512[i]! + W[i]!
      const t2 = (rotr(a, 28n) ^ rotr(a, 34n) ^ rotr(a, 39n)) + ((a & b) | (c & (a | b)))
      h = g; g = f; f = e; e = (d + t1) & M64; d = c; c = b; b = a; a = (t1 + t2) & M64
    }
    const s = [a, b, c, d, e, f, g, h]
    for (let i = 0; i < 8; i++) H[i] = (H[i]! + s[i]!) & M64
  }
  const out = new Uint8Array(64)
  const ov = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) ov.setBigUint64(8 * i, H[i]!)
  return out
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** HMAC-SHA256 (RFC 2104). */
export function hmacSha256(key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const k = new Uint8Array(64)
  k.set(key.length > 64 ? sha256(key) : key)
  const ipad = k.map((b) => b ^ 0x36)
  const opad = k.map((b) => b ^ 0x5c)
  return sha256(opad, sha256(ipad, ...data))
}

/** HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length` <= 8160 bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new RangeError('hkdf: length must be 0..8160')
  const prk = hmacSha256(salt, ikm)
  const out = new Uint8Array(length)
  let t: Uint8Array = new Uint8Array(0)
  for (let i = 1, off = 0; off < length; i++, off += 32) {
    t = hmacSha256(prk, t, info, Uint8Array.of(i))
    out.set(t.subarray(0, Math.min(32, length - off)), off)
  }
  return out
}
