/**
 * SHA-256 (FIPS 180-4 §6.2) in one call, for short inputs: message ids, multihashes. Node's
 * createHash costs ~2 µs of object and binding overhead per call whatever the size, more than hashing
 * a 100-byte message here; above a few hundred bytes the native hash wins and the provider uses it.
 *
 * The message is processed in 64-byte blocks read straight from the input; the final one or two
 * blocks (the rest, 0x80, zeros, the bit length as a 64-bit big-endian number) are built in a scratch
 * block. Words are kept as 32-bit integers (`| 0`).
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

const W = new Int32Array(64)
const H = new Int32Array(8)
const TAIL = new Uint8Array(128)

function compress(b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++, off += 4) W[i] = (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!
    const w2 = W[i - 2]!
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = H[0]!, bb = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!
  // two rounds per iteration; Ch(e,f,g) = g ^ (e & (f ^ g)), Maj(a,b,c) = (a & b) | (c & (a | b))
  for (let i = 0; i < 64; i += 2) {
    let t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + K[i]! + W[i]!) | 0
    let t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & bb) | (c & (a | bb)))) | 0
    h = (d + t1) | 0 // the new e
    d = (t1 + t2) | 0 // the new a
    // second round: state (a..h) is now (d, a, bb, c, h, e, f, g)
    t1 = (g + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (f ^ (h & (e ^ f))) + K[i + 1]! + W[i + 1]!) | 0
    t2 = ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & a) | (bb & (d | a)))) | 0
    g = (c + t1) | 0 // the new e
    c = (t1 + t2) | 0 // the new a
    // state is (c, d, a, bb, g, h, e, f): rename
    const na = c, nb = d, nc = a, nd = bb, ne = g, nf = h, ng = e, nh = f
    a = na; bb = nb; c = nc; d = nd; e = ne; f = nf; g = ng; h = nh
  }
  H[0] = (H[0]! + a) | 0; H[1] = (H[1]! + bb) | 0; H[2] = (H[2]! + c) | 0; H[3] = (H[3]! + d) | 0
  H[4] = (H[4]! + e) | 0; H[5] = (H[5]! + f) | 0; H[6] = (H[6]! + g) | 0; H[7] = (H[7]! + h) | 0
}

/** SHA-256 of `data` (any length; meant for short inputs). */
export function sha256Short(data: Uint8Array): Uint8Array {
  H.set(IV)
  const n = data.length
  const full = n - (n % 64)
  for (let off = 0; off < full; off += 64) compress(data, off)
  const rest = n - full
  const tailLen = rest < 56 ? 64 : 128
  TAIL.fill(0, 0, tailLen)
  for (let i = 0; i < rest; i++) TAIL[i] = data[full + i]!
  TAIL[rest] = 0x80
  // bit length, 64-bit big-endian (n < 2^53 bytes)
  const bits = n * 8
  const hi = Math.floor(bits / 0x1_0000_0000)
  const lo = bits >>> 0
  TAIL[tailLen - 8] = hi >>> 24; TAIL[tailLen - 7] = hi >>> 16; TAIL[tailLen - 6] = hi >>> 8; TAIL[tailLen - 5] = hi
  TAIL[tailLen - 4] = lo >>> 24; TAIL[tailLen - 3] = lo >>> 16; TAIL[tailLen - 2] = lo >>> 8; TAIL[tailLen - 1] = lo
  compress(TAIL, 0)
  if (tailLen === 128) compress(TAIL, 64)
  const out = new Uint8Array(32)
  for (let i = 0; i < 8; i++) {
    const v = H[i]!
    out[4 * i] = v >>> 24; out[4 * i + 1] = v >>> 16; out[4 * i + 2] = v >>> 8; out[4 * i + 3] = v
  }
  return out
}
